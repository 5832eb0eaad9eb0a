//! # Edits of `[secrets]` in host.toml's text (issue 13)
//!
//! `tabula secret set NAME --hosts ...` adds NAME to `[secrets] names` of
//! the hosts that read it and takes it out of the others; `secret password
//! USER` does the same with `passwords`. With toml_edit, so comments and
//! layout stay as they were.

use toml_edit::{Array, DocumentMut, Item, Table, Value};

use crate::edit::EditError;

/// Add `value` to (or, with `present = false`, remove it from) the list
/// `[secrets] LIST`, creating the table and the list when needed. `None`
/// when the text already says so.
///
/// # Errors
/// When the text is not TOML, or `secrets` / `secrets.LIST` has another type.
pub fn set_listed(
    text: &str,
    list: &str,
    value: &str,
    present: bool,
) -> Result<Option<String>, EditError> {
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| EditError::Toml(e.to_string()))?;
    let listed = |doc: &DocumentMut| {
        doc.get("secrets")
            .and_then(|s| s.get(list))
            .and_then(Item::as_array)
            .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(value)))
    };
    if listed(&doc) == present {
        return Ok(None);
    }
    if !present {
        if let Some(a) = doc
            .get_mut("secrets")
            .and_then(|s| s.get_mut(list))
            .and_then(Item::as_array_mut)
        {
            a.retain(|v| v.as_str() != Some(value));
            a.fmt();
        }
        return Ok(Some(doc.to_string()));
    }
    let secrets = doc
        .entry("secrets")
        .or_insert_with(|| Item::Table(Table::new()));
    let Some(table) = secrets.as_table_like_mut() else {
        return Err(EditError::NotAList {
            path: "secrets".into(),
            found: secrets.type_name().into(),
        });
    };
    let item = table
        .entry(list)
        .or_insert(Item::Value(Value::Array(Array::new())));
    let found = item.type_name().to_owned();
    let Some(arr) = item.as_array_mut() else {
        return Err(EditError::NotAList {
            path: format!("secrets.{list}"),
            found,
        });
    };
    arr.push(value);
    Ok(Some(doc.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn adds_creates_and_removes_keeping_comments() {
        let text = "# my host\n[host]\nname = \"a\" # the name\n";
        let t = set_listed(text, "names", "wifi", true).unwrap().unwrap();
        assert!(t.contains("# the name"), "{t}");
        assert!(t.contains("[secrets]\nnames = [\"wifi\"]"), "{t}");
        assert_eq!(set_listed(&t, "names", "wifi", true).unwrap(), None);
        let t2 = set_listed(&t, "names", "vpn", true).unwrap().unwrap();
        assert!(t2.contains("names = [\"wifi\", \"vpn\"]"), "{t2}");
        let t3 = set_listed(&t2, "names", "wifi", false).unwrap().unwrap();
        assert!(t3.contains("names = [\"vpn\"]"), "{t3}");
        assert_eq!(set_listed(text, "names", "wifi", false).unwrap(), None);
        assert!(set_listed("secrets = 1\n", "names", "x", true).is_err());
    }
}
