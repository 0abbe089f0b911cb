/* Hostile guest: sends a result of a kind the ABI does not define.
 * Expect exit 5. */
#include "hostile.h"

static struct sr_result result;

void guest_main(const struct sr_boot_info *bi)
{
	(void)bi;
	console_write("hello, world!\n");
	result = (struct sr_result){.kind = 0x7777};
	send_result(&result);
	finish(SR_STATUS_OK);
}
