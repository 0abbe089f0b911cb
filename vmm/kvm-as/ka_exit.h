/* kvm-as's own exit codes: the one place that names them (main.c prints the
 * table in --help; every exit of kvm-as's own uses these). */
#ifndef KVM_AS_KA_EXIT_H
#define KVM_AS_KA_EXIT_H

#define KA_EXIT_USAGE 2
#define KA_EXIT_CANNOT_TRACE 3
#define KA_EXIT_REFUSED 4
#define KA_EXIT_NOT_EXECUTABLE 126
#define KA_EXIT_NOT_FOUND 127

#endif
