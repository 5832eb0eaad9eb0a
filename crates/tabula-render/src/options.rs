//! # NixOS option names per release
//!
//! The option paths that moved between the releases tabula supports, and
//! the list of every option path tabula renders (`options/<release>.txt`,
//! each line `path  declaring-file`), which a test checks the rendered
//! modules against.

use tabula_spec::model::Release;

/// Option paths whose name depends on the release.
#[derive(Debug, Clone, Copy)]
pub struct Names {
    pub release: Release,
    /// GNOME moved out of `services.xserver` in 25.11.
    pub gnome: &'static str,
    /// Whether nixpkgs has a `boot.loader.refind` module (added after
    /// 24.11; tabula only relies on it from 25.11).
    pub has_refind: bool,
}

impl Names {
    pub fn for_release(release: Release) -> Names {
        match release {
            Release::R2411 | Release::R2505 => Names {
                release,
                gnome: "services.xserver.desktopManager.gnome",
                has_refind: false,
            },
            Release::R2511 => Names {
                release,
                gnome: "services.desktopManager.gnome",
                has_refind: true,
            },
        }
    }
}

/// The listed option paths of a release (`<name>` matches any one
/// attribute), as kept in `options/<release>.txt`.
pub fn listed(release: Release) -> &'static str {
    match release {
        Release::R2411 => include_str!("../options/24.11.txt"),
        Release::R2505 => include_str!("../options/25.05.txt"),
        Release::R2511 => include_str!("../options/25.11.txt"),
    }
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
