//! # The live host (or a layout mounted under a directory) against its spec
//!
//! Two halves:
//! - [`probe`] reads the system's own tables through their owners:
//!   `/proc/self/mountinfo` through [`tabula_run::mountinfo`] (source,
//!   subvolume from the root field, filesystem, per-mount and superblock
//!   options), `statvfs` for tmpfs fill, and LUKS and pool state through
//!   tabula-disk ([`tabula_disk::live`]: `/sys/block/dm-*/dm/{name,uuid}`,
//!   `btrfs subvolume list`, `btrfs qgroup show --raw` only when quotas are
//!   on, `btrfs filesystem usage -b`; [`tabula_disk::probe::blkid`] for
//!   partition UUIDs);
//! - [`evaluate`] is pure: spec + [`Probe`] → one [`Item`] per thing, each
//!   `ok`, `drift`, `missing` or `unknown`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use tabula_spec::model::{Btrfs, HostSpec, Mount, MountSource};
use tabula_spec::AbsPath;

/// One line of /proc/self/mountinfo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MountEntry {
    /// The path inside the filesystem that is mounted (`/@system/nix`).
    pub root: String,
    pub mount_point: String,
    /// Per-mount options (`rw,noatime`).
    pub mount_options: Vec<String>,
    pub fstype: String,
    pub source: String,
    /// Superblock options (`rw,compress=zstd:3,subvol=/@system/nix`).
    pub super_options: Vec<String>,
}

impl MountEntry {
    fn option(&self, key: &str) -> Option<&str> {
        self.mount_options
            .iter()
            .chain(&self.super_options)
            .find_map(|o| o.strip_prefix(key)?.strip_prefix('='))
    }

    fn has_flag(&self, flag: &str) -> bool {
        self.mount_options
            .iter()
            .chain(&self.super_options)
            .any(|o| o == flag)
    }
}

impl From<tabula_run::mountinfo::Mount> for MountEntry {
    fn from(m: tabula_run::mountinfo::Mount) -> Self {
        MountEntry {
            root: m.root_lossy(),
            mount_point: m.mount_point_lossy(),
            mount_options: m.mount_options,
            fstype: m.fstype,
            source: m.source,
            super_options: m.super_options,
        }
    }
}

/// /proc/self/mountinfo as text rows, read by the workspace's one parser
/// ([`tabula_run::mountinfo`]); malformed lines are skipped.
pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    tabula_run::mountinfo::parse(text)
        .into_iter()
        .map(MountEntry::from)
        .collect()
}

/// How an item compares with the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Ok,
    /// Present but not as the spec says.
    Drift,
    Missing,
    /// Could not be told (a tool is missing, quotas are off).
    Unknown,
}

impl State {
    pub fn word(self) -> &'static str {
        match self {
            State::Ok => "ok",
            State::Drift => "drift",
            State::Missing => "missing",
            State::Unknown => "unknown",
        }
    }
}

/// What an [`Item`] is about; serialized and shown as its lowercase name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Mount,
    Luks,
    Subvolume,
    Pool,
    Persistence,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Mount,
        Kind::Luks,
        Kind::Subvolume,
        Kind::Pool,
        Kind::Persistence,
    ];

    /// The name in text and JSON output (`mount`, `luks`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Mount => "mount",
            Kind::Luks => "luks",
            Kind::Subvolume => "subvolume",
            Kind::Pool => "pool",
            Kind::Persistence => "persistence",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

/// One checked thing.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub kind: Kind,
    /// What is checked; `object` in JSON, as in every command's output.
    #[serde(rename = "object")]
    pub name: String,
    pub state: State,
    pub detail: String,
}

/// Size and fill of a mounted filesystem (from statvfs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Fill {
    pub size: u64,
    pub used: u64,
    pub available: u64,
}

