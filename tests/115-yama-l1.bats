#!/usr/bin/env bats
# shellcheck disable=SC2154 # status and output are set by bats' run
# What yama's ptrace_scope lets kvm-as do, measured in ONE TCG L1 (Debian's kernel, yama built
# in; 6.12 when installed): ci/l1/yama-l1 sets scope 0, 1, 2, 3 and runs `kvm-as intel --` over
# the project's VMM (--layout single --scratch-size 0x1200000: exit 4 where kvm-as can trace) and
# over QEMU (-accel kvm -S: exit 0), as root and as uid 1000; where yama refuses: exit 3 and a
# line naming the scope and the way out. docs/kvm-as.md's "Under yama" table is this file's WANT.
# Logs: build/yama-l1/ (out.txt: the runs' lines and output; console.log, results.txt).
load helpers
load nested_helpers
# shellcheck source=ci/l1/qemu-payload.bash
. "$BATS_TEST_DIRNAME/../ci/l1/qemu-payload.bash"

YAMA_UID=1000
# WANT[SCOPE]: kvm-as as a user, then as root: works (traces) or refused (exit 3).
WANT=("works works" "works works" "refused works" "refused refused")

setup_file() {
	export BATS_TEST_TIMEOUT=600
	export YAMA_OUT=$REPO_ROOT/build/yama-l1 YAMA_SKIP=''
	local kver qemu
	kver=$(make --no-print-directory -s -C "$REPO_ROOT" l1-kernel 2>/dev/null) || kver=''
	export YAMA_KVER=$kver
	YAMA_SKIP=$(l1_missing "$kver")
	if [ -z "$YAMA_SKIP" ] && [ -r "/boot/config-$kver" ] && ! grep -qx 'CONFIG_SECURITY_YAMA=y' "/boot/config-$kver"; then
		YAMA_SKIP="L1's kernel $kver has no yama (CONFIG_SECURITY_YAMA)"
	fi
	[ -z "$YAMA_SKIP" ] || return 0
	# Debian's small build (q35 included) when there: 13 MB with its libraries, not 49.
	qemu=$(command -v qemu-system-x86_64-microvm || command -v qemu-system-x86_64)
	rm -rf "$YAMA_OUT" && mkdir -p "$YAMA_OUT"
	YAMA_SKIP=$(qemu_payload "$qemu" "$YAMA_OUT/payload/qemu")
	[ -z "$YAMA_SKIP" ] || return 0
	# The image carries kvm-as; the payload the VMM. make brings both up to date.
	make --no-print-directory -s -C "$REPO_ROOT" images IMAGE_KERNELS="$kver" >"$YAMA_OUT/make.log" 2>&1 || {
		cat "$YAMA_OUT/make.log" >&2
		echo "make images IMAGE_KERNELS=$kver failed" >&2
		return 1
	}
	# The plain build, whatever $VMM is: the image has the plain build's libraries only.
	cp "$REPO_ROOT/ci/l1/yama-l1" "$REPO_ROOT/build/vmm" "$REPO_ROOT/build/guest.elf" "$YAMA_OUT/payload/"
	local rc=0
	"$REPO_ROOT/ci/l1/in-l1" -q --accel tcg --image "$REPO_ROOT/build/images/$kver" --timeout 300 \
		--keep-log "$YAMA_OUT" --payload "$YAMA_OUT/payload" -- "$YAMA_OUT/payload/yama-l1" "$YAMA_UID" \
		>"$YAMA_OUT/out.txt" 2>"$YAMA_OUT/in-l1.err" || rc=$?
	echo "$rc" >"$YAMA_OUT/in-l1.rc"
}

setup() {
	[[ $BATS_TEST_DESCRIPTION != "docs:"* ]] || return 0
	[ -z "$YAMA_SKIP" ] || skip "$YAMA_SKIP"
	local rc
	rc=$(cat "$YAMA_OUT/in-l1.rc")
	if [ "$rc" != 0 ] || ! grep -qx 'YAMA done' "$YAMA_OUT/out.txt"; then
		cat "$YAMA_OUT/in-l1.err" "$YAMA_OUT/out.txt" >&2
		fail "the L1 (kernel $YAMA_KVER) did not run every case: in-l1 exit $rc (logs: $YAMA_OUT)"
	fi
}

