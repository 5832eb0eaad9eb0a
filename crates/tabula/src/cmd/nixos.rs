//! # `status`, `rebuild`, `generations`, `diff`, `place`
//!
//! The day-two commands over [`tabula_nixos`]: one file per command under
//! `nixos/`, each parsing arguments, printing and picking the exit code; the
//! work (status probe, rebuild session, closures, the edit of host.toml) is
//! in the libraries.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use tabula_nixos::diff::{self as closure_diff, Change};
use tabula_nixos::generations::{BOOTED_SYSTEM, DEFAULT_PROFILE};
use tabula_nixos::place::{Kind, Placement};
use tabula_nixos::rebuild::{Action, Step};
use tabula_nixos::session;
use tabula_nixos::status::State;
use tabula_nixos::store::{self, Method, Store};

use crate::ctx::{Ctx, Style};
use crate::exit;

/// Where the store is read from (shared by `generations` and `diff`).
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The system profile whose generations are listed
    #[arg(long, value_name = "PATH", default_value = DEFAULT_PROFILE)]
    pub profile: PathBuf,
    /// The booted system's link, to mark the booted generation
    #[arg(long, value_name = "PATH", default_value = BOOTED_SYSTEM)]
    pub booted_system: PathBuf,
    /// The Nix store's database (opened read-only; never written or locked)
    #[arg(long, value_name = "FILE", default_value = store::DEFAULT_DB)]
    pub nix_db: PathBuf,
    /// Do not read the database: ask `nix-store` (slower; what happens on its
    /// own when the database cannot be opened)
    #[arg(long)]
    pub no_db: bool,
}

impl StoreArgs {
    fn store(&self) -> Store {
        if self.no_db {
            Store::Cli
        } else {
            Store::open_or_cli(&self.nix_db)
        }
    }
}

fn method_note(m: Method) -> &'static str {
    match m {
        Method::Database => "read from the Nix store database",
        Method::Cli => "read through nix-store",
    }
}

mod diff;
mod generations;
mod place;
mod rebuild;
mod status;

pub use diff::{diff, DiffArgs};
pub(crate) use diff::{diff_json, diff_paths as closure_diff_paths, print_diff};
pub use generations::{generations, GenerationsArgs};
pub use place::{place, PlaceArgs};
pub use rebuild::{rebuild, RebuildArgs};
pub use status::{status, StatusArgs};
