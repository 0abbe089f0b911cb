#!/usr/bin/env bats
# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
# make bench: its reference programs do what the ratios assume, and the runner
# produces its report. Timings are never asserted: benchmarks measure, tests check.
load helpers

BENCH_BIN=$REPO_ROOT/build/bench

# run_bench EXPECTED_RC COMMAND...: like run_vmm, for the bench programs.
run_bench() {
	local expected=$1
	shift
	run --separate-stderr timeout -k 5 600 "$@"
	expect_exit "$expected" "$status" "command:  $*"
}

setup() {
	for prog in minimal-kvm minimal-touch host-touch slot-calls paired floor-tracer; do
		[ -x "$BENCH_BIN/$prog" ] || skip "$BENCH_BIN/$prog is not built (make bench-progs)"
	done
}

@test "minimal-kvm: the guest's one OUT arrives, with and without the irqchip" {
	require_kvm
	run_bench 0 "$BENCH_BIN/minimal-kvm"
	run_bench 0 "$BENCH_BIN/minimal-kvm" --irqchip
}

@test "minimal-kvm --irqchip really creates the irqchip (strace sees KVM_CREATE_IRQCHIP)" {
	require_kvm
	command -v strace >/dev/null || skip "strace is not installed"
	run_bench 0 strace -e trace=ioctl "$BENCH_BIN/minimal-kvm" --irqchip
	[[ $stderr == *KVM_CREATE_IRQCHIP* ]] || fail "no KVM_CREATE_IRQCHIP in: $stderr"
	run_bench 0 strace -e trace=ioctl "$BENCH_BIN/minimal-kvm"
	[[ $stderr != *KVM_CREATE_IRQCHIP* ]] || fail "KVM_CREATE_IRQCHIP without --irqchip"
}

@test "minimal-kvm: a missing device is exit 3 naming it" {
	run_bench 3 "$BENCH_BIN/minimal-kvm" /nonexistent/kvm
	[[ $stderr == *"/nonexistent/kvm"* ]]
}

@test "minimal-touch and host-touch read back every word of 16 MiB" {
	require_kvm
	run_bench 0 "$BENCH_BIN/minimal-touch" 16M 32
	run_bench 0 "$BENCH_BIN/host-touch" 16M
}

@test "minimal-touch and host-touch: usage errors are exit 2" {
	run_bench 2 "$BENCH_BIN/minimal-touch"
	run_bench 2 "$BENCH_BIN/host-touch"
}

@test "slot-calls makes exactly N memslot calls, each succeeding; bad N is exit 2, a missing device 3" {
	require_kvm
	command -v strace >/dev/null || skip "strace is not installed"
	run_bench 0 strace -f -e trace=ioctl "$BENCH_BIN/slot-calls" 10
	[ "$(grep -c 'KVM_SET_USER_MEMORY_REGION.* = 0$' <<<"$stderr")" -eq 10 ] || fail "stderr: $stderr"
	local n
	for n in '' 0 3 -2 1x 2000000; do
		# shellcheck disable=SC2086 # '' is no argument at all
		run_bench 2 "$BENCH_BIN/slot-calls" $n
	done
	run_bench 3 "$BENCH_BIN/slot-calls" 2 /nonexistent/kvm
	[[ $stderr == *"/nonexistent/kvm"* ]]
}

@test "paired: N alternating pairs, the median difference inside its interval; bad usage 2, a failing command 3" {
	run_bench 0 "$BENCH_BIN/paired" -w 1 -o "$BATS_TEST_TMPDIR/raw" 21 true --vs sh -c 'exit 0'
	[ "${#lines[@]}" -eq 3 ] || fail "three lines expected: $output"
	[[ ${lines[0]} == a$'\t'*$'\t'21 ]] && [[ ${lines[1]} == b$'\t'*$'\t'21 ]] || fail "a and b lines: $output"
	awk -F'\t' '$1 == "diff" { exit !(NF == 4 && $3 <= $2 && $2 <= $4) }' <<<"$output" || fail "diff line: ${lines[2]}"
	# every counted pair in the raw file, the order alternating
	[ "$(wc -l <"$BATS_TEST_TMPDIR/raw")" -eq 21 ]
	[ "$(awk '{ print $3 }' "$BATS_TEST_TMPDIR/raw" | uniq | wc -l)" -eq 21 ]
	local args
	for args in "" "5" "1 true --vs true" "5 true" "5 --vs true" "x true --vs true" "-w -1 5 true --vs true"; do
		# shellcheck disable=SC2086 # one word per argument
		run_bench 2 "$BENCH_BIN/paired" $args
		assert_equal "$stderr" "usage: paired [-w WARMUP] [-o RAW] N A-ARGS... --vs B-ARGS... (N from 2 to 100000)"
	done
	run_bench 3 "$BENCH_BIN/paired" 4 true --vs false
	assert_equal "$stderr" "paired: false: exit 1 (it must exit 0)"
	run_bench 3 "$BENCH_BIN/paired" 4 true --vs /nonexistent/cmd
	[[ $stderr == "paired: /nonexistent/cmd: exit 127 "* ]]
}

