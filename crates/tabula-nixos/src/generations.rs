//! # System generations
//!
//! A generation is a symlink `<profile>-<N>-link` next to the profile (the
//! profile itself links to the current one). What each holds is read from
//! the system's toplevel: `nixos-version`, the kernel (its modules directory
//! `kernel-modules/lib/modules/<version>`, else the version in the name of the
//! store path `kernel` points into); the date is the link's own mtime, as
//! `nix-env --list-generations` shows it.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::drvname::DrvName;
use crate::store::{Store, StoreError};

pub const DEFAULT_PROFILE: &str = "/nix/var/nix/profiles/system";
pub const BOOTED_SYSTEM: &str = "/run/booted-system";
pub const CURRENT_SYSTEM: &str = "/run/current-system";

#[derive(Debug, thiserror::Error)]
pub enum GenError {
    #[error("reading the profile directory {dir}")]
    ReadDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no generations of {profile} found (is this a NixOS system? try --profile)")]
    NoGenerations { profile: PathBuf },
    #[error("generation {number} of {profile} does not exist (see `tabula generations`)")]
    NoSuchGeneration { number: u64, profile: PathBuf },
    #[error("{what} does not resolve to a store path")]
    Unresolvable {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One system generation.
#[derive(Debug, Clone, Serialize)]
pub struct Generation {
    pub number: u64,
    pub path: String,
    /// Seconds since the epoch (the link's mtime).
    pub created: i64,
    /// `YYYY-MM-DD HH:MM:SS` in UTC.
    pub date: String,
    pub nixos_version: Option<String>,
    pub kernel: Option<String>,
    /// NAR size of the whole closure, when the store could tell.
    pub closure_size: Option<u64>,
    pub current: bool,
    pub booted: bool,
}

/// The profile's generation links, numbered, oldest first.
///
/// # Errors
/// [`GenError::ReadDir`] when the profile's directory cannot be read.
pub fn links(profile: &Path) -> Result<Vec<(u64, PathBuf)>, GenError> {
    let dir = profile.parent().unwrap_or(Path::new("/"));
    let base = profile
        .file_name()
        .map(|b| b.to_string_lossy().into_owned())
        .unwrap_or_default();
    let rd = std::fs::read_dir(dir).map_err(|source| GenError::ReadDir {
        dir: dir.to_owned(),
        source,
    })?;
    let mut out: Vec<(u64, PathBuf)> = rd
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let n = name
                .strip_prefix(&base)?
                .strip_prefix('-')?
                .strip_suffix("-link")?
                .parse()
                .ok()?;
            Some((n, e.path()))
        })
        .collect();
    out.sort();
    Ok(out)
}

/// List the generations of `profile`, marking the one the profile points to
/// and the one `booted` (normally /run/booted-system) resolves to. Closure
/// sizes come from `store` when given.
///
/// # Errors
/// [`GenError::NoGenerations`] when there is none; reading errors.
pub fn list(
    profile: &Path,
    booted: &Path,
    store: Option<&Store>,
) -> Result<Vec<Generation>, GenError> {
    let links = links(profile)?;
    if links.is_empty() {
        return Err(GenError::NoGenerations {
            profile: profile.to_owned(),
        });
    }
    let current = std::fs::read_link(profile)
        .ok()
        .and_then(|t| t.file_name().map(|n| n.to_owned()));
    let booted = std::fs::canonicalize(booted).ok();
    let mut out = Vec::with_capacity(links.len());
    for (number, link) in links {
        let Ok(target) = std::fs::canonicalize(&link) else {
            tracing::warn!("{} points nowhere: skipped", link.display());
            continue;
        };
        let created = std::fs::symlink_metadata(&link)
            .map(|m| {
                use std::os::unix::fs::MetadataExt;
                m.mtime()
            })
            .unwrap_or(0);
        let path = target.to_string_lossy().into_owned();
        let closure_size = store.and_then(|s| match s.closure_size(&path) {
            Ok(n) => Some(n),
            Err(e) => {
                tracing::warn!("closure size of generation {number}: {e}");
                None
            }
        });
        out.push(Generation {
            number,
            created,
            date: utc_date(created),
            nixos_version: std::fs::read_to_string(target.join("nixos-version"))
                .ok()
                .map(|s| s.trim().to_owned()),
            kernel: kernel_version(&target),
            closure_size,
            current: current.as_deref() == link.file_name(),
            booted: booted.as_deref() == Some(target.as_path()),
            path,
        });
    }
    Ok(out)
}

