//! # Atomic file writes and the locks around them
//!
//! The one place tabula replaces a file it does not hold open (render's
//! output, `place --apply`'s host.toml, `init`): every writer goes through
//! here, so every one gets the same guarantees.
//!
//! - [`stage`] writes the new content to a temporary file beside the target
//!   (`.NAME.tabula-PID-N.tmp`, created with `O_EXCL` under a name no one
//!   else uses: an existing name, say from a killed writer, is skipped, never
//!   an error), syncs it and gives it the owner and mode of the file it
//!   replaces. [`Staged::commit`] renames it over the target and syncs the
//!   directory: a reader sees the old file or the new one, never half of one.
//!   A [`Staged`] dropped without commit removes its temporary file.
//! - [`Lock`] is an exclusive `flock(2)` on a lock file that is never
//!   replaced (flocking the target itself would lock an inode that the
//!   rename then swaps away). A second writer waits, up to a bound, then
//!   fails naming the lock file. The lock dies with its process, so kill -9
//!   leaves no stale lock; the lock file itself stays (removing it would race
//!   with a writer that just opened it).
//! - [`remove_stale_temps`] removes the temporary files of writers that are
//!   gone (their PID is not alive), which kill -9 leaves behind.
//! - [`final_target`] follows a symlink to the file it names, so a write
//!   updates the link's target and the link stays a link.
//!
//! This lives in tabula-run because every crate that writes files
//! (tabula-render, tabula-nixos, tabula-disk, the CLI) already depends on it
//! or can without a cycle: it depends on no other tabula crate.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a writer waits for another one's lock by default.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(60);

/// What went wrong, with the path it went wrong at.
#[derive(Debug, thiserror::Error)]
pub enum AtomicError {
    #[error("{what} {}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "another tabula process has held the lock {} for {}s; gave up waiting\n  hint: wait for it to finish (or find it with `fuser {}`) and run again",
        lock.display(), waited.as_secs(), lock.display()
    )]
    LockTimeout { lock: PathBuf, waited: Duration },
}

impl AtomicError {
    /// The I/O error underneath, if any.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            AtomicError::Io { source, .. } => Some(source.kind()),
            AtomicError::LockTimeout { .. } => None,
        }
    }
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> AtomicError + 'a {
    move |source| AtomicError::Io {
        what,
        path: path.to_owned(),
        source,
    }
}

