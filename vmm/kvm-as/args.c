#include "args.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static enum ka_parse bad(char *err, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum ka_parse bad(char *err, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, size, fmt, ap);
	va_end(ap);
	return KA_BAD;
}

/* HOST: a model, or (for --sweep, checked later) a comma list or `all`. */
static enum ka_parse parse_hosts(struct ka_args *a, const char *text, char *err, size_t size)
{
	const char *at = text;

	if (strcmp(text, "all") == 0) {
		for (unsigned i = 0; i < hm_model_count && i < sizeof(a->models) / sizeof(a->models[0]); i++)
			a->models[a->model_count++] = &hm_models[i];
		a->host = a->models[0];
		return KA_RUN;
	}
	for (;;) {
		size_t n = strcspn(at, ",");
		char name[32];
		const struct hm_model *m;
		bool dup = false;

		snprintf(name, sizeof(name), "%.*s", (int)(n < sizeof(name) ? n : sizeof(name) - 1), at);
		if (n == 0 || n >= sizeof(name) || (m = hm_model_find(name)) == NULL)
			return bad(err, size, "%.*s: unknown host model (one of %s%s)", (int)n, at,
				   hm_model_names(), strchr(text, ',') ? ", or all" : "");
		for (unsigned i = 0; i < a->model_count; i++)
			dup |= a->models[i] == m;
		if (!dup && a->model_count < sizeof(a->models) / sizeof(a->models[0]))
			a->models[a->model_count++] = m;
		if (at[n] == '\0')
			break;
		at += n + 1;
	}
	a->host = a->models[0];
	return KA_RUN;
}

/* One value of --sweep (sr_parse_u64's forms: hex, decimal, K/M/G/T). */
static bool sweep_number(const char *what, const char *text, size_t n, uint64_t *v, char *err,
			 size_t size)
{
	char buf[64];
	const char *why;

	if (n >= sizeof(buf)) {
		snprintf(err, size, "%s is too long", what);
		return false;
	}
	snprintf(buf, sizeof(buf), "%.*s", (int)n, text);
	if ((why = sr_parse_u64(buf, v)) != NULL) {
		snprintf(err, size, "%s %s %s", what, *buf ? buf : "(empty)", why);
		return false;
	}
	return true;
}

const char *ka_parse_sweep(const char *text, uint64_t *lo, uint64_t *hi, uint64_t *align,
			   bool *hex, char *err, size_t size)
{
	const char *c1 = strchr(text, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

	*align = KA_DEFAULT_SWEEP_ALIGN;
	if (c1 == NULL || (c2 && strchr(c2 + 1, ':'))) {
		snprintf(err, size, "expected LO:HI or LO:HI:ALIGN, e.g. 0x1000:0x10000000");
		return err;
	}
	if (!sweep_number("LO", text, (size_t)(c1 - text), lo, err, size) ||
	    !sweep_number("HI", c1 + 1, c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1), hi, err, size) ||
	    (c2 && !sweep_number("ALIGN", c2 + 1, strlen(c2 + 1), align, err, size)))
		return err;
	*hex = text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
	if (*align == 0 || (*align & (*align - 1)) != 0)
		snprintf(err, size, "ALIGN 0x%llx is not a power of two", (unsigned long long)*align);
	else if (*lo > *hi)
		snprintf(err, size, *hex ? "LO 0x%llx is above HI 0x%llx" : "LO %llu is above HI %llu",
			 (unsigned long long)*lo, (unsigned long long)*hi);
	else if (*lo % *align || *hi % *align)
		snprintf(err, size, "LO and HI must be multiples of ALIGN 0x%llx%s",
			 (unsigned long long)*align, c2 ? "" : " (the default: give LO:HI:ALIGN)");
	else
		return NULL;
	return err;
}

static bool has_mark(char **cmd)
{
	for (; *cmd; cmd++)
		if (strstr(*cmd, KA_SWEEP_MARK))
			return true;
	return false;
}

/* The option's value, or NULL when it is missing (then `err` says so). */
static const char *value_of(int argc, char **argv, int *i, const char *what, char *err, size_t size)
{
	if (*i + 1 >= argc || strcmp(argv[*i + 1], "--") == 0) {
		snprintf(err, size, "%s: missing %s", argv[*i], what);
		return NULL;
	}
	return argv[++*i];
}

