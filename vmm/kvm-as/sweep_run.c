/* --sweep's runs: each one is CMD (with the value in place of {}) under
 * kvm-as MODEL in a child process, as `kvm-as MODEL --trace FILE -- CMD`
 * would run it, its stdout thrown away, its stderr and trace kept in
 * temporary files for the verdict, ended after --timeout. */
#include "sweep.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ka_exit.h"
#include "session.h"
#include "tracer.h"

#define TIMEOUT_EXIT 124 /* as timeout(1) */
#define KILL_GRACE_S 2   /* after SIGTERM, before SIGKILL */

struct sweep {
	const struct ka_args *a;
	const struct hm_model *model;
	unsigned phys_bits;
	char why[512];     /* why the last failing run failed */
	bool cannot_trace; /* a run could not start tracing: the sweep stops */
};

/* A temporary file, unlinked at once (only its fd is needed): -1 on failure. */
static int temp_file(void)
{
	const char *dir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/kvm-as-sweep-XXXXXX", dir);
	if ((fd = mkostemp(path, O_CLOEXEC)) >= 0)
		unlink(path);
	return fd;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Wait for `pid` until `deadline` (SIGCHLD is blocked): true when it ended. */
static bool wait_until(pid_t pid, double deadline, int *status)
{
	sigset_t chld;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	for (;;) {
		pid_t w = waitpid(pid, status, WNOHANG);
		double left = deadline - now();
		struct timespec ts;

		if (w == pid || (w < 0 && errno != EINTR))
			return true;
		if (left <= 0)
			return false;
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
		(void)sigtimedwait(&chld, NULL, &ts);
	}
}

/* In the child: CMD under the model, as kvm-as HOST --trace would run it. */
static _Noreturn void child(const struct sweep *sw, char **argv, int trace_fd, int err_fd,
			    const sigset_t *mask)
{
	struct ks_session s;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	sigprocmask(SIG_SETMASK, mask, NULL);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
	}
	dup2(err_fd, STDERR_FILENO);
	ks_init(&s, sw->model, trace_fd);
	s.ctx = HM_LIVE_KERNEL | (sw->a->strict ? HM_STRICT : 0);
	s.phys_bits = sw->phys_bits;
	s.no_summary = true;
	_exit(kt_run(&s, argv)); /* returns only when tracing could not start */
}

/* The last line of the run's stderr that is not kvm-as's own hazard or
 * refusal line, for a command that failed on its own. */
static void last_line(int fd, char *buf, size_t size)
{
	FILE *f;
	char line[1024];

	buf[0] = '\0';
	if (lseek(fd, 0, SEEK_SET) < 0 || (f = fdopen(dup(fd), "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] != '\0')
			snprintf(buf, size, "%.*s", (int)(size - 1), line);
	}
	fclose(f);
}

/* One run: CMD's exit code (124 after --timeout, 128+N after signal N). */
static int run_value(uint64_t value, void *ctx)
{
	struct sweep *sw = ctx;
	char text[32], last[400];
	char **argv;
	int trace_fd = temp_file(), err_fd = temp_file(), status = 0, code;
	sigset_t chld, old;
	bool timed_out = false;
	pid_t pid;

	ksw_format(value, sw->a->hex, text, sizeof(text));
	argv = ksw_substitute(sw->a->cmd, text);
	if (argv == NULL || trace_fd < 0 || err_fd < 0) {
		fprintf(stderr, "kvm-as: --sweep: cannot prepare a run (%s)\n",
			argv ? "no temporary file: check TMPDIR" : "out of memory");
		exit(KA_EXIT_CANNOT_TRACE);
	}
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	fflush(NULL);
	if ((pid = fork()) == 0)
		child(sw, argv, trace_fd, err_fd, &old);
	if (pid > 0 && !wait_until(pid, now() + sw->a->timeout_s, &status)) {
		timed_out = true;
		kill(pid, SIGTERM);
		if (!wait_until(pid, now() + KILL_GRACE_S, &status)) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
		}
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	ksw_free_argv(argv);
	if (pid < 0) {
		fprintf(stderr, "kvm-as: --sweep: fork: %s\n", strerror(errno));
		exit(KA_EXIT_CANNOT_TRACE);
	}
	code = timed_out ? TIMEOUT_EXIT
	       : WIFEXITED(status) ? WEXITSTATUS(status)
				   : 128 + WTERMSIG(status);
	last_line(err_fd, last, sizeof(last));
	if (code == KA_EXIT_CANNOT_TRACE && strncmp(last, "kvm-as: cannot trace", 20) == 0) {
		fprintf(stderr, "%s\n", last);
		sw->cannot_trace = true;
	}
	fprintf(stderr, "kvm-as: sweep: %s: %s: exit %d (%s)\n", sw->model->name, text, code,
		code == 0 ? "passes" : timed_out ? "timed out" : "fails");
	if (code != 0) {
		FILE *f = lseek(trace_fd, 0, SEEK_SET) == 0 ? fdopen(dup(trace_fd), "r") : NULL;
		if (timed_out)
			snprintf(sw->why, sizeof(sw->why), "timed out after %u s (--timeout)", sw->a->timeout_s);
		else if (f == NULL || !ksw_trace_reason(f, sw->why, sizeof(sw->why)))
			snprintf(sw->why, sizeof(sw->why), "no KVM call refused: the command failed on its own%s%s",
				 last[0] ? ": " : "", last);
		if (f)
			fclose(f);
	}
	close(trace_fd);
	close(err_fd);
	if (sw->cannot_trace)
		exit(KA_EXIT_CANNOT_TRACE);
	return code;
}

int ksw_sweep(const struct ka_args *a, unsigned phys_bits)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};

	/* A parent that ignores SIGCHLD would make the runs' ends unwaitable. */
	sigaction(SIGCHLD, &dfl, NULL);
	for (unsigned i = 0; i < a->model_count; i++) {
		struct sweep sw = {.a = a, .model = a->models[i], .phys_bits = phys_bits};
		struct ksw_result r;
		char pass[32] = "-", fail[32] = "-";

		ksw_bisect(a->lo, a->hi, a->align, run_value, &sw, &r);
		if (!r.fails_at_lo)
			ksw_format(r.pass, a->hex, pass, sizeof(pass));
		if (!r.passes_at_hi)
			ksw_format(r.fail, a->hex, fail, sizeof(fail));
		if (r.passes_at_hi)
			printf("sweep: %s: pass=%s fail=- runs=%u: passes at HI\n", sw.model->name, pass,
			       r.runs);
		else
			printf("sweep: %s: pass=%s fail=%s exit=%d runs=%u: %s%s\n", sw.model->name, pass,
			       fail, r.fail_code, r.runs, r.fails_at_lo ? "fails at LO: " : "", sw.why);
		fflush(stdout);
	}
	return 0;
}
