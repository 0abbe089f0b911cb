#include "session.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ka_exit.h"

static void out_of_memory(void)
{
	fprintf(stderr, "kvm-as: out of memory\n");
	exit(KA_EXIT_CANNOT_TRACE);
}

void ks_init(struct ks_session *s, const struct hm_model *host, int trace_fd)
{
	memset(s, 0, offsetof(struct ks_session, trace));
	s->host = host;
	s->host_index = (unsigned)(host - hm_models);
	s->trace.fd = trace_fd;
	s->trace.failed = false;
	s->trace.len = 0;
	s->trace.flushed_ns = 0;
	s->ctx = HM_LIVE_KERNEL;
	s->phys_bits = SR_PHYS_BITS_MAX;
}

/* Write what the buffer holds. A failed write (a full disk) is said once;
 * the trace stops there, the command goes on. */
static void trace_flush(struct ks_trace *t)
{
	size_t done = 0;

	while (done < t->len && !t->failed) {
		ssize_t n = write(t->fd, t->buf + done, t->len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "kvm-as: --trace: cannot write the trace: %s; it stops here\n",
				n < 0 ? strerror(errno) : "nothing written");
			t->failed = true;
		} else {
			done += (size_t)n;
		}
	}
	t->len = 0;
}

static void trace_close(struct ks_trace *t)
{
	if (t->fd < 0)
		return;
	trace_flush(t);
	close(t->fd);
	t->fd = -1;
}

void ks_free(struct ks_session *s)
{
	trace_close(&s->trace);
	for (unsigned i = 0; i < s->vm_count; i++)
		free(s->vms[i]);
	free(s->vms);
	free(s->procs);
}

struct ks_proc *ks_proc(struct ks_session *s, pid_t tgid)
{
	for (unsigned i = 0; i < s->proc_count; i++)
		if (s->procs[i].tgid == tgid)
			return &s->procs[i];
	if (s->proc_count == s->proc_cap) {
		s->proc_cap = s->proc_cap ? 2 * s->proc_cap : 16;
		struct ks_proc *grown = realloc(s->procs, s->proc_cap * sizeof(*s->procs));
		if (grown == NULL)
			out_of_memory();
		s->procs = grown;
	}
	s->procs[s->proc_count] = (struct ks_proc){.tgid = tgid};
	return &s->procs[s->proc_count++];
}

void ks_fork(struct ks_session *s, pid_t parent_tgid, pid_t child_tgid)
{
	struct ks_proc copy = *ks_proc(s, parent_tgid);
	struct ks_proc *child = ks_proc(s, child_tgid);

	copy.tgid = child_tgid;
	*child = copy;
}

void ks_exec(struct ks_session *s, pid_t tgid)
{
	ks_proc(s, tgid)->count = 0;
}

static void map_fd(struct ks_proc *p, int fd, struct ks_vm *vm)
{
	for (unsigned i = 0; i < p->count; i++)
		if (p->fds[i].fd == fd) {
			p->fds[i].vm = vm;
			return;
		}
	if (p->count < KS_MAX_VM_FDS) /* beyond: that VM is not followed (docs/kvm-as.md: limits) */
		p->fds[p->count++] = (typeof(p->fds[0])){fd, vm};
}

static struct ks_vm *new_vm(struct ks_session *s, pid_t tgid, int fd)
{
	struct ks_vm **grown = realloc(s->vms, (s->vm_count + 1) * sizeof(*s->vms));
	struct ks_vm *vm;

	if (grown == NULL)
		out_of_memory();
	s->vms = grown;
	if ((vm = calloc(1, sizeof(*vm))) == NULL)
		out_of_memory();
	s->vms[s->vm_count++] = vm;
	vm->id = s->vm_count;
	vm->pid = tgid;
	vm->fd = fd;
	for (unsigned m = 0; m < hm_model_count; m++) {
		hm_vm_init(&vm->model[m], &hm_models[m]);
		vm->model[m].phys_bits = s->phys_bits;
	}
	map_fd(ks_proc(s, tgid), fd, vm);
	return vm;
}

struct ks_vm *ks_adopt(struct ks_session *s, pid_t tgid, int fd)
{
	return new_vm(s, tgid, fd);
}

struct ks_vm *ks_lookup(struct ks_session *s, pid_t tgid, int fd)
{
	struct ks_proc *p = ks_proc(s, tgid);

