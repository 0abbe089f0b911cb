/* Unit tests of kvm-as's session bookkeeping (vmm/kvm-as/session.c): VMs by
 * fd per process, fork copies, exec clears, the host model's refusal and
 * every model's verdict. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "session.h"

#define REGION "KVM_SET_USER_MEMORY_REGION"

/* The tracer's bookkeeping: VMs by fd per process, fork copies, exec clears,
 * the host model's refusal and every model's verdict. */
static void test_session(void)
{
	struct ks_session s;
	struct ks_pending p;
	struct kc_call c = {0};

	ks_init(&s, hm_model_find("intel"), NULL);
	c.ioctl = kc_by_name("KVM_CREATE_VM", strlen("KVM_CREATE_VM"));
	c.fd = 3;
	ks_begin(&s, 100, &c, &p);
	CHECK(!p.refuse, "KVM_CREATE_VM is never refused");
	ks_end(&s, 100, 100, &p, 4);
	CHECK(ks_lookup(&s, 100, 4) != NULL, "fd 4 is a VM");
	CHECK(ks_lookup(&s, 100, 3) == NULL, "fd 3 is not");
	ks_fork(&s, 100, 200);
	CHECK(ks_lookup(&s, 200, 4) == ks_lookup(&s, 100, 4), "a fork shares the VM");

	c = (struct kc_call){.ioctl = kc_by_name("KVM_CREATE_IRQCHIP", 18), .fd = 4, .modelled = true};
	c.ev.call = HM_CREATE_IRQCHIP;
	ks_begin(&s, 100, &c, &p);
	ks_end(&s, 100, 100, &p, 0);
	c = (struct kc_call){.ioctl = kc_by_name("KVM_CREATE_VCPU", 15), .fd = 4, .modelled = true};
	c.ev.call = HM_CREATE_VCPU;
	ks_begin(&s, 200, &c, &p);
	CHECK(!p.refuse, "vCPU");
	ks_end(&s, 200, 200, &p, 5);
	c = (struct kc_call){.ioctl = kc_by_name(REGION, strlen(REGION)), .fd = 4, .modelled = true};
	c.ev = (struct hm_event){HM_SET_SLOT, 17, 0, 0xF977E000, 0x6882000};
	ks_begin(&s, 100, &c, &p);
	CHECK(p.refuse, "intel refuses the report's slot");
	CHECK_EQ(p.v[(unsigned)(hm_model_find("none") - hm_models)].answer, HM_ALLOW, "none allows it");
	CHECK(ks_end(&s, 100, 100, &p, -EEXIST), "the first refusal is announced");
	ks_begin(&s, 100, &c, &p);
	CHECK(!ks_end(&s, 100, 100, &p, -EEXIST), "the second is not");
	CHECK_EQ(ks_lookup(&s, 100, 4)->refusals[s.host_index], 2, "counted");
	ks_exec(&s, 100);
	CHECK(ks_lookup(&s, 100, 4) == NULL, "exec forgets the fds");
	CHECK(ks_lookup(&s, 200, 4) != NULL, "but not the forked child's");
	ks_free(&s);
}

/* A user slot over another user slot: every model answers HM_REFUSE_USER,
 * but the session lets the call through to the real kernel (which refuses
 * it itself) and no model counts it; a replay of the same call refuses it. */
static void test_session_user_overlap(void)
{
	struct ks_session s;
	struct ks_pending p;
	struct kc_call c = {0};

	ks_init(&s, hm_model_find("intel"), NULL);
	c.ioctl = kc_by_name("KVM_CREATE_VM", strlen("KVM_CREATE_VM"));
	c.fd = 3;
	ks_begin(&s, 100, &c, &p);
	ks_end(&s, 100, 100, &p, 4);
	c = (struct kc_call){.ioctl = kc_by_name(REGION, strlen(REGION)), .fd = 4, .modelled = true};
	c.ev = (struct hm_event){HM_SET_SLOT, 1, 0, 0x100000, 0x2000};
	ks_begin(&s, 100, &c, &p);
	CHECK(!p.refuse, "a first slot");
	ks_end(&s, 100, 100, &p, 0);
	c.ev = (struct hm_event){HM_SET_SLOT, 2, 0, 0x101000, 0x1000};
	ks_begin(&s, 100, &c, &p);
	for (unsigned m = 0; m < hm_model_count; m++) {
		CHECK_EQ(p.v[m].answer, HM_REFUSE_USER, "%s: slot 2 over slot 1", hm_models[m].name);
		CHECK(hm_refused(&p.v[m], HM_REPLAY_NO_KERNEL), "%s: a replay refuses it",
		      hm_models[m].name);
	}
	CHECK(!p.refuse, "live, the kernel refuses it, not kvm-as");
	CHECK(!ks_end(&s, 100, 100, &p, -EEXIST), "no refusal of the model's is announced");
	for (unsigned m = 0; m < hm_model_count; m++)
		CHECK_EQ(ks_lookup(&s, 100, 4)->refusals[m], 0, "%s counts none", hm_models[m].name);
	ks_free(&s);
}

