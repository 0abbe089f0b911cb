# shellcheck shell=bash
# Shared by the bash scripts under ci/: messages and --help, a tally of run marks, JSON through
# jq (a dependency: ci/install-deps). Functions only; nothing runs when this file is sourced.
# Messages start with "PROG: ", PROG being the script's file name unless the script sets it.

# header_text FILE: FILE's header comment as its --help prints it: from line 2 up to (not
# including) its first `set -` line, without the leading "# " and without shellcheck directives.
header_text() {
	sed -n '2,/^set -/{/^set -/d; /^# shellcheck /d; s/^# \{0,1\}//; s/^#$//; p}' "$1"
}

# usage [CODE]: the script's whole header (header_text), on stdout for CODE 0 (--help), else on
# stderr; exits CODE (default 2, a usage error).
usage() {
	local code=${1:-2}
	if [[ $code == 0 ]]; then header_text "$0"; else header_text "$0" >&2; fi
	exit "$code"
}

# die MESSAGE [CODE]: "PROG: MESSAGE" on stderr, exit CODE (default 2, a usage error).
die() {
	echo "${PROG:-${0##*/}}: $1" >&2
	exit "${2:-2}"
}

# say MESSAGE...: "PROG: MESSAGE" on stdout.
say() { echo "${PROG:-${0##*/}}: $*"; }

# The tally of run marks (run_mark's pass, fail, timeout, and skip): tally_reset, then tally MARK
# for each run (any other mark counts as fail); TALLY[MARK] holds the counts, and
# tally_line MARK... says them in that order: "3 pass, 1 fail, 0 timeout".
declare -gA TALLY=()
tally_reset() { TALLY=([pass]=0 [fail]=0 [timeout]=0 [skip]=0); }
tally() {
	local m=$1
	[[ $m == pass || $m == timeout || $m == skip ]] || m=fail
	TALLY[$m]=$((${TALLY[$m]:-0} + 1))
}
tally_line() {
	local m out=''
	for m in "$@"; do out+="${out:+, }${TALLY[$m]:-0} $m"; done
	echo "$out"
}

# ---- JSON, always written by jq (quoting, escapes and control characters are its business) ----
# json_strings VALUE...: a JSON array of the VALUEs as strings.
json_strings() { jq -cn '$ARGS.positional' --args "$@"; }

# json_pairs KEY VALUE...: a JSON object of string values, keys in the order given.
json_pairs() {
	jq -cn '$ARGS.positional as $p | reduce range(0; $p | length; 2) as $i ({}; .[$p[$i]] = $p[$i + 1])' --args "$@"
}

# json_tsv FILE: a TSV file whose first line names its columns, as a JSON array of objects (one
# per row, keyed by those names, every value a string; a missing field is null).
json_tsv() {
	jq -cRn '(input | split("\t")) as $k
		| [inputs | split("\t") as $v | [range($k | length) | {($k[.]): $v[.]}] | add]' "$1"
}
