//! One rule, tested on arbitrary strings: whatever `check` accepts renders.
//!
//! Strings (arbitrary, hostile, or the embedded host's value with a
//! character inserted) are written into one to three string fields of the
//! embedded host's TOML (through toml_edit, so the file stays TOML). Then:
//! no panic anywhere; when `check` reports no error, `render_flake` and
//! `tabula_docs::render` succeed, every `.nix` file parses with rnix (and,
//! for a sample, with `nix-instantiate --parse`), and every SVG parses as
//! XML (roxmltree).
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use tabula_spec::check::{check_on, has_errors, Date};
use toml_edit::{DocumentMut, Item, Value};

const TODAY: Date = Date {
    year: 2026,
    month: 1,
    day: 1,
};

#[derive(Debug, Clone)]
enum Seg {
    Key(String),
    Index(usize),
}

/// The path of every string value in the document.
fn string_paths() -> Vec<Vec<Seg>> {
    fn value(out: &mut Vec<Vec<Seg>>, at: &mut Vec<Seg>, v: &Value) {
        match v {
            Value::String(_) => out.push(at.clone()),
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    at.push(Seg::Index(i));
                    value(out, at, x);
                    at.pop();
                }
            }
            Value::InlineTable(t) => {
                for (k, x) in t.iter() {
                    at.push(Seg::Key(k.to_owned()));
                    value(out, at, x);
                    at.pop();
                }
            }
            _ => {}
        }
    }
    fn item(out: &mut Vec<Vec<Seg>>, at: &mut Vec<Seg>, it: &Item) {
        match it {
            Item::Value(v) => value(out, at, v),
            Item::Table(t) => {
                for (k, x) in t.iter() {
                    at.push(Seg::Key(k.to_owned()));
                    item(out, at, x);
                    at.pop();
                }
            }
            Item::ArrayOfTables(a) => {
                for (i, t) in a.iter().enumerate() {
                    at.push(Seg::Index(i));
                    for (k, x) in t.iter() {
                        at.push(Seg::Key(k.to_owned()));
                        item(out, at, x);
                        at.pop();
                    }
                    at.pop();
                }
            }
            Item::None => {}
        }
    }
    let doc: DocumentMut = support::embedded_text().parse().unwrap();
    let mut out = Vec::new();
    item(&mut out, &mut Vec::new(), doc.as_item());
    out
}

fn value_at<'a>(v: &'a mut Value, path: &[Seg]) -> Option<&'a mut Value> {
    match path.split_first() {
        None => Some(v),
        Some((Seg::Index(i), rest)) => value_at(v.as_array_mut()?.get_mut(*i)?, rest),
        Some((Seg::Key(k), rest)) => value_at(v.as_inline_table_mut()?.get_mut(k)?, rest),
    }
}

