# After the generated RUNBOOK's disk steps (runbook.sh) on /dev/vdc:
# `apply --wipe table:DISK` killed with kill -9 while luksFormat runs (the
# old table is gone, the new one written), then the same line again: it
# finishes and reads back, and a plain apply has nothing left to do.
# Sourced by scenarios.sh after runbook.sh; writes wipe-*.out for the test.
F=/dev/vdc
WK=$W/wk
mkdir -p $WK
# A reboot leaves nothing open; what was still open goes to the record.
{ echo "== before the wipe"; lsblk -o NAME,TYPE,FSTYPE,MOUNTPOINTS $F; dmsetup ls; findmnt -R $M; } > $WK/state.out 2>&1
umount -R $M 2>/dev/null
[ -e /dev/mapper/pool ] && cryptsetup close pool
check wipe_kill_start_closed [ ! -e /dev/mapper/pool ]
wk_args="apply --disk $F --yes --wipe table:$F --passphrase-file $P"
# The plan first (nothing written): what the wipe will do, for the record.
"$T" --spec "$S" plan --disk $F --wipe table:$F > $WK/plan.out 2>&1
check wipe_kill_plan [ $? -eq 0 ]
"$T" --spec "$S" $wk_args > $WK/killed.out 2>&1 &
pid=$!
hit=0
while kill -0 $pid 2> /dev/null; do
  pgrep -P $pid -f -- luksFormat > /dev/null 2>&1 && { kill -9 $pid; hit=1; break; }
  sleep 0.005
done
wait $pid 2> /dev/null
echo "exit $?" >> $WK/killed.out
check wipe_kill_hit [ $hit -eq 1 ]
"$T" --spec "$S" $wk_args > $WK/rerun.out 2>&1
check wipe_kill_rerun [ $? -eq 0 ]
grep -q "matches the spec" $WK/rerun.out || fail wipe_kill_rerun_read_back "no read back"
"$T" --spec "$S" apply --disk $F --yes --passphrase-file $P > $WK/noop.out 2>&1
check wipe_kill_noop [ $? -eq 0 ]
grep -q "nothing to do" $WK/noop.out || fail wipe_kill_noop_nothing "not a no-op"
"$T" --spec "$S" unmount --target $M > /dev/null 2>&1
[ -e /dev/mapper/pool ] && cryptsetup close pool
true
