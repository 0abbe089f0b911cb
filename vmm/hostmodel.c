#include "hostmodel.h"

#include <errno.h>
#include <string.h>

#define BIT(p) (1u << (p))

/* One table: every consumer (vmm --host, kvm-as, its summary, --help) reads it. */
const struct hm_model hm_models[] = {
	{"intel",
	 "Intel VMX with kvm_intel flexpriority=1 (the default on bare metal, and in an L1 of an "
	 "Intel KVM host with flexpriority); enable_apicv does not matter",
	 BIT(HM_APIC_ACCESS)},
	{"intel-noug",
	 "Intel VMX with EPT but unrestricted_guest=0 (pre-Westmere CPUs, kvm_intel "
	 "unrestricted_guest=0, some nested hypervisors)",
	 BIT(HM_APIC_ACCESS) | BIT(HM_IDENTITY_MAP) | BIT(HM_TSS)},
	{"amd-avic", "AMD SVM with AVIC (kvm_amd avic=1 on Zen 4 and later, or force_avic=1)",
	 BIT(HM_APIC_ACCESS)},
	{"none",
	 "no private slot: AMD without AVIC, Intel with flexpriority=0, most cloud VMs and hosted "
	 "CI runners (Hyper-V's enlightened VMCS has no APIC-access control), paravirtualized KVM",
	 0},
};
const unsigned hm_model_count = sizeof(hm_models) / sizeof(hm_models[0]);

const struct hm_range hm_privates[HM_PRIVATE_COUNT] = {
	/* APIC_DEFAULT_PHYS_BASE: the LAPIC's own page */
	[HM_APIC_ACCESS] = {"apic-access", SR_LAPIC_GPA, SR_PAGE_SIZE,
			    "the KVM APIC-access page (KVM's private memslot for APIC virtualization)"},
	/* VMX_EPT_IDENTITY_PAGETABLE_ADDR, until KVM_SET_IDENTITY_MAP_ADDR moves it */
	[HM_IDENTITY_MAP] = {"identity-map", 0xFFFBC000ULL, SR_PAGE_SIZE,
			     "the KVM EPT identity-map page (Intel without unrestricted guest)"},
	/* RMODE_TSS_SIZE rounded up to pages (vmx_set_tss_addr), where userspace says */
	[HM_TSS] = {"tss", 0, 3 * SR_PAGE_SIZE,
		    "the KVM real-mode TSS (KVM_SET_TSS_ADDR, Intel without unrestricted guest)"},
};

/* APIC_DEFAULT_PHYS_BASE (arch/x86/include/asm/apicdef.h) and
 * IOAPIC_DEFAULT_BASE_ADDRESS (arch/x86/kvm/ioapic.h): where the in-kernel
 * LAPIC (kvm_create_lapic(), per vCPU, with KVM_CREATE_IRQCHIP or the split
 * irqchip) and IOAPIC (kvm_ioapic_init(), at KVM_CREATE_IRQCHIP only) answer
 * MMIO. A guest access to a gfn that a memslot covers is a memory access:
 * it never reaches the MMIO bus, so RAM there hides the device. */
const struct hm_range hm_devices[HM_DEVICE_COUNT] = {
	[HM_LAPIC] = {"lapic", SR_LAPIC_GPA, SR_PAGE_SIZE, "LAPIC MMIO page (not RAM with --irqchip on)",
		      "LAPIC"},
	[HM_IOAPIC] = {"ioapic", SR_IOAPIC_GPA, SR_PAGE_SIZE,
		       "IOAPIC MMIO page (not RAM with --irqchip on)", "IOAPIC"},
};

const struct hm_model *hm_model_find(const char *name)
{
	for (unsigned i = 0; i < hm_model_count; i++)
		if (strcmp(hm_models[i].name, name) == 0)
			return &hm_models[i];
	return NULL;
}

const char *hm_model_names(void)
{
	static char names[128];
	size_t n = 0;

	if (names[0] != '\0')
		return names;
	for (unsigned i = 0; i < hm_model_count && n < sizeof(names); i++)
		n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s", i ? ", " : "",
				      hm_models[i].name);
	return names;
}

const char *hm_private_name(enum hm_private p)
{
	if ((unsigned)p < HM_PRIVATE_COUNT)
		return hm_privates[p].what;
	return "a KVM private memslot";
}

const char *hm_reserved_range_name(uint64_t base, uint64_t size)
{
	for (unsigned p = 0; p < HM_PRIVATE_COUNT; p++)
		if (hm_privates[p].gpa != 0 &&
		    sr_overlaps(base, size, hm_privates[p].gpa, hm_privates[p].size))
			return hm_privates[p].what;
	return "a KVM private memslot or another slot";
}

