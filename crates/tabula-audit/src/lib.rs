//! # tabula-audit: what the next reboot would wipe
//!
//! On a tmpfs root everything written outside the persisted paths vanishes
//! at the next boot. This crate walks the root filesystem (never crossing
//! into another one) and classifies every entry with a [`Policy`] built from
//! the host spec: persisted by a mount, persisted by a persistence entry,
//! ephemeral by design, or **lost**. The lost entries come back grouped by
//! directory ([`Report`]), with the host.toml entries that would keep them
//! ([`suggest`]). [`orphans`] lists what the persistence root stores that no
//! entry claims any more.
//!
//! [`adopt`] reads the other way, for `tabula import --root`: a running or
//! mounted root (its mount table, persistence entries, users, crypttab)
//! into host.toml tables.
//!
//! Layout: [`policy`] (pure: spec or mount table -> rules), [`mountinfo`]
//! (pure parser), [`walk`] (the parallel walk), [`report`] (groups, sorting,
//! suggestions, text).

pub mod adopt;
pub mod mountinfo;
pub mod policy;
pub mod report;
pub mod walk;

use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use tabula_spec::HostSpec;

pub use policy::{Class, MountSource, Policy, PolicyError, Rule};
pub use report::{suggest, Group, Report, Suggestion, UserSuggestion};
pub use walk::{WalkError, WalkOptions, WalkProgress};

/// Where the mount table comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mounts {
    /// The live table when the root is `/`, else the spec.
    #[default]
    Auto,
    Spec,
    System,
}

/// Errors of an audit.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Walk(#[from] WalkError),
    #[error("opening {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("reading the mount table /proc/self/mountinfo: {0}")]
    Mountinfo(#[source] std::io::Error),
    #[error("the spec has no [persistence] table, so nothing can be orphaned")]
    NoPersistence,
}

fn open_dir(path: &Path) -> Result<OwnedFd, AuditError> {
    use rustix::fs::{Mode, OFlags};
    rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| AuditError::Open {
        path: path.to_owned(),
        source: e.into(),
    })
}

/// Build the audit policy for `root`.
///
/// # Errors
/// [`AuditError::Policy`] for a bad ignore pattern, [`AuditError::Mountinfo`]
/// when the live table is wanted but unreadable, [`AuditError::Open`] when
/// the root cannot be resolved.
pub fn policy_for(spec: &HostSpec, root: &Path, mounts: Mounts) -> Result<Policy, AuditError> {
    let canonical = std::fs::canonicalize(root).map_err(|e| AuditError::Open {
        path: root.to_owned(),
        source: e,
    })?;
    let etc_clean = std::fs::read_to_string(canonical.join("etc/.clean")).ok();
    let system = match mounts {
        Mounts::Auto => canonical == Path::new("/"),
        Mounts::Spec => false,
        Mounts::System => true,
    };
    if system {
        let table = tabula_run::mountinfo::read().map_err(AuditError::Mountinfo)?;
        Ok(Policy::from_mounts(
            spec,
            &table,
            canonical.as_os_str().as_bytes(),
            etc_clean.as_deref(),
        )?)
    } else {
        Ok(Policy::from_spec(spec, etc_clean.as_deref())?)
    }
}

/// Audit the tree at `root` (`/` on a live host): what would be lost.
///
/// # Errors
/// See [`policy_for`]; [`AuditError::Walk`] when the walk cannot start.
/// Everything found below the root (unreadable directories, vanished
/// files) is in the report, not an error.
pub fn audit(
    spec: &HostSpec,
    root: &Path,
    mounts: Mounts,
    opts: &WalkOptions,
) -> Result<Report, AuditError> {
    let policy = policy_for(spec, root, mounts)?;
    audit_with(&policy, root, opts)
}

/// Audit `root` with a ready policy.
///
/// # Errors
/// [`AuditError::Open`] when the root is not a readable directory,
/// [`AuditError::Walk`] when the walk cannot start.
pub fn audit_with(policy: &Policy, root: &Path, opts: &WalkOptions) -> Result<Report, AuditError> {
    let fd = open_dir(root)?;
    let result = walk::walk(fd, b"/", policy, opts)?;
    Ok(Report::new(report::Mode::Lost, root, "/", policy, result))
}

/// What the persistence root stores that no entry claims.
///
/// # Errors
/// [`AuditError::NoPersistence`] without a `[persistence]` table;
/// [`AuditError::Open`] when the persistence root is not under `root`.
pub fn orphans(spec: &HostSpec, root: &Path, opts: &WalkOptions) -> Result<Report, AuditError> {
    let policy = Policy::orphans(spec).ok_or(AuditError::NoPersistence)?;
    let pers = spec.persistence.as_ref().ok_or(AuditError::NoPersistence)?;
    let dir = root.join(pers.root.as_str().trim_start_matches('/'));
    let fd = open_dir(&dir)?;
    let base = pers.root.as_str();
    let result = walk::walk(fd, base.as_bytes(), &policy, opts)?;
    Ok(Report::new(
        report::Mode::Orphans,
        root,
        base,
        &policy,
        result,
    ))
}
