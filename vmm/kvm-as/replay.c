#include "replay.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ka_exit.h"
#include "options.h"
#include "strace_parse.h"

#define MAX_VMS 64
#define MAX_VCPU_FDS 1024
#define MAX_REAL_SLOTS 4096

/* One VM of the log. */
struct rvm {
	int fd;         /* in the log */
	unsigned line;  /* of its KVM_CREATE_VM, 0 when the log starts later */
	struct hm_vm model;
	unsigned calls, refused, hazards;
	uint64_t top;   /* the highest byte of a slot created or moved */
	bool any_slot;
	int real_fd;    /* --kvm */
};

struct replay {
	const struct hm_model *host;
	enum hm_context ctx; /* HM_REPLAY_NO_KERNEL, | HM_STRICT with --strict */
	unsigned phys_bits;  /* --phys-bits */
	bool on_kvm;
	unsigned vm_count;
	struct rvm *vms[MAX_VMS];
	int vcpu_fds[MAX_VCPU_FDS]; /* in the log: calls on them are not VM calls */
	unsigned vcpu_count;
	unsigned undecoded;         /* KVM_ENABLE_CAP/IDENTITY_MAP with only a pointer */
	/* --kvm */
	int kvm_fd;
	uint8_t *host_mem;
	uint64_t host_size, host_used;
	struct {
		unsigned vm;
		uint32_t slot;
		uint64_t offset;
	} slots[MAX_REAL_SLOTS];
	unsigned slot_count;
	unsigned kernel_refused, differ;
};

static struct rvm *find_vm(struct replay *r, int fd)
{
	/* The last VM with that fd: fds are reused after close. */
	for (unsigned i = r->vm_count; i-- > 0;)
		if (r->vms[i]->fd == fd)
			return r->vms[i];
	return NULL;
}

static struct rvm *add_vm(struct replay *r, int fd, unsigned line)
{
	struct rvm *vm;

	if (r->vm_count == MAX_VMS || (vm = calloc(1, sizeof(*vm))) == NULL)
		return NULL;
	vm->fd = fd;
	vm->line = line;
	vm->real_fd = -1;
	hm_vm_init(&vm->model, r->host);
	vm->model.phys_bits = r->phys_bits;
	r->vms[r->vm_count++] = vm;
	printf("replay: VM %u: fd %d, %s%u\n", r->vm_count, fd,
	       line ? "KVM_CREATE_VM at line " : "first used at line ", line ? line : 0);
	return vm;
}

static unsigned vm_index(const struct replay *r, const struct rvm *vm)
{
	for (unsigned i = 0; i < r->vm_count; i++)
		if (r->vms[i] == vm)
			return i + 1;
	return 0;
}

static bool is_vcpu_fd(const struct replay *r, int fd)
{
	for (unsigned i = 0; i < r->vcpu_count; i++)
		if (r->vcpu_fds[i] == fd)
			return true;
	return false;
}

/* --kvm: host memory for a slot of the log. The kernel requires a moved or
 * re-flagged slot to keep its host address, so each (VM, slot) keeps its
 * offset into the one NORESERVE mapping. */
static void *host_for(struct replay *r, unsigned vm, const struct hm_event *ev, bool create)
{
	for (unsigned i = 0; i < r->slot_count; i++)
		if (r->slots[i].vm == vm && r->slots[i].slot == ev->slot) {
			if (!create)
				return r->host_mem + r->slots[i].offset;
			r->slots[i] = r->slots[--r->slot_count];
			break;
		}
	if (!create || r->slot_count == MAX_REAL_SLOTS || ev->size > r->host_size - r->host_used)
		return r->host_mem; /* the kernel will say what it thinks */
	r->slots[r->slot_count++] = (typeof(r->slots[0])){vm, ev->slot, r->host_used};
	r->host_used += ev->size;
	return r->host_mem + r->host_used - ev->size;
}

/* --kvm: the same call on the real VM, through its row of the ioctl table;
 * returns 0 or the errno. */
static int on_kernel(struct replay *r, struct rvm *vm, const struct sp_call *c, enum hm_change change)
{
	const struct kc_ioctl *k = c->call.ioctl;
	uint64_t uaddr = 0;

	if (vm->real_fd < 0) {
		if ((vm->real_fd = ioctl(r->kvm_fd, KVM_CREATE_VM, 0)) < 0)
			return errno;
	}
	if (k->replay == NULL)
		return 0;
	if (kc_sets_slot(k))
		uaddr = (uintptr_t)host_for(r, vm_index(r, vm), &c->call.ev, change == HM_CREATE);
	return k->replay(vm->real_fd, &c->call, uaddr) < 0 ? errno : 0;
}

