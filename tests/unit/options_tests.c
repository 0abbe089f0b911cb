/* Unit tests of the VMM's command line (vmm/options.c): every option's
 * accepted forms and defaults, and each bad invocation's one-line error
 * naming the option and the rule. Expected values come from the usage text
 * and options.h, never from a run of the code under test. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout.h"
#include "options.h"

#include "harness.h"


/* ------------------------------------------------------------------------ */
/* sr_parse_options                                                          */

#define MAX_ARGS 40

static enum sr_parse_status parse_args(struct sr_options *opt, char *err, size_t err_size,
				       const char *const *args)
{
	char *argv[MAX_ARGS + 2];
	int argc = 0;

	argv[argc++] = (char *)"vmm";
	for (unsigned i = 0; args[i] != NULL && i < MAX_ARGS; i++)
		argv[argc++] = (char *)args[i];
	argv[argc] = NULL;
	err[0] = '\0';
	return sr_parse_options(opt, argc, argv, err, err_size);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static const struct opt_error_case {
	const char *args[8];
	const char *err_has; /* the error must name this */
} opt_error_cases[] = {
	/* --reserve: overlapping, unaligned, zero, low region, above top */
	{{"--reserve", "0xfee00000:0x2000", "--reserve", "0xfee01000:0x1000"}, "--reserve"},
	{{"--emulate-apic-page", "--reserve", "0xfee00000:0x1000"}, "--reserve"},
	{{"--reserve", "0xfee00000:0x1000", "--emulate-apic-page"}, "--reserve"},
	{{"--reserve", "0xfee00800:0x1000"}, "--reserve"},
	{{"--reserve", "0xfee00000:0x800"}, "--reserve"},
	{{"--reserve", "0xfee00000:0x1001"}, "--reserve"},
	{{"--reserve", "0xfee00000:0"}, "--reserve"},
	{{"--reserve", "0x3ff000:0x1000"}, "--reserve"},
	{{"--reserve", "0:0x1000"}, "--reserve"},
	{{"--reserve", "0x3ff000:0x2000"}, "--reserve"},
	{{"--reserve", "0x100000000:0x1000"}, "--reserve"}, /* above the default top */
	{{"--reserve", "0xfffff000:0x2000"}, "--reserve"},  /* straddles the default top */
	{{"--gpa-top", "0xfedfffff", "--reserve", "0xfee00000:0x1000"}, "--reserve"},
	{{"--reserve", "0x4000000000:0x1000", "--gpa-top", "0x3fffffffff"}, "--reserve"},
	{{"--reserve", "0x3ffffff000:0x2000", "--gpa-top", "0x3fffffffff"}, "--reserve"},
	{{"--reserve", "0x500000:0xffffffffffffF000"}, "--reserve"},
	{{"--reserve", "0xfee00000"}, "--reserve"},
	{{"--reserve", "0xfee00000:"}, "--reserve"},
	{{"--reserve", ":0x1000"}, "--reserve"},
	{{"--reserve", "x:0x1000"}, "--reserve"},
	{{"--reserve", "0xfee00000:1Q"}, "--reserve"},
	/* the LAPIC check needs the irqchip */
	{{"--apic-check", "on", "--irqchip", "off"}, "--apic-check"},
	{{"--irqchip", "off", "--apic-check", "on"}, "--apic-check"},
	/* unknown, missing value, repeated */
	{{"--bogus"}, "--bogus"},
	{{"--scratch"}, "--scratch"},
	{{"scratch-size"}, "scratch-size"},
	{{"-x"}, "-x"},
	{{"--probe=yes"}, "--probe"},
	{{"--scratch-size"}, "--scratch-size"},
	{{"--layout", "split", "--gpa-top"}, "--gpa-top"},
	{{"--reserve"}, "--reserve"},
	{{"--timeout"}, "--timeout"},
	{{"--layout", "split", "--layout", "single"}, "--layout"},
	{{"--scratch-size", "0x1000", "--scratch-size=0x2000"}, "--scratch-size"},
	{{"--gpa-top", "32", "--gpa-top", "32"}, "--gpa-top"},
	{{"--irqchip", "on", "--irqchip", "on"}, "--irqchip"},
	{{"--emulate-apic-page", "--emulate-apic-page"}, "--emulate-apic-page"},
	{{"-v", "--verbose"}, "--verbose"},
	{{"--probe", "--probe"}, "--probe"},
	/* bad values */
	{{"--timeout", "0"}, "--timeout"},
	{{"--timeout", "86401"}, "--timeout"},
	{{"--timeout", "-1"}, "--timeout"},
	{{"--timeout", "ten"}, "--timeout"},
	{{"--layout", "both"}, "--layout"},
	{{"--layout", ""}, "--layout"},
	{{"--irqchip", "yes"}, "--irqchip"},
	{{"--apic-check", "1"}, "--apic-check"},
	{{"--touch", "some"}, "--touch"},
	{{"--scratch-size", "0"}, "--scratch-size"},
	{{"--scratch-size", "0x1001"}, "--scratch-size"},
	{{"--scratch-size", "4G"}, "--scratch-size"}, /* more than 4 GiB - 4 MiB below top 32 */
	{{"--scratch-size", "1.5G"}, "--scratch-size"},
	{{"--scratch-size="}, "--scratch-size"},
	{{"--gpa-top", "0xfee00000"}, "--gpa-top"},
	{{"--gpa-top", "0x4000000fff"}, "--gpa-top"},
	{{"--gpa-top", "0x400fff"}, "--scratch-size"}, /* default 0x48000 does not fit */
	{{"--guest", ""}, "--guest"},
	{{"--kvm-device="}, "--kvm-device"},
};

static void test_parse_options_errors(void)
{
	for (unsigned i = 0; i < ARRAY_SIZE(opt_error_cases); i++) {
		const struct opt_error_case *c = &opt_error_cases[i];
		struct sr_options opt;
		char err[256], ctx[160] = "";
		enum sr_parse_status st = parse_args(&opt, err, sizeof(err), c->args);

		for (unsigned a = 0; a < ARRAY_SIZE(c->args) && c->args[a]; a++)
			snprintf(ctx + strlen(ctx), sizeof(ctx) - strlen(ctx), "%s\"%s\"", a ? " " : "",
				 c->args[a]);
		CHECK_EQ(st, SR_PARSE_ERROR, "case %u: %s", i, ctx);
		CHECK(strstr(err, c->err_has) != NULL, "case %u: %s: error \"%s\" does not name \"%s\"",
		      i, ctx, err, c->err_has);
		CHECK(strchr(err, '\n') == NULL, "case %u: %s: error is more than one line", i, ctx);
	}

	/* At most SR_MAX_HOLES placeholders: the guest gets at most that many holes. */
	const char *args[2 * (SR_MAX_HOLES + 1) + 1];
	static char specs[SR_MAX_HOLES + 1][32];
	struct sr_options opt;
	char err[256];
	for (unsigned i = 0; i <= SR_MAX_HOLES; i++) {
		snprintf(specs[i], sizeof(specs[i]), "0x%llx:0x1000", U(0x10000000 + i * 0x2000ULL));
		args[2 * i] = "--reserve";
		args[2 * i + 1] = specs[i];
	}
	args[2 * SR_MAX_HOLES] = NULL;
	CHECK_EQ(parse_args(&opt, err, sizeof(err), args), SR_PARSE_OK, "16 --reserve: %s", err);
	CHECK_EQ(opt.reserve.count, SR_MAX_HOLES, "16 --reserve ranges");
	args[2 * SR_MAX_HOLES] = "--reserve";
	args[2 * SR_MAX_HOLES + 2] = NULL;
	CHECK_EQ(parse_args(&opt, err, sizeof(err), args), SR_PARSE_ERROR, "17 --reserve");
	CHECK_HAS(err, "--reserve", "17 --reserve");

	/* A short error buffer still gets a terminated message. */
	char tiny[8];
	memset(tiny, 'x', sizeof(tiny));
	CHECK_EQ(parse_args(&opt, tiny, sizeof(tiny), ARGS("--bogus-option-name")), SR_PARSE_ERROR,
		 "tiny buffer");
	CHECK(memchr(tiny, '\0', sizeof(tiny)) != NULL, "tiny buffer not terminated");
}

static void test_parse_options_ok(void)
{
	struct sr_options opt;
	char err[256];

	unsetenv(SR_KVM_DEVICE_ENV);

	/* Defaults. */
	CHECK_EQ(parse_args(&opt, err, sizeof(err), ARGS(NULL)), SR_PARSE_OK, "no options: %s", err);
	CHECK_EQ(opt.scratch_size, 0x48000, "default scratch size");
	CHECK_EQ(opt.top, 0xFFFFFFFF, "default top");
	CHECK_EQ(opt.layout, SR_LAYOUT_SPLIT, "default layout");
	CHECK(opt.irqchip, "default irqchip");
	CHECK(opt.apic_check, "default apic check");
	CHECK(opt.touch_all, "default touch");
	CHECK(!opt.probe, "default probe");
	CHECK(!opt.verbose, "default verbose");
	CHECK_EQ(opt.timeout_s, 30, "default timeout");
	CHECK_EQ(opt.reserve.count, 0, "default reserve");
	CHECK(opt.guest_path == NULL, "default guest path");
	CHECK(opt.kvm_device && strcmp(opt.kvm_device, "/dev/kvm") == 0, "default device %s",
	      opt.kvm_device ? opt.kvm_device : "(null)");

	/* --emulate-apic-page is --reserve 0xfee00000:0x1000. */
	CHECK_EQ(parse_args(&opt, err, sizeof(err), ARGS("--emulate-apic-page")), SR_PARSE_OK, "%s", err);
	static const struct span apic[] = {{0xFEE00000, 0x1000}};
	check_ranges(&opt.reserve, apic, 1, "--emulate-apic-page");
	CHECK_EQ(parse_args(&opt, err, sizeof(err), ARGS("--reserve", "0xfee00000:0x1000")), SR_PARSE_OK,
		 "%s", err);
	check_ranges(&opt.reserve, apic, 1, "--reserve 0xfee00000:0x1000");

	/* Several --reserve, given out of order, come out sorted. */
	CHECK_EQ(parse_args(&opt, err, sizeof(err),
			    ARGS("--reserve", "0x10000000:8K", "--reserve", "0x500000:0x1000",
				 "--emulate-apic-page", "--reserve", "0xfffff000:0x1000")),
		 SR_PARSE_OK, "%s", err);
	static const struct span several[] = {
		{0x500000, 0x1000}, {0x10000000, 0x2000}, {0xFEE00000, 0x1000}, {0xFFFFF000, 0x1000}};
	check_ranges(&opt.reserve, several, 4, "several --reserve");
	/* Above 4 GiB with a 36-bit top, at the low end exactly. */
	CHECK_EQ(parse_args(&opt, err, sizeof(err),
			    ARGS("--gpa-top", "36", "--reserve", "0x100000000:0x1000", "--reserve",
				 "0x400000:0x1000")),
		 SR_PARSE_OK, "%s", err);
	CHECK_EQ(opt.top, 0xFFFFFFFFF, "--gpa-top 36");
	CHECK_EQ(opt.reserve.count, 2, "--reserve above 4 GiB under top 36");

	/* --irqchip off turns the LAPIC check off; --apic-check off alone too. */
	CHECK_EQ(parse_args(&opt, err, sizeof(err), ARGS("--irqchip", "off")), SR_PARSE_OK, "%s", err);
	CHECK(!opt.irqchip && !opt.apic_check, "--irqchip off: irqchip %d apic_check %d", opt.irqchip,
	      opt.apic_check);
	CHECK_EQ(parse_args(&opt, err, sizeof(err), ARGS("--irqchip", "off", "--apic-check", "off")),
		 SR_PARSE_OK, "%s", err);
	CHECK(!opt.apic_check, "--irqchip off --apic-check off");
	CHECK_EQ(parse_args(&opt, err, sizeof(err), ARGS("--apic-check", "off")), SR_PARSE_OK, "%s", err);
	CHECK(opt.irqchip && !opt.apic_check, "--apic-check off: irqchip %d apic_check %d",
	      opt.irqchip, opt.apic_check);
	CHECK_EQ(parse_args(&opt, err, sizeof(err), ARGS("--apic-check=on", "--irqchip=on")),
		 SR_PARSE_OK, "%s", err);
	CHECK(opt.irqchip && opt.apic_check, "--apic-check=on --irqchip=on");

	/* "=" forms and suffixes. */
	CHECK_EQ(parse_args(&opt, err, sizeof(err), ARGS("--scratch-size=1G")), SR_PARSE_OK, "%s", err);
	CHECK_EQ(opt.scratch_size, 1ULL << 30, "--scratch-size=1G");
	CHECK_EQ(parse_args(&opt, err, sizeof(err), ARGS("--scratch-size", "0x10M")), SR_PARSE_OK, "%s",
		 err);
	CHECK_EQ(opt.scratch_size, 16ULL << 20, "--scratch-size 0x10M");
	/* The largest scratch under top 32: 4 GiB - 4 MiB = 4092 MiB. */
	CHECK_EQ(parse_args(&opt, err, sizeof(err), ARGS("--scratch-size", "4092M")), SR_PARSE_OK, "%s",
		 err);
	CHECK_EQ(parse_args(&opt, err, sizeof(err), ARGS("--gpa-top=36", "--scratch-size=4G")),
		 SR_PARSE_OK, "%s", err);
	CHECK_EQ(opt.scratch_size, 4 * GIB, "--scratch-size=4G under top 36");
	/* The order of --gpa-top and --scratch-size does not matter. */
	CHECK_EQ(parse_args(&opt, err, sizeof(err), ARGS("--scratch-size", "4G", "--gpa-top", "36")),
		 SR_PARSE_OK, "%s", err);
	CHECK_EQ(parse_args(&opt, err, sizeof(err), ARGS("--gpa-top", "0xfedfffff")), SR_PARSE_OK,
		 "%s", err);
	CHECK_EQ(opt.top, 0xFEDFFFFF, "--gpa-top 0xfedfffff");

	/* The remaining options. */
	CHECK_EQ(parse_args(&opt, err, sizeof(err),
			    ARGS("--layout", "single", "--touch", "none", "--timeout", "86400", "--probe",
				 "-v", "--guest", "g.elf", "--kvm-device=/dev/null")),
		 SR_PARSE_OK, "%s", err);
	CHECK_EQ(opt.layout, SR_LAYOUT_SINGLE, "--layout single");
	CHECK(!opt.touch_all, "--touch none");
	CHECK_EQ(opt.timeout_s, 86400, "--timeout 86400");
	CHECK(opt.probe && opt.verbose, "--probe -v");
	CHECK(opt.guest_path && strcmp(opt.guest_path, "g.elf") == 0, "--guest");
	CHECK(opt.kvm_device && strcmp(opt.kvm_device, "/dev/null") == 0, "--kvm-device=");
	CHECK_EQ(parse_args(&opt, err, sizeof(err), ARGS("--layout=check", "--timeout", "1")),
		 SR_PARSE_OK, "%s", err);
	CHECK_EQ(opt.layout, SR_LAYOUT_CHECK, "--layout=check");
	CHECK_EQ(opt.timeout_s, 1, "--timeout 1");
	CHECK_EQ(parse_args(&opt, err, sizeof(err), ARGS("--layout", "split", "--verbose")),
		 SR_PARSE_OK, "%s", err);
	CHECK_EQ(opt.layout, SR_LAYOUT_SPLIT, "--layout split");
	CHECK(opt.verbose, "--verbose");

	/* Help. */
	CHECK_EQ(parse_args(&opt, err, sizeof(err), ARGS("--help")), SR_PARSE_HELP, "--help");
	CHECK_EQ(parse_args(&opt, err, sizeof(err), ARGS("-h")), SR_PARSE_HELP, "-h");
	CHECK_EQ(parse_args(&opt, err, sizeof(err), ARGS("--probe", "--help")), SR_PARSE_HELP,
		 "--probe --help");

	/* $SCRATCHRIG_KVM_DEVICE replaces the default; --kvm-device beats it;
	 * an empty one is ignored. */
	setenv(SR_KVM_DEVICE_ENV, "/dev/kvm-from-env", 1);
	CHECK_EQ(parse_args(&opt, err, sizeof(err), ARGS(NULL)), SR_PARSE_OK, "%s", err);
	CHECK(opt.kvm_device && strcmp(opt.kvm_device, "/dev/kvm-from-env") == 0, "env device: %s",
	      opt.kvm_device ? opt.kvm_device : "(null)");
	CHECK_EQ(parse_args(&opt, err, sizeof(err), ARGS("--kvm-device", "/dev/other")), SR_PARSE_OK,
		 "%s", err);
	CHECK(opt.kvm_device && strcmp(opt.kvm_device, "/dev/other") == 0, "option over env: %s",
	      opt.kvm_device ? opt.kvm_device : "(null)");
	setenv(SR_KVM_DEVICE_ENV, "", 1);
	CHECK_EQ(parse_args(&opt, err, sizeof(err), ARGS(NULL)), SR_PARSE_OK, "%s", err);
	CHECK(opt.kvm_device && strcmp(opt.kvm_device, "/dev/kvm") == 0, "empty env: %s",
	      opt.kvm_device ? opt.kvm_device : "(null)");
	unsetenv(SR_KVM_DEVICE_ENV);
}

/* vmm --host MODEL: the model's default ranges become --reserve placeholders. */
static enum sr_parse_status parse_host(struct sr_options *opt, char *err, size_t size,
				       const char *a, const char *b, const char *c)
{
	char *argv[] = {"vmm", (char *)a, (char *)b, (char *)c, NULL};
	int argc = c ? 4 : b ? 3 : 2;
	return sr_parse_options(opt, argc, argv, err, size);
}

static void test_vmm_host_option(void)
{
	struct sr_options opt;
	char err[256] = "";

	CHECK_EQ(parse_host(&opt, err, sizeof(err), "--host", "intel", NULL), SR_PARSE_OK, "%s", err);
	CHECK_EQ(opt.reserve.count, 1, "intel: one placeholder");
	CHECK_EQ(opt.reserve.r[0].base, 0xFEE00000, "at the APIC page");
	CHECK_EQ(opt.reserve.r[0].size, PAGE, "one page");
	CHECK_EQ(parse_host(&opt, err, sizeof(err), "--host=amd-avic", NULL, NULL), SR_PARSE_OK, "%s", err);
	CHECK_EQ(opt.reserve.count, 1, "amd-avic: one placeholder");
	CHECK_EQ(parse_host(&opt, err, sizeof(err), "--host", "intel-noug", NULL), SR_PARSE_OK, "%s", err);
	CHECK_EQ(opt.reserve.count, 2, "intel-noug: APIC page and identity map");
	CHECK_EQ(opt.reserve.r[1].base, 0xFFFBC000, "identity map");
	CHECK_EQ(parse_host(&opt, err, sizeof(err), "--host", "none", NULL), SR_PARSE_OK, "%s", err);
	CHECK_EQ(opt.reserve.count, 0, "none: no placeholder");
	CHECK_EQ(parse_host(&opt, err, sizeof(err), "--host", "none", "--emulate-apic-page"), SR_PARSE_OK,
		 "%s", err);
	CHECK_EQ(opt.reserve.count, 1, "none and the emulated page");
	CHECK_EQ(parse_host(&opt, err, sizeof(err), "--host", "amd", NULL), SR_PARSE_ERROR, "unknown");
	CHECK_HAS(err, "--host amd: unknown host model", "names the option");
	CHECK_HAS(err, "intel-noug", "lists the models");
	CHECK_EQ(parse_host(&opt, err, sizeof(err), "--host", "intel", "--emulate-apic-page"),
		 SR_PARSE_ERROR, "the page twice");
	CHECK_HAS(err, "overlaps", "overlap");
	CHECK_EQ(parse_host(&opt, err, sizeof(err), "--host", "intel", "--host=none"), SR_PARSE_ERROR,
		 "twice");
	CHECK_HAS(err, "--host: given more than once", "once");
	CHECK_EQ(parse_host(&opt, err, sizeof(err), "--host", NULL, NULL), SR_PARSE_ERROR, "no value");
	CHECK_HAS(err, "missing value", "missing");
}

const struct unit_test options_tests[] = {
	{"parse_options_ok", test_parse_options_ok},
	{"parse_options_errors", test_parse_options_errors},
	{"vmm_host_option", test_vmm_host_option},
};
const unsigned options_test_count = ARRAY_SIZE(options_tests);
