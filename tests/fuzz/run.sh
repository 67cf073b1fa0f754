#!/usr/bin/env bash
# Runs every Go native fuzz target of the module for a bounded time each
# (FUZZTIME, default 30s; FUZZPARALLEL sets the workers, default all CPUs),
# prints the executions per target and a summary, and fails if any target
# finds a crasher. Go writes the crasher to the package's
# testdata/fuzz/<Target>/: commit it with the fix, as a regression case
# that plain `go test` then runs.
#
#   bash tests/fuzz/run.sh                 # every target
#   bash tests/fuzz/run.sh FuzzStateLoad   # targets whose name matches
set -uo pipefail
cd "$(dirname "$0")/../.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-30s}
filter=${1:-.}
# FuzzStateLoad writes files on every execution: on a tmpfs it runs
# several times faster than on a loaded disk.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	export TMPDIR=/dev/shm
fi
par=()
[ -n "${FUZZPARALLEL:-}" ] && par=(-parallel "$FUZZPARALLEL")
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# Packages with fuzz targets, and their targets, as go test lists them.
pkgs=$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u)
summary=()
failed=0
total=0
for pkg in $pkgs; do
	if ! list=$("$GO" test -list '^Fuzz' "$pkg" 2>&1); then
		echo "$list"
		echo "fuzz: $pkg does not build"
		exit 1
	fi
	for target in $(grep '^Fuzz' <<<"$list" | grep -E -- "$filter"); do
		total=$((total + 1))
		log="$logs/$target.log"
		echo "=== fuzz $pkg $target for $FUZZTIME"
		"$GO" test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "${par[@]}" "$pkg" >"$log" 2>&1
		rc=$?
		# Go prints "fuzz: elapsed: 30s, execs: 123456 (4115/sec), ..." every
		# 3 s; the last such line has the total.
		execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
		execs=${execs:-0}
		if [ $rc -eq 0 ]; then
			result=ok
		else
			failed=$((failed + 1))
			result=FAIL
			cat "$log"
			crasher=$(sed -n 's/.*Failing input written to \(.*\)$/\1/p' "$log" | tail -1)
			if [ -n "$crasher" ]; then
				result="CRASH $pkg/$crasher"
				echo "--- crasher $pkg/$crasher:"
				cat "$pkg/$crasher"
			fi
		fi
		echo "--- $target: $execs execs, $result"
		summary+=("$(printf '%-26s %-12s %12s  %s' "$target" "$pkg" "$execs" "$result")")
	done
done

echo
echo "fuzz summary ($FUZZTIME per target):"
printf '%-26s %-12s %12s  %s\n' target package execs result
printf '%s\n' "${summary[@]}"
if [ "$total" -eq 0 ]; then
	echo "fuzz: no target matched '$filter'"
	exit 1
fi
if [ "$failed" -gt 0 ]; then
	echo "fuzz: $failed of $total targets failed"
	exit 1
fi
echo "fuzz: $total targets, no crash"
