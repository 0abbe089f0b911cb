/* scratchrig VMM: one function per step of a run, in the order of the
 * affected VMM (create VM, irqchip, vCPU, low region, then scratch). */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "abi.h"
#include "exit_codes.h"
#include "irq.h"
#include "kvm.h"
#include "kvm_stats.h"
#include "layout.h"
#include "loader.h"
#include "options.h"
#include "placement.h"
#include "report.h"
#include "run.h"

#define INTERRUPT_WAIT_MS 3000 /* per kind; the guest's own bound, well inside --timeout */

/* Which way the interrupts came: KVM counts in irq_injections the interrupts it injects (or
 * re-injects after a VM exit during their delivery) at VM entry. With APICv it posts them
 * and the CPU delivers them (virtual-interrupt delivery): the count stays below the number
 * the guest took. */
static void report_irq_injections(const struct sr_vm *vm)
{
	uint64_t injected = 0;
	int err = sr_kvm_stat(vm->vcpu_fd, "irq_injections", &injected);
	if (err)
		sr_info("host: KVM vCPU stat irq_injections unavailable (%s)", strerror(err));
	else
		sr_info("host: KVM vCPU stat irq_injections=%llu (interrupts KVM injected or "
			"re-injected at VM entry; with APICv the others came by virtual-interrupt "
			"delivery)", (unsigned long long)injected);
}

/* AnonHugePages (KiB) of the mapping holding `addr`, or -1 if unknown. */
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

static const char *device_state(bool read, bool plausible)
{
	return !read ? "unread" : plausible ? "reachable" : "hidden";
}

/* What the guest found at its device pages (RAM over a page hides the device, and no
 * ioctl says so): one line under -v, which the matrix holds against kvm-as's hazards. */
static void say_devices(const struct sr_outcome *out)
{
	if (!out->have_lapic && !out->have_ioapic)
		return;
	sr_info("guest devices: LAPIC %s, IOAPIC %s",
		device_state(out->have_lapic, sr_lapic_version_plausible(out->lapic_version)),
		device_state(out->have_ioapic, sr_ioapic_version_plausible(out->ioapic_version)));
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
	say_devices(out);
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
	struct sr_placement pl;
	struct sr_outcome outcome;
	struct sr_vm vm;
	struct sr_irq_source irq;
	char err[512];
	const char *guest_path, *why;
	void *image = NULL;
	size_t image_size = 0;
	uint64_t entry = 0;
	uint8_t *low;
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
	sr_placement_init(&pl, &opt);

	if (!opt.probe) {
		guest_path = opt.guest_path ? opt.guest_path : default_guest_path();
		image = sr_read_image(guest_path, &image_size);
		if ((why = sr_elf_validate(image, image_size, &entry)) != NULL)
			sr_die(SR_EXIT_USAGE, "guest image %s: %s", guest_path, why);
	}

	sr_vm_create(&vm, opt.kvm_device, opt.irqchip);
	if (!opt.vcpu_after_scratch && sr_vcpu_create(&vm) == EEXIST)
		sr_die(SR_EXIT_HOST, "KVM_CREATE_VCPU: EEXIST before any memory slot exists");
	if ((why = sr_check_phys_bits(opt.top, vm.phys_bits, err, sizeof(err))) != NULL)
		sr_die(SR_EXIT_USAGE, "%s", why);
	low = sr_map_anonymous(SR_LOW_END_GPA, "the low region");
	sr_set_slot_or_die(&vm, SR_LOW_SLOT_ID, 0, SR_LOW_END_GPA, low, "the low region");
	sr_info("slot %2u [0x%011llx-0x%011llx] size 0x%llx host +0x0: low region (image, page "
		"tables, GDT, stack, boot info)",
		SR_LOW_SLOT_ID, 0ULL, SR_LOW_END_GPA - 1, SR_LOW_END_GPA);
	sr_placement_reserve(&pl, &vm);
	if (opt.probe)
		sr_placement_probe(&pl, &vm);
	sr_placement_map(&pl, &vm);

	write_boot_info(low, boot_flags(&opt, &pl.scratch, &apic_shadowed), &pl.scratch, &opt, &vm);
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
			"transparent huge pages", (void *)pl.host, opt.thp ? "on" : "off",
			huge_page_kib(pl.host));
	return judge(&opt, &outcome, &pl.scratch, pl.host, apic_shadowed);
}
