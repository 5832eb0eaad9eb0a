//! # The rules of `tabula check`
//!
//! Each rule has a stable code, a severity, a place in host.toml and a fix
//! hint. Rules read the validated [`HostSpec`]; what could not even be built
//! (a bad size, an unknown key) is a [`crate::SpecError`] instead, which
//! `tabula check` shows with the code [`SPEC_SHAPE`].
//!
//! Pure: the date used for end-of-life checks is a parameter.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

pub use crate::date::Date;
use crate::model::{
    FsType, HostSpec, Kdf, Keyfile, Loader, Luks, Mount, MountSource, Owner, PartSize, PartType,
    Partition, Release, Session, SessionKind,
};
use crate::path::AbsPath;
use crate::size::tmpfs_bytes;
use crate::{KeyPath, Loaded, SpecError};

mod boot;
mod btrfs;
mod codes;
mod containers;
mod desktop;
mod disk;
mod luks;
mod mounts;
mod persistence;
mod release;
mod secrets;
mod text;
mod users;
pub use codes::{rules, Code, Rule};

/// The code of findings that come from a spec that could not be built.
pub const SPEC_SHAPE: Code = Code::SpecShape;

/// Microsoft's minimum disk size for Windows 11.
const WINDOWS_11_MIN: u64 = 64_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    /// The way forward (`fix` in JSON, as in the text's `fix:` line).
    #[serde(rename = "fix")]
    pub hint: Option<String>,
    /// Key path in host.toml (`partition[4].size`); `object` in JSON, as
    /// in every command's output.
    #[serde(rename = "object")]
    pub at: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
}

/// Run every rule against today's date.
pub fn check(loaded: &Loaded) -> Vec<Finding> {
    check_on(loaded, Date::today())
}

/// Run every rule as if today were `today`. Findings come sorted by
/// severity, then by place in the file.
pub fn check_on(loaded: &Loaded, today: Date) -> Vec<Finding> {
    let mut c = Checker {
        loaded,
        out: Vec::new(),
    };
    let s = &loaded.spec;
    c.text(&loaded.text);
    c.release(s, today);
    c.host(s);
    c.partitions(s);
    c.luks(s);
    c.btrfs(s);
    c.mounts(s);
    c.persistence(s);
    c.users(s);
    c.desktop(s);
    c.boot(s);
    c.containers(s);
    c.secrets(s);
    let mut out = c.out;
    out.sort_by(|a, b| {
        a.severity
            .cmp(&b.severity)
            .then(
                a.line
                    .unwrap_or(usize::MAX)
                    .cmp(&b.line.unwrap_or(usize::MAX)),
            )
            .then(a.code.as_str().cmp(b.code.as_str()))
    });
    out
}

/// Findings for a spec that could not be built: one per problem.
pub fn findings_from_error(err: &SpecError) -> Vec<Finding> {
    err.problems
        .iter()
        .map(|p| Finding {
            code: SPEC_SHAPE,
            severity: Severity::Error,
            message: p.problem.message.clone(),
            hint: p.problem.hint.clone(),
            at: p.problem.at.to_string(),
            line: p.line,
            column: p.column,
        })
        .collect()
}

/// Whether any finding is an error.
pub fn has_errors(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.severity == Severity::Error)
}

struct Checker<'a> {
    loaded: &'a Loaded,
    out: Vec<Finding>,
}

fn key(k: &str) -> KeyPath {
    KeyPath::root().key(k)
}

/// Characters no line-based file (desktop entry, GRUB menu, crypttab) can hold.
/// The first release of `r`'s table that has `path`.
fn first_with(r: Release, path: &str) -> Release {
    r.siblings()
        .into_iter()
        .find(|x| x.has(path))
        .unwrap_or_else(|| r.newest())
}

fn has_control(s: &str) -> bool {
    s.chars().any(|c| c.is_control())
}

impl Checker<'_> {
    fn add(&mut self, code: Code, at: KeyPath, message: String, hint: Option<String>) {
        let (line, column) = match self.loaded.line_col(&at) {
            Some((l, c)) => (Some(l), Some(c)),
            None => (None, None),
        };
        self.out.push(Finding {
            code,
            severity: code.severity(),
            message,
            hint,
            at: at.to_string(),
            line,
            column,
        });
    }

    /// A name that must be unique, given twice: the finding is at the
    /// second, and names the place of the first.
    fn duplicate(&mut self, at: KeyPath, first: KeyPath, what: &str, hint: &str) {
        let place = match self.loaded.line_col(&first) {
            Some((l, c)) => format!("{}:{l}:{c} ({first})", self.loaded.source_name),
            None => first.to_string(),
        };
        self.add(
            Code::NameDuplicate,
            at,
            format!("{what} is already used at {place}"),
            Some(hint.to_owned()),
        );
    }
}

/// "an" before a filesystem name read letter by letter or starting with a
/// vowel sound (an ext4, an NTFS, an XFS), else "a".
fn article(word: &str) -> &'static str {
    match word.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u' | 'n' | 'x') => "an",
        _ => "a",
    }
}

/// A nixpkgs attribute path such as `brave` or `kdePackages.kate`.
fn is_attr_path(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'\'')
        })
}

trait IndexOnly {
    fn index_only(&self, i: usize) -> KeyPath;
}

impl IndexOnly for KeyPath {
    /// `options[i]` when `self` is already `options`.
    fn index_only(&self, i: usize) -> KeyPath {
        let mut k = self.clone();
        k.0.push(crate::Seg::Index(i));
        k
    }
}
