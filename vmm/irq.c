#include "irq.h"

#include <errno.h>
#include <linux/kvm.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "exit_codes.h"
#include "report.h"

static void *pulse(void *arg)
{
	struct sr_irq_source *src = arg;

	pthread_mutex_lock(&src->lock);
	for (;;) {
		while (src->period_us == 0 && !src->stop)
			pthread_cond_wait(&src->changed, &src->lock);
		if (src->stop)
			break;
		unsigned us = src->period_us;
		struct timespec period = {.tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000};
		pthread_mutex_unlock(&src->lock);
		uint64_t one = 1;
		if (write(src->eventfd, &one, sizeof(one)) == sizeof(one))
			atomic_fetch_add(&src->raised, 1);
		nanosleep(&period, NULL);
		pthread_mutex_lock(&src->lock);
	}
	pthread_mutex_unlock(&src->lock);
	return NULL;
}

static void set_state(struct sr_irq_source *src, unsigned period_us, bool stop)
{
	pthread_mutex_lock(&src->lock);
	src->period_us = period_us;
	src->stop = stop;
	pthread_cond_signal(&src->changed);
	pthread_mutex_unlock(&src->lock);
}

void sr_irq_source_arm(struct sr_irq_source *src, uint32_t period_us)
{
	if (period_us > SR_PACE_MAX_US)
		period_us = SR_PACE_MAX_US;
	if (period_us && period_us < SR_EXT_MIN_PERIOD_US)
		period_us = SR_EXT_MIN_PERIOD_US;
	set_state(src, period_us, false);
}

static void bind_irqfd(struct sr_vm *vm, int fd, unsigned gsi, uint32_t flags)
{
	struct kvm_irqfd irqfd = {.fd = (uint32_t)fd, .gsi = gsi, .flags = flags};
	if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0)
		sr_die(SR_EXIT_HOST, "KVM_IRQFD %s GSI %u: %s", flags ? "unbinding" : "binding", gsi,
		       strerror(errno));
}

void sr_irq_source_start(struct sr_irq_source *src, struct sr_vm *vm, unsigned gsi)
{
	sigset_t all, old;
	int err;

	src->gsi = gsi;
	src->period_us = 0;
	src->stop = false;
	pthread_mutex_init(&src->lock, NULL);
	pthread_cond_init(&src->changed, NULL);
	atomic_init(&src->raised, 0);
	src->eventfd = eventfd(0, EFD_CLOEXEC);
	if (src->eventfd < 0)
		sr_die(SR_EXIT_HOST, "eventfd for the external interrupt: %s", strerror(errno));
	bind_irqfd(vm, src->eventfd, gsi, 0);
	/* Signals (--timeout, Ctrl-C) must reach the vCPU thread to stop
	 * KVM_RUN, so this thread blocks them all. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&src->thread, NULL, pulse, src);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		sr_die(SR_EXIT_HOST, "cannot start the interrupt thread: %s", strerror(err));
}

uint64_t sr_irq_source_stop(struct sr_irq_source *src, struct sr_vm *vm)
{
	set_state(src, 0, true);
	pthread_join(src->thread, NULL);
	pthread_cond_destroy(&src->changed);
	pthread_mutex_destroy(&src->lock);
	bind_irqfd(vm, src->eventfd, src->gsi, KVM_IRQFD_FLAG_DEASSIGN);
	close(src->eventfd);
	return atomic_load(&src->raised);
}
