#include "kvm_calls.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "strace_parse.h"

/* Not in older uapi headers (added in 6.8); the ABI number is fixed. */
#ifndef KVM_SET_USER_MEMORY_REGION2
struct kvm_userspace_memory_region2 {
	uint32_t slot, flags;
	uint64_t guest_phys_addr, memory_size, userspace_addr, guest_memfd_offset;
	uint32_t guest_memfd, pad1;
	uint64_t pad2[14];
};
#define KVM_SET_USER_MEMORY_REGION2 _IOW(KVMIO, 0x49, struct kvm_userspace_memory_region2)
#endif

/* Ours, not the C library's (strerrorname_np is glibc's alone; kvm-as is
 * also built with musl). */
static const struct {
	const char *name;
	int err;
} kc_errnos[] = {
	{"EEXIST", EEXIST}, {"EINVAL", EINVAL}, {"ENOMEM", ENOMEM}, {"EFAULT", EFAULT},
	{"ENOTTY", ENOTTY}, {"EBADF", EBADF},   {"EPERM", EPERM},   {"ENOSPC", ENOSPC},
	{"E2BIG", E2BIG},   {"ENXIO", ENXIO},   {"EBUSY", EBUSY},   {"EAGAIN", EAGAIN},
	{"EIO", EIO},       {"ENODEV", ENODEV}, {"EACCES", EACCES}, {"EINTR", EINTR},
	{"ENOENT", ENOENT}, {"ENOSYS", ENOSYS}, {"EOPNOTSUPP", EOPNOTSUPP},
};

const char *kc_errno_name(int err)
{
	for (unsigned i = 0; i < sizeof(kc_errnos) / sizeof(kc_errnos[0]); i++)
		if (kc_errnos[i].err == err)
			return kc_errnos[i].name;
	return NULL;
}

int kc_errno_by_name(const char *name, size_t len)
{
	for (unsigned i = 0; i < sizeof(kc_errnos) / sizeof(kc_errnos[0]); i++)
		if (strlen(kc_errnos[i].name) == len && strncmp(name, kc_errnos[i].name, len) == 0)
			return kc_errnos[i].err;
	return -1;
}

const struct kc_ioctl *kc_by_request(uint32_t request)
{
	for (unsigned i = 0; i < kc_ioctl_count; i++)
		if (kc_ioctls[i].request == request)
			return &kc_ioctls[i];
	return NULL;
}

const struct kc_ioctl *kc_by_name(const char *name, size_t len)
{
	for (unsigned i = 0; i < kc_ioctl_count; i++)
		if (strlen(kc_ioctls[i].name) == len && memcmp(kc_ioctls[i].name, name, len) == 0)
			return &kc_ioctls[i];
	return NULL;
}

/* KVM_SET_USER_MEMORY_REGION and ...REGION2 (which starts with the same
 * five fields): a slot created, moved, re-flagged or deleted. */
static bool decode_slot(struct kc_call *c, uint64_t arg, kc_reader read, void *ctx)
{
	struct kvm_userspace_memory_region r;

	if (read(ctx, arg, &r, sizeof(r)))
		return false;
	c->ev.slot = r.slot;
	c->ev.flags = r.flags;
	c->ev.gpa = r.guest_phys_addr;
	c->ev.size = r.memory_size;
	c->uaddr = r.userspace_addr;
	return true;
}

/* "KVM_SET_USER_MEMORY_REGION slot 17 [0xa0000-0xbffff] size 0x20000 flags 0x0",
 * or "... slot 17 delete". */
static void describe_slot(const struct kc_call *c, struct tbuf *b)
{
	const struct hm_event *e = &c->ev;

	tb_str(b, c->ioctl->name);
	tb_str(b, " slot ");
	tb_uint(b, e->slot);
	if (e->size == 0) {
		tb_str(b, " delete");
		return;
	}
	tb_str(b, " [");
	tb_hex(b, e->gpa);
	tb_char(b, '-');
	tb_hex(b, e->gpa + e->size - 1);
	tb_str(b, "] size ");
	tb_hex(b, e->size);
	tb_str(b, " flags ");
	tb_hex(b, e->flags);
}

static void trace_slot(const struct kc_call *c, const struct hm_verdict *v, struct tbuf *b)
{
	tb_json_key(b, "slot");
	tb_uint(b, c->ev.slot);
	tb_json_key(b, "flags");
	tb_uint(b, c->ev.flags);
	tb_json_hex(b, "gpa", c->ev.gpa);
	tb_json_hex(b, "size", c->ev.size);
	if (c->ev.size)
		tb_json_hex(b, "last", c->ev.gpa + c->ev.size - 1);
	tb_json_key(b, "change");
	tb_json_name(b, hm_change_name(v->change));
}

