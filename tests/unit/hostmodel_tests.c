/* Unit tests of the host models (vmm/hostmodel.c) against the kernel's rules
 * as the issue states them: a user slot created or moved over a private range
 * is EEXIST; a private slot that would appear over a live user slot fails the
 * ioctl that creates it; delete and flags changes never check. Expected
 * answers are written from those rules, never from a run of the model. */
#include <errno.h>
#include <stdlib.h>

#include "harness.h"
#include "hostmodel.h"

#define PAGE SR_PAGE_SIZE
#define APIC 0xFEE00000ULL  /* APIC_DEFAULT_PHYS_BASE */
#define IDMAP 0xFFFBC000ULL /* VMX_EPT_IDENTITY_PAGETABLE_ADDR */
#define SMM_AS (1u << 16) /* address space 1 */
#define IOAPIC 0xFEC00000ULL /* IOAPIC_DEFAULT_BASE_ADDRESS */

static void test_model_table(void)
{
	static const struct {
		const char *name;
		unsigned privates;
	} want[] = {
		{"intel", 1u << HM_APIC_ACCESS},
		{"intel-noug", (1u << HM_APIC_ACCESS) | (1u << HM_IDENTITY_MAP) | (1u << HM_TSS)},
		{"amd-avic", 1u << HM_APIC_ACCESS},
		{"none", 0},
	};
	CHECK_EQ(hm_model_count, 4, "four models");
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct hm_model *m = hm_model_find(want[i].name);
		CHECK(m != NULL, "%s is in the table", want[i].name);
		if (m == NULL)
			continue;
		CHECK_EQ(m->privates, want[i].privates, "%s", want[i].name);
		CHECK(strstr(hm_model_names(), want[i].name) != NULL, "%s listed", want[i].name);
		CHECK(m->hosts != NULL && *m->hosts, "%s says which hosts", want[i].name);
	}
	CHECK(hm_model_find("Intel") == NULL, "names are exact");
	CHECK(hm_model_find("") == NULL, "empty name");
	CHECK(hm_model_find("amd") == NULL, "a prefix is not a name");
}

/* A range KVM refused, named by the private slot at its default address. */
static void test_reserved_range_name(void)
{
	CHECK_HAS(hm_reserved_range_name(SR_LAPIC_GPA, PAGE), "APIC", "the LAPIC page");
	CHECK(hm_reserved_range_name(0x500000, PAGE) != NULL, "any range gets a name");
	CHECK_HAS(hm_reserved_range_name(0xFFFB0000, 0x10000), "identity-map", "0xfffbc000 inside");
	CHECK_HAS(hm_reserved_range_name(0x500000, PAGE), "another slot", "nothing known there");
}

static void test_default_ranges(void)
{
	struct sr_ranges r = {0};

	CHECK(hm_model_default_ranges(hm_model_find("intel"), &r), "intel");
	CHECK_EQ(r.count, 1, "intel: the APIC page");
	CHECK_EQ(r.r[0].base, APIC, "intel");
	CHECK_EQ(r.r[0].size, PAGE, "intel");
	r = (struct sr_ranges){0};
	CHECK(hm_model_default_ranges(hm_model_find("intel-noug"), &r), "noug");
	CHECK_EQ(r.count, 2, "noug: APIC page and identity map (no TSS without KVM_SET_TSS_ADDR)");
	CHECK_EQ(r.r[0].base, APIC, "sorted");
	CHECK_EQ(r.r[1].base, IDMAP, "0xfffbc000");
	CHECK_EQ(r.r[1].size, PAGE, "one page");
	r = (struct sr_ranges){0};
	CHECK(hm_model_default_ranges(hm_model_find("amd-avic"), &r), "amd");
	CHECK_EQ(r.count, 1, "amd-avic: the APIC page");
	r = (struct sr_ranges){0};
	CHECK(hm_model_default_ranges(hm_model_find("none"), &r), "none");
	CHECK_EQ(r.count, 0, "none: nothing");
}

/* A scripted VM: each step is one ioctl and the answer the rules give. The
 * real call is taken to succeed exactly when the model allows it. */
