//! # The rebuild session: the executor of a [`rebuild`](crate::rebuild) plan
//!
//! nh-style named steps behind a thin CLI: [`determine_out_link`] (where the
//! build result goes), [`setup_inputs`] (the plan's inputs, including the
//! profile's previous generation for a rollback's diff), [`preflight`]
//! (everything that can stop the run is checked before the first command),
//! then [`execute`], which runs each [`Step`] in order: a command (shown
//! first), the closure diff between the running and the new system, and the
//! question before the system changes. Printing and prompting go through
//! [`RebuildUi`]; the CLI owns the words' colours and the JSON.

use std::path::{Path, PathBuf};

use crate::diff::{self as closure_diff, ClosureDiff};
use crate::generations::{self, BOOTED_SYSTEM};
use crate::rebuild::{self, Action, Inputs, Step};
use crate::store::{self, Method, Store, StoreError};

/// What can stop a rebuild.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    /// The plan asks before it changes the system and nobody can answer.
    #[error("`rebuild {}` asks before it changes the system, and there is no terminal to ask on\n  hint: pass --yes, or --dry to see the commands", .0.name())]
    NoTerminal(Action),
    /// Changing the system profile needs root.
    #[error("`rebuild {}` changes the system profile and activates a system: run it as root (sudo tabula rebuild {})", .0.name(), .0.name())]
    NotRoot(Action),
    /// A program the plan runs is not installed.
    #[error(transparent)]
    Missing(tabula_run::Error),
    /// A step's command failed.
    #[error("tabula rebuild {}: {why}", action.name())]
    Step {
        action: Action,
        why: String,
        #[source]
        source: tabula_run::Error,
    },
    /// The question could not be asked or read.
    #[error("asking on the terminal")]
    Prompt(#[source] std::io::Error),
}

impl RebuildError {
    /// Whether the run was refused as unsafe before anything ran.
    pub fn is_refusal(&self) -> bool {
        matches!(self, RebuildError::NoTerminal(_) | RebuildError::NotRoot(_))
    }
}

/// Two closures compared, and how they were read.
#[derive(Debug, Clone)]
pub struct DiffResult {
    pub old: String,
    pub new: String,
    pub method: Method,
    pub diff: ClosureDiff,
}

/// Reading two closures failed.
#[derive(Debug, thiserror::Error)]
#[error("reading the closures of {old} and {new}")]
pub struct DiffError {
    pub old: String,
    pub new: String,
    #[source]
    pub source: Box<StoreError>,
}

/// Diff two store paths; when the database does not know one of them, both
/// are read again through `nix-store` so the two sides agree.
///
/// # Errors
/// A closure cannot be read either way.
pub fn diff_paths(store: Store, old: &str, new: &str) -> Result<DiffResult, DiffError> {
    let read = |s: &Store| -> Result<_, StoreError> { Ok((s.closure(old)?, s.closure(new)?)) };
    let wrap = |source| DiffError {
        old: old.to_owned(),
        new: new.to_owned(),
        source: Box::new(source),
    };
    let (store, (a, b)) = match read(&store) {
        Ok(c) => (store, c),
        Err(e @ StoreError::NotValid { .. }) if store.method() == Method::Database => {
            tracing::info!("{e}: asking nix-store instead");
            let cli = Store::Cli;
            let c = read(&cli).map_err(wrap)?;
            (cli, c)
        }
        Err(e) => return Err(wrap(e)),
    };
    Ok(DiffResult {
        old: old.to_owned(),
        new: new.to_owned(),
        method: store.method(),
        diff: closure_diff::diff(&a, &b),
    })
}

/// How the session talks to the user.
pub trait RebuildUi {
    /// A step's command is about to run (`why`, then the argv).
    fn step(&mut self, why: &str, argv: &str);
    /// A line of progress.
    fn say(&mut self, text: &str);
    /// The closure diff before the question.
    fn diff(&mut self, diff: &DiffResult);
    /// Something the user should know that does not stop the run.
    fn warn(&mut self, text: &str);
    /// Ask a yes/no question; `Ok(true)` for yes.
    ///
    /// # Errors
    /// The terminal cannot be read.
    fn confirm(&mut self, question: &str) -> std::io::Result<bool>;
}

/// What the user asked for beyond the plan.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Answer yes to the question.
    pub yes: bool,
    /// Whether there is a terminal to ask on.
    pub terminal: bool,
}

/// How a session ended.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The argv of every command that ran, in order (program first).
    pub ran: Vec<Vec<String>>,
    /// False when the user said no.
    pub completed: bool,
}

