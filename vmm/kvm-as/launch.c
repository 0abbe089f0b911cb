/* kl_run: CMD under a tracer, the start-up kvm-as and floor-tracer share (launch.h). */
#include "launch.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "diagnose.h"
#include "filter.h"
#include "ka_exit.h"

/* Closes [from, to]; close_range where the kernel has it (5.9). */
static void close_fds(int from, int to)
{
	if (from > to || syscall(SYS_close_range, (unsigned)from, (unsigned)to, 0U) == 0)
		return;
	for (int fd = from; fd <= to && fd < 65536; fd++)
		close(fd);
}

/* The tracer keeps no fd of the caller's but stderr: a caller waiting for
 * EOF on a pipe (bats' fd 3, a $(...)) must not wait for it. Keeps the fds
 * in `keep` (-1: none), stdin and stdout become /dev/null. */
static void drop_inherited_fds(int keep[], unsigned n)
{
	int null, from = 3;

	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		close(null);
	}
	for (unsigned i = 1; i < n; i++) /* a handful: insertion sort */
		for (unsigned j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int x = keep[j];
			keep[j] = keep[j - 1];
			keep[j - 1] = x;
		}
	for (unsigned i = 0; i < n; i++)
		if (keep[i] >= from) {
			close_fds(from, keep[i] - 1);
			from = keep[i] + 1;
		}
	close_fds(from, 0x7fffffff);
}

/* Whether CMD was exec'ed: this process writes a byte on `exec_gate` when it
 * fails before or at exec; the gate closes at a successful exec
 * (close-on-exec). Read once CMD's process has ended: it cannot block. */
bool kl_cmd_ran(int exec_gate)
{
	char byte;
	return read(exec_gate, &byte, 1) != 1;
}

/* The tracer, a grandchild: out of the terminal's process group (Ctrl-C is
 * CMD's to handle); writing to the terminal from there must not stop it.
 * Seizes CMD's process and says "g" on `report` (or "STAGE ERRNO", and
 * ends), then follows. */
static _Noreturn void tracer(const struct kl_tracer *t, pid_t cmd, int report, int exec_gate)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL}, ign = {.sa_handler = SIG_IGN};
	int keep[2] = {exec_gate, t->keep_fd};

	setpgid(0, 0);
	sigaction(SIGTTOU, &ign, NULL);
	sigaction(SIGTTIN, &ign, NULL);
	sigaction(SIGTSTP, &ign, NULL);
	sigaction(SIGPIPE, &ign, NULL); /* a closed stderr must not end the tracing (EXITKILL) */
	sigaction(SIGCHLD, &dfl, NULL); /* an ignored SIGCHLD would hide tracee exits */
	if (t->prepare)
		t->prepare(t->ctx, cmd);
	if (ptrace(PTRACE_SEIZE, cmd, NULL, (void *)(long)KL_FIRST_OPTIONS)) {
		dprintf(report, "ptrace %d", errno);
		_exit(0);
	}
	if (write(report, "g", 1) != 1) /* CMD's process waits for this byte */
		kill(cmd, SIGKILL);
	close(report);
	drop_inherited_fds(keep, 2);
	t->follow(t->ctx, cmd, exec_gate);
}

/* Before exec: the tracer could not start or attach, or the filter failed. */
static int cannot_trace(const struct kl_tracer *t, const char *cmd, const char *stage, int err)
{
	if (strcmp(stage, "ptrace") == 0 && err == EPERM) {
		struct ka_ptrace_facts facts;
		char hint[600];
		ka_ptrace_facts_read(&facts);
		ka_ptrace_hint(&facts, hint, sizeof(hint));
		fprintf(stderr, "%s: cannot trace %s: ptrace: %s: %s\n", t->name, cmd, strerror(err), hint);
	} else
		fprintf(stderr, "%s: cannot trace %s: %s: %s\n", t->name, cmd, stage, strerror(err));
	return KA_EXIT_CANNOT_TRACE;
}

/* Traced, before exec, when this process cannot become CMD: the gate tells
 * the tracer that what ends now is not CMD. Without SIGPIPE: a tracer gone
 * must not turn this process's exit code into a death by signal. */
static void close_gate(int exec_gate)
{
	sigset_t pipe_only;

	sigemptyset(&pipe_only);
	sigaddset(&pipe_only, SIGPIPE);
	sigprocmask(SIG_BLOCK, &pipe_only, NULL);
	if (write(exec_gate, "x", 1) != 1)
		return;
}

int kl_run(const struct kl_tracer *t, char **argv)
{
	int report[2], exec_gate[2], err, read_err = 0, status;
	char msg[64] = "", stage[16] = "";
	bool ptracer_any;
	pid_t self = getpid(), mid;
	ssize_t n;

	if (pipe2(report, O_CLOEXEC) || pipe2(exec_gate, O_CLOEXEC | O_NONBLOCK))
		return cannot_trace(t, argv[0], "pipe", errno);
	/* yama ptrace_scope 1 lets a process trace only its descendants: allow
	 * ours (any, as its pid is not known yet) until it has attached. */
	ptracer_any = prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0) == 0;
	fflush(NULL);
	/* The middle child only forks the tracer and exits: vfork spares it a
	 * copy of this process's memory map, which it would never use. */
	if ((mid = vfork()) < 0)
		return cannot_trace(t, argv[0], "fork", errno);
	if (mid == 0) {
		pid_t child = fork();
		if (child == 0) {
			close(report[0]);
			close(exec_gate[1]);
			tracer(t, self, report[1], exec_gate[0]);
		}
		_exit(child < 0 ? 1 : 0);
	}
	close(report[1]);
	close(exec_gate[0]);
	while (waitpid(mid, &status, 0) < 0 && errno == EINTR) /* CMD gets no zombie */
		;
	/* While the tracer starts: the filter stops nothing before exec. */
	err = kf_install();
	while ((n = read(report[0], msg, sizeof(msg) - 1)) < 0 && errno == EINTR)
		;
	read_err = n < 0 ? errno : EAGAIN; /* EOF: the tracer was never forked */
	close(report[0]);
	if (ptracer_any)
		prctl(PR_SET_PTRACER, 0, 0, 0, 0);
	if (n != 1 || msg[0] != 'g') {
		msg[n > 0 ? n : 0] = '\0';
		if (sscanf(msg, "%15s %d", stage, &err) != 2)
			return cannot_trace(t, argv[0], "fork", read_err);
		return cannot_trace(t, argv[0], stage, err);
	}
	/* Traced from here: leave with _exit (LeakSanitizer cannot run under ptrace). */
	if (err != 0) {
		close_gate(exec_gate[1]);
		cannot_trace(t, argv[0], "installing the seccomp filter failed", err);
		_exit(KA_EXIT_CANNOT_TRACE);
	}
	execvp(argv[0], argv);
	err = errno;
	close_gate(exec_gate[1]);
	fprintf(stderr, "%s: %s: %s%s\n", t->name, argv[0], err == ENOENT ? "command not found" : strerror(err),
		err == ENOENT ? " (check the name and PATH)" : "");
	_exit(err == ENOENT ? KA_EXIT_NOT_FOUND : KA_EXIT_NOT_EXECUTABLE);
}
