#!/usr/bin/env bash
# How the seeds in this folder were captured: the real tools on small image
# files of our own (run as root; detaches and unmounts only what it made).
# The disk probe's main fixtures are in crates/tabula-disk/tests/fixtures
# (capture.sh there); these add the outputs `tabula status` parses, an MBR
# table, an empty disk, and this machine's mountinfo with escapes.
#
#   sudo bash crates/tabula-fuzz/seeds/capture.sh
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
mnt=$work/mnt
loop=
cleanup() {
  umount "$mnt/with space" 2>/dev/null || true
  umount "$mnt" 2>/dev/null || true
  [ -n "$loop" ] && losetup -d "$loop"
  rm -rf "$work"
}
trap cleanup EXIT

# An MBR table with two partitions, and a disk with no table.
truncate -s 64M "$work/mbr.img"
printf 'label: dos\n,16M,83\n,,7\n' | sfdisk -q "$work/mbr.img"
sfdisk --json "$work/mbr.img" | sed "s#$work/mbr.img#/dev/loopX#g" > probe/sfdisk-mbr.json
truncate -s 8M "$work/empty.img"
sfdisk --json "$work/empty.img" 2>&1 | sed "s#$work#/tmp/w#g" > probe/sfdisk-empty.txt || true

# A btrfs pool with nested subvolumes and quotas, as `tabula status` reads it.
truncate -s 256M "$work/pool.img"
mkfs.btrfs -q -L pool -U 5a1e0c9e-1111-4222-8333-944455566677 "$work/pool.img"
blkid -p -o export "$work/pool.img" | sed "s#$work/pool.img#/dev/loopX#g" > probe/blkid-pool.txt
loop=$(losetup -f --show "$work/pool.img")
mkdir "$mnt"
mount "$loop" "$mnt"
for s in @system @system/nix @system/persist @user @user/home "@odd name"; do
  btrfs -q subvolume create "$mnt/$s"
done
btrfs quota enable "$mnt"
btrfs quota rescan -w "$mnt" >/dev/null
btrfs subvolume list -a "$mnt" > probe/btrfs-subvolume-list.txt
btrfs qgroup show --raw "$mnt" > probe/btrfs-qgroup-show.txt
btrfs filesystem usage -b "$mnt" > probe/btrfs-filesystem-usage.txt
btrfs subvolume show "$mnt/@user/home" | sed "s#$mnt#/mnt#g" > probe/btrfs-subvolume-show.txt
mkdir "$mnt/with space"
mount -t tmpfs -o size=1M fuzz-seed "$mnt/with space"
grep -F "$mnt" /proc/self/mountinfo | sed "s#$work#/tmp/w#g" > mountinfo/loop-btrfs.txt
cat /proc/swaps > mountinfo/swaps.txt
