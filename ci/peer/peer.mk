# The kernel's own KVM selftests as a check of the rig's L1s and of kvm-as's host models
# (included by the top-level Makefile).
#
#   make selftests    build them, static, from Debian's linux-source-6.12 into build/selftests/
#                     (ci/peer/build-selftests: installs the package when missing, cached)
#   make peer-tests   each selftest natively in L1s with the real private slot and under
#                     kvm-as's matching model in L1s without it; every one must end alike
#                     (ci/peer/peer-tests: PEER_ARGS="--pairs amd" and the like; table in
#                     build/peer/table.md). Not part of make test: four L1 boots, two of them
#                     under Bochs.
# Running some of them in one L1: ci/peer/selftests-in-l1 --help.

PEER_ARGS ?=

.PHONY: selftests peer-tests
selftests:
	ci/peer/build-selftests

peer-tests: selftests $(BUILD)/kvm-as images
	ci/peer/peer-tests $(PEER_ARGS)
