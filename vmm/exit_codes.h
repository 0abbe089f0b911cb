/* The exit-code table: the only place that decides what each code means.
 * `vmm --help` prints it; docs/vmm.md repeats it (a test checks they agree). */
#ifndef SCRATCHRIG_EXIT_CODES_H
#define SCRATCHRIG_EXIT_CODES_H

#define SR_EXIT_CODES(X)                                                                \
	X(SR_EXIT_OK, 0, "the guest printed hello and reported success, and the VMM verified it") \
	X(SR_EXIT_GUEST_FAIL, 1, "the guest reported a failure, or its report contradicts what the VMM saw") \
	X(SR_EXIT_USAGE, 2, "usage or bad input (options, sizes, guest image)")          \
	X(SR_EXIT_HOST, 3, "host/KVM setup error (no /dev/kvm, permission, missing capability, failing ioctl)") \
	X(SR_EXIT_CONFLICT, 4, "memory-layout conflict (EEXIST under --layout single, refusal by --layout check)") \
	X(SR_EXIT_CRASH, 5, "the guest crashed or stopped unexpectedly (triple fault, unhandled MMIO or port, HLT)") \
	X(SR_EXIT_TIMEOUT, 124, "the guest was still running at --timeout and was stopped") \
	X(SR_EXIT_INTERRUPTED, 130, "interrupted by SIGINT, SIGTERM or SIGHUP; the guest was stopped")

enum sr_exit_code {
#define SR_EXIT_ENUM(name, code, text) name = code,
	SR_EXIT_CODES(SR_EXIT_ENUM)
#undef SR_EXIT_ENUM
};

#endif
