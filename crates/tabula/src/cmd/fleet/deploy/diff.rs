//! The package-diff step of `deploy`: each host's running system against
//! the new one, as `tabula diff` compares them.

use std::path::Path;

use tabula_spec::Loaded;

use super::super::query::{split_exec_output, ExecLines};
use super::super::*;
use super::DeployArgs;
use crate::ctx::Ctx;

/// The system a host would get: `nix build` of its toplevel in the
/// rendered flake (stdout: the out path).
pub(super) fn build_cmd(name: &str, out: &Path) -> tabula_run::Cmd {
    tabula_run::Cmd::new("nix")
        .arg("build")
        .arg(format!(
            ".#nixosConfigurations.{name}.config.system.build.toplevel"
        ))
        .args(["--no-link", "--print-out-paths"])
        .current_dir(out)
}

/// The running systems of the hosts with a target, in one `colmena exec`.
pub(super) fn running_cmd(names: &[&str], out: &Path) -> tabula_run::Cmd {
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
pub(super) fn local_running_cmd() -> tabula_run::Cmd {
    tabula_run::Cmd::new("readlink").args(["-f", "/run/current-system"])
}

/// Copy a host's running system into the local store (`--fetch-running`).
pub(super) fn fetch_cmd(target: &tabula_spec::deploy::Target, path: &str) -> tabula_run::Cmd {
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
pub(super) fn fetch_line(t: &tabula_spec::deploy::Target, c: &tabula_run::Cmd) -> String {
    match t.port {
        Some(p) => format!("NIX_SSHOPTS='-p {p}' {}", c.display()),
        None => c.display(),
    }
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
pub(super) struct HostDiff {
    pub(super) running: Option<String>,
    pub(super) new: Option<String>,
    pub(super) result: Option<tabula_nixos::session::DiffResult>,
    pub(super) note: String,
}

/// The package diff of every host: build each new system, read the
/// running ones, fetch those not in the local store (only with
/// `--fetch-running`) and compare the closures as `tabula diff` does. A
/// host whose step fails gets a note saying why; nothing here aborts.
pub(super) fn host_diffs(hosts: &[&Loaded], a: &DeployArgs, ctx: &Ctx) -> Vec<HostDiff> {
    let mut diffs: Vec<HostDiff> = hosts.iter().map(|_| HostDiff::default()).collect();
    read_remote_running(hosts, a, ctx, &mut diffs);
    for (l, d) in hosts.iter().zip(diffs.iter_mut()) {
        if target_of(l).is_none() {
            read_local_running(ctx, d);
        }
    }
    for (l, d) in hosts.iter().zip(diffs.iter_mut()) {
        if let Some(running) = d.running.clone() {
            compare(l, &running, a, ctx, d);
        }
    }
    diffs
}

/// Print a command of the diff step before it runs (not with --json).
fn say(ctx: &Ctx, line: &str) {
    if !ctx.json {
        eprintln!("running: {line}");
    }
}

/// The running systems of the hosts with a target, in one `colmena exec`.
fn read_remote_running(hosts: &[&Loaded], a: &DeployArgs, ctx: &Ctx, diffs: &mut [HostDiff]) {
    let remote: Vec<&str> = hosts
        .iter()
        .filter(|l| target_of(l).is_some())
        .map(|l| l.spec.host.name.as_str())
        .collect();
    if remote.is_empty() {
        return;
    }
    let cmd = running_cmd(&remote, &a.out);
    say(ctx, &cmd.display());
    let o = match cmd.run() {
        Ok(o) => o,
        Err(e) => {
            for (l, d) in hosts.iter().zip(diffs.iter_mut()) {
                if target_of(l).is_some() {
                    d.note = format!("no package diff: reading the running system failed: {e:#}");
                }
            }
            return;
        }
    };
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
            None => diffs[i].note = not_read_note(&split, j),
        }
    }
}

/// Why host `j`'s running system was not read from `colmena exec`.
fn not_read_note(split: &ExecLines, j: usize) -> String {
    format!(
        "no package diff: the running system was not read (`colmena exec -- readlink -f /run/current-system` printed {}{})",
        split.lines[j].last().map_or_else(|| "nothing".to_owned(), |l| format!("`{}`", l.trim())),
        split.failed[j].as_deref().map(|f| format!("; colmena: {f}")).unwrap_or_default()
    )
}

/// The running system of this machine, for a host deployed with allow_local.
fn read_local_running(ctx: &Ctx, d: &mut HostDiff) {
    let cmd = local_running_cmd();
    say(ctx, &cmd.display());
    match cmd.run() {
        Ok(o) => match store_path_in(&[String::from_utf8_lossy(&o.stdout).into_owned()]) {
            Some(p) => d.running = Some(p),
            None => {
                d.note = "no package diff: /run/current-system is not a store path on this machine"
                    .into()
            }
        },
        Err(e) => d.note = format!("no package diff: reading /run/current-system failed: {e:#}"),
    }
}

/// One host's diff once its running system is known: build the new one,
/// have the running one in the local store, compare the closures.
fn compare(l: &Loaded, running: &str, a: &DeployArgs, ctx: &Ctx, d: &mut HostDiff) {
    let new = match build_new(&l.spec.host.name, a, ctx) {
        Ok(new) => new,
        Err(note) => {
            d.note = note;
            return;
        }
    };
    d.new = Some(new.clone());
    if let Err(note) = running_in_store(l, running, a, ctx) {
        d.note = note;
        return;
    }
    let store = tabula_nixos::store::Store::open_or_cli(Path::new(tabula_nixos::store::DEFAULT_DB));
    match crate::cmd::nixos::closure_diff_paths(store, running, &new) {
        Ok(r) => {
            d.note = counts_note(&r);
            d.result = Some(r);
        }
        Err(e) => d.note = format!("no package diff: {e:#}"),
    }
}

/// The new system's store path (`nix build` in --out), or the note why not.
fn build_new(name: &str, a: &DeployArgs, ctx: &Ctx) -> Result<String, String> {
    let cmd = build_cmd(name, &a.out);
    say(
        ctx,
        &format!(
            "cd {} && {}",
            tabula_run::shell_quote(&a.out.display().to_string()),
            cmd.display()
        ),
    );
    let o = cmd
        .run()
        .map_err(|e| format!("no package diff: building the new system failed: {e:#}"))?;
    store_path_in(
        &String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(ToOwned::to_owned)
            .collect::<Vec<_>>(),
    )
    .ok_or_else(|| "no package diff: `nix build --print-out-paths` printed no store path".into())
}

/// The running system in the local store: there already, or fetched with
/// --fetch-running; else the note why not.
fn running_in_store(l: &Loaded, running: &str, a: &DeployArgs, ctx: &Ctx) -> Result<(), String> {
    if Path::new(running).exists() {
        return Ok(());
    }
    let Some(t) = target_of(l) else {
        return Err(format!("no package diff: {running} is not in the store"));
    };
    let fetch = fetch_cmd(t, running);
    if !a.fetch_running {
        return Err(format!(
            "no package diff: the running system {running} is not in this machine's store; pass --fetch-running to copy it first (`{}`)",
            fetch.display()
        ));
    }
    say(ctx, &fetch_line(t, &fetch));
    fetch
        .run()
        .map(|_| ())
        .map_err(|e| format!("no package diff: fetching the running system failed: {e:#}"))
}

/// The diff's counts as one line (`packages: 2 added, 1 upgraded`).
fn counts_note(r: &tabula_nixos::session::DiffResult) -> String {
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
    if counts.is_empty() {
        "packages: no change".into()
    } else {
        format!("packages: {}", counts.join(", "))
    }
}
