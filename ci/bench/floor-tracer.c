/* The floor of any ptrace-based tracer on this machine, for `make bench`: CMD
 * runs under kvm-as's own seccomp filter (vmm/kvm-as/filter.c) with kvm-as's
 * own start-up and ptrace options (vmm/kvm-as/launch.c, linked in: CMD stays
 * in this process, a grandchild seizes it, PR_SET_PTRACER for yama's scope 1);
 * each filtered call stops at its entry (PTRACE_EVENT_SECCOMP) and its exit
 * (PTRACE_SYSCALL), and the tracer only resumes it: no registers read, no
 * decoding, no model, no output. kvm-as against this is kvm-as's own work.
 *
 * usage: floor-tracer -- CMD [ARGS...]
 * Exit codes: CMD's own (CMD runs in this process: killed by signal N, its
 * caller sees 128+N), 2 usage, 3 cannot trace (ptrace or seccomp refused: one
 * line), 126 CMD not executable, 127 CMD not found. A killed tracer
 * takes CMD with it (PTRACE_O_EXITKILL). */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launch.h"

/* One stop, resumed: a filtered call's entry continues to its exit stop,
 * everything else continues as it would untraced. */
static void resume(pid_t pid, int status)
{
	int sig = WSTOPSIG(status), event = status >> 16;

	if (sig == (SIGTRAP | 0x80)) {
		ptrace(PTRACE_CONT, pid, NULL, NULL);
	} else if (sig == SIGTRAP && event == PTRACE_EVENT_SECCOMP) {
		ptrace(PTRACE_SYSCALL, pid, NULL, NULL);
	} else if (event == PTRACE_EVENT_STOP) {
		if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) {
			ptrace(PTRACE_LISTEN, pid, NULL, NULL); /* group-stop: stay stopped */
		} else { /* a new task's first stop */
			ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(long)KL_OPTIONS);
			ptrace(PTRACE_CONT, pid, NULL, NULL);
		}
	} else if (event) {
		ptrace(PTRACE_CONT, pid, NULL, NULL); /* fork, clone, vfork, exec */
	} else {
		ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig); /* a signal for the tracee */
	}
}

/* kl_tracer's follow: resumes every stop until no tracee is left, or until
 * CMD is killed (EXITKILL then ends the rest, as kvm-as kills them). */
static _Noreturn void follow(void *ctx, pid_t cmd, int exec_gate)
{
	bool cmd_options = false;
	int status;
	pid_t pid;

	(void)ctx;
	close(exec_gate); /* nothing to summarise */
	for (;;) {
		if ((pid = waitpid(-1, &status, __WALL)) < 0) {
			if (errno == EINTR)
				continue;
			_exit(0); /* ECHILD: every tracee is gone */
		}
		if (WIFSIGNALED(status) && pid == cmd)
			_exit(0);
		if (!WIFSTOPPED(status))
			continue;
		if (pid == cmd && !cmd_options) /* CMD's first stop, as kvm-as */
			cmd_options = ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(long)KL_OPTIONS) == 0;
		resume(pid, status);
	}
}

int main(int argc, char **argv)
{
	struct kl_tracer t = {.name = "floor-tracer", .keep_fd = -1, .follow = follow};

	if (argc < 3 || strcmp(argv[1], "--") != 0) {
		fprintf(stderr, "usage: floor-tracer -- CMD [ARGS...] (CMD under kvm-as's seccomp filter, only resumed)\n");
		return 2;
	}
	return kl_run(&t, argv + 2);
}
