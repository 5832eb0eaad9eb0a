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

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use serde::Serialize;
use tabula_render::{OutFile, WriteReport};
use tabula_spec::check::{self, Finding, Severity};
use tabula_spec::fleet::FleetSettings;
use tabula_spec::{Loaded, SpecSource};

use crate::ctx::{Ctx, Style};
use crate::exit;

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
            super::spec::print_findings(ctx, &l.source_name, &l.text, &own, quiet);
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
fn write_flake(ctx: &Ctx, fleet: &Fleet, out: &Path) -> anyhow::Result<WriteReport> {
    let files = files(fleet)?;
    let secrets = fleet
        .hosts
        .iter()
        .map(|l| super::secret::FlakeSecrets::plan_from(&fleet.store, &l.spec, out))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let report = super::render::write(out, &files, ctx)
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

/// Deploy the fleet's hosts with colmena
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  tabula deploy --fleet hosts --on @laptop --dry    print the colmena command, run nothing
  tabula deploy --fleet hosts --on desk --yes       render into ./out, then colmena apply --on desk
  tabula deploy --fleet hosts --boot                every host with [deploy], active at next boot

Before the question each host's package diff is shown: the new system is
built with `nix build` in --out, the running one read with `colmena exec --
readlink -f /run/current-system`; when it is not in this machine's store,
--fetch-running copies it (`nix copy --from ssh://TARGET PATH`). --no-diff
skips this step.

Hosts are chosen by name or @TAG (the tags of [deploy]); without --on, every
host that has a [deploy] table. Hosts without [deploy] are never deployed.
colmena runs in the rendered flake (--out); it must be on PATH
(`nix shell nixpkgs#colmena`).")]
pub struct DeployArgs {
    #[command(flatten)]
    pub fleet: FleetArg,
    /// Hosts to deploy: NAME or @TAG, repeatable, or comma-separated
    #[arg(long, value_name = "@TAG|NAME", num_args = 1.., value_delimiter = ',')]
    pub on: Vec<String>,
    /// Print the commands, run none and write nothing
    #[arg(long)]
    pub dry: bool,
    /// Make the new system the boot default without switching now (`colmena apply boot`)
    #[arg(long)]
    pub boot: bool,
    /// Answer the one question with yes (needed without a terminal)
    #[arg(long, short)]
    pub yes: bool,
    /// Where the fleet's flake is rendered and colmena runs
    #[arg(long, short, value_name = "DIR", default_value = "out")]
    pub out: PathBuf,
    /// Do not show each host's package diff (no build, no ssh before the question)
    #[arg(long)]
    pub no_diff: bool,
    /// Copy a host's running system into the local store when it is not
    /// there (`nix copy --from ssh://TARGET PATH`), so its diff can be shown
    #[arg(long, conflicts_with = "no_diff")]
    pub fetch_running: bool,
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

/// The colmena commands for these hosts, run in the rendered flake: one
/// `colmena apply [boot] --on A,B` for the hosts with a target, and
/// `colmena apply-local [boot] --node NAME` (with `--sudo` unless root) for
/// a host deployed on this machine only (`allow_local`, no target).
///
/// # Errors
/// Two hosts selected that have no target: only one can be this machine.
pub fn colmena_cmds(
    hosts: &[&Loaded],
    boot: bool,
    out: &Path,
) -> Result<Vec<tabula_run::Cmd>, exit::Usage> {
    let has_target = |l: &&&Loaded| l.spec.deploy.as_ref().is_some_and(|d| d.target.is_some());
    let remote: Vec<&str> = hosts
        .iter()
        .filter(has_target)
        .map(|l| l.spec.host.name.as_str())
        .collect();
    let local: Vec<&str> = hosts
        .iter()
        .filter(|l| !has_target(l))
        .map(|l| l.spec.host.name.as_str())
        .collect();
    if local.len() > 1 {
        return Err(exit::Usage(format!(
            "{} have no [deploy] target, so each would be this machine: select one of them with --on",
            local.join(", ")
        )));
    }
    let base = |sub: &str| {
        let mut c = tabula_run::Cmd::new("colmena").arg(sub);
        if boot {
            c = c.arg("boot");
        }
        c.current_dir(out).install_hint(COLMENA_HINT)
    };
    let mut cmds = Vec::new();
    if !remote.is_empty() {
        cmds.push(base("apply").arg("--on").arg(remote.join(",")));
    }
    if let Some(name) = local.first() {
        let mut c = base("apply-local").arg("--node").arg(name);
        if !rustix::process::geteuid().is_root() {
            c = c.arg("--sudo");
        }
        cmds.push(c);
    }
    Ok(cmds)
}

/// The system a host would get: `nix build` of its toplevel in the
/// rendered flake (stdout: the out path).
fn build_cmd(name: &str, out: &Path) -> tabula_run::Cmd {
    tabula_run::Cmd::new("nix")
        .arg("build")
        .arg(format!(
            ".#nixosConfigurations.{name}.config.system.build.toplevel"
        ))
        .args(["--no-link", "--print-out-paths"])
        .current_dir(out)
}

/// The running systems of the hosts with a target, in one `colmena exec`.
fn running_cmd(names: &[&str], out: &Path) -> tabula_run::Cmd {
    tabula_run::Cmd::new("colmena")
        .arg("exec")
        .arg("--on")
        .arg(names.join(","))
        .args(["--", "readlink", "-f", "/run/current-system"])
        .current_dir(out)
        .install_hint(COLMENA_HINT)
        .ok_codes(&[1])
}

/// The running system of this machine (a host deployed with allow_local).
fn local_running_cmd() -> tabula_run::Cmd {
    tabula_run::Cmd::new("readlink").args(["-f", "/run/current-system"])
}

/// Copy a host's running system into the local store (`--fetch-running`).
fn fetch_cmd(target: &tabula_spec::deploy::Target, path: &str) -> tabula_run::Cmd {
    let mut url = String::from("ssh://");
    if let Some(u) = &target.user {
        url.push_str(u);
        url.push('@');
    }
    url.push_str(&target.host);
    let mut c = tabula_run::Cmd::new("nix")
        .args(["copy", "--from"])
        .arg(url)
        .arg(path);
    if let Some(p) = target.port {
        // nix's ssh:// store takes no port in the URL: ssh options do.
        c = c.env("NIX_SSHOPTS", format!("-p {p}"));
    }
    c
}

/// A `nix copy` line as a shell would run it (with `NIX_SSHOPTS` for a port).
fn fetch_line(t: &tabula_spec::deploy::Target, c: &tabula_run::Cmd) -> String {
    match t.port {
        Some(p) => format!("NIX_SSHOPTS='-p {p}' {}", c.display()),
        None => c.display(),
    }
}

fn target_of(l: &Loaded) -> Option<&tabula_spec::deploy::Target> {
    l.spec.deploy.as_ref().and_then(|d| d.target.as_ref())
}

/// The first store path a host printed.
fn store_path_in(lines: &[String]) -> Option<String> {
    lines
        .iter()
        .map(|l| l.trim())
        .find(|l| l.starts_with("/nix/store/"))
        .map(ToOwned::to_owned)
}

/// One host's package diff, or why there is none.
#[derive(Default)]
struct HostDiff {
    running: Option<String>,
    new: Option<String>,
    result: Option<tabula_nixos::session::DiffResult>,
    note: String,
}

/// The package diff of every host: build each new system, read the
/// running ones, fetch those not in the local store (only with
/// `--fetch-running`) and compare the closures as `tabula diff` does. A
/// host whose step fails gets a note saying why; nothing here aborts.
fn host_diffs(hosts: &[&Loaded], a: &DeployArgs, ctx: &Ctx) -> Vec<HostDiff> {
    let mut diffs: Vec<HostDiff> = hosts.iter().map(|_| HostDiff::default()).collect();
    let say = |line: &str| {
        if !ctx.json {
            eprintln!("running: {line}");
        }
    };
    // The running systems.
    let remote: Vec<&str> = hosts
        .iter()
        .filter(|l| target_of(l).is_some())
        .map(|l| l.spec.host.name.as_str())
        .collect();
    if !remote.is_empty() {
        let cmd = running_cmd(&remote, &a.out);
        say(&cmd.display());
        match cmd.run() {
            Ok(o) => {
                let mut text = String::from_utf8_lossy(&o.stderr).into_owned();
                text.push('\n');
                text.push_str(&String::from_utf8_lossy(&o.stdout));
                let split = split_exec_output(&remote, &text);
                for (j, name) in remote.iter().enumerate() {
                    let Some(i) = hosts.iter().position(|l| l.spec.host.name == *name) else {
                        continue;
                    };
                    match store_path_in(&split.lines[j]) {
                        Some(p) => diffs[i].running = Some(p),
                        None => {
                            diffs[i].note = format!(
                                "no package diff: the running system was not read (`colmena exec -- readlink -f /run/current-system` printed {}{})",
                                split.lines[j].last().map_or_else(|| "nothing".to_owned(), |l| format!("`{}`", l.trim())),
                                split.failed[j].as_deref().map(|f| format!("; colmena: {f}")).unwrap_or_default()
                            );
                        }
                    }
                }
            }
            Err(e) => {
                for (i, l) in hosts.iter().enumerate() {
                    if target_of(l).is_some() {
                        diffs[i].note =
                            format!("no package diff: reading the running system failed: {e:#}");
                    }
                }
            }
        }
    }
    for (i, l) in hosts.iter().enumerate() {
        if target_of(l).is_some() {
            continue;
        }
        let cmd = local_running_cmd();
        say(&cmd.display());
        match cmd.run() {
            Ok(o) => {
                match store_path_in(&[String::from_utf8_lossy(&o.stdout).into_owned()]) {
                    Some(p) => diffs[i].running = Some(p),
                    None => diffs[i].note =
                        "no package diff: /run/current-system is not a store path on this machine"
                            .into(),
                }
            }
            Err(e) => {
                diffs[i].note =
                    format!("no package diff: reading /run/current-system failed: {e:#}")
            }
        }
    }
    for (i, l) in hosts.iter().enumerate() {
        let Some(running) = diffs[i].running.clone() else {
            continue;
        };
        let name = &l.spec.host.name;
        // The new system.
        let cmd = build_cmd(name, &a.out);
        say(&format!(
            "cd {} && {}",
            tabula_run::shell_quote(&a.out.display().to_string()),
            cmd.display()
        ));
        let new = match cmd.run() {
            Ok(o) => store_path_in(
                &String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .map(ToOwned::to_owned)
                    .collect::<Vec<_>>(),
            ),
            Err(e) => {
                diffs[i].note = format!("no package diff: building the new system failed: {e:#}");
                continue;
            }
        };
        let Some(new) = new else {
            diffs[i].note =
                "no package diff: `nix build --print-out-paths` printed no store path".into();
            continue;
        };
        diffs[i].new = Some(new.clone());
        // The running system in the local store.
        if !Path::new(&running).exists() {
            let Some(t) = target_of(l) else {
                diffs[i].note = format!("no package diff: {running} is not in the store");
                continue;
            };
            let fetch = fetch_cmd(t, &running);
            if !a.fetch_running {
                diffs[i].note = format!(
                    "no package diff: the running system {running} is not in this machine's store; pass --fetch-running to copy it first (`{}`)",
                    fetch.display()
                );
                continue;
            }
            say(&fetch_line(t, &fetch));
            if let Err(e) = fetch.run() {
                diffs[i].note =
                    format!("no package diff: fetching the running system failed: {e:#}");
                continue;
            }
        }
        let store =
            tabula_nixos::store::Store::open_or_cli(Path::new(tabula_nixos::store::DEFAULT_DB));
        match super::nixos::closure_diff_paths(store, &running, &new) {
            Ok(r) => {
                let d = &r.diff;
                let counts: Vec<String> = [
                    tabula_nixos::diff::Change::Added,
                    tabula_nixos::diff::Change::Removed,
                    tabula_nixos::diff::Change::Upgraded,
                    tabula_nixos::diff::Change::Downgraded,
                    tabula_nixos::diff::Change::Changed,
                ]
                .into_iter()
                .filter_map(|c| {
                    let n = d.count(c);
                    (n > 0).then(|| format!("{n} {}", c.word()))
                })
                .collect();
                diffs[i].note = if counts.is_empty() {
                    "packages: no change".into()
                } else {
                    format!("packages: {}", counts.join(", "))
                };
                diffs[i].result = Some(r);
            }
            Err(e) => diffs[i].note = format!("no package diff: {e:#}"),
        }
    }
    diffs
}

#[derive(Serialize)]
struct DeployHost<'a> {
    host: &'a str,
    target: Option<String>,
    tags: &'a [String],
    build_on: &'static str,
    allow_local: bool,
    /// One line: the diff's counts, or why there is none.
    diff: String,
    /// The running system's store path, when it was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    running: Option<String>,
    /// The new system's store path, when it was built.
    #[serde(skip_serializing_if = "Option::is_none")]
    new: Option<String>,
    /// The closure diff as `tabula diff --json` gives it.
    #[serde(skip_serializing_if = "Option::is_none")]
    packages: Option<serde_json::Value>,
}

#[derive(Serialize)]
struct DeployReport<'a> {
    out: String,
    dry: bool,
    goal: &'static str,
    hosts: Vec<DeployHost<'a>>,
    /// Each command as its argv (program first) and the directory it runs in.
    commands: Vec<DeployCommand>,
    /// The commands of the package-diff step (empty with --no-diff).
    diff_commands: Vec<DeployCommand>,
    ran: bool,
}

