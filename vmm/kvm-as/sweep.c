#include "sweep.h"

#include <stdlib.h>
#include <string.h>

void ksw_bisect(uint64_t lo, uint64_t hi, uint64_t align, ksw_runner run, void *ctx,
		struct ksw_result *r)
{
	int code;

	memset(r, 0, sizeof(*r));
	r->runs++;
	if ((code = run(lo, ctx)) != 0) {
		*r = (struct ksw_result){.fails_at_lo = true, .fail = lo, .fail_code = code, .runs = 1};
		return;
	}
	r->pass = lo;
	if (hi == lo) {
		r->passes_at_hi = true;
		return;
	}
	r->runs++;
	if ((code = run(hi, ctx)) == 0) {
		r->passes_at_hi = true;
		r->pass = hi;
		return;
	}
	r->fail = hi;
	r->fail_code = code;
	/* pass < fail, both multiples of align: halve the steps between them */
	while (r->fail - r->pass > align) {
		uint64_t steps = (r->fail - r->pass) / align, mid = r->pass + steps / 2 * align;
		r->runs++;
		if ((code = run(mid, ctx)) == 0) {
			r->pass = mid;
		} else {
			r->fail = mid;
			r->fail_code = code;
		}
	}
}

void ksw_format(uint64_t value, bool hex, char *buf, size_t size)
{
	snprintf(buf, size, hex ? "0x%llx" : "%llu", (unsigned long long)value);
}

void ksw_free_argv(char **argv)
{
	if (argv == NULL)
		return;
	for (char **a = argv; *a; a++)
		free(*a);
	free(argv);
}

/* One argument with every {} replaced. */
static char *substitute_one(const char *arg, const char *value)
{
	size_t marks = 0, mark = strlen(KA_SWEEP_MARK), vlen = strlen(value), n;
	const char *at;
	char *out, *to;

	for (at = arg; (at = strstr(at, KA_SWEEP_MARK)) != NULL; at += mark)
		marks++;
	n = strlen(arg) - marks * mark + marks * vlen;
	if ((out = malloc(n + 1)) == NULL)
		return NULL;
	for (to = out, at = arg; *at;) {
		if (strncmp(at, KA_SWEEP_MARK, mark) == 0) {
			memcpy(to, value, vlen);
			to += vlen;
			at += mark;
		} else {
			*to++ = *at++;
		}
	}
	*to = '\0';
	return out;
}

char **ksw_substitute(char *const *cmd, const char *value)
{
	size_t n = 0;
	char **argv;

	while (cmd[n])
		n++;
	if ((argv = calloc(n + 1, sizeof(*argv))) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if ((argv[i] = substitute_one(cmd[i], value)) == NULL) {
			ksw_free_argv(argv);
			return NULL;
		}
	return argv;
}

/* The string value of "key":"..." in a trace line (ours: no escapes). */
static bool json_string(const char *line, const char *key, char *buf, size_t size)
{
	char pattern[40];
	const char *at, *end;

	snprintf(pattern, sizeof(pattern), "\"%s\":\"", key);
	if ((at = strstr(line, pattern)) == NULL)
		return false;
	at += strlen(pattern);
	if ((end = strchr(at, '"')) == NULL)
		return false;
	snprintf(buf, size, "%.*s", (int)(end - at), at);
	return true;
}

bool ksw_trace_reason(FILE *trace, char *buf, size_t size)
{
	char line[2048], call[256], err[32];
	bool failed_here = false;

	buf[0] = '\0';
	while (fgets(line, sizeof(line), trace)) {
		if (!json_string(line, "call", call, sizeof(call)))
			continue;
		if (!json_string(line, "result", err, sizeof(err)))
			snprintf(err, sizeof(err), "an error");
		if (strstr(line, "\"refused\":true")) {
			snprintf(buf, size, "%s refused with %s", call, err);
			return true;
		}
		if (!failed_here && strstr(line, "\"result\":\"")) {
			snprintf(buf, size, "%s failed here with %s (the kernel here, not the model)", call,
				 err);
			failed_here = true;
		}
	}
	return failed_here;
}
