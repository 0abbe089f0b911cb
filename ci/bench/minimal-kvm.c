/* The reference minimum for `make bench`: what any KVM program must do to run
 * one guest instruction that leaves through an I/O exit, and nothing else.
 *
 *   open /dev/kvm -> KVM_CREATE_VM -> one 4 KiB slot -> KVM_CREATE_VCPU ->
 *   mmap the run area -> KVM_RUN -> the guest's OUT to port 0xf4 -> exit 0
 *
 * The page sits at 0xfffff000, so the vCPU's reset vector (CS base 0xffff0000,
 * IP 0xfff0: guest-physical 0xfffffff0) is already inside it: the guest runs in
 * real mode straight from reset, with no KVM_SET_SREGS or KVM_SET_REGS.
 *
 * With --irqchip it also calls KVM_CREATE_IRQCHIP first: the floor for any
 * program with KVM's in-kernel irqchip. On kernels with upstream commit
 * 7d9a0273c459 ("KVM: Avoid synchronize_srcu() in kvm_io_bus_register_dev()"),
 * such as this host's 6.18, the irqchip's I/O-bus registrations leave a normal
 * SRCU grace period in flight; the next memslot update waits for it
 * (expedited), or VM teardown does (slower), so the irqchip comes before the
 * slot here, the cheaper order.
 *
 * usage: minimal-kvm [--irqchip] [KVM device]   (default /dev/kvm)
 * Exit codes: 0 the guest's OUT arrived, 3 a KVM or host error, 5 any other exit. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define EXIT_KVM 3
#define EXIT_GUEST 5
#define PAGE 0x1000
#define PAGE_GPA 0xfffff000ULL
#define RESET_OFFSET 0xff0 /* 0xfffffff0 - PAGE_GPA */
#define EXIT_PORT 0xf4

/* At the reset vector, 16-bit real mode:
 *   b0 2a   mov al, 0x2a
 *   e6 f4   out 0xf4, al
 *   f4      hlt            (never reached: the OUT ends the run) */
static const uint8_t guest_code[] = {0xb0, 0x2a, 0xe6, EXIT_PORT, 0xf4};

static void die(const char *what)
{
	fprintf(stderr, "minimal-kvm: %s: %s\n", what, strerror(errno));
	exit(EXIT_KVM);
}

int main(int argc, char **argv)
{
	bool irqchip = argc > 1 && strcmp(argv[1], "--irqchip") == 0;
	const char *device = argc > 1 + irqchip ? argv[1 + irqchip] : "/dev/kvm";
	int kvm, vm, vcpu;
	long run_size;
	uint8_t *mem;
	struct kvm_run *run;

	if ((kvm = open(device, O_RDWR | O_CLOEXEC)) < 0) {
		fprintf(stderr, "minimal-kvm: cannot open %s: %s\n", device, strerror(errno));
		return EXIT_KVM;
	}
	if ((vm = ioctl(kvm, KVM_CREATE_VM, 0)) < 0)
		die("KVM_CREATE_VM");
	if (irqchip && ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0)
		die("KVM_CREATE_IRQCHIP");

	mem = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap of the guest page");
	memcpy(mem + RESET_OFFSET, guest_code, sizeof(guest_code));
	struct kvm_userspace_memory_region region = {
		.slot = 0,
		.guest_phys_addr = PAGE_GPA,
		.memory_size = PAGE,
		.userspace_addr = (uint64_t)(uintptr_t)mem,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		die("KVM_SET_USER_MEMORY_REGION");

	if ((vcpu = ioctl(vm, KVM_CREATE_VCPU, 0)) < 0)
		die("KVM_CREATE_VCPU");
	if ((run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0)) < (long)sizeof(*run))
		die("KVM_GET_VCPU_MMAP_SIZE");
	run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		die("mmap of the vCPU run area");

	if (ioctl(vcpu, KVM_RUN, 0) < 0)
		die("KVM_RUN");
	if (run->exit_reason == KVM_EXIT_IO && run->io.direction == KVM_EXIT_IO_OUT &&
	    run->io.port == EXIT_PORT && run->io.size == 1 &&
	    *((uint8_t *)run + run->io.data_offset) == 0x2a)
		return 0;
	fprintf(stderr, "minimal-kvm: expected the guest's OUT to port 0x%x, got KVM exit reason %u\n",
		EXIT_PORT, run->exit_reason);
	return EXIT_GUEST;
}
