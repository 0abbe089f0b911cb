/* The scratchrig guest: say hello, use every scratch page, look at the APIC,
 * report to the VMM, exit through the exit port. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest.h"

struct page_walk {
	uint64_t pages, mismatches, first_bad;
};

/* Visit every scratch page outside the holes, in address order. */
static void for_each_scratch_page(const struct sr_boot_info *bi, bool write, struct page_walk *w)
{
	uint64_t gpa = bi->scratch_base, end = bi->scratch_base + bi->scratch_size;
	uint32_t h = 0;

	while (gpa < end) {
		uint64_t stop = h < bi->hole_count ? bi->holes[h].base : end;
		for (; gpa < stop; gpa += SR_PAGE_SIZE) {
			volatile uint64_t *word = (volatile uint64_t *)(uintptr_t)gpa;
			if (write) {
				*word = sr_page_pattern(gpa);
			} else if (*word != sr_page_pattern(gpa) && w->mismatches++ == 0) {
				w->first_bad = gpa;
			}
			w->pages++;
		}
		if (h < bi->hole_count) {
			gpa = bi->holes[h].base + bi->holes[h].size;
			h++;
		}
	}
}

static bool touch_scratch(const struct sr_boot_info *bi)
{
	struct page_walk written = {0}, read = {0};

	for_each_scratch_page(bi, true, &written);
	for_each_scratch_page(bi, false, &read);
	report(SR_RESULT_PAGES, read.pages, read.mismatches, read.first_bad);
	return read.mismatches == 0;
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
