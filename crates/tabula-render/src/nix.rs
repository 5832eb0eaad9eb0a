//! # A small Nix writer: values to Nix text
//!
//! Every rendered `.nix` file is built as an [`Expr`] tree and printed here,
//! so escaping lives in one place: user strings become Nix string literals
//! (`"`, `\`, `$` and control characters escaped), attribute names that are
//! not plain identifiers are quoted, and the output is deterministic (the
//! order is the order the renderer built, which never depends on a hash).
//!
//! Trusted fragments written by tabula itself (`pkgs.cage`, `lib.mkForce`)
//! are [`Expr::Raw`]; user text never goes into `Raw`.

use std::fmt::Write as _;

/// A Nix expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Null,
    Bool(bool),
    Int(i64),
    /// A double-quoted string with interpolations.
    Str(Vec<Part>),
    /// Code written by tabula (never user text).
    Raw(String),
    /// `base.a."b c"`: an attribute selected by names that may need quoting.
    Select(Box<Expr>, Vec<String>),
    List(Vec<Expr>),
    /// `{ a.b = v; }`, in this order.
    Attrs(Vec<Binding>),
    /// `f a b` (arguments parenthesised when they need it).
    Apply(Box<Expr>, Vec<Expr>),
    /// `arg: body`.
    Lambda(String, Box<Expr>),
    /// An expression with a `# comment` after it (as a list item).
    Commented(String, Box<Expr>),
    /// `(e)`.
    Paren(Box<Expr>),
    /// `a // b`.
    Update(Box<Expr>, Box<Expr>),
}

/// A piece of a string literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Lit(String),
    Interp(Expr),
}

/// `path = value;` in an attribute set, with an optional comment above it.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    pub path: Vec<String>,
    pub value: Expr,
    pub comment: Option<String>,
}

/// A plain string.
pub fn s(text: impl Into<String>) -> Expr {
    Expr::Str(vec![Part::Lit(text.into())])
}

/// Trusted code.
pub fn raw(code: impl Into<String>) -> Expr {
    Expr::Raw(code.into())
}

/// `pkgs.<name>` for a nixpkgs attribute path written as `a.b` (each
/// component quoted when needed).
pub fn pkg(attr: &str) -> Expr {
    Expr::Select(
        Box::new(raw("pkgs")),
        attr.split('.').map(str::to_owned).collect(),
    )
}

pub fn list(items: impl IntoIterator<Item = Expr>) -> Expr {
    Expr::List(items.into_iter().collect())
}

pub fn strs<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Expr {
    list(items.into_iter().map(|x| s(x.as_ref())))
}

pub fn apply(f: &str, args: impl IntoIterator<Item = Expr>) -> Expr {
    Expr::Apply(Box::new(raw(f)), args.into_iter().collect())
}

/// `lib.mkForce v`.
pub fn force(v: Expr) -> Expr {
    apply("lib.mkForce", [v])
}

/// Builds an attribute set binding by binding.
#[derive(Debug, Default, Clone)]
pub struct AttrsBuilder(Vec<Binding>);

impl AttrsBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// `path = value;` where `path` is dotted tabula-written option path
    /// (`services.openssh.enable`); components never come from user text.
    pub fn set(&mut self, path: &str, value: Expr) -> &mut Self {
        self.0.push(Binding {
            path: path.split('.').map(str::to_owned).collect(),
            value,
            comment: None,
        });
        self
    }

    /// `a."user text".b = value;`: components given one by one (may need quoting).
    pub fn set_path(&mut self, path: Vec<String>, value: Expr) -> &mut Self {
        self.0.push(Binding {
            path,
            value,
            comment: None,
        });
        self
    }

    /// Adds a comment above the last binding.
    pub fn comment(&mut self, text: impl Into<String>) -> &mut Self {
        if let Some(b) = self.0.last_mut() {
            b.comment = Some(text.into());
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn build(self) -> Expr {
        Expr::Attrs(self.0)
    }
}

/// Nix keywords: an attribute named like one must be quoted.
const KEYWORDS: [&str; 10] = [
    "if", "then", "else", "assert", "with", "let", "in", "rec", "inherit", "or",
];

/// Whether `name` can be written bare as an attribute name.
pub fn is_ident(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '\'' | '-'))
        && !KEYWORDS.contains(&name)
}

/// An attribute name, quoted when it is not a plain identifier.
pub fn attr_name(name: &str) -> String {
    if is_ident(name) {
        name.to_owned()
    } else {
        quote(name)
    }
}

