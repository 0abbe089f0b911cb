/* External interrupts for the guest: a host thread that pulses an IOAPIC pin
 * through an irqfd, as the affected VMM's hw-interrupts feature does. */
#ifndef SCRATCHRIG_IRQ_H
#define SCRATCHRIG_IRQ_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "kvm.h"

struct sr_irq_source {
	int eventfd;
	unsigned gsi;
	unsigned period_us;
	atomic_bool stop;
	atomic_uint_fast64_t raised;
	pthread_t thread;
};

/* Bind an eventfd to `gsi` (KVM_IRQFD) and start pulsing it every period. */
void sr_irq_source_start(struct sr_irq_source *src, struct sr_vm *vm, unsigned gsi,
			 unsigned period_us);

/* Stop the thread, unbind the eventfd; returns the number of pulses. */
uint64_t sr_irq_source_stop(struct sr_irq_source *src, struct sr_vm *vm);

#endif