#[derive(Serialize)]
struct DeployCommand {
    argv: Vec<String>,
    dir: String,
}

/// `tabula deploy`.
pub fn deploy(a: &DeployArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    let fleet = match fleet_of(ctx, &a.fleet)? {
        Some(f) => f,
        None => {
            // One host is a fleet of one.
            let loaded = ctx.load()?;
            Fleet {
                hosts: vec![loaded],
                settings: FleetSettings::default(),
                settings_text: None,
                skipped: Vec::new(),
                store: super::secret::store_of(ctx),
            }
        }
    };
    checked(ctx, &fleet)?;
    let hosts = select(&fleet, &a.on)?;
    let cmds = colmena_cmds(&hosts, a.boot, &a.out)?;
    let goal = if a.boot { "boot" } else { "switch" };
    let dir = tabula_run::shell_quote(&a.out.display().to_string());
    let lines: Vec<String> = cmds
        .iter()
        .map(|c| format!("cd {dir} && {}", c.display()))
        .collect();
    let report_hosts: Vec<DeployHost> = hosts
        .iter()
        .map(|l| {
            let d = l.spec.deploy.as_ref();
            DeployHost {
                host: &l.spec.host.name,
                target: d.and_then(|d| d.target.as_ref()).map(ToString::to_string),
                tags: d.map_or(&[][..], |d| &d.tags[..]),
                build_on: if d.is_some_and(|d| d.build_on_target) {
                    "target"
                } else {
                    "local"
                },
                allow_local: d.is_some_and(|d| d.allow_local),
                diff: if a.no_diff {
                    "package diff skipped (--no-diff)".into()
                } else {
                    "package diff: would compare the running system with the new one (the commands below)".into()
                },
                running: None,
                new: None,
                packages: None,
            }
        })
        .collect();
    let mut report = DeployReport {
        out: a.out.display().to_string(),
        dry: a.dry,
        goal,
        hosts: report_hosts,
        commands: cmds
            .iter()
            .map(|c| DeployCommand {
                argv: c.argv(),
                dir: a.out.display().to_string(),
            })
            .collect(),
        diff_commands: Vec::new(),
        ran: false,
    };
    let diff_lines: Vec<String> = if a.no_diff {
        Vec::new()
    } else {
        let names: Vec<&str> = hosts.iter().map(|l| l.spec.host.name.as_str()).collect();
        let remote: Vec<&str> = hosts
            .iter()
            .filter(|l| target_of(l).is_some())
            .map(|l| l.spec.host.name.as_str())
            .collect();
        // (command, runs in --out, the line to print)
        let mut dcmds: Vec<(tabula_run::Cmd, bool, String)> = Vec::new();
        let in_out = |c: tabula_run::Cmd| {
            let line = format!("cd {dir} && {}", c.display());
            (c, true, line)
        };
        if !remote.is_empty() {
            dcmds.push(in_out(running_cmd(&remote, &a.out)));
        }
        if remote.len() < names.len() {
            let c = local_running_cmd();
            let line = c.display();
            dcmds.push((c, false, line));
        }
        for n in &names {
            dcmds.push(in_out(build_cmd(n, &a.out)));
        }
        if a.fetch_running {
            for l in &hosts {
                if let Some(t) = target_of(l) {
                    let c = fetch_cmd(t, "RUNNING");
                    let line = fetch_line(t, &c);
                    dcmds.push((c, false, line));
                }
            }
        }
        report.diff_commands = dcmds
            .iter()
            .map(|(c, in_out, _)| DeployCommand {
                argv: c.argv(),
                dir: if *in_out {
                    a.out.display().to_string()
                } else {
                    ".".into()
                },
            })
            .collect();
        dcmds.into_iter().map(|(_, _, line)| line).collect()
    };
    let print_rows = |report: &DeployReport| {
        if ctx.json {
            return;
        }
        for h in &report.hosts {
            println!(
                "{} -> {}{}",
                ctx.paint(Style::Bold, h.host),
                h.target.as_deref().unwrap_or("this machine (allow_local)"),
                if h.tags.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", h.tags.join(", "))
                }
            );
            println!("  {}", ctx.paint(Style::Dim, &h.diff));
        }
    };
    if a.dry {
        print_rows(&report);
        if ctx.json {
            ctx.print_json(&report)?;
        } else {
            println!(
                "would run (render the fleet into {}, then):",
                a.out.display()
            );
            for line in diff_lines.iter().chain(&lines) {
                println!("{line}");
            }
        }
        return Ok(exit::OK);
    }
    if tabula_run::find_program("colmena").is_none() {
        return Err(tabula_run::Error::NotFound {
            program: "colmena".into(),
            hint: Some(COLMENA_HINT.into()),
        }
        .into());
    }
    let names: Vec<&str> = hosts.iter().map(|l| l.spec.host.name.as_str()).collect();
    // Refused before any build or ssh when the question cannot be asked.
    if !a.yes && !std::io::stdin().is_terminal() {
        return Err(exit::Refused(format!(
            "`deploy` asks before it changes {}, and there is no terminal to ask on\n  hint: pass --yes, or --dry to see the commands",
            names.join(", ")
        ))
        .into());
    }
    if !a.no_diff {
        write_flake(ctx, &fleet, &a.out)?;
        let diffs = host_diffs(&hosts, a, ctx);
        for (h, d) in report.hosts.iter_mut().zip(diffs) {
            h.diff = d.note;
            h.running = d.running;
            h.new = d.new;
            if let Some(r) = &d.result {
                h.packages = Some(super::nixos::diff_json(r));
                if !ctx.json {
                    println!("{}", ctx.paint(Style::Bold, &format!("== {}", h.host)));
                    super::nixos::print_diff(r, ctx);
                }
            }
        }
    }
    print_rows(&report);
    if !a.yes {
        eprint!(
            "deploy to {} ({goal}) with colmena? [y/N] ",
            names.join(", ")
        );
        std::io::stderr().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            return Err(exit::Refused("not deployed: the answer was not yes".into()).into());
        }
    }
    write_flake(ctx, &fleet, &a.out)?;
    let mut result = Ok(());
    for (cmd, line) in cmds.iter().zip(&lines) {
        if !ctx.json {
            eprintln!("running: {line}");
        }
        report.ran = true;
        result = if ctx.json {
            cmd.run().map(|_| ())
        } else {
            cmd.run_inherit()
        };
        if result.is_err() {
            break;
        }
    }
    if ctx.json {
        ctx.print_json(&report)?;
    }
    result.with_context(|| format!("deploying {} with colmena", names.join(", ")))?;
    if !ctx.json {
        println!("deployed {} ({goal})", names.join(", "));
    }
    Ok(exit::OK)
}

