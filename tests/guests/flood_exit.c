/* Hostile guest: says hello, floods the console with 1 MiB + 4 KiB, then
 * exits OK without having checked a page. Expect exit 1, stdout cut at
 * exactly 1 MiB, and the VMM saying that it stopped echoing. */
#include "hostile.h"

#define FLOOD_BYTES ((1u << 20) + 4096u)

static char page[SR_PAGE_SIZE] __attribute__((aligned(SR_PAGE_SIZE)));

void guest_main(const struct sr_boot_info *bi)
{
	(void)bi;
	console_write("hello, world!\n");
	fill_flood_page(page);
	for (unsigned done = 0; done < FLOOD_BYTES; done += SR_PAGE_SIZE)
		send_flood_page(page);
	finish(SR_STATUS_OK);
}
