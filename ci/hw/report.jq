# ci/hw/hw-regress's report.json (schema scratchrig-hw-report/1), written by jq -n from the run's
# values (--arg: strings; --argjson: $kvm_modules, $vparams, $host_params, $answers, $original,
# and $phases, $runs: phases.tsv and runs.tsv as json_tsv gives them, every field a string).

def nonempty: if . == "" then null else . end;
# a whole number, or null (an exit code that is "-" or "bad-token")
def num: if type == "string" and test("^[0-9]+$") then tonumber else null end;
# "a-b;c-d" as ["a-b", "c-d"], "none" as [], not measured ("-", "", absent) as null
def ranges: if . == null or . == "" or . == "-" then null elif . == "none" then [] else split(";") end;

([$phases[] | select(.phase == "host")][0] // {}) as $host
| {
	schema: "scratchrig-hw-report/1",
	generated: $generated,
	scratchrig: $rev,
	verdict: $verdict,
	interrupted: ($interrupted | nonempty),
	host: {
		name: $hostname,
		cpu_vendor: $cpu_vendor,
		cpu_model: $cpu_model,
		virt: $virt,
		cpu_avic: ($cpu_avic == "1"),
		hypervisor: ($hypervisor == "1"),
		kernel: $kernel,
		kvm_modules: $kvm_modules,
		vendor_module: $vmod,
		vendor_module_state: $mod_state,
		params: (reduce $vparams[] as $p ({}; .[$p] = $host_params[$p])),
		kvm_device: $kvm_dev,
		kvm_usable: ($kvm_why == ""),
		kvm_unusable_reason: ($kvm_why | nonempty)
	},
	probe: {irqchip_on: ($host.probe_on | ranges), irqchip_off: ($host.probe_off | ranges)},
	answers: $answers,
	phases: [$phases[] | {
		phase,
		asked,
		reads: .effective,
		probe_irqchip_on_rc: (.probe_on_rc | num),
		probe_irqchip_on: (.probe_on | ranges),
		probe_irqchip_off_rc: (.probe_off_rc | num),
		probe_irqchip_off: (.probe_off | ranges),
		pass: (.pass | num),
		fail: (.fail | num),
		timeout: (.timeout | num),
		verdict,
		reason: (if .reason == "-" then null else .reason end)
	}],
	runs: [$runs[] | {
		phase,
		run,
		expected: (.expected | num),
		rc: (.rc | num),
		hello: (.hello == "1"),
		mark,
		ms: (.ms | num)
	}],
	nested: {
		verdict: ($nested_verdict | nonempty),
		reason: ($nested_why | nonempty),
		out: (if $nested_verdict == "PASS" or $nested_verdict == "FAIL" then "nested" else null end)
	},
	reload: {
		state: (if $reload_state == "" then "not run" else $reload_state end),
		reason: ($reload_why | nonempty),
		module: $vmod,
		original: $original,
		restore: ($restore | nonempty),
		restore_warning: ($restore_warn | nonempty)
	}
}