struct step {
	struct hm_event ev;
	enum hm_answer want;
	enum hm_private which; /* checked for refusals other than USER */
};

#define SLOT(id, gpa, size) {HM_SET_SLOT, (id), 0, (gpa), (size)}
#define SLOTF(id, flags, gpa, size) {HM_SET_SLOT, (id), (flags), (gpa), (size)}
#define CALL(c) {(c), 0, 0, 0, 0}
#define AT(c, gpa) {(c), 0, 0, (gpa), 0}
#define OK(ev) {ev, HM_ALLOW, 0}
#define NO(ev, ans, p) {ev, ans, p}

static const struct scenario {
	const char *name;
	const char *model;
	unsigned count;
	struct step steps[12];
} scenarios[] = {
	{"intel: irqchip, vCPU, then scratch over the page", "intel", 5, {
		OK(CALL(HM_CREATE_IRQCHIP)), OK(CALL(HM_CREATE_VCPU)), OK(SLOT(0, 0, 0x400000)),
		/* the report: 0x6882000 below 4 GiB covers 0xfee00000 */
		NO(SLOT(17, 0xF977E000, 0x6882000), HM_REFUSE_PRIVATE, HM_APIC_ACCESS),
		/* 0x11ff000 ends just above the page */
		OK(SLOT(17, 0xFEE01000, 0x11FF000))}},
	{"intel: the page's neighbours are free", "intel", 5, {
		OK(CALL(HM_CREATE_IRQCHIP)), OK(CALL(HM_CREATE_VCPU)),
		OK(SLOT(1, APIC - PAGE, PAGE)), OK(SLOT(2, APIC + PAGE, PAGE)),
		NO(SLOT(3, APIC, PAGE), HM_REFUSE_PRIVATE, HM_APIC_ACCESS)}},
	{"intel: no in-kernel LAPIC, no page", "intel", 2, {
		OK(CALL(HM_CREATE_VCPU)), OK(SLOT(1, APIC, PAGE))}},
	{"intel: the split irqchip puts the LAPIC in the kernel", "intel", 3, {
		OK(CALL(HM_SPLIT_IRQCHIP)), OK(CALL(HM_CREATE_VCPU)),
		NO(SLOT(1, APIC, PAGE), HM_REFUSE_PRIVATE, HM_APIC_ACCESS)}},
	{"intel: the page appears at KVM_CREATE_VCPU, not at the irqchip", "intel", 6, {
		OK(CALL(HM_CREATE_IRQCHIP)), OK(SLOT(1, 0xFE000000, 0x2000000)),
		NO(CALL(HM_CREATE_VCPU), HM_REFUSE_BIRTH, HM_APIC_ACCESS),
		OK(SLOT(1, 0, 0)), /* delete */
		OK(CALL(HM_CREATE_VCPU)),
		NO(SLOT(1, 0xFE000000, 0x2000000), HM_REFUSE_PRIVATE, HM_APIC_ACCESS)}},
	{"intel: a move onto the page is refused, flags and delete are not checked", "intel", 6, {
		OK(CALL(HM_CREATE_IRQCHIP)), OK(CALL(HM_CREATE_VCPU)), OK(SLOT(4, 0x80000000, 0x10000)),
		NO(SLOT(4, APIC, 0x10000), HM_REFUSE_PRIVATE, HM_APIC_ACCESS),
		OK(SLOTF(4, 1 /* KVM_MEM_LOG_DIRTY_PAGES */, 0x80000000, 0x10000)), OK(SLOT(4, 0, 0))}},
	{"intel: private slots exist in every address space", "intel", 4, {
		OK(CALL(HM_CREATE_IRQCHIP)), OK(SLOT(SMM_AS | 1, APIC, PAGE)),
		NO(CALL(HM_CREATE_VCPU), HM_REFUSE_BIRTH, HM_APIC_ACCESS), OK(SLOT(SMM_AS | 1, 0, 0))}},
	{"intel: user slots collide only within one address space", "intel", 4, {
		OK(SLOT(1, 0x100000, 0x100000)), NO(SLOT(2, 0x180000, PAGE), HM_REFUSE_USER, 0),
		OK(SLOT(SMM_AS | 2, 0x180000, PAGE)), OK(SLOT(1, 0x100000, 0x100000))}},
	{"amd-avic: as intel", "amd-avic", 3, {
		OK(CALL(HM_CREATE_IRQCHIP)), OK(CALL(HM_CREATE_VCPU)),
		NO(SLOT(17, 0xF977E000, 0x6882000), HM_REFUSE_PRIVATE, HM_APIC_ACCESS)}},
	{"none: nothing is private", "none", 5, {
		OK(CALL(HM_CREATE_IRQCHIP)), OK(CALL(HM_CREATE_VCPU)), OK(SLOT(17, 0xF977E000, 0x6882000)),
		OK(AT(HM_SET_TSS_ADDR, 0xFFFBD000)), OK(AT(HM_SET_TSS_ADDR, 0xFFFBD000))}},
	{"intel-noug: the identity map covers the default scratch", "intel-noug", 4, {
		OK(CALL(HM_CREATE_VCPU)),
		/* default scratch 0x48000: [0xfffb8000, 0xffffffff] holds 0xfffbc000 */
		NO(SLOT(17, 0xFFFB8000, 0x48000), HM_REFUSE_PRIVATE, HM_IDENTITY_MAP),
		OK(SLOT(17, 0xFFFBD000, 0x43000)),
		OK(SLOT(18, APIC, PAGE))}}, /* no irqchip: no APIC page */
	{"intel-noug: KVM_SET_IDENTITY_MAP_ADDR moves the page", "intel-noug", 4, {
		OK(AT(HM_SET_IDENTITY_MAP, 0xFEFFC000)), OK(CALL(HM_CREATE_VCPU)),
		OK(SLOT(1, IDMAP, PAGE)),
		NO(SLOT(2, 0xFEFF0000, 0x10000), HM_REFUSE_PRIVATE, HM_IDENTITY_MAP)}},
	{"intel-noug: the TSS is three pages, set once", "intel-noug", 7, {
		OK(AT(HM_SET_TSS_ADDR, 0xFFFBD000)),
		NO(SLOT(1, 0xFFFBF000, PAGE), HM_REFUSE_PRIVATE, HM_TSS), /* the third page */
		OK(SLOT(1, 0xFFFC0000, PAGE)), OK(SLOT(2, 0xFFFBC000, PAGE)),
		NO(AT(HM_SET_TSS_ADDR, 0xE0000000), HM_REFUSE_AGAIN, HM_TSS),
		/* the identity map page is now a user slot: the vCPU fails */
		NO(CALL(HM_CREATE_VCPU), HM_REFUSE_BIRTH, HM_IDENTITY_MAP),
		NO(SLOT(3, 0xFFFBE000, PAGE), HM_REFUSE_PRIVATE, HM_TSS)}}, /* the TSS's second page */
	{"intel-noug: KVM_SET_TSS_ADDR over a user slot fails", "intel-noug", 3, {
		OK(SLOT(1, 0xFFFBE000, PAGE)),
		NO(AT(HM_SET_TSS_ADDR, 0xFFFBD000), HM_REFUSE_BIRTH, HM_TSS),
		OK(AT(HM_SET_TSS_ADDR, 0xFFFC0000))}},
	{"intel-noug: the APIC page, then the identity map", "intel-noug", 5, {
		OK(CALL(HM_CREATE_IRQCHIP)), OK(SLOT(1, IDMAP, PAGE)),
		NO(CALL(HM_CREATE_VCPU), HM_REFUSE_BIRTH, HM_IDENTITY_MAP),
		/* the APIC page was born before the identity map failed, and stays */
		NO(SLOT(2, APIC, PAGE), HM_REFUSE_PRIVATE, HM_APIC_ACCESS),
		OK(SLOT(1, 0, 0))}},
};