static const char *parse_slot(const char *arg, struct kc_call *c, bool *arg_known)
{
	uint64_t slot, flags, gpa, size, uaddr = 0;

	(void)arg_known;
	if (*arg != '{')
		return "the region is not decoded (strace shows only the pointer): record with an "
		       "strace that decodes it, without -X raw";
	if (!sp_field(arg, "slot", &slot) || !sp_field(arg, "flags", &flags) ||
	    !sp_field(arg, "guest_phys_addr", &gpa) || !sp_field(arg, "memory_size", &size))
		return "the region lacks slot, flags, guest_phys_addr or memory_size";
	(void)sp_field(arg, "userspace_addr", &uaddr);
	c->ev.slot = (uint32_t)slot;
	c->ev.flags = (uint32_t)flags;
	c->ev.gpa = gpa;
	c->ev.size = size;
	c->uaddr = uaddr;
	return NULL;
}

/* Replayed as KVM_SET_USER_MEMORY_REGION whichever form the log shows. */
static int replay_slot(int vm_fd, const struct kc_call *c, uint64_t uaddr)
{
	struct kvm_userspace_memory_region m = {
		.slot = c->ev.slot, .flags = c->ev.flags, .guest_phys_addr = c->ev.gpa,
		.memory_size = c->ev.size, .userspace_addr = uaddr,
	};
	return ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &m);
}

/* KVM_CREATE_VM and KVM_CREATE_VCPU: an immediate (machine type, vCPU id). */
static void describe_vcpu(const struct kc_call *c, struct tbuf *b)
{
	tb_str(b, c->ioctl->name);
	tb_char(b, ' ');
	tb_uint(b, c->arg);
}

static const char *parse_immediate(const char *arg, struct kc_call *c, bool *arg_known)
{
	uint64_t v;

	(void)arg_known;
	if (sp_number(arg, &v))
		c->arg = v;
	return NULL;
}

static int replay_vcpu(int vm_fd, const struct kc_call *c, uint64_t uaddr)
{
	int fd = ioctl(vm_fd, KVM_CREATE_VCPU, (unsigned long)c->arg);

	(void)uaddr;
	return fd < 0 ? -1 : 0; /* the vCPU fd stays open until exit */
}

/* KVM_CREATE_IRQCHIP: no argument. */
static int replay_irqchip(int vm_fd, const struct kc_call *c, uint64_t uaddr)
{
	(void)c;
	(void)uaddr;
	return ioctl(vm_fd, KVM_CREATE_IRQCHIP, 0);
}

/* KVM_ENABLE_CAP: only KVM_CAP_SPLIT_IRQCHIP is modelled (the LAPIC in the
 * kernel); another capability is followed but changes nothing. */
static bool decode_cap(struct kc_call *c, uint64_t arg, kc_reader read, void *ctx)
{
	struct kvm_enable_cap cap;

	if (read(ctx, arg, &cap, sizeof(cap)))
		return false;
	c->cap = cap.cap;
	c->arg = cap.args[0];
	c->modelled = cap.cap == KVM_CAP_SPLIT_IRQCHIP;
	return true;
}

static void describe_cap(const struct kc_call *c, struct tbuf *b)
{
	tb_str(b, c->ioctl->name);
	tb_str(b, " cap ");
	tb_uint(b, c->cap);
	if (c->modelled)
		tb_str(b, " (KVM_CAP_SPLIT_IRQCHIP)");
}

static void trace_cap(const struct kc_call *c, const struct hm_verdict *v, struct tbuf *b)
{
	(void)v;
	tb_json_key(b, "cap");
	tb_uint(b, c->cap);
}

static const char *parse_cap(const char *arg, struct kc_call *c, bool *arg_known)
{
	uint64_t v;

	if (*arg == '{' && sp_field(arg, "cap", &v)) {
		c->cap = (uint32_t)v;
		c->modelled = v == KVM_CAP_SPLIT_IRQCHIP;
	} else {
		*arg_known = false;
		c->modelled = false; /* a pointer: which capability is unknown */
	}
	return NULL;
}

/* Replayed only when modelled: the split irqchip, with the 24 IOAPIC pins
 * of the usual VMM. */
static int replay_cap(int vm_fd, const struct kc_call *c, uint64_t uaddr)
{
	struct kvm_enable_cap cap = {.cap = KVM_CAP_SPLIT_IRQCHIP, .args = {24}};

	(void)c;
	(void)uaddr;
	return ioctl(vm_fd, KVM_ENABLE_CAP, &cap);
}

/* KVM_SET_TSS_ADDR (an immediate address) and KVM_SET_IDENTITY_MAP_ADDR
 * (a pointer to one). */
static bool decode_tss(struct kc_call *c, uint64_t arg, kc_reader read, void *ctx)
{
	(void)read;
	(void)ctx;
	c->ev.gpa = arg;
	return true;
}

