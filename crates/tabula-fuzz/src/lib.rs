//! # tabula-fuzz: a structure-aware fuzzer on stable Rust
//!
//! No nightly, no libFuzzer, no sanitizers: a small engine of its own.
//!
//! - [`mutate`]: mutators that know TOML (values, keys, arrays of tables),
//!   JSON and line/field text, plus byte-level ones;
//! - [`targets`]: the spec parser and check, render (check accepts ⇒ render
//!   succeeds ⇒ every `.nix` parses ⇒ every SVG is XML), the disk probe's
//!   tool-output parsers and the one mountinfo parser (with its views);
//! - [`exec`]: one input in a worker thread, under `catch_unwind`, with a
//!   deadline (a hang is a finding);
//! - [`run`]: the loop: seeds from the embedded host, the literal
//!   transcription and the test fixtures; an input that shows a feature
//!   never seen (a finding code, an error kind, a rendered file set, a
//!   parser's output shape) joins the corpus; crashes are deduplicated by
//!   kind (panic location or invariant) and minimized.
//!
//! `cargo run --release -p tabula-fuzz -- --target spec --seconds 60 --seed 1`
//! runs one target; `benches/fuzz/run.sh` runs them all.

pub mod exec;
pub mod mutate;
pub mod targets;

use std::collections::{BTreeMap, HashSet};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use exec::{Crash, Worker};
use mutate::{Dict, Shape};
use targets::Target;

/// One starting input.
#[derive(Debug, Clone)]
pub struct Seed {
    pub name: &'static str,
    pub data: &'static str,
    pub shape: Shape,
}

macro_rules! seed {
    ($name:literal, $path:literal, $shape:expr) => {
        Seed {
            name: $name,
            data: include_str!($path),
            shape: $shape,
        }
    };
}

/// The TOML seeds: the embedded host, the literal transcription of the
/// document, and the test fixtures' hosts.
pub const SPEC_SEEDS: &[Seed] = &[
    seed!(
        "embedded surface-pro-8",
        "../../tabula-spec/hosts/surface-pro-8.toml",
        Shape::Toml
    ),
    seed!(
        "document-literal",
        "../../tabula-spec/tests/fixtures/document-literal.toml",
        Shape::Toml
    ),
    seed!(
        "disk test-host",
        "../../tabula-disk/tests/fixtures/test-host.toml",
        Shape::Toml
    ),
    seed!(
        "render surface-pro-8",
        "../../tabula-render/tests/fixtures/surface-pro-8.toml",
        Shape::Toml
    ),
    seed!(
        "nixos status-host",
        "../../tabula/tests/fixtures/nixos/status-host.toml",
        Shape::Toml
    ),
];

/// Real outputs of sfdisk, blkid, cryptsetup and btrfs (captured by the
/// `capture.sh` scripts beside them).
pub const PROBE_SEEDS: &[Seed] = &[
    seed!(
        "sfdisk gpt",
        "../../tabula-disk/tests/fixtures/sfdisk-full.json",
        Shape::Json
    ),
    seed!("sfdisk mbr", "../seeds/probe/sfdisk-mbr.json", Shape::Json),
    seed!(
        "sfdisk no table",
        "../seeds/probe/sfdisk-empty.txt",
        Shape::Lines
    ),
    seed!(
        "luksDump json",
        "../../tabula-disk/tests/fixtures/luksdump-p6.json",
        Shape::Json
    ),
    seed!(
        "luksDump text",
        "../../tabula-disk/tests/fixtures/luksdump-p6.txt",
        Shape::Lines
    ),
    seed!(
        "blkid vfat",
        "../../tabula-disk/tests/fixtures/blkid-p1.txt",
        Shape::Lines
    ),
    seed!(
        "blkid ext4",
        "../../tabula-disk/tests/fixtures/blkid-p2.txt",
        Shape::Lines
    ),
    seed!(
        "blkid empty",
        "../../tabula-disk/tests/fixtures/blkid-p4.txt",
        Shape::Lines
    ),
    seed!(
        "blkid ntfs-ish",
        "../../tabula-disk/tests/fixtures/blkid-p5.txt",
        Shape::Lines
    ),
    seed!(
        "blkid luks",
        "../../tabula-disk/tests/fixtures/blkid-p6.txt",
        Shape::Lines
    ),
    seed!(
        "blkid btrfs",
        "../../tabula-disk/tests/fixtures/blkid-btrfs.txt",
        Shape::Lines
    ),
    seed!("blkid pool", "../seeds/probe/blkid-pool.txt", Shape::Lines),
    seed!(
        "btrfs dump-tree",
        "../../tabula-disk/tests/fixtures/btrfs-dump-tree-root.txt",
        Shape::Lines
    ),
    seed!(
        "btrfs subvolume list",
        "../seeds/probe/btrfs-subvolume-list.txt",
        Shape::Lines
    ),
    seed!(
        "btrfs subvolume show",
        "../seeds/probe/btrfs-subvolume-show.txt",
        Shape::Lines
    ),
    seed!(
        "btrfs qgroup show",
        "../seeds/probe/btrfs-qgroup-show.txt",
        Shape::Lines
    ),
    seed!(
        "btrfs filesystem usage",
        "../seeds/probe/btrfs-filesystem-usage.txt",
        Shape::Lines
    ),
];

