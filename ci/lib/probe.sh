# shellcheck shell=sh
# The one parser of `vmm --probe` output (POSIX sh): sourced by images/init (busybox sh in the
# L1 image, as /rig/lib/probe.sh) and by ci/hw/hw-regress. Functions only.

# probe_ranges FILE: the ranges FILE's "reserved 0xA-0xB size ..." lines name, as "0xA-0xB;0xC-0xD"
# (the form of the "RIG probe ... ranges=" lines and of ci/matrix/expect.bash's PROBED), or "none".
probe_ranges() {
	_pr_ranges=$(awk '$1 == "reserved" { printf "%s%s", sep, $2; sep = ";" }' "$1")
	echo "${_pr_ranges:-none}"
}