/// The kernel version of a system toplevel.
pub fn kernel_version(toplevel: &Path) -> Option<String> {
    if let Ok(rd) = std::fs::read_dir(toplevel.join("kernel-modules/lib/modules")) {
        let mut names: Vec<String> = rd
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        if let Some(n) = names.pop() {
            return Some(n);
        }
    }
    let k = std::fs::canonicalize(toplevel.join("kernel")).ok()?;
    let pkg = store_path_of(&k)?;
    let v = DrvName::parse(&pkg).version;
    (!v.is_empty()).then_some(v)
}

/// The top store path holding `p` (`/nix/store/xxx-foo/bin/x` →
/// `/nix/store/xxx-foo`).
pub fn store_path_of(p: &Path) -> Option<String> {
    let s = p.to_str()?;
    let rest = s.strip_prefix("/nix/store/")?;
    let top = rest.split('/').next()?;
    (!top.is_empty()).then(|| format!("/nix/store/{top}"))
}

/// The generation before the profile's current one (what a rollback
/// returns to), from the profile's symlinks.
pub fn previous(profile: &Path) -> Option<PathBuf> {
    let links = links(profile).ok()?;
    let current = std::fs::read_link(profile).ok()?;
    let name = current.file_name()?;
    let at = links
        .iter()
        .position(|(_, l)| l.file_name() == Some(name))?;
    at.checked_sub(1).map(|i| links[i].1.clone())
}

/// What a user may name a system by: a generation number, `current`,
/// `booted`, or a path (a store path, /run/current-system, ./result).
///
/// # Errors
/// [`GenError::NoSuchGeneration`] for an unknown number,
/// [`GenError::Unresolvable`] for a path that does not lead into the store.
pub fn resolve(what: &str, profile: &Path, booted: &Path) -> Result<String, GenError> {
    let link: PathBuf = if let Ok(n) = what.parse::<u64>() {
        let found = links(profile)?.into_iter().find(|(k, _)| *k == n);
        match found {
            Some((_, l)) => l,
            None => {
                return Err(GenError::NoSuchGeneration {
                    number: n,
                    profile: profile.to_owned(),
                })
            }
        }
    } else if what == "current" {
        profile.to_owned()
    } else if what == "booted" {
        booted.to_owned()
    } else {
        PathBuf::from(what)
    };
    let target = std::fs::canonicalize(&link).map_err(|source| GenError::Unresolvable {
        what: what.to_owned(),
        source,
    })?;
    store_path_of(&target).ok_or_else(|| GenError::Unresolvable {
        what: what.to_owned(),
        source: std::io::Error::other(format!("{} is not under /nix/store", target.display())),
    })
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) for seconds since the epoch.
pub fn utc_date(secs: i64) -> String {
    tabula_spec::date::format_utc(secs, ' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_utc() {
        assert_eq!(utc_date(0), "1970-01-01 00:00:00");
        assert_eq!(utc_date(1_732_553_253), "2024-11-25 16:47:33");
        assert_eq!(utc_date(951_782_400), "2000-02-29 00:00:00");
    }

    #[test]
    fn store_path_of_subpaths() {
        assert_eq!(
            store_path_of(Path::new("/nix/store/abc-linux-6.6/bzImage")).as_deref(),
            Some("/nix/store/abc-linux-6.6")
        );
        assert_eq!(store_path_of(Path::new("/etc/x")), None);
    }

    #[test]
    fn links_are_numbered_and_sorted() {
        let d = tempfile::tempdir().unwrap();
        for n in [10, 2, 1] {
            std::os::unix::fs::symlink("/nowhere", d.path().join(format!("system-{n}-link")))
                .unwrap();
        }
        std::os::unix::fs::symlink("/nowhere", d.path().join("other-3-link")).unwrap();
        let l = links(&d.path().join("system")).unwrap();
        assert_eq!(l.iter().map(|x| x.0).collect::<Vec<_>>(), [1, 2, 10]);
    }
}
