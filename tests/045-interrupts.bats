#!/usr/bin/env bats
# shellcheck disable=SC2154 # status, output, stderr and lines are set by bats' run
# Interrupt delivery through the in-kernel irqchip in every scratch layout:
# the guest arms its LAPIC timer (one-shot, then periodic) through MMIO at
# 0xfee00000 and takes external interrupts that a host thread raises on GSI 16
# through an irqfd, routed by the guest's IOAPIC redirection entry at
# 0xfec00000. The guest reports the counts; the VMM fails the run when short.
load helpers

setup() {
	require_kvm
}

INTERRUPTS=5

# boot_counting ARGS...: a run that must take all its interrupts.
boot_counting() {
	run_vmm 0 --interrupts "$INTERRUPTS" --timeout 120 -v "$@"
	assert_hello
	[[ $stderr == *"guest: interrupts taken: 1 one-shot timer, $INTERRUPTS periodic timer, $INTERRUPTS external"* ]] ||
		fail "counts short or missing: $stderr"
	[[ $stderr == *"guest: IOAPIC version register 0x"* ]] || fail "no IOAPIC version: $stderr"
}

@test "split, scratch below 0xfee00000 (0x48000): timer and external interrupts arrive" {
	boot_counting --scratch-size 0x48000
}

@test "split, scratch touching 0xfee00000 (0x11FF000 ends just above it)" {
	boot_counting --scratch-size 0x11FF000
}

@test "split, scratch over 0xfee00000 (0x1200000 starts on it)" {
	boot_counting --scratch-size 0x1200000
}

@test "split, scratch far beyond 0xfee00000 and over the IOAPIC page (1 GiB)" {
	boot_counting --scratch-size 0x40000000 --touch none
}

@test "split with the emulated APIC page, 0x6882000: interrupts arrive" {
	boot_counting --scratch-size 0x6882000 --emulate-apic-page
}

@test "split with the emulated APIC page, 1 GiB: interrupts arrive" {
	boot_counting --scratch-size 0x40000000 --emulate-apic-page --touch none
}

@test "the IOAPIC page is kept out of scratch and the guest reads a real IOAPIC there" {
	run_vmm 0 --scratch-size 0x6882000 --touch none -v
	[[ $stderr == *"hole    [0x000fec00000-0x000fec00fff]"* ]] || fail "no IOAPIC hole: $stderr"
	local version
	version=$(printf '%s\n' "$stderr" | sed -n 's/.*IOAPIC version register \(0x[0-9a-f]*\).*/\1/p')
	# version 0x11..0x20 in bits 0-7, at least 17 pins (max entry >= 16)
	(((version & 0xff) >= 0x11 && ((version >> 16) & 0xff) >= 16)) || fail "IOAPIC version $version"
}

@test "upstream's top 0xfedfffff under split: the IOAPIC stays reachable, interrupts arrive" {
	boot_counting --gpa-top 0xfedfffff --scratch-size 0x300000
}

@test "upstream's top 0xfedfffff under single: the shadowed IOAPIC is named, exit 1, no hang" {
	run_vmm 1 --gpa-top 0xfedfffff --scratch-size 0x300000 --layout single --timeout 60
	assert_hello
	[[ $stderr == *"IOAPIC version at 0xfec00000 as 0x00000000, not an IOAPIC: scratch RAM covers and hides it"* ]] ||
		fail "$stderr"
	[[ $stderr == *"--layout split"* ]]
}

@test "upstream's top 0xfedfffff: scratch up to 0x1FF000 (2 MiB less a page) stays clear of the IOAPIC under single" {
	boot_counting --gpa-top 0xfedfffff --scratch-size 0x1FF000 --layout single
}

@test "single over the LAPIC page (no private slot here): APIC and interrupt checks are skipped, said so" {
	run_vmm 0 --layout single --scratch-size 0x6882000 -v
	[[ $stderr == *"skipped the LAPIC check"* ]]
	[[ $stderr != *"interrupts taken"* ]]
}

@test "--interrupts needs the APIC" {
	run_vmm 2 --irqchip off --interrupts 3
	[[ $stderr == *"--interrupts 3: needs the guest's APIC"* ]]
}

@test "--interrupts 0 boots without waiting for interrupts" {
	run_vmm 0 --interrupts 0 -v
	[[ $stderr != *"interrupts taken"* ]]
}

# host_posts_interrupts: does this host's KVM deliver interrupts by APICv/AVIC (posted)?
host_posts_interrupts() {
	grep -qx 'Y' /sys/module/kvm_intel/parameters/enable_apicv 2>/dev/null ||
		grep -qxE 'Y|1' /sys/module/kvm_amd/parameters/avic 2>/dev/null
}

@test "-v names how the interrupts came: KVM's irq_injections stat (below the count taken only where they are posted)" {
	boot_counting --scratch-size 0x48000 --touch none
	[[ $stderr != *"irq_injections unavailable"* ]] || skip "this kernel has no KVM binary stats (KVM_GET_STATS_FD, linux 5.14+)"
	[[ $stderr =~ "KVM vCPU stat irq_injections="([0-9]+)" (interrupts KVM injected or re-injected at VM entry" ]] ||
		fail "no irq_injections line: $stderr"
	local injected=${BASH_REMATCH[1]} taken=$((2 * INTERRUPTS + 1))
	if host_posts_interrupts; then
		((injected < taken)) || fail "this host posts interrupts, yet KVM injected $injected of $taken"
	else
		((injected >= taken)) || fail "no APICv here, so KVM must have injected all $taken interrupts, not $injected"
	fi
}
