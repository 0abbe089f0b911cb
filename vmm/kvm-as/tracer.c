#include "tracer.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "launch.h"

/* One traced thread. */
struct task {
	pid_t pid, tgid;
	bool in_call; /* between a seccomp stop and its syscall exit */
	bool options_set; /* all our ptrace options (KL_OPTIONS) */
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
 * copies its parent's VM table (fork semantics). Both are in the first
 * lines: one read, no stdio (a stop waits for this). */
static void read_ids(pid_t pid, pid_t *tgid, pid_t *ppid)
{
	char path[64], buf[512];
	const char *at;
	ssize_t n;
	int fd;

	*tgid = pid;
	*ppid = 0;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	if ((at = strstr(buf, "\nTgid:")) != NULL)
		*tgid = (pid_t)atoi(at + 6);
	if ((at = strstr(buf, "\nPPid:")) != NULL)
		*ppid = (pid_t)atoi(at + 6);
}

static bool proc_known(const struct ks_session *s, pid_t tgid)
{
	for (unsigned i = 0; i < s->proc_count; i++)
		if (s->procs[i].tgid == tgid)
			return true;
	return false;
}

/* `cmd`: pid is CMD's own process, whose ids we know (no /proc read). */
static struct task *add_task(struct ks_session *s, pid_t pid, bool cmd)
{
	pid_t tgid = pid, ppid = 0;

