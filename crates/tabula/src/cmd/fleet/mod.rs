//! # Fleets: `render`/`check` of many hosts, and `deploy` through colmena
//!
//! A fleet is `--fleet DIR` (every `*.toml` of DIR with a `[host]` table,
//! plus DIR/fleet.toml) or `--spec` given more than once. Each host is
//! checked alone and the fleet across hosts (`tabula_spec::fleet`); the
//! flake is `tabula_render::fleet::render_fleet`. `deploy` renders the
//! fleet, shows per host the package diff between its running system
//! (`colmena exec -- readlink -f /run/current-system`) and the new one
//! (`nix build` of its toplevel), as `tabula diff` does, asks once and runs
//! `colmena apply --on NAMES` in the rendered flake, through
//! `tabula_run::Cmd`.
//!
//! One file per command: `render.rs` (render/check --fleet), `deploy.rs`
//! (with the package-diff step in `deploy/diff.rs`), `query.rs`
//! (status/audit --fleet through `colmena exec`).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use serde::Serialize;
use tabula_spec::check::{self, Finding, Severity};
use tabula_spec::fleet::FleetSettings;
use tabula_spec::{Loaded, SpecSource};

use crate::ctx::Ctx;
use crate::exit;

mod deploy;
mod query;
mod render;

pub use deploy::{deploy, DeployArgs};
pub use query::{query, FleetQuery};
pub(crate) use render::write_flake;
pub use render::{check, render};

/// How to get colmena when it is missing.
pub const COLMENA_HINT: &str = "install colmena 0.5 or newer (it reads `colmenaHive`): `nix shell nixpkgs#colmena`, or the flake's own: `nix shell github:nix-community/colmena`";

/// `--fleet DIR`, shared by render, check and deploy.
#[derive(Debug, Clone, Args)]
pub struct FleetArg {
    /// A fleet: every *.toml in DIR that is a host spec (has [host]), and
    /// DIR/fleet.toml ([fleet] deploy_rs = true adds deploy-rs nodes).
    /// `--spec` given several times is a fleet too.
    #[arg(long, value_name = "DIR")]
    pub fleet: Option<PathBuf>,
}

/// The hosts of a fleet, loaded and validated (not yet checked).
pub struct Fleet {
    pub hosts: Vec<Loaded>,
    pub settings: FleetSettings,
    /// `fleet.toml`'s text, copied beside the specs into the flake.
    settings_text: Option<String>,
    pub skipped: Vec<PathBuf>,
    /// The secrets store: `DIR/secrets` of `--fleet DIR`, else `secrets/`
    /// next to the first `--spec` (as `tabula secret` reads it).
    pub store: PathBuf,
}

impl Fleet {
    pub fn specs(&self) -> Vec<&tabula_spec::HostSpec> {
        self.hosts.iter().map(|l| &l.spec).collect()
    }
}

/// The fleet named on the command line, or None for a single host.
///
/// # Errors
/// `--fleet` and `--spec` together (usage), an unreadable directory, a
/// spec that cannot be read.
pub fn fleet_of(ctx: &Ctx, arg: &FleetArg) -> anyhow::Result<Option<Fleet>> {
    let (paths, settings, settings_text, skipped) = match &arg.fleet {
        Some(dir) => {
            if !ctx.specs.is_empty() {
                return Err(exit::Usage(
                    "--fleet and --spec together: give the fleet's folder, or each host's spec with --spec, not both".into(),
                )
                .into());
            }
            // An unreadable or empty folder, a malformed fleet.toml: usage.
            let files = tabula_spec::fleet::scan(dir).map_err(|e| exit::Usage(e.to_string()))?;
            let text = std::fs::read_to_string(dir.join(tabula_spec::fleet::FLEET_FILE)).ok();
            (files.hosts, files.settings, text, files.skipped)
        }
        None if ctx.specs.len() > 1 => (
            ctx.specs.clone(),
            FleetSettings::default(),
            None,
            Vec::new(),
        ),
        None => return Ok(None),
    };
    let store = match &arg.fleet {
        Some(dir) => dir.join("secrets"),
        None => paths
            .first()
            .and_then(|p| p.parent())
            .filter(|d| !d.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
            .join("secrets"),
    };
    let mut hosts = Vec::new();
    for p in paths {
        let source = SpecSource::File(p);
        tracing::debug!("loading the host spec from {source}");
        hosts.push(
            tabula_spec::load(&source)
                .with_context(|| format!("loading the host spec from {source}"))?,
        );
    }
    Ok(Some(Fleet {
        hosts,
        settings,
        settings_text,
        skipped,
        store,
    }))
}

/// Every finding of the fleet: each host's own, then the cross-host ones,
/// as (host index, finding).
pub fn findings(fleet: &Fleet) -> Vec<(usize, Finding)> {
    let mut out: Vec<(usize, Finding)> = Vec::new();
    for (i, l) in fleet.hosts.iter().enumerate() {
        out.extend(check::check(l).into_iter().map(|f| (i, f)));
    }
    let refs: Vec<&Loaded> = fleet.hosts.iter().collect();
    out.extend(
        tabula_spec::fleet::check_fleet(&refs)
            .into_iter()
            .map(|f| (f.host, f.finding)),
    );
    out
}

#[derive(Serialize)]
struct HostFindings<'a> {
    host: &'a str,
    spec: &'a str,
    findings: Vec<&'a Finding>,
}

