/* kvm-as: run any VMM as if on another class of KVM host, or judge a strace
 * log of one. See docs/kvm-as.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"
#include "session.h"
#include "tracer.h"
#include "usage.h"

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
		ka_usage(stdout);
		return 0;
	}
	/* Hidden: the one table of models, private ranges and irqchip pages, for
	 * tests and docs checks (hostmodel.h: hm_print_table). */
	if (argc >= 2 && strcmp(argv[1], "--list-models") == 0) {
		hm_print_table(stdout);
		return 0;
	}
	if (argc < 2) {
		snprintf(msg, sizeof(msg), "missing HOST: one of %s", hm_model_names());
		return bad(msg);
	}
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