static void print_range(FILE *out, const char *kind, const struct hm_range *r)
{
	if (r->gpa)
		fprintf(out, "%s\t%s\t0x%llx\t0x%llx\t%s\n", kind, r->key, (unsigned long long)r->gpa,
			(unsigned long long)r->size, r->what);
	else
		fprintf(out, "%s\t%s\t-\t0x%llx\t%s\n", kind, r->key, (unsigned long long)r->size,
			r->what);
}

void hm_print_table(FILE *out)
{
	for (unsigned i = 0; i < hm_model_count; i++) {
		const struct hm_model *m = &hm_models[i];
		fprintf(out, "model\t%s\t", m->name);
		for (unsigned p = 0, n = 0; p < HM_PRIVATE_COUNT; p++)
			if (m->privates & BIT(p))
				fprintf(out, "%s%s", n++ ? "," : "", hm_privates[p].key);
		fprintf(out, "%s\t%s\n", m->privates ? "" : "-", m->hosts);
	}
	for (unsigned p = 0; p < HM_PRIVATE_COUNT; p++)
		print_range(out, "private", &hm_privates[p]);
	for (unsigned d = 0; d < HM_DEVICE_COUNT; d++)
		print_range(out, "device", &hm_devices[d]);
}

bool hm_model_default_ranges(const struct hm_model *m, struct sr_ranges *out)
{
	/* The TSS has no default address: it exists only after KVM_SET_TSS_ADDR. */
	for (unsigned p = 0; p < HM_PRIVATE_COUNT; p++)
		if ((m->privates & BIT(p)) && hm_privates[p].gpa != 0 &&
		    !sr_ranges_add(out, hm_privates[p].gpa, hm_privates[p].size, hm_privates[p].what))
			return false;
	return true;
}

void hm_vm_init(struct hm_vm *vm, const struct hm_model *model)
{
	memset(vm, 0, sizeof(*vm));
	vm->model = model;
	vm->phys_bits = SR_PHYS_BITS_MAX;
	/* init_rmode_identity_map(): the default when userspace set none. */
	vm->identity_map_gpa = hm_privates[HM_IDENTITY_MAP].gpa;
}

bool hm_refused(const struct hm_verdict *v, enum hm_context ctx)
{
	switch (v->answer) {
	case HM_ALLOW:
		/* Every host accepts it; --strict refuses what hides a device. */
		return v->hazards != 0 && (ctx & HM_STRICT) != 0;
	case HM_REFUSE_PRIVATE:
	case HM_REFUSE_BIRTH:
	case HM_REFUSE_AGAIN:
	case HM_REFUSE_WIDTH:
		return true;
	case HM_REFUSE_USER:
		/* live: the real kernel's to refuse */
		return (ctx & ~HM_STRICT) == HM_REPLAY_NO_KERNEL;
	}
	return false;
}

int hm_errno(const struct hm_verdict *v)
{
	return v->answer == HM_REFUSE_WIDTH ? EINVAL : EEXIST;
}

const char *hm_change_name(enum hm_change c)
{
	static const char *const names[] = {
		[HM_CREATE] = "create", [HM_MOVE] = "move", [HM_FLAGS] = "flags",
		[HM_DELETE] = "delete", [HM_UNCHANGED] = "unchanged", [HM_INVALID] = "invalid",
		[HM_NOT_SLOT] = "-",
	};
	return names[c];
}

static int find_slot(const struct hm_vm *vm, uint32_t slot)
{
	for (unsigned i = 0; i < vm->slot_count; i++)
		if (vm->slots[i].slot == slot)
			return (int)i;
	return -1;
}

/* The first live user slot (any address space) overlapping [gpa, gpa+size). */
static const struct hm_user_slot *user_overlap(const struct hm_vm *vm, uint64_t gpa, uint64_t size,
					       bool same_as, uint32_t slot)
{
	for (unsigned i = 0; i < vm->slot_count; i++) {
		const struct hm_user_slot *u = &vm->slots[i];
		if (same_as && ((u->slot >> 16) != (slot >> 16) || u->slot == slot))
			continue;
		if (sr_overlaps(u->gpa, u->size, gpa, size))
			return u;
	}
	return NULL;
}

static bool keeps(const struct hm_vm *vm, enum hm_private p)
{
	return (vm->model->privates & BIT(p)) != 0;
}

/* A private slot about to be born at [gpa, gpa+size): __x86_set_memory_region()
 * (arch/x86/kvm/x86.c) registers it in every address space through
 * __kvm_set_memory_region(), whose overlap check refuses it with EEXIST over
 * any user slot. */
