/* Hostile guest: installs the rig's IDT, then reads beyond its page tables
 * (512 GiB: PML4 entry 1 is not present). Expect exit 5 naming #PF, the RIP
 * of the faulting load and error code 0 (a read of a not-present page). */
#include "hostile.h"

void guest_main(const struct sr_boot_info *bi)
{
	(void)bi;
	install_idt();
	console_write("hello, world!\n");
	(void)*(volatile uint64_t *)0x8000000000ULL;
	finish(SR_STATUS_OK);
}
