/* Hostile guest: says hello, then never reports nor exits. Expect 124. */
#include "hostile.h"

void guest_main(const struct sr_boot_info *bi)
{
	(void)bi;
	console_write("hello, world!\n");
	spin();
}
