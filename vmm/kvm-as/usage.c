/* kvm-as --help: the host models from the one table (hostmodel.c), the exit
 * codes from ka_exit.h, the defaults from args.h and layout.h. Apart from main.c so that the unit tests can read it. */
#include "usage.h"

#include "args.h"
#include "hostmodel.h"
#include "ka_exit.h"

void ka_usage(FILE *out)
{
	fprintf(out,
		"usage: kvm-as HOST [--strict] [--phys-bits N] [--trace FILE] -- CMD [ARGS...]\n"
		"       kvm-as HOST --replay FILE [--kvm] [--strict] [--phys-bits N]\n"
		"       kvm-as HOST[,HOST...]|all --sweep LO:HI[:ALIGN] [--timeout S] [--strict]\n"
		"              [--phys-bits N] -- CMD ... {} ...\n"
		"Run CMD (any VMM, its threads and children) on this host's /dev/kvm as if on HOST:\n"
		"a memslot call that HOST's private memslots would refuse gets EEXIST without\n"
		"reaching KVM; everything else runs untouched. A slot that every host accepts but\n"
		"that hides an in-kernel IOAPIC or LAPIC page from the guest (a hazard) is named on\n"
		"stderr. Or judge a strace -f log, or sweep a value of CMD for its boundary.\n"
		"\n"
		"  --trace FILE    one JSON line per memslot-related KVM ioctl, and a summary on\n"
		"                  stderr: which calls each host model would refuse, which hide a\n"
		"                  device, and the address width each VM needs\n"
		"  --replay FILE   read a strace log (strace -f -e trace=ioctl ...) instead of running\n"
		"  --kvm           with --replay: also replay the calls on a fresh VM of /dev/kvm\n"
		"  --strict        refuse hazards too (EEXIST, as for a private slot): a slot over the\n"
		"                  in-kernel IOAPIC page, or over the LAPIC page where HOST has no\n"
		"                  APIC-access page\n"
		"  --phys-bits N   the host's MAXPHYADDR, %d to %d (default: this machine's, CPUID\n"
		"                  0x80000008): a slot above 2^N - 1 gets EINVAL, as from the kernel\n"
		"  --sweep LO:HI[:ALIGN]\n"
		"                  run CMD with {} replaced by values from LO to HI (multiples of\n"
		"                  ALIGN, default 0x%llx; hex or decimal), bisecting on its exit 0;\n"
		"                  for each model print one line on stdout:\n"
		"                  sweep: MODEL: pass=LARGEST fail=FIRST exit=CODE runs=N: WHY\n"
		"  --timeout S     with --sweep: end a run after S seconds (default %d): exit 124\n"
		"  -h, --help      show this help\n"
		"\n"
		"host models:\n",
		SR_PHYS_BITS_MIN, SR_PHYS_BITS_MAX, (unsigned long long)KA_DEFAULT_SWEEP_ALIGN,
		KA_DEFAULT_SWEEP_TIMEOUT_S);
	for (unsigned i = 0; i < hm_model_count; i++)
		fprintf(out, "  %-11s %s\n", hm_models[i].name, hm_models[i].hosts);
	fprintf(out,
		"\n"
		"exit codes:\n"
		"  CMD's own  CMD ran to its end\n"
		"  0          --replay: no call refused; --sweep: every model swept (its line says\n"
		"             whether it found a boundary)\n"
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