/* One call through the session as the tracer makes it: begin, end with the
 * result the host model gives (its errno when it refuses, else `ok`), and
 * the lines the tracer would write. Returns ks_end's answer. */
static bool call(struct ks_session *s, struct ks_pending *p, const char *ioctl, struct hm_event ev,
		 long ok, FILE *announce)
{
	struct kc_call c = {.ioctl = kc_by_name(ioctl, strlen(ioctl)), .fd = 4, .modelled = true};
	bool first;

	c.ev = ev;
	ks_begin(s, 100, &c, p);
	first = ks_end(s, 100, 100, p, p->refuse ? -hm_errno(&p->v[s->host_index]) : ok);
	if (announce)
		ks_announce(s, p, first, announce);
	return first;
}

static void new_vm(struct ks_session *s, struct ks_pending *p)
{
	struct kc_call c = {.ioctl = kc_by_name("KVM_CREATE_VM", strlen("KVM_CREATE_VM")), .fd = 3};

	ks_begin(s, 100, &c, p);
	ks_end(s, 100, 100, p, 4);
}

/* A hazard: the call goes through (no --strict), the host model names each
 * hidden device once per VM (slot, range, device, way out), the trace line
 * has its "hazard" field, the summary its line; per VM, the width it needs. */
static void test_session_hazards(void)
{
	struct ks_session s;
	struct ks_pending p;
	char *said = NULL, *trace = NULL, *summary = NULL;
	size_t n1 = 0, n2 = 0, n3 = 0;
	FILE *out = open_memstream(&said, &n1), *tf = open_memstream(&trace, &n2);

	if (out == NULL || tf == NULL)
		abort();
	ks_init(&s, hm_model_find("none"), tf);
	new_vm(&s, &p);
	call(&s, &p, "KVM_CREATE_IRQCHIP", (struct hm_event){.call = HM_CREATE_IRQCHIP}, 0, out);
	call(&s, &p, "KVM_CREATE_VCPU", (struct hm_event){.call = HM_CREATE_VCPU}, 5, out);
	CHECK(!call(&s, &p, REGION, (struct hm_event){HM_SET_SLOT, 17, 0, 0xFEC00000, 0x1400000}, 0, out),
	      "no refusal without --strict");
	CHECK(!p.refuse, "the call reaches KVM");
	CHECK_EQ(p.new_hazards, (1u << HM_IOAPIC) | (1u << HM_LAPIC), "both pages named now");
	call(&s, &p, REGION, (struct hm_event){HM_SET_SLOT, 17, 0, 0, 0}, 0, out); /* delete */
	call(&s, &p, REGION, (struct hm_event){HM_SET_SLOT, 18, 0, 0xFEC00000, 0x1000}, 0, out);
	CHECK_EQ(p.new_hazards, 0, "the IOAPIC again: named once per VM");
	fflush(out);
	CHECK_HAS(said, "kvm-as: none: VM 1: hazard: KVM_SET_USER_MEMORY_REGION slot 17 [0xfec00000-0xffffffff] size 0x1400000 flags 0x0: it covers [0xfec00000-0xfec00fff], the in-kernel IOAPIC's MMIO page: every host accepts", "the IOAPIC line");
	CHECK_HAS(said, "ways out: register the slot as two slots around that page", "its way out");
	CHECK_HAS(said, "it covers [0xfee00000-0xfee00fff], the in-kernel LAPIC's MMIO page: hosts without a private slot there accept the slot", "the LAPIC line");
	CHECK_HAS(said, "intel, intel-noug, amd-avic refuse it with EEXIST instead", "who refuses it");
	CHECK(strstr(said, "slot 18") == NULL, "no second line for the IOAPIC: %s", said);
	CHECK(strstr(said, "refused") == NULL, "nothing refused");
	fflush(tf);
	CHECK_HAS(trace, "\"call\":\"KVM_SET_USER_MEMORY_REGION slot 17 [0xfec00000-0xffffffff] size 0x1400000 flags 0x0\"", "the call's description");
	CHECK_HAS(trace, "\"hazard\":[{\"device\":\"lapic\",\"base\":\"0xfee00000\",\"last\":\"0xfee00fff\",\"slot\":17,\"models\":[\"none\"]},{\"device\":\"ioapic\",\"base\":\"0xfec00000\",\"last\":\"0xfec00fff\",\"slot\":17,\"models\":[\"none\"]}]", "the hazard field: intel, intel-noug and amd-avic refuse the slot");
	CHECK_HAS(trace, "\"hazard\":[{\"device\":\"ioapic\",\"base\":\"0xfec00000\",\"last\":\"0xfec00fff\",\"slot\":18,\"models\":[\"intel\",\"intel-noug\",\"amd-avic\",\"none\"]}]", "slot 18: every model");
	CHECK_HAS(trace, "\"ioctl\":\"KVM_CREATE_IRQCHIP\",\"call\":\"KVM_CREATE_IRQCHIP\"", "every model call is described");
	s.trace = NULL;
	fclose(tf);
	FILE *sf = open_memstream(&summary, &n3);
	if (sf == NULL)
		abort();
	ks_summary(&s, sf);
	fclose(sf);
	CHECK_HAS(summary, "kvm-as: summary: none       would refuse nothing", "none refuses nothing");
	CHECK_HAS(summary, "kvm-as: summary: none       hazard: VM 1: KVM_SET_USER_MEMORY_REGION slot 17 [0xfec00000-0xffffffff] size 0x1400000 flags 0x0: hides the LAPIC page [0xfee00000-0xfee00fff] and the IOAPIC page [0xfec00000-0xfec00fff]", "none's hazard");
	CHECK_HAS(summary, "kvm-as: summary: intel      hazard: VM 1: KVM_SET_USER_MEMORY_REGION slot 18 [0xfec00000-0xfec00fff] size 0x1000 flags 0x0: hides the IOAPIC page", "intel's");
	CHECK_HAS(summary, "kvm-as: summary: intel        VM 1: KVM_SET_USER_MEMORY_REGION slot 17", "intel refuses slot 17");
	CHECK_HAS(summary, "kvm-as: summary: VM 1 needs 32 bits (MAXPHYADDR; highest slot byte 0xffffffff): fails on hosts with fewer", "the width");
	fclose(out);
	free(said);
	free(trace);
	free(summary);
	ks_free(&s);
}

