/* Hostile guest: claims every scratch page checked with 0 mismatches and
 * exits OK without touching one. Only the host's own re-read can tell:
 * expect exit 1. */
#include "hostile.h"

static struct sr_result result;

void guest_main(const struct sr_boot_info *bi)
{
	console_write("hello, world!\n");
	result = (struct sr_result){.kind = SR_RESULT_PAGES, .a = tested_pages(bi)};
	send_result(&result);
	report_lapic(bi, &result);
	finish(SR_STATUS_OK);
}
