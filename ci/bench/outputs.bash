# shellcheck shell=bash
# shellcheck disable=SC2153 # the figures are ci/bench/run's
# ci/bench/run's outputs, written from its measurements: results.json, setup-vs-size.png and
# touch-vs-size.png (gnuplot), report.md, and docs/performance.md after a full run. Sourced by
# ci/bench/run (from the checkout's top) once everything is measured; reads its tables ($DB,
# $RSS, $CHECKS) and figures.

# ---- results.json ------------------------------------------------------------------------
jstr() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }
{
	echo '{'
	echo "  \"generated\": $(jstr "$(date -u +%Y-%m-%dT%H:%M:%SZ)"),"
	echo "  \"quick\": $([[ $QUICK == 1 ]] && echo true || echo false),"
	echo "  \"wall_seconds\": $WALL,"
	echo "  \"ratio_basis\": \"median\","
	echo "  \"machine\": {\"kernel\": $(jstr "$KERNEL"), \"cpu\": $(jstr "$CPU"), \"nproc\": $NPROC," \
		"\"kvm\": $(jstr "$HOST_NOTE"), \"loadavg_before\": $(jstr "$LOAD_BEFORE")," \
		"\"loadavg_after\": $(jstr "$LOAD_AFTER")},"
	echo '  "measurements": ['
	awk -F'\t' '{
		gsub(/\\/, "\\\\", $3); gsub(/"/, "\\\"", $3)
		printf "%s    {\"name\": \"%s\", \"group\": \"%s\", \"command\": \"%s\", \"mean_s\": %s, \"stddev_s\": %s, \"median_s\": %s, \"user_s\": %s, \"system_s\": %s, \"min_s\": %s, \"max_s\": %s, \"runs\": %s}", sep, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11
		sep = ",\n"
	} END { print "" }' "$DB"
	echo '  ],'
	echo '  "peak_rss_kib": {'
	awk -F'\t' '{ printf "%s    \"%s at --gpa-top %s\": %s", sep, $1, $2, $3; sep = ",\n" } END { print "" }' "$RSS"
	echo '  },'
	echo "  \"touch\": {\"size_bytes\": $TOUCH_BYTES, \"guest_rate_gb_s\": $GUEST_RATE," \
		"\"minimal_touch_rate_gb_s\": $MTOUCH_RATE, \"host_first_touch_rate_gb_s\": $HOST_RATE," \
		"\"cpu_time_ratio_vmm_over_minimal_touch\": $CPU_RATIO},"
	echo "  \"kvm_as_qemu\": {\"status\": $(jstr "${QEMU_STATUS:-measured}")},"
	echo '  "checks": ['
	awk -F'\t' '{
		iv = ($7 != "") ? "[" $7 ", " $8 "]" : "null"
		gated = ($5 != "reported")
		printf "%s    {\"name\": \"%s\", \"value\": %s, \"interval95\": %s, \"target_max\": %s, \"unit\": \"%s\", \"gated\": %s, \"met\": %s, \"what\": \"%s\"}", sep, $1, $2, iv, gated ? $3 : "null", $4, gated ? "true" : "false", gated ? (($5 == "met") ? "true" : "false") : "null", $6
		sep = ",\n"
	} END { print "" }' "$CHECKS"
	echo '  ],'
	echo "  \"nested\": {\"status\": $(jstr "$NESTED_STATUS")," \
		"\"boots\": $NESTED_BOOTS, \"qemu_start_to_first_vmm_run_s\": ${NESTED_FIRST:-null}," \
		"\"l1_boot_total_s\": ${NESTED_TOTAL:-null}, \"touch_256m_in_l1_ms\": {\"thp_on\": ${THP_ON_MS:-null}," \
		"\"thp_off\": ${THP_OFF_MS:-null}}, \"setup_in_l1_ms\": {\"288K\": ${L1_SETUP_48000:-null}," \
		"\"3G\": ${L1_SETUP_3G:-null}, \"60G\": ${L1_SETUP_60G:-null}}, \"ci_matrix_wall_s\": ${MATRIX_WALL:-null}," \
		"\"ci_matrix_summary_time\": $(jstr "$MATRIX_WHEN")},"
	echo "  \"bochs\": {\"status\": $(jstr "$BOCHS_STATUS"), \"start_to_first_vmm_run_s\": ${BOCHS_FIRST:-null}," \
		"\"one_config_boot_s\": ${BOCHS_ONE:-null}, \"three_configs_one_boot_s\": ${BOCHS_SHARED:-null}},"
	if [[ -s $BOCHS_COST ]]; then
		jq -R -s --arg status "$BOCHS_COST_STATUS" 'split("\n") | map(select(length > 0) | split("\t")) |
			.[0] as $h | {status: $status, runs: (.[1:] | map([$h, .] | transpose | map({(.[0]): .[1]}) | add))}' \
			"$BOCHS_COST" | sed '1s/^/  "bochs_cost": /; $s/$/,/'
	else
		echo "  \"bochs_cost\": {\"status\": $(jstr "$BOCHS_COST_STATUS")},"
	fi
	echo "  \"targets_met\": $MET, \"targets_missed\": $MISSED"
	echo '}'
} >"$OUT/results.json"

