#!/usr/bin/env bats
# shellcheck disable=SC2154 # status, output, stderr and lines are set by bats' run
# kvm-as (vmm/kvm-as/) and vmm --host: bad input, the tracer's process
# handling, --trace, --replay of the fixtures in tests/kvm-as/ under every
# model, and, where /dev/kvm works, build/vmm and QEMU under every model.
load helpers

KVM_AS=${KVM_AS:-$(dirname "$VMM")/kvm-as}
FIXTURES=$REPO_ROOT/tests/kvm-as
MODELS=(intel intel-noug amd-avic none)
# The VMM as kvm-as's tracee: LeakSanitizer cannot run under ptrace (the ASan pass).
TRACED_VMM=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" "$VMM")
KVM_AS_TIMEOUT=${KVM_AS_TIMEOUT:-120}

# run_kvmas EXPECTED_RC [kvm-as args...]: stdout in $output, stderr in $stderr.
run_kvmas() {
	local expected=$1
	shift
	local flags=(--separate-stderr)
	[ "$expected" != 127 ] || flags=(-127 --separate-stderr) # bats warns on an unchecked 127
	run "${flags[@]}" timeout -k 5 "$KVM_AS_TIMEOUT" "$KVM_AS" "$@"
	expect_exit "$expected" "$status" "command:  $KVM_AS $*"
}

# yama_line SCOPE: kvm-as under strace -f (so that its ptrace fails), the yama file given by
# the test hook (KVM_AS_YAMA_PTRACE_SCOPE_FILE); its one line in $stderr. SCOPE "none": no
# such file (no yama).
yama_line() {
	local scope=$1 file=$TMP/ptrace_scope
	if [ "$scope" = none ]; then file=$TMP/no-yama-here; else echo "$scope" >"$file"; fi
	ASAN_OPTIONS=detect_leaks=0 KVM_AS_YAMA_PTRACE_SCOPE_FILE=$file \
		run --separate-stderr timeout 30 strace -f -o /dev/null "$KVM_AS" none -- true
	expect_exit 3 "$status" "strace -f kvm-as none -- true (yama $scope)"
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ] || fail "yama $scope: more than one line: $stderr"
	[[ $stderr == "kvm-as: cannot trace true: ptrace: Operation not permitted: "* ]] || fail "yama $scope: $stderr"
}

setup() {
	[ -x "$KVM_AS" ] || skip "no $KVM_AS (make)"
	TMP=$(mktemp -d)
}

teardown() {
	[ -z "${TMP:-}" ] || rm -rf "$TMP"
}

@test "kvm-as --help lists every model and every exit code" {
	run_kvmas 0 --help
	for m in "${MODELS[@]}"; do assert_output --partial "  $m "; done
	for code in 2 3 4 126 127 '128[+]N'; do assert_line --regexp "^  $code "; done
}

@test "kvm-as --list-models prints the one table of models, private ranges and irqchip pages" {
	run_kvmas 0 --list-models
	local listed m
	listed=$(printf '%s\n' "$output" | awk -F'\t' '$1 == "model" { print $2 }' | paste -sd' ')
	assert_equal "$listed" "${MODELS[*]}"
	assert_line --regexp $'^private\tapic-access\t0xfee00000\t0x1000\t'
	assert_line --regexp $'^private\tidentity-map\t0xfffbc000\t0x1000\t'
	assert_line --regexp $'^device\tlapic\t0xfee00000\t0x1000\t'
	assert_line --regexp $'^device\tioapic\t0xfec00000\t0x1000\t'
	run_kvmas 0 --help
	for m in $listed; do assert_output --partial "  $m "; done
}

# args|what the one line must say
kvmas_bad_invocations() {
	cat <<'TABLE'
|missing HOST
bogus -- true|bogus: unknown host model
intel|missing command
intel --|missing command
intel --frobnicate -- true|--frobnicate: unknown option
intel --trace|--trace: missing FILE
intel --replay|--replay: missing FILE
intel --kvm -- true|--kvm goes with --replay
intel --replay x -- true|--replay takes no command
intel --trace /nonexistent/dir/t.jsonl -- true|cannot create the file
TABLE
}

@test "every bad kvm-as invocation exits 2 with one line saying what is wrong" {
	expect_usage_errors "$KVM_AS" kvmas_bad_invocations 10
}

# args|what the one line must say: the options of issue 23 (hazards, address width, sweep)
kvmas_bad_new_options() {
	cat <<'TABLE'
intel --phys-bits 0 -- true|--phys-bits 0: must be a whole number of bits from 32 to 52
intel --phys-bits 80 -- true|--phys-bits 80: must be a whole number of bits from 32 to 52
intel --phys-bits abc -- true|--phys-bits abc: must be
intel --phys-bits|--phys-bits: missing N
intel --timeout 5 -- true|--timeout goes with --sweep
intel,none -- true|several host models (a comma list or all) go with --sweep
all --replay x|several host models
intel,amd --sweep 1:2:1 -- echo {}|amd: unknown host model
TABLE
}

@test "every bad --phys-bits, --timeout or list of models exits 2 with one line saying what is wrong" {
	expect_usage_errors "$KVM_AS" kvmas_bad_new_options 8
}