/// What [`probe`] read from the system.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Probe {
    pub mounts: Vec<MountEntry>,
    /// statvfs of each mounted tmpfs and of the pool, by mount point.
    pub fills: BTreeMap<String, Fill>,
    /// device-mapper mappings: name → dm uuid.
    pub dm: BTreeMap<String, String>,
    /// Subvolume path → id (`btrfs subvolume list -a`); Err: why unknown.
    pub subvolumes: Option<Result<BTreeMap<String, u64>, String>>,
    /// qgroup `0/ID` referenced bytes; Err: why unknown (quotas off).
    pub qgroups: Option<Result<BTreeMap<u64, u64>, String>>,
    /// Free bytes in the pool (`btrfs filesystem usage -b`, estimated).
    pub pool_free: Option<u64>,
    /// Filesystem UUIDs of mounted partition sources (blkid).
    pub uuids: BTreeMap<String, String>,
    /// Symlinks at persisted file paths → their targets.
    pub links: BTreeMap<String, String>,
    /// The pool's filesystem UUID and label (/sys/fs/btrfs).
    pub pool_fs: Option<(String, String)>,
}

/// Where a spec path is mounted: under `target` when given.
pub fn under(target: Option<&Path>, path: &AbsPath) -> String {
    match target {
        None => path.as_str().to_owned(),
        Some(t) => {
            let t = t.to_string_lossy();
            let t = t.trim_end_matches('/');
            if path.as_str() == "/" {
                if t.is_empty() {
                    "/".into()
                } else {
                    t.to_owned()
                }
            } else {
                format!("{t}{}", path.as_str())
            }
        }
    }
}

fn find<'a>(p: &'a Probe, mount_point: &str) -> Option<&'a MountEntry> {
    // The last entry wins: it is the one on top.
    p.mounts.iter().rev().find(|m| m.mount_point == mount_point)
}

/// The live state of device-mapper mappings and of a mounted pool is
/// tabula-disk's to read (its probe owns LUKS and btrfs state).
pub use tabula_disk::live::{
    btrfs_identity, device_mapper, kernel_name, parse_free, parse_qgroups, parse_subvolume_list,
    pool_free, qgroups, subvolume_ids,
};

/// tmpfs sizes and bytes for people: the workspace's one grammar and one
/// formatter (tabula-spec's size module).
pub use tabula_spec::size::{human_bytes as human, tmpfs_bytes};

/// Whether the found compression satisfies the spec's (`zstd` accepts
/// `zstd:3`; `zstd:5` wants level 5).
fn compression_ok(want: &str, m: &MountEntry) -> Option<String> {
    let found = m.option("compress").or_else(|| m.option("compress-force"));
    let ok = match found {
        Some(f) => f == want || (!want.contains(':') && f.split(':').next() == Some(want)),
        None => false,
    };
    (!ok).then(|| {
        format!(
            "compress={want} expected, found {}",
            found.map_or("none".into(), |f| format!("compress={f}"))
        )
    })
}

/// What is wrong with the options of a mount (empty: nothing).
fn option_drift(want: &[String], m: &MountEntry) -> Vec<String> {
    let mut out = Vec::new();
    let read_only = want.iter().any(|o| o == "ro");
    let rw = m.mount_options.first().map(String::as_str) == Some("rw");
    if !read_only && !rw {
        out.push("mounted read-only".into());
    }
    for o in want {
        if o.starts_with("subvol=") || o == "ro" || o == "rw" || o == "defaults" {
            continue;
        }
        if let Some(c) = o.strip_prefix("compress=") {
            out.extend(compression_ok(c, m));
            continue;
        }
        let present = match o.split_once('=') {
            // vfat and friends show `umask=X` as `fmask=X,dmask=X`.
            Some(("umask", v)) => {
                let octal = |s: Option<&str>| s.and_then(|s| u32::from_str_radix(s, 8).ok());
                let want = octal(Some(v));
                want.is_some()
                    && (octal(m.option("umask")) == want
                        || (octal(m.option("fmask")) == want && octal(m.option("dmask")) == want))
            }
            Some((k, v)) => m.option(k) == Some(v),
            None => m.has_flag(o),
        };
        if !present {
            out.push(format!("{o} missing"));
        }
    }
    out
}

