/* Unit tests of the strace-log parser (vmm/kvm-as/strace_parse.c). Lines are
 * written in the forms strace prints (src/kvm.c decodes KVM_CREATE_VCPU and
 * KVM_SET_USER_MEMORY_REGION; other KVM ioctls show their raw argument). */
#include <errno.h>
#include <stdlib.h>

#include "harness.h"
#include "strace_parse.h"

#define REGION "KVM_SET_USER_MEMORY_REGION"

static const struct line_case {
	const char *line;
	enum sp_status want;
	const char *ioctl; /* for SP_CALL */
	int pid, fd;
	uint32_t slot, flags;
	uint64_t gpa, size;
	long value;
	int err;
} line_cases[] = {
	{"ioctl(5, " REGION ", {slot=17, flags=0, guest_phys_addr=0xf977e000, memory_size=109584384, "
	 "userspace_addr=0x7f0000000000}) = -1 EEXIST (File exists)",
	 SP_CALL, REGION, 0, 5, 17, 0, 0xF977E000, 0x6882000, 0, EEXIST},
	{"[pid  4321] ioctl(5, " REGION ", {slot=0, flags=KVM_MEM_LOG_DIRTY_PAGES, guest_phys_addr=0, "
	 "memory_size=4194304, userspace_addr=0x7f1}) = 0",
	 SP_CALL, REGION, 4321, 5, 0, 1, 0, 0x400000, 0, 0},
	{"4321  12:00:01.123456 ioctl(7<anon_inode:kvm-vm>, " REGION ", {slot=65537, "
	 "flags=KVM_MEM_LOG_DIRTY_PAGES|KVM_MEM_READONLY, guest_phys_addr=0x100000, memory_size=0x1000, "
	 "userspace_addr=0x1}) = 0",
	 SP_CALL, REGION, 4321, 7, 65537, 3, 0x100000, 0x1000, 0, 0},
	{"1733150000.123456 ioctl(3, KVM_CREATE_VM, 0) = 4", SP_CALL, "KVM_CREATE_VM", 0, 3, 0, 0, 0, 0, 4, 0},
	{"     0.000123 ioctl(4, KVM_CREATE_VCPU, 0) = 5<anon_inode:kvm-vcpu:0>", SP_CALL, "KVM_CREATE_VCPU",
	 0, 4, 0, 0, 0, 0, 5, 0},
	{"ioctl(4, KVM_CREATE_IRQCHIP, 0) = 0", SP_CALL, "KVM_CREATE_IRQCHIP", 0, 4, 0, 0, 0, 0, 0, 0},
	{"ioctl(4, KVM_SET_TSS_ADDR, 0xfeffd000) = 0", SP_CALL, "KVM_SET_TSS_ADDR", 0, 4, 0, 0, 0xFEFFD000,
	 0, 0, 0},
	{"ioctl(4, KVM_SET_IDENTITY_MAP_ADDR, [0xfeffc000]) = 0", SP_CALL, "KVM_SET_IDENTITY_MAP_ADDR", 0,
	 4, 0, 0, 0xFEFFC000, 0, 0, 0},
	/* by number (strace -X raw, or an strace that lacks the name): 0x4020ae46 */
	{"ioctl(5, 0x4020ae46, {slot=1, flags=0, guest_phys_addr=0x1000, memory_size=4096}) = 0", SP_CALL,
	 REGION, 0, 5, 1, 0, 0x1000, 0x1000, 0, 0},
	{"ioctl(5, " REGION "2, {slot=2, flags=0, guest_phys_addr=0x2000, memory_size=4096, "
	 "userspace_addr=0x1, guest_memfd_offset=0, guest_memfd=0}) = 0",
	 SP_CALL, REGION "2", 0, 5, 2, 0, 0x2000, 0x1000, 0, 0},
	{"ioctl(5, KVM_RUN, 0) = 0", SP_IGNORED, NULL, 0, 0, 0, 0, 0, 0, 0, 0},
	{"ioctl(1, TCGETS, {c_iflag=ICRNL}) = 0", SP_IGNORED, NULL, 0, 0, 0, 0, 0, 0, 0, 0},
	{"openat(AT_FDCWD, \"/dev/kvm\", O_RDWR|O_CLOEXEC) = 3", SP_IGNORED, NULL, 0, 0, 0, 0, 0, 0, 0, 0},
	{"+++ exited with 0 +++", SP_IGNORED, NULL, 0, 0, 0, 0, 0, 0, 0, 0},
	{"", SP_IGNORED, NULL, 0, 0, 0, 0, 0, 0, 0, 0},
	/* ours but broken */
	{"ioctl(5, " REGION ", {slot=1, flags=0, guest_phys_addr=0x1000, memory_size=4096}", SP_ERROR,
	 NULL, 0, 0, 0, 0, 0, 0, 0, 0},
	{"ioctl(5, " REGION ", 0x7ffd1234) = 0", SP_ERROR, NULL, 0, 0, 0, 0, 0, 0, 0, 0},
	{"ioctl(5, " REGION ", {slot=1, flags=0}) = 0", SP_ERROR, NULL, 0, 0, 0, 0, 0, 0, 0, 0},
	{"ioctl(4, KVM_SET_TSS_ADDR, ) = 0", SP_ERROR, NULL, 0, 0, 0, 0, 0, 0, 0, 0},
};