@test "a missing command is 127, a file that cannot run 126, one line each" {
	run_kvmas 127 none -- /nonexistent/vmm
	assert_equal "$stderr" "kvm-as: /nonexistent/vmm: command not found (check the name and PATH)"
	run_kvmas 127 none -- no-such-command-anywhere
	printf '#!/bin/sh\n' >"$TMP/noexec"
	run_kvmas 126 none -- "$TMP/noexec"
	[[ $stderr == *"Permission denied"* ]]
	# kvm-as's own 127 writes no summary; the command's own 127 does
	run_kvmas 127 none --trace "$TMP/trace" -- /nonexistent/vmm
	assert_equal "$stderr" "kvm-as: /nonexistent/vmm: command not found (check the name and PATH)"
	run_kvmas 127 none --trace "$TMP/trace" -- sh -c 'exit 127'
	[[ $stderr == *"kvm-as: summary: none "* ]] || fail "no summary after the command's own 127: $stderr"
}

@test "cannot trace (kvm-as itself under strace -f): exit 3, one line, the command never runs" {
	command -v strace >/dev/null || skip "no strace to trace kvm-as with"
	# LeakSanitizer aborts under a tracer: leaks off here
	ASAN_OPTIONS=detect_leaks=0 run --separate-stderr timeout 30 strace -f -o /dev/null "$KVM_AS" none -- touch "$TMP/ran"
	expect_exit 3 "$status" "strace -f kvm-as none -- touch"
	[[ $stderr == "kvm-as: cannot trace touch: ptrace: "* ]] || fail "stderr: $stderr"
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
	[ ! -e "$TMP/ran" ] || fail "the command ran untraced"
}

@test "a ptrace refusal says which yama scope is set, what it allows and what to do; without yama, no guess" {
	command -v strace >/dev/null || skip "no strace to make kvm-as's ptrace fail"
	[ "$(id -u)" -eq 0 ] || skip "the scope-2 case needs root (CAP_SYS_PTRACE) and nobody"
	yama_line 0
	[[ $stderr == *"yama ptrace_scope is 0 (classic: a process may trace any process of its own user), which allows kvm-as; kvm-as is itself traced by pid "*"(strace)"* ]] || fail "$stderr"
	yama_line 1
	[[ $stderr == *"yama ptrace_scope is 1 (restricted: a process may trace its descendants and the processes that named it with PR_SET_PTRACER"*"which allows kvm-as; kvm-as is itself traced"* ]] || fail "$stderr"
	yama_line 2 # root has CAP_SYS_PTRACE: yama is not the cause
	[[ $stderr == *"yama ptrace_scope is 2 (admin-only attach: only a process with CAP_SYS_PTRACE may trace another), which allows kvm-as (it has CAP_SYS_PTRACE); kvm-as is itself traced"* ]] || fail "$stderr"
	yama_line 3
	[[ $stderr == *"yama ptrace_scope is 3 (no attach: no process may trace another, root included), and it cannot be lowered without a reboot"* ]] || fail "$stderr"
	[[ $stderr != *"sysctl kernel.yama.ptrace_scope=1"* ]] || fail "scope 3 offers no sysctl: $stderr"
	yama_line none
	[[ $stderr == *": kvm-as is itself traced by pid "*"(strace), and a process has one tracer"* ]] || fail "$stderr"
	[[ $stderr != *yama* ]] || fail "without yama, the line names yama: $stderr"
}

@test "yama ptrace_scope 2 for a user without CAP_SYS_PTRACE: the line names root, CAP_SYS_PTRACE and the sysctl" {
	command -v strace >/dev/null || skip "no strace to make kvm-as's ptrace fail"
	[ "$(id -u)" -eq 0 ] || skip "needs root to drop to nobody"
	open_test_tmpdir
	cp "$KVM_AS" "$BATS_TEST_TMPDIR/kvm-as"
	echo 2 >"$BATS_TEST_TMPDIR/ptrace_scope"
	chmod 0755 "$BATS_TEST_TMPDIR/kvm-as"
	chmod 0644 "$BATS_TEST_TMPDIR/ptrace_scope"
	run --separate-stderr timeout 30 setpriv --reuid=65534 --regid=65534 --clear-groups \
		env ASAN_OPTIONS=detect_leaks=0 KVM_AS_YAMA_PTRACE_SCOPE_FILE="$BATS_TEST_TMPDIR/ptrace_scope" \
		strace -f -o /dev/null "$BATS_TEST_TMPDIR/kvm-as" none -- true
	expect_exit 3 "$status" "as nobody: strace -f kvm-as none -- true (yama 2)"
	assert_equal "$stderr" "kvm-as: cannot trace true: ptrace: Operation not permitted: yama ptrace_scope is 2 (admin-only attach: only a process with CAP_SYS_PTRACE may trace another), and kvm-as runs without it: run kvm-as as root or with CAP_SYS_PTRACE, or let users trace their own children again with: sudo sysctl kernel.yama.ptrace_scope=1"
}

@test "the command's exit code, stdout and stderr pass through untouched" {
	run_kvmas 7 intel -- sh -c 'echo out; echo err >&2; exit 7'
	assert_equal "$output" "out"
	assert_equal "$stderr" "err"
	run_kvmas 0 none -- true
	assert_equal "$output" ""
}