# run_line SCOPE WHO PROG: that run's YAMA line.
run_line() {
	grep -m 1 "^YAMA scope=$1 user=$2 prog=$3 " "$YAMA_OUT/out.txt" | tr -d '\r'
}

# assert_scope SCOPE: each of its four runs is as WANT says; a refusal names the scope and the
# way out (vmm/kvm-as/diagnose.c's words).
assert_scope() {
	local scope=$1 who prog line rc want way ok i=0
	local -a wants
	read -r -a wants <<<"${WANT[$scope]}"
	case $scope in
	2) way="run kvm-as as root or with CAP_SYS_PTRACE, or let users trace their own children again with: sudo sysctl kernel.yama.ptrace_scope=1" ;;
	3) way="it cannot be lowered without a reboot: kvm-as cannot trace on this boot (set kernel.yama.ptrace_scope = 1 in /etc/sysctl.d/ and reboot; or judge a strace log recorded on another machine with --replay)" ;;
	esac
	for who in user root; do
		want=${wants[i]} i=$((i + 1))
		for prog in vmm qemu; do
			line=$(run_line "$scope" "$who" "$prog")
			[ -n "$line" ] || fail "scope $scope, $who, $prog: no line (see $YAMA_OUT/out.txt)"
			rc=${line#* rc=} rc=${rc%% *}
			if [ "$want" = works ]; then
				# VMM 4: the model refused its slot over 0xfee00000; QEMU 0: its RAM stays clear.
				ok=0
				[ "$prog" = qemu ] || ok=4
				[ "$rc" = "$ok" ] || fail "scope $scope, $who, $prog: want exit $ok (kvm-as traces): $line"
				[[ $line != *" slots=0 "* ]] || fail "scope $scope, $who, $prog: kvm-as traced no memslot call: $line"
			else
				[ "$rc" = 3 ] || fail "scope $scope, $who, $prog: want exit 3 (yama refuses): $line"
				[[ $line == *" why=kvm-as: cannot trace "*": ptrace: Operation not permitted: yama ptrace_scope is $scope ("* ]] ||
					fail "scope $scope, $who, $prog: the line does not name scope $scope: $line"
				[[ $line == *"$way" ]] || fail "scope $scope, $who, $prog: the line does not end with the way out ($way): $line"
			fi
		done
	done
}

@test "yama ptrace_scope 0: kvm-as traces the VMM and QEMU, as a user and as root" {
	assert_scope 0
}

@test "yama ptrace_scope 1: kvm-as traces them as a user too (its command names it with PR_SET_PTRACER)" {
	assert_scope 1
}

@test "yama ptrace_scope 2: root traces; a user gets exit 3 and the line names root, CAP_SYS_PTRACE and the sysctl" {
	assert_scope 2
}

@test "yama ptrace_scope 3: exit 3 for root and user alike, and the line says only a reboot lowers it" {
	assert_scope 3
}

@test "docs: docs/kvm-as.md's yama table says what this file wants, scope by scope" {
	local rows got="" scope scope_user user root
	rows=$(sed -n '/^## Under yama/,/^## /s/^| *\([0-3]\) *|[^|]*| *\([^|]*[^ |]\) *| *\([^|]*[^ |]\) *|.*/\1 \2|\3/p' \
		"$REPO_ROOT/docs/kvm-as.md")
	while IFS='|' read -r scope_user root; do
		scope=${scope_user%% *} user=${scope_user#* }
		got+="${scope}:${user/exit 3/refused} ${root/exit 3/refused};"
	done <<<"$rows"
	local want="" i
	for i in 0 1 2 3; do want+="$i:${WANT[i]};"; done
	[ "$got" = "$want" ] || fail "docs/kvm-as.md's table reads [$got], this file wants [$want]"
}
