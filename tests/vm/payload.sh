#!/bin/sh
# Runs inside the VM (started by rung-payload.service from the 9p share):
# copies the payload to the guest's disk, runs each suite listed in
# suites, and writes the results to out/ on the share for the host.
# Output of each suite: out/NAME.log (go test -v=test2json framing) and
# out/NAME.exit, then out/done. Progress lines go to the serial console.
set -u
share=/mnt/payload
out=$share/out
work=/var/lib/rung-payload
mkdir -p "$out"
export HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

say() { echo "payload: $*" >/dev/console; }
now() { cut -d' ' -f1 /proc/uptime; }

{
	echo "uptime $(now)"
	uname -r
	stat -fc %T /sys/fs/cgroup
	cat /sys/fs/cgroup/cgroup.controllers
	ps -p 1 -o comm=
	systemctl --version | head -1
} >"$out/started.tmp" 2>&1
mv "$out/started.tmp" "$out/started"
say "started at $(now)s: $(tr '\n' ' ' <"$out/started")"

# Run the binaries from the guest's own disk, not from 9p.
rm -rf "$work"
cp -a "$share/bin" "$work"
cd "$work" || exit 1

# suites: one a line, "NAME TIMEOUT_SECONDS ENV=VALUE... -- ARGS to tests.test".
while read -r name secs rest; do
	case $name in '' | '#'*) continue ;; esac
	say "suite $name: start (bound ${secs}s)"
	t0=$(now)
	# shellcheck disable=SC2086 # rest is word-split on purpose
	# PATH: the payload's crictl; RUNG_ENGINES_REPORT: the engines'
	# table, brought out beside the suite's log; RUNG_VM_OUT: where a
	# suite may leave more (the conformance logs).
	env PATH="$work:$PATH" RUNG_TEST_BINARY="$work/rung" RUNG_TEST_PROBE="$work/probe" \
		RUNG_ENGINES_REPORT="$out/$name-report.txt" RUNG_VM_OUT="$out" \
		timeout -k 10 "$secs" $rest </dev/null >"$out/$name.log" 2>&1
	code=$?
	echo "$code $t0 $(now)" >"$out/$name.exit"
	say "suite $name: exit $code after $(echo "$(now) $t0" | awk '{printf "%.0f", $1-$2}')s"
done <"$share/suites"

journalctl -b --no-pager >"$out/journal.txt" 2>&1
dmesg >"$out/dmesg.txt" 2>&1
echo "uptime $(now)" >"$out/done"
sync
say "done"
