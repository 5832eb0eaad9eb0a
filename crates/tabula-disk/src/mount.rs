//! # Mounting the layout as stage 1 will
//!
//! [`mount_layout`] opens the container and mounts, under a target
//! directory, the tmpfs root with its size and mode, then every subvolume
//! and partition in dependency order (parents first) with `subvol=` and the
//! pool's options, refusing a target that holds foreign mounts.
//! [`unmount_layout`] unmounts exactly the layout, in reverse, leaves every
//! other mount, and closes the mapping. [`TopLevel`] mounts the pool's top
//! level (subvolid 5) in a temporary directory for apply, unmounting on drop
//! and never removing a directory that is still mounted.

use std::path::{Path, PathBuf};

use serde::Serialize;
use tabula_run::Cmd;
use tabula_spec::model::{Mount, MountSource};
use tabula_spec::HostSpec;

use crate::busy::{read_mountinfo, MountEntry};
use crate::loopdev::{self, Target};
use crate::luks::{self, open_container, Key, KeyPrompt};
use crate::probe;
use crate::{Error, Result};

/// The name every [`TopLevel`] directory starts with, followed by the PID of
/// the run that made it and a dot.
pub const TOP_LEVEL_PREFIX: &str = "tabula-pool.";

/// The PID a [`TopLevel`] directory name carries (`tabula-pool.PID.XXXXXX`),
/// if any (names from before the PID was recorded carry none).
pub fn top_level_owner(dir_name: &str) -> Option<u32> {
    let rest = dir_name.strip_prefix(TOP_LEVEL_PREFIX)?;
    let (pid, _) = rest.split_once('.')?;
    pid.parse().ok()
}

/// The pool's top level mounted in a temporary directory.
///
/// The directory is a plain path, never a `tempfile::TempDir`: dropping a
/// `TempDir` runs `remove_dir_all`, which on a directory still mounted (an
/// umount that failed) would recurse into the pool and delete every
/// subvolume. It is unmounted with [`release`] (retried) and then removed
/// with `rmdir` only, and only when it is no longer a mount point.
pub struct TopLevel {
    dir: PathBuf,
    mounted: bool,
}

