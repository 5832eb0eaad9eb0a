//! # `status`, `rebuild`, `generations`, `diff`, `place`
//!
//! The day-two commands over [`tabula_nixos`]: this file parses arguments,
//! prints and picks the exit code; the work is in the library.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use tabula_nixos::diff::{self as closure_diff, Change};
use tabula_nixos::generations::{self, BOOTED_SYSTEM, DEFAULT_PROFILE};
use tabula_nixos::place::{self, Kind, Placement};
use tabula_nixos::rebuild::{self, Action, Step};
use tabula_nixos::session;
use tabula_nixos::status::{self, State};
use tabula_nixos::store::{self, Method, Store};

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
    /// The Nix store's database (opened read-only; never written or locked)
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

/// Two closures compared (tabula-nixos reads them).
pub(crate) use tabula_nixos::session::{diff_paths, DiffResult};

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
            // A path without a version (`etc`, `unit-foo`) shows no version.
            Change::Added if p.added_versions == [""] => String::new(),
            Change::Removed if p.removed_versions == [""] => String::new(),
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
        let versions = if versions.is_empty() {
            versions
        } else {
            format!(" {versions}")
        };
        println!(
            "  {} {}{versions}{size}",
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

// --- place ------------------------------------------------------------------

const PLACE_HELP: &str = "\
The tree, in the document's order: a CLI tool or system utility runs as a Nix
package; a development environment in a Distrobox container; a GUI application
as a Flatpak from Flathub (NAME is its app id); a long-running service in a
rootless Podman container; untrusted code or CI/CD in a microvm.nix VM.
Without --kind the questions are asked one by one (on a terminal only).
--apply adds the entry to host.toml (--spec FILE, else ./host.toml), keeping
its comments and layout; `tabula render` turns it into configuration.

Examples:
  tabula place ripgrep --kind cli
  tabula place org.mozilla.firefox --kind gui --apply
  tabula place postgres --kind service --image docker.io/library/postgres:16 --port 5432:5432
  tabula place ci-runner                      (asks the tree's questions)";

/// Where should this software run? The document's container decision tree
#[derive(Debug, Args)]
#[command(after_help = PLACE_HELP)]
pub struct PlaceArgs {
    /// The software: a package or container name, or a Flathub app id for a GUI app
    pub name: String,
    /// What it is (else the tree's questions are asked)
    #[arg(long, value_enum)]
    pub kind: Option<KindArg>,
    /// The image of a Distrobox (dev) or Podman (service) container
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// A port a service publishes, as Podman writes it (8080:80); repeatable
    #[arg(long = "port", value_name = "PORT")]
    pub ports: Vec<String>,
    /// Write the change into host.toml
    #[arg(long)]
    pub apply: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum KindArg {
    /// A CLI tool or system utility
    Cli,
    /// A development environment (compiler, interpreter)
    Dev,
    /// A GUI application (browser, chat, office)
    Gui,
    /// A long-running service (database, web server)
    Service,
    /// Untrusted code or a CI/CD workload
    Untrusted,
}

impl From<KindArg> for Kind {
    fn from(k: KindArg) -> Kind {
        match k {
            KindArg::Cli => Kind::Cli,
            KindArg::Dev => Kind::Dev,
            KindArg::Gui => Kind::Gui,
            KindArg::Service => Kind::Service,
            KindArg::Untrusted => Kind::Untrusted,
        }
    }
}

fn usage(message: String) -> anyhow::Error {
    exit::Reported {
        message,
        code: exit::USAGE,
    }
    .into()
}

/// Ask the tree's questions on the terminal until one is answered yes.
fn ask_kind(name: &str) -> anyhow::Result<Option<Kind>> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(usage(format!(
            "error: no --kind given and no terminal to ask on\n  hint: tabula place {name} --kind cli|dev|gui|service|untrusted"
        )));
    }
    let mut lines = stdin.lock().lines();
    let mut err = std::io::stderr();
    for kind in Kind::ALL {
        loop {
            write!(err, "{} [y/n] ", kind.question())?;
            err.flush()?;
            let Some(line) = lines.next().transpose()? else {
                return Err(usage("error: no answer (end of input)".into()));
            };
            match line.trim().to_ascii_lowercase().as_str() {
                "y" | "yes" => return Ok(Some(kind)),
                "n" | "no" => break,
                _ => writeln!(err, "please answer y or n")?,
            }
        }
    }
    Ok(None)
}

pub fn place(a: &PlaceArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    let kind = match a.kind {
        Some(k) => k.into(),
        None => match ask_kind(&a.name)? {
            Some(k) => k,
            None => {
                return Err(exit::Reported {
                    message: "The document's decision tree has no branch for software that is none of these: \
                              not placed.\n  hint: pick the closest with --kind"
                        .into(),
                    code: exit::FINDINGS,
                }
                .into())
            }
        },
    };
    let opts = place::Options {
        image: a.image.clone(),
        ports: a.ports.clone(),
    };
    let p = place::decide(&a.name, kind, &opts).map_err(|e| usage(format!("error: {e}")))?;
    let written = if a.apply {
        Some(apply_placement(&p, ctx)?)
    } else {
        None
    };
    if ctx.json {
        ctx.print_json(&serde_json::json!({
            "placement": p,
            "applied": written.as_ref().map(|(path, changed, enabled)| serde_json::json!({
                "file": path, "changed": changed, "enabled_runtime": enabled,
            })),
        }))?;
        return Ok(exit::OK);
    }
    let w = p.why;
    println!(
        "{}  {}",
        ctx.paint(Style::Bold, &p.name),
        ctx.paint(Style::Info, &format!("→ {}", p.answer))
    );
    println!("  because: {} yes", p.question);
    println!(
        "  {}: kernel {}, filesystem {}, network {}, overhead {} (use case: {})",
        w.runtime, w.kernel, w.filesystem, w.network, w.overhead, w.use_case
    );
    println!("  change:  {}", p.change.describe());
    if let Some((_, _, true)) = &written {
        let (table, _) = p.change.key();
        println!(
            "  also:    [{}] enable = true (it was off)",
            table.join(".")
        );
    }
    match written {
        Some((path, true, _)) => println!(
            "{}",
            ctx.paint(
                Style::Ok,
                &format!(
                    "written to {} (run `tabula render` to make it configuration)",
                    path.display()
                )
            )
        ),
        Some((path, false, _)) => println!("already in {}: nothing to write", path.display()),
        None => println!(
            "{}",
            ctx.paint(Style::Dim, "(add --apply to write it into host.toml)")
        ),
    }
    Ok(exit::OK)
}

/// Write the placement into the spec file: refused for the embedded host;
/// the result is checked to still be a valid spec before it replaces the file.
/// Returns the file, whether it changed, and whether the runtime was switched on.
fn apply_placement(p: &Placement, ctx: &Ctx) -> anyhow::Result<(PathBuf, bool, bool)> {
    let path = match ctx.spec_source() {
        tabula_spec::SpecSource::File(path) => path,
        other => {
            return Err(exit::Refused(format!(
                "--apply writes host.toml, but the spec is {other}, which is built into tabula\n  hint: run `tabula init host.toml` first, then `tabula place ... --apply` in that folder (or pass --spec FILE)"
            ))
            .into())
        }
    };
    // A symlinked host.toml is edited where it lives (the link stays a
    // link), and the read-modify-write runs under a lock beside that file:
    // concurrent `place --apply` runs queue, and none loses another's edit.
    let target = tabula_run::atomic::final_target(&path)?;
    let _lock = tabula_run::atomic::Lock::acquire(
        &tabula_run::atomic::lock_path_for(&target),
        tabula_run::atomic::LOCK_TIMEOUT,
        &mut |lock| {
            eprintln!(
                "waiting for another tabula editing {} (lock {})",
                target.display(),
                lock.display()
            );
        },
    )?;
    let loaded = ctx.load()?;
    let applied = place::apply(&loaded.text, &p.change)
        .with_context(|| format!("editing {}", path.display()))?;
    if !applied.changed {
        return Ok((path, false, false));
    }
    let edited = tabula_spec::parse(&path.to_string_lossy(), &applied.text).with_context(|| {
        format!(
            "the edited {} would not be a valid spec; nothing written",
            path.display()
        )
    })?;
    // Refuse an edit that `tabula check` would then refuse.
    let new = tabula_spec::edit::new_errors(&loaded, &edited);
    if !new.is_empty() {
        return Err(exit::Refused(format!(
            "placing {} would make {} fail `tabula check`; nothing written:\n  {}",
            p.name,
            path.display(),
            new.join("\n  ")
        ))
        .into());
    }
    place::write_atomic(&target, applied.text.as_bytes())
        .with_context(|| format!("writing {}", target.display()))?;
    Ok((path, true, applied.enabled))
}

// --- rebuild ----------------------------------------------------------------

const REBUILD_HELP: &str = "\
Every step's command is printed before it runs. After the build, the package
diff between the running system and the new one is shown, and tabula asks
before it touches the system (--yes answers for you; without a terminal and
without --yes it refuses). switch/boot add a generation to the system profile
with `nix-env --set` and run the new system's switch-to-configuration, as
nixos-rebuild does after its build. Switching needs root.

Examples:
  tabula rebuild check
  tabula rebuild switch --dry           print every command, run none
  sudo tabula rebuild switch
  sudo tabula rebuild boot --flake ~/src/host --yes
  sudo tabula rebuild rollback";

/// Check, build, switch, boot, test or roll back the system, showing what changes first
#[derive(Debug, Args)]
#[command(after_help = REBUILD_HELP)]
pub struct RebuildArgs {
    /// check, build, switch, boot, test or rollback
    #[arg(value_enum)]
    pub action: ActionArg,
    /// The flake directory
    #[arg(long, value_name = "DIR", default_value = "/etc/nixos")]
    pub flake: PathBuf,
    /// The nixosConfigurations attribute (default: the spec's host name)
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// Where the build result link goes (default: a fresh temp dir)
    #[arg(long, value_name = "PATH")]
    pub out_link: Option<PathBuf>,
    /// Print every command it would run, and run none
    #[arg(long)]
    pub dry: bool,
    /// Do not ask before switching
    #[arg(long, short)]
    pub yes: bool,
    /// Skip `nix flake check`
    #[arg(long)]
    pub no_check: bool,
    /// The system profile
    #[arg(long, value_name = "PATH", default_value = DEFAULT_PROFILE)]
    pub profile: PathBuf,
    /// The running system
    #[arg(long, value_name = "PATH", default_value = generations::CURRENT_SYSTEM)]
    pub current_system: PathBuf,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ActionArg {
    /// nix flake check
    Check,
    /// check, build and show the diff
    Build,
    /// ... and switch to it now
    Switch,
    /// ... and make it the default at the next boot
    Boot,
    /// ... and activate it until the next boot
    Test,
    /// go back to the previous generation
    Rollback,
}

impl From<ActionArg> for Action {
    fn from(a: ActionArg) -> Action {
        match a {
            ActionArg::Check => Action::Check,
            ActionArg::Build => Action::Build,
            ActionArg::Switch => Action::Switch,
            ActionArg::Boot => Action::Boot,
            ActionArg::Test => Action::Test,
            ActionArg::Rollback => Action::Rollback,
        }
    }
}

/// The CLI's face of a rebuild session: coloured progress on stdout (stderr
/// under --json), the diff, and the question on the terminal.
struct Terminal<'a> {
    ctx: &'a Ctx,
}

impl Terminal<'_> {
    fn line(&self, text: &str) {
        if self.ctx.json {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    }
}

impl session::RebuildUi for Terminal<'_> {
    fn step(&mut self, why: &str, argv: &str) {
        let ctx = self.ctx;
        self.line(&format!(
            "{} {}",
            ctx.paint(Style::Info, "==>"),
            ctx.paint(Style::Bold, why)
        ));
        self.line(&format!("$ {argv}"));
    }

    fn say(&mut self, text: &str) {
        self.line(text);
    }

    fn diff(&mut self, r: &DiffResult) {
        if self.ctx.json {
            match serde_json::to_string_pretty(&diff_json(r)) {
                Ok(j) => eprintln!("{j}"),
                Err(e) => self.warn(&e.to_string()),
            }
        } else {
            print_diff(r, self.ctx);
        }
    }

    fn warn(&mut self, text: &str) {
        eprintln!("{} {text}", self.ctx.paint(Style::Warning, "warning:"));
    }

    fn confirm(&mut self, question: &str) -> std::io::Result<bool> {
        eprint!("{question} [y/N] ");
        std::io::stderr().flush()?;
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok(matches!(
            line.trim().to_ascii_lowercase().as_str(),
            "y" | "yes"
        ))
    }
}

