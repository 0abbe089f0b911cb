#!/usr/bin/env bats
# ci/hw/hw-regress (make hw-regress), as far as this machine can run it:
#   - the host cells on this host's /dev/kvm, judged by the rule of ci/matrix/expect.bash, and the
#     report (build/hw-style report.md and report.json) answering the bug report's questions;
#   - the module reload (RELOAD_KVM=1) against a fake sysfs root (HW_SYSFS), fake /proc
#     (HW_PROC: cpuinfo, no other VM) and a fake modprobe that records its calls, with a VMM
#     wrapper that gives "KVM" its APIC-access slot whenever kvm_intel flexpriority or kvm_amd
#     avic is on (the VMM's own placeholder, which KVM refuses overlaps with exactly like the
#     real slot): every matrix parameter set is loaded, the answers come out, and the original
#     parameters come back, also on SIGTERM in the middle;
#   - every skip path, with its reason: no nested virtualization, RELOAD_KVM=1 without root,
#     with another VM running, without a reloadable module.
# Small size lists (HW_SIZES) and --touch none (HW_TOUCH) keep it short.
# shellcheck disable=SC2154 # status, output, stderr and lines are set by bats' run
# shellcheck disable=SC2016 # single-quoted $ in grep patterns and awk programs is meant
load helpers

HW=$REPO_ROOT/ci/hw/hw-regress

