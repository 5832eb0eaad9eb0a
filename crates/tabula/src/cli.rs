//! # The command line, as a clap model
//!
//! Man page and shell completions are generated from this same model
//! (`tabula man`, `tabula completions SHELL`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::cmd;

const AFTER_HELP: &str = "\
The spec is --spec FILE, else ./host.toml, else /etc/nixos/host.toml, else
the embedded Surface Pro 8 host. No command touches a disk it was not given with --disk.

Exit codes: 0 ok, 1 findings or errors, 2 usage, 3 refused as unsafe,
4 a needed external program is missing.

Examples:
  tabula check                      check the embedded host
  tabula render --out ./flake       write the NixOS flake and docs
  tabula init host.toml             start your own spec from the embedded one
  tabula plan --disk disk.img       what apply would do to an image";

/// tabula makes a declarative, impermanent NixOS host real from one host spec.
#[derive(Debug, Parser)]
#[command(name = "tabula", version, about, long_about = None, after_help = AFTER_HELP)]
#[command(propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: crate::ctx::Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    // --- the spec -----------------------------------------------------------
    Check(cmd::spec::CheckArgs),
    Render(cmd::render::RenderArgs),
    Docs(cmd::render::DocsArgs),
    Init(cmd::spec::InitArgs),
    Schema(cmd::spec::SchemaArgs),
    Secret(cmd::secret::SecretArgs),

    // --- the disk -----------------------------------------------------------
    Plan(cmd::disk::PlanArgs),
    Apply(cmd::disk::ApplyArgs),
    Mount(cmd::disk::MountArgs),
    Unmount(cmd::disk::UnmountArgs),
    Install(cmd::disk::InstallArgs),
    Keyfile(cmd::disk::KeyfileArgs),
    Import(cmd::import::ImportArgs),

    // --- the running host ---------------------------------------------------
    Audit(cmd::audit::AuditArgs),
    Status(cmd::nixos::StatusArgs),
    Rebuild(cmd::nixos::RebuildArgs),
    Generations(cmd::nixos::GenerationsArgs),
    Diff(cmd::nixos::DiffArgs),
    Place(cmd::nixos::PlaceArgs),

    // --- the fleet ----------------------------------------------------------
    Deploy(cmd::fleet::DeployArgs),

    // --- about tabula itself ------------------------------------------------
    /// Print shell completions for SHELL on stdout
    #[command(after_help = "Example:\n  tabula completions bash > /etc/bash_completion.d/tabula")]
    Completions {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff) on stdout, or write every page with --out DIR
    Man(ManArgs),
}

/// Print a man page, or write every page to a directory
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  tabula man | man -l -                 read the main page
  tabula man apply | man -l -           read tabula-apply(1)
  tabula man --out /usr/local/share/man/man1   install every page")]
pub struct ManArgs {
    /// The command whose page to print (default: the main page, tabula(1))
    #[arg(value_name = "COMMAND")]
    pub command: Option<String>,
    /// Write every page (tabula.1, tabula-apply.1, ...) into DIR instead, and
    /// print the paths written
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    pub out: Option<PathBuf>,
}
