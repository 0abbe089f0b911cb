/* The guest's runtime: what libc would give, and the ways to talk to the VMM.
 * Linked into guest.elf and into the hostile test guests. */
#include <stddef.h>

#include "guest.h"

/* The compiler may emit calls to these even when freestanding. */
void *memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;
	while (n--)
		*d++ = (unsigned char)c;
	return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	while (n--)
		*d++ = *s++;
	return dst;
}

void console_write(const char *s)
{
	while (*s)
		outb(SR_PORT_CONSOLE, (uint8_t)*s++);
}

static struct sr_result result; /* in the image window: below 4 GiB, as the port needs */

void report(uint32_t kind, uint64_t a, uint64_t b, uint64_t c)
{
	result = (struct sr_result){.kind = kind, .a = a, .b = b, .c = c};
	outl(SR_PORT_RESULT, (uint32_t)(uintptr_t)&result);
}

__attribute__((noreturn)) void finish(uint32_t status)
{
	outl(SR_PORT_EXIT, status);
	for (;;)
		__asm__ volatile("cli; hlt");
}