static void run_scenario(const struct scenario *s)
{
	struct hm_vm *vm = malloc(sizeof(*vm));

	if (vm == NULL)
		abort();
	hm_vm_init(vm, hm_model_find(s->model));
	for (unsigned i = 0; i < s->count; i++) {
		const struct step *st = &s->steps[i];
		struct hm_verdict v = hm_judge(vm, &st->ev);

		CHECK_EQ(v.answer, st->want, "%s: step %u", s->name, i + 1);
		if (st->want != HM_ALLOW && st->want != HM_REFUSE_USER)
			CHECK_EQ(v.which, st->which, "%s: step %u: which private slot", s->name, i + 1);
		hm_commit(vm, &st->ev, &v, v.answer == HM_ALLOW);
	}
	free(vm);
}

static void test_scenarios(void)
{
	for (unsigned i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		run_scenario(&scenarios[i]);
}

/* A user slot over a live private range can exist (a model started late, a
 * slot the kernel kept): changing its flags or deleting it is never checked,
 * moving it is. */
static void test_no_check_on_flags_and_delete(void)
{
	static const struct {
		struct hm_event ev;
		enum hm_answer answer;
		enum hm_change change;
		const char *what;
	} cases[] = {
		{SLOTF(9, 1, 0xFEC00000, 0x400000), HM_ALLOW, HM_FLAGS, "a flags change"},
		{SLOT(9, 0xFEC00000, 0x400000), HM_ALLOW, HM_UNCHANGED, "no change"},
		{SLOT(9, 0xFEC00000, 0x1000), HM_ALLOW, HM_INVALID, "a resize is EINVAL, not EEXIST"},
		{SLOT(9, 0xFEB00000, 0x400000), HM_REFUSE_PRIVATE, HM_MOVE, "a move still over the page"},
		{SLOT(9, 0xFEC00000, 0), HM_ALLOW, HM_DELETE, "size 0 deletes"},
	};
	struct hm_vm *vm = malloc(sizeof(*vm));
	struct hm_verdict v;

	if (vm == NULL)
		abort();
	hm_vm_init(vm, hm_model_find("intel"));
	vm->live[HM_APIC_ACCESS] = true;
	vm->priv[HM_APIC_ACCESS] = (struct sr_range){APIC, PAGE, "apic"};
	vm->slots[vm->slot_count++] = (struct hm_user_slot){9, 0, 0xFEC00000, 0x400000};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = hm_judge(vm, &cases[i].ev);
		CHECK_EQ(v.answer, cases[i].answer, "%s", cases[i].what);
		CHECK_EQ(v.change, cases[i].change, "%s", cases[i].what);
	}
	hm_commit(vm, &cases[4].ev, &v, true);
	CHECK_EQ(vm->slot_count, 0, "deleted");
	v = hm_judge(vm, &cases[4].ev);
	CHECK_EQ(v.change, HM_INVALID, "deleting a missing slot is EINVAL");
	free(vm);
}

