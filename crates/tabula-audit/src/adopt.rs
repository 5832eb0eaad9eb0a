//! # Adopt a running or mounted root: what `tabula import --root` reads
//!
//! [`read_root`] reads the facts a host.toml can describe from a root
//! directory and the mount table that root sees: its mounts (sources by
//! UUID, PARTUUID, LABEL or btrfs subvolume, the options that matter,
//! `neededForBoot` from `etc/fstab`'s `x-initrd.mount`), a tmpfs root with
//! its size and mode, the persistence entries read back (bind mounts from
//! the persistence root are directories, symlinks into it are files, under
//! their user when they lie in `/home/USER`), the users of `etc/passwd`
//! (UID 1000..65534) with their groups, and the LUKS unlock of
//! `etc/crypttab`. Whatever is seen but cannot be described goes to
//! [`RootFacts::left_out`] with what to do about it.
//!
//! It never writes and never leaves the root: every file is opened with
//! `openat2(RESOLVE_IN_ROOT)` (an absolute symlink or `..` stays inside the
//! root, a loop is `ELOOP`), symlinks are read with `readlinkat`, never
//! followed, and the walk for symlinks never crosses a mount point.
//! [`RootFacts::write_into`] (in [`mod@write`]) merges the facts into a host.toml
//! document.

pub mod write;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, ResolveFlags};
use serde::Serialize;
use tabula_run::mountinfo::{parse_line, Mount as MountInfo};

/// Errors that stop the reading (everything else is a [`LeftOut`]).
#[derive(Debug, thiserror::Error)]
pub enum AdoptError {
    #[error("the root {path} cannot be opened as a directory: {source}")]
    Root {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("mountinfo line {line} is not a mount table line: `{text}` (expected `ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS ... - FSTYPE SOURCE OPTIONS`, proc(5)); give the file /proc/self/mountinfo wrote")]
    Mountinfo { line: usize, text: String },
    #[error("mountinfo has no mount at / of the root; give the mount table as that root sees it")]
    NoRootMount,
    #[error("reading the mount table {path}: {source}")]
    ReadMountinfo {
        path: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// How a filesystem is named: as `etc/fstab` names it, else the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "by", content = "value")]
pub enum DeviceRef {
    Uuid(String),
    PartUuid(String),
    Label(String),
    PartLabel(String),
    /// A device path as the kernel shows it (`/dev/mapper/pool`, `/dev/sda2`).
    Path(String),
}

impl DeviceRef {
    /// Read `UUID=x`, `/dev/disk/by-uuid/x` and friends.
    pub fn parse(s: &str) -> DeviceRef {
        for (tag, dir, make) in [
            (
                "UUID=",
                "/dev/disk/by-uuid/",
                DeviceRef::Uuid as fn(String) -> DeviceRef,
            ),
            ("PARTUUID=", "/dev/disk/by-partuuid/", DeviceRef::PartUuid),
            ("LABEL=", "/dev/disk/by-label/", DeviceRef::Label),
            (
                "PARTLABEL=",
                "/dev/disk/by-partlabel/",
                DeviceRef::PartLabel,
            ),
        ] {
            if let Some(v) = s.strip_prefix(tag).or_else(|| s.strip_prefix(dir)) {
                return make(unquote(v).to_owned());
            }
        }
        DeviceRef::Path(s.to_owned())
    }
}

fn unquote(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(s)
}

/// Where a mount comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "type")]
pub enum SourceFact {
    /// `size` as tmpfs takes it (`2G`), `mode` octal (`755`).
    Tmpfs {
        size: Option<String>,
        mode: Option<String>,
    },
    /// A btrfs subvolume (path without a leading `/`) of the pool on `device`.
    Subvolume {
        subvolume: String,
        device: DeviceRef,
    },
    /// A whole filesystem on a device.
    Device { device: DeviceRef, fstype: String },
}

/// One mount of the root that host.toml can describe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MountFact {
    /// The mount point inside the root (`/nix`).
    pub path: String,
    pub source: SourceFact,
    /// The options that matter (`noatime`, `compress=zstd`, `umask=0077`),
    /// as declared in `etc/fstab` when it lists the mount, else as seen.
    pub options: Vec<String>,
    pub needed_for_boot: bool,
    /// Why a value above was guessed, when one was.
    pub guessed: Option<String>,
}

/// The persistence entries read back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PersistenceFacts {
    /// The persistence root's mount point (`/persist`).
    pub root: String,
    pub directories: BTreeSet<String>,
    pub files: BTreeSet<String>,
    /// Per user: paths relative to `/home/USER`.
    pub users: BTreeMap<String, UserEntries>,
    /// Entries whose kind (directory or file) was guessed, with why.
    pub guessed: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UserEntries {
    pub directories: BTreeSet<String>,
    pub files: BTreeSet<String>,
}

/// A user of `etc/passwd` (UID 1000..65534).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserFact {
    pub name: String,
    pub uid: u32,
    pub description: Option<String>,
    /// Supplementary groups from `etc/group`, in its order.
    pub groups: Vec<String>,
    /// A password hash file found under the persistence root (guessed).
    pub hashed_password_file: Option<String>,
}

