/* Thin KVM ioctl wrappers: every failure names the ioctl and what to do. */
#ifndef SCRATCHRIG_KVM_H
#define SCRATCHRIG_KVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"

struct sr_vm {
	int kvm_fd;
	int vm_fd;
	int vcpu_fd;
	struct kvm_run *run;
	size_t run_size;
	uint32_t probe_slot_id; /* a user slot id kept free for probing */
	bool gb_pages;          /* guest CPUID offers 1 GiB pages */
	unsigned phys_bits;     /* guest MAXPHYADDR */
	long tsc_khz;           /* guest TSC rate */
	struct kvm_cpuid2 *cpuid; /* supported CPUID, until the vCPU has it */
};

/* Open the device, check the required capabilities, create the VM and the
 * irqchip (if asked), read the host's supported CPUID. Exits 3 on failure. */
void sr_vm_create(struct sr_vm *vm, const char *device, bool irqchip);

/* Create the one vCPU and give it the supported CPUID. Returns 0, or EEXIST
 * when KVM could not create a private memslot over a user slot; exits 3 on
 * any other failure. */
int sr_vcpu_create(struct sr_vm *vm);

/* KVM_SET_USER_MEMORY_REGION; returns 0 or the errno. */
int sr_set_slot(struct sr_vm *vm, uint32_t id, uint64_t gpa, uint64_t size, void *host);

/* Register or exit 3 naming the slot (for slots that must not fail). */
void sr_set_slot_or_die(struct sr_vm *vm, uint32_t id, uint64_t gpa, uint64_t size, void *host,
			const char *what);

void sr_delete_slot(struct sr_vm *vm, uint32_t id);

/* Find, to page precision, every part of [gpa, gpa+size) that KVM refuses to
 * map (EEXIST): temporary slots, bisected, deleted again. `host` backs the
 * range. Adds what it finds to `found`. Returns the number of ioctls. */
unsigned sr_probe_reserved(struct sr_vm *vm, uint64_t gpa, uint64_t size, void *host,
			   struct sr_ranges *found);

#endif
