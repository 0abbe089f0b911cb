#!/usr/bin/env bats
# Nested smoke: the VMM inside real Linux L1 guests under QEMU TCG (the full matrix is
# `make ci-matrix`). Two L1 boots, started together in setup_file:
#   forced: kvm_amd avic=1 force_avic=1 -> L1's KVM has its real APIC-access slot at 0xfee00000:
#           0x6882000 under `single` is refused with the kernel's own EEXIST (exit 4) and boots
#           under `split`. TCG ignores AVIC, so the LAPIC check is off there.
#   noavic: kvm_amd avic=0 -> no slot; 0x6882000 boots under split with the LAPIC check on.
# Logs: build/nested-smoke/{forced,noavic}/console.log and results.txt.
load nested_helpers

SMOKE_RUNS_FORCED="s1na-6882000 p1na-6882000"
SMOKE_RUNS_NOAVIC="p1na-6882000"

setup_file() {
	export BATS_TEST_TIMEOUT=900
	# Ask make which kernel `make images` uses; a make without images/images.mk is a failure.
	NESTED_KVER=$(make --no-print-directory -s -C "$NESTED_ROOT" images-kernel 2>"$BATS_FILE_TMPDIR/kver.err") || {
		cat "$BATS_FILE_TMPDIR/kver.err" >&2
		echo "make images-kernel failed: does the Makefile include images/images.mk?" >&2
		return 1
	}
	export NESTED_KVER
	export SMOKE_OUT=$NESTED_ROOT/build/nested-smoke
	[ -z "$(l1_missing "$NESTED_KVER")" ] || return 0
	# The image must hold the VMM under test: make rebuilds it when anything changed.
	make --no-print-directory -s -C "$NESTED_ROOT" images >"$BATS_FILE_TMPDIR/make.log" 2>&1 || {
		cat "$BATS_FILE_TMPDIR/make.log" >&2
		echo "make images failed" >&2
		return 1
	}
	local img=$NESTED_ROOT/build/images/$NESTED_KVER boot=$NESTED_ROOT/ci/l1/l1-boot
	"$boot" --image "$img" --modargs "avic=1 force_avic=1" --vmmargs "--apic-check off" \
		--runs "$SMOKE_RUNS_FORCED" --timeout 600 "$SMOKE_OUT/forced" 2>"$BATS_FILE_TMPDIR/forced.err" &
	local p1=$!
	"$boot" --image "$img" --modargs "avic=0" --vmmargs "-v" \
		--runs "$SMOKE_RUNS_NOAVIC" --timeout 600 "$SMOKE_OUT/noavic" 2>"$BATS_FILE_TMPDIR/noavic.err" &
	local p2=$! rc1=0 rc2=0
	wait "$p1" || rc1=$?
	wait "$p2" || rc2=$?
	echo "$rc1" >"$BATS_FILE_TMPDIR/forced.rc"
	echo "$rc2" >"$BATS_FILE_TMPDIR/noavic.rc"
}

setup() {
	nested_require
}

# assert_booted NAME: that L1 finished all its runs (l1-boot exit 0).
assert_booted() {
	local rc
	rc=$(cat "$BATS_FILE_TMPDIR/$1.rc")
	if [ "$rc" != 0 ]; then
		echo "L1 '$1' did not finish (ci/l1/l1-boot exit $rc: 1 ended early, 124 timeout)" >&2
		cat "$BATS_FILE_TMPDIR/$1.err" "$SMOKE_OUT/$1/l1.err" >&2 2>/dev/null
		tail -n 40 "$SMOKE_OUT/$1/console.log" >&2
		return 1
	fi
}

@test "forced-AVIC L1: kvm_amd loaded with avic and force_avic, /dev/kvm present" {
	assert_booted forced
	run l1_line "$SMOKE_OUT/forced" "param kvm_amd.force_avic="
	assert_output --regexp '=(Y|1)$'
	run l1_line "$SMOKE_OUT/forced" "devkvm"
	assert_output "RIG devkvm present=1"
}

@test "forced-AVIC L1: vmm --probe finds KVM's real APIC-access page with the irqchip, none without" {
	assert_booted forced
	run l1_line "$SMOKE_OUT/forced" "probe irqchip=on "
	assert_output --partial "rc=0 ranges=0xfee00000-0xfee00fff"
	run l1_line "$SMOKE_OUT/forced" "probe irqchip=off "
	assert_output --partial "rc=0 ranges=none"
}

@test "forced-AVIC L1: 0x6882000 under --layout single hits the real slot: EEXIST, exit 4" {
	assert_booted forced
	assert_l1_run "$SMOKE_OUT/forced" 1 4 0
	run run_output "$SMOKE_OUT/forced" 1
	assert_output --partial "EEXIST"
	assert_output --partial "0xfee00000"
}

@test "forced-AVIC L1: 0x6882000 under --layout split boots and prints hello" {
	assert_booted forced
	assert_l1_run "$SMOKE_OUT/forced" 2 0 1
}

@test "L1 without AVIC: 0x6882000 boots under split with the LAPIC check on" {
	assert_booted noavic
	run l1_line "$SMOKE_OUT/noavic" "probe irqchip=on "
	assert_output --partial "rc=0 ranges=none"
	assert_l1_run "$SMOKE_OUT/noavic" 1 0 1
	# The guest read a real LAPIC version through MMIO at 0xfee00030 (not 0: not scratch RAM).
	run run_output "$SMOKE_OUT/noavic" 1
	assert_output --regexp 'LAPIC version register 0x000[1-9a-f][0-9a-f]{4}'
	refute_output --partial -- '--apic-check off'
}