/// One line of `etc/crypttab`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CryptFact {
    /// The mapping name (`/dev/mapper/NAME`).
    pub name: String,
    pub device: DeviceRef,
    /// The key file's path, and the device holding it (`path:UUID=x`).
    pub keyfile: Option<String>,
    pub keyfile_device: Option<DeviceRef>,
    /// `keyfile-timeout=10s`, in seconds.
    pub keyfile_timeout: Option<u32>,
    pub discard: bool,
}

/// Something seen that host.toml cannot describe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeftOut {
    pub what: String,
    pub fix: String,
}

/// What [`read_root`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RootFacts {
    /// The mounts, parents first.
    pub mounts: Vec<MountFact>,
    pub persistence: Option<PersistenceFacts>,
    pub users: Vec<UserFact>,
    pub crypt: Vec<CryptFact>,
    pub left_out: Vec<LeftOut>,
}

impl RootFacts {
    /// The tmpfs root: its size and mode.
    pub fn tmpfs_root(&self) -> Option<(Option<&str>, Option<&str>)> {
        self.mounts
            .iter()
            .find(|m| m.path == "/")
            .and_then(|m| match &m.source {
                SourceFact::Tmpfs { size, mode } => Some((size.as_deref(), mode.as_deref())),
                _ => None,
            })
    }

    fn leave(&mut self, what: impl Into<String>, fix: impl Into<String>) {
        let l = LeftOut {
            what: what.into(),
            fix: fix.into(),
        };
        if !self.left_out.contains(&l) {
            self.left_out.push(l);
        }
    }
}

/// How many entries the symlink walk reads before it stops (a tmpfs root
/// holds a few thousand).
pub const WALK_LIMIT: usize = 200_000;
/// How deep the symlink walk goes.
pub const WALK_DEPTH: usize = 24;

/// Read the root at `root` with the mount table `mountinfo` (its text, as
/// that root sees it: mount points relative to the root).
///
/// # Errors
/// [`AdoptError::Root`] when `root` is not a readable directory,
/// [`AdoptError::Mountinfo`] naming the first line that is not a mountinfo
/// line, [`AdoptError::NoRootMount`] when nothing is mounted at `/`.
pub fn read_root(root: &Path, mountinfo: &str) -> Result<RootFacts, AdoptError> {
    let mut table = Vec::new();
    for (i, line) in mountinfo.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(line) {
            Some(m) => table.push(m),
            None => {
                return Err(AdoptError::Mountinfo {
                    line: i + 1,
                    text: line.chars().take(200).collect(),
                })
            }
        }
    }
    read_table(root, table)
}

/// [`read_root`] on this process's `/proc/self/mountinfo`: the mounts at and
/// below `root`, with `root` taken off their mount points.
///
/// # Errors
/// As [`read_root`]; [`AdoptError::ReadMountinfo`] without /proc.
pub fn read_root_live(root: &Path) -> Result<RootFacts, AdoptError> {
    let canonical = std::fs::canonicalize(root).map_err(|e| AdoptError::Root {
        path: root.to_owned(),
        source: e,
    })?;
    let text = std::fs::read_to_string(tabula_run::mountinfo::PATH).map_err(|e| {
        AdoptError::ReadMountinfo {
            path: tabula_run::mountinfo::PATH,
            source: e,
        }
    })?;
    let prefix = canonical.as_os_str().as_bytes();
    let mut table = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some(mut m) = parse_line(line) else {
            return Err(AdoptError::Mountinfo {
                line: i + 1,
                text: line.to_owned(),
            });
        };
        if prefix == b"/" {
            table.push(m);
            continue;
        }
        if let Some(rest) = strip_dir(&m.mount_point, prefix) {
            m.mount_point = if rest.is_empty() {
                b"/".to_vec()
            } else {
                rest.to_vec()
            };
            table.push(m);
        }
    }
    // Mounts stacked on one point: the last one is what the root sees.
    let mut seen = BTreeMap::new();
    for (i, m) in table.iter().enumerate() {
        seen.insert(m.mount_point.clone(), i);
    }
    let keep: BTreeSet<usize> = seen.into_values().collect();
    let table = table
        .into_iter()
        .enumerate()
        .filter(|(i, _)| keep.contains(i))
        .map(|(_, m)| m)
        .collect();
    read_table(&canonical, table)
}

