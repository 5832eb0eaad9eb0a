//! # The atomic writer: the only part of tabula-render that touches disk
//!
//! Each file is written to a temporary file in its own directory, synced,
//! then renamed over the target, and the directory is synced: a reader sees
//! the old file or the new one, never half of one. A file whose content is
//! already what would be written is not touched (its mtime is kept); a
//! create-once file that exists is kept whatever it holds.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use crate::{OutFile, Policy};

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
    pub status: FileStatus,
}

/// Every file, in the order given, with what happened to it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WriteReport {
    pub files: Vec<FileReport>,
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

/// Write `files` under `dir` (created if missing).
///
/// # Errors
/// [`WriteError::BadPath`] for a path that would leave `dir` (checked for
/// every file before the first write), [`WriteError::Io`] naming the file
/// when creating, writing, syncing or renaming fails.
pub fn write_files(dir: &Path, files: &[OutFile]) -> Result<WriteReport, WriteError> {
    for f in files {
        relative(&f.path)?;
    }
    fs::create_dir_all(dir).map_err(io_err("creating the directory", dir))?;
    let mut report = WriteReport::default();
    for f in files {
        let target = dir.join(relative(&f.path)?);
        let status = write_one(&target, f)?;
        report.files.push(FileReport {
            path: f.path.clone(),
            status,
        });
    }
    Ok(report)
}

fn write_one(target: &Path, f: &OutFile) -> Result<FileStatus, WriteError> {
    match fs::symlink_metadata(target) {
        Ok(_) if f.policy == Policy::CreateOnce => return Ok(FileStatus::Kept),
        Ok(meta) if meta.is_file() => {
            let old = fs::read(target).map_err(io_err("reading", target))?;
            if old == f.contents.as_bytes() {
                return Ok(FileStatus::Unchanged);
            }
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("inspecting", target)(e)),
    }
    let parent = target.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(io_err("creating the directory", parent))?;
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = parent.join(format!(".{name}.tabula-{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)
            .map_err(io_err("creating the temporary file", &tmp))?;
        file.write_all(f.contents.as_bytes())
            .map_err(io_err("writing", &tmp))?;
        file.sync_all().map_err(io_err("syncing", &tmp))?;
        fs::rename(&tmp, target).map_err(io_err("renaming into place", target))?;
        // The rename is durable once the directory entry is synced.
        File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(io_err("syncing the directory", parent))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map(|()| FileStatus::Written)
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
