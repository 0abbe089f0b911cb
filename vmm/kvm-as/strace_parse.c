#include "strace_parse.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sp_init(struct sp_parser *p)
{
	memset(p, 0, sizeof(*p));
}

void sp_free(struct sp_parser *p)
{
	for (unsigned i = 0; i < p->pending_count; i++)
		free(p->pending[i].text);
	p->pending_count = 0;
}

unsigned sp_unfinished_line(const struct sp_parser *p)
{
	return p->pending_count ? p->pending[0].line : 0;
}

static const char *skip_spaces(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

const char *sp_number(const char *s, uint64_t *v)
{
	char *end;
	if (!isdigit((unsigned char)*s))
		return NULL;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || end == s ? NULL : end;
}

/* A token of digits and '.' or ':' (a timestamp) followed by a blank. */
static const char *timestamp(const char *s)
{
	const char *t = s;
	while (isdigit((unsigned char)*t) || *t == ':' || *t == '.')
		t++;
	return t > s && (*t == ' ' || *t == '\t') ? skip_spaces(t) : NULL;
}

/* Strip "[pid N] " or "N " (strace -f -o FILE) and -t/-tt/-ttt/-r
 * timestamps; returns the rest. */
static const char *prefix(const char *s, int *pid)
{
	uint64_t v;
	const char *e, *t;

	*pid = 0;
	s = skip_spaces(s);
	if (strncmp(s, "[pid", 4) == 0) {
		e = sp_number(skip_spaces(s + 4), &v);
		if (e && *e == ']') {
			*pid = (int)v;
			s = skip_spaces(e + 1);
		}
	} else if ((e = sp_number(s, &v)) != NULL && (*e == ' ' || *e == '\t')) {
		*pid = (int)v; /* digits only: a pid; a timestamp has '.' or ':' */
		s = skip_spaces(e);
	}
	while ((t = timestamp(s)) != NULL)
		s = t;
	return s;
}

/* " = 4", " = 5<anon_inode:kvm-vm>", " = -1 EEXIST (File exists)", " = ?" */
static bool result(const char *s, struct sp_call *c)
{
	const char *eq = strrchr(s, '=');
	uint64_t v;

	if (eq == NULL || eq[-1] != ' ')
		return false;
	s = skip_spaces(eq + 1);
	if (*s == '?')
		return true; /* the process died inside the call: no result */
	if (*s == '-') {
		const char *name = skip_spaces(s + 2);
		size_t n = strcspn(name, " \t");
		c->have_result = true;
		c->err = kc_errno_by_name(name, n);
		return s[1] == '1';
	}
	if (sp_number(s, &v) == NULL)
		return false;
	c->have_result = true;
	c->value = (long)v;
	return true;
}

bool sp_field(const char *s, const char *name, uint64_t *v)
{
	char key[40];
	const char *at;

	snprintf(key, sizeof(key), "%s=", name);
	if ((at = strstr(s, key)) == NULL)
		return false;
	at += strlen(key);
	if (sp_number(at, v))
		return true;
	if (strcmp(name, "flags") != 0 && strcmp(name, "cap") != 0)
		return false;
	*v = 0;
	while (isupper((unsigned char)*at) || *at == '_' || isdigit((unsigned char)*at)) {
		size_t n = strspn(at, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789");
		if (n == strlen("KVM_MEM_LOG_DIRTY_PAGES") && strncmp(at, "KVM_MEM_LOG_DIRTY_PAGES", n) == 0)
			*v |= KVM_MEM_LOG_DIRTY_PAGES;
		else if (n == strlen("KVM_MEM_READONLY") && strncmp(at, "KVM_MEM_READONLY", n) == 0)
			*v |= KVM_MEM_READONLY;
		else if (n == strlen("KVM_MEM_GUEST_MEMFD") && strncmp(at, "KVM_MEM_GUEST_MEMFD", n) == 0)
			*v |= 4;
		else if (n == strlen("KVM_CAP_SPLIT_IRQCHIP") && strncmp(at, "KVM_CAP_SPLIT_IRQCHIP", n) == 0)
			*v = KVM_CAP_SPLIT_IRQCHIP;
		else if (strcmp(name, "cap") == 0)
			*v = UINT32_MAX; /* another capability */
		else
			return false;
		at += n;
		if (*at != '|')
			break;
		at++;
	}
	return true;
}

static enum sp_status fail(char *err, size_t size, const char *what)
{
	snprintf(err, size, "%s", what);
	return SP_ERROR;
}

/* A whole call: "ioctl(FD[<path>], REQUEST, ARG) = RESULT". */
static enum sp_status parse_call(const char *s, struct sp_call *c, char *err, size_t esize)
{
	const char *req, *arg, *why;
	const struct kc_ioctl *k;
	uint64_t fd, v;
	size_t n;

	s += strlen("ioctl(");
	if ((req = sp_number(s, &fd)) == NULL)
		return SP_IGNORED;
	if (*req == '<')
		req = strchr(req, '>') ? strchr(req, '>') + 1 : req;
	if (*req != ',')
		return SP_IGNORED;
	req = skip_spaces(req + 1);
	n = strcspn(req, ",) \t");
	if ((k = kc_by_name(req, n)) == NULL) {
		if (sp_number(req, &v) == NULL || (k = kc_by_request((uint32_t)v)) == NULL)
			return SP_IGNORED; /* not a call we follow (KVM_RUN, a tty ioctl, ...) */
	}
	arg = skip_spaces(req + n);
	arg = *arg == ',' ? skip_spaces(arg + 1) : arg;
	memset(c, 0, sizeof(*c));
	kc_init(&c->call, k, (int)fd, 0);
	c->arg_known = true;
	if (!result(arg, c))
		return fail(err, esize, "no result (expected \"= N\" or \"= -1 ENAME\"): a truncated line?");
	if (k->parse && (why = k->parse(arg, &c->call, &c->arg_known)) != NULL)
		return fail(err, esize, why);
	return SP_CALL;
}

static int find_pending(const struct sp_parser *p, int pid)
{
	for (unsigned i = 0; i < p->pending_count; i++)
		if (p->pending[i].pid == pid)
			return (int)i;
	return -1;
}

enum sp_status sp_feed(struct sp_parser *p, const char *line, unsigned lineno, struct sp_call *out,
		       char *err, size_t err_size)
{
	static const char unfinished[] = " <unfinished ...>";
	static const char resumed[] = "<... ioctl resumed>";
	const char *s, *tail;
	enum sp_status st;
	int pid, i;

	s = prefix(line, &pid);
	if (strncmp(s, resumed, strlen(resumed)) == 0) {
		char *whole;
		size_t a, b;
		if ((i = find_pending(p, pid)) < 0)
			return SP_IGNORED; /* its first half was not a call we follow */
		tail = s + strlen(resumed);
		a = strlen(p->pending[i].text);
		b = strlen(tail);
		if ((whole = malloc(a + b + 1)) == NULL)
			return fail(err, err_size, "out of memory");
		memcpy(whole, p->pending[i].text, a);
		memcpy(whole + a, tail, b + 1);
		lineno = p->pending[i].line;
		free(p->pending[i].text);
		p->pending[i] = p->pending[--p->pending_count];
		st = parse_call(whole, out, err, err_size);
		free(whole);
		out->line = lineno;
		out->pid = pid;
		return st;
	}
	if (strncmp(s, "ioctl(", 6) != 0)
		return SP_IGNORED;
	tail = strstr(s, unfinished);
	if (tail && tail[strlen(unfinished)] == '\0') {
		struct sp_call probe;
		char *text;
		/* Keep it only if it is one of ours: the request is in the first half. */
		if (parse_call(s, &probe, err, err_size) == SP_IGNORED)
			return SP_IGNORED;
		if (p->pending_count == SP_MAX_PENDING || find_pending(p, pid) >= 0)
			return fail(err, err_size, "too many or nested unfinished calls for one pid");
		if ((text = strndup(s, (size_t)(tail - s))) == NULL)
			return fail(err, err_size, "out of memory");
		p->pending[p->pending_count].pid = pid;
		p->pending[p->pending_count].line = lineno;
		p->pending[p->pending_count++].text = text;
		return SP_IGNORED;
	}
	st = parse_call(s, out, err, err_size);
	out->line = lineno;
	out->pid = pid;
	return st;
}
