//! # Absolute, normal paths
//!
//! Mount points and persisted paths are compared as strings all over tabula,
//! so they must have one spelling: absolute, no `.` or `..` components, no
//! `//`, no trailing slash, no NUL and no newline.

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct AbsPath(String);

impl AbsPath {
    /// The root directory, `/`.
    pub fn root() -> AbsPath {
        AbsPath("/".to_owned())
    }

    /// # Errors
    /// Says what is wrong and how to write it.
    pub fn parse(text: &str) -> Result<AbsPath, String> {
        check_chars(text)?;
        if !text.starts_with('/') {
            return Err(format!(
                "`{text}` is relative; write an absolute path such as `/{text}`"
            ));
        }
        if text == "/" {
            return Ok(AbsPath(text.to_owned()));
        }
        if text.ends_with('/') {
            return Err(format!(
                "`{text}` ends with `/`; write `{}`",
                text.trim_end_matches('/')
            ));
        }
        for comp in text[1..].split('/') {
            match comp {
                "" => {
                    return Err(format!(
                        "`{text}` contains `//`; write `{}`",
                        normalise(text)
                    ))
                }
                "." | ".." => {
                    return Err(format!(
                        "`{text}` contains `{comp}`; write the path without it"
                    ))
                }
                _ => {}
            }
        }
        Ok(AbsPath(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `self` is `other` or lies below it (`/var/lib/x` under `/var/lib`).
    pub fn is_under(&self, other: &AbsPath) -> bool {
        other.0 == "/"
            || self.0 == other.0
            || (self.0.starts_with(&other.0) && self.0.as_bytes().get(other.0.len()) == Some(&b'/'))
    }

    /// The parent directory (`/` for a top-level path; `None` for `/`).
    pub fn parent(&self) -> Option<AbsPath> {
        if self.0 == "/" {
            return None;
        }
        let cut = self.0.rfind('/').unwrap_or(0);
        Some(AbsPath(if cut == 0 {
            "/".into()
        } else {
            self.0[..cut].into()
        }))
    }

    /// `self` joined with a normal relative path.
    pub fn join(&self, rel: &RelPath) -> AbsPath {
        if self.0 == "/" {
            AbsPath(format!("/{}", rel.0))
        } else {
            AbsPath(format!("{}/{}", self.0, rel.0))
        }
    }

    /// Number of components (`/` is 0, `/var/lib` is 2): mount order.
    pub fn depth(&self) -> usize {
        if self.0 == "/" {
            0
        } else {
            self.0.matches('/').count()
        }
    }
}

impl fmt::Display for AbsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A normal relative path (a per-user entry such as `.local/share/fish`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct RelPath(String);

impl RelPath {
    /// A stand-in used only while collecting problems (never in a built spec).
    pub(crate) fn placeholder() -> RelPath {
        RelPath("invalid".to_owned())
    }

    /// # Errors
    /// Says what is wrong and how to write it.
    pub fn parse(text: &str) -> Result<RelPath, String> {
        check_chars(text)?;
        if text.starts_with('/') {
            return Err(format!(
                "`{text}` is absolute; per-user entries are relative to the home directory (write `{}`)",
                text.trim_start_matches('/')
            ));
        }
        if text.is_empty() {
            return Err("the path is empty".into());
        }
        for comp in text.split('/') {
            match comp {
                "" => return Err(format!("`{text}` contains `//` or ends with `/`")),
                "." | ".." => return Err(format!("`{text}` contains `{comp}`")),
                _ => {}
            }
        }
        Ok(RelPath(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn check_chars(text: &str) -> Result<(), String> {
    if text.contains('\0') {
        return Err("the path contains a NUL byte, which no path can hold".into());
    }
    if text.contains('\n') || text.contains('\r') {
        return Err(format!(
            "`{}` contains a line break, which tabula refuses in paths",
            text.escape_debug()
        ));
    }
    Ok(())
}

fn normalise(text: &str) -> String {
    let parts: Vec<&str> = text.split('/').filter(|c| !c.is_empty()).collect();
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_normal_paths() {
        for p in ["/", "/nix", "/var/lib/containers"] {
            assert!(AbsPath::parse(p).is_ok(), "{p}");
        }
    }

    #[test]
    fn refuses_non_normal_paths() {
        for p in [
            "nix",
            "/var//lib",
            "/var/lib/",
            "/var/../etc",
            "/./x",
            "/a\nb",
            "/a\0b",
        ] {
            assert!(AbsPath::parse(p).is_err(), "{p:?}");
        }
    }

    #[test]
    fn under_compares_components() {
        let p = |s| AbsPath::parse(s).expect("valid");
        assert!(p("/var/lib/nixos").is_under(&p("/var/lib")));
        assert!(p("/var/lib").is_under(&p("/var/lib")));
        assert!(!p("/var/library").is_under(&p("/var/lib")));
        assert!(p("/etc").is_under(&p("/")));
        assert_eq!(p("/var/lib").parent(), Some(p("/var")));
        assert_eq!(p("/var").parent(), Some(p("/")));
    }
}
