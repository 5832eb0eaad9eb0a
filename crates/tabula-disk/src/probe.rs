//! # What is on a device now
//!
//! The types a plan is computed from, the parsers of each tool's output
//! (`sfdisk --json`, `blkid -p -o export`, `cryptsetup luksDump
//! --dump-json-metadata`, `btrfs inspect-internal dump-tree -t root`), all
//! pure and tested on captured real output, and [`probe`], which runs the
//! tools. Probing never writes: btrfs subvolumes are read from the root tree
//! of the unmounted (or mounted) device, nothing is mounted.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use tabula_run::Cmd;

use crate::busy::{self, Busy};
pub use crate::luks::open_mapping;
pub use crate::node::partition_node;
use crate::{Error, Result};

/// Everything tabula knows about one disk.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct DiskProbe {
    /// The block device (a loop device for an image).
    pub device: String,
    /// Size in bytes.
    pub size: u64,
    /// Bytes per logical sector.
    pub sector_size: u64,
    /// `gpt`, `dos`, or none for a blank disk.
    pub table: Option<String>,
    /// Partitions in number order.
    pub partitions: Vec<ProbedPartition>,
    /// What holds the disk or one of its partitions.
    pub busy: Vec<Busy>,
}

/// One partition as the GPT describes it, with what it holds.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProbedPartition {
    pub number: u32,
    /// Its device node (`/dev/loop0p3`).
    pub node: String,
    /// Bytes from the start of the disk.
    pub start: u64,
    /// Bytes.
    pub size: u64,
    /// Type GUID, lower case.
    pub type_guid: String,
    /// Partition UUID, lower case.
    pub uuid: Option<String>,
    /// GPT partition name.
    pub name: Option<String>,
    pub content: Content,
}

impl ProbedPartition {
    pub fn end(&self) -> u64 {
        self.start + self.size
    }
}

/// A signature found on a partition.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Content {
    /// No signature, and every byte read is zero: nothing to lose.
    Empty,
    /// No signature, but not zero either: unknown data (plain dm-crypt,
    /// VeraCrypt, raw data, a deleted filesystem). Never taken for empty.
    Data {
        /// The first non-zero byte found (offset in the partition).
        nonzero_at: u64,
    },
    /// tabula itself was formatting this partition (`what`) when its run
    /// was killed: whatever is there now is its own unfinished work.
    Interrupted {
        what: String,
    },
    Filesystem {
        fstype: String,
        uuid: Option<String>,
        label: Option<String>,
    },
    Luks(LuksProbe),
    /// A signature tabula does not model (raid member, swap, ...).
    Other {
        usage: String,
        fstype: String,
    },
    /// The partition node was missing or unreadable (not probed).
    Unknown {
        reason: String,
    },
}

/// A LUKS2 header, and what is inside when the container is open.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LuksProbe {
    pub uuid: String,
    pub version: u32,
    pub keyslots: Vec<Keyslot>,
    /// `/dev/mapper/NAME` when the container is open.
    pub open: Option<OpenContainer>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Keyslot {
    pub id: u32,
    /// `argon2id`, `pbkdf2`, ...
    pub kdf: String,
    pub iterations: Option<u64>,
}

/// An open LUKS container.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OpenContainer {
    pub mapper: String,
    /// The signature inside: none means empty.
    pub inner: Option<BtrfsProbe>,
    /// Another signature than btrfs inside (`ext4`, ...).
    pub other: Option<String>,
}

/// A btrfs filesystem and its subvolume tree.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BtrfsProbe {
    pub uuid: Option<String>,
    pub label: Option<String>,
    /// Paths from the top level (`@system/nix`), sorted.
    pub subvolumes: Vec<String>,
}

// ---------------------------------------------------------------------------
// Parsers (pure)

#[derive(Deserialize)]
struct SfdiskTop {
    partitiontable: SfdiskTable,
}

#[derive(Deserialize)]
struct SfdiskTable {
    label: String,
    #[serde(default)]
    sectorsize: Option<u64>,
    #[serde(default)]
    partitions: Vec<SfdiskPart>,
}

