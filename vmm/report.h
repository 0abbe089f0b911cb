/* Messages to the user: every one starts with "vmm: " and fits on a line. */
#ifndef SCRATCHRIG_REPORT_H
#define SCRATCHRIG_REPORT_H

#include <stdbool.h>

extern bool sr_verbose;

/* Print the message and exit with `code` (see exit_codes.h). */
void sr_die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
void sr_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Only with -v. */
void sr_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
