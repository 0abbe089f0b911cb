/* The vCPU exit loop: what the guest did, without judging it. */
#ifndef SCRATCHRIG_RUN_H
#define SCRATCHRIG_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "irq.h"
#include "kvm.h"

#define SR_MAX_CONSOLE_BYTES (1u << 20) /* echo no more than this; a flood is cut */

enum sr_run_end {
	SR_RUN_EXITED,  /* the guest wrote its status to the exit port */
	SR_RUN_TIMEOUT, /* --timeout passed */
	SR_RUN_SIGNAL,  /* SIGINT, SIGTERM or SIGHUP */
	SR_RUN_CRASH,   /* anything else: `why` says what */
};

struct sr_outcome {
	enum sr_run_end end;
	uint32_t status;
	int signal;
	char why[256];
	bool hello_seen;
	uint64_t console_bytes;
	bool have_pages;
	uint64_t pages, mismatches, first_bad_gpa;
	bool have_lapic, lapic_skipped;
	uint32_t lapic_version;
	bool have_ioapic;
	uint32_t ioapic_version;
	bool have_interrupts;
	uint64_t one_shot, periodic, external;
	bool have_exception;
	uint64_t exception_vector, exception_rip, exception_error;
};

/* `external`: the interrupt source the guest arms through SR_PORT_EXTERNAL,
 * or NULL when the run has none (the port is then unhandled). */
void sr_run(struct sr_vm *vm, const uint8_t *low, unsigned timeout_s,
	    struct sr_irq_source *external, struct sr_outcome *out);

#endif
