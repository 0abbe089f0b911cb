/* The floor of any ptrace-based tracer on this machine, for `make bench`: CMD
 * runs under kvm-as's own seccomp filter (vmm/kvm-as/filter.c, linked in),
 * with kvm-as's ptrace options and start-up (vmm/kvm-as/tracer.c: CMD stays in
 * this process, a grandchild seizes it, PR_SET_PTRACER for yama's scope 1);
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
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "filter.h"

/* kvm-as's options (tracer.c): the exec event only from a task's first stop. */
#define FIRST_OPTIONS                                                                             \
	(PTRACE_O_TRACESECCOMP | PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | \
	 PTRACE_O_TRACEVFORK | PTRACE_O_EXITKILL)
#define OPTIONS (FIRST_OPTIONS | PTRACE_O_TRACEEXEC)

/* One line; kvm-as's own refusal names the exact cause (vmm/kvm-as/diagnose.c). */
static int cannot_trace(const char *cmd, const char *stage, int err)
{
	fprintf(stderr, "floor-tracer: cannot trace %s: %s: %s%s\n", cmd, stage, strerror(err),
		err == EPERM ? " (kvm-as none -- CMD says why: yama's ptrace_scope, or a tracer already attached)"
			     : "");
	return 3;
}

/* As kvm-as's tracer: out of the terminal's process group (Ctrl-C is CMD's). */
static void tracer_signals(void)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL}, ign = {.sa_handler = SIG_IGN};

	setpgid(0, 0);
	sigaction(SIGTTOU, &ign, NULL);
	sigaction(SIGTTIN, &ign, NULL);
	sigaction(SIGTSTP, &ign, NULL);
	sigaction(SIGPIPE, &ign, NULL);
	sigaction(SIGCHLD, &dfl, NULL); /* an ignored SIGCHLD would hide tracee exits */
}

/* Once CMD is seized, as kvm-as's tracer: no fd of the caller's kept open (a
 * caller waiting for EOF must not wait for us), stderr aside. */
static void drop_inherited_fds(void)
{
	int null;

	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		close(null);
	}
	if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0)
		for (int fd = 3; fd < 65536; fd++)
			close(fd);
}

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
			ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(long)OPTIONS);
			ptrace(PTRACE_CONT, pid, NULL, NULL);
		}
	} else if (event) {
		ptrace(PTRACE_CONT, pid, NULL, NULL); /* fork, clone, vfork, exec */
	} else {
		ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig); /* a signal for the tracee */
	}
}

/* The tracer, a grandchild: seizes CMD's process and says "g" on `report`
 * (or "STAGE ERRNO"), then resumes every stop until no tracee is left, or
 * until CMD is killed (EXITKILL then ends the rest, as kvm-as kills them). */
static _Noreturn void tracer(pid_t cmd, int report)
{
	bool cmd_options = false;
	int status;
	pid_t pid;

	tracer_signals();
	if (ptrace(PTRACE_SEIZE, cmd, NULL, (void *)(long)FIRST_OPTIONS)) {
		dprintf(report, "ptrace %d", errno);
		_exit(0);
	}
	if (write(report, "g", 1) != 1) /* CMD's process waits for this byte */
		kill(cmd, SIGKILL);
	close(report);
	drop_inherited_fds();
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
			cmd_options = ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(long)OPTIONS) == 0;
		resume(pid, status);
	}
}

/* kvm-as's kt_run without the exec gate (nothing to summarise). */
static int run(char **argv)
{
	int report[2], err, read_err, status;
	char msg[64] = "", stage[16] = "";
	bool ptracer_any;
	pid_t self = getpid(), mid;
	ssize_t n;

	if (pipe2(report, O_CLOEXEC))
		return cannot_trace(argv[0], "pipe", errno);
	ptracer_any = prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0) == 0;
	fflush(NULL);
	if ((mid = vfork()) < 0)
		return cannot_trace(argv[0], "fork", errno);
	if (mid == 0) {
		pid_t t = fork();
		if (t == 0) {
			close(report[0]);
			tracer(self, report[1]);
		}
		_exit(t < 0 ? 1 : 0);
	}
	close(report[1]);
	while (waitpid(mid, &status, 0) < 0 && errno == EINTR) /* CMD gets no zombie */
		;
	err = kf_install(); /* while the tracer starts: the filter stops nothing before exec */
	while ((n = read(report[0], msg, sizeof(msg) - 1)) < 0 && errno == EINTR)
		;
	read_err = n < 0 ? errno : EAGAIN; /* EOF: the tracer was never forked */
	close(report[0]);
	if (ptracer_any)
		prctl(PR_SET_PTRACER, 0, 0, 0, 0);
	if (n != 1 || msg[0] != 'g') {
		msg[n > 0 ? n : 0] = '\0';
		if (sscanf(msg, "%15s %d", stage, &err) != 2)
			return cannot_trace(argv[0], "fork", read_err);
		return cannot_trace(argv[0], stage, err);
	}
	if (err != 0) {
		cannot_trace(argv[0], "installing the seccomp filter failed", err);
		_exit(3);
	}
	execvp(argv[0], argv);
	err = errno;
	fprintf(stderr, "floor-tracer: %s: %s%s\n", argv[0], err == ENOENT ? "command not found" : strerror(err),
		err == ENOENT ? " (check the name and PATH)" : "");
	_exit(err == ENOENT ? 127 : 126);
}

int main(int argc, char **argv)
{
	if (argc < 3 || strcmp(argv[1], "--") != 0) {
		fprintf(stderr, "usage: floor-tracer -- CMD [ARGS...] (CMD under kvm-as's seccomp filter, only resumed)\n");
		return 2;
	}
	return run(argv + 2);
}
