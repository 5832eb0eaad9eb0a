//! # `audit`: what the next reboot would wipe
//!
//! Thin: builds the walk options from the flags, runs
//! [`tabula_audit::audit`] or [`tabula_audit::orphans`], prints text, JSON or
//! the suggested host.toml entries, and exits 1 when something would be lost
//! (or is orphaned, or could not be judged).

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use tabula_audit::{Mounts, WalkOptions};

use crate::ctx::{Ctx, Style};
use crate::exit;

const AFTER_HELP: &str = "\
Every entry of the root filesystem is one of: persisted by a mount,
persisted by a persistence entry (bind mount, or symlink into the
persistence root), ephemeral by design ([audit] ignore and NixOS's own
boot-time files: /tmp, /run, /etc/static links, ...), or LOST at reboot.
The walk never enters another filesystem and never follows symlinks.

Exit codes: 0 nothing lost, 1 something would be lost (or is orphaned,
or a directory could not be read), 2 usage.
With --fleet DIR: renders the fleet into --out and runs `colmena exec --on
NAMES -- tabula audit --json` there; one row per host. Exit 0 all ok, 1 a host
reports something, 3 a host did not answer with an envelope, 4 no colmena.

Examples:
  tabula audit                          the running host (mounts from /proc/self/mountinfo)
  tabula audit --root /mnt              a mounted image (mounts from the spec)
  tabula audit --suggest >> entries.toml   host.toml entries that would keep it
  tabula audit --orphans                stored under /persist, claimed by no entry
  tabula audit --fleet hosts            every host's audit through colmena exec, one table
  tabula audit --json | jq '.data.groups[0]'";

/// What the next reboot would wipe (and what /persist holds that no entry claims)
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct AuditArgs {
    /// The tree to audit: `/` on the running host, or a mounted image / test tree
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Where the mount table comes from (auto: the live table for `/`, else the spec)
    #[arg(long, value_enum, default_value_t = MountsArg::Auto)]
    pub mounts: MountsArg,
    /// Print the host.toml persistence entries that would keep what is lost
    #[arg(long, conflicts_with = "orphans")]
    pub suggest: bool,
    /// List what the persistence root stores that no entry claims any more
    #[arg(long)]
    pub orphans: bool,
    /// Walker threads (default: the number of CPUs)
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Show at most N groups in the text report (0: all)
    #[arg(long, value_name = "N", default_value_t = 40)]
    pub limit: usize,
    /// `--fleet DIR`: every host's `audit --json` through `colmena exec`, one table
    #[command(flatten)]
    pub remote: crate::cmd::fleet::FleetQuery,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MountsArg {
    Auto,
    Spec,
    System,
}

pub fn audit(a: &AuditArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    if a.remote.fleet.fleet.is_some() {
        return crate::cmd::fleet::query("audit", &a.remote, ctx);
    }
    let spec = ctx.spec()?;
    let mut opts = WalkOptions::default();
    if let Some(j) = a.jobs {
        opts.jobs = j.max(1);
    }
    if !a.root.is_dir() {
        return Err(crate::exit::Usage(format!(
            "--root {}: not a directory (give the root of the tree to audit, such as / or /mnt)",
            a.root.display()
        ))
        .into());
    }
    let mounts = match a.mounts {
        MountsArg::Auto => Mounts::Auto,
        MountsArg::Spec => Mounts::Spec,
        MountsArg::System => Mounts::System,
    };
    if a.orphans {
        let report = with_spinner(ctx, &a.root, &opts, |o| {
            tabula_audit::orphans(&spec, &a.root, o)
        })
        .with_context(|| format!("listing orphans under {}", a.root.display()))?;
        if ctx.json {
            ctx.print_json(&report)?;
        } else {
            print!("{}", report.to_text(a.limit));
        }
        return Ok(code(report.has_findings()));
    }
    let policy = tabula_audit::policy_for(&spec, &a.root, mounts)
        .with_context(|| format!("building the audit policy for {}", a.root.display()))?;
    if ctx.verbose > 0 {
        for r in policy.rules() {
            eprintln!(
                "{}",
                ctx.paint(
                    Style::Dim,
                    &format!("rule: {} is {} ({})", r.path, r.class.name(), r.reason)
                )
            );
        }
    }
    let report = with_spinner(ctx, &a.root, &opts, |o| {
        tabula_audit::audit_with(&policy, &a.root, o)
    })
    .with_context(|| format!("auditing {}", a.root.display()))?;
    if a.suggest {
        print_suggestion(&report, &policy, &spec, ctx)?;
    } else {
        print_report(&report, a.limit, ctx)?;
    }
    Ok(code(report.has_findings()))
}

/// Whether the walk shows a spinner: stderr is a terminal that can redraw a
/// line (not TERM=dumb), and the output is not JSON.
fn spinner_wanted(ctx: &Ctx) -> bool {
    use std::io::IsTerminal as _;
    !ctx.json
        && std::io::stderr().is_terminal()
        && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
}

/// Run `walk` with a spinner and the live counts on stderr (a walk of a
/// whole root takes seconds), cleared when it ends; without one when
/// [`spinner_wanted`] says no.
fn with_spinner<T>(
    ctx: &Ctx,
    root: &std::path::Path,
    opts: &WalkOptions,
    walk: impl FnOnce(&WalkOptions) -> T,
) -> T {
    if !spinner_wanted(ctx) {
        return walk(opts);
    }
    let progress = std::sync::Arc::new(tabula_audit::WalkProgress::default());
    let mut opts = opts.clone();
    opts.progress = Some(progress.clone());
    let counts = move |_: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
        use std::sync::atomic::Ordering::Relaxed;
        let _ = write!(
            w,
            "{} directories, {} entries, {} lost",
            progress.directories.load(Relaxed),
            progress.entries.load(Relaxed),
            progress.lost.load(Relaxed)
        );
    };
    let bar = indicatif::ProgressBar::new_spinner();
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{spinner} auditing {prefix}: {counts} ({elapsed})")
    {
        bar.set_style(style.with_key("counts", counts));
    }
    bar.set_prefix(root.display().to_string());
    bar.tick();
    bar.enable_steady_tick(std::time::Duration::from_millis(100));
    let out = walk(&opts);
    bar.finish_and_clear();
    out
}

