#!/usr/bin/env bats
# Asserts the verdicts of a finished matrix run (ci/matrix/run-matrix -> build/ci/). Used by
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
# 8 seconds 9 l1_vendor 10 params 11 probe_irqchip_on 12 probe_irqchip_off 13 reason 14 model).
cells_where() {
	awk -F'\t' "NR > 1 && ($1) { print \$1 }" "$CELLS_TSV"
}
# runs.tsv columns: 1 cell 2 run 3 expected 4 rc 5 hello 6 mark 7 ms 8 reason.
# run_of CELL TOKEN: "expected rc hello mark" of one run.
run_of() {
	awk -F'\t' -v c="$1" -v t="$2" '$1 == c && $2 == t { print $3, $4, $5, $6 }' "$RUNS_TSV"
}

@test "the matrix results and reports exist" {
	for f in cells.tsv runs.tsv junit.xml summary.md; do
		[ -s "$CI_OUT/$f" ] || fail "no $CI_OUT/$f: run ci/matrix/run-matrix (make ci-matrix) first"
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

@test "every verdict is one of PASS, SKIP, FAIL, TIMEOUT and every run mark one of pass, fail, timeout, skip" {
	run cells_where '$7 !~ /^(PASS|SKIP|FAIL|TIMEOUT)$/'
	assert_output ""
	run awk -F'\t' 'NR > 1 && $6 !~ /^(pass|fail|timeout|skip)$/' "$RUNS_TSV"
	assert_output ""
	# A skipped run gives its reason, and is never counted as passed.
	run awk -F'\t' 'NR > 1 && $6 == "skip" && ($8 == "" || $8 == "-" || $4 != "-")' "$RUNS_TSV"
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
	# Model cells (kvm-as) see their model's ranges by design: the kernel-vs-model check has them.
	run cells_where '$4 == "tcg" && $6 == "off" && $7 != "SKIP" && $14 == "-"'
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
	run awk -F'\t' 'NR > 1 && $2 ~ /^p/ && $6 != "skip" && !($4 == 0 && $5 == 1)' "$RUNS_TSV"
	assert_output ""
}

# Interrupt runs (tokens ending -iN): split, irqchip on, --interrupts N, -v in L1.
@test "interrupt runs: in every L1 with a real APIC they exit 0 and the log shows every count" {
	run awk -F'\t' 'NR > 1 && $2 ~ /-i[0-9]+$/ && $6 != "skip" { print $1 " " $2 }' "$RUNS_TSV"
	[ -n "$output" ] || skip "no interrupt run ran (narrowed, or only forced cells ran)"
	local c tok n got log
	while read -r c tok; do
		n=${tok##*-i}
		got=$(awk -F'\t' -v c="$c" -v t="$tok" '$1 == c && $2 == t { print $3, $4, $5, $6 }' "$RUNS_TSV")
		[ "$got" = "0 0 1 pass" ] || fail "$c: $tok is '$got' (expected, rc, hello, mark), not '0 0 1 pass'"
		log=$CI_OUT/logs/${c//\//_}/console.log
		got=$(sed -n "/^=== rig run [0-9]* $tok: vmm /,/^=== rig run [0-9]* $tok: rc=/p" "$log" | tr -d '\r')
		[[ $got == *"--interrupts $n "* ]] || fail "$c: $tok did not run with --interrupts $n: $got"
		# The guest waits for N of each and reports what it took: under TCG, more may arrive.
		[[ $got =~ guest:\ interrupts\ taken:\ ([0-9]+)\ one-shot\ timer,\ ([0-9]+)\ periodic\ timer,\ ([0-9]+)\ external ]] ||
			fail "$c: $tok: the log ($log) shows no 'guest: interrupts taken: ...' line"
		((BASH_REMATCH[1] == 1 && BASH_REMATCH[2] >= n && BASH_REMATCH[3] >= n)) ||
			fail "$c: $tok: ${BASH_REMATCH[0]}: want 1 one-shot, at least $n periodic and $n external"
	done <<<"$output"
}

@test "interrupt runs in forced-AVIC L1s are skipped with the reason, every other run there is judged" {
	run cells_where '$6 == "forced" && $7 != "SKIP"'
	[ -n "$output" ] || skip "no forced-AVIC cell ran (narrowed, or none runnable here)"
	local why="TCG ignores AVIC: the L2 guest's APIC is not real (reads 0), so interrupt delivery cannot be checked there"
	for c in "${lines[@]}"; do
		bad=$(awk -F'\t' -v c="$c" -v w="$why" '$1 == c && $2 ~ /-i[0-9]+$/ && !($6 == "skip" && $8 == w)' "$RUNS_TSV")
		[ -z "$bad" ] || fail "$c: interrupt runs not skipped with the reason: $bad"
		bad=$(awk -F'\t' -v c="$c" '$1 == c && $2 !~ /-i[0-9]+$/ && $6 == "skip"' "$RUNS_TSV")
		[ -z "$bad" ] || fail "$c: other runs skipped: $bad"
	done
	# The reports show them as skipped, not passed.
	grep -q '<skipped message="TCG ignores AVIC' "$CI_OUT/junit.xml" || fail "junit.xml has no skipped interrupt run"
	grep -q '^## Runs skipped' "$CI_OUT/summary.md" || fail "summary.md lists no skipped runs"
}

# The Intel cells (Bochs, or a real Intel host): what the kernel source says kvm_intel does
# (vmx_vcpu_create: the APIC-access page when flexpriority is on and the LAPIC in the kernel;
# the EPT identity map without unrestricted guest), asserted from ci/matrix/verdicts' answers.
@test "kernel vs model: every run of a model cell exits as in the cell where the kernel has the slot" {
	[ -s "$CI_OUT/differential.tsv" ] || fail "no $CI_OUT/differential.tsv"
	run awk -F'\t' 'NR > 1' "$CI_OUT/differential.tsv"
	[ -n "$output" ] || skip "no model cell was compared (its kernel cell did not run)"
	run awk -F'\t' 'NR > 1 && $6 != "yes"' "$CI_OUT/differential.tsv"
	assert_output ""
}

@test "kernel vs model: every host cell's kernel replays the traces of tests/kvm-as as its model does" {
	[ -s "$CI_OUT/differential.tsv" ] || fail "no $CI_OUT/differential.tsv"
	run awk -F'\t' 'NR > 1 && $3 ~ /^replay /' "$CI_OUT/differential.tsv"
	[ -n "$output" ] || skip "no cell with a host model ran"
	# at least one kernel with a real slot refused a replayed call, as its model did
	run awk -F'\t' 'NR > 1 && $3 ~ /^replay / && $1 != "kvm-as none --replay" && $4 == 4 && $6 == "yes"' "$CI_OUT/differential.tsv"
	[ -n "$output" ] || skip "no cell whose kernel has the slot ran"
	run awk -F'\t' 'NR > 1 && $3 ~ /^replay / && $6 != "yes"' "$CI_OUT/differential.tsv"
	assert_output ""
}

@test "Intel cells: kvm_intel answers the report's claims as its source says" {
	run "$NESTED_ROOT/ci/matrix/verdicts" "$CI_OUT"
	[ "$status" != 3 ] || skip "no Intel cell ran (make ci-matrix CELLS='*/bochs-*')"
	assert_success
	local out=$output
	[[ $out == *"kvm_intel's defaults keep a private APIC-access slot at 0xfee00000 (with the irqchip) | yes |"* ]] || fail "$out"
	[[ $out == *"the largest single scratch is 0x11FF000; 0x1200000 fails with EEXIST | yes |"* ]] || fail "$out"
	[[ $out == *'`enable_apicv=0` removes the slot (the report'"'"'s workaround) | no: the slot stays |'* ]] || fail "$out"
	[[ $out == *'`flexpriority=0` removes the slot | yes |'* ]] || fail "$out"
	[[ $out == *"the slot is born at KVM_CREATE_IRQCHIP | no: KVM_CREATE_VCPU creates it"* ]] || fail "$out"
	[[ $out == *'`unrestricted_guest=0` adds the EPT identity-map page 0xfffbc000 | yes'* ]] || fail "$out"
	[[ $out != *"split boots every size, with the APIC and interrupt checks | no"* ]] || fail "$out"
}

@test "Intel cells under full APICv: enable_apicv=Y read back, the report's claims, interrupts posted" {
	local on
	on=$(cells_where '$1 ~ /\/bochs-intel-on$/ && $7 != "SKIP"')
	if [ -z "$on" ]; then
		# Only the fallback (Debian's bochs 2.7) may skip them, and it must say so.
		run cells_where '$1 ~ /\/bochs-intel-on$/ && $7 == "SKIP" && $13 !~ /bochs 2.7 emulates no posted interrupts/'
		assert_output ""
		skip "no intel-on cell ran (the project's Bochs is not built here: make bochs)"
	fi
	local c
	for c in $on; do
		awk -F'\t' -v c="$c" '$1 == c { exit !($10 ~ /(^| )enable_apicv=Y( |$)/) }' "$CELLS_TSV" || fail "$c did not read back enable_apicv=Y"
	done
	run "$NESTED_ROOT/ci/matrix/verdicts" "$CI_OUT"
	assert_success
	[[ $output == *"with full APICv (enable_apicv=Y) the slot is there; the largest single scratch is 0x11FF000, 0x1200000 fails with EEXIST | yes |"* ]] || fail "$output"
	[[ $output == *"under full APICv too, the slot is born at KVM_CREATE_VCPU | yes |"* ]] || fail "$output"
	[[ $output == *"under full APICv interrupts reach the guest through virtual-interrupt delivery, in every layout | yes ("* ]] || fail "$output"
}

@test "the project's Bochs patches: each one's absence fails its check as its header says" {
	local tsv=$CI_OUT/bochs-proof.tsv
	[ -s "$tsv" ] || skip "no $tsv (ci/bochs/prove-patches did not run, or no project Bochs could be built)"
	local n
	n=$(find "$NESTED_ROOT/ci/bochs/patches" -name "*.patch" | wc -l)
	[ "$(awk -F'\t' 'NR > 1' "$tsv" | wc -l)" -eq "$n" ] ||
		fail "$tsv has not one row for each of the $n patches: it is from other patches (make bochs-check)"
	run awk -F'\t' 'NR > 1 && $6 != "PASS" { print $1 ": exit " $4 ", text seen " $5 " (want " $3 ")" }' "$tsv"
	assert_output ""
}

@test "the project's Bochs passes the kernel's APIC selftests in an APICv-on L1" {
	local t=$CI_OUT/bochs-selftests.txt
	[ -s "$t" ] || skip "no $t (make bochs-check did not run here)"
	grep -q 'enable_apicv=Y' "$t" || fail "the L1 did not run with enable_apicv=Y: $(head -n 1 "$t")"
	# Rows: test (with its arguments), rc, L1 seconds, result, summary.
	run grep -E '^[^#].* +(-|-?[0-9]+) +[0-9.-]+ +(fail|timeout|unfinished|not-run)( |$)' "$t"
	assert_output ""
	[ "$(grep -cE '^[^#].* +-?[0-9]+ +[0-9.]+ +(pass|skip)( |$)' "$t")" -ge 5 ] || fail "fewer than 5 selftests passed: $(cat "$t")"
}