/// mountinfo as the kernel writes it (with escapes), and /proc/swaps.
pub const MOUNTINFO_SEEDS: &[Seed] = &[
    seed!(
        "nixos impermanence",
        "../seeds/mountinfo/nixos-impermanence.txt",
        Shape::Lines
    ),
    seed!(
        "tabula status",
        "../seeds/mountinfo/tabula-status.txt",
        Shape::Lines
    ),
    seed!(
        "loop btrfs",
        "../seeds/mountinfo/loop-btrfs.txt",
        Shape::Lines
    ),
    seed!("swaps", "../seeds/mountinfo/swaps.txt", Shape::Lines),
];

/// The seeds of a target.
pub fn seeds(t: Target) -> &'static [Seed] {
    match t {
        Target::Spec | Target::Render => SPEC_SEEDS,
        Target::Probe => PROBE_SEEDS,
        Target::Mountinfo => MOUNTINFO_SEEDS,
    }
}

/// How to run.
#[derive(Debug, Clone)]
pub struct Config {
    pub target: Target,
    pub seed: u64,
    /// Stop after this many executions (seeds included)...
    pub max_execs: Option<u64>,
    /// ...or after this long, whichever comes first.
    pub max_time: Option<Duration>,
    /// An input that runs longer is a hang.
    pub deadline: Duration,
    /// Render target: every n-th execution also writes the files and runs
    /// `nix-instantiate --parse` on every `.nix` (0: never).
    pub deep_every: u64,
    /// Shrink a new crash's input before reporting it, for at most this
    /// long.
    pub minimize: bool,
    pub minimize_budget: Duration,
    /// Where to write crash inputs (`DIR/<target>/<kind-hash>.input`).
    pub crash_dir: Option<PathBuf>,
    /// Print a status line every this often (None: quiet).
    pub progress: Option<Duration>,
}

impl Config {
    pub fn new(target: Target, seed: u64) -> Config {
        Config {
            target,
            seed,
            max_execs: None,
            max_time: Some(Duration::from_secs(10)),
            deadline: Duration::from_secs(2),
            deep_every: 200,
            minimize: true,
            minimize_budget: Duration::from_secs(30),
            crash_dir: None,
            progress: None,
        }
    }
}

/// One distinct crash.
#[derive(Debug, Clone)]
pub struct Found {
    pub crash: Crash,
    /// The (minimized) input that reproduces it.
    pub input: Vec<u8>,
    /// How many inputs crashed this way.
    pub count: u64,
    /// Whether the input needs the deep (nix-instantiate) check.
    pub deep: bool,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Report {
    pub target: &'static str,
    pub execs: u64,
    pub elapsed: Duration,
    /// By kind.
    pub crashes: BTreeMap<String, Found>,
    /// Distinct features, by their prefix (`code`, `shape`, `files`, ...).
    pub coverage: BTreeMap<String, usize>,
    pub corpus: usize,
    pub slowest: Duration,
    pub deep_runs: u64,
    pub abandoned_workers: usize,
    /// Inputs that passed the deadline once and were run again.
    pub slow_rechecked: u64,
}

impl Report {
    pub fn exec_per_sec(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.execs as f64 / s
        } else {
            0.0
        }
    }

    /// The summary the CLI and the long-run script print.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "target {}: {} executions in {:.1} s ({:.0} exec/s), {} unique crash{}, corpus {}, slowest input {} ms, deep checks {}, slow inputs rechecked {}\n  coverage:",
            self.target,
            self.execs,
            self.elapsed.as_secs_f64(),
            self.exec_per_sec(),
            self.crashes.len(),
            if self.crashes.len() == 1 { "" } else { "es" },
            self.corpus,
            self.slowest.as_millis(),
            self.deep_runs,
            self.slow_rechecked,
        );
        for (k, v) in &self.coverage {
            s.push_str(&format!(" {k}={v}"));
        }
        s.push('\n');
        for (kind, f) in &self.crashes {
            s.push_str(&format!(
                "  CRASH x{} [{}]\n    {}\n    input ({} bytes): {}\n",
                f.count,
                kind,
                f.crash.detail.lines().next().unwrap_or(""),
                f.input.len(),
                show_input(&f.input),
            ));
        }
        s
    }
}

