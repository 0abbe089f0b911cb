/* The guest's interrupt world: an IDT, its LAPIC (timer) and the IOAPIC
 * (an external interrupt the VMM raises), all reached through MMIO. */
#include "guest.h"

#define LAPIC_ID 0x20
#define LAPIC_VERSION 0x30
#define LAPIC_TPR 0x80
#define LAPIC_EOI 0xB0
#define LAPIC_SVR 0xF0
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INITIAL 0x380
#define LAPIC_TIMER_DIVIDE 0x3E0
#define LAPIC_SVR_ENABLE (1u << 8)
#define LAPIC_LVT_MASKED (1u << 16)
#define LAPIC_LVT_PERIODIC (1u << 17)
#define LAPIC_DIVIDE_BY_1 0xB
#define ONE_SHOT_NS 100000u /* KVM's APIC bus runs at 1 GHz: one tick a ns */
#define WATCHDOG_US 1000u  /* the VMM's pulses that end a halt while the one-shot is awaited */

#define IOAPIC_REGSEL 0x00
#define IOAPIC_WINDOW 0x10
#define IOAPIC_VERSION 0x01
#define IOAPIC_REDIRECTION(pin) (0x10 + 2 * (pin))
#define IOAPIC_MASKED (1u << 16) /* edge-triggered, active high, fixed, physical */

#define CODE_SELECTOR 0x08
#define INTERRUPT_GATE 0x8E

struct idt_gate {
	uint16_t offset_low;
	uint16_t selector;
	uint8_t ist;
	uint8_t type;
	uint16_t offset_mid;
	uint32_t offset_high;
	uint32_t zero;
} __attribute__((packed));

static struct idt_gate idt[256] __attribute__((aligned(16)));
extern const uint64_t exception_stubs[32];
extern char timer_entry[], external_entry[], wake_entry[], spurious_entry[];

static volatile uint32_t timer_count, external_count;
static volatile uint64_t first_timer_tsc;

static uint32_t lapic_read(uint32_t reg)
{
	return *(volatile uint32_t *)(uintptr_t)(SR_LAPIC_GPA + reg);
}

static void lapic_write(uint32_t reg, uint32_t value)
{
	*(volatile uint32_t *)(uintptr_t)(SR_LAPIC_GPA + reg) = value;
}

static uint32_t ioapic_read(uint32_t reg)
{
	*(volatile uint32_t *)(uintptr_t)(SR_IOAPIC_GPA + IOAPIC_REGSEL) = reg;
	return *(volatile uint32_t *)(uintptr_t)(SR_IOAPIC_GPA + IOAPIC_WINDOW);
}

static void ioapic_write(uint32_t reg, uint32_t value)
{
	*(volatile uint32_t *)(uintptr_t)(SR_IOAPIC_GPA + IOAPIC_REGSEL) = reg;
	*(volatile uint32_t *)(uintptr_t)(SR_IOAPIC_GPA + IOAPIC_WINDOW) = value;
}

static void set_gate(unsigned vector, uint64_t handler)
{
	idt[vector] = (struct idt_gate){
		.offset_low = (uint16_t)handler,
		.selector = CODE_SELECTOR,
		.type = INTERRUPT_GATE,
		.offset_mid = (uint16_t)(handler >> 16),
		.offset_high = (uint32_t)(handler >> 32),
	};
}

void install_idt(void)
{
	struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} idtr = {sizeof(idt) - 1, (uint64_t)(uintptr_t)idt};

	for (unsigned v = 0; v < 32; v++)
		set_gate(v, exception_stubs[v]);
	set_gate(SR_VECTOR_TIMER, (uint64_t)(uintptr_t)timer_entry);
	set_gate(SR_VECTOR_EXTERNAL, (uint64_t)(uintptr_t)external_entry);
	set_gate(SR_VECTOR_WAKE, (uint64_t)(uintptr_t)wake_entry);
	set_gate(SR_VECTOR_SPURIOUS, (uint64_t)(uintptr_t)spurious_entry);
	__asm__ volatile("lidt %0" : : "m"(idtr));
}

/* frame: vector, error code, then the CPU's RIP, CS, RFLAGS, RSP, SS. */
__attribute__((noreturn)) void guest_exception(const uint64_t *frame)
{
	report(SR_RESULT_EXCEPTION, frame[0], frame[2], frame[1]);
	finish(SR_STATUS_EXCEPTION);
}

void on_timer(void)
{
	if (timer_count++ == 0)
		first_timer_tsc = rdtsc();
	lapic_write(LAPIC_EOI, 0);
}

void on_external(void)
{
	external_count++;
	lapic_write(LAPIC_EOI, 0); /* edge-triggered: the LAPIC EOI is all it takes */
}

void on_wake(void)
{
	lapic_write(LAPIC_EOI, 0); /* only ends a halt: counted nowhere */
}

void on_spurious(void)
{
	/* no EOI for a spurious interrupt */
}

/* Wait until *count reaches want or the deadline passes. With a second
 * interrupt source as a watchdog (`woken`), the vCPU halts between
 * interrupts: under the in-kernel irqchip HLT sleeps in the kernel until the
 * next one, and on this kind of host delivery to a halted vCPU is fast while
 * a busy-waiting one waits for a tick. Without a watchdog it never halts: an
 * interrupt that never comes must not hang the guest. */
static bool wait_for(volatile uint32_t *count, uint32_t want, uint64_t ticks, bool woken)
{
	uint64_t deadline = rdtsc() + ticks;

	while (*count < want && rdtsc() < deadline) {
		if (woken)
			__asm__ volatile("sti; hlt; cli" ::: "memory"); /* sti's shadow covers hlt */
		else
			__asm__ volatile("sti; pause; cli" ::: "memory");
	}
	return *count >= want;
}

