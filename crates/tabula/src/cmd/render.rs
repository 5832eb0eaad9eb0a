//! # `render` and `docs`: the flake and the host's documentation
//!
//! Both are pure rendering ([`tabula_render::render_flake`],
//! [`tabula_docs::render`]) followed by one atomic write of the whole set
//! ([`tabula_render::write::write_files_with`]: under a lock on the output
//! directory, every file staged before any is renamed into place, stale
//! temporary files of killed writers removed): nothing is written when the
//! spec has check errors or a value cannot be rendered, unchanged files keep
//! their mtime, and `hosts/<name>/custom.nix` is created once and never
//! overwritten.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use serde::Serialize;
use tabula_render::{FileStatus, OutFile, WriteReport};
use tabula_spec::check::{Finding, Severity};
use tabula_spec::HostSpec;

use crate::ctx::{Ctx, Style};
use crate::exit;

/// Render the NixOS flake and the host's documentation from the spec
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  tabula render                         writes ./out (flake.nix, hosts/NAME/*.nix, docs/)\n  tabula render --out ./flake\n  tabula render --spec host.toml --out /etc/nixos --json\n  tabula render --fleet hosts/ --out ./flake      one flake for every host (colmenaHive too)\n\nThen: cd DIR && nix flake lock && sudo nixos-rebuild switch --flake .#NAME\n(no flake.lock is written: it cannot be made offline)."
)]
pub struct RenderArgs {
    /// Where to write the flake (created if missing)
    #[arg(long, short, value_name = "DIR", default_value = "out")]
    pub out: PathBuf,
    #[command(flatten)]
    pub fleet: super::fleet::FleetArg,
}

/// Render only the host's documentation (Markdown and SVG)
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  tabula docs                 writes ./out/docs/\n  tabula docs --out ./flake   the same place `render --out ./flake` puts them"
)]
pub struct DocsArgs {
    /// The output directory; the docs land under its docs/ folder
    #[arg(long, short, value_name = "DIR", default_value = "out")]
    pub out: PathBuf,
}

#[derive(Debug, Default, Clone, Copy, Serialize)]
struct Counts {
    errors: usize,
    warnings: usize,
    infos: usize,
}

fn count(findings: &[Finding]) -> Counts {
    let n = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    Counts {
        errors: n(Severity::Error),
        warnings: n(Severity::Warning),
        infos: n(Severity::Info),
    }
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    out: String,
    host: &'a str,
    release: &'a str,
    /// How many findings of each severity.
    counts: Counts,
    /// The check's findings (the envelope lists them at its top level).
    findings: &'a [Finding],
    files: &'a [tabula_render::write::FileReport],
    written: usize,
    unchanged: usize,
    kept: usize,
}

/// The docs as files of the output directory (their paths start with docs/).
fn doc_files(spec: &HostSpec) -> Vec<OutFile> {
    tabula_docs::render(spec)
        .into_iter()
        .map(|d| OutFile::generated(d.path, d.contents))
        .collect()
}

pub fn render(a: &RenderArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    if let Some(fleet) = super::fleet::fleet_of(ctx, &a.fleet)? {
        return super::fleet::render(ctx, &fleet, &a.out);
    }
    // Refuses (exit 1, nothing written) when a check rule finds an error.
    let (loaded, found) = ctx.load_checked()?;
    print_warnings(ctx, &loaded, &found);
    let spec = &loaded.spec;
    let mut files = tabula_render::render_flake(spec)
        .with_context(|| format!("rendering the flake of `{}`", spec.host.name))?;
    let docs = doc_files(spec);
    if let Some(clash) = docs.iter().find(|d| files.iter().any(|f| f.path == d.path)) {
        anyhow::bail!(
            "the docs and the flake both want to write {}; report this as a bug",
            clash.path
        );
    }
    files.extend(docs);
    // The spec travels with the flake: on the installed machine
    // /etc/nixos/host.toml is what every tabula command reads.
    files.push(OutFile::generated("host.toml", loaded.text.clone()));
    let secrets = crate::cmd::secret::FlakeSecrets::plan(ctx, spec, &a.out)?;
    let report = write(&a.out, &files, ctx)
        .with_context(|| format!("writing the flake into {}", a.out.display()))?;
    secrets.copy()?;
    print_report(ctx, &a.out, spec, &found, &report)?;
    Ok(exit::OK)
}

pub fn docs(a: &DocsArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    // Docs of a spec with errors would document a host that cannot exist.
    let (loaded, found) = ctx.load_checked()?;
    print_warnings(ctx, &loaded, &found);
    let spec = loaded.spec;
    let files = doc_files(&spec);
    let report = write(&a.out, &files, ctx)
        .with_context(|| format!("writing the docs into {}", a.out.display()))?;
    print_report(ctx, &a.out, &spec, &found, &report)?;
    Ok(exit::OK)
}

/// Write as one unit; a second tabula writing into the same directory is
/// waited for (up to a minute), and the user is told why nothing happens.
pub(crate) fn write(
    out: &Path,
    files: &[OutFile],
    ctx: &Ctx,
) -> Result<WriteReport, tabula_render::WriteError> {
    let json = ctx.json;
    let report = tabula_render::write::write_files_with(
        out,
        files,
        tabula_run::atomic::LOCK_TIMEOUT,
        &mut |lock| {
            eprintln!(
                "waiting for another tabula writing into {} (lock {}, up to {}s)",
                out.display(),
                lock.display(),
                tabula_run::atomic::LOCK_TIMEOUT.as_secs()
            );
        },
    )?;
    if !json {
        for p in &report.stale_removed {
            eprintln!("removed {} (left by a tabula that was killed)", p.display());
        }
    }
    Ok(report)
}

/// The check's warnings, one line each, before anything is written.
fn print_warnings(ctx: &Ctx, loaded: &tabula_spec::Loaded, found: &[Finding]) {
    if ctx.json {
        return;
    }
    let color = crate::ctx::stderr_color();
    for f in found.iter().filter(|f| f.severity == Severity::Warning) {
        eprint!(
            "{}",
            crate::report::finding(&loaded.source_name, &loaded.text, f, color)
        );
    }
}

fn print_report(
    ctx: &Ctx,
    out: &Path,
    spec: &HostSpec,
    found: &[Finding],
    report: &WriteReport,
) -> anyhow::Result<()> {
    let counts = &count(found);
    let written = report.count(FileStatus::Written);
    let unchanged = report.count(FileStatus::Unchanged);
    let kept = report.count(FileStatus::Kept);
    if ctx.json {
        let report = Report {
            out: out.display().to_string(),
            host: &spec.host.name,
            release: spec.host.release.as_str(),
            counts: *counts,
            findings: found,
            files: &report.files,
            written,
            unchanged,
            kept,
        };
        return ctx.print_json(&report);
    }
    let mut s = String::new();
    if counts.warnings + counts.infos > 0 {
        let warnings = format!(
            "{} warning{}",
            counts.warnings,
            if counts.warnings == 1 { "" } else { "s" }
        );
        let _ = writeln!(
            s,
            "check: {}, {} info{} (details: tabula check)",
            ctx.paint(Style::Warning, &warnings),
            counts.infos,
            if counts.infos == 1 { "" } else { "s" },
        );
    } else {
        let _ = writeln!(s, "check: no findings");
    }
    let title = format!(
        "{} (NixOS {}) -> {}",
        spec.host.name,
        spec.host.release,
        out.display()
    );
    let _ = writeln!(s, "{}", ctx.paint(Style::Bold, &title));
    for f in &report.files {
        let (style, word) = match f.status {
            FileStatus::Written => (Style::Ok, "written  "),
            FileStatus::Unchanged => (Style::Dim, "unchanged"),
            FileStatus::Kept => (Style::Info, "kept     "),
        };
        let _ = writeln!(s, "  {} {}", ctx.paint(style, word), f.path);
    }
    let _ = writeln!(
        s,
        "{}: {written} written, {unchanged} unchanged, {kept} kept (yours: never overwritten)",
        out.display()
    );
    emit(&s)
}

/// Print to stdout; a closed pipe (`tabula render | head`) is not an error.
fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("writing to stdout"),
        _ => Ok(()),
    }
}