/// An input as a Rust-escaped string, cut when long.
pub fn show_input(data: &[u8]) -> String {
    let t = String::from_utf8_lossy(data);
    let e: String = t.escape_debug().collect();
    if e.chars().count() > 2000 {
        let head: String = e.chars().take(2000).collect();
        format!("\"{head}\"… ({} chars)", t.chars().count())
    } else {
        format!("\"{e}\"")
    }
}

fn hash_of(x: &impl Hash) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    x.hash(&mut h);
    h.finish()
}

struct Entry {
    data: Vec<u8>,
    shape: Shape,
}

/// Fuzz one target as configured.
pub fn run(cfg: &Config) -> Report {
    let start = Instant::now();
    let target = Arc::new(cfg.target);
    let mut worker = Worker::new(Arc::clone(&target));
    let mut rng = fastrand::Rng::with_seed(cfg.seed);
    let seeds = seeds(cfg.target);
    let dict = Dict::from_toml_seeds(
        seeds
            .iter()
            .filter(|s| s.shape == Shape::Toml)
            .map(|s| s.data),
    );
    let mut corpus: Vec<Entry> = Vec::new();
    let mut seen: HashSet<u64> = HashSet::new();
    let mut report = Report {
        target: cfg.target.name(),
        ..Report::default()
    };
    let mut last_progress = Instant::now();
    let have_nix = cfg.target == Target::Render && cfg.deep_every > 0 && targets::have_nix();
    let mut i: u64 = 0;
    loop {
        let done_execs = cfg.max_execs.is_some_and(|m| report.execs >= m);
        let done_time = cfg.max_time.is_some_and(|t| start.elapsed() >= t);
        if (done_execs || done_time) && i as usize >= seeds.len() {
            break;
        }
        // Seeds first, then mutants of the corpus.
        let (data, shape) = if let Some(s) = seeds.get(i as usize) {
            (s.data.as_bytes().to_vec(), s.shape)
        } else if corpus.is_empty() {
            break;
        } else {
            let e = &corpus[rng.usize(..corpus.len())];
            let other = &corpus[rng.usize(..corpus.len())].data;
            (
                mutate::mutate(&mut rng, &e.data, e.shape, other, &dict),
                e.shape,
            )
        };
        i += 1;
        let deep = have_nix && i.is_multiple_of(cfg.deep_every);
        let (mut r, mut took) = worker.run(&data, deep, cfg.deadline);
        if matches!(&r, Err(c) if c.kind == "hang") {
            // A busy machine can starve the worker past the deadline: a
            // hang counts only when the input is slow again with five
            // times the time.
            report.slow_rechecked += 1;
            (r, took) = worker.run(&data, deep, cfg.deadline * 5);
        }
        report.execs += 1;
        report.deep_runs += u64::from(deep);
        report.slowest = report.slowest.max(took);
        match r {
            Ok(out) => {
                let mut new = (i as usize) <= seeds.len();
                for f in &out.features {
                    if seen.insert(hash_of(f)) {
                        // TABULA_FUZZ_FEATURES=1: print each new feature (to tune them).
                        if std::env::var_os("TABULA_FUZZ_FEATURES").is_some() {
                            eprintln!("feature {f}");
                        }
                        new = true;
                        let prefix = f.split(':').next().unwrap_or("").to_owned();
                        *report.coverage.entry(prefix).or_default() += 1;
                    }
                }
                if new && corpus.len() < 4000 && data.len() < 256 * 1024 {
                    corpus.push(Entry { data, shape });
                }
            }
            Err(c) => {
                if let Some(f) = report.crashes.get_mut(&c.kind) {
                    f.count += 1;
                } else {
                    let input = if cfg.minimize && c.kind != "hang" {
                        minimize(
                            &mut worker,
                            &c.kind,
                            &data,
                            deep,
                            cfg.deadline,
                            cfg.minimize_budget,
                        )
                    } else {
                        data
                    };
                    let found = Found {
                        crash: c,
                        input,
                        count: 1,
                        deep,
                    };
                    if let Some(dir) = &cfg.crash_dir {
                        save_crash(dir, cfg.target, &found);
                    }
                    if cfg.progress.is_some() {
                        eprintln!(
                            "NEW CRASH [{}] {}\n  input: {}",
                            found.crash.kind,
                            found.crash.detail.lines().next().unwrap_or(""),
                            show_input(&found.input)
                        );
                    }
                    report.crashes.insert(found.crash.kind.clone(), found);
                }
            }
        }
        if let Some(every) = cfg.progress {
            if last_progress.elapsed() >= every {
                last_progress = Instant::now();
                let secs = start.elapsed().as_secs_f64();
                eprintln!(
                    "[{}] {:>6.0} s  {} execs  {:.0}/s  corpus {}  features {}  crashes {}",
                    cfg.target.name(),
                    secs,
                    report.execs,
                    report.execs as f64 / secs.max(0.001),
                    corpus.len(),
                    seen.len(),
                    report.crashes.len()
                );
            }
        }
    }
    report.elapsed = start.elapsed();
    report.corpus = corpus.len();
    report.abandoned_workers = worker.abandoned;
    report
}

