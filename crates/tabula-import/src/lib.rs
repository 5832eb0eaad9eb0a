//! # `import`: an existing machine read into a host.toml draft
//!
//! A [`Draft`] is a host.toml being built as a [`toml_edit::DocumentMut`] in
//! the embedded host's format. Every value tabula had to guess carries a
//! `# guessed: why` comment; what it saw but cannot describe is a
//! [`LeftOut`], printed as a comment block at the top (and `import` exits 1).
//!
//! [`disk`] reads a disk or an image READ-ONLY through tabula-disk's probe
//! (every program through `tabula_run::Cmd`) and drafts the partitions, the
//! LUKS container and, when it can be opened read-only, the btrfs pool.

pub mod disk;

use serde::Serialize;
use toml_edit::{DocumentMut, InlineTable, Item, Table, Value};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Disk(#[from] tabula_disk::Error),
    /// The disk cannot be described at all (an MBR table, no table).
    #[error("{0}")]
    Refused(String),
    #[error("no disk given: name one with --disk PATH")]
    NoDisk,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Something seen on the machine that the draft does not describe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeftOut {
    /// What was seen, and where.
    pub what: String,
    /// What the user can do about it.
    pub todo: String,
}

/// A host.toml being built, with what was guessed and left out.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    /// `[name]` and `[[name]]` tables in the order they were first made.
    sections: Vec<(String, bool, Table)>,
    pub left_out: Vec<LeftOut>,
    /// How many values carry a `# guessed:` comment.
    pub guessed: usize,
    /// Where the draft was read from (named in the header).
    pub sources: Vec<String>,
}

/// A value, with a `# guessed: why` comment when `why` is given.
pub fn value(v: impl Into<Value>, why: Option<&str>) -> Item {
    let mut v: Value = v.into();
    if let Some(w) = why {
        v.decor_mut().set_suffix(format!("  # guessed: {w}"));
    }
    Item::Value(v)
}

/// An inline table (`{ type = "ext4", uuid = "..." }`) of string values.
pub fn inline(pairs: &[(&str, Option<&str>)]) -> InlineTable {
    let mut t = InlineTable::new();
    for (k, v) in pairs {
        if let Some(v) = v {
            t.insert(*k, Value::from(*v));
        }
    }
    t
}

/// A string array value.
pub fn strings<I, S>(items: I) -> Value
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut a = toml_edit::Array::new();
    for s in items {
        a.push(s.into());
    }
    Value::Array(a)
}

impl Draft {
    pub fn new() -> Draft {
        Draft::default()
    }

    fn count(&mut self, item: &Item) {
        if item
            .as_value()
            .and_then(|v| v.decor().suffix())
            .and_then(|s| s.as_str())
            .is_some_and(|s| s.contains("# guessed:"))
        {
            self.guessed += 1;
        }
    }

    /// `[name]`, made (in order of first use) when missing.
    fn table_mut(&mut self, name: &str) -> &mut Table {
        let i = match self.sections.iter().position(|(n, a, _)| n == name && !a) {
            Some(i) => i,
            None => {
                self.sections.push((name.to_owned(), false, Table::new()));
                self.sections.len() - 1
            }
        };
        &mut self.sections[i].2
    }

    /// Set `[table] key = item` (a `# guessed:` comment counts).
    pub fn set(&mut self, table: &str, key: &str, item: Item) {
        self.count(&item);
        self.table_mut(table).insert(key, item);
    }

    /// A comment line above `[table]`.
    pub fn comment_table(&mut self, table: &str, comment: &str) {
        let t = self.table_mut(table);
        t.decor_mut().set_prefix(format!("\n# {comment}\n"));
    }

    /// Append one `[[name]]` table built from `(key, item)` pairs, with an
    /// optional comment above it.
    pub fn push(&mut self, name: &str, pairs: Vec<(&str, Item)>, comment: Option<&str>) {
        let mut t = Table::new();
        if let Some(c) = comment {
            t.decor_mut().set_prefix(format!("\n# {c}\n"));
        }
        for (k, item) in pairs {
            self.count(&item);
            t.insert(k, item);
        }
        self.sections.push((name.to_owned(), true, t));
    }

