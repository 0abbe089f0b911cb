/* Scratch placement: where scratch goes in KVM's memory slots, per --layout.
 * Which guest-physical ranges it leaves alone (the irqchip's pages, the
 * placeholders standing in for private slots), --layout check's refusal
 * before any ioctl, single's diagnosis of KVM's EEXIST, split's slots around
 * what probing finds, --vcpu-order after-scratch, and --probe. All of its
 * state is in struct sr_placement, which the caller owns. */
#include "placement.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "exit_codes.h"
#include "hostmodel.h"
#include "report.h"

#define FIRST_PLACEHOLDER_SLOT_ID (SR_LOW_SLOT_ID + 1)
#define FIRST_SCRATCH_SLOT_ID (FIRST_PLACEHOLDER_SLOT_ID + SR_MAX_HOLES)
#define MAX_SPLIT_ATTEMPTS 8

static const char PLACEHOLDER[] = "--reserve placeholder";

void *sr_map_anonymous(uint64_t size, const char *what)
{
	/* NORESERVE: scratch costs address space, not memory, until touched. */
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	if (p == MAP_FAILED)
		sr_die(SR_EXIT_HOST, "cannot map %llu bytes of host memory for %s: %s",
		       (unsigned long long)size, what, strerror(errno));
	return p;
}

#define HUGE_PAGE_SIZE (2ULL << 20)

/* Scratch host memory, one mapping. KVM maps a guest 2 MiB page with a host
 * huge page only when the two addresses agree modulo 2 MiB, so the mapping
 * starts congruent with the scratch base; --thp picks the madvise. */
