//! Shared by the test binaries: the embedded host's text, edited specs, and
//! small readers for what the docs contain.
#![allow(dead_code, clippy::unwrap_used, clippy::panic)]

use tabula_docs::Doc;
use tabula_spec::HostSpec;

/// The embedded host's host.toml.
pub fn host_text() -> &'static str {
    tabula_spec::embedded::SURFACE_PRO_8.toml
}

pub fn parse(text: &str) -> HostSpec {
    match tabula_spec::parse("test.toml", text) {
        Ok(l) => l.spec,
        Err(e) => panic!("test spec does not parse: {e}"),
    }
}

/// The embedded host with `from` replaced by `to` (exactly once).
pub fn edited(from: &str, to: &str) -> HostSpec {
    let text = host_text();
    assert_eq!(text.matches(from).count(), 1, "`{from}` must occur once");
    parse(&text.replacen(from, to, 1))
}

pub fn embedded() -> HostSpec {
    parse(host_text())
}

pub fn doc<'a>(docs: &'a [Doc], path: &str) -> &'a str {
    &docs
        .iter()
        .find(|d| d.path == path)
        .unwrap_or_else(|| panic!("no {path}"))
        .contents
}

/// The Markdown outside fenced code blocks, as lines with their number.
pub fn prose_lines(md: &str) -> Vec<(usize, &str)> {
    let mut fence: Option<String> = None;
    let mut out = vec![];
    for (i, l) in md.lines().enumerate() {
        let t = l.trim_start();
        let ticks: String = t.chars().take_while(|c| *c == '`').collect();
        match &fence {
            Some(f) if ticks.len() >= f.len() && t.trim() == ticks => fence = None,
            Some(_) => {}
            None if ticks.len() >= 3 => fence = Some(ticks),
            None => out.push((i + 1, l)),
        }
    }
    out
}

/// The fenced blocks' bodies.
pub fn fences(md: &str) -> Vec<Vec<&str>> {
    let mut out = vec![];
    let mut cur: Option<(String, Vec<&str>)> = None;
    for l in md.lines() {
        let ticks: String = l.chars().take_while(|c| *c == '`').collect();
        match &mut cur {
            Some((f, body)) => {
                if ticks.len() >= f.len() && l.trim() == ticks {
                    out.push(std::mem::take(body));
                    cur = None;
                } else {
                    body.push(l);
                }
            }
            None if ticks.len() >= 3 => cur = Some((ticks, vec![])),
            None => {}
        }
    }
    out
}

/// Split a table row on its unescaped `|`: the cells between the outer
/// pipes.
pub fn cells(row: &str) -> Vec<String> {
    let mut cells = vec![];
    let mut cur = String::new();
    let mut esc = false;
    for c in row.trim().chars() {
        if esc {
            cur.push(c);
            esc = false;
        } else if c == '\\' {
            cur.push(c);
            esc = true;
        } else if c == '|' {
            cells.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    cells.push(cur);
    // Drop what lies outside the first and last pipe.
    if cells.len() >= 2 {
        cells.remove(0);
        cells.pop();
    }
    cells.into_iter().map(|c| c.trim().to_owned()).collect()
}

/// Every table in the prose: its rows (header, separator, body) as cells.
pub fn tables(md: &str) -> Vec<Vec<(usize, Vec<String>)>> {
    let mut out = vec![];
    let mut cur: Vec<(usize, Vec<String>)> = vec![];
    for (n, l) in prose_lines(md) {
        if l.trim_start().starts_with('|') {
            cur.push((n, cells(l)));
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The table under the heading `heading` in `md`.
pub fn table_after(md: &str, heading: &str) -> Vec<Vec<String>> {
    let start = md
        .find(heading)
        .unwrap_or_else(|| panic!("no heading {heading}"));
    tables(&md[start..])
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no table after {heading}"))
        .into_iter()
        .map(|(_, c)| c)
        .collect()
}
