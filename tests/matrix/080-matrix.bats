#!/usr/bin/env bats
# Asserts the verdicts of a finished matrix run (ci/run-matrix -> build/ci/). Used by
# `make ci-matrix`, not by `make test`: it judges results, it does not produce them.
# CI_OUT=DIR reads another results directory.
# shellcheck disable=SC2016 # awk conditions are single-quoted on purpose
load ../nested_helpers

setup() {
	CI_OUT=${CI_OUT:-$NESTED_ROOT/build/ci}
	CELLS_TSV=$CI_OUT/cells.tsv
	RUNS_TSV=$CI_OUT/runs.tsv
}

# cells_where AWK_CONDITION: cell names from cells.tsv (columns: 1 cell .. 6 apicv 7 verdict
# 8 seconds 9 l1_vendor 10 params 11 probe_irqchip_on 12 probe_irqchip_off 13 reason).
cells_where() {
	awk -F'\t' "NR > 1 && ($1) { print \$1 }" "$CELLS_TSV"
}
# run_of CELL TOKEN: "expected rc hello mark" of one run.
run_of() {
	awk -F'\t' -v c="$1" -v t="$2" '$1 == c && $2 == t { print $3, $4, $5, $6 }' "$RUNS_TSV"
}

@test "the matrix results and reports exist" {
	for f in cells.tsv runs.tsv junit.xml summary.md; do
		[ -s "$CI_OUT/$f" ] || fail "no $CI_OUT/$f: run ci/run-matrix (make ci-matrix) first"
	done
	run cells_where 1
	assert [ "${#lines[@]}" -gt 0 ]
}

@test "no cell failed or timed out" {
	run cells_where '$7 == "FAIL" || $7 == "TIMEOUT"'
	if [ -n "$output" ]; then
		echo "cells that did not pass (logs in $CI_OUT/logs/):" >&2
		awk -F'\t' 'NR > 1 && ($7 == "FAIL" || $7 == "TIMEOUT") { print "  " $1 ": " $7 ", " $13 }' "$CELLS_TSV" >&2
		awk -F'\t' 'NR > 1 && $6 != "pass" { print "  " $1 " " $2 ": " $6 ", exit " $4 ", expected " $3 }' "$RUNS_TSV" >&2
		return 1
	fi
}

@test "every verdict is one of PASS, SKIP, FAIL, TIMEOUT and every run mark one of pass, fail, timeout" {
	run cells_where '$7 !~ /^(PASS|SKIP|FAIL|TIMEOUT)$/'
	assert_output ""
	run awk -F'\t' 'NR > 1 && $6 !~ /^(pass|fail|timeout)$/' "$RUNS_TSV"
	assert_output ""
}

@test "every skipped cell gives its reason, and at least one cell ran" {
	run cells_where '$7 == "SKIP" && ($13 == "" || $13 == "-")'
	assert_output ""
	run cells_where '$7 != "SKIP"'
	[ -n "$output" ] || skip "every cell was skipped on this host (see $CI_OUT/summary.md)"
}

@test "every cell that booted kept its logs" {
	for c in $(cells_where '$7 != "SKIP" || $9 != "-"'); do
		d=$CI_OUT/logs/${c//\//_}
		[ -s "$d/console.log" ] || fail "$c: no $d/console.log"
		[ -e "$d/results.txt" ] || fail "$c: no $d/results.txt"
	done
}

@test "forced-AVIC L1s have KVM's real APIC-access slot: probed, and single 0x6882000 gets EEXIST" {
	run cells_where '$6 == "forced" && $7 != "SKIP"'
	[ -n "$output" ] || skip "no forced-AVIC cell ran (narrowed, or none runnable here)"
	for c in "${lines[@]}"; do
		got=$(awk -F'\t' -v c="$c" '$1 == c { print $11 }' "$CELLS_TSV")
		[[ $got == *0xfee00000-0xfee00fff* ]] || fail "$c: probe with irqchip on found '$got', not 0xfee00000"
		[ "$(run_of "$c" s1na-6882000)" = "4 4 0 pass" ] || fail "$c: s1na-6882000 is '$(run_of "$c" s1na-6882000)'"
		[ "$(run_of "$c" p1na-6882000)" = "0 0 1 pass" ] || fail "$c: p1na-6882000 is '$(run_of "$c" p1na-6882000)'"
	done
}

@test "TCG L1s without AVIC have no reserved range (TCG has no APIC virtualization)" {
	run cells_where '$4 == "tcg" && $6 == "off" && $7 != "SKIP"'
	[ -n "$output" ] || skip "no TCG cell without AVIC ran"
	for c in "${lines[@]}"; do
		got=$(awk -F'\t' -v c="$c" '$1 == c { print $11 "/" $12 }' "$CELLS_TSV")
		[ "$got" = "none/none" ] || fail "$c: probed '$got'"
	done
}

@test "the emulated page reproduces the report's boundary in every L1: 0x11ff000 boots, 0x1200000 exit 4" {
	run cells_where '$7 != "SKIP"'
	[ -n "$output" ] || skip "no cell ran"
	for c in "${lines[@]}"; do
		a=$(run_of "$c" s1ea-11ff000) b=$(run_of "$c" s1ea-1200000)
		[ -z "$a$b" ] && continue # a narrowed run set
		[ "$a" = "0 0 1 pass" ] || fail "$c: s1ea-11ff000 is '$a'"
		[ "$b" = "4 4 0 pass" ] || fail "$c: s1ea-1200000 is '$b'"
	done
}

@test "split boots every size in every L1 that ran" {
	run awk -F'\t' 'NR > 1 && $2 ~ /^p/ && !($4 == 0 && $5 == 1)' "$RUNS_TSV"
	assert_output ""
}
