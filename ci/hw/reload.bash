# shellcheck shell=bash
# shellcheck disable=SC2034 # the run's state is read by the other parts of ci/hw/hw-regress
# ci/hw/hw-regress with RELOAD_KVM=1: the vendor module reloaded with each parameter set of the
# matrix's [l1] sections for this vendor, a phase under each, then the original parameters back
# (ORIG, TRACKED, RELOADED, RESTORE* are the main script's state: its traps restore too).
# Functions only.

RELOAD_STATE='' RELOAD_WHY=''
# The matrix's [l1] sections for this vendor: names and modargs, table order, duplicates once.
COMBO_NAME=() COMBO_ARGS=()

# read_combos: COMBO_NAME and COMBO_ARGS from MATRIX.
read_combos() {
	local line sec='' name='' vend='' margs='' n
	flush() {
		local k
		[[ -n $name && $vend == "$VENDOR" && -n $margs ]] || return 0
		for k in "${COMBO_ARGS[@]}"; do [[ $k == "$margs" ]] && return 0; done
		COMBO_NAME+=("$name") COMBO_ARGS+=("$margs")
	}
	while IFS= read -r line || [[ -n $line ]]; do
		line=${line%%#*}
		line=$(echo "$line" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
		[[ -z $line ]] && continue
		if [[ $line =~ ^\[([a-z0-9]+)[[:space:]]+([A-Za-z0-9._-]+)\]$ ]]; then
			flush
			sec=${BASH_REMATCH[1]} n=${BASH_REMATCH[2]} name='' vend='' margs=''
			[[ $sec == l1 ]] && name=$n
		elif [[ $sec == l1 && $line =~ ^(vendor|modargs)[[:space:]]*=[[:space:]]*(.*)$ ]]; then
			if [[ ${BASH_REMATCH[1]} == vendor ]]; then vend=${BASH_REMATCH[2]}; else margs=${BASH_REMATCH[2]}; fi
		fi
	done <"$MATRIX"
	flush
}

wait_kvm_dev() {
	local n
	for n in $(seq 50); do
		[[ -c $KVM_DEV && -r $KVM_DEV && -w $KVM_DEV ]] && return 0
		sleep 0.1
		: "$n"
	done
	return 1
}

# load_with ARGS...: unload the vendor module if loaded, load it with ARGS. 1 unload failed,
# 2 load failed.
load_with() {
	if [[ -d $HW_SYSFS/module/$VMOD ]]; then
		RELOADED=1
		echo "+ ${MODPROBE[*]} -r $VMOD" >>"$HW_OUT/logs/modprobe.log"
		"${MODPROBE[@]}" -r "$VMOD" >>"$HW_OUT/logs/modprobe.log" 2>&1 || return 1
	fi
	RELOADED=1
	echo "+ ${MODPROBE[*]} $VMOD $*" >>"$HW_OUT/logs/modprobe.log"
	"${MODPROBE[@]}" "$VMOD" "$@" >>"$HW_OUT/logs/modprobe.log" 2>&1 || return 2
	[[ -d $HW_SYSFS/module/$VMOD ]] || return 2
	wait_kvm_dev || true
	return 0
}

# orig_loaded: is the vendor module loaded with the original value of every tracked parameter?
orig_loaded() {
	local k
	[[ -d $HW_SYSFS/module/$VMOD ]] || return 1
	for k in "${TRACKED[@]}"; do [[ $(param "$VMOD" "$k") == "${ORIG[$k]}" ]] || return 1; done
	return 0
}

# restore_params: the vendor module back with the parameters it had, then check every one.
restore_params() {
	local -a args=()
	local k rc=0
	RESTORING=1
	for k in "${TRACKED[@]}"; do args+=("$k=${ORIG[$k]}"); done
	# Loaded with the original values already (e.g. nothing was unloaded yet): leave it be.
	if orig_loaded; then
		say "$VMOD has its original parameters: nothing to reload"
	else
		say "restoring $VMOD ${args[*]}"
		load_with "${args[@]}" || rc=$?
	fi
	restore_outcome "$rc" "${args[*]}"
	RESTORING=0
}

# restore_outcome RC ASKED: RESTORE and RESTORE_WARN from load_with's RC (0 when nothing was
# reloaded) and what the module reads now; a failure says how to restore by hand.
restore_outcome() {
	local rc=$1 asked=$2 k have diff='' warn=''
	if ((rc == 0)); then
		for k in "${!ORIG[@]}"; do
			have=$(param "$VMOD" "$k")
			[[ $have == "${ORIG[$k]}" ]] && continue
			if [[ " ${TRACKED[*]} " == *" $k "* ]]; then
				diff+="${diff:+, }$k=$have (was ${ORIG[$k]})"
			else
				warn+="${warn:+, }$k=$have (was ${ORIG[$k]})"
			fi
		done
	fi
	RELOADED=0
	if ((rc == 1)); then
		RESTORE="FAILED: $VMOD could not be unloaded (still in use?); it keeps the last parameter set"
	elif ((rc == 2)); then
		RESTORE="FAILED: modprobe $VMOD $asked failed (logs/modprobe.log)"
	elif [[ -n $diff ]]; then
		RESTORE="FAILED: $VMOD reads $diff after the reload"
	else
		RESTORE=restored
	fi
	RESTORE_WARN=$warn
	if [[ $RESTORE != restored ]]; then
		RESTORE+="; by hand: modprobe -r $VMOD && modprobe $VMOD $asked"
		echo "hw-regress: RESTORE $RESTORE" >&2
	else
		say "restored $VMOD: $(params_now)${warn:+ (differs outside the matrix parameters: $warn)}"
	fi
}

# reload_skip_reason: why the module must not or cannot be reloaded here (nothing when it can).
reload_skip_reason() {
	local users refcnt
	if [[ $(id -u) != 0 ]]; then
		echo "RELOAD_KVM=1 needs root (running as $(id -un), uid $(id -u))"
	elif [[ -z $VMOD ]]; then
		echo "unknown CPU vendor '$CPU_VENDOR': no KVM vendor module to reload"
	elif [[ $MOD_STATE == 'not loaded' ]]; then
		echo "$VMOD is not loaded${OTHER_KVM:+ (KVM here comes from $OTHER_KVM)}: nothing to reload"
	elif [[ $MOD_STATE == built-in ]]; then
		echo "$VMOD is built into the kernel: it cannot be reloaded"
	elif users=$(kvm_users) && [[ -n $users ]]; then
		echo "another VM is running ($users holds /dev/kvm or a KVM VM): not reloading $VMOD under it"
	elif refcnt=$(cat "$HW_SYSFS/module/$VMOD/refcnt" 2>/dev/null) && [[ ${refcnt:-0} != 0 ]]; then
		echo "another VM is running: $VMOD is in use (refcnt $refcnt), perhaps by a VM in another container"
	fi
}

# record_original: ORIG, every parameter of the vendor module now (to compare after the
# restore), and TRACKED, the ones the matrix sets (restored explicitly, whatever
# /etc/modprobe.d says).
record_original() {
	local k args
	for k in "$HW_SYSFS/module/$VMOD"/parameters/*; do
		[[ -r $k ]] && ORIG[${k##*/}]=$(param "$VMOD" "${k##*/}")
	done
	for args in "${COMBO_ARGS[@]}"; do
		for k in $args; do
			k=${k%%=*}
			[[ -v ORIG[$k] && " ${TRACKED[*]} " != *" $k "* ]] && TRACKED+=("$k")
		done
	done
	return 0
}