/// Compare the probe with the spec: the mounts, the LUKS mapping,
/// persistence, then the pool's subvolumes and the pool itself.
pub fn evaluate(spec: &HostSpec, target: Option<&Path>, p: &Probe) -> Vec<Item> {
    let (mut items, pool) = mount_items(spec, target, p);
    items.extend(luks_item(spec, p));
    items.extend(persistence(spec, target, p));
    if let Some(b) = &spec.btrfs {
        items.extend(subvolume_items(b, p));
        items.extend(pool_items(b, p, &pool));
    }
    items
}

/// Where the pool was seen while the mounts were compared.
#[derive(Default)]
struct PoolSeen {
    /// The source of the first subvolume mount.
    source: Option<String>,
    /// Where the first subvolume is mounted.
    mount: Option<String>,
}

/// One item per spec mount, in mount order.
fn mount_items(spec: &HostSpec, target: Option<&Path>, p: &Probe) -> (Vec<Item>, PoolSeen) {
    let mut pool = PoolSeen::default();
    let mut items = Vec::new();
    for m in spec.mounts_in_order() {
        let at = under(target, &m.path);
        let name = m.path.as_str().to_owned();
        let Some(e) = find(p, &at) else {
            items.push(Item {
                kind: Kind::Mount,
                name,
                state: State::Missing,
                detail: format!("nothing mounted at {at}"),
            });
            continue;
        };
        let (drift, detail) = match &m.source {
            MountSource::Tmpfs { size, mode } => tmpfs_drift(m, size, mode.as_deref(), e, p, &at),
            MountSource::Subvolume { subvolume } => {
                let found = subvolume_drift(spec, m, subvolume, e, &mut pool);
                pool.mount.get_or_insert_with(|| at.clone());
                found
            }
            MountSource::Partition { partition } => partition_drift(spec, m, partition, e, p),
        };
        let (state, detail) = if drift.is_empty() {
            (State::Ok, detail)
        } else {
            (State::Drift, format!("{detail}: {}", drift.join("; ")))
        };
        items.push(Item {
            kind: Kind::Mount,
            name,
            state,
            detail,
        });
    }
    (items, pool)
}

/// A tmpfs mount: type, size, mode, options; the detail shows its fill.
fn tmpfs_drift(
    m: &Mount,
    size: &str,
    mode: Option<&str>,
    e: &MountEntry,
    p: &Probe,
    at: &str,
) -> (Vec<String>, String) {
    let mut drift = Vec::new();
    if e.fstype != "tmpfs" {
        drift.push(format!("{} instead of tmpfs", e.fstype));
    }
    if let (Some(want), Some(found)) = (tmpfs_bytes(size), e.option("size").and_then(tmpfs_bytes)) {
        if want != found {
            drift.push(format!(
                "size {} expected, found {}",
                human(want),
                human(found)
            ));
        }
    }
    if let Some(mode) = mode {
        let found = e.option("mode").unwrap_or("1777");
        let norm = |s: &str| u32::from_str_radix(s, 8).ok();
        if norm(mode) != norm(found) {
            drift.push(format!("mode {mode} expected, found {found}"));
        }
    }
    drift.extend(option_drift(&m.options, e));
    let detail = match p.fills.get(at) {
        Some(f) if f.size > 0 => format!(
            "tmpfs {} , {} used ({}%)",
            human(f.size),
            human(f.used),
            f.used * 100 / f.size
        )
        .replace(" ,", ","),
        _ => "tmpfs".into(),
    };
    (drift, detail)
}