pub fn rebuild(a: &RebuildArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    let action: Action = a.action.into();
    let host = match &a.host {
        Some(h) => h.clone(),
        None => ctx.spec()?.host.name,
    };
    let (out_link, _tmp) = session::determine_out_link(a.out_link.as_deref(), a.dry)
        .context("creating a temp dir for the build result")?;
    let inputs = session::setup_inputs(
        a.flake.clone(),
        host,
        out_link,
        a.profile.clone(),
        a.current_system.clone(),
        a.no_check,
    );
    let steps = rebuild::plan(action, &inputs);
    if a.dry {
        return print_dry(action, &steps, ctx);
    }
    let opts = session::Options {
        yes: a.yes,
        terminal: std::io::stdin().is_terminal(),
    };
    let refused = |e: session::RebuildError| -> anyhow::Error {
        if e.is_refusal() {
            exit::Refused(e.to_string()).into()
        } else {
            e.into()
        }
    };
    session::preflight(action, &steps, &inputs, opts).map_err(refused)?;
    let outcome = session::execute(action, &steps, &inputs, opts, &mut Terminal { ctx })?;
    if ctx.json {
        ctx.print_json(&serde_json::json!({
            "action": action,
            "dry": false,
            "completed": outcome.completed,
            "result": std::fs::canonicalize(&inputs.out_link).ok(),
            "ran": outcome.ran,
        }))?;
    }
    Ok(exit::OK)
}