/// `path` below `dir` (bytes), from its `/` on; `Some(b"")` for `dir` itself.
fn strip_dir<'a>(path: &'a [u8], dir: &[u8]) -> Option<&'a [u8]> {
    let dir = dir.strip_suffix(b"/").unwrap_or(dir);
    let rest = path.strip_prefix(dir)?;
    (rest.is_empty() || rest.starts_with(b"/")).then_some(rest)
}

/// Kernel views, plus the FUSE views desktops mount: never described.
fn is_kernel_view(fstype: &str) -> bool {
    crate::mountinfo::KERNEL_FSTYPES.contains(&fstype)
        || matches!(fstype, "fuse.portal" | "fuse.gvfsd-fuse")
}
/// Trees the kernel and systemd own.
const KERNEL_TREES: &[&str] = &["/proc", "/sys", "/dev", "/run"];

/// Filesystems host.toml can mount from a device.
const DEVICE_FS: &[&str] = &["vfat", "ext4", "btrfs", "ntfs", "ntfs3", "exfat", "xfs"];

fn under(path: &str, dir: &str) -> bool {
    dir == "/" || path == dir || path.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
}

/// One line of `etc/fstab`.
#[derive(Debug, Clone)]
struct FstabLine {
    device: String,
    fstype: String,
    options: Vec<String>,
}

fn fstab_field(s: &str) -> String {
    String::from_utf8_lossy(&tabula_run::mountinfo::unescape(s)).into_owned()
}

fn parse_fstab(text: &str) -> BTreeMap<String, FstabLine> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 3 {
            continue;
        }
        let options = f
            .get(3)
            .map(|o| o.split(',').map(fstab_field).collect())
            .unwrap_or_default();
        out.insert(
            fstab_field(f[1]),
            FstabLine {
                device: fstab_field(f[0]),
                fstype: f[2].to_owned(),
                options,
            },
        );
    }
    out
}

/// The options host.toml carries; the rest (`rw`, `relatime`, `subvolid=`,
/// `space_cache`) are the kernel's defaults.
fn describable_option(o: &str) -> bool {
    const FLAGS: &[&str] = &[
        "noatime",
        "nodiratime",
        "ro",
        "nosuid",
        "nodev",
        "noexec",
        "discard",
        "nofail",
    ];
    const KEYS: &[&str] = &[
        "compress=",
        "compress-force=",
        "umask=",
        "fmask=",
        "dmask=",
        "uid=",
        "gid=",
    ];
    FLAGS.contains(&o) || KEYS.iter().any(|k| o.starts_with(k))
}

/// A tmpfs size in the kernel's `k` as tmpfs takes it, largest whole unit.
fn tmpfs_size(kib: &str) -> String {
    let Some(n) = kib.strip_suffix('k').and_then(|n| n.parse::<u64>().ok()) else {
        return kib.to_owned();
    };
    for (unit, f) in [("G", 1u64 << 20), ("M", 1 << 10)] {
        if n % f == 0 && n >= f {
            return format!("{}{unit}", n / f);
        }
    }
    format!("{n}k")
}

/// A file mode as `755`, without leading zeros beyond three digits.
fn mode3(m: &str) -> String {
    let t = m.trim_start_matches('0');
    if t.len() < 3 {
        format!("{t:0>3}")
    } else {
        t.to_owned()
    }
}

