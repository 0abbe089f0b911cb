/* What kvm-as knows about the traced VMM: its VMs (each judged by every host
 * model at once), which fd of which process is which VM, and the calls in
 * flight. Pure bookkeeping: the tracer feeds it, tests can too. */
#ifndef KVM_AS_SESSION_H
#define KVM_AS_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "kvm_calls.h"

#define KS_MAX_MODELS 8
#define KS_MAX_VM_FDS 64 /* per process */
#define KS_MAX_REFUSALS 16 /* remembered per VM and model, for the summary */
#define KS_MAX_HAZARDS 8   /* likewise */

struct ks_vm {
	unsigned id; /* 1, 2, ... in creation order */
	pid_t pid;
	int fd;
	struct hm_vm model[KS_MAX_MODELS];
	unsigned refusals[KS_MAX_MODELS];
	char first[KS_MAX_MODELS][KS_MAX_REFUSALS][160];
	/* Calls that took effect and hide an in-kernel device, per model */
	unsigned hazards[KS_MAX_MODELS];
	char hazard[KS_MAX_MODELS][KS_MAX_HAZARDS][240];
	unsigned named; /* devices whose hazard the host model named on stderr (once per VM) */
	uint64_t top;   /* the highest byte of any slot the VMM created or moved */
	bool any_slot;
};

struct ks_proc {
	pid_t tgid;
	unsigned count;
	struct {
		int fd;
		struct ks_vm *vm;
	} fds[KS_MAX_VM_FDS];
};

/* How far behind the calls the trace file may be while the command runs. */
#define KS_TRACE_FLUSH_NS 200000000
/* The longest --trace line: every field at its widest, all hazards named. */
#define KS_TRACE_LINE_MAX 2048
/* The lines are built in place here and written together: a write per call
 * would add a system call to every traced call. */
#define KS_TRACE_BUF (1 << 16)

/* The --trace file. */
struct ks_trace {
	int fd;             /* -1: none (or closed by ks_finish) */
	bool failed;        /* a write failed: said once, nothing more written */
	size_t len;         /* bytes in buf not written yet */
	int64_t flushed_ns; /* when buf last went out (a call's time) */
	char buf[KS_TRACE_BUF];
};

struct ks_session {
	const struct hm_model *host; /* the model whose refusals are applied */
	unsigned host_index;
	enum hm_context ctx;         /* HM_LIVE_KERNEL, | HM_STRICT with --strict */
	unsigned phys_bits;          /* each model VM's MAXPHYADDR (--phys-bits) */
	bool no_summary;             /* --sweep's runs: the trace file alone */
	unsigned vm_count, proc_count, proc_cap;
	struct ks_vm **vms;
	struct ks_proc *procs;
	struct ks_trace trace; /* JSON lines, one per call; last: ks_init clears what is before it */
};

/* A call between its seccomp stop and its syscall exit. */
struct ks_pending {
	struct kc_call call;
	struct ks_vm *vm; /* NULL: KVM_CREATE_VM or an fd that is no VM */
	struct hm_verdict v[KS_MAX_MODELS];
	bool refuse; /* the host model refuses: the call never reaches KVM */
	int64_t time_ns; /* CLOCK_REALTIME at the seccomp stop, with --trace */
	unsigned new_hazards; /* ks_end: the host model's hazards to name now (devices) */
};

/* Strictness off, phys_bits SR_PHYS_BITS_MAX: the caller sets them.
 * trace_fd: the --trace file's, or -1; the session writes and closes it. */
void ks_init(struct ks_session *s, const struct hm_model *host, int trace_fd);
void ks_free(struct ks_session *s);

/* Process bookkeeping: a new process copies its parent's table (fork);
 * exec clears it (KVM fds are close-on-exec in practice). */
struct ks_proc *ks_proc(struct ks_session *s, pid_t tgid);
void ks_fork(struct ks_session *s, pid_t parent_tgid, pid_t child_tgid);
void ks_exec(struct ks_session *s, pid_t tgid);

/* A VM fd found another way (inherited, dup'ed): start following it. */
struct ks_vm *ks_adopt(struct ks_session *s, pid_t tgid, int fd);
struct ks_vm *ks_lookup(struct ks_session *s, pid_t tgid, int fd);

/* At the seccomp stop: judge the call under every model. */
void ks_begin(struct ks_session *s, pid_t tgid, const struct kc_call *c, struct ks_pending *p);

/* At the syscall exit: `result` is what the caller gets (-errno or >= 0).
 * Records the effect, writes the trace line, and returns true when this is
 * the host model's first refusal in that VM (so the tracer can say so);
 * sets p->new_hazards to the devices whose hazard the host model names now
 * (the first time in that VM). */
bool ks_end(struct ks_session *s, pid_t pid, pid_t tgid, struct ks_pending *p, long result);

/* The lines the tracer writes after ks_end: the host model's first refusal
 * in a VM (`first_refusal`) and each hazard of p->new_hazards, one line each. */
void ks_announce(const struct ks_session *s, const struct ks_pending *p, bool first_refusal,
		 FILE *out);

/* What a hazard summary line says: the call and the device pages it hides. */
void ks_hazard_text(const struct kc_call *c, const struct hm_verdict *v, char *buf, size_t size);

/* At exit: per model, which calls it would refuse and which hide a device;
 * per VM, the address width it needs. */
void ks_summary(const struct ks_session *s, FILE *out);

/* When the command ends: with a trace, write the rest, close it and print
 * the summary. */
void ks_finish(struct ks_session *s, FILE *out);

#endif