// --- status --fleet / audit --fleet: each host's `--json` through `colmena exec` ---
//
// How `colmena exec` prints (zhaofengli/colmena @ 5bf4ce6a24adba74a5184f4a9bef01d545a09473,
// src/command/exec.rs, src/progress/{mod,plain}.rs, src/util.rs, src/job.rs,
// src/troubleshooter.rs): with stdout not a terminal (our case, it is
// captured) the output is `PlainOutput`, which writes every line to STDERR
// as `format!("{:>width$} | {}", label, text)`: the node name right-aligned
// to the longest selected name (at least 5), " | ", then the line. The
// node's stdout and stderr lines both arrive so (`capture_stream`, only
// `trim_end`ed), no way to tell them apart; the job's own state lines too:
// `NAME | Succeeded`, `NAME | Failed: Child process exited with error code:
// N` (255 when ssh cannot reach it); the meta job has an empty label
// (`      | All done!`). Styles are colours only when enabled, so ANSI is
// stripped anyway. Nothing goes to stdout. When any node fails, exec
// returns `ExecError` ("Exec failed on N hosts") and colmena exits 1
// (`quit::with_code(1)` in troubleshooter.rs), after logging the last 20
// lines of each failed node through `tracing` (unprefixed `ERROR` lines).

/// `--fleet DIR [--on ...] [--out DIR] [--dry]` of `status` and `audit`.
#[derive(Debug, Clone, Args)]
pub struct FleetQuery {
    #[command(flatten)]
    pub fleet: FleetArg,
    /// With --fleet: hosts to ask, NAME or @TAG, repeatable or comma-separated
    /// (default: every host with [deploy])
    #[arg(long, value_name = "@TAG|NAME", num_args = 1.., value_delimiter = ',', requires = "fleet")]
    pub on: Vec<String>,
    /// With --fleet: where the fleet's flake is rendered and colmena runs
    #[arg(long, value_name = "DIR", default_value = "out", requires = "fleet")]
    pub out: PathBuf,
    /// With --fleet: print the colmena command, run nothing and write nothing
    #[arg(long, requires = "fleet")]
    pub dry: bool,
}

