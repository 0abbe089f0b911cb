/* Unit tests of the memory map as pure arithmetic (vmm/layout.c): number
 * parsing, --gpa-top and scratch-size rules, range lists, the largest scratch
 * that fits, and the scratch layout with its holes and slots. Expected values
 * come from the documented rules (layout.h, abi.h) and are worked out by hand
 * in the comments, never copied from a run of the code under test. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "abi.h"
#include "layout.h"

#include "harness.h"

/* ------------------------------------------------------------------------ */
/* sr_parse_u64                                                              */

static const struct u64_case {
	const char *text;
	bool ok;
	uint64_t want;
} u64_cases[] = {
	/* hex and decimal */
	{"0x48000", true, 0x48000},
	{"0X48000", true, 0x48000},
	{"0xfedFFfff", true, 0xFEDFFFFF},
	{"4096", true, 4096},
	{"0", true, 0},
	{"0x0", true, 0},
	{"007", true, 7}, /* leading zeros are still decimal */
	{"18446744073709551615", true, UINT64_MAX},
	{"0xFFFFFFFFFFFFFFFF", true, UINT64_MAX},
	{"0x10B", true, 0x10B}, /* B is a hex digit, not a suffix */
	/* binary-unit suffixes, short and long */
	{"1K", true, KIB},
	{"1KiB", true, KIB},
	{"3M", true, 3 * MIB},
	{"3MiB", true, 3 * MIB},
	{"1G", true, 1ULL << 30},
	{"1GiB", true, 1ULL << 30},
	{"2T", true, 2 * TIB},
	{"2TiB", true, 2 * TIB},
	{"0x10M", true, 16ULL << 20},
	{"0x3fG", true, 0x3FULL << 30},
	{"16777215T", true, 16777215ULL << 40}, /* (2^24 - 1) * 2^40: the largest T that fits */
	{"0K", true, 0},
	/* errors */
	{"", false, 0},
	{"-1", false, 0},
	{"-0", false, 0},
	{"abc", false, 0},
	{"0x", false, 0},
	{"0xg", false, 0},
	{"1Q", false, 0},
	{"1.5G", false, 0},
	{"18446744073709551616", false, 0}, /* 2^64 */
	{"99999999999999999999", false, 0},
	{"16777216T", false, 0}, /* 2^24 * 2^40 = 2^64 */
	{"17179869184G", false, 0}, /* 2^34 * 2^30 = 2^64 */
	{"0xFFFFFFFFFFFFFFFFF", false, 0}, /* 17 hex digits */
	{"0x10000000000000000", false, 0},
	{" 1", false, 0},
	{"1 ", false, 0},
	{"+1", false, 0},
	{"G", false, 0},
	{"1GG", false, 0},
	{"1Ki", false, 0},
	{"1iB", false, 0},
	{"1B", false, 0},
	{"1KiBx", false, 0},
	{"1K1", false, 0},
};

static void test_parse_u64(void)
{
	for (unsigned i = 0; i < ARRAY_SIZE(u64_cases); i++) {
		const struct u64_case *c = &u64_cases[i];
		uint64_t v = 0xDEADBEEFULL;
		const char *err = sr_parse_u64(c->text, &v);

		if (c->ok) {
			CHECK(err == NULL, "\"%s\" refused: %s", c->text, err);
			if (err == NULL)
				CHECK_EQ(v, c->want, "\"%s\"", c->text);
		} else {
			CHECK(err != NULL, "\"%s\" accepted as 0x%llx", c->text, U(v));
			CHECK(err == NULL || *err != '\0', "\"%s\": empty error text", c->text);
		}
	}
}

/* ------------------------------------------------------------------------ */
/* sr_parse_gpa_top, sr_check_scratch_size, sr_scratch_size_limit           */

static const struct u64_case gpa_top_cases[] = {
	{"32", true, 0xFFFFFFFFULL},
	{"36", true, 0xFFFFFFFFFULL},
	{"0xfedfffff", true, 0xFEDFFFFF},
	{"0xFFFFFFFF", true, 0xFFFFFFFF},
	{"4294967295", true, 0xFFFFFFFF},
	{"0x3fffffffff", true, SR_GPA_TOP_MAX},	 /* exactly the maximum */
	{"0x400fff", true, 0x400FFF},		 /* one page above the low region */
	{"0xfee00000", false, 0},		 /* first byte of a page */
	{"0xfee00fff0", false, 0},		 /* not the last byte of a page */
	{"0x100000000", false, 0},		 /* 4 GiB: one past a page */
	{"0x3fffff", false, 0},			 /* the low region's last byte */
	{"0xfff", false, 0},			 /* too small */
	{"0", false, 0},
	{"33", false, 0},			 /* decimal 33: too small, not a width */
	{"64", false, 0},
	{"0x4000000fff", false, 0},		 /* page-aligned but above SR_GPA_TOP_MAX */
	{"0xffffffffffffffff", false, 0},
	{"256G", false, 0},			 /* 0x4000000000 */
	{"", false, 0},
	{"top", false, 0},
};

static void test_parse_gpa_top(void)
{
	for (unsigned i = 0; i < ARRAY_SIZE(gpa_top_cases); i++) {
		const struct u64_case *c = &gpa_top_cases[i];
		uint64_t top = 0xDEADBEEFULL;
		const char *err = sr_parse_gpa_top(c->text, &top);

		if (c->ok) {
			CHECK(err == NULL, "--gpa-top \"%s\" refused: %s", c->text, err);
			if (err == NULL)
				CHECK_EQ(top, c->want, "--gpa-top \"%s\"", c->text);
		} else {
			CHECK(err != NULL, "--gpa-top \"%s\" accepted as 0x%llx", c->text, U(top));
		}
	}
}