static void one_call(struct replay *r, const struct sp_call *c)
{
	const struct kc_call *k = &c->call;
	struct rvm *vm;
	struct hm_verdict v;
	char what[200], why[600];
	bool logged_ok = !c->have_result || c->err == 0;
	bool refused, took_effect;
	unsigned id;

	if (k->ioctl->kind == KC_CREATE_VM) {
		if (c->have_result && c->err == 0)
			add_vm(r, (int)c->value, c->line);
		return;
	}
	if (k->ev.call == HM_CREATE_VCPU && c->have_result && c->err == 0 &&
	    r->vcpu_count < MAX_VCPU_FDS)
		r->vcpu_fds[r->vcpu_count++] = (int)c->value;
	if (!c->arg_known)
		r->undecoded++;
	if (!k->modelled || is_vcpu_fd(r, k->fd))
		return; /* another capability, or a vCPU's own KVM_ENABLE_CAP */
	if ((vm = find_vm(r, k->fd)) == NULL && (vm = add_vm(r, k->fd, 0)) == NULL) {
		printf("replay: line %u: more than %d VMs: not followed\n", c->line, MAX_VMS);
		return;
	}
	id = vm_index(r, vm);
	v = hm_judge(&vm->model, &k->ev);
	refused = hm_refused(&v, r->ctx);
	if (k->ev.call == HM_SET_SLOT && k->ev.size && (v.change == HM_CREATE || v.change == HM_MOVE)) {
		uint64_t last = k->ev.gpa + k->ev.size - 1 >= k->ev.gpa ? k->ev.gpa + k->ev.size - 1
									: UINT64_MAX;
		if (!vm->any_slot || last > vm->top)
			vm->top = last;
		vm->any_slot = true;
	}
	/* An EEXIST in the log is judged again (it may come from the recording
	 * host's own private slot); any other error took no effect there. */
	took_effect = !refused && (logged_ok || c->err == EEXIST);
	kc_describe(k, what, sizeof(what));
	vm->calls++;
	if (refused) {
		kc_explain(k, &v, why, sizeof(why));
		printf("replay: VM %u line %u: %s: %s under %s%s: %s\n", id, c->line, what,
		       kc_errno_name(hm_errno(&v)), r->host->name, v.answer == HM_ALLOW ? " (--strict)" : "",
		       why);
		if (vm->refused++ == 0)
			printf("replay: %s: VM %u: the first call that fails is line %u: %s\n", r->host->name,
			       id, c->line, what);
	} else {
		printf("replay: VM %u line %u: %s: %s%s\n", id, c->line, what,
		       logged_ok ? "ok" : "failed in the log",
		       c->err && c->err != EEXIST && !logged_ok ? " (not applied)" : "");
	}
	if (r->on_kvm) {
		int kerr = on_kernel(r, vm, c, v.change);
		const char *kname = kerr ? kc_errno_name(kerr) : NULL;
		/* the kernel's own rules: --strict's hazards are not among them */
		bool model_refused = hm_refused(&v, r->ctx & ~HM_STRICT);
		bool kernel_refused = kerr == EEXIST || (kerr == EINVAL && v.answer == HM_REFUSE_WIDTH);
		r->kernel_refused += kernel_refused;
		if (kernel_refused != model_refused)
			r->differ++;
		printf("kvm:    VM %u line %u: %s: the kernel here says %s%s\n", id, c->line, what,
		       kerr ? (kname ? kname : strerror(kerr)) : "ok",
		       kernel_refused != model_refused ? (model_refused ? " (the model refuses it)"
								 : " (the model allows it)")
						       : "");
		took_effect = kerr == 0;
	}
	if (!refused && took_effect && v.hazards) {
		for (int d = 0; d < HM_DEVICE_COUNT; d++)
			if (v.hazards & (1u << d)) {
				kc_explain_hazard(k, &v, (enum hm_device)d, why, sizeof(why));
				printf("replay: VM %u line %u: %s: hazard under %s: %s\n", id, c->line, what,
				       r->host->name, why);
				vm->hazards++;
			}
	}
	hm_commit(&vm->model, &k->ev, &v, took_effect);
}

static int finish(struct replay *r, unsigned calls)
{
	unsigned refused = 0;

	for (unsigned i = 0; i < r->vm_count; i++) {
		const struct rvm *vm = r->vms[i];
		refused += vm->refused;
		printf("replay: %s: VM %u: %u calls, %s", r->host->name, i + 1, vm->calls,
		       vm->refused ? "REFUSED (see the first call above)" : "nothing refused");
		if (vm->hazards)
			printf(", %u hazard%s: device pages under RAM (see above)", vm->hazards,
			       vm->hazards == 1 ? "" : "s");
		putchar('\n');
		if (vm->any_slot)
			printf("replay: VM %u needs %u bits (MAXPHYADDR; highest slot byte 0x%llx): fails on "
			       "hosts with fewer\n",
			       i + 1, sr_phys_bits_needed(vm->top), (unsigned long long)vm->top);
	}
	if (r->undecoded)
		printf("replay: note: %u KVM_ENABLE_CAP or KVM_SET_IDENTITY_MAP_ADDR calls show only a "
		       "pointer in the log: taken as not KVM_CAP_SPLIT_IRQCHIP, identity map at its default\n",
		       r->undecoded);
	if (calls == 0) {
		fprintf(stderr, "kvm-as: --replay: no KVM memslot-related ioctl in the log (record it with "
				"strace -f -e trace=ioctl CMD)\n");
		return KA_EXIT_USAGE;
	}
	if (r->on_kvm) {
		printf("kvm:    the kernel here refused %u calls; model %s and kernel %s\n", r->kernel_refused,
		       r->host->name, r->differ ? "DIFFER" : "agree on every call");
		return r->kernel_refused ? KA_EXIT_REFUSED : 0;
	}
	return refused ? KA_EXIT_REFUSED : 0;
}

