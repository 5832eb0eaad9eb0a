//! # `plan`, `apply`, `mount`, `unmount`, `install`, `keyfile`
//!
//! Thin over `tabula_disk`: resolve `--disk` (a block device, or an image
//! file through a loop device detached on exit), get the passphrase (file,
//! stdin or prompt: never argv), print the plan, map refusals to exit 3.

use std::io::IsTerminal as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use serde::Serialize;
use tabula_disk::luks::Secret;
use tabula_disk::session::{self, KeyPrompt, Report};
use tabula_disk::{keyfile as dkeyfile, mount as dmount, secret};
use tabula_spec::{HostSpec, Size};

mod view;

use crate::ctx::Ctx;
use crate::exit::{self, Refused, Usage};

/// A library error with refusals as [`Refused`] (exit 3) and a missing tool
/// as the runner's own error (exit 4).
fn lift(e: tabula_disk::Error) -> anyhow::Error {
    match e {
        tabula_disk::Error::Refused(m) => Refused(m).into(),
        tabula_disk::Error::Run(r) => r.into(),
        tabula_disk::Error::Usage(m) => Usage(m).into(),
        tabula_disk::Error::MissingTools { summary, source } => {
            anyhow::Error::from(source).context(summary)
        }
        tabula_disk::Error::ReadBack(e) => lift(*e).context("reading the disk back"),
        other => other.into(),
    }
}

/// The spec, refused when a check rule finds an error (the disk commands
/// act on it).
fn checked_spec(ctx: &Ctx) -> anyhow::Result<HostSpec> {
    Ok(ctx.load_checked()?.0.spec)
}

fn parse_size(s: &str) -> Result<u64, String> {
    Size::parse(s).map(Size::as_u64)
}

/// How the passphrase is given (never on the command line).
#[derive(Debug, Args, Clone)]
pub struct PassArgs {
    /// Read the LUKS passphrase from FILE (one trailing newline is dropped)
    #[arg(long, value_name = "FILE", conflicts_with = "passphrase_stdin")]
    pub passphrase_file: Option<PathBuf>,
    /// Read the LUKS passphrase from stdin
    #[arg(long)]
    pub passphrase_stdin: bool,
}

impl PassArgs {
    /// The passphrase when given by file or stdin (no prompt here).
    fn given(&self) -> tabula_disk::Result<Option<Secret>> {
        if let Some(f) = &self.passphrase_file {
            return Ok(Some(secret::from_file(f)?));
        }
        if self.passphrase_stdin {
            return Ok(Some(secret::from_stdin()?));
        }
        Ok(None)
    }

    /// The passphrase: given, else asked on the terminal.
    fn get(&self, confirm: bool) -> tabula_disk::Result<Secret> {
        if let Some(s) = self.given()? {
            return Ok(s);
        }
        if !std::io::stdin().is_terminal() {
            return Err(tabula_disk::Error::Usage(
                "the LUKS passphrase is needed and there is no terminal to ask on: give --passphrase-file FILE or --passphrase-stdin"
                    .into(),
            ));
        }
        secret::prompt("LUKS passphrase", confirm)
    }
}

// ---------------------------------------------------------------------------

const PLAN_HELP: &str = "\
Never writes. For an image file that does not exist, plans for an empty disk
of the spec's size (or --size) without creating it.

Exit codes: 0 the plan can be applied, 3 it refuses something.

Examples:
  tabula plan --disk disk.img
  tabula plan --disk /dev/nvme0n1 --json
  tabula plan --disk disk.img --reset @system/nix";

/// Show what apply would do to a disk (never writes)
#[derive(Debug, Args)]
#[command(after_help = PLAN_HELP)]
pub struct PlanArgs {
    /// The disk: a block device or an image file
    #[arg(long, value_name = "PATH", value_parser = crate::ctx::disk_path)]
    pub disk: PathBuf,
    /// For an image that does not exist: its size (default: the spec's disk size)
    #[arg(long, value_parser = parse_size, value_name = "SIZE")]
    pub size: Option<u64>,
    /// Show these subvolumes recreated empty (as DESTROY)
    #[arg(long, value_name = "SUBVOLUME", num_args = 1..)]
    pub reset: Vec<String>,
    /// Also plan the keyfile's key slot (tested against the container)
    #[arg(long, value_name = "FILE")]
    pub keyfile: Option<PathBuf>,
}

