#!/usr/bin/env bats
# shellcheck disable=SC2154 # status, output, stderr and lines are set by bats' run
# Options, help and the exit-code table: no KVM needed.
load helpers

@test "--help lists every option and exits 0" {
	run_vmm 0 --help
	for opt in --scratch-size --layout --gpa-top --irqchip --apic-check --interrupts --reserve \
		--emulate-apic-page --vcpu-order --touch --timeout --probe --guest --kvm-device --verbose; do
		assert_output --partial -- "$opt"
	done
}

@test "docs/vmm.md's exit-code table matches vmm --help" {
	run_vmm 0 --help
	local codes doc_codes
	codes=$(printf '%s\n' "$output" | sed -n 's/^ *\([0-9]\{1,3\}\)  .*/\1/p' | sort -n)
	[ -n "$codes" ]
	# the rows of the table under "## Exit codes", up to the next section
	doc_codes=$(sed -n '/^## Exit codes/,/^## /s/^| *\([0-9]\{1,3\}\) *|.*/\1/p' "$REPO_ROOT/docs/vmm.md" | sort -n)
	[ "$doc_codes" = "$codes" ] ||
		fail "docs/vmm.md's exit-code table lists [${doc_codes//$'\n'/ }], vmm --help lists [${codes//$'\n'/ }]"
}

# Each bad invocation: exit 2, one line on stderr naming the option and rule.
bad_invocations() {
	cat <<'TABLE'
--bogus|unknown option
--scratch-size|missing value
--scratch-size 0|must not be zero
--scratch-size -4096|negative
--scratch-size 0x1001|multiple of 4 KiB
--scratch-size 1000|multiple of 4 KiB
--scratch-size 18446744073709551616|64 bits
--scratch-size 0x10000000000000000|64 bits
--scratch-size 16777216T|64 bits
--scratch-size 4G|too large
--scratch-size 0xFFC01000|too large
--scratch-size 1Q|unknown suffix
--scratch-size 1.5G|unknown suffix
--scratch-size abc|not a number
--scratch-size 0x|not a number
--scratch-size=|is empty
--scratch-size 4K --scratch-size 8K|more than once
--layout diagonal|single, split or check
--layout|missing value
--gpa-top 33|above the low region
--gpa-top 0x7fffffff0|last byte of a 4 KiB page
--gpa-top 0xfee00000|last byte of a 4 KiB page
--gpa-top 0x1000|above the low region
--gpa-top 0x4000000000000|256 GiB
--scratch-size 65G --gpa-top 36|too large
--irqchip maybe|on or off
--apic-check yes|on or off
--apic-check on --irqchip off|needs --irqchip on
--touch some|all or none
--vcpu-order later|before-scratch or after-scratch
--thp 2m|on or off
--interrupts 1001|count from 0 to 1000
--interrupts many|count from 0 to 1000
--interrupts 2 --apic-check off|needs the guest's APIC
--timeout 0|whole seconds
--timeout -1|whole seconds
--timeout 1.5|whole seconds
--timeout 999999|whole seconds
--reserve 0xfee00000|GPA:SIZE
--reserve 0xfee00000:0|not be zero
--reserve 0xfee00001:0x1000|multiples of 4 KiB
--reserve 0xfee00000:0x800|multiples of 4 KiB
--reserve 0x1000:0x1000|low region
--reserve 0x100000000:0x1000|below the top
--reserve zz:0x1000|address is not a number
--reserve 0xfee00000:zz|size is not a number
--reserve 0xfee00000:0x2000 --reserve 0xfee01000:0x1000|overlaps
--emulate-apic-page --reserve 0xfee00000:0x1000|overlaps
--reserve 0xffffffffffff0000:0x100000|must end at or below
--guest=|must not be empty
--kvm-device=|must not be empty
-x|unknown option
TABLE
}