static const struct size_case {
	uint64_t top, size;
	bool ok;
} scratch_size_cases[] = {
	{0xFFFFFFFF, 0, false},
	{0xFFFFFFFF, 0x800, false},
	{0xFFFFFFFF, 0x1001, false},
	{0xFFFFFFFF, 0x48001, false},
	{0xFFFFFFFF, 0x1000, true},
	{0xFFFFFFFF, 0x48000, true},
	{0xFFFFFFFF, 0xFFFFFFFF + 1 - 0x400000, true},		/* exactly the limit */
	{0xFFFFFFFF, 0xFFFFFFFF + 1 - 0x400000 + 0x1000, false}, /* one page over */
	{0xFFFFFFFF, 4 * GIB, false},
	{0xFFFFFFFF, UINT64_MAX - 0xFFF, false},
	{0xFFFFFFFFF, 0xFFFFFFFFF + 1 - 0x400000, true},
	{0xFFFFFFFFF, 0xFFFFFFFFF + 1 - 0x400000 + 0x1000, false},
	{0x400FFF, 0x1000, true},
	{0x400FFF, 0x2000, false},
	{SR_GPA_TOP_MAX, SR_GPA_TOP_MAX + 1 - 0x400000, true},
};

static void test_check_scratch_size(void)
{
	CHECK_EQ(sr_scratch_size_limit(0xFFFFFFFF), 0xFFC00000, "limit under 4 GiB");
	CHECK_EQ(sr_scratch_size_limit(0xFFFFFFFFF), 0xFFFC00000, "limit under 64 GiB");
	CHECK_EQ(sr_scratch_base(0xFFFFFFFF, 0x48000), 0xFFFB8000, "default scratch base");

	for (unsigned i = 0; i < ARRAY_SIZE(scratch_size_cases); i++) {
		const struct size_case *c = &scratch_size_cases[i];
		const char *err = sr_check_scratch_size(c->top, c->size);

		if (c->ok)
			CHECK(err == NULL, "top 0x%llx size 0x%llx refused: %s", U(c->top), U(c->size), err);
		else
			CHECK(err != NULL, "top 0x%llx size 0x%llx accepted", U(c->top), U(c->size));
	}
}

/* ------------------------------------------------------------------------ */
/* struct sr_ranges helpers (check_ranges: harness.h)                       */

/* Sorted, non-empty, neither overlapping nor adjacent. */
static void check_ranges_canonical(const struct sr_ranges *list, const char *ctx)
{
	CHECK(list->count <= SR_MAX_RANGES, "%s: count %u", ctx, list->count);
	for (unsigned i = 0; i < list->count && i < SR_MAX_RANGES; i++) {
		CHECK(list->r[i].size > 0, "%s: range %u empty", ctx, i);
		if (i > 0)
			CHECK(list->r[i].base > sr_range_end(&list->r[i - 1]) + 1,
			      "%s: range %u [0x%llx, +0x%llx) not after range %u [0x%llx, +0x%llx) with a gap",
			      ctx, i, U(list->r[i].base), U(list->r[i].size), i - 1,
			      U(list->r[i - 1].base), U(list->r[i - 1].size));
	}
}

static void test_overlaps(void)
{
	static const struct {
		uint64_t ab, as, bb, bs;
		bool want;
	} cases[] = {
		{0x1000, 0x1000, 0x1000, 0x1000, true},
		{0x1000, 0x1000, 0x1FFF, 0x1, true},
		{0x1000, 0x1000, 0x2000, 0x1000, false}, /* adjacent */
		{0x2000, 0x1000, 0x1000, 0x1000, false},
		{0x1000, 0x3000, 0x2000, 0x10, true},	 /* contained */
		{0x1000, 0, 0x1000, 0x1000, false},	 /* empty never overlaps */
		{0x1000, 0x1000, 0x1000, 0, false},
		{0, 1, 0, 1, true},
		{UINT64_MAX - 0xFFF, 0x1000, UINT64_MAX, 1, true}, /* reaching 2^64 - 1 */
		{UINT64_MAX - 0xFFF, 0x1000, 0, 0x1000, false},
	};
	for (unsigned i = 0; i < ARRAY_SIZE(cases); i++)
		CHECK(sr_overlaps(cases[i].ab, cases[i].as, cases[i].bb, cases[i].bs) == cases[i].want,
		      "case %u: [0x%llx, +0x%llx) vs [0x%llx, +0x%llx), want %d", i, U(cases[i].ab),
		      U(cases[i].as), U(cases[i].bb), U(cases[i].bs), cases[i].want);
}

