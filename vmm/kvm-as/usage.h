/* kvm-as --help. */
#ifndef KVM_AS_USAGE_H
#define KVM_AS_USAGE_H

#include <stdio.h>

void ka_usage(FILE *out);

#endif
