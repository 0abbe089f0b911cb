#!/usr/bin/env bats
# shellcheck disable=SC2154 # status, output, stderr and lines are set by bats' run
# ci/l1/in-l1 runs one build/vmm command inside a throwaway QEMU L1 (docs/l1.md), and ci/l1/run-hello (make run) falls back to it when the host's KVM does not work.
# The six full L1 boots start together in setup_file, two lanes at a time (~12-25 s each under
# TCG); the quick failure cases (no kernel, broken kernel, timeout) run in their tests.
load helpers
load nested_helpers

INL1=$REPO_ROOT/ci/l1/in-l1
RUNHELLO=$REPO_ROOT/ci/l1/run-hello
# A path the VMM will not find, with spaces, both quotes, a dollar, a backslash and a star.
ODD_PATH="/path with space/it's \"x\" \$HOME \\ *"

# boot NAME [ENV=VALUE...] -- CMD...: run CMD in the repo root, keep NAME.out/.err/.rc.
boot() {
	local name=$1 rc=0
	shift
	local -a envs=()
	while [[ $1 != -- ]]; do envs+=("$1") && shift; done
	shift
	(cd "$REPO_ROOT" && env "${envs[@]}" "$@") >"$L1_OUT/$name.out" 2>"$L1_OUT/$name.err" || rc=$?
	echo "$rc" >"$L1_OUT/$name.rc"
}

setup_file() {
	export BATS_TEST_TIMEOUT=900
	export L1_OUT=$BATS_FILE_TMPDIR
	export L1_SKIP=''
	local kver
	kver=$(make --no-print-directory -s -C "$REPO_ROOT" images-kernel 2>/dev/null) || kver=''
	L1_SKIP=$(l1_missing "$kver")
	[[ -z $L1_SKIP ]] || return 0
	export L1_KVER=$kver
	# The image must carry the VMM under test, and the liar guest must exist: build both once
	# here, so that the parallel in-l1 calls find them up to date.
	make --no-print-directory -s -C "$REPO_ROOT" images guests >"$L1_OUT/make.log" 2>&1 || {
		cat "$L1_OUT/make.log" >&2
		echo "make images guests failed" >&2
		return 1
	}
	local liar="$L1_OUT/with space/it's \"liar\".elf"
	mkdir -p "${liar%/*}"
	cp "$REPO_ROOT/build/guests/liar_pages.elf" "$liar"
	{
		boot hello -- "$INL1" -v --keep-log "$L1_OUT/hello-log" -- build/vmm
		boot forced -- "$INL1" --avic forced -- build/vmm --layout single --scratch-size 0x6882000
		boot badopt -- "$INL1" -q -- build/vmm --bogus
	} &
	local lane1=$!
	{
		boot liar -- "$INL1" -q -- build/vmm --guest "$liar"
		boot odd -- "$INL1" -q -- build/vmm --guest "$ODD_PATH"
		boot fallback SCRATCHRIG_KVM_DEVICE=/nonexistent -- "$RUNHELLO"
	} &
	local lane2=$!
	wait "$lane1" || true
	wait "$lane2" || true
}

setup() {
	if [[ $BATS_TEST_DESCRIPTION != "usage:"* && -n $L1_SKIP ]]; then
		skip "$L1_SKIP"
	fi
}

# assert_boot NAME RC: that boot NAME exited RC; else show its command output.
assert_boot() {
	local rc
	rc=$(cat "$L1_OUT/$1.rc")
	output=$(cat "$L1_OUT/$1.out")
	stderr=$(cat "$L1_OUT/$1.err")
	expect_exit "$2" "$rc" "boot '$1'"
}

@test "usage: only build/vmm runs in L1; bad options are exit 2 with one line" {
	run --separate-stderr "$INL1" -- /bin/true
	assert_equal "$status" 2
	assert_equal "$stderr" "in-l1: only build/vmm runs in L1 (the image carries $REPO_ROOT/build/vmm and its guest.elf), not '/bin/true'"
	run --separate-stderr "$INL1" --avic maybe -- build/vmm
	assert_equal "$status" 2
	assert_equal "$stderr" "in-l1: --avic must be off or forced, not 'maybe'"
	run --separate-stderr "$INL1"
	assert_equal "$status" 2
	run --separate-stderr "$INL1" --help
	assert_equal "$status" 0
	assert_output --partial "124  L1 still running after --timeout"
	assert_output --partial "125  no result from L1"
}

@test "exit 0 passes through: hello on stdout, no L1 boot noise, the log kept with --keep-log" {
	assert_boot hello 0
	assert_equal "$output" "hello, world!"
	[[ ${stderr%%$'\n'*} == "in-l1: booting an L1 (kernel $L1_KVER, "*"to run: build/vmm" ]] ||
		fail "first stderr line: $stderr"
	[[ $stderr == *"in-l1: L1 start-up "*" s (VMM started at L1 uptime "* ]] || fail "no timing line: $stderr"
	[[ $stderr != *"Linux version"* && $stderr != *"RIG "* ]] || fail "L1's console leaked: $stderr"
	local log=$L1_OUT/hello-log
	run grep -c "Linux version" "$log/console.log"
	assert_output 1
	run grep -x "RIG cmd rc=0 ms=[0-9]*" "$log/results.txt"
	assert_success
	assert_equal "$(cat "$log/stdout.txt")" "hello, world!"
}

