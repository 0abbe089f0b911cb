#!/usr/bin/env bats
# Intel smoke: the VMM inside ONE Intel L1 under Bochs' VMX emulation (ci/l1/l1-boot --accel bochs),
# where kvm_intel keeps the report's REAL APIC-access slot and the guest's APIC is real too.
# Two phases in that one boot (images/init reloads kvm_intel between them):
#   1 kvm_intel's defaults (flexpriority=Y; enable_apicv=Y under the project's Bochs 3.0, so the
#     interrupts arrive through virtual-interrupt delivery): the probe finds 0xfee00000-0xfee00fff; single
#     0x1200000 is refused with the kernel's EEXIST (exit 4), 0x11FF000 boots, split 0x6882000
#     boots with the APIC and interrupt checks on.
#   2 flexpriority=0: no slot, single 0x1200000 boots.
# The kernel is 6.12 when installed (its boot under Bochs is ~1.5 min shorter than 6.1's).
# Logs: build/intel-smoke/{console.log,results.txt,bochsrc,bochs.log}.
load nested_helpers

SMOKE_RUNS="s1na-1200000 s1na-11ff000 p1na-6882000-i3"

setup_file() {
	export BATS_TEST_TIMEOUT=900
	export SMOKE_OUT=$NESTED_ROOT/build/intel-smoke
	NESTED_KVER=$(make --no-print-directory -s -C "$NESTED_ROOT" l1-kernel 2>/dev/null)
	export NESTED_KVER
	[ -z "$(intel_missing)" ] || return 0
	make --no-print-directory -s -C "$NESTED_ROOT" images IMAGE_KERNELS="$NESTED_KVER" >"$BATS_FILE_TMPDIR/make.log" 2>&1 || {
		cat "$BATS_FILE_TMPDIR/make.log" >&2
		echo "make images failed" >&2
		return 1
	}
	local rc=0
	"$NESTED_ROOT/ci/l1/l1-boot" --image "$NESTED_ROOT/build/images/$NESTED_KVER" --accel bochs \
		--mod kvm_intel --phase "nested=1" --phase "flexpriority=0 nested=1" --vmmargs "-v" \
		--runs "$SMOKE_RUNS" --timeout 840 "$SMOKE_OUT" 2>"$BATS_FILE_TMPDIR/boot.err" || rc=$?
	echo "$rc" >"$BATS_FILE_TMPDIR/boot.rc"
}

# intel_missing: why no Bochs L1 can boot here, or nothing.
intel_missing() {
	local why
	why=$(l1_missing "$NESTED_KVER")
	[ -n "$why" ] || why=$(. "$NESTED_ROOT/ci/l1/accel.bash" && l1_accel_missing bochs)
	echo "$why"
}

setup() {
	local why
	why=$(intel_missing)
	[ -z "$why" ] || skip "$why"
	local rc
	rc=$(cat "$BATS_FILE_TMPDIR/boot.rc")
	if [ "$rc" != 0 ]; then
		echo "the Bochs L1 did not finish (ci/l1/l1-boot exit $rc: 1 ended early, 124 timeout)" >&2
		cat "$BATS_FILE_TMPDIR/boot.err" "$SMOKE_OUT/l1.err" 2>/dev/null | tail -n 20 >&2
		tail -n 40 "$SMOKE_OUT/console.log" >&2
		return 1
	fi
}

# phase_line N PREFIX: the first results line of phase N that starts with "RIG PREFIX".
phase_line() {
	tr -d '\r' <"$SMOKE_OUT/results.txt" | awk -v n="$1" -v p="RIG $2" '
		/^RIG phase n=/ { split($3, a, "="); ph = a[2] + 0 }
		ph == n && index($0, p) == 1 { print; exit }'
}

@test "Intel L1 under Bochs: kvm_intel with flexpriority, APICv as the Bochs that ran allows, /dev/kvm" {
	run phase_line 1 "param kvm_intel.flexpriority="
	assert_output "RIG param kvm_intel.flexpriority=Y"
	# The project's Bochs 3.0 emulates posted interrupts, so kvm_intel keeps its default
	# enable_apicv=Y; Debian's 2.7 (the fallback) does not.
	grep -q '^# Bochs: ' "$SMOKE_OUT/bochsrc" || fail "bochsrc does not name the Bochs that ran"
	local want=N
	if grep -q "^# Bochs: the project's Bochs 3.0" "$SMOKE_OUT/bochsrc"; then want=Y; fi
	run phase_line 1 "param kvm_intel.enable_apicv="
	assert_output "RIG param kvm_intel.enable_apicv=$want"
	run phase_line 1 "devkvm"
	assert_output "RIG devkvm present=1"
	run l1_line "$SMOKE_OUT" "l1 "
	assert_output --partial "vendor=GenuineIntel virt=vmx"
}

@test "Intel L1: vmm --probe finds kvm_intel's APIC-access page with the irqchip, none without" {
	run phase_line 1 "probe irqchip=on "
	assert_output --partial "rc=0 ranges=0xfee00000-0xfee00fff"
	run phase_line 1 "probe irqchip=off "
	assert_output --partial "rc=0 ranges=none"
}

@test "Intel L1: single 0x1200000 gets the kernel's EEXIST (exit 4); 0x11FF000 boots" {
	assert_l1_run "$SMOKE_OUT" 1 4 0
	run run_output "$SMOKE_OUT" 1
	assert_output --partial "(EEXIST): it overlaps [0xfee00000-0xfee00fff], the KVM APIC-access page"
	assert_l1_run "$SMOKE_OUT" 2 0 1
}

@test "Intel L1: split 0x6882000 boots with a real LAPIC and IOAPIC and takes every interrupt" {
	assert_l1_run "$SMOKE_OUT" 3 0 1
	run run_output "$SMOKE_OUT" 3
	assert_output --partial "guest: LAPIC version register 0x00050014"
	assert_output --partial "guest: IOAPIC version register 0x00170011"
	assert_output --regexp "guest: interrupts taken: 1 one-shot timer, [3-9] periodic timer, [3-9] external"
	assert_output --partial "guest: 26752 scratch pages written and read back, 0 mismatches"
}

@test "Intel L1 reloaded with flexpriority=0: no slot, single 0x1200000 boots" {
	run phase_line 2 "param kvm_intel.flexpriority="
	assert_output "RIG param kvm_intel.flexpriority=N"
	run phase_line 2 "probe irqchip=on "
	assert_output --partial "rc=0 ranges=none"
	assert_l1_run "$SMOKE_OUT" 4 0 1
}