setup_file() {
	export BATS_TEST_TIMEOUT=300
	local fx=$BATS_FILE_TMPDIR/fx
	mkdir -p "$fx"
	# The fake modprobe: records every call, (un)loads modules in the fake sysfs.
	cat >"$fx/modprobe" <<'EOF'
#!/bin/bash
# Fake modprobe over HW_SYSFS: records every call in $FAKE_LOG; -r MOD removes module/MOD;
# MOD A=1 B=0 creates it from the defaults in $FAKE_DEFAULTS/MOD/<param>, booleans shown Y/N
# as the kernel shows them; an already loaded module is left as it is (like modprobe).
#   FAKE_SLEEP_ON=WORD   a load whose arguments hold WORD touches $FAKE_LOG.reached, sleeps 3 s
#   FAKE_FAIL_ON=WORD    a load whose arguments hold WORD fails (unknown parameter, say)
#   FAKE_UNLOAD_FAIL=1   -r fails: the module is in use
set -u
echo "$*" >>"$FAKE_LOG"
sys=$HW_SYSFS defaults=$FAKE_DEFAULTS
if [[ $1 == -r ]]; then
	[[ -n ${FAKE_UNLOAD_FAIL:-} ]] && { echo "modprobe: FATAL: Module $2 is in use." >&2; exit 1; }
	rm -rf "${sys:?}/module/$2"
	exit 0
fi
mod=$1
shift
[[ -d $defaults/$mod ]] || { echo "modprobe: FATAL: Module $mod not found" >&2; exit 1; }
[[ -d $sys/module/$mod ]] && exit 0
if [[ -n ${FAKE_FAIL_ON:-} && " $* " == *" $FAKE_FAIL_ON "* ]]; then
	echo "modprobe: ERROR: could not insert '$mod': Invalid argument" >&2
	exit 1
fi
new=$sys/module/.$mod.new
rm -rf "$new"
mkdir -p "$new/parameters"
cp "$defaults/$mod"/* "$new/parameters/"
for kv in "$@"; do
	k=${kv%%=*} v=${kv#*=}
	[[ -e $defaults/$mod/$k ]] || { echo "modprobe: unknown parameter $k" >&2; rm -rf "$new"; exit 1; }
	case $(cat "$defaults/$mod/$k") in
	Y | N) case $v in 1 | y | Y) v=Y ;; 0 | n | N) v=N ;; esac ;;
	esac
	echo "$v" >"$new/parameters/$k"
done
echo live >"$new/initstate"
echo 0 >"$new/refcnt"
mv "$new" "$sys/module/$mod"
if [[ -n ${FAKE_SLEEP_ON:-} && " $* " == *" $FAKE_SLEEP_ON "* ]]; then
	touch "$FAKE_LOG.reached"
	sleep 3
fi
exit 0
EOF
	# The VMM of a host whose KVM keeps the APIC-access slot: with the irqchip on, whenever the
	# fake sysfs shows kvm_intel flexpriority=Y (vmx_vcpu_create's test) or kvm_amd avic=Y.
	cat >"$fx/vmm" <<'EOF'
#!/bin/bash
# FAKE_VMM_HANG=FILE: with flexpriority=N, the first non-probe run touches FILE and hangs.
irq=on prev=''
for a in "$@"; do
	[[ $prev == --irqchip ]] && irq=$a
	prev=$a
done
m=$HW_SYSFS/module
flex=$(cat "$m/kvm_intel/parameters/flexpriority" 2>/dev/null)
avic=$(cat "$m/kvm_amd/parameters/avic" 2>/dev/null)
if [[ -n ${FAKE_VMM_HANG:-} && $flex == N && " $* " != *" --probe "* ]]; then
	touch "$FAKE_VMM_HANG"
	exec sleep 60
fi
if [[ $irq == on && ($flex == Y || $avic == Y) ]]; then
	exec "$REAL_VMM" --emulate-apic-page "$@"
fi
exec "$REAL_VMM" "$@"
EOF
	chmod +x "$fx/modprobe" "$fx/vmm"
}

# json FILE FILTER: one value of a JSON file (jq syntax; null for missing).
json() {
	if command -v jq >/dev/null; then
		jq -r "$2" "$1"
	else
		python3 - "$1" "$2" <<'EOF'
import json, re, sys
v = json.load(open(sys.argv[1]))
for k, i in re.findall(r"\.?([A-Za-z0-9_]+)(?:\[(\d+)\])?", sys.argv[2]):
    v = v.get(k) if isinstance(v, dict) else None
    if i and v is not None:
        v = v[int(i)] if int(i) < len(v) else None
print("null" if v is None else str(v).lower() if isinstance(v, bool) else v)
EOF
	fi
}

# fake_host DIR VENDOR(intel|amd) PARAM=VALUE...: a fake sysfs root DIR/sys with kvm and the
# vendor module loaded with those parameters (the defaults are all Y, nested 1 on AMD), and a
# fake /proc DIR/proc with that vendor's cpuinfo and no process.
fake_host() {
	local d=$1 v=$2 mod kv
	shift 2
	mod=kvm_$v
	rm -rf "$d"
	mkdir -p "$d/sys/module/kvm/parameters" "$d/sys/module/$mod/parameters" "$d/defaults/$mod" "$d/proc"
	if [[ $v == intel ]]; then
		for kv in enable_apicv=Y flexpriority=Y nested=Y ept=Y unrestricted_guest=Y; do echo "${kv#*=}" >"$d/defaults/$mod/${kv%%=*}"; done
		printf 'vendor_id\t: GenuineIntel\nmodel name\t: Fake Xeon\nflags\t\t: fpu vmx ept flexpriority\n' >"$d/proc/cpuinfo"
	else
		for kv in avic=Y force_avic=N nested=1 npt=Y; do echo "${kv#*=}" >"$d/defaults/$mod/${kv%%=*}"; done
		printf 'vendor_id\t: AuthenticAMD\nmodel name\t: Fake EPYC\nflags\t\t: fpu svm npt\n' >"$d/proc/cpuinfo"
	fi
	cp "$d/defaults/$mod"/* "$d/sys/module/$mod/parameters/"
	for kv in "$@"; do echo "${kv#*=}" >"$d/sys/module/$mod/parameters/${kv%%=*}"; done
	echo live >"$d/sys/module/$mod/initstate"
	echo 0 >"$d/sys/module/$mod/refcnt"
}

# hw_fake DIR [VAR=VALUE...]: ci/hw/hw-regress against the fake host in DIR, output in DIR/out
# (nested cells off unless HW_NESTED=auto: a fake vmx/svm must not boot real L1s).
hw_fake() {
	local d=$1
	shift
	run --separate-stderr env HW_OUT="$d/out" HW_SYSFS="$d/sys" HW_PROC="$d/proc" \
		HW_MODPROBE="$BATS_FILE_TMPDIR/fx/modprobe" FAKE_LOG="$d/calls.log" FAKE_DEFAULTS="$d/defaults" \
		VMM="$BATS_FILE_TMPDIR/fx/vmm" REAL_VMM="$VMM" HW_SIZES=1200000 HW_TOUCH=none HW_NESTED=0 "$@" "$HW"
}

# params DIR MOD: the fake module's parameters as "a=1 b=2" (sorted), or "not loaded".
params() {
	local f out=''
	[[ -d $1/sys/module/$2 ]] || { echo "not loaded"; return; }
	for f in "$1/sys/module/$2/parameters"/*; do out+="${out:+ }${f##*/}=$(cat "$f")"; done
	echo "$out"
}

