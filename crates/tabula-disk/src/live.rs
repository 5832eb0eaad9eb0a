//! # Live state of open containers and mounted pools
//!
//! The other half of the probe: where [`crate::probe`] reads a disk's
//! headers (sfdisk, blkid, cryptsetup, the btrfs root tree), this reads what
//! the running system has made of them — the device-mapper mappings in
//! sysfs, a mounted pool's identity (/sys/fs/btrfs), its subvolumes with
//! their ids, qgroup usage and free space. `tabula status` reads LUKS and
//! subvolume state only through here and [`crate::probe`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tabula_run::Cmd;

/// device-mapper name → uuid, from sysfs.
pub fn device_mapper(sys_block: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Ok(rd) = std::fs::read_dir(sys_block) else {
        return out;
    };
    for e in rd.filter_map(Result::ok) {
        if !e.file_name().to_string_lossy().starts_with("dm-") {
            continue;
        }
        let dm: PathBuf = e.path().join("dm");
        let read = |f: &str| {
            std::fs::read_to_string(dm.join(f))
                .ok()
                .map(|s| s.trim().to_owned())
        };
        if let Some(name) = read("name") {
            out.insert(name, read("uuid").unwrap_or_default());
        }
    }
    out
}

/// The UUID and label of the btrfs on `source`, from /sys/fs/btrfs/UUID/
/// (`devices/<dev>` links, `label`).
pub fn btrfs_identity(sys_fs_btrfs: &Path, source: &str) -> Option<(String, String)> {
    let dev = kernel_name(Path::new(source), Path::new("/sys/dev/block"))?;
    std::fs::read_dir(sys_fs_btrfs)
        .ok()?
        .filter_map(Result::ok)
        .find(|e| e.path().join("devices").join(&dev).exists())
        .map(|e| {
            let label = std::fs::read_to_string(e.path().join("label")).unwrap_or_default();
            (
                e.file_name().to_string_lossy().into_owned(),
                label.trim().to_owned(),
            )
        })
}

/// The kernel's name of a block device node (`dm-0` for /dev/mapper/pool).
/// By its device number (`/sys/dev/block/MAJ:MIN`): without udev,
/// cryptsetup makes /dev/mapper/NAME a node of its own, not a link to
/// /dev/dm-N, so the path alone does not tell. Falls back to the resolved
/// path's last component.
pub fn kernel_name(node: &Path, sys_dev_block: &Path) -> Option<std::ffi::OsString> {
    let by_number = rustix::fs::stat(node).ok().and_then(|st| {
        let kind = rustix::fs::FileType::from_raw_mode(st.st_mode);
        if kind != rustix::fs::FileType::BlockDevice {
            return None;
        }
        let (maj, min) = (rustix::fs::major(st.st_rdev), rustix::fs::minor(st.st_rdev));
        let link = std::fs::read_link(sys_dev_block.join(format!("{maj}:{min}"))).ok()?;
        link.file_name().map(ToOwned::to_owned)
    });
    by_number.or_else(|| {
        std::fs::canonicalize(node)
            .ok()?
            .file_name()
            .map(ToOwned::to_owned)
    })
}

fn btrfs() -> Cmd {
    Cmd::new("btrfs")
}

/// `btrfs subvolume list -a MNT` → path → id.
pub fn subvolume_ids(mnt: &str) -> Result<BTreeMap<String, u64>, String> {
    let out = btrfs()
        .args(["subvolume", "list", "-a", mnt])
        .run()
        .map_err(|e| e.to_string())?;
    Ok(parse_subvolume_list(&out.text()))
}

pub fn parse_subvolume_list(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let id = l
                .strip_prefix("ID ")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()?;
            let path = l.split_once(" path ")?.1.trim();
            let path = path.strip_prefix("<FS_TREE>/").unwrap_or(path);
            Some((path.to_owned(), id))
        })
        .collect()
}

/// `btrfs qgroup show --raw MNT` → subvolume id → referenced bytes.
pub fn qgroups(mnt: &str) -> Result<BTreeMap<u64, u64>, String> {
    match btrfs().args(["qgroup", "show", "--raw", mnt]).run() {
        Ok(out) => Ok(parse_qgroups(&out.text())),
        Err(tabula_run::Error::Failed { stderr, .. }) if stderr.contains("not enabled") => {
            Err("quotas are off (btrfs quota enable)".into())
        }
        Err(e) => Err(e.to_string()),
    }
}

pub fn parse_qgroups(text: &str) -> BTreeMap<u64, u64> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let id = w.next()?.strip_prefix("0/")?.parse().ok()?;
            let rfer = w.next()?.parse().ok()?;
            Some((id, rfer))
        })
        .collect()
}

/// "Free (estimated):  N  (min: M)" of `btrfs filesystem usage -b`.
pub fn pool_free(mnt: &str) -> Option<u64> {
    let out = btrfs()
        .args(["filesystem", "usage", "-b", mnt])
        .run()
        .ok()?;
    parse_free(&out.text())
}

pub fn parse_free(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Free (estimated):"))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}