/// Read `rel` (no leading `/`) inside the root, never out of it.
fn read_in_root(rootfd: &OwnedFd, rel: &str) -> std::io::Result<String> {
    let fd = rustix::fs::openat2(
        rootfd,
        rel,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )?;
    let st = rustix::fs::fstat(&fd)?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut f = std::fs::File::from(fd);
    let mut buf = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(&mut f, 16 << 20), &mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// The type of `rel` inside the root without following its last component.
fn kind_in_root(rootfd: &OwnedFd, rel: &str) -> Option<FileType> {
    let (parent, name) = match rel.rsplit_once('/') {
        Some((p, n)) => (p, n),
        None => ("", rel),
    };
    let dir = rustix::fs::openat2(
        rootfd,
        if parent.is_empty() { "." } else { parent },
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
    .ok()?;
    let st = rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW).ok()?;
    Some(FileType::from_raw_mode(st.st_mode))
}

/// The mount's root as the filesystem sees it when it is not a bind mount:
/// the subvolume for btrfs, `/` for the rest.
fn natural_root(m: &MountInfo) -> String {
    if m.fstype == "btrfs" {
        if let Some(s) = m.option("subvol") {
            return format!("/{}", s.trim_start_matches('/'));
        }
    }
    "/".to_owned()
}

fn is_bind(m: &MountInfo) -> bool {
    m.root_lossy() != natural_root(m)
}

/// Path text of `b` below `a` (`/a`, `/a/b/c` -> `/b/c`); `a` = `/` keeps `b`.
fn below(b: &str, a: &str) -> Option<String> {
    if a == "/" {
        return Some(b.to_owned());
    }
    let r = b.strip_prefix(a)?;
    (r.starts_with('/')).then(|| r.to_owned())
}

/// Read the facts of `root` with a parsed mount table (mount points relative
/// to the root).
fn read_table(root: &Path, table: Vec<MountInfo>) -> Result<RootFacts, AdoptError> {
    let rootfd = open_root(root)?;
    if !table.iter().any(|m| m.mount_point == b"/") {
        return Err(AdoptError::NoRootMount);
    }
    let mut facts = RootFacts::default();
    let fstab = read_fstab(&rootfd, &mut facts);
    let relevant = relevant_mounts(&table);
    let sources = BindSources::new(&relevant);
    let mut pers = persistence_root(&relevant, &sources).map(|root| PersistenceFacts {
        root,
        ..PersistenceFacts::default()
    });

    for m in &relevant {
        if is_bind(m) {
            record_bind(m, sources.source_of(m), pers.as_mut(), &rootfd, &mut facts);
            continue;
        }
        let path = m.mount_point_lossy();
        let declared = fstab.as_ref().and_then(|f| f.get(&path));
        if let Some(l) = leftover_fs(m) {
            facts.leave(format!("{path}: {l}"), fix_for(&l));
            continue;
        }
        if let Some(fact) = whole_mount_fact(m, path, declared) {
            facts.mounts.push(fact);
        }
    }
    sort_mounts(&mut facts.mounts);

    if let Some(f) = &fstab {
        fstab_leftovers(f, &table, &mut facts);
    }

    if let Some(p) = &mut pers {
        walk_symlinks(&rootfd, &table, p, &mut facts);
    }
    facts.persistence =
        pers.filter(|p| !p.directories.is_empty() || !p.files.is_empty() || !p.users.is_empty());

    read_users(
        &rootfd,
        facts.persistence.as_ref().map(|p| p.root.clone()),
        &mut facts,
    );
    read_crypttab(&rootfd, &mut facts);
    Ok(facts)
}

/// Open the root directory the facts are read from.
fn open_root(root: &Path) -> Result<OwnedFd, AdoptError> {
    rustix::fs::open(
        root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| AdoptError::Root {
        path: root.to_owned(),
        source: e.into(),
    })
}

/// The root's `etc/fstab` by mount point: `None` when it is missing, or
/// unreadable (then left out in `facts`).
fn read_fstab(rootfd: &OwnedFd, facts: &mut RootFacts) -> Option<BTreeMap<String, FstabLine>> {
    match read_in_root(rootfd, "etc/fstab") {
        Ok(t) => Some(parse_fstab(&t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            facts.leave(
                format!("etc/fstab could not be read ({e})"),
                "check the mounts' options and needed_for_boot by hand, or make etc/fstab readable and run import again",
            );
            None
        }
    }
}

/// The mounts that matter: not the kernel's, not under its trees.
fn relevant_mounts(table: &[MountInfo]) -> Vec<&MountInfo> {
    table
        .iter()
        .filter(|m| {
            let p = m.mount_point_lossy();
            !is_kernel_view(&m.fstype) && !KERNEL_TREES.iter().any(|t| under(&p, t))
        })
        .collect()
}

/// The sources of bind mounts: the whole mounts, by device and root.
struct BindSources<'a> {
    whole: Vec<&'a MountInfo>,
}

impl<'a> BindSources<'a> {
    /// The whole (not bind) mounts among `relevant`.
    fn new(relevant: &[&'a MountInfo]) -> Self {
        BindSources {
            whole: relevant.iter().copied().filter(|m| !is_bind(m)).collect(),
        }
    }

    /// The whole mount bind mount `b` comes from: same device, the deepest
    /// root that holds `b`'s root.
    fn source_of(&self, b: &MountInfo) -> Option<&'a MountInfo> {
        let root = b.root_lossy();
        self.whole
            .iter()
            .copied()
            .filter(|w| w.dev == b.dev && below(&root, &w.root_lossy()).is_some())
            .max_by_key(|w| w.root.len())
    }
}

/// The persistence root: impermanence's usual names win; else the whole
/// mount host.toml can describe that most bind mounts come from (not
/// counting a mount bound onto itself, like NixOS's read-only /nix/store).
fn persistence_root(relevant: &[&MountInfo], sources: &BindSources<'_>) -> Option<String> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for b in relevant.iter().copied().filter(|m| is_bind(m)) {
        if let Some(s) = sources.source_of(b) {
            let sp = s.mount_point_lossy();
            if !under(&b.mount_point_lossy(), &sp) {
                *counts.entry(sp).or_default() += 1;
            }
        }
    }
    let whole = &sources.whole;
    ["/persist", "/persistent", "/nix/persist", "/state"]
        .into_iter()
        .find(|p| whole.iter().any(|w| w.mount_point_lossy() == *p))
        .map(str::to_owned)
        .or_else(|| {
            counts
                .iter()
                .filter(|(p, _)| {
                    whole
                        .iter()
                        .any(|w| w.mount_point_lossy() == **p && leftover_fs(w).is_none())
                })
                .max_by_key(|(p, n)| (**n, std::cmp::Reverse((*p).clone())))
                .map(|(p, _)| p.clone())
        })
}