# matrix_modargs VENDOR: the modargs of the matrix's [l1] sections for that vendor, one a line.
matrix_modargs() {
	awk -v v="$1" '
		/^\[/ { if (l1 && vend == v && args != "") print args; l1 = ($1 == "[l1"); vend = ""; args = ""; next }
		l1 && /^vendor *=/ { sub(/^vendor *= */, ""); vend = $0 }
		l1 && /^modargs *=/ { sub(/^modargs *= */, ""); args = $0 }
		END { if (l1 && vend == v && args != "") print args }' "$REPO_ROOT/ci/matrix/matrix.cfg" | awk '!seen[$0]++'
}

# restore_line DIR VENDOR: the load that restores the original parameters: every parameter
# the matrix sets, in the order the matrix first names them, with its value in DIR/sys before.
restore_line() {
	local k line="kvm_$2"
	for k in $(matrix_modargs "$2" | tr ' ' '\n' | sed 's/=.*//' | awk '!seen[$0]++'); do
		line+=" $k=$(cat "$1/sys/module/kvm_$2/parameters/$k")"
	done
	echo "$line"
}

show() { # show: what a failing assertion needs to see
	echo "--- stdout"
	printf '%s\n' "$output"
	echo "--- stderr"
	printf '%s\n' "$stderr"
}

# require_root: RELOAD_KVM=1 refuses non-root before anything else it checks.
require_root() {
	[ "$(id -u)" = 0 ] || skip "RELOAD_KVM=1 paths need root (this runs as $(id -un))"
}

# host_run_ok: the one host run shared by the host-cell and report tests (run by the first test
# that asks, so that a test filtered out of the file costs nothing), which must have passed; H
# is its HW_OUT.
host_run_ok() {
	require_kvm
	local rc
	(
		! command -v flock >/dev/null || flock 9
		[[ ! -e $BATS_FILE_TMPDIR/host.rc ]] || exit 0
		rc=0
		HW_OUT=$BATS_FILE_TMPDIR/host HW_SIZES="11ff000 1200000" HW_TOUCH=all VMM=$VMM \
			"$HW" >"$BATS_FILE_TMPDIR/host.out" 2>&1 || rc=$?
		echo "$rc" >"$BATS_FILE_TMPDIR/host.rc"
	) 9>"$BATS_FILE_TMPDIR/host.lock"
	rc=$(cat "$BATS_FILE_TMPDIR/host.rc")
	if [[ $rc != 0 ]]; then
		echo "ci/hw/hw-regress exited $rc on this host:" >&2
		cat "$BATS_FILE_TMPDIR/host.out" >&2
		return 1
	fi
	H=$BATS_FILE_TMPDIR/host
}

@test "--help documents the environment; bad settings exit 2 naming them" {
	run --separate-stderr "$HW" --help
	assert_success
	for v in HW_OUT HW_SIZES HW_TOUCH HW_NESTED RELOAD_KVM HW_SYSFS HW_PROC HW_MODPROBE; do
		assert_output --partial "$v"
	done
	run --separate-stderr env HW_SIZES=0x1000 "$HW"
	[ "$status" -eq 2 ] || { show; false; }
	[[ $stderr == *"HW_SIZES: '0x1000'"* ]]
	run --separate-stderr env HW_TOUCH=some "$HW"
	[ "$status" -eq 2 ] && [[ $stderr == *HW_TOUCH* ]]
	run --separate-stderr "$HW" --bogus
	[ "$status" -eq 2 ]
}

@test "ci/matrix/run-matrix and ci/hw/hw-regress judge by the one rule of ci/matrix/expect.bash" {
	run grep -c '^expected_rc()\|^range_hit()\|^run_mark()' "$REPO_ROOT/ci/matrix/run-matrix" "$HW"
	assert_output --regexp ':0$'
	refute_output --regexp ':[1-9]'
	grep -q '\. "$ROOT/ci/matrix/expect.bash"' "$REPO_ROOT/ci/matrix/run-matrix"
	grep -q '\. "$ROOT/ci/matrix/expect.bash"' "$HW"
	# The rule itself, on the report's numbers.
	# shellcheck source=ci/matrix/expect.bash
	. "$REPO_ROOT/ci/matrix/expect.bash"
	[ "$(expected_rc s1na-11ff000 0xfee00000-0xfee00fff)" = 0 ]
	[ "$(expected_rc s1na-1200000 0xfee00000-0xfee00fff)" = 4 ]
	[ "$(expected_rc s1na-1200000 none)" = 0 ]
	[ "$(expected_rc c1na-1200000 none)" = 4 ]
	[ "$(expected_rc c0na-1200000 none)" = 0 ]
	[ "$(expected_rc p1na-1G 0xfee00000-0xfee00fff)" = 0 ]
	[ "$(run_mark 0 0 0)" = fail ] && [ "$(run_mark 4 4 0)" = pass ] && [ "$(run_mark 0 124 0)" = timeout ]
}

@test "host cells: every run's verdict is the rule's over what this host's KVM probed" {
	host_run_ok
	# shellcheck source=ci/matrix/expect.bash
	. "$REPO_ROOT/ci/matrix/expect.bash"
	local pon poff n=0 tok exp rc hello mark want
	pon=$(awk -F'\t' '$1 == "host" { print $5 }' "$H/phases.tsv")
	poff=$(awk -F'\t' '$1 == "host" { print $7 }' "$H/phases.tsv")
	[ -n "$pon" ] && [ -n "$poff" ]
	while IFS=$'\t' read -r _ tok exp rc hello mark _; do
		n=$((n + 1))
		want=$(expected_rc "$tok" "$([[ ${tok:1:1} == 1 ]] && echo "$pon" || echo "$poff")")
		[ "$exp" = "$want" ] || fail "$tok: report expects $exp, the rule $want"
		[ "$mark" = pass ] || fail "$tok: $mark (exit $rc, hello $hello, expected $exp): $(cat "$H/logs/host/$tok.log")"
		[ "$mark" = "$(run_mark "$exp" "$rc" "$hello")" ]
	done < <(awk -F'\t' 'NR > 1' "$H/runs.tsv")
	[ "$n" -eq 12 ] # 2 sizes x 3 layouts x 2 irqchip settings
}

@test "host cells without an APIC-access slot: single boots over 0xfee00000 and leaves the APIC pages untested" {
	host_run_ok
	[ "$(json "$H/report.json" .probe.irqchip_on[0])" = null ] ||
		skip "this host's KVM reserves $(json "$H/report.json" .probe.irqchip_on[0]) (the real slot): the answers test covers it"
	local r
	r=$(awk -F'\t' '$2 == "s1na-1200000" { print $4, $5 }' "$H/runs.tsv")
	[ "$r" = "0 1" ] || fail "single 0x1200000, irqchip on: '$r'"
	# What the VMM really does: scratch RAM over the LAPIC page, no APIC check, holes untouched.
	run cat "$H/logs/host/s1na-1200000.log"
	assert_line --partial "covers the guest's LAPIC page 0xfee00000"
	assert_line --partial "skipped the LAPIC check"
	assert_line --regexp "guest: 4607 scratch pages written and read back, 0 mismatches"
	# One page less: no warning, and the guest reads its LAPIC through MMIO.
	run cat "$H/logs/host/s1na-11ff000.log"
	refute_line --partial "covers the guest's LAPIC page"
	assert_line --regexp 'LAPIC version register 0x'
	# check refuses what split holes out, and only with the irqchip on.
	[ "$(awk -F'\t' '$2 == "c1na-1200000" { print $4 }' "$H/runs.tsv")" = 4 ]
	[ "$(awk -F'\t' '$2 == "c0na-1200000" { print $4 }' "$H/runs.tsv")" = 0 ]
	[ "$(awk -F'\t' '$2 == "c1na-11ff000" { print $4 }' "$H/runs.tsv")" = 0 ]
}

@test "the report: report.md and report.json answer the bug report's questions for this host" {
	host_run_ok
	[ -s "$H/report.md" ] && [ -s "$H/report.json" ]
	if command -v jq >/dev/null; then jq -e . "$H/report.json" >/dev/null; else python3 -m json.tool "$H/report.json" >/dev/null; fi
	[ "$(json "$H/report.json" .verdict)" = PASS ]
	[ "$(json "$H/report.json" .host.kernel)" = "$(uname -r)" ]
	[ "$(json "$H/report.json" .host.cpu_vendor)" = "$(sed -n 's/^vendor_id[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" ]
	local k a slot
	for k in apic_access_slot single_fails_0x1200000 single_passes_0x11ff000 split_boots_every_size \
		workaround_enable_apicv_0 workaround_flexpriority_0 workaround_avic_0; do
		a=$(json "$H/report.json" ".answers.$k.answer")
		[ -n "$a" ] && [ "$a" != null ] || fail "no answer for $k"
		grep -qF "| $(json "$H/report.json" ".answers.$k.question") | $a |" "$H/report.md" || fail "report.md lacks $k"
	done
	slot=$(json "$H/report.json" .answers.apic_access_slot.answer)
	[ "$(json "$H/report.json" .answers.single_fails_0x1200000.answer)" = "$([ "$slot" = yes ] && echo yes || echo no)" ]
	[ "$(json "$H/report.json" .answers.single_passes_0x11ff000.answer)" = yes ]
	[ "$(json "$H/report.json" .answers.split_boots_every_size.answer)" = yes ]
	# Without RELOAD_KVM=1, each workaround of this host's vendor is not measured, and says why.
	case $(json "$H/report.json" .host.vendor_module) in
	kvm_intel) k=workaround_flexpriority_0 ;;
	*) k=workaround_avic_0 ;;
	esac
	[ "$(json "$H/report.json" ".answers.$k.answer")" = "not measured: RELOAD_KVM=1 needed" ]
	grep -q "not measured: RELOAD_KVM=1 needed" "$H/report.md"
	[ "$(json "$H/report.json" .reload.state)" = "not run" ]
}

