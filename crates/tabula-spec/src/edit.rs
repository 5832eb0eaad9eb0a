//! # Edits to host.toml's text
//!
//! tabula-spec owns host.toml, so the edits other commands make to it live
//! here: [`apply`] adds a [`SpecChange`] (what `tabula place` decided) with
//! toml_edit, so comments and layout stay as they were and only the one list
//! grows; [`new_errors`] tells which check errors an edit would add. Writing
//! the file (atomically, under a lock) is the caller's business.

use serde::Serialize;
use toml_edit::{Array, ArrayOfTables, DocumentMut, InlineTable, Item, Table, Value};

use crate::check::{check, Severity};
use crate::Loaded;

/// Why host.toml's text cannot take the change.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EditError {
    #[error("host.toml is not valid TOML: {0}")]
    Toml(String),
    #[error("`{path}` in host.toml is a {found}, not a list")]
    NotAList { path: String, found: String },
}

/// The change to host.toml a placement implies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum SpecChange {
    /// `[containers] nix_packages += NAME`
    NixPackage { package: String },
    /// `[containers.distrobox] images += { name, image }`
    DistroboxImage { name: String, image: String },
    /// `[containers.flatpak] apps += APP_ID`
    FlatpakApp { app_id: String },
    /// `[containers.podman] containers += { name, image, ports }`
    PodmanContainer {
        name: String,
        image: String,
        ports: Vec<String>,
    },
    /// `[containers.microvm] vms += { name }`
    Microvm { name: String },
}

impl SpecChange {
    /// The table and key the change goes into.
    pub fn key(&self) -> (&'static [&'static str], &'static str) {
        match self {
            SpecChange::NixPackage { .. } => (&["containers"], "nix_packages"),
            SpecChange::DistroboxImage { .. } => (&["containers", "distrobox"], "images"),
            SpecChange::FlatpakApp { .. } => (&["containers", "flatpak"], "apps"),
            SpecChange::PodmanContainer { .. } => (&["containers", "podman"], "containers"),
            SpecChange::Microvm { .. } => (&["containers", "microvm"], "vms"),
        }
    }

    /// `[containers.flatpak] apps += "org.mozilla.firefox"`, for people.
    pub fn describe(&self) -> String {
        let (table, key) = self.key();
        let value = match self {
            SpecChange::NixPackage { package } => format!("{package:?}"),
            SpecChange::FlatpakApp { app_id } => format!("{app_id:?}"),
            _ => self.entry().to_string(),
        };
        format!("[{}] {key} += {}", table.join("."), value.trim())
    }

    /// The inline table an entry list gets (name first, as in the spec).
    fn entry(&self) -> InlineTable {
        let mut t = InlineTable::new();
        match self {
            SpecChange::NixPackage { package } => {
                t.insert("name", package.as_str().into());
            }
            SpecChange::FlatpakApp { app_id } => {
                t.insert("name", app_id.as_str().into());
            }
            SpecChange::DistroboxImage { name, image } => {
                t.insert("name", name.as_str().into());
                t.insert("image", image.as_str().into());
            }
            SpecChange::PodmanContainer { name, image, ports } => {
                t.insert("name", name.as_str().into());
                t.insert("image", image.as_str().into());
                if !ports.is_empty() {
                    t.insert("ports", Value::Array(ports.iter().collect()));
                }
            }
            SpecChange::Microvm { name } => {
                t.insert("name", name.as_str().into());
            }
        }
        t.fmt();
        t
    }

    /// The identity an existing entry is matched by.
    fn ident(&self) -> &str {
        match self {
            SpecChange::NixPackage { package } => package,
            SpecChange::FlatpakApp { app_id } => app_id,
            SpecChange::DistroboxImage { name, .. }
            | SpecChange::PodmanContainer { name, .. }
            | SpecChange::Microvm { name } => name,
        }
    }

    fn is_plain_string(&self) -> bool {
        matches!(
            self,
            SpecChange::NixPackage { .. } | SpecChange::FlatpakApp { .. }
        )
    }
}

/// The outcome of [`apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub text: String,
    /// False when the entry was already there (the text is unchanged).
    pub changed: bool,
    /// `[containers.flatpak] enable` was false and is now true.
    pub enabled: bool,
}

/// Add the change to host.toml's text, keeping everything else as written.
///
/// # Errors
/// [`EditError::Toml`] for text that does not parse,
/// [`EditError::NotAList`] when the key holds something else.
pub fn apply(text: &str, change: &SpecChange) -> Result<Applied, EditError> {
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| EditError::Toml(e.to_string()))?;
    let (tables, key) = change.key();
    let table = descend(doc.as_table_mut(), tables)?;
    // A sub-table (`[containers.flatpak]`) switched off is switched on.
    let enabled = tables.len() > 1 && enable(table);
    let path = format!("{}.{key}", tables.join("."));
    let item = table
        .entry(key)
        .or_insert_with(|| Item::Value(Value::Array(Array::new())));
    let present = add_entry(item, change, path)?;
    if present && !enabled {
        return Ok(Applied {
            text: text.to_owned(),
            changed: false,
            enabled: false,
        });
    }
    Ok(Applied {
        text: doc.to_string(),
        changed: true,
        enabled,
    })
}