/* --kvm: the device and one mapping as large as every slot created. */
static int open_kvm(struct replay *r, uint64_t total)
{
	const char *dev = getenv(SR_KVM_DEVICE_ENV) ? getenv(SR_KVM_DEVICE_ENV) : SR_DEFAULT_KVM_DEVICE;

	if ((r->kvm_fd = open(dev, O_RDWR | O_CLOEXEC)) < 0) {
		fprintf(stderr, "kvm-as: --kvm: cannot open %s: %s\n", dev, strerror(errno));
		return KA_EXIT_CANNOT_TRACE;
	}
	r->host_size = total ? total : 4096;
	r->host_mem = mmap(NULL, r->host_size, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r->host_mem == MAP_FAILED) {
		fprintf(stderr, "kvm-as: --kvm: cannot map 0x%llx bytes for the slots: %s\n",
			(unsigned long long)r->host_size, strerror(errno));
		return KA_EXIT_CANNOT_TRACE;
	}
	return 0;
}

/* Two passes: the first checks every line and sums the slots' sizes (for
 * --kvm's one mapping), the second judges. */
static int pass(struct replay *r, FILE *f, const char *path, bool judge, uint64_t *total,
		unsigned *calls)
{
	struct sp_parser p;
	struct sp_call c;
	char *line = NULL, err[256];
	size_t cap = 0;
	ssize_t n;
	unsigned lineno = 0, open_line;
	int rc = 0;

	sp_init(&p);
	*calls = 0;
	while ((n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		switch (sp_feed(&p, line, lineno, &c, err, sizeof(err))) {
		case SP_IGNORED:
			continue;
		case SP_ERROR:
			fprintf(stderr, "kvm-as: --replay %s: line %u: %s\n", path, lineno, err);
			rc = KA_EXIT_USAGE;
			goto out;
		case SP_CALL:
			break;
		}
		(*calls)++;
		if (kc_sets_slot(c.call.ioctl))
			*total += c.call.ev.size;
		if (judge)
			one_call(r, &c);
	}
	if ((open_line = sp_unfinished_line(&p)) != 0) {
		fprintf(stderr, "kvm-as: --replay %s: line %u: an unfinished KVM call never resumes: a "
				"truncated log?\n", path, open_line);
		rc = KA_EXIT_USAGE;
	}
out:
	free(line);
	sp_free(&p);
	return rc;
}

int kr_replay(const struct hm_model *host, const char *path, bool on_kvm, bool strict,
	      unsigned phys_bits)
{
	struct replay *r = calloc(1, sizeof(*r));
	FILE *f = fopen(path, "re");
	uint64_t total = 0;
	unsigned calls = 0;
	int rc;

	if (r == NULL || f == NULL) {
		fprintf(stderr, "kvm-as: --replay %s: cannot read the file: %s\n", path, strerror(errno));
		free(r);
		if (f)
			fclose(f);
		return KA_EXIT_USAGE;
	}
	r->host = host;
	r->ctx = HM_REPLAY_NO_KERNEL | (strict ? HM_STRICT : 0);
	r->phys_bits = phys_bits;
	r->on_kvm = on_kvm;
	r->kvm_fd = -1;
	rc = pass(r, f, path, false, &total, &calls);
	if (rc == 0 && calls == 0)
		rc = finish(r, 0);
	else if (rc == 0 && (!on_kvm || (rc = open_kvm(r, total)) == 0)) {
		rewind(f);
		total = 0;
		rc = pass(r, f, path, true, &total, &calls);
		if (rc == 0)
			rc = finish(r, calls);
	}
	fclose(f);
	for (unsigned i = 0; i < r->vm_count; i++) {
		if (r->vms[i]->real_fd >= 0)
			close(r->vms[i]->real_fd);
		free(r->vms[i]);
	}
	if (r->kvm_fd >= 0)
		close(r->kvm_fd);
	if (r->host_mem && r->host_mem != MAP_FAILED)
		munmap(r->host_mem, r->host_size);
	free(r);
	return rc;
}
