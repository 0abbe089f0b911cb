#!/usr/bin/env bats
# shellcheck disable=SC2154 # status, output and lines are set by bats' run
# The nested matrix (ci/matrix/run-matrix, make ci-matrix) ends cleanly whatever its L1s do:
#   - an L1 that panics, hangs or loses its results channel is a FAIL or TIMEOUT cell with its
#     logs kept, and the matrix still ends (fault injection: images/init's rig.panic=1,
#     rig.hang=1, rig.nochannel=1, given per cell by the table's `append` key);
#   - SIGTERM to ci/matrix/run-matrix, or Ctrl-C (SIGINT to the process group) during make ci-matrix,
#     stops every QEMU it started and removes its temporary files, exit 130;
#   - a second run after an interrupted one passes.
# Tiny tables (MATRIX=FILE) with 1-3 cells and 1-2 runs, reports in the test's own temp dirs
# (CI_OUT, TMPDIR), never build/ci. Our processes are found by that CI_OUT in their command
# line (QEMU's -serial file:CI_OUT/logs/...). ~6 L1 boots, ~1.5-2 min on 2 cores.
load nested_helpers

setup_file() {
	export BATS_TEST_TIMEOUT=400
	export ROBUST_SKIP=''
	local kver
	kver=$(make --no-print-directory -s -C "$NESTED_ROOT" images-kernel 2>/dev/null) || kver=''
	ROBUST_SKIP=$(l1_missing "$kver")
	if [[ -n $ROBUST_SKIP ]]; then
		:
	elif [[ $(dpkg-query -W -f='${Status}' "linux-image-$kver" 2>/dev/null) != "install ok installed" ]]; then
		ROBUST_SKIP="kernel $kver is not from the package linux-image-$kver, which the test tables name"
	elif ! command -v perl >/dev/null; then
		ROBUST_SKIP="perl missing (it starts the runs in their own process group)"
	fi
	[[ -z $ROBUST_SKIP ]] || return 0
	export ROBUST_KVER=$kver
	# The runs below use NO_BUILD=1: the image must carry the current init and VMM.
	make --no-print-directory -s -C "$NESTED_ROOT" images >"$BATS_FILE_TMPDIR/make.log" 2>&1 || {
		cat "$BATS_FILE_TMPDIR/make.log" >&2
		echo "make images failed" >&2
		return 1
	}
	# Shared by the interrupt tests and the rerun after them.
	export INT_OUT=$BATS_FILE_TMPDIR/int-out INT_TMP=$BATS_FILE_TMPDIR/int-tmp
	mkdir -p "$INT_TMP"
}

setup() {
	[[ -z $ROBUST_SKIP ]] || skip "$ROBUST_SKIP"
	OUT=''
}

# A test that failed may leave processes of ours behind: stop them, by pid, so that they
# neither outlive the suite nor hold bats' output open.
teardown() {
	[[ -n $OUT ]] || return 0
	local pids
	pids=$(pgrep -f -- "$OUT/" || true)
	[[ -n $pids ]] || return 0
	# shellcheck disable=SC2086 # one word per pid
	kill -TERM $pids 2>/dev/null || true
	sleep 2
	# shellcheck disable=SC2086
	kill -KILL $pids 2>/dev/null || true
}

# table FILE CELL... : a matrix table with one kernel and one [l1 NAME] per CELL, each CELL
# "NAME|APPEND|RUNS" (AMD without AVIC, TCG only).
table() {
	local f=$1 c name app runs
	shift
	printf '[kernel k]\npackage = linux-image-%s\n' "$ROBUST_KVER" >"$f"
	for c in "$@"; do
		IFS='|' read -r name app runs <<<"$c"
		printf '\n[runs %s]\nruns = %s\n\n[l1 %s]\naccel = tcg\nvendor = amd\napicv = off\n' \
			"$name" "$runs" "$name" >>"$f"
		printf 'modargs = avic=0 nested=1\nruns = %s\n' "$name" >>"$f"
		[[ -z $app ]] || printf 'append = %s\n' "$app" >>"$f"
	done
}

# spawn CMD...: start CMD in the background in a process group of its own (like a job under a
# shell with job control), SIGINT and SIGTERM at their defaults; PID = its pid = its group.
spawn() {
	perl -e '$SIG{INT} = $SIG{TERM} = "DEFAULT"; setpgrp(0, 0) or die "setpgrp: $!"; exec @ARGV or die "exec: $!"' \
		"$@" </dev/null >"$BATS_TEST_TMPDIR/spawn.out" 2>"$BATS_TEST_TMPDIR/spawn.err" 3>&- &
	PID=$!
}