@test "nested cells: SKIP with the reason on a host whose CPU shows no vmx/svm" {
	host_run_ok
	! grep -qwE 'vmx|svm' /proc/cpuinfo || skip "this host shows vmx/svm: nesting may be available"
	[ "$(json "$H/report.json" .nested.verdict)" = SKIP ]
	[[ $(json "$H/report.json" .nested.reason) == *"shows no vmx/svm"* ]]
	grep -q '^SKIP: this host.s CPU shows no vmx/svm' "$H/report.md"
	# ... and ci/matrix/run-matrix's own view of the kvm cells, listed without booting.
	grep -q 'kvm-amd-forced .*SKIP' "$H/report.md"
	grep -q 'nested cells SKIP' "$BATS_FILE_TMPDIR/host.out"
}

@test "nested cells: SKIP when the vendor module has nested=N; HW_NESTED=0 turns them off" {
	require_kvm # without it, "no usable /dev/kvm" is the reason given first
	local d=$BATS_TEST_TMPDIR/h
	fake_host "$d" intel nested=N
	hw_fake "$d" HW_SIZES=48000 HW_NESTED=auto
	[ "$status" -eq 0 ] || { show; false; }
	[ "$(json "$d/out/report.json" .nested.verdict)" = SKIP ]
	[[ $(json "$d/out/report.json" .nested.reason) == "kvm_intel nested=N: L1 gets no vmx"* ]]
	hw_fake "$d" HW_SIZES=48000 HW_NESTED=0
	[ "$status" -eq 0 ] || { show; false; }
	[ "$(json "$d/out/report.json" .nested.reason)" = "turned off (HW_NESTED=0)" ]
}

