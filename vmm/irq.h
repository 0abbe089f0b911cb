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
	pthread_mutex_t lock;
	pthread_cond_t changed;
	unsigned period_us; /* under lock; 0: disarmed */
	bool stop;          /* under lock */
	atomic_uint_fast64_t raised;
	pthread_t thread;
};

/* Bind an eventfd to `gsi` (KVM_IRQFD) and start the thread, disarmed. */
void sr_irq_source_start(struct sr_irq_source *src, struct sr_vm *vm, unsigned gsi);

/* While armed, the thread pulses the pin every `period_us` (0 disarms; at
 * least SR_EXT_MIN_PERIOD_US). The guest arms it once its IOAPIC routes the
 * pin, so no pulse is wasted on a masked pin, and picks the period. */
void sr_irq_source_arm(struct sr_irq_source *src, uint32_t period_us);

/* Stop the thread, unbind the eventfd; returns the number of pulses. */
uint64_t sr_irq_source_stop(struct sr_irq_source *src, struct sr_vm *vm);

#endif
