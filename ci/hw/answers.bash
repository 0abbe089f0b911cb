# shellcheck shell=bash
# ci/hw/hw-regress: the bug report's questions, answered from what the phases recorded
# (phases.tsv, runs.tsv, the runs' logs): ANS[key] the short answer, EV[key] its evidence.
# Functions and the questions only.

declare -A ANS=() EV=()
QKEYS=(apic_access_slot single_fails_0x1200000 single_passes_0x11ff000 split_boots_every_size
	workaround_enable_apicv_0 workaround_flexpriority_0 workaround_avic_0)
declare -A QTEXT=(
	[apic_access_slot]="Does KVM's APIC-access slot exist (vmm --probe, irqchip on)?"
	[single_fails_0x1200000]="Does --layout single fail at 0x1200000 (irqchip on)?"
	[single_passes_0x11ff000]="Does --layout single pass at 0x11FF000 (irqchip on)?"
	[split_boots_every_size]="Does --layout split boot every size?"
	[workaround_enable_apicv_0]="Does kvm_intel enable_apicv=0 (flexpriority left on) remove the slot?"
	[workaround_flexpriority_0]="Does kvm_intel flexpriority=0 remove the slot?"
	[workaround_avic_0]="Does kvm_amd avic=0 remove the slot?"
)

# phase_field PHASE COLUMN: one column of phases.tsv (1 phase .. 12 reason).
phase_field() { awk -F'\t' -v p="$1" -v c="$2" 'NR > 1 && $1 == p { print $c; exit }' "$HW_OUT/phases.tsv"; }
# run_row PHASE TOKEN: "expected rc hello mark" of one run.
run_row() { awk -F'\t' -v p="$1" -v t="$2" 'NR > 1 && $1 == p && $2 == t { print $3, $4, $5, $6; exit }' "$HW_OUT/runs.tsv"; }
# has_slot RANGES: does it hold a range over the APIC page 0xfee00000?
has_slot() {
	local -a r=()
	[[ $1 == none || $1 == - || -z $1 ]] && return 1
	IFS=';' read -ra r <<<"$1"
	range_hit 0xfee00000 0xfee00fff "${r[@]}"
}
# phase_with WORD...: the first measured reload phase whose asked parameters hold every WORD.
phase_with() {
	awk -F'\t' -v want="$*" 'NR > 1 && $1 ~ /^reload-/ && $11 != "SKIP" {
		n = split(want, w, " "); ok = 1; a = " " $2 " "
		for (i = 1; i <= n; i++) if (index(a, " " w[i] " ") == 0) ok = 0
		if (ok) { print $1; exit }
	}' "$HW_OUT/phases.tsv"
}

# answer_apic_slot: does the host's probe (irqchip on) find the slot?
answer_apic_slot() {
	local pon
	pon=$(phase_field host 5)
	if [[ -z $pon || $pon == - ]]; then
		ANS[apic_access_slot]="not measured: ${KVM_WHY:-no probe}"
	elif [[ $(phase_field host 4) != 0 ]]; then
		ANS[apic_access_slot]="not measured: vmm --probe failed"
	elif has_slot "$pon"; then
		ANS[apic_access_slot]=yes
		EV[apic_access_slot]="KVM refuses $pon with the irqchip on, $(phase_field host 7) with it off"
	else
		ANS[apic_access_slot]=no
		EV[apic_access_slot]="reserved with the irqchip on: $pon; off: $(phase_field host 7)"
	fi
}

# answer_single KEY SIZE WANT: single at SIZE with the irqchip on; WANT fail|pass.
answer_single() {
	local key=$1 size=$2 want=$3 row exp rc hello mark tok log
	tok=s1n$TOUCH-$size
	log=$HW_OUT/logs/host/$tok.log
	row=$(run_row host "$tok")
	if [[ -z $row ]]; then
		ANS[$key]="not measured: size $size not in HW_SIZES${KVM_WHY:+, or host cells skipped ($KVM_WHY)}"
		return
	fi
	read -r exp rc hello mark <<<"$row"
	if [[ $want == fail ]]; then
		[[ $rc == 4 ]] && ANS[$key]=yes || ANS[$key]=no
	else
		[[ $rc == 0 && $hello == 1 ]] && ANS[$key]=yes || ANS[$key]=no
	fi
	EV[$key]="$tok: exit $rc$([[ $hello == 1 ]] && echo ' with hello'); the rule expects $exp from the probe: $mark"
	if [[ $rc == 4 ]] && grep -q EEXIST "$log" 2>/dev/null; then
		EV[$key]+="; KVM refused the scratch slot with EEXIST"
	fi
	if [[ $rc == 0 ]] && grep -q 'covers the guest.s LAPIC page' "$log" 2>/dev/null; then
		EV[$key]+="; scratch is RAM over the LAPIC page there, so the guest skipped its APIC check and the APIC pages stayed untested"
	fi
}

