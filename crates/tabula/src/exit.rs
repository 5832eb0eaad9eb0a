//! # Exit codes and error printing shared by every command

use tabula_spec::SpecError;

pub const OK: u8 = 0;
pub const FINDINGS: u8 = 1;
pub const USAGE: u8 = 2;
pub const REFUSED: u8 = 3;
pub const MISSING_TOOL: u8 = 4;
/// apply did what it could but could not verify the pool inside the
/// container (`--no-open`, no device-mapper).
pub const UNVERIFIED: u8 = 5;

/// A usage error found by a command (a required flag missing): exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

/// An error meaning "tabula refused to do this because it is unsafe".
/// Commands wrap their refusals in it so `main` exits with status 3.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// An error that has already been shown in full (for example a check report),
/// so `main` only sets the exit code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Reported {
    pub message: String,
    pub code: u8,
}

/// The exit code an error stands for, found anywhere in its chain.
pub fn code_for(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(r) = cause.downcast_ref::<Reported>() {
            return r.code;
        }
        if cause.downcast_ref::<Refused>().is_some() {
            return REFUSED;
        }
        if cause.downcast_ref::<Usage>().is_some() {
            return USAGE;
        }
        if let Some(tabula_run::Error::NotFound { .. }) = cause.downcast_ref::<tabula_run::Error>()
        {
            return MISSING_TOOL;
        }
        if cause.downcast_ref::<SpecError>().is_some() {
            return USAGE;
        }
    }
    FINDINGS
}

/// Print the error: a spec error as a miette report with the source snippet,
/// anything else as its chain, one cause per line. `color`: whether stderr
/// gets colour (decided by the caller, `ctx`).
pub fn print_error(err: &anyhow::Error, color: bool) {
    if let Some(r) = err.downcast_ref::<Reported>() {
        if !r.message.is_empty() {
            eprintln!("{}", r.message);
        }
        return;
    }
    if let Some(spec_err) = err.chain().find_map(|c| c.downcast_ref::<SpecError>()) {
        eprintln!("{}", spec_err.render_report(color));
        return;
    }
    eprintln!("error: {err}");
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
}