# wait_until SECONDS CMD...: poll CMD every 0.2 s; fail when it never succeeds.
wait_until() {
	local limit=$(($1 * 5)) n=0
	shift
	until "$@"; do
		n=$((n + 1))
		((n < limit)) || return 1
		sleep 0.2
	done
}

# ours PATTERN: our processes (command line matching PATTERN and naming $OUT), one per line.
ours() { pgrep -af -- "$1.*$OUT/" || true; }
qemus_running() { [[ $(ours '^qemu-system-x86_64 ' | wc -l) -ge $1 ]]; }
logs_growing() { # logs_growing FILE...: every FILE exists and is not empty
	local f
	for f in "$@"; do [[ -s $f ]] || return 1; done
}

# reap SECONDS: wait for the spawned PID to end (fail if it does not), its exit code in RC.
gone() { ! kill -0 "$PID" 2>/dev/null; }
reap() {
	if ! wait_until "$1" gone; then
		kill -KILL -- "-$PID" 2>/dev/null
		fail "pid $PID still running $1 s after the signal; its stderr: $(cat "$BATS_TEST_TMPDIR/spawn.err")"
	fi
	RC=0
	wait "$PID" || RC=$?
}

# assert_all_stopped: no process of ours (QEMU, its timeout, l1-boot) and no temp dir left.
assert_all_stopped() {
	run ours ''
	assert_output ''
	run find "$TMP" -mindepth 1
	assert_output ''
}

@test "an L1 that panics, hangs or loses its results channel: FAIL or TIMEOUT with its logs, the matrix ends" {
	OUT=$BATS_TEST_TMPDIR/out TMP=$BATS_TEST_TMPDIR/tmp
	mkdir -p "$TMP"
	# Hang first: it holds one of the two lanes until CELL_TIMEOUT, the others share the second.
	table "$BATS_TEST_TMPDIR/m.cfg" "hang|rig.hang=1|p1nn-48000" "panic|rig.panic=1|p1nn-48000" \
		"nochan|rig.nochannel=1|p1nn-48000"
	# 60 s: room for the two short L1s one after the other (~13 s each here, ~25 s under load).
	local t0=$SECONDS limit=60
	run env MATRIX="$BATS_TEST_TMPDIR/m.cfg" CI_OUT="$OUT" TMPDIR="$TMP" NO_BUILD=1 JOBS=2 \
		CELL_TIMEOUT=$limit RUN_TIMEOUT=30 timeout 300 "$NESTED_ROOT/ci/matrix/run-matrix" 3>&-
	local took=$((SECONDS - t0))
	printf "# %s\n" "${lines[@]}" >&3 # TAP comments
	assert_equal "$status" 1
	# Bounded: the hung L1 ends at CELL_TIMEOUT (QEMU stopped by TERM), never later than the kill.
	((took < limit + 30)) || fail "the matrix took ${took}s with CELL_TIMEOUT=$limit"
	verdict() { awk -F'\t' -v c="k/tcg-$1" '$1 == c { print $7 ": " $13 }' "$OUT/cells.tsv"; }
	run verdict panic
	assert_output --regexp '^FAIL: L1 panicked'
	run verdict hang
	assert_output --regexp "^TIMEOUT: L1 still running after ${limit}s"
	run verdict nochan
	assert_output --regexp "^FAIL: (L1 ended without 'RIG done'|no result lines from L1)"
	# Each kept its console: what the fault did is there to read.
	local d=$OUT/logs
	grep -q 'Kernel panic' "$d/k_tcg-panic/console.log" || fail "no panic in $d/k_tcg-panic/console.log"
	grep -q 'rig.hang=1: hanging' "$d/k_tcg-hang/console.log" || fail "no hang in $d/k_tcg-hang/console.log"
	grep -q 'rig.nochannel=1' "$d/k_tcg-nochan/console.log" || fail "no nochannel in $d/k_tcg-nochan/console.log"
	grep -q '^RIG l1 ' "$d/k_tcg-nochan/results.txt" || fail "nochannel: the lines before the loss are gone"
	# The runs these L1s never reported are failures (timeouts for the hung one), never passes.
	run awk -F'\t' 'NR > 1 { print $1, $2, $6 }' "$OUT/runs.tsv"
	assert_output "k/tcg-hang p1nn-48000 timeout
k/tcg-panic p1nn-48000 fail
k/tcg-nochan p1nn-48000 fail"
	grep -q '<failure message="TIMEOUT: L1 still running' "$OUT/junit.xml" || fail "junit.xml: no TIMEOUT"
	grep -q '<failure message="FAIL: L1 panicked' "$OUT/junit.xml" || fail "junit.xml: no panic FAIL"
	grep -q '3 cells: 0 pass, 2 fail, 1 timeout, 0 skip' "$OUT/summary.md" || fail "summary: $(head -n 3 "$OUT/summary.md")"
	assert_all_stopped
}

