//! # Mounting the layout as stage 1 will
//!
//! [`mount_layout`] opens the container and mounts, under a target
//! directory, the tmpfs root with its size and mode, then every subvolume
//! and partition in dependency order (parents first) with `subvol=` and the
//! pool's options. [`unmount_layout`] unmounts in reverse and closes the
//! mapping. [`TopLevel`] mounts the pool's top level (subvolid 5) in a
//! temporary directory for apply, unmounting on drop.

use std::path::{Path, PathBuf};

use serde::Serialize;
use tabula_run::Cmd;
use tabula_spec::model::MountSource;
use tabula_spec::HostSpec;

use crate::apply::{open_container, Key};
use crate::busy::parse_mountinfo;
use crate::probe;
use crate::{Error, Result};

/// The pool's top level mounted in a temporary directory.
pub struct TopLevel {
    dir: tempfile::TempDir,
    mounted: bool,
}

impl TopLevel {
    /// Mount `mapper` with `subvolid=5` in a new temporary directory.
    ///
    /// # Errors
    /// When the directory or the mount fails.
    pub fn mount(mapper: &str) -> Result<TopLevel> {
        let dir = tempfile::Builder::new()
            .prefix("tabula-pool.")
            .tempdir()
            .map_err(|e| Error::io("creating a temporary mount point", e))?;
        Cmd::new("mount")
            .args(["-t", "btrfs", "-o", "subvolid=5", mapper])
            .arg(dir.path())
            .install_hint("Debian package mount")
            .run()?;
        Ok(TopLevel { dir, mounted: true })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Unmount now, reporting failure.
    ///
    /// # Errors
    /// When umount fails.
    pub fn unmount(mut self) -> Result<()> {
        self.mounted = false;
        Cmd::new("umount").arg(self.dir.path()).run()?;
        Ok(())
    }
}

impl Drop for TopLevel {
    fn drop(&mut self) {
        if self.mounted {
            if let Err(e) = Cmd::new("umount").arg(self.dir.path()).run() {
                tracing::warn!("could not unmount {}: {e}", self.dir.path().display());
            }
        }
    }
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

fn mount_points() -> Result<Vec<String>> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| Error::io("reading /proc/self/mountinfo", e))?;
    Ok(parse_mountinfo(&text)
        .into_iter()
        .map(|m| m.mount_point)
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
        let m = match probe::open_mapping(&node) {
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
    std::fs::create_dir_all(target)
        .map_err(|e| Error::io(format!("creating {}", target.display()), e))?;
    let target = std::fs::canonicalize(target)
        .map_err(|e| Error::io(format!("resolving {}", target.display()), e))?;
    let mut out = Vec::new();
    for m in spec.mounts_in_order() {
        let dir = under(&target, m.path.as_str());
        let (fstype, source, mut opts) = match &m.source {
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
                let src = mapper.clone().ok_or_else(|| {
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
                let node = probe::partition_node(device, sp.number);
                (fs.kind.name().to_owned(), node, Vec::new())
            }
        };
        opts.extend(m.options.iter().cloned());
        let options = opts.join(",");
        let dir_s = dir.to_string_lossy().into_owned();
        let existed = mount_points()?.contains(&dir_s);
        if !existed {
            std::fs::create_dir_all(&dir)
                .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
            let mut cmd = Cmd::new("mount")
                .args(["-t", fstype.as_str()])
                .install_hint("Debian package mount");
            if !options.is_empty() {
                cmd = cmd.args(["-o", options.as_str()]);
            }
            cmd.arg(&source).arg(&dir).run()?;
        }
        out.push(Mounted {
            target: dir_s,
            source,
            fstype,
            options,
            existed,
        });
    }
    Ok(out)
}

/// Unmount everything at or under `target`, deepest first, then close the
/// spec's mapping. Returns the mount points unmounted.
///
/// # Errors
/// When an unmount or the close fails.
pub fn unmount_layout(spec: &HostSpec, target: &Path) -> Result<Vec<String>> {
    let mut done = Vec::new();
    if let Ok(target) = std::fs::canonicalize(target) {
        let t = target.to_string_lossy().into_owned();
        let prefix = format!("{}/", t.trim_end_matches('/'));
        let mut points: Vec<String> = mount_points()?
            .into_iter()
            .filter(|p| *p == t || p.starts_with(&prefix))
            .collect();
        // Deepest first; among equals, the later mount (stacked) first.
        points.reverse();
        points.sort_by_key(|p| std::cmp::Reverse(p.matches('/').count()));
        for p in points {
            Cmd::new("umount").arg(&p).run()?;
            done.push(p);
        }
    }
    if let Some(luks) = &spec.luks {
        if Path::new(&format!("/dev/mapper/{}", luks.name)).exists() {
            Cmd::new("cryptsetup")
                .args(["close", luks.name.as_str()])
                .install_hint("Debian package cryptsetup-bin")
                .run()?;
        }
    }
    Ok(done)
}
