//! Helpers shared by the audit library tests: specs, planted trees, merging
//! suggestions into a spec.
#![allow(clippy::unwrap_used, clippy::panic, dead_code)]

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use tabula_spec::HostSpec;

/// The embedded host, with `[audit] ignore` set.
pub fn spec_text(ignore: &[&str]) -> String {
    let text = tabula_spec::embedded::DEFAULT_HOST.toml;
    let list = ignore
        .iter()
        .map(|i| format!("{i:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let out = text.replace("ignore = []", &format!("ignore = [{list}]"));
    assert!(
        out.contains("[audit]"),
        "the embedded host has an [audit] table"
    );
    out
}

pub fn spec(text: &str) -> HostSpec {
    match tabula_spec::parse("test.toml", text) {
        Ok(l) => l.spec,
        Err(e) => panic!("{e}"),
    }
}

/// Append the entries of a `--suggest` snippet to the spec's arrays.
pub fn merge_suggestion(spec_text: &str, snippet: &str) -> String {
    use toml_edit::{Array, DocumentMut, Item, Table, Value};
    let mut doc: DocumentMut = spec_text.parse().unwrap();
    let add: DocumentMut = snippet.parse().unwrap();
    let Some(p) = add.get("persistence") else {
        return doc.to_string();
    };
    let append = |target: &mut Table, from: &Table| {
        for key in ["directories", "files"] {
            if let Some(arr) = from.get(key).and_then(Item::as_array) {
                if target.get(key).is_none() {
                    target.insert(key, Item::Value(Value::Array(Array::new())));
                }
                let t = target[key].as_array_mut().unwrap();
                for v in arr.iter() {
                    t.push(v.clone());
                }
            }
        }
    };
    let p = p.as_table().unwrap();
    let dp = doc["persistence"].as_table_mut().unwrap();
    append(dp, p);
    if let Some(users) = p.get("users").and_then(Item::as_table) {
        if dp.get("users").is_none() {
            let mut t = Table::new();
            t.set_implicit(true);
            dp.insert("users", Item::Table(t));
        }
        let du = dp["users"].as_table_mut().unwrap();
        for (name, ut) in users.iter() {
            if du.get(name).is_none() {
                du.insert(name, Item::Table(Table::new()));
            }
            append(du[name].as_table_mut().unwrap(), ut.as_table().unwrap());
        }
    }
    doc.to_string()
}

/// Write a file with `len` bytes, making parents.
pub fn file(root: &Path, rel: &str, len: usize) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, vec![b'x'; len]).unwrap();
}

pub fn symlink(root: &Path, rel: &str, target: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, p).unwrap();
}

pub fn dir(root: &Path, rel: &str) {
    std::fs::create_dir_all(root.join(rel)).unwrap();
}

/// A path in the audited tree (`/x/y`) for a real path under `root`.
pub fn logical(root: &Path, p: &Path) -> Vec<u8> {
    let rel = p.strip_prefix(root).unwrap();
    let mut out = b"/".to_vec();
    out.extend_from_slice(rel.as_os_str().as_bytes());
    out
}

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}
