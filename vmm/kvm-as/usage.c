/* kvm-as --help: the host models from the one table (hostmodel.c), the exit
 * codes from ka_exit.h. Apart from main.c so that the unit tests can read it. */
#include "usage.h"

#include "hostmodel.h"
#include "ka_exit.h"

void ka_usage(FILE *out)
{
	fprintf(out,
		"usage: kvm-as HOST [--trace FILE] -- CMD [ARGS...]\n"
		"       kvm-as HOST --replay FILE [--kvm]\n"
		"Run CMD (any VMM, its threads and children) on this host's /dev/kvm as if on HOST:\n"
		"a memslot call that HOST's private memslots would refuse gets EEXIST without\n"
		"reaching KVM; everything else runs untouched. Or judge a strace -f log.\n"
		"\n"
		"  --trace FILE    one JSON line per memslot-related KVM ioctl, and a summary on\n"
		"                  stderr: which calls each host model would refuse\n"
		"  --replay FILE   read a strace log (strace -f -e trace=ioctl ...) instead of running\n"
		"  --kvm           with --replay: also replay the calls on a fresh VM of /dev/kvm\n"
		"  -h, --help      show this help\n"
		"\n"
		"host models:\n");
	for (unsigned i = 0; i < hm_model_count; i++)
		fprintf(out, "  %-11s %s\n", hm_models[i].name, hm_models[i].hosts);
	fprintf(out,
		"\n"
		"exit codes:\n"
		"  CMD's own  CMD ran to its end\n"
		"  0          --replay: no call refused\n"
		"  %d          usage: bad options, unknown HOST, no command; --replay: no KVM call in\n"
		"             the log, or a KVM line that does not parse (named with its line number)\n"
		"  %d          cannot trace (ptrace or seccomp refused: the line says why) or replay on\n"
		"             /dev/kvm\n"
		"  %d          --replay: a call is refused (by HOST, or by the kernel with --kvm)\n"
		"  %d        CMD found but not executable\n"
		"  %d        CMD not found\n"
		"  128+N      CMD killed by signal N (CMD runs in kvm-as's own process: its caller\n"
		"             sees that death, and kvm-as names the signal on stderr)\n",
		KA_EXIT_USAGE, KA_EXIT_CANNOT_TRACE, KA_EXIT_REFUSED, KA_EXIT_NOT_EXECUTABLE,
		KA_EXIT_NOT_FOUND);
}
