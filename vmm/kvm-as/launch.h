/* How a command comes under a tracer: kvm-as's, and the bench's floor-tracer
 * (ci/bench/floor-tracer.c), which shares this start-up so that a pair of the
 * two measures only what each does per call. CMD stays in this process (its
 * caller's child, with its pid, exit status and signals, as without a
 * tracer); the tracer is a grandchild, as with strace -D: no wait chain
 * between the caller and CMD, and CMD never has the tracer as a child (a VMM
 * reaping all its children would wait for it). */
#ifndef KVM_AS_LAUNCH_H
#define KVM_AS_LAUNCH_H

#include <stdbool.h>
#include <sys/ptrace.h>
#include <sys/types.h>

/* No exec event at first: CMD's own exec needs no stop (kl_cmd_ran tells
 * whether it happened); each task gets KL_OPTIONS at its first stop. */
#define KL_FIRST_OPTIONS                                                                          \
	(PTRACE_O_TRACESECCOMP | PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | \
	 PTRACE_O_TRACEVFORK | PTRACE_O_EXITKILL)
#define KL_OPTIONS (KL_FIRST_OPTIONS | PTRACE_O_TRACEEXEC)

struct kl_tracer {
	const char *name; /* its messages' prefix: "kvm-as" */
	int keep_fd;      /* an fd of the caller's the tracer keeps (the trace file), or -1 */
	/* In the grandchild, before it seizes CMD's process (NULL: nothing):
	 * its own signal handlers. Terminal signals are ignored already. */
	void (*prepare)(void *ctx, pid_t cmd);
	/* Then, CMD seized and every other fd of the caller's closed: follow
	 * CMD to its end. Never returns. */
	void (*follow)(void *ctx, pid_t cmd, int exec_gate) __attribute__((noreturn));
	void *ctx;
};

/* Execs argv[0] (PATH search) in this process under seccomp's filter
 * (filter.h), traced by t's tracer. Returns KA_EXIT_CANNOT_TRACE, after one
 * line on stderr, only when tracing could not start; after that, a failure
 * ends the process with _exit (KA_EXIT_NOT_FOUND, _NOT_EXECUTABLE, or
 * _CANNOT_TRACE when the filter is refused). */
int kl_run(const struct kl_tracer *t, char **argv);

/* In the tracer, once CMD's process has ended: whether it exec'ed CMD. */
bool kl_cmd_ran(int exec_gate);

#endif
