//! # Rule findings with their source snippet
//!
//! Shape errors come as a miette report from [`tabula_spec::SpecError`];
//! rule findings (check, and the warnings render, docs, plan and apply show)
//! get the same: the line of host.toml with the place marked, the message,
//! and the fix.

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteDiagnostic, NamedSource};
use tabula_spec::check::{Finding, Severity};

/// The byte span to mark for a finding at 1-based (line, column): from the
/// column to the end of the line's value, before a trailing `# comment`.
fn span_of(text: &str, line: usize, column: usize) -> Option<std::ops::Range<usize>> {
    let start_of_line = if line <= 1 {
        0
    } else {
        text.match_indices('\n').nth(line - 2).map(|(i, _)| i + 1)?
    };
    let rest = &text[start_of_line..];
    let line_text = rest.split('\n').next().unwrap_or_default();
    let col_byte = line_text
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(line_text.len(), |(i, _)| i);
    // The end: before a comment, or the `,`/`}` that ends this key of an
    // inline table, outside strings and brackets.
    let mut in_str = false;
    let mut depth = 0usize;
    let mut end = line_text.len();
    let mut prev_space = true;
    for (i, c) in line_text.char_indices().skip_while(|(i, _)| *i < col_byte) {
        match c {
            '"' | '\'' => in_str = !in_str,
            '#' if !in_str && prev_space => {
                end = i;
                break;
            }
            '[' | '{' if !in_str => depth += 1,
            ']' | '}' if !in_str && depth > 0 => depth -= 1,
            ',' | '}' if !in_str && depth == 0 => {
                end = i;
                break;
            }
            _ => {}
        }
        prev_space = c.is_whitespace();
    }
    let end = col_byte + line_text[col_byte..end.max(col_byte)].trim_end().len();
    Some(start_of_line + col_byte..start_of_line + end.max(col_byte + 1).min(line_text.len()))
}

/// One finding as a miette report: `name:line:col (at)`, the message with
/// its code, the line with the place marked, and the fix as help.
pub fn finding(name: &str, text: &str, f: &Finding, color: bool) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_wrap_lines(false);
    let mut place = match (f.line, f.column) {
        (Some(l), Some(c)) => format!("{name}:{l}:{c}"),
        _ => name.to_owned(),
    };
    if !f.at.is_empty() {
        place.push_str(&format!(" ({})", f.at));
    }
    let mut d = MietteDiagnostic::new(format!("[{}] {}", f.code, f.message)).with_severity(match f
        .severity
    {
        Severity::Error => miette::Severity::Error,
        Severity::Warning => miette::Severity::Warning,
        Severity::Info => miette::Severity::Advice,
    });
    if let Some(h) = &f.hint {
        d = d.with_help(format!("fix: {h}"));
    }
    let span = f
        .line
        .zip(f.column.or(Some(1)))
        .and_then(|(l, c)| span_of(text, l, c));
    // miette adds `:line:col` to the name itself.
    let (src_name, src, span) = match span {
        Some(span) => match tabula_spec::snippet(text, span.clone()) {
            Some(ex) => (
                format!(
                    "{name} (line {}, columns {}-{}, cut)",
                    f.line.unwrap_or(0),
                    ex.first_column,
                    ex.last_column
                ),
                ex.text,
                Some(ex.span),
            ),
            None => (name.to_owned(), text.to_owned(), Some(span)),
        },
        None => (name.to_owned(), String::new(), None),
    };
    let label = if f.at.is_empty() {
        "here".to_owned()
    } else {
        f.at.clone()
    };
    let mut out = String::new();
    let rendered = match span {
        Some(span) => {
            let d = d.with_label(LabeledSpan::at(span, label));
            let report = miette::Report::new(d).with_source_code(NamedSource::new(src_name, src));
            handler.render_report(&mut out, report.as_ref())
        }
        None => {
            // No place in the file: the message names where (`at`).
            let d = MietteDiagnostic {
                message: format!("{place}: {}", d.message),
                ..d
            };
            let report = miette::Report::new(d);
            handler.render_report(&mut out, report.as_ref())
        }
    };
    if rendered.is_err() {
        out = format!("{place}: [{}] {}\n", f.code, f.message);
        if let Some(h) = &f.hint {
            out.push_str(&format!("  fix: {h}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[test]
    fn the_span_stops_before_a_comment_and_stays_on_its_line() {
        let text = "a = 1\nsize = \"5GB\"   # a # comment\nb = 2\n";
        let s = span_of(text, 2, 1).unwrap();
        assert_eq!(&text[s], "size = \"5GB\"");
        let s = span_of(text, 2, 8).unwrap();
        assert_eq!(&text[s], "\"5GB\"");
        let text = "x = \"a # not a comment\"\n";
        let s = span_of(text, 1, 1).unwrap();
        assert_eq!(&text[s], "x = \"a # not a comment\"");
        assert!(span_of(text, 9, 1).is_none());
        let text = "fs = { type = \"vfat\", uuid = \"2CE0-67\", label = \"ESP\" }\n";
        let s = span_of(text, 1, text.find("uuid").unwrap() + 1).unwrap();
        assert_eq!(&text[s], "uuid = \"2CE0-67\"");
        let text = "groups = [\"a\", \"b\"] # x\n";
        let s = span_of(text, 1, 1).unwrap();
        assert_eq!(&text[s], "groups = [\"a\", \"b\"]");
    }
}
