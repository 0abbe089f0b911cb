#!/usr/bin/env bats
# shellcheck disable=SC2154 # status, output, stderr and lines are set by bats' run
# shellcheck disable=SC2016 # $1 in the sweeps' commands is their inner shell's
# kvm-as HOST --sweep LO:HI[:ALIGN] -- CMD ... {} ...: bad input, the bisection's bounds and
# its degenerate ends with shell commands (no KVM), the timeout with a command that hangs, and,
# where /dev/kvm works, build/vmm's scratch-size boundary under every model, computed from the
# pages of the one table (kvm-as --list-models).
load helpers

KVM_AS=${KVM_AS:-$(dirname "$VMM")/kvm-as}
# The VMM as kvm-as's tracee: LeakSanitizer cannot run under ptrace (the ASan pass).
TRACED_VMM=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" "$VMM")
KVM_AS_TIMEOUT=${KVM_AS_TIMEOUT:-600}

# run_sweep EXPECTED_RC [kvm-as args...]: stdout (the result lines) in $output, the runs in $stderr.
run_sweep() {
	local expected=$1
	shift
	run --separate-stderr timeout -k 5 "$KVM_AS_TIMEOUT" "$KVM_AS" "$@"
	expect_exit "$expected" "$status" "command:  $KVM_AS $*"
}

# runs MODEL: how many runs the sweep made for MODEL (its stderr lines).
runs() {
	grep -c "^kvm-as: sweep: $1: " <<<"$stderr" || true
}

# log2_ceil N: the bisection's bound, ceil(log2(N)).
log2_ceil() {
	local n=$1 k=0
	while [ $((1 << k)) -lt "$n" ]; do k=$((k + 1)); done
	echo "$k"
}

setup() {
	[ -x "$KVM_AS" ] || skip "no $KVM_AS (make)"
}