/* Random calls around the private ranges: whatever is committed, no live user
 * slot ever overlaps a live private range, and no two user slots of one
 * address space overlap. */
static void test_model_property(void)
{
	static const uint64_t anchors[] = {APIC, IDMAP, 0xFFFBD000, 0xFEFFC000};
	struct hm_vm *vm = malloc(sizeof(*vm));
	unsigned refusals = 0;

	if (vm == NULL)
		abort();
	rng_state = 0xC0FFEE5EED0014ULL;
	for (unsigned run = 0; run < 200; run++) {
		uint64_t seed = rng_state;
		hm_vm_init(vm, &hm_models[rnd_below(hm_model_count)]);
		for (unsigned i = 0; i < 40; i++) {
			struct hm_event ev = {0};
			struct hm_verdict v;
			unsigned k = (unsigned)rnd_below(10);

			ev.call = k < 6 ? HM_SET_SLOT : (enum hm_call)(k - 5);
			ev.slot = (uint32_t)rnd_below(6) | (rnd_below(4) == 0 ? SMM_AS : 0);
			ev.gpa = anchors[rnd_below(4)] + (rnd_range(0, 8) - 4) * PAGE;
			ev.size = rnd_below(4) == 0 ? 0 : rnd_range(1, 6) * PAGE;
			ev.flags = (uint32_t)rnd_below(2);
			v = hm_judge(vm, &ev);
			refusals += v.answer != HM_ALLOW;
			hm_commit(vm, &ev, &v, v.answer == HM_ALLOW);
		}
		for (unsigned a = 0; a < vm->slot_count; a++) {
			const struct hm_user_slot *u = &vm->slots[a];
			for (int p = 0; p < HM_PRIVATE_COUNT; p++)
				CHECK(!vm->live[p] || !sr_overlaps(u->gpa, u->size, vm->priv[p].base,
								   vm->priv[p].size),
				      "seed 0x%llx: slot 0x%x over private %d", (unsigned long long)seed,
				      u->slot, p);
			for (unsigned b = a + 1; b < vm->slot_count; b++)
				CHECK((u->slot >> 16) != (vm->slots[b].slot >> 16) ||
					      !sr_overlaps(u->gpa, u->size, vm->slots[b].gpa, vm->slots[b].size),
				      "seed 0x%llx: slots 0x%x and 0x%x overlap", (unsigned long long)seed,
				      u->slot, vm->slots[b].slot);
		}
	}
	CHECK(refusals > 100, "the random calls hit the rules (%u refusals)", refusals);
	free(vm);
}