/// A subvolume mount: type, subvolume, options, the LUKS mapping as its
/// source and the same pool as the others.
fn subvolume_drift(
    spec: &HostSpec,
    m: &Mount,
    subvolume: &str,
    e: &MountEntry,
    pool: &mut PoolSeen,
) -> (Vec<String>, String) {
    let mut drift = Vec::new();
    if e.fstype != "btrfs" {
        drift.push(format!("{} instead of btrfs", e.fstype));
    }
    if e.root != format!("/{subvolume}") {
        drift.push(format!(
            "subvolume {} mounted, {subvolume} expected",
            e.root.trim_start_matches('/')
        ));
    }
    let mut want = spec
        .btrfs
        .as_ref()
        .map(|b| b.subvolume_options(subvolume))
        .unwrap_or_default();
    want.extend(m.options.iter().cloned());
    drift.extend(option_drift(&want, e));
    if let Some(l) = &spec.luks {
        let mapper = format!("/dev/mapper/{}", l.name);
        if e.source != mapper {
            drift.push(format!(
                "source {} is not the LUKS mapping {mapper}",
                e.source
            ));
        }
    }
    match &pool.source {
        None => pool.source = Some(e.source.clone()),
        Some(s) if s != &e.source => drift.push(format!("source {} is not the pool {s}", e.source)),
        Some(_) => {}
    }
    let compress = e
        .option("compress")
        .or_else(|| e.option("compress-force"))
        .map(|c| format!(", compress={c}"))
        .unwrap_or_default();
    let detail = format!(
        "{} subvolume {subvolume} on {}{compress}",
        e.fstype, e.source
    );
    (drift, detail)
}

/// A partition mount: filesystem type, UUID, options.
fn partition_drift(
    spec: &HostSpec,
    m: &Mount,
    partition: &str,
    e: &MountEntry,
    p: &Probe,
) -> (Vec<String>, String) {
    let mut drift = Vec::new();
    let fs = spec
        .partition(partition)
        .and_then(|p| p.filesystem.as_ref());
    if let Some(fs) = fs {
        let want = fs.kind.name();
        let same = e.fstype == want || (want == "ntfs" && e.fstype == "ntfs3");
        if !same {
            drift.push(format!("{} instead of {want}", e.fstype));
        }
        if let Some(uuid) = &fs.uuid {
            match p.uuids.get(&e.source) {
                Some(found) if !found.eq_ignore_ascii_case(uuid) => {
                    drift.push(format!("UUID {found}, {uuid} expected"));
                }
                _ => {}
            }
        }
    }
    drift.extend(option_drift(&m.options, e));
    let detail = format!("{} partition {partition} on {}", e.fstype, e.source);
    (drift, detail)
}

/// The LUKS mapping: open, and of the spec's container.
fn luks_item(spec: &HostSpec, p: &Probe) -> Option<Item> {
    let l = spec.luks.as_ref()?;
    let want = l.uuid.replace('-', "");
    let (state, detail) = match p.dm.get(&l.name) {
        None => (
            State::Missing,
            format!(
                "no device-mapper mapping /dev/mapper/{} (LUKS {})",
                l.name, l.uuid
            ),
        ),
        Some(u) if u.to_ascii_lowercase().contains(&want.to_ascii_lowercase()) => (
            State::Ok,
            format!("/dev/mapper/{} open, LUKS {}", l.name, l.uuid),
        ),
        Some(u) => (
            State::Drift,
            format!("/dev/mapper/{} is {u}, LUKS {} expected", l.name, l.uuid),
        ),
    };
    Some(Item {
        kind: Kind::Luks,
        name: l.name.clone(),
        state,
        detail,
    })
}

/// One item per spec subvolume: present, and its usage against the estimate.
fn subvolume_items(b: &Btrfs, p: &Probe) -> Vec<Item> {
    b.subvolumes
        .iter()
        .map(|s| {
            let (state, detail) = match &p.subvolumes {
                Some(Ok(ids)) => match ids.get(&s.path) {
                    None => (State::Missing, "not in the pool".into()),
                    Some(id) => usage(s.estimate.as_ref(), p.qgroups.as_ref(), *id),
                },
                Some(Err(why)) => (State::Unknown, why.clone()),
                None => (State::Unknown, "no pool subvolume is mounted".into()),
            };
            Item {
                kind: Kind::Subvolume,
                name: s.path.clone(),
                state,
                detail,
            }
        })
        .collect()
}

