//! # NixOS releases as data
//!
//! [`RELEASES`] is the one table of the releases tabula knows. Adding a
//! release is adding one entry here plus its option list
//! `crates/tabula-render/options/<release>.txt` (picked up by that crate's
//! build script); nothing else names a release. A [`Release`] keeps the
//! table it came from, so the option renames and additions of every
//! earlier entry apply to it (a test builds a table with one more entry).

use serde::Serialize;

/// One NixOS release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleaseInfo {
    /// "YY.MM".
    pub name: &'static str,
    /// The nixpkgs branch a flake follows.
    pub branch: &'static str,
    /// Year and month of the release ("YYYY-MM").
    pub released: &'static str,
    /// The end of security support (YYYY-MM-DD).
    pub end_of_life: &'static str,
    /// Whether NixOS announced that date (else it is the usual cadence:
    /// a release is supported seven months).
    pub eol_confirmed: bool,
    /// Option paths renamed from this release on: (old prefix, new prefix).
    pub renames: &'static [(&'static str, &'static str)],
    /// Option paths tabula relies on that exist from this release on.
    pub adds: &'static [&'static str],
}

/// The releases tabula knows, oldest first. Sources: the release notes
/// (`nixos/doc/manual/release-notes/rl-YYMM.section.md` in nixpkgs) and
/// the module files named in `options/<release>.txt`.
pub static RELEASES: &[ReleaseInfo] = &[
    ReleaseInfo {
        name: "24.11",
        branch: "nixos-24.11",
        released: "2024-11",
        end_of_life: "2025-06-30",
        eol_confirmed: true,
        renames: &[],
        adds: &[],
    },
    ReleaseInfo {
        name: "25.05",
        branch: "nixos-25.05",
        released: "2025-05",
        end_of_life: "2025-12-31",
        eol_confirmed: true,
        renames: &[],
        adds: &[],
    },
    ReleaseInfo {
        name: "25.11",
        branch: "nixos-25.11",
        released: "2025-11",
        end_of_life: "2026-06-30",
        eol_confirmed: true,
        // nixos/modules/services/desktop-managers/gnome.nix (moved from
        // services/x11/desktop-managers/gnome.nix).
        renames: &[(
            "services.xserver.desktopManager.gnome",
            "services.desktopManager.gnome",
        )],
        // nixos/modules/system/boot/loader/refind/refind.nix;
        // nixos/modules/virtualisation/waydroid.nix (`package`, which
        // defaults to waydroid-nftables when nftables is on).
        adds: &["boot.loader.refind", "virtualisation.waydroid.package"],
    },
    ReleaseInfo {
        name: "26.05",
        branch: "nixos-26.05",
        released: "2026-05",
        end_of_life: "2026-12-31",
        eol_confirmed: true,
        renames: &[],
        adds: &[],
    },
    ReleaseInfo {
        name: "26.11",
        branch: "nixos-26.11",
        released: "2026-11",
        // Not announced: the usual cadence (the .11 release is supported
        // until the end of June of the next year).
        end_of_life: "2027-06-30",
        eol_confirmed: false,
        renames: &[],
        adds: &[],
    },
];

/// A release of a table (by default [`RELEASES`]).
#[derive(Debug, Clone, Copy)]
pub struct Release {
    table: &'static [ReleaseInfo],
    idx: usize,
}

/// "YY.MM" as numbers, for ordering releases and state versions.
pub fn version_key(s: &str) -> Option<(u32, u32)> {
    let (y, m) = s.split_once('.')?;
    let ok = |p: &str| !p.is_empty() && p.len() <= 2 && p.bytes().all(|b| b.is_ascii_digit());
    if !ok(y) || !ok(m) {
        return None;
    }
    let m: u32 = m.parse().ok()?;
    if !(1..=12).contains(&m) {
        return None;
    }
    Some((y.parse().ok()?, m))
}

impl Release {
    /// A release tabula knows, by name.
    pub fn parse(s: &str) -> Option<Release> {
        Release::parse_in(RELEASES, s)
    }

    /// A release of `table`, by name.
    pub fn parse_in(table: &'static [ReleaseInfo], s: &str) -> Option<Release> {
        table
            .iter()
            .position(|r| r.name == s)
            .map(|idx| Release { table, idx })
    }

    /// Every release tabula knows, oldest first.
    pub fn all() -> Vec<Release> {
        Release::all_in(RELEASES)
    }

    pub fn all_in(table: &'static [ReleaseInfo]) -> Vec<Release> {
        (0..table.len()).map(|idx| Release { table, idx }).collect()
    }

    /// The oldest release tabula knows.
    pub fn oldest() -> Release {
        Release {
            table: RELEASES,
            idx: 0,
        }
    }