    /// The spec as a document (tables in the order they were made).
    pub fn document(&self) -> DocumentMut {
        let mut doc = DocumentMut::new();
        for (pos, (name, array, t)) in self.sections.iter().enumerate() {
            let mut t = t.clone();
            t.set_position(pos);
            // `a.b`: an array of tables inside `[a]` (`[[btrfs.subvolume]]`).
            let (parent, leaf) = match name.split_once('.') {
                Some((p, l)) => (Some(p), l),
                None => (None, name.as_str()),
            };
            let host = match parent {
                Some(p) => {
                    let e = doc.entry(p).or_insert_with(|| {
                        let mut pt = Table::new();
                        pt.set_implicit(true);
                        pt.set_position(pos);
                        Item::Table(pt)
                    });
                    match e.as_table_mut() {
                        Some(t) => t,
                        None => continue,
                    }
                }
                None => doc.as_table_mut(),
            };
            if *array {
                let entry = host
                    .entry(leaf)
                    .or_insert(Item::ArrayOfTables(toml_edit::ArrayOfTables::new()));
                if let Some(a) = entry.as_array_of_tables_mut() {
                    a.push(t);
                }
            } else if let Some(old) = host.get_mut(leaf).and_then(Item::as_table_mut) {
                // Made implicitly by an array inside it first: fill it.
                for (k, v) in t.iter() {
                    old.insert(k, v.clone());
                }
                old.set_implicit(false);
                *old.decor_mut() = t.decor().clone();
                old.set_position(pos);
            } else {
                host.insert(leaf, Item::Table(t));
            }
        }
        doc
    }

    /// Something seen but not described.
    pub fn leave_out(&mut self, what: impl Into<String>, todo: impl Into<String>) {
        self.left_out.push(LeftOut {
            what: what.into(),
            todo: todo.into(),
        });
    }

    /// Whether everything seen is described.
    pub fn complete(&self) -> bool {
        self.left_out.is_empty()
    }

    /// The host.toml text: a header, the left-out block, then the spec.
    pub fn to_toml(&self) -> String {
        self.to_toml_with(|_| {})
    }

    /// As [`Draft::to_toml`], with `edit` applied to the document first
    /// (what `import --root` read from a running system is merged this
    /// way); the `# guessed:` comments it adds are counted in the text.
    pub fn to_toml_with(&self, edit: impl FnOnce(&mut DocumentMut)) -> String {
        let mut out = String::from("# tabula host spec, written by `tabula import`");
        if !self.sources.is_empty() {
            out.push_str(&format!(" from {}", self.sources.join(", ")));
        }
        out.push_str(
            ".\n# Values marked `# guessed:` were not read from the machine: check each one.\n\
             # `tabula check` explains every rule; `tabula plan --spec THIS --disk DISK`\n\
             # must show only `keep` lines before this spec is trusted.\n",
        );
        if !self.left_out.is_empty() {
            out.push_str(
                "#\n# LEFT OUT: seen on the machine, not described by this spec (import exits 1):\n",
            );
            for l in &self.left_out {
                out.push_str(&format!("#   - {}\n#     to do: {}\n", l.what, l.todo));
            }
        }
        out.push('\n');
        let mut doc = self.document();
        edit(&mut doc);
        let body = doc.to_string();
        out.push_str(body.trim_start_matches('\n'));
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[test]
    fn guessed_values_carry_their_comment_and_left_out_is_on_top() {
        let mut d = Draft::new();
        d.set(
            "host",
            "name",
            value("imported", Some("no host name on a disk")),
        );
        d.set("disk", "size", value("1GiB", None));
        d.push(
            "partition",
            vec![
                ("number", value(1_i64, None)),
                ("label", value("ESP", None)),
            ],
            None,
        );
        d.leave_out("partition 3: swap", "add it by hand");
        let t = d.to_toml();
        assert!(
            t.contains("name = \"imported\"  # guessed: no host name on a disk"),
            "{t}"
        );
        assert_eq!(d.guessed, 1);
        let left = t.find("LEFT OUT").unwrap();
        assert!(left < t.find("[host]").unwrap(), "{t}");
        assert!(t.find("[host]").unwrap() < t.find("[disk]").unwrap());
        assert!(t.find("[disk]").unwrap() < t.find("[[partition]]").unwrap());
        let parsed: toml_edit::DocumentMut = t.parse().unwrap();
        assert_eq!(parsed["partition"][0]["label"].as_str(), Some("ESP"));
        assert!(!d.complete());
    }
}