pub fn plan(args: &PlanArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    let spec = checked_spec(ctx)?;
    let (probe, plan) = session::plan_only(
        &spec,
        &args.disk,
        args.size,
        &args.reset,
        args.keyfile.as_deref(),
    )
    .map_err(lift)?;
    if let Some(probe) = probe.filter(|_| ctx.verbose > 0) {
        // -v: what the plan was computed from.
        eprintln!("probe: {}", serde_json::to_string_pretty(&probe)?);
    }
    if ctx.json {
        ctx.print_json(&plan)?;
    } else {
        view::print_plan(ctx, &plan);
    }
    Ok(if plan.refused().is_empty() {
        exit::OK
    } else {
        exit::REFUSED
    })
}

// ---------------------------------------------------------------------------

const APPLY_HELP: &str = "\
Runs the plan and nothing else; prints it first. Needs --yes; every DESTROY
line also needs --wipe NAME, NAME exactly as plan prints it. A busy disk is
refused. Running it again on a matching disk does nothing; after a kill, run
it again: every step looks at the disk first.

Exit codes: 0 done (or nothing to do) and read back, 2 --yes is missing,
3 refused, 4 a tool is missing, 5 done but the pool inside the container
stays unverified (--no-open), 130/143/129 interrupted (run it again).

Examples:
  tabula apply --disk disk.img --size 16GiB --yes --passphrase-file pass.txt
  tabula apply --disk /dev/nvme0n1 --yes --usb /media/stick
  tabula apply --disk disk.img --yes --reset @system/nix \\
      --wipe subvolume:@system/nix --passphrase-stdin < pass.txt";

/// Partition, format and fill a disk to match the spec
#[derive(Debug, Args)]
#[command(after_help = APPLY_HELP)]
pub struct ApplyArgs {
    /// The disk: a block device or an image file (created sparse if missing)
    #[arg(long, value_name = "PATH", value_parser = crate::ctx::disk_path)]
    pub disk: PathBuf,
    /// Size of a new image file (default: the spec's disk size)
    #[arg(long, value_parser = parse_size, value_name = "SIZE")]
    pub size: Option<u64>,
    /// Really write to the disk
    #[arg(long)]
    pub yes: bool,
    /// Allow destroying this object (as plan names it); repeat for each
    #[arg(long, value_name = "NAME")]
    pub wipe: Vec<String>,
    /// Recreate these subvolumes empty (each also needs --wipe subvolume:NAME)
    #[arg(long, value_name = "SUBVOLUME", num_args = 1..)]
    pub reset: Vec<String>,
    #[command(flatten)]
    pub pass: PassArgs,
    /// Add this keyfile as a second key slot
    #[arg(long, value_name = "FILE", conflicts_with = "usb")]
    pub keyfile: Option<PathBuf>,
    /// Write a new random keyfile to this mounted USB stick (at the spec's
    /// [luks.keyfile] path) and add it as a second key slot
    #[arg(long, value_name = "DIR")]
    pub usb: Option<PathBuf>,
    /// Format the container but do not open it (no device-mapper): the pool
    /// inside stays unverified
    #[arg(long)]
    pub no_open: bool,
}

impl ApplyArgs {
    /// The session's request (without the passphrase: stdin is read once,
    /// by [`run_apply`]).
    fn request(&self) -> session::Request {
        session::Request {
            disk: self.disk.clone(),
            size: self.size,
            yes: self.yes,
            wipe: self.wipe.clone(),
            reset: self.reset.clone(),
            passphrase: None,
            keyfile: self.keyfile.clone(),
            usb: self.usb.clone(),
            no_open: self.no_open,
        }
    }
}

