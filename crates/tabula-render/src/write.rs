//! # The atomic writer: the only part of tabula-render that touches disk
//!
//! A render is written as one unit, through [`tabula_run::atomic`]:
//!
//! 1. every path is checked and every content is already computed;
//! 2. an exclusive lock on `DIR/.tabula.lock` is taken: a second render into
//!    the same directory waits for the first (up to
//!    [`tabula_run::atomic::LOCK_TIMEOUT`], telling the caller through
//!    `on_wait`), so two renders never mix their files;
//! 3. temporary files that killed writers left (`.NAME.tabula-PID[-N].tmp`,
//!    PID no longer alive) are removed from every directory written to;
//! 4. every file that changes is staged: written to a temporary file beside
//!    it and synced. A failure here removes the staged files and leaves the
//!    directory exactly as it was;
//! 5. only then is each staged file renamed over its target (the files in
//!    the order given, so the spec, pushed last by `tabula render`, lands
//!    last), and each directory synced once.
//!
//! A reader sees the old file or the new one, never half of one. A file
//! whose content is already what would be written is not touched (its mtime
//! is kept); a create-once file that exists is kept whatever it holds.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use tabula_run::atomic::{self, AtomicError, Lock, Meta, Staged};

use crate::{OutFile, Policy};

/// The lock file a render takes in its output directory.
pub const LOCK_NAME: &str = ".tabula.lock";

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    /// Created or replaced.
    Written,
    /// Already had this content: not touched.
    Unchanged,
    /// A create-once file that exists: kept as the user left it.
    Kept,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileReport {
    pub path: String,
    /// What happened to it; `state` in JSON, as in every command's output.
    #[serde(rename = "state")]
    pub status: FileStatus,
}

/// Every file, in the order given, with what happened to it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WriteReport {
    pub files: Vec<FileReport>,
    /// Temporary files of killed writers that were removed first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stale_removed: Vec<PathBuf>,
}

impl WriteReport {
    pub fn count(&self, status: FileStatus) -> usize {
        self.files.iter().filter(|f| f.status == status).count()
    }

    pub fn paths(&self, status: FileStatus) -> Vec<&str> {
        self.files
            .iter()
            .filter(|f| f.status == status)
            .map(|f| f.path.as_str())
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("`{0}` is not a normal relative path inside the output directory")]
    BadPath(String),
    #[error("{what} {}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Atomic(#[from] AtomicError),
    #[error("{done} of {total} changed files were renamed into place before this failure; the others are as they were: run the command again")]
    Partial {
        done: usize,
        total: usize,
        #[source]
        source: AtomicError,
    },
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> WriteError + 'a {
    move |source| WriteError::Io {
        what,
        path: path.to_owned(),
        source,
    }
}

/// Refuse absolute paths, `..`, `.` and empty components.
fn relative(path: &str) -> Result<&Path, WriteError> {
    let p = Path::new(path);
    let ok = !path.is_empty()
        && !path.contains('\0')
        && p.components().all(|c| matches!(c, Component::Normal(_)))
        && !path.ends_with('/')
        && !path.contains("//");
    if ok {
        Ok(p)
    } else {
        Err(WriteError::BadPath(path.to_owned()))
    }
}

/// Write `files` under `dir` (created if missing), waiting up to
/// [`atomic::LOCK_TIMEOUT`] for another writer of `dir`.
///
/// # Errors
/// See [`write_files_with`].
pub fn write_files(dir: &Path, files: &[OutFile]) -> Result<WriteReport, WriteError> {
    write_files_with(dir, files, atomic::LOCK_TIMEOUT, &mut |_| {})
}

/// Write `files` under `dir` as one unit (see the module's steps), waiting
/// up to `timeout` for the lock; `on_wait` is called once with the lock
/// file's path if another writer holds it.
///
/// # Errors
/// [`WriteError::BadPath`] for a path that would leave `dir` (checked for
/// every file before the first write), [`WriteError::Io`] or
/// [`WriteError::Atomic`] naming the file when creating, writing or syncing
/// fails (nothing is then changed), or the lock when another writer holds it
/// too long; [`WriteError::Partial`] when a rename fails after others
/// succeeded.
pub fn write_files_with(
    dir: &Path,
    files: &[OutFile],
    timeout: Duration,
    on_wait: &mut dyn FnMut(&Path),
) -> Result<WriteReport, WriteError> {
    let mut targets = Vec::with_capacity(files.len());
    for f in files {
        targets.push(dir.join(relative(&f.path)?));
    }
    fs::create_dir_all(dir).map_err(io_err("creating the directory", dir))?;
    let _lock = Lock::acquire(&dir.join(LOCK_NAME), timeout, on_wait)?;

    let mut dirs = BTreeSet::new();
    dirs.insert(dir.to_owned());
    for t in &targets {
        let mut d = t.parent();
        while let Some(p) = d {
            if !p.starts_with(dir) || !dirs.insert(p.to_owned()) {
                break;
            }
            d = p.parent();
        }
    }
    let mut report = WriteReport::default();
    for d in &dirs {
        report.stale_removed.extend(atomic::remove_stale_temps(d)?);
    }

    // Decide every file's fate before the first write.
    let mut statuses = Vec::with_capacity(files.len());
    for (f, target) in files.iter().zip(&targets) {
        statuses.push(status_of(target, f)?);
    }
    // Stage every change: a failure drops the staged files, changing nothing.
    let mut staged: Vec<Staged> = Vec::new();
    for ((f, target), status) in files.iter().zip(&targets).zip(&statuses) {
        if *status != FileStatus::Written {
            continue;
        }
        let parent = target.parent().unwrap_or(dir);
        fs::create_dir_all(parent).map_err(io_err("creating the directory", parent))?;
        staged.push(atomic::stage(
            target,
            f.contents.as_bytes(),
            Meta::KeepOr { mode: 0o644 },
        )?);
    }
    let total = staged.len();
    let mut synced = BTreeSet::new();
    for (done, s) in staged.into_iter().enumerate() {
        let parent = s.target().parent().unwrap_or(dir).to_owned();
        s.rename().map_err(|source| WriteError::Partial {
            done,
            total,
            source,
        })?;
        synced.insert(parent);
    }
    for d in &synced {
        atomic::sync_dir(d)?;
    }
    for (f, status) in files.iter().zip(statuses) {
        report.files.push(FileReport {
            path: f.path.clone(),
            status,
        });
    }
    Ok(report)
}