fn dir_of(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// An exclusive lock, released when dropped (or when the process dies).
#[derive(Debug)]
pub struct Lock {
    _file: File,
    path: PathBuf,
}

impl Lock {
    /// Take the lock on `path` (created, mode 0644, if missing), waiting up
    /// to `timeout` for another holder; `on_wait` is called once if the lock
    /// is busy, before waiting (to tell the user why nothing happens).
    ///
    /// # Errors
    /// [`AtomicError::Io`] when the lock file cannot be opened or locked,
    /// [`AtomicError::LockTimeout`] when it stays held past `timeout`.
    pub fn acquire(
        path: &Path,
        timeout: Duration,
        on_wait: &mut dyn FnMut(&Path),
    ) -> Result<Lock, AtomicError> {
        use rustix::fs::{flock, FlockOperation};
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(path)
            .map_err(io_err("opening the lock file", path))?;
        let start = Instant::now();
        let mut told = false;
        loop {
            match flock(&file, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => {
                    return Ok(Lock {
                        _file: file,
                        path: path.to_owned(),
                    })
                }
                Err(e) if e == rustix::io::Errno::WOULDBLOCK || e == rustix::io::Errno::INTR => {
                    if !told {
                        on_wait(path);
                        told = true;
                    }
                    if start.elapsed() >= timeout {
                        return Err(AtomicError::LockTimeout {
                            lock: path.to_owned(),
                            waited: start.elapsed(),
                        });
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(io_err("locking", path)(e.into())),
            }
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The lock file that guards `target`: `.NAME.tabula.lock` beside it.
pub fn lock_path_for(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir_of(target).join(format!(".{name}.tabula.lock"))
}

/// The file a write to `path` must replace: `path` itself, or, when it is a
/// symbolic link (or a chain of them), the file the link finally names.
/// A missing `path` is returned as it is.
///
/// # Errors
/// [`AtomicError::Io`] for a link that cannot be followed (dangling, a loop).
pub fn final_target(path: &Path) -> Result<PathBuf, AtomicError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            fs::canonicalize(path).map_err(io_err("following the symbolic link", path))
        }
        Ok(_) => Ok(path.to_owned()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(path.to_owned()),
        Err(e) => Err(io_err("inspecting", path)(e)),
    }
}

/// What [`stage`] copies from the file it replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meta {
    /// Keep the owner, group and mode of an existing target; a new file
    /// gets `mode` and the writer's owner.
    KeepOr { mode: u32 },
    /// Always this mode and the writer's owner.
    Fresh { mode: u32 },
}

/// A new file's content, written and synced beside its target, not yet in
/// place. Dropping it without [`Staged::commit`] removes the temporary file.
#[derive(Debug)]
pub struct Staged {
    tmp: PathBuf,
    target: PathBuf,
    done: bool,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The suffix every temporary file of tabula ends with.
const TMP_MARK: &str = ".tabula-";

/// Write `bytes` to a fresh temporary file beside `target` and sync it.
/// `target` is replaced as it is: a symlink would be replaced by a file, so
/// callers that mean to write through links pass [`final_target`]'s answer.
///
/// # Errors
/// [`AtomicError::Io`] naming the temporary file or the target.
pub fn stage(target: &Path, bytes: &[u8], meta: Meta) -> Result<Staged, AtomicError> {
    let dir = dir_of(target);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let pid = std::process::id();
    let (mut file, tmp) = loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{name}{TMP_MARK}{pid}-{n}.tmp"));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
        {
            Ok(f) => break (f, tmp),
            // Left by an earlier process with our PID: take the next name.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_err("creating the temporary file", &tmp)(e)),
        }
    };
    let staged = Staged {
        tmp,
        target: target.to_owned(),
        done: false,
    };
    let tmp = staged.tmp.as_path();
    file.write_all(bytes).map_err(io_err("writing", tmp))?;
    let old = match meta {
        Meta::KeepOr { .. } => fs::metadata(target).ok().filter(|m| m.is_file()),
        Meta::Fresh { .. } => None,
    };
    let mode = match (meta, &old) {
        (_, Some(m)) => m.mode() & 0o7777,
        (Meta::KeepOr { mode } | Meta::Fresh { mode }, None) => mode,
    };
    if let Some(m) = &old {
        // Owner first: chown clears the set-id bits the mode then restores.
        if std::os::unix::fs::fchown(&file, Some(m.uid()), Some(m.gid())).is_err() {
            // Not root: the group may still be ours to give.
            let _ = std::os::unix::fs::fchown(&file, None, Some(m.gid()));
            if let Ok(now) = file.metadata() {
                if (now.uid(), now.gid()) != (m.uid(), m.gid()) {
                    tracing::warn!(
                        "{} was owned by {}:{}; the new file is {}:{} (only root can give it back)",
                        target.display(),
                        m.uid(),
                        m.gid(),
                        now.uid(),
                        now.gid()
                    );
                }
            }
        }
    }
    file.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(io_err("setting the mode of", tmp))?;
    file.sync_all().map_err(io_err("syncing", tmp))?;
    Ok(staged)
}

impl Staged {
    /// Rename the temporary file over the target and sync the directory.
    ///
    /// # Errors
    /// [`AtomicError::Io`] naming the target (the temporary file is removed).
    pub fn commit(mut self) -> Result<(), AtomicError> {
        fs::rename(&self.tmp, &self.target).map_err(io_err("renaming into place", &self.target))?;
        self.done = true;
        let dir = dir_of(&self.target);
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err("syncing the directory", dir))
    }

    /// Put the file in place only if nothing is at the target (a file, a
    /// directory or a link, dangling too): `renameat2(RENAME_NOREPLACE)`,
    /// then sync the directory. Unlike `O_EXCL` on the target itself, a
    /// failed write (a full disk) never leaves an empty or half file there.
    ///
    /// # Errors
    /// [`AtomicError::Io`] naming the target; its kind is `AlreadyExists`
    /// when something is there (the temporary file is removed).
    ///
    /// Filesystems without `RENAME_NOREPLACE` (9p, older FUSE, NFS before
    /// 4.x servers) answer EINVAL: then a hard link, which fails on an
    /// existing name just as atomically; where there are no hard links
    /// either (vfat), a rename after a last look that the name is free.
    pub fn commit_new(mut self) -> Result<(), AtomicError> {
        use rustix::fs::{renameat_with, RenameFlags, CWD};
        use rustix::io::Errno;
        let exists = || io::Error::from(io::ErrorKind::AlreadyExists);
        match renameat_with(CWD, &self.tmp, CWD, &self.target, RenameFlags::NOREPLACE) {
            Ok(()) => {}
            Err(e) if [Errno::INVAL, Errno::NOSYS, Errno::OPNOTSUPP].contains(&e) => {
                match fs::hard_link(&self.tmp, &self.target) {
                    Ok(()) => {
                        let _ = fs::remove_file(&self.tmp);
                    }
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        return Err(io_err("creating", &self.target)(e));
                    }
                    Err(_) => {
                        if fs::symlink_metadata(&self.target).is_ok() {
                            return Err(io_err("creating", &self.target)(exists()));
                        }
                        fs::rename(&self.tmp, &self.target)
                            .map_err(io_err("renaming into place", &self.target))?;
                    }
                }
            }
            Err(e) => return Err(io_err("creating", &self.target)(e.into())),
        }
        self.done = true;
        let dir = dir_of(&self.target);
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err("syncing the directory", dir))
    }

    /// Rename without syncing the directory (the caller syncs each directory
    /// once after a batch of renames).
    ///
    /// # Errors
    /// [`AtomicError::Io`] naming the target.
    pub fn rename(mut self) -> Result<(), AtomicError> {
        fs::rename(&self.tmp, &self.target).map_err(io_err("renaming into place", &self.target))?;
        self.done = true;
        Ok(())
    }

    /// The file this will replace.
    pub fn target(&self) -> &Path {
        &self.target
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Sync a directory, so the renames in it are durable.
///
/// # Errors
/// [`AtomicError::Io`] naming the directory.
pub fn sync_dir(dir: &Path) -> Result<(), AtomicError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("syncing the directory", dir))
}