impl TopLevel {
    /// Mount `mapper` with `subvolid=5` in a new temporary directory.
    ///
    /// # Errors
    /// When the directory or the mount fails.
    pub fn mount(mapper: &str) -> Result<TopLevel> {
        let dir = tempfile::Builder::new()
            // The PID in the name tells a later apply whether the run that
            // made it is still alive (see apply::release_stale_top_levels).
            .prefix(&format!("{TOP_LEVEL_PREFIX}{}.", std::process::id()))
            .tempdir()
            .map_err(|e| Error::io("creating a temporary mount point", e))?
            .keep();
        let mounted = Cmd::new("mount")
            .args(["-t", "btrfs", "-o", "subvolid=5", mapper])
            .arg(&dir)
            .run();
        if let Err(e) = mounted {
            remove_empty_dir(&dir);
            return Err(e.into());
        }
        Ok(TopLevel { dir, mounted: true })
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Unmount now (retried), then remove the empty directory.
    ///
    /// # Errors
    /// When the pool stays mounted: the error says where and how to
    /// release it.
    pub fn unmount(mut self) -> Result<()> {
        // Tried here, once (with its retries): the drop does not try again.
        self.mounted = false;
        release(&self.dir)
    }
}

impl Drop for TopLevel {
    fn drop(&mut self) {
        if self.mounted {
            if let Err(e) = release(&self.dir) {
                tracing::error!("{e}");
            }
        }
    }
}

/// How often [`release`] tries `umount`, and the first pause between tries
/// (doubled each time: 0.1 + 0.2 + 0.4 + 0.8 s).
const UMOUNT_TRIES: u32 = 5;
const UMOUNT_BACKOFF_MS: u64 = 100;

/// Whether `dir` is a mount point: listed in mountinfo, or on another
/// device than its parent.
pub fn is_mount_point(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    let s = dir.to_string_lossy();
    if let Ok(mounts) = read_mountinfo() {
        if mounts.iter().any(|m| m.mount_point == s) {
            return true;
        }
    }
    let parent = dir.parent().unwrap_or(Path::new("/"));
    match (std::fs::metadata(dir), std::fs::metadata(parent)) {
        (Ok(d), Ok(p)) => d.dev() != p.dev(),
        // Cannot tell: treat it as mounted (never remove it).
        _ => true,
    }
}

/// `rmdir dir` when it is not a mount point; never recursive (an entry
/// inside means something is there: the directory stays).
fn remove_empty_dir(dir: &Path) {
    if is_mount_point(dir) {
        return;
    }
    if let Err(e) = std::fs::remove_dir(dir) {
        tracing::warn!("left the directory {}: {e}", dir.display());
    }
}

/// Unmount the temporary mount point `dir`, retrying a busy umount with a
/// short backoff, then remove it with `rmdir` once it is not a mount point.
///
/// # Errors
/// [`Error::Refused`] when it stays mounted, saying how to release it.
pub fn release(dir: &Path) -> Result<()> {
    let mut pause = std::time::Duration::from_millis(UMOUNT_BACKOFF_MS);
    let mut last = None;
    for attempt in 1..=UMOUNT_TRIES {
        match Cmd::new("umount").arg(dir).run() {
            Ok(_) => {
                last = None;
                break;
            }
            Err(e) => {
                if !is_mount_point(dir) {
                    last = None;
                    break;
                }
                tracing::debug!("umount {} (try {attempt}): {e}", dir.display());
                last = Some(e);
                if attempt < UMOUNT_TRIES {
                    std::thread::sleep(pause);
                    pause *= 2;
                }
            }
        }
    }
    if let Some(e) = last {
        if is_mount_point(dir) {
            return Err(Error::Refused(format!(
                "the pool stays mounted at {d}: umount failed {UMOUNT_TRIES} times ({e}). Nothing in it was removed. \
                 Release it once nothing uses it (fuser -vm {d} shows who does): umount {d} && rmdir {d}; \
                 the next tabula apply also releases it.",
                d = dir.display()
            )));
        }
    }
    remove_empty_dir(dir);
    Ok(())
}

/// One mount made (or found) by [`mount_layout`].
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Mounted {
    /// Where, under the target.
    pub target: String,
    pub source: String,
    pub fstype: String,
    pub options: String,
    /// It was already mounted there.
    pub existed: bool,
}

fn mountinfo() -> Result<Vec<MountEntry>> {
    read_mountinfo()
}

fn mount_points() -> Result<Vec<String>> {
    Ok(mountinfo()?.into_iter().map(|m| m.mount_point).collect())
}

// ---------------------------------------------------------------------------
// Which mounts under a target are the spec's layout.
//
// Nothing is recorded: a mount at `TARGET/PATH` is the layout's when the
// spec has a mount at PATH and the mount is what tabula makes there:
// - tmpfs: type tmpfs, source `tmpfs` (what `tabula mount` passes), and the
//   spec's mode and size when the kernel shows them;
// - subvolume: type btrfs, the source is this container's mapping (the one
//   open on the spec's LUKS partition, else /dev/mapper/NAME; compared as
//   resolved device nodes) and the mount's root is `/SUBVOLUME`;
// - partition: the spec's filesystem type, and the source is partition N of
//   this disk (`--disk`, else the disk holding the container's partition),
//   or, when the disk is unknown, a filesystem with the spec's UUID.
// Everything else at or under the target is foreign: `unmount` leaves it,
// `mount` refuses to stack on it.

/// A mount tabula did not make (or cannot tell it did), left alone.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Left {
    pub target: String,
    pub source: String,
    pub fstype: String,
    /// Why it was left.
    pub why: String,
}

/// What [`unmount_layout`] did.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct Unmounted {
    /// The layout's mount points unmounted, deepest first.
    pub unmounted: Vec<String>,
    /// Mounts under the target left mounted, and why.
    pub left: Vec<Left>,
    /// The container's mapping closed.
    pub closed: Option<String>,
}

impl Unmounted {
    /// Part of the spec's own layout stayed mounted (kept because something
    /// else pins it): an image's loop device must then stay attached.
    pub fn layout_left(&self) -> bool {
        self.left.iter().any(|l| l.why.starts_with("the layout's"))
    }
}

fn canonical(p: &str) -> Option<PathBuf> {
    std::fs::canonicalize(p).ok()
}

/// The whole disk holding partition `node` (`/dev/vda` for `/dev/vda6`).
fn disk_of_partition(node: &Path) -> Option<String> {
    let name = node.file_name()?;
    let sys = std::fs::canonicalize(Path::new("/sys/class/block").join(name)).ok()?;
    if !sys.join("partition").exists() {
        return None;
    }
    let parent = sys.parent()?.file_name()?.to_string_lossy().into_owned();
    Some(format!("/dev/{parent}"))
}