fn item_at<'a>(it: &'a mut Item, path: &[Seg]) -> Option<&'a mut Value> {
    match (it, path.split_first()) {
        (Item::Value(v), _) => value_at(v, path),
        (Item::Table(t), Some((Seg::Key(k), rest))) => item_at(t.get_mut(k)?, rest),
        (Item::ArrayOfTables(a), Some((Seg::Index(i), rest))) => {
            let t = a.get_mut(*i)?;
            match rest.split_first() {
                Some((Seg::Key(k), rest)) => item_at(t.get_mut(k)?, rest),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Strings rich in what breaks where values land.
fn hostile() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => prop::sample::select(vec![
            "\"", "\\", "$", "${", "''", "'", "`", "%", ";", "#", "=", ",", " ", "\t", "\n",
            "\r", "\0", "\u{1}", "\u{7f}", "\u{85}", "\u{2028}", "\u{2029}", "\u{FFFE}",
            "\u{FFFF}", "\u{FDD0}", "\u{1FFFF}", "\u{202E}", "é", "😀", "&&", "$(x)", "{a,b}",
            "|", ">", "<", "&", "]]>", "<!--", "*/", "/*", "..", "/", "@", ":", "~", "[", "]",
            "99999999999999999999999", "G", "GB", "Gb", "KB", "%", "-", "0",
        ])
        .prop_map(str::to_owned),
        3 => "[a-zA-Z0-9./:_@-]{1,6}",
        2 => any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..8).prop_map(|v| v.concat())
}

/// (field index, how to change it): replace it, or insert into the original.
fn edit() -> impl Strategy<Value = (usize, bool, usize, String)> {
    (any::<usize>(), any::<bool>(), any::<usize>(), hostile())
}

static CASES: AtomicUsize = AtomicUsize::new(0);

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn check_accepted_means_render_succeeds_and_parses(edits in prop::collection::vec(edit(), 1..4)) {
        let paths = string_paths();
        let mut doc: DocumentMut = support::embedded_text().parse().unwrap();
        for (which, insert, pos, s) in &edits {
            let path = &paths[which % paths.len()];
            let v = item_at(doc.as_item_mut(), path).unwrap();
            let old = v.as_str().unwrap_or_default().to_owned();
            let new = if *insert {
                let mut at = pos % (old.len() + 1);
                while !old.is_char_boundary(at) {
                    at -= 1;
                }
                format!("{}{s}{}", &old[..at], &old[at..])
            } else {
                s.clone()
            };
            *v = Value::from(new);
        }
        let text = doc.to_string();
        let loaded = match tabula_spec::parse("prop.toml", &text) {
            Ok(l) => l,
            Err(e) => {
                let _ = e.render_report(false);
                return Ok(());
            }
        };
        let findings = check_on(&loaded, TODAY);
        if has_errors(&findings) {
            return Ok(());
        }
        let files = match tabula_render::render_flake(&loaded.spec) {
            Ok(f) => f,
            Err(e) => {
                prop_assert!(false, "check accepted but render failed: {e}\nedits: {edits:?}");
                unreachable!()
            }
        };
        let n = CASES.fetch_add(1, Ordering::Relaxed);
        if n.is_multiple_of(50) {
            eprintln!("{n} check-accepted variants so far");
        }
        for f in files.iter().filter(|f| f.path.ends_with(".nix")) {
            let errors = support::rnix_errors(&f.contents);
            prop_assert!(errors.is_empty(), "{}: {:?}\nedits: {:?}", f.path, errors, edits);
        }
        if n.is_multiple_of(25) && support::have_nix("check_accepted_means_render_succeeds_and_parses") {
            let (dir, _) = support::render_to_temp(&loaded.spec);
            for f in files.iter().filter(|f| f.path.ends_with(".nix")) {
                let r = support::nix_parse(&dir.path().join(&f.path));
                prop_assert!(r.is_ok(), "{}: {:?}\nedits: {:?}", f.path, r, edits);
            }
        }
        for d in tabula_docs::render(&loaded.spec) {
            if d.path.ends_with(".svg") {
                let r = roxmltree::Document::parse(&d.contents);
                prop_assert!(r.is_ok(), "{}: {:?}\nedits: {:?}", d.path, r.err(), edits);
            }
        }
    }
}

/// The SVG writer's own escape: even a spec that skipped `check`, with
/// XML-forbidden characters in a model, a label and a subvolume path,
/// draws SVGs that parse as XML.
#[test]
fn svgs_stay_xml_whatever_the_text() {
    let mut spec = support::embedded();
    spec.host.model = Some("Surface\u{FFFE}\u{FFFF}\u{1}\u{FDD0}<&>\"'".into());
    spec.partitions[1].label = "bo\u{FFFF}ot\u{1b}".into();
    spec.btrfs.as_mut().unwrap().subvolumes[0].path = "@sys\u{FFFE}tem".into();
    let mut svgs = 0;
    for d in tabula_docs::render(&spec) {
        if d.path.ends_with(".svg") {
            svgs += 1;
            if let Err(e) = roxmltree::Document::parse(&d.contents) {
                panic!("{}: {e}", d.path);
            }
        }
    }
    assert_eq!(svgs, 2);
}
