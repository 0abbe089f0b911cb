#!/usr/bin/env bats
# shellcheck disable=SC2154 # status, output, stderr and lines are set by bats' run
# shellcheck disable=SC2016,SC2030,SC2031 # the stand-in scripts expand later; each test its own env
# ci/bochs/build's failures, on a small stand-in source tree (no download, no real build): a
# corrupt or truncated tarball, a patch that no longer applies, a failed configure or make and
# a missing compiler each stop with ONE line naming the cause and what to do, its documented
# exit code, no binary and no work tree in the cache; the L1s then pick Debian's bochs 2.7.
load helpers

BUILD_SCRIPT=$REPO_ROOT/ci/bochs/build

setup() {
	export RIG_BOCHS_CACHE=$BATS_TEST_TMPDIR/cache RIG_BOCHS_SRC=$BATS_TEST_TMPDIR/src
	# A stand-in tree: configure and make succeed unless STANDIN_FAIL names them; make writes a bochs.
	local t=$BATS_TEST_TMPDIR/tree/bochs-3.0
	mkdir -p "$t/cpu"
	printf '#!/bin/sh\n[ "$STANDIN_FAIL" != configure ] || { echo "configure: error: stand-in"; exit 1; }\necho "$@" >flags\n' >"$t/configure"
	chmod +x "$t/configure"
	printf 'bochs:\n\t@[ "$$STANDIN_FAIL" != make ] || { echo "make: stand-in error"; exit 2; }\n\tprintf "#!/bin/sh\\necho stand-in bochs\\n" >bochs && chmod +x bochs\n' >"$t/Makefile"
	printf 'line one\nline two\n' >"$t/cpu/vmx.cc"
	stand_in_tarball
	# A patch that applies to the stand-in tree.
	mkdir -p "$BATS_TEST_TMPDIR/patches"
	cat >"$BATS_TEST_TMPDIR/patches/0001-stand-in.patch" <<'PATCH'
Fixes: nothing; the stand-in tree's own patch.
--- a/cpu/vmx.cc
+++ b/cpu/vmx.cc
@@ -1,2 +1,2 @@
 line one
-line two
+line 2
PATCH
	export RIG_BOCHS_PATCHES=$BATS_TEST_TMPDIR/patches
}

# stand_in_tarball: (re)pack the tree, pin its sha256.
stand_in_tarball() {
	export RIG_BOCHS_TARBALL=$BATS_TEST_TMPDIR/bochs.tar.xz
	tar -C "$BATS_TEST_TMPDIR/tree" -cJf "$RIG_BOCHS_TARBALL" bochs-3.0
	RIG_BOCHS_SHA256=$(sha256sum "$RIG_BOCHS_TARBALL" | cut -d' ' -f1)
	export RIG_BOCHS_SHA256
}

# refused CODE PATTERN: ci/bochs/build -q exits CODE with one stderr line matching PATTERN,
# which also says that the rig stays on bochs 2.7; nothing half-built is left in the cache.
refused() {
	run --separate-stderr "$BUILD_SCRIPT" -q
	expect_exit "$1" "$status" "command: ci/bochs/build -q"
	assert_equal "$(printf '%s\n' "$stderr" | wc -l)" 1
	[[ $stderr == "bochs-build: "$2*"keeps using Debian's bochs 2.7"* ]] || fail "expected '$2', got: $stderr"
	[ ! -e "$RIG_BOCHS_CACHE/full/bochs" ] || fail "a binary was left in the cache"
	[ -z "$(find "$RIG_BOCHS_CACHE" -maxdepth 1 -name '.work-*' 2>/dev/null)" ] || fail "a work tree was left behind"
	run "$BUILD_SCRIPT" --check
	assert_failure 1
	# The L1s fall back, and say why.
	(
		unset RIG_BOCHS
		. "$REPO_ROOT/ci/l1/accel.bash"
		l1_bochs_select
		[[ $L1_BOCHS_RIG == 0 && $L1_BOCHS_WHICH == "Debian's bochs 2.7"* ]] || fail "not the fallback: $L1_BOCHS_WHICH"
		[[ -n $(l1_accel_lacks bochs enable_apicv) ]] || fail "no APICv skip reason on the fallback"
	)
}

