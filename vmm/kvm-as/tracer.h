/* Run a command under ptrace, with the filter of filter.h, following every
 * thread and child; the session decides, this file only stops, reads and
 * rewrites system calls. */
#ifndef KVM_AS_TRACER_H
#define KVM_AS_TRACER_H

#include "session.h"

/* kvm-as's own exit codes (main.c prints the table in --help). */
#define KA_EXIT_USAGE 2
#define KA_EXIT_CANNOT_TRACE 3
#define KA_EXIT_REFUSED 4
#define KA_EXIT_NOT_EXECUTABLE 126
#define KA_EXIT_NOT_FOUND 127

/* Runs argv[0] (PATH search) and returns the exit code kvm-as should end
 * with: the command's own, 128+N when it (or kvm-as) got signal N, or one of
 * the codes above. */
int kt_run(struct ks_session *s, char **argv);

#endif
