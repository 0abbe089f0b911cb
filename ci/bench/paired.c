/* Paired timings for `make bench`, where a small ratio is the point (kvm-as's
 * 1.05x on a ~16 ms run): N pairs of whole-process runs of A and B, the order
 * alternating (A B, B A, ...), so that a drift of the host's speed weighs on
 * both halves of a pair alike. The median of the N differences B - A gets a
 * 95% interval from order statistics (no assumption about the distribution).
 * Medians of two separate groups cannot tell 1.05x from 1.00x on a host whose
 * speed drifts by more than that within a minute.
 *
 * usage: paired [-w WARMUP] [-o RAW] N A-ARGS... --vs B-ARGS...   (N from 2 to 100000)
 * Output, in seconds, tab-separated, three lines:
 *   a     mean sd median user sys min max N     (user, sys: the command's own process)
 *   b     mean sd median user sys min max N
 *   diff  median low high                       (B - A: its median and 95% interval)
 * The commands run with stdin, stdout and stderr on /dev/null; WARMUP pairs
 * first, not counted. -o RAW: every counted pair, "a_seconds b_seconds first"
 * (first: a or b). Exit codes: 0 measured, 2 usage, 3 a command did not
 * start or did not exit 0 (named on stderr). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct sample {
	double wall, user, sys;
};

static int usage(void)
{
	fprintf(stderr, "usage: paired [-w WARMUP] [-o RAW] N A-ARGS... --vs B-ARGS... (N from 2 to 100000)\n");
	return 2;
}

static double seconds(struct timeval tv)
{
	return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One whole-process run; exits 3 when the command does not end with 0. */
static struct sample run(char **argv)
{
	struct rusage ru;
	double start = now();
	int status;
	pid_t pid = fork();

	if (pid < 0) {
		fprintf(stderr, "paired: fork: %s\n", strerror(errno));
		exit(3);
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	while (wait4(pid, &status, 0, &ru) < 0)
		if (errno != EINTR) {
			fprintf(stderr, "paired: wait4: %s\n", strerror(errno));
			exit(3);
		}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
			fprintf(stderr, "paired: %s: exit 127 (not found, or it could not run)\n", argv[0]);
		else if (WIFEXITED(status))
			fprintf(stderr, "paired: %s: exit %d (it must exit 0)\n", argv[0], WEXITSTATUS(status));
		else
			fprintf(stderr, "paired: %s: killed by signal %d\n", argv[0], WTERMSIG(status));
		exit(3);
	}
	return (struct sample){now() - start, seconds(ru.ru_utime), seconds(ru.ru_stime)};
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Sorts v in place. */
static double median(double *v, long n)
{
	qsort(v, (size_t)n, sizeof(*v), by_value);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void print_stats(const char *label, const struct sample *s, long n, double *scratch)
{
	double sum = 0, sq = 0, user = 0, sys = 0, mean;

	for (long i = 0; i < n; i++) {
		sum += s[i].wall;
		user += s[i].user;
		sys += s[i].sys;
		scratch[i] = s[i].wall;
	}
	mean = sum / n;
	for (long i = 0; i < n; i++)
		sq += (s[i].wall - mean) * (s[i].wall - mean);
	double med = median(scratch, n);
	printf("%s\t%.9f\t%.9f\t%.9f\t%.9f\t%.9f\t%.9f\t%.9f\t%ld\n", label, mean,
	       n > 1 ? sqrt(sq / (double)(n - 1)) : 0.0, med, user / n, sys / n, scratch[0], scratch[n - 1], n);
}

int main(int argc, char **argv)
{
	long warmup = 0, n, sep;
	char *end = NULL, **a, **b;
	FILE *raw = NULL;
	int i = 1;

	for (; i + 1 < argc && (strcmp(argv[i], "-w") == 0 || strcmp(argv[i], "-o") == 0); i += 2) {
		if (argv[i][1] == 'o') {
			if (raw || (raw = fopen(argv[i + 1], "we")) == NULL) {
				fprintf(stderr, "paired: -o %s: cannot create the file\n", argv[i + 1]);
				return 2;
			}
			continue;
		}
		warmup = strtol(argv[i + 1], &end, 10);
		if (*end || warmup < 0 || warmup > 100000)
			return usage();
	}
	if (i >= argc)
		return usage();
	n = strtol(argv[i], &end, 10);
	if (*end || n < 2 || n > 100000)
		return usage();
	a = &argv[++i];
	for (sep = i; sep < argc && strcmp(argv[sep], "--vs") != 0; sep++)
		;
	if (sep == i || sep >= argc - 1)
		return usage(); /* both commands must be there */
	argv[sep] = NULL;
	b = &argv[sep + 1];

	struct sample *sa = calloc((size_t)n, sizeof(*sa)), *sb = calloc((size_t)n, sizeof(*sb));
	double *scratch = calloc((size_t)n, sizeof(*scratch));
	if (sa == NULL || sb == NULL || scratch == NULL) {
		fprintf(stderr, "paired: out of memory for %ld pairs\n", n);
		return 3;
	}
	for (long p = -warmup; p < n; p++) {
		struct sample x, y;
		if (p % 2 == 0) { /* p < 0 too: warm-up pairs alternate as well */
			x = run(a);
			y = run(b);
		} else {
			y = run(b);
			x = run(a);
		}
		if (p >= 0) {
			sa[p] = x;
			sb[p] = y;
			if (raw)
				fprintf(raw, "%.9f %.9f %s\n", x.wall, y.wall, p % 2 == 0 ? "a" : "b");
		}
	}
	print_stats("a", sa, n, scratch);
	print_stats("b", sb, n, scratch);
	for (long p = 0; p < n; p++)
		scratch[p] = sb[p].wall - sa[p].wall;
	double med = median(scratch, n);
	/* 95% interval of a median: the order statistics n/2 -+ 1.96 sqrt(n)/2
	 * (normal approximation of the binomial; 1-based ranks, clamped). */
	long lo = (long)floor(n / 2.0 - 0.98 * sqrt((double)n)), hi = (long)ceil(n / 2.0 + 1 + 0.98 * sqrt((double)n));
	lo = lo < 1 ? 1 : lo;
	hi = hi > n ? n : hi;
	printf("diff\t%.9f\t%.9f\t%.9f\n", med, scratch[lo - 1], scratch[hi - 1]);
	if (raw && fclose(raw)) {
		fprintf(stderr, "paired: -o: write error\n");
		return 3;
	}
	free(sa);
	free(sb);
	free(scratch);
	return 0;
}
