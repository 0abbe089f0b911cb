#include "options.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "exit_codes.h"
#include "hostmodel.h"

#define HELP_COLUMN 24 /* where an option's description starts */
#define HELP_WIDTH 80

/* One option whose description is built at run time: its words wrapped
 * within HELP_WIDTH columns, continuation lines at HELP_COLUMN. */
static void print_option(FILE *out, const char *option, const char *text)
{
	int col = fprintf(out, "  %-*s", HELP_COLUMN - 3, option);

	for (const char *w = text; *w != '\0'; w += strspn(w, " ")) {
		int n = (int)strcspn(w, " ");
		if (w != text && col + 1 + n > HELP_WIDTH)
			col = fprintf(out, "\n%*s", HELP_COLUMN - 1, "") - 1;
		col += fprintf(out, " %.*s", n, w);
		w += n;
	}
	fputc('\n', out);
}

void sr_print_usage(FILE *out)
{
	const struct hm_range *lapic = &hm_devices[HM_LAPIC], *ioapic = &hm_devices[HM_IOAPIC];
	const struct hm_range *apic_page = &hm_privates[HM_APIC_ACCESS];
	char host[256];

	fprintf(out,
		"usage: vmm [options]\n"
		"Boot the scratchrig guest with a scratch region at the top of guest-physical space.\n"
		"\n"
		"  --scratch-size SIZE   scratch bytes: hex 0x..., decimal, or K/M/G/T suffix (binary);\n"
		"                        a non-zero multiple of 4 KiB (default 0x48000)\n"
		"  --layout L            single: one KVM slot (reproduces the bug)\n"
		"                        split:  slots around every reserved range (the fix; default)\n"
		"                        check:  refuse, before any ioctl, a scratch over a reserved range\n"
		"  --gpa-top T           last scratch byte: 32 (0xffffffff, default), 36 (0xfffffffff),\n"
		"                        or an address such as 0xfedfffff\n"
		"  --irqchip on|off      create KVM's in-kernel irqchip (default on); when on, the LAPIC\n"
		"                        page 0x%llx and IOAPIC page 0x%llx stay out of scratch\n"
		"  --apic-check on|off   guest reads its LAPIC and IOAPIC versions through MMIO\n"
		"                        (default: on with the irqchip)\n"
		"  --interrupts N        guest waits for N LAPIC timer (after one one-shot) and N\n"
		"                        external IOAPIC interrupts (default 3 with the APIC check, else 0)\n"
		"  --reserve GPA:SIZE    register a placeholder slot standing in for a hypervisor-private\n"
		"                        one before scratch is mapped (repeatable)\n"
		"  --emulate-apic-page   same as --reserve 0x%llx:0x%llx\n"
		"  --vcpu-order O        before-scratch: KVM_CREATE_VCPU before the scratch slots (the\n"
		"                        affected VMM's order; default); after-scratch: after them, so that\n"
		"                        a private slot KVM creates with the vCPU meets the scratch slots\n",
		(unsigned long long)lapic->gpa, (unsigned long long)ioapic->gpa,
		(unsigned long long)apic_page->gpa, (unsigned long long)apic_page->size);
	snprintf(host, sizeof(host), "placeholders for a host model's private slots (%s; see kvm-as --help)",
		 hm_model_names());
	print_option(out, "--host MODEL", host);
	fprintf(out,
		"  --touch all|none      guest writes and verifies every scratch page (default all)\n"
		"  --thp on|off          back scratch with transparent huge pages: its host mapping is\n"
		"                        2 MiB-congruent with its GPA and MADV_HUGEPAGE (default on)\n"
		"  --timeout SECONDS     stop a guest still running after this long (default 30)\n"
		"  --probe               print the ranges KVM refuses between 0x400000 and the top, exit 0\n"
		"  --guest PATH          guest ELF (default: guest.elf beside this program)\n"
		"  --kvm-device PATH     KVM device (default " SR_DEFAULT_KVM_DEVICE ", or $" SR_KVM_DEVICE_ENV ")\n"
		"  -v, --verbose         print the memory map and the guest's results to stderr\n"
		"  -h, --help            show this help\n"
		"\n"
		"exit codes:\n");
#define SR_EXIT_HELP(name, code, text) fprintf(out, "  %3d  %s\n", code, text);
	SR_EXIT_CODES(SR_EXIT_HELP)
#undef SR_EXIT_HELP
}

