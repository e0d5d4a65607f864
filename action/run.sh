#!/usr/bin/env bash
# run.sh holds the steps of the berth GitHub Action (action.yml), kept in a
# script so that tests can run them with a simulated Actions environment.
#
#   run.sh build   build berth into $RUNNER_TEMP/berth-bin; print its path
#                  (and set the step output "bin")
#   run.sh check   run `berth check --github` with the action's inputs
#
# Inputs arrive as environment variables only (BERTH_*), never spliced into
# this script, and each becomes exactly one --flag=value argument.
set -euo pipefail

die() {
	# A workflow command, so the message shows on the run page too.
	printf '::error title=berth action::%s\n' "$*" >&2
	exit 2
}

build() {
	local src out
	src="${BERTH_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
	out="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/berth-bin"
	mkdir -p "$out"
	if [[ -n "${BERTH_VERSION:-}" ]]; then
		[[ "$BERTH_VERSION" =~ ^[A-Za-z0-9][A-Za-z0-9._+-]*$ ]] ||
			die "version: \"$BERTH_VERSION\" is not a module version (v1.2.3, a branch or a commit)"
		GOBIN="$out" go install "github.com/berth-dev/berth/cmd/berth@$BERTH_VERSION"
	else
		(cd "$src" && go build -trimpath -o "$out/berth" ./cmd/berth)
	fi
	if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
		printf 'bin=%s\n' "$out/berth" >>"$GITHUB_OUTPUT"
	fi
	printf '%s\n' "$out/berth"
}

check() {
	local bin dir base head comment fail_on
	bin="${BERTH_BIN:-berth}"
	dir="${BERTH_DIR:-.}"
	base="${BERTH_BASE:-}"
	head="${BERTH_HEAD:-${GITHUB_SHA:-}}"
	comment="${BERTH_COMMENT:-false}"
	fail_on="${BERTH_FAIL_ON:-gate}"

	case "$fail_on" in
	error | gate | never) ;;
	*) die "fail-on: \"$fail_on\" is not one of error, gate, never" ;;
	esac
	case "$comment" in
	true | false) ;;
	*) die "comment: \"$comment\" is not true or false" ;;
	esac
	[[ -n "$head" ]] || die "head: no commit to check (set the input or GITHUB_SHA)"

	local args=(check --github
		"--repo=${GITHUB_WORKSPACE:-.}"
		"--dir=$dir"
		"--head=$head"
		"--fail-on=$fail_on")
	# A push that creates a branch has no base (GitHub sends all zeros):
	# then berth checks the head alone.
	if [[ -n "$base" && ! "$base" =~ ^0+$ ]]; then
		args+=("--base=$base")
	fi
	if [[ "$comment" == true ]]; then
		args+=(--comment)
	fi
	exec "$bin" "${args[@]}"
}

case "${1:-}" in
build) build ;;
check) check ;;
*)
	echo "usage: run.sh build|check" >&2
	exit 2
	;;
esac