# ---- plots -------------------------------------------------------------------------------
# size_bytes median_s min_s max_s
curve() {
	local size name
	for pair in "$@"; do
		size=${pair%%=*} name=${pair#*=}
		printf '%s %s %s %s\n' "$size" "$(get "$name" median)" "$(get "$name" min)" "$(get "$name" max)"
	done
}
curve $((288 << 10))=none-288K $((16 << 20))=none-16M $((256 << 20))=none-256M \
	$((1 << 30))=none-1G $((3 << 30))=none-3G >"$OUT/data/none32.dat"
curve $((1 << 30))=none36-1G $((8 << 30))=none36-8G $((16 << 30))=none36-16G \
	$((32 << 30))=none36-32G $((60 << 30))=none-60G >"$OUT/data/none36.dat"
touch_pairs() {
	local prefix=$1 s
	for s in "${CURVE_TOUCH[@]}" "$TOUCH"; do
		case $s in
		*M) echo "$((${s%M} << 20))=$prefix-$s" ;;
		*G) echo "$((${s%G} << 30))=$prefix-$s" ;;
		esac
	done
}
mapfile -t pairs < <(touch_pairs all)
curve "${pairs[@]}" >"$OUT/data/touch-vmm.dat"
mapfile -t pairs < <(touch_pairs mtouch)
curve "${pairs[@]}" >"$OUT/data/touch-minimal.dat"
mapfile -t pairs < <(touch_pairs host)
curve "${pairs[@]}" >"$OUT/data/touch-host.dat"

gnuplot <<EOF || die "gnuplot failed" 3
set terminal pngcairo size 900,560 noenhanced
set grid
set key top left
set logscale x 2
set xtics ("256K" 2**18, "1M" 2**20, "4M" 2**22, "16M" 2**24, "64M" 2**26, "256M" 2**28, \
	"1G" 2**30, "4G" 2**32, "16G" 2**34, "64G" 2**36)
set xlabel "scratch size (log scale)"
set output "$OUT/setup-vs-size.png"
set title "build/vmm --touch none: whole run against scratch size (median, min..max)"
set ylabel "ms"
set yrange [0:*]
plot "$OUT/data/none32.dat" using 1:(\$2*1000):(\$3*1000):(\$4*1000) with yerrorlines title "--gpa-top 32", \
     "$OUT/data/none36.dat" using 1:(\$2*1000):(\$3*1000):(\$4*1000) with yerrorlines title "--gpa-top 36", \
     $(get minimal-kvm median)*1000 with lines dashtype 2 title "minimal KVM program"
set output "$OUT/touch-vs-size.png"
set title "touch every 4 KiB page once: whole run against size (median, min..max)"
set ylabel "s"
set logscale y 10
set yrange [*:*]
plot "$OUT/data/touch-vmm.dat" using 1:2:3:4 with yerrorlines title "build/vmm --touch all", \
     "$OUT/data/touch-minimal.dat" using 1:2:3:4 with yerrorlines title "minimal-touch (guest)", \
     "$OUT/data/touch-host.dat" using 1:2:3:4 with yerrorlines title "host-touch (no KVM)"
EOF