enum option_id {
	OPT_SCRATCH_SIZE,
	OPT_LAYOUT,
	OPT_GPA_TOP,
	OPT_IRQCHIP,
	OPT_APIC_CHECK,
	OPT_INTERRUPTS,
	OPT_RESERVE,
	OPT_EMULATE_APIC_PAGE,
	OPT_VCPU_ORDER,
	OPT_HOST,
	OPT_TOUCH,
	OPT_THP,
	OPT_TIMEOUT,
	OPT_PROBE,
	OPT_GUEST,
	OPT_KVM_DEVICE,
	OPT_VERBOSE,
	OPT_HELP,
	OPT_COUNT
};

static const struct option_spec {
	const char *long_name;
	const char *short_name;
	bool takes_value;
	bool repeatable;
} option_specs[OPT_COUNT] = {
	[OPT_SCRATCH_SIZE] = {"--scratch-size", NULL, true, false},
	[OPT_LAYOUT] = {"--layout", NULL, true, false},
	[OPT_GPA_TOP] = {"--gpa-top", NULL, true, false},
	[OPT_IRQCHIP] = {"--irqchip", NULL, true, false},
	[OPT_APIC_CHECK] = {"--apic-check", NULL, true, false},
	[OPT_INTERRUPTS] = {"--interrupts", NULL, true, false},
	[OPT_RESERVE] = {"--reserve", NULL, true, true},
	[OPT_EMULATE_APIC_PAGE] = {"--emulate-apic-page", NULL, false, false},
	[OPT_VCPU_ORDER] = {"--vcpu-order", NULL, true, false},
	[OPT_HOST] = {"--host", NULL, true, false},
	[OPT_TOUCH] = {"--touch", NULL, true, false},
	[OPT_THP] = {"--thp", NULL, true, false},
	[OPT_TIMEOUT] = {"--timeout", NULL, true, false},
	[OPT_PROBE] = {"--probe", NULL, false, false},
	[OPT_GUEST] = {"--guest", NULL, true, false},
	[OPT_KVM_DEVICE] = {"--kvm-device", NULL, true, false},
	[OPT_VERBOSE] = {"--verbose", "-v", false, false},
	[OPT_HELP] = {"--help", "-h", false, false},
};

static enum sr_parse_status fail(char *err, size_t err_size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum sr_parse_status fail(char *err, size_t err_size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, err_size, fmt, ap);
	va_end(ap);
	return SR_PARSE_ERROR;
}

/* Match "--name", "--name=value" or the short form; NULL value if none. */
static int match_option(const char *arg, const char **inline_value)
{
	*inline_value = NULL;
	for (int id = 0; id < OPT_COUNT; id++) {
		const struct option_spec *s = &option_specs[id];
		size_t n = strlen(s->long_name);
		if (strcmp(arg, s->long_name) == 0 || (s->short_name && strcmp(arg, s->short_name) == 0))
			return id;
		if (s->takes_value && strncmp(arg, s->long_name, n) == 0 && arg[n] == '=') {
			*inline_value = arg + n + 1;
			return id;
		}
	}
	return -1;
}

/* A two-word choice: `yes` sets *out, `no` clears it; false for anything else. */
static bool parse_pair(const char *v, const char *yes, const char *no, bool *out)
{
	if (strcmp(v, yes) == 0)
		*out = true;
	else if (strcmp(v, no) == 0)
		*out = false;
	else
		return false;
	return true;
}

static bool parse_on_off(const char *v, bool *out)
{
	return parse_pair(v, "on", "off", out);
}

static enum sr_parse_status add_reserve(struct sr_options *opt, const char *value, char *err,
					size_t err_size)
{
	const struct hm_range *example = &hm_privates[HM_APIC_ACCESS];
	char gpa_text[64];
	const char *colon = strchr(value, ':');
	const char *why;
	uint64_t gpa, size;

	if (colon == NULL || (size_t)(colon - value) >= sizeof(gpa_text))
		return fail(err, err_size, "--reserve %s: expected GPA:SIZE, e.g. 0x%llx:0x%llx", value,
			    (unsigned long long)example->gpa, (unsigned long long)example->size);
	memcpy(gpa_text, value, (size_t)(colon - value));
	gpa_text[colon - value] = '\0';
	if ((why = sr_parse_u64(gpa_text, &gpa)) != NULL)
		return fail(err, err_size, "--reserve %s: the address %s", value, why);
	if ((why = sr_parse_u64(colon + 1, &size)) != NULL)
		return fail(err, err_size, "--reserve %s: the size %s", value, why);
	if (size == 0)
		return fail(err, err_size, "--reserve %s: the size must not be zero", value);
	if (gpa % SR_PAGE_SIZE || size % SR_PAGE_SIZE)
		return fail(err, err_size, "--reserve %s: address and size must be multiples of 4 KiB", value);
	if (gpa > SR_GPA_TOP_MAX || size > SR_GPA_TOP_MAX + 1 - gpa)
		return fail(err, err_size, "--reserve %s: the range must end at or below 0x%llx", value,
			    (unsigned long long)SR_GPA_TOP_MAX);
	if (gpa < SR_LOW_END_GPA)
		return fail(err, err_size,
			    "--reserve %s: the range must start at or above 0x%llx (the low region)", value,
			    (unsigned long long)SR_LOW_END_GPA);
	if (sr_ranges_first_overlap(&opt->reserve, gpa, size) != NULL)
		return fail(err, err_size, "--reserve %s: overlaps another --reserve, --emulate-apic-page or --host range",
			    value);
	if (!sr_ranges_add(&opt->reserve, gpa, size, "--reserve placeholder"))
		return fail(err, err_size, "--reserve %s: at most %d ranges", value, SR_MAX_HOLES);
	if (opt->reserve.count > SR_MAX_HOLES)
		return fail(err, err_size, "--reserve %s: at most %d ranges", value, SR_MAX_HOLES);
	return SR_PARSE_OK;
}

