//! # tabula-spec: host.toml → a validated [`HostSpec`]
//!
//! Pure: no process is started and no disk is touched here.
//!
//! - [`raw`]: the file as written (serde, unknown keys denied);
//! - [`model`]: the validated spec every other crate reads;
//! - [`check`]: the rules, each with a stable code, a severity, a place in
//!   host.toml and a fix hint;
//! - [`embedded`]: the hosts compiled into the binary (the document's
//!   Surface Pro 8 is the default);
//! - [`locate`]: from a key path (`partition[4].size`) to line and column;
//! - [`edit`]: the edits other commands make to host.toml's text (`tabula
//!   place`), comments and layout kept;
//! - [`size`]: the one size grammar (spec sizes, tmpfs sizes) and the one
//!   byte formatter (binary units) of the workspace.

pub mod check;
pub mod date;
pub mod deploy;
pub mod edit;
pub mod embedded;
pub mod fleet;
pub mod landing;
pub mod locate;
pub mod model;
pub mod path;
pub mod raw;
pub mod release;
pub mod schema;
pub mod secrets_edit;
pub mod size;

use std::fmt;
use std::path::PathBuf;

pub use model::HostSpec;
pub use path::{AbsPath, RelPath};
pub use size::{Estimate, Size};

/// A place in host.toml, as keys and array indices (`mount[3].path`).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
#[serde(into = "String")]
pub struct KeyPath(Vec<Seg>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

impl KeyPath {
    pub fn root() -> Self {
        KeyPath(Vec::new())
    }

    pub fn key(&self, k: &str) -> Self {
        let mut v = self.0.clone();
        v.push(Seg::Key(k.to_owned()));
        KeyPath(v)
    }

    /// `key[i]`: an element of an array (of tables).
    pub fn index(&self, k: &str, i: usize) -> Self {
        let mut v = self.0.clone();
        v.push(Seg::Key(k.to_owned()));
        v.push(Seg::Index(i));
        KeyPath(v)
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in &self.0 {
            match s {
                Seg::Key(k) if first => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(i) => write!(f, "[{i}]")?,
            }
            first = false;
        }
        Ok(())
    }
}

impl From<KeyPath> for String {
    fn from(k: KeyPath) -> String {
        k.to_string()
    }
}

/// One thing wrong with the spec's shape.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Problem {
    pub at: KeyPath,
    pub message: String,
    pub hint: Option<String>,
}

/// Where a spec was read from.
#[derive(Debug, Clone)]
pub enum SpecSource {
    File(PathBuf),
    Embedded(&'static embedded::EmbeddedHost),
    /// Text given directly (tests, stdin).
    Text {
        name: String,
        text: String,
    },
}

impl fmt::Display for SpecSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecSource::File(p) => write!(f, "{}", p.display()),
            SpecSource::Embedded(h) => write!(f, "the embedded host `{}`", h.name),
            SpecSource::Text { name, .. } => f.write_str(name),
        }
    }
}

/// A spec that could not be read or has the wrong shape: every problem, with
/// its place.
#[derive(Debug, thiserror::Error)]
pub struct SpecError {
    pub source_name: String,
    pub text: String,
    pub problems: Vec<LocatedProblem>,
}

/// A problem with its resolved location.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LocatedProblem {
    #[serde(flatten)]
    pub problem: Problem,
    /// Byte range in the source, when it could be resolved.
    #[serde(skip)]
    pub span: Option<std::ops::Range<usize>>,
    pub line: Option<usize>,
    pub column: Option<usize>,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "{} has {n} problem{}",
            self.source_name,
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(f, "\n  {}", self.place(p))?;
            write!(f, ": {}", p.problem.message)?;
            if let Some(h) = &p.problem.hint {
                write!(f, " (hint: {h})")?;
            }
        }
        Ok(())
    }
}

impl SpecError {
    fn place(&self, p: &LocatedProblem) -> String {
        let mut s = self.source_name.clone();
        if let (Some(l), Some(c)) = (p.line, p.column) {
            s.push_str(&format!(":{l}:{c}"));
        }
        if !p.problem.at.is_root() {
            s.push_str(&format!(" ({})", p.problem.at));
        }
        s
    }

