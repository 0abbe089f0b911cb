# shellcheck shell=bash
# shellcheck disable=SC2016 # backquotes in the report are Markdown; $ in jq programs is jq's
# ci/hw/hw-regress's report: report.json written by jq (ci/hw/report.jq) from the run's state
# and TSVs, then report.md rendered from report.json (its tables by jq) and the logs. Functions
# only.

# write_report: the answers, then report.json and report.md (each written whole, then renamed).
write_report() {
	local verdict=PASS md=$HW_OUT/report.md js=$HW_OUT/report.json
	((BAD > 0)) && verdict=FAIL
	[[ $RESTORE == FAILED* ]] && verdict=FAIL
	[[ -n $INTERRUPTED ]] && verdict=INTERRUPTED
	compute_answers
	report_json "$verdict" >"$js.tmp" && mv -f "$js.tmp" "$js"
	report_md "$js" >"$md.tmp" && mv -f "$md.tmp" "$md"
}

# report_json VERDICT: report.json on stdout.
report_json() {
	local -a vp=() orig=()
	local k
	for k in "${VPARAMS[@]}"; do [[ -v HOST_PARAM[$k] ]] && vp+=("$k" "${HOST_PARAM[$k]}"); done
	for k in "${TRACKED[@]}"; do orig+=("$k" "${ORIG[$k]}"); done
	jq -n -f "$HERE/report.jq" \
		--arg generated "$(date -u +%FT%TZ)" \
		--arg rev "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)" \
		--arg verdict "$1" --arg interrupted "${INTERRUPTED:+SIG$INTERRUPTED}" \
		--arg hostname "$HOSTNAME_" --arg cpu_vendor "$CPU_VENDOR" --arg cpu_model "$CPU_MODEL" \
		--arg virt "$VIRT" --arg cpu_avic "$CPU_AVIC" --arg hypervisor "$HYPERVISOR" --arg kernel "$KERNEL" \
		--argjson kvm_modules "$(json_strings "${KVM_MODS[@]}")" \
		--arg vmod "$VMOD" --arg mod_state "$MOD_STATE" \
		--argjson vparams "$(json_strings "${VPARAMS[@]}")" --argjson host_params "$(json_pairs "${vp[@]}")" \
		--arg kvm_dev "$KVM_DEV" --arg kvm_why "$KVM_WHY" \
		--argjson answers "$(answers_json)" \
		--argjson phases "$(json_tsv "$HW_OUT/phases.tsv")" --argjson runs "$(json_tsv "$HW_OUT/runs.tsv")" \
		--arg nested_verdict "$NESTED_VERDICT" --arg nested_why "$NESTED_WHY" \
		--arg reload_state "$RELOAD_STATE" --arg reload_why "$RELOAD_WHY" \
		--argjson original "$(json_pairs "${orig[@]}")" \
		--arg restore "$RESTORE" --arg restore_warn "$RESTORE_WARN"
}

# report_md JSON: report.md on stdout, from report.json and the run's logs.
report_md() {
	local js=$1
	jq -r '"# scratchrig hardware regression: \(.host.name)\n",
		"\(.generated | fromdate | strftime("%Y-%m-%d %H:%M UTC")), scratchrig \(.scratchrig), `ci/hw/hw-regress`. Verdict: **\(.verdict)**\(if .interrupted then " (\(.interrupted))" else "" end).\n"' "$js"
	md_host "$js"
	printf '## Answers\n\n| question | answer | evidence |\n|---|---|---|\n'
	jq -r '.answers[] | "| \(.question) | \(.answer) | \(.evidence) |"' "$js"
	report_matrix_verdicts
	md_host_cells
	md_nested
	md_reload "$js"
	md_reading
}

