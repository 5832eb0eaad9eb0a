//! # One runner for every external program
//!
//! Every process tabula starts goes through [`Cmd`]. The runner:
//! - logs the argv (at debug level) before running;
//! - gives the child an empty stdin unless asked; secrets go through stdin
//!   ([`Cmd::stdin_secret`]), never through argv, and are never logged;
//! - on failure returns an [`Error`] holding the argv, the exit status and the
//!   tail of stderr, so the message alone explains what went wrong;
//! - reports a missing program as [`Error::NotFound`], which the CLI maps to
//!   exit status 4;
//! - when `TABULA_ARGV_LOG` names a file, appends every argv to it as one JSON
//!   line. Tests use it to prove that no secret ever reaches a command line.

pub mod atomic;
pub mod mountinfo;
pub mod tools;
use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

/// How many bytes of stderr an error keeps.
const STDERR_TAIL: usize = 2000;

/// What can go wrong when running an external program.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The program is not installed (not on `PATH`).
    #[error("`{program}` was not found on PATH{}", hint.as_deref().map(|h| format!(" ({h})")).unwrap_or_default())]
    NotFound {
        program: String,
        hint: Option<String>,
    },
    /// The program could not be started.
    #[error("could not start `{argv}`")]
    Spawn {
        argv: String,
        #[source]
        source: std::io::Error,
    },
    /// The program ran and failed.
    #[error("`{argv}` failed ({status}){}", if stderr.is_empty() { String::new() } else { format!(":\n{stderr}") })]
    Failed {
        argv: String,
        status: String,
        code: Option<i32>,
        stderr: String,
    },
    /// The program's output was not what tabula expected.
    #[error("could not parse the output of `{argv}`")]
    Parse {
        argv: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// The exit code of a failed program, when it ran and exited.
    pub fn code(&self) -> Option<i32> {
        match self {
            Error::Failed { code, .. } => *code,
            _ => None,
        }
    }
}

/// What the child reads on stdin.
#[derive(Clone)]
enum Input {
    Null,
    Bytes(Vec<u8>),
    /// Like bytes, but never shown in logs or `Debug`.
    Secret(Vec<u8>),
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Input::Null => f.write_str("Null"),
            Input::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Input::Secret(_) => f.write_str("Secret(<redacted>)"),
        }
    }
}

/// The captured result of a successful run.
#[derive(Debug, Clone)]
pub struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    /// Stdout as text (lossy: tool output is ASCII in practice).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// One external command, built up and then run.
#[derive(Debug, Clone)]
pub struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    dir: Option<PathBuf>,
    input: Input,
    hint: Option<String>,
    ok_codes: Vec<i32>,
}

impl Cmd {
    /// A command running `program` (looked up on `PATH`). Its install hint
    /// comes from [`tools::TOOLS`] when the table knows the program.
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        let hint = tools::hint(&program.as_ref().to_string_lossy());
        Cmd {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            dir: None,
            input: Input::Null,
            hint,
            ok_codes: vec![0],
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.dir = Some(dir.as_ref().to_owned());
        self
    }

    /// Feed these (non-secret) bytes on stdin.
    pub fn stdin_bytes(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.input = Input::Bytes(bytes.into());
        self
    }

    /// Feed a secret on stdin. It is never logged and never put in argv.
    pub fn stdin_secret(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.input = Input::Secret(secret.into());
        self
    }

    /// A hint shown when the program is missing, instead of the one from
    /// [`tools::TOOLS`] ("run tabula install on the NixOS installer").
    pub fn install_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Exit codes that count as success besides 0.
    pub fn ok_codes(mut self, codes: &[i32]) -> Self {
        self.ok_codes.extend_from_slice(codes);
        self
    }

    /// The program name.
    pub fn program(&self) -> &OsStr {
        &self.program
    }

