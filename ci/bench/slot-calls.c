/* What one traced memslot call costs under kvm-as, for `make bench`: N
 * KVM_SET_USER_MEMORY_REGION calls on one VM, creating and deleting one 4 KiB
 * slot in turn (nothing else: no vCPU, no guest). kvm-as stops twice at each.
 *
 * usage: slot-calls N [KVM device]   (N from 1 to 1000000, even: it ends with
 *        the slot deleted; default /dev/kvm)
 * Exit codes: 0 every call succeeded, 2 usage, 3 a KVM or host error. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "slot-calls: %s: %s\n", what, strerror(errno));
	exit(3);
}

int main(int argc, char **argv)
{
	const char *device = argc > 2 ? argv[2] : "/dev/kvm";
	char *end = NULL;
	long calls = argc > 1 ? strtol(argv[1], &end, 10) : 0;
	struct kvm_userspace_memory_region slot = {.guest_phys_addr = 0x100000};
	void *page;
	int kvm, vm;

	if (argc < 2 || argc > 3 || *end || calls < 1 || calls > 1000000 || calls % 2) {
		fprintf(stderr, "usage: slot-calls N [KVM device] (N even, 2..1000000)\n");
		return 2;
	}
	if ((kvm = open(device, O_RDWR | O_CLOEXEC)) < 0)
		die(device);
	if ((vm = ioctl(kvm, KVM_CREATE_VM, 0)) < 0)
		die("KVM_CREATE_VM");
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		die("mmap");
	slot.userspace_addr = (unsigned long)page;
	for (long i = 0; i < calls; i++) {
		slot.memory_size = i % 2 ? 0 : 4096; /* create, then delete */
		if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot))
			die("KVM_SET_USER_MEMORY_REGION");
	}
	return 0;
}
