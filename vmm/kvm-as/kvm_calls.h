/* The memslot-related KVM ioctls kvm-as follows: one table, read by the
 * seccomp filter, the tracer's decoder, the strace-log parser and the --kvm
 * replay (in the spirit of strace's src/kvm.c: one entry per ioctl). */
#ifndef KVM_AS_KVM_CALLS_H
#define KVM_AS_KVM_CALLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostmodel.h"

enum kc_kind { KC_CREATE_VM, KC_MODEL };

struct kc_ioctl {
	uint32_t request;
	const char *name;
	enum kc_kind kind;
	enum hm_call call; /* for KC_MODEL */
};

extern const struct kc_ioctl kc_ioctls[];
extern const unsigned kc_ioctl_count;

const struct kc_ioctl *kc_by_request(uint32_t request);
const struct kc_ioctl *kc_by_name(const char *name, size_t len);

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

/* Decode from the tracee: `read` copies `len` bytes at `addr` (0 on success). */
typedef int (*kc_reader)(void *ctx, uint64_t addr, void *buf, size_t len);
bool kc_decode(const struct kc_ioctl *k, int fd, uint64_t arg, kc_reader read, void *ctx,
	       struct kc_call *out);

/* One line describing the call: "KVM_SET_USER_MEMORY_REGION slot 17 [a-b]". */
void kc_describe(const struct kc_call *c, char *buf, size_t size);

/* Why `v` refuses `c` and the way out, one sentence (empty for HM_ALLOW). */
void kc_explain(const struct kc_call *c, const struct hm_verdict *v, char *buf, size_t size);

/* The errnos these ioctls return, by name as strace prints them: "EEXIST"
 * for EEXIST, NULL for another; -1 for a name not in the table. */
const char *kc_errno_name(int err);
int kc_errno_by_name(const char *name, size_t len);

#endif
