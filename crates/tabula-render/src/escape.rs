//! # Escaping for the formats other than Nix
//!
//! - `.desktop` files (freedesktop Desktop Entry Specification 1.5): the
//!   quoting rules of `Exec` arguments, then the general escape rule of
//!   string values (applied on top, so a literal backslash in a quoted
//!   argument becomes four backslashes in the file), `%` doubled;
//! - GRUB script words (menu entry titles, chain-loader paths): single
//!   quotes, a quote written `'\''` as in sh;
//! - mount options: a `,` separates options, so an option with one (or with
//!   whitespace or a control character, which fstab cannot hold as is) is
//!   refused rather than escaped;
//! - distrobox.ini values (double-quoted, shell-inert characters only) and
//!   sh words.

/// Characters that force an `Exec` argument into double quotes.
const EXEC_RESERVED: &[char] = &[
    ' ', '\t', '\n', '"', '\'', '\\', '>', '<', '~', '|', '&', ';', '$', '*', '?', '#', '(', ')',
    '`',
];

/// Whether an `Exec` argument must be written in double quotes.
pub fn exec_needs_quotes(arg: &str) -> bool {
    arg.is_empty() || arg.contains(EXEC_RESERVED)
}

/// The characters of an `Exec` argument (without the surrounding quotes):
/// `%` doubled; inside quotes `"`, `` ` ``, `$` and `\` backslash-escaped.
pub fn exec_arg_body(arg: &str, quoted: bool) -> String {
    let mut body = String::with_capacity(arg.len());
    for c in arg.chars() {
        match c {
            '%' => body.push_str("%%"),
            '"' | '`' | '$' | '\\' if quoted => {
                body.push('\\');
                body.push(c);
            }
            c => body.push(c),
        }
    }
    body
}

/// One `Exec` argument, quoted per the spec when it needs it, *before* the
/// general string escape ([`desktop_string`]) is applied to the whole line.
pub fn exec_arg(arg: &str) -> String {
    let quoted = exec_needs_quotes(arg);
    let body = exec_arg_body(arg, quoted);
    if quoted {
        format!("\"{body}\"")
    } else {
        body
    }
}

/// The general escape rule for `string`/`localestring` values: `\\`, `\n`,
/// `\t`, `\r`, and `\s` for a leading space (which readers would trim).
pub fn desktop_string(value: &str) -> String {
    match value.strip_prefix(' ') {
        Some(rest) => format!("\\s{}", desktop_string_inner(rest)),
        None => desktop_string_inner(value),
    }
}

