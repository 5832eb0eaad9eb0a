//! `tabula deploy`: render the fleet, show each host's package diff, ask
//! once, run colmena.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use serde::Serialize;
use tabula_spec::fleet::FleetSettings;
use tabula_spec::Loaded;

mod diff;

use super::*;
use crate::ctx::{Ctx, Style};
use crate::exit;
use diff::*;

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
    let fleet = fleet_or_one(a, ctx)?;
    checked(ctx, &fleet)?;
    let hosts = select(&fleet, &a.on)?;
    let cmds = colmena_cmds(&hosts, a.boot, &a.out)?;
    let goal = if a.boot { "boot" } else { "switch" };
    let dir = tabula_run::shell_quote(&a.out.display().to_string());
    let lines: Vec<String> = cmds
        .iter()
        .map(|c| format!("cd {dir} && {}", c.display()))
        .collect();
    let mut report = DeployReport {
        out: a.out.display().to_string(),
        dry: a.dry,
        goal,
        hosts: hosts.iter().map(|l| deploy_host(l, a.no_diff)).collect(),
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
        let (commands, lines) = diff_plan(&hosts, a, &dir);
        report.diff_commands = commands;
        lines
    };
    if a.dry {
        print_dry(ctx, &report, a, diff_lines.iter().chain(&lines))?;
        return Ok(exit::OK);
    }
    let names: Vec<&str> = hosts.iter().map(|l| l.spec.host.name.as_str()).collect();
    can_run(a, &names)?;
    if !a.no_diff {
        write_flake(ctx, &fleet, &a.out)?;
        show_diffs(&hosts, a, ctx, &mut report);
    }
    print_rows(ctx, &report);
    if !a.yes {
        ask(&names, goal)?;
    }
    write_flake(ctx, &fleet, &a.out)?;
    let result = run_colmena(ctx, &cmds, &lines, &mut report);
    if ctx.json {
        ctx.print_json(&report)?;
    }
    result.with_context(|| format!("deploying {} with colmena", names.join(", ")))?;
    if !ctx.json {
        println!("deployed {} ({goal})", names.join(", "));
    }
    Ok(exit::OK)
}

/// The fleet of `--fleet`/`--spec`s, or the one host as a fleet of one.
fn fleet_or_one(a: &DeployArgs, ctx: &Ctx) -> anyhow::Result<Fleet> {
    if let Some(f) = fleet_of(ctx, &a.fleet)? {
        return Ok(f);
    }
    let loaded = ctx.load()?;
    Ok(Fleet {
        hosts: vec![loaded],
        settings: FleetSettings::default(),
        settings_text: None,
        skipped: Vec::new(),
        store: crate::cmd::secret::store_of(ctx),
    })
}

/// A host's row before the diff step.
fn deploy_host(l: &Loaded, no_diff: bool) -> DeployHost<'_> {
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
        diff: if no_diff {
            "package diff skipped (--no-diff)".into()
        } else {
            "package diff: would compare the running system with the new one (the commands below)"
                .into()
        },
        running: None,
        new: None,
        packages: None,
    }
}

/// The commands of the package-diff step, for the report and as lines to
/// print (`dir` is --out, shell-quoted).
fn diff_plan(hosts: &[&Loaded], a: &DeployArgs, dir: &str) -> (Vec<DeployCommand>, Vec<String>) {
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
        for l in hosts {
            if let Some(t) = target_of(l) {
                let c = fetch_cmd(t, "RUNNING");
                let line = fetch_line(t, &c);
                dcmds.push((c, false, line));
            }
        }
    }
    let commands = dcmds
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
    (
        commands,
        dcmds.into_iter().map(|(_, _, line)| line).collect(),
    )
}

/// Each host's row: name, target, tags, and its diff line (not with --json).
fn print_rows(ctx: &Ctx, report: &DeployReport) {
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
}

/// `--dry`: the rows and the commands that would run, or the report.
fn print_dry<'l>(
    ctx: &Ctx,
    report: &DeployReport,
    a: &DeployArgs,
    lines: impl Iterator<Item = &'l String>,
) -> anyhow::Result<()> {
    print_rows(ctx, report);
    if ctx.json {
        ctx.print_json(report)?;
    } else {
        println!(
            "would run (render the fleet into {}, then):",
            a.out.display()
        );
        for line in lines {
            println!("{line}");
        }
    }
    Ok(())
}

/// Refuse before any build or ssh: colmena missing (exit 4), or the
/// question cannot be asked.
fn can_run(a: &DeployArgs, names: &[&str]) -> anyhow::Result<()> {
    need_colmena()?;
    if !a.yes && !std::io::stdin().is_terminal() {
        return Err(exit::Refused(format!(
            "`deploy` asks before it changes {}, and there is no terminal to ask on\n  hint: pass --yes, or --dry to see the commands",
            names.join(", ")
        ))
        .into());
    }
    Ok(())
}

/// The package-diff step: each host's diff into its row, printed as
/// `tabula diff` prints it (not with --json).
fn show_diffs(hosts: &[&Loaded], a: &DeployArgs, ctx: &Ctx, report: &mut DeployReport) {
    let diffs = host_diffs(hosts, a, ctx);
    for (h, d) in report.hosts.iter_mut().zip(diffs) {
        h.diff = d.note;
        h.running = d.running;
        h.new = d.new;
        if let Some(r) = &d.result {
            h.packages = Some(crate::cmd::nixos::diff_json(r));
            if !ctx.json {
                println!("{}", ctx.paint(Style::Bold, &format!("== {}", h.host)));
                crate::cmd::nixos::print_diff(r, ctx);
            }
        }
    }
}

/// The one question; anything but yes refuses (exit 3).
fn ask(names: &[&str], goal: &str) -> anyhow::Result<()> {
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
    Ok(())
}

/// Run the colmena commands in order, stopping at the first failure.
fn run_colmena(
    ctx: &Ctx,
    cmds: &[tabula_run::Cmd],
    lines: &[String],
    report: &mut DeployReport,
) -> Result<(), tabula_run::Error> {
    let mut result = Ok(());
    for (cmd, line) in cmds.iter().zip(lines) {
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
    result
}
