# Sourced by scenarios.sh after scenario 5 (the disk applied, /home holds
# thesis.bin with sum $home_sum, the container closed). Issue 9, defects 2
# and 3.

# U1. `apply --reset @system/nix` with an umount that always fails (a PATH
# shim: "target is busy", exit 32): apply fails and says the pool stays
# mounted; nothing in the still-mounted top level is removed (the old
# TempDir drop ran remove_dir_all on it and deleted @user/home).
SHIM=$W/umount-shim
mkdir -p $SHIM
printf '#!/bin/sh\necho "umount: $1: target is busy." >&2\nexit 32\n' > $SHIM/umount
chmod +x $SHIM/umount
PATH=$SHIM:$PATH tab apply --disk $D --yes --passphrase-file $P --reset @system/nix --wipe subvolume:@system/nix > $W/umount-fails.out 2>&1
check umount_fails_apply_fails [ $? -ne 0 ]
check umount_fails_says_mounted grep -q "stays mounted at" $W/umount-fails.out
top=$(findmnt -rn -o TARGET | grep '/tabula-pool\.' | head -n 1)
check umount_fails_top_kept sh -c "[ -n '$top' ] && [ -f '$top/@user/home/user/thesis.bin' ]"
# A plain rerun (real umount) releases the stale top level and converges.
tab apply --disk $D --yes --passphrase-file $P > $W/umount-fails-rerun.out 2>&1
check umount_fails_rerun [ $? -eq 0 ]
check umount_fails_released sh -c "[ -n '$top' ] && ! findmnt '$top' >/dev/null && [ ! -e '$top' ]"
# @user/home, mounted by hand: the file is intact.
if [ -e /dev/mapper/pool ]; then cryptsetup close pool; fi
tr -d '\n' < $P | cryptsetup open --type luks2 --key-file - /dev/vda6 pool
mkdir -p /tmp/homecheck
mount -o subvol=@user/home /dev/mapper/pool /tmp/homecheck
check umount_fails_home_intact [ "$(sha256sum /tmp/homecheck/user/thesis.bin | awk '{print $1}')" = "$home_sum" ]
umount /tmp/homecheck
cryptsetup close pool

# U2. `tabula unmount` leaves a foreign mount under the target (and the
# root it pins) but unmounts every subvolume and partition of the layout
# and closes the pool; `tabula mount` refuses to stack on a foreign mount.
tab mount --disk $D --target $M --passphrase-file $P > /dev/null 2>&1
check foreign_layout_mounted findmnt $M/home
mkdir -p $M/srv
mount -t tmpfs -o size=1M foreign $M/srv
echo keep > $M/srv/keep.txt
tab unmount --target $M > $W/unmount-foreign.out 2>&1
check foreign_unmount_rc [ $? -eq 0 ]
check foreign_left_mounted sh -c "findmnt $M/srv >/dev/null && grep -q keep $M/srv/keep.txt"
check foreign_left_said grep -q "left mounted: $M/srv" $W/unmount-foreign.out
check foreign_layout_gone sh -c "! findmnt $M/home >/dev/null && ! findmnt $M/boot >/dev/null && ! findmnt $M/nix >/dev/null"
check foreign_pool_closed [ ! -e /dev/mapper/pool ]
tab mount --disk $D --target $M --passphrase-file $P > $W/mount-foreign.out 2>&1
check foreign_mount_refused [ $? -eq 3 ]
check foreign_mount_names_it grep -q "$M/srv" $W/mount-foreign.out
check foreign_mount_nothing_stacked sh -c "! findmnt $M/home >/dev/null && [ ! -e /dev/mapper/pool ]"
umount $M/srv
tab unmount --target $M > /dev/null 2>&1
check foreign_cleanup sh -c "! findmnt -R $M >/dev/null 2>&1"
