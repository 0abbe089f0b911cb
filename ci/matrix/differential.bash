# shellcheck shell=bash
# "Kernel vs model", the three checks that keep kvm-as's host models honest, in one place:
# write_differential fills CI_OUT/differential.tsv (model_cell, kernel_cell, run, kernel_rc,
# model_rc, same), sets ndiff (how many rows differ) and says so when any do. Sourced by
# ci/matrix/run-matrix; called after every cell is judged; reads its tables (CELL, C_*, L1_*,
# CI_OUT, ROOT, logdir).
#   1. each model cell's runs against the same runs where the kernel has the slot (runs.tsv);
#   2. the strace logs of tests/kvm-as replayed on each host cell's kernel (kvm-as HOST
#      --replay --kvm in L1) against the same replay without the kernel here;
#   3. in each model cell, the devices the guest found hidden against kvm-as's hazards.

write_differential() {
	{
		printf 'model_cell\tkernel_cell\trun\tkernel_rc\tmodel_rc\tsame\n'
		diff_model_runs
		diff_replays
		diff_hazards
	} >"$CI_OUT/differential.tsv"
	ndiff=$(awk -F'\t' 'NR > 1 && $6 == "NO"' "$CI_OUT/differential.tsv" | wc -l)
	((ndiff == 0)) || echo "run-matrix: kernel vs model: $ndiff run(s) where kvm-as's model and the kernel disagree (differential.tsv)"
}

# diff_model_runs: each model cell's runs against the same runs where the kernel has the slot.
diff_model_runs() {
	local i cmp
	for i in "${!CELL[@]}"; do
		[[ -n ${L1_COMPARE[${C_L[i]}]:-} && ${C_VERDICT[i]} != SKIP ]] || continue
		for cmp in ${L1_COMPARE[${C_L[i]}]}; do
			awk -F'\t' -v m="${CELL[i]}" -v k="${C_K[i]}/$cmp" '
				FNR == 1 { next }
				$6 == "skip" || $4 == "-" { next }
				$1 == k { krc[$2] = $4 }
				$1 == m { mrc[$2] = $4; order[++n] = $2 }
				END {
					for (j = 1; j <= n; j++) {
						t = order[j]
						if (!(t in krc)) continue
						printf "%s\t%s\t%s\t%s\t%s\t%s\n", m, k, t, krc[t], mrc[t], (krc[t] == mrc[t]) ? "yes" : "NO"
					}
				}' "$CI_OUT/runs.tsv"
		done
	done
}

# diff_replays: the strace logs of tests/kvm-as, replayed on each cell's kernel (kvm-as HOST
# --replay --kvm in L1) against the same replay without the kernel here: same exit, and kernel
# and model agreeing on every call.
diff_replays() {
	local i h pb t krc agree mrc same
	local -a hargs
	for i in "${!CELL[@]}"; do
		h=${L1_HOST[${C_L[i]}]:-} pb=${L1_PHYSBITS[${C_L[i]}]:-}
		[[ -n $h && ${C_VERDICT[i]} != SKIP ]] || continue
		# the model gets the L1's address width, as L1's replay does (images/init: rig.physbits)
		hargs=("$h")
		[[ -z $pb ]] || hargs+=(--phys-bits "$pb")
		tr -d '\r' <"$(logdir "$i")/results.txt" 2>/dev/null | sed -n "s/^RIG replay trace=\([^ ]*\) model=$h rc=\([0-9]*\) agree=\([a-z-]*\) .*/\1 \2 \3/p" |
			while read -r t krc agree; do
				mrc=0
				"$ROOT/build/kvm-as" "${hargs[@]}" --replay "$ROOT/tests/kvm-as/$t" >/dev/null 2>&1 || mrc=$?
				same=NO
				[[ $krc == "$mrc" && $agree != no ]] && same=yes
				printf 'kvm-as %s --replay\t%s\treplay %s\t%s\t%s\t%s\n' "${hargs[*]}" "${CELL[i]}" "$t" "$krc" "$mrc" "$same"
			done
	done
}

# diff_hazards: the hazards no host reports: in each model cell, the in-kernel devices kvm-as
# names hidden by a slot (its "hazard:" lines) against those the guest found hidden (the VMM's
# -v "guest devices" line: its LAPIC and IOAPIC reads). Only the hazards of slots the guest ran
# with count (a slot of the VMM's -v layout, same number and base): a probe's slot, gone before
# the guest starts, hid a device only while it lived. A run whose guest read neither device
# (refused, irqchip off, no -v in the cell's vmmargs) gives no row.
diff_hazards() {
	local i m
	for i in "${!CELL[@]}"; do
		m=${L1_MODEL[${C_L[i]}]:-}
		[[ -n $m && ${C_VERDICT[i]} != SKIP ]] || continue
		tr -d '\r' <"$(logdir "$i")/console.log" 2>/dev/null | awk -v m="$m" -v c="${CELL[i]}" '
			function hidden(l, io) { return l && io ? "lapic+ioapic" : l ? "lapic" : io ? "ioapic" : "none" }
			function base(r) { sub(/^\[/, "", r); sub(/-.*/, "", r); sub(/^0x0*/, "0x", r); return r == "0x" ? "0x0" : r }
			/^=== rig run [0-9]+ [^ ]+: vmm / {
				tok = $5; sub(/:$/, "", tok); on = 1; dev = ""; n = 0; split("", live); next
			}
			!on { next }
			/kvm-as: .*: hazard: .* slot [0-9]+ \[/ {
				if (!match($0, / slot [0-9]+ \[0x[0-9a-f]+/)) next
				split(substr($0, RSTART + 1, RLENGTH - 1), w, " ")
				n++; hs[n] = w[2] " " base(w[3]); hd[n] = /in-kernel LAPIC/ ? "l" : "i"
			}
			/^vmm: slot +[0-9]+ \[/ { sub(/^vmm: slot +/, ""); live[$1 " " base($2)] = 1 }
			/guest devices: LAPIC / { dev = hidden(/LAPIC hidden/, /IOAPIC hidden/) }
			/^=== rig run [0-9]+ [^ ]+: rc=/ {
				on = 0
				if (dev == "") next
				hl = hi = 0
				for (j = 1; j <= n; j++) if (hs[j] in live) { if (hd[j] == "l") hl = 1; else hi = 1 }
				k = hidden(hl, hi)
				printf "kvm-as %s hazards\t%s\thazards %s\t%s\t%s\t%s\n", m, c, tok, dev, k, dev == k ? "yes" : "NO"
			}'
	done
}