	for (unsigned i = 0; i < p->count; i++)
		if (p->fds[i].fd == fd)
			return p->fds[i].vm;
	return NULL;
}

void ks_begin(struct ks_session *s, pid_t tgid, const struct kc_call *c, struct ks_pending *p)
{
	memset(p, 0, sizeof(*p));
	p->call = *c;
	if (c->ioctl->kind != KC_MODEL || !c->modelled)
		return;
	p->vm = ks_lookup(s, tgid, c->fd);
	if (p->vm == NULL)
		return;
	for (unsigned m = 0; m < hm_model_count; m++)
		p->v[m] = hm_judge(&p->vm->model[m], &c->ev);
	/* The call goes on to this host's real KVM (enum hm_context). */
	p->refuse = hm_refused(&p->v[s->host_index], s->ctx);
}

/* The device pages a call that took effect hides, and under which models:
 * null, or [{"device":"ioapic","base":...,"last":...,"slot":N,"models":[...]}]. */
static void trace_hazards(const struct ks_session *s, const struct ks_pending *p, long result,
			  struct tbuf *b)
{
	unsigned n = 0;

	tb_json_key(b, "hazard");
	for (int d = 0; d < HM_DEVICE_COUNT && result >= 0; d++) {
		const struct hm_range *dev = &hm_devices[d];
		const struct hm_user_slot *by = NULL;
		unsigned k = 0;

		for (unsigned m = 0; m < hm_model_count; m++)
			if ((p->v[m].hazards & (1u << d)) && !hm_refused(&p->v[m], s->ctx) && by == NULL)
				by = &p->v[m].hidden_by[d];
		if (by == NULL)
			continue;
		tb_str(b, n++ ? ",{\"device\":" : "[{\"device\":");
		tb_json_name(b, dev->key);
		tb_json_hex(b, "base", dev->gpa);
		tb_json_hex(b, "last", dev->gpa + dev->size - 1);
		tb_json_key(b, "slot");
		tb_uint(b, by->slot);
		tb_str(b, ",\"models\":[");
		for (unsigned m = 0; m < hm_model_count; m++)
			if ((p->v[m].hazards & (1u << d)) && !hm_refused(&p->v[m], s->ctx)) {
				if (k++)
					tb_char(b, ',');
				tb_json_name(b, hm_models[m].name);
			}
		tb_str(b, "]}");
	}
	tb_str(b, n ? "]" : "null");
}

/* ,"models":{"intel":"allow",...}: each model's verdict. Nearly every call
 * is allowed by all of them: that field is built once and copied. */
static void trace_models(const struct ks_session *s, const struct ks_pending *p, struct tbuf *b)
{
	static char all_allow[256];
	static size_t all_allow_len;
	unsigned refused = 0;

	for (unsigned m = 0; m < hm_model_count; m++)
		refused |= (unsigned)hm_refused(&p->v[m], s->ctx) << m;
	if (refused == 0 && all_allow_len) {
		tb_bytes(b, all_allow, all_allow_len);
		return;
	}
	char *start = b->at;
	tb_json_key(b, "models");
	for (unsigned m = 0; m < hm_model_count; m++) {
		tb_char(b, m ? ',' : '{');
		tb_json_name(b, hm_models[m].name);
		tb_bytes(b, refused & (1u << m) ? ":\"refuse\"" : ":\"allow\"", refused & (1u << m) ? 9 : 8);
	}
	tb_char(b, '}');
	if (refused == 0 && !tb_cut(b) && (size_t)(b->at - start) < sizeof(all_allow)) {
		all_allow_len = (size_t)(b->at - start);
		memcpy(all_allow, start, all_allow_len);
	}
}

/* One JSON line per call (docs/kvm-as.md), built without printf: it is the
 * one thing a traced call costs beyond the tracer's stops. */
