# shellcheck shell=bash
# The interleaved pairs' rules, in one place (ci/bench/paired measures; this reads): sourced by
# ci/bench/run and ci/bench/l1-pairs. Nothing runs when it is sourced.

# kvm-as against the ptrace floor (floor-tracer): the most one traced memslot call may cost.
# shellcheck disable=SC2034 # for the sourcing scripts
FLOOR_TARGET=1.30
# kvm-as none over a whole QEMU boot (SeaBIOS, a boot sector, power-off): the most it may add.
# shellcheck disable=SC2034
QEMU_TARGET=1.05

# paired_ratio FILE: "ratio low high" of B over A from paired's summary: 1 + the median
# difference, and its 95% interval, over A's median.
paired_ratio() {
	awk -F'\t' '$1 == "a" { a = $4 } $1 == "diff" { d = $2; lo = $3; hi = $4 }
		END { printf "%.3f %.3f %.3f\n", 1 + d / a, 1 + lo / a, 1 + hi / a }' "$1"
}

# target_met VALUE TARGET: "met" when VALUE <= TARGET, else "missed". Given a 95% interval's
# high end, a ratio within the noise of its target is not met.
target_met() { awk -v v="$1" -v t="$2" 'BEGIN { print (v <= t) ? "met" : "missed" }'; }
