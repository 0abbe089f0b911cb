/* The guest ABI: the one contract between vmm/ and guest/. Both sides include
 * this file; nothing here may depend on libc. */
#ifndef SCRATCHRIG_ABI_H
#define SCRATCHRIG_ABI_H

#include <stdint.h>

/* I/O ports. The console is COM1's data port so that a stray serial driver
 * would still print; the exit port follows kvm-unit-tests (outl to 0xf4). */
#define SR_PORT_CONSOLE 0x3F8
#define SR_PORT_RESULT 0xF0 /* outl: guest-physical address of a struct sr_result */
#define SR_PORT_EXIT 0xF4   /* outl: final status, SR_STATUS_* */
#define SR_PORT_EXTERNAL 0xF8 /* outl N: raise external interrupts every N us (>= SR_EXT_MIN_PERIOD_US); 0: stop */

#define SR_STATUS_OK 0
#define SR_STATUS_FAIL 1
#define SR_STATUS_EXCEPTION 2 /* after an SR_RESULT_EXCEPTION */

/* Low region: everything the VMM puts below scratch. */
#define SR_GDT_GPA 0x1000ULL
#define SR_IDT_GPA 0x2000ULL
#define SR_BOOT_INFO_GPA 0x3000ULL
#define SR_STACK_TOP_GPA 0x100000ULL /* stack grows down from here... */
#define SR_STACK_BOTTOM_GPA 0x80000ULL /* ...to here */
#define SR_IMAGE_GPA 0x100000ULL     /* the guest ELF links here */
#define SR_IMAGE_END_GPA 0x200000ULL
#define SR_PAGE_TABLES_GPA 0x200000ULL
#define SR_LOW_END_GPA 0x400000ULL /* low region is [0, SR_LOW_END_GPA) */

#define SR_PAGE_SIZE 0x1000ULL

/* In-kernel irqchip MMIO windows the guest must reach when the irqchip is on. */
#define SR_LAPIC_GPA 0xFEE00000ULL
#define SR_IOAPIC_GPA 0xFEC00000ULL

#define SR_BOOT_MAGIC 0x5343524154434852ULL /* "RHCTARCS": scratchrig */
#define SR_BOOT_VERSION 2
#define SR_MAX_HOLES 16

/* Boot flags. */
#define SR_BOOT_TOUCH_ALL (1u << 0)   /* write and verify every scratch page */
#define SR_BOOT_APIC_CHECK (1u << 1)  /* read the LAPIC version through MMIO */
#define SR_BOOT_APIC_SHADOWED (1u << 2) /* scratch RAM covers the LAPIC page */

/* Interrupts: the LAPIC timer and an external interrupt that a VMM thread
 * raises on SR_EXT_GSI (an IOAPIC pin) through an irqfd, as the affected VMM
 * does, while the guest has it armed through SR_PORT_EXTERNAL. */
#define SR_EXT_GSI 16 /* IOAPIC-only pin: the legacy PIC never sees it */
#define SR_VECTOR_TIMER 0x40
#define SR_VECTOR_EXTERNAL 0x41
#define SR_VECTOR_WAKE 0x42 /* a watchdog while the guest halts: never counted */
#define SR_VECTOR_SPURIOUS 0xFF

/* Interrupt pacing. A periodic LAPIC timer in KVM catches up one period per
 * hrtimer callback (apic_timer_fn, advance_periodic_target_expiration): when
 * a callback costs L1 more than a period, as under slow emulation, L1 never
 * leaves its timer interrupt. So the guest paces both sources by what it
 * measures: the one-shot timer's delivery latency times SR_PACE_FACTOR, never
 * below KVM's 200 us minimum (min_timer_period_us) nor above the cap. */
#define SR_EXT_MIN_PERIOD_US 100
#define SR_PACE_MIN_US 200
#define SR_PACE_MAX_US 200000
#define SR_PACE_FACTOR 8

struct sr_hole {
	uint64_t base;
	uint64_t size;
};

/* Passed by guest-physical pointer in RDI. */
struct sr_boot_info {
	uint64_t magic;
	uint32_t version;
	uint32_t flags;
	uint64_t scratch_base;
	uint64_t scratch_size;
	uint32_t hole_count; /* holes inside scratch, sorted, never touched */
	uint32_t interrupts; /* timer and external interrupts to wait for; 0: none */
	uint64_t tsc_khz;    /* for the guest's own deadlines */
	uint32_t wait_ms;    /* longest wait for each kind of interrupt */
	uint32_t reserved0;
	struct sr_hole holes[SR_MAX_HOLES];
};

/* Structured messages from guest to VMM over SR_PORT_RESULT. */
enum sr_result_kind {
	SR_RESULT_PAGES = 1,      /* a: pages checked, b: mismatches, c: first bad GPA */
	SR_RESULT_LAPIC = 2,      /* a: LAPIC version register */
	SR_RESULT_LAPIC_SKIPPED = 3, /* a: SR_BOOT_* flag that made the guest skip */
	SR_RESULT_IOAPIC = 4,     /* a: IOAPIC version register */
	SR_RESULT_INTERRUPTS = 5, /* a: one-shot timer, b: periodic timer, c: external */
	SR_RESULT_EXCEPTION = 6,  /* a: vector, b: RIP, c: error code */
	SR_RESULT_PACING = 7,     /* a: one-shot latency (ns), b: period of both sources (us) */
};

struct sr_result {
	uint32_t kind;
	uint32_t reserved0;
	uint64_t a, b, c;
};

/* The value the guest writes at the start of each scratch page. Derived from
 * the address so that two guest pages aliasing one host page, or a slot at a
 * wrong host offset, read back wrong. The VMM recomputes it on the host side. */
static inline uint64_t sr_page_pattern(uint64_t gpa)
{
	return (gpa * 0x9E3779B97F4A7C15ULL) ^ 0x5CA7C4C0FFEE0000ULL;
}

/* Plausible APIC version registers: what the device returns, not RAM. */
static inline int sr_lapic_version_plausible(uint32_t v)
{
	uint32_t version = v & 0xff, max_lvt = (v >> 16) & 0xff;
	return version >= 0x10 && version <= 0x1f && max_lvt >= 2 && max_lvt <= 7;
}

static inline int sr_ioapic_version_plausible(uint32_t v)
{
	uint32_t version = v & 0xff, max_entry = (v >> 16) & 0xff;
	return version >= 0x11 && version <= 0x20 && max_entry >= SR_EXT_GSI && max_entry < 0xff;
}

#endif