#define MAX_ADDS 6
static const struct ranges_add_case {
	const char *name;
	struct span add[MAX_ADDS]; /* size 0 ends the list */
	struct span want[MAX_ADDS];
	unsigned want_count;
} ranges_add_cases[] = {
	{"sorted insertion",
	 {{0x5000, 0x1000}, {0x1000, 0x1000}, {0x9000, 0x1000}, {0x3000, 0x1000}},
	 {{0x1000, 0x1000}, {0x3000, 0x1000}, {0x5000, 0x1000}, {0x9000, 0x1000}},
	 4},
	{"overlap on the right",
	 {{0x1000, 0x2000}, {0x2000, 0x3000}},
	 {{0x1000, 0x4000}},
	 1},
	{"overlap on the left",
	 {{0x2000, 0x3000}, {0x1000, 0x2000}},
	 {{0x1000, 0x4000}},
	 1},
	{"adjacent after",
	 {{0x1000, 0x1000}, {0x2000, 0x1000}},
	 {{0x1000, 0x2000}},
	 1},
	{"adjacent before",
	 {{0x2000, 0x1000}, {0x1000, 0x1000}},
	 {{0x1000, 0x2000}},
	 1},
	{"bridges two",
	 {{0x1000, 0x1000}, {0x3000, 0x1000}, {0x2000, 0x1000}},
	 {{0x1000, 0x3000}},
	 1},
	{"contained",
	 {{0x1000, 0x4000}, {0x2000, 0x1000}},
	 {{0x1000, 0x4000}},
	 1},
	{"covers several, keeps the rest",
	 {{0x1000, 0x1000}, {0x3000, 0x1000}, {0x5000, 0x1000}, {0x9000, 0x1000}, {0x800, 0x5000}},
	 {{0x800, 0x5800}, {0x9000, 0x1000}},
	 2},
	{"one byte apart stays apart",
	 {{0x1000, 0x1000}, {0x2001, 0x1000}},
	 {{0x1000, 0x1000}, {0x2001, 0x1000}},
	 2},
	{"one byte apart, before",
	 {{0x2001, 0x1000}, {0x1000, 0x1000}},
	 {{0x1000, 0x1000}, {0x2001, 0x1000}},
	 2},
	{"at zero",
	 {{0x1000, 0x1000}, {0, 0x1000}},
	 {{0, 0x2000}},
	 1},
	{"at zero, apart",
	 {{0x2000, 0x1000}, {0, 0x1000}},
	 {{0, 0x1000}, {0x2000, 0x1000}},
	 2},
	{"reaching 2^64 - 1",
	 {{UINT64_MAX - 0xFFF, 0x1000}, {UINT64_MAX - 0x1FFF, 0x1000}},
	 {{UINT64_MAX - 0x1FFF, 0x2000}},
	 1},
	{"below a range reaching 2^64 - 1",
	 {{UINT64_MAX - 0xFFF, 0x1000}, {0x1000, 0x1000}},
	 {{0x1000, 0x1000}, {UINT64_MAX - 0xFFF, 0x1000}},
	 2},
};

static void test_ranges_add(void)
{
	for (unsigned i = 0; i < ARRAY_SIZE(ranges_add_cases); i++) {
		const struct ranges_add_case *c = &ranges_add_cases[i];
		struct sr_ranges list = {0};

		for (unsigned a = 0; a < MAX_ADDS && c->add[a].size; a++)
			CHECK(sr_ranges_add(&list, c->add[a].base, c->add[a].size, c->name),
			      "%s: add %u refused", c->name, a);
		check_ranges(&list, c->want, c->want_count, c->name);
		check_ranges_canonical(&list, c->name);
	}

	/* A full list: a new separate range is refused and changes nothing; one
	 * that merges into an existing range needs no room. */
	struct sr_ranges full = {0}, before;
	for (unsigned i = 0; i < SR_MAX_RANGES; i++)
		CHECK(sr_ranges_add(&full, 0x10000 + (uint64_t)i * 0x2000, 0x1000, "filler"),
		      "filling: add %u refused", i);
	CHECK_EQ(full.count, SR_MAX_RANGES, "full list");
	before = full;
	CHECK(!sr_ranges_add(&full, 0x1000, 0x1000, "one too many"), "33rd separate range accepted");
	CHECK(!sr_ranges_add(&full, 0x10000 + SR_MAX_RANGES * 0x2000ULL + 0x1000, 0x1000, "after"),
	      "33rd separate range at the end accepted");
	CHECK(memcmp(&full, &before, sizeof(full)) == 0, "refused add modified the list");
	CHECK(sr_ranges_add(&full, 0x11000, 0x1000, "bridge"), "merging add refused on a full list");
	CHECK_EQ(full.count, SR_MAX_RANGES - 1, "bridging two ranges of a full list");
	CHECK_EQ(full.r[0].base, 0x10000, "bridged range base");
	CHECK_EQ(full.r[0].size, 0x3000, "bridged range size: [0x10000, 0x12fff]");
	check_ranges_canonical(&full, "full list after bridge");
}

/* Randomized: adds against a byte-per-page model of 64 pages, where at most
 * 32 separate ranges fit, so the list never fills. */
static void test_ranges_add_property(void)
{
	enum { PAGES = 64 };

	rng_state = PROPERTY_SEED;
	for (unsigned iter = 0; iter < 300; iter++) {
		uint64_t seed = rng_state;
		struct sr_ranges list = {0};
		bool model[PAGES] = {0};
		unsigned adds = (unsigned)rnd_range(1, 20);

		for (unsigned a = 0; a < adds; a++) {
			uint64_t first = rnd_below(PAGES);
			uint64_t n = rnd_range(1, rnd_below(4) ? 3 : PAGES - first);
			if (first + n > PAGES)
				n = PAGES - first;
			CHECK(sr_ranges_add(&list, 0x100000 + first * PAGE, n * PAGE, "random"),
			      "seed 0x%llx: add %u refused", U(seed), a);
			for (uint64_t p = first; p < first + n; p++)
				model[p] = true;
		}
		char ctx[64];
		snprintf(ctx, sizeof(ctx), "random adds, seed 0x%llx", U(seed));
		check_ranges_canonical(&list, ctx);

		/* Runs of the model are exactly the list. */
		struct span want[PAGES];
		unsigned n = 0;
		for (unsigned p = 0; p < PAGES; p++) {
			if (!model[p])
				continue;
			if (n > 0 && want[n - 1].base + want[n - 1].size == 0x100000 + p * PAGE)
				want[n - 1].size += PAGE;
			else
				want[n++] = (struct span){0x100000 + p * PAGE, PAGE};
		}
		check_ranges(&list, want, n, ctx);

		/* bytes_within and first_overlap against the model too. */
		uint64_t wfirst = rnd_below(PAGES), wn = rnd_range(1, PAGES - wfirst), bytes = 0;
		int first_hit = -1;
		for (uint64_t p = wfirst; p < wfirst + wn; p++)
			if (model[p]) {
				bytes += PAGE;
				if (first_hit < 0)
					first_hit = (int)p;
			}
		uint64_t wbase = 0x100000 + wfirst * PAGE;
		CHECK_EQ(sr_ranges_bytes_within(&list, wbase, wn * PAGE), bytes,
			 "seed 0x%llx: bytes within [0x%llx, +0x%llx)", U(seed), U(wbase), U(wn * PAGE));
		const struct sr_range *hit = sr_ranges_first_overlap(&list, wbase, wn * PAGE);
		if (first_hit < 0) {
			CHECK(hit == NULL, "seed 0x%llx: overlap reported in an empty window", U(seed));
		} else {
			uint64_t gpa = 0x100000 + (uint64_t)first_hit * PAGE;
			CHECK(hit != NULL && hit->base <= gpa && sr_range_end(hit) >= gpa,
			      "seed 0x%llx: first overlap should contain 0x%llx", U(seed), U(gpa));
		}
	}
}

