/* kvm-as: run any VMM as if on another class of KVM host, or judge a strace
 * log of one. See docs/kvm-as.md. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "replay.h"
#include "session.h"
#include "sweep.h"
#include "tracer.h"
#include "usage.h"

/* This machine's MAXPHYADDR: CPUID 0x80000008 EAX[7:0], the width KVM maps
 * here (kvm_mmu_max_gfn() reads the same leaf); 36 where the leaf is
 * missing, as the SDM says. */
static unsigned host_phys_bits(void)
{
	unsigned a, b, c, d;

	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000000u), "c"(0));
	if (a < 0x80000008u)
		return 36;
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000008u), "c"(0));
	a &= 0xff;
	return a >= SR_PHYS_BITS_MIN && a <= SR_PHYS_BITS_MAX ? a : 36;
}

int main(int argc, char **argv)
{
	struct ka_args a;
	struct ks_session s;
	int trace = -1;
	char err[300];
	unsigned phys_bits;
	int rc;

	switch (ka_parse_args(&a, argc, argv, err, sizeof(err))) {
	case KA_HELP:
		ka_usage(stdout);
		return 0;
	case KA_LIST_MODELS:
		hm_print_table(stdout);
		return 0;
	case KA_BAD:
		fprintf(stderr, "kvm-as: %s (see kvm-as --help)\n", err);
		return KA_EXIT_USAGE;
	case KA_RUN:
		break;
	}
	phys_bits = a.phys_bits ? a.phys_bits : host_phys_bits();
	if (a.replay_path)
		return kr_replay(a.host, a.replay_path, a.on_kvm, a.strict, phys_bits);
	if (a.sweep)
		return ksw_sweep(&a, phys_bits);
	if (a.trace_path &&
	    (trace = open(a.trace_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666)) < 0) {
		fprintf(stderr, "kvm-as: --trace %s: cannot create the file (see kvm-as --help)\n",
			a.trace_path);
		return KA_EXIT_USAGE;
	}
	ks_init(&s, a.host, trace);
	s.ctx = HM_LIVE_KERNEL | (a.strict ? HM_STRICT : 0);
	s.phys_bits = phys_bits;
	rc = kt_run(&s, a.cmd); /* returns only when tracing could not start */
	ks_free(&s);
	return rc;
}
