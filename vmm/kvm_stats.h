/* One KVM statistic of a VM or vCPU, read through KVM_GET_STATS_FD (linux 5.14+). */
#ifndef SCRATCHRIG_KVM_STATS_H
#define SCRATCHRIG_KVM_STATS_H

#include <stdint.h>

/* The value of the statistic NAME of the VM or vCPU behind FD (e.g. the vCPU's
 * "irq_injections"). Returns 0, or an errno: ENOTTY/EINVAL where the kernel has no
 * binary stats, ENOENT where it has no such statistic. */
int sr_kvm_stat(int fd, const char *name, uint64_t *value);

#endif
