//! # Markdown writing with escaping
//!
//! Every value in the generated documents comes from host.toml, and host.toml
//! may hold any string: a `|` would split a table cell, a `<` would open an
//! HTML tag, a newline would end a table row. Everything spec-provided goes
//! through [`text`] or [`code`] here, and tables through [`Table`], so the
//! escaping lives in one place.

use std::fmt::Write as _;

/// Inline text, escaped for Markdown (and the HTML Markdown allows): no
/// character of it can start markup. A newline becomes a line break.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' => out.push_str("<br>"),
            '\r' => {}
            // `$` opens math on GitHub; `~` strikes through.
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '~' | '!' | '$' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// An inline code span holding `s` verbatim (Markdown does not interpret
/// `<` or `&` inside one). The fence is longer than any run of backticks in
/// `s`; a newline becomes a space, since a code span cannot hold a break;
/// `|` is escaped because GitHub's tables split on it even inside code.
pub fn code(s: &str) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let flat = flat.replace('|', "\\|");
    let fence = "`".repeat(longest_run(&flat, '`') + 1);
    let pad = if flat.starts_with('`') || flat.ends_with('`') || flat.starts_with(' ') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{flat}{pad}{fence}")
}

/// A fenced code block (```` ```lang ````) whose fence cannot be closed by
/// the content.
pub fn fence(lang: &str, body: &str) -> String {
    let fence = "`".repeat(longest_run(body, '`').max(2) + 1);
    let mut out = format!("{fence}{lang}\n{body}");
    if !body.ends_with('\n') {
        out.push('\n');
    }
    let _ = writeln!(out, "{fence}");
    out
}

fn longest_run(s: &str, ch: char) -> usize {
    let (mut best, mut cur) = (0, 0);
    for c in s.chars() {
        if c == ch {
            cur += 1;
            best = best.max(cur);
        } else {
            cur = 0;
        }
    }
    best
}

/// A heading line; its text is escaped and kept on one line.
pub fn heading(level: usize, title: &str) -> String {
    format!(
        "{} {}\n\n",
        "#".repeat(level.clamp(1, 6)),
        text(&title.replace('\n', " "))
    )
}

/// A Markdown table. Cells are given already formatted (with [`text`] or
/// [`code`]): the table only guarantees the shape — every row has the
/// header's column count, and no cell holds a raw newline or `|`.
#[derive(Debug, Clone)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these (plain-text) column titles.
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| text(h)).collect(),
            rows: Vec::new(),
        }
    }

    /// Add a row; missing cells are empty, extra cells are joined into the
    /// last column so nothing is lost and the shape holds.
    pub fn row<I, S>(&mut self, cells: I) -> &mut Table
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let n = self.header.len();
        let mut cells: Vec<String> = cells.into_iter().map(|c| cell_safe(&c.into())).collect();
        if cells.len() > n && n > 0 {
            let extra = cells.split_off(n - 1).join(" ");
            cells.push(extra);
        }
        cells.resize(n, String::new());
        self.rows.push(cells);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn render(&self) -> String {
        let line = |cells: &[String]| {
            let mut s = String::from("|");
            for c in cells {
                let _ = write!(s, " {c} |");
            }
            s.push('\n');
            s
        };
        let mut out = line(&self.header);
        out.push('|');
        for _ in &self.header {
            out.push_str("---|");
        }
        out.push('\n');
        for r in &self.rows {
            out.push_str(&line(r));
        }
        out.push('\n');
        out
    }
}

/// Last line of defence for a formatted cell: a raw newline would end the
/// row and an unescaped `|` would add a column.
fn cell_safe(c: &str) -> String {
    let mut out = String::with_capacity(c.len());
    let mut prev_backslash = false;
    for ch in c.chars() {
        match ch {
            '\n' => out.push_str("<br>"),
            '\r' => {}
            '|' if !prev_backslash => out.push_str("\\|"),
            _ => out.push(ch),
        }
        prev_backslash = ch == '\\' && !prev_backslash;
    }
    out
}

/// A bulleted list item (escaped text is the caller's choice).
pub fn bullet(s: &str) -> String {
    format!("- {s}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_escapes_markup() {
        assert_eq!(text("a|b<c>&d\ne"), "a\\|b&lt;c&gt;&amp;d<br>e");
        assert_eq!(text("*x_[y]*"), "\\*x\\_\\[y\\]\\*");
    }

    #[test]
    fn code_spans_survive_backticks_and_pipes() {
        assert_eq!(code("/nix"), "`/nix`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x"), "`` `x ``");
        assert_eq!(code("a|b"), "`a\\|b`");
    }

    #[test]
    fn fences_are_longer_than_content_runs() {
        let f = fence("text", "```\nx");
        assert!(f.starts_with("````text\n"));
        assert!(f.ends_with("\n````\n"));
    }

    #[test]
    fn tables_keep_their_shape() {
        let mut t = Table::new(&["a", "b"]);
        t.row(["1"]);
        t.row(["1", "2", "3"]);
        t.row(["x\ny", "p|q"]);
        let s = t.render();
        for l in s.lines().filter(|l| !l.is_empty()) {
            let cols = l.replace("\\|", "").matches('|').count();
            assert_eq!(cols, 3, "{l}");
        }
    }
}
