# shellcheck shell=bash
# The expectation rule of scratchrig runs, in one place: sourced by ci/matrix/run-matrix (runs inside
# nested L1 guests) and ci/hw/hw-regress (runs on the host's own /dev/kvm), so both judge a run
# the same way. Functions and constants only; nothing runs when this file is sourced.
#
# A run is a token such as s1na-6882000; ci/lib/tokens.sh holds its grammar and its one parser
# (token_parse, token_valid, token_args, tok_size, tok_irqs, tok_top, size_bytes), sourced here.
# -t36 puts scratch under --gpa-top 36 (-tHHHHHHHH under 0xHHHHHHHH), -vl creates the vCPU after the scratch slots (the rule
# is the same), -iN is an interrupt run: the guest must take one one-shot and N periodic LAPIC
# timer interrupts and N external IOAPIC ones (in L1 the VMM runs with -v, so the counts are in
# the log). The rule below is the same for it.
#
# The rule: with the scratch range [top + 1 - size, top] (top 2^32 - 1, 2^36 - 1 with -t36, 0xH with -tH)
# and R = the ranges `vmm --probe` found for that irqchip setting, plus 0xfee00000-0xfee00fff when
# the run emulates the APIC page:
#   single: exit 4 exactly when scratch overlaps R; else, with the irqchip on and the APIC check
#           on, 1 when scratch covers the IOAPIC page but not the LAPIC page (every host accepts
#           the slot, and the guest finds its IOAPIC hidden: no ioctl reports it); else 0 with
#           hello (RAM over the LAPIC page too: the VMM skips the check, the APIC is unreachable);
#   check:  exit 4 when scratch overlaps R, or (irqchip on) the LAPIC page 0xfee00000 or the
#           IOAPIC page 0xfec00000, which the VMM always keeps out of scratch; else 0 with hello;
#   split:  exit 0 with hello, always.
# A run passes when it exits as expected (and says hello when that is 0); exit 124, 137 or 143
# is a timeout; anything else fails.

# shellcheck source=ci/lib/tokens.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tokens.sh"
LAPIC_PAGE=0xfee00000-0xfee00fff
IOAPIC_PAGE=0xfec00000-0xfec00fff

# expected_rc TOKEN PROBED [APIC_CHECK]: the exit code a run must give; PROBED is "a-b;c-d" or
# "none"; APIC_CHECK is off when the run has --apic-check off (default on).
expected_rc() {
	local probed=$2 apic_check=${3:-on} lo top
	local -a res=()
	token_parse "$1" || return 1
	top=$(tok_top "$1")
	lo=$((top + 1 - $(size_bytes "$TK_SIZE")))
	[[ $probed != none ]] && IFS=';' read -ra res <<<"$probed"
	[[ $TK_EMULATE == 1 ]] && res+=("$LAPIC_PAGE")
	case $TK_LAYOUT in
	split) echo 0; return ;;
	check) [[ $TK_IRQCHIP == on ]] && res+=("$LAPIC_PAGE" "$IOAPIC_PAGE") ;;
	esac
	if range_hit "$lo" "$top" "${res[@]}"; then
		echo 4
	elif [[ $TK_LAYOUT == single && $TK_IRQCHIP == on && $apic_check == on ]] &&
		range_hit "$lo" "$top" "$IOAPIC_PAGE" && ! range_hit "$lo" "$top" "$LAPIC_PAGE"; then
		echo 1
	else
		echo 0
	fi
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

# norm VALUE: module parameter booleans as 1/0 (sysfs shows Y/N for some).
norm() { case $1 in Y | y | 1) echo 1 ;; N | n | 0) echo 0 ;; *) echo "$1" ;; esac; }