# ---- report.md ---------------------------------------------------------------------------
fmt_ms() { calc "$1 * 1000" "${2:-2}"; }
cmd_of() { awk -F'\t' -v n="$1" '$1 == n { print $3 }' "$DB" | sed "s|$BUILD/||g"; }
row() { # NAME LABEL [CHECK] [REF]
	local name=$1 label=$2 chk=${3:-} ref=${4:-} r='' t='' v=''
	if [[ -n $chk ]]; then
		IFS=$'\t' read -r _ r t _ v _ lo hi < <(awk -F'\t' -v c="$chk" '$1 == c' "$CHECKS")
		r="${r}x${lo:+ (95%: $lo-${hi}x)}" t="≤ ${t}x"
		[[ $v != reported ]] || t='(not gated)'
	elif [[ -n $ref ]]; then
		r="$(ratio "$name" "$ref")x" t='(info)'
	else
		r='1 (reference)'
	fi
	printf "| %s | \`%s\` | %s ± %s | %s | %s | %s | %s |\n" "$label" "$(cmd_of "$name")" \
		"$(fmt_ms "$(get "$name" mean)")" "$(fmt_ms "$(get "$name" sd)")" "$(fmt_ms "$(get "$name" median)")" "$r" "$t" "$v"
}
{
	echo "# scratchrig benchmarks"
	echo
	echo "Generated by \`make bench\` (ci/bench/run$([[ $QUICK == 1 ]] && echo ' --quick: a smoke run, not comparable')) on $(date -u '+%Y-%m-%d %H:%M UTC'), in ${WALL} s."
	echo
	echo "Machine: kernel \`$KERNEL\`, CPU \`$CPU\`, nproc $NPROC; $HOST_NOTE;"
	echo "load average $LOAD_BEFORE before, $LOAD_AFTER after (other work on the host widens the spread)."
	echo
	echo "Whole-process times from hyperfine (\`-N\`, warm-up runs first; raw runs in \`hyperfine/*.json\`)."
	echo "Ratios are of **medians**, all taken in this one run. $MET targets met, $MISSED missed;"
	echo "$(awk -F'\t' '$5 == "reported"' "$CHECKS" | wc -l) reported, not gated (a ratio this host sets, not the rig)."
	echo
	echo "| measurement | command | mean ± σ (ms) | median (ms) | ratio | target | verdict |"
	echo "|---|---|---|---|---|---|---|"
	row minimal-kvm "minimal KVM program (reference)"
	row vmm-default "cold run, default scratch 288 KiB" cold
	row minimal-irqchip "minimal KVM program + KVM_CREATE_IRQCHIP" '' minimal-kvm
	row vmm-default-no-interrupts "cold run, --interrupts 0" '' minimal-kvm
	row vmm-default-irqchip-off "cold run, --irqchip off" '' minimal-kvm
	row vmm-plain "vmm --touch none (reference for kvm-as)"
	row vmm-kvm-as-none "the same under kvm-as none" kvm-as
	row vmm-plain-cpu0 "vmm --touch none, on CPU 0 only" '' vmm-plain
	row vmm-kvm-as-cpu0 "the same under kvm-as none, on CPU 0 only" '' vmm-plain-cpu0
	row slot-calls "1000 KVM_SET_USER_MEMORY_REGION calls (reference for one traced call)"
	row slot-calls-kvm-as "the same under kvm-as none: $(calc "($(get slot-calls-kvm-as median) - $(get slot-calls median)) * 1000" 0) us a call" '' slot-calls
	row slot-calls-floor "the same under floor-tracer, the ptrace floor: $(calc "($(get slot-calls-floor median) - $(get slot-calls median)) * 1000" 0) us a call (reference)"
	row slot-calls-kvm-as-trace "the same under kvm-as none --trace: $(calc "($(get slot-calls-kvm-as-trace median) - $(get slot-calls median)) * 1000" 0) us a call" kvm-as-floor
	if [[ -z $QEMU_STATUS ]]; then
		row qemu-plain "QEMU boot: SeaBIOS, boot sector, power-off (reference for kvm-as)"
		row qemu-kvm-as-none "the same QEMU boot under kvm-as none" kvm-as-qemu
	else
		echo "| QEMU boot under kvm-as none | | | | | ≤ 1.05x | TODO: $QEMU_STATUS |"
	fi
	row none-288K "setup, 288 KiB (reference)"
	row none-3G "setup, 3 GiB" setup-3G
	row none-60G "setup, 60 GiB" setup-60G
	row single-irqoff-6882000 "single, irqchip off, 0x6882000 (reference)"
	row split-irqoff-6882000 "split, irqchip off, 0x6882000" split-irqoff
	row single-irqoff-11ff000 "single, irqchip off, 0x11ff000 (reference)"
	row split-irqoff-11ff000 "split, irqchip off, 0x11ff000" split-irqoff-11ff000
	row single-irqon-6882000 "single, irqchip on, 0x6882000 (reference)"
	row split-irqon-6882000 "split, irqchip on, 0x6882000 (3 slots)" split-irqon
	row single-all-6882000 "single, touch all, 0x6882000 (reference)"
	row split-all-6882000 "split, touch all, 0x6882000" split-touch
	row "mtouch-$TOUCH" "minimal-touch $TOUCH (reference)"
	row "all-$TOUCH" "--touch all $TOUCH" touch
	row "all-$TOUCH-thp-off" "--touch all $TOUCH, --thp off (4 KiB host pages)" '' "all-$TOUCH"
	row "host-$TOUCH" "host first touch $TOUCH, no KVM" '' "mtouch-$TOUCH"
	IFS=$'\t' read -r _ v t _ m _ < <(awk -F'\t' '$1 == "rss-3G"' "$CHECKS")
	echo "| peak RSS, \`--touch none --scratch-size 3G\` | \`/usr/bin/time -f %M\`, largest of 5 | $(rss_of 3G) KiB | | $v MiB | ≤ $t MiB | $m |"
	echo
	echo "Touch rates ($TOUCH, median): the rig's guest verifies $GUEST_RATE GB/s of scratch (touch-all minus"
	echo "touch-none time); minimal-touch $MTOUCH_RATE GB/s (whole run); the host's own first touch of fresh"
	echo "anonymous memory $HOST_RATE GB/s. CPU time (user + system) of \`--touch all\` over minimal-touch: ${CPU_RATIO}x."
	echo
	echo "The ptrace floor: \`bench/floor-tracer\` runs slot-calls under kvm-as's own seccomp filter, ptrace"
	echo "options and start-up, stops at each memslot call's entry and exit and only resumes it (no registers"
	echo "read, no decoding, no trace): what any ptrace-based tracer pays here. kvm-as none --trace against it"
	echo "is kvm-as per traced call over that floor ($FLOOR_PAIRS interleaved pairs of 1000-call runs, start-up"
	echo "included; target ≤ ${FLOOR_TARGET}x)."
	echo "kvm-as none on the ~12 ms VMM run is reported, not gated: so short a run's ratio is set by how this"
	echo "host's idle CPUs wait for each stop's wake-up (the cpuidle note above), not by kvm-as."
	echo
	echo "The irqchip floor: the minimal program plus KVM_CREATE_IRQCHIP takes $(ratio minimal-irqchip minimal-kvm)x the minimal program"
	echo "here; the cold run is $(ratio vmm-default minimal-irqchip)x that floor (ci/bench/minimal-kvm.c names the kernel change behind it)."
	echo
	echo "Peak RSS of \`vmm --touch none\`: $(rss_of 288K) KiB at 288 KiB, $(rss_of 3G) KiB at 3 GiB, $(rss_of 60G) KiB at 60 GiB"
	echo "(--gpa-top 36). Kernel memory KVM allocates for the slots is not in RSS."
	echo
	echo "Plots: \`setup-vs-size.png\` (touch none against scratch size), \`touch-vs-size.png\` (touch all,"
	echo "minimal-touch and host first touch against size)."
	echo
	echo "## Nested"
	echo
	if [[ -n $NESTED_FIRST ]]; then
		echo "- QEMU start to the first VMM run's result in L1 (TCG): **$NESTED_FIRST s** (median of $NESTED_BOOTS boots: $NESTED_FIRSTS); the whole L1 boot: $NESTED_TOTAL s."
		echo "  $NESTED_STATUS."
		if [[ -n $THP_ON_MS && -n $THP_OFF_MS ]]; then
			echo "- \`--touch all --scratch-size 256M\` inside L1: **$THP_ON_MS ms with \`--thp on\`** (L1's NPT can map 2 MiB), $THP_OFF_MS ms with \`--thp off\`: $(calc "$THP_OFF_MS / $THP_ON_MS" 2)x."
		else
			echo "- TODO: touch-all in L1 with --thp on and off: a run failed (see $OUT/data/l1-thp-*/)."
		fi
		if [[ -n $L1_SETUP_48000 && -n $L1_SETUP_3G && -n $L1_SETUP_60G ]]; then
			echo "- Setup scaling inside L1 (NPT, TDP MMU; \`--touch none --gpa-top 36\`, medians of 3, 10 ms resolution):"
			echo "  288 KiB $L1_SETUP_48000 ms, 3 GiB $L1_SETUP_3G ms ($(calc "$L1_SETUP_3G / $L1_SETUP_48000" 2)x), 60 GiB $L1_SETUP_60G ms ($(calc "$L1_SETUP_60G / $L1_SETUP_48000" 2)x)."
		else
			echo "- TODO: setup scaling inside L1: a run failed (see $OUT/data/l1-setup/)."
		fi
	else
		echo "- TODO: QEMU start to the first VMM run in L1 under TCG — $NESTED_STATUS."
	fi
	if [[ -n $BOCHS_SHARED ]]; then
		echo "- Bochs (Intel L1): start to the first VMM run's result **$BOCHS_FIRST s**, the whole boot $BOCHS_ONE s."
		echo "  Three kvm_intel configurations: one boot each (before: 3 x the boot above) $(calc "3 * $BOCHS_ONE" 1) s, one boot reloading kvm_intel (after) **$BOCHS_SHARED s** ($(calc "3 * $BOCHS_ONE / $BOCHS_SHARED" 2)x). $BOCHS_STATUS."
	else
		echo "- TODO: Bochs L1 boot times — $BOCHS_STATUS."
	fi
	if [[ -s $BOCHS_COST ]]; then
		echo "- One Intel L1 (boot, then \`vmm --layout single --scratch-size 0x6882000\`), $BOCHS_COST_STATUS:"
		echo "  the project's Bochs 3.0 **$(bochs_cost rig cpu_s) s CPU**, $(bochs_cost rig wall_s) s wall (start-up $(bochs_cost rig startup_s) s);"
		echo "  Debian's bochs 2.7 **$(bochs_cost debian cpu_s) s CPU**, $(bochs_cost debian wall_s) s wall (start-up $(bochs_cost debian startup_s) s):"
		echo "  $(calc "$(bochs_cost rig cpu_s) / $(bochs_cost debian cpu_s)" 2)x the CPU (target ≤ 0.40x: $(awk -F'\t' '$1 == "bochs-cpu" { print $5 }' "$CHECKS")), $(calc "$(bochs_cost rig wall_s) / $(bochs_cost debian wall_s)" 2)x the wall time."
	else
		echo "- TODO: Bochs 2.7 against the project's build — $BOCHS_COST_STATUS."
	fi
	if [[ -s $BUILD/ci/boots.tsv && $(wc -l <"$BUILD/ci/boots.tsv") -gt 1 ]]; then
		echo "- Shared Bochs boots of the last matrix (L1 uptime ms: init, kvm.ko, phases): $(awk -F'\t' 'NR > 1 { printf "%s%s %s cells %s s wall (init %s, kvm.ko %s, phases %s)", sep, $1, $2, $3, $4, $5, $7; sep = "; " }' "$BUILD/ci/boots.tsv")."
	fi
	if [[ -n $MATRIX_WALL ]]; then
		echo "- Last \`make ci-matrix\` on this checkout: **$MATRIX_WALL s** wall ($BUILD/ci/summary.md, $MATRIX_WHEN)."
	else
		echo "- TODO: full \`make ci-matrix\` wall time — no $BUILD/ci/summary.md yet (run \`make ci-matrix\`)."
	fi
} >"$OUT/report.md"

# docs/performance.md: the figures a reader needs, from a full run in the checkout's own build.
if [[ $QUICK == 0 && $BUILD == build ]]; then
	{
		echo "# Performance"
		echo
		echo "What this page is for: what the rig's runs cost against minimal reference programs, what"
		echo "kvm-as adds to a traced command, and how long the nested L1s take, as ratios measured in one"
		echo "run on one machine. Regenerated by \`make bench\` (ci/bench/run); do not edit by hand."
		echo
		sed '1d' "$OUT/report.md"
	} >docs/performance.md.tmp
	mv -f docs/performance.md.tmp docs/performance.md
fi
