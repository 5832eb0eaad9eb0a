//! # `plan`, `apply`, `mount`, `unmount`, `install`, `keyfile`
//!
//! Thin over `tabula_disk`: resolve `--disk` (a block device, or an image
//! file through a loop device detached on exit), get the passphrase (file,
//! stdin or prompt: never argv), print the plan, map refusals to exit 3.
//! One file per command under `disk/` (as `nixos/`); `disk/view.rs` prints
//! what the library's session reports. The work is in `tabula_disk`.

use std::io::IsTerminal as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use serde::Serialize;
use tabula_disk::luks::Secret;
use tabula_disk::session::{self, KeyPrompt, Report};
use tabula_disk::{keyfile as dkeyfile, mount as dmount, secret};
use tabula_spec::{HostSpec, Size};

mod view;

use crate::ctx::Ctx;
use crate::exit::{self, Refused, Usage};

/// A library error with refusals as [`Refused`] (exit 3) and a missing tool
/// as the runner's own error (exit 4).
fn lift(e: tabula_disk::Error) -> anyhow::Error {
    match e {
        tabula_disk::Error::Refused(m) => Refused(m).into(),
        tabula_disk::Error::Run(r) => r.into(),
        tabula_disk::Error::Usage(m) => Usage(m).into(),
        tabula_disk::Error::MissingTools { summary, source } => {
            anyhow::Error::from(source).context(summary)
        }
        tabula_disk::Error::ReadBack(e) => lift(*e).context("reading the disk back"),
        other => other.into(),
    }
}

/// [`lift`] for the other commands that read disks (`import`).
pub fn lift_pub(e: tabula_disk::Error) -> anyhow::Error {
    lift(e)
}

/// The spec, refused when a check rule finds an error (the disk commands
/// act on it).
fn checked_spec(ctx: &Ctx) -> anyhow::Result<HostSpec> {
    Ok(ctx.load_checked()?.0.spec)
}

fn parse_size(s: &str) -> Result<u64, String> {
    Size::parse(s).map(Size::as_u64)
}

/// How the passphrase is given (never on the command line).
#[derive(Debug, Args, Clone)]
pub struct PassArgs {
    /// Read the LUKS passphrase from FILE (one trailing newline is dropped)
    #[arg(long, value_name = "FILE", conflicts_with = "passphrase_stdin")]
    pub passphrase_file: Option<PathBuf>,
    /// Read the LUKS passphrase from stdin
    #[arg(long)]
    pub passphrase_stdin: bool,
}

impl PassArgs {
    /// The passphrase when given by file or stdin (no prompt here).
    fn given(&self) -> tabula_disk::Result<Option<Secret>> {
        if let Some(f) = &self.passphrase_file {
            return Ok(Some(secret::from_file(f)?));
        }
        if self.passphrase_stdin {
            return Ok(Some(secret::from_stdin()?));
        }
        Ok(None)
    }

    /// The passphrase: given, else asked on the terminal.
    fn get(&self, confirm: bool) -> tabula_disk::Result<Secret> {
        if let Some(s) = self.given()? {
            return Ok(s);
        }
        if !std::io::stdin().is_terminal() {
            return Err(tabula_disk::Error::Usage(
                "the LUKS passphrase is needed and there is no terminal to ask on: give --passphrase-file FILE or --passphrase-stdin"
                    .into(),
            ));
        }
        secret::prompt("LUKS passphrase", confirm)
    }
}

// ---------------------------------------------------------------------------

mod apply;
mod install;
mod keyfile;
mod mount;
mod plan;

pub use apply::*;
pub use install::*;
pub use keyfile::*;
pub use mount::*;
pub use plan::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_errors_keep_their_exit_codes() {
        let code = |e| exit::code_for(&lift(e));
        // A device node that never appeared: a failure (1), not a refusal (3).
        let no_node = tabula_disk::Error::NoDeviceNode {
            device: "/dev/loop9".into(),
            number: 2,
            waited_ms: 5000,
        };
        assert_eq!(code(no_node), exit::FINDINGS);
        assert_eq!(code(tabula_disk::Error::Refused("x".into())), exit::REFUSED);
        assert_eq!(code(tabula_disk::Error::Usage("x".into())), exit::USAGE);
        let missing = tabula_disk::Error::MissingTools {
            summary: "nothing was written: missing sgdisk".into(),
            source: tabula_run::Error::NotFound {
                program: "sgdisk".into(),
                hint: None,
            },
        };
        assert_eq!(code(missing), exit::MISSING_TOOL);
        let read_back = tabula_disk::Error::ReadBack(Box::new(tabula_disk::Error::Verify(
            "  create fs:boot".into(),
        )));
        let e = lift(read_back);
        assert_eq!(e.to_string(), "reading the disk back");
        assert_eq!(exit::code_for(&e), exit::FINDINGS);
    }
}