/// One host's answer.
#[derive(Debug, Serialize, PartialEq)]
pub struct HostAnswer {
    pub host: String,
    /// The host answered with an envelope whose `ok` is true.
    pub ok: bool,
    /// The exit code colmena reported for the host's command, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit: Option<i32>,
    /// The host's envelope `data`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
    /// Why there is no (ok) answer: the envelope's error message, or why the
    /// output was no envelope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The host answered with a tabula envelope (else it was not reached or
    /// printed something else).
    #[serde(skip)]
    pub answered: bool,
}

/// The exit code of a colmena job state line (`Failed: ... error code: N`,
/// `Succeeded`), None for any other line.
fn state_line(text: &str) -> Option<Option<i32>> {
    if text == "Succeeded" {
        return Some(Some(0));
    }
    let rest = text.strip_prefix("Failed: ")?;
    Some(
        rest.rsplit_once("exit code: ")
            .or_else(|| rest.rsplit_once("error code: "))
            .and_then(|(_, n)| n.trim().parse().ok()),
    )
}

/// The first tabula envelope in a node's lines (a pretty-printed JSON
/// document spans many lines).
fn find_envelope(lines: &[String]) -> Option<serde_json::Value> {
    // The host's stderr lines arrive under the same label and may fall
    // between the lines of its (pretty-printed) stdout: read the lines as
    // they came, then without those that cannot be part of the document
    // (serde's pretty lines start with a space, `{`, `}` or `]`).
    let json_like: Vec<String> = lines
        .iter()
        .filter(|l| l.starts_with([' ', '{', '}', ']']))
        .cloned()
        .collect();
    envelope_in(lines).or_else(|| envelope_in(&json_like))
}

