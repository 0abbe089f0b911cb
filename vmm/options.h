/* Command-line options: parsed and validated without touching KVM. */
#ifndef SCRATCHRIG_OPTIONS_H
#define SCRATCHRIG_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "layout.h"

#define SR_DEFAULT_SCRATCH_SIZE 0x48000ULL
#define SR_DEFAULT_TIMEOUT_S 30
#define SR_DEFAULT_INTERRUPTS 3
#define SR_MAX_INTERRUPTS 1000
#define SR_MAX_TIMEOUT_S 86400
#define SR_DEFAULT_KVM_DEVICE "/dev/kvm"
#define SR_KVM_DEVICE_ENV "SCRATCHRIG_KVM_DEVICE"

struct sr_options {
	uint64_t scratch_size;
	uint64_t top;
	enum sr_layout layout;
	bool irqchip;
	bool apic_check; /* only meaningful with the irqchip */
	unsigned interrupts; /* timer and external interrupts the guest waits for */
	bool vcpu_after_scratch; /* KVM_CREATE_VCPU after the scratch slots */
	bool touch_all;
	bool thp; /* scratch host memory eligible for transparent huge pages */
	bool probe;
	bool verbose;
	unsigned timeout_s;
	struct sr_ranges reserve; /* placeholders for hypervisor-private slots */
	const char *guest_path;   /* NULL: guest.elf beside the vmm binary */
	const char *kvm_device;
};

enum sr_parse_status { SR_PARSE_OK, SR_PARSE_HELP, SR_PARSE_ERROR };

/* Parse argv (argv[0] is the program). On error, `err` holds one line naming
 * the option and the rule it broke. */
enum sr_parse_status sr_parse_options(struct sr_options *opt, int argc, char **argv, char *err,
				      size_t err_size);

void sr_print_usage(FILE *out);

#endif
