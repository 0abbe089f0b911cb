#!/usr/bin/env bats
# shellcheck disable=SC2154 # status, output, stderr and lines are set by bats' run
# The bug on demand: a placeholder at 0xfee00000 stands in for KVM's private
# APIC-access slot, and KVM refuses an overlapping scratch slot with EEXIST
# exactly as it does on Intel APICv / AMD AVIC hosts.
load helpers

setup() {
	require_kvm
}

@test "single reproduces the bug exactly at the boundary: the largest fitting size boots" {
	run_vmm 0 --emulate-apic-page --layout single --scratch-size "$LAST_FITTING_SIZE"
	assert_hello
}

@test "single reproduces the bug exactly at the boundary: one page more is EEXIST, exit 4" {
	run_vmm 4 --emulate-apic-page --layout single --scratch-size "$FIRST_FAILING_SIZE"
	[[ $stderr == *"(EEXIST)"* ]]
	[[ $stderr == *"[0xfee00000-0xffffffff]"* ]]           # the slot's range
	[[ $stderr == *"[0xfee00000-0xfee00fff]"* ]]           # the reserved range it hit
	[[ $stderr == *"APIC-access page"* ]]
	[[ $stderr == *"--layout split"* ]]
	[[ $stderr == *"--scratch-size $LAST_FITTING_SIZE or less"* ]]
	refute_output --partial "hello"
}

@test "the report's 0x6882000 under single is EEXIST with a plain diagnosis, no bare errno" {
	run_vmm 4 --emulate-apic-page --layout single --scratch-size 0x6882000
	[[ $stderr == *"scratch slot 17 [0xf977e000-0xffffffff] (EEXIST)"* ]]
	[[ $stderr != *"Error(17)"* ]]
	[[ $stderr != *"errno"* ]]
}

@test "the fix: the default layout (split) boots 0x6882000 with the emulated page" {
	run_vmm 0 --emulate-apic-page --scratch-size 0x6882000
	assert_hello
}

@test "a --reserve placeholder elsewhere is found and named by the diagnosis" {
	run_vmm 4 --reserve 0xf0000000:0x200000 --layout single --scratch-size 1G --irqchip off
	[[ $stderr == *"[0xf0000000-0xf01fffff], --reserve placeholder"* ]] || fail "$stderr"
	[[ $stderr == *"--scratch-size 0xfe00000 or less"* ]] || fail "$stderr"
}

@test "split skips a 2 MiB --reserve range and still verifies every other page" {
	run_vmm 0 --reserve 0xf0000000:0x200000 --scratch-size 1G --irqchip off -v
	# all pages but the 2 MiB hole and the two APIC pages the guest never tests
	[[ $stderr == *"guest: $(((0x40000000 - 0x200000) / 0x1000 - 2)) scratch pages written"* ]] || fail "$stderr"
}

@test "check refuses the first failing size with the largest size that fits" {
	run_vmm 4 --layout check --scratch-size "$FIRST_FAILING_SIZE"
	[[ $stderr == *"largest scratch that fits below 0xffffffff is $LAST_FITTING_SIZE"* ]]
}

@test "check accepts the largest fitting size and boots" {
	run_vmm 0 --layout check --scratch-size "$LAST_FITTING_SIZE"
	assert_hello
}

@test "check without the irqchip refuses a scratch over an emulated page" {
	run_vmm 4 --layout check --irqchip off --emulate-apic-page --scratch-size 0x6882000
	[[ $stderr == *"--reserve placeholder"* ]]
}

@test "check without the irqchip and without reserved ranges boots a large scratch" {
	run_vmm 0 --layout check --irqchip off --scratch-size 0x6882000 --touch none
	assert_hello
}

@test "--probe finds the emulated page, to the page" {
	run_vmm 0 --probe --emulate-apic-page
	assert_line --regexp "^reserved 0xfee00000-0xfee00fff size 0x1000 "
	[ "$(printf '%s\n' "$output" | grep -c '^reserved ')" -eq 1 ]
}

@test "--probe finds several placeholders and nothing else" {
	run_vmm 0 --probe --reserve 0x10000000:0x3000 --reserve 0xfffbc000:0x1000 --irqchip off
	assert_line --regexp "^reserved 0x10000000-0x10002fff size 0x3000 "
	assert_line --regexp "^reserved 0xfffbc000-0xfffbcfff size 0x1000 "
	[ "$(printf '%s\n' "$output" | grep -c '^reserved ')" -eq 2 ]
}

@test "--probe on this host reports what KVM itself reserves (none without APIC virtualization)" {
	run_vmm 0 --probe
	assert_line --partial "probe: [0x400000-0xffffffff] irqchip on"
	if grep -q '^reserved ' <<<"$output"; then
		skip "this host's KVM reserves ranges itself: $(grep '^reserved ' <<<"$output" | tr '\n' ' ')"
	fi
}

@test "split discovers a reserved range by probing (not from --reserve) and maps around it" {
	# Without the irqchip nothing is kept out in advance: the placeholder is
	# found the way a private slot is, from KVM's EEXIST, to the page.
	run_vmm 0 --reserve 0xf0000000:0x3000 --scratch-size 0x40000000 --irqchip off --touch none -v
	[[ $stderr == *"probe: KVM refuses [0xf0000000-0xf0002fff], --reserve placeholder: leaving it out of scratch"* ]] ||
		fail "$stderr"
	[[ $stderr == *"hole    [0x000f0000000-0x000f0002fff]"* ]] || fail "$stderr"
}

@test "split discovers the host's own private slots too, where the host has them" {
	# Without the irqchip: the APIC page is kept out in advance with it, so
	# what is left to discover are slots like Intel's EPT identity-map page.
	run_vmm 0 --probe --irqchip off
	grep -q '^reserved ' <<<"$output" || skip "this host's KVM has no private slot of its own to discover"
	run_vmm 0 --scratch-size 0x6882000 --irqchip off --touch none -v
	[[ $stderr == *"probe: KVM refuses"* ]]
}

@test "single without the irqchip or an emulated page boots the report's size (the bug hides)" {
	run_vmm 0 --layout single --irqchip off --scratch-size 0x6882000
	assert_hello
}

@test "single over the LAPIC page without a private slot boots, skips the APIC check and warns with -v" {
	run_vmm 0 --layout single --scratch-size 0x6882000 -v
	assert_hello
	[[ $stderr == *"scratch RAM covers the guest's LAPIC page"* ]]
	[[ $stderr == *"skipped the LAPIC check"* ]]
}
