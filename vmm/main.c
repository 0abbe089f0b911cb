/* scratchrig VMM: one function per step of a run, in the order of the
 * affected VMM (create VM, irqchip, vCPU, low region, then scratch). */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "abi.h"
#include "exit_codes.h"
#include "hostmodel.h"
#include "irq.h"
#include "kvm.h"
#include "kvm_stats.h"
#include "layout.h"
#include "loader.h"
#include "options.h"
#include "report.h"
#include "run.h"

#define LOW_SLOT_ID 0
#define FIRST_PLACEHOLDER_SLOT_ID 1
#define FIRST_SCRATCH_SLOT_ID (FIRST_PLACEHOLDER_SLOT_ID + SR_MAX_HOLES)
#define MAX_SPLIT_ATTEMPTS 8
#define INTERRUPT_WAIT_MS 3000 /* per kind; the guest's own bound, well inside --timeout */

static const char PLACEHOLDER[] = "--reserve placeholder";

static void *map_anonymous(uint64_t size, const char *what)
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
	uint8_t *raw = map_anonymous(size + HUGE_PAGE_SIZE, "scratch");
	uint64_t lead = (sr_scratch_base(opt->top, size) - (uintptr_t)raw) & (HUGE_PAGE_SIZE - 1);

	if (lead)
		munmap(raw, lead);
	munmap(raw + lead + size, HUGE_PAGE_SIZE - lead);
	/* Best effort: EINVAL where the kernel has no THP. */
	(void)madvise(raw + lead, size, opt->thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	return raw + lead;
}

/* AnonHugePages (KiB) of the mapping holding `addr`, or -1 if unknown. */
/* Which way the interrupts came: KVM counts in irq_injections the interrupts it injects at
 * VM entry; with APICv they are posted and delivered by the CPU (virtual-interrupt
 * delivery), and the count stays 0. */
static void report_irq_injections(const struct sr_vm *vm)
{
	uint64_t injected = 0;
	int err = sr_kvm_stat(vm->vcpu_fd, "irq_injections", &injected);
	if (err)
		sr_info("host: KVM vCPU stat irq_injections unavailable (%s)", strerror(err));
	else
		sr_info("host: KVM vCPU stat irq_injections=%llu (%s)", (unsigned long long)injected,
			injected ? "KVM injected interrupts at VM entry"
				 : "none injected: posted, virtual-interrupt delivery");
}

static long huge_page_kib(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	uintptr_t a = (uintptr_t)addr;
	bool inside = false;
	char line[512];
	long kib = -1;

	if (f == NULL)
		return -1;
	while (kib < 0 && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
			inside = lo <= a && a < hi;
		else if (inside)
			(void)sscanf(line, "AnonHugePages: %ld kB", &kib); /* kib stays -1 on other lines */
	}
	fclose(f);
	return kib;
}

/* The architectural LAPIC and IOAPIC pages (`devices`). What answers there
 * under scratch RAM depends on the host (measured: a guest write to 0xfee00000
 * exits as MMIO on a KVM without APIC virtualization even with --irqchip off),
 * so the guest never tests them. With the irqchip on they are `kept_out` of
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

static const char *default_guest_path(void)
{
	static char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - sizeof("guest.elf") - 1);
	char *slash;

	if (n <= 0)
		return "guest.elf";
	path[n] = '\0';
	slash = strrchr(path, '/');
	strcpy(slash ? slash + 1 : path, "guest.elf");
	return path;
}

/* Which placeholders are registered: where KVM already keeps a private slot
 * (e.g. the real APIC-access page), the placeholder is refused with EEXIST
 * and not needed. */
static bool placeholder_live[SR_MAX_HOLES];

/* Placeholders stand in for hypervisor-private slots while scratch is mapped. */
static void register_placeholders(struct sr_vm *vm, const struct sr_options *opt)
{
	for (unsigned i = 0; i < opt->reserve.count; i++) {
		const struct sr_range *r = &opt->reserve.r[i];
		uint32_t id = FIRST_PLACEHOLDER_SLOT_ID + i;
		void *host = map_anonymous(r->size, PLACEHOLDER);
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
		placeholder_live[i] = true;
		sr_info("slot %2u [0x%011llx-0x%011llx] size 0x%llx: %s (removed once scratch is mapped)",
			id, (unsigned long long)r->base, (unsigned long long)sr_range_end(r),
			(unsigned long long)r->size, PLACEHOLDER);
	}
}

