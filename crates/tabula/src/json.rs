//! # The one JSON envelope every command prints under `--json`
//!
//! ```json
//! {"tabula": 1, "command": "plan", "ok": true, "data": {...}, "findings": [...],
//!  "error": null}
//! ```
//!
//! Commands hand their payload to [`crate::ctx::Ctx::print_json`], which
//! only keeps it; `main` builds the [`Envelope`] here once the command has
//! finished (or failed) and prints it as the single document on stdout.
//! docs/JSON.md describes it; docs/json-envelope.schema.json is its schema.

use serde::Serialize;
use serde_json::Value;

use crate::exit;

/// The envelope's version: bumped when a field changes meaning.
pub const VERSION: u32 = 1;

/// The schema of the envelope (docs/json-envelope.schema.json).
pub const SCHEMA: &str = include_str!("../../../docs/json-envelope.schema.json");

#[derive(Debug, Serialize)]
pub struct Envelope {
    pub tabula: u32,
    pub command: String,
    pub ok: bool,
    pub data: Value,
    pub findings: Vec<Value>,
    pub error: Option<ErrorBody>,
}

#[derive(Debug, Serialize)]
pub struct ErrorBody {
    /// usage, refused, missing-tool, findings, failed, unverified, interrupted
    pub code: &'static str,
    pub message: String,
    /// The process's exit code.
    pub exit: u8,
}

/// The error class of an exit code (`findings`: 1 with a report or an
/// `Ok(1)`; `failed`: 1 from any other error).
pub fn error_code(exit: u8, reported: bool) -> &'static str {
    match exit {
        exit::USAGE => "usage",
        exit::REFUSED => "refused",
        exit::MISSING_TOOL => "missing-tool",
        exit::UNVERIFIED => "unverified",
        exit::FINDINGS if reported => "findings",
        c if c >= 128 => "interrupted",
        _ => "failed",
    }
}

/// The message of an exit code when the command returned it without an
/// error (drift found, findings, the pool left unverified).
fn default_message(exit: u8) -> &'static str {
    match exit {
        exit::FINDINGS => "the command found something: see data and findings",
        exit::USAGE => "the command line or the spec could not be understood",
        exit::REFUSED => "refused as unsafe",
        exit::MISSING_TOOL => "a needed external program is missing",
        exit::UNVERIFIED => "apply done, but the pool inside the container stays unverified",
        c if c >= 128 => "interrupted by a signal: the running step finished, nothing after it ran",
        _ => "failed",
    }
}

/// The error chain as one line, `outer: cause: cause`.
pub fn chain_message(err: &anyhow::Error) -> String {
    let parts: Vec<String> = err.chain().map(ToString::to_string).collect();
    let mut msg = parts.join(": ");
    if let Some(r) = err.downcast_ref::<exit::Reported>() {
        msg.clone_from(&r.message);
    }
    // Reports meant for a terminal carry colours and snippets: keep text.
    strip_ansi(msg.trim())
}

pub(crate) fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl Envelope {
    /// The envelope of one run: `data` as the command kept it (or null),
    /// `exit` the process's exit code, `err` the error it failed with.
    pub fn new(command: &str, data: Option<Value>, exit: u8, err: Option<&anyhow::Error>) -> Self {
        let mut data = data.unwrap_or(Value::Null);
        let findings = take_findings(&mut data);
        let error = if exit == exit::OK && err.is_none() {
            None
        } else {
            let reported = err.is_none_or(|e| e.downcast_ref::<exit::Reported>().is_some());
            Some(ErrorBody {
                code: error_code(exit, reported),
                message: err.map_or_else(|| default_message(exit).to_owned(), chain_message),
                exit,
            })
        };
        Envelope {
            tabula: VERSION,
            command: command.to_owned(),
            ok: error.is_none(),
            data,
            findings,
            error,
        }
    }

    /// A usage error clap found before any command ran.
    pub fn usage(command: &str, message: &str) -> Self {
        Envelope {
            tabula: VERSION,
            command: command.to_owned(),
            ok: false,
            data: Value::Null,
            findings: Vec::new(),
            error: Some(ErrorBody {
                code: "usage",
                message: strip_ansi(message.trim()),
                exit: exit::USAGE,
            }),
        }
    }

    /// Print it on stdout, pretty, as the run's one document.
    pub fn print(&self) {
        match serde_json::to_string_pretty(self) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("error: serialising the JSON envelope: {e}"),
        }
    }
}

/// A payload's `findings` (an object's array field) move up into the
/// envelope, so every command's findings are in one place.
fn take_findings(data: &mut Value) -> Vec<Value> {
    let Some(obj) = data.as_object_mut() else {
        return Vec::new();
    };
    if !matches!(obj.get("findings"), Some(Value::Array(_))) {
        return Vec::new();
    }
    match obj.remove("findings") {
        Some(Value::Array(a)) => a,
        _ => Vec::new(),
    }
}

/// The subcommand named on the command line (`keyfile`, `plan`, ...), for
/// a usage error clap found: the first argument that names one.
pub fn command_in_argv(args: &[String], names: &[String]) -> String {
    args.iter()
        .skip(1)
        .find(|a| names.iter().any(|n| n == *a))
        .cloned()
        .unwrap_or_else(|| "tabula".to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[test]
    fn findings_move_up_and_errors_get_their_class() {
        let data = serde_json::json!({"spec": "x", "findings": [{"code": "a"}]});
        let e = Envelope::new("check", Some(data), exit::FINDINGS, None);
        assert_eq!(e.findings.len(), 1);
        assert!(e.data.get("findings").is_none());
        let err = e.error.unwrap();
        assert_eq!((err.code, err.exit), ("findings", 1));
        let refused: anyhow::Error = exit::Refused("busy".into()).into();
        let e = Envelope::new("plan", None, exit::REFUSED, Some(&refused));
        assert_eq!(e.error.unwrap().code, "refused");
        let ok = Envelope::new("man", None, exit::OK, None);
        assert!(ok.ok && ok.error.is_none() && ok.data.is_null());
    }

    #[test]
    fn colours_are_stripped() {
        assert_eq!(strip_ansi("\x1b[1;31merror\x1b[0m: x"), "error: x");
    }
}