@test "RELOAD_KVM=1 on Intel (fake sysfs): every matrix parameter set, the answers, the original parameters back" {
	require_kvm
	require_root
	local d=$BATS_TEST_TMPDIR/h want
	fake_host "$d" intel enable_apicv=N nested=N # loaded with options: not the defaults
	local restore
	restore=$(restore_line "$d" intel)
	hw_fake "$d" RELOAD_KVM=1 HW_SIZES="11ff000 1200000"
	[ "$status" -eq 0 ] || { show; false; }
	# Each [l1] parameter set of ci/matrix/matrix.cfg for Intel, unload before load, then the restore
	# with the original values (explicitly: /etc/modprobe.d may say otherwise).
	want=$(matrix_modargs intel | while read -r a; do echo "-r kvm_intel"; echo "kvm_intel $a"; done)
	want+=$'\n'"-r kvm_intel"$'\n'"$restore"
	[ "$(cat "$d/calls.log")" = "$want" ] || { diff <(echo "$want") "$d/calls.log"; false; }
	[ "$(matrix_modargs intel | wc -l)" -eq 6 ]
	[ "$(params "$d" kvm_intel)" = "enable_apicv=N ept=Y flexpriority=Y nested=N unrestricted_guest=Y" ]
	J=$d/out/report.json
	[ "$(json "$J" .reload.state)" = measured ]
	[ "$(json "$J" .reload.restore)" = restored ]
	# flexpriority decides the slot (vmx_vcpu_create): enable_apicv=0 alone keeps it.
	[ "$(json "$J" .answers.apic_access_slot.answer)" = yes ]
	[ "$(json "$J" .answers.single_fails_0x1200000.answer)" = yes ]
	[ "$(json "$J" .answers.single_passes_0x11ff000.answer)" = yes ]
	[ "$(json "$J" .answers.split_boots_every_size.answer)" = yes ]
	[ "$(json "$J" .answers.workaround_enable_apicv_0.answer)" = no ]
	[ "$(json "$J" .answers.workaround_flexpriority_0.answer)" = yes ]
	[[ $(json "$J" .answers.workaround_avic_0.answer) == "not applicable"* ]]
	# Every phase passed by the rule: single got EEXIST over the slot where there was one.
	run awk -F'\t' 'NR > 1 && $6 != "pass"' "$d/out/runs.tsv"
	assert_output ""
	[ "$(awk -F'\t' '$1 == "reload-intel-on" && $2 == "s1nn-1200000" { print $4 }' "$d/out/runs.tsv")" = 4 ]
	[ "$(awk -F'\t' '$1 == "reload-intel-flex0" && $2 == "s1nn-1200000" { print $4 }' "$d/out/runs.tsv")" = 0 ]
	grep -q 'Restore: \*\*restored\*\*' "$d/out/report.md"
	grep -q '| reload-intel-apicv0-flex1 | enable_apicv=0 flexpriority=1 nested=1 | enable_apicv=N flexpriority=Y nested=Y | 0xfee00000-0xfee00fff |' "$d/out/report.md"
}