/// Where the build result link goes: the given path, a placeholder for a
/// dry run, or a fresh temporary directory (kept alive by the returned
/// handle).
///
/// # Errors
/// The temporary directory cannot be made.
pub fn determine_out_link(
    given: Option<&Path>,
    dry: bool,
) -> std::io::Result<(PathBuf, Option<tempfile::TempDir>)> {
    match (given, dry) {
        (Some(p), _) => Ok((p.to_owned(), None)),
        (None, true) => Ok((
            std::env::temp_dir().join("tabula-rebuild-XXXXXX/result"),
            None,
        )),
        (None, false) => {
            let (d, p) = rebuild::fresh_out_link()?;
            Ok((p, Some(d)))
        }
    }
}

/// The plan's inputs; a rollback's diff needs the profile's previous
/// generation, read from its symlinks here.
pub fn setup_inputs(
    flake: PathBuf,
    host: String,
    out_link: PathBuf,
    profile: PathBuf,
    current_system: PathBuf,
    no_check: bool,
) -> Inputs {
    let previous = generations::previous(&profile);
    Inputs {
        flake,
        host,
        out_link,
        profile,
        current_system,
        previous,
        no_check,
    }
}

/// Everything that can stop the run, checked before the first command.
///
/// # Errors
/// No terminal to ask on, a missing program, not root.
pub fn preflight(
    action: Action,
    steps: &[Step],
    inputs: &Inputs,
    opts: Options,
) -> Result<(), RebuildError> {
    let asks = steps.iter().any(|s| matches!(s, Step::Confirm { .. }));
    if asks && !opts.yes && !opts.terminal {
        return Err(RebuildError::NoTerminal(action));
    }
    if let Some(missing) = rebuild::missing_program(steps, inputs) {
        return Err(RebuildError::Missing(missing));
    }
    if action.changes_system() && !rebuild::is_root() {
        return Err(RebuildError::NotRoot(action));
    }
    Ok(())
}

/// Run the steps in order.
///
/// # Errors
/// A command fails or the question cannot be read; what ran is in the
/// error's context, nothing after it runs.
pub fn execute(
    action: Action,
    steps: &[Step],
    inputs: &Inputs,
    opts: Options,
    ui: &mut dyn RebuildUi,
) -> Result<Outcome, RebuildError> {
    let mut out = Outcome::default();
    for s in steps {
        match s {
            Step::Run { why, cmd, argv } => {
                out.ran.push(cmd.argv());
                ui.step(why, argv);
                cmd.run_inherit().map_err(|source| RebuildError::Step {
                    action,
                    why: why.clone(),
                    source,
                })?;
            }
            Step::Diff { old, new } => show_diff(old, new, &inputs.profile, ui),
            Step::Confirm { question } => {
                if opts.yes {
                    continue;
                }
                if !ui.confirm(question).map_err(RebuildError::Prompt)? {
                    ui.say("Not switched: nothing changed.");
                    return Ok(out);
                }
            }
        }
    }
    out.completed = true;
    Ok(out)
}

/// The diff informs the question; when it cannot be read the user is told
/// so and still asked.
fn show_diff(old: &Path, new: &Path, profile: &Path, ui: &mut dyn RebuildUi) {
    if !old.exists() {
        ui.say(&format!(
            "(no {}: nothing to compare the new system with)",
            old.display()
        ));
        return;
    }
    let resolve =
        |p: &Path| generations::resolve(&p.to_string_lossy(), profile, Path::new(BOOTED_SYSTEM));
    let r = resolve(old)
        .and_then(|o| Ok((o, resolve(new)?)))
        .map_err(|e| chain(&e))
        .and_then(|(o, n)| {
            diff_paths(Store::open_or_cli(Path::new(store::DEFAULT_DB)), &o, &n)
                .map_err(|e| chain(&e))
        });
    match r {
        Ok(r) => ui.diff(&r),
        Err(e) => ui.warn(&format!(
            "could not compare {} with {}: {e}",
            old.display(),
            new.display()
        )),
    }
}

