/* Unit tests of vmm/kvm-as/textbuf.c: its numbers read as printf's do, for
 * any value (a fixed-seed property test), JSON strings are escaped, and text
 * that does not fit is cut, ended with a NUL and said to be cut. */
#include <inttypes.h>
#include <stdlib.h>

#include "harness.h"
#include "textbuf.h"

/* A value with a random number of significant bits: small and huge alike. */
static uint64_t any_value(unsigned *seed)
{
	uint64_t v = ((uint64_t)rand_r(seed) << 42) ^ ((uint64_t)rand_r(seed) << 21) ^ (uint64_t)rand_r(seed);
	unsigned bits = (unsigned)rand_r(seed) % 65;

	return bits == 64 ? v : v & ((UINT64_C(1) << bits) - 1);
}

static void test_numbers_as_printf(void)
{
	unsigned seed = 20261207;

	for (int i = 0; i < 20000; i++) {
		uint64_t v = any_value(&seed);
		char ours[128], theirs[128];
		struct tbuf b;

		tb_init(&b, ours, sizeof(ours));
		tb_uint(&b, v);
		tb_char(&b, ' ');
		tb_hex(&b, v);
		tb_char(&b, ' ');
		tb_int(&b, (int64_t)v);
		tb_char(&b, ' ');
		tb_uint_width(&b, v % 1000000, 6);
		snprintf(theirs, sizeof(theirs), "%" PRIu64 " 0x%" PRIx64 " %" PRId64 " %06" PRIu64, v, v,
			 (int64_t)v, v % 1000000);
		CHECK(strcmp(ours, theirs) == 0, "seed 20261207, case %d: '%s', printf '%s'", i, ours, theirs);
		CHECK_EQ(tb_len(&b), strlen(theirs), "case %d: its length", i);
		CHECK(!tb_cut(&b), "case %d: not cut", i);
	}
}

static void test_json(void)
{
	char out[64];
	struct tbuf b;

	tb_init(&b, out, sizeof(out));
	tb_str(&b, "{\"k\":1");
	tb_json_key(&b, "what");
	tb_json_name(&b, "intel-noug");
	tb_char(&b, '}');
	CHECK(strcmp(out, "{\"k\":1,\"what\":\"intel-noug\"}") == 0, "a key and a name: %s", out);
	CHECK(tb_json_plain("KVM_SET_USER_MEMORY_REGION 0x1 [a-b]"), "a name and numbers are plain");
	CHECK(!tb_json_plain("a \"b\""), "a quote is not");
	CHECK(!tb_json_plain("a\\b"), "a backslash is not");
	CHECK(!tb_json_plain("a\nb"), "a control character is not");
}

static void test_cut(void)
{
	char out[8];
	struct tbuf b;

	tb_init(&b, out, sizeof(out));
	CHECK(out[0] == '\0' && tb_len(&b) == 0, "empty at first");
	tb_str(&b, "0123");
	tb_hex(&b, 0xabcdef);
	CHECK(tb_cut(&b), "cut");
	CHECK_EQ(tb_len(&b), sizeof(out) - 1, "as much as fits");
	CHECK(strcmp(out, "01230xa") == 0, "ended with a NUL: %s", out);
	tb_char(&b, 'x');
	CHECK(strcmp(out, "01230xa") == 0, "nothing more: %s", out);
}

const struct unit_test textbuf_tests[] = {
	{"textbuf_numbers_as_printf", test_numbers_as_printf},
	{"textbuf_json", test_json},
	{"textbuf_cut", test_cut},
};
const unsigned textbuf_test_count = ARRAY_SIZE(textbuf_tests);