    /// A report with the source snippet under each problem (miette), for a
    /// terminal. `color` is the caller's decision (the binary follows
    /// NO_COLOR and whether stderr is a terminal); this crate reads neither.
    pub fn render_report(&self, color: bool) -> String {
        use miette::{
            GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteDiagnostic, NamedSource,
        };
        let theme = if color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let handler = GraphicalReportHandler::new_themed(theme).with_width(100);
        let mut out = String::new();
        for p in &self.problems {
            let mut d = MietteDiagnostic::new(format!("{}: {}", self.place(p), p.problem.message));
            if let Some(h) = &p.problem.hint {
                d = d.with_help(h.clone());
            }
            let (name, text, span) = match &p.span {
                Some(span) => match snippet(&self.text, span.clone()) {
                    Some(ex) => (
                        format!(
                            "{} (line {}, columns {}-{}, cut)",
                            self.source_name,
                            p.line.unwrap_or(0),
                            ex.first_column,
                            ex.last_column
                        ),
                        ex.text,
                        Some(ex.span),
                    ),
                    None => (
                        self.source_name.clone(),
                        self.text.clone(),
                        Some(span.clone()),
                    ),
                },
                None => (self.source_name.clone(), self.text.clone(), None),
            };
            if let Some(span) = span {
                d = d.with_label(LabeledSpan::at(span, "here"));
            }
            let report = miette::Report::new(d).with_source_code(NamedSource::new(name, text));
            let mut one = String::new();
            if handler.render_report(&mut one, report.as_ref()).is_err() {
                one = format!("{}: {}\n", self.place(p), p.problem.message);
            }
            out.push_str(&one);
        }
        let n = self.problems.len();
        out.push_str(&format!(
            "{} has {n} problem{}: fix {} and run the command again.\n",
            self.source_name,
            if n == 1 { "" } else { "s" },
            if n == 1 { "it" } else { "them" }
        ));
        out
    }
}

/// Lines longer than this are cut around the problem in a report: miette's
/// graphical handler cannot draw columns past 65535 (it panics), and a line
/// wider than a few screens says nothing anyway.
pub const SNIPPET_LINE_MAX: usize = 240;

/// Bytes of context kept on each side of the problem in a cut line.
const SNIPPET_WINDOW: usize = 60;

/// The problem's line cut around it, when it (or a line next to it, which
/// miette also draws) is longer than [`SNIPPET_LINE_MAX`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excerpt {
    /// The cut line, `…` where something was left out.
    pub text: String,
    /// The problem's span inside `text`.
    pub span: std::ops::Range<usize>,
    /// The 1-based columns (in characters) of the original line shown.
    pub first_column: usize,
    pub last_column: usize,
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// `None` when the lines around `span` are short enough to show as they are.
pub fn snippet(text: &str, span: std::ops::Range<usize>) -> Option<Excerpt> {
    let start = floor_boundary(text, span.start);
    let end = ceil_boundary(text, span.end.max(start));
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let prev_len = text[..line_start.saturating_sub(1)]
        .rsplit('\n')
        .next()
        .map_or(0, str::len);
    let next_len = text
        .get(line_end + 1..)
        .and_then(|t| t.split('\n').next())
        .map_or(0, str::len);
    if line_end - line_start <= SNIPPET_LINE_MAX
        && prev_len <= SNIPPET_LINE_MAX
        && next_len <= SNIPPET_LINE_MAX
    {
        return None;
    }
    let from = floor_boundary(text, start.saturating_sub(SNIPPET_WINDOW).max(line_start));
    let span_end = end.min(line_end).min(start + SNIPPET_WINDOW);
    let span_end = ceil_boundary(text, span_end.max(start));
    let to = ceil_boundary(text, (span_end + SNIPPET_WINDOW).min(line_end));
    let mut out = String::new();
    if from > line_start {
        out.push('…');
    }
    let offset = out.len();
    out.push_str(&text[from..to]);
    if to < line_end {
        out.push('…');
    }
    let first_column = text[line_start..from].chars().count() + 1;
    Some(Excerpt {
        span: (start - from + offset)..(span_end - from + offset),
        first_column,
        last_column: first_column + text[from..to].chars().count().saturating_sub(1),
        text: out,
    })
}