/// Record bind mount `m` (from whole mount `src`): an entry of the
/// persistence root when it comes from there, nothing when it is bound onto
/// itself, else left out.
fn record_bind(
    m: &MountInfo,
    src: Option<&MountInfo>,
    pers: Option<&mut PersistenceFacts>,
    rootfd: &OwnedFd,
    facts: &mut RootFacts,
) {
    let path = m.mount_point_lossy();
    let sp = src.map(|s| s.mount_point_lossy());
    match (pers, sp) {
        (Some(p), Some(sp)) if sp == p.root => {
            let rel = path.trim_start_matches('/');
            let kind = kind_in_root(rootfd, rel);
            let is_file =
                matches!(kind, Some(k) if k != FileType::Directory && k != FileType::Symlink);
            if kind.is_none() {
                p.guessed.insert(
                    path.clone(),
                    "a bind mount from the persistence root whose mount point is not in the tree: taken as a directory".into(),
                );
            }
            add_entry(p, &path, is_file);
        }
        (_, Some(sp)) if under(&path, &sp) => {} // a mount bound onto itself
        (_, sp) => facts.leave(
            format!(
                "{path}: a bind mount of {}{} ({})",
                sp.as_deref().unwrap_or(&m.source),
                m.root_lossy(),
                m.fstype
            ),
            "host.toml describes bind mounts only from the persistence root; declare it in your NixOS configuration, or move the data under the persistence root",
        ),
    }
}

/// The [[mount]] fact of whole mount `m` at `path` (its etc/fstab line
/// `declared`); `None` for a tmpfs that is neither `/` nor in etc/fstab.
fn whole_mount_fact(
    m: &MountInfo,
    path: String,
    declared: Option<&FstabLine>,
) -> Option<MountFact> {
    let needed_for_boot = declared.is_some_and(|d| d.options.iter().any(|o| o == "x-initrd.mount"));
    let guessed = (declared.is_none() && m.fstype != "tmpfs").then(|| {
        "not in etc/fstab: device and options as mounted now, needed_for_boot unknown (false)"
            .to_owned()
    });
    let source = mount_source(m, &path, declared)?;
    let options = if matches!(source, SourceFact::Tmpfs { .. }) {
        Vec::new()
    } else {
        mount_options(m, declared)
    };
    Some(MountFact {
        path,
        source,
        options,
        needed_for_boot,
        guessed,
    })
}

/// The options host.toml can describe: etc/fstab's when declared, else
/// those mounted now.
fn mount_options(m: &MountInfo, declared: Option<&FstabLine>) -> Vec<String> {
    match declared {
        Some(d) => d
            .options
            .iter()
            .filter(|o| describable_option(o))
            .cloned()
            .collect(),
        None => observed_options(m),
    }
}

/// The describable options `m` is mounted with, in the words etc/fstab
/// would use (no duplicates).
fn observed_options(m: &MountInfo) -> Vec<String> {
    let mut o: Vec<String> = m
        .mount_options
        .iter()
        .chain(&m.super_options)
        .filter(|o| describable_option(o) && o.as_str() != "ro")
        // zstd's level 3 is its default: the kernel shows it.
        .map(|o| {
            if o == "compress=zstd:3" {
                "compress=zstd".to_owned()
            } else {
                o.clone()
            }
        })
        .collect();
    if m.has_flag("ro") && m.mount_options.iter().any(|x| x == "ro") {
        o.push("ro".into());
    }
    // vfat shows umask=0077 as fmask=0077,dmask=0077.
    let f = m.option("fmask");
    if f.is_some() && f == m.option("dmask") {
        o.retain(|x| !x.starts_with("fmask=") && !x.starts_with("dmask="));
        o.push(format!("umask={}", f.unwrap_or_default()));
    }
    let mut seen = BTreeSet::new();
    o.retain(|x| seen.insert(x.clone()));
    o
}

