/* Run a command under ptrace, with the filter of filter.h, following every
 * thread and child; the session decides, this file only stops, reads and
 * rewrites system calls. */
#ifndef KVM_AS_TRACER_H
#define KVM_AS_TRACER_H

#include "ka_exit.h"
#include "session.h"

/* Execs argv[0] (PATH search) in this process, traced by a grandchild that
 * writes the session's summary when it ends: CMD's exit status is this
 * process's own. Returns (a code above) only when tracing could not start;
 * after that, failures end the process with _exit. */
int kt_run(struct ks_session *s, char **argv);

#endif
