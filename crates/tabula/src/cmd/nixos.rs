//! # `status`, `rebuild`, `generations`, `diff`, `place`
//!
//! The day-two commands over [`tabula_nixos`]: this file parses arguments,
//! prints and picks the exit code; the work is in the library.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use tabula_nixos::diff::{self as closure_diff, Change, ClosureDiff};
use tabula_nixos::generations::{self, BOOTED_SYSTEM, DEFAULT_PROFILE};
use tabula_nixos::store::{self, Method, Store, StoreError};

use crate::ctx::{Ctx, Style};
use crate::exit;

/// Where the store is read from (shared by `generations` and `diff`).
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The system profile whose generations are listed
    #[arg(long, value_name = "PATH", default_value = DEFAULT_PROFILE)]
    pub profile: PathBuf,
    /// The booted system's link, to mark the booted generation
    #[arg(long, value_name = "PATH", default_value = BOOTED_SYSTEM)]
    pub booted_system: PathBuf,
    /// The Nix store's database, read read-only
    #[arg(long, value_name = "FILE", default_value = store::DEFAULT_DB)]
    pub nix_db: PathBuf,
    /// Do not read the database: ask `nix-store` (slower; what happens on its
    /// own when the database cannot be opened)
    #[arg(long)]
    pub no_db: bool,
}

impl StoreArgs {
    fn store(&self) -> Store {
        if self.no_db {
            Store::Cli
        } else {
            Store::open_or_cli(&self.nix_db)
        }
    }
}

fn method_note(m: Method) -> &'static str {
    match m {
        Method::Database => "read from the Nix store database",
        Method::Cli => "read through nix-store",
    }
}

// --- generations ------------------------------------------------------------

const GENERATIONS_HELP: &str = "\
The date is the generation link's time (UTC); the closure size is the NAR size
of every store path the generation needs.

Examples:
  tabula generations
  tabula generations --json | jq '.generations[] | select(.current)'";

/// List the system generations (number, date, NixOS version, kernel, closure size)
#[derive(Debug, Args)]
#[command(after_help = GENERATIONS_HELP)]
pub struct GenerationsArgs {
    #[command(flatten)]
    pub store: StoreArgs,
}

pub fn generations(a: &GenerationsArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    let store = a.store.store();
    let gens = generations::list(&a.store.profile, &a.store.booted_system, Some(&store))?;
    if ctx.json {
        ctx.print_json(&serde_json::json!({
            "profile": a.store.profile,
            "method": store.method(),
            "generations": gens,
        }))?;
        return Ok(exit::OK);
    }
    let dash = || "-".to_owned();
    let rows: Vec<[String; 6]> = gens
        .iter()
        .map(|g| {
            let mut marks = Vec::new();
            if g.current {
                marks.push("current");
            }
            if g.booted {
                marks.push("booted");
            }
            [
                g.number.to_string(),
                g.date.clone(),
                g.nixos_version.clone().unwrap_or_else(dash),
                g.kernel.clone().unwrap_or_else(dash),
                g.closure_size
                    .map(|s| closure_diff::human(i64::try_from(s).unwrap_or(i64::MAX)))
                    .unwrap_or_else(dash),
                marks.join(", "),
            ]
        })
        .collect();
    let head = ["GEN", "DATE (UTC)", "NIXOS", "KERNEL", "CLOSURE", ""];
    let mut w = head.map(str::len);
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |r: &[String; 6]| {
        format!(
            "{:>w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {:>w4$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3],
            w4 = w[4]
        )
        .trim_end()
        .to_owned()
    };
    println!(
        "{}",
        ctx.paint(Style::Bold, &line(&head.map(str::to_owned)))
    );
    for r in &rows {
        let l = line(r);
        if r[5].contains("current") {
            println!("{}", ctx.paint(Style::Ok, &l));
        } else {
            println!("{l}");
        }
    }
    println!(
        "{}",
        ctx.paint(
            Style::Dim,
            &format!(
                "{} generations of {} ({})",
                gens.len(),
                a.store.profile.display(),
                method_note(store.method())
            )
        )
    );
    Ok(exit::OK)
}

// --- diff -------------------------------------------------------------------

const DIFF_HELP: &str = "\
A and B are generation numbers, `current`, `booted`, or paths into the store
(/run/current-system, ./result, /nix/store/...). Packages are grouped by name
and version as `nix store diff-closures` groups them; sizes are NAR sizes.

Examples:
  tabula diff 41 42
  tabula diff booted current
  tabula diff /run/current-system ./result --json";

