//! # Is anything using this disk?
//!
//! A disk is busy when one of its partitions (or the disk itself) is mounted
//! (per `/proc/self/mountinfo`), is active swap (`/proc/swaps`), has a
//! device-mapper holder (`/sys/class/block/*/holders`), or holds the running
//! root filesystem. Parsers are pure; [`scan`] reads the kernel's files.

use std::path::Path;

use serde::Serialize;

use crate::{Error, Result};

/// One reason a device is in use.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Busy {
    Mounted { device: String, at: String },
    Swap { device: String },
    Holder { device: String, holder: String },
    RunningRoot { device: String },
}

impl Busy {
    /// The device it is about.
    pub fn device(&self) -> &str {
        match self {
            Busy::Mounted { device, .. }
            | Busy::Swap { device }
            | Busy::Holder { device, .. }
            | Busy::RunningRoot { device } => device,
        }
    }
}

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Busy::Mounted { device, at } => write!(f, "{device} is mounted at {at}"),
            Busy::Swap { device } => write!(f, "{device} is active swap"),
            Busy::Holder { device, holder } => write!(f, "{device} is held by {holder}"),
            Busy::RunningRoot { device } => {
                write!(f, "{device} holds the running system's root filesystem")
            }
        }
    }
}

/// One line of mountinfo: device number, mount point, source, and what
/// tells one mount from another (id, root inside the filesystem, type,
/// superblock options).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    pub id: u64,
    pub dev: (u32, u32),
    pub root: String,
    pub mount_point: String,
    pub fstype: String,
    pub source: String,
    pub super_options: String,
}

impl From<tabula_run::mountinfo::Mount> for MountEntry {
    fn from(m: tabula_run::mountinfo::Mount) -> Self {
        MountEntry {
            id: m.id,
            dev: m.dev,
            root: m.root_lossy(),
            mount_point: m.mount_point_lossy(),
            fstype: m.fstype,
            source: m.source,
            super_options: m.super_options.join(","),
        }
    }
}

/// `/proc/self/mountinfo` as text rows, read by the workspace's one parser
/// ([`tabula_run::mountinfo`]).
/// This process's mount table, read once through the one reader
/// ([`tabula_run::mountinfo::read`]).
///
/// # Errors
/// When `/proc/self/mountinfo` cannot be read.
pub fn read_mountinfo() -> Result<Vec<MountEntry>> {
    let mounts =
        tabula_run::mountinfo::read().map_err(|e| Error::io("reading /proc/self/mountinfo", e))?;
    Ok(mounts.into_iter().map(MountEntry::from).collect())
}

pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    tabula_run::mountinfo::parse(text)
        .into_iter()
        .map(MountEntry::from)
        .collect()
}

fn unescape(s: &str) -> String {
    String::from_utf8_lossy(&tabula_run::mountinfo::unescape(s)).into_owned()
}

/// The devices of `/proc/swaps`.
pub fn parse_swaps(text: &str) -> Vec<String> {
    text.lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next().map(unescape))
        .collect()
}

/// `major:minor` of a block device from sysfs.
fn devno(node: &str) -> Option<(u32, u32)> {
    let name = Path::new(node).file_name()?.to_string_lossy().into_owned();
    let s = std::fs::read_to_string(format!("/sys/class/block/{name}/dev")).ok()?;
    let (a, b) = s.trim().split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// The sysfs names of what holds `node` (`dm-0`), with their dm names.
fn holders(node: &str) -> Vec<String> {
    let Some(name) = Path::new(node).file_name() else {
        return Vec::new();
    };
    let dir = Path::new("/sys/class/block").join(name).join("holders");
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .map(|e| {
            let h = e.file_name().to_string_lossy().into_owned();
            match std::fs::read_to_string(e.path().join("dm/name")) {
                Ok(n) => format!("/dev/mapper/{} ({h})", n.trim()),
                Err(_) => format!("/dev/{h}"),
            }
        })
        .collect()
}

/// Everything that makes `disk` or one of its partitions busy. Devices held
/// through a device-mapper mapping are followed one level: a mounted
/// `/dev/mapper/pool` makes the pool partition busy.
///
/// # Errors
/// When the kernel's files cannot be read.
pub fn scan<'a>(disk: &str, partitions: impl IntoIterator<Item = &'a str>) -> Result<Vec<Busy>> {
    let nodes: Vec<String> = std::iter::once(disk.to_owned())
        .chain(partitions.into_iter().map(str::to_owned))
        .collect();
    scan_nodes(&nodes)
}

