# shellcheck shell=bash
# ci/hw/hw-regress: a phase is `vmm --probe` with the irqchip on and off, then every host cell
# judged by the rule over what was probed (runs.tsv, phases.tsv); and the nested cells, through
# ci/matrix/run-matrix ACCEL=kvm. Functions only.

NESTED_VERDICT='' NESTED_WHY=''

# tsv_row FILE FIELD...: one tab-separated line appended to FILE.
tsv_row() {
	local f=$1 IFS=$'\t'
	shift
	printf '%s\n' "$*" >>"$f"
}

# probe IRQCHIP LOGDIR: sets P_RC and P_RANGES ("a-b;c-d" or "none") from `vmm --probe`.
probe() {
	local log=$2/probe-irqchip-$1.txt
	P_RC=0
	run_child timeout -k 5 $((HW_RUN_TIMEOUT + 15)) "$VMM" --probe --irqchip "$1" >"$log" 2>&1 || P_RC=$?
	P_RANGES=$(probe_ranges "$log")
}

# run_phase NAME ASKED: probe with the irqchip on and off, run every host cell, judge each by
# the rule over what was probed, and append to runs.tsv and phases.tsv.
run_phase() {
	local name=$1 asked=$2 dir tok pon pon_rc poff poff_rc why='' verdict=PASS eff
	dir=$HW_OUT/logs/$name
	mkdir -p "$dir"
	eff=$HOST_PARAMS
	[[ $name != host ]] && eff=$(params_now)
	probe on "$dir"
	pon=$P_RANGES pon_rc=$P_RC
	probe off "$dir"
	poff=$P_RANGES poff_rc=$P_RC
	say "[$name] probe: irqchip on: $pon (exit $pon_rc), irqchip off: $poff (exit $poff_rc)"
	if [[ $pon_rc != 0 || $poff_rc != 0 ]]; then
		verdict=FAIL why="vmm --probe failed (exit $pon_rc/$poff_rc): see logs/$name/probe-*.txt"
	fi
	tally_reset
	for tok in "${HOST_TOKENS[@]}"; do
		token_parse "$tok"
		if [[ $TK_IRQCHIP == on ]]; then run_cell "$name" "$tok" "$pon"; else run_cell "$name" "$tok" "$poff"; fi
	done
	if [[ $verdict == PASS ]] && ((TALLY["fail"] + TALLY["timeout"] > 0)); then
		verdict=FAIL why="${TALLY[fail]} run(s) failed, ${TALLY[timeout]} timed out"
	fi
	[[ $verdict == PASS ]] || BAD=$((BAD + 1))
	say "[$name] $verdict: $(tally_line pass fail timeout)${why:+ ($why)}"
	tsv_row "$HW_OUT/phases.tsv" "$name" "$asked" "$eff" "$pon_rc" "$pon" "$poff_rc" "$poff" \
		"${TALLY[pass]}" "${TALLY[fail]}" "${TALLY[timeout]}" "$verdict" "${why:--}"
}

# run_cell PHASE TOKEN PROBED: one VMM run of a host cell, judged by the rule over PROBED (the
# ranges of its irqchip setting), tallied, and appended to runs.tsv; its log in logs/PHASE/.
run_cell() {
	local name=$1 tok=$2 log=$HW_OUT/logs/$1/$2.log exp rc=0 hello=0 mark t0 ms
	local -a args
	exp=$(expected_rc "$tok" "$3")
	IFS=, read -ra args <<<"$(token_args "$tok")"
	t0=$(date +%s%N)
	# -v: the memory map and the guest's results go to the log (stderr), hello to stdout.
	run_child timeout -k 5 $((HW_RUN_TIMEOUT + 15)) "$VMM" --timeout "$HW_RUN_TIMEOUT" -v "${args[@]}" \
		>"$log" 2>&1 || rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	grep -q 'hello, world!' "$log" && hello=1
	mark=$(run_mark "$exp" "$rc" "$hello")
	tally "$mark"
	[[ $mark == pass ]] || say "[$name] $tok: $mark: exit $rc, hello $hello, expected $exp (logs/$name/$tok.log)"
	tsv_row "$HW_OUT/runs.tsv" "$name" "$tok" "$exp" "$rc" "$hello" "$mark" "$ms"
}

