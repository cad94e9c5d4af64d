#!/usr/bin/env bash
# run-each-test.sh runs every test and every subtest of the given packages on its own, as
#
#	go test -count=1 -run '^TestX$/^sub$' ./pkg
#
# would, and reports those that fail: a test that passes only after its siblings have run depends on
# their data or their order.
#
# Usage: scripts/run-each-test.sh [-j N] [-g] [-v] ./fhir/rest/ ./gateway/
#
#	-j N	run N tests at a time (default 1: tests that measure time or rates run without competition)
#	-g	run each with `go test` itself rather than with the test binary built once per package
#		(slower: go test rebuilds whatever changed in the tree meanwhile)
#	-v	print every test run, not only the failures
#
# The tests are listed with -test.list (top level) and a verbose run of each top-level test (the
# subtests, from its "=== RUN" lines). A subtest name is the name go test prints: spaces are underscores,
# and each element between slashes is anchored and has its regular-expression metacharacters escaped. A
# "/" in a subtest's own name cannot be told from a nesting level; the pattern selects the test anyway.
set -euo pipefail

usage() {
	sed -n '2,20s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

jobs=1
gotest=0
verbose=0
while getopts "j:gv" opt; do
	case $opt in
	j) jobs=$OPTARG ;;
	g) gotest=1 ;;
	v) verbose=1 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || usage

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# pattern turns a test name as go test prints it (TestX/sub/subsub) into an anchored -run pattern.
pattern() {
	local name=$1 out="" elem elems
	# read, not word splitting: names hold * and ? that the shell would expand as file names.
	IFS=/ read -r -a elems <<<"$name"
	for elem in "${elems[@]}"; do
		elem=$(printf '%s' "$elem" | sed -e 's/[][\\.*^$?+(){}|]/\\&/g')
		out+="${out:+/}^${elem}\$"
	done
	# A name that ends with "/" has an empty last element.
	case $name in */) out+="/^\$" ;; esac
	printf '%s' "$out"
}

# gotest runs the tests of a package that a pattern selects (further flags after it): with the package's
# test binary in the package's directory, as go test does, or with go test itself under -g.
gotest() {
	local n=$1 pat=$2
	shift 2
	if [ "$gotest" = 1 ]; then
		local flags=()
		for f in "$@"; do flags+=("${f/#-test./-}"); done
		go test -count=1 -run "$pat" "${flags[@]}" "${pkgs[$n]}"
	else
		(cd "${dirs[$n]}" && "$work/$n.test" -test.count=1 -test.timeout=10m -test.run "$pat" "$@")
	fi
}

# list writes "n<TAB>name" for every test and subtest of package n.
list() {
	local n=$1 top
	if [ "$gotest" = 1 ]; then
		go test -list '.*' "${pkgs[$n]}"
	else
		(cd "${dirs[$n]}" && "$work/$n.test" -test.list '.*')
	fi | grep -E '^(Test|Fuzz|Example)' | while IFS= read -r top; do
		printf '%s\t%s\n' "$n" "$top"
		case $top in Test*) ;; *) continue ;; esac
		# The subtests are whatever a run of the test starts; a failing run lists them all the same.
		{ gotest "$n" "^${top}\$" -test.v 2>/dev/null || true; } |
			sed -n 's/^ *=== RUN   \(.*\)$/\1/p' | grep -F -- "$top/" | sort -u |
			while IFS= read -r sub; do printf '%s\t%s\n' "$n" "$sub"; done || true
	done
}

# runone runs one test alone and records a failure.
runone() {
	local n=$1 name=$2 pat out
	pat=$(pattern "$name")
	if out=$(gotest "$n" "$pat" 2>&1); then
		if grep -q 'no tests to run' <<<"$out"; then
			# It passed by matching nothing: a bug of this script, or a test that is gone.
			printf 'NONE  %s %s (the pattern %s matches nothing)\n' "${pkgs[$n]}" "$name" "$pat"
			printf '%s\t%s\t(matched nothing)\n' "${pkgs[$n]}" "$name" >>"$work/failed"
		elif [ "$verbose" = 1 ]; then
			printf 'ok    %s %s\n' "${pkgs[$n]}" "$name"
		fi
		return 0
	fi
	# One write, so that the reports of parallel runs do not interleave.
	printf 'FAIL  %s %s\n      go test -count=1 -run '\''%s'\'' %s\n%s\n' "${pkgs[$n]}" "$name" "${pat//\'/\'\\\'\'}" "${pkgs[$n]}" \
		"$(printf '%s\n' "$out" | tail -n 40 | sed 's/^/      | /')"
	printf '%s\t%s\n' "${pkgs[$n]}" "$name" >>"$work/failed"
}

pkgs=("$@")
dirs=()
for n in "${!pkgs[@]}"; do
	dirs[n]=$(go list -f '{{.Dir}}' "${pkgs[$n]}")
	if [ "$gotest" = 0 ] && ! go test -c -o "$work/$n.test" "${pkgs[$n]}"; then
		echo "${pkgs[$n]} does not build" >&2
		exit 1
	fi
	list "$n" >>"$work/tests"
done
total=$(wc -l <"$work/tests")
echo "running $total tests and subtests one at a time (-j $jobs)"

running=0
while IFS=$'\t' read -r n name; do
	runone "$n" "$name" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait -n || true
		running=$((running - 1))
	fi
done <"$work/tests"
wait

if [ -s "$work/failed" ]; then
	echo "$(wc -l <"$work/failed") of $total failed alone:"
	sed 's/^/  /' "$work/failed"
	exit 1
fi
echo "all $total passed alone"
