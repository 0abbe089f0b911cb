#!/usr/bin/env bats
# shellcheck disable=SC2154 # status, output, stderr and lines are set by bats' run
# shellcheck disable=SC2016 # single-quoted $ belongs to the child shells and to jq
# The scripts under ci/: --help prints the whole header comment of every script that takes it
# (the usage, the environment, the exit codes); the shared bash of ci/lib/common.bash (usage,
# die, the tally, JSON through jq); and the size limits of ci/hw/ and ci/lib/. Nothing boots.
load helpers

COMMON=$REPO_ROOT/ci/lib/common.bash

# header FILE: what FILE's --help must print: its comment lines from line 2 up to its first
# `set -` line, without "# " and without shellcheck directives.
header() {
	awk 'NR == 1 { next } /^set -/ { exit } /^# shellcheck / { next } { sub(/^# ?/, ""); print }' "$1"
}

# help_scripts: every shell script under ci/ (at any depth) that takes --help.
help_scripts() {
	local f
	while IFS= read -r f; do
		head -n 1 "$f" | grep -qE '^#!(/usr/bin/env (ba)?sh|/bin/(ba)?sh)' || continue
		grep -qE -- '(^|[ (|])--help\)' "$f" && echo "$f"
	done < <(find "$REPO_ROOT/ci" -type f | sort)
}

@test "--help of every script under ci/ prints its whole header, exit codes included" {
	local f n=0 want last
	while IFS= read -r f; do
		n=$((n + 1))
		want=$(header "$f")
		last=$(printf '%s\n' "$want" | tail -n 1)
		grep -qiE 'exit( codes)?:|exit codes' <<<"$want" || fail "${f#"$REPO_ROOT"/}: its header names no exit codes"
		run --separate-stderr timeout 60 "$f" --help
		[ "$status" -eq 0 ] || fail "${f#"$REPO_ROOT"/} --help: exit $status: $stderr"
		[ -z "$stderr" ] || fail "${f#"$REPO_ROOT"/} --help wrote to stderr: $stderr"
		if [ "$output" != "$want" ]; then
			diff <(echo "$want") <(echo "$output") >&2 || true
			fail "${f#"$REPO_ROOT"/} --help is not its whole header (it should end with: $last)"
		fi
	done < <(help_scripts)
	# The ones this suite was written for, at least (a rename must not make it vacuous).
	for f in ci/hw/hw-regress ci/matrix/run-matrix ci/l1/l1-boot ci/l1/in-l1 ci/l1/run-hello ci/bench/run ci/bochs/build; do
		help_scripts | grep -qx "$REPO_ROOT/$f" || fail "$f is missing or takes no --help"
	done
	[ "$n" -ge 7 ]
}

@test "hw-regress --help names every exit code (2, 3 and 130 were cut off)" {
	run "$REPO_ROOT/ci/hw/hw-regress" --help
	assert_success
	assert_line --partial "Exit codes: 0 every run passed or was skipped, 1 a run, probe or nested cell failed,"
	assert_line --partial "2 usage, 3 the module's original parameters could not be restored"
	assert_line "do it by hand), 130 interrupted (after restoring)."
}

@test "common.bash: usage prints the whole header (stdout for --help, stderr and exit 2 otherwise); die" {
	local s=$BATS_TEST_TMPDIR/tool
	cat >"$s" <<EOF
#!/bin/bash
# tool: does a thing.
#
#   tool [--help]
# shellcheck disable=SC2034 # a directive is no part of the usage
# Exit codes: 0 done, 2 usage, 7 late.
set -uo pipefail
. "$COMMON"
case \${1:-} in
'') ;;
-h | --help) usage 0 ;;
--late) die "too late" 7 ;;
*) usage ;;
esac
echo done
EOF
	chmod +x "$s"
	local want=$'tool: does a thing.\n\n  tool [--help]\nExit codes: 0 done, 2 usage, 7 late.'
	run --separate-stderr "$s" --help
	assert_success
	assert_output "$want"
	[ -z "$stderr" ]
	run --separate-stderr "$s" --bogus
	[ "$status" -eq 2 ] && [ -z "$output" ] && [ "$stderr" = "$want" ]
	run --separate-stderr "$s" --late
	[ "$status" -eq 7 ] && [ "$stderr" = "tool: too late" ]
	run --separate-stderr env PROG=other "$s" --late
	[ "$stderr" = "other: too late" ]
}

@test "common.bash: the tally counts run marks; tally_line says them in the order asked" {
	# shellcheck source=ci/lib/common.bash
	. "$COMMON"
	tally_reset
	local m
	for m in pass pass fail timeout skip weird pass; do tally "$m"; done
	[ "$(tally_line pass fail timeout)" = "3 pass, 2 fail, 1 timeout" ]
	[ "$(tally_line pass fail timeout skip)" = "3 pass, 2 fail, 1 timeout, 1 skip" ]
	tally_reset
	[ "$(tally_line pass fail)" = "0 pass, 0 fail" ]
}

