//! # tabula-disk: make the host's disk match the spec, safely
//!
//! - [`probe`]: what is on a device now (GPT, signatures, LUKS2 header, btrfs
//!   subvolumes, busy checks), parsed from the tools' own output;
//! - [`live`]: what the running system made of it: device-mapper mappings,
//!   a mounted pool's identity, subvolume ids, qgroups, free space (read by
//!   `tabula status` too);
//! - [`plan`]: PURE: spec + probe -> one line per object, each `create`,
//!   `keep`, `format`, `DESTROY`, `refuse` or `unverified`, and the steps;
//! - [`apply`]: runs a plan's steps through [`tabula_run::Cmd`], checking
//!   state before each one and reading everything back after;
//! - [`mount`]: opens the container and mounts the layout as stage 1 would;
//! - [`keyfile`]: the USB keyfile's key slot;
//! - [`loopdev`]: image files through loop devices, detached on drop.

pub mod apply;
pub mod busy;
pub mod interrupt;
pub mod keyfile;
pub mod live;
pub mod loopdev;
pub mod mount;
pub mod plan;
pub mod probe;
pub mod secret;

pub use plan::{Action, Line, Plan, PlanOptions, Step};
pub use probe::DiskProbe;

/// What can go wrong in this crate (effects; the planner is infallible).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An external program failed or is missing.
    #[error(transparent)]
    Run(#[from] tabula_run::Error),
    /// Tabula refuses because going on would be unsafe (exit status 3).
    #[error("{0}")]
    Refused(String),
    /// Reading or writing a local file failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// A tool's output was not what tabula expected.
    #[error("{0}")]
    Parse(String),
    /// A signal arrived (SIGINT, SIGTERM, SIGHUP): stopped between steps.
    #[error("{0}")]
    Interrupted(String),
    /// After applying, the disk still does not match the spec.
    #[error("read-back after apply does not match the spec:\n{0}")]
    Verify(String),
}

impl Error {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            what: what.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
