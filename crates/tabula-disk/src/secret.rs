//! # Reading the passphrase
//!
//! From a file (`--passphrase-file`), from stdin (`--passphrase-stdin`) or
//! from a prompt on the terminal with echo off. The result is a
//! [`Secret`](crate::luks::Secret): it only ever reaches cryptsetup on stdin.

use std::io::{BufRead as _, Read as _, Write as _};
use std::path::Path;

use rustix::termios::{tcgetattr, tcsetattr, LocalModes, OptionalActions};

use crate::luks::Secret;
use crate::{Error, Result};

/// Read the passphrase from a file (one trailing newline dropped). Warns
/// when the file is readable by group or others.
///
/// # Errors
/// [`Error::Usage`] when there is no such file or it is a directory (the
/// command line names something else; a pipe such as `<(...)` is read), an
/// I/O error when it cannot be read, or [`validate`] refuses what it holds.
pub fn from_file(path: &Path) -> Result<Secret> {
    use std::os::unix::fs::PermissionsExt as _;
    let usage = |what: &str| {
        Error::Usage(format!(
            "--passphrase-file {}: {what} (give a file that holds the LUKS passphrase, or --passphrase-stdin)",
            path.display()
        ))
    };
    if path.is_dir() {
        return Err(usage("a directory"));
    }
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => usage("no such file"),
        _ => Error::io(format!("reading the passphrase file {}", path.display()), e),
    })?;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o044 != 0 {
            tracing::warn!(
                "the passphrase file {} is readable by {} (mode {mode:04o}): chmod 600 {}",
                path.display(),
                if mode & 0o004 != 0 {
                    "everyone"
                } else {
                    "its group"
                },
                path.display()
            );
        }
    }
    validate(
        Secret::from_input(bytes),
        &format!("the passphrase file {}", path.display()),
    )
}

/// Read the passphrase from stdin (all of it, one trailing newline dropped).
///
/// # Errors
/// When stdin cannot be read, or [`validate`] refuses what it holds.
pub fn from_stdin() -> Result<Secret> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("reading the passphrase from stdin", e))?;
    validate(Secret::from_input(bytes), "stdin")
}

/// Refuse a passphrase that cannot be what the user types at the prompt:
/// empty, or holding a line break once the one trailing newline is gone
/// (two lines, or trailing blank lines: `secret\n\n`). Enrolled verbatim,
/// such a passphrase would never match the typed one.
///
/// # Errors
/// [`Error::Refused`] naming where it came from.
pub fn validate(s: Secret, from: &str) -> Result<Secret> {
    if s.is_empty() {
        return Err(Error::Refused(format!(
            "the passphrase from {from} is empty"
        )));
    }
    if s.bytes().iter().any(|b| *b == b'\n' || *b == b'\r') {
        return Err(Error::Refused(format!(
            "the passphrase from {from} spans more than one line (or has trailing blank lines): \
             it must be one line, with at most one newline at its end. Nothing was changed."
        )));
    }
    Ok(s)
}

/// Ask on the terminal with echo off; with `confirm`, ask twice and compare.
///
/// # Errors
/// When there is no terminal, or the two entries differ.
pub fn prompt(what: &str, confirm: bool) -> Result<Secret> {
    let first = prompt_once(&format!("{what}: "))?;
    if confirm {
        let again = prompt_once(&format!("{what} (again): "))?;
        if again.bytes() != first.bytes() {
            return Err(Error::Refused("the two passphrases differ".into()));
        }
    }
    validate(first, "the prompt")
}

fn prompt_once(text: &str) -> Result<Secret> {
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|e| {
            Error::io(
                "no terminal to ask for the passphrase (use --passphrase-file or --passphrase-stdin)",
                e,
            )
        })?;
    let old = tcgetattr(&tty).map_err(|e| Error::io("reading the terminal mode", e.into()))?;
    let mut quiet = old.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    quiet.local_modes.insert(LocalModes::ECHONL);
    tcsetattr(&tty, OptionalActions::Flush, &quiet)
        .map_err(|e| Error::io("turning terminal echo off", e.into()))?;
    let mut w = &tty;
    let _ = w.write_all(text.as_bytes());
    let mut line = Vec::new();
    let read = std::io::BufReader::new(&tty).read_until(b'\n', &mut line);
    let _ = tcsetattr(&tty, OptionalActions::Flush, &old);
    read.map_err(|e| Error::io("reading the passphrase", e))?;
    Ok(Secret::from_input(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &[u8]) -> Result<Secret> {
        validate(Secret::from_input(input.to_vec()), "test")
    }

    #[test]
    fn one_line_with_at_most_one_newline_is_the_passphrase() {
        assert_eq!(check(b"secret\n").unwrap().bytes(), b"secret");
        assert_eq!(check(b"secret\r\n").unwrap().bytes(), b"secret");
        assert_eq!(check(b"secret").unwrap().bytes(), b"secret");
        assert_eq!(check(b" sp ace ").unwrap().bytes(), b" sp ace ");
    }

    #[test]
    fn blank_lines_two_lines_and_empty_are_refused() {
        for bad in [
            &b"secret\n\n"[..],
            b"secret\r\n\r\n",
            b"one\ntwo",
            b"one\ntwo\n",
            b"\nsecret",
            b"a\rb",
            b"",
            b"\n",
        ] {
            let e = check(bad).unwrap_err().to_string();
            assert!(e.contains("from test"), "{e}");
            assert!(!e.contains("secret"), "the passphrase in the message: {e}");
        }
    }

    #[test]
    fn a_file_with_two_lines_is_refused_naming_it() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("pass");
        std::fs::write(&f, "secret\n\n").unwrap();
        let e = from_file(&f).unwrap_err().to_string();
        assert!(e.contains(&f.display().to_string()), "{e}");
    }
}
