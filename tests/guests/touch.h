/* An honest scratch walk, for guests whose lie is elsewhere. */
#ifndef SCRATCHRIG_TOUCH_H
#define SCRATCHRIG_TOUCH_H

#include "hostile.h"

static inline uint64_t touch_scratch(const struct sr_boot_info *bi)
{
	uint64_t pages = 0;

	for (int pass = 0; pass < 2; pass++) {
		uint64_t gpa = bi->scratch_base, end = bi->scratch_base + bi->scratch_size;
		uint32_t h = 0;

		while (gpa < end) {
			uint64_t stop = h < bi->hole_count ? bi->holes[h].base : end;
			for (; gpa < stop; gpa += SR_PAGE_SIZE) {
				volatile uint64_t *word = (volatile uint64_t *)(uintptr_t)gpa;
				if (pass == 0)
					*word = sr_page_pattern(gpa);
				else if (*word == sr_page_pattern(gpa))
					pages++;
			}
			if (h < bi->hole_count) {
				gpa = bi->holes[h].base + bi->holes[h].size;
				h++;
			}
		}
	}
	return pages;
}

#endif
