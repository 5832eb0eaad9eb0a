//! `tabula render --fleet` and `tabula check --fleet`.

use std::path::Path;

use anyhow::Context as _;
use serde::Serialize;
use tabula_render::{OutFile, WriteReport};
use tabula_spec::check::{Finding, Severity};

use super::*;
use crate::ctx::{Ctx, Style};
use crate::exit;

/// `tabula check --fleet DIR` (or several `--spec`).
pub fn check(ctx: &Ctx, fleet: &Fleet, quiet: bool) -> anyhow::Result<u8> {
    let found = findings(fleet);
    let errors = found.iter().any(|(_, f)| f.severity == Severity::Error);
    if ctx.json {
        ctx.print_json(&serde_json::json!({
            "hosts": by_host(fleet, &found),
            "findings": found.iter().map(|(_, f)| f).collect::<Vec<_>>(),
        }))?;
    } else {
        for (i, l) in fleet.hosts.iter().enumerate() {
            let own: Vec<Finding> = found
                .iter()
                .filter(|(j, _)| *j == i)
                .map(|(_, f)| f.clone())
                .collect();
            println!(
                "{}",
                ctx.paint(
                    Style::Bold,
                    &format!("== {} ({})", l.spec.host.name, l.source_name)
                )
            );
            crate::cmd::spec::print_findings(ctx, &l.source_name, &l.text, &own, quiet);
        }
        for p in &fleet.skipped {
            println!("skipped {} (no [host] table: not a host spec)", p.display());
        }
    }
    Ok(if errors { exit::FINDINGS } else { exit::OK })
}

/// The files of a fleet's flake: the flake, each host's modules and docs
/// (`docs/<host>/`), the fleet's page `docs/FLEET.md`, and the specs
/// under `fleet/` (so `tabula render --fleet DIR/fleet` renders it again).
pub fn files(fleet: &Fleet) -> anyhow::Result<Vec<OutFile>> {
    let specs = fleet.specs();
    let mut files = tabula_render::fleet::render_fleet(&specs, &fleet.settings)
        .context("rendering the fleet's flake")?;
    for l in &fleet.hosts {
        let name = &l.spec.host.name;
        for d in tabula_docs::render(&l.spec) {
            let rel = d.path.strip_prefix("docs/").unwrap_or(&d.path);
            files.push(OutFile::generated(format!("docs/{name}/{rel}"), d.contents));
        }
        files.push(OutFile::generated(
            format!("fleet/{name}.toml"),
            l.text.clone(),
        ));
    }
    files.push(OutFile::generated(
        "docs/FLEET.md",
        tabula_docs::fleet::architecture(&specs, fleet.settings.deploy_rs),
    ));
    if let Some(t) = &fleet.settings_text {
        files.push(OutFile::generated(
            format!("fleet/{}", tabula_spec::fleet::FLEET_FILE),
            t.clone(),
        ));
    }
    Ok(files)
}

#[derive(Serialize)]
struct RenderReport<'a> {
    out: String,
    hosts: Vec<&'a str>,
    deploy_rs: bool,
    findings: Vec<&'a Finding>,
    files: &'a [tabula_render::write::FileReport],
    written: usize,
    unchanged: usize,
    kept: usize,
}

/// `tabula render --fleet DIR --out OUT`.
/// The fleet's flake into `out`, with every host's `.age` files in
/// `out/secrets/` (all checked before anything is written).
pub(crate) fn write_flake(ctx: &Ctx, fleet: &Fleet, out: &Path) -> anyhow::Result<WriteReport> {
    let files = files(fleet)?;
    let secrets = fleet
        .hosts
        .iter()
        .map(|l| crate::cmd::secret::FlakeSecrets::plan_from(&fleet.store, &l.spec, out))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let report = crate::cmd::render::write(out, &files, ctx)
        .with_context(|| format!("writing the fleet's flake into {}", out.display()))?;
    for s in &secrets {
        s.copy()?;
    }
    Ok(report)
}

pub fn render(ctx: &Ctx, fleet: &Fleet, out: &Path) -> anyhow::Result<u8> {
    let found = checked(ctx, fleet)?;
    let report = write_flake(ctx, fleet, out)?;
    let (written, unchanged, kept) = (
        report.count(tabula_render::FileStatus::Written),
        report.count(tabula_render::FileStatus::Unchanged),
        report.count(tabula_render::FileStatus::Kept),
    );
    let names: Vec<&str> = fleet
        .hosts
        .iter()
        .map(|l| l.spec.host.name.as_str())
        .collect();
    if ctx.json {
        ctx.print_json(&RenderReport {
            out: out.display().to_string(),
            hosts: names,
            deploy_rs: fleet.settings.deploy_rs,
            findings: found.iter().map(|(_, f)| f).collect(),
            files: &report.files,
            written,
            unchanged,
            kept,
        })?;
    } else {
        let warnings = found
            .iter()
            .filter(|(_, f)| f.severity == Severity::Warning)
            .count();
        println!(
            "rendered the fleet {} into {}: {written} written, {unchanged} unchanged, {kept} kept{}",
            names.join(", "),
            out.display(),
            if warnings > 0 {
                format!(" ({warnings} warning(s): `tabula check --fleet`)")
            } else {
                String::new()
            }
        );
        println!(
            "next: cd {} && nix flake lock; then `tabula deploy --fleet ...` (colmena) or `nixos-rebuild switch --flake .#NAME`",
            out.display()
        );
    }
    Ok(exit::OK)
}