fn print_dry(action: Action, steps: &[Step], ctx: &Ctx) -> anyhow::Result<u8> {
    if ctx.json {
        ctx.print_json(&serde_json::json!({
            "action": action, "dry": true, "steps": steps,
        }))?;
    } else {
        println!(
            "{}",
            ctx.paint(
                Style::Dim,
                &format!("# tabula rebuild {} --dry: nothing is run", action.name())
            )
        );
        for s in steps {
            println!("{}", s.display());
        }
    }
    Ok(exit::OK)
}

// --- status -----------------------------------------------------------------

const STATUS_HELP: &str = "\
Reads the system's own tables: /proc/self/mountinfo (source, subvolume,
filesystem, options including compression), statvfs (tmpfs fill, pool space),
/sys/block/dm-*/dm (the LUKS mapping), btrfs subvolume list, btrfs qgroup show
(usage only when quotas are on; tabula never walks the pool), blkid.
Exit 1 when anything is drift or missing.

Examples:
  tabula status
  tabula status --target /mnt          a layout mounted by `tabula mount`
  tabula status --json | jq '.items[] | select(.state != \"ok\")'";

/// The live host (or a layout mounted under DIR) against its spec: ok, drift or missing
#[derive(Debug, Args)]
#[command(after_help = STATUS_HELP)]
pub struct StatusArgs {
    /// Check a layout mounted under DIR (e.g. /mnt) instead of the running system
    #[arg(long, value_name = "DIR")]
    pub target: Option<PathBuf>,
}

