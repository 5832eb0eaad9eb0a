//! # NixOS option names per release
//!
//! The option paths that moved between the releases tabula supports, and
//! the list of every option path tabula renders (`options/<release>.txt`,
//! each line `path  declaring-file`), which a test checks the rendered
//! modules against.

use tabula_spec::model::Release;

include!(concat!(env!("OUT_DIR"), "/listings.rs"));

/// Option paths whose name depends on the release, from the release
/// table of tabula-spec (`tabula_spec::release::RELEASES`).
#[derive(Debug, Clone)]
pub struct Names {
    pub release: Release,
    /// GNOME moved out of `services.xserver` in 25.11.
    pub gnome: String,
    /// Whether nixpkgs has a `boot.loader.refind` module (added after
    /// 24.11; tabula only relies on it from 25.11).
    pub has_refind: bool,
    /// Whether `virtualisation.waydroid.package` exists (25.11 on).
    pub has_waydroid_package: bool,
}

impl Names {
    pub fn for_release(release: Release) -> Names {
        Names {
            release,
            gnome: release.option("services.xserver.desktopManager.gnome"),
            has_refind: release.has("boot.loader.refind"),
            has_waydroid_package: release.has("virtualisation.waydroid.package"),
        }
    }
}

/// The listed option paths of a release (`<name>` matches any one
/// attribute), as kept in `options/<release>.txt`; `None` for a release
/// without a list (a test requires one for every known release).
pub fn listed(release: Release) -> Option<&'static str> {
    LISTINGS
        .iter()
        .find(|(n, _)| *n == release.as_str())
        .map(|(_, t)| *t)
}

/// Parse a listing: each non-comment line is `path  file`.
pub fn parse_listing(text: &str) -> Vec<(Vec<String>, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let path = it.next()?;
            let file = it.next().unwrap_or("").to_owned();
            Some((split_option_path(path), file))
        })
        .collect()
}

/// `fileSystems.<name>.options` -> components; a quoted component
/// (`"distrobox/distrobox.ini"`) keeps its dots.
pub fn split_option_path(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in path.chars() {
        match c {
            '"' => quoted = !quoted,
            '.' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Whether `path` is one of `listing` (`<name>` matching any component).
pub fn is_listed(listing: &[(Vec<String>, String)], path: &[String]) -> bool {
    listing.iter().any(|(pat, _)| {
        pat.len() == path.len() && pat.iter().zip(path).all(|(p, c)| p == "<name>" || p == c)
    })
}
