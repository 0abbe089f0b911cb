#!/usr/bin/env bats
# shellcheck disable=SC2154 # status, output and lines are set by bats' run
# shellcheck disable=SC2016 # the single-quoted $ are the child shells' own
# The run-token grammar and the `vmm --probe` output each have ONE parser, in POSIX sh under
# ci/lib/, sourced by images/init (busybox sh in the L1 image) and by ci/matrix/expect.bash (bash):
# the same answers in both shells, the image carries the files, and no second copy is left.
# No L1 boots here: busybox sh runs the parser directly.
load helpers

TOKENS=$REPO_ROOT/ci/lib/tokens.sh
PROBE=$REPO_ROOT/ci/lib/probe.sh

setup() {
	command -v busybox >/dev/null || skip "busybox missing (apt-get install busybox-static)"
}

# The grammar, case by case: TOKEN, then the VMM arguments token_args gives (commas for
# spaces, as images/init records them), or "invalid".
cases() {
	cat <<'TABLE'
s1na-6882000 --layout,single,--irqchip,on,--touch,all,--scratch-size,0x6882000
p0nn-256M --layout,split,--irqchip,off,--touch,none,--scratch-size,256M
c1ea-1G --layout,check,--irqchip,on,--emulate-apic-page,--touch,all,--scratch-size,1G
c0en-4K --layout,check,--irqchip,off,--emulate-apic-page,--touch,none,--scratch-size,4K
s1na-48000-t36 --layout,single,--irqchip,on,--touch,all,--scratch-size,0x48000,--gpa-top,36
p1nn-11ff000-vl --layout,split,--irqchip,on,--touch,none,--scratch-size,0x11ff000,--vcpu-order,after-scratch
p1na-48000-i5 --layout,split,--irqchip,on,--touch,all,--scratch-size,0x48000,--interrupts,5
p1ea-6882000-i999 --layout,split,--irqchip,on,--emulate-apic-page,--touch,all,--scratch-size,0x6882000,--interrupts,999
c1na-1200000-t36-vl-i5 --layout,check,--irqchip,on,--touch,all,--scratch-size,0x1200000,--gpa-top,36,--vcpu-order,after-scratch,--interrupts,5
s0na-0 --layout,single,--irqchip,off,--touch,all,--scratch-size,0x0
s1nn-300000-tfedfffff --layout,single,--irqchip,on,--touch,none,--scratch-size,0x300000,--gpa-top,0xfedfffff
p1na-300000-tfedfffff-vl-i3 --layout,split,--irqchip,on,--touch,all,--scratch-size,0x300000,--gpa-top,0xfedfffff,--vcpu-order,after-scratch,--interrupts,3
s1nn-300000-tfedffff invalid
s1nn-300000-tfedfffff0 invalid
s1nn-300000-tFEDFFFFF invalid
p0na-48000-i5 invalid
p1na-48000-i1000 invalid
p1na-48000-i0 invalid
p1na-48000-i05 invalid
p1na-48000-i invalid
s1na-48000-vl-t36 invalid
s1na-48000-i5-vl invalid
s1na-1000-t32 invalid
s1na-1000-t36x invalid
s1na-1000-- invalid
s1na-0x1000 invalid
s1na-FF invalid
s1na-ffK invalid
s1na-1K2 invalid
s1na-10k invalid
s1na-M invalid
s1na- invalid
s1na invalid
S1na-1000 invalid
x1na-1000 invalid
s2na-1000 invalid
s1xa-1000 invalid
s1nx-1000 invalid
TABLE
}

# args_in SHELL... -- TOKEN...: "TOKEN ARGS" per token, parsed by ci/lib/tokens.sh in SHELL.
args_in() {
	local -a sh=()
	while [[ $1 != -- ]]; do sh+=("$1") && shift; done
	shift
	"${sh[@]}" -c '. "$1"; shift; for t in "$@"; do a=$(token_args "$t") || a=invalid; echo "$t $a"; done' \
		sh "$TOKENS" "$@"
}

