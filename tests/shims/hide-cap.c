/* Test shim (LD_PRELOAD): makes KVM_CHECK_EXTENSION answer 0 for the
 * capability number in $SR_HIDE_CAP, so a test can play "KVM too old" on a
 * real /dev/kvm. Never linked into the rig itself. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>

int ioctl(int fd, unsigned long request, ...)
{
	static int (*real_ioctl)(int, unsigned long, ...);
	const char *hide = getenv("SR_HIDE_CAP");
	va_list ap;
	void *arg;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (real_ioctl == NULL)
		real_ioctl = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
	if (request == KVM_CHECK_EXTENSION && hide && (long)(intptr_t)arg == atol(hide))
		return 0;
	return real_ioctl(fd, request, arg);
}