static void test_strace_lines(void)
{
	for (unsigned i = 0; i < sizeof(line_cases) / sizeof(line_cases[0]); i++) {
		const struct line_case *t = &line_cases[i];
		struct sp_parser p;
		struct sp_call c;
		char err[256] = "";
		enum sp_status st;

		sp_init(&p);
		st = sp_feed(&p, t->line, 7, &c, err, sizeof(err));
		CHECK_EQ(st, t->want, "case %u: %s (%s)", i, t->line, err);
		if (st == SP_ERROR)
			CHECK(err[0] != '\0', "case %u: the error says why", i);
		if (st == SP_CALL && t->want == SP_CALL) {
			CHECK(strcmp(c.call.ioctl->name, t->ioctl) == 0, "case %u: %s", i, c.call.ioctl->name);
			CHECK_EQ(c.line, 7, "case %u", i);
			CHECK_EQ(c.pid, t->pid, "case %u: pid", i);
			CHECK_EQ(c.call.fd, t->fd, "case %u: fd", i);
			CHECK_EQ(c.call.ev.slot, t->slot, "case %u: slot", i);
			CHECK_EQ(c.call.ev.flags, t->flags, "case %u: flags", i);
			CHECK_EQ(c.call.ev.gpa, t->gpa, "case %u: gpa", i);
			CHECK_EQ(c.call.ev.size, t->size, "case %u: size", i);
			CHECK_EQ(c.err, t->err, "case %u: errno", i);
			if (t->err == 0)
				CHECK_EQ(c.value, t->value, "case %u: value", i);
		}
		sp_free(&p);
	}
}

static void test_strace_halves(void)
{
	struct sp_parser p;
	struct sp_call c;
	char err[256] = "";

	sp_init(&p);
	CHECK_EQ(sp_feed(&p, "[pid 10] ioctl(5, " REGION ", {slot=3, flags=0, guest_phys_addr=0xfee00000, "
			     "memory_size=4096, userspace_addr=0x1} <unfinished ...>",
			 3, &c, err, sizeof(err)),
		 SP_IGNORED, "first half kept");
	CHECK_EQ(sp_feed(&p, "[pid 11] ioctl(6, KVM_RUN, 0 <unfinished ...>", 4, &c, err, sizeof(err)),
		 SP_IGNORED, "KVM_RUN half not kept");
	CHECK_EQ(sp_unfinished_line(&p), 3, "one open call, from line 3");
	CHECK_EQ(sp_feed(&p, "[pid 11] <... ioctl resumed>) = 0", 5, &c, err, sizeof(err)), SP_IGNORED,
		 "KVM_RUN's second half");
	CHECK_EQ(sp_feed(&p, "[pid 10] <... ioctl resumed>) = -1 EEXIST (File exists)", 6, &c, err,
			 sizeof(err)),
		 SP_CALL, "joined: %s", err);
	CHECK_EQ(c.line, 3, "reported at its first line");
	CHECK_EQ(c.pid, 10, "pid");
	CHECK_EQ(c.call.ev.gpa, 0xFEE00000, "gpa from the first half");
	CHECK_EQ(c.err, EEXIST, "result from the second half");
	CHECK_EQ(sp_unfinished_line(&p), 0, "nothing open");
	/* KVM_CREATE_VCPU: strace prints its argument before the call blocks */
	CHECK_EQ(sp_feed(&p, "[pid 10] ioctl(4, KVM_CREATE_VCPU, 1 <unfinished ...>", 8, &c, err,
			 sizeof(err)),
		 SP_IGNORED, "vcpu half");
	CHECK_EQ(sp_feed(&p, "[pid 10] <... ioctl resumed>) = 9", 9, &c, err, sizeof(err)), SP_CALL,
		 "vcpu joined");
	CHECK_EQ(c.value, 9, "vcpu fd");
	CHECK_EQ(c.call.arg, 1, "vcpu id");
	/* truncated: a half that never resumes */
	CHECK_EQ(sp_feed(&p, "[pid 12] ioctl(4, KVM_CREATE_IRQCHIP <unfinished ...>", 10, &c, err,
			 sizeof(err)),
		 SP_IGNORED, "open");
	CHECK_EQ(sp_unfinished_line(&p), 10, "still open at the end");
	sp_free(&p);
}

