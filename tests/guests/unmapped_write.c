/* Hostile guest: writes to 0x10000000, inside the identity map but in no
 * memslot with the default scratch (low region and scratch near 4 GiB).
 * Expect exit 5 naming the address. */
#include "hostile.h"

#define UNMAPPED_GPA 0x10000000ULL

void guest_main(const struct sr_boot_info *bi)
{
	(void)bi;
	console_write("hello, world!\n");
	*(volatile uint64_t *)(uintptr_t)UNMAPPED_GPA = 0x5ca7c4;
	finish(SR_STATUS_OK);
}