fn envelope_in(lines: &[String]) -> Option<serde_json::Value> {
    for (i, l) in lines.iter().enumerate() {
        if !l.trim_start().starts_with('{') {
            continue;
        }
        let rest = lines[i..].join("\n");
        let mut stream = serde_json::Deserializer::from_str(&rest).into_iter::<serde_json::Value>();
        if let Some(Ok(v)) = stream.next() {
            if v.get("tabula").is_some() && v.get("ok").is_some_and(serde_json::Value::is_boolean) {
                return Some(v);
            }
        }
    }
    None
}

/// Split `colmena exec`'s output (see above) into each host's answer, in
/// the order of `names`.
pub fn parse_exec_output(names: &[&str], output: &str) -> Vec<HostAnswer> {
    let ExecLines {
        lines,
        exits,
        failed,
        last_other,
    } = split_exec_output(names, output);
    names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let exit = exits[i];
            if let Some(env) = find_envelope(&lines[i]) {
                let ok = env.get("ok").and_then(serde_json::Value::as_bool) == Some(true);
                let error = if ok {
                    None
                } else {
                    Some(
                        env.pointer("/error/message")
                            .and_then(serde_json::Value::as_str)
                            .unwrap_or("the host reported a problem")
                            .to_owned(),
                    )
                };
                return HostAnswer {
                    host: (*name).to_owned(),
                    ok,
                    exit: exit.or_else(|| {
                        env.pointer("/error/exit")
                            .and_then(serde_json::Value::as_i64)
                            .and_then(|n| i32::try_from(n).ok())
                    }),
                    data: env.get("data").cloned(),
                    error,
                    answered: true,
                };
            }
            let why = if lines[i].is_empty() && exits[i].is_none() {
                format!(
                    "colmena printed no line for this host{}",
                    last_other
                        .as_deref()
                        .map(|l| format!("; its last line: {l}"))
                        .unwrap_or_default()
                )
            } else if exit == Some(255) {
                format!(
                    "not reached (ssh exit 255){}",
                    lines[i]
                        .last()
                        .map(|l| format!(": {l}"))
                        .unwrap_or_default()
                )
            } else {
                let first = lines[i]
                    .iter()
                    .find(|l| !l.trim().is_empty())
                    .map_or_else(|| "nothing".to_owned(), |l| format!("`{}`", l.trim()));
                format!(
                    "no tabula JSON envelope in its output (is tabula on the host's PATH?); it printed {first}{}",
                    failed[i]
                        .as_deref()
                        .map(|f| format!("; colmena: {f}"))
                        .unwrap_or_default()
                )
            };
            HostAnswer {
                host: (*name).to_owned(),
                ok: false,
                exit,
                data: None,
                error: Some(why),
                answered: false,
            }
        })
        .collect()
}

