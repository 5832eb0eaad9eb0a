#!/usr/bin/env bash
# Benchmark (not a test): `tabula apply` of the test layout on a fresh sparse
# image against the same partitioning/mkfs/cryptsetup commands run bare on a
# loop device, side by side. Root needed (loop devices). On this kernel there
# is no device-mapper, so both sides stop at the LUKS container (apply runs
# with --no-open; the bare side formats it and adds the keyfile slot, as
# apply does). The KDF is the test spec's cheap pbkdf2 (1000 iterations), so
# the figures measure tabula's own overhead (probing, checks, read-back).
#
#   sudo bash benches/disk/apply-vs-bare.sh [RUNS]   (default 5)
#
# Prints the median wall time of each side and their ratio.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
spec=crates/tabula-disk/tests/fixtures/test-host.toml
cargo build -q --release -p tabula
bin=$PWD/target/release/tabula
work=$(mktemp -d)
loop=
cleanup() {
  if [ -n "$loop" ]; then partx -d "$loop" 2>/dev/null || true; losetup -d "$loop" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
printf 'bench passphrase\n' > "$work/pass"
head -c 4096 /dev/urandom > "$work/key"
now() { date +%s.%N; }

tabula_run() {
  rm -f "$work/t.img"
  local s e
  s=$(now)
  "$bin" --spec "$spec" apply --disk "$work/t.img" --size 1GiB --yes --no-open 2>/dev/null \
    --passphrase-file "$work/pass" --keyfile "$work/key" >/dev/null
  e=$(now)
  echo "$s $e" | awk '{printf "%.3f\n", $2 - $1}'
}

bare_run() {
  rm -f "$work/b.img"
  truncate -s 1GiB "$work/b.img"
  local s e MiB=2048
  s=$(now)
  loop=$(losetup -f --show "$work/b.img")
  sgdisk -o "$loop" >/dev/null
  sgdisk --new=1:$((1*MiB)):$((65*MiB-1)) --typecode=1:c12a7328-f81f-11d2-ba4b-00a0c93ec93b --change-name=1:ESP "$loop" >/dev/null
  sgdisk --new=2:$((65*MiB)):$((129*MiB-1)) --typecode=2:0fc63daf-8483-4772-8e79-3d69d8477de4 --change-name=2:boot "$loop" >/dev/null
  sgdisk --new=3:$((129*MiB)):$((161*MiB-1)) --typecode=3:0fc63daf-8483-4772-8e79-3d69d8477de4 --change-name=3:alpine "$loop" >/dev/null
  sgdisk --new=4:$((161*MiB)):$((193*MiB-1)) --typecode=4:0fc63daf-8483-4772-8e79-3d69d8477de4 --change-name=4:kali "$loop" >/dev/null
  sgdisk --new=5:$((193*MiB)):$((225*MiB-1)) --typecode=5:ebd0a0a2-b9e5-4433-87c0-68b6b72699c7 --change-name=5:windows "$loop" >/dev/null
  sgdisk --new=6:$((225*MiB)):$((1023*MiB-1)) --typecode=6:0fc63daf-8483-4772-8e79-3d69d8477de4 --change-name=6:pool "$loop" >/dev/null
  partx -a "$loop"
  mkfs.vfat -F 32 -i 2CE06722 -n ESP "${loop}p1" >/dev/null
  mkfs.ext4 -F -q -U 0eaf7961-48c5-4b55-8a8f-04cd0b71de07 -L boot "${loop}p2"
  printf 'bench passphrase' | cryptsetup luksFormat --batch-mode --type luks2 \
    --uuid 3c75c6db-4d7c-4570-81f1-02d168781aac --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
    --key-file - "${loop}p6"
  printf 'bench passphrase' | cryptsetup luksAddKey --batch-mode --pbkdf pbkdf2 \
    --pbkdf-force-iterations 1000 --key-file - "${loop}p6" "$work/key"
  partx -d "$loop"
  losetup -d "$loop"
  loop=
  e=$(now)
  echo "$s $e" | awk '{printf "%.3f\n", $2 - $1}'
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
t=(); b=()
for _ in $(seq "$runs"); do
  t+=("$(tabula_run)")
  b+=("$(bare_run)")
done
tm=$(printf '%s\n' "${t[@]}" | median)
bm=$(printf '%s\n' "${b[@]}" | median)
echo "tabula apply (median of $runs): ${tm}s   [${t[*]}]"
echo "bare commands (median of $runs): ${bm}s   [${b[*]}]"
echo "ratio tabula/bare: $(echo "$tm $bm" | awk '{printf "%.2f", $1 / $2}')"
