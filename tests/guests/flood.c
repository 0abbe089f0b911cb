/* Hostile guest: floods the console forever, a page per REP OUTSB. Expect
 * exit 124 and no more than 1 MiB echoed. */
#include "hostile.h"

static char page[4096] __attribute__((aligned(4096)));

void guest_main(const struct sr_boot_info *bi)
{
	(void)bi;
	for (unsigned i = 0; i < sizeof(page); i++)
		page[i] = (i % 64 == 63) ? '\n' : "flood"[i % 5];
	for (;;) {
		const char *p = page;
		unsigned long n = sizeof(page);
		__asm__ volatile("rep outsb"
				 : "+S"(p), "+c"(n)
				 : "d"((uint16_t)SR_PORT_CONSOLE)
				 : "memory");
	}
}
