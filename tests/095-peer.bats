#!/usr/bin/env bats
# shellcheck disable=SC2154 # status, output, stderr and lines are set by bats' run
# shellcheck disable=SC2016,SC2030,SC2031 # the stand-in scripts expand later; each test its own env
# The kernel's KVM selftests as a peer check (ci/peer/), without an emulator:
#   build-selftests on stand-in source tarballs: each failure is ONE line, its documented exit
#   code and no output directory; the stand-in's programs must come out static; a good tree
#   builds once and is reused; the real linux-source-6.12 (when installed) builds static programs
#   ci/l1/in-l1 --payload's usage errors
#   selftests-in-l1's usage errors, and its table on a stand-in ci/l1/in-l1 that runs the payload's
#   script (ci/peer/l1-run) here, with stand-in tests: pass, skip, fail, a timeout, an L1 that
#   ends early
load helpers

BUILD=$REPO_ROOT/ci/peer/build-selftests
RUNNER=$REPO_ROOT/ci/peer/selftests-in-l1

setup() {
	export RIG_SELFTESTS_OUT=$BATS_TEST_TMPDIR/out/selftests RIG_LINUX_SRC=$BATS_TEST_TMPDIR/out/linux-source-6.12
}

# stand_in_tree [MODE]: a linux-source-6.12 tarball whose `make headers` and selftests' make
# succeed unless MODE is headers-fails or make-fails; MODE dynamic ignores USERLDFLAGS.
stand_in_tree() {
	local t=$BATS_TEST_TMPDIR/tree/linux-source-6.12 mode=${1:-good}
	rm -rf "$BATS_TEST_TMPDIR/tree"
	mkdir -p "$t/tools/testing/selftests/kvm/x86_64"
	if [ "$mode" = headers-fails ]; then
		printf 'headers:\n\t@echo "make: stand-in headers error"; exit 2\n' >"$t/Makefile"
	else
		printf 'headers:\n\t@mkdir -p usr/include && touch usr/include/stand-in.h\n' >"$t/Makefile"
	fi
	printf 'int main(void) { return 0; }\n' >"$t/tools/testing/selftests/kvm/x86_64/xapic_ipi_test.c"
	local link='$(USERLDFLAGS)'
	[ "$mode" != dynamic ] || link=''
	{
		printf 'all:\n'
		[ "$mode" != make-fails ] || printf '\t@echo "x86_64/xapic_ipi_test.c:1: error: stand-in"; exit 2\n'
		printf '\tmkdir -p $(OUTPUT)/x86_64\n'
		printf '\t$(CC) %s -o $(OUTPUT)/x86_64/xapic_ipi_test x86_64/xapic_ipi_test.c\n' "$link"
		printf '\t$(CC) -c -o $(OUTPUT)/x86_64/xapic_ipi_test.o x86_64/xapic_ipi_test.c\n'
		printf '\techo "not a program" >$(OUTPUT)/x86_64/notes.txt && chmod +x $(OUTPUT)/x86_64/notes.txt\n'
	} >"$t/tools/testing/selftests/kvm/Makefile"
	export RIG_LINUX_SOURCE_TARBALL=$BATS_TEST_TMPDIR/linux-source-6.12.tar.xz
	tar -C "$BATS_TEST_TMPDIR/tree" -cJf "$RIG_LINUX_SOURCE_TARBALL" linux-source-6.12
}

# refused CODE PATTERN: build-selftests -q exits CODE with ONE stderr line matching PATTERN and
# leaves no output directory and no temporary directory.
refused() {
	run --separate-stderr "$BUILD" -q
	expect_exit "$1" "$status" "command: ci/peer/build-selftests -q"
	assert_equal "$(printf '%s\n' "$stderr" | wc -l)" 1
	[[ $stderr == "build-selftests: "$2* ]] || fail "expected '$2', got: $stderr"
	[ ! -e "$RIG_SELFTESTS_OUT" ] || fail "an output directory was left: $(ls "$RIG_SELFTESTS_OUT")"
	[ -z "$(find "$BATS_TEST_TMPDIR/out" -maxdepth 1 -name '.*.*' 2>/dev/null)" ] || fail "a temporary directory was left"
	run "$BUILD" --check
	assert_failure 1
}

