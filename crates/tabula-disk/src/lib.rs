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
//! - [`session`]: the whole `tabula apply` session (probe, plan, key,
//!   check, execute, verify) with its guards;
//! - [`luks`]: the LUKS2 container: passphrase and key types, every
//!   cryptsetup call (open, close, format, key slots);
//! - [`keyfile`]: the USB keyfile's key slot;
//! - [`loopdev`]: image files through loop devices, detached on drop.

pub mod apply;
pub mod busy;
pub mod interrupt;
pub mod keyfile;
pub mod live;
pub mod lock;
pub mod loopdev;
pub mod luks;
pub mod mount;
pub mod node;
pub mod plan;
pub mod probe;
pub mod secret;
pub mod session;

pub use plan::{Action, Line, Object, Plan, PlanOptions, Step};
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
    /// The command line asks for something that needs one more flag
    /// (`--yes`): exit status 2.
    #[error("{0}")]
    Usage(String),
    /// Programs apply needs are missing; nothing was written (exit 4).
    #[error("{summary}")]
    MissingTools {
        summary: String,
        #[source]
        source: tabula_run::Error,
    },
    /// Reading the disk back after the steps failed (or still differs).
    #[error("reading the disk back")]
    ReadBack(#[source] Box<Error>),
    /// Reading or writing a local file failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// The kernel did not show a partition's device node in time (exit 1:
    /// a failure of the machine, not a refusal).
    #[error("partition {number} of {device} has no device node after {waited_ms} ms (run `partx -a {device}`, then apply again)")]
    NoDeviceNode {
        device: String,
        number: u32,
        waited_ms: u64,
    },
    /// A tool's output was not what tabula expected.
    #[error("{0}")]
    Parse(String),
    /// A signal arrived (SIGINT, SIGTERM, SIGHUP): stopped between steps.
    #[error("{0}")]
    Interrupted(String),
    /// A step failed while the filesystem holding the image file had no
    /// room left: the sparse image could not grow (exit 1).
    #[error("the filesystem holding {image} ({dir}) is full: the image is sparse and grows as tabula writes it (up to {size}); free space there, then run the same line again (it finishes what this run began)")]
    ImageFull {
        image: String,
        dir: String,
        size: String,
        #[source]
        source: Box<Error>,
    },
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