# reload_phase NAME ARGS: the module loaded with ARGS, then a phase; or SKIP (a parameter this
# kernel lacks, force_avic on a CPU without avic) or FAIL. Returns 1 when the module could not
# be unloaded: no later phase can run.
reload_phase() {
	local name=$1 args=$2 k why='' rc=0
	for k in $args; do
		[[ -v ORIG[${k%%=*}] ]] || why="$VMOD has no parameter ${k%%=*} on kernel $KERNEL"
	done
	if [[ -z $why && " $args " == *" force_avic=1 "* && $CPU_AVIC == 0 ]]; then
		why="force_avic=1 on a CPU without the avic flag can crash the host (the kernel warns so)"
	fi
	if [[ -n $why ]]; then
		skip_phase "$name" "$args" "$why"
		return 0
	fi
	say "[$name] modprobe $VMOD $args"
	# shellcheck disable=SC2086 # one word per parameter
	load_with $args || rc=$?
	case $rc in
	0) run_phase "$name" "$args" ;;
	1)
		fail_phase "$name" "$args" "$VMOD could not be unloaded (in use?)"
		return 1
		;;
	*) fail_phase "$name" "$args" "modprobe $VMOD $args failed (logs/modprobe.log)" ;;
	esac
	return 0
}

# run_reload: with RELOAD_KVM=1, every parameter set of the matrix, then the restore; sets
# RELOAD_STATE (not run, SKIP, measured) and RELOAD_WHY.
run_reload() {
	local i
	if [[ $RELOAD_KVM != 1 ]]; then
		RELOAD_STATE='not run' RELOAD_WHY='RELOAD_KVM=1 needed'
		return
	fi
	RELOAD_STATE=SKIP
	RELOAD_WHY=$(reload_skip_reason)
	if [[ -z $RELOAD_WHY ]]; then
		read_combos
		((${#COMBO_ARGS[@]} > 0)) || RELOAD_WHY="$MATRIX has no [l1] section for vendor $VENDOR"
	fi
	if [[ -n $RELOAD_WHY ]]; then
		say "reload SKIP: $RELOAD_WHY"
		return
	fi
	record_original
	RELOAD_STATE=measured
	say "reloading $VMOD with ${#COMBO_ARGS[@]} parameter set(s) of $(basename "$MATRIX"); original: $(params_now)"
	for i in "${!COMBO_ARGS[@]}"; do
		reload_phase "reload-${COMBO_NAME[i]}" "${COMBO_ARGS[i]}" || break
	done
	restore_params
	if [[ -n $INTERRUPTED ]]; then
		write_report
		exit 130
	fi
}