# args|what the one line must say
sweep_bad_invocations() {
	cat <<'TABLE'
none --sweep 0x2000:0x1000 -- echo {}|--sweep 0x2000:0x1000: LO 0x2000 is above HI 0x1000
none --sweep 5:4:1 -- echo {}|LO 5 is above HI 4
none --sweep 1:4:1 -- echo|--sweep: no {} in the command
none --sweep 1:4:1 -- echo {|no {} in the command
none --sweep x:4:1 -- echo {}|LO x is not a number
none --sweep 1:0xq:1 -- echo {}|HI 0xq is not a number
none --sweep 1:4:3 -- echo {}|ALIGN 0x3 is not a power of two
none --sweep 0:4:0 -- echo {}|ALIGN 0x0 is not a power of two
none --sweep 1:4 -- echo {}|LO and HI must be multiples of ALIGN 0x1000
none --sweep 1 -- echo {}|expected LO:HI or LO:HI:ALIGN
none --sweep|--sweep: missing LO:HI[:ALIGN]
none --sweep 1:4:1|missing command
none --sweep 1:4:1 --trace t -- echo {}|no --trace
none --sweep 1:4:1 --timeout 0 -- echo {}|--timeout 0: must be whole seconds from 1 to 86400
none --sweep 1:4:1 --timeout soon -- echo {}|--timeout soon: must be
bogus,none --sweep 1:4:1 -- echo {}|bogus: unknown host model (one of intel, intel-noug, amd-avic, none, or all)
TABLE
}

@test "every bad --sweep exits 2 with one line saying what is wrong, and runs nothing" {
	expect_usage_errors "$KVM_AS" sweep_bad_invocations 16
}

@test "a boundary: the largest passing value and the first failing one, in at most log2(range/align)+2 runs" {
	# passes below 777 (decimal in, decimal out), on a grid of 1
	run_sweep 0 none --sweep 1:1000:1 -- sh -c '[ "$1" -lt 777 ] || exit 9' sh {}
	assert_equal "$output" "sweep: none: pass=776 fail=777 exit=9 runs=$(runs none): no KVM call refused: the command failed on its own"
	[ "$(runs none)" -le $(($(log2_ceil 999) + 2)) ] || fail "$(runs none) runs"
	# hex in, hex out; {} inside a word (size={}); the default alignment of 4 KiB
	run_sweep 0 intel --sweep 0x1000:0x10000000 -- sh -c 'v=${1#size=}; [ $((v)) -lt $((0x1234000)) ] || { echo no >&2; exit 3; }' sh 'size={}'
	assert_equal "$output" "sweep: intel: pass=0x1233000 fail=0x1234000 exit=3 runs=$(runs intel): no KVM call refused: the command failed on its own: no"
	[ "$(runs intel)" -le $(($(log2_ceil $(((0x10000000 - 0x1000) / 0x1000))) + 2)) ] || fail "$(runs intel) runs"
}

@test "a command that fails at LO or passes at HI is reported as such, in one or two runs" {
	run_sweep 0 none --sweep 4096:8192:4096 -- sh -c 'echo "why: $1" >&2; exit 1' sh {}
	assert_equal "$output" "sweep: none: pass=- fail=4096 exit=1 runs=1: fails at LO: no KVM call refused: the command failed on its own: why: 4096"
	run_sweep 0 none --sweep 0x1000:0x100000 -- true {}
	assert_equal "$output" "sweep: none: pass=0x100000 fail=- runs=2: passes at HI"
	run_sweep 0 none --sweep 7:7:1 -- true {}
	assert_equal "$output" "sweep: none: pass=7 fail=- runs=1: passes at HI"
	run_sweep 0 none --sweep 1:2:1 -- /nonexistent/cmd {}
	assert_equal "$output" "sweep: none: pass=- fail=1 exit=127 runs=1: fails at LO: no KVM call refused: the command failed on its own: kvm-as: /nonexistent/cmd: command not found (check the name and PATH)"
}

@test "several models (a comma list, or all): one line each, in the order asked" {
	run_sweep 0 none,intel --sweep 1:16:1 -- sh -c '[ "$1" -lt 5 ]' sh {}
	assert_equal "${#lines[@]}" 2
	[[ ${lines[0]} == "sweep: none: pass=4 fail=5 exit=1 "* ]] || fail "$output"
	[[ ${lines[1]} == "sweep: intel: pass=4 fail=5 exit=1 "* ]] || fail "$output"
	run_sweep 0 all --sweep 1:2:1 -- true {}
	assert_equal "$(cut -d: -f2 <<<"$output" | paste -sd' ')" " intel  intel-noug  amd-avic  none"
}

@test "a run that hangs ends at --timeout with exit 124, and leaves nothing behind" {
	local n=$RANDOM
	# values from 3 on hang; each such run ends after 1 s
	run_sweep 0 none --sweep 1:8:1 --timeout 1 -- sh -c "[ \$1 -lt 3 ] || exec sleep 100.$n" sh {}
	assert_equal "$output" "sweep: none: pass=2 fail=3 exit=124 runs=$(runs none): timed out after 1 s (--timeout)"
	[[ $stderr == *"kvm-as: sweep: none: 3: exit 124 (timed out)"* ]] || fail "$stderr"
	[ "$(runs none)" -le $(($(log2_ceil 7) + 2)) ] || fail "$(runs none) runs"
	sleep 0.2
	! pgrep -f "sleep 100[.]$n" || fail "a timed-out run left its sleep behind"
}

# --- with a working /dev/kvm ---------------------------------------------

# table_gpa KIND KEY: a page's address from the one table (kvm-as --list-models).
table_gpa() {
	"$KVM_AS" --list-models | awk -F'\t' -v k="$1" -v n="$2" '$1 == k && $2 == n { print $3 }'
}

@test "build/vmm's scratch-size boundary under every model: the APIC page, the identity map, none" {
	require_kvm
	local apic idmap intel_fail noug_fail cmd
	apic=$(table_gpa private apic-access)
	idmap=$(table_gpa private identity-map)
	# scratch ends at 0xffffffff: the first size that reaches a page is 2^32 - its address
	intel_fail=$(printf '0x%x' $((0x100000000 - apic)))
	noug_fail=$(printf '0x%x' $((0x100000000 - idmap)))
	assert_equal "$intel_fail" "$FIRST_FAILING_SIZE"
	assert_equal "$noug_fail" 0x44000
	cmd=("${TRACED_VMM[@]}" --layout single --touch none --scratch-size {})
	run_sweep 0 intel,intel-noug,amd-avic,none --sweep 0x1000:0x10000000 -- "${cmd[@]}"
	assert_equal "${lines[0]}" "sweep: intel: pass=$LAST_FITTING_SIZE fail=$intel_fail exit=4 runs=$(runs intel): KVM_SET_USER_MEMORY_REGION slot 17 [$apic-0xffffffff] size $intel_fail flags 0x0 refused with EEXIST"
	assert_equal "${lines[1]}" "sweep: intel-noug: pass=$(printf '0x%x' $((noug_fail - 0x1000))) fail=$noug_fail exit=4 runs=$(runs intel-noug): KVM_SET_USER_MEMORY_REGION slot 17 [$idmap-0xffffffff] size $noug_fail flags 0x0 refused with EEXIST"
	assert_equal "${lines[2]}" "sweep: amd-avic: pass=$LAST_FITTING_SIZE fail=$intel_fail exit=4 runs=$(runs amd-avic): KVM_SET_USER_MEMORY_REGION slot 17 [$apic-0xffffffff] size $intel_fail flags 0x0 refused with EEXIST"
	assert_equal "${lines[3]}" "sweep: none: pass=0x10000000 fail=- runs=2: passes at HI"
	local m
	for m in intel intel-noug amd-avic; do
		[ "$(runs "$m")" -le 18 ] || fail "$m: $(runs "$m") runs, more than log2(0xffff)+2"
	done
	# --strict: under none the LAPIC page hidden by RAM fails the run where intel's slot does
	run_sweep 0 none --strict --sweep 0x1000:0x10000000 -- "${cmd[@]}"
	assert_equal "$output" "sweep: none: pass=$LAST_FITTING_SIZE fail=$intel_fail exit=4 runs=$(runs none): KVM_SET_USER_MEMORY_REGION slot 17 [$apic-0xffffffff] size $intel_fail flags 0x0 refused with EEXIST"
}