/// `colmena exec`'s output taken apart per host (in the order of `names`).
pub struct ExecLines {
    /// Each host's own lines (stdout and stderr), without the state line.
    pub lines: Vec<Vec<String>>,
    /// The exit code of each host's command, when colmena reported it.
    pub exits: Vec<Option<i32>>,
    /// The `Failed: ...` state line of a host whose command failed.
    pub failed: Vec<Option<String>>,
    /// The last line that belongs to no host (colmena's own message).
    pub last_other: Option<String>,
}

/// Split `colmena exec`'s output (see above) into each host's lines.
pub fn split_exec_output(names: &[&str], output: &str) -> ExecLines {
    let mut lines: Vec<Vec<String>> = vec![Vec::new(); names.len()];
    let mut exits: Vec<Option<i32>> = vec![None; names.len()];
    let mut failed: Vec<Option<String>> = vec![None; names.len()];
    let mut last_other: Option<String> = None;
    for raw in output.lines() {
        let line = crate::json::strip_ansi(raw);
        let hit = line.split_once(" | ").and_then(|(label, text)| {
            names
                .iter()
                .position(|n| *n == label.trim_start())
                .map(|i| (i, text))
        });
        match hit {
            Some((i, text)) => match state_line(text) {
                Some(code) => {
                    exits[i] = code;
                    if text != "Succeeded" {
                        failed[i] = Some(text.to_owned());
                    }
                }
                None => lines[i].push(text.to_owned()),
            },
            None => {
                if !line.trim().is_empty() {
                    last_other = Some(line.trim().to_owned());
                }
            }
        }
    }
    ExecLines {
        lines,
        exits,
        failed,
        last_other,
    }
}