@test "RELOAD_KVM=1 on AMD (fake sysfs): avic=0 answered; force_avic skipped on a CPU without the avic flag" {
	require_kvm
	require_root
	local d=$BATS_TEST_TMPDIR/h
	fake_host "$d" amd avic=N
	hw_fake "$d" RELOAD_KVM=1
	[ "$status" -eq 0 ] || { show; false; }
	J=$d/out/report.json
	[ "$(json "$J" .answers.workaround_avic_0.answer)" = yes ]
	[ "$(json "$J" .answers.apic_access_slot.answer)" = no ] # the original: avic=N
	[[ $(json "$J" .answers.workaround_flexpriority_0.answer) == "not applicable"* ]]
	run awk -F'\t' '$1 == "reload-amd-forced" { print $11 ": " $12 }' "$d/out/phases.tsv"
	assert_output --partial "SKIP: force_avic=1 on a CPU without the avic flag"
	run grep -c 'force_avic=1' "$d/calls.log"
	assert_output 0
	[ "$(params "$d" kvm_amd)" = "avic=N force_avic=N nested=1 npt=Y" ]
	[ "$(tail -n 1 "$d/calls.log")" = "kvm_amd avic=N nested=1 force_avic=N" ]
}

@test "RELOAD_KVM=1, SIGTERM during a module load: the original parameters come back, exit 130" {
	require_kvm
	require_root
	local d=$BATS_TEST_TMPDIR/h rc=0 n
	fake_host "$d" intel nested=N
	local restore
	restore=$(restore_line "$d" intel)
	env HW_OUT="$d/out" HW_SYSFS="$d/sys" HW_PROC="$d/proc" HW_MODPROBE="$BATS_FILE_TMPDIR/fx/modprobe" \
		FAKE_LOG="$d/calls.log" FAKE_DEFAULTS="$d/defaults" FAKE_SLEEP_ON=flexpriority=0 \
		VMM="$BATS_FILE_TMPDIR/fx/vmm" REAL_VMM="$VMM" HW_SIZES=1200000 HW_TOUCH=none HW_NESTED=0 RELOAD_KVM=1 \
		"$HW" >"$d/stdout" 2>"$d/stderr" 3>&- &
	local pid=$!
	for n in $(seq 600); do [ -e "$d/calls.log.reached" ] && break; sleep 0.1; done
	[ -e "$d/calls.log.reached" ] || { kill "$pid"; cat "$d/stdout" "$d/stderr"; fail "never reached flexpriority=0"; }
	kill -TERM "$pid"
	wait "$pid" || rc=$?
	[ "$rc" -eq 130 ] || { cat "$d/stdout" "$d/stderr"; fail "exit $rc, not 130"; }
	grep -q 'interrupted by SIGTERM' "$d/stderr"
	[ "$(params "$d" kvm_intel)" = "enable_apicv=Y ept=Y flexpriority=Y nested=N unrestricted_guest=Y" ]
	[ "$(tail -n 2 "$d/calls.log")" = "-r kvm_intel"$'\n'"$restore" ]
	run grep -c 'flexpriority=0 nested=1' "$d/calls.log"
	assert_output 1 # the last parameter set (enable_apicv=0 flexpriority=0) never loaded
	[ "$(json "$d/out/report.json" .verdict)" = INTERRUPTED ]
	[ "$(json "$d/out/report.json" .interrupted)" = SIGTERM ]
	[ "$(json "$d/out/report.json" .reload.restore)" = restored ]
}