static void test_ranges_queries(void)
{
	struct sr_ranges list = {0};

	sr_ranges_add(&list, 0x1000, 0x2000, "a"); /* [0x1000, 0x2fff] */
	sr_ranges_add(&list, 0x5000, 0x1000, "b"); /* [0x5000, 0x5fff] */
	CHECK_EQ(sr_ranges_bytes_within(&list, 0x2000, 0x4000), 0x2000,
		 "[0x2000, 0x5fff] holds 0x1000 of a and 0x1000 of b");
	CHECK_EQ(sr_ranges_bytes_within(&list, 0x3000, 0x2000), 0, "gap between a and b");
	CHECK_EQ(sr_ranges_bytes_within(&list, 0, 0x10000), 0x3000, "everything");
	CHECK(sr_ranges_first_overlap(&list, 0x3000, 0x2000) == NULL, "gap between a and b");
	CHECK(sr_ranges_first_overlap(&list, 0x2FFF, 0x10) == &list.r[0], "last byte of a");
	CHECK(sr_ranges_first_overlap(&list, 0x4000, 0x2000) == &list.r[1], "reaches into b");
	CHECK(sr_ranges_first_overlap(&list, 0, 0x10000) == &list.r[0], "both: first is a");
}

/* ------------------------------------------------------------------------ */
/* sr_largest_fitting_size                                                   */

static void test_largest_fitting_size(void)
{
	struct sr_ranges list = {0};

	/* The bug report: with only the APIC-access page reserved, the largest
	 * scratch under 4 GiB ends at 0xFFFFFFFF and starts right after that
	 * page, 0xFEE01000: 0xFFFFFFFF - 0xFEE00FFF bytes. */
	sr_ranges_add(&list, SR_LAPIC_GPA, PAGE, "APIC-access page");
	CHECK_EQ(sr_largest_fitting_size(0xFFFFFFFF, &list), 0xFFFFFFFFULL - 0xFEE00FFFULL,
		 "APIC page, 4 GiB top");
	CHECK_EQ(sr_largest_fitting_size(0xFFFFFFFF, &list), 0x11FF000, "APIC page, 4 GiB top");

	/* No ranges: everything above the low region. */
	struct sr_ranges none = {0};
	CHECK_EQ(sr_largest_fitting_size(0xFFFFFFFF, &none), 0xFFFFFFFFULL + 1 - SR_LOW_END_GPA,
		 "no ranges");
	CHECK_EQ(sr_largest_fitting_size(0xFFFFFFFFF, &none), 0xFFFFFFFFFULL + 1 - SR_LOW_END_GPA,
		 "no ranges, 64 GiB");
	CHECK_EQ(sr_largest_fitting_size(0x400FFF, &none), PAGE, "no ranges, one page above low");

	/* A range containing the top: nothing fits. */
	struct sr_ranges at_top = {0};
	sr_ranges_add(&at_top, 0xFFFFF000, PAGE, "top page");
	CHECK_EQ(sr_largest_fitting_size(0xFFFFFFFF, &at_top), 0, "range is the top page");
	struct sr_ranges across = {0};
	sr_ranges_add(&across, 0xFFFFE000, 0x10000, "across top");
	CHECK_EQ(sr_largest_fitting_size(0xFFFFFFFF, &across), 0, "range straddles the top");

	/* Several ranges: the highest one below the top decides. */
	struct sr_ranges several = {0};
	sr_ranges_add(&several, 0x10000000, PAGE, "low");
	sr_ranges_add(&several, SR_IOAPIC_GPA, PAGE, "IOAPIC");
	sr_ranges_add(&several, SR_LAPIC_GPA, PAGE, "LAPIC");
	CHECK_EQ(sr_largest_fitting_size(0xFFFFFFFF, &several), 0x11FF000, "LAPIC is the highest");
	/* Under top 0xFEDFFFFF the LAPIC page is above: the IOAPIC decides,
	 * scratch is [0xFEC01000, 0xFEDFFFFF]. */
	CHECK_EQ(sr_largest_fitting_size(0xFEDFFFFF, &several), 0xFEE00000ULL - 0xFEC01000ULL,
		 "range above the top ignored");
	/* Ranges only above the top, and ones inside the low region, don't count. */
	struct sr_ranges above = {0};
	sr_ranges_add(&above, 0x200000, 0x1000, "inside low");
	sr_ranges_add(&above, 0x100000000ULL, GIB, "above 4 GiB");
	CHECK_EQ(sr_largest_fitting_size(0xFFFFFFFF, &above), 0xFFFFFFFFULL + 1 - SR_LOW_END_GPA,
		 "ranges only below the low end and above the top");
	/* A range ending right below the top leaves only the top page. */
	struct sr_ranges below_top = {0};
	sr_ranges_add(&below_top, 0x80000000, 0x7FFFF000, "up to the last page");
	CHECK_EQ(sr_largest_fitting_size(0xFFFFFFFF, &below_top), PAGE, "one page left");
	/* A range straddling the low end pushes the floor up. */
	struct sr_ranges straddle = {0};
	sr_ranges_add(&straddle, 0x3FF000, 0x2000, "straddles 0x400000");
	CHECK_EQ(sr_largest_fitting_size(0xFFFFFFFF, &straddle), 0xFFFFFFFFULL + 1 - 0x401000,
		 "range straddling the low end");
}

