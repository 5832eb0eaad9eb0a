//! # The live mount table
//!
//! Parses `/proc/self/mountinfo` (proc(5)) into [`MountInfo`] rows. Only what
//! the audit needs is kept: the mount point (unescaped, as bytes: it may not
//! be UTF-8), the filesystem type, the source and the root of the mount
//! within its filesystem (which tells a bind mount from a whole mount).

/// One row of mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    pub mount_id: u64,
    /// Root of the mount within its filesystem (`/` unless a bind or subvolume).
    pub root: Vec<u8>,
    pub mount_point: Vec<u8>,
    pub fstype: String,
    pub source: String,
}

/// Filesystem types whose content does not survive a reboot, or that are
/// views of the kernel rather than storage.
pub const EPHEMERAL_FSTYPES: &[&str] = &[
    "tmpfs",
    "ramfs",
    "devtmpfs",
    "proc",
    "sysfs",
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
    // NixOS's /etc overlay: its upper directory lives on the root tmpfs and
    // is audited there.
    "overlay",
];

/// Whether a filesystem type keeps its content across a reboot.
pub fn is_persistent_fstype(fstype: &str) -> bool {
    !EPHEMERAL_FSTYPES.contains(&fstype)
}

/// Parse the whole table. Malformed lines are skipped: the kernel writes this
/// file, and a line we cannot read must not stop the audit.
pub fn parse(text: &str) -> Vec<MountInfo> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<MountInfo> {
    let (left, right) = line.split_once(" - ")?;
    let mut l = left.split(' ');
    let mount_id = l.next()?.parse().ok()?;
    let _parent = l.next()?;
    let _dev = l.next()?;
    let root = unescape(l.next()?);
    let mount_point = unescape(l.next()?);
    let mut r = right.split(' ');
    let fstype = r.next()?.to_owned();
    let source = String::from_utf8_lossy(&unescape(r.next().unwrap_or(""))).into_owned();
    Some(MountInfo {
        mount_id,
        root,
        mount_point,
        fstype,
        source,
    })
}

/// Undo the kernel's octal escapes (`\040` for a space, `\134` for `\`).
fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let oct = &b[i + 1..i + 4];
            if oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let v = u32::from(oct[0] - b'0') * 64
                    + u32::from(oct[1] - b'0') * 8
                    + u32::from(oct[2] - b'0');
                if let Ok(byte) = u8::try_from(v) {
                    out.push(byte);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
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

    #[test]
    fn unescapes_backslash_and_keeps_plain_backslashes() {
        assert_eq!(unescape("a\\134b"), b"a\\b");
        assert_eq!(unescape("a\\b"), b"a\\b");
        assert_eq!(unescape("end\\04"), b"end\\04");
    }
}