/// The pool: its identity (label, UUID) when known, and its free space.
fn pool_items(b: &Btrfs, p: &Probe, pool: &PoolSeen) -> Vec<Item> {
    let name = b.label.clone().unwrap_or_else(|| "btrfs".into());
    let item = |state, detail| Item {
        kind: Kind::Pool,
        name: name.clone(),
        state,
        detail,
    };
    let mut items = Vec::new();
    if let Some((uuid, label)) = &p.pool_fs {
        let mut drift = Vec::new();
        if let Some(want) = b.label.as_ref().filter(|w| *w != label) {
            drift.push(format!("label {label}, {want} expected"));
        }
        if let Some(want) = b.uuid.as_ref().filter(|w| !w.eq_ignore_ascii_case(uuid)) {
            drift.push(format!("UUID {uuid}, {want} expected"));
        }
        let detail = format!("btrfs {uuid} labelled {label}");
        items.push(if drift.is_empty() {
            item(State::Ok, detail)
        } else {
            item(State::Drift, format!("{detail}: {}", drift.join("; ")))
        });
    }
    let free = p.pool_free.or_else(|| {
        pool.mount
            .as_ref()
            .and_then(|m| p.fills.get(m))
            .map(|f| f.available)
    });
    items.push(match (&pool.source, free) {
        (Some(src), Some(free)) => item(State::Ok, format!("{src}: {} free", human(free))),
        (Some(src), None) => item(State::Unknown, format!("{src}: free space unknown")),
        (None, _) => item(State::Missing, "no subvolume of the pool is mounted".into()),
    });
    items
}

fn usage(
    estimate: Option<&tabula_spec::Estimate>,
    qgroups: Option<&Result<BTreeMap<u64, u64>, String>>,
    id: u64,
) -> (State, String) {
    let used = match qgroups {
        Some(Ok(q)) => q.get(&id).copied(),
        Some(Err(why)) => {
            return (
                State::Ok,
                format!("present (id {id}); usage unknown: {why}"),
            )
        }
        None => return (State::Ok, format!("present (id {id}); usage unknown")),
    };
    match (used, estimate) {
        (Some(u), Some(e)) if u > e.max.as_u64() => (
            State::Drift,
            format!("{} used, over its estimate {e}", human(u)),
        ),
        (Some(u), Some(e)) => (State::Ok, format!("{} used of an estimated {e}", human(u))),
        (Some(u), None) => (State::Ok, format!("{} used", human(u))),
        (None, _) => (State::Ok, format!("present (id {id}); no quota group")),
    }
}

/// The bind mounts of the persistence entries that no whole mount covers.
fn persistence(spec: &HostSpec, target: Option<&Path>, p: &Probe) -> Vec<Item> {
    let Some(ps) = &spec.persistence else {
        return Vec::new();
    };
    // The path inside its filesystem that persisted data lives at: the
    // subvolume of the mount holding the persistence root, plus the rest.
    let holder = spec.mount_holding(&ps.root);
    let base = match holder.map(|m| (&m.source, &m.path)) {
        Some((MountSource::Subvolume { subvolume }, mp)) => {
            let rest = ps.root.as_str().strip_prefix(mp.as_str()).unwrap_or("");
            Some(format!(
                "/{subvolume}{}",
                if rest == "/" { "" } else { rest }
            ))
        }
        _ => None,
    };
    let mut wanted: Vec<(AbsPath, bool)> = Vec::new();
    for d in ps.directories.iter().filter(|d| d.covered_by.is_none()) {
        wanted.push((d.path.clone(), false));
    }
    for f in ps.files.iter().filter(|f| f.covered_by.is_none()) {
        wanted.push((f.path.clone(), true));
    }
    for (user, u) in &ps.users {
        let home = spec.home_of(user);
        for d in u.directories.iter().filter(|d| d.covered_by.is_none()) {
            wanted.push((home.join(&d.path), false));
        }
        for f in u.files.iter().filter(|f| f.covered_by.is_none()) {
            wanted.push((home.join(&f.path), true));
        }
    }
    let mut items = Vec::new();
    for (path, is_file) in wanted {
        let at = under(target, &path);
        let persisted = format!(
            "{}{}",
            ps.root.as_str().trim_end_matches('/'),
            path.as_str()
        );
        let want_root = base.as_ref().map(|b| format!("{b}{}", path.as_str()));
        let item = |state, detail: String| Item {
            kind: Kind::Persistence,
            name: path.as_str().to_owned(),
            state,
            detail,
        };
        if let Some(e) = find(p, &at) {
            match &want_root {
                Some(w) if &e.root != w => items.push(item(
                    State::Drift,
                    format!("bind mount of {}, {persisted} expected", e.root),
                )),
                _ => items.push(item(State::Ok, format!("bind mount of {persisted}"))),
            }
        } else if is_file && p.links.get(&at).is_some_and(|l| l == &persisted) {
            items.push(item(State::Ok, format!("symlink to {persisted}")));
        } else if target.is_some() {
            // A layout mounted for installation (`tabula mount`) has no
            // binds: the installed system makes them at boot. Not a finding.
            items.push(item(
                State::Unknown,
                format!("bound from {persisted} at boot; not bound under the target"),
            ));
        } else {
            items.push(item(State::Missing, format!("not bound from {persisted}")));
        }
    }
    items
}

