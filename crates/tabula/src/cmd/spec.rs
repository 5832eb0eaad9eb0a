//! # `check`, `init`, `schema`

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use tabula_spec::check::{self, Finding, Severity};

use crate::ctx::{Ctx, Style};
use crate::exit;

/// Check the host spec: every rule, with its code, place and a fix
#[derive(Debug, Args)]
#[command(after_help = "\
Exit status: 0 when no rule finds an error (warnings and infos are shown),
1 when one does, 2 when the file cannot be read as a spec at all.

Examples:
  tabula check                         the embedded Surface Pro 8 host
  tabula check --spec host.toml --json
  tabula check --rules                 every rule with its code
  tabula check --fleet hosts/          every host, and the rules across hosts")]
pub struct CheckArgs {
    /// List every rule (code, severity, what it finds) instead of checking
    #[arg(long)]
    pub rules: bool,
    /// Hide infos
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub fleet: super::fleet::FleetArg,
}

/// Write the embedded host out as a commented host.toml to start from
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  tabula init            writes ./host.toml\n  tabula init my-host.toml --force\n  tabula init --from-disk /dev/nvme0n1   start from this machine's disk"
)]
pub struct InitArgs {
    /// Where to write it
    #[arg(default_value = "host.toml")]
    pub path: PathBuf,
    /// Overwrite an existing file
    #[arg(long)]
    pub force: bool,
    /// Start from this machine's disk instead of the embedded host (as
    /// `tabula import --disk PATH`: read-only; exit 1 when something was
    /// left out)
    #[arg(long, value_name = "PATH", value_parser = crate::ctx::disk_path)]
    pub from_disk: Option<PathBuf>,
}

/// Print the JSON Schema of host.toml (for editors and validators)
#[derive(Debug, Args)]
#[command(after_help = "\
The schema checks shapes and values (partition types, filesystems, loaders,
releases, sizes, UUIDs); `tabula check` checks the rest. Editors (taplo, Even
Better TOML) find it through the first line `tabula init` writes:
  #:schema ./host.schema.json

Examples:
  tabula schema --out host.schema.json
  tabula schema > host.schema.json")]
pub struct SchemaArgs {
    /// Write it to FILE (atomically) instead of stdout
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The schema of the `--json` envelope every command prints instead of
    /// host.toml's (docs/JSON.md)
    #[arg(long)]
    pub envelope: bool,
}

/// The first line `init` writes: where editors find the schema.
pub const SCHEMA_LINE: &str = "#:schema ./host.schema.json\n";
/// The schema's file name, beside host.toml.
pub const SCHEMA_FILE: &str = "host.schema.json";

fn schema_text() -> anyhow::Result<String> {
    let v = tabula_spec::json_schema().map_err(|e| anyhow::anyhow!("building the schema: {e}"))?;
    Ok(format!("{}\n", serde_json::to_string_pretty(&v)?))
}

fn write_atomic(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    tabula_run::atomic::stage(
        path,
        text.as_bytes(),
        tabula_run::atomic::Meta::KeepOr { mode: 0o644 },
    )
    .and_then(tabula_run::atomic::Staged::commit)
    .with_context(|| format!("writing {}", path.display()))
}

pub fn check(a: &CheckArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    if a.rules {
        return list_rules(ctx);
    }
    if let Some(fleet) = super::fleet::fleet_of(ctx, &a.fleet)? {
        return super::fleet::check(ctx, &fleet, a.quiet);
    }
    let source = ctx.spec_source();
    tracing::debug!("checking the host spec from {source}");
    let (name, text, findings) = match tabula_spec::load(&source) {
        Ok(loaded) => (
            loaded.source_name.clone(),
            loaded.text.clone(),
            check::check(&loaded),
        ),
        Err(e) => {
            if !ctx.json {
                // The report already shows every problem with its snippet.
                eprint!("{}", e.render_report(crate::ctx::stderr_color()));
                return Ok(exit::USAGE);
            }
            // Like every command, a spec that cannot be read is a usage error.
            ctx.print_json(&serde_json::json!({
                "spec": e.source_name,
                "findings": check::findings_from_error(&e),
            }))?;
            return Ok(exit::USAGE);
        }
    };
    let errors = check::has_errors(&findings);
    if ctx.json {
        ctx.print_json(&serde_json::json!({
            "spec": name,
            "findings": findings,
        }))?;
    } else {
        print_findings(ctx, &name, &text, &findings, a.quiet);
    }
    Ok(if errors { exit::FINDINGS } else { exit::OK })
}

