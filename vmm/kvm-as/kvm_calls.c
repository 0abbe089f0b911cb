#include "kvm_calls.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>

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

const struct kc_ioctl kc_ioctls[] = {
	{KVM_CREATE_VM, "KVM_CREATE_VM", KC_CREATE_VM, 0},
	{KVM_SET_USER_MEMORY_REGION, "KVM_SET_USER_MEMORY_REGION", KC_MODEL, HM_SET_SLOT},
	{KVM_SET_USER_MEMORY_REGION2, "KVM_SET_USER_MEMORY_REGION2", KC_MODEL, HM_SET_SLOT},
	{KVM_CREATE_IRQCHIP, "KVM_CREATE_IRQCHIP", KC_MODEL, HM_CREATE_IRQCHIP},
	{KVM_ENABLE_CAP, "KVM_ENABLE_CAP", KC_MODEL, HM_SPLIT_IRQCHIP},
	{KVM_CREATE_VCPU, "KVM_CREATE_VCPU", KC_MODEL, HM_CREATE_VCPU},
	{KVM_SET_TSS_ADDR, "KVM_SET_TSS_ADDR", KC_MODEL, HM_SET_TSS_ADDR},
	{KVM_SET_IDENTITY_MAP_ADDR, "KVM_SET_IDENTITY_MAP_ADDR", KC_MODEL, HM_SET_IDENTITY_MAP},
};
const unsigned kc_ioctl_count = sizeof(kc_ioctls) / sizeof(kc_ioctls[0]);

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

bool kc_decode(const struct kc_ioctl *k, int fd, uint64_t arg, kc_reader read, void *ctx,
	       struct kc_call *out)
{
	*out = (struct kc_call){.ioctl = k, .fd = fd, .arg = arg, .modelled = true};
	out->ev.call = k->call;
	switch (k->request) {
	case KVM_SET_USER_MEMORY_REGION:
	case KVM_SET_USER_MEMORY_REGION2: {
		/* REGION2 starts with the same five fields. */
		struct kvm_userspace_memory_region r;
		if (read(ctx, arg, &r, sizeof(r)))
			return false;
		out->ev.slot = r.slot;
		out->ev.flags = r.flags;
		out->ev.gpa = r.guest_phys_addr;
		out->ev.size = r.memory_size;
		out->uaddr = r.userspace_addr;
		break;
	}
	case KVM_ENABLE_CAP: {
		struct kvm_enable_cap cap;
		if (read(ctx, arg, &cap, sizeof(cap)))
			return false;
		out->cap = cap.cap;
		out->arg = cap.args[0];
		out->modelled = cap.cap == KVM_CAP_SPLIT_IRQCHIP;
		break;
	}
	case KVM_SET_IDENTITY_MAP_ADDR:
		if (read(ctx, arg, &out->ev.gpa, sizeof(out->ev.gpa)))
			return false;
		break;
	case KVM_SET_TSS_ADDR:
		out->ev.gpa = arg;
		break;
	default:
		break;
	}
	return true;
}

void kc_describe(const struct kc_call *c, char *buf, size_t size)
{
	const struct hm_event *e = &c->ev;

	if (c->ioctl->kind == KC_MODEL && e->call == HM_SET_SLOT) {
		if (e->size == 0)
			snprintf(buf, size, "%s slot %u delete", c->ioctl->name, e->slot);
		else
			snprintf(buf, size, "%s slot %u [0x%llx-0x%llx] size 0x%llx flags 0x%x",
				 c->ioctl->name, e->slot, (unsigned long long)e->gpa,
				 (unsigned long long)(e->gpa + e->size - 1), (unsigned long long)e->size,
				 e->flags);
	} else if (c->ioctl->kind == KC_MODEL &&
		   (e->call == HM_SET_TSS_ADDR || e->call == HM_SET_IDENTITY_MAP)) {
		snprintf(buf, size, "%s 0x%llx", c->ioctl->name, (unsigned long long)e->gpa);
	} else if (c->ioctl->kind == KC_MODEL && e->call == HM_SPLIT_IRQCHIP) {
		snprintf(buf, size, "%s cap %u%s", c->ioctl->name, c->cap,
			 c->modelled ? " (KVM_CAP_SPLIT_IRQCHIP)" : "");
	} else if (c->ioctl->kind == KC_MODEL && e->call == HM_CREATE_VCPU) {
		snprintf(buf, size, "%s %llu", c->ioctl->name, (unsigned long long)c->arg);
	} else {
		snprintf(buf, size, "%s", c->ioctl->name);
	}
}

void kc_explain(const struct kc_call *c, const struct hm_verdict *v, char *buf, size_t size)
{
	const struct hm_event *e = &c->ev;
	unsigned long long pb = v->priv.base, pl = v->priv.base + v->priv.size - 1;
	unsigned long long ob = v->other.gpa, ol = v->other.gpa + v->other.size - 1;

	switch (v->answer) {
	case HM_ALLOW:
		buf[0] = '\0';
		return;
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