static bool birth_refused(const struct hm_vm *vm, enum hm_private p, uint64_t gpa, uint64_t size,
			  struct hm_verdict *v)
{
	const struct hm_user_slot *u = user_overlap(vm, gpa, size, false, 0);

	if (u == NULL)
		return false;
	v->answer = HM_REFUSE_BIRTH;
	v->which = p;
	v->priv = (struct sr_range){gpa, size, hm_private_name(p)};
	v->other = *u;
	return true;
}

/* kvm_arch_prepare_memory_region() (arch/x86/kvm/x86.c), for a created or
 * moved slot, after __kvm_set_memory_region()'s overlap check (so EEXIST
 * comes first): -EINVAL when its last gfn is above kvm_mmu_max_gfn()
 * (arch/x86/kvm/mmu.h), which is (1 << (host MAXPHYADDR - 12)) - 1 with
 * EPT/NPT ("this uses the host MAXPHYADDR, not the guest's"), 52 bits
 * without. A slot that wraps past 2^64 is EINVAL earlier, in
 * __kvm_set_memory_region(). */
static bool beyond_width(const struct hm_vm *vm, const struct hm_event *ev, struct hm_verdict *v)
{
	uint64_t last = ev->gpa + ev->size - 1;

	unsigned bits = vm->phys_bits < 64 ? vm->phys_bits : 63;

	if (last >= ev->gpa && (last >> bits) == 0)
		return false;
	v->answer = HM_REFUSE_WIDTH;
	v->priv = (struct sr_range){1ULL << bits, -(1ULL << bits),
				    "the guest-physical addresses above the host's MAXPHYADDR"};
	return true;
}

/* __kvm_set_memory_region() (virt/kvm/kvm_main.c): size 0 deletes; a new id
 * creates; an existing id with another base moves, with other flags changes
 * flags, with another size (or READONLY toggled) is EINVAL. Only create and
 * move run kvm_check_memslot_overlap(), which walks every slot of the
 * address space, the private ones (id >= KVM_USER_MEM_SLOTS) included. */
static struct hm_verdict judge_slot(const struct hm_vm *vm, const struct hm_event *ev)
{
	struct hm_verdict v = {.answer = HM_ALLOW};
	int i = find_slot(vm, ev->slot);
	const struct hm_user_slot *old = i >= 0 ? &vm->slots[i] : NULL;
	const struct hm_user_slot *u;

	if (ev->size == 0)
		v.change = old ? HM_DELETE : HM_INVALID;
	else if (old == NULL)
		v.change = HM_CREATE;
	else if (old->size != ev->size || ((old->flags ^ ev->flags) & 2 /* KVM_MEM_READONLY */))
		v.change = HM_INVALID;
	else if (old->gpa != ev->gpa)
		v.change = HM_MOVE;
	else if (old->flags != ev->flags)
		v.change = HM_FLAGS;
	else
		v.change = HM_UNCHANGED;
	if (v.change != HM_CREATE && v.change != HM_MOVE)
		return v;
	for (int p = 0; p < HM_PRIVATE_COUNT; p++)
		if (vm->live[p] && sr_overlaps(vm->priv[p].base, vm->priv[p].size, ev->gpa, ev->size)) {
			v.answer = HM_REFUSE_PRIVATE;
			v.which = (enum hm_private)p;
			v.priv = vm->priv[p];
			return v;
		}
	if ((u = user_overlap(vm, ev->gpa, ev->size, true, ev->slot)) != NULL) {
		v.answer = HM_REFUSE_USER;
		v.other = *u;
		return v;
	}
	beyond_width(vm, ev, &v);
	return v;
}

/* vmx_vcpu_create() (arch/x86/kvm/vmx/vmx.c): first the APIC-access page when
 * cpu_need_virtualize_apic_accesses() (flexpriority and a LAPIC in the
 * kernel), allocated once per VM (kvm_alloc_apic_access_page(), lapic.c in
 * 6.12, alloc_apic_access_page() in vmx.c before), then, with EPT and without
 * unrestricted guest, init_rmode_identity_map() at ept_identity_map_addr.
 * AMD: svm_vcpu_create() -> avic_init_vcpu() -> avic_init_backing_page() maps
 * the same page when AVIC is on and the irqchip is in the kernel. */
static void vcpu_births(const struct hm_vm *vm, bool want[HM_PRIVATE_COUNT])
{
	want[HM_APIC_ACCESS] = keeps(vm, HM_APIC_ACCESS) && vm->lapic_in_kernel &&
			       !vm->live[HM_APIC_ACCESS];
	want[HM_IDENTITY_MAP] = keeps(vm, HM_IDENTITY_MAP) && !vm->live[HM_IDENTITY_MAP];
	want[HM_TSS] = false;
}

