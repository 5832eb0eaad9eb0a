//! # `check`, `init`, `schema`

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use crate::ctx::Ctx;
use crate::exit;

/// Check the host spec: every rule, with its code, place and a fix
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  tabula check\n  tabula check --spec host.toml --json")]
pub struct CheckArgs {}

/// Write the embedded host out as a commented host.toml to start from
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  tabula init            writes ./host.toml\n  tabula init my-host.toml --force"
)]
pub struct InitArgs {
    /// Where to write it
    #[arg(default_value = "host.toml")]
    pub path: PathBuf,
    /// Overwrite an existing file
    #[arg(long)]
    pub force: bool,
}

/// Print the JSON Schema of host.toml (for editor completion)
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  tabula schema > host.schema.json")]
pub struct SchemaArgs {}

pub fn check(_: &CheckArgs, _ctx: &Ctx) -> anyhow::Result<u8> {
    anyhow::bail!("`check` is not implemented yet")
}

pub fn init(a: &InitArgs, _ctx: &Ctx) -> anyhow::Result<u8> {
    if a.path.exists() && !a.force {
        return Err(exit::Refused(format!(
            "{} exists; pass --force to overwrite it",
            a.path.display()
        ))
        .into());
    }
    let text = tabula_spec::embedded::DEFAULT_HOST.toml;
    std::fs::write(&a.path, text).with_context(|| format!("writing {}", a.path.display()))?;
    eprintln!(
        "wrote {} (the embedded host `{}`)",
        a.path.display(),
        tabula_spec::embedded::DEFAULT_HOST.name
    );
    Ok(exit::OK)
}

pub fn schema(_: &SchemaArgs, _ctx: &Ctx) -> anyhow::Result<u8> {
    println!(
        "{}",
        serde_json::to_string_pretty(&tabula_spec::json_schema())?
    );
    Ok(exit::OK)
}