/// An error and its causes on one line, as `{:#}` shows them.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use tabula_run::Cmd;

    /// Records what the session showed and answers the question.
    #[derive(Default)]
    struct Script {
        answer: bool,
        seen: Vec<String>,
    }

    impl RebuildUi for Script {
        fn step(&mut self, why: &str, argv: &str) {
            self.seen.push(format!("step {why}: {argv}"));
        }
        fn say(&mut self, text: &str) {
            self.seen.push(format!("say {text}"));
        }
        fn diff(&mut self, d: &DiffResult) {
            self.seen.push(format!("diff {} {}", d.old, d.new));
        }
        fn warn(&mut self, text: &str) {
            self.seen.push(format!("warn {text}"));
        }
        fn confirm(&mut self, question: &str) -> std::io::Result<bool> {
            self.seen.push(format!("ask {question}"));
            Ok(self.answer)
        }
    }

    fn run(why: &str, program: &str) -> Step {
        let cmd = Cmd::new(program);
        Step::Run {
            why: why.into(),
            argv: cmd.display(),
            cmd,
        }
    }

    fn inputs(d: &Path) -> Inputs {
        setup_inputs(
            d.into(),
            "h".into(),
            d.join("result"),
            d.join("profile"),
            d.join("current"),
            false,
        )
    }

    fn steps(d: &Path) -> Vec<Step> {
        vec![
            run("first", "true"),
            Step::Diff {
                old: d.join("absent"),
                new: d.join("result"),
            },
            Step::Confirm {
                question: "go on?".into(),
            },
            run("second", "true"),
        ]
    }

    /// What a run of [`execute`] must end with.
    enum Want {
        /// Ok: completed or not, the argv of each command run, and what the
        /// UI saw must pass the check.
        Done {
            completed: bool,
            ran: &'static [&'static [&'static str]],
            seen: fn(&[String]),
        },
        /// The error of the step with this `why`, the UI having seen only `seen`.
        Fails {
            why: &'static str,
            seen: &'static [&'static str],
        },
    }

    /// (name, --yes, a terminal, the steps, what must come of them)
    type Case = (&'static str, bool, bool, fn(&Path) -> Vec<Step>, Want);

    fn breaks(_: &Path) -> Vec<Step> {
        vec![run("breaks", "false"), run("never", "true")]
    }

    const CASES: &[Case] = &[
        // A "no" (the Script answers false) stops before the next command.
        (
            "a_no_stops_before_the_next_command",
            false,
            true,
            steps,
            Want::Done {
                completed: false,
                ran: &[&["true"]],
                seen: |seen| {
                    assert_eq!(seen.len(), 4, "{seen:?}");
                    assert!(seen[1].starts_with("say (no "), "{seen:?}");
                    assert_eq!(seen[3], "say Not switched: nothing changed.");
                },
            },
        ),
        (
            "yes_runs_every_step_without_asking",
            true,
            false,
            steps,
            Want::Done {
                completed: true,
                ran: &[&["true"], &["true"]],
                seen: |seen| assert!(!seen.iter().any(|l| l.starts_with("ask")), "{seen:?}"),
            },
        ),
        (
            "a_failing_step_names_itself_and_nothing_after_runs",
            true,
            false,
            breaks,
            Want::Fails {
                why: "breaks",
                seen: &["step breaks: false"],
            },
        ),
    ];

    #[test]
    fn execute_cases() {
        for (name, yes, terminal, make, want) in CASES {
            let d = tempfile::tempdir().unwrap();
            let mut ui = Script::default();
            let opts = Options {
                yes: *yes,
                terminal: *terminal,
            };
            let got = execute(
                Action::Build,
                &make(d.path()),
                &inputs(d.path()),
                opts,
                &mut ui,
            );
            match (want, got) {
                (
                    Want::Done {
                        completed,
                        ran,
                        seen,
                    },
                    Ok(out),
                ) => {
                    assert_eq!(out.completed, *completed, "{name}");
                    assert_eq!(out.ran, *ran, "{name}");
                    seen(&ui.seen);
                }
                (Want::Fails { why, seen }, Err(e)) => {
                    assert!(
                        matches!(&e, RebuildError::Step { why: w, .. } if w == why),
                        "{name}: {e}"
                    );
                    assert_eq!(ui.seen, *seen, "{name}");
                }
                (_, Ok(out)) => panic!("{name}: ran {:?}, want an error", out.ran),
                (_, Err(e)) => panic!("{name}: {e}"),
            }
        }
    }

    #[test]
    fn no_terminal_is_refused_before_anything_runs() {
        let d = tempfile::tempdir().unwrap();
        let opts = Options {
            yes: false,
            terminal: false,
        };
        let e = preflight(Action::Build, &steps(d.path()), &inputs(d.path()), opts).unwrap_err();
        assert!(e.is_refusal() && e.to_string().contains("--yes"), "{e}");
    }

    #[test]
    fn the_previous_generation_is_read_from_the_profile_links() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        for n in [1, 2, 3] {
            std::os::unix::fs::symlink(
                p.join(format!("sys{n}")),
                p.join(format!("system-{n}-link")),
            )
            .unwrap();
        }
        std::os::unix::fs::symlink("system-3-link", p.join("system")).unwrap();
        assert_eq!(
            generations::previous(&p.join("system")),
            Some(p.join("system-2-link"))
        );
    }
}