@test "floor-tracer: usage errors are exit 2 with one line, nothing run" {
	local args
	for args in "" "--" "true" "-x true" "true -- true"; do
		# shellcheck disable=SC2086 # one word per argument
		run_bench 2 "$BENCH_BIN/floor-tracer" $args
		assert_equal "$stderr" "usage: floor-tracer -- CMD [ARGS...] (CMD under kvm-as's seccomp filter, only resumed)"
		assert_equal "$output" ""
	done
}

@test "floor-tracer: CMD's exit code, its death by a signal and its output are its own; a missing CMD is 127" {
	run_bench 7 "$BENCH_BIN/floor-tracer" -- sh -c 'echo out; echo err >&2; exit 7'
	assert_equal "$output" out
	assert_equal "$stderr" err
	run_bench 0 "$BENCH_BIN/floor-tracer" -- true
	run_bench 143 "$BENCH_BIN/floor-tracer" -- sh -c 'kill -TERM $$'
	run -127 --separate-stderr timeout -k 5 60 "$BENCH_BIN/floor-tracer" -- /nonexistent/cmd
	assert_equal "$stderr" "floor-tracer: /nonexistent/cmd: command not found (check the name and PATH)"
}

@test "floor-tracer: CMD and its children run traced under the filter; a filtered call's result comes back as is" {
	# grep is sh's child: auto-attached, the filter inherited.
	run_bench 0 "$BENCH_BIN/floor-tracer" -- sh -c 'grep -E "^(Seccomp|TracerPid):" /proc/self/status'
	assert_line --regexp '^Seccomp:[[:space:]]+2$'
	assert_line --regexp '^TracerPid:[[:space:]]+[1-9][0-9]*$'
	# KVM_SET_USER_MEMORY_REGION on a file that is not a VM: stopped at entry and exit, and
	# the kernel's ENOTTY reaches the caller, as without the tracer (no /dev/kvm needed).
	command -v python3 >/dev/null || skip "python3 is not installed"
	run_bench 0 "$BENCH_BIN/floor-tracer" -- python3 -c '
import errno, fcntl
for _ in range(100):
    try:
        fcntl.ioctl(0, 0x4020ae46, bytes(32))  # KVM_SET_USER_MEMORY_REGION
        raise SystemExit("the ioctl succeeded")
    except OSError as e:
        assert e.errno == errno.ENOTTY, e
print("ENOTTY")' </dev/null
	assert_output ENOTTY
}

@test "floor-tracer: a killed tracer takes CMD with it (PTRACE_O_EXITKILL)" {
	local cmd tracer rc=0
	"$BENCH_BIN/floor-tracer" -- sleep 60 3>&- &
	cmd=$!
	for _ in $(seq 50); do
		tracer=$(awk '/^TracerPid:/ { print $2 }' "/proc/$cmd/status" 2>/dev/null)
		[[ ${tracer:-0} != 0 ]] && break
		sleep 0.1
	done
	[[ ${tracer:-0} != 0 ]] || { kill -9 "$cmd"; fail "no tracer attached to $cmd"; }
	kill -9 "$tracer"
	timeout 10 tail --pid="$cmd" -f /dev/null || { kill -9 "$cmd"; fail "CMD $cmd outlived its tracer"; }
	wait "$cmd" || rc=$?
	[ "$rc" -eq 137 ] || fail "CMD ended with $rc, not SIGKILL's 137"
}