@test "RELOAD_KVM=1, SIGTERM during a VMM run: the run is stopped at once and the parameters restored" {
	require_kvm
	require_root
	local d=$BATS_TEST_TMPDIR/h rc=0 n t0
	fake_host "$d" intel
	local restore
	restore=$(restore_line "$d" intel)
	env HW_OUT="$d/out" HW_SYSFS="$d/sys" HW_PROC="$d/proc" HW_MODPROBE="$BATS_FILE_TMPDIR/fx/modprobe" \
		FAKE_LOG="$d/calls.log" FAKE_DEFAULTS="$d/defaults" FAKE_VMM_HANG="$d/hang" \
		VMM="$BATS_FILE_TMPDIR/fx/vmm" REAL_VMM="$VMM" HW_SIZES=1200000 HW_TOUCH=none HW_NESTED=0 RELOAD_KVM=1 \
		"$HW" >"$d/stdout" 2>"$d/stderr" 3>&- &
	local pid=$!
	for n in $(seq 600); do [ -e "$d/hang" ] && break; sleep 0.1; done
	[ -e "$d/hang" ] || { kill "$pid"; cat "$d/stdout" "$d/stderr"; fail "no run hung"; }
	t0=$SECONDS
	kill -TERM "$pid"
	wait "$pid" || rc=$?
	[ "$rc" -eq 130 ] || { cat "$d/stdout" "$d/stderr"; fail "exit $rc, not 130"; }
	[ $((SECONDS - t0)) -lt 20 ] # not the hung run's 60 s
	[ "$(params "$d" kvm_intel)" = "enable_apicv=Y ept=Y flexpriority=Y nested=Y unrestricted_guest=Y" ]
	[ "$(tail -n 1 "$d/calls.log")" = "$restore" ]
	[ "$(json "$d/out/report.json" .reload.restore)" = restored ]
}

@test "a restore that fails is loud: exit 3, and the report says how to do it by hand" {
	require_kvm
	require_root
	local d=$BATS_TEST_TMPDIR/h
	fake_host "$d" intel nested=N
	local restore
	restore=$(restore_line "$d" intel)
	hw_fake "$d" RELOAD_KVM=1 HW_SIZES=48000 FAKE_FAIL_ON=nested=N
	[ "$status" -eq 3 ] || { show; false; }
	[[ $(json "$d/out/report.json" .reload.restore) == "FAILED: modprobe ${restore#kvm_intel } failed"* ]] ||
		[[ $(json "$d/out/report.json" .reload.restore) == "FAILED: modprobe $restore failed"* ]]
	[ "$(json "$d/out/report.json" .verdict)" = FAIL ]
	grep -qF "by hand: modprobe -r kvm_intel && modprobe $restore" "$d/out/report.md"
	[[ $stderr == *"RESTORE FAILED"* ]]
}

