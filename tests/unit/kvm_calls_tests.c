/* Unit tests of kvm-as's ioctl table (vmm/kvm-as/kvm_calls.c): each row is
 * found by name and number, carries the functions its argument needs, and
 * the tracer's decoder and the strace parser read one call alike. Numbers
 * and texts are written from <linux/kvm.h> and strace's output. */
#include <linux/kvm.h>
#include <stdlib.h>

#include "harness.h"
#include "kvm_calls.h"
#include "strace_parse.h"

/* A tracee's memory: one buffer at a fixed address. */
struct fake_tracee {
	uint64_t addr;
	const void *data;
	size_t size;
};

static int fake_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	const struct fake_tracee *t = ctx;

	if (addr != t->addr || len > t->size)
		return -1;
	memcpy(buf, t->data, len);
	return 0;
}

static void test_table_rows(void)
{
	unsigned slots = 0;

	CHECK_EQ(kc_ioctl_count, 8, "KVM_CREATE_VM and the seven memslot-related ioctls");
	for (unsigned i = 0; i < kc_ioctl_count; i++) {
		const struct kc_ioctl *k = &kc_ioctls[i];
		CHECK(kc_by_name(k->name, strlen(k->name)) == k, "%s by name", k->name);
		CHECK(kc_by_request(k->request) == k, "%s by number 0x%x", k->name, k->request);
		if (k->kind == KC_MODEL)
			CHECK(k->replay != NULL, "%s can be replayed on a real VM", k->name);
		slots += kc_sets_slot(k);
	}
	CHECK_EQ(slots, 2, "KVM_SET_USER_MEMORY_REGION and ...2 set slots");
	CHECK(kc_by_request(KVM_RUN) == NULL, "KVM_RUN is not followed");
	CHECK(kc_by_name("KVM_RUN", 7) == NULL, "nor by name");
	CHECK(kc_by_name("KVM_CREATE_VM", 10) == NULL, "a prefix is not a name");
}

/* What the call prints as its line and as its --trace fields. */
static void describe(const struct kc_call *c, char *line, size_t size, char **fields)
{
	struct hm_verdict v = {.answer = HM_ALLOW, .change = HM_CREATE};
	struct tbuf b;

	kc_describe(c, line, size);
	*fields = malloc(512);
	if (*fields == NULL)
		abort();
	tb_init(&b, *fields, 512);
	kc_trace_fields(c, &v, &b);
}

static void test_decode_describe(void)
{
	struct kvm_userspace_memory_region region = {
		.slot = 17, .flags = 0, .guest_phys_addr = 0xF977E000, .memory_size = 0x6882000,
		.userspace_addr = 0x7F0000000000,
	};
	struct kvm_enable_cap cap = {.cap = KVM_CAP_SPLIT_IRQCHIP, .args = {24}};
	uint64_t idmap = 0xFEFFC000;
	struct fake_tracee t = {0x1000, &region, sizeof(region)};
	const struct kc_ioctl *k;
	struct kc_call c;
	char line[200], *fields = NULL;

	k = kc_by_request(KVM_SET_USER_MEMORY_REGION);
	CHECK(kc_decode(k, 5, 0x1000, fake_read, &t, &c), "the region is read");
	CHECK_EQ(c.ev.call, HM_SET_SLOT, "a slot call");
	CHECK_EQ(c.ev.slot, 17, "slot");
	CHECK_EQ(c.ev.gpa, 0xF977E000, "gpa");
	CHECK_EQ(c.ev.size, 0x6882000, "size");
	CHECK_EQ(c.uaddr, 0x7F0000000000, "userspace_addr");
	describe(&c, line, sizeof(line), &fields);
	CHECK_HAS(line, "KVM_SET_USER_MEMORY_REGION slot 17 [0xf977e000-0xffffffff] size 0x6882000 flags 0x0",
		  "the line");
	CHECK_HAS(fields, ",\"slot\":17,\"flags\":0,\"gpa\":\"0xf977e000\",\"size\":\"0x6882000\","
			  "\"last\":\"0xffffffff\",\"change\":\"create\"", "the trace fields");
	free(fields);
	CHECK(!kc_decode(k, 5, 0x2000, fake_read, &t, &c), "an unreadable region");
	region.memory_size = 0;
	kc_decode(k, 5, 0x1000, fake_read, &t, &c);
	describe(&c, line, sizeof(line), &fields);
	CHECK_HAS(line, "KVM_SET_USER_MEMORY_REGION slot 17 delete", "size 0 deletes");
	CHECK(strstr(fields, "\"last\"") == NULL, "no last byte of nothing: %s", fields);
	free(fields);

	t = (struct fake_tracee){0x1000, &cap, sizeof(cap)};
	k = kc_by_request(KVM_ENABLE_CAP);
	CHECK(kc_decode(k, 4, 0x1000, fake_read, &t, &c) && c.modelled, "the split irqchip");
	CHECK_EQ(c.ev.call, HM_SPLIT_IRQCHIP, "modelled as the LAPIC in the kernel");
	CHECK_EQ(c.arg, 24, "its IOAPIC pins");
	describe(&c, line, sizeof(line), &fields);
	CHECK_HAS(line, "KVM_ENABLE_CAP cap 121 (KVM_CAP_SPLIT_IRQCHIP)", "the line");
	CHECK_HAS(fields, ",\"cap\":121", "the trace field");
	free(fields);
	cap.cap = KVM_CAP_X2APIC_API;
	CHECK(kc_decode(k, 4, 0x1000, fake_read, &t, &c) && !c.modelled, "another capability");
	kc_describe(&c, line, sizeof(line));
	CHECK(strstr(line, "SPLIT") == NULL, "not called the split irqchip: %s", line);

	t = (struct fake_tracee){0x1000, &idmap, sizeof(idmap)};
	k = kc_by_request(KVM_SET_IDENTITY_MAP_ADDR);
	CHECK(kc_decode(k, 4, 0x1000, fake_read, &t, &c), "a pointer to the address");
	CHECK_EQ(c.ev.gpa, 0xFEFFC000, "read through it");
	describe(&c, line, sizeof(line), &fields);
	CHECK_HAS(line, "KVM_SET_IDENTITY_MAP_ADDR 0xfeffc000", "the line");
	CHECK_HAS(fields, ",\"gpa\":\"0xfeffc000\"", "the trace field");
	free(fields);

	k = kc_by_request(KVM_SET_TSS_ADDR);
	CHECK(kc_decode(k, 4, 0xFEFFD000, fake_read, &t, &c), "an immediate: nothing to read");
	CHECK_EQ(c.ev.gpa, 0xFEFFD000, "the address");
	kc_describe(&c, line, sizeof(line));
	CHECK_HAS(line, "KVM_SET_TSS_ADDR 0xfeffd000", "the line");

	k = kc_by_request(KVM_CREATE_VCPU);
	CHECK(kc_decode(k, 4, 1, fake_read, &t, &c), "an immediate");
	describe(&c, line, sizeof(line), &fields);
	CHECK_HAS(line, "KVM_CREATE_VCPU 1", "the vCPU id");
	CHECK(fields != NULL && *fields == '\0', "no trace fields of its own: %s", fields);
	free(fields);
	k = kc_by_request(KVM_CREATE_IRQCHIP);
	CHECK(kc_decode(k, 4, 0, fake_read, &t, &c), "no argument");
	kc_describe(&c, line, sizeof(line));
	CHECK(strcmp(line, "KVM_CREATE_IRQCHIP") == 0, "its name alone: %s", line);
}

