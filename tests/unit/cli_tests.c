/* Unit tests of kvm-as's command line (vmm/kvm-as/args.c) and --sweep's pure
 * parts (vmm/kvm-as/sweep.c: the bisection against a fake command, the {}
 * substitution, the reading of a run's trace). */
#include <stdlib.h>

#include "args.h"
#include "harness.h"
#include "sweep.h"

/* Split a command line on blanks into argv (at most 32 words). */
static int words(char *line, char **argv)
{
	int n = 0;

	for (char *w = strtok(line, " "); w && n < 31; w = strtok(NULL, " "))
		argv[n++] = w;
	argv[n] = NULL;
	return n;
}

/* Every bad invocation: exit 2 with one line that says this. */
static const struct {
	const char *line;
	const char *says;
} bad_cases[] = {
	{"kvm-as", "missing HOST"},
	{"kvm-as bogus -- true", "bogus: unknown host model"},
	{"kvm-as intel,bogus --sweep 1:2:1 -- x {}", "bogus: unknown host model"},
	{"kvm-as intel,,none --sweep 1:2:1 -- x {}", "unknown host model"},
	{"kvm-as intel,none -- true", "several host models (a comma list or all) go with --sweep"},
	{"kvm-as all -- true", "go with --sweep"},
	{"kvm-as intel", "missing command"},
	{"kvm-as intel --", "missing command"},
	{"kvm-as intel --frobnicate -- true", "--frobnicate: unknown option"},
	{"kvm-as intel --trace", "--trace: missing FILE"},
	{"kvm-as intel --replay", "--replay: missing FILE"},
	{"kvm-as intel --kvm -- true", "--kvm goes with --replay"},
	{"kvm-as intel --replay x -- true", "--replay takes no command"},
	{"kvm-as intel --phys-bits 0 -- true", "--phys-bits 0: must be a whole number of bits from 32 to 52"},
	{"kvm-as intel --phys-bits 80 -- true", "--phys-bits 80: must be"},
	{"kvm-as intel --phys-bits 31 -- true", "from 32 to 52"},
	{"kvm-as intel --phys-bits 53 -- true", "from 32 to 52"},
	{"kvm-as intel --phys-bits abc -- true", "--phys-bits abc: must be"},
	{"kvm-as intel --phys-bits 36K -- true", "--phys-bits 36K: must be"},
	{"kvm-as intel --phys-bits -- true", "--phys-bits: missing N"},
	{"kvm-as intel --sweep 0x2000:0x1000 -- x {}", "LO 0x2000 is above HI 0x1000"},
	{"kvm-as intel --sweep 5:4:1 -- x {}", "LO 5 is above HI 4"},
	{"kvm-as intel --sweep 1:4:3 -- x {}", "ALIGN 0x3 is not a power of two"},
	{"kvm-as intel --sweep 0:4:0 -- x {}", "ALIGN 0x0 is not a power of two"},
	{"kvm-as intel --sweep 1:4 -- x {}", "multiples of ALIGN 0x1000"},
	{"kvm-as intel --sweep x:4:1 -- x {}", "LO x is not a number"},
	{"kvm-as intel --sweep 1:y:1 -- x {}", "HI y is not a number"},
	{"kvm-as intel --sweep 1:4:z -- x {}", "ALIGN z is not a number"},
	{"kvm-as intel --sweep 1 -- x {}", "expected LO:HI or LO:HI:ALIGN"},
	{"kvm-as intel --sweep 1:2:1:1 -- x {}", "expected LO:HI or LO:HI:ALIGN"},
	{"kvm-as intel --sweep 1:4:1 -- x y", "no {} in the command"},
	{"kvm-as intel --sweep 1:4:1 --trace t -- x {}", "no --trace"},
	{"kvm-as intel --sweep 1:4:1 --replay t", "--replay takes no command, no --trace and no --sweep"},
	{"kvm-as intel --timeout 5 -- true", "--timeout goes with --sweep"},
	{"kvm-as intel --sweep 1:4:1 --timeout 0 -- x {}", "--timeout 0: must be whole seconds"},
	{"kvm-as intel --sweep 1:4:1 --timeout 86401 -- x {}", "--timeout 86401: must be"},
};

static void test_bad_args(void)
{
	for (unsigned i = 0; i < ARRAY_SIZE(bad_cases); i++) {
		char line[256], err[300] = "", *argv[32];
		struct ka_args a;
		int argc;

		snprintf(line, sizeof(line), "%s", bad_cases[i].line);
		argc = words(line, argv);
		CHECK_EQ(ka_parse_args(&a, argc, argv, err, sizeof(err)), KA_BAD, "%s", bad_cases[i].line);
		CHECK(strstr(err, bad_cases[i].says) != NULL, "%s: \"%s\" says \"%s\"", bad_cases[i].line,
		      err, bad_cases[i].says);
		CHECK(strchr(err, '\n') == NULL, "%s: one line", bad_cases[i].line);
	}
}