/// Shrink `data` while it still crashes with `kind`: drop runs of lines,
/// then runs of bytes, with a bounded budget.
pub fn minimize(
    worker: &mut Worker,
    kind: &str,
    data: &[u8],
    deep: bool,
    deadline: Duration,
    budget: Duration,
) -> Vec<u8> {
    let started = Instant::now();
    let mut best = data.to_vec();
    let still = |w: &mut Worker, cand: &[u8]| -> bool {
        matches!(w.run(cand, deep, deadline).0, Err(c) if c.kind == kind)
    };
    // Lines, in chunks from large to 1.
    let mut chunk = best.split(|&b| b == b'\n').count() / 2;
    while chunk >= 1 && started.elapsed() < budget {
        let lines: Vec<&[u8]> = best.split(|&b| b == b'\n').collect();
        let mut at = 0;
        let mut improved = false;
        while at < lines.len() && started.elapsed() < budget {
            let cand: Vec<u8> = lines
                .iter()
                .enumerate()
                .filter(|(k, _)| *k < at || *k >= at + chunk)
                .map(|(_, l)| *l)
                .collect::<Vec<_>>()
                .join(&b'\n');
            if cand.len() < best.len() && still(worker, &cand) {
                best = cand;
                improved = true;
                break;
            }
            at += chunk;
        }
        if !improved {
            chunk /= 2;
        }
    }
    // Bytes, in chunks.
    let mut chunk = (best.len() / 2).max(1);
    while chunk >= 1 && started.elapsed() < budget {
        let mut at = 0;
        let mut improved = false;
        while at < best.len() && started.elapsed() < budget {
            let mut cand = best.clone();
            cand.drain(at..(at + chunk).min(best.len()));
            if still(worker, &cand) {
                best = cand;
                improved = true;
            } else {
                at += chunk;
            }
        }
        if !improved {
            if chunk == 1 {
                break;
            }
            chunk /= 2;
        }
    }
    best
}

/// Write a crash's input (and what it does) under `dir/<target>/`.
pub fn save_crash(dir: &Path, target: Target, f: &Found) {
    let d = dir.join(target.name());
    let name = format!("crash-{:016x}", hash_of(&f.crash.kind));
    let r = std::fs::create_dir_all(&d)
        .and_then(|()| std::fs::write(d.join(format!("{name}.input")), &f.input))
        .and_then(|()| {
            std::fs::write(
                d.join(format!("{name}.txt")),
                format!("{}\n{}\n", f.crash.kind, f.crash.detail),
            )
        });
    if let Err(e) = r {
        eprintln!("tabula-fuzz: cannot save the crash in {}: {e}", d.display());
    }
}

// ---------------------------------------------------------------------------
// Regressions

/// The folder of regression inputs (`regressions/<target>/`).
pub fn regressions_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions")
}

/// A crash the fuzzer found whose fix belongs to another part of the code
/// and has not landed yet: `regressions/known-open.txt`, one per line,
/// `TARGET/FILE  KIND-SUBSTRING  # note`.
#[derive(Debug, Clone)]
pub struct KnownOpen {
    pub target: String,
    pub file: String,
    pub kind: String,
}

/// The list of known-open crashes.
pub fn known_open() -> Vec<KnownOpen> {
    let text =
        std::fs::read_to_string(regressions_dir().join("known-open.txt")).unwrap_or_default();
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .filter_map(|l| {
            let (path, kind) = l.split_once(char::is_whitespace)?;
            let (target, file) = path.split_once('/')?;
            Some(KnownOpen {
                target: target.to_owned(),
                file: file.to_owned(),
                kind: kind.trim().to_owned(),
            })
        })
        .collect()
}

/// Whether a crash of `target` matches a known-open entry (by kind).
pub fn is_known_open(target: Target, kind: &str, list: &[KnownOpen]) -> bool {
    list.iter()
        .any(|k| k.target == target.name() && kind.contains(&k.kind))
}
