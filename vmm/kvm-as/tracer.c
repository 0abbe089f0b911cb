#include "tracer.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "filter.h"

/* One traced thread. */
struct task {
	pid_t pid, tgid;
	bool in_call; /* between a seccomp stop and its syscall exit */
	struct ks_pending pending;
};

static struct task *tasks;
static unsigned task_count, task_cap;

static struct task *find_task(pid_t pid)
{
	for (unsigned i = 0; i < task_count; i++)
		if (tasks[i].pid == pid)
			return &tasks[i];
	return NULL;
}

static void drop_task(pid_t pid)
{
	struct task *t = find_task(pid);
	if (t)
		*t = tasks[--task_count];
}

/* Tgid and PPid from /proc: a thread joins its process, a new process
 * copies its parent's VM table (fork semantics). */
static void read_ids(pid_t pid, pid_t *tgid, pid_t *ppid)
{
	char path[64], line[256];
	FILE *f;

	*tgid = pid;
	*ppid = 0;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return;
	while (fgets(line, sizeof(line), f)) {
		int v;
		if (sscanf(line, "Tgid: %d", &v) == 1)
			*tgid = v;
		else if (sscanf(line, "PPid: %d", &v) == 1)
			*ppid = v;
	}
	fclose(f);
}

static bool proc_known(const struct ks_session *s, pid_t tgid)
{
	for (unsigned i = 0; i < s->proc_count; i++)
		if (s->procs[i].tgid == tgid)
			return true;
	return false;
}

static struct task *add_task(struct ks_session *s, pid_t pid)
{
	pid_t tgid, ppid;

	read_ids(pid, &tgid, &ppid);
	if (!proc_known(s, tgid)) {
		if (ppid && proc_known(s, ppid))
			ks_fork(s, ppid, tgid);
		else
			(void)ks_proc(s, tgid);
	}
	if (task_count == task_cap) {
		task_cap = task_cap ? 2 * task_cap : 32;
		tasks = realloc(tasks, task_cap * sizeof(*tasks));
		if (tasks == NULL) {
			fprintf(stderr, "kvm-as: out of memory\n");
			exit(KA_EXIT_CANNOT_TRACE);
		}
	}
	tasks[task_count] = (struct task){.pid = pid, .tgid = tgid};
	return &tasks[task_count++];
}

