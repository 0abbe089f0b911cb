/* The scratchrig guest: say hello, use every scratch page, look at the APIC,
 * report to the VMM, exit through the exit port. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "abi.h"

#define LAPIC_VERSION_REG 0x30

static inline void outb(uint16_t port, uint8_t value)
{
	__asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t value)
{
	__asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port));
}

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

static void console_write(const char *s)
{
	while (*s)
		outb(SR_PORT_CONSOLE, (uint8_t)*s++);
}

static struct sr_result result; /* in the image window: below 4 GiB, as the port needs */

static void report(uint32_t kind, uint64_t a, uint64_t b, uint64_t c)
{
	result = (struct sr_result){.kind = kind, .a = a, .b = b, .c = c};
	outl(SR_PORT_RESULT, (uint32_t)(uintptr_t)&result);
}

static __attribute__((noreturn)) void finish(uint32_t status)
{
	outl(SR_PORT_EXIT, status);
	for (;;)
		__asm__ volatile("cli; hlt");
}

struct page_walk {
	uint64_t pages, mismatches, first_bad;
};

/* Visit every scratch page outside the holes, in address order. */
static void for_each_scratch_page(const struct sr_boot_info *bi, bool write, struct page_walk *w)
{
	uint64_t gpa = bi->scratch_base, end = bi->scratch_base + bi->scratch_size;
	uint32_t h = 0;

	while (gpa < end) {
		uint64_t stop = h < bi->hole_count ? bi->holes[h].base : end;
		for (; gpa < stop; gpa += SR_PAGE_SIZE) {
			volatile uint64_t *word = (volatile uint64_t *)(uintptr_t)gpa;
			if (write) {
				*word = sr_page_pattern(gpa);
			} else if (*word != sr_page_pattern(gpa) && w->mismatches++ == 0) {
				w->first_bad = gpa;
			}
			w->pages++;
		}
		if (h < bi->hole_count) {
			gpa = bi->holes[h].base + bi->holes[h].size;
			h++;
		}
	}
}

static bool touch_scratch(const struct sr_boot_info *bi)
{
	struct page_walk written = {0}, read = {0};

	for_each_scratch_page(bi, true, &written);
	for_each_scratch_page(bi, false, &read);
	report(SR_RESULT_PAGES, read.pages, read.mismatches, read.first_bad);
	return read.mismatches == 0;
}

static void check_lapic(const struct sr_boot_info *bi)
{
	if (bi->flags & SR_BOOT_APIC_SHADOWED) {
		report(SR_RESULT_LAPIC_SKIPPED, SR_BOOT_APIC_SHADOWED, 0, 0);
		return;
	}
	report(SR_RESULT_LAPIC, *(volatile uint32_t *)(uintptr_t)(SR_LAPIC_GPA + LAPIC_VERSION_REG), 0, 0);
}

void guest_main(const struct sr_boot_info *bi)
{
	bool ok = true;

	if (bi->magic != SR_BOOT_MAGIC || bi->version != SR_BOOT_VERSION || bi->hole_count > SR_MAX_HOLES) {
		console_write("guest: boot info has the wrong magic or version\n");
		finish(SR_STATUS_FAIL);
	}
	console_write("hello, world!\n");
	if (bi->flags & SR_BOOT_TOUCH_ALL)
		ok = touch_scratch(bi);
	if (bi->flags & SR_BOOT_APIC_CHECK)
		check_lapic(bi);
	finish(ok ? SR_STATUS_OK : SR_STATUS_FAIL);
}