	if (!cmd)
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

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The ioctl's fd, request and argument at its seccomp stop. The syscall
 * info is three words of the registers where GETREGS copies all of them;
 * GETREGS where the kernel lacks it (before 5.3). */
static bool ioctl_args(pid_t pid, uint64_t args[3])
{
	struct __ptrace_syscall_info info;
	struct user_regs_struct regs;

	if (ptrace(PTRACE_GET_SYSCALL_INFO, pid, (void *)sizeof(info), &info) > 0 &&
	    info.op == PTRACE_SYSCALL_INFO_SECCOMP) {
		memcpy(args, info.seccomp.args, 3 * sizeof(args[0]));
		return true;
	}
	if (ptrace(PTRACE_GETREGS, pid, NULL, &regs))
		return false;
	args[0] = regs.rdi;
	args[1] = regs.rsi;
	args[2] = regs.rdx;
	return true;
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

/* A call's outcome: record it, and name the host model's first refusal in
 * the VM and each hazard the first time (ks_announce). */
static void finish_call(struct ks_session *s, struct task *t, long result)
{
	bool first = ks_end(s, t->pid, t->tgid, &t->pending, result);

	ks_announce(s, &t->pending, first, stderr);
}

/* The seccomp stop of a traced ioctl: judge it. A refused call becomes
 * syscall -1, which the kernel skips, returning the rax we set (seccomp(2),
 * SECCOMP_RET_TRACE): no exit stop; the errno is the model's (hm_errno). True when the exit stop is wanted. */
static bool on_seccomp(struct ks_session *s, struct task *t)
{
	struct user_regs_struct regs;
	const struct kc_ioctl *k;
	struct kc_call call;
	uint64_t args[3];
	int err;

	if (!ioctl_args(t->pid, args))
		return false;
	k = kc_by_request((uint32_t)args[1]);
	if (k == NULL || !kc_decode(k, (int)args[0], args[2], read_mem, &t->pid, &call))
		return false; /* an unreadable argument: KVM gives the caller its EFAULT */
	if (k->kind == KC_MODEL && ks_lookup(s, t->tgid, call.fd) == NULL && is_vm_fd(t->pid, call.fd))
		ks_adopt(s, t->tgid, call.fd);
	ks_begin(s, t->tgid, &call, &t->pending);
	if (s->trace.fd >= 0)
		t->pending.time_ns = now_ns(); /* the trace line's; nothing else reads it */
	t->in_call = true;
	if (!t->pending.refuse)
		return true;
	err = hm_errno(&t->pending.v[s->host_index]); /* EEXIST, or EINVAL beyond --phys-bits */
	if (ptrace(PTRACE_GETREGS, t->pid, NULL, &regs)) {
		t->in_call = false;
		return false;
	}
	regs.orig_rax = (unsigned long long)-1;
	regs.rax = (unsigned long long)-err;
	if (ptrace(PTRACE_SETREGS, t->pid, NULL, &regs) == 0)
		finish_call(s, t, -err);
	t->in_call = false;
	return false;
}

/* The result is rax alone: one word, not the whole register set. */
static void on_syscall_exit(struct ks_session *s, struct task *t)
{
	long rax;

	errno = 0;
	rax = ptrace(PTRACE_PEEKUSER, t->pid, (void *)offsetof(struct user_regs_struct, rax), NULL);
	if (errno == 0)
		finish_call(s, t, rax);
	t->in_call = false;
}

static bool interrupt_signal(int sig)
{
	return sig == SIGINT || sig == SIGTERM || sig == SIGHUP;
}

static void kill_all(void)
{
	for (unsigned i = 0; i < task_count; i++)
		kill(tasks[i].pid, SIGKILL);
}

static void say_killed(const char *cmd, int sig)
{
	fprintf(stderr, "kvm-as: %s was killed by signal %d (%s)\n", cmd, sig, strsignal(sig));
}

/* The tracer's state from one stop to the next. */
struct tracer {
	struct ks_session *s;
	pid_t main_pid;   /* CMD's process (kvm-as's own) */
	int exec_gate;    /* see kl_cmd_ran() */
	const char *cmd;
	int stop_signal;  /* the SIGINT, SIGTERM or SIGHUP the tracer got, or 0 */
	bool finished;    /* CMD's process has ended (reported, not reaped) */
	bool interrupted; /* CMD itself got SIGINT, SIGTERM or SIGHUP */
};

/* SIGINT, SIGTERM or SIGHUP sent to the tracer itself, and CMD's process. */
static volatile sig_atomic_t tracer_signal;
static pid_t signal_victim;

/* The tracer sleeps in waitid, which a signal interrupts (EINTR) unless it
 * comes just before the call: killing CMD here wakes waitid in any case.
 * kill() is async-signal-safe; the loop does the rest (on_tracer_signal). */
static void on_interrupt(int sig)
{
	if (!tracer_signal)
		tracer_signal = sig;
	kill(signal_victim, SIGKILL);
}

/* kl_tracer's prepare: SIGINT, SIGTERM and SIGHUP sent to the tracer stop
 * CMD. One blocking waitid per stop, as a minimal tracer has: no signalfd,
 * whose SIGCHLD would cost two more system calls at each stop. */
static void tracer_signals(void *ctx, pid_t main_pid)
{
	struct sigaction stop = {.sa_handler = on_interrupt}; /* no SA_RESTART: waitid gets EINTR */
	sigset_t mask;

	(void)ctx;
	signal_victim = main_pid;
	sigaction(SIGINT, &stop, NULL);
	sigaction(SIGTERM, &stop, NULL);
	sigaction(SIGHUP, &stop, NULL);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_UNBLOCK, &mask, NULL);
}

/* A signal for the tracer itself: SIGINT, SIGTERM or SIGHUP stops CMD and
 * its children (once). */
static void on_tracer_signal(struct tracer *tr)
{
	if (tracer_signal && !tr->stop_signal) {
		tr->stop_signal = (int)tracer_signal;
		fprintf(stderr, "kvm-as: interrupted by %s: stopping %s and its children\n",
			strsignal(tr->stop_signal), tr->cmd);
		kill_all();
	}
}

/* A task ended. CMD's own end is reported (and the summary written) before
 * anything reaps it: its caller learns of it only then. */
static void on_task_exit(struct tracer *tr, const siginfo_t *info)
{
	pid_t pid = info->si_pid;

	if (pid == tr->main_pid && !tr->finished) {
		bool killed = info->si_code != CLD_EXITED, ran = kl_cmd_ran(tr->exec_gate);
		if (killed && ran && !tr->stop_signal)
			say_killed(tr->cmd, info->si_status);
		if (ran)
			ks_finish(tr->s, stderr);
		tr->finished = true;
		if (killed || tr->interrupted)
			kill_all(); /* Ctrl-C or a kill: nothing of CMD's stays behind */
		if (task_count == 1)
			_exit(0); /* not reaped: its caller gets it as we go, so we end first */
	}
	if (waitpid(pid, NULL, __WALL | WNOHANG) > 0)
		drop_task(pid);
}

/* An exec in a traced process: a thread that exec'ed became the leader;
 * the process's VM fds are gone. */
static void on_exec(struct tracer *tr, pid_t pid)
{
	unsigned long old = 0;
	struct task *t;

	ptrace(PTRACE_GETEVENTMSG, pid, NULL, &old);
	if ((pid_t)old != pid)
		drop_task((pid_t)old); /* a thread exec'ed: it became the leader */
	t = find_task(pid);
	if (t)
		t->in_call = false;
	ks_exec(tr->s, t ? t->tgid : pid);
	ptrace(PTRACE_CONT, pid, NULL, NULL);
}

/* A task stopped: a system call's seccomp stop or exit, an exec, a new
 * task, a group-stop, or a signal to pass on. Every stop ends resumed. */
static void on_stop(struct tracer *tr, const siginfo_t *info)
{
	pid_t pid = info->si_pid;
	struct task *t = find_task(pid);
	int sig, event;

	if (t == NULL)
		t = add_task(tr->s, pid, false); /* a new thread or child: auto-attached */
	if (!t->options_set)
		t->options_set = ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(long)KL_OPTIONS) == 0;
	if (tr->stop_signal) {
		kill(pid, SIGKILL);
		ptrace(PTRACE_CONT, pid, NULL, NULL);
		return;
	}
	/* waitid's si_status is the stop's whole code: event << 8 | signal. */
	sig = info->si_status & 0xff;
	event = info->si_status >> 8;
	if (sig == (SIGTRAP | 0x80)) {
		if (t->in_call)
			on_syscall_exit(tr->s, t);
		ptrace(PTRACE_CONT, pid, NULL, NULL);
	} else if (sig == SIGTRAP && event == PTRACE_EVENT_SECCOMP) {
		/* PTRACE_SYSCALL: the next stop is this call's exit. */
		ptrace(on_seccomp(tr->s, t) ? PTRACE_SYSCALL : PTRACE_CONT, pid, NULL, NULL);
	} else if (sig == SIGTRAP && event == PTRACE_EVENT_EXEC) {
		on_exec(tr, pid);
	} else if (event == PTRACE_EVENT_STOP) {
		if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU)
			ptrace(PTRACE_LISTEN, pid, NULL, NULL); /* group-stop: stay stopped */
		else
			ptrace(PTRACE_CONT, pid, NULL, NULL); /* a new task's first stop */
	} else if (event) {
		ptrace(PTRACE_CONT, pid, NULL, NULL); /* fork, clone, vfork, vfork-done: nothing to pass on */
	} else {
		if (t->tgid == tr->main_pid && interrupt_signal(sig))
			tr->interrupted = true; /* CMD got Ctrl-C or a kill: its end ends its children */
		ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig); /* a signal for the tracee: deliver it */
	}
}

