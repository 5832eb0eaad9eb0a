//! # `docs/FLEET.md`: the fleet's architecture and runbook
//!
//! The hosts of one flake, where each deploys (target, user, port), its
//! tags and where it builds; then the runbook steps "add a host" and
//! "deploy" with the fleet's exact commands.

use std::fmt::Write as _;

use tabula_spec::HostSpec;

use crate::md::{self, code, fence, heading, text, Table};

/// The page, deterministic for the same hosts in the same order.
pub fn architecture(hosts: &[&HostSpec], deploy_rs: bool) -> String {
    let mut out = intro(hosts, deploy_rs);
    out.push_str(&heading(2, "Hosts"));
    out.push_str(&hosts_table(hosts));
    out.push_str(&heading(2, "Runbook"));
    out.push_str(&add_host());
    out.push_str(&deploy(hosts));
    out
}

/// The title and the sentence on how many hosts the flake holds.
fn intro(hosts: &[&HostSpec], deploy_rs: bool) -> String {
    let mut out = heading(1, "Fleet");
    let _ = write!(
        out,
        "{} host{} in one flake (`nixosConfigurations` and colmena's `colmenaHive`{}). Each host's own documents are under `docs/<host>/`.\n\n",
        hosts.len(),
        if hosts.len() == 1 { "" } else { "s" },
        if deploy_rs {
            ", and deploy-rs's `deploy.nodes`"
        } else {
            ""
        }
    );
    out
}

/// The hosts table: one row per host with where and how it deploys.
fn hosts_table(hosts: &[&HostSpec]) -> String {
    let mut t = Table::new(&[
        "host",
        "model",
        "release",
        "target",
        "user",
        "port",
        "tags",
        "builds on",
        "local",
    ]);
    for h in hosts {
        let d = h.deploy.as_ref();
        let target = d.and_then(|d| d.target.as_ref());
        t.row([
            code(&h.host.name),
            text(h.host.model.as_deref().unwrap_or("")),
            text(&h.host.release.to_string()),
            match (d, target) {
                (_, Some(t)) => code(&t.host),
                (Some(_), None) => text("this machine only"),
                (None, None) => text("not deployed (no deploy table)"),
            },
            target.map_or_else(String::new, |t| code(t.user_or_root())),
            target.map_or_else(String::new, |t| text(&t.port.unwrap_or(22).to_string())),
            d.map_or_else(String::new, |d| {
                d.tags
                    .iter()
                    .map(|t| code(&format!("@{t}")))
                    .collect::<Vec<_>>()
                    .join(" ")
            }),
            text(if d.is_some_and(|d| d.build_on_target) {
                "target"
            } else {
                "this machine"
            }),
            text(if d.is_some_and(|d| d.allow_local) {
                "yes"
            } else {
                "no"
            }),
        ]);
    }
    t.render()
}

/// The runbook step "Add a host".
fn add_host() -> String {
    let mut out = heading(3, "Add a host");
    out.push_str(&md::bullet(&format!(
        "Start its spec from the embedded one: {}, then edit `[host] name` (unique in the fleet), the disk, and give it its own UUIDs (or none).",
        code("tabula init fleet/NAME.toml")
    )));
    out.push_str(&md::bullet(
        "Add a `[deploy]` table: `target = \"root@HOST[:PORT]\"`, `tags = [\"...\"]`, `build_on = \"local\"` or `\"target\"`, `allow_local = true` for this machine.",
    ));
    out.push_str(&md::bullet(&format!(
        "Check the fleet (each host, and across hosts: names, UUIDs, targets, one release): {}",
        code("tabula check --fleet fleet/")
    )));
    out.push_str(&md::bullet(&format!(
        "Render the flake again: {}",
        code("tabula render --fleet fleet/ --out .")
    )));
    out.push('\n');
    out
}

/// The runbook step "Deploy": the commands per tag and host, then the
/// hosts that are never deployed.
fn deploy(hosts: &[&HostSpec]) -> String {
    let mut out = heading(3, "Deploy");
    out.push_str(
        "Print what would run, then deploy (colmena must be on PATH: `nix shell nixpkgs#colmena`):",
    );
    out.push_str("\n\n");
    out.push_str(&fence("sh", &deploy_commands(hosts)));
    // Host names are RFC 1123 (checked): nothing to escape.
    let off: Vec<&str> = hosts
        .iter()
        .filter(|h| h.deploy.is_none())
        .map(|h| h.host.name.as_str())
        .collect();
    let off = if off.is_empty() {
        "none".to_owned()
    } else {
        off.join(", ")
    };
    let _ = writeln!(
        out,
        "Hosts without a `[deploy]` table ({off}) are rendered but never deployed: rebuild them on the machine itself (`nixos-rebuild switch --flake .#NAME`)."
    );
    out
}

/// The deploy commands: dry run, each tag, each deployed host, next boot.
fn deploy_commands(hosts: &[&HostSpec]) -> String {
    let mut cmds = String::from("tabula deploy --fleet fleet/ --dry\n");
    let mut tags: Vec<&str> = hosts
        .iter()
        .filter_map(|h| h.deploy.as_ref())
        .flat_map(|d| d.tags.iter().map(String::as_str))
        .collect();
    tags.sort_unstable();
    tags.dedup();
    for tag in tags {
        let _ = writeln!(cmds, "tabula deploy --fleet fleet/ --on @{tag}");
    }
    for h in hosts.iter().filter(|h| h.deploy.is_some()) {
        let _ = writeln!(cmds, "tabula deploy --fleet fleet/ --on {}", h.host.name);
    }
    cmds.push_str("tabula deploy --fleet fleet/ --boot   # active at the next boot\n");
    cmds
}