static uint8_t *map_scratch_host(const struct sr_options *opt)
{
	uint64_t size = opt->scratch_size;
	uint8_t *raw = sr_map_anonymous(size + HUGE_PAGE_SIZE, "scratch");
	uint64_t lead = (sr_scratch_base(opt->top, size) - (uintptr_t)raw) & (HUGE_PAGE_SIZE - 1);

	if (lead)
		munmap(raw, lead);
	munmap(raw + lead + size, HUGE_PAGE_SIZE - lead);
	/* Best effort: EINVAL where the kernel has no THP. */
	(void)madvise(raw + lead, size, opt->thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	return raw + lead;
}

/* The architectural LAPIC and IOAPIC pages (`devices`). What answers there
 * under scratch RAM depends on the host (a KVM without APIC virtualization
 * may take a guest write to 0xfee00000 as MMIO even with --irqchip off), so
 * the guest never tests them. With the irqchip on they are `kept_out` of
 * scratch, so the guest reaches its devices. `declared` adds the placeholders:
 * everything known before any ioctl, for --layout check. Split does not use
 * the placeholders: like the private slots they stand in for, it finds them
 * by probing. */
static void reserved_ranges(const struct sr_options *opt, struct sr_ranges *devices,
			    struct sr_ranges *kept_out, struct sr_ranges *declared)
{
	*devices = (struct sr_ranges){0};
	for (unsigned d = 0; d < HM_DEVICE_COUNT; d++)
		sr_ranges_add(devices, hm_devices[d].gpa, hm_devices[d].size, hm_devices[d].what);
	*kept_out = opt->irqchip ? *devices : (struct sr_ranges){0};
	*declared = opt->reserve;
	for (unsigned i = 0; i < kept_out->count; i++)
		sr_ranges_add(declared, kept_out->r[i].base, kept_out->r[i].size, kept_out->r[i].what);
}

/* --layout check: refuse before any ioctl. */
static void refuse_if_covered(const struct sr_options *opt, const struct sr_ranges *declared)
{
	uint64_t base = sr_scratch_base(opt->top, opt->scratch_size);
	const struct sr_range *hit = sr_ranges_first_overlap(declared, base, opt->scratch_size);

	if (hit == NULL)
		return;
	sr_die(SR_EXIT_CONFLICT,
	       "--layout check: scratch [0x%llx-0x%llx] (size 0x%llx) would cover [0x%llx-0x%llx], "
	       "the %s; the largest scratch that fits below 0x%llx is 0x%llx (or use --layout split)",
	       (unsigned long long)base, (unsigned long long)opt->top,
	       (unsigned long long)opt->scratch_size, (unsigned long long)hit->base,
	       (unsigned long long)sr_range_end(hit), hit->what, (unsigned long long)opt->top,
	       (unsigned long long)sr_largest_fitting_size(opt->top, declared));
}

void sr_placement_init(struct sr_placement *pl, const struct sr_options *opt)
{
	*pl = (struct sr_placement){.opt = opt};
	reserved_ranges(opt, &pl->devices, &pl->kept_out, &pl->declared);
	if (!opt->probe && opt->layout == SR_LAYOUT_CHECK)
		refuse_if_covered(opt, &pl->declared);
}


/* Placeholders stand in for hypervisor-private slots while scratch is mapped. */
void sr_placement_reserve(struct sr_placement *pl, struct sr_vm *vm)
{
	const struct sr_options *opt = pl->opt;

	for (unsigned i = 0; i < opt->reserve.count; i++) {
		const struct sr_range *r = &opt->reserve.r[i];
		uint32_t id = FIRST_PLACEHOLDER_SLOT_ID + i;
		void *host = sr_map_anonymous(r->size, PLACEHOLDER);
		int err = sr_set_slot(vm, id, r->base, r->size, host);

		if (err == EEXIST) {
			munmap(host, r->size);
			sr_info("placeholder [0x%llx-0x%llx] not registered: KVM already reserves it (%s)",
				(unsigned long long)r->base, (unsigned long long)sr_range_end(r),
				hm_reserved_range_name(r->base, r->size));
			continue;
		}
		if (err)
			sr_set_slot_or_die(vm, id, r->base, r->size, host, PLACEHOLDER);
		pl->placeholder_live[i] = true;
		sr_info("slot %2u [0x%011llx-0x%011llx] size 0x%llx: %s (removed once scratch is mapped)",
			id, (unsigned long long)r->base, (unsigned long long)sr_range_end(r),
			(unsigned long long)r->size, PLACEHOLDER);
	}
}

/* Removed once scratch is in place, so that a placeholder over the LAPIC page
 * does not hide the in-kernel LAPIC: the guest then reaches its APIC there,
 * as it does through the real APIC-access page. */
static void remove_placeholders(const struct sr_placement *pl, struct sr_vm *vm)
{
	for (unsigned i = 0; i < pl->opt->reserve.count; i++)
		if (pl->placeholder_live[i])
			sr_delete_slot(vm, FIRST_PLACEHOLDER_SLOT_ID + i);
}

static bool is_live_placeholder(const struct sr_placement *pl, const struct sr_range *r)
{
	const struct sr_options *opt = pl->opt;

	for (unsigned i = 0; i < opt->reserve.count; i++)
		if (pl->placeholder_live[i] &&
		    sr_overlaps(opt->reserve.r[i].base, opt->reserve.r[i].size, r->base, r->size))
			return true;
	return false;
}

/* Label ranges that KVM refused, naming a placeholder when it was one. */
static void label_found(struct sr_ranges *found, const struct sr_placement *pl)
{
	for (unsigned i = 0; i < found->count; i++) {
		struct sr_range *r = &found->r[i];
		r->what = is_live_placeholder(pl, r) ? PLACEHOLDER : hm_reserved_range_name(r->base, r->size);
	}
}

static void print_found(const struct sr_ranges *found, const struct sr_options *opt, uint64_t lo)
{
	printf("probe: [0x%llx-0x%llx] irqchip %s: %u reserved range%s\n", (unsigned long long)lo,
	       (unsigned long long)opt->top, opt->irqchip ? "on" : "off", found->count,
	       found->count == 1 ? "" : "s");
	for (unsigned i = 0; i < found->count; i++) {
		const struct sr_range *r = &found->r[i];
		printf("reserved 0x%llx-0x%llx size 0x%llx %s\n", (unsigned long long)r->base,
		       (unsigned long long)sr_range_end(r), (unsigned long long)r->size, r->what);
	}
}

/* --probe: every range KVM refuses between the low region and the top. */
_Noreturn void sr_placement_probe(const struct sr_placement *pl, struct sr_vm *vm)
{
	const struct sr_options *opt = pl->opt;
	uint64_t size = opt->top + 1 - SR_LOW_END_GPA;
	void *host = sr_map_anonymous(size, "the probe");
	struct sr_ranges found = {0};
	unsigned ioctls = sr_probe_reserved(vm, SR_LOW_END_GPA, size, host, &found);

	label_found(&found, pl);
	sr_info("probe took %u KVM_SET_USER_MEMORY_REGION calls", ioctls);
	print_found(&found, opt, SR_LOW_END_GPA);
	exit(SR_EXIT_OK);
}

static void conflict(const struct sr_options *opt, const struct sr_slot *slot,
		     const struct sr_ranges *found)
{
	const struct sr_range *hit = sr_ranges_first_overlap(found, slot->gpa, slot->size);
	const struct hm_range *apic_page = &hm_privates[HM_APIC_ACCESS];
	bool apic = hit && sr_overlaps(hit->base, hit->size, apic_page->gpa, apic_page->size);

	if (hit == NULL)
		sr_die(SR_EXIT_HOST,
		       "KVM_SET_USER_MEMORY_REGION refused scratch slot %u [0x%llx-0x%llx] with EEXIST, "
		       "but probing found no reserved range there",
		       slot->id, (unsigned long long)slot->gpa,
		       (unsigned long long)(slot->gpa + slot->size - 1));
	sr_say("KVM_SET_USER_MEMORY_REGION refused scratch slot %u [0x%llx-0x%llx] (EEXIST): it overlaps "
	       "[0x%llx-0x%llx], %s%s",
	       slot->id, (unsigned long long)slot->gpa, (unsigned long long)(slot->gpa + slot->size - 1),
	       (unsigned long long)hit->base, (unsigned long long)sr_range_end(hit), hit->what,
	       apic && hit->what == PLACEHOLDER ? " standing in for the KVM APIC-access page" : "");
	if (apic)
		sr_say("KVM keeps that page as a private memslot when it virtualizes APIC accesses "
		       "(Intel flexpriority/APICv, AMD AVIC) with the in-kernel irqchip");
	sr_die(SR_EXIT_CONFLICT,
	       "ways out: --layout split (scratch slots around the reserved range), or --scratch-size "
	       "0x%llx or less with --layout %s",
	       (unsigned long long)sr_largest_fitting_size(opt->top, found),
	       opt->layout == SR_LAYOUT_CHECK ? "check" : "single");
}

/* A scratch slot KVM refused with another errno than EEXIST: exit 3 naming
 * it; EINVAL is kvm_arch_prepare_memory_region()'s answer to a slot above the
 * host's MAXPHYADDR (arch/x86/kvm/x86.c, kvm_mmu_max_gfn()). */
static _Noreturn void slot_failed(const struct sr_slot *slot, int err, unsigned phys_bits)
{
	uint64_t last = slot->gpa + slot->size - 1;

	if (err == EINVAL)
		sr_die(SR_EXIT_HOST,
		       "KVM_SET_USER_MEMORY_REGION for scratch slot %u [0x%llx-0x%llx]: %s: KVM refuses so "
		       "a slot above the host's MAXPHYADDR, and this one needs %u bits (the CPUID KVM "
		       "offers says %u); use a lower --gpa-top (--gpa-top 32 fits every host)",
		       slot->id, (unsigned long long)slot->gpa, (unsigned long long)last, strerror(err),
		       sr_phys_bits_needed(last), phys_bits);
	sr_die(SR_EXIT_HOST, "KVM_SET_USER_MEMORY_REGION for scratch slot %u [0x%llx-0x%llx]: %s",
	       slot->id, (unsigned long long)slot->gpa, (unsigned long long)last, strerror(err));
}

static void delete_scratch_slots(struct sr_vm *vm, const struct sr_scratch *s, unsigned count)
{
	for (unsigned i = 0; i < count; i++)
		sr_delete_slot(vm, s->slots[i].id);
}

/* Register scratch per --layout. Under split, a slot KVM refuses is probed
 * and the layout redone around what the probe found. */
static void map_scratch(struct sr_placement *pl, struct sr_vm *vm)
{
	const struct sr_options *opt = pl->opt;
	struct sr_scratch *s = &pl->scratch;
	uint8_t *host = pl->host;
	bool split = opt->layout == SR_LAYOUT_SPLIT;
	struct sr_ranges avoid = pl->kept_out;

	for (int attempt = 0; attempt < MAX_SPLIT_ATTEMPTS; attempt++) {
		struct sr_ranges found = {0};
		unsigned i;
		int err = 0;

		if (!sr_scratch_layout(s, opt->top, opt->scratch_size, split, &avoid, &pl->devices,
				       FIRST_SCRATCH_SLOT_ID))
			sr_die(SR_EXIT_CONFLICT, "scratch would need more than %d holes", SR_MAX_HOLES);
		for (i = 0; i < s->slot_count; i++) {
			const struct sr_slot *slot = &s->slots[i];
			err = sr_set_slot(vm, slot->id, slot->gpa, slot->size, host + slot->host_offset);
			if (err)
				break;
		}
		if (err == 0)
			return;
		if (err != EEXIST)
			slot_failed(&s->slots[i], err, vm->phys_bits);
		sr_probe_reserved(vm, s->slots[i].gpa, s->slots[i].size, host + s->slots[i].host_offset,
				  &found);
		label_found(&found, pl);
		if (!split || found.count == 0)
			conflict(opt, &s->slots[i], &found);
		delete_scratch_slots(vm, s, i);
		for (unsigned f = 0; f < found.count; f++) {
			sr_info("probe: KVM refuses [0x%llx-0x%llx], %s: leaving it out of scratch",
				(unsigned long long)found.r[f].base,
				(unsigned long long)sr_range_end(&found.r[f]), found.r[f].what);
			if (!sr_ranges_add(&avoid, found.r[f].base, found.r[f].size, found.r[f].what))
				sr_die(SR_EXIT_CONFLICT, "too many reserved ranges inside scratch");
		}
	}
	sr_die(SR_EXIT_HOST, "KVM kept refusing scratch slots after %d probes", MAX_SPLIT_ATTEMPTS);
}

/* --vcpu-order after-scratch: KVM creates its private slots at
 * KVM_CREATE_VCPU (vmx_vcpu_create -> kvm_alloc_apic_access_page, and the
 * EPT identity map), so there, not at the memslot ioctl, a scratch slot in the
 * way makes KVM refuse (EEXIST). Say which slot and which range: delete
 * scratch, create the vCPU, probe. Split then maps around what it found. */
static void create_vcpu_after_scratch(struct sr_placement *pl, struct sr_vm *vm)
{
	const struct sr_options *opt = pl->opt;
	struct sr_scratch *s = &pl->scratch;
	struct sr_ranges found = {0};
	const struct sr_range *hit = NULL;
	const struct sr_slot *slot = NULL;

	if (sr_vcpu_create(vm) == 0)
		return;
	delete_scratch_slots(vm, s, s->slot_count);
	if (sr_vcpu_create(vm) != 0)
		sr_die(SR_EXIT_HOST, "KVM_CREATE_VCPU: EEXIST even without the scratch slots");
	sr_probe_reserved(vm, s->base, s->size, pl->host, &found);
	label_found(&found, pl);
	for (unsigned i = 0; i < s->slot_count && hit == NULL; i++) {
		slot = &s->slots[i];
		hit = sr_ranges_first_overlap(&found, slot->gpa, slot->size);
	}
	if (hit == NULL)
		sr_die(SR_EXIT_HOST, "KVM_CREATE_VCPU refused (EEXIST) with scratch mapped, but probing "
		       "found no reserved range inside scratch");
	if (opt->layout == SR_LAYOUT_SPLIT) {
		sr_info("KVM_CREATE_VCPU refused (EEXIST): scratch slot %u covered [0x%llx-0x%llx], %s, "
			"which KVM creates with the vCPU; mapping scratch around it", slot->id,
			(unsigned long long)hit->base, (unsigned long long)sr_range_end(hit), hit->what);
		map_scratch(pl, vm);
		return;
	}
	sr_say("KVM_CREATE_VCPU refused (EEXIST): scratch slot %u [0x%llx-0x%llx] covers "
	       "[0x%llx-0x%llx], %s, which KVM creates at vCPU creation",
	       slot->id, (unsigned long long)slot->gpa, (unsigned long long)(slot->gpa + slot->size - 1),
	       (unsigned long long)hit->base, (unsigned long long)sr_range_end(hit), hit->what);
	sr_say("KVM_SET_USER_MEMORY_REGION accepted that slot because the vCPU did not exist yet; "
	       "KVM_CREATE_IRQCHIP alone creates no private slot");
	sr_die(SR_EXIT_CONFLICT,
	       "ways out: --layout split (scratch slots around the reserved range), or --scratch-size "
	       "0x%llx or less with --layout %s",
	       (unsigned long long)sr_largest_fitting_size(opt->top, &found),
	       opt->layout == SR_LAYOUT_CHECK ? "check" : "single");
}

static void print_scratch_map(const struct sr_scratch *s)
{
	for (unsigned i = 0, h = 0; i < s->slot_count || h < s->holes.count;) {
		bool hole_first = h < s->holes.count &&
				  (i == s->slot_count || s->holes.r[h].base < s->slots[i].gpa);
		if (hole_first) {
			const struct sr_range *r = &s->holes.r[h++];
			sr_info("hole    [0x%011llx-0x%011llx] size 0x%llx: %s", (unsigned long long)r->base,
				(unsigned long long)sr_range_end(r), (unsigned long long)r->size, r->what);
		} else {
			const struct sr_slot *sl = &s->slots[i++];
			sr_info("slot %2u [0x%011llx-0x%011llx] size 0x%llx host +0x%llx: scratch", sl->id,
				(unsigned long long)sl->gpa, (unsigned long long)(sl->gpa + sl->size - 1),
				(unsigned long long)sl->size, (unsigned long long)sl->host_offset);
		}
	}
}

void sr_placement_map(struct sr_placement *pl, struct sr_vm *vm)
{
	pl->host = map_scratch_host(pl->opt);
	map_scratch(pl, vm);
	remove_placeholders(pl, vm);
	if (pl->opt->vcpu_after_scratch)
		create_vcpu_after_scratch(pl, vm);
	print_scratch_map(&pl->scratch);
}