static void test_good_args(void)
{
	char line[256], err[300] = "", *argv[32];
	struct ka_args a;
	int argc;

	snprintf(line, sizeof(line), "kvm-as intel --strict --phys-bits 36 --trace t.jsonl -- vmm -v");
	argc = words(line, argv);
	CHECK_EQ(ka_parse_args(&a, argc, argv, err, sizeof(err)), KA_RUN, "%s", err);
	CHECK(a.host == hm_model_find("intel") && a.model_count == 1, "one model");
	CHECK(a.strict && a.phys_bits == 36 && strcmp(a.trace_path, "t.jsonl") == 0, "options");
	CHECK(a.cmd && strcmp(a.cmd[0], "vmm") == 0 && strcmp(a.cmd[1], "-v") == 0 && !a.cmd[2], "command");
	CHECK(!a.sweep, "no sweep");

	snprintf(line, sizeof(line), "kvm-as none,intel,none --sweep 0x1000:0x10000000 -- vmm --scratch-size {}");
	argc = words(line, argv);
	CHECK_EQ(ka_parse_args(&a, argc, argv, err, sizeof(err)), KA_RUN, "%s", err);
	CHECK_EQ(a.model_count, 2, "none and intel, once each, in the order given");
	CHECK(a.models[0] == hm_model_find("none") && a.models[1] == hm_model_find("intel"), "order");
	CHECK(a.sweep && a.lo == 0x1000 && a.hi == 0x10000000 && a.align == 0x1000 && a.hex, "range");
	CHECK_EQ(a.timeout_s, KA_DEFAULT_SWEEP_TIMEOUT_S, "the default timeout");
	CHECK_EQ(a.phys_bits, 0, "no --phys-bits: this machine's, decided by main");

	snprintf(line, sizeof(line), "kvm-as all --sweep 1:100:1 --timeout 3 -- sh -c x{}y");
	argc = words(line, argv);
	CHECK_EQ(ka_parse_args(&a, argc, argv, err, sizeof(err)), KA_RUN, "%s", err);
	CHECK_EQ(a.model_count, hm_model_count, "all: every model");
	CHECK(a.lo == 1 && a.hi == 100 && a.align == 1 && !a.hex && a.timeout_s == 3, "decimal");

	snprintf(line, sizeof(line), "kvm-as amd-avic --replay log --kvm --strict --phys-bits 52");
	argc = words(line, argv);
	CHECK_EQ(ka_parse_args(&a, argc, argv, err, sizeof(err)), KA_RUN, "%s", err);
	CHECK(a.replay_path && a.on_kvm && a.strict && a.phys_bits == 52, "--replay's options");
	snprintf(line, sizeof(line), "kvm-as --help");
	argc = words(line, argv);
	CHECK_EQ(ka_parse_args(&a, argc, argv, err, sizeof(err)), KA_HELP, "--help");
	snprintf(line, sizeof(line), "kvm-as --list-models");
	argc = words(line, argv);
	CHECK_EQ(ka_parse_args(&a, argc, argv, err, sizeof(err)), KA_LIST_MODELS, "--list-models");
}

/* A fake command: passes below `boundary`; counts its runs. */
struct fake {
	uint64_t boundary;
	unsigned runs;
	uint64_t seen[80];
};

static int fake_run(uint64_t value, void *ctx)
{
	struct fake *f = ctx;

	if (f->runs < ARRAY_SIZE(f->seen))
		f->seen[f->runs] = value;
	f->runs++;
	return value < f->boundary ? 0 : 4;
}

/* ceil(log2(n)) for n >= 1 */
static unsigned ceil_log2(uint64_t n)
{
	unsigned k = 0;

	while ((1ULL << k) < n)
		k++;
	return k;
}