/// The source of whole mount `m` at `path`; `None` for systemd's and the
/// session's tmpfs mounts (not `/`, not in etc/fstab), which are not the host's.
fn mount_source(m: &MountInfo, path: &str, declared: Option<&FstabLine>) -> Option<SourceFact> {
    let device = || DeviceRef::parse(declared.map_or(m.source.as_str(), |d| d.device.as_str()));
    Some(match m.fstype.as_str() {
        "tmpfs" => {
            let size = declared
                .and_then(|d| d.options.iter().find_map(|o| o.strip_prefix("size=")))
                .map(str::to_owned)
                .or_else(|| m.option("size").map(tmpfs_size));
            let mode = declared
                .and_then(|d| d.options.iter().find_map(|o| o.strip_prefix("mode=")))
                .or_else(|| m.option("mode"))
                .map(mode3);
            if path != "/" && declared.is_none() {
                return None;
            }
            SourceFact::Tmpfs { size, mode }
        }
        "btrfs" => match m.option("subvol").map(|s| s.trim_start_matches('/')) {
            Some(s) if !s.is_empty() => SourceFact::Subvolume {
                subvolume: s.to_owned(),
                device: device(),
            },
            _ => SourceFact::Device {
                device: device(),
                fstype: "btrfs".into(),
            },
        },
        _ => SourceFact::Device {
            device: device(),
            fstype: if m.fstype == "ntfs3" {
                "ntfs".into()
            } else {
                m.fstype.clone()
            },
        },
    })
}

/// Mounts parents first: by depth, then by path (stable for equal paths).
fn sort_mounts(mounts: &mut [MountFact]) {
    mounts.sort_by(|a, b| {
        a.path
            .matches('/')
            .count()
            .cmp(&b.path.matches('/').count())
            .then(a.path.cmp(&b.path))
    });
}

/// Leave out what etc/fstab has that the mounts do not show: swap files,
/// and device filesystems that are not mounted (nor `noauto`).
fn fstab_leftovers(
    fstab: &BTreeMap<String, FstabLine>,
    table: &[MountInfo],
    facts: &mut RootFacts,
) {
    for (path, l) in fstab {
        if l.fstype == "swap" {
            let dev = DeviceRef::parse(&l.device);
            if matches!(&dev, DeviceRef::Path(p) if !p.starts_with("/dev/")) {
                facts.leave(
                    format!("swap file {}", l.device),
                    "host.toml has no swap files: declare it as swapDevices in your NixOS configuration, or use a swap partition",
                );
            }
        } else if !table.iter().any(|m| m.mount_point_lossy() == *path)
            && !l.options.iter().any(|o| o == "noauto")
            && DEVICE_FS.contains(&l.fstype.as_str())
        {
            facts.leave(
                format!(
                    "{path}: in etc/fstab ({} {}) but not mounted",
                    l.device, l.fstype
                ),
                "mount it and run import again, or add its [[mount]] by hand",
            );
        }
    }
}

/// What host.toml cannot describe about a whole mount, if anything.
fn leftover_fs(m: &MountInfo) -> Option<String> {
    let src = m.source.as_str();
    let what = match m.fstype.as_str() {
        "zfs" => "a ZFS dataset",
        "bcachefs" => "a bcachefs filesystem",
        "overlay" => "an overlay mount",
        "nfs" | "nfs4" | "cifs" | "smb3" | "sshfs" | "fuse.sshfs" => "a network filesystem",
        "tmpfs" | "btrfs" => "",
        t if DEVICE_FS.contains(&t) => "",
        _ => "a filesystem type host.toml does not know",
    };
    if !what.is_empty() {
        return Some(format!("{what} ({} from {src})", m.fstype));
    }
    if src.starts_with("/dev/md") {
        return Some(format!("an mdadm RAID device ({src})"));
    }
    if src.starts_with("/dev/dm-")
        || src
            .strip_prefix("/dev/mapper/")
            .is_some_and(|n| n.contains('-') && !n.starts_with("luks-"))
    {
        return Some(format!(
            "an LVM logical volume or other device-mapper target ({src})"
        ));
    }
    None
}

fn fix_for(what: &str) -> String {
    if what.contains("overlay") {
        "host.toml has no overlay mounts: keep it in your NixOS configuration (NixOS's own /etc overlay needs nothing)".into()
    } else if what.contains("LVM") || what.contains("mdadm") {
        "host.toml describes GPT partitions, LUKS and btrfs only: keep this layout in your NixOS configuration, or move the data to a layout tabula plans".into()
    } else {
        "host.toml cannot mount it: keep it in your NixOS configuration (fileSystems) and leave it out of the spec".into()
    }
}

/// Add an absolute entry to the system's or its user's lists.
fn add_entry(p: &mut PersistenceFacts, path: &str, is_file: bool) {
    if let Some(rest) = path.strip_prefix("/home/") {
        if let Some((user, rel)) = rest.split_once('/') {
            if !user.is_empty() && !rel.is_empty() {
                let u = p.users.entry(user.to_owned()).or_default();
                if is_file {
                    u.files.insert(rel.to_owned());
                } else {
                    u.directories.insert(rel.to_owned());
                }
                return;
            }
        }
    }
    if is_file {
        p.files.insert(path.to_owned());
    } else {
        p.directories.insert(path.to_owned());
    }
}