/* The one decision "refused or not": every refusal of a private range fails
 * the call in both contexts; a user slot over another user slot is the
 * model's to refuse only when no kernel stands behind it (a replay): live,
 * the real kernel refuses it itself. */
static void test_refused_context(void)
{
	static const struct {
		enum hm_answer answer;
		bool live, replay;
	} want[] = {
		{HM_ALLOW, false, false},
		{HM_REFUSE_PRIVATE, true, true},
		{HM_REFUSE_BIRTH, true, true},
		{HM_REFUSE_AGAIN, true, true},
		{HM_REFUSE_USER, false, true},
	};
	for (unsigned i = 0; i < ARRAY_SIZE(want); i++) {
		struct hm_verdict v = {.answer = want[i].answer};
		CHECK_EQ(hm_refused(&v, HM_LIVE_KERNEL), want[i].live, "answer %d live",
			 want[i].answer);
		CHECK_EQ(hm_refused(&v, HM_REPLAY_NO_KERNEL), want[i].replay,
			 "answer %d in a replay", want[i].answer);
	}
}

/* Hazards: a call every host accepts that leaves an in-kernel device page
 * under RAM. The IOAPIC is in the kernel with KVM_CREATE_IRQCHIP only (not
 * with the split irqchip); the LAPIC with either. A slot over the LAPIC page
 * is refused where the model has the APIC-access page, a hazard where not.
 * Each step: the call, the answer, the hazards (bits of enum hm_device). */
