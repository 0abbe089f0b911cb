/* The memslot-related KVM ioctls kvm-as follows: one table whose rows carry
 * their own functions (as strace's src/kvm.c has one decoder per ioctl):
 * the seccomp filter reads the numbers, the tracer decodes and describes
 * through the rows, the session writes each --trace line's fields through
 * them, the strace-log parser parses each argument and the --kvm replay
 * issues each call again. A new ioctl is one row. */
#ifndef KVM_AS_KVM_CALLS_H
#define KVM_AS_KVM_CALLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostmodel.h"
#include "textbuf.h"

enum kc_kind { KC_CREATE_VM, KC_MODEL };

struct kc_call;

/* Reads from the tracee: copies `len` bytes at `addr` (0 on success). */
typedef int (*kc_reader)(void *ctx, uint64_t addr, void *buf, size_t len);

/* One followed ioctl. A NULL function: the call has no argument to read,
 * print or parse, or (replay) is not issued as such. */
struct kc_ioctl {
	uint32_t request;
	const char *name;
	enum kc_kind kind;
	enum hm_call call; /* for KC_MODEL */
	/* At the seccomp stop: the argument (`arg`, or what it points to in
	 * the tracee). False when it cannot be read. */
	bool (*decode)(struct kc_call *c, uint64_t arg, kc_reader read, void *ctx);
	/* The whole line of kc_describe, the name included. */
	void (*describe)(const struct kc_call *c, struct tbuf *b);
	/* The call's own fields of a --trace JSON line (each ",\"key\":value");
	 * `v` is the host model's verdict. */
	void (*trace)(const struct kc_call *c, const struct hm_verdict *v, struct tbuf *b);
	/* strace's text of the argument (after "REQUEST, "): NULL, or what is
	 * wrong with it. Clears *arg_known (and c->modelled where the model
	 * cannot follow) when strace printed only a pointer. */
	const char *(*parse)(const char *arg, struct kc_call *c, bool *arg_known);
	/* --kvm: the same call on a real VM; `uaddr` backs a slot. Returns
	 * what ioctl returns (-1 with errno set on failure). */
	int (*replay)(int vm_fd, const struct kc_call *c, uint64_t uaddr);
};

extern const struct kc_ioctl kc_ioctls[];
extern const unsigned kc_ioctl_count;

const struct kc_ioctl *kc_by_request(uint32_t request);
const struct kc_ioctl *kc_by_name(const char *name, size_t len);

/* KVM_SET_USER_MEMORY_REGION(2): the calls that create, move or delete a
 * slot (whose host memory a replay provides). */
bool kc_sets_slot(const struct kc_ioctl *k);

/* One decoded call. */
struct kc_call {
	const struct kc_ioctl *ioctl;
	int fd;
	struct hm_event ev;
	uint64_t uaddr;    /* userspace_addr of a slot */
	uint64_t arg;      /* vCPU id, machine type, cap args[0] */
	uint32_t cap;      /* KVM_ENABLE_CAP's capability */
	bool modelled;     /* false: KVM_ENABLE_CAP of another capability */
};

/* A call of `k` on `fd` whose argument is not read yet. */
void kc_init(struct kc_call *c, const struct kc_ioctl *k, int fd, uint64_t arg);

/* Decode from the tracee through the row's decoder. */
bool kc_decode(const struct kc_ioctl *k, int fd, uint64_t arg, kc_reader read, void *ctx,
	       struct kc_call *out);

/* One line describing the call: "KVM_SET_USER_MEMORY_REGION slot 17 [a-b]". */
void kc_describe(const struct kc_call *c, char *buf, size_t size);
void kc_describe_to(const struct kc_call *c, struct tbuf *b);

/* The call's own fields of a --trace line. */
void kc_trace_fields(const struct kc_call *c, const struct hm_verdict *v, struct tbuf *b);

/* Why `v` refuses `c` and the way out, one sentence; for HM_ALLOW, its first
 * hazard (what --strict refuses), or empty. */
void kc_explain(const struct kc_call *c, const struct hm_verdict *v, char *buf, size_t size);

/* Hazard `d` of `v` (an allowed call that hides that in-kernel device page
 * from the guest): which page, why no host reports it, the way out. */
void kc_explain_hazard(const struct kc_call *c, const struct hm_verdict *v, enum hm_device d,
		       char *buf, size_t size);

/* The errnos these ioctls return, by name as strace prints them: "EEXIST"
 * for EEXIST, NULL for another; -1 for a name not in the table. */
const char *kc_errno_name(int err);
int kc_errno_by_name(const char *name, size_t len);

#endif
