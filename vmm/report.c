#include "report.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

bool sr_verbose;
const char *sr_prog = "vmm";

static void vsay(const char *fmt, va_list ap)
{
	fflush(stdout); /* keep guest console output and our words in order */
	fprintf(stderr, "%s: ", sr_prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void sr_die(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	exit(code);
}

void sr_say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

void sr_info(const char *fmt, ...)
{
	va_list ap;
	if (!sr_verbose)
		return;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}
