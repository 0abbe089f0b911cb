/* --sweep: bisect a command's success over a value (`{}` in its arguments)
 * under each host model. The bisection, the substitution and the reading of
 * a run's trace are pure (sweep.c, unit-tested with a fake command); running
 * the command under kvm-as with a timeout is sweep_run.c. */
#ifndef KVM_AS_SWEEP_H
#define KVM_AS_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "args.h"

/* Runs the command with `value`; returns its exit code (0: passes). */
typedef int (*ksw_runner)(uint64_t value, void *ctx);

struct ksw_result {
	bool fails_at_lo;   /* LO fails: no value passes (fail = LO) */
	bool passes_at_hi;  /* HI passes: no value fails (pass = HI) */
	uint64_t pass;      /* the largest value that passes */
	uint64_t fail;      /* the first that fails */
	int fail_code;      /* its exit code */
	unsigned runs;
};

/* LO first, then HI, then bisection between the last pass and the first
 * fail, on multiples of `align`: at most 2 + ceil(log2((hi - lo) / align))
 * runs. Assumes one boundary (passes below it, fails from it on). */
void ksw_bisect(uint64_t lo, uint64_t hi, uint64_t align, ksw_runner run, void *ctx,
		struct ksw_result *r);

/* The value as the user wrote LO: 0x... (hex) or decimal. */
void ksw_format(uint64_t value, bool hex, char *buf, size_t size);

/* `cmd` with every "{}" replaced by `value`: a NULL-terminated array of
 * malloc'd strings (ksw_free_argv), or NULL when out of memory. */
char **ksw_substitute(char *const *cmd, const char *value);
void ksw_free_argv(char **argv);

/* Why a failing run failed, from its --trace file: "CALL refused with
 * EEXIST" (the first call the model refused), else "CALL failed here with
 * ENAME" (the first KVM call the kernel here refused). False if neither. */
bool ksw_trace_reason(FILE *trace, char *buf, size_t size);

/* The sweep: one line a model on stdout (docs/kvm-as.md, "--sweep"), runs
 * on stderr. Returns kvm-as's exit code. */
int ksw_sweep(const struct ka_args *a, unsigned phys_bits);

#endif