@test "token_args: the grammar, case by case, the same in busybox sh, bash and dash" {
	local want got sh
	want=$(cases)
	local -a toks
	mapfile -t toks < <(cases | cut -d' ' -f1)
	for sh in "busybox sh" bash dash; do
		command -v "${sh%% *}" >/dev/null || continue
		# shellcheck disable=SC2086 # "busybox sh" is two words
		got=$(args_in $sh -- "${toks[@]}")
		[ "$got" = "$want" ] || { diff <(echo "$want") <(echo "$got"); fail "$sh parses otherwise"; }
	done
}

@test "every run token of ci/matrix/matrix.cfg is valid, with the same arguments in busybox sh and bash" {
	local -a toks
	mapfile -t toks < <(awk '/^\[runs / { r = 1; next } /^\[/ { r = 0 } r && /^runs *=/ { sub(/^runs *= */, ""); gsub(/ +/, "\n"); print }' \
		"$REPO_ROOT/ci/matrix/matrix.cfg" | sed '/^$/d' | sort -u)
	[ "${#toks[@]}" -ge 20 ] || fail "only ${#toks[@]} tokens found in ci/matrix/matrix.cfg: $(grep -n runs "$REPO_ROOT/ci/matrix/matrix.cfg")"
	run args_in busybox sh -- "${toks[@]}"
	refute_output --partial " invalid"
	[ "$output" = "$(args_in bash -- "${toks[@]}")" ]
}

@test "size_bytes, tok_size, tok_irqs, tok_top: the same in busybox sh and bash" {
	local prog='. "$1"; size_bytes 6882000; size_bytes 256M; size_bytes 1G; size_bytes 4K
		tok_size p1na-48000-t36-i5; tok_irqs p1na-48000-i7; tok_irqs p1na-48000; tok_top s1na-1G; tok_top s1na-1G-t36; tok_top s1nn-300000-tfedfffff'
	local want=$'109584384\n268435456\n1073741824\n4096\n48000\n7\n4294967295\n68719476735\n4276092927'
	run busybox sh -c "$prog" sh "$TOKENS"
	assert_output "$want"
	run bash -c "$prog" bash "$TOKENS"
	assert_output "$want"
}

@test "images/init's run_args: the token's arguments, and -v for an interrupt run unless rig.vmmargs has it" {
	local fn
	fn=$(sed -n '/^run_args() {/,/^}/p' "$REPO_ROOT/images/init")
	[ -n "$fn" ] || fail "images/init has no run_args()"
	run busybox sh -c '. "$1"; eval "$2"; VMMARGS=$3; run_args p1na-48000-i5; run_args s1na-1G; run_args p0na-1-i5 || echo invalid' \
		sh "$TOKENS" "$fn" ''
	assert_output $'--layout,split,--irqchip,on,--touch,all,--scratch-size,0x48000,--interrupts,5,-v\n--layout,single,--irqchip,on,--touch,all,--scratch-size,1G\ninvalid'
	run busybox sh -c '. "$1"; eval "$2"; VMMARGS=$3; run_args p1na-48000-i5' sh "$TOKENS" "$fn" '--apic-check,off,--verbose'
	assert_output "--layout,split,--irqchip,on,--touch,all,--scratch-size,0x48000,--interrupts,5"
}

