//! The short deterministic run of every target: a fixed seed, a bounded
//! number of executions, and a failure on any crash that is not a listed
//! known-open one (regressions/known-open.txt), printing the minimized
//! input. The long run is benches/fuzz/run.sh.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

use tabula_fuzz::targets::Target;
use tabula_fuzz::{is_known_open, known_open, run, seeds, show_input, Config};

/// The seed of the test runs: the same seed, the same inputs.
const SEED: u64 = 0x007a_b01a;

fn short(target: Target, execs: u64, deep_every: u64) {
    let mut cfg = Config::new(target, SEED);
    cfg.max_execs = Some(execs);
    // A cap far above the measured time (debug build), only so a stuck
    // machine cannot hold the suite.
    cfg.max_time = Some(Duration::from_secs(300));
    // Debug builds are 10-30x slower than release: the hang bound is
    // scaled to match (2 s in release).
    cfg.deadline = Duration::from_secs(20);
    cfg.deep_every = deep_every;
    cfg.minimize_budget = Duration::from_secs(10);
    let report = run(&cfg);
    let summary = report.summary();
    eprintln!("{summary}");
    let known = known_open();
    let mut fail = Vec::new();
    for (kind, f) in &report.crashes {
        if is_known_open(target, kind, &known) {
            eprintln!(
                "KNOWN OPEN (regressions/known-open.txt) [{kind}]: {}",
                show_input(&f.input)
            );
        } else {
            fail.push(format!(
                "[{kind}] {}\n  minimized input: {}",
                f.crash.detail,
                show_input(&f.input)
            ));
        }
    }
    assert!(
        fail.is_empty(),
        "tabula-fuzz found {} crash(es) in target {}:\n{}\nAdd the input to crates/tabula-fuzz/regressions/{}/ with the fix.",
        fail.len(),
        target.name(),
        fail.join("\n"),
        target.name()
    );
    assert_eq!(report.execs, execs, "the run was cut by its time cap");
    // The engine did more than replay its seeds: mutants showed features
    // the seeds did not.
    assert!(
        report.corpus > seeds(target).len(),
        "no mutant showed a new feature: {summary}"
    );
}

// Execution counts: about 20-40 s each in a debug build on a quiet 2-core
// machine, the four tests side by side (measured: see RELIABILITY.md).

#[test]
fn fuzz_spec_short() {
    short(Target::Spec, 400, 0);
}

#[test]
fn fuzz_render_short() {
    // Every 30th input also goes through the writer and nix-instantiate.
    short(Target::Render, 300, 30);
}

#[test]
fn fuzz_probe_short() {
    short(Target::Probe, 6_000, 0);
}

#[test]
fn fuzz_mountinfo_short() {
    short(Target::Mountinfo, 15_000, 0);
}
