#!/usr/bin/env bash
# OCI conformance: builds the opencontainers/runtime-tools validation suite
# (58 programs) once, runs it against each runtime one program at a time,
# and prints per-program results side by side, the totals, the assertions
# crun passes and rung fails, and a closing "N passed, N failed" for rung.
#
#   tests/conformance/run.sh [--report-only] [NAME=PATH ...]
#     default runtimes: rung=./rung crun=/usr/bin/crun
# Exit status: 0 when rung fails no assertion crun passes and passes at
# least as many; 1 otherwise (0 always with --report-only).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cache="$top/tests/.cache/conformance"
version=v0.9.1-0.20250523060157-0ea5ed0382a2 # newer ones move to runtime-spec 1.3 and break their pids tests
report_only=0
runtimes=()
for a in "$@"; do
	case "$a" in
	--report-only) report_only=1 ;;
	*=*) runtimes+=("$a") ;;
	*) echo "usage: $0 [--report-only] [NAME=PATH ...]" >&2; exit 2 ;;
	esac
done
[ ${#runtimes[@]} -gt 0 ] || runtimes=("rung=$top/rung" "crun=/usr/bin/crun")

build() {
	[ -x "$cache/bin/runtimetest" ] && [ -f "$cache/bin/rootfs-amd64.tar.gz" ] && return
	mkdir -p "$cache/src" "$cache/bin"
	cd "$cache/src"
	[ -f go.mod ] || go mod init conformance-suite >/dev/null 2>&1
	go get "github.com/opencontainers/runtime-tools@$version" >/dev/null 2>&1
	go build -o "$cache/bin/" github.com/opencontainers/runtime-tools/validation/...
	CGO_ENABLED=0 go build -tags 'netgo osusergo' -o "$cache/bin/runtimetest" github.com/opencontainers/runtime-tools/cmd/runtimetest
	cp "$(go env GOMODCACHE)/github.com/opencontainers/runtime-tools@$version/rootfs-amd64.tar.gz" "$cache/bin/"
	cd - >/dev/null
}

# crun refuses a hybrid host whose hugetlb controller sits on cgroup2.
hugetlb() {
	if [ -d /sys/fs/cgroup/unified ] && ! mountpoint -q /sys/fs/cgroup/hugetlb; then
		mkdir -p /sys/fs/cgroup/hugetlb && mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb || true
	fi
}

# unmount_under DIR: lazily, deepest first (linux_ns_itype leaves mounts on
# the host when the runtime mounts proc/sys/dev without a mount namespace).
unmount_under() {
	awk -v d="$1" '$5 ~ "^"d {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
}

# count FILE: prints "passed failed" for one program's TAP output. A
# program with no assertion counts as one: passed if it exited 0 and
# printed no error block.
count() {
	local f=$1 ok nok
	ok=$(grep -c '^ok ' "$f" || true)
	nok=$(grep -c '^not ok ' "$f" || true)
	if [ "$ok" -eq 0 ] && [ "$nok" -eq 0 ]; then
		if grep -q '^exit=0$' "$f" && ! grep -q '"error"' "$f"; then ok=1; else nok=1; fi
	elif ! grep -q '^exit=0$' "$f" && [ "$nok" -eq 0 ]; then
		nok=1
	fi
	echo "$ok $nok"
}

build
hugetlb
programs=$(cd "$cache/bin" && ls | grep -v -e '^runtimetest$' -e '\.tar\.gz$')
results="$cache/results"
for rt in "${runtimes[@]}"; do
	name=${rt%%=*}
	path=$(realpath "${rt#*=}")
	rm -rf "${results:?}/$name"
	mkdir -p "$results/$name"
	tmp=$(mktemp -d /tmp/conformance-XXXXXX)
	chmod 755 "$tmp"
	for p in $programs; do
		(cd "$cache/bin" && TMPDIR=$tmp RUNTIME=$path timeout 60 "./$p" >"$results/$name/$p.tap" 2>&1; echo "exit=$?" >>"$results/$name/$p.tap") || true
		unmount_under "$tmp"
	done
	unmount_under "$tmp"
	rm -rf "$tmp"
done

known="$here/known-failures.txt"
declare -A total_ok total_nok
printf '%-38s' program
for rt in "${runtimes[@]}"; do printf ' %16s' "${rt%%=*}"; done
echo
for p in $programs; do
	printf '%-38s' "$p"
	for rt in "${runtimes[@]}"; do
		name=${rt%%=*}
		read -r ok nok < <(count "$results/$name/$p.tap")
		total_ok[$name]=$(( ${total_ok[$name]:-0} + ok ))
		total_nok[$name]=$(( ${total_nok[$name]:-0} + nok ))
		printf ' %10s/%-5s' "$ok" "$nok"
	done
	echo
done
echo
for rt in "${runtimes[@]}"; do
	name=${rt%%=*}
	echo "$name: ${total_ok[$name]} passed, ${total_nok[$name]} failed"
done

# Assertions the reference passes and rung fails (by program and text).
status=0
if [ -d "$results/crun" ] && [ -d "$results/rung" ]; then
	echo
	echo "assertions crun passes and rung fails:"
	regress=0
	for p in $programs; do
		r="$results/rung/$p.tap" c="$results/crun/$p.tap"
		read -r _ rn < <(count "$r")
		read -r _ cn < <(count "$c")
		while IFS= read -r line; do
			text=${line#not ok * - }
			if grep -qxF "ok ${line#not ok }" "$c" 2>/dev/null || grep -q "^ok [0-9]* - $(printf '%s' "$text" | sed 's/[][\.*^$/]/\\&/g')\$" "$c"; then
				echo "  $p: $text"; regress=$((regress + 1))
			fi
		done < <(grep '^not ok ' "$r" || true)
		# Programs with no assertions: failed here, passed there.
		if ! grep -q '^\(not \)\?ok ' "$r" && [ "$rn" -gt 0 ] && [ "$cn" -eq 0 ]; then
			echo "  $p: (program failed)"; regress=$((regress + 1))
		fi
	done
	[ "$regress" -eq 0 ] && echo "  none"
	echo
	echo "rung failures and their known reasons:"
	for p in $programs; do
		read -r _ rn < <(count "$results/rung/$p.tap")
		[ "$rn" -gt 0 ] || continue
		reason=$(awk -F'\t' -v p="$p" '$1 == p {print $3; exit}' "$known" 2>/dev/null)
		echo "  $p ($rn): ${reason:-UNKNOWN}"
	done
	if [ "$regress" -gt 0 ] || [ "${total_ok[rung]}" -lt "${total_ok[crun]}" ]; then status=1; fi
	echo
fi
echo "${total_ok[rung]:-0} passed, ${total_nok[rung]:-0} failed"
[ "$report_only" -eq 1 ] && exit 0
exit $status