/// The device under the mapping `mapper` (its one dm slave).
fn slave_of(mapper: &Path) -> Option<PathBuf> {
    let dm = mapper.file_name()?;
    let mut slaves =
        std::fs::read_dir(Path::new("/sys/class/block").join(dm).join("slaves")).ok()?;
    let s = slaves.next()?.ok()?;
    Some(Path::new("/dev").join(s.file_name()))
}

/// The spec's mount table resolved against this machine.
struct Layout<'a> {
    spec: &'a HostSpec,
    target: String,
    /// The disk (`--disk`, or the one holding the container).
    device: Option<String>,
    /// This container's mapping, resolved (`/dev/dm-0`).
    mapping: Option<PathBuf>,
}

impl<'a> Layout<'a> {
    fn new(spec: &'a HostSpec, target: &Path, device: Option<&str>) -> Option<Layout<'a>> {
        let target = std::fs::canonicalize(target).ok()?;
        let luks_node = |dev: &str| {
            spec.luks
                .as_ref()
                .and_then(|l| spec.partition(&l.partition))
                .map(|sp| crate::node::partition_node(dev, sp.number))
        };
        let mapping = match device {
            Some(d) => luks_node(d).and_then(|n| luks::open_mapping(&n)),
            None => spec
                .luks
                .as_ref()
                .map(|l| format!("/dev/mapper/{}", l.name)),
        }
        .and_then(|m| canonical(&m));
        let device = device.map(str::to_owned).or_else(|| {
            let slave = slave_of(mapping.as_ref()?)?;
            disk_of_partition(&slave)
        });
        Some(Layout {
            spec,
            target: target.to_string_lossy().into_owned(),
            device,
            mapping,
        })
    }

    fn under_target(&self, m: &MountEntry) -> bool {
        m.mount_point == self.target
            || m.mount_point
                .strip_prefix(self.target.trim_end_matches('/'))
                .is_some_and(|r| r.starts_with('/'))
    }

    /// `None` when `m` is the layout's, else why it is foreign.
    fn foreign(&self, m: &MountEntry) -> Option<String> {
        let rel = m
            .mount_point
            .strip_prefix(self.target.trim_end_matches('/'))
            .unwrap_or_default();
        let rel = if rel.is_empty() { "/" } else { rel };
        let Some(want) = self.spec.mounts.iter().find(|w| w.path.as_str() == rel) else {
            return Some("the spec mounts nothing there".into());
        };
        match &want.source {
            MountSource::Tmpfs { size, mode } => {
                if m.fstype != "tmpfs" || m.source != "tmpfs" {
                    return Some(format!("the spec mounts a tmpfs there, not {}", m.fstype));
                }
                let opt = |k: &str| {
                    m.super_options
                        .split(',')
                        .find_map(|o| o.strip_prefix(k).map(str::to_owned))
                };
                if let (Some(want), Some(have)) = (
                    mode.as_deref(),
                    opt("mode=").or_else(|| Some("1777".into())),
                ) {
                    if u32::from_str_radix(want, 8).ok() != u32::from_str_radix(&have, 8).ok() {
                        return Some(format!("mode {have}, the spec's is {want}"));
                    }
                }
                if let (Some(want), Some(have)) = (
                    tmpfs_bytes(size),
                    opt("size=").and_then(|h| tmpfs_bytes(&h)),
                ) {
                    if want != have {
                        return Some(format!("size {have} bytes, the spec's is {size}"));
                    }
                }
                None
            }
            MountSource::Subvolume { subvolume } => {
                let src = canonical(&m.source);
                if m.fstype != "btrfs" || src.is_none() || src != self.mapping {
                    return Some(format!(
                        "not this container's pool (the spec mounts subvolume {subvolume} there)"
                    ));
                }
                if m.root.trim_start_matches('/') != subvolume.trim_start_matches('/') {
                    return Some(format!("subvolume {}, the spec's is {subvolume}", m.root));
                }
                None
            }
            MountSource::Partition { partition } => {
                let Some((sp, fs)) = self
                    .spec
                    .partition(partition)
                    .and_then(|sp| Some((sp, sp.filesystem.as_ref()?)))
                else {
                    return Some(format!(
                        "the spec's partition `{partition}` has no filesystem"
                    ));
                };
                if m.fstype != fs.kind.name() {
                    return Some(format!("the spec mounts {} there", fs.kind.name()));
                }
                let ours = match &self.device {
                    Some(d) => {
                        canonical(&crate::node::partition_node(d, sp.number)).is_some()
                            && canonical(&crate::node::partition_node(d, sp.number))
                                == canonical(&m.source)
                    }
                    None => fs.uuid.as_ref().is_some_and(|u| {
                        probe::blkid(&m.source).ok().is_some_and(|b| {
                            b.get("UUID").is_some_and(|h| h.eq_ignore_ascii_case(u))
                        })
                    }),
                };
                (!ours).then(|| format!("not partition {} of this disk", sp.number))
            }
        }
    }
}

/// Bytes of a tmpfs `size=`: the workspace's one tmpfs grammar.
use tabula_spec::size::tmpfs_bytes;

/// The mounts at or under `target` that are not the spec's layout.
fn foreign_mounts(spec: &HostSpec, target: &Path, device: Option<&str>) -> Result<Vec<Left>> {
    let Some(layout) = Layout::new(spec, target, device) else {
        return Ok(Vec::new());
    };
    Ok(mountinfo()?
        .iter()
        .filter(|m| layout.under_target(m))
        .filter_map(|m| {
            layout.foreign(m).map(|why| Left {
                target: m.mount_point.clone(),
                source: m.source.clone(),
                fstype: m.fstype.clone(),
                why,
            })
        })
        .collect())
}

fn under(target: &Path, path: &str) -> PathBuf {
    target.join(path.trim_start_matches('/'))
}

/// Open the container with `key` and mount the whole layout under `target`.
/// Mounts already in place are kept (a rerun finishes a partial mount).
///
/// # Errors
/// When the container cannot be opened or a mount fails.
pub fn mount_layout(
    spec: &HostSpec,
    device: &str,
    target: &Path,
    key: Option<&Key>,
) -> Result<Vec<Mounted>> {
    refuse_foreign(spec, device, target)?;
    let mapper = open_pool(spec, device, key)?;
    std::fs::create_dir_all(target)
        .map_err(|e| Error::io(format!("creating {}", target.display()), e))?;
    let target = std::fs::canonicalize(target)
        .map_err(|e| Error::io(format!("resolving {}", target.display()), e))?;
    let mut out = Vec::new();
    for m in spec.mounts_in_order() {
        let (fstype, source, mut opts) = mount_source(spec, device, m, mapper.as_deref())?;
        opts.extend(m.options.iter().cloned());
        out.push(mount_one(
            under(&target, m.path.as_str()),
            fstype,
            source,
            opts.join(","),
        )?);
    }
    Ok(out)
}

/// `mount` refuses a target with any foreign mount at or under it, before
/// opening the container.
fn refuse_foreign(spec: &HostSpec, device: &str, target: &Path) -> Result<()> {
    let foreign = foreign_mounts(spec, target, Some(device))?;
    if !foreign.is_empty() {
        let list: Vec<String> = foreign
            .iter()
            .map(|l| format!("  {} ({} {}): {}", l.target, l.fstype, l.source, l.why))
            .collect();
        return Err(Error::Refused(format!(
            "{} already holds mounts that are not this spec's layout; tabula does not mount over them. Unmount them or choose another --target. Nothing was mounted:\n{}",
            target.display(),
            list.join("\n")
        )));
    }
    Ok(())
}

/// The container's mapping on the spec's LUKS partition of `device`,
/// opened with `key` when it is closed (`None` without `[luks]`).
fn open_pool(spec: &HostSpec, device: &str, key: Option<&Key>) -> Result<Option<String>> {
    let disk = probe::probe(device)?;
    let mut mapper = None;
    if let Some(luks) = &spec.luks {
        let sp = spec.partition(&luks.partition).ok_or_else(|| {
            Error::Refused(format!(
                "[luks] partition `{}` is not in the spec",
                luks.partition
            ))
        })?;
        let node = disk
            .partitions
            .iter()
            .find(|p| p.number == sp.number)
            .map(|p| p.node.clone())
            .ok_or_else(|| {
                Error::Refused(format!(
                    "{device} has no partition {} (`{}`): run apply first",
                    sp.number, sp.label
                ))
            })?;
        // The mapping on this very partition (never a same-named one of
        // another disk: open_container refuses that).
        let m = match luks::open_mapping(&node) {
            Some(m) => m,
            None => {
                let key = key.ok_or_else(|| {
                    Error::Refused(
                        "opening the container needs --keyfile FILE or the passphrase".into(),
                    )
                })?;
                open_container(spec, &node, key)?
            }
        };
        mapper = Some(m);
    }
    Ok(mapper)
}

/// What is mounted at `m`: (fs type, source, options from the spec).
fn mount_source(
    spec: &HostSpec,
    device: &str,
    m: &Mount,
    mapper: Option<&str>,
) -> Result<(String, String, Vec<String>)> {
    let found = match &m.source {
        MountSource::Tmpfs { size, mode } => {
            let mut o = vec![format!("size={size}")];
            if let Some(mode) = mode {
                o.push(format!("mode={mode}"));
            }
            ("tmpfs".to_owned(), "tmpfs".to_owned(), o)
        }
        MountSource::Subvolume { subvolume } => {
            let btrfs = spec.btrfs.as_ref().ok_or_else(|| {
                Error::Refused(format!("mount {} needs [btrfs]", m.path.as_str()))
            })?;
            let src = mapper.map(str::to_owned).ok_or_else(|| {
                Error::Refused(format!(
                    "mount {} needs the [luks] container",
                    m.path.as_str()
                ))
            })?;
            ("btrfs".to_owned(), src, btrfs.subvolume_options(subvolume))
        }
        MountSource::Partition { partition } => {
            let sp = spec.partition(partition).ok_or_else(|| {
                Error::Refused(format!(
                    "mount {}: no partition `{partition}`",
                    m.path.as_str()
                ))
            })?;
            let fs = sp.filesystem.as_ref().ok_or_else(|| {
                Error::Refused(format!(
                    "partition `{partition}` has no filesystem in the spec"
                ))
            })?;
            let node = crate::node::partition_node(device, sp.number);
            (fs.kind.name().to_owned(), node, Vec::new())
        }
    };
    Ok(found)
}

/// Mount one (unless it is mounted already: kept).
fn mount_one(dir: PathBuf, fstype: String, source: String, options: String) -> Result<Mounted> {
    let dir_s = dir.to_string_lossy().into_owned();
    let existed = mount_points()?.contains(&dir_s);
    if !existed {
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let mut cmd = Cmd::new("mount").args(["-t", fstype.as_str()]);
        if !options.is_empty() {
            cmd = cmd.args(["-o", options.as_str()]);
        }
        cmd.arg(&source).arg(&dir).run()?;
    }
    Ok(Mounted {
        target: dir_s,
        source,
        fstype,
        options,
        existed,
    })
}

/// `tabula mount`: the disk (an image mounted before keeps its loop device:
/// used again rather than attaching a second one) and the layout mounted
/// with the keyfile, else the passphrase (given, or asked when the
/// container is closed). The caller keeps the target attached.
///
/// # Errors
/// When the disk cannot be opened, no key is at hand, or mounting fails.
pub fn mount_disk(
    spec: &HostSpec,
    disk: &Path,
    dir: &Path,
    keyfile: Option<&Path>,
    prompt: &mut dyn KeyPrompt,
) -> Result<(Target, Vec<Mounted>)> {
    let _lock = crate::lock::exclusive(disk)?;
    let attached = if disk.is_file() {
        loopdev::attached_for_writing(disk)?.into_iter().next()
    } else {
        None
    };
    let target = match attached {
        Some(dev) => Target::Block(dev),
        None => Target::open(disk, false)?,
    };
    // A key is needed unless the container on this disk is open already.
    let needs_key = spec.luks.is_some() && luks::container_mapping(spec, target.device()).is_none();
    let pass = if needs_key && keyfile.is_none() {
        Some(prompt.passphrase(false)?)
    } else {
        prompt.given()?
    };
    let key = match (keyfile, pass) {
        (Some(k), _) => Some(Key::File(k.to_owned())),
        (None, Some(p)) => Some(Key::Passphrase(p)),
        (None, None) => None,
    };
    let mounted = mount_layout(spec, target.device(), dir, key.as_ref())?;
    Ok((target, mounted))
}

/// `tabula unmount`: the layout under `target` unmounted (see
/// [`unmount_layout`]); `disk`, when named, is an image (its loop device)
/// or the block device. An image's loop device is detached only when
/// nothing of the layout is left. Returns what was done and the loop
/// devices detached.
///
/// # Errors
/// When losetup, umount or cryptsetup fails.
pub fn unmount_disk(
    spec: &HostSpec,
    target: &Path,
    disk: Option<&Path>,
) -> Result<(Unmounted, Vec<String>)> {
    let _lock = disk.map(crate::lock::exclusive).transpose()?;
    let device = match disk {
        Some(d) if d.is_file() => loopdev::attached(d)?.into_iter().next(),
        Some(d) => Some(d.to_string_lossy().into_owned()),
        None => None,
    };
    let done = unmount_layout(spec, target, device.as_deref())?;
    let mut detached = Vec::new();
    if let Some(d) = disk.filter(|d| d.is_file() && !done.layout_left()) {
        detached = loopdev::detach_image(d)?;
    }
    Ok((done, detached))
}

/// Unmount exactly the spec's layout under `target`, deepest first (see
/// the rules above), then close this container's mapping. Every other mount
/// at or under `target` is left, and so is a layout mount with a foreign one
/// under it or stacked on it; all are listed in [`Unmounted::left`].
/// `device` is the disk (`--disk`), when known.
///
/// # Errors
/// When an unmount or the close fails.
pub fn unmount_layout(spec: &HostSpec, target: &Path, device: Option<&str>) -> Result<Unmounted> {
    let mut out = Unmounted::default();
    if let Some(layout) = Layout::new(spec, target, device) {
        let all = mountinfo()?;
        let mut ours = Vec::new();
        for m in all.iter().filter(|m| layout.under_target(m)) {
            match layout.foreign(m) {
                None => ours.push(m.clone()),
                Some(why) => out.left.push(Left {
                    target: m.mount_point.clone(),
                    source: m.source.clone(),
                    fstype: m.fstype.clone(),
                    why,
                }),
            }
        }
        // Deepest first; among equals, the later mount (stacked) first.
        ours.reverse();
        ours.sort_by_key(|m| std::cmp::Reverse(m.mount_point.matches('/').count()));
        for m in ours {
            let now = mountinfo()?;
            let prefix = format!("{}/", m.mount_point.trim_end_matches('/'));
            let top = now.iter().rev().find(|n| n.mount_point == m.mount_point);
            let below = now
                .iter()
                .find(|n| n.mount_point.starts_with(&prefix) && n.id != m.id);
            let why = if top.is_some_and(|t| t.id != m.id) {
                Some("a foreign mount is stacked on it".to_owned())
            } else {
                below.map(|b| format!("{} is mounted under it", b.mount_point))
            };
            match why {
                Some(why) => out.left.push(Left {
                    target: m.mount_point.clone(),
                    source: m.source.clone(),
                    fstype: m.fstype.clone(),
                    why: format!("the layout's, kept: {why}"),
                }),
                None => {
                    Cmd::new("umount").arg(&m.mount_point).run()?;
                    out.unmounted.push(m.mount_point.clone());
                }
            }
        }
    }
    if let Some(luks) = &spec.luks {
        let mapper = match device {
            Some(d) => spec
                .partition(&luks.partition)
                .and_then(|sp| luks::open_mapping(&crate::node::partition_node(d, sp.number))),
            None => Some(format!("/dev/mapper/{}", luks.name)),
        };
        let held = out.left.iter().any(|l| {
            l.fstype == "btrfs"
                && canonical(&l.source).is_some()
                && canonical(&l.source) == mapper.as_deref().and_then(canonical)
        });
        if let Some(mapper) = mapper.filter(|m| Path::new(m).exists() && !held) {
            let name = mapper.trim_start_matches("/dev/mapper/").to_owned();
            luks::close(&name)?;
            out.closed = Some(mapper);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmpfs_sizes_as_the_kernel_reads_them() {
        assert_eq!(tmpfs_bytes("2G"), Some(2 << 30));
        assert_eq!(tmpfs_bytes("2097152k"), Some(2 << 30));
        assert_eq!(tmpfs_bytes("4096"), Some(4096));
        assert_eq!(tmpfs_bytes("50%"), None);
        assert_eq!(tmpfs_bytes("99999999999999999999G"), None);
    }

    #[test]
    fn top_level_names_carry_their_owner() {
        assert_eq!(top_level_owner("tabula-pool.4242.Ab3dEf"), Some(4242));
        assert_eq!(top_level_owner("tabula-pool.Ab3dEf"), None);
        assert_eq!(top_level_owner("tabula-pool.x1.Ab3dEf"), None);
        assert_eq!(top_level_owner("other.4242.Ab3dEf"), None);
    }
}