/// Resolve a symlink's target lexically inside the root (never on disk):
/// `link` is the symlink's absolute path in the root.
fn lexical_target(link: &str, target: &[u8]) -> Option<String> {
    let target = std::str::from_utf8(target).ok()?;
    let base: Vec<&str> = if target.starts_with('/') {
        Vec::new()
    } else {
        let mut b: Vec<&str> = link.split('/').filter(|c| !c.is_empty()).collect();
        b.pop();
        b
    };
    let mut out = base;
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    Some(format!("/{}", out.join("/")))
}

/// Find the symlinks into the persistence root on the root's own
/// filesystem: never following one, never entering a mount point.
fn walk_symlinks(
    rootfd: &OwnedFd,
    table: &[MountInfo],
    p: &mut PersistenceFacts,
    facts: &mut RootFacts,
) {
    let start = match rustix::fs::openat(
        rootfd,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(e) => {
            facts.leave(
                format!("the root could not be listed ({e})"),
                "run import as root",
            );
            return;
        }
    };
    let mut walk = SymlinkWalk {
        stops: walk_stops(table),
        seen: 0,
        stack: vec![(String::new(), start, 0)],
        unreadable: Vec::new(),
    };
    while let Some((dir, fd, depth)) = walk.stack.pop() {
        if walk.read_dir(&dir, &fd, depth, p).is_break() {
            facts.leave(
                format!("more than {WALK_LIMIT} entries on the root filesystem: the search for symlinks into {} stopped", p.root),
                "add the persisted files that are missing by hand",
            );
            return;
        }
    }
    walk.leave_unreadable(&p.root, facts);
}

/// Where the symlink walk does not go: the mount points other than `/` and
/// the tmpfs mounts, and the kernel's trees. The walk stays on the root's
/// tmpfs (and tmpfs mounts like a tmpfs /home): impermanence's symlinks
/// live on what is wiped.
fn walk_stops(table: &[MountInfo]) -> BTreeSet<String> {
    table
        .iter()
        .filter(|m| m.fstype != "tmpfs")
        .map(MountInfo::mount_point_lossy)
        .filter(|m| m != "/")
        .chain(KERNEL_TREES.iter().map(|t| (*t).to_owned()))
        .collect()
}

/// The state of the symlink walk: the directories still to read (path,
/// open fd, depth), how many entries were seen, what could not be read.
struct SymlinkWalk {
    stops: BTreeSet<String>,
    seen: usize,
    stack: Vec<(String, OwnedFd, usize)>,
    unreadable: Vec<String>,
}

impl SymlinkWalk {
    /// Read directory `dir` (open as `fd`, at `depth`): add its symlinks
    /// into the persistence root to `p`, push its subdirectories. Breaks
    /// when more than [`WALK_LIMIT`] entries were seen.
    fn read_dir(
        &mut self,
        dir: &str,
        fd: &OwnedFd,
        depth: usize,
        p: &mut PersistenceFacts,
    ) -> ControlFlow<()> {
        let Ok(entries) = Dir::read_from(fd.as_fd()) else {
            self.unreadable.push(if dir.is_empty() {
                "/".to_owned()
            } else {
                dir.to_owned()
            });
            return ControlFlow::Continue(());
        };
        for entry in entries {
            let Ok(entry) = entry else {
                self.unreadable.push(dir.to_owned());
                break;
            };
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            self.seen += 1;
            if self.seen > WALK_LIMIT {
                return ControlFlow::Break(());
            }
            let Ok(name) = std::str::from_utf8(name) else {
                continue;
            };
            let kind = entry_kind(fd, name, entry.file_type());
            self.visit(fd, format!("{dir}/{name}"), name, kind, depth, p);
        }
        ControlFlow::Continue(())
    }

    /// Visit entry `name` at `path` of the directory `fd` (at `depth`): a
    /// symlink into the persistence root is a file entry of `p`; a
    /// directory is pushed unless it is a stop or too deep.
    fn visit(
        &mut self,
        fd: &OwnedFd,
        path: String,
        name: &str,
        kind: FileType,
        depth: usize,
        p: &mut PersistenceFacts,
    ) {
        match kind {
            FileType::Symlink => {
                let Ok(t) = rustix::fs::readlinkat(fd, name, Vec::new()) else {
                    return;
                };
                if let Some(target) = lexical_target(&path, t.as_bytes()) {
                    if below(&target, &p.root).is_some_and(|r| r.len() > 1) {
                        add_entry(p, &path, true);
                    }
                }
            }
            FileType::Directory => {
                if self.stops.contains(&path) || depth + 1 > WALK_DEPTH {
                    return;
                }
                match rustix::fs::openat(
                    fd,
                    name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                ) {
                    Ok(sub) => self.stack.push((path, sub, depth + 1)),
                    Err(_) => self.unreadable.push(path),
                }
            }
            _ => {}
        }
    }

