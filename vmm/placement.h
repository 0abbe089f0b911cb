/* Scratch placement: where scratch goes in KVM's memory slots, per --layout
 * (see placement.c). One interface for main.c, in the order of a run:
 * sr_placement_init before any ioctl, sr_placement_reserve once the low
 * region is mapped, then sr_placement_probe (--probe) or sr_placement_map. */
#ifndef SCRATCHRIG_PLACEMENT_H
#define SCRATCHRIG_PLACEMENT_H

#include <stdbool.h>
#include <stdint.h>

#include "kvm.h"
#include "layout.h"
#include "options.h"

/* KVM slot ids: the low region, then the placeholders, then scratch. */
#define SR_LOW_SLOT_ID 0

struct sr_placement {
	const struct sr_options *opt;
	struct sr_ranges devices;  /* the irqchip's pages: the guest never tests them */
	struct sr_ranges kept_out; /* the devices, with the irqchip on: never scratch */
	struct sr_ranges declared; /* kept_out and the placeholders: known before any ioctl */
	/* Which placeholders are registered: where KVM already keeps a private
	 * slot (e.g. the real APIC-access page), the placeholder is refused
	 * with EEXIST and not needed. */
	bool placeholder_live[SR_MAX_HOLES];
	uint8_t *host;             /* scratch's one host mapping (sr_placement_map) */
	struct sr_scratch scratch; /* where scratch went (sr_placement_map) */
};

/* The ranges scratch must respect; under --layout check (without --probe),
 * refuses here a scratch over any of them, before any ioctl (exit 4). */
void sr_placement_init(struct sr_placement *pl, const struct sr_options *opt);

/* Register the placeholders (--reserve, --emulate-apic-page, --host). */
void sr_placement_reserve(struct sr_placement *pl, struct sr_vm *vm);

/* --probe: print every range KVM refuses between the low region and the
 * top, and exit 0. */
_Noreturn void sr_placement_probe(const struct sr_placement *pl, struct sr_vm *vm);

/* Map scratch's host memory and its slots per --layout, remove the
 * placeholders, and under --vcpu-order after-scratch create the vCPU.
 * Exits 4 with the diagnosis when KVM refuses a slot single or check must
 * keep, 3 on another failure. */
void sr_placement_map(struct sr_placement *pl, struct sr_vm *vm);

/* Host memory for a slot: anonymous, NORESERVE (exit 3 when it cannot). */
void *sr_map_anonymous(uint64_t size, const char *what);

#endif