static int read_mem(void *ctx, uint64_t addr, void *buf, size_t len)
{
	pid_t pid = *(pid_t *)ctx;
	struct iovec local = {buf, len}, remote = {(void *)(uintptr_t)addr, len};

	if (process_vm_readv(pid, &local, 1, &remote, 1, 0) == (ssize_t)len)
		return 0;
	/* Fallback where process_vm_readv is not allowed: word by word. */
	for (size_t off = 0; off < len; off += sizeof(long)) {
		long word;
		errno = 0;
		word = ptrace(PTRACE_PEEKDATA, pid, (void *)(uintptr_t)(addr + off), NULL);
		if (errno)
			return -1;
		memcpy((char *)buf + off, &word, len - off < sizeof(long) ? len - off : sizeof(long));
	}
	return 0;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* An fd that is a KVM VM but was not created under our eyes (inherited
 * across exec, passed over a socket, dup'ed): its /proc link says so. */
static bool is_vm_fd(pid_t pid, int fd)
{
	char path[64], link[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return false;
	link[n] = '\0';
	return strcmp(link, "anon_inode:kvm-vm") == 0;
}

/* The seccomp stop of a traced ioctl: judge it; refuse it by turning it into
 * syscall -1 (the kernel skips it), the error goes in at the exit stop. */
static void on_seccomp(struct ks_session *s, struct task *t)
{
	struct user_regs_struct regs;
	const struct kc_ioctl *k;
	struct kc_call call;

	if (ptrace(PTRACE_GETREGS, t->pid, NULL, &regs))
		return;
	k = kc_by_request((uint32_t)regs.rsi);
	if (k == NULL || !kc_decode(k, (int)regs.rdi, regs.rdx, read_mem, &t->pid, &call))
		return; /* an unreadable argument: KVM gives the caller its EFAULT */
	if (k->kind == KC_MODEL && ks_lookup(s, t->tgid, call.fd) == NULL && is_vm_fd(t->pid, call.fd))
		ks_adopt(s, t->tgid, call.fd);
	ks_begin(s, t->tgid, &call, &t->pending);
	t->pending.time = now();
	t->in_call = true;
	if (t->pending.refuse) {
		regs.orig_rax = (unsigned long long)-1;
		ptrace(PTRACE_SETREGS, t->pid, NULL, &regs);
	}
}

static void on_syscall_exit(struct ks_session *s, struct task *t)
{
	struct user_regs_struct regs;
	long result;
	char what[200], why[600];

	t->in_call = false;
	if (ptrace(PTRACE_GETREGS, t->pid, NULL, &regs))
		return;
	if (t->pending.refuse) {
		regs.rax = (unsigned long long)-EEXIST;
		ptrace(PTRACE_SETREGS, t->pid, NULL, &regs);
	}
	result = (long)regs.rax;
	if (ks_end(s, t->pid, t->tgid, &t->pending, result)) {
		const struct hm_verdict *v = &t->pending.v[s->host_index];
		kc_describe(&t->pending.call, what, sizeof(what));
		kc_explain(&t->pending.call, v, why, sizeof(why));
		fprintf(stderr, "kvm-as: %s: VM %u: %s refused with EEXIST: %s\n", s->host->name,
			t->pending.vm->id, what, why);
	}
}

static bool interrupted_by(int sig)
{
	return sig == SIGINT || sig == SIGTERM || sig == SIGHUP;
}

static void kill_all(void)
{
	for (unsigned i = 0; i < task_count; i++)
		kill(tasks[i].pid, SIGKILL);
}

/* The child: wait until the tracer has seized us (a byte, or EOF if it could
 * not: then it kills us), then the filter, then exec. No stop is needed.
 * A failure goes up the close-on-exec pipe as "<stage> <errno>". */
static void child(int report, int go, char **argv, const sigset_t *orig, const struct sigaction *chld)
{
	char byte;
	int err;

	sigaction(SIGCHLD, chld, NULL); /* the command gets the disposition we were given */
	sigprocmask(SIG_SETMASK, orig, NULL);
	while (read(go, &byte, 1) < 0 && errno == EINTR)
		;
	close(go);
	if ((err = kf_install()) != 0) {
		dprintf(report, "seccomp %d", err);
		_exit(KA_EXIT_CANNOT_TRACE);
	}
	execvp(argv[0], argv);
	dprintf(report, "exec %d", errno);
	_exit(errno == ENOENT ? KA_EXIT_NOT_FOUND : KA_EXIT_NOT_EXECUTABLE);
}

static int verdict_of(int status, const char *cmd)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	fprintf(stderr, "kvm-as: %s was killed by signal %d (%s)\n", cmd, WTERMSIG(status),
		strsignal(WTERMSIG(status)));
	return 128 + WTERMSIG(status);
}

/* The child failed before exec (it has exited): say why. */
static int startup_failure(const char *msg, const char *cmd)
{
	char stage[16] = "";
	int err = 0;

	sscanf(msg, "%15s %d", stage, &err);
	if (strcmp(stage, "exec") == 0) {
		fprintf(stderr, "kvm-as: %s: %s%s\n", cmd,
			err == ENOENT ? "command not found" : strerror(err),
			err == ENOENT ? " (check the name and PATH)" : "");
		return err == ENOENT ? KA_EXIT_NOT_FOUND : KA_EXIT_NOT_EXECUTABLE;
	}
	fprintf(stderr, "kvm-as: cannot trace %s: installing the seccomp filter failed: %s\n", cmd,
		strerror(err));
	return KA_EXIT_CANNOT_TRACE;
}

int kt_run(struct ks_session *s, char **argv)
{
	const long opts = PTRACE_O_TRACESECCOMP | PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE |
			  PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC |
			  PTRACE_O_EXITKILL;
	struct sigaction dfl = {.sa_handler = SIG_DFL}, chld;
	sigset_t mask, orig;
	int pipefd[2], gofd[2], sfd, status, main_status = 0, stop_signal = 0;
	bool main_done = false, exec_seen = false;
	int startup_rc = -1;
	char msg[64] = "";
	ssize_t n;
	pid_t pid, main_pid;

	/* An ignored SIGCHLD (inherited) would never reach the signalfd. */
	sigaction(SIGCHLD, &dfl, &chld);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, &orig);
	if ((sfd = signalfd(-1, &mask, SFD_CLOEXEC)) < 0 || pipe2(pipefd, O_CLOEXEC) ||
	    pipe2(gofd, O_CLOEXEC)) {
		fprintf(stderr, "kvm-as: cannot trace %s: %s\n", argv[0], strerror(errno));
		return KA_EXIT_CANNOT_TRACE;
	}
	if ((main_pid = fork()) < 0) {
		fprintf(stderr, "kvm-as: cannot trace %s: fork: %s\n", argv[0], strerror(errno));
		return KA_EXIT_CANNOT_TRACE;
	}
	if (main_pid == 0) {
		close(gofd[1]);
		child(pipefd[1], gofd[0], argv, &orig, &chld);
	}
	close(pipefd[1]);
	close(gofd[0]);
	if (ptrace(PTRACE_SEIZE, main_pid, NULL, (void *)opts)) {
		fprintf(stderr, "kvm-as: cannot trace %s: ptrace: %s (is kvm-as itself traced, or ptrace "
			"forbidden here, e.g. by a container's seccomp profile or yama ptrace_scope 3?)\n",
			argv[0], strerror(errno));
		kill(main_pid, SIGKILL);
		waitpid(main_pid, &status, 0);
		return KA_EXIT_CANNOT_TRACE;
	}
	add_task(s, main_pid);
	if (write(gofd[1], "g", 1) != 1) {
		fprintf(stderr, "kvm-as: cannot trace %s: %s\n", argv[0], strerror(errno));
		kill(main_pid, SIGKILL);
	}
	close(gofd[1]);

	for (;;) {
		struct signalfd_siginfo si;
		struct task *t;
		int sig, event, inject = 0;

		pid = waitpid(-1, &status, __WALL | WNOHANG);
		if (pid == 0) {
			if (read(sfd, &si, sizeof(si)) == sizeof(si) && interrupted_by((int)si.ssi_signo) &&
			    !stop_signal) {
				stop_signal = (int)si.ssi_signo;
				kill_all();
			}
			continue;
		}
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break; /* ECHILD: every tracee is gone */
		}
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			drop_task(pid);
			if (pid == main_pid) {
				main_status = status;
				main_done = true;
				/* Before exec: the pipe says whether the filter or exec failed. */
				if (!exec_seen && (n = read(pipefd[0], msg, sizeof(msg) - 1)) > 0) {
					msg[n] = '\0';
					startup_rc = startup_failure(msg, argv[0]);
				}
			}
			continue;
		}
		if (!WIFSTOPPED(status))
			continue;
		if ((t = find_task(pid)) == NULL)
			t = add_task(s, pid); /* a new thread or child: auto-attached */
		if (stop_signal) {
			kill(pid, SIGKILL);
			ptrace(PTRACE_CONT, pid, NULL, NULL);
			continue;
		}
		sig = WSTOPSIG(status);
		event = status >> 16;
		if (sig == (SIGTRAP | 0x80)) {
			if (t->in_call)
				on_syscall_exit(s, t);
			ptrace(PTRACE_CONT, pid, NULL, NULL);
			continue;
		}
		if (sig == SIGTRAP && event == PTRACE_EVENT_SECCOMP) {
			on_seccomp(s, t);
			/* PTRACE_SYSCALL: the next stop is this call's exit. */
			ptrace(t->in_call ? PTRACE_SYSCALL : PTRACE_CONT, pid, NULL, NULL);
			continue;
		}
		if (sig == SIGTRAP && event == PTRACE_EVENT_EXEC) {
			unsigned long old = 0;
			ptrace(PTRACE_GETEVENTMSG, pid, NULL, &old);
			if ((pid_t)old != pid)
				drop_task((pid_t)old); /* a thread exec'ed: it became the leader */
			t = find_task(pid);
			if (t)
				t->in_call = false;
			ks_exec(s, t ? t->tgid : pid);
			exec_seen = true;
			ptrace(PTRACE_CONT, pid, NULL, NULL);
			continue;
		}
		if (event == PTRACE_EVENT_STOP) {
			if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU)
				ptrace(PTRACE_LISTEN, pid, NULL, NULL); /* group-stop: stay stopped */
			else
				ptrace(PTRACE_CONT, pid, NULL, NULL); /* a new task's first stop */
			continue;
		}
		if (event)
			inject = 0; /* fork, clone, vfork, vfork-done: nothing to pass on */
		else
			inject = sig; /* a signal for the tracee: deliver it */
		ptrace(PTRACE_CONT, pid, NULL, (void *)(long)inject);
	}
	close(sfd);
	close(pipefd[0]);
	free(tasks);
	tasks = NULL;
	task_count = task_cap = 0;
	if (stop_signal) {
		fprintf(stderr, "kvm-as: interrupted by %s: stopped %s and its children\n",
			strsignal(stop_signal), argv[0]);
		return 128 + stop_signal;
	}
	if (startup_rc >= 0)
		return startup_rc;
	return main_done ? verdict_of(main_status, argv[0]) : KA_EXIT_CANNOT_TRACE;
}