/* A range given by the table, as --reserve GPA:SIZE (its errors read alike). */
static enum sr_parse_status reserve_range(struct sr_options *opt, uint64_t base, uint64_t size,
					  char *err, size_t err_size)
{
	char text[64];

	snprintf(text, sizeof(text), "0x%llx:0x%llx", (unsigned long long)base,
		 (unsigned long long)size);
	return add_reserve(opt, text, err, err_size);
}

/* --host MODEL: the model's ranges (hostmodel.c), each as a --reserve. */
static enum sr_parse_status add_host_model(struct sr_options *opt, const char *name, char *err,
					   size_t err_size)
{
	const struct hm_model *m = hm_model_find(name);
	struct sr_ranges ranges = {0};

	if (m == NULL)
		return fail(err, err_size, "--host %s: unknown host model (one of %s)", name,
			    hm_model_names());
	hm_model_default_ranges(m, &ranges);
	for (unsigned i = 0; i < ranges.count; i++)
		if (reserve_range(opt, ranges.r[i].base, ranges.r[i].size, err, err_size) != SR_PARSE_OK)
			return SR_PARSE_ERROR;
	return SR_PARSE_OK;
}

static enum sr_parse_status apply(struct sr_options *opt, int id, const char *name, const char *v,
				  char *err, size_t err_size, const char **scratch_text,
				  const char **top_text, int *apic_check, long *interrupts)
{
	const char *why;
	uint64_t n;

	switch (id) {
	case OPT_SCRATCH_SIZE:
		*scratch_text = v;
		break;
	case OPT_GPA_TOP:
		*top_text = v;
		break;
	case OPT_LAYOUT:
		if (strcmp(v, "single") == 0)
			opt->layout = SR_LAYOUT_SINGLE;
		else if (strcmp(v, "split") == 0)
			opt->layout = SR_LAYOUT_SPLIT;
		else if (strcmp(v, "check") == 0)
			opt->layout = SR_LAYOUT_CHECK;
		else
			return fail(err, err_size, "%s %s: must be single, split or check", name, v);
		break;
	case OPT_IRQCHIP:
	case OPT_THP:
		if (!parse_on_off(v, id == OPT_IRQCHIP ? &opt->irqchip : &opt->thp))
			return fail(err, err_size, "%s %s: must be on or off", name, v);
		break;
	case OPT_APIC_CHECK: {
		bool on;
		if (!parse_on_off(v, &on))
			return fail(err, err_size, "%s %s: must be on or off", name, v);
		*apic_check = on;
		break;
	}
	case OPT_INTERRUPTS:
		if ((why = sr_parse_u64(v, &n)) != NULL || n > SR_MAX_INTERRUPTS)
			return fail(err, err_size, "%s %s: must be a count from 0 to %d", name, v,
				    SR_MAX_INTERRUPTS);
		*interrupts = (long)n;
		break;
	case OPT_VCPU_ORDER:
		if (!parse_pair(v, "after-scratch", "before-scratch", &opt->vcpu_after_scratch))
			return fail(err, err_size, "%s %s: must be before-scratch or after-scratch", name, v);
		break;
	case OPT_TOUCH:
		if (!parse_pair(v, "all", "none", &opt->touch_all))
			return fail(err, err_size, "%s %s: must be all or none", name, v);
		break;
	case OPT_TIMEOUT:
		if ((why = sr_parse_u64(v, &n)) != NULL || n == 0 || n > SR_MAX_TIMEOUT_S)
			return fail(err, err_size, "%s %s: must be whole seconds from 1 to %d", name, v,
				    SR_MAX_TIMEOUT_S);
		opt->timeout_s = (unsigned)n;
		break;
	case OPT_RESERVE:
		return add_reserve(opt, v, err, err_size);
	case OPT_EMULATE_APIC_PAGE:
		return reserve_range(opt, hm_privates[HM_APIC_ACCESS].gpa, hm_privates[HM_APIC_ACCESS].size,
				     err, err_size);
	case OPT_HOST:
		return add_host_model(opt, v, err, err_size);
	case OPT_PROBE:
		opt->probe = true;
		break;
	case OPT_GUEST:
		if (*v == '\0')
			return fail(err, err_size, "%s: the path must not be empty", name);
		opt->guest_path = v;
		break;
	case OPT_KVM_DEVICE:
		if (*v == '\0')
			return fail(err, err_size, "%s: the path must not be empty", name);
		opt->kvm_device = v;
		break;
	case OPT_VERBOSE:
		opt->verbose = true;
		break;
	case OPT_HELP:
		return SR_PARSE_HELP;
	}
	return SR_PARSE_OK;
}

