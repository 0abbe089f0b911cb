# shellcheck disable=SC2154,SC2034 # bats sets status/output/stderr; the suites use the constants
# Shared by every host suite. Every VMM call goes through run_vmm, which
# applies a timeout and, on a wrong exit code, shows the command, the
# expected and the actual code and the output (in the spirit of podman's
# run_podman).
bats_require_minimum_version 1.5.0
load /usr/lib/bats/bats-support/load
load /usr/lib/bats/bats-assert/load

REPO_ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
VMM=${VMM:-$REPO_ROOT/build/vmm}
GUEST=${GUEST:-$(dirname "$VMM")/guest.elf}
# Generous: a 3 GiB --touch all run takes tens of seconds on slow hosts.
VMM_WALL_TIMEOUT=${VMM_WALL_TIMEOUT:-600}

# run_vmm EXPECTED_RC [vmm args...]: stdout in $output, stderr in $stderr.
run_vmm() {
	local expected=$1
	shift
	run --separate-stderr timeout -k 5 "$VMM_WALL_TIMEOUT" "$VMM" "$@"
	expect_exit "$expected" "$status" "command:  $VMM $*"
}

# expect_exit EXPECTED ACTUAL WHAT: on a mismatch, say what ran, both codes and
# its $output and $stderr, and fail.
expect_exit() {
	[ "$2" = "$1" ] && return 0
	{
		echo "$3"
		echo "expected: exit $1"
		echo "actual:   exit $2"
		echo "--- stdout"
		printf '%s\n' "$output"
		echo "--- stderr"
		printf '%s\n' "$stderr"
	} >&2
	return 1
}

# Tests that boot a guest need a usable /dev/kvm.
require_kvm() {
	[ -e /dev/kvm ] || skip "no /dev/kvm on this host"
	if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
		skip "/dev/kvm is not readable and writable for $(id -un)"
	fi
}

assert_hello() {
	assert_line "hello, world!"
}

# The bug report's numbers, derived once: the KVM APIC-access page and the
# largest scratch below 4 GiB that stays clear of it.
APIC_PAGE=0xfee00000
LAST_FITTING_SIZE=$(printf '0x%x' $((0xFFFFFFFF - 0xFEE00FFF)))
FIRST_FAILING_SIZE=$(printf '0x%x' $((LAST_FITTING_SIZE + 0x1000)))

# Tests that drop to nobody (setpriv) must not need the checkout: it may live where only its
# owner can enter (a clone in /root, or in a `mktemp -d` directory). They copy what nobody has
# to read or run into their own $BATS_TEST_TMPDIR, which open_test_tmpdir opens.

# open_test_tmpdir: $BATS_TEST_TMPDIR readable for nobody. bats makes its run directory 0700,
# so each directory from $BATS_TEST_TMPDIR up to bats' run directory gets o+x (search, not
# listing); skip when a directory above that (TMPDIR) stays closed to nobody.
open_test_tmpdir() {
	local d=$BATS_TEST_TMPDIR
	[[ -n ${BATS_RUN_TMPDIR:-} && $d == "$BATS_RUN_TMPDIR"/* ]] ||
		skip "bats' run directory is unknown (BATS_RUN_TMPDIR): cannot open $d to nobody"
	chmod 0755 "$d"
	while [[ $d != "$BATS_RUN_TMPDIR" ]]; do
		d=$(dirname "$d")
		chmod o+x "$d"
	done
	setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$BATS_TEST_TMPDIR" ||
		skip "nobody cannot enter $BATS_TEST_TMPDIR: a directory above bats' run directory is closed"
}

# nobody_vmm: copies of $VMM and $GUEST side by side (the VMM finds guest.elf beside itself) in
# $BATS_TEST_TMPDIR/nobody/; prints the VMM copy's path. Call open_test_tmpdir first.
nobody_vmm() {
	local d=$BATS_TEST_TMPDIR/nobody
	mkdir -p "$d"
	install -m 0755 "$VMM" "$d/vmm"
	install -m 0644 "$GUEST" "$d/guest.elf"
	echo "$d/vmm"
}

# expect_usage_errors CMD TABLE COUNT: each "args|rule" line that the function TABLE prints makes
# CMD exit 2 with one stderr line "NAME: ...rule..." (NAME: CMD's file name) and nothing on
# stdout; the table has COUNT lines.
expect_usage_errors() {
	local cmd=$1 table=$2 want=$3 count=0 args rule
	while IFS='|' read -r args rule; do
		# shellcheck disable=SC2086 # word splitting of the table's args is the point
		run --separate-stderr timeout 10 "$cmd" $args
		[ "$status" -eq 2 ] || fail "${cmd##*/} $args: exit $status, expected 2 (stderr: $stderr)"
		[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ] || fail "${cmd##*/} $args: more than one line: $stderr"
		[[ $stderr == "${cmd##*/}: "*"$rule"* ]] || fail "${cmd##*/} $args: '$stderr' does not say '$rule'"
		[ -z "$output" ] || fail "${cmd##*/} $args: it ran something: $output"
		count=$((count + 1))
	done < <("$table")
	[ "$count" -eq "$want" ]
}