fn by_host<'a>(fleet: &'a Fleet, found: &'a [(usize, Finding)]) -> Vec<HostFindings<'a>> {
    fleet
        .hosts
        .iter()
        .enumerate()
        .map(|(i, l)| HostFindings {
            host: &l.spec.host.name,
            spec: &l.source_name,
            findings: found
                .iter()
                .filter(|(j, _)| *j == i)
                .map(|(_, f)| f)
                .collect(),
        })
        .collect()
}

/// Check the fleet and refuse it (exit 1, every error printed) when any
/// host or the fleet has an error: for render and deploy.
pub fn checked(ctx: &Ctx, fleet: &Fleet) -> anyhow::Result<Vec<(usize, Finding)>> {
    let found = findings(fleet);
    let color = crate::ctx::stderr_color();
    let errors: Vec<String> = found
        .iter()
        .filter(|(_, f)| f.severity == Severity::Error)
        .map(|(i, f)| {
            let l = &fleet.hosts[*i];
            crate::report::finding(&l.source_name, &l.text, f, color)
        })
        .collect();
    if !errors.is_empty() {
        if ctx.json {
            ctx.print_json(&serde_json::json!({
                "hosts": by_host(fleet, &found),
                "findings": found.iter().map(|(_, f)| f).collect::<Vec<_>>(),
            }))?;
        }
        return Err(exit::Reported {
            message: format!(
                "{}the fleet has {} error(s); nothing was done (`tabula check --fleet` shows every finding)",
                errors.concat(),
                errors.len()
            ),
            code: exit::FINDINGS,
        }
        .into());
    }
    Ok(found)
}

/// The hosts the selectors name, in fleet order.
///
/// # Errors
/// A selector that names nothing, or a named host without `[deploy]`.
pub fn select<'a>(fleet: &'a Fleet, on: &[String]) -> Result<Vec<&'a Loaded>, exit::Usage> {
    let deployable = |l: &Loaded| l.spec.deploy.is_some();
    if on.is_empty() {
        let all: Vec<&Loaded> = fleet.hosts.iter().filter(|l| deployable(l)).collect();
        if all.is_empty() {
            return Err(exit::Usage(
                "no host of the fleet has a [deploy] table: add one (`target = \"root@HOST\"`) to the hosts to deploy".into(),
            ));
        }
        return Ok(all);
    }
    let mut chosen = vec![false; fleet.hosts.len()];
    for sel in on {
        let sel = sel.trim();
        let hits: Vec<usize> = match sel.strip_prefix('@') {
            Some(tag) => fleet
                .hosts
                .iter()
                .enumerate()
                .filter(|(_, l)| {
                    l.spec
                        .deploy
                        .as_ref()
                        .is_some_and(|d| d.tags.iter().any(|t| t == tag))
                })
                .map(|(i, _)| i)
                .collect(),
            None => fleet
                .hosts
                .iter()
                .enumerate()
                .filter(|(_, l)| l.spec.host.name == sel)
                .map(|(i, _)| i)
                .collect(),
        };
        if hits.is_empty() {
            let names: Vec<&str> = fleet
                .hosts
                .iter()
                .map(|l| l.spec.host.name.as_str())
                .collect();
            let mut tags: Vec<String> = fleet
                .hosts
                .iter()
                .filter_map(|l| l.spec.deploy.as_ref())
                .flat_map(|d| d.tags.iter().map(|t| format!("@{t}")))
                .collect();
            tags.sort();
            tags.dedup();
            return Err(exit::Usage(format!(
                "--on {sel}: no host of the fleet has this {}; hosts: {}; tags: {}",
                if sel.starts_with('@') { "tag" } else { "name" },
                names.join(", "),
                if tags.is_empty() {
                    "none".into()
                } else {
                    tags.join(", ")
                }
            )));
        }
        for i in hits {
            let l = &fleet.hosts[i];
            if !deployable(l) {
                return Err(exit::Usage(format!(
                    "--on {sel}: `{}` has no [deploy] table, so it is never deployed; add one to {} (`target = \"root@HOST\"`)",
                    l.spec.host.name, l.source_name
                )));
            }
            chosen[i] = true;
        }
    }
    Ok(fleet
        .hosts
        .iter()
        .zip(chosen)
        .filter(|(_, c)| *c)
        .map(|(l, _)| l)
        .collect())
}

fn target_of(l: &Loaded) -> Option<&tabula_spec::deploy::Target> {
    l.spec.deploy.as_ref().and_then(|d| d.target.as_ref())
}

/// colmena on PATH, or the runner's not-found error with the hint (exit 4).
fn need_colmena() -> Result<(), tabula_run::Error> {
    if tabula_run::find_program("colmena").is_none() {
        return Err(tabula_run::Error::NotFound {
            program: "colmena".into(),
            hint: Some(COLMENA_HINT.into()),
        });
    }
    Ok(())
}
