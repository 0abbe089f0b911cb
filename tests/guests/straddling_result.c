/* Hostile guest: sends a result whose struct starts in the low region but
 * ends past it (0x3ffff0 + 32 bytes). Expect exit 5. */
#include "hostile.h"

void guest_main(const struct sr_boot_info *bi)
{
	(void)bi;
	console_write("hello, world!\n");
	outl(SR_PORT_RESULT, (uint32_t)(SR_LOW_END_GPA - 16));
	finish(SR_STATUS_OK);
}