/// One line that sums up a host's `status` or `audit` data.
fn summary(command: &str, a: &HostAnswer) -> String {
    let Some(data) = &a.data else {
        return a.error.clone().unwrap_or_default();
    };
    let text = match command {
        "status" => data
            .get("items")
            .and_then(serde_json::Value::as_array)
            .map(|items| {
                let count = |s: &str| {
                    items
                        .iter()
                        .filter(|i| i.get("state").and_then(serde_json::Value::as_str) == Some(s))
                        .count()
                };
                format!(
                    "{} ok, {} drift, {} missing, {} unknown",
                    count("ok"),
                    count("drift"),
                    count("missing"),
                    count("unknown")
                )
            }),
        _ => data
            .pointer("/totals/lost")
            .and_then(serde_json::Value::as_u64)
            .map(|lost| {
                let groups = data
                    .get("groups")
                    .and_then(serde_json::Value::as_array)
                    .map_or(0, Vec::len);
                format!("{lost} lost file(s) in {groups} group(s)")
            }),
    };
    match (text, &a.error) {
        (Some(t), None) => t,
        (Some(t), Some(e)) => format!("{t} ({e})"),
        (None, Some(e)) => e.clone(),
        (None, None) => "answered".to_owned(),
    }
}

/// `tabula status --fleet` / `tabula audit --fleet`: render the fleet into
/// `--out`, run `colmena exec --on NAMES -- tabula COMMAND --json` there,
/// and print one table (or, with --json, `data.hosts`). Exit 0 all ok, 1
/// a host reported findings or drift, 3 a host did not answer.
///
/// # Errors
/// The fleet's errors (as deploy), colmena missing (exit 4), colmena
/// failing with another code than 0 or 1.
pub fn query(command: &'static str, q: &FleetQuery, ctx: &Ctx) -> anyhow::Result<u8> {
    let fleet = fleet_of(ctx, &q.fleet)?
        .ok_or_else(|| exit::Usage(format!("`{command} --fleet` needs the fleet's folder")))?;
    checked(ctx, &fleet)?;
    let hosts = select(&fleet, &q.on)?;
    let names: Vec<&str> = hosts.iter().map(|l| l.spec.host.name.as_str()).collect();
    let cmd = tabula_run::Cmd::new("colmena")
        .arg("exec")
        .arg("--on")
        .arg(names.join(","))
        .args(["--", "tabula", command, "--json"])
        .current_dir(&q.out)
        .install_hint(COLMENA_HINT)
        // 1: some host's command failed (a finding, or not reached).
        .ok_codes(&[1]);
    let line = format!(
        "cd {} && {}",
        tabula_run::shell_quote(&q.out.display().to_string()),
        cmd.display()
    );
    if q.dry {
        if ctx.json {
            ctx.print_json(&serde_json::json!({
                "dry": true,
                "out": q.out.display().to_string(),
                "hosts": names,
                "commands": [{"argv": cmd.argv(), "dir": q.out.display().to_string()}],
            }))?;
        } else {
            println!(
                "would run (render the fleet into {}, then):",
                q.out.display()
            );
            println!("{line}");
        }
        return Ok(exit::OK);
    }
    if tabula_run::find_program("colmena").is_none() {
        return Err(tabula_run::Error::NotFound {
            program: "colmena".into(),
            hint: Some(COLMENA_HINT.into()),
        }
        .into());
    }
    write_flake(ctx, &fleet, &q.out)?;
    if !ctx.json {
        eprintln!("running: {line}");
    }
    let out = cmd
        .run()
        .with_context(|| format!("asking {} with colmena exec", names.join(", ")))?;
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.push('\n');
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    let answers = parse_exec_output(&names, &text);
    let code = if answers.iter().any(|a| !a.answered) {
        exit::REFUSED
    } else if answers.iter().any(|a| !a.ok) {
        exit::FINDINGS
    } else {
        exit::OK
    };
    if ctx.json {
        ctx.print_json(&serde_json::json!({ "hosts": answers }))?;
    } else {
        let w = names
            .iter()
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(4)
            .max(4);
        println!("{:<w$}  {:<4}  summary", "host", "ok");
        for a in &answers {
            let ok = if a.ok {
                ctx.paint(Style::Info, "yes ")
            } else if a.answered {
                ctx.paint(Style::Warning, "no  ")
            } else {
                ctx.paint(Style::Error, "--  ")
            };
            println!("{:<w$}  {ok}  {}", a.host, summary(command, a));
        }
    }
    Ok(code)
}

