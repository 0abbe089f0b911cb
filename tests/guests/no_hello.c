/* Hostile guest: does all the work and reports it truthfully, but never
 * prints the hello line (only near misses). Expect exit 1. */
#include "touch.h"

static struct sr_result result;

void guest_main(const struct sr_boot_info *bi)
{
	console_write("hello, world!!\nhello, world?\nHello, world!\n hello, world!\n");
	result = (struct sr_result){.kind = SR_RESULT_PAGES, .a = touch_scratch(bi)};
	send_result(&result);
	report_lapic(bi, &result);
	finish(SR_STATUS_OK);
}