static void test_enable_cap(void)
{
	struct sp_parser p;
	struct sp_call c;
	char err[256] = "";

	sp_init(&p);
	CHECK_EQ(sp_feed(&p, "ioctl(4, KVM_ENABLE_CAP, {cap=KVM_CAP_SPLIT_IRQCHIP, flags=0, args=[24, 0, 0, 0]}) = 0",
			 1, &c, err, sizeof(err)),
		 SP_CALL, "%s", err);
	CHECK(c.call.modelled && c.arg_known, "split irqchip");
	CHECK_EQ(sp_feed(&p, "ioctl(4, KVM_ENABLE_CAP, {cap=121, flags=0}) = 0", 2, &c, err, sizeof(err)),
		 SP_CALL, "%s", err);
	CHECK(c.call.modelled, "121 is KVM_CAP_SPLIT_IRQCHIP");
	CHECK_EQ(sp_feed(&p, "ioctl(4, KVM_ENABLE_CAP, {cap=KVM_CAP_X86_DISABLE_EXITS, flags=0}) = 0", 3, &c,
			 err, sizeof(err)),
		 SP_CALL, "%s", err);
	CHECK(!c.call.modelled, "another capability");
	CHECK_EQ(sp_feed(&p, "ioctl(4, KVM_ENABLE_CAP, 0x7ffc8) = 0", 4, &c, err, sizeof(err)), SP_CALL,
		 "%s", err);
	CHECK(!c.call.modelled && !c.arg_known, "a pointer: unknown capability");
	sp_free(&p);
}

/* Seeded garbage and mutated lines: the parser never crashes, never reports
 * a call it cannot have read, and frees what it keeps. */
static void test_strace_fuzz(void)
{
	static const char alphabet[] = "ioctl(KVM_SET_USER_MEMORY_REGION, {slot=flags0x1234567890abcdef}) "
				       "=-1EEXIST[pid]<unfinished ...><... ioctl resumed>\t";
	char line[300], err[256];
	unsigned calls = 0;

	rng_state = 0xF022ED5EEDULL;
	for (unsigned run = 0; run < 20000; run++) {
		struct sp_parser p;
		struct sp_call c;
		unsigned n = (unsigned)rnd_below(sizeof(line) - 1);
		enum sp_status st;

		if (run % 2) {
			/* a valid line with one byte changed or the tail cut */
			const char *base = line_cases[rnd_below(10)].line;
			size_t len = strlen(base);
			memcpy(line, base, len + 1);
			if (rnd_below(2))
				line[rnd_below(len)] = alphabet[rnd_below(sizeof(alphabet) - 1)];
			else
				line[rnd_below(len)] = '\0';
		} else {
			for (unsigned i = 0; i < n; i++)
				line[i] = alphabet[rnd_below(sizeof(alphabet) - 1)];
			line[n] = '\0';
		}
		sp_init(&p);
		st = sp_feed(&p, line, 1, &c, err, sizeof(err));
		if (st == SP_CALL) {
			calls++;
			CHECK(c.call.ioctl != NULL, "run %u: a call has its ioctl: %s", run, line);
		}
		sp_free(&p);
	}
	CHECK(calls > 100, "some mutated lines still parse (%u)", calls);
}

const struct unit_test strace_parse_tests[] = {
	{"strace_lines", test_strace_lines},
	{"strace_halves", test_strace_halves},
	{"strace_enable_cap", test_enable_cap},
	{"strace_fuzz", test_strace_fuzz},
};
const unsigned strace_parse_test_count = sizeof(strace_parse_tests) / sizeof(strace_parse_tests[0]);
