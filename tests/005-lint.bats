#!/usr/bin/env bats
# shellcheck disable=SC2154 # status and output are set by bats' run
# Static checks stay clean: gcc -fanalyzer on the C code, shellcheck on scripts.
load helpers

@test "make lint: gcc -fanalyzer and shellcheck find nothing" {
	command -v shellcheck >/dev/null || skip "shellcheck is not installed (make deps installs it)"
	run make -s -C "$REPO_ROOT" lint
	assert_success
	assert_output --partial "lint: gcc -fanalyzer and shellcheck are clean"
}