@test "every bad invocation exits 2 with one line naming the option and the rule" {
	local count=0 args rule
	while IFS='|' read -r args rule; do
		# shellcheck disable=SC2086 # word splitting of the table's args is the point
		run --separate-stderr "$VMM" $args
		[ "$status" -eq 2 ] || fail "vmm $args: exit $status, expected 2 (stderr: $stderr)"
		[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ] || fail "vmm $args: more than one line: $stderr"
		[[ $stderr == "vmm: "* ]] || fail "vmm $args: message does not start with 'vmm: ': $stderr"
		[[ $stderr == *"$rule"* ]] || fail "vmm $args: '$stderr' does not say '$rule'"
		local first=${args%% *}
		[[ $stderr == *"${first%%=*}"* ]] || fail "vmm $args: '$stderr' does not name ${first%%=*}"
		count=$((count + 1))
	done < <(bad_invocations)
	[ "$count" -ge 40 ]
}

@test "--layout check refuses before opening KVM, naming the largest size that fits" {
	# A missing device proves no ioctl ran: the refusal comes first.
	run_vmm 4 --layout check --scratch-size "$FIRST_FAILING_SIZE" --kvm-device /nonexistent/kvm
	assert_equal "$(printf '%s\n' "$stderr" | wc -l)" 1
	[[ $stderr == *"$APIC_PAGE"* ]]
	[[ $stderr == *"largest scratch that fits below 0xffffffff is $LAST_FITTING_SIZE"* ]]
}

@test "a missing KVM device is exit 3 with what to do" {
	run_vmm 3 --kvm-device /nonexistent/kvm
	[[ $stderr == *"/nonexistent/kvm does not exist"* ]]
	[[ $stderr == *"load kvm-intel or kvm-amd"* ]]
}

@test "SCRATCHRIG_KVM_DEVICE points the VMM at another device" {
	SCRATCHRIG_KVM_DEVICE=/nonexistent/kvm run_vmm 3
	[[ $stderr == *"/nonexistent/kvm does not exist"* ]]
}

@test "a device that is not KVM is exit 3" {
	run_vmm 3 --kvm-device /dev/null
	[[ $stderr == *"not a KVM device"* ]]
}

@test "a KVM device without permission is exit 3 with what to do" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to make a device node and drop privileges"
	command -v setpriv >/dev/null || skip "setpriv (util-linux) is missing"
	local dev=$BATS_TEST_TMPDIR/kvm vmm
	mknod "$dev" c 10 232 || skip "cannot make a device node here"
	chmod 600 "$dev"
	# nobody runs copies of the VMM and its guest: the checkout may be closed to nobody.
	open_test_tmpdir
	vmm=$(nobody_vmm)
	run --separate-stderr setpriv --reuid=65534 --regid=65534 --clear-groups "$vmm" --kvm-device "$dev"
	[ "$status" -eq 3 ] || fail "exit $status, expected 3: $stderr"
	[[ $stderr == *"$dev: permission denied: add your user to the kvm group"* ]] || fail "$stderr"
}

@test "KVM without a required capability is exit 3 naming it (capabilities hidden by a test shim)" {
	require_kvm
	local shim=$REPO_ROOT/build/shims/hide-cap.so
	[ -f "$shim" ] || fail "$shim is missing: run 'make $shim'"
	if ldd "$VMM" | grep -q libasan; then
		skip "the sanitized VMM must load ASan first, so LD_PRELOAD shims cannot run with it"
	fi
	# number:name pairs from <linux/kvm.h>; each must stop the VMM by name
	local cap name
	for pair in 3:KVM_CAP_USER_MEMORY 7:KVM_CAP_EXT_CPUID 136:KVM_CAP_IMMEDIATE_EXIT \
		10:KVM_CAP_NR_MEMSLOTS 0:KVM_CAP_IRQCHIP 32:KVM_CAP_IRQFD; do
		cap=${pair%%:*} name=${pair#*:}
		SR_HIDE_CAP=$cap LD_PRELOAD=$shim run_vmm 3
		[[ $stderr == *"lacks $name, which this VMM needs"* ]] || fail "hiding $name: $stderr"
	done
	# the irqchip's capabilities are only needed with the irqchip
	SR_HIDE_CAP=0 LD_PRELOAD=$shim run_vmm 0 --irqchip off
}
