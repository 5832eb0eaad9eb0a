# The disk scenarios that need device-mapper and vfat, run inside the VM
# (crates/tabula/tests/disk_vm.rs boots it) as root in the host's root, with
# the host's tools and the test build of tabula. /dev/vda and /dev/vdb are
# the test's own sparse images. Each scenario appends "ok NAME" or
# "FAIL NAME: why" to $W/results; the Rust test reads them.
# @T@, @S@ and @W@ are replaced by the test (tabula, spec, work folder).
set -u
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
T=@T@
S=@S@
W=@W@
export TABULA_ARGV_LOG=$W/argv.log NO_COLOR=1
D=/dev/vda
E=/dev/vdb
P=$W/pass
K=$W/usb/keys/surface-pro-8.key
M=/tmp/target
tab() { "$T" --spec "$S" "$@"; }
# Each result also goes to $W/times with the guest's clock (seconds since
# boot), so the test can print where the minutes go.
stamp() { echo "$(cut -d' ' -f1 /proc/uptime) $1" >> "$W/times"; }
ok() { echo "ok $1" >> "$W/results"; stamp "$1"; }
fail() { echo "FAIL $1: $2" >> "$W/results"; stamp "$1"; }
check() { name=$1; shift; if "$@"; then ok "$name"; else fail "$name" "$*"; fi; }
sums() { sha256sum /dev/vda3 /dev/vda4 /dev/vda5 | awk '{print $1}'; }

# TABULA_DISK_VM_ONLY=runbook (disk_vm.rs writes it to $W/only): the
# runbook's steps, the killed wipe and the import of the disk they leave,
# alone on vdc, to debug them quickly.
if [ "$(cat $W/only 2> /dev/null)" = runbook ]; then
  . "$W/runbook.sh"
  . "$W/wipe-kill.sh"
  D=/dev/vdc
  . "$W/import.sh"
  echo done >> "$W/results"
  exit 0
fi

# 1. Fresh apply of the full layout, with a new random keyfile on the "stick".
tab apply --disk $D --yes --passphrase-file $P --usb $W/usb > $W/apply-fresh.out 2>&1
check fresh_apply [ $? -eq 0 ]
check keyfile_written [ -s $K ]
check fresh_read_back grep -q "read back: the disk matches the spec" $W/apply-fresh.out
check closed_after_apply [ ! -e /dev/mapper/pool ]

# The statically linked tabula (scripts/build-static.sh) on the real disk:
# the same plan as the test build's.
if [ -x $W/tabula-static ]; then
  "$W/tabula-static" --spec "$S" plan --disk $D > $W/static-plan.out 2>&1
  check static_plan [ $? -eq 0 ]
  tab plan --disk $D > $W/plan-after-apply.out 2>&1
  check static_plan_same cmp -s $W/static-plan.out $W/plan-after-apply.out
fi

# The other systems install themselves meanwhile.
mkfs.ext4 -q -L alpine /dev/vda3
echo "alpine's own file" > /tmp/planted
debugfs -w -R "write /tmp/planted planted" /dev/vda3 >/dev/null 2>&1
head -c 3000000 /dev/urandom | dd of=/dev/vda4 bs=1M conv=notrunc status=none
head -c 5000000 /dev/urandom | dd of=/dev/vda5 bs=1M seek=2 conv=notrunc status=none
sync

# 2. Re-apply: nothing to do (it opens the container to check inside).
tab apply --disk $D --yes --passphrase-file $P --keyfile $K > $W/apply-again.out 2>&1
check reapply_rc [ $? -eq 0 ]
check reapply_noop grep -q "nothing to do" $W/apply-again.out
tab unmount --target $M > /dev/null 2>&1
check closed_after_unmount [ ! -e /dev/mapper/pool ]

# 3. Mount with the keyfile; the mount table; write data everywhere.
tab mount --disk $D --target $M --keyfile $K > $W/mount-keyfile.out 2>&1
check mount_keyfile [ $? -eq 0 ]
findmnt --json -R -o TARGET,SOURCE,FSTYPE,OPTIONS $M > $W/findmnt-keyfile.json
# /dev/mapper/pool is vda's now: an apply on another disk must not write
# through it, nor open its own container under that name.
tab apply --disk $E --yes --passphrase-file $P > $W/apply-taken.out 2>&1
check name_taken_refused [ $? -eq 3 ]
check name_taken_says_why grep -q "already open for another device" $W/apply-taken.out
check name_taken_nothing_written sh -c "! sfdisk --json $E >/dev/null 2>&1"
mkdir -p $M/home/user $M/boot/efi/EFI/test
head -c 1000000 /dev/urandom > $M/home/user/thesis.bin
head -c 100000 /dev/urandom > $M/nix/store-object
echo esp > $M/boot/efi/EFI/test/hello.txt
home_sum=$(sha256sum $M/home/user/thesis.bin | awk '{print $1}')
tab unmount --target $M > $W/unmount1.out 2>&1
check unmount1 [ $? -eq 0 ]
check unmount1_nothing_left sh -c "! findmnt -R $M >/dev/null 2>&1"
before=$(sums)