/// Read everything `evaluate` needs from the running system.
pub fn probe(spec: &HostSpec, target: Option<&Path>) -> Probe {
    let mounts = tabula_run::mountinfo::read()
        .map(|m| m.into_iter().map(MountEntry::from).collect())
        .unwrap_or_default();
    let mut p = Probe {
        mounts,
        ..Probe::default()
    };
    let mut pool_mount = None;
    for m in &spec.mounts {
        let at = under(target, &m.path);
        let Some(e) = find(&p, &at).cloned() else {
            continue;
        };
        match &m.source {
            MountSource::Tmpfs { .. } => {
                if let Some(f) = fill(Path::new(&at)) {
                    p.fills.insert(at.clone(), f);
                }
            }
            MountSource::Subvolume { .. } => {
                if e.fstype == "btrfs" && pool_mount.is_none() {
                    pool_mount = Some(at.clone());
                    if let Some(f) = fill(Path::new(&at)) {
                        p.fills.insert(at.clone(), f);
                    }
                }
            }
            MountSource::Partition { .. } => {
                if let Some(u) = tabula_disk::probe::blkid(&e.source)
                    .ok()
                    .and_then(|m| m.get("UUID").cloned())
                    .filter(|u| !u.is_empty())
                {
                    p.uuids.insert(e.source.clone(), u);
                }
            }
        }
    }
    p.dm = device_mapper(Path::new("/sys/block"));
    if let Some(ps) = &spec.persistence {
        for f in &ps.files {
            let at = under(target, &f.path);
            if let Ok(t) = std::fs::read_link(&at) {
                p.links.insert(at, t.to_string_lossy().into_owned());
            }
        }
    }
    if let Some(mnt) = &pool_mount {
        p.pool_fs =
            find(&p, mnt).and_then(|e| btrfs_identity(Path::new("/sys/fs/btrfs"), &e.source));
    }
    if let Some(mnt) = pool_mount {
        p.subvolumes = Some(subvolume_ids(&mnt));
        p.qgroups = Some(qgroups(&mnt));
        p.pool_free = pool_free(&mnt);
    }
    p
}

fn fill(path: &Path) -> Option<Fill> {
    let s = rustix::fs::statvfs(path).ok()?;
    let size = s.f_blocks.saturating_mul(s.f_frsize);
    let free = s.f_bfree.saturating_mul(s.f_frsize);
    Some(Fill {
        size,
        used: size.saturating_sub(free),
        available: s.f_bavail.saturating_mul(s.f_frsize),
    })
}