@test "a tracee that forks and threads: every child runs, the command's code is kept" {
	# shellcheck disable=SC2016 # $0 is the inner shell's
	run_kvmas 5 intel -- sh -c '(echo child >"$0/c1") & (sh -c "echo grandchild >\"$0/c2\"" "$0") & wait; exit 5' "$TMP"
	assert_equal "$(cat "$TMP/c1")" child
	assert_equal "$(cat "$TMP/c2")" grandchild
	command -v python3 >/dev/null || skip "no python3 for the threaded tracee"
	run_kvmas 0 intel -- python3 -c 'import threading; r=[]; t=[threading.Thread(target=r.append, args=(i,)) for i in range(8)]; [x.start() for x in t]; [x.join() for x in t]; print(sorted(r))'
	assert_equal "$output" "[0, 1, 2, 3, 4, 5, 6, 7]"
}

@test "started with SIGCHLD ignored (as some runners do), kvm-as still sees its tracees end" {
	command -v python3 >/dev/null || skip "no python3 to start kvm-as with SIGCHLD ignored"
	run --separate-stderr timeout 20 python3 -c 'import os, signal, sys
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
os.execv(sys.argv[1], [sys.argv[1], "none", "--", "sh", "-c", "(true) & wait; echo done; exit 3"])' "$KVM_AS"
	expect_exit 3 "$status" "kvm-as with SIGCHLD ignored"
	assert_equal "$output" "done"
}

@test "a tracee killed by a signal: reported, exit 128+N" {
	run_kvmas 139 none -- sh -c 'kill -SEGV $$'
	[[ $stderr == *"sh was killed by signal 11"* ]]
	run_kvmas 137 intel -- sh -c 'kill -KILL $$'
}

@test "the command is kvm-as's own process: same pid, no tracer among its children, none left after it" {
	local marker="kvmas-inplace-$$-$RANDOM" pid
	# shellcheck disable=SC2016 # $$ is the inner shell's
	"$KVM_AS" none -- sh -c 'echo $$; : '"$marker" >"$TMP/pid" &
	pid=$!
	wait "$pid"
	assert_equal "$(cat "$TMP/pid")" "$pid"
	# the tracer ended before the command's end reached us
	! pgrep -f "$marker" || fail "a process of that kvm-as run is still there"
	command -v python3 >/dev/null || skip "no python3 for a tracee that waits for all its children"
	run_kvmas 0 none -- python3 -c 'import os
try:
    os.wait()
except ChildProcessError:
    print("no children")'
	assert_equal "$output" "no children"
}

@test "SIGTERM or SIGINT to kvm-as kills the whole tracee tree and exits 128+N" {
	local marker sig pid rc n
	for sig in TERM INT; do
		marker="kvmas-marker-$sig-$$-$RANDOM"
		n=$RANDOM # the sleeps' own marker: no other process on the machine is matched
		timeout 20 "$KVM_AS" none -- sh -c "sleep 300.$n & sleep 301.$n; : $marker" &
		pid=$!
		sleep 0.5
		pgrep -f "$marker" >/dev/null || fail "the tracee did not start"
		kill "-$sig" "$pid"
		rc=0
		wait "$pid" || rc=$?
		[ "$rc" -eq $((128 + $(kill -l "$sig"))) ] || fail "SIG$sig: exit $rc"
		sleep 0.2
		! pgrep -f "$marker" || fail "SIG$sig left a tracee behind"
		! pgrep -f "sleep 30[01][.]$n" || fail "SIG$sig left a sleep behind"
	done
}

@test "SIGTERM to the tracer itself stops the command's whole tree" {
	local marker="kvmas-tracer-$$-$RANDOM" pid p tracer='' rc=0 n=$RANDOM
	"$KVM_AS" none -- sh -c "sleep 300.$n & sleep 301.$n; : $marker" 2>"$TMP/err" &
	pid=$!
	sleep 0.5
	for p in $(pgrep -f "$marker"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" != kvm-as ] || tracer=$p
	done
	[ -n "$tracer" ] || fail "no tracer process (comm kvm-as) found"
	kill -TERM "$tracer"
	wait "$pid" || rc=$?
	[ "$rc" -eq 137 ] || fail "the command ended with $rc, expected 137 (SIGKILL from the tracer)"
	grep -q "kvm-as: interrupted by Terminated: stopping sh and its children" "$TMP/err" || fail "stderr: $(cat "$TMP/err")"
	sleep 0.2
	! pgrep -f "$marker" || fail "SIGTERM to the tracer left a process behind"
	! pgrep -f "sleep 30[01][.]$n" || fail "SIGTERM to the tracer left a sleep behind"
}

@test "--trace writes one JSON line per traced ioctl (jq parses it) and a summary on stderr" {
	command -v jq >/dev/null || skip "no jq"
	command -v python3 >/dev/null || skip "no python3 to issue a KVM_CREATE_VM on /dev/null"
	run_kvmas 0 intel --trace "$TMP/t.jsonl" -- python3 -c '
import fcntl, os
fd = os.open("/dev/null", os.O_RDWR)
for req in (0xAE01, 0x5401):  # KVM_CREATE_VM (traced), TCGETS (not)
    try: fcntl.ioctl(fd, req)
    except OSError as e: print(e.errno)'
	assert_equal "$output" $'25\n25'
	assert_equal "$(wc -l <"$TMP/t.jsonl")" 1
	assert_equal "$(jq -r '[.ioctl, .result, .vm, .refused] | @tsv' "$TMP/t.jsonl")" $'KVM_CREATE_VM\tENOTTY\t\tfalse'
	jq -e '.time > 0 and .pid > 0' "$TMP/t.jsonl" >/dev/null
	for m in "${MODELS[@]}"; do
		[[ $stderr == *"kvm-as: summary: $m"*"would refuse nothing"* ]] || fail "no summary line for $m: $stderr"
	done
}

expected_replay_exit() { # FIXTURE MODEL
	local col
	case $2 in intel) col=2 ;; intel-noug) col=3 ;; amd-avic) col=4 ;; none) col=5 ;; esac
	awk -F'\t' -v f="$1" -v c="$col" '$1 == f { print $c }' "$FIXTURES/expect.tsv"
}