    /// The names of the releases of this release's table ("24.11, 25.05").
    pub fn known_list() -> String {
        RELEASES
            .iter()
            .map(|r| r.name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn info(self) -> &'static ReleaseInfo {
        &self.table[self.idx]
    }

    pub fn as_str(self) -> &'static str {
        self.info().name
    }

    /// The nixpkgs branch.
    pub fn branch(self) -> &'static str {
        self.info().branch
    }

    /// The end of security support (YYYY-MM-DD).
    pub fn end_of_life(self) -> &'static str {
        self.info().end_of_life
    }

    pub fn eol_confirmed(self) -> bool {
        self.info().eol_confirmed
    }

    /// The releases of the same table, oldest first.
    pub fn siblings(self) -> Vec<Release> {
        Release::all_in(self.table)
    }

    /// The newest release of the same table.
    pub fn newest(self) -> Release {
        Release {
            table: self.table,
            idx: self.table.len().saturating_sub(1),
        }
    }

    /// The option path `path` (as named in the oldest release) in this
    /// release: every rename of this and earlier releases applied.
    pub fn option(self, path: &str) -> String {
        let mut p = path.to_owned();
        for r in &self.table[..=self.idx] {
            for (old, new) in r.renames {
                if p == *old {
                    p = (*new).to_owned();
                } else if let Some(rest) = p.strip_prefix(&format!("{old}.")) {
                    p = format!("{new}.{rest}");
                }
            }
        }
        p
    }

    /// Whether this release has `path`, an option (prefix) added by a
    /// release of the table; paths no release adds exist in all.
    pub fn has(self, path: &str) -> bool {
        match self.table.iter().position(|r| r.adds.contains(&path)) {
            Some(added) => added <= self.idx,
            None => true,
        }
    }

    fn key(self) -> (u32, u32) {
        version_key(self.as_str()).unwrap_or((0, 0))
    }
}

impl PartialEq for Release {
    fn eq(&self, other: &Release) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Release {}

impl PartialOrd for Release {
    fn partial_cmp(&self, other: &Release) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Release {
    fn cmp(&self, other: &Release) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

impl std::hash::Hash for Release {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl Serialize for Release {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for Release {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[test]
    fn the_table_is_ordered_and_consistent() {
        for w in RELEASES.windows(2) {
            assert!(version_key(w[0].name).unwrap() < version_key(w[1].name).unwrap());
        }
        for r in RELEASES {
            assert_eq!(r.branch, format!("nixos-{}", r.name));
            assert!(
                crate::date::Date::parse(r.end_of_life).is_some(),
                "{}",
                r.name
            );
            assert!(r.released.starts_with(&format!("20{}-", &r.name[..2])));
        }
    }

    #[test]
    fn renames_apply_from_their_release_on() {
        let g = "services.xserver.desktopManager.gnome.enable";
        assert_eq!(Release::parse("25.05").unwrap().option(g), g);
        for r in ["25.11", "26.05", "26.11"] {
            assert_eq!(
                Release::parse(r).unwrap().option(g),
                "services.desktopManager.gnome.enable"
            );
        }
        assert!(!Release::parse("25.05").unwrap().has("boot.loader.refind"));
        assert!(Release::parse("26.11").unwrap().has("boot.loader.refind"));
        assert!(Release::parse("24.11").unwrap().has("boot.loader.grub"));
    }

    #[test]
    fn a_new_release_is_one_entry() {
        let mut t = RELEASES.to_vec();
        t.push(ReleaseInfo {
            name: "27.05",
            branch: "nixos-27.05",
            released: "2027-05",
            end_of_life: "2027-12-31",
            eol_confirmed: false,
            renames: &[("services.desktopManager.gnome", "services.gnome")],
            adds: &["services.gnome.extra"],
        });
        let t: &'static [ReleaseInfo] = Box::leak(t.into_boxed_slice());
        let r = Release::parse_in(t, "27.05").unwrap();
        assert_eq!(r.branch(), "nixos-27.05");
        assert_eq!(r.newest(), r);
        assert!(r > Release::parse_in(t, "26.11").unwrap());
        assert_eq!(
            r.option("services.xserver.desktopManager.gnome.enable"),
            "services.gnome.enable"
        );
        assert!(r.has("services.gnome.extra"));
        assert!(!Release::parse_in(t, "26.11")
            .unwrap()
            .has("services.gnome.extra"));
        assert!(Release::parse("27.05").is_none());
    }

    #[test]
    fn version_keys() {
        assert_eq!(version_key("24.11"), Some((24, 11)));
        assert_eq!(version_key("9.05"), Some((9, 5)));
        for bad in ["", "24", "24.13", "24.x", "2024.11", "24.11.1", " 24.11"] {
            assert_eq!(version_key(bad), None, "{bad}");
        }
    }
}
