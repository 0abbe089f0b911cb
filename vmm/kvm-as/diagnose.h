/* Why ptrace refused to let kvm-as trace its command: the facts (yama's
 * ptrace_scope, CAP_SYS_PTRACE, a tracer already attached) and the one line
 * that says which holds and what to do. The formatting is pure; the reading
 * is apart, so that tests can give any facts. */
#ifndef KVM_AS_DIAGNOSE_H
#define KVM_AS_DIAGNOSE_H

#include <stdbool.h>
#include <stddef.h>

#define KA_YAMA_FILE "/proc/sys/kernel/yama/ptrace_scope"
/* For tests: the file to read instead of KA_YAMA_FILE (a missing file: no
 * yama). Documented in docs/kvm-as.md as a test hook. */
#define KA_YAMA_FILE_ENV "KVM_AS_YAMA_PTRACE_SCOPE_FILE"

struct ka_ptrace_facts {
	int yama_scope;      /* 0..3, or -1 without yama (no such file) */
	bool cap_sys_ptrace; /* kvm-as's effective set has CAP_SYS_PTRACE */
	int tracer_pid;      /* who traces kvm-as's own process, 0 if nobody */
	char tracer_comm[32];
};

/* From KA_YAMA_FILE (or $KA_YAMA_FILE_ENV) and /proc/self. */
void ka_ptrace_facts_read(struct ka_ptrace_facts *f);

/* What the yama scope allows ("admin-only attach: ..."), NULL for another value. */
const char *ka_yama_scope_meaning(int scope);

/* One line, no newline, for "ptrace: Operation not permitted: <here>":
 * the cause that the facts prove, and what to do. Without yama it never
 * names yama. */
void ka_ptrace_hint(const struct ka_ptrace_facts *f, char *buf, size_t size);

#endif