/// Replace `target` with `bytes` in one step, keeping the owner and mode of
/// the file it replaces (`mode` for a new file). A symbolic link is
/// written through: its final target is replaced and the link stays.
///
/// # Errors
/// [`AtomicError::Io`] of the step that failed (the old file is then intact).
pub fn write_atomic(target: &Path, bytes: &[u8], mode: u32) -> Result<(), AtomicError> {
    let target = final_target(target)?;
    // What a killed earlier write of this file left (dead PIDs only).
    remove_stale_temps_of(&target)?;
    stage(&target, bytes, Meta::KeepOr { mode })?.commit()
}

/// The PID in a temporary file name of tabula (`.NAME.tabula-PID.tmp`, the
/// old form, or `.NAME.tabula-PID-N.tmp`).
fn temp_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (_, tail) = rest.rsplit_once(TMP_MARK)?;
    let pid = tail.split_once('-').map_or(tail, |(p, n)| {
        if n.bytes().all(|b| b.is_ascii_digit()) && !n.is_empty() {
            p
        } else {
            ""
        }
    });
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

fn alive(pid: u32) -> bool {
    let Some(p) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    match rustix::process::test_kill_process(p) {
        Ok(()) => true,
        // EPERM: it exists, it is someone else's.
        Err(e) => e != rustix::io::Errno::SRCH,
    }
}