/* Randomized: the answer S is legal (fits, avoids every range) and S plus one
 * more page is not. Page-granular ranges, so that characterizes "largest". */
static void test_largest_fitting_property(void)
{
	rng_state = PROPERTY_SEED ^ 0x1111;
	for (unsigned iter = 0; iter < 400; iter++) {
		uint64_t seed = rng_state;
		uint64_t top = rnd_below(3) == 0 ? 0xFFFFFFFF
						 : rnd_range(0x401, SR_GPA_TOP_MAX >> 12) * PAGE - 1;
		uint64_t top_pages = (top + 1) / PAGE;
		struct sr_ranges list = {0};
		unsigned n = (unsigned)rnd_below(8);

		for (unsigned i = 0; i < n; i++) {
			/* Mostly near the top, sometimes anywhere, sometimes above. */
			uint64_t first = rnd_below(2) ? top_pages - rnd_range(1, 64)
						      : rnd_range(0, top_pages + 16);
			uint64_t pages = rnd_range(1, rnd_below(5) ? 8 : 4096);
			sr_ranges_add(&list, first * PAGE, pages * PAGE, "random");
		}

		uint64_t s = sr_largest_fitting_size(top, &list);
		uint64_t limit = sr_scratch_size_limit(top);
		CHECK(s % PAGE == 0 && s <= limit, "seed 0x%llx top 0x%llx: size 0x%llx (limit 0x%llx)",
		      U(seed), U(top), U(s), U(limit));
		if (s > 0)
			CHECK(sr_ranges_first_overlap(&list, top - s + 1, s) == NULL,
			      "seed 0x%llx top 0x%llx: size 0x%llx overlaps a range", U(seed), U(top), U(s));
		if (s < limit)
			CHECK(sr_ranges_first_overlap(&list, top - s - PAGE + 1, s + PAGE) != NULL,
			      "seed 0x%llx top 0x%llx: size 0x%llx + 1 page would fit too", U(seed), U(top),
			      U(s));
	}
}

/* ------------------------------------------------------------------------ */
/* sr_scratch_layout                                                         */

/* What every layout must satisfy: slots sorted with consecutive ids and
 * host_offset == gpa - base, slots and holes tiling [base, top] exactly,
 * holes inside `avoid` (none without split), slots clear of `avoid`. */
static void check_layout_invariants(const struct sr_scratch *s, uint64_t top, uint64_t size,
				    bool split, const struct sr_ranges *avoid, uint32_t first_id,
				    const char *ctx)
{
	CHECK_EQ(s->top, top, "%s: top", ctx);
	CHECK_EQ(s->size, size, "%s: size", ctx);
	CHECK_EQ(s->base, top - size + 1, "%s: base", ctx);
	CHECK(s->slot_count <= ARRAY_SIZE(s->slots), "%s: %u slots", ctx, s->slot_count);
	CHECK(s->holes.count <= SR_MAX_HOLES, "%s: %u holes", ctx, s->holes.count);
	CHECK(s->untouched.count <= SR_MAX_HOLES, "%s: %u untouched", ctx, s->untouched.count);
	if (!split)
		CHECK_EQ(s->holes.count, 0, "%s: holes without split", ctx);

	for (unsigned i = 0; i < s->slot_count && i < ARRAY_SIZE(s->slots); i++) {
		const struct sr_slot *sl = &s->slots[i];
		CHECK(sl->size > 0, "%s: slot %u empty", ctx, i);
		CHECK_EQ(sl->id, first_id + i, "%s: slot %u id", ctx, i);
		CHECK_EQ(sl->host_offset, sl->gpa - s->base, "%s: slot %u host offset", ctx, i);
		if (i > 0)
			CHECK(sl->gpa > s->slots[i - 1].gpa + s->slots[i - 1].size - 1,
			      "%s: slot %u at 0x%llx not after slot %u", ctx, i, U(sl->gpa), i - 1);
		if (split && avoid) {
			const struct sr_range *hit = sr_ranges_first_overlap(avoid, sl->gpa, sl->size);
			CHECK(hit == NULL, "%s: slot %u [0x%llx, +0x%llx) overlaps avoided [0x%llx, +0x%llx)",
			      ctx, i, U(sl->gpa), U(sl->size), U(hit ? hit->base : 0),
			      U(hit ? hit->size : 0));
		}
	}
	for (unsigned h = 0; h < s->holes.count && h < SR_MAX_RANGES; h++) {
		const struct sr_range *r = &s->holes.r[h];
		bool inside = false;
		for (unsigned a = 0; avoid && a < avoid->count; a++)
			if (avoid->r[a].base <= r->base && sr_range_end(&avoid->r[a]) >= sr_range_end(r))
				inside = true;
		CHECK(inside, "%s: hole %u [0x%llx, +0x%llx) is not inside an avoided range", ctx, h,
		      U(r->base), U(r->size));
		/* every hole is untouched too */
		CHECK(sr_ranges_bytes_within(&s->untouched, r->base, r->size) == r->size,
		      "%s: hole %u [0x%llx, +0x%llx) not all untouched", ctx, h, U(r->base), U(r->size));
	}
	check_ranges_canonical(&s->holes, ctx);
	check_ranges_canonical(&s->untouched, ctx);

	/* Tiling: walking slots and holes in address order from base, each
	 * starts where the previous one ended, and the last ends at top. */
	uint64_t cursor = s->base;
	unsigned i = 0, h = 0;
	while (i < s->slot_count || h < s->holes.count) {
		if (i < s->slot_count && s->slots[i].gpa == cursor) {
			cursor += s->slots[i++].size;
		} else if (h < s->holes.count && s->holes.r[h].base == cursor) {
			cursor += s->holes.r[h++].size;
		} else {
			CHECK(false, "%s: gap or overlap at 0x%llx (slot %u, hole %u)", ctx, U(cursor), i, h);
			return;
		}
	}
	CHECK_EQ(cursor, top + 1, "%s: slots and holes end at top + 1", ctx);
}