fn status_of(target: &Path, f: &OutFile) -> Result<FileStatus, WriteError> {
    match fs::symlink_metadata(target) {
        Ok(_) if f.policy == Policy::CreateOnce => Ok(FileStatus::Kept),
        Ok(meta) if meta.is_dir() => Err(WriteError::Io {
            what: "a directory stands where a file is to be written:",
            path: target.to_owned(),
            source: io::Error::new(io::ErrorKind::AlreadyExists, "is a directory"),
        }),
        Ok(meta) if meta.is_file() => {
            let old = fs::read(target).map_err(io_err("reading", target))?;
            if old == f.contents.as_bytes() {
                Ok(FileStatus::Unchanged)
            } else {
                Ok(FileStatus::Written)
            }
        }
        // A link or special file is replaced by the file (never written through).
        Ok(_) => Ok(FileStatus::Written),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(FileStatus::Written),
        // A parent that is a file: staging names it.
        Err(e) if e.raw_os_error() == Some(20) => Ok(FileStatus::Written),
        Err(e) => Err(io_err("inspecting", target)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_then_leaves_unchanged_files_alone() {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![
            OutFile::generated("a/b.nix", "one\n"),
            OutFile::create_once("a/custom.nix", "{ }\n"),
        ];
        let r = write_files(dir.path(), &files).unwrap();
        assert_eq!(r.count(FileStatus::Written), 2);
        let target = dir.path().join("a/b.nix");
        let m1 = fs::metadata(&target).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(dir.path().join("a/custom.nix"), "# mine\n").unwrap();
        let r = write_files(dir.path(), &files).unwrap();
        assert_eq!(r.paths(FileStatus::Unchanged), vec!["a/b.nix"]);
        assert_eq!(r.paths(FileStatus::Kept), vec!["a/custom.nix"]);
        assert_eq!(fs::metadata(&target).unwrap().modified().unwrap(), m1);
        assert_eq!(
            fs::read_to_string(dir.path().join("a/custom.nix")).unwrap(),
            "# mine\n"
        );
        let changed = vec![OutFile::generated("a/b.nix", "two\n")];
        let r = write_files(dir.path(), &changed).unwrap();
        assert_eq!(r.paths(FileStatus::Written), vec!["a/b.nix"]);
        assert_eq!(fs::read_to_string(&target).unwrap(), "two\n");
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(dir.path().join("a"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
    }

    #[test]
    fn a_failure_half_way_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let a = vec![OutFile::generated("a.nix", "spec A\n")];
        write_files(dir.path(), &a).unwrap();
        fs::write(dir.path().join("blocker"), "").unwrap();
        // a.nix would be staged first; the second file cannot be: nothing lands.
        let b = vec![
            OutFile::generated("a.nix", "spec B\n"),
            OutFile::generated("blocker/x.nix", "x"),
        ];
        write_files(dir.path(), &b).unwrap_err();
        assert_eq!(
            fs::read_to_string(dir.path().join("a.nix")).unwrap(),
            "spec A\n"
        );
        let mut names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, [".tabula.lock", "a.nix", "blocker"]);
    }

    #[test]
    fn refuses_paths_that_leave_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["../x", "/etc/passwd", "a/../../x", "", "a//b", "./a"] {
            let r = write_files(dir.path(), &[OutFile::generated(bad, "x")]);
            assert!(matches!(r, Err(WriteError::BadPath(_))), "{bad:?}");
        }
    }

    #[test]
    fn names_the_file_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("blocker"), "").unwrap();
        let err = write_files(dir.path(), &[OutFile::generated("blocker/x.nix", "x")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("blocker"), "{err}");
    }
}