@test "exit 1 passes through; a --guest file whose path has spaces and quotes reaches L1 intact" {
	assert_boot liar 1
	assert_equal "$output" "hello, world!"
	[[ $stderr == *"vmm: the guest reported success but the host finds "*" scratch pages without their pattern"* ]] ||
		fail "not the liar's verdict: $stderr"
}

@test "exit 4 passes through: --avic forced gives the kernel's real APIC-access slot and EEXIST" {
	assert_boot forced 4
	assert_equal "$output" ""
	[[ $stderr == *"refused scratch slot 17 [0xf977e000-0xffffffff] (EEXIST): it overlaps [0xfee00000-0xfee00fff], the KVM APIC-access page"* ]] ||
		fail "no real EEXIST: $stderr"
	[[ $stderr == *"kvm_amd avic=1 force_avic=1"* ]] || fail "in-l1 did not say forced: $stderr"
}

@test "exit 2 passes through: the VMM's own refusal of a bad option" {
	assert_boot badopt 2
	assert_equal "$stderr" "vmm: --bogus: unknown option (see vmm --help)"
}

@test "arguments with spaces and quotes survive: the VMM's message quotes the path exactly" {
	assert_boot odd 2
	# The same VMM on the host, stopped before KVM: its message is the reference.
	run --separate-stderr "$REPO_ROOT/build/vmm" --guest "$ODD_PATH" --kvm-device /nonexistent/kvm
	assert_equal "$status" 2
	assert_equal "$(cat "$L1_OUT/odd.err")" "$stderr"
	[[ $stderr == "vmm: guest image $ODD_PATH: No such file or directory"* ]] || fail "$stderr"
}

@test "an L1 that cannot boot: a missing or broken kernel gives exit 125 and says why" {
	run --separate-stderr env RIG_L1_KERNEL=/nonexistent/vmlinuz "$INL1" -q -- build/vmm
	assert_equal "$status" 125
	assert_equal "$stderr" "in-l1: L1 kernel /nonexistent/vmlinuz is missing or unreadable: L1 cannot boot (make images)"
	local bad=$BATS_TEST_TMPDIR/vmlinuz
	printf 'not a kernel\n%.0s' {1..100} >"$bad"
	run --separate-stderr env RIG_L1_KERNEL="$bad" "$INL1" -q --timeout 120 -- build/vmm
	assert_equal "$status" 125
	assert_output ""
	[[ $stderr == "in-l1: L1 gave no result (QEMU exit 1): it did not boot, panicked, crashed or lost its result line"* ]] ||
		fail "$stderr"
	[[ $stderr == *"the kernel never started ($bad)"* ]] || fail "$stderr"
}

@test "an L1 that panics (garbage initramfs) gives exit 125 with the panic line" {
	local img=$BATS_TEST_TMPDIR/img
	mkdir -p "$img"
	ln -s "$REPO_ROOT/build/images/$L1_KVER/vmlinuz" "$img/vmlinuz"
	head -c 4096 /dev/zero | tr '\0' 'x' >"$img/initramfs.cpio.gz"
	run --separate-stderr "$INL1" -q --image "$img" --timeout 300 -- build/vmm
	assert_equal "$status" 125
	[[ $stderr == *"in-l1: L1 panicked: Kernel panic - not syncing: "* ]] || fail "$stderr"
}

@test "an L1 still running at --timeout is stopped: exit 124" {
	# Its temp dir in the test's, to see that QEMU is gone and the dir removed.
	run --separate-stderr env TMPDIR="$BATS_TEST_TMPDIR" "$INL1" -q --timeout 2 -- build/vmm
	assert_equal "$status" 124
	assert_equal "$stderr" "in-l1: L1 still running after 2s (boot and VMM run): stopped; raise --timeout"
	run pgrep -f "$BATS_TEST_TMPDIR/rig-in-l1"
	assert_failure
	run find "$BATS_TEST_TMPDIR" -maxdepth 1 -name 'rig-in-l1.*'
	assert_output ""
}

@test "make run (ci/l1/run-hello) boots on the host when its KVM works" {
	local rc=0
	(cd "$REPO_ROOT" && build/vmm --touch none >/dev/null 2>&1) || rc=$?
	[[ $rc != 3 ]] || skip "the host's KVM does not work here (build/vmm exit 3)"
	run --separate-stderr "$RUNHELLO"
	assert_equal "$status" 0
	assert_equal "$output" "hello, world!"
	[[ $stderr == "run: on the host: its KVM works (/dev/kvm; build/vmm exit 0)" ]] || fail "$stderr"
}

@test "make run (ci/l1/run-hello) falls back to an L1 when the host's device fails (SCRATCHRIG_KVM_DEVICE=/nonexistent)" {
	# Exit 0 also shows the variable did not reach L1: there it would be exit 3 again.
	assert_boot fallback 0
	assert_equal "$output" "hello, world!"
	[[ ${stderr%%$'\n'*} == "run: in a QEMU L1 via ci/l1/in-l1 (one L1 boot, ~12-25 s): the host's KVM does not work (build/vmm exit 3: /nonexistent does not exist"* ]] ||
		fail "first stderr line: $stderr"
	# --quiet: that one line is all in-l1 adds
	[[ $stderr != *"in-l1:"* ]] || fail "$stderr"
}

@test "the Makefile's run target goes through ci/l1/run-hello" {
	run make --no-print-directory -n -C "$REPO_ROOT" run
	assert_success
	assert_line --partial "ci/l1/run-hello"
}