static void test_scratch_layout(void)
{
	struct sr_ranges devices = {0}, avoid, empty = {0};
	struct sr_scratch s;
	const uint64_t top = 0xFFFFFFFF;

	sr_ranges_add(&devices, SR_LAPIC_GPA, PAGE, "LAPIC");
	sr_ranges_add(&devices, SR_IOAPIC_GPA, PAGE, "IOAPIC");
	avoid = devices; /* as the VMM does with the irqchip on */

	/* Split, scratch 0x6882000: base = 0x100000000 - 0x6882000 = 0xF977E000,
	 * holes at the IOAPIC and LAPIC pages, three slots between them. */
	static const struct sr_slot want_split[] = {
		{5, 0xF977E000, 0xFEC00000 - 0xF977E000, 0},
		{6, 0xFEC01000, 0xFEE00000 - 0xFEC01000, 0xFEC01000 - 0xF977E000},
		{7, 0xFEE01000, 0x100000000 - 0xFEE01000, 0xFEE01000 - 0xF977E000},
	};
	CHECK(sr_scratch_layout(&s, top, 0x6882000, true, &avoid, &devices, 5), "split refused");
	check_layout_invariants(&s, top, 0x6882000, true, &avoid, 5, "split 0x6882000");
	CHECK_EQ(s.base, 0xF977E000, "split base");
	CHECK_EQ(s.slot_count, 3, "split slots");
	for (unsigned i = 0; i < 3 && i < s.slot_count; i++) {
		CHECK_EQ(s.slots[i].id, want_split[i].id, "split slot %u id", i);
		CHECK_EQ(s.slots[i].gpa, want_split[i].gpa, "split slot %u gpa", i);
		CHECK_EQ(s.slots[i].size, want_split[i].size, "split slot %u size", i);
		CHECK_EQ(s.slots[i].host_offset, want_split[i].host_offset, "split slot %u offset", i);
	}
	static const struct span device_pages[] = {{SR_IOAPIC_GPA, PAGE}, {SR_LAPIC_GPA, PAGE}};
	check_ranges(&s.holes, device_pages, 2, "split holes");
	check_ranges(&s.untouched, device_pages, 2, "split untouched");
	CHECK_EQ(sr_scratch_tested_pages(&s), (0x6882000 - 2 * PAGE) / PAGE, "split tested pages");
	CHECK_EQ(sr_scratch_tested_pages(&s), 0x6880, "split tested pages");

	/* Single: one slot over all of it, no holes, the device pages untouched. */
	CHECK(sr_scratch_layout(&s, top, 0x6882000, false, &avoid, &devices, 1), "single refused");
	check_layout_invariants(&s, top, 0x6882000, false, &avoid, 1, "single 0x6882000");
	CHECK_EQ(s.slot_count, 1, "single slots");
	CHECK_EQ(s.slots[0].gpa, 0xF977E000, "single slot gpa");
	CHECK_EQ(s.slots[0].size, 0x6882000, "single slot size");
	CHECK_EQ(s.slots[0].host_offset, 0, "single slot offset");
	CHECK_EQ(s.slots[0].id, 1, "single slot id");
	CHECK_EQ(s.holes.count, 0, "single holes");
	check_ranges(&s.untouched, device_pages, 2, "single untouched");
	CHECK_EQ(sr_scratch_tested_pages(&s), 0x6880, "single tested pages");

	/* The default 0x48000 at 0xFFFB8000 lies above both device pages. */
	CHECK(sr_scratch_layout(&s, top, 0x48000, true, &avoid, &devices, 1), "default refused");
	check_layout_invariants(&s, top, 0x48000, true, &avoid, 1, "default 0x48000");
	CHECK_EQ(s.holes.count, 0, "default holes");
	CHECK_EQ(s.untouched.count, 0, "default untouched");
	CHECK_EQ(s.slot_count, 1, "default slots");
	CHECK_EQ(s.slots[0].gpa, 0xFFFB8000, "default slot gpa");
	CHECK_EQ(sr_scratch_tested_pages(&s), 0x48, "default tested pages");

	/* A range wholly outside scratch is ignored. */
	struct sr_ranges outside = {0};
	sr_ranges_add(&outside, 0x500000, PAGE, "below scratch");
	CHECK(sr_scratch_layout(&s, 0xFEDFFFFF, 0x48000, true, &outside, &devices, 1),
	      "outside refused");
	check_layout_invariants(&s, 0xFEDFFFFF, 0x48000, true, &outside, 1, "outside");
	CHECK_EQ(s.holes.count, 0, "range below scratch: holes");
	CHECK_EQ(s.untouched.count, 0, "LAPIC above top 0xFEDFFFFF: untouched");
	CHECK_EQ(s.slot_count, 1, "range below scratch: slots");

	/* Ranges straddling base and top are clipped to scratch. */
	struct sr_ranges edges = {0};
	sr_ranges_add(&edges, 0xFFFB7000, 0x2000, "across base");
	sr_ranges_add(&edges, 0xFFFFF000, 0x2000, "across top");
	CHECK(sr_scratch_layout(&s, top, 0x48000, true, &edges, &empty, 1), "edges refused");
	check_layout_invariants(&s, top, 0x48000, true, &edges, 1, "edges");
	static const struct span clipped[] = {{0xFFFB8000, PAGE}, {0xFFFFF000, PAGE}};
	check_ranges(&s.holes, clipped, 2, "clipped holes");
	CHECK_EQ(s.slot_count, 1, "edges: one slot between");
	CHECK_EQ(s.slots[0].gpa, 0xFFFB9000, "edges slot gpa");
	CHECK_EQ(s.slots[0].size, 0x48000 - 2 * PAGE, "edges slot size");
	CHECK_EQ(s.slots[0].host_offset, PAGE, "edges slot offset");
	CHECK_EQ(sr_scratch_tested_pages(&s), 0x46, "edges tested pages");

	/* A range covering all of scratch: no slot, nothing tested. */
	struct sr_ranges all = {0};
	sr_ranges_add(&all, 0xF0000000, 0x10000000, "everything");
	CHECK(sr_scratch_layout(&s, top, 0x48000, true, &all, &empty, 1), "all refused");
	check_layout_invariants(&s, top, 0x48000, true, &all, 1, "all avoided");
	CHECK_EQ(s.slot_count, 0, "all avoided: slots");
	CHECK_EQ(sr_scratch_tested_pages(&s), 0, "all avoided: tested pages");

	/* SR_MAX_HOLES holes fit (17 slots); one more is refused. Separate pages
	 * 0xF0001000, 0xF0003000, ... inside scratch [0xF0000000, 0xFFFFFFFF]. */
	struct sr_ranges many = {0};
	for (unsigned i = 0; i < SR_MAX_HOLES; i++)
		sr_ranges_add(&many, 0xF0001000 + i * 0x2000ULL, PAGE, "placeholder");
	CHECK(sr_scratch_layout(&s, top, 0x10000000, true, &many, &empty, 1), "16 holes refused");
	check_layout_invariants(&s, top, 0x10000000, true, &many, 1, "16 holes");
	CHECK_EQ(s.holes.count, SR_MAX_HOLES, "16 holes");
	CHECK_EQ(s.slot_count, SR_MAX_HOLES + 1, "16 holes: slots");
	sr_ranges_add(&many, 0xF0001000 + SR_MAX_HOLES * 0x2000ULL, PAGE, "one too many");
	CHECK(!sr_scratch_layout(&s, top, 0x10000000, true, &many, &empty, 1), "17 holes accepted");

	/* 14 placeholders plus the LAPIC and IOAPIC pages are exactly
	 * SR_MAX_HOLES holes; the device pages are already among them, so
	 * `untouched` stays at 16 too. The layout must be accepted. */
	struct sr_ranges sixteen = devices;
	for (unsigned i = 0; i < SR_MAX_HOLES - 2; i++)
		sr_ranges_add(&sixteen, 0xF0001000 + i * 0x2000ULL, PAGE, "placeholder");
	CHECK_EQ(sixteen.count, SR_MAX_HOLES, "14 placeholders + 2 devices");
	CHECK(sr_scratch_layout(&s, top, 0x10000000, true, &sixteen, &devices, 1),
	      "16 holes including the device pages refused (devices re-added to a full hole list)");
	CHECK_EQ(s.untouched.count, SR_MAX_HOLES, "16 holes including the devices: untouched");
}