#[derive(Deserialize)]
struct SfdiskPart {
    node: String,
    start: u64,
    size: u64,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    uuid: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// The partition table as `sfdisk --json DEV` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub label: String,
    pub sector_size: u64,
    /// Partitions with `content` [`Content::Unknown`] (filled by blkid).
    pub partitions: Vec<ProbedPartition>,
}

/// The trailing number of a partition node (`/dev/loop0p12` -> 12).
fn node_number(node: &str) -> Option<u32> {
    let digits: String = node
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits.parse().ok()
}

/// Parse `sfdisk --json` output.
///
/// # Errors
/// [`Error::Parse`] when the JSON is not sfdisk's.
pub fn parse_sfdisk(json: &str) -> Result<Table> {
    let top: SfdiskTop =
        serde_json::from_str(json).map_err(|e| Error::Parse(format!("sfdisk --json: {e}")))?;
    let t = top.partitiontable;
    let ss = t.sectorsize.unwrap_or(512);
    let mut partitions = t
        .partitions
        .into_iter()
        .map(|p| {
            let number = node_number(&p.node).ok_or_else(|| {
                Error::Parse(format!("sfdisk --json: no number in node `{}`", p.node))
            })?;
            // Bytes must fit in a u64, end included (a corrupt table or a
            // tool's bug must be an error, not an overflow).
            let bytes = |sectors: u64, what: &str| {
                sectors.checked_mul(ss).ok_or_else(|| {
                    Error::Parse(format!(
                        "sfdisk --json: {what} {sectors} of `{}` times sector size {ss} is past 2^64 bytes",
                        p.node
                    ))
                })
            };
            let start = bytes(p.start, "start")?;
            let size = bytes(p.size, "size")?;
            if start.checked_add(size).is_none() {
                return Err(Error::Parse(format!(
                    "sfdisk --json: `{}` ends past 2^64 bytes",
                    p.node
                )));
            }
            Ok(ProbedPartition {
                number,
                node: p.node,
                start,
                size,
                type_guid: p.kind.to_ascii_lowercase(),
                uuid: p.uuid.map(|u| u.to_ascii_lowercase()),
                name: p.name,
                content: Content::Unknown {
                    reason: "not probed".into(),
                },
            })
        })
        .collect::<Result<Vec<_>>>()?;
    partitions.sort_by_key(|p| p.number);
    Ok(Table {
        label: t.label,
        sector_size: ss,
        partitions,
    })
}

