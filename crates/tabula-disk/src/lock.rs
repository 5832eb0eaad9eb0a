//! # One writer per disk
//!
//! Two runs of tabula that write to the same disk at once (two terminals,
//! a script and a user, an apply and a `keyfile add`) would interleave
//! their partitioning, formatting and key slots: each saw the disk before
//! the other wrote. Every command that writes to a disk, or opens and
//! closes its container (apply, install, keyfile, mount, unmount), first
//! takes [`exclusive`] on it: an exclusive `flock(2)` on a lock file in
//! `/run/tabula/lock/` named after the disk's identity, not its path, so
//! `disk.img`, `./disk.img` and a symlink to it are the same disk.
//!
//! - `install` holds it from its apply to the end of nixos-install; the
//!   steps it calls find it held by their own process and go on.
//! - A second writer does not wait: it is refused at once (exit 3), before
//!   it reads a passphrase or touches anything, and told who holds it.
//! - The lock dies with its process: `kill -9` leaves no stale lock, and the
//!   rerun of a killed apply takes it at once.
//! - The lock file is never removed (removing it would race with a writer
//!   that just opened it); it lives on tmpfs and is gone at reboot.
//! - Locking a separate file, not the device itself, keeps tabula out of
//!   the way of tools that honour systemd's block-device lock (a BSD lock
//!   on the whole disk, taken by `sfdisk --lock` or systemd-repart): those
//!   are run by tabula itself, and must not wait for it.
//!
//! Read-only commands (plan, import, status) take no lock.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tabula_run::atomic::{AtomicError, Lock};

use crate::{Error, Result};

/// Where the lock files live (tmpfs: gone at reboot, as the runs are).
pub const LOCKS: &str = "/run/tabula/lock";

/// The exclusive lock on one disk, held until dropped (or the process ends).
#[derive(Debug)]
pub struct DiskLock {
    _lock: Lock,
    path: PathBuf,
}

/// The lock files this process holds: a command that holds a disk's lock
/// for its whole run (install: apply, mount, nixos-install) calls steps
/// that take it too, and a second `flock` of the same file by the same
/// process would refuse itself.
static HELD: std::sync::Mutex<std::collections::BTreeSet<PathBuf>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

fn held() -> std::sync::MutexGuard<'static, std::collections::BTreeSet<PathBuf>> {
    HELD.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Drop for DiskLock {
    fn drop(&mut self) {
        held().remove(&self.path);
    }
}

/// The name of `disk`'s lock file: `blk-MAJ:MIN` for a block device (the
/// device it is, whatever node names it), `img-DEV:INO` for an image file.
/// None for a path that does not exist (a new image: `create_new` makes
/// sure only one run creates it, and that run then takes the lock).
fn lock_name(disk: &Path) -> Option<String> {
    use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
    let m = std::fs::metadata(disk).ok()?;
    if m.file_type().is_block_device() {
        let rdev = m.rdev();
        Some(format!(
            "blk-{}:{}",
            rustix::fs::major(rdev),
            rustix::fs::minor(rdev)
        ))
    } else {
        Some(format!("img-{}:{}", m.dev(), m.ino()))
    }
}

/// The lock file of `disk`, if it exists.
pub fn lock_path(disk: &Path) -> Option<PathBuf> {
    lock_name(disk).map(|n| Path::new(LOCKS).join(n))
}

/// Take the exclusive lock on `disk`, or refuse at once when another run
/// holds it. A disk that does not exist yet needs no lock (None), nor one
/// this process holds already (None: the outer holder keeps it).
///
/// # Errors
/// [`Error::Refused`] when another run holds the lock; [`Error::Io`] when
/// the lock file cannot be made.
pub fn exclusive(disk: &Path) -> Result<Option<DiskLock>> {
    let Some(path) = lock_path(disk) else {
        return Ok(None);
    };
    if held().contains(&path) {
        return Ok(None);
    }
    std::fs::create_dir_all(LOCKS).map_err(|e| Error::io(format!("creating {LOCKS}"), e))?;
    match Lock::acquire(&path, Duration::ZERO, &mut |_| {}) {
        Ok(lock) => {
            held().insert(path.clone());
            Ok(Some(DiskLock { _lock: lock, path }))
        }
        Err(AtomicError::LockTimeout { .. }) => Err(Error::Refused(format!(
            "another tabula is working on {} right now (it holds {}): nothing was done. Wait for it to end, then run this again{}",
            disk.display(),
            path.display(),
            holders(&path)
                .map(|p| format!(" (held by PID {p})"))
                .unwrap_or_default()
        ))),
        Err(e) => Err(Error::io(
            format!("locking {}", disk.display()),
            std::io::Error::other(e.to_string()),
        )),
    }
}

/// The PIDs that hold a BSD lock on `path`, from `/proc/locks` (by inode).
fn holders(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt as _;
    let m = std::fs::metadata(path).ok()?;
    let dev = m.dev();
    let want = format!(
        "{:02x}:{:02x}:{}",
        rustix::fs::major(dev),
        rustix::fs::minor(dev),
        m.ino()
    );
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    let pids: Vec<&str> = locks
        .lines()
        .filter(|l| l.contains(" FLOCK ") && l.split_whitespace().any(|f| f == want))
        .filter_map(|l| l.split_whitespace().nth(4))
        .collect();
    (!pids.is_empty()).then(|| pids.join(", "))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_image_is_named_by_its_inode_not_its_path() {
        let d = tempfile::tempdir().unwrap();
        let img = d.path().join("disk.img");
        std::fs::write(&img, b"x").unwrap();
        let link = d.path().join("link.img");
        std::os::unix::fs::symlink(&img, &link).unwrap();
        let a = lock_name(&img).unwrap();
        assert!(a.starts_with("img-"), "{a}");
        assert_eq!(lock_name(&link), Some(a.clone()));
        assert_eq!(lock_name(&d.path().join("./disk.img")), Some(a));
        assert_eq!(lock_name(&d.path().join("missing.img")), None);
    }

    #[test]
    fn the_holder_takes_it_again_freely_and_a_drop_frees_it() {
        let d = tempfile::tempdir().unwrap();
        let img = d.path().join("disk.img");
        std::fs::write(&img, b"x").unwrap();
        let first = match exclusive(&img) {
            Ok(l) => l.unwrap(),
            Err(e) => {
                // Not root: /run/tabula cannot be made here.
                eprintln!("SKIP lock re-entry: {e}");
                return;
            }
        };
        // The same process, a step inside the command: goes on, holds nothing.
        assert!(exclusive(&img).unwrap().is_none());
        // Another open file of the lock is another holder: refused.
        let other = std::fs::File::open(lock_path(&img).unwrap()).unwrap();
        assert!(
            rustix::fs::flock(&other, rustix::fs::FlockOperation::NonBlockingLockExclusive)
                .is_err()
        );
        drop(first);
        assert!(
            rustix::fs::flock(&other, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_ok()
        );
        rustix::fs::flock(&other, rustix::fs::FlockOperation::Unlock).unwrap();
        assert!(exclusive(&img).unwrap().is_some());
    }

    #[test]
    fn a_block_device_is_named_by_its_numbers() {
        // /dev/null is a character device: an "image" by this rule, never
        // a block device; a real block device needs root and a disk.
        let n = lock_name(Path::new("/dev/null")).unwrap();
        assert!(n.starts_with("img-"), "{n}");
    }
}
