# shellcheck shell=bash
# shellcheck disable=SC2034 # the host's facts are read by the other parts of ci/hw/hw-regress
# ci/hw/hw-regress: what the host is (CPU, kernel, KVM modules and their parameters, /dev/kvm,
# who else holds KVM), read from HW_PROC and HW_SYSFS. Functions only.

# cpuinfo FIELD: the first value of FIELD in cpuinfo.
cpuinfo() { sed -n "s/^$1[[:space:]]*: *//p" "$HW_PROC/cpuinfo" 2>/dev/null | head -n 1; }

# param MOD NAME: the value sysfs shows, commas for spaces and newlines; empty if absent.
param() {
	local f=$HW_SYSFS/module/$1/parameters/$2
	[[ -r $f ]] || return 0
	tr -s ' \n' ',,' <"$f" | sed 's/,$//'
}

# params_now: "name=value ..." of the vendor module's parameters the matrix cares about.
params_now() {
	local p out=''
	for p in "${VPARAMS[@]}"; do
		[[ -e $HW_SYSFS/module/$VMOD/parameters/$p ]] && out+="${out:+ }$p=$(param "$VMOD" "$p")"
	done
	echo "${out:--}"
}

# host_facts: sets what the report says of the host (host_cpu, host_modules, host_kvm_dev).
host_facts() {
	host_cpu
	host_modules
	host_kvm_dev
}

# host_cpu: CPU_VENDOR, CPU_MODEL, CPU_FLAGS, KERNEL, HOSTNAME_, VIRT (vmx|svm|none), CPU_AVIC and
# HYPERVISOR (1|0); VENDOR (intel|amd|unknown), its module VMOD and the parameters VPARAMS the
# matrix sets.
host_cpu() {
	CPU_VENDOR=$(cpuinfo vendor_id)
	CPU_MODEL=$(cpuinfo 'model name')
	CPU_FLAGS=" $(cpuinfo flags) "
	KERNEL=$(uname -r)
	HOSTNAME_=$(uname -n)
	VIRT=none
	[[ $CPU_FLAGS == *" svm "* ]] && VIRT=svm
	[[ $CPU_FLAGS == *" vmx "* ]] && VIRT=vmx
	CPU_AVIC=0
	[[ $CPU_FLAGS == *" avic "* ]] && CPU_AVIC=1
	HYPERVISOR=0
	[[ $CPU_FLAGS == *" hypervisor "* ]] && HYPERVISOR=1
	case $CPU_VENDOR in
	GenuineIntel) VENDOR=intel VMOD=kvm_intel VPARAMS=(enable_apicv flexpriority nested) ;;
	AuthenticAMD | HygonGenuine) VENDOR=amd VMOD=kvm_amd VPARAMS=(avic force_avic nested) ;;
	*) VENDOR=unknown VMOD='' VPARAMS=() ;;
	esac
}

# host_modules: KVM_MODS (every kvm module sysfs shows), OTHER_KVM (those that are not the
# vendor's, e.g. kvm_pvm), MOD_STATE (loaded, built-in, not loaded), and the vendor module's
# parameters as loaded: HOST_PARAMS ("name=value ..." or -) and HOST_PARAM[name].
host_modules() {
	local d p
	KVM_MODS=() OTHER_KVM=''
	for d in "$HW_SYSFS"/module/kvm "$HW_SYSFS"/module/kvm_*; do
		[[ -d $d ]] || continue
		KVM_MODS+=("${d##*/}")
		[[ ${d##*/} == kvm || ${d##*/} == "$VMOD" ]] || OTHER_KVM+="${OTHER_KVM:+, }${d##*/}"
	done
	MOD_STATE='not loaded'
	if [[ -n $VMOD && -d $HW_SYSFS/module/$VMOD ]]; then
		MOD_STATE=loaded
		[[ -e $HW_SYSFS/module/$VMOD/initstate ]] || MOD_STATE=built-in
	fi
	HOST_PARAMS=-
	declare -gA HOST_PARAM=()
	[[ $MOD_STATE != 'not loaded' ]] || return 0
	HOST_PARAMS=$(params_now)
	for p in "${VPARAMS[@]}"; do
		[[ -e $HW_SYSFS/module/$VMOD/parameters/$p ]] && HOST_PARAM[$p]=$(param "$VMOD" "$p")
	done
	return 0
}

# host_kvm_dev: KVM_WHY, why this user cannot use KVM_DEV (empty when it can).
host_kvm_dev() {
	if [[ ! -e $KVM_DEV ]]; then
		KVM_WHY="no $KVM_DEV on this host"
	elif [[ ! -r $KVM_DEV || ! -w $KVM_DEV ]]; then
		KVM_WHY="$KVM_DEV is not readable and writable for $(id -un)"
	else
		KVM_WHY=''
	fi
}

# kvm_users: "pid N (comm)" for every process with /dev/kvm or a KVM VM/vCPU file open.
kvm_users() {
	local fd t pid out='' last=''
	for fd in "$HW_PROC"/[0-9]*/fd/*; do
		t=$(readlink "$fd" 2>/dev/null) || continue
		case $t in
		"$KVM_DEV" | /dev/kvm | anon_inode:kvm-vm | anon_inode:kvm-vcpu*) ;;
		*) continue ;;
		esac
		pid=${fd#"$HW_PROC"/}
		pid=${pid%%/*}
		[[ $pid == "$last" || $pid == "$$" ]] && continue
		last=$pid
		out+="${out:+, }pid $pid ($(cat "$HW_PROC/$pid/comm" 2>/dev/null || echo '?'))"
	done
	echo "$out"
}
