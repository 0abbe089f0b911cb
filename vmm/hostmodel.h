/* Host models: which private memslots a class of KVM host keeps, where, and
 * at which ioctl they appear. Pure code (no ioctls): `vmm --host` reads the
 * table, kvm-as feeds it every memslot-related ioctl of a traced VMM or of a
 * strace log. The rules follow the kernel (6.1 and 6.12); each is cited where
 * it is applied in hostmodel.c.
 *
 * hostmodel.c holds the one table of these facts: the models (hm_models),
 * KVM's private ranges (hm_privates) and the in-kernel irqchip's pages
 * (hm_devices, at abi.h's addresses, which the guest uses). The VMM's memory
 * map, its messages, both --help texts and `kvm-as --list-models` read it. */
#ifndef SCRATCHRIG_HOSTMODEL_H
#define SCRATCHRIG_HOSTMODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "layout.h"

#define HM_MAX_USER_SLOTS 512                /* live user slots one model VM follows */

/* A fixed guest-physical range of KVM on x86. */
struct hm_range {
	const char *key;  /* short name, for --list-models: "apic-access", "lapic" */
	uint64_t gpa;     /* where it is; 0: only where userspace puts it (the TSS) */
	uint64_t size;
	const char *what; /* label for messages */
	const char *device; /* hm_devices: the device's name ("IOAPIC"); NULL for private slots */
};

/* The private slots of KVM on x86 (arch/x86/include/asm/kvm_host.h:
 * TSS_PRIVATE_MEMSLOT, APIC_ACCESS_PAGE_PRIVATE_MEMSLOT,
 * IDENTITY_PAGETABLE_PRIVATE_MEMSLOT). */
enum hm_private { HM_APIC_ACCESS, HM_IDENTITY_MAP, HM_TSS, HM_PRIVATE_COUNT };
extern const struct hm_range hm_privates[HM_PRIVATE_COUNT];

/* The in-kernel irqchip's MMIO pages: not RAM when the irqchip is on. A user
 * slot over one is accepted where no private slot is there, and hides the
 * device from the guest (see hm_verdict.hazards). */
enum hm_device { HM_LAPIC, HM_IOAPIC, HM_DEVICE_COUNT };
extern const struct hm_range hm_devices[HM_DEVICE_COUNT];

struct hm_model {
	const char *name;
	const char *hosts; /* which real hosts behave like this */
	unsigned privates; /* bit (1 << enum hm_private) for each slot it keeps */
};

extern const struct hm_model hm_models[];
extern const unsigned hm_model_count;

/* NULL when no model has that name. */
const struct hm_model *hm_model_find(const char *name);

/* "intel, intel-noug, amd-avic, none" (from the table): for messages. */
const char *hm_model_names(void);

/* Label of a private slot for messages ("the KVM APIC-access page ..."). */
const char *hm_private_name(enum hm_private p);

/* Name a range KVM refused by the private slot it meets at its default
 * address, for messages ("a KVM private memslot or another slot" if none). */
const char *hm_reserved_range_name(uint64_t base, uint64_t size);

/* The whole table, one tab-separated record a line, for tests and docs
 * checks (`kvm-as --list-models`):
 *   model    NAME  PRIVATE-KEYS (comma-separated, or -)  HOSTS
 *   private  KEY   GPA (0x..., or - where userspace sets it)  SIZE  LABEL
 *   device   KEY   GPA  SIZE  LABEL */
void hm_print_table(FILE *out);

/* The ranges a default VM (in-kernel LAPIC, one vCPU, no KVM_SET_TSS_ADDR or
 * KVM_SET_IDENTITY_MAP_ADDR) of this model has: what `vmm --host` registers
 * as placeholders. Appends to `out`; false when it is full. */
bool hm_model_default_ranges(const struct hm_model *m, struct sr_ranges *out);

/* One memslot-related ioctl on a VM. */
enum hm_call {
	HM_SET_SLOT,        /* KVM_SET_USER_MEMORY_REGION(2): slot, flags, gpa, size (0: delete) */
	HM_CREATE_IRQCHIP,  /* KVM_CREATE_IRQCHIP */
	HM_SPLIT_IRQCHIP,   /* KVM_ENABLE_CAP(KVM_CAP_SPLIT_IRQCHIP) */
	HM_CREATE_VCPU,     /* KVM_CREATE_VCPU */
	HM_SET_TSS_ADDR,    /* KVM_SET_TSS_ADDR: gpa */
	HM_SET_IDENTITY_MAP /* KVM_SET_IDENTITY_MAP_ADDR: gpa */
};

struct hm_event {
	enum hm_call call;
	uint32_t slot; /* as_id << 16 | id, as KVM takes it */
	uint32_t flags;
	uint64_t gpa;
	uint64_t size;
};