# interrupt WHAT SIGNAL DEST WAIT_FOR: start WHAT (run-matrix | make: make ci-matrix) on two
# L1s that never finish by themselves (rig.hang=1), wait until both QEMUs run and every cell's
# WAIT_FOR log (console.log: booting; results.txt: L1 in its init) has lines, send SIGNAL to
# DEST (pid: the process; group: its process group, as Ctrl-C does), and reap it in 15 s.
interrupt() {
	OUT=$INT_OUT TMP=$INT_TMP
	table "$BATS_TEST_TMPDIR/m.cfg" "a|rig.hang=1|p1nn-48000" "b|rig.hang=1|p1nn-48000"
	local -a cmd=("$NESTED_ROOT/ci/matrix/run-matrix")
	[[ $1 == make ]] && cmd=(make --no-print-directory -s -C "$NESTED_ROOT" ci-matrix)
	spawn env MATRIX="$BATS_TEST_TMPDIR/m.cfg" CI_OUT="$OUT" TMPDIR="$TMP" NO_BUILD=1 JOBS=2 "${cmd[@]}"
	wait_until 90 qemus_running 2 || fail "no two QEMUs of ours: $(cat "$BATS_TEST_TMPDIR/spawn.err")"
	wait_until 60 logs_growing "$OUT/logs/k_tcg-a/$4" "$OUT/logs/k_tcg-b/$4" || fail "no lines in $4"
	[[ -n $(find "$TMP" -mindepth 1) ]] || fail "no temp dir of the run in $TMP"
	if [[ $3 == group ]]; then kill "-$2" -- "-$PID"; else kill "-$2" "$PID"; fi
	reap 15
	# Nothing ran after the interrupt: make did not go on to judge the partial results.
	run grep -c '^ok \|^not ok ' "$BATS_TEST_TMPDIR/spawn.out"
	assert_output 0
}

@test "SIGTERM to ci/matrix/run-matrix mid-boot stops every QEMU it started, removes its temp dir, exit 130" {
	interrupt run-matrix TERM pid results.txt
	assert_equal "$RC" 130
	grep -q 'interrupted, stopping every QEMU' "$BATS_TEST_TMPDIR/spawn.err" || fail "$(cat "$BATS_TEST_TMPDIR/spawn.err")"
	assert_all_stopped
}

@test "Ctrl-C (SIGINT to the process group) during make ci-matrix stops every QEMU, removes its temp dir, exit 130" {
	interrupt make INT group console.log
	assert_equal "$RC" 130
	assert_all_stopped
}

@test "SIGTERM to make ci-matrix alone (make passes it to its shell only) stops every QEMU, removes its temp dir" {
	interrupt make TERM pid console.log
	# make re-raises the signal once its recipe has ended: killed by SIGTERM.
	assert_equal "$RC" 143
	assert_all_stopped
}

@test "a second run after an interrupted one passes (same CI_OUT and TMPDIR), interrupts counted" {
	OUT=$INT_OUT TMP=$INT_TMP
	table "$BATS_TEST_TMPDIR/m.cfg" "again||p1nn-48000 p1nn-48000-i5"
	run env MATRIX="$BATS_TEST_TMPDIR/m.cfg" CI_OUT="$OUT" TMPDIR="$TMP" NO_BUILD=1 JOBS=2 \
		CELL_TIMEOUT=120 timeout 300 "$NESTED_ROOT/ci/matrix/run-matrix" 3>&-
	printf "# %s\n" "${lines[@]}" >&3 # TAP comments
	assert_success
	run awk -F'\t' 'NR > 1 { print $1, $7 }' "$OUT/cells.tsv"
	assert_output "k/tcg-again PASS"
	run awk -F'\t' 'NR > 1 { print $2, $4, $5, $6 }' "$OUT/runs.tsv"
	assert_output "p1nn-48000 0 1 pass
p1nn-48000-i5 0 1 pass"
	# Only this run's logs: the interrupted cells' are gone.
	run ls "$OUT/logs"
	assert_output "k_tcg-again"
	# At least 5 of each (the guest waits for 5; under TCG more may arrive before it reports).
	grep -Eq 'guest: interrupts taken: 1 one-shot timer, ([5-9]|[1-9][0-9]+) periodic timer, ([5-9]|[1-9][0-9]+) external' \
		"$OUT/logs/k_tcg-again/console.log" || fail "no interrupt counts of at least 5 in the console"
	assert_all_stopped
}