pub fn status(a: &StatusArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    let spec = ctx.spec()?;
    let target = match &a.target {
        Some(t) => {
            Some(std::fs::canonicalize(t).with_context(|| format!("--target {}", t.display()))?)
        }
        None => None,
    };
    let probe = status::probe(&spec, target.as_deref());
    let items = status::evaluate(&spec, target.as_deref(), &probe);
    let findings = status::has_findings(&items);
    if ctx.json {
        ctx.print_json(&serde_json::json!({
            "host": spec.host.name,
            "target": target,
            "ok": !findings,
            "items": items,
        }))?;
    } else {
        let name_w = items
            .iter()
            .map(|i| i.name.chars().count())
            .max()
            .unwrap_or(0);
        for i in &items {
            let style = match i.state {
                State::Ok => Style::Ok,
                State::Drift => Style::Warning,
                State::Missing => Style::Error,
                State::Unknown => Style::Dim,
            };
            println!(
                "{}  {:<11}  {:<name_w$}  {}",
                ctx.paint(style, &format!("{:<7}", i.state.word())),
                i.kind,
                i.name,
                i.detail
            );
        }
        let count = |s: State| items.iter().filter(|i| i.state == s).count();
        println!(
            "{}",
            ctx.paint(
                Style::Bold,
                &format!(
                    "{} ok, {} drift, {} missing, {} unknown ({} against {})",
                    count(State::Ok),
                    count(State::Drift),
                    count(State::Missing),
                    count(State::Unknown),
                    target
                        .as_ref()
                        .map_or("the running system".to_owned(), |t| t.display().to_string()),
                    spec.host.name
                )
            )
        );
    }
    Ok(if findings { exit::FINDINGS } else { exit::OK })
}
