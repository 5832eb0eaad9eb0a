//! # Facts derived from the spec, shared by every document
//!
//! Device names, partition extents, what mounts where, the subvolume tree:
//! computed once here so DISK_LAYOUT, ARCHITECTURE and the pictures can never
//! disagree with each other.

use tabula_spec::model::{Extent, FsType, Mount, MountSource, Owner, PartSize, Partition, ALIGN};
use tabula_spec::{AbsPath, HostSpec};

/// One partition with where it lands on the disk.
#[derive(Debug, Clone)]
pub struct Part<'a> {
    pub part: &'a Partition,
    /// `None` when it does not fit on the disk.
    pub extent: Option<Extent>,
}

pub fn parts(spec: &HostSpec) -> Vec<Part<'_>> {
    spec.partitions
        .iter()
        .zip(spec.extents())
        .map(|(part, extent)| Part { part, extent })
        .collect()
}

/// The partition's device node on the real machine (`/dev/nvme0n1p1`), or
/// `partition N` when the spec names no device.
pub fn device(spec: &HostSpec, part: &Partition) -> String {
    match spec.disk.device.as_deref() {
        Some(d) if d.ends_with(|c: char| c.is_ascii_digit()) => format!("{d}p{}", part.number),
        Some(d) => format!("{d}{}", part.number),
        None => format!("partition {}", part.number),
    }
}

/// The device without `/dev/` (`nvme0n1p1`), as the document writes it.
pub fn short_device(spec: &HostSpec, part: &Partition) -> String {
    let d = device(spec, part);
    d.strip_prefix("/dev/").map(str::to_owned).unwrap_or(d)
}

/// The disk's device, or a placeholder the reader must replace.
pub fn disk_device(spec: &HostSpec) -> String {
    spec.disk
        .device
        .clone()
        .unwrap_or_else(|| "/dev/DISK".to_owned())
}

/// Human size: the workspace's one formatter, binary units ("1.0 GiB").
pub fn human(bytes: u64) -> String {
    tabula_spec::size::human_bytes(bytes)
}

/// An offset or size in MiB, exact when aligned.
pub fn mib(bytes: u64) -> String {
    if bytes.is_multiple_of(ALIGN) {
        format!("{} MiB", group(bytes / ALIGN))
    } else {
        format!("{} B", group(bytes))
    }
}

/// Digits grouped by thousands with a thin space (`204 800`), readable in
/// tables and unambiguous in every locale.
pub fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

/// What the spec asked for: "100 MB" or "rest of the disk", and the fixed
/// start when there is one.
pub fn declared(part: &Partition) -> String {
    let size = match part.size {
        PartSize::Fixed(s) => s.human(),
        PartSize::Rest => "rest of the disk".to_owned(),
    };
    match part.start {
        Some(start) => format!("{size} from {}", start.human()),
        None => size,
    }
}

/// Who owns it: NixOS, or a foreign system whose data tabula keeps.
pub fn owner(part: &Partition) -> String {
    let mut s = match &part.owner {
        Owner::Nixos => "NixOS".to_owned(),
        Owner::Foreign(o) => format!("foreign: {o} (kept)"),
    };
    if !part.shared_with.is_empty() {
        s.push_str(&format!(", shared with {}", part.shared_with.join(", ")));
    }
    s
}

/// The filesystem as a reader thinks of it: `vfat`, `LUKS2 → btrfs`.
pub fn filesystem(spec: &HostSpec, part: &Partition) -> String {
    if is_luks(spec, part) {
        return format!(
            "LUKS2 → {}",
            if spec.btrfs.is_some() { "btrfs" } else { "?" }
        );
    }
    match &part.filesystem {
        Some(f) => f.kind.name().to_owned(),
        None => "—".to_owned(),
    }
}

/// Whether this partition holds the LUKS container.
pub fn is_luks(spec: &HostSpec, part: &Partition) -> bool {
    part.luks
        || spec
            .luks
            .as_ref()
            .is_some_and(|l| l.partition == part.label)
}

/// The UUID a reader finds with blkid: the filesystem's, or the LUKS
/// header's for the encrypted partition.
pub fn uuid(spec: &HostSpec, part: &Partition) -> Option<String> {
    if is_luks(spec, part) {
        return spec.luks.as_ref().map(|l| l.uuid.clone());
    }
    part.filesystem.as_ref().and_then(|f| f.uuid.clone())
}

pub fn fs_kind(part: &Partition) -> Option<FsType> {
    part.filesystem.as_ref().map(|f| f.kind)
}

/// The partition holding the LUKS container.
pub fn luks_part(spec: &HostSpec) -> Option<&Partition> {
    spec.partitions.iter().find(|p| is_luks(spec, p))
}

/// `/dev/mapper/NAME` of the opened container.
pub fn mapper(spec: &HostSpec) -> Option<String> {
    spec.luks
        .as_ref()
        .map(|l| format!("/dev/mapper/{}", l.name))
}