static uint64_t birth_gpa(const struct hm_vm *vm, enum hm_private p)
{
	return p == HM_APIC_ACCESS ? hm_privates[HM_APIC_ACCESS].gpa : vm->identity_map_gpa;
}

/* Whether one of the model's private slots is, or will be at the first
 * KVM_CREATE_VCPU (given where the LAPIC is), over device page `d`: then a
 * user slot there is refused (HM_REFUSE_PRIVATE or HM_REFUSE_BIRTH), not
 * left to hide the device. */
static bool private_over_device(const struct hm_vm *vm, enum hm_device d, bool lapic_in_kernel)
{
	const struct hm_range *dev = &hm_devices[d];

	for (int p = 0; p < HM_PRIVATE_COUNT; p++) {
		bool born_later = !vm->live[p] && keeps(vm, (enum hm_private)p) &&
				  (p == HM_IDENTITY_MAP || (p == HM_APIC_ACCESS && lapic_in_kernel));
		if (vm->live[p] && sr_overlaps(vm->priv[p].base, vm->priv[p].size, dev->gpa, dev->size))
			return true;
		if (born_later && sr_overlaps(birth_gpa(vm, (enum hm_private)p), hm_privates[p].size,
					      dev->gpa, dev->size))
			return true;
	}
	return false;
}

/* The hazard rule, for a VM whose irqchip is (or is about to be) as given:
 * the device is in the kernel and no private slot stands there. */
static bool hidden_with(const struct hm_vm *vm, enum hm_device d, bool lapic_in_kernel,
			bool ioapic_in_kernel)
{
	bool in_kernel = d == HM_IOAPIC ? ioapic_in_kernel : lapic_in_kernel;

	return in_kernel && !private_over_device(vm, d, lapic_in_kernel);
}

bool hm_device_hidden(const struct hm_vm *vm, enum hm_device d)
{
	return hidden_with(vm, d, vm->lapic_in_kernel, vm->ioapic_in_kernel);
}

const char *hm_models_refusing_device(enum hm_device d)
{
	static char names[HM_DEVICE_COUNT][128];
	const struct hm_range *dev = &hm_devices[d];
	size_t n = 0;

	if (names[d][0] != '\0')
		return names[d];
	for (unsigned i = 0; i < hm_model_count; i++) {
		bool refuses = false;
		for (unsigned p = 0; p < HM_PRIVATE_COUNT; p++)
			refuses |= (hm_models[i].privates & BIT(p)) && hm_privates[p].gpa != 0 &&
				   sr_overlaps(hm_privates[p].gpa, hm_privates[p].size, dev->gpa, dev->size);
		if (refuses && n < sizeof(names[d]))
			n += (size_t)snprintf(names[d] + n, sizeof(names[d]) - n, "%s%s", n ? ", " : "",
					      hm_models[i].name);
	}
	return names[d];
}

/* A call that the kernel accepts: which device pages it leaves under RAM.
 * A slot created or moved over a hidden device's page hides it; an irqchip
 * call hides a device it puts in the kernel under a live user slot. */
static void find_hazards(const struct hm_vm *vm, const struct hm_event *ev, struct hm_verdict *v)
{
	bool lapic = vm->lapic_in_kernel, ioapic = vm->ioapic_in_kernel;

	if (ev->call == HM_CREATE_IRQCHIP)
		lapic = ioapic = true;
	else if (ev->call == HM_SPLIT_IRQCHIP)
		lapic = true;
	else if (ev->call != HM_SET_SLOT || (v->change != HM_CREATE && v->change != HM_MOVE))
		return;
	for (int d = 0; d < HM_DEVICE_COUNT; d++) {
		const struct hm_range *dev = &hm_devices[d];
		const struct hm_user_slot *u;

		if (!hidden_with(vm, (enum hm_device)d, lapic, ioapic))
			continue;
		if (ev->call == HM_SET_SLOT) {
			if (!sr_overlaps(ev->gpa, ev->size, dev->gpa, dev->size))
				continue;
			v->hidden_by[d] = (struct hm_user_slot){ev->slot, ev->flags, ev->gpa, ev->size};
		} else {
			/* already hidden before the call: named when it happened */
			if (hm_device_hidden(vm, (enum hm_device)d) ||
			    (u = user_overlap(vm, dev->gpa, dev->size, false, 0)) == NULL)
				continue;
			v->hidden_by[d] = *u;
		}
		if (v->hazards == 0)
			v->priv = (struct sr_range){dev->gpa, dev->size, dev->what};
		v->hazards |= BIT(d);
	}
}