/// [`desktop_string`] for text that does not start the value (no `\s`).
pub fn desktop_string_inner(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// One element of a `;`-separated list value (`DesktopNames`).
pub fn desktop_list_item(value: &str) -> String {
    desktop_string(value).replace(';', "\\;")
}

/// Undo [`desktop_string`] (for tests and for reading a rendered entry back).
pub fn desktop_unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('s') => out.push(' '),
            Some('\\') => out.push('\\'),
            Some(';') => out.push(';'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// A GRUB script word: single-quoted; `'` closes, is escaped, and reopens.
pub fn grub_word(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// A POSIX sh word, single-quoted the same way.
pub fn sh_word(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// Why a value cannot be a mount option.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MountOptionError(pub &'static str);

/// A mount option as written in `fileSystems.<path>.options`, or why it
/// cannot be one ([`tabula_spec::landing::mount_option_problem`]: no `,`,
/// quote, backslash, whitespace, control or non-ASCII character).
///
/// # Errors
/// [`MountOptionError`] with the reason.
pub fn mount_option(opt: &str) -> Result<&str, MountOptionError> {
    match tabula_spec::landing::mount_option_problem(opt) {
        Some(why) => Err(MountOptionError(why)),
        None => Ok(opt),
    }
}

/// A value in distrobox.ini, double-quoted: `"value"`.
///
/// `distrobox assemble` writes each `key=value` line to a file it sources
/// (so the quotes are removed there, as sh removes them), then pastes the
/// value into a command line that it `eval`s. Only words made of
/// shell-inert characters ([`tabula_spec::landing::shell_inert`], and
/// single spaces between words for lists) survive both unchanged and run
/// nothing; anything else is refused.
///
/// # Errors
/// [`crate::RenderError`] naming `at` when the value holds anything else.
pub fn ini_value(
    at: tabula_spec::KeyPath,
    value: &str,
    context: &'static str,
) -> Result<String, crate::RenderError> {
    let ok = !value.is_empty()
        && value
            .split(' ')
            .all(|w| !w.is_empty() && tabula_spec::landing::shell_inert(w));
    if ok {
        Ok(format!("\"{value}\""))
    } else {
        Err(crate::RenderError::bad(
            at,
            value,
            context,
            "distrobox assemble evaluates distrobox.ini values in a shell: only letters, digits and `. _ - : / @ +` can be written",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_args_are_quoted_only_when_needed() {
        assert_eq!(exec_arg("--kiosk"), "--kiosk");
        assert_eq!(exec_arg("show-full-ui"), "show-full-ui");
        assert_eq!(exec_arg("a b"), "\"a b\"");
        assert_eq!(exec_arg(""), "\"\"");
        assert_eq!(exec_arg("say \"hi\""), r#""say \"hi\"""#);
        assert_eq!(exec_arg("$HOME"), r#""\$HOME""#);
        assert_eq!(exec_arg("a`b"), r#""a\`b""#);
        assert_eq!(exec_arg(r"a\b"), r#""a\\b""#);
        assert_eq!(exec_arg("100%"), "100%%");
        assert_eq!(exec_arg("--url=x"), "--url=x");
    }

    #[test]
    fn backslash_in_quoted_arg_is_four_in_the_file() {
        // The spec's own example: the general escape rule applies on top.
        let line = desktop_string(&exec_arg(r"a\b"));
        assert_eq!(line, r#""a\\\\b""#);
    }

    #[test]
    fn desktop_string_escapes_and_round_trips() {
        assert_eq!(desktop_string(" lead"), "\\slead");
        assert_eq!(desktop_string("a\nb\\c\td\re"), "a\\nb\\\\c\\td\\re");
        for s in [" lead", "a\nb\\c\td", "x\\", "\\s", "plain", "a;b"] {
            assert_eq!(desktop_unescape(&desktop_string(s)), s, "{s:?}");
        }
        assert_eq!(desktop_list_item("a;b"), "a\\;b");
        assert_eq!(desktop_unescape(&desktop_list_item("a;b")), "a;b");
    }

    #[test]
    fn grub_words_are_single_quoted() {
        assert_eq!(grub_word("Windows 11"), "'Windows 11'");
        assert_eq!(grub_word("Bob's $OS {x}"), "'Bob'\\''s $OS {x}'");
        assert_eq!(sh_word("it's"), "'it'\\''s'");
    }

    #[test]
    fn mount_options_with_separators_are_refused() {
        assert_eq!(mount_option("umask=0077"), Ok("umask=0077"));
        for bad in ["a,b", "a b", "a\nb", "", "mode=\"755", "a\\b"] {
            assert!(mount_option(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ini_values() {
        let at = tabula_spec::KeyPath::root();
        assert_eq!(
            ini_value(at.clone(), "quay.io/toolbx/arch-toolbox:latest", "x").unwrap(),
            "\"quay.io/toolbx/arch-toolbox:latest\""
        );
        assert_eq!(
            ini_value(at.clone(), "git vim", "x").unwrap(),
            "\"git vim\""
        );
        for bad in [
            "a b ", "a  b", "a\"b", "", "a&&b", "{a,b}", "$(id)", "a`b`", "a;b", "a|b", "a>b", "~",
        ] {
            assert!(ini_value(at.clone(), bad, "x").is_err(), "{bad:?}");
        }
    }
}