/// Packages added, removed, up- or downgraded between two systems, and the size change
#[derive(Debug, Args)]
#[command(after_help = DIFF_HELP)]
pub struct DiffArgs {
    /// The old system
    pub a: String,
    /// The new system
    pub b: String,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Two closures compared, and how they were read.
pub(crate) struct DiffResult {
    pub old: String,
    pub new: String,
    pub method: Method,
    pub diff: ClosureDiff,
}

/// Diff two store paths; when the database does not know one of them, both
/// are read again through `nix-store` so the two sides agree.
pub(crate) fn diff_paths(store: Store, old: &str, new: &str) -> anyhow::Result<DiffResult> {
    let read = |s: &Store| -> Result<_, StoreError> { Ok((s.closure(old)?, s.closure(new)?)) };
    let (store, (a, b)) = match read(&store) {
        Ok(c) => (store, c),
        Err(e @ StoreError::NotValid { .. }) if store.method() == Method::Database => {
            tracing::info!("{e}: asking nix-store instead");
            let cli = Store::Cli;
            let c =
                read(&cli).with_context(|| format!("reading the closures of {old} and {new}"))?;
            (cli, c)
        }
        Err(e) => {
            return Err(
                anyhow::Error::new(e).context(format!("reading the closures of {old} and {new}"))
            )
        }
    };
    Ok(DiffResult {
        old: old.to_owned(),
        new: new.to_owned(),
        method: store.method(),
        diff: closure_diff::diff(&a, &b),
    })
}

pub(crate) fn print_diff(r: &DiffResult, ctx: &Ctx) {
    let d = &r.diff;
    println!("{} → {}", r.old, r.new);
    let counts: Vec<String> = [
        Change::Added,
        Change::Removed,
        Change::Upgraded,
        Change::Downgraded,
        Change::Changed,
        Change::Resized,
    ]
    .into_iter()
    .filter_map(|c| {
        let n = d.count(c);
        (n > 0).then(|| format!("{n} {}", c.word()))
    })
    .collect();
    if counts.is_empty() {
        println!("Packages: no change");
    } else {
        println!("Packages: {}", counts.join(", "));
    }
    for p in &d.packages {
        let (mark, style) = match p.change {
            Change::Added => ("+", Style::Ok),
            Change::Removed => ("-", Style::Error),
            Change::Upgraded => ("↑", Style::Info),
            Change::Downgraded => ("↓", Style::Warning),
            Change::Changed => ("~", Style::Info),
            Change::Resized => ("·", Style::Dim),
        };
        let versions = match p.change {
            Change::Added => closure_diff::show_versions(&p.added_versions),
            Change::Removed => closure_diff::show_versions(&p.removed_versions),
            Change::Resized => "(same version)".to_owned(),
            _ => format!(
                "{} → {}",
                closure_diff::show_versions(&p.removed_versions),
                closure_diff::show_versions(&p.added_versions)
            ),
        };
        let size = if p.size_delta == 0 {
            String::new()
        } else {
            format!(
                "  {}{}",
                if p.size_delta > 0 { "+" } else { "" },
                closure_diff::human(p.size_delta)
            )
        };
        println!(
            "  {} {} {versions}{size}",
            ctx.paint(style, mark),
            ctx.paint(Style::Bold, &p.name)
        );
    }
    let sign = if d.size_delta > 0 { "+" } else { "" };
    println!(
        "Closure: {} paths, {} → {} paths, {} ({sign}{})",
        d.old_paths,
        closure_diff::human(i64::try_from(d.old_size).unwrap_or(i64::MAX)),
        d.new_paths,
        closure_diff::human(i64::try_from(d.new_size).unwrap_or(i64::MAX)),
        closure_diff::human(d.size_delta)
    );
    println!(
        "{}",
        ctx.paint(Style::Dim, &format!("({})", method_note(r.method)))
    );
}

pub(crate) fn diff_json(r: &DiffResult) -> serde_json::Value {
    serde_json::json!({
        "old": r.old,
        "new": r.new,
        "method": r.method,
        "packages": r.diff.packages,
        "old_paths": r.diff.old_paths,
        "new_paths": r.diff.new_paths,
        "old_size": r.diff.old_size,
        "new_size": r.diff.new_size,
        "size_delta": r.diff.size_delta,
    })
}

pub fn diff(a: &DiffArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    let resolve = |w: &str| generations::resolve(w, &a.store.profile, &a.store.booted_system);
    let old = resolve(&a.a)?;
    let new = resolve(&a.b)?;
    let r = diff_paths(a.store.store(), &old, &new)?;
    if ctx.json {
        ctx.print_json(&diff_json(&r))?;
    } else {
        print_diff(&r, ctx);
    }
    Ok(exit::OK)
}

macro_rules! pending {
    ($($name:ident / $fn:ident: $doc:literal),* $(,)?) => {$(
        #[doc = $doc]
        #[derive(Debug, Args)]
        pub struct $name {}
        pub fn $fn(_: &$name, _: &Ctx) -> anyhow::Result<u8> {
            anyhow::bail!(concat!("`", stringify!($fn), "` is not implemented yet"))
        }
    )*};
}

pending! {
    StatusArgs / status: "The live host (or a mounted layout) against its spec",
    RebuildArgs / rebuild: "check, build, switch, boot, test or roll back the system",
    PlaceArgs / place: "Where should this software run? The document's decision tree",
}