@test "RELOAD_KVM=1 skips, saying why: another VM holds /dev/kvm, or the module is in use elsewhere" {
	require_kvm
	require_root
	local d=$BATS_TEST_TMPDIR/h vendor pid
	# The real /proc (this machine's vendor), a fake sysfs with both vendor modules loaded.
	vendor=amd
	grep -q '^vendor_id.*GenuineIntel' /proc/cpuinfo && vendor=intel
	fake_host "$d" "$vendor"
	bash -c 'exec 9</dev/kvm; exec sleep 60' 3>&- &
	pid=$!
	sleep 0.3
	hw_fake "$d" HW_PROC=/proc RELOAD_KVM=1 HW_SIZES=48000 HW_NESTED=0
	kill "$pid"
	[ "$status" -eq 0 ] || { show; false; }
	[ "$(json "$d/out/report.json" .reload.state)" = SKIP ]
	[[ $(json "$d/out/report.json" .reload.reason) == "another VM is running ("*"pid $pid (sleep)"* ]]
	[ ! -e "$d/calls.log" ] # modprobe never ran
	# A VM this /proc cannot see (another container): the module's refcnt.
	echo 2 >"$d/sys/module/kvm_$vendor/refcnt"
	hw_fake "$d" RELOAD_KVM=1 HW_SIZES=48000 HW_NESTED=0
	[ "$status" -eq 0 ] || { show; false; }
	[[ $(json "$d/out/report.json" .reload.reason) == *"kvm_$vendor is in use (refcnt 2)"* ]]
	[ ! -e "$d/calls.log" ]
	# Each workaround question says it was not measured, and why.
	[[ $(json "$d/out/report.json" .answers.workaround_avic_0.answer) == "not measured: RELOAD_KVM=1 skipped: another VM"* ||
		$(json "$d/out/report.json" .answers.workaround_flexpriority_0.answer) == "not measured: RELOAD_KVM=1 skipped: another VM"* ]]
}

@test "RELOAD_KVM=1 skips, saying why: module not loaded (KVM from elsewhere) or built in" {
	require_root
	local d=$BATS_TEST_TMPDIR/h
	fake_host "$d" intel
	rm -rf "$d/sys/module/kvm_intel"
	mkdir -p "$d/sys/module/kvm_pvm/parameters"
	hw_fake "$d" RELOAD_KVM=1 HW_SIZES=48000 HW_NESTED=0
	[ "$status" -eq 0 ] || { show; false; }
	[ "$(json "$d/out/report.json" .reload.reason)" = "kvm_intel is not loaded (KVM here comes from kvm_pvm): nothing to reload" ]
	fake_host "$d" intel
	rm "$d/sys/module/kvm_intel/initstate"
	hw_fake "$d" RELOAD_KVM=1 HW_SIZES=48000 HW_NESTED=0
	[ "$status" -eq 0 ] || { show; false; }
	[ "$(json "$d/out/report.json" .reload.reason)" = "kvm_intel is built into the kernel: it cannot be reloaded" ]
	[ ! -e "$d/calls.log" ]
}

@test "RELOAD_KVM=1 without root: SKIP saying so; host cells SKIP without a usable /dev/kvm" {
	command -v setpriv >/dev/null || skip "setpriv (util-linux) missing"
	[ "$(id -u)" = 0 ] || skip "needs root to drop to nobody"
	# nobody runs a copy of ci/ and of the VMM: the checkout may be closed to nobody.
	open_test_tmpdir
	local d=$BATS_TEST_TMPDIR/nobody-out rig=$BATS_TEST_TMPDIR/rig vmm
	mkdir -m 0777 "$d"
	mkdir -p "$rig"
	cp -R "$REPO_ROOT/ci" "$rig/"
	vmm=$(nobody_vmm)
	run --separate-stderr setpriv --reuid=65534 --regid=65534 --clear-groups \
		env HW_OUT="$d/out" RELOAD_KVM=1 HW_SIZES=48000 HW_NESTED=0 VMM="$vmm" "$rig/ci/hw/hw-regress"
	[ "$status" -eq 0 ] || { show; false; }
	[[ $(json "$d/out/report.json" .reload.reason) == "RELOAD_KVM=1 needs root (running as nobody, uid 65534)" ]]
	grep -q 'SKIP: RELOAD_KVM=1 needs root' "$d/out/report.md"
	if [[ ! -r /dev/kvm || ! -w /dev/kvm ]] || setpriv --reuid=65534 --regid=65534 --clear-groups test -w /dev/kvm; then
		return 0 # nobody can use /dev/kvm here: nothing more to see
	fi
	[ "$(json "$d/out/report.json" .host.kvm_usable)" = false ]
	[[ $(json "$d/out/report.json" .answers.split_boots_every_size.answer) == "not measured: /dev/kvm is not readable and writable for nobody" ]]
	grep -q '^SKIP: /dev/kvm is not readable and writable for nobody' "$d/out/report.md"
}