static void trace_line(struct ks_session *s, pid_t pid, const struct ks_pending *p, long result,
		       unsigned vm_id)
{
	const struct kc_call *c = &p->call;
	const struct hm_verdict *hv = &p->v[s->host_index];
	struct ks_trace *t = &s->trace;
	struct tbuf b;

	if (t->fd < 0 || t->failed)
		return;
	if (sizeof(t->buf) - t->len < KS_TRACE_LINE_MAX)
		trace_flush(t);
	tb_init(&b, t->buf + t->len, sizeof(t->buf) - t->len); /* in place: no copy */
	tb_str(&b, "{\"time\":");
	tb_uint(&b, p->time_ns / 1000000000);
	tb_char(&b, '.');
	tb_uint_width(&b, p->time_ns % 1000000000 / 1000, 6);
	tb_json_key(&b, "pid");
	tb_int(&b, pid);
	tb_json_key(&b, "vm");
	if (vm_id)
		tb_uint(&b, vm_id);
	else
		tb_str(&b, "null");
	tb_json_key(&b, "fd");
	tb_int(&b, c->fd);
	tb_json_key(&b, "ioctl");
	tb_json_name(&b, c->ioctl->name);
	if (c->ioctl->kind == KC_MODEL) {
		/* Names and numbers: nothing in it to escape. */
		tb_json_key(&b, "call");
		tb_char(&b, '"');
		kc_describe_to(c, &b);
		tb_char(&b, '"');
	}
	kc_trace_fields(c, hv, &b);
	tb_json_key(&b, "result");
	if (result >= 0) {
		tb_int(&b, result);
	} else {
		const char *err = kc_errno_name((int)-result);
		tb_json_name(&b, err ? err : "error");
	}
	tb_json_key(&b, "refused");
	tb_str(&b, p->refuse ? "true" : "false");
	tb_json_key(&b, "hit");
	if (p->refuse) {
		tb_str(&b, "{\"base\":\""); /* the object's first field: no comma */
		tb_hex(&b, hv->priv.base);
		tb_char(&b, '"');
		tb_json_hex(&b, "last", hv->priv.base + hv->priv.size - 1);
		tb_json_key(&b, "what");
		tb_json_name(&b, hv->priv.what);
		tb_char(&b, '}');
	} else {
		tb_str(&b, "null");
	}
	if (p->vm) {
		trace_hazards(s, p, result, &b);
		trace_models(s, p, &b);
	}
	tb_str(&b, "}\n");
	t->len += tb_len(&b);
	if (p->time_ns - t->flushed_ns >= KS_TRACE_FLUSH_NS) {
		trace_flush(t);
		t->flushed_ns = p->time_ns;
	}
}

bool ks_end(struct ks_session *s, pid_t pid, pid_t tgid, struct ks_pending *p, long result)
{
	struct ks_vm *vm = p->vm;
	bool first = false;

	if (p->call.ioctl->kind == KC_CREATE_VM) {
		unsigned id = 0;
		if (result >= 0)
			id = new_vm(s, tgid, (int)result)->id;
		trace_line(s, pid, p, result, id);
		return false;
	}
	p->new_hazards = 0;
	if (vm == NULL)
		return false; /* not a VM we follow: no line, nothing to judge */
	if (p->call.ev.call == HM_SET_SLOT && p->call.ev.size &&
	    (p->v[s->host_index].change == HM_CREATE || p->v[s->host_index].change == HM_MOVE)) {
		uint64_t last = p->call.ev.gpa + p->call.ev.size - 1;
		if (last < p->call.ev.gpa)
			last = UINT64_MAX;
		if (!vm->any_slot || last > vm->top)
			vm->top = last;
		vm->any_slot = true;
	}
	for (unsigned m = 0; m < hm_model_count; m++) {
		if (hm_refused(&p->v[m], s->ctx)) {
			unsigned n = vm->refusals[m]++;
			if (n < KS_MAX_REFUSALS)
				kc_describe(&p->call, vm->first[m][n], sizeof(vm->first[m][n]));
			if (m == s->host_index && n == 0)
				first = true;
		} else if (p->v[m].hazards && result >= 0) {
			unsigned n = vm->hazards[m]++;
			if (n < KS_MAX_HAZARDS)
				ks_hazard_text(&p->call, &p->v[m], vm->hazard[m][n], sizeof(vm->hazard[m][n]));
			if (m == s->host_index) {
				p->new_hazards = p->v[m].hazards & ~vm->named;
				vm->named |= p->v[m].hazards;
			}
		}
		/* Every model follows what really happened here. */
		hm_commit(&vm->model[m], &p->call.ev, &p->v[m], result >= 0);
	}
	trace_line(s, pid, p, result, vm->id);
	return first;
}