static bool decode_identity_map(struct kc_call *c, uint64_t arg, kc_reader read, void *ctx)
{
	return read(ctx, arg, &c->ev.gpa, sizeof(c->ev.gpa)) == 0;
}

static void describe_gpa(const struct kc_call *c, struct tbuf *b)
{
	tb_str(b, c->ioctl->name);
	tb_char(b, ' ');
	tb_hex(b, c->ev.gpa);
}

static void trace_gpa(const struct kc_call *c, const struct hm_verdict *v, struct tbuf *b)
{
	(void)v;
	tb_json_hex(b, "gpa", c->ev.gpa);
}

static const char *parse_tss(const char *arg, struct kc_call *c, bool *arg_known)
{
	uint64_t v;

	(void)arg_known;
	if (sp_number(arg, &v) == NULL)
		return "KVM_SET_TSS_ADDR without an address";
	c->ev.gpa = v;
	return NULL;
}

static const char *parse_identity_map(const char *arg, struct kc_call *c, bool *arg_known)
{
	uint64_t v;

	/* strace prints "[0x...]" when it decodes the u64, else a pointer */
	if (*arg == '[' && sp_number(arg + 1, &v)) {
		c->ev.gpa = v;
	} else {
		*arg_known = false;
		c->modelled = false; /* the page stays at its default */
	}
	return NULL;
}

static int replay_tss(int vm_fd, const struct kc_call *c, uint64_t uaddr)
{
	(void)uaddr;
	return ioctl(vm_fd, KVM_SET_TSS_ADDR, (unsigned long)c->ev.gpa);
}

static int replay_identity_map(int vm_fd, const struct kc_call *c, uint64_t uaddr)
{
	uint64_t gpa = c->ev.gpa;

	(void)uaddr;
	return ioctl(vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &gpa);
}

const struct kc_ioctl kc_ioctls[] = {
	{KVM_CREATE_VM, "KVM_CREATE_VM", KC_CREATE_VM, 0, NULL, NULL, NULL, parse_immediate, NULL},
	{KVM_SET_USER_MEMORY_REGION, "KVM_SET_USER_MEMORY_REGION", KC_MODEL, HM_SET_SLOT, decode_slot,
	 describe_slot, trace_slot, parse_slot, replay_slot},
	{KVM_SET_USER_MEMORY_REGION2, "KVM_SET_USER_MEMORY_REGION2", KC_MODEL, HM_SET_SLOT, decode_slot,
	 describe_slot, trace_slot, parse_slot, replay_slot},
	{KVM_CREATE_IRQCHIP, "KVM_CREATE_IRQCHIP", KC_MODEL, HM_CREATE_IRQCHIP, NULL, NULL, NULL, NULL,
	 replay_irqchip},
	{KVM_ENABLE_CAP, "KVM_ENABLE_CAP", KC_MODEL, HM_SPLIT_IRQCHIP, decode_cap, describe_cap,
	 trace_cap, parse_cap, replay_cap},
	{KVM_CREATE_VCPU, "KVM_CREATE_VCPU", KC_MODEL, HM_CREATE_VCPU, NULL, describe_vcpu, NULL,
	 parse_immediate, replay_vcpu},
	{KVM_SET_TSS_ADDR, "KVM_SET_TSS_ADDR", KC_MODEL, HM_SET_TSS_ADDR, decode_tss, describe_gpa,
	 trace_gpa, parse_tss, replay_tss},
	{KVM_SET_IDENTITY_MAP_ADDR, "KVM_SET_IDENTITY_MAP_ADDR", KC_MODEL, HM_SET_IDENTITY_MAP,
	 decode_identity_map, describe_gpa, trace_gpa, parse_identity_map, replay_identity_map},
};
const unsigned kc_ioctl_count = sizeof(kc_ioctls) / sizeof(kc_ioctls[0]);

bool kc_sets_slot(const struct kc_ioctl *k)
{
	return k->kind == KC_MODEL && k->call == HM_SET_SLOT;
}

void kc_init(struct kc_call *c, const struct kc_ioctl *k, int fd, uint64_t arg)
{
	*c = (struct kc_call){.ioctl = k, .fd = fd, .arg = arg, .modelled = true};
	c->ev.call = k->call;
}

bool kc_decode(const struct kc_ioctl *k, int fd, uint64_t arg, kc_reader read, void *ctx,
	       struct kc_call *out)
{
	kc_init(out, k, fd, arg);
	return k->decode == NULL || k->decode(out, arg, read, ctx);
}

void kc_describe_to(const struct kc_call *c, struct tbuf *b)
{
	if (c->ioctl->describe)
		c->ioctl->describe(c, b);
	else
		tb_str(b, c->ioctl->name);
}