@test "--replay of every fixture under every model gives the expected exit" {
	local f m want count=0
	for f in "$FIXTURES"/*.strace; do
		for m in "${MODELS[@]}"; do
			want=$(expected_replay_exit "${f##*/}" "$m")
			[ -n "$want" ] || fail "${f##*/} has no row in expect.tsv"
			run_kvmas "$want" "$m" --replay "$f"
			count=$((count + 1))
		done
	done
	[ "$count" -ge 44 ]
}

@test "--replay names the first failing call, both ranges and the way out" {
	run_kvmas 4 intel --replay "$FIXTURES/vmm-single-1200000.strace"
	assert_output --partial "replay: intel: VM 1: the first call that fails is line 16: KVM_SET_USER_MEMORY_REGION slot 17 [0xfee00000-0xffffffff]"
	assert_output --partial "it overlaps [0xfee00000-0xfee00fff], the KVM APIC-access page"
	assert_output --partial "ways out: register the slot as two slots around that range"
	run_kvmas 4 amd-avic --replay "$FIXTURES/vcpu-after-slot.strace"
	assert_output --partial "the first call that fails is line 4: KVM_CREATE_VCPU 0"
	assert_output --partial "[0xfee00000-0xfee00fff] would appear over user slot 1 [0xc0000000-0x1047fffff]"
	run_kvmas 4 intel-noug --replay "$FIXTURES/noug-tss.strace"
	assert_output --partial "it overlaps [0xfffbd000-0xfffbffff], the KVM real-mode TSS"
	run_kvmas 0 none --replay "$FIXTURES/vmm-single-1200000.strace"
	assert_output --partial "replay: none: VM 1: 4 calls, nothing refused"
}

@test "--replay of garbage, truncated and undecoded logs: exit 2 naming the line" {
	run_kvmas 2 intel --replay "$FIXTURES/truncated.strace"
	assert_equal "$stderr" "kvm-as: --replay $FIXTURES/truncated.strace: line 3: no result (expected \"= N\" or \"= -1 ENAME\"): a truncated line?"
	run_kvmas 2 intel --replay "$FIXTURES/unfinished.strace"
	[[ $stderr == *"line 2: an unfinished KVM call never resumes"* ]]
	run_kvmas 2 intel --replay "$FIXTURES/pointer-region.strace"
	[[ $stderr == *"line 2: the region is not decoded"* ]]
	run_kvmas 2 none --replay "$FIXTURES/no-kvm.strace"
	[[ $stderr == *"no KVM memslot-related ioctl in the log"* ]]
	run_kvmas 2 none --replay /nonexistent.strace
	[[ $stderr == *"cannot read the file"* ]]
	# binary garbage from a fixed seed
	head -c 65536 /dev/zero | openssl enc -aes-128-ctr -pass pass:kvmas -nosalt 2>/dev/null >"$TMP/garbage" ||
		awk 'BEGIN { srand(14); for (i = 0; i < 20000; i++) printf "%c", int(rand() * 256) }' >"$TMP/garbage"
	run_kvmas 2 intel --replay "$TMP/garbage"
	# every fixture cut at every byte of its last KVM line still exits 0, 2 or 4, never crashes
	local f cut rc
	f=$FIXTURES/vmm-single-1200000.strace
	for cut in $(seq 100 37 "$(wc -c <"$f")"); do
		head -c "$cut" "$f" >"$TMP/cut"
		rc=0
		timeout 10 "$KVM_AS" intel --replay "$TMP/cut" >/dev/null 2>&1 || rc=$?
		[[ $rc == 0 || $rc == 2 || $rc == 4 ]] || fail "cut at $cut: exit $rc"
	done
}