/// `--suggest`: the TOML to add (inside the report under --json).
fn print_suggestion(
    report: &tabula_audit::Report,
    policy: &tabula_audit::Policy,
    spec: &tabula_spec::HostSpec,
    ctx: &Ctx,
) -> anyhow::Result<()> {
    let s = tabula_audit::suggest(report, policy, spec);
    if ctx.json {
        let mut v = serde_json::to_value(report).context("serialising the report")?;
        if let Some(obj) = v.as_object_mut() {
            obj.insert("suggestion".into(), serde_json::to_value(&s)?);
            obj.insert("suggestion_toml".into(), s.to_toml().into());
        }
        ctx.print_json(&v)?;
    } else {
        print!("{}", s.to_toml());
        eprintln!(
            "{} {} lost file{} in {} group{}; add the entries above to host.toml",
            ctx.paint(Style::Info, "audit:"),
            report.totals.lost,
            if report.totals.lost == 1 { "" } else { "s" },
            report.groups.len(),
            if report.groups.len() == 1 { "" } else { "s" },
        );
    }
    Ok(())
}

/// The report, coloured line by line.
fn print_report(report: &tabula_audit::Report, limit: usize, ctx: &Ctx) -> anyhow::Result<()> {
    if ctx.json {
        return ctx.print_json(report);
    }
    let text = report.to_text(limit);
    let mut lines = text.lines();
    if let Some(head) = lines.next() {
        println!("{}", ctx.paint(Style::Bold, head));
    }
    for l in lines {
        let style = if l.starts_with("could not judge") {
            Some(Style::Warning)
        } else if l.starts_with("kept:") {
            Some(Style::Dim)
        } else if l.starts_with("LOST") && report.totals.lost > 0 {
            Some(Style::Error)
        } else if l.starts_with("LOST") {
            Some(Style::Ok)
        } else {
            None
        };
        match style {
            Some(s) => println!("{}", ctx.paint(s, l)),
            None => println!("{l}"),
        }
    }
    Ok(())
}

fn code(findings: bool) -> u8 {
    if findings {
        exit::FINDINGS
    } else {
        exit::OK
    }
}
