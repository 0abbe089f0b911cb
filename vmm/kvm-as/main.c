/* kvm-as: run any VMM as if on another class of KVM host, or judge a strace
 * log of one. See README "Test your own VMM". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"
#include "session.h"
#include "tracer.h"

static void usage(FILE *out)
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
		"  %d          cannot trace (ptrace or seccomp refused) or replay on /dev/kvm\n"
		"  %d          --replay: a call is refused (by HOST, or by the kernel with --kvm)\n"
		"  %d        CMD found but not executable\n"
		"  %d        CMD not found\n"
		"  128+N      CMD killed by signal N (CMD runs in kvm-as's own process: its caller\n"
		"             sees that death, and kvm-as names the signal on stderr)\n",
		KA_EXIT_USAGE, KA_EXIT_CANNOT_TRACE, KA_EXIT_REFUSED, KA_EXIT_NOT_EXECUTABLE,
		KA_EXIT_NOT_FOUND);
}

static int bad(const char *what)
{
	fprintf(stderr, "kvm-as: %s (see kvm-as --help)\n", what);
	return KA_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	const char *trace_path = NULL, *replay_path = NULL;
	const struct hm_model *host;
	bool on_kvm = false;
	struct ks_session s;
	FILE *trace = NULL;
	char msg[256];
	int i, rc;

	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc < 2)
		return bad("missing HOST: one of intel, intel-noug, amd-avic, none");
	if ((host = hm_model_find(argv[1])) == NULL) {
		snprintf(msg, sizeof(msg), "%s: unknown host model (one of %s)", argv[1], hm_model_names());
		return bad(msg);
	}
	for (i = 2; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--trace") == 0 || strcmp(argv[i], "--replay") == 0) {
			if (i + 1 >= argc) {
				snprintf(msg, sizeof(msg), "%s: missing FILE", argv[i]);
				return bad(msg);
			}
			*(argv[i][2] == 't' ? &trace_path : &replay_path) = argv[i + 1];
			i++;
		} else if (strcmp(argv[i], "--kvm") == 0) {
			on_kvm = true;
		} else {
			snprintf(msg, sizeof(msg), "%s: unknown option; the command goes after --", argv[i]);
			return bad(msg);
		}
	}
	if (replay_path) {
		if (i < argc || trace_path)
			return bad("--replay takes no command and no --trace");
		return kr_replay(host, replay_path, on_kvm);
	}
	if (on_kvm)
		return bad("--kvm goes with --replay FILE");
	if (i >= argc || i + 1 >= argc)
		return bad("missing command: kvm-as HOST [--trace FILE] -- CMD [ARGS...]");
	if (trace_path && (trace = fopen(trace_path, "we")) == NULL) {
		snprintf(msg, sizeof(msg), "--trace %s: cannot create the file", trace_path);
		return bad(msg);
	}
	ks_init(&s, host, trace);
	rc = kt_run(&s, argv + i + 1); /* returns only when tracing could not start */
	if (trace)
		fclose(trace);
	ks_free(&s);
	return rc;
}