/// The table at `tables` (made when missing, explicit).
fn descend<'a>(mut table: &'a mut Table, tables: &[&str]) -> Result<&'a mut Table, EditError> {
    for t in tables {
        let item = table.entry(t).or_insert_with(|| {
            let mut new = Table::new();
            new.set_implicit(false);
            Item::Table(new)
        });
        table = match item {
            Item::Table(t) => t,
            other => {
                return Err(EditError::NotAList {
                    path: tables.join("."),
                    found: other.type_name().to_owned(),
                })
            }
        };
    }
    Ok(table)
}

/// `enable = false` → `true`, keeping its decoration; whether it changed.
fn enable(table: &mut Table) -> bool {
    let Some(v) = table
        .get_mut("enable")
        .filter(|e| e.as_bool() == Some(false))
        .and_then(Item::as_value_mut)
    else {
        return false;
    };
    let decor = v.decor().clone();
    *v = Value::from(true);
    *v.decor_mut() = decor;
    true
}

/// Add the change's entry to the list unless it is there; whether it was.
fn add_entry(item: &mut Item, change: &SpecChange, path: String) -> Result<bool, EditError> {
    match item {
        Item::Value(Value::Array(a)) => {
            let present = a.iter().any(|v| match v {
                Value::String(s) => s.value() == change.ident(),
                Value::InlineTable(t) => {
                    t.get("name").and_then(Value::as_str) == Some(change.ident())
                }
                _ => false,
            });
            if !present {
                let mut v = if change.is_plain_string() {
                    Value::from(change.ident())
                } else {
                    Value::InlineTable(change.entry())
                };
                push_like_neighbours(a, &mut v);
                a.push_formatted(v);
            }
            Ok(present)
        }
        Item::ArrayOfTables(aot) => {
            let present = aot
                .iter()
                .any(|t| t.get("name").and_then(Item::as_str) == Some(change.ident()));
            if !present {
                push_table(aot, change);
            }
            Ok(present)
        }
        other => Err(EditError::NotAList {
            path,
            found: other.type_name().to_owned(),
        }),
    }
}

/// Give a new element the spacing its neighbours have: a one-line list stays
/// on one line, a list with one element per line gets a new line.
fn push_like_neighbours(a: &Array, v: &mut Value) {
    let prefix = a
        .iter()
        .last()
        .and_then(|last| last.decor().prefix())
        .and_then(|p| p.as_str())
        .map(str::to_owned);
    match prefix {
        Some(p) if p.contains('\n') => v.decor_mut().set_prefix(p),
        Some(_) => v.decor_mut().set_prefix(" "),
        None => v.decor_mut().set_prefix(""),
    }
    v.decor_mut().set_suffix("");
}

fn push_table(aot: &mut ArrayOfTables, change: &SpecChange) {
    let mut t = Table::new();
    for (k, v) in change.entry().iter() {
        let mut v = v.clone();
        v.decor_mut().clear();
        t.insert(k, Item::Value(v));
    }
    aot.push(t);
}

/// The check errors `edited` has that `before` had not (`AT [code]
/// message`): an edit is refused for these; errors the file already had are
/// not the edit's business.
pub fn new_errors(before: &Loaded, edited: &Loaded) -> Vec<String> {
    let errors = |l: &Loaded| -> std::collections::BTreeSet<String> {
        check(l)
            .into_iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| format!("{} [{}] {}", f.at, f.code, f.message))
            .collect()
    };
    let before = errors(before);
    errors(edited).difference(&before).cloned().collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn host() -> Loaded {
        crate::parse("host.toml", crate::embedded::SURFACE_PRO_8.toml).unwrap()
    }

    #[test]
    fn an_edit_is_judged_by_the_errors_it_adds() {
        let before = host();
        let ok = apply(
            &before.text,
            &SpecChange::NixPackage {
                package: "ripgrep".into(),
            },
        )
        .unwrap();
        assert!(ok.changed && ok.text.contains("\"ripgrep\""));
        let edited = crate::parse("host.toml", &ok.text).unwrap();
        assert!(new_errors(&before, &edited).is_empty());
        let bad = apply(
            &before.text,
            &SpecChange::NixPackage {
                package: "ht op".into(),
            },
        )
        .unwrap();
        let edited = crate::parse("host.toml", &bad.text).unwrap();
        let new = new_errors(&before, &edited);
        assert!(
            new.iter().any(|e| e.contains("[container-invalid]")),
            "{new:?}"
        );
    }

    #[test]
    fn a_key_that_is_not_a_list_is_refused() {
        let e = apply(
            "[containers]\nnix_packages = \"x\"\n",
            &SpecChange::NixPackage {
                package: "ripgrep".into(),
            },
        )
        .unwrap_err();
        assert!(matches!(e, EditError::NotAList { .. }), "{e}");
        assert!(matches!(
            apply("[[", &SpecChange::Microvm { name: "a".into() }),
            Err(EditError::Toml(_))
        ));
    }
}
