# The kernel's own KVM selftests as a check of the rig's L1s (included by the top-level Makefile).
#
#   make selftests   build them, static, from Debian's linux-source-6.12 into build/selftests/
#                    (ci/peer/build-selftests: installs the package when missing, cached)
# Running them in an L1: ci/peer/selftests-in-l1 --help.

.PHONY: selftests
selftests:
	ci/peer/build-selftests