/// Where the pool's block device is: the mapper device when encrypted.
pub fn pool_device(spec: &HostSpec) -> String {
    mapper(spec).unwrap_or_else(|| {
        spec.partitions
            .iter()
            .find(|p| fs_kind(p) == Some(FsType::Btrfs))
            .map(|p| device(spec, p))
            .unwrap_or_else(|| "the btrfs partition".to_owned())
    })
}

/// Size of the btrfs pool: its partition less the LUKS2 header.
pub fn pool_size(spec: &HostSpec) -> Option<u64> {
    spec.pool_size()
}

/// The free stretches of the disk worth naming (at least 1 MiB): between
/// partitions (when a fixed `start` leaves a gap) and after the last one.
pub fn gaps(spec: &HostSpec) -> Vec<Extent> {
    let mut ext: Vec<Extent> = spec.extents().into_iter().flatten().collect();
    ext.sort_by_key(|e| e.start);
    let mut out = vec![];
    let mut cursor = ALIGN;
    for e in ext {
        if e.start >= cursor + ALIGN {
            out.push(Extent {
                start: cursor,
                size: e.start - cursor,
            });
        }
        cursor = cursor.max(e.end());
    }
    let end = spec.usable_end();
    if end >= cursor + ALIGN {
        out.push(Extent {
            start: cursor,
            size: end - cursor,
        });
    }
    out
}

/// The mounts of a subvolume (normally one).
pub fn mounts_of_subvolume<'a>(spec: &'a HostSpec, subvol: &str) -> Vec<&'a Mount> {
    spec.mounts_in_order()
        .into_iter()
        .filter(
            |m| matches!(&m.source, MountSource::Subvolume { subvolume } if subvolume == subvol),
        )
        .collect()
}

/// The mounts of a partition, by its label.
pub fn mounts_of_partition<'a>(spec: &'a HostSpec, label: &str) -> Vec<&'a Mount> {
    spec.mounts_in_order()
        .into_iter()
        .filter(|m| matches!(&m.source, MountSource::Partition { partition } if partition == label))
        .collect()
}

/// A mount's source in words: `@system/nix subvolume`, `tmpfs (2G RAM)`,
/// `nvme0n1p2 (boot)`.
pub fn source(spec: &HostSpec, m: &Mount) -> String {
    match &m.source {
        MountSource::Tmpfs { size, .. } => format!("tmpfs ({size} RAM)"),
        MountSource::Subvolume { subvolume } => format!("{subvolume} subvolume"),
        MountSource::Partition { partition } => match spec.partition(partition) {
            Some(p) => format!("{} ({})", short_device(spec, p), p.label),
            None => format!("partition {partition}"),
        },
    }
}

/// The filesystem type a mount has.
pub fn mount_type(spec: &HostSpec, m: &Mount) -> String {
    match &m.source {
        MountSource::Tmpfs { .. } => "tmpfs".to_owned(),
        MountSource::Subvolume { .. } => "btrfs".to_owned(),
        MountSource::Partition { partition } => spec
            .partition(partition)
            .and_then(fs_kind)
            .map(|k| k.name().to_owned())
            .unwrap_or_else(|| "?".to_owned()),
    }
}

/// The options a mount gets: the pool's for a subvolume, the mount's own.
pub fn mount_options(spec: &HostSpec, m: &Mount) -> Vec<String> {
    let mut o = match &m.source {
        MountSource::Subvolume { subvolume } => spec
            .btrfs
            .as_ref()
            .map(|b| b.subvolume_options(subvolume))
            .unwrap_or_default(),
        MountSource::Tmpfs { size, mode } => {
            let mut v = vec![format!("size={size}")];
            if let Some(mode) = mode {
                v.push(format!("mode={mode}"));
            }
            v
        }
        MountSource::Partition { .. } => Vec::new(),
    };
    o.extend(m.options.iter().cloned());
    o
}

/// How a path survives a reboot: by the mount that holds it, or not.
#[derive(Debug, Clone)]
pub enum Survival<'a> {
    /// On a persistent mount (subvolume or partition).
    Mount(&'a Mount),
    /// On the tmpfs root (or nothing): wiped at boot.
    Wiped,
}

impl Survival<'_> {
    pub fn is_wiped(&self) -> bool {
        matches!(self, Survival::Wiped)
    }
}

pub fn survival<'a>(spec: &'a HostSpec, path: &AbsPath) -> Survival<'a> {
    match spec.mount_holding(path) {
        Some(m) if !m.is_tmpfs() => Survival::Mount(m),
        _ => Survival::Wiped,
    }
}

/// One node of the subvolume tree, in drawing order.
#[derive(Debug, Clone)]
pub struct TreeNode<'a> {
    pub path: &'a str,
    /// The last component (or the whole path when the parent is not declared).
    pub name: String,
    pub depth: usize,
    /// For each ancestor level (and this one, last): whether that node is the
    /// last of its siblings. Drives `├──` / `└──` / `│`.
    pub last: Vec<bool>,
    pub estimate: Option<tabula_spec::Estimate>,
}

