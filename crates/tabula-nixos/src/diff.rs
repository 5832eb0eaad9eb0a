//! # What changed between two closures
//!
//! Pure: two closures in, a [`ClosureDiff`] out. Paths are grouped by package
//! name and version exactly as `nix store diff-closures` groups them (see
//! [`crate::drvname`]); a package is listed when a version was added or
//! removed, or when its size moved by at least 8 KiB (Nix's threshold).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::drvname::{compare_versions, DrvName};
use crate::store::PathInfo;

/// Nix shows a size change of a package from 8 KiB on.
pub const SIZE_THRESHOLD: i64 = 8 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Added,
    Removed,
    Upgraded,
    Downgraded,
    /// Several versions on a side, or versions Nix orders as equal.
    Changed,
    /// Same versions, different size (a rebuild).
    Resized,
}

impl Change {
    pub fn word(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Upgraded => "upgraded",
            Change::Downgraded => "downgraded",
            Change::Changed => "changed",
            Change::Resized => "resized",
        }
    }
}

/// One package whose versions or size differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageChange {
    pub name: String,
    pub change: Change,
    /// Versions only in the old closure (`""` is a path without version).
    pub removed_versions: Vec<String>,
    /// Versions only in the new closure.
    pub added_versions: Vec<String>,
    /// Bytes (NAR size) of all its paths: new minus old.
    pub size_delta: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClosureDiff {
    pub packages: Vec<PackageChange>,
    pub old_paths: usize,
    pub new_paths: usize,
    pub old_size: u64,
    pub new_size: u64,
    pub size_delta: i64,
}

impl ClosureDiff {
    pub fn count(&self, c: Change) -> usize {
        self.packages.iter().filter(|p| p.change == c).count()
    }
}

/// name → version → total size of its paths.
type Grouped = BTreeMap<String, BTreeMap<String, u64>>;

fn group(closure: &[PathInfo]) -> Grouped {
    let mut g = Grouped::new();
    for p in closure {
        let d = DrvName::parse(&p.path);
        *g.entry(d.name).or_default().entry(d.version).or_default() += p.nar_size;
    }
    g
}

fn signed(a: u64, b: u64) -> i64 {
    i64::try_from(b).unwrap_or(i64::MAX) - i64::try_from(a).unwrap_or(i64::MAX)
}

/// Compare two closures (each a list of distinct paths with sizes).
pub fn diff(old: &[PathInfo], new: &[PathInfo]) -> ClosureDiff {
    let (a, b) = (group(old), group(new));
    let empty = BTreeMap::new();
    let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let mut packages = Vec::new();
    for name in names {
        let va = a.get(name).unwrap_or(&empty);
        let vb = b.get(name).unwrap_or(&empty);
        let removed: Vec<String> = va
            .keys()
            .filter(|v| !vb.contains_key(*v))
            .cloned()
            .collect();
        let added: Vec<String> = vb
            .keys()
            .filter(|v| !va.contains_key(*v))
            .cloned()
            .collect();
        let size_delta = signed(va.values().sum(), vb.values().sum());
        let change = if va.is_empty() {
            Change::Added
        } else if vb.is_empty() {
            Change::Removed
        } else if removed.is_empty() && added.is_empty() {
            if size_delta.abs() < SIZE_THRESHOLD {
                continue;
            }
            Change::Resized
        } else if removed.len() == 1 && added.len() == 1 {
            match compare_versions(&removed[0], &added[0]) {
                Ordering::Less => Change::Upgraded,
                Ordering::Greater => Change::Downgraded,
                Ordering::Equal => Change::Changed,
            }
        } else {
            Change::Changed
        };
        packages.push(PackageChange {
            name: name.clone(),
            change,
            removed_versions: removed,
            added_versions: added,
            size_delta,
        });
    }
    let old_size = old.iter().map(|p| p.nar_size).sum();
    let new_size = new.iter().map(|p| p.nar_size).sum();
    ClosureDiff {
        packages,
        old_paths: old.len(),
        new_paths: new.len(),
        old_size,
        new_size,
        size_delta: signed(old_size, new_size),
    }
}

/// The versions as Nix prints them: `∅` for none, `ε` for an empty version.
pub fn show_versions(v: &[String]) -> String {
    if v.is_empty() {
        return "∅".into();
    }
    let set: BTreeSet<&str> = v
        .iter()
        .map(|s| if s.is_empty() { "ε" } else { s.as_str() })
        .collect();
    set.into_iter().collect::<Vec<_>>().join(", ")
}

/// The line `nix store diff-closures` prints for this package (without
/// colour): `hello: 2.10 → 2.12, +1.2 KiB`.
pub fn nix_line(p: &PackageChange) -> String {
    let mut items = Vec::new();
    if !p.removed_versions.is_empty() || !p.added_versions.is_empty() {
        items.push(format!(
            "{} → {}",
            show_versions(&p.removed_versions),
            show_versions(&p.added_versions)
        ));
    }
    if p.size_delta.abs() >= SIZE_THRESHOLD {
        // Nix formats with printf's `%+.1f`.
        #[allow(clippy::cast_precision_loss)]
        items.push(format!("{:+.1} KiB", p.size_delta as f64 / 1024.0));
    }
    format!("{}: {}", p.name, items.join(", "))
}

/// Bytes for people: `1.5 GiB`, `-12.0 KiB` (the workspace's one formatter).
pub use tabula_spec::size::human_signed as human;

#[cfg(test)]
mod tests {
    use super::*;

    fn pi(name: &str, size: u64) -> PathInfo {
        PathInfo {
            path: format!("/nix/store/{}-{name}", "a".repeat(32)),
            nar_size: size,
        }
    }

    #[test]
    fn classifies_every_kind_of_change() {
        let old = [
            pi("hello-2.10", 100),
            pi("curl-8.9.0", 100),
            pi("gone-1.0", 50),
            pi("zlib-1.3", 10),
            pi("fw-2024", 1000),
            pi("glibc-2.39", 10),
            pi("glibc-2.39-bin", 10),
        ];
        let new = [
            pi("hello-2.12", 120),
            pi("curl-8.8.0", 90),
            pi("fresh-0.5", 7),
            pi("zlib-1.3", 10),
            pi("fw-2024", 1000 + 9000),
            pi("glibc-2.39", 10),
            pi("glibc-2.39-bin", 10),
        ];
        let d = diff(&old, &new);
        let got: Vec<(String, Change, String)> = d
            .packages
            .iter()
            .map(|p| (p.name.clone(), p.change, nix_line(p)))
            .collect();
        let want = [
            ("curl", Change::Downgraded, "curl: 8.9.0 → 8.8.0"),
            ("fresh", Change::Added, "fresh: ∅ → 0.5"),
            ("fw", Change::Resized, "fw: +8.8 KiB"),
            ("gone", Change::Removed, "gone: 1.0 → ∅"),
            ("hello", Change::Upgraded, "hello: 2.10 → 2.12"),
        ];
        let want: Vec<(String, Change, String)> = want
            .iter()
            .map(|(a, b, c)| (a.to_string(), *b, c.to_string()))
            .collect();
        assert_eq!(got, want);
        assert_eq!(d.old_size, 1280);
        assert_eq!(d.new_size, 10247);
        assert_eq!(d.size_delta, 10247 - 1280);
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(-1536), "-1.5 KiB");
        assert_eq!(human(3 << 30), "3.0 GiB");
    }
}
