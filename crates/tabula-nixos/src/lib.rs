//! # tabula-nixos: day-two operations on a NixOS host
//!
//! - [`drvname`]: store path names → package, version, output (Nix's rules);
//! - [`store`]: closures and sizes from the store's database, read-only, or
//!   through `nix-store` when the database cannot be opened;
//! - [`diff`]: what changed between two closures (pure);
//! - [`generations`]: the system profile's generations.
//! - [`place`]: the document's container decision tree, and its change to host.toml.
//! - [`rebuild`]: the rebuild pipeline (check, build, diff, ask, switch) as a plan.
//! - [`session`]: the plan's executor in named steps (out link, inputs,
//!   preflight, execute), printing and asking through [`session::RebuildUi`].
//! - [`status`]: the live host (or a mounted layout) against its spec.

pub mod diff;
pub mod drvname;
pub mod generations;
pub mod place;
pub mod rebuild;
pub mod session;
pub mod status;
pub mod store;