# 4. Reset @system/nix: refused without --wipe, then done with it.
tab apply --disk $D --yes --passphrase-file $P --reset @system/nix > $W/reset-nowipe.out 2>&1
check reset_needs_wipe [ $? -eq 3 ]
check reset_names_object grep -q "wipe subvolume:@system/nix" $W/reset-nowipe.out
tab apply --disk $D --yes --passphrase-file $P --reset @system/nix --wipe subvolume:@system/nix > $W/reset.out 2>&1
check reset_rc [ $? -eq 0 ]
check reset_plan_destroy grep -q "DESTROY     subvolume:@system/nix" $W/reset.out
tab unmount --target $M > /dev/null 2>&1

# 5. Mount with the passphrase: /home intact, /nix empty, the ESP file there.
tab mount --disk $D --target $M --passphrase-file $P > $W/mount-pass.out 2>&1
check mount_passphrase [ $? -eq 0 ]
findmnt --json -R -o TARGET,SOURCE,FSTYPE,OPTIONS $M > $W/findmnt-passphrase.json
check home_identical [ "$(sha256sum $M/home/user/thesis.bin | awk '{print $1}')" = "$home_sum" ]
check nix_empty [ -z "$(ls -A $M/nix)" ]
check esp_file_kept grep -q esp $M/boot/efi/EFI/test/hello.txt
tab unmount --target $M > /dev/null 2>&1
check foreign_identical [ "$(sums)" = "$before" ]
check alpine_file_kept sh -c "debugfs -R 'cat planted' /dev/vda3 2>/dev/null | grep -q \"alpine's own file\""

# ---- issue 12: import (crates/tabula/tests/disk_vm/import.sh) ----
. "$W/import.sh"
# ---- end issue 12 ----

# ---- issue 9 (defects 2, 3): a failing umount, foreign mounts ----
. "$W/umount-fails.sh"
# ---- end issue 9 (defects 2, 3) ----

# 6. install: without nixos-install it prints the command and exits 4
# before touching the disk; with one (a shim recording its arguments) it is
# apply (nothing to do) + mount + the flake in the persisted /etc/nixos.
tab install --disk $D --yes --passphrase-file $P --keyfile $K --target $M > $W/install-missing.out 2>&1
check install_exit_4 [ $? -eq 4 ]
check install_missing_nothing_mounted sh -c "! findmnt -R $M >/dev/null 2>&1"
mkdir -p /tmp/nixos-shim && printf '#!/bin/sh\necho "$@" > %s/nixos-install.args\n' "$W" > /tmp/nixos-shim/nixos-install && chmod 755 /tmp/nixos-shim/nixos-install
env PATH=/tmp/nixos-shim:$PATH "$T" --spec "$S" install --disk $D --yes --passphrase-file $P --keyfile $K --target $M > $W/install.out 2>&1
check install_rc_0 [ $? -eq 0 ]
check install_flake [ -s $M/persist/etc/nixos/flake.nix ]
check install_host_toml cmp -s $M/persist/etc/nixos/host.toml "$S"
check install_prints_command grep -qF -- "--flake $M/persist/etc/nixos#surface-pro-8 --root $M --no-root-passwd" $W/nixos-install.args
tab unmount --target $M > /dev/null 2>&1
tab mount --disk $D --target $M --keyfile $K > /dev/null 2>&1
check install_persisted [ -s $M/persist/etc/nixos/flake.nix ]
# status of the layout `tabula mount` made: all as specified (exit 0); then
# /home remounted without noatime and /var/lib/waydroid unmounted: exactly
# that drift and that missing mount (exit 1). The Rust test reads the JSON.
tab status --target $M --json > $W/status-ok.json 2> $W/status-ok.err
echo $? > $W/status-ok.code
tab status --target $M > $W/status-ok.txt 2>&1
check status_ok_exit_0 [ "$(cat $W/status-ok.code)" -eq 0 ]
mount -o remount,bind,strictatime $M/home
umount $M/var/lib/waydroid
tab status --target $M --json > $W/status-drift.json 2> $W/status-drift.err
echo $? > $W/status-drift.code
tab status --target $M > $W/status-drift.txt 2>&1
check status_drift_exit_1 [ "$(cat $W/status-drift.code)" -eq 1 ]
tab unmount --target $M > /dev/null 2>&1
check status_unmount_after_drift [ ! -e /dev/mapper/pool ]

