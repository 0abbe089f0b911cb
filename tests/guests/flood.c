/* Hostile guest: floods the console forever, a page per REP OUTSB. Expect
 * exit 124 and no more than 1 MiB echoed. */
#include "hostile.h"

static char page[SR_PAGE_SIZE] __attribute__((aligned(SR_PAGE_SIZE)));

void guest_main(const struct sr_boot_info *bi)
{
	(void)bi;
	fill_flood_page(page);
	for (;;)
		send_flood_page(page);
}
