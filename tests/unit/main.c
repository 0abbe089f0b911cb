/* The unit-test runner: one build/unit-tests over the pure parts of the VMM
 * and of kvm-as, one test file per unit (tests/unit/<unit>_tests.c, each
 * with its table of tests, declared in harness.h). No KVM, no files, no
 * threads.
 *
 * Style follows kvm-unit-tests / KVM selftests: CHECK() records a pass or a
 * failure (with file:line, the expression and the values), cases live in
 * declarative tables, randomized property tests use a fixed seed that failures
 * print. The last line of output is always "N passed, N failed"; the exit
 * status is 0 iff nothing failed. */
#include <stdio.h>
#include <stdlib.h>

#include "options.h"

#include "harness.h"

unsigned passed, failed;
const char *current_test = "?";

static void run_tests(const struct unit_test *t, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		unsigned p0 = passed, f0 = failed;
		current_test = t[i].name;
		t[i].fn();
		printf("%s: %s (%u checks, %u failed)\n", failed > f0 ? "FAIL" : "PASS", t[i].name,
		       passed - p0 + failed - f0, failed - f0);
	}
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	unsetenv(SR_KVM_DEVICE_ENV);
	run_tests(layout_tests, layout_test_count);
	run_tests(options_tests, options_test_count);
	run_tests(loader_tests, loader_test_count);
	run_tests(hostmodel_tests, hostmodel_test_count);
	run_tests(strace_parse_tests, strace_parse_test_count);
	run_tests(kvm_calls_tests, kvm_calls_test_count);
	run_tests(session_tests, session_test_count);
	run_tests(help_tests, help_test_count);
	run_tests(diagnose_tests, diagnose_test_count);
	run_tests(cli_tests, cli_test_count);
	run_tests(textbuf_tests, textbuf_test_count);
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