@test "--replay names hazards: the IOAPIC under every model, the LAPIC where no APIC-access page is; --strict refuses them" {
	local f=$FIXTURES/vmm-single-1400000-hazards.strace
	run_kvmas 0 none --replay "$f"
	assert_output --partial "replay: VM 1 line 16: KVM_SET_USER_MEMORY_REGION slot 17 [0xfec00000-0xffffffff] size 0x1400000 flags 0x0: hazard under none: it covers [0xfec00000-0xfec00fff], the in-kernel IOAPIC's MMIO page: every host accepts the slot"
	assert_output --partial "hazard under none: it covers [0xfee00000-0xfee00fff], the in-kernel LAPIC's MMIO page"
	assert_output --partial "replay: none: VM 1: 4 calls, nothing refused, 2 hazards"
	run_kvmas 4 none --strict --replay "$f"
	assert_output --partial "EEXIST under none (--strict): it covers [0xfee00000-0xfee00fff]"
	# intel refuses the slot (its APIC-access page): no hazard left
	run_kvmas 4 intel --replay "$f"
	refute_output --partial "hazard"
	# the split irqchip leaves the IOAPIC in userspace: the LAPIC alone
	run_kvmas 0 none --replay "$FIXTURES/split-irqchip.strace"
	assert_output --partial "the in-kernel LAPIC's MMIO page"
	refute_output --partial "IOAPIC"
	run_kvmas 4 amd-avic --replay "$FIXTURES/split-irqchip.strace"
	# a slot first, the irqchip after: the hazard is the irqchip's call
	run_kvmas 0 intel --replay "$FIXTURES/irqchip-after-slot.strace"
	assert_output --partial "replay: VM 1 line 4: KVM_CREATE_IRQCHIP: hazard under intel: it puts the in-kernel IOAPIC's MMIO page [0xfec00000-0xfec00fff] under user slot 3 [0xfe000000-0xfec00fff]"
	run_kvmas 4 intel --strict --replay "$FIXTURES/irqchip-after-slot.strace"
	assert_output --partial "the first call that fails is line 4: KVM_CREATE_IRQCHIP"
}

@test "--replay --phys-bits N: a slot above 2^N - 1 is EINVAL (exit 4); each VM's needed width is named" {
	local f=$FIXTURES/vmm-gpa-top-36.strace
	run_kvmas 0 none --replay "$f" --phys-bits 36
	assert_output --partial "replay: VM 1 needs 36 bits (MAXPHYADDR; highest slot byte 0xfffffffff): fails on hosts with fewer"
	run_kvmas 4 intel --replay "$f" --phys-bits 35
	assert_output --partial "KVM_SET_USER_MEMORY_REGION slot 17 [0xffffb8000-0xfffffffff] size 0x48000 flags 0x0: EINVAL under intel: its last byte 0xfffffffff needs a 36-bit guest-physical address space, and the host has 35 bits"
	# this machine's own width is the default
	run_kvmas 0 none --replay "$f"
	run_kvmas 0 none --replay "$FIXTURES/vmm-single-1200000.strace" --phys-bits 32
	assert_output --partial "VM 1 needs 32 bits"
}

@test "--replay --kvm without a usable device: exit 3 naming it, after the log was checked" {
	SCRATCHRIG_KVM_DEVICE=/nonexistent/kvm run_kvmas 3 none --replay "$FIXTURES/vmm-single-1200000.strace" --kvm
	assert_equal "$stderr" "kvm-as: --kvm: cannot open /nonexistent/kvm: No such file or directory"
	# a broken log is refused first, whatever the device
	SCRATCHRIG_KVM_DEVICE=/nonexistent/kvm run_kvmas 2 none --replay "$FIXTURES/truncated.strace" --kvm
}

@test "vmm --host: listed in --help; --layout check refuses each model's ranges before any ioctl" {
	run_vmm 0 --help
	assert_output --partial -- "--host MODEL"
	run_vmm 2 --host amd
	assert_equal "$stderr" "vmm: --host amd: unknown host model (one of intel, intel-noug, amd-avic, none)"
	# A missing device proves the refusal comes before KVM is opened.
	run_vmm 4 --host intel --irqchip off --layout check --scratch-size "$FIRST_FAILING_SIZE" --kvm-device /nonexistent
	[[ $stderr == *"would cover [0xfee00000-0xfee00fff]"* ]]
	run_vmm 4 --host intel-noug --irqchip off --layout check --kvm-device /nonexistent
	[[ $stderr == *"would cover [0xfffbc000-0xfffbcfff]"* ]]
	run_vmm 3 --host none --irqchip off --layout check --scratch-size "$FIRST_FAILING_SIZE" --kvm-device /nonexistent
	run_vmm 3 --host intel --irqchip off --layout check --scratch-size "$LAST_FITTING_SIZE" --kvm-device /nonexistent
}

@test "make install DESTDIR=...: vmm, guest.elf and kvm-as where vmm finds its guest" {
	make -s -C "$REPO_ROOT" install DESTDIR="$TMP/root" PREFIX=/usr >/dev/null
	[ -x "$TMP/root/usr/lib/scratchrig/vmm" ]
	[ -f "$TMP/root/usr/lib/scratchrig/guest.elf" ]
	[ -x "$TMP/root/usr/lib/scratchrig/kvm-as" ]
	# exit 3 (no device), not 2 (no guest image): the symlinked vmm found guest.elf
	run --separate-stderr "$TMP/root/usr/bin/scratchrig-vmm" --kvm-device /nonexistent
	expect_exit 3 "$status" "installed vmm"
	run --separate-stderr "$TMP/root/usr/bin/kvm-as" --help
	expect_exit 0 "$status" "installed kvm-as"
}

