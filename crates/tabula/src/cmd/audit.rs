//! # `audit` (placeholder: the audit issue fills this in)

use clap::Args;

use crate::ctx::Ctx;

/// What the next reboot would wipe
#[derive(Debug, Args)]
pub struct AuditArgs {}

pub fn audit(_: &AuditArgs, _: &Ctx) -> anyhow::Result<u8> {
    anyhow::bail!("`audit` is not implemented yet")
}
