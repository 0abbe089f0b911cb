#!/usr/bin/env bats
# shellcheck disable=SC2154 # status, output, stderr and lines are set by bats' run
# Broken guest images are refused with exit 2 and one line naming the file,
# before KVM runs anything: every call also points the VMM at a KVM device
# that does not exist, which would be exit 3 had the VMM got that far.
load helpers

NO_KVM=/nonexistent/kvm
ELFIMG=$BATS_TEST_DIRNAME/fuzz/elfimg.py

# refused IMAGE RULE: exit 2, one line "vmm: guest image IMAGE: ...RULE...".
refused() {
	local image=$1 rule=$2
	run_vmm 2 --guest "$image" --kvm-device "$NO_KVM"
	assert_equal "$(printf '%s\n' "$stderr" | wc -l)" 1
	[[ $stderr == "vmm: guest image $image: "*"$rule"* ]] ||
		fail "expected 'vmm: guest image $image: ...$rule...', got: $stderr"
	assert_equal "$output" ""
}

@test "control: the pristine image passes validation and only then meets the missing device" {
	local image=$BATS_TEST_TMPDIR/pristine.elf
	python3 "$ELFIMG" bad pristine "$GUEST" "$image"
	cmp -s "$GUEST" "$image" || fail "the generator changed the pristine image"
	run_vmm 3 --guest "$image" --kvm-device "$NO_KVM"
	[[ $stderr == *"$NO_KVM does not exist"* ]]
}

@test "a missing image: exit 2 naming it and what to do" {
	refused "$BATS_TEST_TMPDIR/no-such.elf" "No such file or directory (build it with make, or pass --guest PATH)"
}

@test "an empty image: exit 2" {
	: >"$BATS_TEST_TMPDIR/empty.elf"
	refused "$BATS_TEST_TMPDIR/empty.elf" "size 0 is outside 1..16777216 bytes"
}

@test "a directory: exit 2" {
	mkdir "$BATS_TEST_TMPDIR/dir.elf"
	refused "$BATS_TEST_TMPDIR/dir.elf" "not a regular file"
}

@test "a character device: exit 2" {
	refused /dev/zero "not a regular file"
}

@test "a FIFO: exit 2 without waiting for a writer" {
	mkfifo "$BATS_TEST_TMPDIR/fifo.elf"
	# The VMM must not block in open(2) waiting for a writer: a short wall clock.
	VMM_WALL_TIMEOUT=5 refused "$BATS_TEST_TMPDIR/fifo.elf" "not a regular file"
}

@test "an image over 16 MiB: exit 2" {
	truncate -s $((16 * 1024 * 1024 + 1)) "$BATS_TEST_TMPDIR/huge.elf"
	refused "$BATS_TEST_TMPDIR/huge.elf" "size 16777217 is outside 1..16777216 bytes"
}

# Every broken-ELF kind the generator knows, with the rule the VMM must name:
# not ELF, 32-bit, wrong machine, truncated headers, program headers outside
# the file, segments outside [0x100000, 0x200000) (over the boot info at
# 0x3000, the stack, the page tables at 0x200000, above 4 GiB), p_memsz
# overflow, entry point outside any executable segment, program headers at
# an odd offset (UBSan would catch a misaligned Elf64_Phdr access; refused).
@test "every broken ELF is refused with exit 2 and its rule" {
	local count=0 kind rule image
	while IFS='|' read -r kind rule; do
		image=$BATS_TEST_TMPDIR/$kind.elf
		python3 "$ELFIMG" bad "$kind" "$GUEST" "$image"
		refused "$image" "$rule"
		count=$((count + 1))
	done < <(python3 "$ELFIMG" kinds)
	[ "$count" -ge 30 ] || fail "only $count kinds"
}