# --- with a working /dev/kvm ---------------------------------------------

@test "kvm-as intel: vmm --layout single at 0x1200000 gets the EEXIST diagnosis, 0x11FF000 boots" {
	require_kvm
	run_kvmas 4 intel -- "${TRACED_VMM[@]}" --layout single --scratch-size "$FIRST_FAILING_SIZE" --touch none
	[[ $stderr == *"refused scratch slot 17 [0xfee00000-0xffffffff] (EEXIST): it overlaps [0xfee00000-0xfee00fff], the KVM APIC-access page"* ]]
	[[ $stderr == *"kvm-as: intel: VM 1: KVM_SET_USER_MEMORY_REGION slot 17"*"refused with EEXIST"* ]]
	run_kvmas 0 intel -- "${TRACED_VMM[@]}" --layout single --scratch-size "$LAST_FITTING_SIZE" --touch none
	assert_hello
}

@test "kvm-as's stderr closed: its refusal line fails quietly, the VMM still ends with its own exit" {
	require_kvm
	command -v python3 >/dev/null || skip "no python3 to start kvm-as with a broken stderr"
	# kvm-as's stderr is a pipe nobody reads; the VMM's own stderr goes to /dev/null
	run --separate-stderr timeout -k 5 "$KVM_AS_TIMEOUT" python3 -c 'import os, signal, sys
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
r, w = os.pipe()
os.close(r)
os.dup2(w, 2)
os.execvp(sys.argv[1], sys.argv[1:])' "$KVM_AS" intel -- sh -c 'exec 2>/dev/null; exec "$@"' sh \
		"${TRACED_VMM[@]}" --layout single --scratch-size "$FIRST_FAILING_SIZE" --touch none
	expect_exit 4 "$status" "kvm-as intel with a broken stderr"
}

@test "a command that runs the VMM and then execs it: both VMs are followed, in their processes" {
	require_kvm
	# shellcheck disable=SC2016 # "$@" is the inner shell's
	run_kvmas 0 intel --trace "$TMP/trace" -- sh -c '"$@" && exec "$@"' sh "${TRACED_VMM[@]}" --touch none
	[ "$(grep -c 'hello, world!' <<<"$output")" -eq 2 ] || fail "two boots expected: $output"
	local first second
	first=$(jq -r 'select(.ioctl == "KVM_CREATE_VCPU" and .vm == 1) | .pid' "$TMP/trace")
	second=$(jq -r 'select(.ioctl == "KVM_CREATE_VCPU" and .vm == 2) | .pid' "$TMP/trace")
	[ -n "$first" ] && [ -n "$second" ] || fail "two VMs expected in the trace: $(cat "$TMP/trace")"
	# the second VM is the exec'ed VMM's, in the shell's (kvm-as's) own process
	[ "$first" != "$second" ] || fail "both VMs in process $first"
	[ "$(jq -r 'select(.vm == 2) | .pid' "$TMP/trace" | sort -u)" = "$second" ]
}

@test "kvm-as none passes build/vmm through: same stdout, stderr and exit as without it" {
	require_kvm
	run --separate-stderr timeout 60 "$VMM" -v --touch none
	local out=$output err=$stderr rc=$status
	run_kvmas "$rc" none -- "${TRACED_VMM[@]}" -v --touch none
	assert_equal "$output" "$out"
	assert_equal "$(run_invariant <<<"$stderr")" "$(run_invariant <<<"$err")"
}

@test "split boots under every model; single's verdict under kvm-as equals vmm --host's" {
	require_kvm
	local m size a b
	for m in "${MODELS[@]}"; do
		run_kvmas 0 "$m" -- "${TRACED_VMM[@]}" --scratch-size 0x6882000 --touch none
		assert_hello
		for size in 0x48000 "$LAST_FITTING_SIZE" "$FIRST_FAILING_SIZE"; do
			run --separate-stderr timeout 60 "$KVM_AS" "$m" -- "${TRACED_VMM[@]}" --layout single --scratch-size "$size" --touch none
			a=$status
			run --separate-stderr timeout 60 "$VMM" --host "$m" --layout single --scratch-size "$size" --touch none
			b=$status
			[ "$a" = "$b" ] || fail "$m $size: kvm-as exit $a, vmm --host exit $b"
		done
	done
}

@test "--trace of build/vmm under intel: the refused slot, its hit range, every model's verdict" {
	require_kvm
	command -v jq >/dev/null || skip "no jq"
	run_kvmas 4 intel --trace "$TMP/t.jsonl" -- "${TRACED_VMM[@]}" --layout single --scratch-size 0x6882000 --touch none
	[[ $stderr == *"kvm-as: summary: none       would refuse nothing"* ]]
	[[ $stderr == *"kvm-as: summary: intel      would refuse:"* ]]
	[ "$(jq -r 'select(.ioctl == "KVM_CREATE_VM") | .vm' "$TMP/t.jsonl")" = 1 ]
	run jq -c 'select(.ioctl == "KVM_SET_USER_MEMORY_REGION" and .slot == 17 and .refused and .hit.base == "0xfee00000" and .models.none == "allow")' "$TMP/t.jsonl"
	[ "${#lines[@]}" -eq 1 ] || fail "slot 17 refused over 0xfee00000: ${#lines[@]} lines: $output"
}

