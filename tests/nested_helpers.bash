# Shared by the nested suites (070, 075, 085, matrix/080): reading what an
# L1 reported on its results channel (images/init documents the "RIG ..." lines).
bats_require_minimum_version 1.5.0
load /usr/lib/bats/bats-support/load
load /usr/lib/bats/bats-assert/load

# shellcheck disable=SC2034 # used by the suites that load this file
NESTED_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# l1_missing KVER: why this host cannot boot an L1 with that kernel, or nothing.
l1_missing() {
	if ! command -v qemu-system-x86_64 >/dev/null; then
		echo "qemu-system-x86_64 missing (apt-get install qemu-system-x86)"
	elif [ -z "$1" ] || [ ! -r "/boot/vmlinuz-$1" ]; then
		echo "no L1 kernel${1:+ /boot/vmlinuz-$1} (apt-get install linux-image-amd64)"
	elif [ ! -x /bin/busybox ]; then
		echo "busybox-static missing (apt-get install busybox-static)"
	fi
}

# nested_require: skip, with the reason, when this host cannot boot an L1 at all.
nested_require() {
	local why
	why=$(l1_missing "${NESTED_KVER:-}")
	[ -z "$why" ] || skip "$why"
}

# l1_line DIR PREFIX: the first results line of an L1 boot that starts with "RIG PREFIX".
l1_line() {
	grep -m 1 "^RIG $2" "$1/results.txt" | tr -d '\r'
}

# assert_l1_run DIR N RC HELLO: run N of that boot exited RC and did (1) or did not (0) say hello.
assert_l1_run() {
	local line
	line=$(l1_line "$1" "run n=$2 ")
	if [ -z "$line" ]; then
		echo "L1 in $1 reported no run $2; console tail:" >&2
		tail -n 30 "$1/console.log" >&2
		return 1
	fi
	if [[ $line != *" rc=$3 hello=$4 "* ]]; then
		{
			echo "expected: run $2 rc=$3 hello=$4"
			echo "actual:   $line"
			echo "--- its VMM output (console.log):"
			sed -n "/^=== rig run $2 /,/^=== rig run $2 .*rc=/p" "$1/console.log"
		} >&2
		return 1
	fi
}

# run_output DIR N: run N's section of an L1's console.log, with the kernel's own lines taken out
# (printk interleaves with the VMM's output on the console, even mid-line).
run_output() {
	sed -n "/^=== rig run $2 /,/^=== rig run $2 .*rc=/p" "$1/console.log" | tr -d '\r' |
		perl -0pe 's/\[ *\d+\.\d+\] [^\n]*\n//g'
}