enum sr_parse_status sr_parse_options(struct sr_options *opt, int argc, char **argv, char *err,
				      size_t err_size)
{
	const char *scratch_text = NULL, *top_text = NULL, *env_device;
	unsigned seen[OPT_COUNT] = {0};
	int apic_check = -1; /* -1: follow the irqchip */
	long interrupts = -1; /* -1: follow the APIC check */
	const char *why;

	*opt = (struct sr_options){
		.scratch_size = SR_DEFAULT_SCRATCH_SIZE,
		.top = SR_GPA_TOP_32,
		.layout = SR_LAYOUT_SPLIT,
		.irqchip = true,
		.touch_all = true,
		.thp = true,
		.timeout_s = SR_DEFAULT_TIMEOUT_S,
		.kvm_device = SR_DEFAULT_KVM_DEVICE,
	};
	env_device = getenv(SR_KVM_DEVICE_ENV);
	if (env_device != NULL && *env_device != '\0')
		opt->kvm_device = env_device;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *value;
		int id = match_option(arg, &value);
		enum sr_parse_status st;

		if (id < 0)
			return fail(err, err_size, "%s: unknown option (see vmm --help)", arg);
		if (seen[id]++ && !option_specs[id].repeatable)
			return fail(err, err_size, "%s: given more than once", option_specs[id].long_name);
		if (option_specs[id].takes_value && value == NULL) {
			if (i + 1 >= argc)
				return fail(err, err_size, "%s: missing value", arg);
			value = argv[++i];
		}
		if (value == NULL)
			value = ""; /* flags: no value, never NULL */
		st = apply(opt, id, option_specs[id].long_name, value, err, err_size, &scratch_text,
			   &top_text, &apic_check, &interrupts);
		if (st != SR_PARSE_OK)
			return st;
	}

	if (top_text && (why = sr_parse_gpa_top(top_text, &opt->top)) != NULL)
		return fail(err, err_size, "--gpa-top %s: %s", top_text, why);
	if (scratch_text && (why = sr_parse_u64(scratch_text, &opt->scratch_size)) != NULL)
		return fail(err, err_size, "--scratch-size %s: %s", scratch_text, why);
	if ((why = sr_check_scratch_size(opt->top, opt->scratch_size)) != NULL)
		return fail(err, err_size, "--scratch-size %s: %s (at most 0x%llx below top 0x%llx)",
			    scratch_text ? scratch_text : "(default)", why,
			    (unsigned long long)sr_scratch_size_limit(opt->top),
			    (unsigned long long)opt->top);
	for (unsigned i = 0; i < opt->reserve.count; i++)
		if (sr_range_end(&opt->reserve.r[i]) > opt->top)
			return fail(err, err_size,
				    "--reserve 0x%llx:0x%llx: the range must end at or below the top 0x%llx",
				    (unsigned long long)opt->reserve.r[i].base,
				    (unsigned long long)opt->reserve.r[i].size,
				    (unsigned long long)opt->top);
	if (apic_check == 1 && !opt->irqchip)
		return fail(err, err_size, "--apic-check on: needs --irqchip on (no LAPIC without the irqchip)");
	opt->apic_check = opt->irqchip && apic_check != 0;
	if (interrupts > 0 && !opt->apic_check)
		return fail(err, err_size,
			    "--interrupts %ld: needs the guest's APIC (--irqchip on, --apic-check on)",
			    interrupts);
	opt->interrupts = interrupts >= 0 ? (unsigned)interrupts
					  : opt->apic_check ? SR_DEFAULT_INTERRUPTS : 0;
	return SR_PARSE_OK;
}