impl KeyPrompt for PassArgs {
    /// A signal at the prompt ends the process at once (the terminal
    /// restored, loop devices detached).
    fn passphrase(&mut self, confirm: bool) -> tabula_disk::Result<Secret> {
        self.get(confirm)
    }
    fn given(&mut self) -> tabula_disk::Result<Option<Secret>> {
        PassArgs::given(self)
    }
}

/// apply, shared with install: the session, then its report.
fn run_apply(args: &ApplyArgs, ctx: &Ctx, spec: &HostSpec) -> anyhow::Result<Report> {
    let mut req = args.request();
    req.passphrase = args.pass.given().map_err(lift)?;
    let mut prompt = args.pass.clone();
    let report = session::run(spec, &req, &mut prompt, &mut view::Front::new(ctx)).map_err(lift)?;
    view::print_report(ctx, &report)?;
    Ok(report)
}

pub fn apply(args: &ApplyArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    let spec = checked_spec(ctx)?;
    session::preflight(&spec, &args.request(), &[]).map_err(lift)?;
    let done = run_apply(args, ctx, &spec)?;
    Ok(if done.unverified.is_empty() {
        exit::OK
    } else {
        exit::UNVERIFIED
    })
}

// ---------------------------------------------------------------------------

const MOUNT_HELP: &str = "\
Opens the LUKS container (keyfile, else passphrase) and mounts the layout as
NixOS's stage 1 will: the tmpfs root, then every subvolume and partition,
parents first. For an image file the loop device stays attached until
`tabula unmount --disk IMAGE`.

Examples:
  tabula mount --disk /dev/nvme0n1 --keyfile /media/stick/keys/host.key
  tabula mount --disk disk.img --target /mnt --passphrase-stdin < pass.txt";

/// Open the LUKS container and mount the whole layout
#[derive(Debug, Args)]
#[command(after_help = MOUNT_HELP)]
pub struct MountArgs {
    /// The disk: a block device or an image file
    #[arg(long, value_name = "PATH", value_parser = crate::ctx::disk_path)]
    pub disk: PathBuf,
    /// Where to mount the root
    #[arg(long, value_name = "DIR", default_value = "/mnt")]
    pub target: PathBuf,
    /// Open the container with this keyfile
    #[arg(long, value_name = "FILE")]
    pub keyfile: Option<PathBuf>,
    #[command(flatten)]
    pub pass: PassArgs,
}

pub fn mount(args: &MountArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    crate::ctx::require_disk(&args.disk)?;
    let spec = checked_spec(ctx)?;
    let (target, mounted) = dmount::mount_disk(
        &spec,
        &args.disk,
        &args.target,
        args.keyfile.as_deref(),
        &mut args.pass.clone(),
    )
    .map_err(lift)?;
    view::print_mounted(ctx, &mounted);
    // Mounted: the loop device must outlive this process.
    target.keep();
    if ctx.json {
        ctx.print_json(&mounted)?;
    }
    Ok(exit::OK)
}

// ---------------------------------------------------------------------------

/// Unmount the layout and close the LUKS container
#[derive(Debug, Args)]
#[command(
    after_help = "Unmounts exactly the spec's layout under the target (the tmpfs root, this\ncontainer's subvolumes, this disk's partitions), deepest first; every other\nmount there is left mounted and listed.\n\nExamples:\n  tabula unmount\n  tabula unmount --target /mnt --disk disk.img"
)]
pub struct UnmountArgs {
    /// Where the root is mounted
    #[arg(long, value_name = "DIR", default_value = "/mnt")]
    pub target: PathBuf,
    /// The image file mounted: also detach its loop device
    #[arg(long, value_name = "PATH", value_parser = crate::ctx::disk_path)]
    pub disk: Option<PathBuf>,
}

