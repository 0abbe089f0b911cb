# shellcheck shell=bash
# The one QEMU command line that boots build/guests/qemu-boot.img (tests/100-kvm-as.bats and
# ci/bench/run); callers add -drive and -serial. -cpu qemu64, not host: a KVM may refuse MSRs
# that -cpu host copies (kvm_pvm: 0x10a), and QEMU then aborts.
# shellcheck disable=SC2034 # used by the files that source this one
QEMU_BOOT_CMD=(qemu-system-x86_64 -accel kvm -cpu qemu64 -m 64 -nodefaults -display none -no-reboot -monitor none)