# answer_split: did every split run of the host boot (exit 0 with hello)?
answer_split() {
	local rows bad n
	rows=$(awk -F'\t' 'NR > 1 && $1 == "host" && $2 ~ /^p/' "$HW_OUT/runs.tsv")
	if [[ -z $rows ]]; then
		ANS[split_boots_every_size]="not measured: ${KVM_WHY:-no host cells ran}"
		return
	fi
	n=$(echo "$rows" | wc -l)
	bad=$(echo "$rows" | awk -F'\t' '!($4 == 0 && $5 == 1) { printf "%s%s exit %s", s, $2, $4; s = ", " }')
	if [[ -z $bad ]]; then
		ANS[split_boots_every_size]=yes
		EV[split_boots_every_size]="$n split runs (sizes $HW_SIZES, irqchip on and off), all exit 0 with hello"
	else
		ANS[split_boots_every_size]=no EV[split_boots_every_size]="$bad"
	fi
}

# workaround_unmeasured KEY VENDOR: why a workaround question has no measurement, if it has none.
workaround_unmeasured() {
	if [[ $VENDOR != "$2" ]]; then
		ANS[$1]="not applicable: ${VENDOR^^} host (a kvm_$2 parameter)"
	elif [[ $RELOAD_STATE == SKIP ]]; then
		ANS[$1]="not measured: RELOAD_KVM=1 skipped: $RELOAD_WHY"
	elif [[ $RELOAD_STATE != measured ]]; then
		ANS[$1]="not measured: RELOAD_KVM=1 needed"
	else
		return 1
	fi
}

# answer_workaround KEY VENDOR WORKAROUND_WORDS BASELINE_WORDS...: does the reload phase with
# the workaround's parameters lose the slot that the first baseline phase with one has?
answer_workaround() {
	local key=$1 wk=$3 base b pw pb
	workaround_unmeasured "$key" "$2" && return
	shift 3
	pw=$(phase_with "$wk")
	if [[ -z $pw ]]; then
		ANS[$key]="not measured: no reload with $wk ran (see the reload table)"
		return
	fi
	for b in "$@"; do
		base=$(phase_with "$b")
		[[ -n $base ]] && has_slot "$(phase_field "$base" 5)" && break
	done
	[[ -n $base ]] || base=$(phase_with "$1")
	pb=$(phase_field "$base" 5)
	if has_slot "$(phase_field "$pw" 5)"; then
		ANS[$key]=no
		EV[$key]="with $wk ($pw, reads $(phase_field "$pw" 3)) the probe still finds $(phase_field "$pw" 5)"
	elif [[ -n $base ]] && has_slot "$pb"; then
		ANS[$key]=yes
		EV[$key]="slot with ${base#reload-} ($(phase_field "$base" 3)): $pb; none with $wk ($(phase_field "$pw" 3))"
	else
		ANS[$key]="moot: no slot even without it"
		EV[$key]="no slot with $wk ($(phase_field "$pw" 3)) nor with ${base:-the original parameters} ($(phase_field "${base:-host}" 3))"
	fi
}

compute_answers() {
	answer_apic_slot
	answer_single single_fails_0x1200000 1200000 fail
	answer_single single_passes_0x11ff000 11ff000 pass
	answer_split
	answer_workaround workaround_enable_apicv_0 intel "enable_apicv=0 flexpriority=1" \
		"enable_apicv=1 flexpriority=1"
	answer_workaround workaround_flexpriority_0 intel "enable_apicv=1 flexpriority=0" \
		"enable_apicv=1 flexpriority=1"
	answer_workaround workaround_avic_0 amd "avic=0" "avic=1 force_avic=1" "avic=1"
}

# answers_json: the answers as a JSON object, in question order: {KEY: {question, answer, evidence}}.
answers_json() {
	local k
	local -a a=()
	for k in "${QKEYS[@]}"; do a+=("$k" "${QTEXT[$k]}" "${ANS[$k]}" "${EV[$k]:-}"); done
	jq -cn '$ARGS.positional as $a | reduce range(0; $a | length; 4) as $i ({};
		.[$a[$i]] = {question: $a[$i + 1], answer: $a[$i + 2], evidence: $a[$i + 3]})' --args "${a[@]}"
}