@test "probe_ranges: the reserved ranges of vmm --probe output, the same in busybox sh and bash" {
	local f=$BATS_TEST_TMPDIR/probe none=$BATS_TEST_TMPDIR/none sh
	cat >"$f" <<'EOF'
probe: [0x400000-0xffffffff] irqchip on: 2 reserved ranges
reserved 0xfee00000-0xfee00fff size 0x1000 (KVM_SET_USER_MEMORY_REGION: EEXIST)
reserved 0xfffbc000-0xfffbffff size 0x4000 (KVM_SET_USER_MEMORY_REGION: EEXIST)
EOF
	echo 'probe: [0x400000-0xffffffff] irqchip off: 0 reserved ranges' >"$none"
	for sh in "busybox sh" bash; do
		# shellcheck disable=SC2086 # "busybox sh" is two words
		run $sh -c '. "$1"; probe_ranges "$2"; probe_ranges "$3"' sh "$PROBE" "$f" "$none"
		assert_output $'0xfee00000-0xfee00fff;0xfffbc000-0xfffbffff\nnone'
	done
	# ... and on the VMM's own output, where /dev/kvm works.
	if [[ -r /dev/kvm && -w /dev/kvm ]]; then
		"$VMM" --probe --irqchip off >"$f" 2>&1 || fail "vmm --probe: $(cat "$f")"
		run busybox sh -c '. "$1"; probe_ranges "$2"' sh "$PROBE" "$f"
		assert_output --regexp '^(none|0x[0-9a-f]+-0x[0-9a-f]+(;0x[0-9a-f]+-0x[0-9a-f]+)*)$'
	fi
}

@test "one parser each: no second copy of the token grammar or of the probe awk" {
	# images/init sources both files and defines neither parser itself.
	grep -qx '\. /rig/lib/tokens.sh' "$REPO_ROOT/images/init"
	grep -qx '\. /rig/lib/probe.sh' "$REPO_ROOT/images/init"
	busybox sh -n "$REPO_ROOT/images/init"
	run grep -rlE '^[[:space:]]*(token_args|token_parse|probe_ranges)\(\)|TOKEN_RE=|\$1 == "reserved"' \
		"$REPO_ROOT/ci" "$REPO_ROOT/images"
	assert_output "$(printf '%s\n' "$REPO_ROOT/ci/lib/probe.sh" "$REPO_ROOT/ci/lib/tokens.sh")"
}

@test "the L1 image carries what images/init sources, from ci/lib, at /rig/lib" {
	local kver out=$BATS_TEST_TMPDIR/img
	kver=$(make --no-print-directory -s -C "$REPO_ROOT" images-kernel 2>/dev/null) || kver=''
	[[ -n $kver && -r /lib/modules/$kver/modules.dep ]] || skip "no kernel with modules for an L1 image"
	[ -x /bin/busybox ] || skip "busybox-static missing"
	# Into this test's own directory: never build/images, which running L1s may be reading.
	"$REPO_ROOT/images/mkinitramfs" "$kver" "$out/initramfs.cpio.gz" "$VMM" "$GUEST" "$REPO_ROOT/images/init"
	mkdir "$out/root"
	(cd "$out/root" && zcat ../initramfs.cpio.gz | cpio -id --quiet)
	cmp "$out/root/rig/lib/tokens.sh" "$TOKENS"
	cmp "$out/root/rig/lib/probe.sh" "$PROBE"
	cmp "$out/root/init" "$REPO_ROOT/images/init"
	# The image's own busybox, with the image's files, parses as the table says.
	run "$out/root/bin/busybox" sh -c '. "$1"; token_args c1na-1200000-t36-vl-i5' sh "$out/root/rig/lib/tokens.sh"
	assert_output "--layout,check,--irqchip,on,--touch,all,--scratch-size,0x1200000,--gpa-top,36,--vcpu-order,after-scratch,--interrupts,5"
	# A file init sources that ci/lib lacks stops the build, naming it.
	sed 's|^\. /rig/lib/probe.sh$|. /rig/lib/missing.sh|' "$REPO_ROOT/images/init" >"$out/init"
	run --separate-stderr "$REPO_ROOT/images/mkinitramfs" "$kver" "$out/other.cpio.gz" "$VMM" "$GUEST" "$out/init"
	[ "$status" -eq 2 ]
	[[ $stderr == *"missing input $REPO_ROOT/ci/lib/missing.sh"* ]] || fail "$stderr"
	[ ! -e "$out/other.cpio.gz" ]
}
