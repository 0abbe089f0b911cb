/* Unit tests of kvm-as's session bookkeeping (vmm/kvm-as/session.c): VMs by
 * fd per process, fork copies, exec clears, the host model's refusal and
 * every model's verdict. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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

	ks_init(&s, hm_model_find("intel"), -1);
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

	ks_init(&s, hm_model_find("intel"), -1);
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

/* What a memfd holds, as a string. */
static void read_back(int fd, char *buf, size_t size)
{
	ssize_t n = pread(fd, buf, size - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
}

/* A hazard: the call goes through (no --strict), the host model names each
 * hidden device once per VM (slot, range, device, way out), the trace line
 * has its "hazard" field, the summary its line; per VM, the width it needs. */
static void test_session_hazards(void)
{
	struct ks_session s;
	struct ks_pending p;
	char *said = NULL, *summary = NULL, trace[8192];
	size_t n1 = 0, n3 = 0;
	FILE *out = open_memstream(&said, &n1), *sf = open_memstream(&summary, &n3);
	int tf = memfd_create("trace", MFD_CLOEXEC); /* in memory: no file */

	if (out == NULL || sf == NULL || tf < 0)
		abort();
	ks_init(&s, hm_model_find("none"), dup(tf));
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
	ks_finish(&s, sf); /* the rest of the trace, then the summary */
	fclose(sf);
	read_back(tf, trace, sizeof(trace));
	CHECK_HAS(trace, "\"call\":\"KVM_SET_USER_MEMORY_REGION slot 17 [0xfec00000-0xffffffff] size 0x1400000 flags 0x0\"", "the call's description");
	CHECK_HAS(trace, "\"hazard\":[{\"device\":\"lapic\",\"base\":\"0xfee00000\",\"last\":\"0xfee00fff\",\"slot\":17,\"models\":[\"none\"]},{\"device\":\"ioapic\",\"base\":\"0xfec00000\",\"last\":\"0xfec00fff\",\"slot\":17,\"models\":[\"none\"]}]", "the hazard field: intel, intel-noug and amd-avic refuse the slot");
	CHECK_HAS(trace, "\"hazard\":[{\"device\":\"ioapic\",\"base\":\"0xfec00000\",\"last\":\"0xfec00fff\",\"slot\":18,\"models\":[\"intel\",\"intel-noug\",\"amd-avic\",\"none\"]}]", "slot 18: every model");
	CHECK_HAS(trace, "\"ioctl\":\"KVM_CREATE_IRQCHIP\",\"call\":\"KVM_CREATE_IRQCHIP\"", "every model call is described");
	CHECK_HAS(summary, "kvm-as: summary: none       would refuse nothing", "none refuses nothing");
	CHECK_HAS(summary, "kvm-as: summary: none       hazard: VM 1: KVM_SET_USER_MEMORY_REGION slot 17 [0xfec00000-0xffffffff] size 0x1400000 flags 0x0: hides the LAPIC page [0xfee00000-0xfee00fff] and the IOAPIC page [0xfec00000-0xfec00fff]", "none's hazard");
	CHECK_HAS(summary, "kvm-as: summary: intel      hazard: VM 1: KVM_SET_USER_MEMORY_REGION slot 18 [0xfec00000-0xfec00fff] size 0x1000 flags 0x0: hides the IOAPIC page", "intel's");
	CHECK_HAS(summary, "kvm-as: summary: intel        VM 1: KVM_SET_USER_MEMORY_REGION slot 17", "intel refuses slot 17");
	CHECK_HAS(summary, "kvm-as: summary: VM 1 needs 32 bits (MAXPHYADDR; highest slot byte 0xffffffff): fails on hosts with fewer", "the width");
	fclose(out);
	close(tf);
	free(said);
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
	int tf = memfd_create("trace", MFD_CLOEXEC);
	char trace[8192];

	if (tf < 0)
		abort();
	ks_init(&s, hm_model_find("none"), dup(tf));
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
	ks_free(&s); /* writes the trace */
	read_back(tf, trace, sizeof(trace));
	close(tf);
	CHECK_HAS(trace, "\"refused\":true,\"hit\":{\"base\":\"0xfec00000\",\"last\":\"0xfec00fff\",\"what\":\"", "the hazard refused: the IOAPIC page it hits");
	CHECK_HAS(trace, "\"result\":\"EINVAL\",\"refused\":true,\"hit\":{\"base\":\"0x1000000000\",\"last\":\"0xffffffffffffffff\",\"what\":\"the guest-physical addresses above the host's MAXPHYADDR\"}", "beyond 36 bits: what it hits");
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

/* The trace buffer: lines built in place, written as the buffer fills, all
 * of them in order and whole at the end; a write that fails is said once on
 * stderr and the trace stops, the session goes on. */
static void test_session_trace_buffer(void)
{
	static struct ks_session s; /* with its 64 KiB buffer */
	struct ks_pending p;
	static char got[1 << 20];
	int tf = memfd_create("trace", MFD_CLOEXEC), pipe_fds[2], err_pipe[2], saved_err;
	unsigned lines = 0, calls = 2000, in_order = 1;
	char said[512], *at;
	ssize_t n;

	if (tf < 0 || pipe(pipe_fds) || pipe(err_pipe))
		abort();
	ks_init(&s, hm_model_find("none"), dup(tf));
	new_vm(&s, &p);
	for (unsigned i = 0; i < calls; i++)
		call(&s, &p, REGION, (struct hm_event){HM_SET_SLOT, i, 0, 0x100000, i % 2 ? 0 : 0x1000}, 0, NULL);
	CHECK(s.trace.len < sizeof(s.trace.buf), "the buffer went out as it filled");
	ks_free(&s); /* writes the rest */
	read_back(tf, got, sizeof(got));
	for (at = got; (at = strchr(at, '\n')) != NULL; at++)
		lines++;
	CHECK_EQ(lines, calls + 1, "every call's line, KVM_CREATE_VM's included");
	for (unsigned i = 0; i < calls && in_order; i += 97) {
		char want[64];
		snprintf(want, sizeof(want), "\"slot\":%u,", i);
		in_order = strstr(got, want) != NULL;
	}
	CHECK(in_order, "the slots' lines are there");
	CHECK(got[strlen(got) - 1] == '\n', "the last line is whole");
	close(tf);

	/* the read end of a pipe: every write fails (EBADF) */
	saved_err = dup(STDERR_FILENO);
	dup2(err_pipe[1], STDERR_FILENO);
	ks_init(&s, hm_model_find("none"), pipe_fds[0]);
	new_vm(&s, &p);
	for (unsigned i = 0; i < calls; i++)
		call(&s, &p, REGION, (struct hm_event){HM_SET_SLOT, i, 0, 0x100000, i % 2 ? 0 : 0x1000}, 0, NULL);
	CHECK(s.trace.failed, "the write failed");
	ks_free(&s);
	fflush(stderr);
	dup2(saved_err, STDERR_FILENO);
	close(saved_err);
	close(err_pipe[1]);
	n = read(err_pipe[0], said, sizeof(said) - 1);
	said[n > 0 ? n : 0] = '\0';
	close(err_pipe[0]);
	close(pipe_fds[1]);
	CHECK_HAS(said, "kvm-as: --trace: cannot write the trace: Bad file descriptor; it stops here\n", "said");
	CHECK(strchr(said, '\n') == said + strlen(said) - 1, "once: %s", said);
}

/* The --trace line quotes kvm-as's own names as they are (tb_json_name):
 * each of them must hold nothing JSON escapes. */
static void test_trace_names_plain(void)
{
	struct hm_vm vm;
	struct hm_event far = {HM_SET_SLOT, 1, 0, 1ULL << 40, 0x1000};
	struct hm_verdict v;

	for (unsigned m = 0; m < hm_model_count; m++)
		CHECK(tb_json_plain(hm_models[m].name), "model %s", hm_models[m].name);
	for (unsigned d = 0; d < HM_DEVICE_COUNT; d++)
		CHECK(tb_json_plain(hm_devices[d].key) && tb_json_plain(hm_devices[d].what), "device %s",
		      hm_devices[d].key);
	for (unsigned p = 0; p < HM_PRIVATE_COUNT; p++)
		CHECK(tb_json_plain(hm_privates[p].what), "private slot %s", hm_privates[p].what);
	for (unsigned i = 0; i < kc_ioctl_count; i++)
		CHECK(tb_json_plain(kc_ioctls[i].name), "ioctl %s", kc_ioctls[i].name);
	for (int e = 0; e < 4096; e++)
		CHECK(kc_errno_name(e) == NULL || tb_json_plain(kc_errno_name(e)), "errno %d", e);
	for (int c = HM_CREATE; c <= HM_NOT_SLOT; c++)
		CHECK(tb_json_plain(hm_change_name((enum hm_change)c)), "change %d", c);
	hm_vm_init(&vm, &hm_models[0]);
	vm.phys_bits = 36;
	v = hm_judge(&vm, &far);
	CHECK_EQ(v.answer, HM_REFUSE_WIDTH, "a slot beyond 36 bits");
	CHECK(tb_json_plain(v.priv.what), "what it hits: %s", v.priv.what);
}

const struct unit_test session_tests[] = {
	{"session_trace_names_plain", test_trace_names_plain},
	{"session_trace_buffer", test_session_trace_buffer},
	{"kvm_as_session", test_session},
	{"kvm_as_session_user_overlap", test_session_user_overlap},
	{"kvm_as_session_hazards", test_session_hazards},
	{"kvm_as_session_strict_and_width", test_session_strict_and_width},
};
const unsigned session_test_count = ARRAY_SIZE(session_tests);