# md_host JSON: the host table.
md_host() {
	jq -r '
		def orq: if . == "" then "?" else . end;
		def yn: if . then "yes" else "no" end;
		def shown: if . == null then "-" elif length == 0 then "none" else join(", ") end;
		.host as $h
		| "## The host\n\n| | |\n|---|---|",
		"| CPU | \($h.cpu_vendor | orq), \($h.cpu_model | orq) |",
		"| virtualization flags | vmx/svm: \($h.virt), avic: \($h.cpu_avic | yn), hypervisor: \($h.hypervisor | yn) |",
		"| kernel | \($h.kernel) |",
		"| KVM modules | \($h.kvm_modules | if length == 0 then "none" else join(" ") end) |",
		"| \(if $h.vendor_module == "" then "vendor module" else $h.vendor_module end) | \($h.vendor_module_state)\(
			[$h.params | to_entries[] | select(.value != null) | "\(.key)=\(.value)"]
			| if length > 0 then ": " + join(" ") else "" end) |",
		"| \($h.kvm_device) | \($h.kvm_unusable_reason // "usable") |",
		"| reserved ranges, irqchip on | \(.probe.irqchip_on | shown) |",
		"| reserved ranges, irqchip off | \(.probe.irqchip_off | shown) |\n"' "$1"
}

md_host_cells() {
	printf '\n## Host cells\n\n'
	if [[ -n $KVM_WHY ]]; then
		printf 'SKIP: %s.\n' "$KVM_WHY"
		return
	fi
	printf 'Judged by the rule of `ci/matrix/expect.bash` over what `vmm --probe` found: `single` exits 4\n'
	printf 'exactly when scratch covers a probed range; `check` also refuses a scratch over the\n'
	printf 'LAPIC/IOAPIC pages with the irqchip on; `split` always boots. Touch: %s. Marks: `ok N`,\n' "$HW_TOUCH"
	printf '**FAIL** N (want M), **TIMEOUT**. Logs: `logs/<phase>/<run>.log`.\n\n'
	report_table
}

md_nested() {
	printf '\n## Nested cells (ci/matrix/run-matrix, ACCEL=kvm)\n\n'
	case $NESTED_VERDICT in
	SKIP)
		printf 'SKIP: %s.\n' "$NESTED_WHY"
		if [[ -s $HW_OUT/nested-list.txt ]]; then
			printf '\nThe cells it would run, as `ci/matrix/run-matrix --list` sees this host:\n\n```\n'
			cat "$HW_OUT/nested-list.txt"
			printf '```\n'
		fi
		;;
	'') printf 'not run (interrupted before).\n' ;;
	*)
		printf '%s%s. Cells: %s. Details: `nested/summary.md`.\n' "$NESTED_VERDICT" "${NESTED_WHY:+: $NESTED_WHY}" \
			"$(awk -F'\t' 'NR > 1 { n[$7]++ } END { for (v in n) printf "%s%d %s", s, n[v], v; s = ", " }' \
				"$HW_OUT/nested/cells.tsv" 2>/dev/null)"
		;;
	esac
}

# md_reload JSON: the reload section, its table from report.json's phases.
md_reload() {
	printf '\n## Module reload (RELOAD_KVM=1)\n\n'
	case $RELOAD_STATE in
	'not run') printf 'not run: RELOAD_KVM=1 needed (as root, with no other VM running).\n' ;;
	SKIP) printf 'SKIP: %s.\n' "$RELOAD_WHY" ;;
	'') printf 'not run (interrupted before).\n' ;;
	*)
		printf 'Original %s parameters: %s. Restore: **%s**%s.\n\n' "$VMOD" "$(orig_list)" "${RESTORE:-not done}" \
			"${RESTORE_WARN:+ (differs outside the matrix parameters: $RESTORE_WARN)}"
		printf '| phase | asked | reads | probed, irqchip on | probed, irqchip off | runs | verdict |\n'
		printf '|---|---|---|---|---|---|---|\n'
		jq -r 'def shown: if . == null then "-" elif length == 0 then "none" else join(", ") end;
			.phases[] | select(.phase != "host")
			| "| \(.phase) | \(.asked) | \(.reads) | \(.probe_irqchip_on | shown) | \(.probe_irqchip_off | shown) | \(.pass) pass, \(.fail) fail, \(.timeout) timeout | \(.verdict)\(if .reason then ": " + .reason else "" end) |"' "$1"
		;;
	esac
}