    /// The argv, program first, one string per argument (for JSON).
    pub fn argv(&self) -> Vec<String> {
        std::iter::once(&self.program)
            .chain(self.args.iter())
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    /// The argv as one shell-quoted line, for messages and `--dry` output.
    pub fn display(&self) -> String {
        std::iter::once(&self.program)
            .chain(self.args.iter())
            .map(|a| shell_quote(&a.to_string_lossy()))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Run to completion, capturing stdout and stderr.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the program is missing, [`Error::Spawn`] when
    /// it cannot start, [`Error::Failed`] when it exits with a code not
    /// accepted by [`Cmd::ok_codes`].
    pub fn run(&self) -> Result<Output, Error> {
        self.check_present()?;
        let argv = self.display();
        tracing::debug!(target: "tabula::run", "running: {argv}");
        record_argv(&self.program, &self.args);
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        if let Some(dir) = &self.dir {
            cmd.current_dir(dir);
        }
        cmd.stdin(match self.input {
            Input::Null => Stdio::null(),
            _ => Stdio::piped(),
        });
        let mut child = cmd.spawn().map_err(|source| Error::Spawn {
            argv: argv.clone(),
            source,
        })?;
        if let (Some(mut stdin), Input::Bytes(b) | Input::Secret(b)) =
            (child.stdin.take(), &self.input)
        {
            // A child that exits without reading all of stdin gives EPIPE: its
            // exit status tells the real story, so the write error is dropped.
            let _ = stdin.write_all(b);
        }
        let out = child.wait_with_output().map_err(|source| Error::Spawn {
            argv: argv.clone(),
            source,
        })?;
        self.check_status(&argv, out.status, &out.stderr)?;
        Ok(Output {
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }

    /// Run with the terminal attached (for interactive or long programs such
    /// as `nixos-install`): stdout and stderr are not captured.
    ///
    /// # Errors
    /// As for [`Cmd::run`]; the error holds no stderr tail.
    pub fn run_inherit(&self) -> Result<(), Error> {
        self.check_present()?;
        let argv = self.display();
        tracing::debug!(target: "tabula::run", "running: {argv}");
        record_argv(&self.program, &self.args);
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        if let Some(dir) = &self.dir {
            cmd.current_dir(dir);
        }
        if matches!(self.input, Input::Null) {
            cmd.stdin(Stdio::null());
        }
        let status = cmd.status().map_err(|source| Error::Spawn {
            argv: argv.clone(),
            source,
        })?;
        self.check_status(&argv, status, &[])
    }

    /// Run and parse stdout as JSON.
    ///
    /// # Errors
    /// As for [`Cmd::run`], plus [`Error::Parse`] when stdout is not the
    /// expected JSON.
    pub fn run_json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        let out = self.run()?;
        serde_json::from_slice(&out.stdout).map_err(|e| Error::Parse {
            argv: self.display(),
            source: Box::new(e),
        })
    }

    fn check_present(&self) -> Result<(), Error> {
        if find_program(&self.program).is_none() {
            return Err(Error::NotFound {
                program: self.program.to_string_lossy().into_owned(),
                hint: self.hint.clone(),
            });
        }
        Ok(())
    }

    fn check_status(&self, argv: &str, status: ExitStatus, stderr: &[u8]) -> Result<(), Error> {
        match status.code() {
            Some(c) if self.ok_codes.contains(&c) => Ok(()),
            code => Err(Error::Failed {
                argv: argv.to_owned(),
                status: status.to_string(),
                code,
                stderr: tail(stderr),
            }),
        }
    }
}

/// The last [`STDERR_TAIL`] bytes of stderr, trimmed, cut at a line start.
fn tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let text = text.trim();
    if text.len() <= STDERR_TAIL {
        return text.to_owned();
    }
    let mut start = text.len() - STDERR_TAIL;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let cut = &text[start..];
    match cut.find('\n') {
        Some(nl) => format!("…\n{}", &cut[nl + 1..]),
        None => format!("…{cut}"),
    }
}

/// Where `program` would be run from: itself when it holds a `/`, else the
/// first executable of that name on `PATH`.
pub fn find_program(program: impl AsRef<OsStr>) -> Option<PathBuf> {
    let program = Path::new(program.as_ref());
    if program.components().count() > 1 {
        return is_executable(program).then(|| program.to_owned());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Quote one word for a POSIX shell, only when it needs it.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%^".contains(&b));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Append the argv to `$TABULA_ARGV_LOG`, one JSON array per line.
fn record_argv(program: &OsStr, args: &[OsString]) {
    let Some(log) = std::env::var_os("TABULA_ARGV_LOG") else {
        return;
    };
    let argv: Vec<String> = std::iter::once(program)
        .chain(args.iter().map(OsString::as_os_str))
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if let Ok(line) = serde_json::to_string(&argv) {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            let _ = writeln!(f, "{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(shell_quote("mkfs.ext4"), "mkfs.ext4");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn missing_program_is_not_found() {
        let err = Cmd::new("tabula-no-such-program-xyz")
            .run()
            .expect_err("must fail");
        assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    }

    #[test]
    fn missing_tool_names_debian_package_and_nixpkgs_attribute() {
        let err = Cmd::new("/nonexistent/tabula-test/cryptsetup")
            .run()
            .expect_err("must fail");
        assert_eq!(
            err.to_string(),
            "`/nonexistent/tabula-test/cryptsetup` was not found on PATH \
             (Debian package cryptsetup-bin; on NixOS: nix shell nixpkgs#cryptsetup)"
        );
        // An explicit hint wins over the table.
        let err = Cmd::new("/nonexistent/tabula-test/nix")
            .install_hint("use a NixOS system")
            .run()
            .expect_err("must fail");
        assert!(err.to_string().ends_with("(use a NixOS system)"), "{err}");
    }

    #[test]
    fn failure_keeps_argv_status_and_stderr_tail() {
        let err = Cmd::new("sh")
            .args(["-c", "echo boom >&2; exit 3"])
            .run()
            .expect_err("must fail");
        let msg = err.to_string();
        assert!(msg.contains("sh -c"), "{msg}");
        assert!(msg.contains("boom"), "{msg}");
        assert_eq!(err.code(), Some(3));
    }

    #[test]
    fn secret_goes_through_stdin_and_not_debug() {
        let cmd = Cmd::new("cat").stdin_secret(b"hunter2".to_vec());
        assert!(!format!("{cmd:?}").contains("hunter2"));
        assert!(!cmd.display().contains("hunter2"));
        let out = cmd.run().expect("cat runs");
        assert_eq!(out.stdout, b"hunter2");
    }

    #[test]
    fn long_stderr_is_cut_to_a_tail() {
        let big = "x\n".repeat(5000);
        let t = tail(big.as_bytes());
        assert!(t.len() <= STDERR_TAIL + 8);
        assert!(t.starts_with('…'));
    }
}
