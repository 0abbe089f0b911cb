/* Hostile guest: writes a byte to port 0x1234, which nothing handles.
 * Expect exit 5 naming the port. */
#include "hostile.h"

void guest_main(const struct sr_boot_info *bi)
{
	(void)bi;
	console_write("hello, world!\n");
	outb(0x1234, 0x42);
	finish(SR_STATUS_OK);
}