/// A loaded spec with what is needed to point at places in it.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub spec: HostSpec,
    pub source_name: String,
    pub text: String,
    pub locator: locate::Locator,
}

impl Loaded {
    /// Line and column (1-based) of a key path, or of its nearest ancestor.
    pub fn line_col(&self, at: &KeyPath) -> Option<(usize, usize)> {
        self.locator.line_col(at)
    }
}

/// Read and validate a spec.
///
/// # Errors
/// [`SpecError`] with every problem found, each with its place.
pub fn load(source: &SpecSource) -> Result<Loaded, SpecError> {
    let (name, text) = match source {
        SpecSource::File(p) => {
            let name = p.display().to_string();
            match std::fs::read_to_string(p) {
                Ok(t) => (name, t),
                Err(e) => {
                    return Err(SpecError {
                        source_name: name,
                        text: String::new(),
                        problems: vec![LocatedProblem {
                        problem: Problem {
                            at: KeyPath::root(),
                            message: format!("cannot read the file: {e}"),
                            hint: Some(
                                "give an existing file with --spec, or run `tabula init host.toml`"
                                    .into(),
                            ),
                        },
                        span: None,
                        line: None,
                        column: None,
                    }],
                    })
                }
            }
        }
        SpecSource::Embedded(h) => (format!("{}.toml (embedded)", h.name), h.toml.to_owned()),
        SpecSource::Text { name, text } => (name.clone(), text.clone()),
    };
    parse(&name, &text)
}

/// Parse and validate spec text.
///
/// # Errors
/// [`SpecError`] with every problem found, each with its place.
pub fn parse(name: &str, text: &str) -> Result<Loaded, SpecError> {
    let locator = locate::Locator::new(text);
    let fail = |problems: Vec<Problem>, spans: Vec<Option<std::ops::Range<usize>>>| {
        let problems = problems
            .into_iter()
            .zip(spans)
            .map(|(problem, span)| {
                let span = span.or_else(|| locator.span(&problem.at));
                let (line, column) = match &span {
                    Some(s) => {
                        let (l, c) = locate::line_col(text, s.start);
                        (Some(l), Some(c))
                    }
                    None => (None, None),
                };
                LocatedProblem {
                    problem,
                    span,
                    line,
                    column,
                }
            })
            .collect();
        SpecError {
            source_name: name.to_owned(),
            text: text.to_owned(),
            problems,
        }
    };
    let raw: raw::RawSpec = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            let (message, hint) = explain_toml_error(e.message());
            return Err(fail(
                vec![Problem {
                    at: KeyPath::root(),
                    message,
                    hint,
                }],
                vec![e.span()],
            ));
        }
    };
    match HostSpec::from_raw(&raw) {
        Ok(spec) => Ok(Loaded {
            spec,
            source_name: name.to_owned(),
            text: text.to_owned(),
            locator,
        }),
        Err(problems) => {
            let n = problems.len();
            Err(fail(problems, vec![None; n]))
        }
    }
}

/// Turn serde's message into one sentence and a hint (did-you-mean for an
/// unknown key).
fn explain_toml_error(msg: &str) -> (String, Option<String>) {
    let msg = msg.trim().to_owned();
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        if let Some((field, expected)) = rest.split_once('`') {
            let known: Vec<&str> = expected
                .split('`')
                .enumerate()
                .filter(|(i, _)| i % 2 == 1)
                .map(|(_, s)| s)
                .collect();
            let hint = match did_you_mean(field, &known) {
                Some(s) => format!("did you mean `{s}`? (known keys: {})", known.join(", ")),
                None => format!("known keys here: {}", known.join(", ")),
            };
            return (format!("unknown key `{field}`"), Some(hint));
        }
    }
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        return (
            format!("missing key `{field}`"),
            Some(format!(
                "add `{field} = ...` to this table (see `tabula schema`)"
            )),
        );
    }
    if let Some(rest) = msg.strip_prefix("invalid type: ") {
        if let Some((found, expected)) = rest.rsplit_once(", expected ") {
            return explain_type(found, expected);
        }
        return (
            msg,
            Some("check the value's type: strings need quotes, lists need [ ]".into()),
        );
    }
    (msg, None)
}