@test "floor-tracer runs slot-calls to its end (KVM)" {
	require_kvm
	run_bench 0 "$BENCH_BIN/floor-tracer" -- "$BENCH_BIN/slot-calls" 2
	run_bench 0 "$BENCH_BIN/floor-tracer" -- "$BENCH_BIN/slot-calls" 1000
}

@test "ci/bench/run: an unknown argument is exit 2 with one line" {
	run_bench 2 "$REPO_ROOT/ci/bench/run" --bogus
	[ "${#stderr}" -gt 0 ] && [ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
	[[ $stderr == *"--bogus"* ]]
}

@test "ci/bench/run --quick writes results.json with every target and report.md (smoke, ~1.5 min)" {
	require_kvm
	command -v hyperfine >/dev/null || skip "hyperfine is not installed (ci/install-deps)"
	command -v gnuplot >/dev/null || skip "gnuplot is not installed (ci/install-deps)"
	local out=$BATS_TEST_TMPDIR/build
	mkdir -p "$out/bench"
	cp "$VMM" "$out/vmm"
	cp "$(dirname "$VMM")/guest.elf" "$(dirname "$VMM")/kvm-as" "$out/"
	cp "$BENCH_BIN"/minimal-kvm "$BENCH_BIN"/minimal-touch "$BENCH_BIN"/host-touch "$BENCH_BIN"/slot-calls \
		"$BENCH_BIN"/paired "$BENCH_BIN"/floor-tracer "$out/bench/"
	mkdir -p "$out/guests" && cp "$REPO_ROOT/build/guests/qemu-boot.img" "$out/guests/"
	BUILD=$out run_bench 0 "$REPO_ROOT/ci/bench/run" --quick
	python3 - "$out/bench/results.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
names = {c["name"] for c in r["checks"]}
want = {"cold", "kvm-as", "kvm-as-floor", "setup-3G", "setup-60G", "rss-3G", "touch", "split-irqoff", "split-irqoff-11ff000", "split-irqon", "split-touch"}
assert want <= names, f"missing checks: {want - names}"
for c in r["checks"]:
    assert c["value"] > 0, c
gated = [c for c in r["checks"] if c["gated"]]
assert r["targets_met"] + r["targets_missed"] == len(gated)
by = {c["name"]: c for c in r["checks"]}
# kvm-as per traced call against the ptrace floor: a target; the 12 ms VMM run: reported only
assert by["kvm-as-floor"]["gated"] and by["kvm-as-floor"]["target_max"] == 1.3, by["kvm-as-floor"]
assert by["kvm-as-floor"]["interval95"] is not None, by["kvm-as-floor"]
assert not by["kvm-as"]["gated"] and by["kvm-as"]["met"] is None and by["kvm-as"]["target_max"] is None, by["kvm-as"]
assert "kvm-as-qemu" not in by or (by["kvm-as-qemu"]["gated"] and by["kvm-as-qemu"]["target_max"] == 1.05)
# the QEMU boot is measured, or the reason it is not is given
q = r["kvm_as_qemu"]["status"]
assert (q == "measured") == ("kvm-as-qemu" in names), q
assert q == "measured" or q.startswith("not measured: "), q
m = {x["name"] for x in r["measurements"]}
assert {"minimal-kvm", "minimal-irqchip", "vmm-default", "all-256M", "all-256M-thp-off", "slot-calls", "slot-calls-kvm-as", "slot-calls-floor", "slot-calls-kvm-as-trace"} <= m, m
PY
	grep -q '^| cold run, default scratch 288 KiB |' "$out/bench/report.md"
	grep -q '^| the same under kvm-as none --trace: .* | ≤ 1.30x | \(met\|missed\) |$' "$out/bench/report.md"
	grep -q '^| the same under kvm-as none | .* | (not gated) | reported |$' "$out/bench/report.md"
	grep -q '^The ptrace floor: ' "$out/bench/report.md"
	[ -s "$out/bench/setup-vs-size.png" ] && [ -s "$out/bench/touch-vs-size.png" ]
}

# l1_pairs_build: what ci/bench/l1-pairs needs, in $BATS_TEST_TMPDIR/build (its BUILD), or a skip.
l1_pairs_build() {
	command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 missing (apt-get install qemu-system-x86)"
	local kver out=$BATS_TEST_TMPDIR/build
	kver=$(make --no-print-directory -s -C "$REPO_ROOT" images-kernel 2>/dev/null || true)
	[ -n "$kver" ] || skip "no L1 kernel (make images)"
	[ -r "$REPO_ROOT/build/images/$kver/initramfs.cpio.gz" ] || skip "no L1 image (make images)"
	[ -x "$BENCH_BIN/l1/paired" ] || skip "no static bench programs (make bench-progs)"
	[ -x "$BENCH_BIN/l1/slot-calls" ] || skip "no static bench programs (make bench-progs)"
	mkdir -p "$out/bench/l1"
	cp "$REPO_ROOT/build/vmm" "$REPO_ROOT/build/guest.elf" "$REPO_ROOT/build/kvm-as" "$out/"
	cp "$BENCH_BIN/floor-tracer" "$out/bench/" && cp "$BENCH_BIN/l1/paired" "$BENCH_BIN/l1/slot-calls" "$out/bench/l1/"
}

@test "ci/bench/l1-pairs: an unknown argument or a missing program is exit 2 with one line" {
	run_bench 2 "$REPO_ROOT/ci/bench/l1-pairs" --bogus
	assert_equal "$stderr" "bench l1-pairs: unknown argument '--bogus' (see --help)"
	BUILD=$BATS_TEST_TMPDIR/empty run_bench 2 "$REPO_ROOT/ci/bench/l1-pairs" --quick
	assert_equal "$stderr" "bench l1-pairs: $BATS_TEST_TMPDIR/empty/bench/l1/paired is missing: run make bench"
}

@test "ci/bench/l1-pairs --quick: kvm-as's pairs in a TCG L1, the floor's ratio against its target (smoke, ~30 s)" {
	l1_pairs_build
	local out=$BATS_TEST_TMPDIR/build
	mkdir -p "$out/guests" && cp "$REPO_ROOT/build/guests/qemu-boot.img" "$out/guests/"
	BUILD=$out run_bench 0 "$REPO_ROOT/ci/bench/l1-pairs" --quick
	assert_output --regexp '\| 1000 memslot calls: floor-tracer \(A\) vs kvm-as none --trace \(B\), 10 pairs \| [0-9.]+ ms \| [0-9.]+ ms \| [0-9.]+x \| [0-9.]+-[0-9.]+x \| at most 1\.30x: (met|missed) \|'
	assert_output --regexp '\| a QEMU boot \(SeaBIOS, boot sector, power-off\): plain \(A\) vs under kvm-as none \(B\), 2 pairs \| [0-9.]+ ms \| [0-9.]+ ms \| [0-9.]+x \| [0-9.]+-[0-9.]+x \| at most 1\.05x: (met|missed) \|'
	assert_output --regexp '\| build/vmm --touch none: plain \(A\) vs under kvm-as none \(B\), 4 pairs \| .* \| reported \|'
	cmp -s <(printf '%s\n' "$output") "$out/bench/l1-pairs/report.md" || fail "stdout is not report.md"
	[ ! -e "$out/bench/l1-pairs/payload" ] || fail "the payload directory was left behind"
	grep -q '^diff' "$out/bench/l1-pairs/kvm-as-floor.paired"
	assert_output --regexp '\| the same boot: plain \(A\) vs under floor-tracer \(B\), the stops alone, 2 pairs \| [0-9.]+ ms \| [0-9.]+ ms \| [0-9.]+x \| [0-9.]+-[0-9.]+x \| reported \|'
	grep -q '^diff' "$out/bench/l1-pairs/kvm-as-qemu.paired"
	grep -q '^diff' "$out/bench/l1-pairs/floor-qemu.paired"
}

@test "ci/bench/l1-pairs --quick without QEMU's boot image: the QEMU row says why, the rest is measured" {
	l1_pairs_build
	local out=$BATS_TEST_TMPDIR/build
	BUILD=$out run_bench 0 "$REPO_ROOT/ci/bench/l1-pairs" --quick
	assert_output --partial "| a QEMU boot (SeaBIOS, boot sector, power-off): plain (A) vs under kvm-as none (B) | | | | | not measured: no $out/guests/qemu-boot.img (make guests) |"
	assert_output --regexp '\| 1000 memslot calls: .* \| at most 1\.30x: (met|missed) \|'
	[ ! -e "$out/bench/l1-pairs/kvm-as-qemu.paired" ] || fail "a QEMU result without QEMU's pair"
}