struct hm_user_slot {
	uint32_t slot;
	uint32_t flags;
	uint64_t gpa;
	uint64_t size;
};

/* One VM as a model host sees it. */
struct hm_vm {
	const struct hm_model *model;
	unsigned phys_bits; /* the host's MAXPHYADDR (SR_PHYS_BITS_MAX after hm_vm_init) */
	bool lapic_in_kernel;
	bool ioapic_in_kernel; /* KVM_CREATE_IRQCHIP, not the split irqchip */
	uint64_t identity_map_gpa;
	bool live[HM_PRIVATE_COUNT];
	struct sr_range priv[HM_PRIVATE_COUNT]; /* valid when live */
	unsigned slot_count;
	struct hm_user_slot slots[HM_MAX_USER_SLOTS];
	bool overflow; /* more live user slots than HM_MAX_USER_SLOTS: judged without them */
};

enum hm_answer {
	HM_ALLOW,
	HM_REFUSE_PRIVATE, /* a user slot created or moved over a private range */
	HM_REFUSE_BIRTH,   /* a private slot would appear over a live user slot */
	HM_REFUSE_AGAIN,   /* KVM_SET_TSS_ADDR while the TSS slot exists */
	HM_REFUSE_USER,    /* a user slot over another user slot: every host refuses it */
	HM_REFUSE_WIDTH,   /* a slot whose last gfn is above the host's MAXPHYADDR: EINVAL */
};

/* Where a verdict is applied: the one decision "refused or not" reads it.
 * HM_STRICT may be or'ed into either. */
enum hm_context {
	/* kvm-as tracing a VMM: a call it lets through reaches this host's
	 * real KVM, which refuses a user slot over another user slot itself
	 * (every host does); kvm-as refuses only what the model's private
	 * slots add. */
	HM_LIVE_KERNEL,
	/* --replay of a log: no kernel stands behind the model (with --kvm the
	 * kernel's answer is compared with the model's, not taken in its
	 * place), so the model refuses everything its rules refuse, the
	 * user-over-user overlap included. */
	HM_REPLAY_NO_KERNEL,
	/* --strict: a call the kernel accepts but that hides an in-kernel
	 * device from the guest (a hazard) fails too, with EEXIST. */
	HM_STRICT = 0x100,
};

enum hm_change { HM_CREATE, HM_MOVE, HM_FLAGS, HM_DELETE, HM_UNCHANGED, HM_INVALID, HM_NOT_SLOT };

struct hm_verdict {
	enum hm_answer answer;
	enum hm_change change;  /* for HM_SET_SLOT */
	enum hm_private which;  /* the private slot involved (PRIVATE, BIRTH, AGAIN) */
	/* Its range; for WIDTH, [2^phys_bits, 2^64 - 1]; for an allowed call
	 * with hazards, the first device page it hides. */
	struct sr_range priv;
	struct hm_user_slot other; /* the user slot it collides with (BIRTH, USER) */
	/* Hazards (answer HM_ALLOW only): bit (1 << enum hm_device) for each
	 * in-kernel device page the call hides from the guest, and the user
	 * slot that covers it (the call's own, or a live one when the irqchip
	 * call puts the device under it). */
	unsigned hazards;
	struct hm_user_slot hidden_by[HM_DEVICE_COUNT];
};

/* Whether a call with this verdict fails, in this context (HM_STRICT or'ed
 * in: hazards fail too). The one decision "refused or not". */
bool hm_refused(const struct hm_verdict *v, enum hm_context ctx);

/* The errno of a refused call: EINVAL for HM_REFUSE_WIDTH, else EEXIST. */
int hm_errno(const struct hm_verdict *v);

/* Whether a user slot over device `d` hides it in `vm` as it is (the device
 * in the kernel, and no private slot of the model's there to refuse the
 * slot instead): the hazard rule. */
bool hm_device_hidden(const struct hm_vm *vm, enum hm_device d);

/* The models whose private slots refuse a user slot over device `d` instead
 * of letting it hide the device ("intel, intel-noug, amd-avic"; "" if none). */
const char *hm_models_refusing_device(enum hm_device d);

void hm_vm_init(struct hm_vm *vm, const struct hm_model *model);

/* What this model's KVM would answer; changes nothing. */
struct hm_verdict hm_judge(const struct hm_vm *vm, const struct hm_event *ev);

/* Record the call's effect once its outcome is known: `succeeded` is whether
 * the call took effect (the kernel returned >= 0). A refused vCPU creation
 * keeps the private slots born before the failing one, as the kernel does. */
void hm_commit(struct hm_vm *vm, const struct hm_event *ev, const struct hm_verdict *v,
	       bool succeeded);

const char *hm_change_name(enum hm_change c);

#endif