# skip_phase NAME ASKED WHY: a phase that could not run.
skip_phase() {
	tsv_row "$HW_OUT/phases.tsv" "$1" "$2" - - - - - 0 0 0 SKIP "$3"
	say "[$1] SKIP: $3"
}

# fail_phase NAME ASKED WHY: a phase whose module could not be (re)loaded.
fail_phase() {
	BAD=$((BAD + 1))
	tsv_row "$HW_OUT/phases.tsv" "$1" "$2" - - - - - 0 0 0 FAIL "$3"
}

# nested_reason: why the nested cells cannot run here (nothing when they can).
nested_reason() {
	local n
	if [[ $HW_NESTED == 0 ]]; then
		echo "turned off (HW_NESTED=0)"
	elif [[ -n $KVM_WHY ]]; then
		echo "$KVM_WHY"
	elif [[ $VIRT == none ]]; then
		echo "this host's CPU shows no vmx/svm${OTHER_KVM:+ (its KVM comes from $OTHER_KVM)}, so -accel kvm -cpu host gives L1 no virtualization to nest"
	elif [[ $MOD_STATE == 'not loaded' ]]; then
		echo "$VMOD is not loaded${OTHER_KVM:+ (KVM here comes from $OTHER_KVM)}"
	elif n=$(param "$VMOD" nested) && [[ $(norm "${n:-0}") != 1 ]]; then
		echo "$VMOD nested=${n:-absent}: L1 gets no $VIRT (modprobe $VMOD nested=1)"
	elif ! command -v qemu-system-x86_64 >/dev/null; then
		echo "qemu-system-x86_64 is missing (make deps)"
	fi
}

# run_nested: the nested cells (ci/matrix/run-matrix ACCEL=kvm, reports in HW_OUT/nested), or, where
# they cannot run, the reason and what ci/matrix/run-matrix --list would run; sets NESTED_VERDICT/WHY.
run_nested() {
	local rc=0 cells=$HW_OUT/nested/cells.tsv
	NESTED_WHY=$(nested_reason)
	if [[ -n $NESTED_WHY ]]; then
		NESTED_VERDICT=SKIP
		say "nested cells SKIP: $NESTED_WHY"
		# What ci/matrix/run-matrix would run here, and its own reasons (no boot).
		ACCEL=kvm CI_OUT=$HW_OUT/nested "$ROOT/ci/matrix/run-matrix" --list >"$HW_OUT/nested-list.txt" 2>&1 || true
		return
	fi
	say "nested cells: ACCEL=kvm ci/matrix/run-matrix, reports in $HW_OUT/nested/"
	run_child env ACCEL=kvm CI_OUT="$HW_OUT/nested" "$ROOT/ci/matrix/run-matrix" || rc=$?
	case $rc in
	0)
		NESTED_VERDICT=PASS
		if ! awk -F'\t' 'NR > 1 && $7 != "SKIP" { found = 1 } END { exit !found }' "$cells" 2>/dev/null; then
			NESTED_VERDICT=SKIP
			NESTED_WHY="ci/matrix/run-matrix skipped every cell, first: $(awk -F'\t' 'NR == 2 { print $13 }' "$cells" 2>/dev/null)"
		fi
		;;
	1) NESTED_VERDICT=FAIL NESTED_WHY="a cell failed or timed out: nested/summary.md" ;;
	*) NESTED_VERDICT=FAIL NESTED_WHY="ci/matrix/run-matrix exited $rc" ;;
	esac
	[[ $NESTED_VERDICT == PASS ]] || BAD=$((BAD + 1))
}
