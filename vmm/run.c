#include "run.h"

#include <errno.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "abi.h"
#include "exit_codes.h"
#include "report.h"

#define HELLO_LINE "hello, world!"

static struct kvm_run *volatile running;
static volatile sig_atomic_t pending_signal;

/* Make the vCPU leave KVM_RUN (or not enter it) and remember why. */
static void on_signal(int signo)
{
	pending_signal = signo;
	if (running)
		running->immediate_exit = 1;
}

static void install_handlers(void)
{
	static const int signals[] = {SIGALRM, SIGINT, SIGTERM, SIGHUP};
	struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: KVM_RUN must return */
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		sigaction(signals[i], &sa, NULL);
}

static void crash(struct sr_outcome *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void crash(struct sr_outcome *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out->why, sizeof(out->why), fmt, ap);
	va_end(ap);
	out->end = SR_RUN_CRASH;
}

struct console {
	char line[sizeof(HELLO_LINE) + 1];
	size_t len; /* bytes of the current line kept; longer lines never match */
	bool overlong;
};

static void console_byte(struct console *c, struct sr_outcome *out, uint8_t byte)
{
	if (out->console_bytes < SR_MAX_CONSOLE_BYTES)
		fputc(byte, stdout);
	else if (out->console_bytes == SR_MAX_CONSOLE_BYTES)
		sr_say("guest console passed %u bytes; not echoing the rest", SR_MAX_CONSOLE_BYTES);
	out->console_bytes++;
	if (byte == '\n') {
		if (!c->overlong && c->len == strlen(HELLO_LINE) && memcmp(c->line, HELLO_LINE, c->len) == 0)
			out->hello_seen = true;
		c->len = 0;
		c->overlong = false;
	} else if (c->len < sizeof(c->line)) {
		c->line[c->len++] = (char)byte;
	} else {
		c->overlong = true;
	}
}

static void take_result(const uint8_t *low, uint32_t gpa, struct sr_outcome *out)
{
	struct sr_result r;

	if (gpa > SR_LOW_END_GPA - sizeof(r)) {
		crash(out, "guest sent a result from 0x%x, outside the low region", gpa);
		return;
	}
	memcpy(&r, low + gpa, sizeof(r));
	switch (r.kind) {
	case SR_RESULT_PAGES:
		out->have_pages = true;
		out->pages = r.a;
		out->mismatches = r.b;
		out->first_bad_gpa = r.c;
		sr_info("guest: %llu scratch pages written and read back, %llu mismatches",
			(unsigned long long)r.a, (unsigned long long)r.b);
		break;
	case SR_RESULT_LAPIC:
		out->have_lapic = true;
		out->lapic_version = (uint32_t)r.a;
		sr_info("guest: LAPIC version register 0x%08x", out->lapic_version);
		break;
	case SR_RESULT_IOAPIC:
		out->have_ioapic = true;
		out->ioapic_version = (uint32_t)r.a;
		sr_info("guest: IOAPIC version register 0x%08x", out->ioapic_version);
		break;
	case SR_RESULT_INTERRUPTS:
		out->have_interrupts = true;
		out->one_shot = r.a;
		out->periodic = r.b;
		out->external = r.c;
		sr_info("guest: interrupts taken: %llu one-shot timer, %llu periodic timer, %llu external",
			(unsigned long long)r.a, (unsigned long long)r.b, (unsigned long long)r.c);
		break;
	case SR_RESULT_PACING:
		sr_info("guest: one-shot timer latency %llu us, so both sources paced at %llu us",
			(unsigned long long)(r.a / 1000), (unsigned long long)r.b);
		break;
	case SR_RESULT_EXCEPTION:
		out->have_exception = true;
		out->exception_vector = r.a;
		out->exception_rip = r.b;
		out->exception_error = r.c;
		break;
	case SR_RESULT_LAPIC_SKIPPED:
		out->lapic_skipped = true;
		sr_info("guest: skipped the LAPIC check (flags 0x%llx)", (unsigned long long)r.a);
		break;
	default:
		crash(out, "guest sent a result of unknown kind %u", r.kind);
	}
}

