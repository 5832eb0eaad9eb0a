//! # The report: groups, order, suggestions, text
//!
//! Pure: turns a [`WalkResult`] into what a person or a script reads.
//! Groups are sorted by what matters most (bytes, then count, then path).
//! [`suggest`] turns lost groups into host.toml persistence entries: a
//! directory entry for a wholly lost tree, file entries for lost files that
//! sit next to kept ones, per-user entries (relative to the home) for what
//! lies in a user's home.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;
use tabula_spec::path::{AbsPath, RelPath};
use tabula_spec::HostSpec;

use crate::policy::{MountSource, Policy, Rule};
use crate::walk::{GroupKind, RawGroup, Totals, WalkResult};

/// Which question the report answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// What the next reboot would wipe.
    Lost,
    /// What the persistence root stores that no entry claims.
    Orphans,
}

/// One group of lost (or orphaned) entries.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    /// The directory, lossily decoded when not UTF-8.
    pub path: String,
    /// The exact bytes of the path, in hex, when it is not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_hex: Option<String>,
    pub kind: GroupKind,
    pub count: u64,
    pub bytes: u64,
    /// Newest modification time (RFC 3339, UTC).
    pub newest: Option<String>,
    pub newest_unix: Option<i64>,
    /// Directories in a tree group (itself included).
    #[serde(skip_serializing_if = "is_zero")]
    pub dirs: u64,
    /// For a files group: the lost files' names (lossy when not UTF-8).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    /// When a name in `files` is not UTF-8: one entry per name of `files`,
    /// in the same order, holding the exact bytes of that file's whole path
    /// in hex (as `path_hex` does for the group), or null for a UTF-8 name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files_path_hex: Option<Vec<Option<String>>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub files_truncated: bool,
    #[serde(skip)]
    raw_path: Vec<u8>,
    #[serde(skip)]
    raw_names: Vec<Vec<u8>>,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

#[derive(Debug, Clone, Serialize)]
pub struct ProblemOut {
    /// The path, lossily decoded when not UTF-8.
    pub path: String,
    /// The exact bytes of the path, in hex, when it is not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_hex: Option<String>,
    pub message: String,
    #[serde(skip)]
    raw_path: Vec<u8>,
}

/// The outcome of an audit.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub mode: Mode,
    /// The audited directory on this machine.
    pub root: String,
    /// Where the walk started in the audited tree (`/`, or the persistence root).
    pub base: String,
    pub mounts_from: MountSource,
    /// Set when a rule holds the whole root (a root that is not a tmpfs).
    pub root_kept: Option<Rule>,
    pub totals: Totals,
    pub groups: Vec<Group>,
    pub problems: Vec<ProblemOut>,
    pub problems_dropped: u64,
}

impl Report {
    pub(crate) fn new(
        mode: Mode,
        root: &Path,
        base: &str,
        policy: &Policy,
        r: WalkResult,
    ) -> Report {
        let mut groups: Vec<Group> = r.groups.into_iter().map(Group::from_raw).collect();
        groups.sort_by(|a, b| {
            b.bytes
                .cmp(&a.bytes)
                .then(b.count.cmp(&a.count))
                .then(a.raw_path.cmp(&b.raw_path))
        });
        let mut problems: Vec<ProblemOut> = r
            .problems
            .into_iter()
            .map(|p| ProblemOut {
                path: String::from_utf8_lossy(&p.path).into_owned(),
                path_hex: hex_unless_utf8(&p.path),
                message: p.message,
                raw_path: p.path,
            })
            .collect();
        problems.sort_by(|a, b| a.path.cmp(&b.path));
        Report {
            mode,
            root: root.display().to_string(),
            base: base.to_owned(),
            mounts_from: policy.mounts_from,
            root_kept: r.root_rule,
            totals: r.totals,
            groups,
            problems,
            problems_dropped: r.problems_dropped,
        }
    }

    /// Whether anything would be lost (or is orphaned), or could not be
    /// judged: the exit code is 1 then.
    pub fn has_findings(&self) -> bool {
        self.totals.lost > 0 || self.totals.unreadable > 0 || !self.problems.is_empty()
    }

