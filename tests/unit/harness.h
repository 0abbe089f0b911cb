/* The unit-test harness, shared by every test file of tests/unit/ linked into
 * build/unit-tests: CHECK() records a pass or a failure with file:line, the
 * expression and the values; the counters live in main.c, whose main() runs
 * every table of tests. */
#ifndef SCRATCHRIG_UNIT_HARNESS_H
#define SCRATCHRIG_UNIT_HARNESS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "layout.h"

extern unsigned passed, failed;
extern const char *current_test;

struct unit_test {
	const char *name;
	void (*fn)(void);
};

/* The table of each test file, one file per unit (main.c runs them). */
#define UNIT_TABLE(unit)                                                                          \
	extern const struct unit_test unit##_tests[];                                             \
	extern const unsigned unit##_test_count
UNIT_TABLE(layout);
UNIT_TABLE(options);
UNIT_TABLE(loader);
UNIT_TABLE(hostmodel);
UNIT_TABLE(strace_parse);
UNIT_TABLE(kvm_calls);
UNIT_TABLE(session);
UNIT_TABLE(help);
UNIT_TABLE(diagnose);
UNIT_TABLE(cli);
UNIT_TABLE(textbuf);

static inline void check_(bool ok, const char *file, int line, const char *expr, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static inline void check_(bool ok, const char *file, int line, const char *expr, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		passed++;
		return;
	}
	failed++;
	printf("FAIL: %s: %s:%d: %s: ", current_test, file, line, expr);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* CHECK(cond, fmt, ...): one assertion; the message says which case and values. */
#define CHECK(cond, ...) check_(!!(cond), __FILE__, __LINE__, #cond, __VA_ARGS__)

/* CHECK_EQ(actual, expected, fmt, ...): integers, both printed on failure. */
#define CHECK_EQ(actual, expected, fmt, ...)                                                      \
	do {                                                                                      \
		unsigned long long a_ = (unsigned long long)(actual);                             \
		unsigned long long e_ = (unsigned long long)(expected);                           \
		check_(a_ == e_, __FILE__, __LINE__, #actual " == " #expected,                    \
		       "got 0x%llx, want 0x%llx: " fmt, a_, e_, ##__VA_ARGS__);                   \
	} while (0)

/* The error text `err` (NULL means success) mentions `needle`. */
#define CHECK_HAS(err, needle, fmt, ...)                                                          \
	do {                                                                                      \
		const char *h_ = (err);                                                           \
		check_(h_ != NULL && strstr(h_, (needle)) != NULL, __FILE__, __LINE__,            \
		       "strstr(" #err ", \"" needle "\")", "got \"%s\": " fmt, h_ ? h_ : "(null)", \
		       ##__VA_ARGS__);                                                            \
	} while (0)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define U(x) ((unsigned long long)(x))

#define KIB (1ULL << 10)
#define MIB (1ULL << 20)
#define GIB (1ULL << 30)
#define TIB (1ULL << 40)
#define PAGE SR_PAGE_SIZE

/* A range list's expected contents. */
struct span {
	uint64_t base, size;
};

/* Compare `list` against the expected spans; `ctx` names the case. */
static inline void check_ranges(const struct sr_ranges *list, const struct span *want, unsigned n,
				const char *ctx)
{
	CHECK_EQ(list->count, n, "%s: range count", ctx);
	for (unsigned i = 0; i < n && i < list->count; i++) {
		CHECK_EQ(list->r[i].base, want[i].base, "%s: range %u base", ctx, i);
		CHECK_EQ(list->r[i].size, want[i].size, "%s: range %u size", ctx, i);
	}
}

/* xorshift64*: deterministic, so a failing seed reproduces. */
#define PROPERTY_SEED 0x5CA7C4C0FFEE1234ULL
static uint64_t rng_state __attribute__((unused));

static inline uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static inline uint64_t rnd_below(uint64_t n) /* [0, n) */
{
	return n ? rnd() % n : 0;
}

static inline uint64_t rnd_range(uint64_t lo, uint64_t hi) /* [lo, hi] */
{
	return lo + rnd_below(hi - lo + 1);
}

#endif
