/* Hostile guest: touches every scratch page honestly but reports one page
 * more than it checked, and exits OK. Expect exit 1. */
#include "touch.h"

static struct sr_result result;

void guest_main(const struct sr_boot_info *bi)
{
	console_write("hello, world!\n");
	result = (struct sr_result){.kind = SR_RESULT_PAGES, .a = touch_scratch(bi) + 1};
	send_result(&result);
	report_lapic(bi, &result);
	finish(SR_STATUS_OK);
}
