//! # Reading the passphrase
//!
//! From a file (`--passphrase-file`), from stdin (`--passphrase-stdin`) or
//! from a prompt on the terminal with echo off. The result is a
//! [`Secret`](crate::apply::Secret): it only ever reaches cryptsetup on stdin.

use std::io::{BufRead as _, Read as _, Write as _};
use std::path::Path;

use rustix::termios::{tcgetattr, tcsetattr, LocalModes, OptionalActions};

use crate::apply::Secret;
use crate::{Error, Result};

/// Read the passphrase from a file (one trailing newline dropped).
///
/// # Errors
/// When the file cannot be read or is empty.
pub fn from_file(path: &Path) -> Result<Secret> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::io(format!("reading the passphrase file {}", path.display()), e))?;
    non_empty(Secret::from_input(bytes), &path.display().to_string())
}

/// Read the passphrase from stdin (all of it, one trailing newline dropped).
///
/// # Errors
/// When stdin cannot be read or is empty.
pub fn from_stdin() -> Result<Secret> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("reading the passphrase from stdin", e))?;
    non_empty(Secret::from_input(bytes), "stdin")
}

fn non_empty(s: Secret, from: &str) -> Result<Secret> {
    if s.is_empty() {
        return Err(Error::Refused(format!(
            "the passphrase from {from} is empty"
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
    non_empty(first, "the prompt")
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