/* Randomized: page-granular model of scratch. Every page is in a hole iff an
 * avoided range covers it (split only), untouched iff a hole or a device page,
 * in a slot otherwise. */
static void test_scratch_layout_property(void)
{
	enum { MAX_PAGES = 2048 };
	static uint8_t model[MAX_PAGES]; /* bit 0: avoided, bit 1: device */

	rng_state = PROPERTY_SEED ^ 0x2222;
	for (unsigned iter = 0; iter < 500; iter++) {
		uint64_t seed = rng_state;
		char ctx[96];
		uint64_t top;

		switch (rnd_below(3)) {
		case 0:
			top = 0xFFFFFFFF;
			break;
		case 1:
			top = 0xFFFFFFFFF;
			break;
		default:
			top = rnd_range(0x401, (SR_GPA_TOP_MAX + 1) / PAGE) * PAGE - 1;
		}
		uint64_t limit_pages = sr_scratch_size_limit(top) / PAGE;
		uint64_t pages = rnd_range(1, limit_pages < MAX_PAGES ? limit_pages : MAX_PAGES);
		uint64_t size = pages * PAGE, base = top - size + 1, base_page = base / PAGE;
		bool split = rnd_below(4) != 0;
		uint32_t first_id = (uint32_t)rnd_range(1, 100);
		struct sr_ranges avoid = {0}, devices = {0};

		snprintf(ctx, sizeof(ctx), "seed 0x%llx top 0x%llx size 0x%llx %s", U(seed), U(top),
			 U(size), split ? "split" : "single");
		memset(model, 0, sizeof(model));

		/* Device pages: up to 3, near or inside scratch. */
		for (unsigned n = (unsigned)rnd_below(4), i = 0; i < n; i++) {
			uint64_t p = base_page - 4 + rnd_below(pages + 8);
			sr_ranges_add(&devices, p * PAGE, PAGE, "device");
			if (p >= base_page && p - base_page < pages)
				model[p - base_page] |= 2;
		}
		if (split && rnd_below(2))
			for (unsigned i = 0; i < devices.count; i++)
				sr_ranges_add(&avoid, devices.r[i].base, devices.r[i].size, "device");
		/* Up to 12 avoided ranges, reaching past both ends at times, so
		 * holes and untouched stay within SR_MAX_HOLES. */
		for (unsigned n = (unsigned)rnd_below(13), i = 0; i < n; i++) {
			uint64_t first = base_page - 16 + rnd_below(pages + 32);
			uint64_t len = rnd_range(1, rnd_below(6) ? 16 : pages);
			sr_ranges_add(&avoid, first * PAGE, len * PAGE, "random");
		}
		if (split)
			for (uint64_t p = 0; p < pages; p++)
				if (sr_ranges_first_overlap(&avoid, (base_page + p) * PAGE, PAGE))
					model[p] |= 1;

		struct sr_scratch s;
		bool ok = sr_scratch_layout(&s, top, size, split, &avoid, &devices, first_id);
		CHECK(ok, "%s: refused", ctx);
		if (!ok)
			continue;
		check_layout_invariants(&s, top, size, split, &avoid, first_id, ctx);

		/* Runs of the model, against holes, slots, untouched. */
		struct span want_holes[MAX_PAGES / 2 + 1], want_slots[MAX_PAGES / 2 + 1],
			want_untouched[MAX_PAGES / 2 + 1];
		unsigned nh = 0, ns = 0, nu = 0;
		uint64_t tested = 0;
		for (uint64_t p = 0; p < pages; p++) {
			uint64_t gpa = base + p * PAGE;
			struct span *list;
			unsigned *n;
			if (model[p] & 1) {
				list = want_holes;
				n = &nh;
			} else {
				list = want_slots;
				n = &ns;
			}
			if (*n > 0 && list[*n - 1].base + list[*n - 1].size == gpa)
				list[*n - 1].size += PAGE;
			else
				list[(*n)++] = (struct span){gpa, PAGE};
			if (model[p]) {
				if (nu > 0 && want_untouched[nu - 1].base + want_untouched[nu - 1].size == gpa)
					want_untouched[nu - 1].size += PAGE;
				else
					want_untouched[nu++] = (struct span){gpa, PAGE};
			} else {
				tested++;
			}
		}
		check_ranges(&s.holes, want_holes, nh, ctx);
		CHECK_EQ(s.slot_count, ns, "%s: slots", ctx);
		for (unsigned i = 0; i < ns && i < s.slot_count; i++) {
			CHECK_EQ(s.slots[i].gpa, want_slots[i].base, "%s: slot %u gpa", ctx, i);
			CHECK_EQ(s.slots[i].size, want_slots[i].size, "%s: slot %u size", ctx, i);
		}
		check_ranges(&s.untouched, want_untouched, nu, ctx);
		CHECK_EQ(sr_scratch_tested_pages(&s), tested, "%s: tested pages", ctx);
		if (failed > 50) /* one broken rule fails every iteration: stop early */
			break;
	}
}