/// Whether any item is drift or missing (the exit code's question).
pub fn has_findings(items: &[Item]) -> bool {
    items
        .iter()
        .any(|i| matches!(i.state, State::Drift | State::Missing))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
64 43 0:39 / /tmp/t rw,relatime - tmpfs tabula-root rw,size=65536k,mode=755
65 64 0:40 /@system/nix /tmp/t/nix rw,noatime - btrfs /dev/loop0 rw,compress=zstd:3,space_cache=v2,subvolid=257,subvol=/@system/nix
66 64 0:40 /@odd\\040name /tmp/t/a\\040b ro - btrfs /dev/loop0 rw,subvol=/@odd\\040name
";

    /// Kinds are an enum; their names in text and JSON are unchanged.
    #[test]
    fn kinds_keep_their_names() {
        for k in Kind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), k.name());
            assert_eq!(k.to_string(), k.name());
        }
        assert_eq!(format!("{:<6}|", Kind::Pool), "pool  |");
    }

    #[test]
    fn mountinfo_is_parsed_with_escapes() {
        let m = parse_mountinfo(MOUNTINFO);
        assert_eq!(m.len(), 3);
        assert_eq!(m[1].root, "/@system/nix");
        assert_eq!(m[1].option("compress"), Some("zstd:3"));
        assert!(m[1].has_flag("noatime"));
        assert_eq!(m[2].mount_point, "/tmp/t/a b");
        assert_eq!(m[0].option("size").and_then(tmpfs_bytes), Some(64 << 20));
    }

    /// Found by tabula-fuzz (mountinfo target): `\4xx` overflowed the u8
    /// arithmetic of the unescape (a panic in debug builds).
    #[test]
    fn escapes_past_a_byte_are_kept_as_written() {
        let m = parse_mountinfo(
            "66 64 0:40 /\\400 /tmp/t/\\777x ro - btrfs /dev/\\477 rw,subvol=/\\400\n",
        );
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].root, "/\\400");
        assert_eq!(m[0].mount_point, "/tmp/t/\\777x");
        assert_eq!(m[0].source, "/dev/\\477");
        assert_eq!(
            parse_mountinfo("1 2 0:1 / /a\\377 rw - x y rw\n")[0].mount_point,
            "/a\u{fffd}"
        );
    }

    #[test]
    fn options_and_compression() {
        let m = &parse_mountinfo(MOUNTINFO)[1];
        let w = |v: &[&str]| option_drift(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>(), m);
        assert!(w(&["subvol=@system/nix", "compress=zstd", "noatime"]).is_empty());
        assert!(w(&["compress=zstd:3"]).is_empty());
        assert_eq!(
            w(&["compress=zstd:5"]),
            ["compress=zstd:5 expected, found compress=zstd:3"]
        );
        assert_eq!(w(&["compress=lzo", "nodev"]).len(), 2);
        let esp = &parse_mountinfo(
            "70 64 254:1 / /tmp/t/boot/efi rw,relatime - vfat /dev/vda1 rw,fmask=0077,dmask=0077,codepage=437,iocharset=ascii,shortname=mixed,errors=remount-ro\n",
        )[0];
        let umask = |v: &str| option_drift(&[format!("umask={v}")], esp);
        assert!(umask("0077").is_empty());
        assert!(umask("077").is_empty());
        assert_eq!(umask("0022"), ["umask=0022 missing"]);
        let ro = &parse_mountinfo(MOUNTINFO)[2];
        assert_eq!(option_drift(&[], ro), ["mounted read-only"]);
    }

    #[test]
    fn luks_mapping_from_sysfs_names() {
        let spec = tabula_spec::load(&tabula_spec::SpecSource::Embedded(
            tabula_spec::embedded::DEFAULT_HOST,
        ))
        .unwrap()
        .spec;
        let luks = |p: &Probe| {
            evaluate(&spec, None, p)
                .into_iter()
                .find(|i| i.kind == Kind::Luks)
                .map(|i| i.state)
        };
        let mut p = Probe::default();
        assert_eq!(luks(&p), Some(State::Missing));
        p.dm.insert(
            "pool".into(),
            "CRYPT-LUKS2-3c75c6db4d7c457081f102d168781aac-pool".into(),
        );
        assert_eq!(luks(&p), Some(State::Ok));
        p.dm.insert(
            "pool".into(),
            "CRYPT-LUKS2-00000000000000000000000000000000-pool".into(),
        );
        assert_eq!(luks(&p), Some(State::Drift));
        // Nothing mounted: every mount is missing, and that is a finding.
        let items = evaluate(&spec, None, &p);
        assert!(items
            .iter()
            .filter(|i| i.kind == Kind::Mount)
            .all(|i| i.state == State::Missing));
        assert!(has_findings(&items));
    }

    #[test]
    fn unbound_persistence_under_a_target_is_not_a_finding() {
        let spec = tabula_spec::load(&tabula_spec::SpecSource::Embedded(
            tabula_spec::embedded::DEFAULT_HOST,
        ))
        .unwrap()
        .spec;
        let states = |target: Option<&Path>| {
            evaluate(&spec, target, &Probe::default())
                .into_iter()
                .filter(|i| i.kind == Kind::Persistence)
                .map(|i| i.state)
                .collect::<Vec<_>>()
        };
        let live = states(None);
        assert!(!live.is_empty());
        assert!(live.iter().all(|s| *s == State::Missing));
        let mnt = states(Some(Path::new("/mnt")));
        assert_eq!(mnt.len(), live.len());
        assert!(mnt.iter().all(|s| *s == State::Unknown));
    }

    #[test]
    fn a_block_node_of_another_name_is_known_by_its_number() {
        let d = tempfile::tempdir().unwrap();
        // Not a device: the resolved name.
        std::fs::write(d.path().join("dm-7"), "").unwrap();
        std::os::unix::fs::symlink(d.path().join("dm-7"), d.path().join("pool")).unwrap();
        assert_eq!(
            kernel_name(&d.path().join("pool"), d.path()),
            Some("dm-7".into())
        );
        // A block node named `pool` (as cryptsetup makes it without udev):
        // its number leads to the kernel's name. mknod needs root.
        let node = d.path().join("node-pool");
        let dev = rustix::fs::makedev(7, 0);
        let made = rustix::fs::mknodat(
            rustix::fs::CWD,
            &node,
            rustix::fs::FileType::BlockDevice,
            rustix::fs::Mode::from_raw_mode(0o600),
            dev,
        );
        if made.is_err() {
            eprintln!("SKIP block node part: mknod needs root");
            return;
        }
        let sys = d.path().join("sys");
        std::fs::create_dir(&sys).unwrap();
        std::os::unix::fs::symlink("../../devices/virtual/block/loop0", sys.join("7:0")).unwrap();
        assert_eq!(kernel_name(&node, &sys), Some("loop0".into()));
    }

    #[test]
    fn sysfs_dm_is_read() {
        let d = tempfile::tempdir().unwrap();
        let dm = d.path().join("dm-0/dm");
        std::fs::create_dir_all(&dm).unwrap();
        std::fs::write(dm.join("name"), "pool\n").unwrap();
        std::fs::write(dm.join("uuid"), "CRYPT-LUKS2-abc-pool\n").unwrap();
        std::fs::create_dir_all(d.path().join("loop0")).unwrap();
        assert_eq!(
            device_mapper(d.path()),
            BTreeMap::from([("pool".to_owned(), "CRYPT-LUKS2-abc-pool".to_owned())])
        );
    }

    #[test]
    fn tool_outputs() {
        let q = "Qgroupid    Referenced    Exclusive   Path \n--------    ----------    ---------   ---- \n0/5              16384        16384   <toplevel>\n0/257          3018752      3018752   @system/nix\n";
        assert_eq!(
            parse_qgroups(q),
            BTreeMap::from([(5, 16384), (257, 3_018_752)])
        );
        let l = "ID 256 gen 7 top level 5 path @system\nID 257 gen 9 top level 256 path <FS_TREE>/@system/nix\n";
        assert_eq!(
            parse_subvolume_list(l),
            BTreeMap::from([("@system".into(), 256), ("@system/nix".into(), 257)])
        );
        assert_eq!(
            parse_free("Overall:\n    Free (estimated):\t\t 946614272\t(min: 476000256)\n"),
            Some(946_614_272)
        );
        assert_eq!(tmpfs_bytes("2G"), Some(2 << 30));
        assert_eq!(tmpfs_bytes("50%"), None);
    }
}