struct hm_verdict hm_judge(const struct hm_vm *vm, const struct hm_event *ev)
{
	struct hm_verdict v = {.answer = HM_ALLOW, .change = HM_NOT_SLOT};
	bool want[HM_PRIVATE_COUNT];

	switch (ev->call) {
	case HM_SET_SLOT:
		v = judge_slot(vm, ev);
		break;
	case HM_CREATE_VCPU:
		vcpu_births(vm, want);
		for (int p = HM_APIC_ACCESS; p <= HM_IDENTITY_MAP; p++)
			if (want[p] && birth_refused(vm, (enum hm_private)p, birth_gpa(vm, p), hm_privates[p].size, &v))
				return v;
		break;
	case HM_SET_TSS_ADDR:
		/* vmx_set_tss_addr(): returns 0 at once with unrestricted guest;
		 * else 3 pages at the address; __x86_set_memory_region() refuses
		 * a second one with EEXIST. */
		if (!keeps(vm, HM_TSS))
			break;
		if (vm->live[HM_TSS]) {
			v.answer = HM_REFUSE_AGAIN;
			v.which = HM_TSS;
			v.priv = vm->priv[HM_TSS];
			break;
		}
		birth_refused(vm, HM_TSS, ev->gpa, hm_privates[HM_TSS].size, &v);
		break;
	case HM_CREATE_IRQCHIP:
	case HM_SPLIT_IRQCHIP:
	case HM_SET_IDENTITY_MAP:
		break;
	}
	if (v.answer == HM_ALLOW)
		find_hazards(vm, ev, &v);
	return v;
}

static void born(struct hm_vm *vm, enum hm_private p, uint64_t gpa, uint64_t size)
{
	vm->live[p] = true;
	vm->priv[p] = (struct sr_range){gpa, size, hm_private_name(p)};
}

static void commit_slot(struct hm_vm *vm, const struct hm_event *ev, enum hm_change change)
{
	int i = find_slot(vm, ev->slot);

	switch (change) {
	case HM_CREATE:
		if (vm->slot_count == HM_MAX_USER_SLOTS) {
			vm->overflow = true;
			return;
		}
		vm->slots[vm->slot_count++] = (struct hm_user_slot){ev->slot, ev->flags, ev->gpa, ev->size};
		return;
	case HM_MOVE:
	case HM_FLAGS:
		if (i >= 0) {
			vm->slots[i].gpa = ev->gpa;
			vm->slots[i].flags = ev->flags;
		}
		return;
	case HM_DELETE:
		if (i >= 0)
			vm->slots[i] = vm->slots[--vm->slot_count];
		return;
	case HM_UNCHANGED:
	case HM_INVALID:
	case HM_NOT_SLOT:
		return;
	}
}

void hm_commit(struct hm_vm *vm, const struct hm_event *ev, const struct hm_verdict *v,
	       bool succeeded)
{
	bool want[HM_PRIVATE_COUNT];

	if (!succeeded) {
		/* The APIC-access page is born before the identity map fails, and
		 * stays (the kernel does not undo it). */
		if (ev->call == HM_CREATE_VCPU && v->answer == HM_REFUSE_BIRTH &&
		    v->which == HM_IDENTITY_MAP) {
			vcpu_births(vm, want);
			if (want[HM_APIC_ACCESS])
				born(vm, HM_APIC_ACCESS, hm_privates[HM_APIC_ACCESS].gpa, hm_privates[HM_APIC_ACCESS].size);
		}
		return;
	}
	switch (ev->call) {
	case HM_SET_SLOT:
		commit_slot(vm, ev, v->change);
		break;
	case HM_CREATE_IRQCHIP:
		vm->ioapic_in_kernel = true; /* and the PIC, the PIT: no MMIO page */
		vm->lapic_in_kernel = true;
		break;
	case HM_SPLIT_IRQCHIP:
		vm->lapic_in_kernel = true; /* the IOAPIC stays in userspace */
		break;
	case HM_CREATE_VCPU:
		vcpu_births(vm, want);
		for (int p = HM_APIC_ACCESS; p <= HM_IDENTITY_MAP; p++)
			if (want[p])
				born(vm, (enum hm_private)p, birth_gpa(vm, p), hm_privates[p].size);
		break;
	case HM_SET_TSS_ADDR:
		if (keeps(vm, HM_TSS))
			born(vm, HM_TSS, ev->gpa, hm_privates[HM_TSS].size);
		break;
	case HM_SET_IDENTITY_MAP:
		vm->identity_map_gpa = ev->gpa;
		break;
	}
}