static void route_pin(uint32_t vector)
{
	ioapic_write(IOAPIC_REDIRECTION(SR_EXT_GSI) + 1, lapic_read(LAPIC_ID) & 0xFF000000u);
	ioapic_write(IOAPIC_REDIRECTION(SR_EXT_GSI), vector); /* edge-triggered, unmasked */
}

/* The pace of both sources, in us (abi.h: why it must follow the machine's
 * speed): the one-shot's delivery latency beyond its programmed time, times
 * SR_PACE_FACTOR, within [SR_PACE_MIN_US, SR_PACE_MAX_US]. */
static uint32_t pace_us(uint64_t latency_ns)
{
	uint64_t late_ns = latency_ns > ONE_SHOT_NS ? latency_ns - ONE_SHOT_NS : 0;
	uint64_t us = late_ns * SR_PACE_FACTOR / 1000;

	if (us < SR_PACE_MIN_US)
		us = SR_PACE_MIN_US;
	if (us > SR_PACE_MAX_US)
		us = SR_PACE_MAX_US;
	return (uint32_t)us;
}

static void count_interrupts(const struct sr_boot_info *bi, bool ioapic_ok)
{
	uint64_t ticks = bi->tsc_khz * bi->wait_ms, armed, latency_ns = 0, paced_ticks;
	uint32_t one_shot, periodic, external = 0, period_us;
	bool timer_ok;

	lapic_write(LAPIC_TPR, 0);
	lapic_write(LAPIC_SVR, LAPIC_SVR_ENABLE | SR_VECTOR_SPURIOUS);
	lapic_write(LAPIC_TIMER_DIVIDE, LAPIC_DIVIDE_BY_1);

	/* The one-shot timer, with the VMM's pulses on the wake vector as the
	 * watchdog; its latency sets the pace of what follows. */
	if (ioapic_ok) {
		route_pin(SR_VECTOR_WAKE);
		outl(SR_PORT_EXTERNAL, WATCHDOG_US);
	}
	lapic_write(LAPIC_LVT_TIMER, SR_VECTOR_TIMER);
	armed = rdtsc();
	lapic_write(LAPIC_TIMER_INITIAL, ONE_SHOT_NS);
	wait_for(&timer_count, 1, ticks, ioapic_ok);
	one_shot = timer_count;
	if (one_shot)
		latency_ns = (first_timer_tsc - armed) * 1000000 / bi->tsc_khz;
	period_us = pace_us(latency_ns);
	report(SR_RESULT_PACING, latency_ns, period_us, 0);
	/* Each wait also gets the time its interrupts need at that pace. */
	paced_ticks = ticks + (uint64_t)(bi->interrupts + 1) * period_us * bi->tsc_khz / 1000;
	if (ioapic_ok)
		outl(SR_PORT_EXTERNAL, period_us);

	lapic_write(LAPIC_LVT_TIMER, SR_VECTOR_TIMER | LAPIC_LVT_PERIODIC);
	lapic_write(LAPIC_TIMER_INITIAL, period_us * 1000);
	wait_for(&timer_count, one_shot + bi->interrupts, paced_ticks, ioapic_ok);
	periodic = timer_count - one_shot;
	timer_ok = one_shot >= 1 && periodic >= bi->interrupts;

	if (ioapic_ok) {
		/* External interrupts, with the proven timer on the wake vector
		 * as the watchdog. */
		lapic_write(LAPIC_LVT_TIMER, SR_VECTOR_WAKE | LAPIC_LVT_PERIODIC);
		route_pin(SR_VECTOR_EXTERNAL);
		wait_for(&external_count, bi->interrupts, paced_ticks, timer_ok);
		outl(SR_PORT_EXTERNAL, 0);
		ioapic_write(IOAPIC_REDIRECTION(SR_EXT_GSI), IOAPIC_MASKED);
		external = external_count;
	}
	/* A stopped timer (initial count 0) has no hrtimer left in KVM. */
	lapic_write(LAPIC_LVT_TIMER, LAPIC_LVT_MASKED);
	lapic_write(LAPIC_TIMER_INITIAL, 0);
	report(SR_RESULT_INTERRUPTS, one_shot, periodic, external);
}

bool check_apics(const struct sr_boot_info *bi)
{
	uint32_t lapic, ioapic;

	if (bi->flags & SR_BOOT_APIC_SHADOWED) {
		/* RAM covers the LAPIC page: nothing to judge, but say what the guest finds at
		 * both device pages (the matrix holds it against kvm-as's hazards). The IOAPIC
		 * index write is undone: on RAM it would spoil a scratch page's pattern. */
		uint32_t selected = *(volatile uint32_t *)(uintptr_t)(SR_IOAPIC_GPA + IOAPIC_REGSEL);

		report(SR_RESULT_LAPIC_SKIPPED, SR_BOOT_APIC_SHADOWED, 0, 0);
		report(SR_RESULT_LAPIC, lapic_read(LAPIC_VERSION), 0, 0);
		ioapic = ioapic_read(IOAPIC_VERSION);
		*(volatile uint32_t *)(uintptr_t)(SR_IOAPIC_GPA + IOAPIC_REGSEL) = selected;
		report(SR_RESULT_IOAPIC, ioapic, 0, 0);
		return true;
	}
	lapic = lapic_read(LAPIC_VERSION);
	report(SR_RESULT_LAPIC, lapic, 0, 0);
	ioapic = ioapic_read(IOAPIC_VERSION);
	report(SR_RESULT_IOAPIC, ioapic, 0, 0);
	if (bi->interrupts && sr_lapic_version_plausible(lapic))
		count_interrupts(bi, sr_ioapic_version_plausible(ioapic));
	return sr_lapic_version_plausible(lapic) && sr_ioapic_version_plausible(ioapic);
}