/* --strict: a hazard is refused with EEXIST, named as the first refusal;
 * --phys-bits: a slot above the width is refused with EINVAL. */
static void test_session_strict_and_width(void)
{
	struct ks_session s;
	struct ks_pending p;
	char *said = NULL, *summary = NULL;
	size_t n = 0, n2 = 0;
	FILE *out = open_memstream(&said, &n), *sf;

	if (out == NULL)
		abort();
	ks_init(&s, hm_model_find("none"), NULL);
	s.ctx = HM_LIVE_KERNEL | HM_STRICT;
	s.phys_bits = 36;
	new_vm(&s, &p);
	call(&s, &p, "KVM_CREATE_IRQCHIP", (struct hm_event){.call = HM_CREATE_IRQCHIP}, 0, out);
	CHECK(call(&s, &p, REGION, (struct hm_event){HM_SET_SLOT, 17, 0, 0xFEC00000, 0x1000}, 0, out),
	      "--strict: the hazard is the first refusal");
	CHECK(p.refuse && hm_errno(&p.v[s.host_index]) == EEXIST, "refused with EEXIST");
	CHECK_EQ(p.new_hazards, 0, "a refused call hides nothing");
	CHECK(!call(&s, &p, REGION, (struct hm_event){HM_SET_SLOT, 19, 0, 0xF00000000ULL, 0x100001000ULL}, 0, out),
	      "not the first refusal any more");
	CHECK(p.refuse && hm_errno(&p.v[s.host_index]) == EINVAL, "beyond 36 bits: EINVAL");
	fflush(out);
	CHECK_HAS(said, "kvm-as: none: VM 1: KVM_SET_USER_MEMORY_REGION slot 17 [0xfec00000-0xfec00fff] size 0x1000 flags 0x0 refused with EEXIST: it covers [0xfec00000-0xfec00fff], the in-kernel IOAPIC's MMIO page", "the strict line");
	CHECK_HAS(said, "(--strict)", "says why");
	sf = open_memstream(&summary, &n2);
	if (sf == NULL)
		abort();
	ks_summary(&s, sf);
	fclose(sf);
	CHECK_HAS(summary, "kvm-as: summary: none         VM 1: KVM_SET_USER_MEMORY_REGION slot 19 [0xf00000000-0x1000000fff]", "counted");
	CHECK_HAS(summary, "kvm-as: summary: VM 1 needs 37 bits (MAXPHYADDR; highest slot byte 0x1000000fff): fails on hosts with fewer", "37 bits");
	fclose(out);
	free(said);
	free(summary);
	ks_free(&s);
	/* the width alone, in the host model's own words */
	{
		struct kc_call c = {.ioctl = kc_by_name(REGION, strlen(REGION)), .modelled = true};
		struct hm_verdict v = {.answer = HM_REFUSE_WIDTH};
		char why[600];
		c.ev = (struct hm_event){HM_SET_SLOT, 19, 0, 0xF00000000ULL, 0x100001000ULL};
		v.priv = (struct sr_range){1ULL << 36, -(1ULL << 36), "beyond"};
		kc_explain(&c, &v, why, sizeof(why));
		CHECK_HAS(why, "its last byte 0x1000000fff needs a 37-bit guest-physical address space, and the host has 36 bits", "the width's explanation");
		CHECK_HAS(why, "keep guest memory at or below 0xfffffffff, or run on hosts with MAXPHYADDR 37 or more", "its way out");
	}
}

const struct unit_test session_tests[] = {
	{"kvm_as_session", test_session},
	{"kvm_as_session_user_overlap", test_session_user_overlap},
	{"kvm_as_session_hazards", test_session_hazards},
	{"kvm_as_session_strict_and_width", test_session_strict_and_width},
};
const unsigned session_test_count = ARRAY_SIZE(session_tests);
