//! # The apply session
//!
//! Interruption clean-up for now (moved out of [`crate::interrupt`], which
//! keeps only the registry, so that interrupt imports neither luks nor
//! loopdev).

use tabula_run::Cmd;

use crate::interrupt::{self, Undo};
use crate::luks;

/// Take down everything registered, newest first (best effort: each
/// failure is printed). Returns what was taken down.
pub fn undo_all() -> Vec<Undo> {
    let list = interrupt::take_all();
    let mut done = Vec::new();
    for u in list.into_iter().rev() {
        let r = match &u {
            Undo::Close(name) => luks::cryptsetup(["close", name.as_str()]).run().map(|_| ()),
            Undo::Detach(dev) => {
                let _ = Cmd::new("partx").args(["-d", dev.as_str()]).run();
                crate::loopdev::forget_record(dev);
                Cmd::new("losetup")
                    .args(["-d", dev.as_str()])
                    .run()
                    .map(|_| ())
            }
        };
        match r {
            Ok(()) => done.push(u),
            Err(e) => eprintln!("could not undo {u:?}: {e}"),
        }
    }
    done
}
