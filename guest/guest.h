/* Shared inside the guest: port I/O, reporting, exiting. */
#ifndef SCRATCHRIG_GUEST_H
#define SCRATCHRIG_GUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "abi.h"

/* "memory": a result must be in guest memory before the VMM reads it. */
static inline void outb(uint16_t port, uint8_t value)
{
	__asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

static inline void outl(uint16_t port, uint32_t value)
{
	__asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

void console_write(const char *s);
void report(uint32_t kind, uint64_t a, uint64_t b, uint64_t c);
__attribute__((noreturn)) void finish(uint32_t status);

/* apic.c: returns false when a check failed. */
void install_idt(void);
bool check_apics(const struct sr_boot_info *bi);

#endif
