/* The seccomp-BPF filter (as strace --seccomp-bpf builds one): ioctl with one
 * of kc_ioctls' requests stops for the tracer (SECCOMP_RET_TRACE); every
 * other system call, KVM_RUN included, is allowed without a stop. */
#ifndef KVM_AS_FILTER_H
#define KVM_AS_FILTER_H

/* In the child, before exec: no_new_privs and the filter. 0 or an errno. */
int kf_install(void);

#endif
