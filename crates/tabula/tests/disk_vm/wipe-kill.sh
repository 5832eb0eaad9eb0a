# The generated RUNBOOK's disk steps (runbook.sh, written by disk_vm.rs from
# the RUNBOOK `tabula docs` renders), then `apply --wipe table:DISK` killed
# on a real block device. Sourced by scenarios.sh after kill-anywhere.sh
# (ka_kill comes from there); /dev/vdc is the test's third, blank image.
F=/dev/vdc
. "$W/runbook.sh"
# A reboot leaves nothing open: whatever the runbook's last step left
# mounted is in rb/reboot.out (tabula unmount's own report) for the record.
umount -R $M 2>/dev/null
[ -e /dev/mapper/pool ] && cryptsetup close pool
check wipe_kill_start_closed [ ! -e /dev/mapper/pool ]
# vdc now holds the runbook's layout. Repartition it with --wipe table:,
# kill -9 when luksFormat runs (the old table is gone, the new one written),
# then rerun the same line: it finishes, and a plain apply has nothing to do.
wk_args="apply --disk $F --yes --wipe table:$F --passphrase-file $P"
ka_kill luksFormat $wk_args
cp $KA/killed.out $W/wipe-killed.out
check wipe_kill_hit [ $ka_hit -eq 1 ]
"$T" --spec "$S" $wk_args > $W/wipe-kill.out 2>&1
check wipe_kill_rerun [ $? -eq 0 ]
grep -q "matches the spec" $W/wipe-kill.out || fail wipe_kill_rerun "no read back"
"$T" --spec "$S" apply --disk $F --yes --passphrase-file $P >> $W/wipe-kill.out 2>&1
check wipe_kill_noop [ $? -eq 0 ]
grep -q "nothing to do" $W/wipe-kill.out || fail wipe_kill_noop "not a no-op"
"$T" --spec "$S" unmount --target $M > /dev/null 2>&1
[ -e /dev/mapper/pool ] && cryptsetup close pool
