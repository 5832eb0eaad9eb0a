//! # The live mount table: the workspace's one `/proc/self/mountinfo` parser
//!
//! proc(5): `ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - FSTYPE
//! SOURCE SUPER_OPTIONS`. The kernel escapes space, tab, newline and
//! backslash in the path fields (and `,`/`=` inside option values) as
//! `\ooo`, three octal digits. [`unescape`] is the one unescape: a `\` not
//! followed by exactly three octal digits, or followed by a value past a
//! byte (`\400`..`\777`, which the kernel never writes), is kept as written.
//! It never panics and never overflows.
//!
//! Paths are kept as bytes (a mount point need not be UTF-8); callers that
//! compare with text use [`Mount::mount_point_lossy`] and friends. The audit
//! (tabula-audit), the busy check and mount/unmount (tabula-disk) and
//! `status` (tabula-nixos) all read the table through [`parse`] / [`read`].

/// Where the kernel publishes this process's mount table.
pub const PATH: &str = "/proc/self/mountinfo";

/// One row of mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The mount's unique id.
    pub id: u64,
    /// The parent mount's id.
    pub parent: u64,
    /// `st_dev` of files on this mount (major, minor).
    pub dev: (u32, u32),
    /// The path inside the filesystem that is mounted (`/` unless a bind
    /// mount or a btrfs subvolume: `/@system/nix`).
    pub root: Vec<u8>,
    pub mount_point: Vec<u8>,
    /// Per-mount options (`rw`, `noatime`), each unescaped.
    pub mount_options: Vec<String>,
    pub fstype: String,
    pub source: String,
    /// Superblock options (`rw`, `compress=zstd:3`, `subvol=/@system/nix`),
    /// each unescaped.
    pub super_options: Vec<String>,
}

impl Mount {
    /// The mount point as text (invalid UTF-8 shown as U+FFFD).
    pub fn mount_point_lossy(&self) -> String {
        String::from_utf8_lossy(&self.mount_point).into_owned()
    }

    /// The root inside the filesystem as text.
    pub fn root_lossy(&self) -> String {
        String::from_utf8_lossy(&self.root).into_owned()
    }

    /// The value of `key=value` among the mount's, then the superblock's
    /// options.
    pub fn option(&self, key: &str) -> Option<&str> {
        self.mount_options
            .iter()
            .chain(&self.super_options)
            .find_map(|o| o.strip_prefix(key)?.strip_prefix('='))
    }

    /// Whether a bare flag (`noatime`, `ro`) is among the options.
    pub fn has_flag(&self, flag: &str) -> bool {
        self.mount_options
            .iter()
            .chain(&self.super_options)
            .any(|o| o == flag)
    }
}

/// Parse the whole table. Malformed lines are skipped: the kernel writes
/// this file, and a line we cannot read must not stop anyone.
pub fn parse(text: &str) -> Vec<Mount> {
    text.lines().filter_map(parse_line).collect()
}

/// Read and parse [`PATH`].
///
/// # Errors
/// The file cannot be read (no /proc).
pub fn read() -> std::io::Result<Vec<Mount>> {
    std::fs::read_to_string(PATH).map(|t| parse(&t))
}

/// One line; None when it is not a mountinfo line.
pub fn parse_line(line: &str) -> Option<Mount> {
    let f: Vec<&str> = line.split(' ').collect();
    // The separator comes after the six fixed fields and any optional ones.
    let sep = f.iter().skip(6).position(|x| *x == "-")? + 6;
    let (maj, min) = f.get(2)?.split_once(':')?;
    let opts = |s: &str| -> Vec<String> {
        if s.is_empty() {
            Vec::new()
        } else {
            s.split(',').map(text).collect()
        }
    };
    Some(Mount {
        id: f.first()?.parse().ok()?,
        parent: f.get(1)?.parse().ok()?,
        dev: (maj.parse().ok()?, min.parse().ok()?),
        root: unescape(f.get(3)?),
        mount_point: unescape(f.get(4)?),
        mount_options: opts(f.get(5)?),
        fstype: text(f.get(sep + 1)?),
        source: text(f.get(sep + 2)?),
        super_options: f.get(sep + 3).map(|o| opts(o)).unwrap_or_default(),
    })
}

fn text(s: &str) -> String {
    String::from_utf8_lossy(&unescape(s)).into_owned()
}

