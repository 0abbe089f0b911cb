#!/usr/bin/env bats
# shellcheck disable=SC2154 # status and output are set by bats' run
# The suites hold wherever the checkout lives, also where only its owner can enter (a clone in
# /root, or in a `mktemp -d` directory): the tests that drop to nobody copy what nobody must read
# or run into their own temporary directory. Proved here by running them from a copy of the
# working tree's ci/ and tests/ (and the VMM under test, as a clone's build/ would hold it)
# inside a 0700 directory: before that fix, nobody could not read build/guest.elf (exit 2, not
# 3) nor run ci/hw-regress there.
load helpers

# The tests that run something as nobody.
NOBODY_TESTS='a KVM device without permission is exit 3|RELOAD_KVM=1 without root'

@test "the tests that drop to nobody pass from a checkout only its owner can enter" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to drop to nobody"
	command -v setpriv >/dev/null || skip "setpriv (util-linux) is missing"
	mknod "$BATS_TEST_TMPDIR/probe-node" c 10 232 2>/dev/null || skip "cannot make a device node here"
	local private=$BATS_TEST_TMPDIR/private c
	c=$private/scratchrig
	mkdir -p "$c/tests" "$c/build"
	chmod 0700 "$private"
	cp -R "$REPO_ROOT/ci" "$c/"
	cp "$REPO_ROOT"/tests/helpers.bash "$REPO_ROOT"/tests/010-cli.bats "$REPO_ROOT"/tests/090-hw.bats "$c/tests/"
	install -m 0755 "$VMM" "$c/build/vmm"
	install -m 0644 "$GUEST" "$c/build/guest.elf"
	# The copy really is closed to nobody.
	run ! setpriv --reuid=65534 --regid=65534 --clear-groups test -r "$c/build/guest.elf"
	run env VMM="$c/build/vmm" GUEST="$c/build/guest.elf" \
		bats -f "$NOBODY_TESTS" "$c/tests/010-cli.bats" "$c/tests/090-hw.bats"
	printf '%s\n' "$output"
	assert_success
	assert_line "1..2"
	assert_line "ok 1 a KVM device without permission is exit 3 with what to do"
	assert_line --regexp '^ok 2 RELOAD_KVM=1 without root: '
	refute_output --partial "# skip"
}