/* Removed once scratch is in place, so that a placeholder over the LAPIC page
 * does not hide the in-kernel LAPIC: the guest then reaches its APIC there,
 * as it does through the real APIC-access page. */
static void remove_placeholders(struct sr_vm *vm, const struct sr_options *opt)
{
	for (unsigned i = 0; i < opt->reserve.count; i++)
		if (placeholder_live[i])
			sr_delete_slot(vm, FIRST_PLACEHOLDER_SLOT_ID + i);
}

static bool is_live_placeholder(const struct sr_options *opt, const struct sr_range *r)
{
	for (unsigned i = 0; i < opt->reserve.count; i++)
		if (placeholder_live[i] &&
		    sr_overlaps(opt->reserve.r[i].base, opt->reserve.r[i].size, r->base, r->size))
			return true;
	return false;
}

/* Label ranges that KVM refused, naming a placeholder when it was one. */
static void label_found(struct sr_ranges *found, const struct sr_options *opt)
{
	for (unsigned i = 0; i < found->count; i++) {
		struct sr_range *r = &found->r[i];
		r->what = is_live_placeholder(opt, r) ? PLACEHOLDER : hm_reserved_range_name(r->base, r->size);
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
static void probe_and_exit(struct sr_vm *vm, const struct sr_options *opt)
{
	uint64_t size = opt->top + 1 - SR_LOW_END_GPA;
	void *host = map_anonymous(size, "the probe");
	struct sr_ranges found = {0};
	unsigned ioctls = sr_probe_reserved(vm, SR_LOW_END_GPA, size, host, &found);

	label_found(&found, opt);
	sr_info("probe took %u KVM_SET_USER_MEMORY_REGION calls", ioctls);
	print_found(&found, opt, SR_LOW_END_GPA);
	exit(SR_EXIT_OK);
}

static void conflict(const struct sr_options *opt, const struct sr_slot *slot,
		     const struct sr_ranges *found)
{
	const struct sr_range *hit = sr_ranges_first_overlap(found, slot->gpa, slot->size);
	bool apic = hit && sr_overlaps(hit->base, hit->size, SR_LAPIC_GPA, SR_PAGE_SIZE);

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

static void delete_scratch_slots(struct sr_vm *vm, const struct sr_scratch *s, unsigned count)
{
	for (unsigned i = 0; i < count; i++)
		sr_delete_slot(vm, s->slots[i].id);
}

/* Register scratch per --layout. Under split, a slot KVM refuses is probed
 * and the layout redone around what the probe found. */
static void map_scratch(struct sr_vm *vm, const struct sr_options *opt, const struct sr_ranges *kept_out,
			const struct sr_ranges *devices, uint8_t *host, struct sr_scratch *s)
{
	bool split = opt->layout == SR_LAYOUT_SPLIT;
	struct sr_ranges avoid = *kept_out;

	for (int attempt = 0; attempt < MAX_SPLIT_ATTEMPTS; attempt++) {
		struct sr_ranges found = {0};
		unsigned i;
		int err = 0;

		if (!sr_scratch_layout(s, opt->top, opt->scratch_size, split, &avoid, devices,
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
			sr_die(SR_EXIT_HOST, "KVM_SET_USER_MEMORY_REGION for scratch slot %u [0x%llx-0x%llx]: %s",
			       s->slots[i].id, (unsigned long long)s->slots[i].gpa,
			       (unsigned long long)(s->slots[i].gpa + s->slots[i].size - 1), strerror(err));
		sr_probe_reserved(vm, s->slots[i].gpa, s->slots[i].size, host + s->slots[i].host_offset,
				  &found);
		label_found(&found, opt);
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
static void create_vcpu_after_scratch(struct sr_vm *vm, const struct sr_options *opt,
				      const struct sr_ranges *kept_out, const struct sr_ranges *devices,
				      uint8_t *host, struct sr_scratch *s)
{
	struct sr_ranges found = {0};
	const struct sr_range *hit = NULL;
	const struct sr_slot *slot = NULL;

	if (sr_vcpu_create(vm) == 0)
		return;
	delete_scratch_slots(vm, s, s->slot_count);
	if (sr_vcpu_create(vm) != 0)
		sr_die(SR_EXIT_HOST, "KVM_CREATE_VCPU: EEXIST even without the scratch slots");
	sr_probe_reserved(vm, s->base, s->size, host, &found);
	label_found(&found, opt);
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
		map_scratch(vm, opt, kept_out, devices, host, s);
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

static uint32_t boot_flags(const struct sr_options *opt, const struct sr_scratch *s, bool *shadowed)
{
	uint32_t flags = opt->touch_all ? SR_BOOT_TOUCH_ALL : 0;

	/* Scratch RAM over the LAPIC page hides the APIC from the guest. */
	*shadowed = opt->irqchip && sr_overlaps(s->base, s->size, SR_LAPIC_GPA, SR_PAGE_SIZE) &&
		    sr_ranges_first_overlap(&s->holes, SR_LAPIC_GPA, SR_PAGE_SIZE) == NULL;
	if (opt->apic_check)
		flags |= SR_BOOT_APIC_CHECK;
	if (*shadowed) {
		flags |= SR_BOOT_APIC_SHADOWED;
		sr_info("warning: scratch RAM covers the guest's LAPIC page 0x%llx, so the guest cannot "
			"reach its APIC (use --layout split)",
			SR_LAPIC_GPA);
	}
	if (opt->irqchip && sr_overlaps(s->base, s->size, SR_IOAPIC_GPA, SR_PAGE_SIZE) &&
	    sr_ranges_first_overlap(&s->holes, SR_IOAPIC_GPA, SR_PAGE_SIZE) == NULL)
		sr_info("warning: scratch RAM covers the IOAPIC page 0x%llx, so the guest cannot reach "
			"its IOAPIC (use --layout split)",
			SR_IOAPIC_GPA);
	return flags;
}

static void write_boot_info(uint8_t *low, uint32_t flags, const struct sr_scratch *s,
			    const struct sr_options *opt, const struct sr_vm *vm)
{
	struct sr_boot_info *bi = (struct sr_boot_info *)(low + SR_BOOT_INFO_GPA);

	*bi = (struct sr_boot_info){
		.magic = SR_BOOT_MAGIC,
		.version = SR_BOOT_VERSION,
		.flags = flags,
		.scratch_base = s->base,
		.scratch_size = s->size,
		.hole_count = s->untouched.count,
		.interrupts = opt->interrupts,
		.tsc_khz = (uint64_t)vm->tsc_khz,
		.wait_ms = INTERRUPT_WAIT_MS,
	};
	for (unsigned i = 0; i < s->untouched.count; i++)
		bi->holes[i] = (struct sr_hole){s->untouched.r[i].base, s->untouched.r[i].size};
}

/* The host's own look at what the guest wrote: every scratch page must hold
 * its pattern at the right offset of the one contiguous mapping. */
static uint64_t host_mismatches(const struct sr_scratch *s, const uint8_t *host, uint64_t *first_bad)
{
	uint64_t bad = 0, gpa = s->base;

	for (unsigned h = 0; h <= s->untouched.count; h++) {
		uint64_t end = h < s->untouched.count ? s->untouched.r[h].base : s->top + 1;
		for (; gpa < end; gpa += SR_PAGE_SIZE) {
			uint64_t word;
			memcpy(&word, host + (gpa - s->base), sizeof(word));
			if (word != sr_page_pattern(gpa) && bad++ == 0)
				*first_bad = gpa;
		}
		if (h < s->untouched.count)
			gpa = sr_range_end(&s->untouched.r[h]) + 1;
	}
	return bad;
}

static const char *const exception_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#CO", "#TS", "#NP", "#SS",
	"#GP", "#PF", "reserved", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
};

/* What is wrong with the guest's APIC report, or NULL. */
static const char *apic_problem(const struct sr_options *opt, const struct sr_outcome *out,
				const struct sr_scratch *s, char *buf, size_t size)
{
	bool ioapic_in_scratch = sr_overlaps(s->base, s->size, SR_IOAPIC_GPA, SR_PAGE_SIZE) &&
				 !sr_ranges_first_overlap(&s->holes, SR_IOAPIC_GPA, SR_PAGE_SIZE);

	if (!out->have_lapic)
		return "the guest reported no LAPIC version";
	if (!sr_lapic_version_plausible(out->lapic_version)) {
		snprintf(buf, size,
			 "the guest read its LAPIC version at 0x%llx as 0x%08x, not a LAPIC: the page is "
			 "not the in-kernel APIC here (use --apic-check off where the APIC is not emulated)",
			 SR_LAPIC_GPA + 0x30, out->lapic_version);
		return buf;
	}
	if (!out->have_ioapic)
		return "the guest reported no IOAPIC version";
	if (!sr_ioapic_version_plausible(out->ioapic_version)) {
		snprintf(buf, size,
			 "the guest read its IOAPIC version at 0x%llx as 0x%08x, not an IOAPIC%s",
			 SR_IOAPIC_GPA, out->ioapic_version,
			 ioapic_in_scratch ? ": scratch RAM covers and hides it (KVM reports no error for "
					     "a slot over an in-kernel device); use --layout split"
					   : "");
		return buf;
	}
	if (opt->interrupts == 0)
		return NULL;
	if (!out->have_interrupts)
		return "the guest reported no interrupt counts";
	if (out->one_shot < 1 || out->periodic < opt->interrupts || out->external < opt->interrupts) {
		snprintf(buf, size,
			 "the guest took %llu of 1 one-shot and %llu of %u periodic LAPIC timer interrupts "
			 "and %llu of %u external interrupts on GSI %d before its wait ran out",
			 (unsigned long long)out->one_shot, (unsigned long long)out->periodic,
			 opt->interrupts, (unsigned long long)out->external, opt->interrupts, SR_EXT_GSI);
		return buf;
	}
	return NULL;
}

/* The verdict: what happened, and what the guest said, to one exit code. */
static int judge(const struct sr_options *opt, const struct sr_outcome *out, const struct sr_scratch *s,
		 const uint8_t *host, bool apic_shadowed)
{
	uint64_t expected = sr_scratch_tested_pages(s), first_bad = 0, bad;
	bool check_apic = opt->apic_check && !apic_shadowed;
	const char *problem;
	char buf[512];

	switch (out->end) {
	case SR_RUN_TIMEOUT:
		sr_die(SR_EXIT_TIMEOUT, "the guest was still running after %u s (--timeout); stopped it",
		       opt->timeout_s);
	case SR_RUN_SIGNAL:
		sr_die(SR_EXIT_INTERRUPTED, "interrupted by %s; stopped the guest", strsignal(out->signal));
	case SR_RUN_CRASH:
		sr_die(SR_EXIT_CRASH, "%s", out->why);
	case SR_RUN_EXITED:
		break;
	}
	if (out->have_exception)
		sr_die(SR_EXIT_CRASH, "the guest took exception %s (vector %llu) at RIP 0x%llx, error code 0x%llx",
		       out->exception_vector < 32 && exception_names[out->exception_vector]
			       ? exception_names[out->exception_vector]
			       : "?",
		       (unsigned long long)out->exception_vector, (unsigned long long)out->exception_rip,
		       (unsigned long long)out->exception_error);
	if (out->status != SR_STATUS_OK) {
		if (out->have_pages && out->mismatches)
			sr_die(SR_EXIT_GUEST_FAIL,
			       "the guest reported %llu of %llu scratch pages read back wrong, first at 0x%llx",
			       (unsigned long long)out->mismatches, (unsigned long long)out->pages,
			       (unsigned long long)out->first_bad_gpa);
		if (check_apic && (problem = apic_problem(opt, out, s, buf, sizeof(buf))) != NULL)
			sr_die(SR_EXIT_GUEST_FAIL, "%s", problem);
		sr_die(SR_EXIT_GUEST_FAIL, "the guest reported failure (status %u)", out->status);
	}
	if (!out->hello_seen)
		sr_die(SR_EXIT_GUEST_FAIL, "the guest reported success but never printed \"hello, world!\"");
	if (opt->touch_all) {
		if (!out->have_pages || out->pages != expected || out->mismatches != 0)
			sr_die(SR_EXIT_GUEST_FAIL,
			       "the guest reported success but checked %llu of %llu scratch pages",
			       out->have_pages ? (unsigned long long)out->pages : 0ULL,
			       (unsigned long long)expected);
		bad = host_mismatches(s, host, &first_bad);
		if (bad)
			sr_die(SR_EXIT_GUEST_FAIL,
			       "the guest reported success but the host finds %llu scratch pages without "
			       "their pattern, first at 0x%llx",
			       (unsigned long long)bad, (unsigned long long)first_bad);
		sr_info("host: all %llu scratch pages hold their pattern at their offset",
			(unsigned long long)expected);
	}
	if (check_apic && (problem = apic_problem(opt, out, s, buf, sizeof(buf))) != NULL)
		sr_die(SR_EXIT_GUEST_FAIL, "%s", problem);
	return SR_EXIT_OK;
}

int main(int argc, char **argv)
{
	struct sr_options opt;
	struct sr_ranges declared, kept_out, devices;
	struct sr_scratch scratch;
	struct sr_outcome outcome;
	struct sr_vm vm;
	struct sr_irq_source irq;
	char err[512];
	const char *guest_path, *why;
	void *image = NULL;
	size_t image_size = 0;
	uint64_t entry = 0;
	uint8_t *low, *scratch_host;
	bool apic_shadowed;

	switch (sr_parse_options(&opt, argc, argv, err, sizeof(err))) {
	case SR_PARSE_HELP:
		sr_print_usage(stdout);
		return SR_EXIT_OK;
	case SR_PARSE_ERROR:
		sr_die(SR_EXIT_USAGE, "%s", err);
	case SR_PARSE_OK:
		break;
	}
	sr_verbose = opt.verbose;
	reserved_ranges(&opt, &devices, &kept_out, &declared);
	if (!opt.probe && opt.layout == SR_LAYOUT_CHECK)
		refuse_if_covered(&opt, &declared);

	if (!opt.probe) {
		guest_path = opt.guest_path ? opt.guest_path : default_guest_path();
		image = sr_read_image(guest_path, &image_size);
		if ((why = sr_elf_validate(image, image_size, &entry)) != NULL)
			sr_die(SR_EXIT_USAGE, "guest image %s: %s", guest_path, why);
	}

	sr_vm_create(&vm, opt.kvm_device, opt.irqchip);
	if (!opt.vcpu_after_scratch && sr_vcpu_create(&vm) == EEXIST)
		sr_die(SR_EXIT_HOST, "KVM_CREATE_VCPU: EEXIST before any memory slot exists");
	if (opt.top >> vm.phys_bits)
		sr_die(SR_EXIT_USAGE, "--gpa-top 0x%llx: beyond this host's %u-bit guest-physical space",
		       (unsigned long long)opt.top, vm.phys_bits);
	low = map_anonymous(SR_LOW_END_GPA, "the low region");
	sr_set_slot_or_die(&vm, LOW_SLOT_ID, 0, SR_LOW_END_GPA, low, "the low region");
	sr_info("slot %2u [0x%011llx-0x%011llx] size 0x%llx host +0x0: low region (image, page "
		"tables, GDT, stack, boot info)",
		LOW_SLOT_ID, 0ULL, SR_LOW_END_GPA - 1, SR_LOW_END_GPA);
	register_placeholders(&vm, &opt);
	if (opt.probe)
		probe_and_exit(&vm, &opt);

	scratch_host = map_scratch_host(&opt);
	map_scratch(&vm, &opt, &kept_out, &devices, scratch_host, &scratch);
	remove_placeholders(&vm, &opt);
	if (opt.vcpu_after_scratch)
		create_vcpu_after_scratch(&vm, &opt, &kept_out, &devices, scratch_host, &scratch);
	print_scratch_map(&scratch);

	write_boot_info(low, boot_flags(&opt, &scratch, &apic_shadowed), &scratch, &opt, &vm);
	sr_build_page_tables(low, opt.top + 1, vm.gb_pages);
	sr_elf_load(image, low);
	free(image);
	sr_enter_long_mode(&vm, low, entry);

	if (opt.interrupts)
		sr_irq_source_start(&irq, &vm, SR_EXT_GSI);
	sr_run(&vm, low, opt.timeout_s, opt.interrupts ? &irq : NULL, &outcome);
	if (opt.interrupts) {
		sr_info("host: raised GSI %d %llu times", SR_EXT_GSI,
			(unsigned long long)sr_irq_source_stop(&irq, &vm));
		report_irq_injections(&vm);
	}
	if (sr_verbose)
		sr_info("host: scratch at %p (congruent with its GPA mod 2 MiB), --thp %s: %ld KiB in "
			"transparent huge pages", (void *)scratch_host, opt.thp ? "on" : "off",
			huge_page_kib(scratch_host));
	return judge(&opt, &outcome, &scratch, scratch_host, apic_shadowed);
}
