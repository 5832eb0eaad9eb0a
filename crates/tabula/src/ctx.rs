//! # What every command shares: global flags, the spec, output style

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use tabula_spec::{HostSpec, Loaded, SpecSource};

use crate::cli::Global;

/// The context one command runs in.
pub struct Ctx {
    pub spec_path: Option<PathBuf>,
    pub json: bool,
    /// `-v` count: 1 debug, 2 trace.
    pub verbose: u8,
    pub color: bool,
    /// The payload `--json` prints, kept until the command ends: `main`
    /// wraps it in the one envelope ([`crate::json::Envelope`]).
    json_data: std::cell::RefCell<Option<serde_json::Value>>,
}

impl Ctx {
    pub fn new(g: &Global) -> Self {
        let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::io::stdout().is_terminal();
        Ctx {
            spec_path: g.spec.clone(),
            json: g.json,
            verbose: g.verbose,
            color,
            json_data: std::cell::RefCell::new(None),
        }
    }

    /// Where the spec comes from: `--spec FILE`, else `./host.toml` when
    /// present, else `/etc/nixos/host.toml` (where `render` and `install`
    /// put it on the installed machine), else the embedded default host.
    pub fn spec_source(&self) -> SpecSource {
        if let Some(p) = &self.spec_path {
            return SpecSource::File(p.clone());
        }
        for candidate in ["host.toml", "/etc/nixos/host.toml"] {
            let p = Path::new(candidate);
            if p.is_file() {
                return SpecSource::File(p.to_owned());
            }
        }
        let host = tabula_spec::embedded::DEFAULT_HOST;
        // Said once per run, on stderr (stdout stays clean for --json).
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| {
            eprintln!(
                "tabula: no --spec, no ./host.toml, no /etc/nixos/host.toml; using the embedded host {}",
                host.name
            );
        });
        SpecSource::Embedded(host)
    }

    /// The spec in use, for headers: its path, or "embedded host NAME".
    pub fn spec_label(&self) -> String {
        match self.spec_source() {
            SpecSource::File(p) => p.display().to_string(),
            SpecSource::Embedded(h) => format!("embedded host {}", h.name),
            SpecSource::Text { name, .. } => name,
        }
    }

    /// Load and validate the spec (a [`tabula_spec::SpecError`] on bad input).
    pub fn load(&self) -> anyhow::Result<Loaded> {
        let source = self.spec_source();
        tracing::debug!("loading the host spec from {source}");
        tabula_spec::load(&source).with_context(|| format!("loading the host spec from {source}"))
    }

    /// Load the spec and refuse it when a check rule finds an error: for
    /// commands that act on the spec (render, plan, apply, install). The
    /// findings are logged as warnings so the user sees why.
    pub fn load_checked(&self) -> anyhow::Result<(Loaded, Vec<tabula_spec::check::Finding>)> {
        let loaded = self.load()?;
        let findings = tabula_spec::check::check(&loaded);
        let color = crate::report::stderr_color();
        let errors: Vec<String> = findings
            .iter()
            .filter(|f| f.severity == tabula_spec::check::Severity::Error)
            .map(|f| crate::report::finding(&loaded.source_name, &loaded.text, f, color))
            .collect();
        if !errors.is_empty() {
            if self.json {
                // Scripts get the findings on stdout, as from `check --json`.
                self.print_json(&serde_json::json!({
                    "spec": loaded.source_name,
                    "findings": findings,
                }))?;
            }
            return Err(crate::exit::Reported {
                message: format!(
                    "{}the spec has {} error(s); nothing was done (`tabula check` shows every finding)",
                    errors.concat(),
                    errors.len(),
                ),
                code: crate::exit::FINDINGS,
            }
            .into());
        }
        Ok((loaded, findings))
    }

    /// The validated spec alone.
    pub fn spec(&self) -> anyhow::Result<HostSpec> {
        Ok(self.load()?.spec)
    }

    /// Wrap `text` in an ANSI style when colour is on.
    pub fn paint(&self, style: Style, text: &str) -> String {
        if !self.color {
            return text.to_owned();
        }
        let code = match style {
            Style::Error => "1;31",
            Style::Warning => "1;33",
            Style::Info => "1;36",
            Style::Ok => "32",
            Style::Dim => "2",
            Style::Bold => "1",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }

    /// Keep a value as this run's `--json` payload: `main` prints it as
    /// the envelope's `data` once the command is done (the last one kept
    /// wins), so stdout holds exactly one JSON document.
    pub fn print_json<T: serde::Serialize>(&self, value: &T) -> anyhow::Result<()> {
        let v = serde_json::to_value(value).context("serialising JSON output")?;
        *self.json_data.borrow_mut() = Some(v);
        Ok(())
    }

    /// The payload kept by [`Ctx::print_json`], taken out.
    pub fn take_json(&self) -> Option<serde_json::Value> {
        self.json_data.borrow_mut().take()
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Style {
    Error,
    Warning,
    Info,
    Ok,
    Dim,
    Bold,
}

/// clap's parser for `--disk`: a block device or a regular (image) file;
/// a path that does not exist yet passes (apply creates the image, plan
/// plans for an empty disk). Anything else (`/dev/null`, a directory, a
/// FIFO) is a usage error (exit 2) before the command starts.
///
/// # Errors
/// A message naming the path and what it is.
pub fn disk_path(s: &str) -> Result<PathBuf, String> {
    use std::os::unix::fs::FileTypeExt;
    let p = PathBuf::from(s);
    match std::fs::metadata(&p) {
        Err(_) => Ok(p),
        Ok(m) if m.is_file() || m.file_type().is_block_device() => Ok(p),
        Ok(m) => {
            let what = if m.is_dir() {
                "a directory"
            } else if m.file_type().is_char_device() {
                "a character device"
            } else if m.file_type().is_fifo() {
                "a FIFO"
            } else if m.file_type().is_socket() {
                "a socket"
            } else {
                "not a regular file"
            };
            Err(format!(
                "{s} is {what}: give a block device (/dev/nvme0n1) or an image file (disk.img)"
            ))
        }
    }
}

/// For commands that need the disk to exist (mount, keyfile): a missing
/// one is a usage error (exit 2). Not in clap's parser, so that parsing a
/// command line never depends on this machine's files (the docs' test).
///
/// # Errors
/// [`crate::exit::Usage`] naming the path.
pub fn require_disk(path: &Path) -> anyhow::Result<()> {
    if std::fs::symlink_metadata(path).is_err() {
        return Err(crate::exit::Usage(format!(
            "--disk {}: no such file or device (give a block device such as /dev/nvme0n1, or an image file)",
            path.display()
        ))
        .into());
    }
    Ok(())
}

/// `-v` shows debug logs (every external command), `-vv` trace logs.
/// Whether reports on stderr are coloured: NO_COLOR unset or empty, and
/// stderr a terminal. The binary decides; the libraries take the answer.
pub fn stderr_color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

pub fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("TABULA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .with_ansi(std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal())
        .try_init();
}
