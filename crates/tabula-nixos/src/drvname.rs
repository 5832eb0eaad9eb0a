//! # Store path names → package name, version and output
//!
//! The same rules as Nix itself, so that `tabula diff` groups a closure
//! exactly as `nix store diff-closures` does:
//! - an output suffix (`-bin`, `-man`, `-lib32`, ...) is split off first by
//!   Nix's regex `(.*)-([a-z]+|lib32|lib64)` (ambiguous by design: Nix cannot
//!   tell an output `-dev` from a version suffix `-unstable` either);
//! - `DrvName`: the version starts after the first `-` that is followed by
//!   something other than a letter (`hello-2.12` → `hello` / `2.12`,
//!   `nixos-system-host-24.11` → `nixos-system-host` / `24.11`);
//! - versions are ordered by Nix's `compareVersions`.

use std::cmp::Ordering;

/// A store path's name split into package name, version and output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrvName {
    pub name: String,
    /// Empty when the name has no version.
    pub version: String,
    /// Empty for the default output.
    pub output: String,
}

/// The name part of a store path: `/nix/store/<32 chars>-hello-2.12` →
/// `hello-2.12`. Anything else is returned as given, minus its directories.
pub fn store_path_name(path: &str) -> &str {
    let base = path.rsplit('/').next().unwrap_or(path);
    match base.split_once('-') {
        Some((hash, rest)) if hash.len() == 32 => rest,
        _ => base,
    }
}

/// Nix's output-name split: `glibc-2.39-bin` → (`glibc-2.39`, `bin`).
fn split_output(name: &str) -> (&str, &str) {
    if let Some((head, tail)) = name.rsplit_once('-') {
        let is_output = tail == "lib32"
            || tail == "lib64"
            || (!tail.is_empty() && tail.bytes().all(|b| b.is_ascii_lowercase()));
        if is_output && !head.is_empty() {
            return (head, tail);
        }
    }
    (name, "")
}

impl DrvName {
    /// Parse a store path or a bare name.
    pub fn parse(path_or_name: &str) -> DrvName {
        let (full, output) = split_output(store_path_name(path_or_name));
        let bytes = full.as_bytes();
        for i in 0..bytes.len() {
            if bytes[i] == b'-' && i + 1 < bytes.len() && !bytes[i + 1].is_ascii_alphabetic() {
                return DrvName {
                    name: full[..i].to_owned(),
                    version: full[i + 1..].to_owned(),
                    output: output.to_owned(),
                };
            }
        }
        DrvName {
            name: full.to_owned(),
            version: String::new(),
            output: output.to_owned(),
        }
    }
}

/// One component of a version: a run of digits or a run of other characters
/// (`.` and `-` separate components).
fn next_component(s: &str) -> (&str, &str) {
    let s = s.trim_start_matches(['.', '-']);
    let Some(first) = s.bytes().next() else {
        return ("", "");
    };
    let end = if first.is_ascii_digit() {
        s.bytes().position(|b| !b.is_ascii_digit())
    } else {
        s.bytes()
            .position(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
    }
    .unwrap_or(s.len());
    (&s[..end], &s[end..])
}

fn component_lt(c1: &str, c2: &str) -> bool {
    let n1 = c1.parse::<u64>().ok().filter(|_| !c1.is_empty());
    let n2 = c2.parse::<u64>().ok().filter(|_| !c2.is_empty());
    match (n1, n2) {
        (Some(a), Some(b)) => a < b,
        _ if c1.is_empty() && n2.is_some() => true,
        _ if c1 == "pre" && c2 != "pre" => true,
        _ if c2 == "pre" => false,
        // Nix assumes `2.3a` < `2.3.1`.
        (_, Some(_)) => true,
        (Some(_), _) => false,
        _ => c1 < c2,
    }
}

/// Nix's `compareVersions`: `1.10` > `1.9`, `2.3pre1` < `2.3`, `2.3a` < `2.3.1`.
pub fn compare_versions(v1: &str, v2: &str) -> Ordering {
    let (mut a, mut b) = (v1, v2);
    while !a.is_empty() || !b.is_empty() {
        let (c1, rest1) = next_component(a);
        let (c2, rest2) = next_component(b);
        if component_lt(c1, c2) {
            return Ordering::Less;
        }
        if component_lt(c2, c1) {
            return Ordering::Greater;
        }
        a = rest1;
        b = rest2;
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> (String, String, String) {
        let d = DrvName::parse(s);
        (d.name, d.version, d.output)
    }

    #[test]
    fn splits_like_nix() {
        let t = |a: &str, b: &str, c: &str| (a.to_owned(), b.to_owned(), c.to_owned());
        assert_eq!(
            p("/nix/store/cd4cdlb5wz8s2v3r164gr891x2yp5896-hello-2.12"),
            t("hello", "2.12", "")
        );
        assert_eq!(p("glibc-2.39-52-bin"), t("glibc", "2.39-52", "bin"));
        // A digit after a dash starts the version, even inside a host name:
        // Nix itself reads `surface-pro-8`'s system this way.
        assert_eq!(
            p("nixos-system-surface-pro-8-24.11.20241201.abc"),
            t("nixos-system-surface-pro", "8-24.11.20241201.abc", "")
        );
        assert_eq!(p("etc"), t("etc", "", ""));
        assert_eq!(
            p("perl5.38.2-Test-Simple-1.3"),
            t("perl5.38.2-Test-Simple", "1.3", "")
        );
        assert_eq!(
            p("unit-script-foo-start"),
            t("unit-script-foo", "", "start")
        );
        assert_eq!(p("python3.12-lib64"), t("python3.12", "", "lib64"));
        // `-_x`: Nix only asks for "not a letter", not "a digit".
        assert_eq!(p("foo-_x"), t("foo", "_x", ""));
    }

    #[test]
    fn orders_like_nix() {
        use Ordering::*;
        assert_eq!(compare_versions("1.10", "1.9"), Greater);
        assert_eq!(compare_versions("2.12", "2.10"), Greater);
        assert_eq!(compare_versions("8.8.0", "8.9.0"), Less);
        assert_eq!(compare_versions("2.3pre1", "2.3"), Less);
        assert_eq!(compare_versions("2.3a", "2.3.1"), Less);
        assert_eq!(compare_versions("2.3", "2.3"), Equal);
        assert_eq!(compare_versions("2.3", "2.3.0"), Less);
        assert_eq!(compare_versions("1.0-rc1", "1.0-rc2"), Less);
        assert_eq!(compare_versions("6.6.52", "6.6.50"), Greater);
    }
}
