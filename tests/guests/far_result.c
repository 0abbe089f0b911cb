/* Hostile guest: sends a result from 0x500000, above the low region.
 * Expect exit 5. */
#include "hostile.h"

void guest_main(const struct sr_boot_info *bi)
{
	(void)bi;
	console_write("hello, world!\n");
	outl(SR_PORT_RESULT, 0x500000);
	finish(SR_STATUS_OK);
}
