# shellcheck shell=bash
# shellcheck disable=SC2034 # the tables it fills are run-matrix's
# How ci/matrix/run-matrix boots its L1s: one ci/l1/l1-boot per boot group G (cells that share one
# boot, the module reloaded for each), and how a finished boot's logs are shared out to its
# cells. Sourced by run-matrix; reads its tables (G_CELLS, CELL, C_*, L1_*, KVER, IMAGES, TMP,
# CI_OUT, RUN_TIMEOUT, CELL_TIMEOUT) and fills G_DIR, C_START, RUNNING.

# start_boot G: one ci/l1/l1-boot for boot G; a one-cell boot logs into the cell's own directory.
start_boot() {
	local g=$1 i l dir replay=''
	local -a cells phases=()
	read -ra cells <<<"${G_CELLS[g]}"
	# Each cell's host model replays the traces on its kernel, after its runs (rig.replay).
	for i in "${cells[@]}"; do replay+="${replay:+,}${L1_HOST[${C_L[i]}]:--}"; done
	[[ $replay =~ ^[-,]*$ ]] && replay='' || replay=" rig.replay=$replay"
	i=${cells[0]} l=${C_L[${cells[0]}]}
	if ((${#cells[@]} == 1)); then
		dir=$(logdir "$i")
		phases=(--modargs "${L1_MODARGS[$l]:-}")
	else
		dir=$CI_OUT/logs/boot-${C_K[i]}_${C_A[i]}-$g
		for i in "${cells[@]}"; do phases+=(--phase "${L1_MODARGS[${C_L[i]}]:--}"); done
		i=${cells[0]}
	fi
	G_DIR[g]=$dir
	for i in "${cells[@]}"; do C_START[i]=$SECONDS; done
	local -a width=()
	[[ -z ${L1_PHYSBITS[$l]:-} ]] || width=(--phys-bits "${L1_PHYSBITS[$l]}")
	"$ROOT/ci/l1/l1-boot" --image "$IMAGES/${KVER[${C_K[i]}]}" --accel "${C_A[i]}" "${width[@]}" \
		--mod "kvm_${L1_VENDOR[$l]}" "${phases[@]}" --vmmargs "$(cell_vmmargs "$i")" \
		--append "${L1_APPEND[$l]}$replay" --runs "$(cell_runs "$i")" --run-timeout "$RUN_TIMEOUT" \
		--timeout $((CELL_TIMEOUT * ${#cells[@]})) --progress /dev/fd/3 "$dir" 3>&1 >"$TMP/boot.$g" 2>&1 &
	RUNNING[$!]=$g
}

# finish_boot G RC: give each cell of boot G its share of the logs, judge each cell.
finish_boot() {
	local g=$1 rc=$2 dir=${G_DIR[$1]} n=0 i d wall crc
	local -a cells
	read -ra cells <<<"${G_CELLS[g]}"
	if ((${#cells[@]} == 1)); then
		finish_cell "${cells[0]}" "$rc" "$TMP/boot.$g"
		return
	fi
	i=${cells[0]}
	wall=$((SECONDS - C_START[i]))
	boot_times "$dir" "$wall" "${#cells[@]}" >>"$TMP/boots.tsv"
	for i in "${cells[@]}"; do
		n=$((n + 1))
		d=$(logdir "$i")
		mkdir -p "$d"
		ln -sfn "../${dir##*/}" "$d/boot"
		# The lines before the first phase, then phase n's; its end is this cell's "RIG done".
		tr -d '\r' <"$dir/results.txt" | awk -v n="$n" '
			/^RIG phase n=/ { split($3, a, "="); ph = a[2] + 0; if (ph == n) print; next }
			/^RIG phase-done n=/ { split($3, a, "="); if (a[2] + 0 == n) print "RIG done " $4 " " $5; next }
			/^RIG done/ || /^$/ { next }
			ph == 0 || ph == n' >"$d/results.txt"
		tr -d '\r' <"$dir/console.log" | awk -v n="$n" '
			/^=== rig phase n=/ { split($4, a, "="); ph = a[2] + 0 }
			ph == 0 || ph == n' >"$d/console.log"
		crc=$rc
		if grep -q '^RIG done' "$d/results.txt"; then crc=0; elif [[ $rc == 0 ]]; then crc=1; fi
		C_SECS[i]=$(phase_seconds "$d/results.txt" "$dir/results.txt" "$wall")
		finish_cell "$i" "$crc" "$TMP/boot.$g"
	done
}

# phase_seconds CELL_RESULTS BOOT_RESULTS WALL: the cell's share of the boot's wall time, by its
# phase's share of L1's uptime (an emulator runs at a steady pace; Bochs' clock is its
# instruction count).
phase_seconds() {
	local start end last
	start=$(sed -n 's/^RIG phase n=.* ms=\([0-9]*\).*/\1/p' "$1" | head -n 1)
	end=$(sed -n 's/^RIG done runs=[0-9]* ms=\([0-9]*\).*/\1/p' "$1" | head -n 1)
	last=$(tr -d '\r' <"$2" | sed -n 's/.* ms=\([0-9]*\).*/\1/p' | tail -n 1)
	if [[ -n $start && -n $end && -n $last && $last -gt 0 ]]; then
		echo $(((end - start) * $3 / last))
	else
		echo 0
	fi
}

# boot_times DIR WALL NCELLS: one boots.tsv row: where a shared boot's time went, in L1 uptime.
boot_times() {
	tr -d '\r' <"$1/results.txt" | awk -F'[ =]' -v dir="${1##*/}" -v wall="$2" -v nc="$3" '
		function ms(   i) { for (i = 1; i <= NF; i++) if ($i == "ms") return $(i + 1); return "" }
		/^RIG l1 / { init = ms() }
		/^RIG insmod file=kvm.ko / { kvm = ms() }
		/^RIG phase n=1 / { p1 = ms() }
		/^RIG devkvm / && !loaded { loaded = last }
		/^RIG phase-done / { phases = phases sep $4 ":" ms() - start; sep = "," }
		/^RIG phase n=/ { start = ms() }
		{ if (ms() != "") last = ms() }
		END { printf "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", dir, nc, wall, init, kvm, loaded, phases, last }'
}

