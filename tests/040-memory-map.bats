#!/usr/bin/env bats
# shellcheck disable=SC2154 # status, output, stderr and lines are set by bats' run
# -v prints the memory map from the one structure the VMM maps from.
load helpers

setup() {
	require_kvm
}

# The slots and holes printed by -v, as "kind start end" lines.
map_lines() {
	printf '%s\n' "$stderr" | sed -n \
		-e 's/^vmm: slot *[0-9]* \[\(0x[0-9a-f]*\)-\(0x[0-9a-f]*\)\].*: scratch$/slot \1 \2/p' \
		-e 's/^vmm: hole *\[\(0x[0-9a-f]*\)-\(0x[0-9a-f]*\)\].*/hole \1 \2/p'
}

@test "-v: the scratch slots skip the holes and tile scratch exactly" {
	run_vmm 0 --scratch-size 0x6882000 --touch none -v --emulate-apic-page
	local expect=$((0x100000000 - 0x6882000)) kind lo hi holes=0 slots=0
	while read -r kind lo hi; do
		[ $((lo)) -eq "$expect" ] || fail "$kind at $lo, expected $(printf 0x%x "$expect")"
		expect=$((hi + 1))
		if [ "$kind" = hole ]; then
			holes=$((holes + 1))
			[[ $lo == 0x000fee00000 || $lo == 0x000fec00000 ]] || fail "unexpected hole at $lo"
		else
			slots=$((slots + 1))
		fi
	done < <(map_lines)
	[ "$expect" -eq $((0x100000000)) ] || fail "map ends at $(printf 0x%x "$expect")"
	[ "$holes" -eq 2 ] && [ "$slots" -eq 3 ]
}

@test "-v: host offsets are GPA minus the scratch base (one contiguous host mapping)" {
	run_vmm 0 --scratch-size 0x6882000 --touch none -v
	local base=$((0x100000000 - 0x6882000)) n=0
	while read -r gpa off; do
		[ $((gpa - base)) -eq $((off)) ] || fail "slot at $gpa has host offset $off"
		n=$((n + 1))
	done < <(printf '%s\n' "$stderr" |
		sed -n 's/^vmm: slot *[0-9]* \[\(0x[0-9a-f]*\)-.* host +\(0x[0-9a-f]*\): scratch$/\1 \2/p')
	[ "$n" -eq 3 ]
}

# What the host's THP setting allows for an madvised mapping, or skip.
require_thp() {
	local mode
	mode=$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null) ||
		skip "this kernel has no transparent huge pages"
	[[ $mode == *"[never]"* ]] && skip "transparent huge pages are disabled here ($mode)"
	return 0
}

# KiB of scratch in huge pages, from -v.
thp_kib() {
	sed -n 's/^vmm: host: scratch at 0x[0-9a-f]* (congruent with its GPA mod 2 MiB), --thp \(on\|off\): \([0-9-]*\) KiB.*/\2/p' <<<"$stderr"
}

@test "--thp on: the scratch mapping is GPA-congruent mod 2 MiB and touched scratch sits in huge pages" {
	require_thp
	run_vmm 0 --scratch-size 0x6882000 -v
	local addr kib
	addr=$(sed -n 's/^vmm: host: scratch at \(0x[0-9a-f]*\) .*/\1/p' <<<"$stderr")
	[ -n "$addr" ] || fail "no scratch address in: $stderr"
	[ $(((addr - (0x100000000 - 0x6882000)) % 0x200000)) -eq 0 ] || fail "scratch at $addr is not congruent with GPA 0xf977e000 mod 2 MiB"
	kib=$(thp_kib)
	[ "${kib:--1}" -gt 0 ] || fail "no huge pages under a touched 104 MiB scratch: $stderr"
}

@test "--thp off: scratch stays in 4 KiB pages" {
	require_thp
	run_vmm 0 --scratch-size 0x6882000 --thp off -v
	[ "$(thp_kib)" = 0 ] || fail "huge pages with --thp off: $stderr"
}

@test "-v: single maps one slot and names no hole" {
	run_vmm 0 --scratch-size 0x6882000 --layout single --irqchip off --touch none -v
	[ "$(map_lines | grep -c '^slot')" -eq 1 ]
	[ "$(map_lines | grep -c '^hole')" -eq 0 ]
}

@test "--gpa-top 0xfedfffff (upstream's fix) places scratch below the APIC page" {
	run_vmm 0 --gpa-top 0xfedfffff --scratch-size 0x100000 -v
	[[ $stderr == *"[0x000fed00000-0x000fedfffff] size 0x100000"* ]] || fail "$stderr"
}