    /// The report as text for a terminal: at most `limit` groups (0: all).
    pub fn to_text(&self, limit: usize) -> String {
        let mut s = String::new();
        let what = match self.mode {
            Mode::Lost => "LOST AT THE NEXT REBOOT",
            Mode::Orphans => "STORED BUT CLAIMED BY NO ENTRY",
        };
        let from = match self.mounts_from {
            MountSource::Spec => "mounts from the spec",
            MountSource::System => "mounts from /proc/self/mountinfo",
        };
        let _ = writeln!(
            s,
            "tabula audit of {} at {} ({from})",
            escape_str(&self.base),
            escape_str(&self.root)
        );
        if let Some(r) = &self.root_kept {
            let _ = writeln!(
                s,
                "nothing to audit: {} ({})",
                escape_str(&r.path),
                escape_str(&r.reason)
            );
            return s;
        }
        let t = &self.totals;
        let _ = writeln!(
            s,
            "{what}: {} file{}, {} in {} group{}",
            t.lost,
            plural(t.lost),
            human_bytes(t.lost_bytes),
            self.groups.len(),
            plural(self.groups.len() as u64)
        );
        if !self.groups.is_empty() {
            let _ = writeln!(
                s,
                "{:>10} {:>8}  {:<16}  PATH",
                "BYTES", "FILES", "NEWEST (UTC)"
            );
        }
        let shown = if limit == 0 {
            self.groups.len()
        } else {
            limit.min(self.groups.len())
        };
        for g in &self.groups[..shown] {
            let _ = writeln!(s, "{}", group_line(g));
        }
        if shown < self.groups.len() {
            let _ = writeln!(
                s,
                "... and {} more groups (--limit 0 shows all, --json gives every one)",
                self.groups.len() - shown
            );
        }
        self.kept_and_problems(&mut s, limit);
        s
    }

    /// What was kept or skipped, and what could not be judged.
    fn kept_and_problems(&self, s: &mut String, limit: usize) {
        let t = &self.totals;
        let _ = writeln!(
            s,
            "kept: {} by mounts, {} by persistence entries, {} ephemeral by design \
             (counted where the walk stopped); skipped: {} special file{}, \
             {} other filesystem{} not entered, {} vanished during the walk",
            t.persisted_by_mount,
            t.persisted_by_entry,
            t.ephemeral,
            t.special,
            plural(t.special),
            t.other_filesystem,
            plural(t.other_filesystem),
            t.vanished
        );
        if !self.problems.is_empty() {
            let _ = writeln!(
                s,
                "could not judge {} path{} (what they hold may be lost too):",
                self.problems.len() as u64 + self.problems_dropped,
                plural(self.problems.len() as u64 + self.problems_dropped)
            );
            for p in self.problems.iter().take(limit.max(20)) {
                let _ = writeln!(s, "  {}: {}", escape(&p.raw_path), escape_str(&p.message));
            }
        }
    }
}

/// One group as one line: bytes, files, newest, where (escaped).
fn group_line(g: &Group) -> String {
    let newest = g
        .newest
        .as_deref()
        .map(|n| n.get(..16).unwrap_or(n).replace('T', " "))
        .unwrap_or_default();
    // Every name escaped: one group is one line, whatever its names hold.
    let path = escape(&g.raw_path);
    let place = match g.kind {
        GroupKind::Tree => format!("{path}/  (whole tree, {} dirs)", g.dirs),
        GroupKind::Files => {
            let mut names = g
                .raw_names
                .iter()
                .take(4)
                .map(|n| escape(n))
                .collect::<Vec<_>>()
                .join(", ");
            if g.raw_names.len() > 4 || g.files_truncated {
                names.push_str(", ...");
            }
            format!("{}/: {names}", path.trim_end_matches('/'))
        }
    };
    format!(
        "{:>10} {:>8}  {:<16}  {place}",
        human_bytes(g.bytes),
        g.count,
        newest
    )
}