    /// Leave out the directories that could not be read, if any (sorted).
    fn leave_unreadable(mut self, pers_root: &str, facts: &mut RootFacts) {
        if self.unreadable.is_empty() {
            return;
        }
        self.unreadable.sort();
        facts.leave(
            format!(
                "directories that could not be read: {}",
                self.unreadable.join(", ")
            ),
            format!(
                "symlinks into {pers_root} there were not seen: run import as root, or add them by hand",
            ),
        );
    }
}

/// An entry's type as the directory reports it, asked with `statat`
/// (never following a symlink) when the filesystem does not say.
fn entry_kind(fd: &OwnedFd, name: &str, kind: FileType) -> FileType {
    match kind {
        FileType::Unknown => rustix::fs::statat(fd, name, AtFlags::SYMLINK_NOFOLLOW)
            .map(|s| FileType::from_raw_mode(s.st_mode))
            .unwrap_or(FileType::Unknown),
        k => k,
    }
}

fn read_users(rootfd: &OwnedFd, pers_root: Option<String>, facts: &mut RootFacts) {
    let passwd = match read_in_root(rootfd, "etc/passwd") {
        Ok(t) => Some(t),
        Err(e) => {
            facts.leave(
                format!("etc/passwd could not be read ({e})"),
                "add the [[user]] tables by hand, or make etc/passwd readable and run import again",
            );
            None
        }
    };
    let group = match read_in_root(rootfd, "etc/group") {
        Ok(t) => t,
        Err(e) => {
            facts.leave(
                format!("etc/group could not be read ({e})"),
                "add the users' groups by hand",
            );
            String::new()
        }
    };
    let groups: Vec<(String, String, Vec<String>)> = group
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            let members = f
                .get(3)?
                .split(',')
                .filter(|m| !m.is_empty())
                .map(str::to_owned)
                .collect();
            Some((f.first()?.to_string(), f.get(2)?.to_string(), members))
        })
        .collect();
    let Some(passwd) = passwd else {
        return;
    };
    for line in passwd.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 7 || line.starts_with('#') {
            continue;
        }
        let Ok(uid) = f[2].parse::<u32>() else {
            continue;
        };
        // nixbld users (UID 30000+) and other service accounts have no
        // login shell.
        let shell = f[6].trim();
        if !(1000..65534).contains(&uid) || shell.ends_with("nologin") || shell.ends_with("/false")
        {
            continue;
        }
        let name = f[0].to_owned();
        let gecos = f[4].split(',').next().unwrap_or_default();
        let hashed_password_file = pers_root.as_ref().and_then(|r| {
            [
                format!("{r}/secrets/{name}.passwd"),
                format!("{r}/passwords/{name}"),
            ]
            .into_iter()
            .find(|c| {
                kind_in_root(rootfd, c.trim_start_matches('/')) == Some(FileType::RegularFile)
            })
        });
        facts.users.push(UserFact {
            groups: groups
                .iter()
                .filter(|(_, _, m)| m.contains(&name))
                .map(|(g, _, _)| g.clone())
                .collect(),
            name,
            uid,
            description: (!gecos.is_empty()).then(|| gecos.to_owned()),
            hashed_password_file,
        });
    }
}

fn read_crypttab(rootfd: &OwnedFd, facts: &mut RootFacts) {
    let text = match read_in_root(rootfd, "etc/crypttab") {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => {
            facts.leave(
                format!("etc/crypttab could not be read ({e})"),
                "add the [luks] table by hand (name, uuid, keyfile)",
            );
            return;
        }
    };
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(name), Some(dev)) = (f.first(), f.get(1)) else {
            continue;
        };
        let (keyfile, keyfile_device) = match f.get(2).copied() {
            None | Some("none" | "-" | "") => (None, None),
            Some(k) => match k.split_once(':') {
                Some((path, d)) => (Some(path.to_owned()), Some(DeviceRef::parse(d))),
                None => (Some(k.to_owned()), None),
            },
        };
        let opts: Vec<&str> = f.get(3).map(|o| o.split(',').collect()).unwrap_or_default();
        let keyfile_timeout = opts.iter().find_map(|o| {
            o.strip_prefix("keyfile-timeout=")
                .map(|t| t.trim_end_matches('s'))
                .and_then(|t| t.parse().ok())
        });
        facts.crypt.push(CryptFact {
            name: (*name).to_owned(),
            device: DeviceRef::parse(dev),
            keyfile,
            keyfile_device,
            keyfile_timeout,
            discard: opts.contains(&"discard"),
        });
    }
    if facts.crypt.len() > 1 {
        let names: Vec<&str> = facts
            .crypt
            .iter()
            .skip(1)
            .map(|c| c.name.as_str())
            .collect();
        facts.leave(
            format!(
                "more LUKS containers in etc/crypttab than host.toml's one [luks]: {}",
                names.join(", ")
            ),
            "keep the others in your NixOS configuration (boot.initrd.luks.devices)",
        );
    }
}