# 7. An image file: apply through a loop device (detached after), mount
# keeps it attached, unmount --disk detaches it.
I=/tmp/vm-image.img
tab apply --disk $I --size 1GiB --yes --passphrase-file $P > $W/image-apply.out 2>&1
check image_apply [ $? -eq 0 ]
check image_detached_after_apply [ -z "$(losetup -j $I)" ]
tab mount --disk $I --target $M --passphrase-file $P > $W/image-mount.out 2>&1
check image_mount [ $? -eq 0 ]
check image_mounted_home findmnt $M/home
tab unmount --target $M --disk $I > $W/image-unmount.out 2>&1
check image_unmount [ $? -eq 0 ]
check image_detached_after_unmount [ -z "$(losetup -j $I)" ]
rm -f $I

# 8. Apply killed after every step in turn (one step per run), then rerun:
# it converges to the same layout.
kills=0
i=0
while [ $i -lt 60 ]; do
  i=$((i + 1))
  TABULA_TEST_ABORT_AFTER_STEP=1 "$T" --spec "$S" apply --disk $E --yes --passphrase-file $P --usb $W/usb2 > $W/kill.out 2>&1
  rc=$?
  if grep -q "nothing to do" $W/kill.out; then break; fi
  [ $rc -ne 0 ] && kills=$((kills + 1))
  # Data written after each killed run must survive every later run: a
  # file on the ESP once it exists, one in the pool's top level once the
  # pool exists.
  if [ "$(blkid -p -s TYPE -o value /dev/vdb1 2>/dev/null)" = vfat ]; then
    echo "$i" > /tmp/m && mcopy -o -i /dev/vdb1 /tmp/m "::m$i" && echo "esp m$i" >> $W/markers
  fi
  if [ -e /dev/mapper/pool ] && [ "$(blkid -p -s TYPE -o value /dev/mapper/pool 2>/dev/null)" = btrfs ]; then
    mkdir -p /tmp/top && mount -o subvolid=5 /dev/mapper/pool /tmp/top \
      && echo "$i" > /tmp/top/m$i && umount /tmp/top && echo "pool m$i" >> $W/markers
  fi
done
echo "$kills" > $W/kills
check killed_runs_converge grep -q "nothing to do" $W/kill.out
tab apply --disk $E --yes --passphrase-file $P --keyfile $W/usb2/keys/surface-pro-8.key > $W/kill-final.out 2>&1
check killed_then_noop grep -q "nothing to do" $W/kill-final.out
lost=0
while read -r where name; do
  case $where in
    esp) mtype -i /dev/vdb1 "::$name" >/dev/null 2>&1 || lost=$((lost + 1)) ;;
  esac
done < $W/markers
tab mount --disk $E --target $M --keyfile $W/usb2/keys/surface-pro-8.key > /dev/null 2>&1
check killed_disk_mounts [ $? -eq 0 ]
mkdir -p /tmp/top && mount -o subvolid=5 /dev/mapper/pool /tmp/top
while read -r where name; do
  case $where in
    pool) [ -f "/tmp/top/$name" ] || lost=$((lost + 1)) ;;
  esac
done < $W/markers
umount /tmp/top
markers=$(grep -c . $W/markers)
echo "$markers markers, $lost lost" > $W/markers.summary
check killed_runs_kept_later_data [ "$lost" -eq 0 -a "$markers" -ge 10 ]
findmnt --json -R -o TARGET,SOURCE,FSTYPE,OPTIONS $M > $W/findmnt-killed.json
tab unmount --target $M > /dev/null 2>&1

# ---- kill-anywhere (crates/tabula/tests/disk_vm/kill-anywhere.sh) ----
. "$W/kill-anywhere.sh"
# ---- end kill-anywhere ----

# ---- the RUNBOOK's disk steps (runbook.sh, written by disk_vm.rs), then
# a killed --wipe table: on the disk they left (wipe-kill.sh) ----
. "$W/runbook.sh"
. "$W/wipe-kill.sh"
# ---- end RUNBOOK ----

echo done >> "$W/results"