void ks_hazard_text(const struct kc_call *c, const struct hm_verdict *v, char *buf, size_t size)
{
	size_t n;

	kc_describe(c, buf, size);
	n = strlen(buf);
	for (int d = 0, k = 0; d < HM_DEVICE_COUNT && n < size; d++)
		if (v->hazards & (1u << d)) {
			const struct hm_range *dev = &hm_devices[d];
			n += (size_t)snprintf(buf + n, size - n, "%s the %s page [0x%llx-0x%llx]",
					      k++ ? " and" : ": hides", dev->device,
					      (unsigned long long)dev->gpa,
					      (unsigned long long)(dev->gpa + dev->size - 1));
		}
}

void ks_announce(const struct ks_session *s, const struct ks_pending *p, bool first_refusal,
		 FILE *out)
{
	const struct hm_verdict *v = &p->v[s->host_index];
	char what[200], why[700];

	if (p->vm == NULL || (!first_refusal && p->new_hazards == 0))
		return; /* nothing to say: the common case, at every call */
	kc_describe(&p->call, what, sizeof(what));
	if (first_refusal) {
		int err = hm_errno(v);
		kc_explain(&p->call, v, why, sizeof(why));
		fprintf(out, "kvm-as: %s: VM %u: %s refused with %s: %s%s\n", s->host->name, p->vm->id,
			what, kc_errno_name(err) ? kc_errno_name(err) : "an error", why,
			v->answer == HM_ALLOW ? " (--strict)" : "");
	}
	for (int d = 0; d < HM_DEVICE_COUNT; d++)
		if (p->new_hazards & (1u << d)) {
			kc_explain_hazard(&p->call, v, (enum hm_device)d, why, sizeof(why));
			fprintf(out, "kvm-as: %s: VM %u: hazard: %s: %s\n", s->host->name, p->vm->id, what,
				why);
		}
}

void ks_summary(const struct ks_session *s, FILE *out)
{
	for (unsigned m = 0; m < hm_model_count; m++) {
		unsigned total = 0;
		for (unsigned i = 0; i < s->vm_count; i++)
			total += s->vms[i]->refusals[m];
		fprintf(out, "kvm-as: summary: %-10s %s\n", hm_models[m].name,
			total ? "would refuse:" : "would refuse nothing");
		for (unsigned i = 0; i < s->vm_count; i++) {
			const struct ks_vm *vm = s->vms[i];
			for (unsigned n = 0; n < vm->refusals[m] && n < KS_MAX_REFUSALS; n++)
				fprintf(out, "kvm-as: summary: %-10s   VM %u: %s\n", hm_models[m].name, vm->id,
					vm->first[m][n]);
			if (vm->refusals[m] > KS_MAX_REFUSALS)
				fprintf(out, "kvm-as: summary: %-10s   VM %u: and %u more\n", hm_models[m].name,
					vm->id, vm->refusals[m] - KS_MAX_REFUSALS);
		}
		for (unsigned i = 0; i < s->vm_count; i++) {
			const struct ks_vm *vm = s->vms[i];
			for (unsigned n = 0; n < vm->hazards[m] && n < KS_MAX_HAZARDS; n++)
				fprintf(out, "kvm-as: summary: %-10s hazard: VM %u: %s\n", hm_models[m].name,
					vm->id, vm->hazard[m][n]);
			if (vm->hazards[m] > KS_MAX_HAZARDS)
				fprintf(out, "kvm-as: summary: %-10s hazard: VM %u: and %u more\n",
					hm_models[m].name, vm->id, vm->hazards[m] - KS_MAX_HAZARDS);
		}
	}
	for (unsigned i = 0; i < s->vm_count; i++)
		if (s->vms[i]->any_slot)
			fprintf(out,
				"kvm-as: summary: VM %u needs %u bits (MAXPHYADDR; highest slot byte 0x%llx): "
				"fails on hosts with fewer\n",
				s->vms[i]->id, sr_phys_bits_needed(s->vms[i]->top),
				(unsigned long long)s->vms[i]->top);
}

void ks_finish(struct ks_session *s, FILE *out)
{
	if (s->trace.fd < 0)
		return;
	trace_close(&s->trace); /* a child that outlives the command is followed, not written */
	if (!s->no_summary)
		ks_summary(s, out);
}