/// Findings grouped by severity, errors first, each with its place, the
/// line of the spec marked, and its fix.
pub fn print_findings(ctx: &Ctx, name: &str, text: &str, findings: &[Finding], quiet: bool) {
    for sev in [Severity::Error, Severity::Warning, Severity::Info] {
        if quiet && sev == Severity::Info {
            continue;
        }
        let group: Vec<&Finding> = findings.iter().filter(|f| f.severity == sev).collect();
        if group.is_empty() {
            continue;
        }
        println!(
            "{}",
            ctx.paint(Style::Bold, &format!("{} ({})", plural(sev), group.len()))
        );
        for f in group {
            if sev == Severity::Info {
                // Infos are not problems: one line and the place, no snippet.
                print_compact(ctx, name, f);
            } else {
                print!("{}", crate::report::finding(name, text, f, ctx.color));
            }
        }
    }
    let count = |s| findings.iter().filter(|f| f.severity == s).count();
    let summary = format!(
        "{name}: {} error(s), {} warning(s), {} info(s)",
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info)
    );
    let style = if check::has_errors(findings) {
        Style::Error
    } else {
        Style::Ok
    };
    println!("{}", ctx.paint(style, &summary));
}

fn print_compact(ctx: &Ctx, name: &str, f: &Finding) {
    let mut place = match (f.line, f.column) {
        (Some(l), Some(c)) => format!("{name}:{l}:{c}"),
        _ => name.to_owned(),
    };
    if !f.at.is_empty() {
        place.push_str(&format!(" ({})", f.at));
    }
    println!(
        "  {} [{}] {}",
        ctx.paint(Style::Info, f.severity.name()),
        f.code,
        f.message
    );
    println!("      {}", ctx.paint(Style::Dim, &format!("at {place}")));
    if let Some(h) = &f.hint {
        println!("      {} {h}", ctx.paint(Style::Ok, "fix:"));
    }
}

fn plural(s: Severity) -> &'static str {
    match s {
        Severity::Error => "Errors",
        Severity::Warning => "Warnings",
        Severity::Info => "Infos",
    }
}

fn list_rules(ctx: &Ctx) -> anyhow::Result<u8> {
    if ctx.json {
        ctx.print_json(&serde_json::json!({ "rules": check::rules() }))?;
        return Ok(exit::OK);
    }
    let rules = check::rules();
    let width = rules
        .iter()
        .map(|r| r.code.as_str().len())
        .max()
        .unwrap_or(0);
    for r in rules {
        println!("{:width$}  {:7}  {}", r.code, r.severity.name(), r.summary);
    }
    Ok(exit::OK)
}

/// Refuse a path that is a symbolic link (never written through, with or
/// without --force), or that exists without --force.
pub(crate) fn refuse_existing(path: &std::path::Path, force: bool) -> anyhow::Result<()> {
    if let Ok(m) = std::fs::symlink_metadata(path) {
        if m.file_type().is_symlink() {
            let to = std::fs::read_link(path)
                .map(|t| format!(" (to {})", t.display()))
                .unwrap_or_default();
            return Err(exit::Refused(format!(
                "{} is a symbolic link{to}; tabula never writes a spec through a link, with or without --force\n  hint: give the file itself, or remove the link first",
                path.display()
            ))
            .into());
        }
        if !force {
            return Err(exit::Refused(format!(
                "{} exists; pass --force to overwrite it",
                path.display()
            ))
            .into());
        }
    }
    Ok(())
}

