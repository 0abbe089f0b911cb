/* Shared by the hostile guests under tests/guests/: the same port helpers as
 * guest/main.c, so that each guest is only its one misbehaviour. */
#ifndef SCRATCHRIG_HOSTILE_H
#define SCRATCHRIG_HOSTILE_H

#include <stdint.h>

#include "guest.h" /* port I/O, console_write, report, finish */

/* Send a result from wherever `r` lives (the image window for statics). */
static inline void send_result(struct sr_result *r)
{
	outl(SR_PORT_RESULT, (uint32_t)(uintptr_t)r);
}

static inline __attribute__((noreturn)) void spin(void)
{
	for (;;)
		__asm__ volatile("pause" ::: "memory");
}

/* Pages the real guest would test: scratch minus the holes. */
static inline uint64_t tested_pages(const struct sr_boot_info *bi)
{
	uint64_t bytes = bi->scratch_size;
	for (uint32_t i = 0; i < bi->hole_count && i < SR_MAX_HOLES; i++)
		bytes -= bi->holes[i].size;
	return bytes / SR_PAGE_SIZE;
}

/* The LAPIC report an honest guest sends, so that a lie is judged on its own. */
static inline void report_lapic(const struct sr_boot_info *bi, struct sr_result *r)
{
	if (!(bi->flags & SR_BOOT_APIC_CHECK))
		return;
	*r = (struct sr_result){.kind = SR_RESULT_LAPIC,
				.a = *(volatile uint32_t *)(uintptr_t)(SR_LAPIC_GPA + 0x30)};
	send_result(r);
}

/* A page of console text, for the flooding guests. */
static inline void fill_flood_page(char *page)
{
	for (unsigned i = 0; i < SR_PAGE_SIZE; i++)
		page[i] = (i % 64 == 63) ? '\n' : "flood"[i % 5];
}

/* The page to the console with one REP OUTSB (KVM still exits per byte). */
static inline void send_flood_page(const char *page)
{
	unsigned long n = SR_PAGE_SIZE;
	__asm__ volatile("rep outsb" : "+S"(page), "+c"(n) : "d"((uint16_t)SR_PORT_CONSOLE) : "memory");
}

void guest_main(const struct sr_boot_info *bi);

#endif