#[cfg(test)]
mod query_tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[test]
    fn interleaved_nodes_and_colour_are_taken_apart() {
        // Nodes run in parallel: their lines interleave; a terminal may add
        // colour around the label.
        let out = "\
\u{1b}[1m  a\u{1b}[0m | {\n bbbbbb | {\n      a |   \"tabula\": 1, \"command\": \"audit\",\n bbbbbb |   \"tabula\": 1, \"command\": \"audit\",\n\
      a |   \"ok\": false, \"data\": {\"totals\": {\"lost\": 2}, \"groups\": [1]},\n bbbbbb |   \"ok\": true, \"data\": null,\n\
      a |   \"findings\": [], \"error\": {\"message\": \"lost\", \"exit\": 1}\n bbbbbb |   \"findings\": [], \"error\": null\n      a | }\n bbbbbb | }\n\
      a | Failed: Child process exited with error code: 1\n bbbbbb | Succeeded\n";
        let a = parse_exec_output(&["a", "bbbbbb"], out);
        assert!(a[0].answered && !a[0].ok && a[0].exit == Some(1), "{a:?}");
        assert_eq!(
            summary("audit", &a[0]),
            "2 lost file(s) in 1 group(s) (lost)"
        );
        assert!(a[1].answered && a[1].ok && a[1].exit == Some(0), "{a:?}");
    }

    #[test]
    fn a_stderr_line_inside_the_document_is_passed_over() {
        let out = "\
  box | {\n  box |   \"tabula\": 1,\n  box | warning: quotas are off\n  box |   \"ok\": true,\n  box |   \"data\": {\"items\": []}\n  box | }\n  box | Succeeded\n";
        let a = parse_exec_output(&["box"], out);
        assert!(a[0].answered && a[0].ok, "{a:?}");
    }

    #[test]
    fn prefixed_lines_become_one_answer_per_host() {
        let out = "\
 desk | {\n desk |   \"tabula\": 1,\n desk |   \"command\": \"status\",\n desk |   \"ok\": true,\n desk |   \"data\": {\"items\": []},\n desk |   \"findings\": [],\n desk |   \"error\": null\n desk | }\n desk | Succeeded\n\
  lap | Warning: Permanently added\n  lap | Failed: Child process exited with error code: 255\n\
      | All done!\n";
        let a = parse_exec_output(&["desk", "lap", "gone"], out);
        assert!(a[0].ok && a[0].answered && a[0].exit == Some(0), "{a:?}");
        assert!(!a[1].answered && a[1].exit == Some(255), "{a:?}");
        assert!(
            a[1].error.as_deref().unwrap().contains("not reached"),
            "{a:?}"
        );
        assert!(a[2].error.as_deref().unwrap().contains("no line"), "{a:?}");
    }
}
