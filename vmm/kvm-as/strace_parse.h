/* A parser for strace logs of KVM ioctls, pure (no I/O): the forms of
 * `strace -f [-o FILE] [-t|-tt|-ttt|-r] [-y] -e trace=ioctl`: "[pid N] " or
 * "N " prefixes, timestamps, "<unfinished ...>" and "<... ioctl resumed>"
 * halves, strace's decoded KVM_SET_USER_MEMORY_REGION struct, KVM ioctls by
 * name or by number. Every other line is ignored. */
#ifndef KVM_AS_STRACE_PARSE_H
#define KVM_AS_STRACE_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvm_calls.h"

#define SP_MAX_PENDING 64

struct sp_call {
	unsigned line; /* where the call started */
	int pid;       /* 0 when the log has no pids */
	struct kc_call call;
	bool arg_known; /* false: strace printed only a pointer (KVM_ENABLE_CAP, ...) */
	bool have_result;
	long value;     /* the return value when >= 0 */
	int err;        /* 0, the errno of "= -1 ENAME", or -1 for an unknown name */
};

struct sp_parser {
	unsigned pending_count;
	struct {
		int pid;
		unsigned line;
		char *text; /* the unfinished half, without " <unfinished ...>" */
	} pending[SP_MAX_PENDING];
};

enum sp_status { SP_IGNORED, SP_CALL, SP_ERROR };

void sp_init(struct sp_parser *p);
void sp_free(struct sp_parser *p);

/* Feed one line (without its newline). SP_CALL fills `out`; SP_ERROR puts a
 * description in `err` (the caller adds the line number). An unfinished
 * half is kept and reported as SP_IGNORED until its resumed half comes. */
enum sp_status sp_feed(struct sp_parser *p, const char *line, unsigned lineno, struct sp_call *out,
		       char *err, size_t err_size);

/* Calls still unfinished at the end of the log: their first line, or 0. */
unsigned sp_unfinished_line(const struct sp_parser *p);

/* For the ioctl table's argument parsers (kvm_calls.c). An unsigned number,
 * hex or decimal, at `s`: what follows it, or NULL if none. */
const char *sp_number(const char *s, uint64_t *v);
/* "name=VALUE" inside a struct; VALUE a number or KVM_MEM_* flag names
 * (for "flags") or a capability's name (for "cap"). */
bool sp_field(const char *s, const char *name, uint64_t *v);

#endif