@test "build-selftests: --help prints the header and exit codes; an unknown argument is one line, exit 2" {
	run "$BUILD" --help
	assert_success
	assert_output --partial "USERLDFLAGS=-static"
	assert_output --partial "6  a built program is dynamically linked"
	run --separate-stderr "$BUILD" --bogus
	assert_failure 2
	assert_equal "$stderr" "build-selftests: unknown argument '--bogus' (see --help)"
}

@test "build-selftests: no source tarball: exit 3, one line, nothing installed or built" {
	export RIG_LINUX_SOURCE_TARBALL=$BATS_TEST_TMPDIR/missing.tar.xz
	refused 3 "no $RIG_LINUX_SOURCE_TARBALL: linux-source-6.12 is not installed"
	run "$BUILD" --check
	assert_output "linux-source-6.12 is not installed ($RIG_LINUX_SOURCE_TARBALL): make selftests"
}

@test "build-selftests: a corrupt tarball, or one without the KVM selftests: exit 4, one line" {
	export RIG_LINUX_SOURCE_TARBALL=$BATS_TEST_TMPDIR/linux-source-6.12.tar.xz
	head -c 4096 /dev/urandom >"$RIG_LINUX_SOURCE_TARBALL"
	refused 4 "cannot unpack linux-source-6.12.tar.xz"
	mkdir -p "$BATS_TEST_TMPDIR/empty/linux-source-6.12"
	touch "$BATS_TEST_TMPDIR/empty/linux-source-6.12/Makefile"
	tar -C "$BATS_TEST_TMPDIR/empty" -cJf "$RIG_LINUX_SOURCE_TARBALL" linux-source-6.12
	refused 4 "linux-source-6.12.tar.xz holds no linux-source-6.12/tools/testing/selftests/kvm/Makefile"
}

@test "build-selftests: make headers or the selftests' make fails: exit 5, one line naming the log" {
	stand_in_tree headers-fails
	refused 5 "make headers failed in $RIG_LINUX_SRC: see $RIG_SELFTESTS_OUT.log"
	grep -q "stand-in headers error" "$RIG_SELFTESTS_OUT.log"
	stand_in_tree make-fails
	refused 5 "the KVM selftests' make failed (x86_64/xapic_ipi_test.c:1: error: stand-in): see $RIG_SELFTESTS_OUT.log"
}

@test "build-selftests: a dynamically linked program is refused: exit 6, one line" {
	command -v gcc >/dev/null || skip "gcc is not installed"
	stand_in_tree dynamic
	refused 6 "x86_64/xapic_ipi_test is dynamically linked"
}

@test "build-selftests: the stand-in builds static programs once, --check names them, a new source rebuilds" {
	command -v gcc >/dev/null || skip "gcc is not installed"
	[ -r /usr/lib/x86_64-linux-gnu/libc.a ] || skip "no static libc (libc6-dev)"
	stand_in_tree
	run --separate-stderr "$BUILD"
	assert_success
	[[ $stderr == *"built 1 programs in $RIG_SELFTESTS_OUT"* ]] || fail "$stderr"
	# Only the program: no object file, no executable text file.
	run find "$RIG_SELFTESTS_OUT" -type f ! -name key -printf '%P\n'
	assert_output "x86_64/xapic_ipi_test"
	run readelf -l "$RIG_SELFTESTS_OUT/x86_64/xapic_ipi_test"
	refute_output --partial "program interpreter"
	run "$BUILD" --check
	assert_success
	assert_output "$RIG_SELFTESTS_OUT"
	run --separate-stderr "$BUILD" -q
	assert_success
	assert_equal "$stderr" ""
	# Another tarball (a new package version): unpacked and built again.
	touch -d '2001-01-01' "$RIG_LINUX_SOURCE_TARBALL"
	run "$BUILD" --check
	assert_failure 1
	assert_output "the KVM selftests were built from another source or script: make selftests"
	run --separate-stderr "$BUILD"
	assert_success
	[[ $stderr == *"unpacking"* ]] || fail "not unpacked again: $stderr"
}

