/* kvm-as's command line, parsed without side effects (the unit tests feed
 * it): HOST (one model; a comma list or `all` with --sweep), the options,
 * the command after --. */
#ifndef KVM_AS_ARGS_H
#define KVM_AS_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostmodel.h"

#define KA_DEFAULT_SWEEP_ALIGN 0x1000ULL
#define KA_DEFAULT_SWEEP_TIMEOUT_S 120
#define KA_MAX_SWEEP_TIMEOUT_S 86400
#define KA_SWEEP_MARK "{}"

struct ka_args {
	const struct hm_model *host;         /* the first model named */
	const struct hm_model *models[8];    /* every model named (--sweep), in order */
	unsigned model_count;
	const char *trace_path, *replay_path;
	bool on_kvm, strict;
	unsigned phys_bits; /* 0: not given (this machine's MAXPHYADDR) */
	bool sweep;
	uint64_t lo, hi, align;
	bool hex;           /* LO was written in hex: values are printed so */
	unsigned timeout_s; /* --sweep: each run's */
	char **cmd;         /* after --, NULL-terminated (argv's own), or NULL */
};

enum ka_parse { KA_RUN, KA_HELP, KA_LIST_MODELS, KA_BAD };

/* On KA_BAD, `err` holds the one line (without "kvm-as: "). */
enum ka_parse ka_parse_args(struct ka_args *a, int argc, char **argv, char *err, size_t size);

/* "--sweep LO:HI[:ALIGN]": NULL, or what is wrong. */
const char *ka_parse_sweep(const char *text, uint64_t *lo, uint64_t *hi, uint64_t *align,
			   bool *hex, char *err, size_t size);

#endif
