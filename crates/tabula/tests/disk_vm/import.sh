# issue 12: `import` reads the applied disk back, read-only, the container
# opened --readonly with the passphrase to read the pool; the plan of the
# spec it wrote is all keep, and the disk's bytes are unchanged. Sourced by
# scenarios.sh after step 5 (the container is closed here).
import_sum=$(sha256sum $D | awk '{print $1}')
"$T" import --disk $D --passphrase-file $P --out $W/imported.toml > $W/import.out 2>&1
echo $? > $W/import.code
check import_wrote_spec [ -s $W/imported.toml ]
check import_read_pool grep -q 'path = "@user/home"' $W/imported.toml
check import_pool_mounts grep -q 'subvolume = "@system/nix"' $W/imported.toml
check import_closed_after sh -c "! ls /dev/mapper | grep -q tabula-import"
"$T" --spec $W/imported.toml plan --disk $D > $W/import-plan.out 2>&1
check import_plan_rc [ $? -eq 0 ]
check import_plan_all_keep grep -q '^0 create, 0 format, .* 0 DESTROY, 0 refuse' $W/import-plan.out
check import_never_writes [ "$(sha256sum $D | awk '{print $1}')" = "$import_sum" ]