static void test_bisect(void)
{
	static const struct {
		uint64_t lo, hi, align, boundary;
	} cases[] = {
		{0x1000, 0x10000000, 0x1000, 0x1200000}, /* intel's APIC page: 0x11ff000 passes */
		{0x1000, 0x10000000, 0x1000, 0x44000},   /* intel-noug's identity map */
		{0x1000, 0x10000000, 0x1000, 0x1001},    /* only LO passes */
		{0x1000, 0x10000000, 0x1000, 0x10000000},/* only HI fails */
		{1, 8, 1, 3},
		{0, 1ULL << 52, 0x1000, 0x123456789000ULL},
		{5, 5, 1, 9},                            /* LO = HI, passes */
	};
	struct ksw_result r;
	struct fake f;

	for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t steps = (cases[i].hi - cases[i].lo) / cases[i].align;
		f = (struct fake){.boundary = cases[i].boundary};
		ksw_bisect(cases[i].lo, cases[i].hi, cases[i].align, fake_run, &f, &r);
		CHECK_EQ(r.runs, f.runs, "case %u: runs counted", i);
		CHECK(r.runs <= 2 + ceil_log2(steps ? steps : 1), "case %u: %u runs for %llu steps", i,
		      r.runs, U(steps));
		if (cases[i].boundary > cases[i].hi) {
			CHECK(r.passes_at_hi && r.pass == cases[i].hi, "case %u: passes at HI", i);
			continue;
		}
		CHECK(!r.fails_at_lo && !r.passes_at_hi, "case %u: a boundary", i);
		CHECK_EQ(r.fail, (cases[i].boundary + cases[i].align - 1) / cases[i].align * cases[i].align,
			 "case %u: the first failing value", i);
		CHECK_EQ(r.pass, r.fail - cases[i].align, "case %u: the largest passing value", i);
		CHECK_EQ(r.fail_code, 4, "case %u: its exit", i);
		CHECK(f.seen[0] == cases[i].lo && f.seen[1] == cases[i].hi, "case %u: LO, then HI", i);
		for (unsigned k = 0; k < f.runs && k < ARRAY_SIZE(f.seen); k++)
			CHECK_EQ(f.seen[k] % cases[i].align, 0, "case %u: run %u on the grid", i, k);
	}
	f = (struct fake){.boundary = 0};
	ksw_bisect(0x1000, 0x10000000, 0x1000, fake_run, &f, &r);
	CHECK(r.fails_at_lo && r.fail == 0x1000 && r.runs == 1, "fails at LO: one run");
}

static void test_substitute_and_format(void)
{
	char *cmd[] = {"vmm", "--scratch-size", "{}", "--note={}-{}", "{", NULL}, text[32];
	char **argv = ksw_substitute(cmd, "0x1200000");

	CHECK(argv != NULL, "substituted");
	if (argv) {
		CHECK(strcmp(argv[0], "vmm") == 0 && strcmp(argv[2], "0x1200000") == 0, "the value: %s", argv[2]);
		CHECK(strcmp(argv[3], "--note=0x1200000-0x1200000") == 0, "every {} in a word: %s", argv[3]);
		CHECK(strcmp(argv[4], "{") == 0 && argv[5] == NULL, "the rest as is");
	}
	ksw_free_argv(argv);
	ksw_format(0x11ff000, true, text, sizeof(text));
	CHECK(strcmp(text, "0x11ff000") == 0, "hex: %s", text);
	ksw_format(4096, false, text, sizeof(text));
	CHECK(strcmp(text, "4096") == 0, "decimal: %s", text);
}

/* A run's trace: the first call the model refused, else the first the
 * kernel here refused. */
static void test_trace_reason(void)
{
	static const char refused[] =
		"{\"vm\":null,\"ioctl\":\"KVM_CREATE_VM\",\"result\":4,\"refused\":false}\n"
		"{\"vm\":1,\"ioctl\":\"KVM_SET_USER_MEMORY_REGION\",\"call\":\"KVM_SET_USER_MEMORY_REGION slot 3 [0x0-0xfff] size 0x1000 flags 0x0\",\"result\":\"EINVAL\",\"refused\":false}\n"
		"{\"vm\":1,\"ioctl\":\"KVM_SET_USER_MEMORY_REGION\",\"call\":\"KVM_SET_USER_MEMORY_REGION slot 17 [0xfee00000-0xffffffff] size 0x1200000 flags 0x0\",\"result\":\"EEXIST\",\"refused\":true,\"hit\":{}}\n";
	char buf[300];
	FILE *f = fmemopen((void *)refused, sizeof(refused) - 1, "r");

	CHECK(f && ksw_trace_reason(f, buf, sizeof(buf)), "a reason");
	CHECK_HAS(buf, "KVM_SET_USER_MEMORY_REGION slot 17 [0xfee00000-0xffffffff] size 0x1200000 flags 0x0 refused with EEXIST", "the model's refusal first");
	if (f)
		fclose(f);
	f = fmemopen((void *)refused, strchr(strchr(refused, '\n') + 1, '\n') + 1 - refused, "r");
	CHECK(f && ksw_trace_reason(f, buf, sizeof(buf)), "the kernel's");
	CHECK_HAS(buf, "slot 3 [0x0-0xfff] size 0x1000 flags 0x0 failed here with EINVAL (the kernel here", "");
	if (f)
		fclose(f);
	f = fmemopen((void *)refused, strchr(refused, '\n') + 1 - refused, "r");
	CHECK(f && !ksw_trace_reason(f, buf, sizeof(buf)), "nothing failed");
	if (f)
		fclose(f);
}

const struct unit_test cli_tests[] = {
	{"kvm_as_bad_args", test_bad_args},
	{"kvm_as_good_args", test_good_args},
	{"sweep_bisect", test_bisect},
	{"sweep_substitute_and_format", test_substitute_and_format},
	{"sweep_trace_reason", test_trace_reason},
};
const unsigned cli_test_count = ARRAY_SIZE(cli_tests);