/// The subvolumes as a tree: children under their declared parent, in the
/// spec's order.
pub fn tree(spec: &HostSpec) -> Vec<TreeNode<'_>> {
    let Some(b) = &spec.btrfs else {
        return Vec::new();
    };
    let declared = |p: &str| b.subvolumes.iter().any(|s| s.path == p);
    let parent_of = |path: &str| -> Option<String> {
        // The nearest declared ancestor.
        let mut cur = path;
        while let Some((p, _)) = cur.rsplit_once('/') {
            if declared(p) {
                return Some(p.to_owned());
            }
            cur = p;
        }
        None
    };
    fn walk<'a>(
        b: &'a tabula_spec::model::Btrfs,
        parent: Option<&str>,
        parent_of: &dyn Fn(&str) -> Option<String>,
        last: &mut Vec<bool>,
        out: &mut Vec<TreeNode<'a>>,
    ) {
        let kids: Vec<_> = b
            .subvolumes
            .iter()
            .filter(|s| parent_of(&s.path).as_deref() == parent)
            .collect();
        for (i, s) in kids.iter().enumerate() {
            let name = match parent {
                Some(p) => s.path[p.len() + 1..].to_owned(),
                None => s.path.clone(),
            };
            last.push(i + 1 == kids.len());
            out.push(TreeNode {
                path: &s.path,
                name,
                depth: last.len() - 1,
                last: last.clone(),
                estimate: s.estimate,
            });
            walk(b, Some(&s.path), parent_of, last, out);
            last.pop();
        }
    }
    let mut out = Vec::new();
    walk(b, None, &parent_of, &mut Vec::new(), &mut out);
    out
}

/// `├── ` / `└── ` with the `│   ` of the ancestors.
pub fn tree_prefix(n: &TreeNode<'_>) -> String {
    let mut s = String::new();
    for (i, last) in n.last.iter().enumerate() {
        let is_self = i + 1 == n.last.len();
        s.push_str(match (is_self, last) {
            (true, true) => "└── ",
            (true, false) => "├── ",
            (false, true) => "    ",
            (false, false) => "│   ",
        });
    }
    s
}

/// Whether the root is a tmpfs: the host is impermanent.
pub fn root_is_tmpfs(spec: &HostSpec) -> bool {
    spec.mount("/").is_some_and(Mount::is_tmpfs)
}

/// The primary user's home directory.
pub fn home(spec: &HostSpec) -> AbsPath {
    spec.home_of(&spec.host.primary_user)
}

/// A path relative to the primary user's home, made absolute.
pub fn in_home(spec: &HostSpec, rel: &str) -> Option<AbsPath> {
    let rel = tabula_spec::RelPath::parse(rel).ok()?;
    Some(home(spec).join(&rel))
}

/// The top-level groups of the pool (`@system`, `@user`, `@shared`).
pub fn top_groups(spec: &HostSpec) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for s in spec.btrfs.iter().flat_map(|b| &b.subvolumes) {
        let top = s.path.split('/').next().unwrap_or(&s.path).to_owned();
        if !v.contains(&top) {
            v.push(top);
        }
    }
    v
}

/// Sum of the subvolumes' estimates (min, max) in bytes.
pub fn estimate_total(spec: &HostSpec) -> (u64, u64) {
    spec.btrfs
        .iter()
        .flat_map(|b| &b.subvolumes)
        .filter_map(|s| s.estimate)
        .fold((0, 0), |(a, b), e| (a + e.min.as_u64(), b + e.max.as_u64()))
}

/// Title of the host for headings: its model, else its name.
pub fn title(spec: &HostSpec) -> String {
    spec.host
        .model
        .clone()
        .unwrap_or_else(|| spec.host.name.clone())
}

/// The flake reference of this host in a directory (`/etc/nixos#NAME`).
pub fn flake_ref(spec: &HostSpec, dir: &str) -> String {
    format!("{dir}#{}", spec.host.name)
}

/// Where the flake lives on the host: /etc/nixos (persisted by the spec
/// when the root is a tmpfs).
pub const FLAKE_DIR: &str = "/etc/nixos";

/// Where impermanence keeps `path`: `/persist/etc/machine-id`.
pub fn under_root(root: &AbsPath, path: &AbsPath) -> String {
    if root.as_str() == "/" {
        path.to_string()
    } else {
        format!("{root}{path}")
    }
}

/// How impermanence keeps an entry that no mount holds: a directory is
/// bind-mounted from the persistent root, a file is put in place from it.
pub fn kept_in(root: &AbsPath, path: &AbsPath, directory: bool) -> String {
    let from = crate::md::code(&under_root(root, path));
    if directory {
        format!("bind-mounted from {from}")
    } else {
        format!("kept in {from}, put in place at boot")
    }
}