@test "common.bash: JSON through jq, whatever the strings hold" {
	# shellcheck source=ci/lib/common.bash
	. "$COMMON"
	local nasty=$'quote " backslash \\ tab \t newline \n bell \a end'
	[ "$(json_strings a "$nasty" | jq -r '.[1]')" = "$nasty" ]
	[ "$(json_strings)" = '[]' ]
	[ "$(json_pairs b 2 a "$nasty" | jq -r 'keys_unsorted | join(",")')" = "b,a" ]
	[ "$(json_pairs b 2 a "$nasty" | jq -r .a)" = "$nasty" ]
	[ "$(json_pairs)" = '{}' ]
	printf 'phase\trun\trc\nhost\ts1na-1G\t0\nreload-x\tp0nn-48000\n' >"$BATS_TEST_TMPDIR/t.tsv"
	run json_tsv "$BATS_TEST_TMPDIR/t.tsv"
	assert_output '[{"phase":"host","run":"s1na-1G","rc":"0"},{"phase":"reload-x","run":"p0nn-48000","rc":null}]'
	head -n 1 "$BATS_TEST_TMPDIR/t.tsv" >"$BATS_TEST_TMPDIR/h.tsv"
	[ "$(json_tsv "$BATS_TEST_TMPDIR/h.tsv")" = '[]' ]
}

# shell_files: every shell script and sourced shell file under ci/ (and .ci/run).
shell_files() {
	grep -rlE '^#!(/usr/bin/env (ba)?sh|/bin/(ba)?sh)|^# shellcheck shell=' "$REPO_ROOT/ci" "$REPO_ROOT/.ci/run"
}

@test "ci/ stays small: no bash file over 450 lines, no function over 60; hw's JSON only through jq" {
	local f n files
	mapfile -t files < <(shell_files)
	[ "${#files[@]}" -gt 20 ] || fail "found only ${#files[@]} shell files under ci/"
	for f in "${files[@]}"; do
		n=$(wc -l <"$f")
		[ "$n" -le 450 ] || fail "${f#"$REPO_ROOT"/}: $n lines"
	done
	# Top-level functions, NAME() { at column 0 up to the first } at column 0.
	run awk '
		/^[A-Za-z_][A-Za-z0-9_]*\(\) *\{ *(#.*)?$/ { name = $1; sub(/\(\).*/, "", name); start = FNR; next }
		/^\}/ && name != "" { if (FNR - start + 1 > 60) print FILENAME ": " name "() is " FNR - start + 1 " lines"; name = "" }
	' "${files[@]}"
	assert_output ""
	# No JSON assembled by hand: no escaping helper, no printf of a quoted key.
	run grep -nE 'json_str\(\)|printf .*\\?"[a-z_]+\\?": ' "$REPO_ROOT"/ci/hw/hw-regress "$REPO_ROOT"/ci/hw/*.bash
	assert_output ""
}

@test "an L1's address width: --phys-bits outside 36-52 or under Bochs, in in-l1, l1-boot and the matrix's physbits, is exit 2 with one line" {
	run --separate-stderr "$REPO_ROOT/ci/l1/in-l1" --accel tcg --phys-bits 35 -- build/vmm
	assert_equal "$status" 2
	assert_equal "$stderr" "in-l1: --phys-bits must be 36 to 52, not '35'"
	run --separate-stderr "$REPO_ROOT/ci/l1/in-l1" --accel bochs --phys-bits 36 -- build/vmm
	assert_equal "$status" 2
	assert_equal "$stderr" "in-l1: Bochs' CPU models have a fixed address width: --phys-bits needs --accel tcg or kvm"
	mkdir -p "$BATS_TEST_TMPDIR/image" && touch "$BATS_TEST_TMPDIR/image/vmlinuz" "$BATS_TEST_TMPDIR/image/initramfs.cpio.gz"
	run --separate-stderr "$REPO_ROOT/ci/l1/l1-boot" --image "$BATS_TEST_TMPDIR/image" --phys-bits 53 "$BATS_TEST_TMPDIR/out"
	assert_equal "$status" 2
	assert_equal "$stderr" "l1-boot: --phys-bits must be 36 to 52, not '53'"
	local cfg=$BATS_TEST_TMPDIR/m.cfg
	printf '[kernel k]\npackage = linux-image-amd64\n[runs r]\nruns = p1nn-48000\n[l1 w]\naccel = tcg\nvendor = amd\napicv = off\nphysbits = 35\nruns = r\n' >"$cfg"
	MATRIX=$cfg run --separate-stderr "$REPO_ROOT/ci/matrix/run-matrix" --list
	assert_equal "$status" 2
	assert_equal "$stderr" "run-matrix: $cfg: [l1 w]: physbits must be 36 to 52"
	sed -i 's/^accel = tcg$/accel = bochs/; s/^vendor = amd$/vendor = intel/; s/^physbits = 35$/physbits = 36/' "$cfg"
	MATRIX=$cfg run --separate-stderr "$REPO_ROOT/ci/matrix/run-matrix" --list
	assert_equal "$status" 2
	assert_equal "$stderr" "run-matrix: $cfg: [l1 w]: Bochs' CPU models have a fixed address width: --phys-bits needs --accel tcg or kvm"
}