/// [`scan`] over a list of device nodes.
///
/// # Errors
/// When the kernel's files cannot be read.
pub fn scan_nodes(nodes: &[String]) -> Result<Vec<Busy>> {
    let mounts = read_mountinfo()?;
    let swaps = std::fs::read_to_string("/proc/swaps")
        .map(|t| parse_swaps(&t))
        .unwrap_or_default();
    let root_dev = mounts.iter().find(|m| m.mount_point == "/").map(|m| m.dev);
    let mut out = Vec::new();
    for node in nodes {
        let mut devs: Vec<(String, Option<(u32, u32)>)> = vec![(node.clone(), devno(node))];
        for h in holders(node) {
            out.push(Busy::Holder {
                device: node.clone(),
                holder: h.clone(),
            });
            let mapper = h.split(' ').next().unwrap_or_default().to_owned();
            devs.push((mapper.clone(), devno_of_mapper(&mapper)));
        }
        for (dev, no) in devs {
            for m in &mounts {
                if Some(m.dev) == no || m.source == dev {
                    out.push(Busy::Mounted {
                        device: dev.clone(),
                        at: m.mount_point.clone(),
                    });
                }
            }
            if swaps.contains(&dev) {
                out.push(Busy::Swap {
                    device: dev.clone(),
                });
            }
            if no.is_some() && no == root_dev {
                out.push(Busy::RunningRoot {
                    device: dev.clone(),
                });
            }
        }
    }
    out.dedup();
    Ok(out)
}

/// A process holding a device open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opener {
    pub pid: u32,
    /// Its command name (`/proc/PID/comm`).
    pub comm: String,
    pub device: String,
}

impl std::fmt::Display for Opener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pid {} ({}) has {} open",
            self.pid, self.comm, self.device
        )
    }
}

/// The processes (but this one) holding one of `nodes`, or a mapping on
/// one of them, open: read from `/proc/*/fd`, compared by device number.
pub fn openers(nodes: &[String]) -> Vec<Opener> {
    use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
    let mut want: Vec<((u32, u32), String)> = Vec::new();
    for n in nodes {
        if let Some(d) = devno(n) {
            want.push((d, n.clone()));
        }
        for h in holders(n) {
            let mapper = h.split(' ').next().unwrap_or_default().to_owned();
            if let Some(d) = devno_of_mapper(&mapper) {
                want.push((d, mapper));
            }
        }
    }
    let me = std::process::id();
    let mut out = Vec::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return out;
    };
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(m) = std::fs::metadata(fd.path()) else {
                continue;
            };
            if !m.file_type().is_block_device() {
                continue;
            }
            let rdev = m.rdev();
            // Linux's dev_t encoding (glibc's major()/minor()).
            let major = (((rdev >> 32) & 0xffff_f000) | ((rdev >> 8) & 0xfff)) as u32;
            let minor = (((rdev >> 12) & 0xffff_ff00) | (rdev & 0xff)) as u32;
            if let Some((_, node)) = want.iter().find(|(d, _)| *d == (major, minor)) {
                let comm = std::fs::read_to_string(p.path().join("comm"))
                    .map(|c| c.trim().to_owned())
                    .unwrap_or_default();
                out.push(Opener {
                    pid,
                    comm,
                    device: node.clone(),
                });
                break;
            }
        }
    }
    out
}

/// `major:minor` of `/dev/mapper/NAME` (a symlink or node for `dm-N`).
fn devno_of_mapper(mapper: &str) -> Option<(u32, u32)> {
    let real = std::fs::canonicalize(mapper).ok()?;
    devno(&real.to_string_lossy())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_lines() {
        let text = "22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n\
                    40 22 7:1 /@system/nix /mnt/nix rw - btrfs /dev/mapper/pool rw,subvol=/@system/nix\n\
                    41 22 0:45 / /mnt/with\\040space rw - tmpfs none rw\n";
        let m = parse_mountinfo(text);
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].dev, (254, 1));
        assert_eq!(m[0].mount_point, "/");
        assert_eq!(m[1].source, "/dev/mapper/pool");
        assert_eq!((m[1].id, m[1].root.as_str()), (40, "/@system/nix"));
        assert_eq!(m[1].fstype, "btrfs");
        assert_eq!(m[1].super_options, "rw,subvol=/@system/nix");
        assert_eq!(m[2].mount_point, "/mnt/with space");
    }

    /// Found by tabula-fuzz (mountinfo target): `\+12` was read as an
    /// escape (byte 10) where the kernel only writes three octal digits,
    /// so this parser and the audit's disagreed on the mount point.
    #[test]
    fn only_three_octal_digits_are_an_escape() {
        for (field, want) in [
            ("/mnt/\\+12", "/mnt/\\+12"),
            ("/mnt/\\-12", "/mnt/\\-12"),
            ("/mnt/\\400", "/mnt/\\400"),
            ("/mnt/\\08", "/mnt/\\08"),
            ("/mnt/a\\040b", "/mnt/a b"),
            ("/mnt/\\134", "/mnt/\\"),
        ] {
            let m = parse_mountinfo(&format!("41 22 0:45 / {field} rw - tmpfs none rw\n"));
            assert_eq!(m[0].mount_point, want, "{field}");
        }
    }

    #[test]
    fn swaps_lines() {
        let text = "Filename\tType\tSize\tUsed\tPriority\n/dev/vda3 partition 1000 0 -2\n";
        assert_eq!(parse_swaps(text), ["/dev/vda3"]);
    }

    #[test]
    fn this_machines_mountinfo_parses() {
        let t = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(parse_mountinfo(&t).iter().any(|m| m.mount_point == "/"));
    }
}
