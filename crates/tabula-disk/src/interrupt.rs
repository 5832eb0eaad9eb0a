//! # Interruptions: SIGINT, SIGTERM, SIGHUP
//!
//! The binary's signal thread calls [`raise`]. What happens next depends on
//! where the main thread is:
//! - inside a writing section ([`Writing`], held by `apply::execute`): the
//!   running step (an external tool) is left to finish, and the main thread
//!   stops at the next step boundary ([`check`] returns
//!   [`Error::Interrupted`]); its guards then close and detach as on any
//!   error;
//! - anywhere else (probing, a passphrase prompt): nothing is half-written,
//!   so the signal thread undoes what this run set up
//!   (`session::undo_all`: the
//!   mappings it opened, the loop devices it attached, newest first) and the
//!   process exits at once. A second signal always does that.
//!
//! Every loop device tabula attaches and every mapping it opens is
//! [`register`]ed here until it is detached, closed or deliberately kept.

use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::{Error, Result};

static SIGNAL: AtomicI32 = AtomicI32::new(0);
static WRITING: AtomicUsize = AtomicUsize::new(0);
static UNDO: Mutex<Vec<Undo>> = Mutex::new(Vec::new());

/// Something this run set up that an interruption must take down again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undo {
    /// `cryptsetup close NAME` (a mapping this run opened).
    Close(String),
    /// `partx -d DEV` then `losetup -d DEV` (a loop device this run attached).
    Detach(String),
}

/// The conventional name of a signal number.
pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        15 => "SIGTERM",
        _ => "a signal",
    }
}

/// Record a signal. Returns true when the process must end now (no
/// writing section is running, or this is the second signal).
pub fn raise(sig: i32) -> bool {
    let first = SIGNAL.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
    first.is_err() || WRITING.load(Ordering::SeqCst) == 0
}

/// The signal received, if any.
pub fn signal() -> Option<i32> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// `Err(Interrupted)` once a signal arrived: the caller stops before its
/// next write.
///
/// # Errors
/// [`Error::Interrupted`].
pub fn check() -> Result<()> {
    match signal() {
        None => Ok(()),
        Some(s) => Err(Error::Interrupted(format!(
            "interrupted by {}: stopped before the next step (run the same command again to finish)",
            signal_name(s)
        ))),
    }
}

/// While alive, a signal lets the running step finish (see the module doc).
pub struct Writing(());

impl Writing {
    pub fn start() -> Writing {
        WRITING.fetch_add(1, Ordering::SeqCst);
        Writing(())
    }
}

impl Drop for Writing {
    fn drop(&mut self) {
        WRITING.fetch_sub(1, Ordering::SeqCst);
    }
}

fn undo_list() -> std::sync::MutexGuard<'static, Vec<Undo>> {
    UNDO.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Remember `u` until [`forget`].
pub fn register(u: Undo) {
    undo_list().push(u);
}

/// `u` was taken down (or is kept on purpose).
pub fn forget(u: &Undo) {
    undo_list().retain(|x| x != u);
}

/// Everything registered, newest last, and the list emptied
/// (`session::undo_all` takes it down).
pub fn take_all() -> Vec<Undo> {
    std::mem::take(&mut *undo_list())
}