static uint32_t io_value(const struct kvm_run *run, const uint8_t *data)
{
	uint32_t v = 0;
	memcpy(&v, data, run->io.size <= 4 ? run->io.size : 4);
	return v;
}

/* One I/O exit; returns false when the run is over. */
static bool handle_io(struct kvm_run *run, const uint8_t *low, struct console *con,
		      struct sr_irq_source *external, struct sr_outcome *out)
{
	const uint8_t *data = (const uint8_t *)run + run->io.data_offset;
	bool is_out = run->io.direction == KVM_EXIT_IO_OUT;

	if (is_out && run->io.port == SR_PORT_CONSOLE && run->io.size == 1) {
		for (uint32_t i = 0; i < run->io.count; i++)
			console_byte(con, out, data[i]);
		return true;
	}
	if (is_out && run->io.port == SR_PORT_RESULT && run->io.size == 4 && run->io.count == 1) {
		take_result(low, io_value(run, data), out);
		return out->end != SR_RUN_CRASH;
	}
	if (is_out && run->io.port == SR_PORT_EXTERNAL && run->io.size == 4 && run->io.count == 1 &&
	    external) {
		sr_irq_source_arm(external, io_value(run, data));
		return true;
	}
	if (is_out && run->io.port == SR_PORT_EXIT && run->io.size == 4 && run->io.count == 1) {
		out->end = SR_RUN_EXITED;
		out->status = io_value(run, data);
		return false;
	}
	crash(out, "guest did an unhandled port %s: port 0x%x, %u byte(s)", is_out ? "write" : "read",
	      run->io.port, run->io.size);
	return false;
}

static const char *internal_error_name(uint32_t suberror)
{
	switch (suberror) {
	case KVM_INTERNAL_ERROR_EMULATION:
		return "instruction emulation failed";
	case KVM_INTERNAL_ERROR_SIMUL_EX:
		return "exception while delivering an exception";
	case KVM_INTERNAL_ERROR_DELIVERY_EV:
		return "event delivery failed";
	default:
		return "internal error";
	}
}

void sr_run(struct sr_vm *vm, const uint8_t *low, unsigned timeout_s,
	    struct sr_irq_source *external, struct sr_outcome *out)
{
	struct kvm_run *run = vm->run;
	struct console con = {0};
	bool going = true;

	memset(out, 0, sizeof(*out));
	running = run;
	install_handlers();
	alarm(timeout_s);
	while (going) {
		if (ioctl(vm->vcpu_fd, KVM_RUN, 0) < 0) {
			if (errno != EINTR && errno != EAGAIN) {
				crash(out, "KVM_RUN failed: %s", strerror(errno));
				break;
			}
			if (pending_signal == SIGALRM) {
				out->end = SR_RUN_TIMEOUT;
				break;
			}
			if (pending_signal) {
				out->end = SR_RUN_SIGNAL;
				out->signal = pending_signal;
				break;
			}
			continue;
		}
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			going = handle_io(run, low, &con, external, out);
			break;
		case KVM_EXIT_MMIO:
			crash(out, "guest %s unmapped guest-physical address 0x%llx (%u bytes)",
			      run->mmio.is_write ? "wrote to" : "read from",
			      (unsigned long long)run->mmio.phys_addr, run->mmio.len);
			going = false;
			break;
		case KVM_EXIT_HLT:
			crash(out, "guest halted (HLT) with no in-kernel irqchip to wake it");
			going = false;
			break;
		case KVM_EXIT_SHUTDOWN:
			crash(out, "guest shut down (triple fault)");
			going = false;
			break;
		case KVM_EXIT_FAIL_ENTRY:
			crash(out, "KVM could not enter the guest (hardware reason 0x%llx)",
			      (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
			going = false;
			break;
		case KVM_EXIT_INTERNAL_ERROR:
			crash(out, "KVM internal error: %s (suberror %u)",
			      internal_error_name(run->internal.suberror), run->internal.suberror);
			going = false;
			break;
		default:
			crash(out, "guest stopped with unexpected KVM exit reason %u", run->exit_reason);
			going = false;
		}
	}
	alarm(0);
	running = NULL;
	fflush(stdout);
}
