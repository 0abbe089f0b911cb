/* Messages to the user: every one starts with "vmm: " (sr_prog) and fits on a line. */
#ifndef SCRATCHRIG_REPORT_H
#define SCRATCHRIG_REPORT_H

#include <stdbool.h>

extern bool sr_verbose;
extern const char *sr_prog; /* the prefix: "vmm" unless another program sets it */

/* Print the message and exit with `code` (see exit_codes.h). */
void sr_die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
void sr_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Only with -v. */
void sr_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