@test "build-selftests: Debian's linux-source-6.12 builds static KVM selftests (the APIC ones among them)" {
	[ -r /usr/src/linux-source-6.12.tar.xz ] || skip "linux-source-6.12 is not installed (make selftests installs it)"
	unset RIG_SELFTESTS_OUT RIG_LINUX_SRC
	run --separate-stderr timeout 900 "$BUILD" --no-install -q
	assert_success
	local out=$REPO_ROOT/build/selftests p dynamic=''
	for p in xapic_state_test xapic_ipi_test apic_bus_clock_test recalc_apic_map_test hyperv_ipi; do
		[ -x "$out/x86_64/$p" ] || fail "no $out/x86_64/$p"
	done
	for p in "$out"/x86_64/* "$out"/*_test; do
		[ -f "$p" ] && [ "$p" != "$out/key" ] || continue
		readelf -l "$p" | grep -q 'program interpreter' && dynamic+=" $p"
	done
	[ -z "$dynamic" ] || fail "dynamically linked:$dynamic"
}

@test "in-l1 --payload: a missing directory, or a command outside it or not executable: exit 2, one line" {
	local inl1=$REPO_ROOT/ci/l1/in-l1 d=$BATS_TEST_TMPDIR/payload
	run --separate-stderr "$inl1" --payload "$BATS_TEST_TMPDIR/none" -- "$BATS_TEST_TMPDIR/none/run"
	assert_failure 2
	assert_equal "$stderr" "in-l1: --payload $BATS_TEST_TMPDIR/none is not a directory"
	mkdir -p "$d"
	printf '#!/bin/sh\nexit 0\n' >"$d/run"
	run --separate-stderr "$inl1" --payload "$d" -- /bin/true
	assert_failure 2
	assert_equal "$stderr" "in-l1: with --payload the command must be an executable file in $d, not '/bin/true'"
	run --separate-stderr "$inl1" --payload "$d" -- "$d/run"
	assert_failure 2
	assert_equal "$stderr" "in-l1: with --payload the command must be an executable file in $d, not '$d/run'"
	run "$inl1" --help
	assert_output --partial "--payload DIR"
}

# ---- selftests-in-l1 --------------------------------------------------------------------------

# stand_in_l1: RIG_IN_L1, a ci/l1/in-l1 that runs the payload's program here (busybox-free: the
# host's sh) and writes the results channel of an Intel L1 with APICv; STAND_IN_RC=124 makes it
# stop after the first test as a timed-out L1 would. Stand-in tests in RIG_SELFTESTS.
stand_in_l1() {
	local d=$BATS_TEST_TMPDIR/st
	mkdir -p "$d/x86_64" "$BATS_TEST_TMPDIR/image"
	printf '#!/bin/sh\necho "Random seed: 0x6b8b4567"\necho "all good"\nexit 0\n' >"$d/x86_64/passes"
	printf '#!/bin/sh\necho "1..0 # SKIP no KVM_CAP_X"\nexit 4\n' >"$d/x86_64/skips"
	printf '#!/bin/sh\necho "==== Test Assertion Failure ===="\necho "  x86_64/fails.c:182: ipis == $1"\necho "  pid=1 tid=1 errno=4"\necho "  last words"\nexit 254\n' >"$d/x86_64/fails"
	printf '#!/bin/sh\necho "spinning"\nsleep 30\n' >"$d/x86_64/hangs"
	chmod +x "$d"/x86_64/*
	cat >"$BATS_TEST_TMPDIR/in-l1" <<'EOF'
#!/bin/bash
keep='' payload=''
while [[ $# -gt 0 && $1 != -- ]]; do
	case $1 in --keep-log) keep=$2 && shift ;; --payload) payload=$2 && shift ;; --accel | --image | --timeout | --modargs | --mem) shift ;; esac
	shift
done
shift
printf 'RIG l1 kernel=stand-in vendor=GenuineIntel virt=vmx mod=kvm_intel modargs=enable_apicv=1 ms=1\nRIG param kvm_intel.enable_apicv=Y\nRIG param kvm_intel.flexpriority=Y\n' >"$keep/results.txt"
[[ $1 == "$payload/run" ]] || { echo "in-l1 stand-in: not the payload's program: $1" >&2; exit 2; }
if [[ ${STAND_IN_RC:-0} == 124 ]]; then
	sh "$1" "$2" "$3"
	echo "=== peer start n=2 test=x86_64/hangs args= ==="
	echo "in-l1: L1 still running after 9s (boot and VMM run): stopped; raise --timeout" >&2
	exit 124
fi
exec sh "$@"
EOF
	chmod +x "$BATS_TEST_TMPDIR/in-l1"
	export RIG_IN_L1=$BATS_TEST_TMPDIR/in-l1 RIG_SELFTESTS=$d RIG_L1_IMAGE=$BATS_TEST_TMPDIR/image
}

@test "selftests-in-l1: usage errors are one line, exit 2; unbuilt selftests or an unknown test, exit 3" {
	run "$RUNNER" --help
	assert_success
	assert_output --partial "TEST               a program of build/selftests"
	run --separate-stderr "$RUNNER"
	assert_failure 2
	assert_equal "$stderr" "selftests-in-l1: no test: usage: ci/peer/selftests-in-l1 [options] TEST... (see --help)"
	run --separate-stderr "$RUNNER" --accel qemu x
	assert_failure 2
	assert_equal "$stderr" "selftests-in-l1: --accel must be bochs, tcg, kvm or auto, not 'qemu'"
	run --separate-stderr "$RUNNER" --each 0 x
	assert_failure 2
	assert_equal "$stderr" "selftests-in-l1: --each must be a whole number of seconds, not '0'"
	run --separate-stderr "$RUNNER" --bogus x
	assert_failure 2
	assert_equal "$stderr" "selftests-in-l1: unknown option '--bogus' (see --help)"
	stand_in_l1
	run --separate-stderr "$RUNNER" 'passes $(reboot)'
	assert_failure 2
	assert_equal "$stderr" "selftests-in-l1: test argument '\$(reboot)' of passes: only [A-Za-z0-9_.,=:+/-] pass to L1"
	run --separate-stderr "$RUNNER" ../passes
	assert_failure 2
	run --separate-stderr "$RUNNER" nosuch_test
	assert_failure 3
	assert_equal "$stderr" "selftests-in-l1: no selftest 'nosuch_test' in $RIG_SELFTESTS (ls $RIG_SELFTESTS/x86_64)"
	RIG_SELFTESTS=$BATS_TEST_TMPDIR/none run --separate-stderr "$RUNNER" passes
	assert_failure 3
	assert_equal "$stderr" "selftests-in-l1: RIG_SELFTESTS=$BATS_TEST_TMPDIR/none is not a directory"
}

@test "selftests-in-l1: the table: pass, skip, fail with its assertion, a timeout; exit 1" {
	stand_in_l1
	run --separate-stderr "$RUNNER" --accel tcg --each 2 --keep-log "$BATS_TEST_TMPDIR/logs" \
		passes x86_64/skips "fails 7" hangs
	assert_failure 1
	assert_line --index 0 "# L1: kernel image, tcg, kvm_intel enable_apicv=Y flexpriority=Y"
	assert_line --index 1 --regexp '^test +rc +L1-s +result +summary$'
	assert_line --index 2 --regexp '^passes +0 +[0-9]+\.[0-9]{2}  pass     all good$'
	assert_line --index 3 --regexp '^x86_64/skips +4 +[0-9.]+  skip     1\.\.0 # SKIP no KVM_CAP_X$'
	assert_line --index 4 --regexp '^fails 7 +254 +[0-9.]+  fail     x86_64/fails\.c:182: ipis == 7$'
	assert_line --index 5 --regexp '^hangs +(124|143) +[0-9.]+  timeout  spinning$'
	[ "${#lines[@]}" -eq 6 ] || fail "extra lines: $output"
	# One progress line per test, and every test's output kept.
	assert_equal "$(printf '%s\n' "$stderr" | grep -c '^selftests-in-l1: n=')" 4
	grep -q '^  last words$' "$BATS_TEST_TMPDIR/logs/output.txt"
	grep -q '^PEER done n=4$' "$BATS_TEST_TMPDIR/logs/output.txt"
}

@test "selftests-in-l1: every test passes or skips: exit 0; an L1 that ends early: its exit code, the rest not run" {
	stand_in_l1
	run --separate-stderr "$RUNNER" --accel tcg -q passes skips
	assert_success
	assert_equal "$stderr" ""
	STAND_IN_RC=124 run --separate-stderr "$RUNNER" --accel tcg -q passes hangs fails
	assert_failure 124
	assert_line --index 2 --regexp '^passes +0 .* pass '
	assert_line --index 3 --regexp '^hangs +- +-  unfinished +spinning$|^hangs +- +-  unfinished *$'
	assert_line --index 4 --regexp '^fails +- +-  not-run *$'
	[[ $stderr == *"L1 still running after 9s"* ]] || fail "in-l1's reason not shown: $stderr"
}

@test "selftests-in-l1 --model: an unknown model is one line, exit 2; each test runs under kvm-as, its exit code kept" {
	stand_in_l1
	run --separate-stderr "$RUNNER" --accel tcg --model nosuch passes
	assert_failure 2
	assert_equal "$stderr" "selftests-in-l1: --model 'nosuch' is not a host model (build/kvm-as --list-models)"
	printf '#!/bin/sh\ngrep -q "^TracerPid:[[:space:]]*[1-9]" /proc/self/status && echo traced || echo untraced\n' \
		>"$RIG_SELFTESTS/x86_64/traced"
	chmod +x "$RIG_SELFTESTS/x86_64/traced"
	run --separate-stderr "$RUNNER" --accel tcg -q --model intel --keep-log "$BATS_TEST_TMPDIR/logs" passes skips traced
	assert_success
	assert_line --index 2 --regexp '^passes +0 .* pass '
	assert_line --index 3 --regexp '^skips +4 .* skip '
	assert_line --index 4 --regexp '^traced +0 .* pass +traced$'
	grep -q $'^traced\t0\t' "$BATS_TEST_TMPDIR/logs/table.tsv"
}

# ---- peer-tests ---------------------------------------------------------------------------------

PEER=$REPO_ROOT/ci/peer/peer-tests

# peer_tables DIR: the tables of a finished amd pair in DIR: one test alike, one that differs with
# the native run's assertion "x.c:7: apic == 1".
peer_tables() {
	mkdir -p "$1/amd-native.logs" "$1/amd-model.logs"
	printf 'test\trc\tL1-s\tresult\tsummary\nalike_test\t0\t0.10\tpass\tok\nx86_64/odd_test\t254\t0.20\tfail\tx86_64/x.c:7: apic == 1\n' \
		>"$1/amd-native.logs/table.tsv"
	printf 'test\trc\tL1-s\tresult\tsummary\nalike_test\t0\t0.10\tpass\tok\nx86_64/odd_test\t0\t0.20\tpass\tok\n' \
		>"$1/amd-model.logs/table.tsv"
}

@test "peer-tests: bad --pairs or --each, an unknown option: one line, exit 2" {
	run --separate-stderr "$PEER" --pairs amd,arm
	assert_failure 2
	assert_equal "$stderr" "peer-tests: --pairs must be amd, intel or amd,intel, not 'amd,arm'"
	run --separate-stderr "$PEER" --each 0
	assert_failure 2
	assert_equal "$stderr" "peer-tests: --each must be a whole number of seconds, not '0'"
	run --separate-stderr "$PEER" --bogus
	assert_failure 2
	assert_equal "$stderr" "peer-tests: unknown option '--bogus' (see --help)"
}

@test "peer-tests: a difference fails (exit 1); explained.tsv explains it only with its side's exit code and evidence, kvm-as refusing nothing" {
	local d=$BATS_TEST_TMPDIR/peer
	peer_tables "$d"
	export RIG_PEER_EXPLAINED=$BATS_TEST_TMPDIR/explained.tsv
	printf '# none\n' >"$RIG_PEER_EXPLAINED"
	run --separate-stderr "$PEER" --rejudge --pairs amd --out "$d"
	assert_failure 1
	assert_line '| amd | alike_test | 0 | 0 | alike |  |'
	assert_line '| amd | x86_64/odd_test | 254 | 0 | DIFFER |  |'
	assert_equal "$stderr" "peer-tests: 1 alike, 0 explained, 1 differ, 0 not run in both ($d/table.md)"
	printf 'amd\tx86_64/odd_test\tnative\t254\tx.c:8:\tnot this failure\n' >"$RIG_PEER_EXPLAINED"
	run --separate-stderr "$PEER" --rejudge --pairs amd --out "$d"
	assert_failure 1
	assert_line '| amd | x86_64/odd_test | 254 | 0 | DIFFER |  |'
	printf 'amd\tx86_64/odd_test\tmodel\t254\tx.c:7:\tthe wrong side\n' >"$RIG_PEER_EXPLAINED"
	run --separate-stderr "$PEER" --rejudge --pairs amd --out "$d"
	assert_failure 1
	printf 'amd\tx86_64/odd_test\tnative\t254\tx.c:7:\tthe emulator, not the model\n' >"$RIG_PEER_EXPLAINED"
	run --separate-stderr "$PEER" --rejudge --pairs amd --out "$d"
	assert_success
	assert_line '| amd | x86_64/odd_test | 254 | 0 | explained |  |'
	assert_line '| amd | x86_64/odd_test | `native: x86_64/x.c:7: apic == 1` | the emulator, not the model |'
	cmp -s <(printf '%s\n' "$output") "$d/table.md" || fail "stdout is not table.md"
	# A difference where kvm-as refused a call is never explained away: it names the call.
	printf 'test\trc\tL1-s\tresult\tsummary\nalike_test\t0\t0.10\tpass\tok\nx86_64/odd_test\t0\t0.20\tpass\tok\n' \
		>"$d/amd-native.logs/table.tsv"
	printf 'test\trc\tL1-s\tresult\tsummary\nalike_test\t0\t0.10\tpass\tok\nx86_64/odd_test\t254\t0.20\tfail\tkvm-as: amd-avic: VM 1: KVM_SET_USER_MEMORY_REGION slot 3 refused with EEXIST\n' \
		>"$d/amd-model.logs/table.tsv"
	printf 'amd\tx86_64/odd_test\tmodel\t254\tslot 3\tnot when kvm-as refused\n' >"$RIG_PEER_EXPLAINED"
	run --separate-stderr "$PEER" --rejudge --pairs amd --out "$d"
	assert_failure 1
	assert_line '| amd | x86_64/odd_test | 0 | 254 | DIFFER | KVM_SET_USER_MEMORY_REGION slot 3 refused with EEXIST |'
}