/* The same call seen by the tracer (memory) and in a strace log (text)
 * gives the same event. */
static void test_decode_and_parse_agree(void)
{
	struct kvm_userspace_memory_region region = {
		.slot = 65537, .flags = KVM_MEM_LOG_DIRTY_PAGES, .guest_phys_addr = 0x100000,
		.memory_size = 0x1000, .userspace_addr = 0x1,
	};
	uint64_t idmap = 0xFEFFC000;
	const struct {
		uint32_t request;
		uint64_t arg;
		const void *memory;
		size_t size;
		const char *line;
	} cases[] = {
		{KVM_SET_USER_MEMORY_REGION, 0x1000, &region, sizeof(region),
		 "ioctl(7, KVM_SET_USER_MEMORY_REGION, {slot=65537, flags=KVM_MEM_LOG_DIRTY_PAGES, "
		 "guest_phys_addr=0x100000, memory_size=4096, userspace_addr=0x1}) = 0"},
		{KVM_SET_TSS_ADDR, 0xFEFFD000, NULL, 0, "ioctl(7, KVM_SET_TSS_ADDR, 0xfeffd000) = 0"},
		{KVM_SET_IDENTITY_MAP_ADDR, 0x1000, &idmap, sizeof(idmap),
		 "ioctl(7, KVM_SET_IDENTITY_MAP_ADDR, [0xfeffc000]) = 0"},
		{KVM_CREATE_VCPU, 2, NULL, 0, "ioctl(7, KVM_CREATE_VCPU, 2) = 8"},
		{KVM_CREATE_IRQCHIP, 0, NULL, 0, "ioctl(7, KVM_CREATE_IRQCHIP, 0) = 0"},
	};

	for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
		struct fake_tracee t = {0x1000, cases[i].memory, cases[i].size};
		const struct kc_ioctl *k = kc_by_request(cases[i].request);
		struct sp_parser p;
		struct sp_call parsed;
		struct kc_call traced;
		char err[200] = "";

		sp_init(&p);
		CHECK(kc_decode(k, 7, cases[i].arg, fake_read, &t, &traced), "%s decoded", k->name);
		CHECK_EQ(sp_feed(&p, cases[i].line, 1, &parsed, err, sizeof(err)), SP_CALL, "%s: %s",
			 cases[i].line, err);
		CHECK(parsed.call.ioctl == k, "%s: the same row", k->name);
		CHECK(memcmp(&parsed.call.ev, &traced.ev, sizeof(traced.ev)) == 0, "%s: the same event",
		      k->name);
		CHECK_EQ(parsed.call.fd, traced.fd, "%s: fd", k->name);
		CHECK_EQ(parsed.call.modelled, traced.modelled, "%s: modelled", k->name);
		sp_free(&p);
	}
}

const struct unit_test kvm_calls_tests[] = {
	{"kvm_calls_table", test_table_rows},
	{"kvm_calls_decode_describe", test_decode_describe},
	{"kvm_calls_decode_and_parse_agree", test_decode_and_parse_agree},
};
const unsigned kvm_calls_test_count = ARRAY_SIZE(kvm_calls_tests);
