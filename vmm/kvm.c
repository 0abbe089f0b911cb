#include "kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "exit_codes.h"
#include "hostmodel.h"
#include "report.h"

#define CPUID_EXT_FEATURES 0x80000001u
#define CPUID_EXT_ADDRESS_SIZES 0x80000008u
#define CPUID_EDX_PDPE1GB (1u << 26)
#define MAX_CPUID_ENTRIES 256

/* Capabilities this VMM cannot work without, reported by name. */
static const struct {
	int cap;
	const char *name;
	bool only_with_irqchip;
} required_caps[] = {
	{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", false},
	{KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID", false},
	{KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT", false},
	{KVM_CAP_NR_MEMSLOTS, "KVM_CAP_NR_MEMSLOTS", false},
	{KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP", true},
	{KVM_CAP_IRQFD, "KVM_CAP_IRQFD", true},
};

static int open_device(const char *device)
{
	int fd = open(device, O_RDWR | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	if (errno == ENOENT)
		sr_die(SR_EXIT_HOST,
		       "%s does not exist: load kvm-intel or kvm-amd, enable virtualization in the "
		       "firmware, or run through ci/l1/in-l1 (docs/troubleshooting.md)",
		       device);
	if (errno == EACCES || errno == EPERM)
		sr_die(SR_EXIT_HOST,
		       "%s: permission denied: add your user to the kvm group or make the device "
		       "readable and writable (docs/troubleshooting.md)",
		       device);
	sr_die(SR_EXIT_HOST, "cannot open %s: %s", device, strerror(errno));
}

/* Returns KVM_CAP_NR_MEMSLOTS, the one capability whose value matters. */
static int check_capabilities(struct sr_vm *vm, const char *device, bool irqchip)
{
	int version = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0), max_slots = 0;

	if (version < 0)
		sr_die(SR_EXIT_HOST, "%s is not a KVM device (KVM_GET_API_VERSION: %s)", device,
		       strerror(errno));
	if (version != KVM_API_VERSION)
		sr_die(SR_EXIT_HOST, "%s speaks KVM API %d, this VMM needs %d", device, version,
		       KVM_API_VERSION);
	for (size_t i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++) {
		if (required_caps[i].only_with_irqchip && !irqchip)
			continue;
		int value = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, required_caps[i].cap);
		if (value <= 0)
			sr_die(SR_EXIT_HOST, "KVM at %s lacks %s, which this VMM needs (kernel too old?)",
			       device, required_caps[i].name);
		if (required_caps[i].cap == KVM_CAP_NR_MEMSLOTS)
			max_slots = value;
	}
	return max_slots;
}

/* The guest gets the host's supported CPUID: without it the in-kernel LAPIC
 * drops the periodic timer mode, and long mode needs CPUID.LM. Read from
 * /dev/kvm with the VM (the --gpa-top check needs it before any vCPU), set
 * on the vCPU when it exists. */
static void read_supported_cpuid(struct sr_vm *vm)
{
	size_t bytes = sizeof(struct kvm_cpuid2) + MAX_CPUID_ENTRIES * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *cpuid = calloc(1, bytes);

	if (cpuid == NULL)
		sr_die(SR_EXIT_HOST, "out of memory for the CPUID table");
	cpuid->nent = MAX_CPUID_ENTRIES;
	if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) < 0)
		sr_die(SR_EXIT_HOST, "KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
	vm->phys_bits = 36;
	for (uint32_t i = 0; i < cpuid->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &cpuid->entries[i];
		if (e->function == CPUID_EXT_FEATURES)
			vm->gb_pages = (e->edx & CPUID_EDX_PDPE1GB) != 0;
		if (e->function == CPUID_EXT_ADDRESS_SIZES)
			vm->phys_bits = e->eax & 0xff;
	}
	vm->cpuid = cpuid;
}

void sr_vm_create(struct sr_vm *vm, const char *device, bool irqchip)
{
	int max_slots;

	memset(vm, 0, sizeof(*vm));
	vm->vcpu_fd = -1;
	vm->kvm_fd = open_device(device);
	max_slots = check_capabilities(vm, device, irqchip);

	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		sr_die(SR_EXIT_HOST, "KVM_CREATE_VM: %s", strerror(errno));
	if (max_slots < SR_MAX_SLOTS + 1)
		sr_die(SR_EXIT_HOST, "KVM offers %d memory slots, this VMM needs %d", max_slots,
		       SR_MAX_SLOTS + 1);
	vm->probe_slot_id = (uint32_t)max_slots - 1;

	/* Before the vCPU: KVM creates the APIC-access slot at vCPU creation
	 * only when the LAPIC is in the kernel. */
	if (irqchip && ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		sr_die(SR_EXIT_HOST, "KVM_CREATE_IRQCHIP: %s (try --irqchip off)", strerror(errno));
	read_supported_cpuid(vm);
}

int sr_vcpu_create(struct sr_vm *vm)
{
	long run_size;

	/* Where KVM makes its private slots (vmx_vcpu_create: APIC-access
	 * page, EPT identity map): EEXIST when a user slot is in the way. */
	vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
	if (vm->vcpu_fd < 0) {
		if (errno == EEXIST)
			return EEXIST;
		sr_die(SR_EXIT_HOST, "KVM_CREATE_VCPU: %s", strerror(errno));
	}
	run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size < (long)sizeof(struct kvm_run))
		sr_die(SR_EXIT_HOST, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
	vm->run_size = (size_t)run_size;
	vm->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu_fd, 0);
	if (vm->run == MAP_FAILED)
		sr_die(SR_EXIT_HOST, "mmap of the vCPU run area: %s", strerror(errno));
	if (ioctl(vm->vcpu_fd, KVM_SET_CPUID2, vm->cpuid) < 0)
		sr_die(SR_EXIT_HOST, "KVM_SET_CPUID2: %s", strerror(errno));
	free(vm->cpuid);
	vm->cpuid = NULL;
	/* For the guest's deadlines; a guess keeps them bounded if KVM can't say. */
	vm->tsc_khz = ioctl(vm->vcpu_fd, KVM_GET_TSC_KHZ, 0);
	if (vm->tsc_khz <= 0)
		vm->tsc_khz = 3000000;
	return 0;
}

int sr_set_slot(struct sr_vm *vm, uint32_t id, uint64_t gpa, uint64_t size, void *host)
{
	struct kvm_userspace_memory_region region = {
		.slot = id,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)host,
	};
	return ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0 ? errno : 0;
}

void sr_set_slot_or_die(struct sr_vm *vm, uint32_t id, uint64_t gpa, uint64_t size, void *host,
			const char *what)
{
	int err = sr_set_slot(vm, id, gpa, size, host);
	if (err)
		sr_die(SR_EXIT_HOST, "KVM_SET_USER_MEMORY_REGION for %s, slot %u [0x%llx-0x%llx]: %s", what,
		       id, (unsigned long long)gpa, (unsigned long long)(gpa + size - 1), strerror(err));
}

void sr_delete_slot(struct sr_vm *vm, uint32_t id)
{
	struct kvm_userspace_memory_region region = {.slot = id};
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		sr_die(SR_EXIT_HOST, "KVM_SET_USER_MEMORY_REGION deleting slot %u: %s", id,
		       strerror(errno));
}

unsigned sr_probe_reserved(struct sr_vm *vm, uint64_t gpa, uint64_t size, void *host,
			   struct sr_ranges *found)
{
	unsigned ioctls = 1;
	int err = sr_set_slot(vm, vm->probe_slot_id, gpa, size, host);
	uint64_t half;

	if (err == 0) {
		sr_delete_slot(vm, vm->probe_slot_id);
		return ioctls + 1;
	}
	if (err != EEXIST)
		sr_die(SR_EXIT_HOST, "KVM_SET_USER_MEMORY_REGION probing [0x%llx-0x%llx]: %s",
		       (unsigned long long)gpa, (unsigned long long)(gpa + size - 1), strerror(err));
	if (size == SR_PAGE_SIZE) {
		if (!sr_ranges_add(found, gpa, size, hm_reserved_range_name(gpa, size)))
			sr_die(SR_EXIT_HOST, "more than %d reserved ranges found; giving up", SR_MAX_RANGES);
		return ioctls;
	}
	half = (size / 2) & ~(SR_PAGE_SIZE - 1);
	if (half == 0)
		half = SR_PAGE_SIZE;
	ioctls += sr_probe_reserved(vm, gpa, half, host, found);
	ioctls += sr_probe_reserved(vm, gpa + half, size - half, (char *)host + half, found);
	return ioctls;
}