/// The body of a `"..."` literal for `text` (without the quotes).
///
/// `$` is always escaped (`\$`), so neither `${` nor the `$${` quirk can
/// start an interpolation, whatever follows the literal.
pub fn escape_str(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '$' => out.push_str("\\$"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out
}

/// A complete `"..."` literal for `text`.
pub fn quote(text: &str) -> String {
    format!("\"{}\"", escape_str(text))
}

/// Text for a `# comment`: one line; `\` and control characters escaped so
/// that [`comment_untext`] gives the original back.
pub fn comment_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// The inverse of [`comment_text`].
pub fn comment_untext(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('u') => {
                let hex: String = chars
                    .by_ref()
                    .skip_while(|c| *c == '{')
                    .take_while(|c| *c != '}')
                    .collect();
                if let Some(c) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    out.push(c);
                }
            }
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

impl Expr {
    /// Print with `indent` levels of two spaces for continuation lines.
    pub fn print(&self, indent: usize) -> String {
        let mut out = String::new();
        self.write(&mut out, indent);
        out
    }

    fn is_atomic(&self) -> bool {
        !matches!(
            self,
            Expr::Apply(..) | Expr::Lambda(..) | Expr::Commented(..) | Expr::Update(..)
        ) && !matches!(self, Expr::Raw(r) if r.contains(' '))
    }

    fn write(&self, out: &mut String, indent: usize) {
        match self {
            Expr::Null => out.push_str("null"),
            Expr::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Expr::Int(i) => {
                if *i < 0 {
                    // `-1` as an argument would parse as subtraction.
                    let _ = write!(out, "({i})");
                } else {
                    let _ = write!(out, "{i}");
                }
            }
            Expr::Str(parts) => write_str(parts, out, indent),
            Expr::Raw(r) => out.push_str(r),
            Expr::Select(base, names) => {
                base.write(out, indent);
                for n in names {
                    out.push('.');
                    out.push_str(&attr_name(n));
                }
            }
            Expr::List(items) => write_list(items, out, indent),
            Expr::Attrs(bindings) => write_attrs(bindings, out, indent),
            Expr::Apply(f, args) => {
                f.write(out, indent);
                for a in args {
                    out.push(' ');
                    a.write_operand(out, indent);
                }
            }
            Expr::Lambda(arg, body) => {
                out.push_str(arg);
                out.push_str(": ");
                body.write(out, indent);
            }
            // A comment is printed by the list that holds the item; elsewhere
            // only the value is written.
            Expr::Commented(_, e) => e.write(out, indent),
            Expr::Paren(e) => {
                out.push('(');
                e.write(out, indent);
                out.push(')');
            }
            Expr::Update(a, b) => {
                for (i, e) in [a, b].into_iter().enumerate() {
                    if i == 1 {
                        out.push_str(" // ");
                    }
                    e.write_operand(out, indent);
                }
            }
        }
    }

    /// An argument or list item: as is when atomic, else in parentheses.
    fn write_operand(&self, out: &mut String, indent: usize) {
        if self.is_atomic() {
            self.write(out, indent);
        } else {
            out.push('(');
            self.write(out, indent);
            out.push(')');
        }
    }
}

/// A string with its interpolations.
fn write_str(parts: &[Part], out: &mut String, indent: usize) {
    out.push('"');
    for p in parts {
        match p {
            Part::Lit(t) => out.push_str(&escape_str(t)),
            Part::Interp(e) => {
                out.push_str("${");
                e.write(out, indent);
                out.push('}');
            }
        }
    }
    out.push('"');
}

/// A list: on one line when short and atomic, else one item per line
/// (with its comment).
fn write_list(items: &[Expr], out: &mut String, indent: usize) {
    let pad = "  ".repeat(indent);
    if items.is_empty() {
        out.push_str("[ ]");
        return;
    }
    let short = items.len() <= 4
        && items
            .iter()
            .all(|i| i.is_atomic() && !matches!(i, Expr::Attrs(_) | Expr::List(_)));
    let one_line = short && {
        let mut t = String::new();
        for i in items {
            i.write(&mut t, 0);
        }
        t.len() < 60
    };
    if one_line {
        out.push_str("[ ");
        for i in items {
            i.write(out, indent);
            out.push(' ');
        }
        out.push(']');
    } else {
        out.push_str("[\n");
        for i in items {
            out.push_str(&pad);
            out.push_str("  ");
            let (item, note) = match i {
                Expr::Commented(c, e) => (e.as_ref(), Some(c)),
                other => (other, None),
            };
            item.write_operand(out, indent + 1);
            if let Some(c) = note {
                let _ = write!(out, " # {}", comment_text(c));
            }
            out.push('\n');
        }
        out.push_str(&pad);
        out.push(']');
    }
}

/// An attribute set, one binding per line (with its comment).
fn write_attrs(bindings: &[Binding], out: &mut String, indent: usize) {
    let pad = "  ".repeat(indent);
    if bindings.is_empty() {
        out.push_str("{ }");
        return;
    }
    out.push_str("{\n");
    for b in bindings {
        if let Some(c) = &b.comment {
            let _ = writeln!(out, "{pad}  # {}", comment_text(c));
        }
        out.push_str(&pad);
        out.push_str("  ");
        let names: Vec<String> = b.path.iter().map(|n| attr_name(n)).collect();
        out.push_str(&names.join("."));
        out.push_str(" = ");
        b.value.write(out, indent + 1);
        out.push_str(";\n");
    }
    out.push_str(&pad);
    out.push('}');
}

/// A NixOS module file: `{ <args>, ... }:` then the attribute set, with a
/// header comment.
pub fn module(header: &str, args: &[&str], lets: &[(&str, Expr)], body: Expr) -> String {
    let mut out = String::new();
    for line in header.lines() {
        let _ = writeln!(out, "# {}", comment_text(line));
    }
    let mut a: Vec<&str> = args.to_vec();
    a.push("...");
    let _ = writeln!(out, "{{ {} }}:", a.join(", "));
    if !lets.is_empty() {
        out.push_str("let\n");
        for (name, e) in lets {
            let _ = writeln!(out, "  {} = {};", attr_name(name), e.print(1));
        }
        out.push_str("in\n");
    }
    out.push_str(&body.print(0));
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_nix_string_specials() {
        assert_eq!(quote(r#"a"b"#), r#""a\"b""#);
        assert_eq!(quote(r"a\b"), r#""a\\b""#);
        assert_eq!(quote("${x}"), r#""\${x}""#);
        assert_eq!(quote("$${x}"), r#""\$\${x}""#);
        assert_eq!(quote("a$"), r#""a\$""#);
        assert_eq!(quote("l1\nl2\t\r"), r#""l1\nl2\t\r""#);
        assert_eq!(quote("''"), r#""''""#);
        assert_eq!(quote("ünï"), "\"ünï\"");
    }

    #[test]
    fn quotes_attribute_names_only_when_needed() {
        assert_eq!(attr_name("enable"), "enable");
        assert_eq!(attr_name("ssh_host-key'"), "ssh_host-key'");
        assert_eq!(attr_name("/"), r#""/""#);
        assert_eq!(attr_name("/var/lib"), r#""/var/lib""#);
        assert_eq!(attr_name("1abc"), r#""1abc""#);
        assert_eq!(attr_name("in"), r#""in""#);
        assert_eq!(attr_name("or"), r#""or""#);
        assert_eq!(attr_name(""), r#""""#);
        assert_eq!(attr_name("a.b"), r#""a.b""#);
        assert_eq!(attr_name("${x}"), r#""\${x}""#);
    }

    #[test]
    fn interpolation_after_dollar_is_not_the_quirk() {
        let e = Expr::Str(vec![Part::Lit("a$".into()), Part::Interp(raw("pkgs.cage"))]);
        assert_eq!(e.print(0), r#""a\$${pkgs.cage}""#);
    }

    #[test]
    fn prints_lists_and_attrsets_deterministically() {
        let mut b = AttrsBuilder::new();
        b.set("boot.initrd.systemd.enable", Expr::Bool(true));
        b.set_path(
            vec!["fileSystems".into(), "/nix".into(), "options".into()],
            strs(["subvol=@system/nix", "compress=zstd"]),
        );
        b.comment("the store");
        b.set("users.mutableUsers", Expr::Bool(false));
        b.set("x", list([]));
        b.set("y", AttrsBuilder::new().build());
        b.set("z", force(s("v")));
        b.set("n", Expr::Int(-3));
        let text = b.build().print(0);
        expect_test::expect![[r#"
            {
              boot.initrd.systemd.enable = true;
              # the store
              fileSystems."/nix".options = [ "subvol=@system/nix" "compress=zstd" ];
              users.mutableUsers = false;
              x = [ ];
              y = { };
              z = lib.mkForce "v";
              n = (-3);
            }"#]]
        .assert_eq(&text);
    }

    #[test]
    fn long_lists_go_one_item_per_line_with_comments() {
        let l = list([
            Expr::Commented(
                "why: a note\nwith a newline".into(),
                Box::new(s("/etc/nixos")),
            ),
            s("/etc/machine-id"),
        ]);
        let text = l.print(0);
        assert!(text.contains("\"/etc/nixos\" # why: a note\\nwith a newline\n"));
        assert!(text.starts_with("[\n"));
    }

    #[test]
    fn comments_round_trip() {
        for c in [
            "plain",
            "a\nb",
            "back\\slash \\n",
            "\u{1}\u{7f}\r\t",
            "ü # x",
        ] {
            let t = comment_text(c);
            assert!(!t.contains(['\n', '\r']), "{t:?}");
            assert_eq!(comment_untext(&t), c);
        }
    }

    #[test]
    fn package_names_are_quoted_when_needed() {
        assert_eq!(
            pkg("kdePackages.ksshaskpass").print(0),
            "pkgs.kdePackages.ksshaskpass"
        );
        assert_eq!(pkg("my pkg").print(0), r#"pkgs."my pkg""#);
    }
}
