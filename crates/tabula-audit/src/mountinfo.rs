//! # The live mount table
//!
//! `/proc/self/mountinfo` is read by the workspace's one parser,
//! [`tabula_run::mountinfo`]; the audit uses the mount point (bytes: it may
//! not be UTF-8), the filesystem type, the source and the root of the mount
//! within its filesystem (which tells a bind mount from a whole mount). What
//! is the audit's own is the judgement below: which filesystem types persist.

/// One row of mountinfo: the workspace's one parser, in tabula-run.
pub use tabula_run::mountinfo::{parse, Mount as MountInfo};

/// Filesystem types that are views of the kernel rather than storage:
/// never a loss for the audit, never described by `import --root`.
pub const KERNEL_FSTYPES: &[&str] = &[
    "proc",
    "sysfs",
    "devtmpfs",
    "devpts",
    "mqueue",
    "cgroup",
    "cgroup2",
    "securityfs",
    "debugfs",
    "tracefs",
    "pstore",
    "bpf",
    "configfs",
    "fusectl",
    "hugetlbfs",
    "autofs",
    "binfmt_misc",
    "nsfs",
    "rpc_pipefs",
    "efivarfs",
    "ramfs",
];

/// Memory-backed storage whose content does not survive a reboot: tmpfs,
/// and NixOS's /etc overlay (its upper directory lives on the root tmpfs
/// and is audited there).
const VOLATILE_FSTYPES: &[&str] = &["tmpfs", "overlay"];

/// Whether a filesystem type keeps its content across a reboot.
pub fn is_persistent_fstype(fstype: &str) -> bool {
    !KERNEL_FSTYPES.contains(&fstype) && !VOLATILE_FSTYPES.contains(&fstype)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Captured from a NixOS host with impermanence (trimmed).
    const NIXOS: &str = "\
22 1 0:20 / / rw,relatime shared:1 - tmpfs none rw,size=2097152k,mode=755
23 22 0:5 / /dev rw,nosuid shared:2 - devtmpfs devtmpfs rw,size=400000k
24 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:5 - proc proc rw
30 22 0:25 / /run rw,nosuid,nodev shared:10 - tmpfs tmpfs rw,mode=755
40 22 0:31 /@system/nix /nix rw,noatime shared:20 - btrfs /dev/mapper/pool rw,compress=zstd:3,subvol=/@system/nix
41 22 0:31 /@system/persist /persist rw,noatime shared:21 - btrfs /dev/mapper/pool rw,subvol=/@system/persist
42 22 0:31 /@system/persist/etc/nixos /etc/nixos rw,noatime shared:21 - btrfs /dev/mapper/pool rw,subvol=/@system/persist
43 22 0:31 /@system/persist/etc/machine-id /etc/machine-id rw,noatime shared:21 - btrfs /dev/mapper/pool rw,subvol=/@system/persist
44 22 0:40 / /mnt/with\\040space rw shared:30 - ext4 /dev/sdb1 rw
";

    #[test]
    fn parses_captured_table() {
        let m = parse(NIXOS);
        assert_eq!(m.len(), 9);
        assert_eq!(m[0].mount_point, b"/");
        assert_eq!(m[0].fstype, "tmpfs");
        assert_eq!(m[5].root, b"/@system/persist");
        assert_eq!(m[6].mount_point, b"/etc/nixos");
        assert_eq!(m[8].mount_point, b"/mnt/with space");
        assert_eq!(m[8].source, "/dev/sdb1");
        assert!(!is_persistent_fstype(&m[0].fstype));
        assert!(is_persistent_fstype(&m[4].fstype));
    }

    #[test]
    fn skips_garbage_lines() {
        assert!(parse("not a mountinfo line\n\n").is_empty());
    }
}
