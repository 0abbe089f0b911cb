/* Unit tests of kvm-as's session bookkeeping (vmm/kvm-as/session.c): VMs by
 * fd per process, fork copies, exec clears, the host model's refusal and
 * every model's verdict. */
#include <errno.h>
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
		CHECK(hm_refused(p.v[m].answer, HM_REPLAY_NO_KERNEL), "%s: a replay refuses it",
		      hm_models[m].name);
	}
	CHECK(!p.refuse, "live, the kernel refuses it, not kvm-as");
	CHECK(!ks_end(&s, 100, 100, &p, -EEXIST), "no refusal of the model's is announced");
	for (unsigned m = 0; m < hm_model_count; m++)
		CHECK_EQ(ks_lookup(&s, 100, 4)->refusals[m], 0, "%s counts none", hm_models[m].name);
	ks_free(&s);
}

const struct unit_test session_tests[] = {
	{"kvm_as_session", test_session},
	{"kvm_as_session_user_overlap", test_session_user_overlap},
};
const unsigned session_test_count = ARRAY_SIZE(session_tests);
