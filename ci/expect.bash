# shellcheck shell=bash
# The expectation rule of scratchrig runs, in one place: sourced by ci/run-matrix (runs inside
# nested L1 guests) and ci/hw-regress (runs on the host's own /dev/kvm), so both judge a run
# the same way. Functions and constants only; nothing runs when this file is sourced.
#
# A run is a token <layout s|p|c><irqchip 1|0><emulate e|n><touch a|n>-<size: hex digits, or
# a number with K/M/G>[-t36][-vl][-i<N>] (images/init documents it), e.g. s1na-6882000. The
# optional -t36 puts scratch under --gpa-top 36 (top 0xfffffffff), -vl creates the vCPU after
# the scratch slots (--vcpu-order after-scratch: the rule is the same). The optional
# suffix -iN (irqchip on only) is an interrupt run: --interrupts N, the guest must take one
# one-shot and N periodic LAPIC timer interrupts and N external IOAPIC ones (and in L1 the VMM
# runs with -v, so the counts are in the log). The rule below is the same for it.
#
# The rule: with the scratch range [top + 1 - size, top] (top 2^32 - 1, or 2^36 - 1 with -t36) and R = the ranges `vmm --probe`
# found for that irqchip setting, plus 0xfee00000-0xfee00fff when the run emulates the APIC page:
#   single: exit 4 exactly when scratch overlaps R, else 0 with hello;
#   check:  exit 4 when scratch overlaps R, or (irqchip on) the LAPIC page 0xfee00000 or the
#           IOAPIC page 0xfec00000, which the VMM always keeps out of scratch; else 0 with hello;
#   split:  exit 0 with hello, always.
# A run passes when it exits as expected (and says hello when that is 0); exit 124, 137 or 143
# is a timeout; anything else fails.

# shellcheck disable=SC2034 # used by the scripts that source this file
TOKEN_RE='^[spc]([01][en][an]-([0-9a-f]+|[0-9]+[KMG])(-t36)?(-vl)?|1[en][an]-([0-9a-f]+|[0-9]+[KMG])(-t36)?(-vl)?-i[1-9][0-9]{0,2})$'
LAPIC_PAGE=0xfee00000-0xfee00fff
IOAPIC_PAGE=0xfec00000-0xfec00fff
TOP=$(((1 << 32) - 1)) # the VMM's default --gpa-top 32

# tok_size TOKEN: the size field of a run token; tok_irqs TOKEN: its -iN count, or empty.
tok_size() {
	local s=${1#*-}
	echo "${s%%-*}"
}
tok_irqs() { [[ $1 == *-*-i* ]] && echo "${1##*-i}"; return 0; }
# tok_top TOKEN: the last scratch byte the run asks for (--gpa-top).
tok_top() { if [[ $1 == *-t36* ]]; then echo $(((1 << 36) - 1)); else echo "$TOP"; fi; }

# size_bytes SIZE: a token's size (hex digits, or decimal with K/M/G) in bytes.
size_bytes() {
	case $1 in
	*K) echo $((${1%K} << 10)) ;;
	*M) echo $((${1%M} << 20)) ;;
	*G) echo $((${1%G} << 30)) ;;
	*) echo $((16#$1)) ;;
	esac
}

# expected_rc TOKEN PROBED: the exit code a run must give; PROBED is "a-b;c-d" or "none".
expected_rc() {
	local tok=$1 probed=$2 lo top
	local -a res=()
	top=$(tok_top "$tok")
	lo=$((top + 1 - $(size_bytes "$(tok_size "$tok")")))
	[[ $probed != none ]] && IFS=';' read -ra res <<<"$probed"
	[[ ${tok:2:1} == e ]] && res+=("$LAPIC_PAGE")
	case ${tok:0:1} in
	p) echo 0; return ;;
	c) [[ ${tok:1:1} == 1 ]] && res+=("$LAPIC_PAGE" "$IOAPIC_PAGE") ;;
	esac
	if range_hit "$lo" "$top" "${res[@]}"; then echo 4; else echo 0; fi
}

# range_hit LO HI RANGE...: does [LO, HI] overlap any inclusive "a-b" range?
range_hit() {
	local lo=$1 hi=$2 r
	shift 2
	for r in "$@"; do
		((${r%-*} <= hi && ${r#*-} >= lo)) && return 0
	done
	return 1
}

# run_mark EXPECTED RC HELLO: pass, timeout or fail, for a run that exited RC and did (1) or
# did not (0) print hello.
run_mark() {
	if [[ $2 == "$1" && ($1 != 0 || $3 == 1) ]]; then
		echo pass
	elif [[ $2 =~ ^(124|137|143)$ ]]; then
		echo timeout
	else
		echo fail
	fi
}

# token_args TOKEN: the VMM arguments a run token stands for, one per line (as images/init
# builds them inside L1, which also adds -v to an interrupt run); fails on a token that is not one.
token_args() {
	local tok=$1 size
	[[ $tok =~ $TOKEN_RE ]] || return 1
	case ${tok:0:1} in s) printf '%s\n' --layout single ;; p) printf '%s\n' --layout split ;; c) printf '%s\n' --layout check ;; esac
	case ${tok:1:1} in 1) printf '%s\n' --irqchip on ;; 0) printf '%s\n' --irqchip off ;; esac
	[[ ${tok:2:1} == e ]] && printf '%s\n' --emulate-apic-page
	case ${tok:3:1} in a) printf '%s\n' --touch all ;; n) printf '%s\n' --touch none ;; esac
	size=$(tok_size "$tok")
	[[ $size == *[KMG] ]] || size=0x$size
	printf '%s\n' --scratch-size "$size"
	[[ $tok != *-t36* ]] || printf '%s\n' --gpa-top 36
	[[ $tok != *-vl* ]] || printf '%s\n' --vcpu-order after-scratch
	[[ -z $(tok_irqs "$tok") ]] || printf '%s\n' --interrupts "$(tok_irqs "$tok")"
}

# norm VALUE: module parameter booleans as 1/0 (sysfs shows Y/N for some).
norm() { case $1 in Y | y | 1) echo 1 ;; N | n | 0) echo 0 ;; *) echo "$1" ;; esac; }