md_reading() {
	cat <<'EOF'

## Reading a failure

- a **FAIL** cell: the run exited otherwise than the rule expects from the probe; its log is
  `logs/<phase>/<run>.log` (token `<layout s|p|c><irqchip 1|0>n<touch a|n>-<size>`, ci/lib/tokens.sh).
- `single` exit 4 where the probe found nothing, or exit 0 over a probed range: KVM and the probe disagree.
- `split` not exit 0: the fix does not hold on this host; that is the regression to report.
- a probe failure: `logs/<phase>/probe-irqchip-*.txt`; a module reload failure: `logs/modprobe.log`.
EOF
}

# report_matrix_verdicts: where this host cannot answer the report's claims itself, kvm_intel's
# own answers from the last matrix run's Intel cells (ci/matrix/verdicts over HW_MATRIX_OUT).
report_matrix_verdicts() {
	local dir=${HW_MATRIX_OUT:-$ROOT/build/ci} table
	printf '\n## The report'"'"'s claims, answered by kvm_intel in the matrix\n\n'
	if table=$("$ROOT/ci/matrix/verdicts" "$dir" 2>/dev/null); then
		printf 'From the Intel cells of the last `make ci-matrix` (%s, %s; Bochs L1s unless the\n' "$dir" \
			"$(date -u -r "$dir/cells.tsv" '+%Y-%m-%d %H:%M UTC')"
		printf 'matrix ran on an Intel host): the same questions, answered by kvm_intel itself.\n\n%s\n' "$table"
	else
		printf 'not available: no Intel cell in %s (make ci-matrix CELLS='"'"'*/bochs-*'"'"').\n' "$dir"
	fi
}

orig_list() {
	local k out=''
	for k in "${TRACKED[@]}"; do out+="${out:+ }$k=${ORIG[$k]}"; done
	echo "${out:--}"
}

# report_table: host cells (and every reload phase) as sizes x (layout, irqchip).
report_table() {
	awk -F'\t' '
		NR == 1 { next }
		{
			tok = $2; size = tok; sub(/^[^-]*-/, "", size); col = substr(tok, 1, 2)
			if (!((($1) SUBSEP size) in seen)) { seen[$1, size] = 1; rows[$1] = rows[$1] " " size }
			if (!($1 in ph)) { ph[$1] = ++nph; phn[nph] = $1 }
			m = ($6 == "pass") ? "ok " $4 : ($6 == "timeout") ? "**TIMEOUT**" : "**FAIL** " $4 " (want " $3 ")"
			cell[$1, size, col] = m
		}
		END {
			split("s1 s0 p1 p0 c1 c0", cols, " ")
			name["s1"] = "single, irqchip on"; name["s0"] = "single, off"; name["p1"] = "split, on"
			name["p0"] = "split, off"; name["c1"] = "check, on"; name["c0"] = "check, off"
			for (i = 1; i <= nph; i++) {
				p = phn[i]
				printf "%s| %s: size |", (i > 1 ? "\n" : ""), p
				for (j = 1; j <= 6; j++) printf " %s |", name[cols[j]]
				printf "\n|---|---|---|---|---|---|---|\n"
				n = split(rows[p], sz, " ")
				for (r = 1; r <= n; r++) {
					printf "| 0x%s |", sz[r]
					for (j = 1; j <= 6; j++) printf " %s |", ((p, sz[r], cols[j]) in cell) ? cell[p, sz[r], cols[j]] : "-"
					printf "\n"
				}
			}
		}' "$HW_OUT/runs.tsv" | sed 's/| 0x\([0-9]*[KMG]\) |/| \1 |/'
}