/// Write the new spec: staged, then renamed over the target with --force,
/// else renamed into place only where nothing is (RENAME_NOREPLACE).
pub(crate) fn write_spec(path: &std::path::Path, text: &str, force: bool) -> anyhow::Result<()> {
    if force {
        // Stage and rename: a rename replaces the directory entry itself, so
        // a link put there meanwhile is replaced, never written through.
        tabula_run::atomic::stage(
            path,
            text.as_bytes(),
            tabula_run::atomic::Meta::KeepOr { mode: 0o644 },
        )
        .and_then(tabula_run::atomic::Staged::commit)
        .with_context(|| format!("writing {}", path.display()))?;
    } else {
        // Staged beside it, then renamed into place only if nothing is
        // there (a dangling link included): a full disk fails in the
        // temporary file and leaves no empty host.toml behind.
        tabula_run::atomic::stage(
            path,
            text.as_bytes(),
            tabula_run::atomic::Meta::Fresh { mode: 0o644 },
        )
        .and_then(tabula_run::atomic::Staged::commit_new)
        .map_err(|e| match e.io_kind() {
            Some(std::io::ErrorKind::AlreadyExists) => anyhow::Error::from(exit::Refused(format!(
                "{} appeared while writing it; pass --force to overwrite a file",
                path.display()
            ))),
            _ => anyhow::Error::new(e).context(format!("writing {}", path.display())),
        })?;
    }
    Ok(())
}

pub fn init(a: &InitArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    let path = &a.path;
    // Never follow a link: `init --force LINK` would overwrite whatever the
    // link names, and `init DANGLING` would create its target.
    refuse_existing(path, a.force)?;
    let imported = match &a.from_disk {
        Some(d) => Some(crate::cmd::import::draft(
            std::slice::from_ref(d),
            &crate::cmd::import::KeyArgs::default(),
        )?),
        None => None,
    };
    let text = format!(
        "{SCHEMA_LINE}{}",
        imported
            .as_ref()
            .map_or(tabula_spec::embedded::DEFAULT_HOST.toml, |r| r
                .spec
                .as_str())
    );
    let schema = schema_text()?;
    write_spec(path, &text, a.force)?;
    let schema_path = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."))
        .join(SCHEMA_FILE);
    write_atomic(&schema_path, &schema)?;
    if let (Some(r), Some(d)) = (&imported, &a.from_disk) {
        eprintln!(
            "wrote {} (imported from {}: {} value(s) guessed, {} thing(s) left out, listed at its top) and its schema {}",
            path.display(),
            d.display(),
            r.guessed,
            r.left_out.len(),
            schema_path.display()
        );
        ctx.print_json(&serde_json::json!({
            "from_disk": d.display().to_string(),
            "left_out": r.left_out,
            "written": [path.display().to_string(), schema_path.display().to_string()],
        }))?;
        return Ok(crate::cmd::import::code(r));
    }
    eprintln!(
        "wrote {} (the embedded host `{}`) and its schema {}",
        path.display(),
        tabula_spec::embedded::DEFAULT_HOST.name,
        schema_path.display()
    );
    ctx.print_json(&serde_json::json!({
        "host": tabula_spec::embedded::DEFAULT_HOST.name,
        "written": [path.display().to_string(), schema_path.display().to_string()],
    }))?;
    Ok(exit::OK)
}

pub fn schema(a: &SchemaArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    let text = if a.envelope {
        crate::json::SCHEMA.to_owned()
    } else {
        schema_text()?
    };
    match &a.out {
        Some(out) => {
            write_atomic(out, &text)?;
            eprintln!("wrote {}", out.display());
        }
        None if !ctx.json => print!("{text}"),
        None => {}
    }
    if ctx.json {
        let schema: serde_json::Value =
            serde_json::from_str(&text).context("the schema is not JSON")?;
        ctx.print_json(&serde_json::json!({
            "written": a.out.as_ref().map(|p| p.display().to_string()),
            "schema": schema,
        }))?;
    }
    Ok(exit::OK)
}