#define DEV(d) (1u << (d))
static const struct hazard_case {
	const char *name;
	const char *model;
	unsigned count;
	struct {
		struct hm_event ev;
		enum hm_answer want;
		unsigned hazards;
	} steps[5];
} hazard_cases[] = {
	{"none: irqchip, vCPU, scratch over both pages", "none", 3,
	 {{CALL(HM_CREATE_IRQCHIP), HM_ALLOW, 0}, {CALL(HM_CREATE_VCPU), HM_ALLOW, 0},
	  {SLOT(17, IOAPIC, 0x1400000), HM_ALLOW, DEV(HM_IOAPIC) | DEV(HM_LAPIC)}}},
	{"intel: the same slot is refused for the APIC page", "intel", 3,
	 {{CALL(HM_CREATE_IRQCHIP), HM_ALLOW, 0}, {CALL(HM_CREATE_VCPU), HM_ALLOW, 0},
	  {SLOT(17, IOAPIC, 0x1400000), HM_REFUSE_PRIVATE, 0}}},
	{"intel: below the APIC page, the IOAPIC alone", "intel", 3,
	 {{CALL(HM_CREATE_IRQCHIP), HM_ALLOW, 0}, {CALL(HM_CREATE_VCPU), HM_ALLOW, 0},
	  {SLOT(17, IOAPIC, 0x200000), HM_ALLOW, DEV(HM_IOAPIC)}}},
	{"intel: before the vCPU, the APIC page is not a hazard (the vCPU will fail)", "intel", 3,
	 {{CALL(HM_CREATE_IRQCHIP), HM_ALLOW, 0}, {SLOT(1, APIC, PAGE), HM_ALLOW, 0},
	  {CALL(HM_CREATE_VCPU), HM_REFUSE_BIRTH, 0}}},
	{"none: before the vCPU, the LAPIC page is one", "none", 2,
	 {{CALL(HM_CREATE_IRQCHIP), HM_ALLOW, 0}, {SLOT(1, APIC, PAGE), HM_ALLOW, DEV(HM_LAPIC)}}},
	{"none: the split irqchip keeps the IOAPIC in userspace", "none", 2,
	 {{CALL(HM_SPLIT_IRQCHIP), HM_ALLOW, 0},
	  {SLOT(17, IOAPIC, 0x1400000), HM_ALLOW, DEV(HM_LAPIC)}}},
	{"amd-avic: the split irqchip, the APIC page refused, the IOAPIC free", "amd-avic", 4,
	 {{CALL(HM_SPLIT_IRQCHIP), HM_ALLOW, 0}, {CALL(HM_CREATE_VCPU), HM_ALLOW, 0},
	  {SLOT(17, IOAPIC, 0x1400000), HM_REFUSE_PRIVATE, 0}, {SLOT(17, IOAPIC, PAGE), HM_ALLOW, 0}}},
	{"none: no irqchip, no device, no hazard", "none", 2,
	 {{CALL(HM_CREATE_VCPU), HM_ALLOW, 0}, {SLOT(17, IOAPIC, 0x1400000), HM_ALLOW, 0}}},
	{"intel-noug: the irqchip after the slot: the hazard is the irqchip's", "intel-noug", 3,
	 {{SLOT(3, IOAPIC - PAGE, 0x3000), HM_ALLOW, 0},
	  {CALL(HM_CREATE_IRQCHIP), HM_ALLOW, DEV(HM_IOAPIC)}, {CALL(HM_CREATE_VCPU), HM_ALLOW, 0}}},
	{"none: a slot over the LAPIC, then the split irqchip", "none", 2,
	 {{SLOT(3, APIC, PAGE), HM_ALLOW, 0}, {CALL(HM_SPLIT_IRQCHIP), HM_ALLOW, DEV(HM_LAPIC)}}},
	{"none: a move onto the IOAPIC is one, a flags change or a delete is not", "none", 5,
	 {{CALL(HM_CREATE_IRQCHIP), HM_ALLOW, 0}, {SLOT(4, 0x80000000, 0x10000), HM_ALLOW, 0},
	  {SLOT(4, IOAPIC, 0x10000), HM_ALLOW, DEV(HM_IOAPIC)},
	  {SLOTF(4, 1, IOAPIC, 0x10000), HM_ALLOW, 0}, {SLOT(4, 0, 0), HM_ALLOW, 0}}},
	{"none: the neighbours of both pages are free", "none", 5,
	 {{CALL(HM_CREATE_IRQCHIP), HM_ALLOW, 0}, {SLOT(1, IOAPIC - PAGE, PAGE), HM_ALLOW, 0},
	  {SLOT(2, IOAPIC + PAGE, APIC - IOAPIC - PAGE), HM_ALLOW, 0},
	  {SLOT(3, APIC + PAGE, PAGE), HM_ALLOW, 0}, {SLOT(5, APIC, PAGE), HM_ALLOW, DEV(HM_LAPIC)}}},
};

static void test_hazards(void)
{
	struct hm_vm *vm = malloc(sizeof(*vm));

	if (vm == NULL)
		abort();
	for (unsigned c = 0; c < ARRAY_SIZE(hazard_cases); c++) {
		const struct hazard_case *hc = &hazard_cases[c];
		hm_vm_init(vm, hm_model_find(hc->model));
		for (unsigned i = 0; i < hc->count; i++) {
			struct hm_verdict v = hm_judge(vm, &hc->steps[i].ev);
			CHECK_EQ(v.answer, hc->steps[i].want, "%s: step %u", hc->name, i + 1);
			CHECK_EQ(v.hazards, hc->steps[i].hazards, "%s: step %u: hazards", hc->name, i + 1);
			if (v.hazards & DEV(HM_IOAPIC))
				CHECK(sr_overlaps(v.hidden_by[HM_IOAPIC].gpa, v.hidden_by[HM_IOAPIC].size,
						  IOAPIC, PAGE), "%s: step %u: the slot that hides it", hc->name, i + 1);
			/* the kernel accepts a hazard: only --strict refuses it */
			CHECK(!hm_refused(&v, HM_LIVE_KERNEL) || v.answer != HM_ALLOW, "%s", hc->name);
			CHECK_EQ(hm_refused(&v, HM_LIVE_KERNEL | HM_STRICT),
				 v.answer == HM_REFUSE_PRIVATE || v.answer == HM_REFUSE_BIRTH || v.hazards != 0,
				 "%s: step %u: --strict", hc->name, i + 1);
			hm_commit(vm, &hc->steps[i].ev, &v, !hm_refused(&v, HM_LIVE_KERNEL));
		}
	}
	free(vm);
}

