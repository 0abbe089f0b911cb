/* --replay: judge a strace log under a host model (with --strict, hazards
 * refused; slots above `phys_bits` refused with EINVAL), and with --kvm on
 * the real /dev/kvm. Returns kvm-as's exit code (0, 2, 3 or 4). */
#ifndef KVM_AS_REPLAY_H
#define KVM_AS_REPLAY_H

#include <stdbool.h>

#include "hostmodel.h"

int kr_replay(const struct hm_model *host, const char *path, bool on_kvm, bool strict,
	      unsigned phys_bits);

#endif
