//! # `render` and `docs`: the flake and the host's documentation

use std::path::PathBuf;

use clap::Args;

use crate::ctx::Ctx;

/// Render the NixOS flake and the host's documentation from the spec
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  tabula render --out ./flake\n  tabula render --spec host.toml --out /etc/nixos"
)]
pub struct RenderArgs {
    /// Where to write the flake (created if missing)
    #[arg(long, short, value_name = "DIR", default_value = "out")]
    pub out: PathBuf,
}

/// Render only the host's documentation (Markdown and SVG)
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  tabula docs --out ./docs")]
pub struct DocsArgs {
    /// Where to write the docs
    #[arg(long, short, value_name = "DIR", default_value = "docs")]
    pub out: PathBuf,
}

pub fn render(_: &RenderArgs, _ctx: &Ctx) -> anyhow::Result<u8> {
    anyhow::bail!("`render` is not implemented yet")
}

pub fn docs(_: &DocsArgs, _ctx: &Ctx) -> anyhow::Result<u8> {
    anyhow::bail!("`docs` is not implemented yet")
}
