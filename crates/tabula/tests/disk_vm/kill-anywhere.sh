# Kill-anywhere (sourced by scenarios.sh; runs on /dev/vdb after scenario 8):
# `kill -9` of `tabula apply` at seeded random moments and while each of its
# writing tools runs (sgdisk, luksFormat, luksAddKey, mkfs.vfat, mkfs.ext4,
# mkfs.btrfs, btrfs subvolume), each followed by a plain rerun with the same
# arguments and no manual step (the killed run's tool, orphaned, may still
# be writing: the rerun waits for it). After each rerun: it converged (read
# back: the disk matches the spec), the foreign partitions are
# byte-identical, and @user/home's file is intact where it existed. The count
# of kills survived goes to $W/kills-anywhere (the Rust test asserts it).
KK=$W/usb2/keys/surface-pro-8.key
KA=$W/ka
mkdir -p $KA /tmp/ka-home
ka_seed=20261201
# Sets ka_r to a number in [0, $1) (no subshell: the seed must advance).
ka_rnd() { ka_seed=$(( (ka_seed * 1103515245 + 12345) % 2147483648 )); ka_r=$(( ka_seed / 65536 % $1 )); }
# MiB ranges of the fixture's partitions: ESP 1-65, boot 65-129, alpine
# 129-161, kali 161-193, windows 193-225, pool from 225.
ka_range() { dd if=$E bs=1M skip=$1 count=$2 status=none | sha256sum | awk '{print $1}'; }
ka_foreign() { echo "$(ka_range 129 32) $(ka_range 161 32) $(ka_range 193 32)"; }
ka_ms() { date +%s%3N; }
# A disk where apply has everything to do again, foreign data in place:
# the NixOS partitions zeroed where their signatures live, the GPT gone.
ka_fresh() {
  [ -e /dev/mapper/pool ] && cryptsetup close pool
  dd if=/dev/zero of=$E bs=1M seek=1 count=128 conv=notrunc status=none
  dd if=/dev/zero of=$E bs=1M seek=225 count=32 conv=notrunc status=none
  sgdisk --zap-all $E > /dev/null 2>&1
  blockdev --rereadpt $E 2> /dev/null
  sync
}
ka_args="apply --disk $E --yes --passphrase-file $P --keyfile $KK"
# Start `tabula $ka_args` (or $2...); kill -9 it when a child whose command
# line matches $1 runs ("" = after ka_delay ms). Sets ka_hit=1 on a kill.
ka_delay=0
ka_kill() {
  pat=$1; shift
  "$T" --spec "$S" "$@" > $KA/killed.out 2>&1 &
  pid=$!
  ka_hit=0
  t0=$(ka_ms)
  while kill -0 $pid 2> /dev/null; do
    if [ -n "$pat" ]; then
      pgrep -P $pid -f -- "$pat" > /dev/null 2>&1 && { kill -9 $pid; ka_hit=1; break; }
    elif [ $(( $(ka_ms) - t0 )) -ge $ka_delay ]; then
      kill -9 $pid; ka_hit=1; break
    fi
    sleep 0.005
  done
  wait $pid 2> /dev/null
  # Reaped after the kill: a run that ended by itself is no kill.
  grep -q "matches the spec" $KA/killed.out && ka_hit=0
}
ka_kills=0
ka_fail=0
ka_note() { echo "$*" >> $KA/log; }
# The rerun: same arguments, no manual step; then the checks.
ka_rerun() {
  what=$1; shift
  "$T" --spec "$S" "$@" > $KA/rerun.out 2>&1
  rc=$?
  if [ $rc -ne 0 ] || ! grep -q "matches the spec" $KA/rerun.out; then
    ka_fail=$((ka_fail + 1)); ka_note "FAIL $what: rerun rc=$rc"; cat $KA/rerun.out >> $KA/log
  fi
  [ "$(ka_foreign)" = "$ka_foreign_sums" ] || { ka_fail=$((ka_fail + 1)); ka_note "FAIL $what: foreign changed"; }
  if [ -n "$ka_home_sum" ]; then
    [ -e /dev/mapper/pool ] || "$T" --spec "$S" mount --disk $E --target /tmp/ka-m --keyfile $KK > /dev/null 2>&1
    mount -o subvol=@user/home /dev/mapper/pool /tmp/ka-home 2> /dev/null
    [ "$(sha256sum < /tmp/ka-home/ka.bin | awk '{print $1}')" = "$ka_home_sum" ] \
      || { ka_fail=$((ka_fail + 1)); ka_note "FAIL $what: @user/home changed"; }
    umount /tmp/ka-home 2> /dev/null
    "$T" --spec "$S" unmount --target /tmp/ka-m > /dev/null 2>&1
  fi
  [ $ka_hit -eq 1 ] && ka_kills=$((ka_kills + 1))
  ka_note "$what: hit=$ka_hit rc=$rc"
}
ka_t0=$(ka_ms)
# Foreign data: random bytes in the three foreign partitions.
for mib in 130 162 194; do
  head -c 2000000 /dev/urandom | dd of=$E bs=1M seek=$mib conv=notrunc status=none
done
ka_foreign_sums=$(ka_foreign)
ka_home_sum=
# How long a whole fresh apply takes (the span of the random delays).
ka_fresh
s0=$(ka_ms)
"$T" --spec "$S" $ka_args > $KA/full.out 2>&1
ka_full=$(( $(ka_ms) - s0 ))
ka_note "full fresh apply: ${ka_full} ms, rc $?"
# Inside each writing tool, then at seeded random moments of a fresh apply.
for target in sgdisk luksFormat luksAddKey mkfs.vfat mkfs.ext4 mkfs.btrfs "btrfs subvolume" \
              "" "" ""; do
  ka_fresh
  ka_rnd $(( ka_full * 3 / 4 + 1 )); ka_delay=$ka_r
  ka_kill "$target" $ka_args
  ka_rerun "kill in ${target:-apply after ${ka_delay} ms}" $ka_args
done
# On the provisioned disk, with a file in @user/home: a --reset of
# @system/nix killed inside btrfs and at a random moment; @user/home stays.
"$T" --spec "$S" mount --disk $E --target /tmp/ka-m --keyfile $KK > /dev/null 2>&1
head -c 500000 /dev/urandom > /tmp/ka-m/home/ka.bin
ka_home_sum=$(sha256sum < /tmp/ka-m/home/ka.bin | awk '{print $1}')
"$T" --spec "$S" unmount --target /tmp/ka-m > /dev/null 2>&1
ka_reset="$ka_args --reset @system/nix --wipe subvolume:@system/nix"
for target in "btrfs subvolume delete" ""; do
  ka_rnd 4000; ka_delay=$ka_r
  ka_kill "$target" $ka_reset
  ka_rerun "reset killed in ${target:-after ${ka_delay} ms}" $ka_reset
done
"$T" --spec "$S" $ka_args > $KA/final.out 2>&1
check kill_anywhere_final_noop grep -q "nothing to do" $KA/final.out
check kill_anywhere_no_failure [ $ka_fail -eq 0 ]
[ -e /dev/mapper/pool ] && cryptsetup close pool
echo $ka_kills > $W/kills-anywhere
ka_note "kill-anywhere: $ka_kills kills, $ka_fail failures, $(( $(ka_ms) - ka_t0 )) ms"
cat $KA/log >> $W/ka.log