/// Parse `blkid -p -o export` output (KEY=value lines) into a map.
pub fn parse_blkid_export(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// What a blkid map says is on the device (LUKS details are added later).
pub fn content_from_blkid(map: &BTreeMap<String, String>) -> Content {
    let fstype = map.get("TYPE").cloned();
    let usage = map.get("USAGE").cloned().unwrap_or_default();
    match fstype {
        None => Content::Empty,
        Some(t) if t == "crypto_LUKS" => Content::Luks(LuksProbe {
            uuid: map.get("UUID").cloned().unwrap_or_default(),
            version: map.get("VERSION").and_then(|v| v.parse().ok()).unwrap_or(0),
            keyslots: Vec::new(),
            open: None,
        }),
        Some(t) if usage == "filesystem" => Content::Filesystem {
            fstype: t,
            uuid: map.get("UUID").cloned(),
            label: map.get("LABEL").cloned(),
        },
        Some(t) => Content::Other { usage, fstype: t },
    }
}

#[derive(Deserialize)]
struct LuksJson {
    keyslots: BTreeMap<String, LuksJsonSlot>,
}

#[derive(Deserialize)]
struct LuksJsonSlot {
    kdf: LuksJsonKdf,
}

#[derive(Deserialize)]
struct LuksJsonKdf {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    iterations: Option<u64>,
}

/// Parse the key slots of `cryptsetup luksDump --dump-json-metadata`.
///
/// # Errors
/// [`Error::Parse`] when the JSON is not a LUKS2 header.
pub fn parse_luks_json(json: &str) -> Result<Vec<Keyslot>> {
    let j: LuksJson = serde_json::from_str(json)
        .map_err(|e| Error::Parse(format!("cryptsetup luksDump --dump-json-metadata: {e}")))?;
    let mut slots = j
        .keyslots
        .into_iter()
        .map(|(id, s)| {
            Ok(Keyslot {
                id: id
                    .parse()
                    .map_err(|_| Error::Parse(format!("LUKS key slot id `{id}`")))?,
                kdf: s.kdf.kind,
                iterations: s.kdf.iterations,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    slots.sort_by_key(|s| s.id);
    Ok(slots)
}

/// The subvolume paths in `btrfs inspect-internal dump-tree -t root` output,
/// built from the ROOT_REF items (parent id, child id, name), sorted.
///
/// # Errors
/// [`Error::Parse`] on a ROOT_REF line without its name line.
pub fn parse_btrfs_root_tree(text: &str) -> Result<Vec<String>> {
    // child id -> (parent id, name)
    let mut refs: BTreeMap<u64, (u64, String)> = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(key) = line
            .split_once("key (")
            .and_then(|(_, rest)| rest.split_once(')'))
            .map(|(k, _)| k)
        else {
            continue;
        };
        let parts: Vec<&str> = key.split_whitespace().collect();
        if parts.len() != 3 || parts[1] != "ROOT_REF" {
            continue;
        }
        let parent = match parts[0] {
            "FS_TREE" => 5,
            n => n
                .parse()
                .map_err(|_| Error::Parse(format!("btrfs dump-tree: ROOT_REF parent `{n}`")))?,
        };
        let child: u64 = parts[2]
            .parse()
            .map_err(|_| Error::Parse(format!("btrfs dump-tree: ROOT_REF child `{}`", parts[2])))?;
        let name = lines
            .next()
            .and_then(|l| l.split_once(" name "))
            .map(|(_, n)| n.to_owned())
            .ok_or_else(|| {
                Error::Parse(format!("btrfs dump-tree: ROOT_REF {child} has no name"))
            })?;
        refs.insert(child, (parent, name));
    }
    let mut out = Vec::new();
    for &id in refs.keys() {
        let mut parts = Vec::new();
        let mut at = id;
        // A chain longer than the number of refs would be a loop.
        for _ in 0..=refs.len() {
            match refs.get(&at) {
                Some((parent, name)) => {
                    parts.push(name.clone());
                    at = *parent;
                }
                None => break,
            }
        }
        parts.reverse();
        out.push(parts.join("/"));
    }
    out.sort();
    Ok(out)
}

// ---------------------------------------------------------------------------
// Running the tools

/// Where apply notes the partitions it is formatting, by partition UUID,
/// until the format is done (tmpfs: a reboot forgets them).
pub const FORMATTING: &str = "/run/tabula/formatting";

/// What an interrupted run of apply was formatting on the partition with
/// this partition UUID, if its note is still there.
pub fn interrupted_format(part_uuid: &str) -> Option<String> {
    if part_uuid.is_empty() || part_uuid.contains('/') {
        return None;
    }
    std::fs::read_to_string(Path::new(FORMATTING).join(part_uuid.to_ascii_lowercase()))
        .ok()
        .map(|s| s.trim().to_owned())
}

/// Bytes read at each sample point of [`first_nonzero`].
const SAMPLE: u64 = 64 << 10;
/// Sample points between the first and the last MiB.
const SAMPLES: u64 = 64;

/// The offsets [`first_nonzero`] reads, as (start, length): the first and
/// the last MiB, and [`SAMPLES`] points spread evenly between them.
pub fn sample_ranges(size: u64) -> Vec<(u64, u64)> {
    const MIB: u64 = 1 << 20;
    if size <= 2 * MIB + SAMPLES * SAMPLE {
        return vec![(0, size)];
    }
    let mut r = vec![(0, MIB)];
    let inner = size - 2 * MIB;
    for i in 0..SAMPLES {
        let at = MIB + inner / SAMPLES * i + inner / SAMPLES / 2;
        r.push((at - at % 4096, SAMPLE));
    }
    r.push((size - MIB, MIB));
    r
}

/// The offset of the first non-zero byte in the sampled ranges of a device
/// of `size` bytes, or `None` when every byte read is zero. Bounded: about
/// 6 MiB are read whatever the size (a sparse image reads fast).
///
/// # Errors
/// When the device cannot be read.
pub fn first_nonzero(node: &str, size: u64) -> Result<Option<u64>> {
    use std::os::unix::fs::FileExt as _;
    let f = std::fs::File::open(node)
        .map_err(|e| Error::io(format!("reading {node} to see whether it is empty"), e))?;
    let mut buf = vec![0u8; 1 << 20];
    for (start, len) in sample_ranges(size) {
        let mut at = start;
        while at < start + len {
            let want = usize::try_from((start + len - at).min(buf.len() as u64)).unwrap_or(0);
            let n = f
                .read_at(&mut buf[..want], at)
                .map_err(|e| Error::io(format!("reading {node} at {at}"), e))?;
            if n == 0 {
                break;
            }
            if let Some(i) = buf[..n].iter().position(|&b| b != 0) {
                return Ok(Some(at + i as u64));
            }
            at += n as u64;
        }
    }
    Ok(None)
}

/// Size in bytes of a block device or file.
///
/// # Errors
/// When `blockdev` fails.
pub fn device_size(device: &str) -> Result<u64> {
    let out = Cmd::new("blockdev").args(["--getsize64", device]).run()?;
    out.text()
        .trim()
        .parse()
        .map_err(|_| Error::Parse(format!("blockdev --getsize64 {device}: `{}`", out.text())))
}

/// blkid's view of one device (empty map when it finds no signature).
///
/// # Errors
/// When blkid fails for another reason than "nothing found".
pub fn blkid(node: &str) -> Result<BTreeMap<String, String>> {
    // Exit 2: no signature found.
    let out = Cmd::new("blkid")
        .args(["-p", "-o", "export", node])
        .ok_codes(&[2])
        .run()?;
    Ok(parse_blkid_export(&out.text()))
}

/// Key slots of a LUKS2 header.
///
/// # Errors
/// When cryptsetup fails or its JSON is unexpected.
pub fn luks_keyslots(node: &str) -> Result<Vec<Keyslot>> {
    parse_luks_json(&crate::luks::dump_json(node)?)
}

/// What is inside an open container.
///
/// # Errors
/// When blkid or btrfs fails.
pub fn probe_inside(mapper: &str) -> Result<OpenContainer> {
    let map = blkid(mapper)?;
    match map.get("TYPE").map(String::as_str) {
        None => Ok(OpenContainer {
            mapper: mapper.to_owned(),
            inner: None,
            other: None,
        }),
        Some("btrfs") => {
            let out = Cmd::new("btrfs")
                .args(["inspect-internal", "dump-tree", "-t", "root", mapper])
                .run()?;
            Ok(OpenContainer {
                mapper: mapper.to_owned(),
                inner: Some(BtrfsProbe {
                    uuid: map.get("UUID").cloned(),
                    label: map.get("LABEL").cloned(),
                    subvolumes: parse_btrfs_root_tree(&out.text())?,
                }),
                other: None,
            })
        }
        Some(other) => Ok(OpenContainer {
            mapper: mapper.to_owned(),
            inner: None,
            other: Some(other.to_owned()),
        }),
    }
}

/// The partition table alone (`sfdisk --json`), `None` when there is none.
///
/// # Errors
/// When sfdisk fails or is missing, or its output does not parse.
pub fn read_table(device: &str) -> Result<Option<Table>> {
    // sfdisk exits 1 with "does not contain a recognized partition table".
    let out = Cmd::new("sfdisk")
        .args(["--json", device])
        .ok_codes(&[1])
        .run()?;
    let text = out.text();
    if text.trim().is_empty() {
        Ok(None)
    } else {
        parse_sfdisk(&text).map(Some)
    }
}

/// Probe a block device: table, partitions, signatures, LUKS headers, open
/// containers and their btrfs trees, busy state. Reads only.
///
/// # Errors
/// When a tool fails or is missing.
pub fn probe(device: &str) -> Result<DiskProbe> {
    let size = device_size(device)?;
    let table = read_table(device)?;
    let mut probe = DiskProbe {
        device: device.to_owned(),
        size,
        sector_size: table.as_ref().map_or(512, |t| t.sector_size),
        table: table.as_ref().map(|t| t.label.clone()),
        partitions: Vec::new(),
        busy: Vec::new(),
    };
    if let Some(t) = table {
        for mut p in t.partitions {
            // sfdisk names nodes by rule; the kernel's node is what exists.
            p.node = partition_node(device, p.number);
            p.content = if Path::new(&p.node).exists() {
                let mut c = match blkid(&p.node) {
                    Ok(map) => content_from_blkid(&map),
                    // Exit 8: several signatures at once. Not empty: fail
                    // closed (a NixOS object becomes DESTROY, a foreign one
                    // refuse).
                    Err(Error::Run(tabula_run::Error::Failed { code: Some(8), .. })) => {
                        Content::Other {
                            usage: "ambivalent".into(),
                            fstype: "several signatures".into(),
                        }
                    }
                    Err(e) => return Err(e),
                };
                if c == Content::Empty {
                    if let Some(at) = first_nonzero(&p.node, p.size)? {
                        c = Content::Data { nonzero_at: at };
                    }
                }
                if let Some(what) = p.uuid.as_deref().and_then(interrupted_format) {
                    c = Content::Interrupted { what };
                }
                if let Content::Luks(l) = &mut c {
                    // --dump-json-metadata reads LUKS2 headers only.
                    if l.version == 2 {
                        l.keyslots = luks_keyslots(&p.node)?;
                    }
                    if let Some(m) = open_mapping(&p.node) {
                        l.open = Some(probe_inside(&m)?);
                    }
                }
                c
            } else {
                Content::Unknown {
                    reason: format!("no device node {} (run `partx -a {device}`)", p.node),
                }
            };
            probe.partitions.push(p);
        }
    }
    probe.busy = busy::scan(device, probe.partitions.iter().map(|p| p.node.as_str()))?;
    Ok(probe)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[test]
    fn sfdisk_json_of_the_test_layout() {
        let t = parse_sfdisk(&fixture("sfdisk-full.json")).unwrap();
        assert_eq!(t.label, "gpt");
        assert_eq!(t.sector_size, 512);
        let names: Vec<_> = t
            .partitions
            .iter()
            .map(|p| (p.number, p.name.clone().unwrap_or_default()))
            .collect();
        assert_eq!(
            names,
            [
                (1, "ESP".into()),
                (2, "boot".into()),
                (3, "alpine".into()),
                (4, "kali".into()),
                (5, "windows".into()),
                (6, "pool".into())
            ]
        );
        let esp = &t.partitions[0];
        assert_eq!(esp.start, 1 << 20);
        assert_eq!(esp.size, 64 << 20);
        assert_eq!(esp.type_guid, "c12a7328-f81f-11d2-ba4b-00a0c93ec93b");
        // The same partition UUID as blkid read from the same disk.
        let blk = parse_blkid_export(&fixture("blkid-p1.txt"));
        assert_eq!(
            esp.uuid.as_deref(),
            blk.get("PART_ENTRY_UUID").map(String::as_str)
        );
        assert_eq!(t.partitions[5].start, 225 << 20);
    }

    /// Found by tabula-fuzz (probe target): sectors times sector size
    /// overflowed (a panic in debug builds, a wrapped size in release).
    #[test]
    fn sfdisk_sizes_past_u64_are_an_error_not_an_overflow() {
        let json = |start: &str, size: &str, ss: &str| {
            format!(
                r#"{{"partitiontable":{{"label":"gpt","sectorsize":{ss},"partitions":[{{"node":"/dev/loopXp1","start":{start},"size":{size},"type":"x"}}]}}}}"#
            )
        };
        for (start, size, ss) in [
            ("2048", "131072", "18446744073709551615"),
            ("2048", "46744073709551615", "512"),
            ("46744073709551615", "1", "512"),
            ("36028797018963967", "36028797018963967", "512"),
        ] {
            let e = parse_sfdisk(&json(start, size, ss)).unwrap_err();
            assert!(e.to_string().contains("past 2^64 bytes"), "{e}");
        }
        let ok = parse_sfdisk(&json("2048", "131072", "4096")).unwrap();
        assert_eq!(ok.partitions[0].end(), (2048 + 131_072) * 4096);
    }

    #[test]
    fn sfdisk_rejects_other_json() {
        assert!(parse_sfdisk("{\"blockdevices\": []}").is_err());
    }

    #[test]
    fn blkid_vfat_ext4_luks_and_nothing() {
        let esp = content_from_blkid(&parse_blkid_export(&fixture("blkid-p1.txt")));
        assert_eq!(
            esp,
            Content::Filesystem {
                fstype: "vfat".into(),
                uuid: Some("2CE0-6722".into()),
                label: Some("ESP".into())
            }
        );
        let boot = content_from_blkid(&parse_blkid_export(&fixture("blkid-p2.txt")));
        assert!(matches!(boot, Content::Filesystem { ref uuid, .. }
            if uuid.as_deref() == Some("0eaf7961-48c5-4b55-8a8f-04cd0b71de07")));
        let kali = content_from_blkid(&parse_blkid_export(&fixture("blkid-p4.txt")));
        assert_eq!(kali, Content::Empty);
        let pool = content_from_blkid(&parse_blkid_export(&fixture("blkid-p6.txt")));
        let Content::Luks(l) = pool else {
            panic!("not LUKS: {pool:?}")
        };
        assert_eq!(l.uuid, "3c75c6db-4d7c-4570-81f1-02d168781aac");
        assert_eq!(l.version, 2);
    }

    #[test]
    fn luks_json_key_slots() {
        let slots = parse_luks_json(&fixture("luksdump-p6.json")).unwrap();
        assert_eq!(slots.len(), 2);
        assert_eq!(slots[0].id, 0);
        assert_eq!(slots[0].kdf, "pbkdf2");
        assert_eq!(slots[1].iterations, Some(1000));
    }

    #[test]
    fn btrfs_root_tree_gives_the_nested_subvolumes() {
        let subs = parse_btrfs_root_tree(&fixture("btrfs-dump-tree-root.txt")).unwrap();
        assert_eq!(
            subs,
            [
                "@shared",
                "@shared/containers",
                "@shared/flatpak",
                "@shared/microvm",
                "@shared/waydroid",
                "@system",
                "@system/logs",
                "@system/nix",
                "@system/persist",
                "@system/state",
                "@user",
                "@user/home"
            ]
        );
        let inner = parse_blkid_export(&fixture("blkid-btrfs.txt"));
        assert_eq!(inner.get("LABEL").map(String::as_str), Some("pool"));
    }

    #[test]
    fn samples_cover_both_ends_and_stay_bounded() {
        let small = sample_ranges(3 << 20);
        assert_eq!(small, [(0, 3 << 20)]);
        let size = 200u64 << 30;
        let r = sample_ranges(size);
        assert_eq!(r.first(), Some(&(0, 1 << 20)));
        assert_eq!(r.last(), Some(&(size - (1 << 20), 1 << 20)));
        let total: u64 = r.iter().map(|(_, l)| l).sum();
        assert!(total <= 7 << 20, "{total}");
        assert!(r.iter().all(|(s, l)| s + l <= size));
    }

    #[test]
    fn zeros_are_empty_and_one_byte_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("img");
        let file = std::fs::File::create(&f).unwrap();
        let size = 64u64 << 20;
        file.set_len(size).unwrap();
        let node = f.to_string_lossy().into_owned();
        assert_eq!(first_nonzero(&node, size).unwrap(), None);
        use std::os::unix::fs::FileExt as _;
        // The last byte (in the last MiB), then one in the middle (the
        // sample points are 64 KiB long, so this one is found).
        file.write_at(&[7], size - 1).unwrap();
        assert_eq!(first_nonzero(&node, size).unwrap(), Some(size - 1));
        let mid = sample_ranges(size)[10].0 + 5;
        file.write_at(&[1], mid).unwrap();
        assert_eq!(first_nonzero(&node, size).unwrap(), Some(mid));
    }

    #[test]
    fn node_numbers() {
        assert_eq!(node_number("/dev/loop0p12"), Some(12));
        assert_eq!(node_number("/dev/vda3"), Some(3));
        assert_eq!(node_number("/dev/vda"), None);
    }
}