#[derive(Serialize)]
struct UnmountReport {
    unmounted: Vec<String>,
    /// Mounts under the target that are not the spec's layout (or that a
    /// foreign mount pins), left mounted.
    left: Vec<dmount::Left>,
    closed: Option<String>,
    detached: Vec<String>,
}

pub fn unmount(args: &UnmountArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    let spec = ctx.spec()?; // tearing down and key slots work whatever the rules say

    let (done, detached) =
        dmount::unmount_disk(&spec, &args.target, args.disk.as_deref()).map_err(lift)?;
    if ctx.json {
        ctx.print_json(&UnmountReport {
            unmounted: done.unmounted,
            left: done.left,
            closed: done.closed,
            detached,
        })?;
    } else {
        view::print_unmounted(ctx, &done, &detached);
    }
    Ok(exit::OK)
}

// ---------------------------------------------------------------------------

const INSTALL_HELP: &str = "\
apply, then mount at --target, then render the flake into
<target>/persist/etc/nixos, then `nixos-install --flake <path>#<host> --root
<target> --no-root-passwd`. Without nixos-install (not NixOS), prints that
command and exits 4 before touching the disk.

Example:
  tabula install --disk /dev/nvme0n1 --yes --usb /media/stick";

/// apply + mount + render the flake + nixos-install
#[derive(Debug, Args)]
#[command(after_help = INSTALL_HELP)]
pub struct InstallArgs {
    #[command(flatten)]
    pub apply: ApplyArgs,
    /// Where to mount the new system
    #[arg(long, value_name = "DIR", default_value = "/mnt")]
    pub target: PathBuf,
}

pub fn install(args: &InstallArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    let (loaded, _) = ctx.load_checked()?;
    let spec = loaded.spec.clone();
    let flake_dir = args.target.join("persist/etc/nixos");
    let flake = format!("{}#{}", flake_dir.display(), spec.host.name);
    let cmd = tabula_run::Cmd::new("nixos-install")
        .args(["--flake", flake.as_str(), "--root"])
        .arg(&args.target)
        .arg("--no-root-passwd")
        .install_hint("run tabula install on the NixOS installer");
    // Every precondition, nixos-install included, before the disk is touched.
    if tabula_run::find_program("nixos-install").is_none() {
        println!(
            "nixos-install is not available here; nothing was written. Run on the NixOS installer:\n  tabula install ... (it runs: {})",
            cmd.display()
        );
        return Ok(exit::MISSING_TOOL);
    }
    if args.apply.no_open {
        return Err(Usage(
            "install mounts the pool, so it must open the container: drop --no-open (it needs device-mapper); nothing was written".into(),
        )
        .into());
    }
    session::preflight(&spec, &args.apply.request(), &[("mount", "mount")]).map_err(lift)?;
    // Render before touching the disk: a spec the renderer refuses stops
    // here, with nothing written.
    let mut files = tabula_render::render_flake(&spec)
        .with_context(|| format!("rendering the flake of `{}`", spec.host.name))?;
    files.push(tabula_render::OutFile::generated(
        "host.toml",
        loaded.text.clone(),
    ));
    // The passphrase apply used (stdin can be read only once).
    let mut done = run_apply(&args.apply, ctx, &spec)?;
    let mounted = session::mount_after_apply(
        &spec,
        &args.apply.request(),
        &mut done,
        &args.target,
        &mut args.apply.pass.clone(),
    )
    .map_err(lift)?;
    view::print_mounted(ctx, &mounted);
    done.target.keep();
    std::fs::create_dir_all(&flake_dir)
        .with_context(|| format!("creating {}", flake_dir.display()))?;
    let report = tabula_render::write_files(&flake_dir, &files)
        .with_context(|| format!("writing the flake into {}", flake_dir.display()))?;
    if !ctx.json {
        println!(
            "flake: {} file(s) written into {}",
            report.files.len(),
            flake_dir.display()
        );
    }
    cmd.run_inherit()?;
    Ok(exit::OK)
}

// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KeyfileAction {
    /// Add the keyfile as a key slot
    Add,
    /// Add a new keyfile, then remove the old one's slot
    Replace,
    /// Remove the keyfile's slot (the passphrase must still open)
    Remove,
}

const KEYFILE_HELP: &str = "\
Needs the passphrase (an existing key) and never leaves the container
without a working key: a new key is proven before an old one is removed.

Examples:
  tabula keyfile add --disk /dev/nvme0n1 --usb /media/stick
  tabula keyfile replace --disk disk.img --old old.key --keyfile new.key --passphrase-file p
  tabula keyfile remove --disk disk.img --keyfile old.key --passphrase-stdin";

/// Add, replace or remove the USB keyfile's key slot
#[derive(Debug, Args)]
#[command(after_help = KEYFILE_HELP)]
#[command(group(clap::ArgGroup::new("key").args(["keyfile", "usb"]).required(true)))]
pub struct KeyfileArgs {
    /// add, replace or remove
    #[arg(value_enum)]
    pub action: KeyfileAction,
    /// The disk: a block device or an image file
    #[arg(long, value_name = "PATH", value_parser = crate::ctx::disk_path)]
    pub disk: PathBuf,
    /// The keyfile to add (add, replace) or remove (remove)
    #[arg(long, value_name = "FILE")]
    pub keyfile: Option<PathBuf>,
    /// Write a new random keyfile on this mounted USB stick (add, replace)
    #[arg(long, value_name = "DIR", conflicts_with = "keyfile")]
    pub usb: Option<PathBuf>,
    /// The keyfile being replaced (replace)
    #[arg(long, value_name = "FILE", required_if_eq("action", "replace"))]
    pub old: Option<PathBuf>,
    #[command(flatten)]
    pub pass: PassArgs,
}

pub fn keyfile(args: &KeyfileArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    crate::ctx::require_disk(&args.disk)?;
    let spec = ctx.spec()?; // tearing down and key slots work whatever the rules say
    let key = session::keyfile_path(&spec, args.keyfile.as_deref(), args.usb.as_deref())
        .map_err(lift)?
        .ok_or_else(|| Usage("give --keyfile FILE or --usb DIR".into()))?;
    let op = match args.action {
        KeyfileAction::Add => dkeyfile::Op::Add,
        KeyfileAction::Replace => dkeyfile::Op::Replace {
            old: args.old.clone(),
        },
        KeyfileAction::Remove => dkeyfile::Op::Remove,
    };
    let outcome = dkeyfile::run(
        &spec,
        &args.disk,
        &op,
        &key,
        args.usb.is_some(),
        &mut args.pass.clone(),
        &mut |m| eprintln!("{m}"),
    )
    .map_err(lift)?;
    if ctx.json {
        ctx.print_json(&outcome)?;
    } else {
        view::print_keyfile(&outcome);
    }
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_errors_keep_their_exit_codes() {
        let code = |e| exit::code_for(&lift(e));
        // A device node that never appeared: a failure (1), not a refusal (3).
        let no_node = tabula_disk::Error::NoDeviceNode {
            device: "/dev/loop9".into(),
            number: 2,
            waited_ms: 5000,
        };
        assert_eq!(code(no_node), exit::FINDINGS);
        assert_eq!(code(tabula_disk::Error::Refused("x".into())), exit::REFUSED);
        assert_eq!(code(tabula_disk::Error::Usage("x".into())), exit::USAGE);
        let missing = tabula_disk::Error::MissingTools {
            summary: "nothing was written: missing sgdisk".into(),
            source: tabula_run::Error::NotFound {
                program: "sgdisk".into(),
                hint: None,
            },
        };
        assert_eq!(code(missing), exit::MISSING_TOOL);
        let read_back = tabula_disk::Error::ReadBack(Box::new(tabula_disk::Error::Verify(
            "  create fs:boot".into(),
        )));
        let e = lift(read_back);
        assert_eq!(e.to_string(), "reading the disk back");
        assert_eq!(exit::code_for(&e), exit::FINDINGS);
    }
}