/// serde's "invalid type: string \"10s\", expected u32" in user words.
fn explain_type(found: &str, expected: &str) -> (String, Option<String>) {
    let wanted = match expected.trim() {
        "u8" => "a whole number from 0 to 255",
        "u16" => "a whole number from 0 to 65535",
        "u32" | "u64" | "usize" => "a whole number (0 or more)",
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number",
        "a boolean" => "true or false",
        "a string" => "a text in double quotes",
        "a sequence" => "a list in [ ]",
        e if e.starts_with("struct ") || e == "a map" => "a table",
        _ => "",
    };
    let (what, value) = match found.split_once(' ') {
        Some(("string", v)) => ("the text", v),
        Some(("integer", v)) => ("the number", v),
        Some(("floating", v)) => ("the number", v.trim_start_matches("point ")),
        Some(("boolean", v)) => ("", v),
        _ => ("", found),
    };
    let shown = if what.is_empty() {
        value.to_owned()
    } else {
        format!("{what} {value}")
    };
    if wanted.is_empty() {
        return (
            format!("{shown} is not the kind of value this key takes ({expected})"),
            Some("check the value's type: strings need quotes, lists need [ ]".into()),
        );
    }
    let hint = if wanted.contains("whole number") && what == "the text" {
        let digits: String = value
            .trim_matches('"')
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if digits.is_empty() {
            "write a number without quotes".to_owned()
        } else {
            format!("write the number without quotes or a unit: {digits}")
        }
    } else if wanted == "a text in double quotes" {
        format!("put it in quotes: \"{}\"", value.trim_matches('"'))
    } else if wanted == "true or false" {
        "write true or false, without quotes".to_owned()
    } else {
        "check the value's type: strings need quotes, lists need [ ]".to_owned()
    };
    (format!("expected {wanted} here, found {shown}"), Some(hint))
}

/// The closest of `known` to `word`, when it is close enough to be a typo.
pub fn did_you_mean<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(word, k), *k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// The JSON Schema of host.toml, for editors (taplo, Even Better TOML).
/// See [`schema::host_schema`].
///
/// # Errors
/// When a constrained property is missing from the raw types.
pub fn json_schema() -> Result<serde_json::Value, String> {
    schema::host_schema()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The colour decision is the caller's: the same error renders with
    /// escapes when asked and without when not, whatever NO_COLOR and the
    /// terminal say (a test's stderr is no terminal).
    #[test]
    fn render_report_colours_only_when_told() {
        let e = parse("c.toml", "[host]\nram = \"8 gigs\"\n").unwrap_err();
        let plain = e.render_report(false);
        let colored = e.render_report(true);
        assert!(!plain.contains('\u{1b}'), "{plain}");
        assert!(colored.contains('\u{1b}'), "{colored}");
        assert!(plain.contains("c.toml has"), "{plain}");
    }

    #[test]
    fn key_paths_print_like_jq() {
        let k = KeyPath::root().index("partition", 4).key("size");
        assert_eq!(k.to_string(), "partition[4].size");
    }

    #[test]
    fn long_lines_are_cut_around_the_problem_on_char_boundaries() {
        assert_eq!(snippet("a = 1\nb = 2\n", 4..5), None);
        for filler in ["a", "é", "😀"] {
            let line = format!("x = \"{}\" junk", filler.repeat(70_000));
            let text = format!("short = 1\n{line}\nend = 2\n");
            let at = text.find("junk").unwrap();
            let ex = snippet(&text, at..at + 4).unwrap();
            assert_eq!(&ex.text[ex.span.clone()], "junk", "{filler}");
            assert!(ex.text.starts_with('…') && ex.text.len() < 400, "{filler}");
            assert_eq!(ex.last_column, line.chars().count(), "{filler}");
            // A span past the end or inside a character does not panic.
            let _ = snippet(&text, text.len() + 5..text.len() + 9);
            let _ = snippet(&text, 12..13);
        }
        // A long neighbour line is cut too (miette draws it as context).
        let text = format!("bad\n{}\n", "z".repeat(70_000));
        assert!(snippet(&text, 0..3).is_some());
    }

    #[test]
    fn suggests_close_keys_only() {
        assert_eq!(did_you_mean("sise", &["size", "label"]), Some("size"));
        assert_eq!(did_you_mean("zzz", &["size", "label"]), None);
    }
}
