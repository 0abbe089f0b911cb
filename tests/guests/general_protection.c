/* Hostile guest: installs the rig's IDT, then loads from a non-canonical
 * address. Expect exit 5 naming #GP with error code 0. */
#include "hostile.h"

void guest_main(const struct sr_boot_info *bi)
{
	(void)bi;
	install_idt();
	console_write("hello, world!\n");
	(void)*(volatile uint64_t *)0x8000000000000000ULL;
	finish(SR_STATUS_OK);
}