struct follow_ctx {
	struct ks_session *s;
	const char *cmd;
};

/* kl_tracer's follow: every stop until every tracee is gone. Never returns. */
static _Noreturn void follow(void *ctx, pid_t main_pid, int exec_gate)
{
	struct follow_ctx *f = ctx;
	struct ks_session *s = f->s;
	struct tracer tr = {.s = s, .main_pid = main_pid, .exec_gate = exec_gate, .cmd = f->cmd};

	add_task(s, main_pid, true);
	for (;;) {
		siginfo_t next = {0};

		on_tracer_signal(&tr);
		/* Look without reaping: CMD's caller learns of its end only when
		 * we reap it (or exit), so the report and the summary come first.
		 * A stop needs no reaping either: resuming the task ends it. */
		if (waitid(P_ALL, 0, &next, WEXITED | WSTOPPED | WNOWAIT | __WALL) < 0) {
			if (errno == EINTR)
				continue;
			break; /* ECHILD: every tracee is gone */
		}
		if (next.si_code == CLD_EXITED || next.si_code == CLD_KILLED ||
			 next.si_code == CLD_DUMPED)
			on_task_exit(&tr, &next);
		else if (next.si_code == CLD_TRAPPED || next.si_code == CLD_STOPPED)
			on_stop(&tr, &next);
	}
	if (!tr.finished && kl_cmd_ran(exec_gate))
		ks_finish(s, stderr);
	_exit(0);
}

int kt_run(struct ks_session *s, char **argv)
{
	struct follow_ctx f = {.s = s, .cmd = argv[0]};
	struct kl_tracer t = {
		.name = "kvm-as", .keep_fd = s->trace.fd, .prepare = tracer_signals, .follow = follow, .ctx = &f,
	};

	return kl_run(&t, argv);
}
