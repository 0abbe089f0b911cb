# shellcheck shell=sh
# The run-token grammar, parsed in ONE place: POSIX sh, sourced by images/init (busybox sh in
# the L1 image, as /rig/lib/tokens.sh) and by ci/matrix/expect.bash (ci/matrix/run-matrix, ci/hw/hw-regress).
# Functions only; nothing runs when this file is sourced. Its variables are TK_* (the parsed
# fields) and _tk_* (scratch): no caller's variable is touched.
#
# A run TOKEN is <layout><irqchip><emulate><touch>-<size>[-t<top>][-vl][-i<N>], only [a-z0-9-] (no
# escaping anywhere, and 80 runs fit in the 2048-byte x86 kernel command line):
#   layout   s = --layout single, p = split, c = check
#   irqchip  1 = --irqchip on, 0 = off
#   emulate  e = --emulate-apic-page, n = not
#   touch    a = --touch all, n = none
#   size     --scratch-size: hex digits without 0x (6882000 = 0x6882000), or a decimal number
#            with K, M or G (256M, 1G)
#   -t36     --gpa-top 36: scratch at the top of 64 GiB (upstream's 64-bit layout)
#   -tHHHHHHHH  --gpa-top 0xHHHHHHHH, eight hex digits: the last scratch byte below 4 GiB
#            (-tfedfffff: scratch ends under the LAPIC page, so it can cover the IOAPIC's alone)
#   -vl      --vcpu-order after-scratch: KVM_CREATE_VCPU after the scratch slots
#   -iN      an interrupt run, irqchip on only, N in 1..999: --interrupts N (images/init also
#            adds -v, so that the guest's counts reach the console)
# The suffixes come in that order. E.g.
#   s1na-6882000  = --layout single --irqchip on --touch all --scratch-size 0x6882000
#   p1na-48000-i5 = --layout split --irqchip on --touch all --scratch-size 0x48000 --interrupts 5

# token_parse TOKEN: sets TK_LAYOUT (single|split|check), TK_IRQCHIP (on|off), TK_EMULATE (1|0),
# TK_TOUCH (all|none), TK_SIZE (as written: 6882000, 256M), TK_TOP (36, 8 hex digits or empty), TK_LATE (1 or
# empty) and TK_IRQS (N or empty); returns 1, with TK_* meaningless, when TOKEN is not a token.
token_parse() {
	TK_LAYOUT='' TK_IRQCHIP=off TK_EMULATE=0 TK_TOUCH=none TK_SIZE='' TK_TOP='' TK_LATE='' TK_IRQS=''
	case $1 in
	[spc][01][en][an]-?*) ;;
	*) return 1 ;;
	esac
	case $1 in
	s*) TK_LAYOUT='single' ;;
	p*) TK_LAYOUT='split' ;;
	*) TK_LAYOUT='check' ;;
	esac
	case $1 in ?1*) TK_IRQCHIP=on ;; esac
	case $1 in ??e*) TK_EMULATE=1 ;; esac
	case $1 in ???a*) TK_TOUCH=all ;; esac
	_tk_rest=${1#?????}
	TK_SIZE=${_tk_rest%%-*}
	_tk_rest=${_tk_rest#"$TK_SIZE"}
	case $TK_SIZE in
	'') return 1 ;;
	*[!0-9a-f]*)
		# not hex digits: a decimal number with one K, M or G
		_tk_n=${TK_SIZE%[KMG]}
		[ "$_tk_n" != "$TK_SIZE" ] || return 1
		case $_tk_n in '' | *[!0-9]*) return 1 ;; esac
		;;
	esac
	case $_tk_rest in
	-t36 | -t36-*) TK_TOP=36 _tk_rest=${_tk_rest#-t36} ;;
	-t[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f] | -t[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-*)
		_tk_rest=${_tk_rest#-t}
		TK_TOP=${_tk_rest%%-*}
		_tk_rest=${_tk_rest#"$TK_TOP"}
		;;
	esac
	case $_tk_rest in -vl | -vl-*) TK_LATE=1 _tk_rest=${_tk_rest#-vl} ;; esac
	case $_tk_rest in
	'') ;;
	-i[1-9] | -i[1-9][0-9] | -i[1-9][0-9][0-9])
		[ "$TK_IRQCHIP" = on ] || return 1
		TK_IRQS=${_tk_rest#-i}
		;;
	*) return 1 ;;
	esac
	return 0
}

# token_valid TOKEN: is it a run token?
token_valid() { token_parse "$1"; }

# token_args TOKEN: the VMM arguments TOKEN stands for, commas for spaces (--layout,single,...),
# the way images/init records them; returns 1, printing nothing, when it is not a token.
token_args() {
	token_parse "$1" || return 1
	_tk_a="--layout,$TK_LAYOUT,--irqchip,$TK_IRQCHIP"
	[ "$TK_EMULATE" = 0 ] || _tk_a="$_tk_a,--emulate-apic-page"
	_tk_a="$_tk_a,--touch,$TK_TOUCH"
	case $TK_SIZE in
	*[KMG]) _tk_a="$_tk_a,--scratch-size,$TK_SIZE" ;;
	*) _tk_a="$_tk_a,--scratch-size,0x$TK_SIZE" ;;
	esac
	case $TK_TOP in
	'') ;;
	36) _tk_a="$_tk_a,--gpa-top,36" ;;
	*) _tk_a="$_tk_a,--gpa-top,0x$TK_TOP" ;;
	esac
	[ -z "$TK_LATE" ] || _tk_a="$_tk_a,--vcpu-order,after-scratch"
	[ -z "$TK_IRQS" ] || _tk_a="$_tk_a,--interrupts,$TK_IRQS"
	echo "$_tk_a"
}

# tok_size TOKEN: its size field (6882000, 256M); tok_irqs TOKEN: its -iN count, or nothing;
# tok_top TOKEN: the last scratch byte it asks for (2^32 - 1, 2^36 - 1 with -t36, 0xH with -tH). Each
# prints nothing for a string that is not a token; tok_irqs always returns 0.
tok_size() { token_parse "$1" && echo "$TK_SIZE"; }
tok_irqs() {
	token_parse "$1" && [ -n "$TK_IRQS" ] && echo "$TK_IRQS"
	return 0
}
tok_top() {
	token_parse "$1" || return 1
	case $TK_TOP in
	'') echo $(((1 << 32) - 1)) ;;
	36) echo $(((1 << 36) - 1)) ;;
	*) echo $((0x$TK_TOP)) ;;
	esac
}

# size_bytes SIZE: a token's size field in bytes (hex digits, or decimal with K/M/G).
size_bytes() {
	case $1 in
	*K) echo $((${1%K} << 10)) ;;
	*M) echo $((${1%M} << 20)) ;;
	*G) echo $((${1%G} << 30)) ;;
	*) echo $((0x$1)) ;;
	esac
}