/* The hazard rule itself, and which models refuse a slot over each page
 * instead (from the table: whose private slot is there). */
static void test_device_rule(void)
{
	struct hm_vm *vm = malloc(sizeof(*vm));
	struct hm_event chip = CALL(HM_CREATE_IRQCHIP);
	struct hm_verdict v;

	if (vm == NULL)
		abort();
	CHECK(strcmp(hm_models_refusing_device(HM_LAPIC), "intel, intel-noug, amd-avic") == 0,
	      "the APIC-access page's models: %s", hm_models_refusing_device(HM_LAPIC));
	CHECK(strcmp(hm_models_refusing_device(HM_IOAPIC), "") == 0, "no model keeps the IOAPIC page");
	CHECK_EQ(hm_devices[HM_IOAPIC].gpa, IOAPIC, "the IOAPIC page");
	CHECK_EQ(hm_devices[HM_LAPIC].gpa, APIC, "the LAPIC page");
	for (unsigned m = 0; m < hm_model_count; m++) {
		bool apic_slot = (hm_models[m].privates & (1u << HM_APIC_ACCESS)) != 0;
		hm_vm_init(vm, &hm_models[m]);
		CHECK(!hm_device_hidden(vm, HM_IOAPIC) && !hm_device_hidden(vm, HM_LAPIC),
		      "%s: no irqchip, no device", hm_models[m].name);
		v = hm_judge(vm, &chip);
		hm_commit(vm, &chip, &v, true);
		CHECK(hm_device_hidden(vm, HM_IOAPIC), "%s: the IOAPIC under RAM is a hazard everywhere",
		      hm_models[m].name);
		CHECK_EQ(hm_device_hidden(vm, HM_LAPIC), !apic_slot, "%s: the LAPIC page",
			 hm_models[m].name);
	}
	free(vm);
}

/* --phys-bits: kvm_arch_prepare_memory_region() refuses (EINVAL) a created or
 * moved slot whose last gfn is above (1 << (MAXPHYADDR - 12)) - 1; EEXIST
 * comes first; a delete or a flags change is not checked. */
