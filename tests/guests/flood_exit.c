/* Hostile guest: says hello, floods the console with 1 MiB + 4 KiB, then
 * exits OK without having checked a page. Expect exit 1, stdout cut at
 * exactly 1 MiB, and the VMM saying that it stopped echoing. */
#include "hostile.h"

#define FLOOD_BYTES ((1u << 20) + 4096u)

static char page[4096] __attribute__((aligned(4096)));

void guest_main(const struct sr_boot_info *bi)
{
	(void)bi;
	console_write("hello, world!\n");
	for (unsigned i = 0; i < sizeof(page); i++)
		page[i] = (i % 64 == 63) ? '\n' : "flood"[i % 5];
	for (unsigned done = 0; done < FLOOD_BYTES; done += sizeof(page)) {
		const char *p = page;
		unsigned long n = sizeof(page);
		__asm__ volatile("rep outsb"
				 : "+S"(p), "+c"(n)
				 : "d"((uint16_t)SR_PORT_CONSOLE)
				 : "memory");
	}
	finish(SR_STATUS_OK);
}
