/* External interrupts for the guest: a host thread that pulses an IOAPIC pin
 * through an irqfd, as the affected VMM's hw-interrupts feature does. */
#ifndef SCRATCHRIG_IRQ_H
#define SCRATCHRIG_IRQ_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "kvm.h"

struct sr_irq_source {
	int eventfd;
	unsigned gsi;
	unsigned period_us;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	bool armed, stop; /* under lock */
	atomic_uint_fast64_t raised;
	pthread_t thread;
};

/* Bind an eventfd to `gsi` (KVM_IRQFD) and start the thread, disarmed. */
void sr_irq_source_start(struct sr_irq_source *src, struct sr_vm *vm, unsigned gsi,
			 unsigned period_us);

/* While armed, the thread pulses the pin every period (the guest arms it
 * once its IOAPIC routes the pin, so no pulse is wasted on a masked pin). */
void sr_irq_source_arm(struct sr_irq_source *src, bool armed);

/* Stop the thread, unbind the eventfd; returns the number of pulses. */
uint64_t sr_irq_source_stop(struct sr_irq_source *src, struct sr_vm *vm);

#endif
