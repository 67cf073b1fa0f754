#!/bin/sh
# Build the VM test image: a Debian 12 tree from mmdebstrap, as a raw ext4
# filesystem (no partition table, so the guest boots with root=/dev/vda),
# plus the kernel and initrd installed in it, which QEMU boots directly.
# Usage: image.sh PACKAGES OUTDIR (rung-payload.service sits beside it).
# Everything that changes from run to run lives in the payload
# (payload.sh), so editing tests never rebuilds this. The engines' daemons
# stay disabled at boot: the tests start their own, and boot time counts.
set -eu
pkgs=$1
out=$2
unit=$(dirname "$0")/rung-payload.service
tree=$out/tree

include=$(grep -v '^#' "$pkgs" | grep -v '^$' | paste -sd, -)
mkdir -p "$out"
# minbase keeps the image small; the list above adds what boots and runs.
mmdebstrap --variant=minbase --include="$include" \
	--components=main \
	--customize-hook='echo rung-vm > "$1/etc/hostname"' \
	--customize-hook='printf "/dev/vda / ext4 rw,relatime 0 1\n" > "$1/etc/fstab"' \
	--customize-hook='rm -f "$1/etc/machine-id" && chroot "$1" systemd-machine-id-setup' \
	--customize-hook="copy-in $unit /etc/systemd/system" \
	--customize-hook='chroot "$1" systemctl enable rung-payload.service' \
	--customize-hook='chroot "$1" systemctl disable docker.service docker.socket containerd.service' \
	--customize-hook='chroot "$1" systemctl mask serial-getty@ttyS0.service getty@tty1.service systemd-firstboot.service apt-daily.timer apt-daily-upgrade.timer man-db.timer e2scrub_all.timer fstrim.timer' \
	bookworm "$tree" \
	"deb http://deb.debian.org/debian bookworm main" \
	"deb http://deb.debian.org/debian bookworm-updates main" \
	"deb http://deb.debian.org/debian-security bookworm-security main"

cp "$(ls "$tree"/boot/vmlinuz-* | sort -V | tail -1)" "$out/vmlinuz"
cp "$(ls "$tree"/boot/initrd.img-* | sort -V | tail -1)" "$out/initrd.img"
# 8 GiB, sparse: room for the engines' images and the test bundles.
mkfs.ext4 -q -F -L rung-vm -d "$tree" "$out/rootfs.img" 8G
rm -rf "$tree"