/// `bytes` as one line of text: each character that would break or disguise
/// a line (control characters, line and paragraph separators, Unicode format
/// characters such as bidi overrides and zero-width ones) and the backslash
/// are written in the form of Rust's `char::escape_debug` (`\n`, `\t`,
/// `\u{1b}`, `\\`, `\u{202e}`); quotes and every other character are
/// left as they are; each byte that is not UTF-8 is `\xNN`.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(&escape_str(chunk.valid()));
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// [`escape`] for text that is already UTF-8.
pub fn escape_str(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if needs_escape(c) {
            // The forms of `char::escape_debug`, spelled out so that every
            // character chosen here is escaped (escape_debug leaves some
            // format characters as they are).
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                '\0' => out.push_str("\\0"),
                c => {
                    let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn needs_escape(c: char) -> bool {
    c == '\\'
        || c.is_control()
        || matches!(c,
            '\u{00ad}'
            | '\u{061c}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}')
}

/// The bytes in hex when they are not UTF-8 (what JSON gives as `path_hex`).
fn hex_unless_utf8(bytes: &[u8]) -> Option<String> {
    std::str::from_utf8(bytes)
        .is_err()
        .then(|| bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

impl Group {
    /// The group's directory, exactly (bytes).
    pub fn path_bytes(&self) -> &[u8] {
        &self.raw_path
    }

    /// For a files group: the exact names of the lost files.
    pub fn file_names(&self) -> &[Vec<u8>] {
        &self.raw_names
    }

    fn from_raw(g: RawGroup) -> Group {
        let path = String::from_utf8_lossy(&g.path).into_owned();
        let path_hex = hex_unless_utf8(&g.path);
        let files_path_hex = g
            .names
            .iter()
            .any(|n| std::str::from_utf8(n).is_err())
            .then(|| {
                g.names
                    .iter()
                    .map(|n| {
                        std::str::from_utf8(n).is_err().then(|| {
                            let mut full = g.path.clone();
                            if !full.ends_with(b"/") {
                                full.push(b'/');
                            }
                            full.extend_from_slice(n);
                            full.iter().map(|b| format!("{b:02x}")).collect()
                        })
                    })
                    .collect()
            });
        Group {
            path,
            path_hex,
            kind: g.kind,
            count: g.agg.count,
            bytes: g.agg.bytes,
            newest: g.agg.newest.map(|(s, _)| rfc3339(s)),
            newest_unix: g.agg.newest.map(|(s, _)| s),
            dirs: g.dirs,
            files: g
                .names
                .iter()
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .collect(),
            files_path_hex,
            files_truncated: g.truncated,
            raw_path: g.path,
            raw_names: g.names,
        }
    }
}

/// Persistence entries that would keep the lost groups.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    pub directories: Vec<String>,
    pub files: Vec<String>,
    /// Per user, relative to the home.
    pub users: BTreeMap<String, UserSuggestion>,
    /// Paths no entry can name (not UTF-8, a line break), with the reason.
    pub unpersistable: Vec<(String, String)>,
    /// Groups whose file list was cut (see `names_cap`): run again after
    /// adding these.
    pub incomplete: Vec<String>,
    /// The spec has no `[persistence]` yet: a root must be chosen.
    pub needs_root: bool,
}

/// Entries for one user's `[persistence.users.NAME]`, relative to the home.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UserSuggestion {
    pub directories: Vec<String>,
    pub files: Vec<String>,
}

/// The host.toml entries that would keep what the report found lost.
pub fn suggest(report: &Report, policy: &Policy, spec: &HostSpec) -> Suggestion {
    let mut s = Suggestion {
        needs_root: spec.persistence.is_none(),
        ..Suggestion::default()
    };
    let add = |path: Vec<u8>, dir: bool, s: &mut Suggestion| {
        let Ok(mut text) = String::from_utf8(path.clone()) else {
            s.unpersistable.push((
                String::from_utf8_lossy(&path).into_owned(),
                "the name is not UTF-8, which host.toml cannot hold".into(),
            ));
            return;
        };
        // What the /etc overlay stores is persisted under its /etc name.
        if let Some(rest) = text.strip_prefix(crate::policy::ETC_UPPER) {
            if rest.starts_with('/') {
                text = format!("/etc{rest}");
            }
        }
        if let Err(e) = AbsPath::parse(&text) {
            s.unpersistable.push((text, e));
            return;
        }
        for (user, home) in &policy.homes {
            if let Some(rel) = text
                .strip_prefix(home.as_str())
                .and_then(|r| r.strip_prefix('/'))
            {
                if RelPath::parse(rel).is_ok() {
                    let e = s.users.entry(user.clone()).or_default();
                    if dir {
                        e.directories.push(rel.to_owned());
                    } else {
                        e.files.push(rel.to_owned());
                    }
                    return;
                }
            }
        }
        if dir {
            s.directories.push(text);
        } else {
            s.files.push(text);
        }
    };
    for g in &report.groups {
        match g.kind {
            GroupKind::Tree => add(g.raw_path.clone(), true, &mut s),
            GroupKind::Files => {
                for n in &g.raw_names {
                    let mut p = g.raw_path.clone();
                    if !p.ends_with(b"/") {
                        p.push(b'/');
                    }
                    p.extend_from_slice(n);
                    add(p, false, &mut s);
                }
                if g.files_truncated {
                    s.incomplete.push(g.path.clone());
                }
            }
        }
    }
    s.directories.sort();
    s.files.sort();
    for u in s.users.values_mut() {
        u.directories.sort();
        u.files.sort();
    }
    s
}

impl Suggestion {
    pub fn is_empty(&self) -> bool {
        self.directories.is_empty() && self.files.is_empty() && self.users.is_empty()
    }

    /// The entries in host.toml's own syntax. Tables that already exist in
    /// the spec are printed again: append their entries to its arrays.
    pub fn to_toml(&self) -> String {
        let mut s = String::new();
        if self.is_empty() {
            s.push_str("# nothing to add: nothing would be lost\n");
        } else {
            s.push_str(
                "# Persistence entries that would keep what `tabula audit` found lost.\n\
                 # Where host.toml already has these tables, append the entries to its arrays.\n",
            );
        }
        let list = |s: &mut String, key: &str, items: &[String]| {
            if items.is_empty() {
                return;
            }
            let _ = writeln!(s, "{key} = [");
            for i in items {
                let _ = writeln!(s, "  {{ path = {} }},", quote(i));
            }
            s.push_str("]\n");
        };
        if !self.directories.is_empty() || !self.files.is_empty() || self.needs_root {
            s.push_str("[persistence]\n");
            if self.needs_root {
                s.push_str("root = \"/persist\"  # a persistent mount to store the entries in\n");
            }
            list(&mut s, "directories", &self.directories);
            list(&mut s, "files", &self.files);
        }
        for (user, u) in &self.users {
            let _ = writeln!(s, "\n[persistence.users.{}]", key(user));
            list(&mut s, "directories", &u.directories);
            list(&mut s, "files", &u.files);
        }
        for (p, why) in &self.unpersistable {
            let _ = writeln!(
                s,
                "# cannot be named by an entry: {} ({})",
                escape_str(p),
                escape_str(why)
            );
        }
        for p in &self.incomplete {
            let _ = writeln!(
                s,
                "# {}: only the first files are listed; audit again after adding these",
                escape_str(p)
            );
        }
        s
    }
}

fn quote(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// A bare TOML key when possible, else quoted.
fn key(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        s.to_owned()
    } else {
        quote(s)
    }
}

/// `1.5 MiB` (the workspace's one formatter).
pub use tabula_spec::size::human_bytes;

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian).
pub fn rfc3339(secs: i64) -> String {
    format!("{}Z", tabula_spec::date::format_utc(secs, 'T'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_621_572), "2026-11-25T15:46:12Z");
    }

    #[test]
    fn bytes_are_human() {
        assert_eq!(human_bytes(12), "12 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }

    #[test]
    fn names_are_escaped_to_one_line() {
        assert_eq!(escape(b"plain name-\xc3\xa9.txt"), "plain name-\u{e9}.txt");
        assert_eq!(escape(b"a\nb\tc\rd\0"), r"a\nb\tc\rd\0");
        assert_eq!(escape(b"\x1b[31mred\x7f"), r"\u{1b}[31mred\u{7f}");
        assert_eq!(escape(b"back\\slash 'q' \"q\""), r#"back\\slash 'q' "q""#);
        assert_eq!(escape(b"bad\xff\xfe!"), r"bad\xff\xfe!");
        // Bidi override, line separator, zero width space, C1 CSI.
        assert_eq!(
            escape_str("x\u{202e}y\u{2028}z\u{200b}\u{9b}"),
            r"x\u{202e}y\u{2028}z\u{200b}\u{9b}"
        );
    }

    #[test]
    fn user_keys_are_quoted_only_when_needed() {
        assert_eq!(key("user"), "user");
        assert_eq!(key("a.b"), "\"a.b\"");
    }
}