/// Remove the temporary files in `dir` (not below it) left by tabula
/// writers that are no longer running, and return their paths. Files of
/// live writers other than this process are left alone.
///
/// # Errors
/// [`AtomicError::Io`] when `dir` cannot be listed or a file not removed.
pub fn remove_stale_temps(dir: &Path) -> Result<Vec<PathBuf>, AtomicError> {
    remove_stale(dir, "")
}

/// [`remove_stale_temps`] for the temporary files of one file only.
///
/// # Errors
/// As [`remove_stale_temps`].
pub fn remove_stale_temps_of(target: &Path) -> Result<Vec<PathBuf>, AtomicError> {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    remove_stale(dir_of(target), &format!(".{name}{TMP_MARK}"))
}

fn remove_stale(dir: &Path, prefix: &str) -> Result<Vec<PathBuf>, AtomicError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("listing", dir)(e)),
    };
    let me = std::process::id();
    let mut removed = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_err("listing", dir))?;
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.starts_with(prefix))
            .and_then(temp_pid)
        else {
            continue;
        };
        if pid != me && alive(pid) {
            continue;
        }
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if !is_file {
            continue;
        }
        let path = entry.path();
        match fs::remove_file(&path) {
            Ok(()) => removed.push(path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("removing the stale temporary file", &path)(e)),
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[test]
    fn temp_names_are_recognised() {
        assert_eq!(temp_pid(".flake.nix.tabula-123.tmp"), Some(123));
        assert_eq!(temp_pid(".flake.nix.tabula-123-7.tmp"), Some(123));
        assert_eq!(temp_pid(".a.tabula-x.tmp"), None);
        assert_eq!(temp_pid("a.tabula-1.tmp"), None);
        assert_eq!(temp_pid(".a.tabula-1-.tmp"), None);
        assert_eq!(temp_pid(".a.tabula.lock"), None);
    }

    #[test]
    fn a_stale_temp_is_removed_and_never_blocks_a_write() {
        let dir = tempfile::tempdir().unwrap();
        let me = std::process::id();
        // The names this process would take first, and a dead writer's.
        for n in 0..4 {
            fs::write(dir.path().join(format!(".f.tabula-{me}-{n}.tmp")), "old").unwrap();
        }
        fs::write(dir.path().join(".f.tabula-99999999.tmp"), "old").unwrap();
        fs::write(dir.path().join(".g.tabula-99999999.tmp"), "old").unwrap();
        let target = dir.path().join("f");
        write_atomic(&target, b"new", 0o644).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
        // write_atomic removed f's own stale temps, not g's.
        let mut left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, [".g.tabula-99999999.tmp", "f"]);
        let removed = remove_stale_temps(dir.path()).unwrap();
        assert_eq!(removed.len(), 1, "{removed:?}");
        let left: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1);
    }

    #[test]
    fn an_existing_temp_name_is_skipped_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let me = std::process::id();
        let next = COUNTER.load(Ordering::Relaxed);
        for n in next..next + 8 {
            fs::write(dir.path().join(format!(".h.tabula-{me}-{n}.tmp")), "x").unwrap();
        }
        let target = dir.path().join("h");
        stage(&target, b"new", Meta::Fresh { mode: 0o600 })
            .unwrap()
            .commit()
            .unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert_eq!(fs::metadata(&target).unwrap().mode() & 0o777, 0o600);
    }

    #[test]
    fn a_busy_lock_waits_then_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".lock");
        let held = Lock::acquire(&p, LOCK_TIMEOUT, &mut |_| {}).unwrap();
        let mut told = 0;
        let t = Instant::now();
        let e = Lock::acquire(&p, Duration::from_millis(200), &mut |_| told += 1).unwrap_err();
        assert!(t.elapsed() >= Duration::from_millis(200));
        assert_eq!(told, 1);
        assert!(e.to_string().contains(".lock"), "{e}");
        drop(held);
        Lock::acquire(&p, Duration::from_millis(200), &mut |_| {}).unwrap();
    }
}
