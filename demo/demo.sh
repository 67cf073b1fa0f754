#!/bin/sh
# demo.sh RUNG DIR: builds a busybox bundle in DIR and runs one container
# at each rung of the isolation ladder, printing what it sees of itself.
set -eu
rung=$(realpath "$1")
dir=$2
rm -rf "$dir"
mkdir -p "$dir/rootfs/bin" "$dir/rootfs/proc" "$dir/rootfs/sys" "$dir/rootfs/dev" "$dir/rootfs/tmp" "$dir/rootfs/etc"
chmod 755 "$dir"
cp /bin/busybox "$dir/rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
	[ "$applet" = busybox ] || ln -sf busybox "$dir/rootfs/bin/$applet"
done
root="$dir/state"
for r in standard strict quantum; do
	rm -f "$dir/config.json"
	"$rung" spec --bundle "$dir" --isolation "$r"
	# Replace the template's interactive shell with a report, on plain stdio.
	sed -i 's|"terminal": true|"terminal": false|' "$dir/config.json"
	sed -i 's|"sh"$|"sh", "-c", "echo \\"  inside: pid $$, uid $(id -u), hostname $(hostname)\\"; for n in mnt pid net ipc uts user cgroup; do printf \\"    %-6s %s\\\\n\\" $n $(readlink /proc/self/ns/$n); done"|' "$dir/config.json"
	echo "== rung $r"
	"$rung" --root "$root" create --bundle "$dir" demo-$r
	"$rung" --root "$root" state demo-$r | sed -n '/isolation/,/}/p' | tr -d '\n ' ; echo
	"$rung" --root "$root" start demo-$r
	sleep 0.2
	"$rung" --root "$root" delete demo-$r
done
echo "== host"
for n in mnt pid net ipc uts user cgroup; do printf "    %-6s %s\n" $n $(readlink /proc/self/ns/$n); done
