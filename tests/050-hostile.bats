#!/usr/bin/env bats
# shellcheck disable=SC2154 # status, output, stderr and lines are set by bats' run
# Hostile guests (tests/guests/, built by `make guests` into build/guests/):
# each ends with its documented exit code and a message, the VMM never hangs,
# and never prints a success it did not see.
load helpers

HOSTILE_GUESTS=${HOSTILE_GUESTS:-$REPO_ROOT/build/guests}
ONE_MIB=1048576

setup() {
	require_kvm
}

# run_guest EXPECTED_RC NAME [vmm args...]: boot build/guests/NAME.elf with -v.
# $verdict is the last line of stderr: the VMM's word on the run.
run_guest() {
	local expected=$1 name=$2
	shift 2
	local elf=$HOSTILE_GUESTS/$name.elf
	[ -f "$elf" ] || fail "$elf is missing: run 'make guests'"
	# A hung VMM must not hold the suite for long: every --timeout here is 120 s at most.
	VMM_WALL_TIMEOUT=180 run_vmm "$expected" --guest "$elf" -v "$@"
	verdict=$(printf '%s\n' "$stderr" | tail -n 1)
}

# The verdict line, exactly.
assert_verdict() {
	assert_equal "$verdict" "vmm: $1"
}

# Nothing that reads as success: no host verification line, and no hello on
# stdout unless the guest printed one.
refute_success() {
	[[ $stderr != *"hold their pattern"* ]] || fail "the VMM claimed a verified run: $stderr"
	[[ $verdict == "vmm: "* ]] || fail "no verdict on stderr's last line: $stderr"
}

assert_stdout_is_hello() {
	assert_equal "$output" "hello, world!"
}

@test "an endless loop is stopped at --timeout: exit 124" {
	run_guest 124 loop --timeout 2
	assert_verdict "the guest was still running after 2 s (--timeout); stopped it"
	assert_equal "$output" ""
	refute_success
}

@test "a triple fault (null IDT, then UD2): exit 5" {
	run_guest 5 triple_fault --timeout 10
	assert_verdict "guest shut down (triple fault)"
	assert_stdout_is_hello
	refute_success
}

@test "a write to unmapped guest-physical memory: exit 5 naming the address" {
	run_guest 5 unmapped_write --timeout 10
	assert_verdict "guest wrote to unmapped guest-physical address 0x10000000 (8 bytes)"
	assert_stdout_is_hello
	refute_success
}

@test "an I/O to an unknown port: exit 5 naming the port" {
	run_guest 5 unknown_port --timeout 10
	assert_verdict "guest did an unhandled port write: port 0x1234, 1 byte(s)"
	assert_stdout_is_hello
	refute_success
}

@test "HLT with interrupts off and no in-kernel irqchip: exit 5" {
	run_guest 5 hlt --irqchip off --timeout 10
	assert_verdict "guest halted (HLT) with no in-kernel irqchip to wake it"
	assert_stdout_is_hello
	refute_success
}

@test "HLT with interrupts off under the in-kernel irqchip sleeps in KVM: exit 124" {
	run_guest 124 hlt --irqchip on --timeout 2
	assert_verdict "the guest was still running after 2 s (--timeout); stopped it"
	assert_stdout_is_hello
	refute_success
}

@test "a console flood is stopped at --timeout with at most 1 MiB echoed: exit 124" {
	run_guest 124 flood --timeout 2
	assert_verdict "the guest was still running after 2 s (--timeout); stopped it"
	[ "${#output}" -gt 0 ] || fail "nothing echoed"
	[ "${#output}" -le "$ONE_MIB" ] || fail "${#output} bytes echoed, more than 1 MiB"
	if [ "${#output}" -eq "$ONE_MIB" ]; then
		[[ $stderr == *"guest console passed $ONE_MIB bytes; not echoing the rest"* ]] ||
			fail "output cut without saying so: $stderr"
	fi
	[[ $output != *"hello"* ]] || fail "the flood has no hello, yet stdout shows one"
	refute_success
}