/* The address width a last byte needs, and vmm's check of --gpa-top against
 * the host's: the message names both widths and what to do. */
static void test_phys_bits(void)
{
	static const struct {
		uint64_t last;
		unsigned bits;
	} need[] = {
		{0xFFFFFFFF, 32}, {0x100000000ULL, 33}, {0xFFFFFFFFFULL, 36}, {0x1000000000ULL, 37},
		{SR_GPA_TOP_MAX, 38}, {0x3FFFFF, 22}, {UINT64_MAX, 64}, {1, 1},
	};
	char buf[512];
	const char *why;

	for (unsigned i = 0; i < ARRAY_SIZE(need); i++)
		CHECK_EQ(sr_phys_bits_needed(need[i].last), need[i].bits, "last 0x%llx", U(need[i].last));
	CHECK(sr_check_phys_bits(SR_GPA_TOP_36, 36, buf, sizeof(buf)) == NULL, "64 GiB on a 36-bit host");
	CHECK(sr_check_phys_bits(SR_GPA_TOP_32, 36, buf, sizeof(buf)) == NULL, "4 GiB");
	CHECK(sr_check_phys_bits(SR_GPA_TOP_MAX, 48, buf, sizeof(buf)) == NULL, "256 GiB on 48 bits");
	why = sr_check_phys_bits(SR_GPA_TOP_MAX, 36, buf, sizeof(buf));
	CHECK_HAS(why, "--gpa-top 0x3fffffffff: beyond this host's 36-bit guest-physical space: scratch's last byte needs 38 bits", "both widths");
	CHECK_HAS(why, "use --gpa-top 0xfffffffff or lower", "what to do");
	CHECK_HAS(why, "MAXPHYADDR 38 or more", "or another host");
	CHECK_HAS(why, "EINVAL", "what KVM would say");
}

const struct unit_test layout_tests[] = {
	{"parse_u64", test_parse_u64},
	{"parse_gpa_top", test_parse_gpa_top},
	{"check_scratch_size", test_check_scratch_size},
	{"overlaps", test_overlaps},
	{"ranges_add", test_ranges_add},
	{"ranges_add_property", test_ranges_add_property},
	{"ranges_queries", test_ranges_queries},
	{"largest_fitting_size", test_largest_fitting_size},
	{"largest_fitting_property", test_largest_fitting_property},
	{"scratch_layout", test_scratch_layout},
	{"scratch_layout_property", test_scratch_layout_property},
	{"phys_bits", test_phys_bits},
};
const unsigned layout_test_count = ARRAY_SIZE(layout_tests);
