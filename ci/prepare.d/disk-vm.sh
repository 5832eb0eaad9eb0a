#!/usr/bin/env bash
# Prepare the VM the disk tests boot for what this kernel lacks
# (device-mapper for `cryptsetup open`, vfat, partition scanning):
#   - qemu-system-x86 from bookworm-backports (with its dependencies);
#   - Debian's kernel and busybox-static, fetched with `apt-get download`
#     and unpacked (not installed);
#   - an initramfs with the needed modules and ci/disk-vm/init.
# Output: target/disk-vm/{vmlinuz,initrd.img}; crates/tabula/tests/disk_vm.rs
# boots them (and prints SKIP when they are missing).
#
#   sudo bash ci/prepare.d/disk-vm.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$PWD/target/disk-vm
mkdir -p "$out"

if ! command -v qemu-system-x86_64 >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -t bookworm-backports qemu-system-x86 >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work" # apt-get download runs as _apt
cd "$work"
kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$kpkg" ] || { echo "cannot resolve the kernel package from linux-image-amd64" >&2; exit 1; }
apt-get download -qq "$kpkg" busybox-static
dpkg -x "$kpkg"_*.deb kroot
dpkg -x busybox-static_*.deb bb
kver=$(ls kroot/lib/modules)
depmod -b kroot "$kver"

mkdir -p initrd/bin initrd/lib/modules initrd/proc initrd/sys initrd/dev initrd/host
cp bb/bin/busybox initrd/bin/busybox
# The modules in load order (dependencies first), each once.
modprobe -d kroot -S "$kver" -a --show-depends \
    loop virtio_pci virtio_blk dm_crypt xts aesni_intel btrfs crc32c_generic ext4 vfat \
    nls_cp437 nls_ascii nls_utf8 9p 9pnet_virtio \
  | awk '$1 == "insmod" {print $2}' | awk '!seen[$0]++' > modules.list
: > initrd/modules.order
while read -r ko; do
  name=$(basename "$ko")
  cp "$ko" "initrd/lib/modules/$name"
  case "$name" in
    *.ko.xz) xz -d "initrd/lib/modules/$name"; name=${name%.xz} ;;
    *.ko.zst) zstd -q -d --rm "initrd/lib/modules/$name"; name=${name%.zst} ;;
  esac
  echo "$name" >> initrd/modules.order
done < modules.list
install -m 0755 "$OLDPWD/ci/disk-vm/init" initrd/init
(cd initrd && find . | cpio -o -H newc --quiet | gzip -1) > "$out/initrd.img"
cp "kroot/boot/vmlinuz-$kver" "$out/vmlinuz"
echo "disk VM ready: $out (kernel $kver, $(wc -l < initrd/modules.order) modules)"