static void test_phys_bits(void)
{
	static const struct {
		struct hm_event ev;
		enum hm_answer want;
		const char *what;
	} cases[] = {
		{SLOT(1, 0xFFFFFE000ULL, 2 * PAGE), HM_ALLOW, "the last pages of 64 GiB fit 36 bits"},
		{SLOT(2, 0x1000000000ULL - PAGE, 2 * PAGE), HM_REFUSE_USER, "over slot 1: EEXIST first"},
		{SLOT(2, 0xFFFFFF000ULL - 0x100000000ULL, 0x100000000ULL + 2 * PAGE), HM_REFUSE_USER,
		 "over slot 1 and beyond: EEXIST first"},
		{SLOT(2, 0x1000000000ULL, PAGE), HM_REFUSE_WIDTH, "at 64 GiB"},
		{SLOT(1, 0x1000000000ULL - PAGE, 2 * PAGE), HM_REFUSE_WIDTH, "a move one page up"},
		{SLOTF(1, 1, 0xFFFFFE000ULL, 2 * PAGE), HM_ALLOW, "a flags change is not checked"},
		{SLOT(3, 0xFFFFFFFFFFFFF000ULL, 0x2000), HM_REFUSE_WIDTH, "a slot that wraps past 2^64"},
		{SLOT(1, 0, 0), HM_ALLOW, "a delete"},
	};
	struct hm_vm *vm = malloc(sizeof(*vm));
	struct hm_event chip = CALL(HM_CREATE_IRQCHIP), vcpu = CALL(HM_CREATE_VCPU),
			over_apic = SLOT(9, APIC, 0x1000000000ULL);

	if (vm == NULL)
		abort();
	hm_vm_init(vm, hm_model_find("intel"));
	CHECK_EQ(vm->phys_bits, SR_PHYS_BITS_MAX, "no width given: x86's limit");
	vm->phys_bits = 36;
	for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
		struct hm_verdict v = hm_judge(vm, &cases[i].ev);
		CHECK_EQ(v.answer, cases[i].want, "%s", cases[i].what);
		if (v.answer == HM_REFUSE_WIDTH) {
			CHECK_EQ(hm_errno(&v), EINVAL, "%s: EINVAL, not EEXIST", cases[i].what);
			CHECK_EQ(v.priv.base, 1ULL << 36, "%s: the range beyond", cases[i].what);
			CHECK(hm_refused(&v, HM_LIVE_KERNEL) && hm_refused(&v, HM_REPLAY_NO_KERNEL),
			      "%s: refused live and in a replay", cases[i].what);
		}
		hm_commit(vm, &cases[i].ev, &v, v.answer == HM_ALLOW);
	}
	hm_commit(vm, &chip, &(struct hm_verdict){.answer = HM_ALLOW}, true);
	hm_commit(vm, &vcpu, &(struct hm_verdict){.answer = HM_ALLOW}, true);
	CHECK_EQ(hm_judge(vm, &over_apic).answer, HM_REFUSE_PRIVATE, "EEXIST before the width's EINVAL");
	CHECK_EQ(hm_errno(&(struct hm_verdict){.answer = HM_REFUSE_PRIVATE}), EEXIST, "EEXIST");
	vm->phys_bits = 52;
	CHECK_EQ(hm_judge(vm, &cases[3].ev).answer, HM_ALLOW, "64 GiB fits 52 bits");
	free(vm);
}

/* --strict: hazards fail in both contexts; without it, never. */
static void test_refused_strict(void)
{
	struct hm_verdict hazard = {.answer = HM_ALLOW, .hazards = 1u << HM_IOAPIC};
	struct hm_verdict user = {.answer = HM_REFUSE_USER};

	CHECK(!hm_refused(&hazard, HM_LIVE_KERNEL), "a hazard passes live");
	CHECK(!hm_refused(&hazard, HM_REPLAY_NO_KERNEL), "and in a replay");
	CHECK(hm_refused(&hazard, HM_LIVE_KERNEL | HM_STRICT), "--strict refuses it live");
	CHECK(hm_refused(&hazard, HM_REPLAY_NO_KERNEL | HM_STRICT), "and in a replay");
	CHECK_EQ(hm_errno(&hazard), EEXIST, "with EEXIST, as a private slot");
	CHECK(!hm_refused(&user, HM_LIVE_KERNEL | HM_STRICT), "--strict leaves user overlaps to the kernel");
	CHECK(hm_refused(&user, HM_REPLAY_NO_KERNEL | HM_STRICT), "a replay still refuses them");
}

const struct unit_test hostmodel_tests[] = {
	{"hostmodel_table", test_model_table},
	{"hostmodel_default_ranges", test_default_ranges},
	{"hostmodel_reserved_range_name", test_reserved_range_name},
	{"hostmodel_scenarios", test_scenarios},
	{"hostmodel_no_check_on_flags_and_delete", test_no_check_on_flags_and_delete},
	{"hostmodel_property", test_model_property},
	{"hostmodel_refused_context", test_refused_context},
	{"hostmodel_hazards", test_hazards},
	{"hostmodel_device_rule", test_device_rule},
	{"hostmodel_phys_bits", test_phys_bits},
	{"hostmodel_refused_strict", test_refused_strict},
};
const unsigned hostmodel_test_count = sizeof(hostmodel_tests) / sizeof(hostmodel_tests[0]);
