/* The scratchrig guest: say hello, use every scratch page, look at the APIC,
 * report to the VMM, exit through the exit port. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest.h"

struct page_check {
	uint64_t pages, mismatches, first_bad;
};

/* One run of pages [gpa, stop): the loops keep everything in registers, as
 * the hot path of the memory test should (each first touch already costs a
 * fault in the host). */
static void write_run(uint64_t gpa, uint64_t stop)
{
	for (; gpa < stop; gpa += SR_PAGE_SIZE)
		*(volatile uint64_t *)(uintptr_t)gpa = sr_page_pattern(gpa);
}

static void check_run(uint64_t gpa, uint64_t stop, struct page_check *c)
{
	uint64_t bad = 0, first_bad = 0;

	for (; gpa < stop; gpa += SR_PAGE_SIZE)
		if (*(volatile uint64_t *)(uintptr_t)gpa != sr_page_pattern(gpa) && bad++ == 0)
			first_bad = gpa;
	if (bad && c->mismatches == 0)
		c->first_bad = first_bad;
	c->mismatches += bad;
}

/* Every scratch page outside the holes, in address order: write them all,
 * then read them all back. */
static bool touch_scratch(const struct sr_boot_info *bi)
{
	uint64_t end = bi->scratch_base + bi->scratch_size;
	struct page_check check = {0};

	for (int pass = 0; pass < 2; pass++) {
		uint64_t gpa = bi->scratch_base;
		for (uint32_t h = 0; h <= bi->hole_count; h++) {
			uint64_t stop = h < bi->hole_count ? bi->holes[h].base : end;
			if (pass == 0) {
				write_run(gpa, stop);
			} else {
				check_run(gpa, stop, &check);
				check.pages += (stop - gpa) / SR_PAGE_SIZE;
			}
			if (h < bi->hole_count)
				gpa = bi->holes[h].base + bi->holes[h].size;
		}
	}
	report(SR_RESULT_PAGES, check.pages, check.mismatches, check.first_bad);
	return check.mismatches == 0;
}

void guest_main(const struct sr_boot_info *bi)
{
	bool ok = true;

	if (bi->magic != SR_BOOT_MAGIC || bi->version != SR_BOOT_VERSION || bi->hole_count > SR_MAX_HOLES) {
		console_write("guest: boot info has the wrong magic or version\n");
		finish(SR_STATUS_FAIL);
	}
	install_idt();
	console_write("hello, world!\n");
	if (bi->flags & SR_BOOT_TOUCH_ALL)
		ok = touch_scratch(bi);
	if (bi->flags & SR_BOOT_APIC_CHECK)
		ok = check_apics(bi) && ok;
	finish(ok ? SR_STATUS_OK : SR_STATUS_FAIL);
}