static enum ka_parse parse_option(struct ka_args *a, int argc, char **argv, int *i, char *err,
				  size_t size)
{
	const char *opt = argv[*i], *v;
	char why[160];
	uint64_t n;

	if (strcmp(opt, "--trace") == 0 || strcmp(opt, "--replay") == 0) {
		if ((v = value_of(argc, argv, i, "FILE", err, size)) == NULL)
			return KA_BAD;
		*(opt[2] == 't' ? &a->trace_path : &a->replay_path) = v;
	} else if (strcmp(opt, "--kvm") == 0) {
		a->on_kvm = true;
	} else if (strcmp(opt, "--strict") == 0) {
		a->strict = true;
	} else if (strcmp(opt, "--phys-bits") == 0) {
		if ((v = value_of(argc, argv, i, "N", err, size)) == NULL)
			return KA_BAD;
		if (sr_parse_u64(v, &n) != NULL || strpbrk(v, "KMGTkx") || n < SR_PHYS_BITS_MIN ||
		    n > SR_PHYS_BITS_MAX)
			return bad(err, size,
				   "--phys-bits %s: must be a whole number of bits from %d to %d (the "
				   "MAXPHYADDR of an x86 host)",
				   v, SR_PHYS_BITS_MIN, SR_PHYS_BITS_MAX);
		a->phys_bits = (unsigned)n;
	} else if (strcmp(opt, "--sweep") == 0) {
		if ((v = value_of(argc, argv, i, "LO:HI[:ALIGN]", err, size)) == NULL)
			return KA_BAD;
		if (ka_parse_sweep(v, &a->lo, &a->hi, &a->align, &a->hex, why, sizeof(why)))
			return bad(err, size, "--sweep %s: %s", v, why);
		a->sweep = true;
	} else if (strcmp(opt, "--timeout") == 0) {
		if ((v = value_of(argc, argv, i, "S", err, size)) == NULL)
			return KA_BAD;
		if (sr_parse_u64(v, &n) != NULL || strpbrk(v, "KMGTkx") || n == 0 ||
		    n > KA_MAX_SWEEP_TIMEOUT_S)
			return bad(err, size, "--timeout %s: must be whole seconds from 1 to %d", v,
				   KA_MAX_SWEEP_TIMEOUT_S);
		a->timeout_s = (unsigned)n;
	} else {
		return bad(err, size, "%s: unknown option; the command goes after --", opt);
	}
	return KA_RUN;
}

/* What goes with what. */
static enum ka_parse check(struct ka_args *a, char *err, size_t size)
{
	if (a->model_count > 1 && !a->sweep)
		return bad(err, size, "several host models (a comma list or all) go with --sweep");
	if (a->timeout_s && !a->sweep)
		return bad(err, size, "--timeout goes with --sweep");
	if (!a->timeout_s)
		a->timeout_s = KA_DEFAULT_SWEEP_TIMEOUT_S;
	if (a->replay_path) {
		if (a->cmd || a->trace_path || a->sweep)
			return bad(err, size, "--replay takes no command, no --trace and no --sweep");
		return KA_RUN;
	}
	if (a->on_kvm)
		return bad(err, size, "--kvm goes with --replay FILE");
	if (a->cmd == NULL || a->cmd[0] == NULL)
		return bad(err, size, "missing command: kvm-as HOST [--trace FILE] -- CMD [ARGS...]");
	if (a->sweep && a->trace_path)
		return bad(err, size, "--sweep writes a trace of each run itself: no --trace");
	if (a->sweep && !has_mark(a->cmd))
		return bad(err, size, "--sweep: no %s in the command: it is where each value goes",
			   KA_SWEEP_MARK);
	return KA_RUN;
}

enum ka_parse ka_parse_args(struct ka_args *a, int argc, char **argv, char *err, size_t size)
{
	int i;

	memset(a, 0, sizeof(*a));
	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))
		return KA_HELP;
	/* Hidden: the one table of models, private ranges and irqchip pages, for
	 * tests and docs checks (hostmodel.h: hm_print_table). */
	if (argc >= 2 && strcmp(argv[1], "--list-models") == 0)
		return KA_LIST_MODELS;
	if (argc < 2)
		return bad(err, size, "missing HOST: one of %s", hm_model_names());
	if (parse_hosts(a, argv[1], err, size) != KA_RUN)
		return KA_BAD;
	for (i = 2; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (parse_option(a, argc, argv, &i, err, size) != KA_RUN)
			return KA_BAD;
	if (i < argc)
		a->cmd = argv + i + 1;
	return check(a, err, size);
}
