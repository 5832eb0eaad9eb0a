//! # One module per group of commands
//!
//! Each command takes its parsed arguments and the shared `Ctx` and
//! returns the exit code, or an error that `main` prints; `main` dispatches
//! (so no command module imports the command-line model back).

pub mod audit;
pub mod disk;
pub mod fleet;
pub mod import;
pub mod nixos;
pub mod render;
pub mod secret;
pub mod spec;
