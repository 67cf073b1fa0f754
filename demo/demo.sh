#!/bin/sh
# demo.sh RUNG DIR: makes a busybox bundle in DIR (the tests' rootfs,
# tests/fixture) and runs one container at each rung of the isolation
# ladder. For each it prints the isolation rung recorded at create (`state`),
# what `verify` finds on the live process against the host's namespaces,
# and what the container sees of itself.
set -eu
rung=$(realpath "$1")
dir=$2
repo=$(dirname "$(realpath "$0")")/..
rm -rf "$dir"
mkdir -p "$dir"
chmod 755 "$dir"
dir=$(realpath "$dir")
(cd "$repo" && ${GO:-go} run ./tests/fixture/mkrootfs "$dir/rootfs")
root="$dir/state"
for r in none standard strict quantum; do
	rm -f "$dir/config.json"
	"$rung" spec --bundle "$dir" --isolation "$r"
	# Replace the template's interactive shell with a report, on plain
	# stdio. The none rung has no mounts at all, so no /proc to read.
	sed -i 's|"terminal": true|"terminal": false|' "$dir/config.json"
	sed -i 's|"sh"$|"sh", "-c", "echo \\"  inside: pid $$, uid $(id -u), hostname $(hostname)\\"; [ -e /proc/self/ns ] \|\| echo \\"    no /proc mounted: see verify above\\"; for n in mnt pid net ipc uts user cgroup; do [ -e /proc/self/ns ] \&\& printf \\"    %-6s %s\\\\n\\" $n $(readlink /proc/self/ns/$n); done; true"|' "$dir/config.json"
	echo "== rung $r"
	"$rung" --root "$root" create --bundle "$dir" demo-$r
	"$rung" --root "$root" state demo-$r | sed -n '/isolation/,/}/p' | tr -d '\n '
	echo
	"$rung" --root "$root" verify demo-$r
	"$rung" --root "$root" start demo-$r
	sleep 0.2
	"$rung" --root "$root" delete demo-$r
done
echo "== host"
for n in mnt pid net ipc uts user cgroup; do printf "    %-6s %s\n" $n $(readlink /proc/self/ns/$n); done
