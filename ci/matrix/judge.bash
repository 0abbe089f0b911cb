# shellcheck shell=bash
# shellcheck disable=SC2034 # the tables it fills are run-matrix's
# How ci/matrix/run-matrix judges one finished cell: every run of it by the expectation rule
# (ci/matrix/expect.bash), then the cell. Sourced by run-matrix; reads its tables (CELL, C_*, L1_*,
# RUNSET, KVER, TMP, CELL_TIMEOUT) and appends to $TMP/runs.I and $TMP/cell.I.
#   finish_cell I RC BOOTLOG    RC: ci/l1/l1-boot's exit code (124: the boot timed out)

# judge_results I: read cell I's results.txt: what L1 read and probed (got, vendor, devkvm,
# probe_on, probe_off, of the caller) and one row per reported run (row), counted.
judge_results() {
	local i=$1 res line tok rrc hello ms exp mark apic_check=on
	res=$(logdir "$i")/results.txt
	[[ " $(cell_vmmargs "$i") " != *" --apic-check off "* ]] || apic_check=off
	[[ -r $res ]] || return 0
	while IFS= read -r line; do
		line=${line%$'\r'}
		case $line in
		"RIG l1 "*) [[ $line =~ vendor=([^ ]*) ]] && vendor=${BASH_REMATCH[1]} ;;
		"RIG param "*) line=${line#RIG param } && got[${line%%=*}]=${line#*=} ;;
		"RIG devkvm present=1") devkvm=1 ;;
		"RIG probe irqchip=on rc=0 "*) probe_on=${line##*ranges=} ;;
		"RIG probe irqchip=off rc=0 "*) probe_off=${line##*ranges=} ;;
		"RIG probe "*) why="vmm --probe failed: ${line#RIG }" verdict=FAIL ;;
		"RIG run "*)
			[[ $line =~ tok=([^ ]*)\ rc=([^ ]*)\ hello=([01])\ ms=([0-9]*) ]] || continue
			tok=${BASH_REMATCH[1]} rrc=${BASH_REMATCH[2]} hello=${BASH_REMATCH[3]} ms=${BASH_REMATCH[4]}
			token_valid "$tok" || continue
			exp=$(expected_rc "$tok" "$([[ ${tok:1:1} == 1 ]] && echo "$probe_on" || echo "$probe_off")" "$apic_check")
			mark=$(run_mark "$exp" "$rrc" "$hello")
			case $mark in
			pass) npass=$((npass + 1)) ;;
			timeout) ntime=$((ntime + 1)) ;;
			*) nfail=$((nfail + 1)) ;;
			esac
			row[$tok]=$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t-' "${CELL[i]}" "$tok" "$exp" "$rrc" "$hello" "$mark" "$ms")
			;;
		esac
	done <"$res"
}

# judge_unreported I RC: in table order, the runs L1 reported, the ones it could not judge
# (skip, with the reason) and the ones it never reported (lost to a panic, a crash or the
# boot timeout), into $TMP/runs.I.
judge_unreported() {
	local i=$1 rc=$2 l=${C_L[$1]} tok skip mark
	for tok in ${RUNSET[${L1_RUNS[$l]}]}; do
		skip=$(run_skip_reason "$l" "$tok")
		if [[ -n $skip ]]; then
			nskip=$((nskip + 1))
			row[$tok]=$(printf '%s\t%s\t0\t-\t0\tskip\t0\t%s' "${CELL[i]}" "$tok" "$skip")
		elif [[ -z ${row[$tok]:-} ]]; then
			mark=fail
			[[ $rc == 124 ]] && mark=timeout
			[[ $mark == fail ]] && nfail=$((nfail + 1)) || ntime=$((ntime + 1))
			row[$tok]=$(printf '%s\t%s\t-\t-\t0\t%s\t0\tnot reported by L1' "${CELL[i]}" "$tok" "$mark")
		fi
		printf '%s\n' "${row[$tok]}" >>"$TMP/runs.$i"
	done
}

# judge_cell I RC: the cell's verdict and why, from the boot's end and the runs' counts.
judge_cell() {
	local i=$1 rc=$2 l=${C_L[$1]} dir res
	dir=$(logdir "$i") res=$(logdir "$i")/results.txt
	if [[ $rc == 124 ]]; then
		verdict=TIMEOUT why="L1 still running after ${CELL_TIMEOUT}s (hung?), stopped: see console.log"
	elif [[ $rc != 0 ]]; then
		verdict=FAIL
		if grep -q 'Kernel panic' "$dir/console.log" 2>/dev/null; then
			why="L1 panicked: see console.log"
		elif [[ ! -s $res ]]; then
			why="no result lines from L1 (its results channel was lost, or it never reached init; l1-boot exit $rc): see console.log"
		elif ! grep -q '^RIG done' "$res"; then
			why="L1 ended without 'RIG done' (crash, lost results channel or QEMU error; l1-boot exit $rc): see console.log"
		else
			why="L1 ended early (l1-boot exit $rc): see console.log and l1.err"
		fi
	elif ((devkvm == 0)); then
		verdict=FAIL why="L1 has no /dev/kvm after loading kvm_${L1_VENDOR[$l]}"
	elif ((nfail > 0)); then
		verdict=FAIL why="$nfail run(s) failed"
	elif ((ntime > 0)); then
		verdict=TIMEOUT why="$ntime run(s) timed out"
	elif [[ $verdict == PASS ]]; then
		# A cell whose L1 did not get the parameters it asks for is a cell L1 cannot have.
		local mod="kvm_${L1_VENDOR[$l]}" kv want have lack
		for kv in ${L1_MODARGS[$l]:-}; do
			want=$(norm "${kv#*=}") have=$(norm "${got[$mod.${kv%%=*}]:-missing}")
			if [[ $want != "$have" ]]; then
				lack=$(l1_accel_lacks "${C_A[i]}" "${kv%%=*}")
				verdict=SKIP why="L1 could not get $mod.${kv%%=*}=${kv#*=} (it reads ${got[$mod.${kv%%=*}]:-missing}${lack:+: $lack})"
				break
			fi
		done
	fi
}

finish_cell() {
	local i=$1 rc=$2 bootlog=$3 l=${C_L[$1]} verdict=PASS why='' nfail=0 ntime=0 npass=0 nskip=0
	local probe_on=none probe_off=none vendor='?' devkvm=0 shown='' key
	local -A got=() row=()
	C_SECS[i]=${C_SECS[i]:-$((SECONDS - C_START[i]))}
	[[ -s $bootlog ]] && cat "$bootlog" >>"$(logdir "$i")/l1.err"
	judge_results "$i"
	judge_unreported "$i" "$rc"
	judge_cell "$i" "$rc"
	C_VERDICT[i]=$verdict
	for key in $(vendor_params "$l"); do
		shown+="${shown:+ }$key=${got[kvm_${L1_VENDOR[$l]}.$key]:-?}"
	done
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "${CELL[i]}" "${C_K[i]}" \
		"${KVER[${C_K[i]}]}" "${C_A[i]}" "${L1_VENDOR[$l]}" "${L1_APICV[$l]}" "$verdict" "${C_SECS[i]}" \
		"$vendor" "$shown" "$probe_on" "$probe_off" "${why:--}" "${L1_MODEL[$l]:--}" >>"$TMP/cell.$i"
	DONE=$((DONE + 1))
	printf '[%2d/%d] %-7s %-34s %4ss  %s\n' "$DONE" "$NCELLS" "$verdict" "${CELL[i]}" "${C_SECS[i]}" \
		"$npass pass, $nfail fail, $ntime timeout, $nskip skip${why:+ ($why)}"
}
