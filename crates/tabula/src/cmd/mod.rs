//! # One module per group of commands
//!
//! Each command takes its parsed arguments and the shared [`Ctx`] and
//! returns the exit code, or an error that `main` prints.

pub mod audit;
pub mod disk;
pub mod nixos;
pub mod render;
pub mod spec;

use crate::cli::Command;
use crate::ctx::Ctx;

pub fn run(command: Command, ctx: &Ctx) -> anyhow::Result<u8> {
    match command {
        Command::Check(a) => spec::check(&a, ctx),
        Command::Render(a) => render::render(&a, ctx),
        Command::Docs(a) => render::docs(&a, ctx),
        Command::Init(a) => spec::init(&a, ctx),
        Command::Schema(a) => spec::schema(&a, ctx),
        Command::Plan(a) => disk::plan(&a, ctx),
        Command::Apply(a) => disk::apply(&a, ctx),
        Command::Mount(a) => disk::mount(&a, ctx),
        Command::Unmount(a) => disk::unmount(&a, ctx),
        Command::Install(a) => disk::install(&a, ctx),
        Command::Keyfile(a) => disk::keyfile(&a, ctx),
        Command::Audit(a) => audit::audit(&a, ctx),
        Command::Status(a) => nixos::status(&a, ctx),
        Command::Rebuild(a) => nixos::rebuild(&a, ctx),
        Command::Generations(a) => nixos::generations(&a, ctx),
        Command::Diff(a) => nixos::diff(&a, ctx),
        Command::Place(a) => nixos::place(&a, ctx),
        Command::Completions { shell } => crate::manpages::completions(shell),
        Command::Man(a) => crate::manpages::man(&a),
    }
}
