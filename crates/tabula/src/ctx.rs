//! # What every command shares: global flags, the spec, output style

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use tabula_spec::{HostSpec, Loaded, SpecSource};

/// Flags every command takes.
#[derive(Debug, clap::Args)]
pub struct Global {
    /// The host spec (default: ./host.toml, else /etc/nixos/host.toml, else the embedded host)
    #[arg(long, global = true, value_name = "FILE", env = "TABULA_SPEC", action = clap::ArgAction::Append)]
    pub spec: Vec<PathBuf>,
    /// Print machine-readable JSON on stdout instead of text
    #[arg(long, global = true)]
    pub json: bool,
    /// Show debug logs on stderr, including every external command (-vv: trace)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// When to colour the output: auto (only on a terminal, and not when NO_COLOR is set or TERM=dumb), always, never
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,
}

/// The context one command runs in.
pub struct Ctx {
    pub spec_path: Option<PathBuf>,
    /// Every `--spec` given: more than one is a fleet (`render`, `check`,
    /// `deploy`); the other commands take one.
    pub specs: Vec<PathBuf>,
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
        set_color(g.color);
        let color = color_for(std::io::stdout().is_terminal());
        Ctx {
            spec_path: g.spec.first().cloned(),
            specs: g.spec.clone(),
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
        if self.specs.len() > 1 {
            return Err(crate::exit::Usage(format!(
                "--spec is given {} times: only `render`, `check` and `deploy` take several (a fleet); give this command one",
                self.specs.len()
            ))
            .into());
        }
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
        let color = stderr_color();
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

/// `--color`: when output is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorWhen {
    /// On a terminal, unless NO_COLOR is set (not empty) or TERM=dumb.
    #[default]
    Auto,
    /// Always, even on a pipe or a file (NO_COLOR and TERM are not asked).
    Always,
    /// Never.
    Never,
}

impl std::fmt::Display for ColorWhen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ColorWhen::Auto => "auto",
            ColorWhen::Always => "always",
            ColorWhen::Never => "never",
        })
    }
}

/// The `--color` of this run, set once from the command line.
static COLOR: std::sync::OnceLock<ColorWhen> = std::sync::OnceLock::new();

/// Record the `--color` choice (the first call wins).
pub fn set_color(when: ColorWhen) {
    let _ = COLOR.set(when);
}

/// The one colour decision, for a stream that is (or is not) a terminal.
fn color_for(terminal: bool) -> bool {
    decide(
        COLOR.get().copied().unwrap_or_default(),
        std::env::var_os("NO_COLOR").as_deref(),
        std::env::var_os("TERM").as_deref(),
        terminal,
    )
}

fn decide(
    when: ColorWhen,
    no_color: Option<&std::ffi::OsStr>,
    term: Option<&std::ffi::OsStr>,
    terminal: bool,
) -> bool {
    match when {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => {
            no_color.is_none_or(|v| v.is_empty()) && term.is_none_or(|t| t != "dumb") && terminal
        }
    }
}

/// Whether reports on stderr are coloured (`--color`, NO_COLOR, TERM=dumb,
/// stderr a terminal). The binary decides; the libraries take the answer.
pub fn stderr_color() -> bool {
    color_for(std::io::stderr().is_terminal())
}

/// `-v` shows debug logs (every external command), `-vv` trace logs.
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
        .with_ansi(stderr_color())
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn colour_is_decided_by_the_flag_then_no_color_term_and_the_terminal() {
        let xterm = Some(OsStr::new("xterm"));
        let dumb = Some(OsStr::new("dumb"));
        let set = Some(OsStr::new("1"));
        let empty = Some(OsStr::new(""));
        assert!(decide(ColorWhen::Auto, None, xterm, true));
        assert!(decide(ColorWhen::Auto, None, None, true));
        assert!(decide(ColorWhen::Auto, empty, xterm, true));
        assert!(!decide(ColorWhen::Auto, None, xterm, false));
        assert!(!decide(ColorWhen::Auto, set, xterm, true));
        assert!(!decide(ColorWhen::Auto, None, dumb, true));
        assert!(decide(ColorWhen::Always, set, dumb, false));
        assert!(!decide(ColorWhen::Never, None, xterm, true));
    }
}
