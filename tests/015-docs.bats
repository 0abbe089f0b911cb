#!/usr/bin/env bats
# shellcheck disable=SC2154 # status, output and lines are set by bats' run
# The documentation stays true to the programs: every long option of `vmm --help` and
# `kvm-as --help` is in its manual page (docs/man/), the pages render without warnings, their
# exit codes are the programs', README.md stays a short user's guide whose docs/ links
# resolve, and the docs/ pages link only to pages that exist. No KVM needed.
load helpers

KVM_AS=${KVM_AS:-$(dirname "$VMM")/kvm-as}
MAN_DIR=$REPO_ROOT/docs/man
# Pages that others write or generate: a link to them may come before the page.
PAGES_BY_OTHERS=(docs/findings.md docs/performance.md docs/performance-l1.md docs/bochs.md)
README_MAX_LINES=200

require_man() {
	command -v man >/dev/null || skip "man is not installed (make deps installs man-db)"
}

# man_text PAGE: the page as plain text, words hyphenated at a line end joined again.
man_text() {
	LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=200 man -E UTF-8 -l "$1" 2>/dev/null | sed -z 's/‐\n *//g'
}

# long_options BINARY: the long options its --help names, one per line.
long_options() {
	"$1" --help | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u
}

# assert_options_in_page BINARY PAGE: every long option of BINARY --help is in PAGE.
assert_options_in_page() {
	local bin=$1 page=$2 text opts missing=()
	[ -x "$bin" ] || skip "no $bin (make)"
	opts=$(long_options "$bin")
	[ -n "$opts" ] || fail "$bin --help names no long option"
	text=$(man_text "$page")
	[ -n "$text" ] || fail "$page renders empty"
	while read -r opt; do
		grep -qE -- "$opt([^a-z0-9-]|\$)" <<<"$text" || missing+=("$opt")
	done <<<"$opts"
	[ ${#missing[@]} -eq 0 ] || fail "${page#"$REPO_ROOT"/} lacks ${missing[*]} (named by $bin --help)"
}

# exit_codes_of_page PAGE: the numeric exit codes of a manual page's EXIT STATUS section.
exit_codes_of_page() {
	man_text "$1" | sed -n '/^EXIT STATUS/,/^[A-Z]/s/^       \([0-9]\{1,3\}\)\( .*\)\{0,1\}$/\1/p' | sort -n
}

# help_exit_codes BINARY: the numeric exit codes listed under "exit codes:" in BINARY --help.
help_exit_codes() {
	"$1" --help | sed -n '/^exit codes:/,$s/^ *\([0-9]\{1,3\}\)  .*/\1/p' | sort -n
}

@test "every long option of vmm --help is in scratchrig-vmm(1)" {
	require_man
	assert_options_in_page "$VMM" "$MAN_DIR/scratchrig-vmm.1"
}

@test "every long option of kvm-as --help is in kvm-as(1)" {
	require_man
	assert_options_in_page "$KVM_AS" "$MAN_DIR/kvm-as.1"
}

@test "the manual pages render without warnings" {
	require_man
	local page
	for page in "$MAN_DIR"/*.1; do
		run --separate-stderr env LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 \
			man --warnings -E UTF-8 -l -Tutf8 -Z "$page"
		expect_exit 0 "$status" "command:  man --warnings -l $page"
		[ -z "$stderr" ] || fail "${page#"$REPO_ROOT"/}: $stderr"
	done
}

@test "the manual pages' exit codes are the programs'" {
	require_man
	local bin page want got
	for bin in "$VMM":scratchrig-vmm "$KVM_AS":kvm-as; do
		page=$MAN_DIR/${bin##*:}.1 bin=${bin%:*}
		[ -x "$bin" ] || skip "no $bin (make)"
		want=$(help_exit_codes "$bin")
		got=$(exit_codes_of_page "$page")
		[ -n "$want" ] || fail "$bin --help lists no exit code"
		[ "$got" = "$want" ] ||
			fail "${page##*/} lists exit codes [${got//$'\n'/ }], $bin --help [${want//$'\n'/ }]"
	done
}

@test "docs/kvm-as.md's exit codes are kvm-as --help's" {
	[ -x "$KVM_AS" ] || skip "no $KVM_AS (make)"
	local want got
	want=$(help_exit_codes "$KVM_AS")
	got=$(sed -n '/^## Exit codes/,/^## /s/^| *\([0-9]\{1,3\}\) *|.*/\1/p' "$REPO_ROOT/docs/kvm-as.md" | sort -n)
	[ "$got" = "$want" ] ||
		fail "docs/kvm-as.md lists exit codes [${got//$'\n'/ }], kvm-as --help [${want//$'\n'/ }]"
}

@test "README.md is a short user's guide: at most $README_MAX_LINES lines" {
	local n
	n=$(wc -l <"$REPO_ROOT/README.md")
	[ "$n" -le "$README_MAX_LINES" ] ||
		fail "README.md has $n lines; reference material belongs in docs/ (at most $README_MAX_LINES)"
}

@test "README.md keeps the two commands of a fresh machine" {
	grep -qE '^make deps run( |$)' "$REPO_ROOT/README.md"
	grep -qE '^make deps test( |$)' "$REPO_ROOT/README.md"
}

# dangling_links FILE: the relative links of a Markdown file (to .md, .1 and other files in the
# tree) that resolve neither to a file nor to a page that others write.
dangling_links() {
	local file=$1 dir link target other
	dir=$(dirname "$file")
	grep -oE '\]\([^)#[:space:]]+' "$file" | sed 's/^](//' | while read -r link; do
		case $link in http://* | https://* | mailto:*) continue ;; esac
		target=$(realpath -m "$dir/$link")
		[ -e "$target" ] && continue
		for other in "${PAGES_BY_OTHERS[@]}"; do
			[ "$target" = "$REPO_ROOT/$other" ] && continue 2
		done
		echo "$link"
	done
}

@test "every docs/ link in README.md resolves (or is a page others write)" {
	local bad
	grep -qE '\]\(docs/[^)]+\.md\)' "$REPO_ROOT/README.md" || fail "README.md links no docs/ page"
	bad=$(dangling_links "$REPO_ROOT/README.md")
	[ -z "$bad" ] || fail "README.md links to missing files: ${bad//$'\n'/ }"
}

@test "every link between the docs/ pages resolves" {
	local page bad all=''
	for page in "$REPO_ROOT"/docs/*.md; do
		bad=$(dangling_links "$page")
		[ -z "$bad" ] || all+="${page#"$REPO_ROOT"/}: ${bad//$'\n'/ }; "
	done
	[ -z "$all" ] || fail "dangling links: $all"
}

@test "the docs name every host model and every private or device page of the one table" {
	local kind name addr n=0
	while IFS=$'\t' read -r kind name addr _; do
		case $kind in
		model)
			grep -qF -- "\`$name\`" "$REPO_ROOT/README.md" || fail "README.md does not name the model $name"
			grep -qF -- "$name" "$REPO_ROOT/docs/kvm-as.md" || fail "docs/kvm-as.md does not name the model $name"
			man_page_names "$name" || fail "kvm-as(1) does not name the model $name"
			;;
		private | device)
			[ "$addr" = - ] && continue
			cat "$REPO_ROOT"/docs/vmm.md "$REPO_ROOT"/docs/kvm-as.md | grep -qiF -- "$addr" ||
				fail "neither docs/vmm.md nor docs/kvm-as.md gives the $name page at $addr"
			;;
		esac
		n=$((n + 1))
	done < <("$KVM_AS" --list-models)
	[ "$n" -ge 8 ] || fail "kvm-as --list-models gave only $n rows"
}

# man_page_names WORD: does kvm-as(1)'s source name WORD?
man_page_names() { grep -qF -- "$1" "$MAN_DIR/kvm-as.1"; }
