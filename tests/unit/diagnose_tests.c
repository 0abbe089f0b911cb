/* Unit tests of the ptrace refusal's message (vmm/kvm-as/diagnose.c): for
 * every yama scope, with and without CAP_SYS_PTRACE and another tracer, the
 * line names what the facts prove and the way out; without yama it never
 * names yama. */
#include "diagnose.h"
#include "harness.h"

/* The message after "ptrace: Operation not permitted: " for each scope. */
static void test_ptrace_hint(void)
{
	static const struct {
		struct ka_ptrace_facts facts;
		const char *says, *not_says;
	} cases[] = {
		{{-1, false, 0, ""}, "forbidden here by something else", "yama"},
		{{-1, true, 321, "strace"}, "kvm-as is itself traced by pid 321 (strace)", "yama"},
		{{0, false, 0, ""}, "yama ptrace_scope is 0 (classic", "sysctl"},
		{{1, false, 77, "gdb"}, "yama ptrace_scope is 1 (restricted", "sysctl"},
		{{1, false, 77, "gdb"}, "traced by pid 77 (gdb)", "reboot"},
		{{2, false, 0, ""}, "yama ptrace_scope is 2 (admin-only attach: only a process with CAP_SYS_PTRACE", "reboot"},
		{{2, false, 5, "strace"}, "run kvm-as as root or with CAP_SYS_PTRACE", "traced by"},
		{{2, false, 0, ""}, "sudo sysctl kernel.yama.ptrace_scope=1", "reboot"},
		{{2, true, 9, "strace"}, "which allows kvm-as (it has CAP_SYS_PTRACE); kvm-as is itself traced by pid 9", "sysctl"},
		{{3, true, 0, ""}, "yama ptrace_scope is 3 (no attach: no process may trace another, root included)", "sudo"},
		{{3, false, 4, "strace"}, "cannot be lowered without a reboot", "traced by"},
	};

	for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
		char buf[600];
		ka_ptrace_hint(&cases[i].facts, buf, sizeof(buf));
		CHECK(strstr(buf, cases[i].says) != NULL, "case %u: \"%s\" says \"%s\"", i, buf, cases[i].says);
		CHECK(strstr(buf, cases[i].not_says) == NULL, "case %u: \"%s\" does not say \"%s\"", i, buf,
		      cases[i].not_says);
		CHECK(strchr(buf, '\n') == NULL, "case %u: one line", i);
	}
	CHECK(ka_yama_scope_meaning(4) == NULL && ka_yama_scope_meaning(-1) == NULL, "scopes 0 to 3");
}

const struct unit_test diagnose_tests[] = {
	{"ptrace_hint", test_ptrace_hint},
};
const unsigned diagnose_test_count = ARRAY_SIZE(diagnose_tests);
