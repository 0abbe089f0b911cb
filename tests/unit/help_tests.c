/* Unit tests of the help texts (vmm --help: vmm/options.c; kvm-as --help:
 * vmm/kvm-as/usage.c) and of `kvm-as --list-models` (hostmodel.c's table):
 * each names every model of the one table, and the addresses the table
 * holds. The addresses expected here are the kernel's, written by hand. */
#include <stdlib.h>

#include "harness.h"
#include "hostmodel.h"
#include "options.h"
#include "usage.h"

/* What `print` writes, as one malloc'd string (NULL if it cannot). */
static char *captured(void (*print)(FILE *))
{
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);

	if (f == NULL)
		return NULL;
	print(f);
	fclose(f);
	return text;
}

/* Runs of blanks and newlines become one space: a wrapped line reads whole. */
static void collapse_blanks(char *text)
{
	char *to = text;

	for (const char *from = text; *from; from++)
		if (!(*from == ' ' || *from == '\n') || to == text || to[-1] != ' ')
			*to++ = *from == '\n' ? ' ' : *from;
	*to = '\0';
}

/* Every model is named in both help texts; vmm's says where the irqchip's
 * pages and the emulated APIC page are. */
static void test_help_names_every_model(void)
{
	char *vmm = captured(sr_print_usage), *kvm_as = captured(ka_usage), line[128];

	CHECK(vmm != NULL && kvm_as != NULL, "both help texts captured");
	if (vmm == NULL || kvm_as == NULL)
		goto out;
	for (unsigned i = 0; i < hm_model_count; i++) {
		const char *name = hm_models[i].name;
		snprintf(line, sizeof(line), "\n  %-11s ", name); /* kvm-as: one line a model */
		CHECK(strstr(kvm_as, line) != NULL, "kvm-as --help lists %s", name);
		CHECK(strstr(vmm, name) != NULL, "vmm --help names %s under --host", name);
	}
	CHECK(strstr(kvm_as, "HOST") != NULL, "kvm-as --help says what HOST is");
	CHECK_HAS(kvm_as, "--strict", "kvm-as --help: hazards refused");
	CHECK_HAS(kvm_as, "--phys-bits N   the host's MAXPHYADDR, 32 to 52", "the width and its range");
	CHECK_HAS(kvm_as, "--sweep LO:HI[:ALIGN]", "the sweep");
	CHECK_HAS(kvm_as, "sweep: MODEL: pass=LARGEST fail=FIRST exit=CODE runs=N: WHY", "its line");
	CHECK_HAS(kvm_as, "--timeout S     with --sweep", "the run's timeout");
	collapse_blanks(vmm);
	snprintf(line, sizeof(line), "(%s;", hm_model_names());
	CHECK(strstr(vmm, line) != NULL, "vmm --help lists the models in the table's order: %s", line);
	CHECK_HAS(vmm, "page 0xfee00000 and IOAPIC page 0xfec00000", "the irqchip's pages");
	CHECK_HAS(vmm, "--emulate-apic-page same as --reserve 0xfee00000:0x1000", "the APIC page");
	CHECK_HAS(vmm, "--host MODEL placeholders", "--host listed");
out:
	free(vmm);
	free(kvm_as);
}

/* The listing a docs check compares with: one record per model, private
 * range and irqchip page. */
static void test_list_models(void)
{
	char *table = captured(hm_print_table), want[160], *whole;
	static const char *const rows[] = {
		"model\tintel\tapic-access\t",
		"model\tintel-noug\tapic-access,identity-map,tss\t",
		"model\tamd-avic\tapic-access\t",
		"model\tnone\t-\t",
		"private\tapic-access\t0xfee00000\t0x1000\tthe KVM APIC-access page",
		"private\tidentity-map\t0xfffbc000\t0x1000\tthe KVM EPT identity-map page",
		"private\ttss\t-\t0x3000\tthe KVM real-mode TSS",
		"device\tlapic\t0xfee00000\t0x1000\tLAPIC MMIO page",
		"device\tioapic\t0xfec00000\t0x1000\tIOAPIC MMIO page",
	};
	unsigned lines = 0;

	CHECK(table != NULL, "table captured");
	if (table == NULL || asprintf(&whole, "\n%s", table) < 0) {
		free(table);
		return;
	}
	for (const char *c = table; *c; c++)
		lines += *c == '\n';
	CHECK_EQ(lines, ARRAY_SIZE(rows), "one line per model, private range and device page");
	for (unsigned i = 0; i < ARRAY_SIZE(rows); i++) {
		snprintf(want, sizeof(want), "\n%s", rows[i]); /* each at a line's start */
		CHECK(strstr(whole, want) != NULL, "the table has \"%s\"", rows[i]);
	}
	for (unsigned i = 0; i < hm_model_count; i++) {
		snprintf(want, sizeof(want), "\nmodel\t%s\t", hm_models[i].name);
		CHECK(strstr(whole, want) != NULL, "%s listed", hm_models[i].name);
	}
	free(whole);
	free(table);
}

const struct unit_test help_tests[] = {
	{"help_names_every_model", test_help_names_every_model},
	{"list_models", test_list_models},
};
const unsigned help_test_count = ARRAY_SIZE(help_tests);