/// Undo the kernel's octal escapes (`\040` for a space, `\134` for `\`).
///
/// Exactly three octal digits make an escape (`\+12` and `\08` do not);
/// values past a byte (`\400`..`\777`) are not an escape either and are kept
/// as written. Never panics.
pub fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if let Some(v) = escape_at(b, i) {
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// The byte a `\ooo` at `i` stands for, if it is one.
fn escape_at(b: &[u8], i: usize) -> Option<u8> {
    let esc = b.get(i..i + 4)?;
    if esc[0] != b'\\' || !esc[1..].iter().all(|c| (b'0'..=b'7').contains(c)) {
        return None;
    }
    let v = esc[1..]
        .iter()
        .fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
    u8::try_from(v).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    const TABLE: &str = "\
22 1 0:20 / / rw,relatime shared:1 - tmpfs none rw,size=2097152k,mode=755
40 22 0:31 /@system/nix /nix rw,noatime shared:20 master:3 - btrfs /dev/mapper/pool rw,compress=zstd:3,subvol=/@system/nix
44 22 254:1 / /mnt/with\\040space rw - ext4 /dev/sdb1 rw
66 64 0:40 /@odd\\040name /tmp/t/a\\040b ro - btrfs /dev/loop0 rw,subvol=/@odd\\054name
";

    #[test]
    fn parses_fields_optional_fields_and_escapes() {
        let m = parse(TABLE);
        assert_eq!(m.len(), 4);
        assert_eq!((m[0].id, m[0].parent, m[0].dev), (22, 1, (0, 20)));
        assert_eq!(m[0].option("size"), Some("2097152k"));
        assert_eq!(m[1].root, b"/@system/nix");
        assert_eq!(m[1].fstype, "btrfs");
        assert_eq!(m[1].source, "/dev/mapper/pool");
        assert_eq!(m[1].option("compress"), Some("zstd:3"));
        assert!(m[1].has_flag("noatime"));
        assert_eq!(m[2].dev, (254, 1));
        assert_eq!(m[2].mount_point, b"/mnt/with space");
        assert_eq!(m[3].root_lossy(), "/@odd name");
        assert_eq!(m[3].mount_point_lossy(), "/tmp/t/a b");
        // An escaped comma inside an option value stays inside the value.
        assert_eq!(m[3].option("subvol"), Some("/@odd,name"));
    }

    #[test]
    fn every_three_digit_octal_escape_gives_its_byte_or_is_kept() {
        for v in 0u32..=0o777 {
            let s = format!("a\\{v:03o}b");
            let got = unescape(&s);
            match u8::try_from(v) {
                Ok(byte) => assert_eq!(got, [b'a', byte, b'b'], "{s}"),
                Err(_) => assert_eq!(got, s.as_bytes(), "{s}"),
            }
        }
    }

    /// Found by tabula-fuzz: `\4xx` overflowed the u8 arithmetic of
    /// status.rs's unescape; `\+12` was an escape for busy.rs's.
    #[test]
    fn escapes_past_a_byte_and_non_octal_are_kept_as_written() {
        for (field, want) in [
            ("/mnt/\\+12", &b"/mnt/\\+12"[..]),
            ("/mnt/\\-12", b"/mnt/\\-12"),
            ("/mnt/\\400", b"/mnt/\\400"),
            ("/mnt/\\477", b"/mnt/\\477"),
            ("/mnt/\\777x", b"/mnt/\\777x"),
            ("/mnt/\\08", b"/mnt/\\08"),
            ("/mnt/end\\04", b"/mnt/end\\04"),
            ("/mnt/\\", b"/mnt/\\"),
            ("/mnt/a\\040b", b"/mnt/a b"),
            ("/mnt/\\134", b"/mnt/\\"),
            ("/a\\377", b"/a\xff"),
        ] {
            let m = parse(&format!("41 22 0:45 / {field} rw - tmpfs none rw\n"));
            assert_eq!(m.len(), 1, "{field}");
            assert_eq!(m[0].mount_point, want, "{field}");
        }
    }

    #[test]
    fn hostile_lines_are_skipped_not_fatal() {
        for bad in [
            "",
            "not a mountinfo line",
            "1 2 0:1 / /a rw",
            "1 2 0:1 / /a rw -",
            "1 2 0:1 / /a rw - tmpfs",
            "x 2 0:1 / /a rw - tmpfs none rw",
            "1 2 01 / /a rw - tmpfs none rw",
            "1 2 0:99999999999 / /a rw - tmpfs none rw",
            "1 2 0:1 - - rw tmpfs none rw",
            "99999999999999999999999 2 0:1 / /a rw - tmpfs none rw",
            "\\\\\\ \\ \\ \\ \\ \\ - \\ \\ \\",
        ] {
            assert!(parse(bad).is_empty(), "{bad:?}");
        }
        // A `-` as the root is a field, not the separator.
        let m = parse("1 2 0:1 - /a rw - tmpfs none rw\n");
        assert_eq!(
            (m[0].root.as_slice(), m[0].fstype.as_str()),
            (&b"-"[..], "tmpfs")
        );
        // No superblock options: an empty list, not a refusal.
        assert!(parse("1 2 0:1 / /a rw - tmpfs none")[0]
            .super_options
            .is_empty());
    }

    /// The kernel's escaping (space, tab, newline, backslash as `\ooo`) read
    /// back gives the bytes it started from, for every byte.
    #[test]
    fn kernel_escaping_round_trips_for_every_byte() {
        let escape = |b: &[u8]| -> String {
            b.iter()
                .map(|&c| match c {
                    b' ' | b'\t' | b'\n' | b'\\' => format!("\\{c:03o}"),
                    c => char::from(c).to_string(),
                })
                .collect()
        };
        for c in 1u8..=127 {
            let path = [b'/', b'a', c, b'\\', b'0', b'4', b'0', c];
            let line = format!("1 2 0:1 / {} rw - tmpfs none rw", escape(&path));
            let m = parse(&line);
            assert_eq!(m.len(), 1, "{line:?}");
            assert_eq!(m[0].mount_point, path, "{line:?}");
        }
    }

    #[test]
    fn this_machines_table_parses() {
        let m = read().unwrap();
        assert!(m.iter().any(|m| m.mount_point == b"/"));
    }
}