@test "a console flood past 1 MiB is cut at exactly 1 MiB, and the VMM says so" {
	# One VM exit per byte: this takes seconds on bare metal and up to a
	# minute nested. The guest then exits OK having checked nothing.
	run_guest 1 flood_exit --timeout 120
	assert_equal "${#output}" "$ONE_MIB"
	assert_equal "${lines[0]}" "hello, world!"
	[[ $stderr == *"vmm: guest console passed $ONE_MIB bytes; not echoing the rest"* ]] ||
		fail "no word about the cut: $stderr"
	assert_verdict "the guest reported success but checked 0 of 72 scratch pages"
	refute_success
}

@test "a guest that never reports is stopped at --timeout: exit 124" {
	run_guest 124 silent --timeout 2
	assert_verdict "the guest was still running after 2 s (--timeout); stopped it"
	assert_stdout_is_hello
	refute_success
}

@test "a guest that claims every page checked without touching one: exit 1 from the host's check" {
	run_guest 1 liar_pages --scratch-size 0x48000 --timeout 10
	# It did lie: the VMM passed on its claim, then found it false.
	[[ $stderr == *"vmm: guest: 72 scratch pages written and read back, 0 mismatches"* ]] ||
		fail "the guest's claim is not on stderr: $stderr"
	assert_verdict "the guest reported success but the host finds 72 scratch pages without their pattern, first at 0xfffb8000"
	assert_stdout_is_hello
	refute_success
}

@test "a guest that reports the wrong page count: exit 1" {
	run_guest 1 wrong_count --scratch-size 0x48000 --timeout 10
	assert_verdict "the guest reported success but checked 73 of 72 scratch pages"
	assert_stdout_is_hello
	refute_success
}

@test "a guest that exits OK without printing hello (only near misses): exit 1" {
	run_guest 1 no_hello --scratch-size 0x48000 --timeout 10
	assert_verdict "the guest reported success but never printed \"hello, world!\""
	refute_line "hello, world!"
	refute_success
}

@test "a result sent from above the low region: exit 5" {
	run_guest 5 far_result --timeout 10
	assert_verdict "guest sent a result from 0x500000, outside the low region"
	assert_stdout_is_hello
	refute_success
}

@test "a result straddling the end of the low region: exit 5" {
	run_guest 5 straddling_result --timeout 10
	assert_verdict "guest sent a result from 0x3ffff0, outside the low region"
	assert_stdout_is_hello
	refute_success
}

@test "a result of an unknown kind: exit 5" {
	run_guest 5 bad_kind --timeout 10
	assert_verdict "guest sent a result of unknown kind 30583"
	assert_stdout_is_hello
	refute_success
}

# The RIP of the guest's one load from `address`, read from its own code.
faulting_rip() {
	local name=$1 address=$2
	objdump -d "$HOSTILE_GUESTS/$name.elf" | sed -n "s/^ *\([0-9a-f]*\):.*movabs *$address,%rax.*/0x\1/p"
}

@test "a page fault is reported by vector, RIP and error code: exit 5" {
	command -v objdump >/dev/null || skip "objdump (binutils) is needed to find the faulting RIP"
	run_guest 5 page_fault --timeout 10
	assert_verdict "the guest took exception #PF (vector 14) at RIP $(faulting_rip page_fault 0x8000000000), error code 0x0"
	assert_stdout_is_hello
	refute_success
}

@test "a general protection fault is reported by vector, RIP and error code: exit 5" {
	command -v objdump >/dev/null || skip "objdump (binutils) is needed to find the faulting RIP"
	run_guest 5 general_protection --timeout 10
	assert_verdict "the guest took exception #GP (vector 13) at RIP $(faulting_rip general_protection 0x8000000000000000), error code 0x0"
	assert_stdout_is_hello
	refute_success
}

@test "a guest that took fewer interrupts than asked: exit 1 naming every count" {
	run_guest 1 short_interrupts --touch none --interrupts 3 --timeout 10
	assert_verdict "the guest took 1 of 1 one-shot and 1 of 3 periodic LAPIC timer interrupts and 0 of 3 external interrupts on GSI 16 before its wait ran out"
	assert_stdout_is_hello
	refute_success
}
