#!/usr/bin/env bats
# shellcheck disable=SC2154 # status, output, stderr and lines are set by bats' run
# Seeded fuzz run: mutated copies of the guest image (header and code byte
# flips, interesting header values, truncations) and random bytes. Each image
# must end within the timeout with a documented exit code and a message;
# never a signal, a sanitizer report or a hang. Reproduce a failure with the
# seed and index it prints:
#   FUZZ_SEED=S bats tests/060-fuzz.bats
#   tests/fuzz/elfimg.py mutate --seed S --count 1 --only I build/guest.elf /tmp/f
load helpers

ELFIMG=$BATS_TEST_DIRNAME/fuzz/elfimg.py
# Fixed in CI so that a red run can be replayed; override to explore.
FUZZ_SEED=${FUZZ_SEED:-6}
FUZZ_COUNT=${FUZZ_COUNT:-300}
# Per image: the VMM's own --timeout, then the outer wall clock.
FUZZ_GUEST_TIMEOUT=2
FUZZ_WALL_TIMEOUT=15
DOCUMENTED_EXITS=" 0 1 2 3 4 5 124 "

# check_run INDEX KIND: judge the last `run`; print what is wrong, if anything.
check_run() {
	local i=$1 kind=$2 why=""
	if [[ $DOCUMENTED_EXITS != *" $status "* ]]; then
		why="exit $status is not a documented code"
		[ "$status" -gt 128 ] && why="$why (signal $((status - 128)))"
	elif [[ $stderr == *"runtime error"* || $stderr == *"Sanitizer"* ]]; then
		why="sanitizer report"
	elif [ "$status" -ne 0 ] && [[ $(printf '%s\n' "$stderr" | tail -n 1) != "vmm: "* ]]; then
		why="exit $status without a 'vmm: ' message"
	elif [ "$status" -eq 124 ] && [[ $stderr != *"(--timeout); stopped it"* ]]; then
		why="exit 124 from the outer wall clock ($FUZZ_WALL_TIMEOUT s): the VMM hung"
	elif [ "$status" -eq 2 ] && [[ $stderr != *"guest image "* ]]; then
		why="exit 2 without naming the guest image"
	elif [ "$status" -eq 0 ] && ! printf '%s\n' "$output" | grep -qx 'hello, world!'; then
		why="exit 0 (success) without the hello line on stdout"
	fi
	[ -z "$why" ] && return 0
	printf 'seed %s image %s (%s): %s\n  reproduce: %s mutate --seed %s --count 1 --only %s %s DIR\n  stderr: %s\n' \
		"$FUZZ_SEED" "$i" "$kind" "$why" "$ELFIMG" "$FUZZ_SEED" "$i" "$GUEST" \
		"$(printf '%s\n' "$stderr" | grep -m 1 -E 'runtime error|Sanitizer' || printf '%s\n' "$stderr" | tail -n 1)"
}

@test "the fuzz generator is reproducible from the seed and index" {
	python3 "$ELFIMG" mutate --seed "$FUZZ_SEED" --count 20 "$GUEST" "$BATS_TEST_TMPDIR/a" >/dev/null
	python3 "$ELFIMG" mutate --seed "$FUZZ_SEED" --count 20 --only 17 "$GUEST" "$BATS_TEST_TMPDIR/b" >/dev/null
	cmp "$BATS_TEST_TMPDIR/a/017.img" "$BATS_TEST_TMPDIR/b/017.img"
	python3 "$ELFIMG" mutate --seed "$FUZZ_SEED-other" --count 20 "$GUEST" "$BATS_TEST_TMPDIR/c" >/dev/null
	! cmp -s "$BATS_TEST_TMPDIR/a/017.img" "$BATS_TEST_TMPDIR/c/017.img" ||
		! cmp -s "$BATS_TEST_TMPDIR/a/018.img" "$BATS_TEST_TMPDIR/c/018.img"
}

@test "fuzz: mutated and random guest images end with a documented exit code (seed printed on failure)" {
	local dir=$BATS_TEST_TMPDIR/fuzz manifest=$BATS_TEST_TMPDIR/manifest
	python3 "$ELFIMG" mutate --seed "$FUZZ_SEED" --count "$FUZZ_COUNT" "$GUEST" "$dir" >"$manifest"
	# not `i`: bats' run clobbers it
	local index kind code problem report="" count=0 start=$SECONDS
	declare -A exits=()
	while read -r index kind; do
		run --separate-stderr timeout -k 5 "$FUZZ_WALL_TIMEOUT" "$VMM" \
			--guest "$(printf '%s/%03d.img' "$dir" "$index")" --timeout "$FUZZ_GUEST_TIMEOUT"
		exits[$status]=$((${exits[$status]:-0} + 1))
		problem=$(check_run "$index" "$kind")
		[ -z "$problem" ] || report+=$problem$'\n'
		count=$((count + 1))
	done <"$manifest"
	local summary="seed $FUZZ_SEED: $count images in $((SECONDS - start)) s, exits:"
	for code in $(printf '%s\n' "${!exits[@]}" | sort -n); do
		summary+=" $code x${exits[$code]}"
	done
	echo "# $summary" >&3
	[ "$count" -eq "$FUZZ_COUNT" ] || fail "ran $count of $FUZZ_COUNT images"
	[ -z "$report" ] || fail "$summary"$'\n'"$report"
}