# hazard_count DEVICE: how many hazard lines of kvm-as's stderr name that device's page
hazard_count() {
	grep -c "^kvm-as: none: VM 1: hazard: .*the in-kernel $1's MMIO page" <<<"$stderr" || true
}

@test "kvm-as none names the IOAPIC and LAPIC hazards of vmm --layout single 0x1400000 once, exits as without it; --strict exits 4" {
	require_kvm
	command -v jq >/dev/null || skip "no jq"
	local args=(--layout single --scratch-size 0x1400000 --apic-check off --touch none) rc
	run --separate-stderr timeout 60 "$VMM" "${args[@]}"
	rc=$status
	run_kvmas "$rc" none --trace "$TMP/t.jsonl" -- "${TRACED_VMM[@]}" "${args[@]}"
	assert_hello
	assert_equal "$(hazard_count IOAPIC)" 1
	assert_equal "$(hazard_count LAPIC)" 1
	[[ $stderr == *"hazard: KVM_SET_USER_MEMORY_REGION slot 17 [0xfec00000-0xffffffff] size 0x1400000 flags 0x0: it covers [0xfec00000-0xfec00fff], the in-kernel IOAPIC's MMIO page: every host accepts the slot"*"ways out: register the slot as two slots around that page"* ]] || fail "$stderr"
	[[ $stderr == *"kvm-as: summary: none       hazard: VM 1: KVM_SET_USER_MEMORY_REGION slot 17 [0xfec00000-0xffffffff] size 0x1400000 flags 0x0: hides the LAPIC page [0xfee00000-0xfee00fff] and the IOAPIC page [0xfec00000-0xfec00fff]"* ]] || fail "$stderr"
	[[ $stderr == *"kvm-as: summary: VM 1 needs 32 bits (MAXPHYADDR; highest slot byte 0xffffffff): fails on hosts with fewer"* ]] || fail "$stderr"
	assert_equal "$(jq -c 'select(.slot == 17) | [.hazard[] | [.device, .base, (.models | join(","))]]' "$TMP/t.jsonl")" \
		'[["lapic","0xfee00000","none"],["ioapic","0xfec00000","none"]]'
	assert_equal "$(jq -r 'select(.ioctl == "KVM_CREATE_IRQCHIP") | .hazard' "$TMP/t.jsonl")" null
	# --strict: the same slot gets EEXIST, as for a private slot; the VMM says so and exits 4
	run_kvmas 4 none --strict -- "${TRACED_VMM[@]}" "${args[@]}"
	[[ $stderr == *"kvm-as: none: VM 1: KVM_SET_USER_MEMORY_REGION slot 17 [0xfec00000-0xffffffff] size 0x1400000 flags 0x0 refused with EEXIST: it covers "*"(--strict)"* ]] || fail "$stderr"
	[[ $stderr == *"vmm: KVM_SET_USER_MEMORY_REGION refused scratch slot 17"* ]] || fail "$stderr"
	# no irqchip, no in-kernel device, no hazard
	run_kvmas 0 none --strict -- "${TRACED_VMM[@]}" "${args[@]}" --irqchip off
	refute_output --partial hazard
	[[ $stderr != *hazard* ]] || fail "a hazard without the irqchip: $stderr"
	# intel refuses the slot for its APIC-access page: refused, not a hazard (the VMM's
	# probe slots that follow may cover the IOAPIC page: those are hazards)
	run_kvmas 4 intel -- "${TRACED_VMM[@]}" "${args[@]}"
	[[ $stderr == *"kvm-as: intel: VM 1: KVM_SET_USER_MEMORY_REGION slot 17 [0xfec00000-0xffffffff] size 0x1400000 flags 0x0 refused with EEXIST: it overlaps [0xfee00000-0xfee00fff], the KVM APIC-access page"* ]] || fail "$stderr"
	[[ $stderr != *"hazard: KVM_SET_USER_MEMORY_REGION slot 17 "* ]] || fail "$stderr"
	# below the LAPIC page, the IOAPIC alone is intel's hazard too
	run_kvmas 0 intel -- "${TRACED_VMM[@]}" --layout single --gpa-top 0xfedfffff --scratch-size 0x300000 --apic-check off --touch none
	[[ $stderr == *"kvm-as: intel: VM 1: hazard: "*"the in-kernel IOAPIC's MMIO page"* ]] || fail "$stderr"
}