@test "bochs build: the stand-in source builds once, is reused, and is what the L1s run" {
	run --separate-stderr "$BUILD_SCRIPT"
	assert_success
	[[ $stderr == *"built $RIG_BOCHS_CACHE/full/bochs"* ]] || fail "$stderr"
	[ -x "$RIG_BOCHS_CACHE/full/bochs" ]
	assert_equal "$(cat "$RIG_BOCHS_CACHE/full/patches")" "0001-stand-in.patch"
	# Cached: no second build, and --check names the binary.
	run --separate-stderr "$BUILD_SCRIPT"
	assert_success
	assert_equal "$stderr" ""
	run "$BUILD_SCRIPT" --check
	assert_success
	assert_output "$RIG_BOCHS_CACHE/full/bochs"
	(
		unset RIG_BOCHS
		. "$REPO_ROOT/ci/l1/accel.bash"
		l1_bochs_select
		[[ $L1_BOCHS == "$RIG_BOCHS_CACHE/full/bochs" && $L1_BOCHS_RIG == 1 ]] || fail "L1s would run $L1_BOCHS"
		[[ -z $(l1_accel_lacks bochs enable_apicv) ]] || fail "APICv said to be missing under the project's Bochs"
	)
	# A changed patch makes the cached binary stale.
	echo "# changed" >>"$RIG_BOCHS_PATCHES/0001-stand-in.patch"
	run "$BUILD_SCRIPT" --check
	assert_failure 1
	assert_output --partial "built from other sources, patches or flags: make bochs"
}

@test "bochs build: --without PATCH builds a variant of its own without it" {
	run --separate-stderr "$BUILD_SCRIPT" -q --without 0001 --print
	assert_success
	assert_output "$RIG_BOCHS_CACHE/without-0001/bochs"
	assert_equal "$(cat "$RIG_BOCHS_CACHE/without-0001/patches")" ""
	run --separate-stderr "$BUILD_SCRIPT" --without 0009
	assert_failure 2
	assert_equal "$stderr" "bochs-build: no patch '0009' in $RIG_BOCHS_PATCHES"
}

@test "bochs build: a tarball whose sha256 is not the pinned one is exit 3" {
	export RIG_BOCHS_SHA256=0000000000000000000000000000000000000000000000000000000000000000
	refused 3 "bochs.tar.xz has sha256 "
	[[ $stderr == *"corrupt or truncated"* ]]
}

@test "bochs build: a truncated download in the source cache is exit 3 and is removed" {
	unset RIG_BOCHS_TARBALL
	. "$REPO_ROOT/ci/bochs/source.env"
	mkdir -p "$RIG_BOCHS_SRC"
	head -c 100 "$BATS_TEST_TMPDIR/bochs.tar.xz" >"$RIG_BOCHS_SRC/$BOCHS_ORIG"
	refused 3 "$BOCHS_ORIG has sha256 "
	[ ! -e "$RIG_BOCHS_SRC/$BOCHS_ORIG" ] || fail "the truncated tarball was kept"
}

@test "bochs build: the project's patches that no longer apply are exit 4, naming the patch" {
	export RIG_BOCHS_PATCHES=$REPO_ROOT/ci/bochs/patches
	refused 4 "patch 0001-"
	[[ $stderr == *"does not apply"*"refresh it against the pinned source"* ]] || fail "$stderr"
}

@test "bochs build: a failed configure is exit 5, naming its log" {
	export STANDIN_FAIL=configure
	refused 5 "configure failed: see $RIG_BOCHS_CACHE/full.log"
	grep -q "configure: error: stand-in" "$RIG_BOCHS_CACHE/full.log"
}

@test "bochs build: a failed make is exit 5" {
	export STANDIN_FAIL=make
	refused 5 "make failed: see $RIG_BOCHS_CACHE/full.log"
}

@test "bochs build: a missing compiler is exit 5, naming the package" {
	export CXX=/nonexistent/g++
	refused 5 "/nonexistent/g++ not found: apt-get install g++"
}

@test "bochs build: usage errors are exit 2 and --help prints the whole header" {
	run --separate-stderr "$BUILD_SCRIPT" --bogus
	assert_failure 2
	assert_equal "$stderr" "bochs-build: unknown argument '--bogus' (see --help)"
	run "$BUILD_SCRIPT" --help
	assert_success
	assert_line --partial "ci/bochs/build [--without PATCH]"
	assert_line --partial "130 interrupted"
	assert_line --partial "RIG_BOCHS_SRC=DIR"
}