void kc_describe(const struct kc_call *c, char *buf, size_t size)
{
	struct tbuf b;

	tb_init(&b, buf, size);
	kc_describe_to(c, &b);
}

void kc_trace_fields(const struct kc_call *c, const struct hm_verdict *v, struct tbuf *b)
{
	if (c->ioctl->trace)
		c->ioctl->trace(c, v, b);
}

void kc_explain(const struct kc_call *c, const struct hm_verdict *v, char *buf, size_t size)
{
	const struct hm_event *e = &c->ev;
	unsigned long long pb = v->priv.base, pl = v->priv.base + v->priv.size - 1;
	unsigned long long ob = v->other.gpa, ol = v->other.gpa + v->other.size - 1;

	switch (v->answer) {
	case HM_ALLOW:
		buf[0] = '\0';
		for (int d = 0; d < HM_DEVICE_COUNT; d++)
			if (v->hazards & (1u << d)) {
				kc_explain_hazard(c, v, (enum hm_device)d, buf, size);
				break;
			}
		return;
	case HM_REFUSE_WIDTH: {
		/* priv is [2^bits, 2^64 - 1] */
		unsigned bits = pb ? (unsigned)__builtin_ctzll(pb) : 64;
		unsigned long long last = e->gpa + e->size - 1;
		snprintf(buf, size,
			 "its last byte 0x%llx needs a %u-bit guest-physical address space, and the host "
			 "has %u bits (MAXPHYADDR: KVM maps nothing above 0x%llx and refuses the slot); "
			 "ways out: keep guest memory at or below 0x%llx, or run on hosts with MAXPHYADDR "
			 "%u or more",
			 last, last < e->gpa ? 64 : sr_phys_bits_needed(last), bits, pb - 1, pb - 1,
			 last < e->gpa ? 64 : sr_phys_bits_needed(last));
		return;
	}
	case HM_REFUSE_PRIVATE:
		snprintf(buf, size,
			 "it overlaps [0x%llx-0x%llx], %s; ways out: register the slot as two slots "
			 "around that range (one host mapping, host address + offset), or keep it %s",
			 pb, pl, v->priv.what,
			 e->gpa < v->priv.base ? "below that range (end it at or before the range's start)"
					       : "above that range");
		return;
	case HM_REFUSE_BIRTH:
		snprintf(buf, size,
			 "%s [0x%llx-0x%llx] would appear over user slot %u [0x%llx-0x%llx]; ways out: "
			 "leave that range out of the slot (split it around the range)",
			 v->priv.what, pb, pl, v->other.slot, ob, ol);
		return;
	case HM_REFUSE_AGAIN:
		snprintf(buf, size, "%s already exists at [0x%llx-0x%llx]; way out: set it once",
			 v->priv.what, pb, pl);
		return;
	case HM_REFUSE_USER:
		snprintf(buf, size,
			 "it overlaps user slot %u [0x%llx-0x%llx] (every host refuses this); way out: "
			 "delete or move that slot first",
			 v->other.slot, ob, ol);
		return;
	}
}

void kc_explain_hazard(const struct kc_call *c, const struct hm_verdict *v, enum hm_device d,
		       char *buf, size_t size)
{
	const struct hm_range *dev = &hm_devices[d];
	const struct hm_user_slot *u = &v->hidden_by[d];
	const char *refusing = hm_models_refusing_device(d);
	unsigned long long db = dev->gpa, dl = dev->gpa + dev->size - 1;
	char others[200] = "";

	if (*refusing)
		snprintf(others, sizeof(others), "; %s refuse%s it with EEXIST instead (a private slot there)",
			 refusing, strchr(refusing, ',') ? "" : "s");
	if (c->ev.call != HM_SET_SLOT) {
		snprintf(buf, size,
			 "it puts the in-kernel %s's MMIO page [0x%llx-0x%llx] under user slot %u "
			 "[0x%llx-0x%llx]: the guest reads RAM there, not its %s, and no ioctl reports it; "
			 "way out: leave that page out of slot %u (two slots around it)",
			 dev->device, db, dl, u->slot, (unsigned long long)u->gpa,
			 (unsigned long long)(u->gpa + u->size - 1), dev->device, u->slot);
		return;
	}
	snprintf(buf, size,
		 "it covers [0x%llx-0x%llx], the in-kernel %s's MMIO page: %s accept%s the slot and "
		 "the guest then reads RAM there, not its %s, and no ioctl reports it%s; ways out: "
		 "register the slot as two slots around that page (one host mapping, host address + "
		 "offset), or keep it %s",
		 db, dl, dev->device, *refusing ? "hosts without a private slot there" : "every host",
		 *refusing ? "" : "s", dev->device, others,
		 c->ev.gpa < dev->gpa ? "below that page (end it at or before the page's start)"
				      : "above that page");
}
