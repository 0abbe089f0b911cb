#!/usr/bin/env bats
# shellcheck disable=SC2154 # status, output, stderr and lines are set by bats' run
# Any scratch size boots: hello, and every scratch page written, read back by
# the guest and checked again by the host (the VMM verifies, -v reports it).
load helpers

setup() {
	require_kvm
}

# pages the guest must test = (size - pages kept out of scratch) / 4 KiB
expected_pages() {
	local size=$1 holes=$2
	echo $(((size - holes * 0x1000) / 0x1000))
}

# boot SIZE HOLE_PAGES [extra args]: split layout, --touch all, verified.
boot_and_verify() {
	local size=$1 holes=$2
	shift 2
	run_vmm 0 --scratch-size "$size" --touch all --timeout 300 -v "$@"
	assert_hello
	local pages
	pages=$(expected_pages "$size" "$holes")
	[[ $stderr == *"guest: $pages scratch pages written and read back, 0 mismatches"* ]] ||
		fail "guest did not report $pages pages: $stderr"
	[[ $stderr == *"host: all $pages scratch pages hold their pattern at their offset"* ]] ||
		fail "host did not verify $pages pages: $stderr"
}

# Sizes from the report; holes: the IOAPIC page 0xfec00000 and the LAPIC
# page 0xfee00000 fall inside scratch from 0x1200000 and 0x1400000 on.
@test "default scratch 0x48000 boots" { boot_and_verify 0x48000 0; }
@test "0x11FF000 (largest below the APIC page) boots" { boot_and_verify 0x11FF000 0; }
@test "0x1200000 (first size over the APIC page) boots under split" { boot_and_verify 0x1200000 1; }
@test "0x6882000 (the report's size) boots under split" { boot_and_verify 0x6882000 2; }
@test "256 MiB boots under split" { boot_and_verify 0x10000000 2; }
@test "1 GiB boots under split" { boot_and_verify 0x40000000 2; }
@test "3 GiB boots under split" { boot_and_verify 0xC0000000 2; }

@test "0x11FF000 boots under split with the emulated APIC page" { boot_and_verify 0x11FF000 0 --emulate-apic-page; }
@test "0x1200000 boots under split with the emulated APIC page" { boot_and_verify 0x1200000 1 --emulate-apic-page; }
@test "0x6882000 boots under split with the emulated APIC page" { boot_and_verify 0x6882000 2 --emulate-apic-page; }
@test "256 MiB boots under split with the emulated APIC page" { boot_and_verify 0x10000000 2 --emulate-apic-page; }
@test "1 GiB boots under split with the emulated APIC page" { boot_and_verify 0x40000000 2 --emulate-apic-page; }
@test "3 GiB boots under split with the emulated APIC page" { boot_and_verify 0xC0000000 2 --emulate-apic-page; }

@test "without the irqchip 0x6882000 is one run of slots; the guest still leaves the two APIC pages alone" {
	boot_and_verify 0x6882000 2 --irqchip off
	[[ $stderr != *"hole "* ]] || fail "no hole expected without the irqchip: $stderr"
}

@test "the guest reads a real LAPIC version through MMIO at 0xfee00000 under split" {
	run_vmm 0 --scratch-size 0x6882000 --touch none -v
	local version
	version=$(printf '%s\n' "$stderr" | sed -n 's/.*LAPIC version register \(0x[0-9a-f]*\).*/\1/p')
	[ -n "$version" ] || fail "no LAPIC version reported: $stderr"
	# version 0x1X in bits 0-7, LVT count in bits 16-23: a LAPIC, not RAM
	(((version & 0xf0) == 0x10)) || fail "LAPIC version $version is not an integrated APIC"
}

@test "--gpa-top 36 places a large scratch at the top of 64 GiB" {
	run_vmm 0 --gpa-top 36 --scratch-size 8G --touch none -v
	assert_hello
	[[ $stderr == *"[0x00e00000000-0x00fffffffff] size 0x200000000"* ]] || fail "$stderr"
}

@test "--gpa-top 36 with --touch all uses every page of a 1 GiB scratch" {
	run_vmm 0 --gpa-top 36 --scratch-size 1G --timeout 300 -v
	[[ $stderr == *"guest: 262144 scratch pages written and read back, 0 mismatches"* ]] || fail "$stderr"
}

@test "--touch none boots without a page report" {
	run_vmm 0 --scratch-size 0x6882000 --touch none -v
	assert_hello
	[[ $stderr != *"scratch pages written"* ]]
}

@test "make run boots the default guest and prints hello" {
	run --separate-stderr make -s -C "$REPO_ROOT" run
	assert_success
	assert_line "hello, world!"
}