@test "--phys-bits: vmm --gpa-top 36 gets EINVAL under --phys-bits 35 (vmm names the width), boots under 36" {
	require_kvm
	run_kvmas 3 none --phys-bits 35 -- "${TRACED_VMM[@]}" --gpa-top 36 --touch none
	[[ $stderr == *"kvm-as: none: VM 1: KVM_SET_USER_MEMORY_REGION slot 17 [0xffffb8000-0xfffffffff] size 0x48000 flags 0x0 refused with EINVAL: its last byte 0xfffffffff needs a 36-bit guest-physical address space, and the host has 35 bits"* ]] || fail "$stderr"
	[[ $stderr == *"vmm: KVM_SET_USER_MEMORY_REGION for scratch slot 17 [0xffffb8000-0xfffffffff]: Invalid argument: KVM refuses so a slot above the host's MAXPHYADDR, and this one needs 36 bits"* ]] || fail "$stderr"
	run_kvmas 0 none --phys-bits 36 --trace "$TMP/t.jsonl" -- "${TRACED_VMM[@]}" --gpa-top 36 --touch none
	assert_hello
	[[ $stderr == *"kvm-as: summary: VM 1 needs 36 bits (MAXPHYADDR; highest slot byte 0xfffffffff): fails on hosts with fewer"* ]] || fail "$stderr"
}

@test "a fresh strace log of build/vmm replays as the model says, and --replay --kvm runs it here" {
	require_kvm
	command -v strace >/dev/null || skip "no strace"
	strace -f -o "$TMP/vmm.strace" -e trace=ioctl "$VMM" --layout single --scratch-size "$FIRST_FAILING_SIZE" --touch none >/dev/null 2>&1 || true
	run_kvmas 4 intel --replay "$TMP/vmm.strace"
	run_kvmas 0 none --replay "$TMP/vmm.strace"
	# the real kernel here judges the same calls; its verdict decides the exit
	run --separate-stderr timeout 60 "$KVM_AS" none --replay "$TMP/vmm.strace" --kvm
	[[ $status == 0 || $status == 4 ]] || fail "exit $status: $stderr"
	assert_output --partial "kvm:    VM 1 line"
	if [ "$status" -eq 0 ]; then assert_output --partial "the kernel here refused 0 calls"; fi
	run_kvmas 0 none --replay "$FIXTURES/vmm-split-6882000.strace" --kvm
	assert_output --partial "model none and kernel agree on every call"
}

# run_invariant: vmm -v's stderr without what differs run to run: host addresses, the
# timer latency the guest measured, and so how many pulses it took and how many
# interrupts KVM injected (whether it injected any stays).
run_invariant() {
	sed -E 's/0x7[0-9a-f]{11}\b/ADDR/g; s/latency [0-9]+ us, so both sources paced at [0-9]+ us/latency N us, paced at M us/; s/raised GSI ([0-9]+) [0-9]+ times/raised GSI \1 N times/; s/irq_injections=[1-9][0-9]*/irq_injections=N/'
}

QEMU_BOOT=${QEMU_BOOT:-$REPO_ROOT/build/guests/qemu-boot.img}
# shellcheck source=tests/guests/qemu-boot.bash
. "$REPO_ROOT/tests/guests/qemu-boot.bash"

# run_qemu OUT_PREFIX [wrapper...]: QEMU boots SeaBIOS and tests/guests/qemu-boot.S, which
# prints one line on COM1 and powers off (exit 0); serial in OUT.serial, exit code in OUT.rc.
run_qemu() {
	local out=$1 rc=0
	shift
	timeout -k 2 60 "$@" "${QEMU_BOOT_CMD[@]}" -drive "file=$QEMU_BOOT,format=raw,if=ide" \
		-serial "file:$out.serial" >/dev/null 2>&1 || rc=$?
	echo "$rc" >"$out.rc"
}

@test "QEMU under kvm-as none, intel and intel-noug behaves as without it; its trace replays clean" {
	require_kvm
	command -v qemu-system-x86_64 >/dev/null || skip "no qemu-system-x86_64"
	[ -r "$QEMU_BOOT" ] || skip "no $QEMU_BOOT (make guests)"
	run_qemu "$TMP/plain"
	assert_equal "$(cat "$TMP/plain.rc")" 0
	grep -q "qemu-boot: hello, world!" "$TMP/plain.serial"
	local m
	for m in none intel intel-noug; do
		run_qemu "$TMP/$m" "$KVM_AS" "$m" --trace "$TMP/$m.jsonl" --
		assert_equal "$(cat "$TMP/$m.rc")" 0
		cmp "$TMP/plain.serial" "$TMP/$m.serial" || fail "$m: serial output differs"
		[ "$(grep -c '"ioctl":"KVM_SET_USER_MEMORY_REGION"' "$TMP/$m.jsonl")" -gt 10 ] || fail "$m: few slots traced"
		# QEMU moves its identity map and TSS below its BIOS: nothing to refuse
		grep -q '"ioctl":"KVM_SET_TSS_ADDR"' "$TMP/$m.jsonl" || fail "$m: no KVM_SET_TSS_ADDR traced"
		! grep -q '"refused":true' "$TMP/$m.jsonl" || fail "$m: a call was refused"
	done
	command -v strace >/dev/null || skip "no strace for the replay part"
	run_qemu "$TMP/strace" strace -f -o "$TMP/qemu.strace" -e trace=ioctl
	assert_equal "$(cat "$TMP/strace.rc")" 0
	for m in "${MODELS[@]}"; do
		run_kvmas 0 "$m" --replay "$TMP/qemu.strace"
		assert_output --partial "VM 1: "
	done
	run_kvmas 0 intel --replay "$TMP/qemu.strace" --kvm
	assert_output --partial "model intel and kernel agree on every call"
}
