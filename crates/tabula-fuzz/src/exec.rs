//! Running one input: in a worker thread, under `catch_unwind`, with a
//! deadline. A panic becomes a [`Crash`] keyed by its location; an input
//! that does not finish in time becomes a hang (the worker is abandoned and
//! a fresh one started).

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Once};
use std::thread;
use std::time::{Duration, Instant};

pub use crate::targets::Crash;
use crate::targets::{Outcome, Target};

thread_local! {
    /// Set while a worker runs an input: its panics are recorded, not
    /// printed.
    static IN_FUZZ: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<(String, String)>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

/// Route panics of fuzzing workers into [`LAST_PANIC`]; every other thread
/// keeps the previous hook (test failures still print).
pub fn install_panic_hook() {
    HOOK.call_once(|| {
        let prev = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if IN_FUZZ.with(Cell::get) {
                let loc = info.location().map_or_else(
                    || "unknown".to_owned(),
                    |l| format!("{}:{}", l.file(), l.line()),
                );
                let p = info.payload();
                let msg = p
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(non-string panic payload)".to_owned());
                LAST_PANIC.with(|l| *l.borrow_mut() = Some((loc, msg)));
            } else {
                prev(info);
            }
        }));
    });
}

/// Run `target` on `data` in this thread, catching a panic.
pub fn run_here(target: &Target, data: &[u8], deep: bool) -> Result<Outcome, Crash> {
    catch(|| target.run(data, deep))
}

/// Run `f`, turning a panic into a [`Crash`] keyed by its location.
pub fn catch(f: impl FnOnce() -> Result<Outcome, Crash>) -> Result<Outcome, Crash> {
    install_panic_hook();
    IN_FUZZ.with(|c| c.set(true));
    let r = panic::catch_unwind(AssertUnwindSafe(f));
    IN_FUZZ.with(|c| c.set(false));
    match r {
        Ok(r) => r,
        Err(_) => {
            let (loc, msg) = LAST_PANIC
                .with(|l| l.borrow_mut().take())
                .unwrap_or_else(|| ("unknown".into(), "panic".into()));
            Err(Crash {
                kind: format!("panic at {}", short_path(&loc)),
                detail: msg,
            })
        }
    }
}

/// `…/registry/src/…/miette-7.6.0/src/x.rs:1` → `miette-7.6.0/src/x.rs:1`;
/// workspace paths stay as they are.
fn short_path(loc: &str) -> String {
    match loc.find("/registry/src/") {
        Some(i) => {
            let rest = &loc[i + "/registry/src/".len()..];
            rest.split_once('/')
                .map_or(rest, |(_, after)| after)
                .to_owned()
        }
        None => loc.to_owned(),
    }
}

type Job = (Vec<u8>, bool);
type Done = (Result<Outcome, Crash>, Duration);

/// A worker thread that runs inputs one at a time.
pub struct Worker {
    target: Arc<Target>,
    jobs: Sender<Job>,
    done: Receiver<Done>,
    /// Threads abandoned after a hang (still running).
    pub abandoned: usize,
}

impl Worker {
    pub fn new(target: Arc<Target>) -> Worker {
        let (jobs, done) = Self::spawn(&target);
        Worker {
            target,
            jobs,
            done,
            abandoned: 0,
        }
    }

    fn spawn(target: &Arc<Target>) -> (Sender<Job>, Receiver<Done>) {
        let (jtx, jrx) = mpsc::channel::<Job>();
        let (dtx, drx) = mpsc::channel::<Done>();
        let t = Arc::clone(target);
        // Deep recursion in a parser must not be mistaken for a crash of the
        // fuzzer: the same stack as a main thread.
        let spawned = thread::Builder::new()
            .name("fuzz-worker".into())
            .stack_size(8 << 20)
            .spawn(move || {
                for (data, deep) in jrx {
                    let start = Instant::now();
                    let r = run_here(&t, &data, deep);
                    if dtx.send((r, start.elapsed())).is_err() {
                        break;
                    }
                }
            });
        if let Err(e) = spawned {
            eprintln!("tabula-fuzz: cannot start a worker thread: {e}");
        }
        (jtx, drx)
    }

    /// Run one input; a hang when it takes longer than `deadline`.
    pub fn run(&mut self, data: &[u8], deep: bool, deadline: Duration) -> Done {
        let start = Instant::now();
        if self.jobs.send((data.to_vec(), deep)).is_err() {
            self.restart();
            return (
                Err(Crash {
                    kind: "worker died".into(),
                    detail: "the worker thread ended".into(),
                }),
                start.elapsed(),
            );
        }
        match self.done.recv_timeout(deadline) {
            Ok(d) => d,
            Err(RecvTimeoutError::Timeout) => {
                self.restart();
                (
                    Err(Crash {
                        kind: "hang".into(),
                        detail: format!("no result within {deadline:?}"),
                    }),
                    start.elapsed(),
                )
            }
            Err(RecvTimeoutError::Disconnected) => {
                self.restart();
                (
                    Err(Crash {
                        kind: "worker died".into(),
                        detail: "the worker thread ended (stack overflow aborts the process)"
                            .into(),
                    }),
                    start.elapsed(),
                )
            }
        }
    }

    fn restart(&mut self) {
        self.abandoned += 1;
        let (j, d) = Self::spawn(&self.target);
        self.jobs = j;
        self.done = d;
    }
}
