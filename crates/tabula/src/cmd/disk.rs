//! # `plan`, `apply`, `mount`, `unmount`, `install`, `keyfile`
//!
//! Thin over `tabula_disk`: resolve `--disk` (a block device, or an image
//! file through a loop device detached on exit), get the passphrase (file,
//! stdin or prompt: never argv), print the plan, map refusals to exit 3.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use serde::Serialize;
use tabula_disk::apply::{self, ApplyOptions, Progress};
use tabula_disk::loopdev::{self, Target};
use tabula_disk::luks::{self, Key, Secret};
use tabula_disk::plan::{self as dplan, Action, Plan, PlanOptions, Step};
use tabula_disk::DiskProbe;
use tabula_disk::{keyfile as dkeyfile, mount as dmount, secret};
use tabula_spec::{HostSpec, Size};

use crate::ctx::{Ctx, Style};
use crate::exit::{self, Refused, Usage};

/// A library error with refusals as [`Refused`] (exit 3) and a missing tool
/// as the runner's own error (exit 4).
fn lift(e: tabula_disk::Error) -> anyhow::Error {
    match e {
        tabula_disk::Error::Refused(m) => Refused(m).into(),
        tabula_disk::Error::Run(r) => r.into(),
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
    fn given(&self) -> anyhow::Result<Option<Secret>> {
        if let Some(f) = &self.passphrase_file {
            return Ok(Some(secret::from_file(f).map_err(lift)?));
        }
        if self.passphrase_stdin {
            return Ok(Some(secret::from_stdin().map_err(lift)?));
        }
        Ok(None)
    }

    /// The passphrase: given, else asked on the terminal.
    fn get(&self, confirm: bool) -> anyhow::Result<Secret> {
        if let Some(s) = self.given()? {
            return Ok(s);
        }
        if !std::io::stdin().is_terminal() {
            return Err(Refused(
                "the LUKS passphrase is needed: give --passphrase-file FILE or --passphrase-stdin"
                    .into(),
            )
            .into());
        }
        secret::prompt("LUKS passphrase", confirm).map_err(lift)
    }
}

fn paint_action(ctx: &Ctx, a: Action) -> String {
    let style = match a {
        Action::Keep => Style::Ok,
        Action::Create | Action::Format => Style::Info,
        Action::Destroy | Action::Refuse => Style::Error,
        Action::Unverified => Style::Warning,
    };
    ctx.paint(style, &format!("{:<10}", a.as_str()))
}

fn print_plan(ctx: &Ctx, plan: &Plan) {
    let w = plan.lines.iter().map(|l| l.object.len()).max().unwrap_or(6);
    println!(
        "{}",
        ctx.paint(Style::Bold, &format!("plan for {}", plan.device))
    );
    for l in &plan.lines {
        // What is kept is dimmed so that the changes stand out.
        let reason = if l.action == Action::Keep {
            ctx.paint(Style::Dim, &l.reason)
        } else {
            l.reason.clone()
        };
        println!(
            "  {}  {:<w$}  {reason}",
            paint_action(ctx, l.action),
            l.object
        );
    }
    for b in &plan.busy {
        println!(
            "{}",
            ctx.paint(
                Style::Warning,
                &format!("busy: {b} (apply refuses to write while it is)")
            )
        );
    }
    let count = |a: Action| plan.lines.iter().filter(|l| l.action == a).count();
    println!(
        "{} create, {} format, {} keep, {} DESTROY, {} refuse, {} unverified; {} step(s)",
        count(Action::Create),
        count(Action::Format),
        count(Action::Keep),
        count(Action::Destroy),
        count(Action::Refuse),
        count(Action::Unverified),
        plan.steps.len()
    );
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
    #[arg(long, value_name = "PATH")]
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
    let plan = if args.disk.exists() {
        let target = Target::open(&args.disk, true).map_err(lift)?;
        let opts = ApplyOptions {
            reset: args.reset.clone(),
            keyfile: args.keyfile.clone(),
            no_open: true,
            ..Default::default()
        };
        let (probe, plan) = apply::prepare(&spec, target.device(), &opts).map_err(lift)?;
        if ctx.verbose > 0 {
            // -v: what the plan was computed from.
            eprintln!("probe: {}", serde_json::to_string_pretty(&probe)?);
        }
        plan
    } else {
        let size = args.size.unwrap_or(spec.disk.size.as_u64());
        let probe = dplan::empty_disk(&args.disk.to_string_lossy(), size);
        dplan::plan(
            &spec,
            &probe,
            &PlanOptions {
                reset: args.reset.clone(),
                keyfile: args.keyfile.is_some(),
                keyfile_opens: args.keyfile.as_ref().map(|_| false),
            },
        )
    };
    if ctx.json {
        ctx.print_json(&plan)?;
    } else {
        print_plan(ctx, &plan);
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
    #[arg(long, value_name = "PATH")]
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

#[derive(Serialize)]
struct ApplyReport<'a> {
    before: &'a Plan,
    ran: &'a [Step],
    after: Option<&'a Plan>,
    /// True only when nothing is left to do AND everything was verified.
    nothing_to_do: bool,
    /// Container and pool objects that could not be checked.
    unverified: &'a [String],
}

struct Bar(Option<indicatif::ProgressBar>);

impl Progress for Bar {
    fn step(&mut self, index: usize, total: usize, step: &Step) {
        if let Some(b) = &self.0 {
            b.set_length(total as u64);
            b.set_position(index as u64);
            b.set_message(step.describe());
        } else {
            eprintln!("[{}/{total}] {}", index + 1, step.describe());
        }
    }
    fn finish(&mut self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

fn progress(ctx: &Ctx) -> Bar {
    if ctx.json || !std::io::stderr().is_terminal() {
        return Bar(None);
    }
    let b = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}") {
        b.set_style(style);
    }
    Bar(Some(b))
}

/// The keyfile to add: `--keyfile`, or the spec's path on the `--usb` stick.
fn keyfile_path(
    spec: &HostSpec,
    keyfile: &Option<PathBuf>,
    usb: &Option<PathBuf>,
) -> anyhow::Result<Option<PathBuf>> {
    if let Some(k) = keyfile {
        return Ok(Some(k.clone()));
    }
    let Some(usb) = usb else { return Ok(None) };
    let rel = spec
        .luks
        .as_ref()
        .and_then(|l| l.keyfile.as_ref())
        .map(|k| k.path.as_str().trim_start_matches('/').to_owned())
        .ok_or_else(|| Refused("--usb needs [luks.keyfile] path in the spec".into()))?;
    Ok(Some(usb.join(rel)))
}

/// Closes the container on drop when apply found it closed.
struct CloseGuard<'a> {
    spec: &'a HostSpec,
    device: &'a str,
    armed: bool,
}

impl Drop for CloseGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            if let Err(e) = luks::close_container(self.spec, self.device) {
                tracing::warn!("could not close the container: {e}");
            }
        }
    }
}

/// The programs an apply of `spec` may run, with their Debian packages.
fn needed_tools(spec: &HostSpec, image: bool, no_open: bool) -> Vec<(&'static str, &'static str)> {
    use tabula_spec::model::FsType;
    let mut t = vec![
        ("sfdisk", "fdisk"),
        ("sgdisk", "gdisk"),
        ("blkid", "util-linux"),
        ("blockdev", "util-linux"),
        ("partx", "util-linux"),
        ("wipefs", "util-linux"),
    ];
    if image {
        t.push(("losetup", "mount (util-linux)"));
    }
    for p in spec.partitions.iter().filter(|p| p.owner.is_nixos()) {
        match p.filesystem.as_ref().map(|f| f.kind) {
            Some(FsType::Vfat) => t.push(("mkfs.vfat", "dosfstools")),
            Some(FsType::Ext4) => t.push(("mkfs.ext4", "e2fsprogs")),
            Some(FsType::Btrfs) => t.push(("mkfs.btrfs", "btrfs-progs")),
            Some(FsType::Swap) => t.push(("mkswap", "util-linux")),
            _ => {}
        }
    }
    if spec.luks.is_some() {
        t.push(("cryptsetup", "cryptsetup-bin"));
    }
    if spec.btrfs.is_some() && !no_open {
        t.push(("mkfs.btrfs", "btrfs-progs"));
        t.push(("btrfs", "btrfs-progs"));
        t.push(("mount", "mount"));
        t.push(("umount", "mount"));
    }
    t.dedup();
    t
}

/// Never enrol a weak keyfile (or a FIFO, a device): checked before any
/// write (even the new image file) or prompt; with --usb only when a file
/// is already on the stick (else apply writes a new random one).
fn refuse_weak_keyfile(spec: &HostSpec, args: &ApplyArgs) -> anyhow::Result<()> {
    if let Some(k) = keyfile_path(spec, &args.keyfile, &args.usb)?
        .filter(|k| args.keyfile.is_some() || k.symlink_metadata().is_ok())
    {
        if k.symlink_metadata().is_err() {
            return Err(Refused(format!(
                "the keyfile {} does not exist (use --usb DIR to make a new one)",
                k.display()
            ))
            .into());
        }
        dkeyfile::check_keyfile(&k).map_err(lift)?;
    }
    Ok(())
}

/// What apply needs from this machine and the command line, checked before
/// the first write, file creation or prompt: root, every tool it may run
/// (plus `extra`), device-mapper when the pool must be opened, the keyfile.
fn preflight(
    spec: &HostSpec,
    args: &ApplyArgs,
    extra: &[(&'static str, &'static str)],
) -> anyhow::Result<()> {
    if !rustix::process::geteuid().is_root() {
        return Err(Refused(
            "apply writes partition tables and block devices: run it as root (sudo)".into(),
        )
        .into());
    }
    let image = !args.disk.exists() || args.disk.is_file();
    let mut tools = needed_tools(spec, image, args.no_open);
    tools.extend_from_slice(extra);
    let missing: Vec<(&str, &str)> = tools
        .into_iter()
        .filter(|(p, _)| tabula_run::find_program(p).is_none())
        .collect();
    if let Some((program, package)) = missing.first() {
        let all: Vec<String> = missing
            .iter()
            .map(|(p, k)| format!("{p} (Debian package {k})"))
            .collect();
        return Err(anyhow::Error::from(tabula_run::Error::NotFound {
            program: (*program).to_owned(),
            hint: Some(format!("Debian package {package}")),
        })
        .context(format!("nothing was written: missing {}", all.join(", "))));
    }
    if spec.luks.is_some() && !args.no_open && !luks::device_mapper_available() {
        return Err(Refused(
            "this kernel has no device-mapper, so the LUKS container cannot be opened to create and check the pool; nothing was written. Add --no-open to format the container without opening it (the pool stays unverified), or run apply where device-mapper works".into(),
        )
        .into());
    }
    // A missing, non-regular or weak keyfile (also one already on --usb).
    refuse_weak_keyfile(spec, args)
}

/// Resolve an existing `--disk` for writing. An image already attached is
/// refused, unless its loop device is one a killed apply left behind and
/// nothing uses it: then it is taken over.
fn open_for_write(spec: &HostSpec, disk: &Path) -> anyhow::Result<Target> {
    if disk.is_file() {
        // A killed run's temporary mount of the pool would hold the device.
        apply::release_stale_top_levels().map_err(lift)?;
        let own = spec.luks.as_ref().map(|l| l.name.as_str());
        if let Some(l) = loopdev::adopt(disk, own).map_err(lift)? {
            return Ok(Target::Image(l));
        }
    }
    let t = Target::open(disk, false).map_err(lift)?;
    if let Target::Block(d) = &t {
        // A killed run's tools may still be writing to it.
        loopdev::wait_for_openers(d).map_err(lift)?;
    }
    Ok(t)
}

/// The refusals of `plan` (refused lines, busy, DESTROY without --wipe),
/// then a missing --yes (a usage error: exit 2). Prints the plan first when
/// it stops here, so the user sees why.
fn check_before_writing(
    ctx: &Ctx,
    spec: &HostSpec,
    disk: &DiskProbe,
    plan: &Plan,
    opts: &ApplyOptions,
) -> anyhow::Result<()> {
    let as_if_yes = ApplyOptions {
        yes: true,
        ..opts.clone()
    };
    let r = apply::check(spec, disk, plan, &as_if_yes).map_err(lift);
    let r = r.and_then(|()| {
        if opts.yes || plan.is_noop() {
            Ok(())
        } else {
            Err(Usage("apply changes the disk: review the plan above, then add --yes; nothing was written".into()).into())
        }
    });
    if r.is_err() {
        if ctx.json {
            ctx.print_json(plan)?;
        } else {
            print_plan(ctx, plan);
        }
    }
    r
}

/// The outcome of an apply, for its exit code.
struct Applied {
    target: Target,
    passphrase: Option<Secret>,
    /// Container and pool lines that stay unverified (`--no-open`).
    unverified: Vec<String>,
}

/// apply, shared with install: preconditions, the plan, the passphrase,
/// the steps, the read-back.
fn run_apply(args: &ApplyArgs, ctx: &Ctx, spec: &HostSpec) -> anyhow::Result<Applied> {
    let mut opts = ApplyOptions {
        yes: args.yes,
        wipe: args.wipe.clone(),
        reset: args.reset.clone(),
        passphrase: args.pass.given()?,
        keyfile: keyfile_path(spec, &args.keyfile, &args.usb)?,
        no_open: args.no_open,
    };
    // A new image: plan for an empty disk, check, ask for the passphrase,
    // and only then create the file.
    if !args.disk.exists() {
        let size = args.size.unwrap_or(spec.disk.size.as_u64());
        let empty = dplan::empty_disk(&args.disk.to_string_lossy(), size);
        let plan = dplan::plan(
            spec,
            &empty,
            &PlanOptions {
                reset: opts.reset.clone(),
                keyfile: opts.keyfile.is_some(),
                keyfile_opens: opts.keyfile.as_ref().map(|_| false),
            },
        );
        check_before_writing(ctx, spec, &empty, &plan, &opts)?;
        if opts.passphrase.is_none() && apply::needs_passphrase(&plan) {
            let formats = plan
                .steps
                .iter()
                .any(|s| matches!(s, Step::LuksFormat { .. }));
            opts.passphrase = Some(prompt_passphrase(&args.pass, formats)?);
        }
        loopdev::create_image(&args.disk, size).map_err(lift)?;
        tracing::info!(
            "created the sparse image {} ({})",
            args.disk.display(),
            Size::bytes(size)
        );
    }
    let target = open_for_write(spec, &args.disk)?;
    let device = target.device().to_owned();
    // apply opens the container to check and fill it; it closes it again
    // when it was closed before (an image's loop device can then go), or
    // when a killed run left it open on the device taken over.
    let _close = CloseGuard {
        spec,
        device: &device,
        armed: target.adopted() || luks::container_mapping(spec, &device).is_none(),
    };
    let (mut disk, mut plan) = apply::prepare(spec, &device, &opts).map_err(lift)?;
    check_before_writing(ctx, spec, &disk, &plan, &opts)?;
    // A closed container can only be checked once opened: ask for the key
    // when the plan cannot see inside, or needs it for a step.
    let closed = plan
        .lines
        .iter()
        .any(|l| l.object.starts_with("btrfs:") && l.action == Action::Unverified);
    if opts.passphrase.is_none() && (apply::needs_passphrase(&plan) || (closed && !opts.no_open)) {
        let formats = plan
            .steps
            .iter()
            .any(|s| matches!(s, Step::LuksFormat { .. }));
        opts.passphrase = Some(prompt_passphrase(&args.pass, formats)?);
        (disk, plan) = apply::prepare(spec, &device, &opts).map_err(lift)?;
        // Opened, the pool may show more (a --reset DESTROY): check again.
        check_before_writing(ctx, spec, &disk, &plan, &opts)?;
    }
    if !ctx.json {
        print_plan(ctx, &plan);
    }
    apply::check(spec, &disk, &plan, &opts).map_err(lift)?;
    let unverified = |p: &Plan| -> Vec<String> {
        p.unverified_pool()
            .iter()
            .map(|l| format!("{}: {}", l.object, l.reason))
            .collect()
    };
    if plan.is_noop() {
        let left = unverified(&plan);
        if ctx.json {
            ctx.print_json(&ApplyReport {
                before: &plan,
                ran: &[],
                after: None,
                nothing_to_do: left.is_empty(),
                unverified: &left,
            })?;
        } else if left.is_empty() {
            println!(
                "{}",
                ctx.paint(Style::Ok, "nothing to do: the disk matches the spec")
            );
        } else {
            print_unverified(ctx, "no step left to run", &left);
        }
        drop(_close);
        return Ok(Applied {
            target,
            passphrase: opts.passphrase,
            unverified: left,
        });
    }
    if args.usb.is_some()
        && plan
            .steps
            .iter()
            .any(|s| matches!(s, Step::AddKeyfile { .. }))
    {
        if let Some(k) = &opts.keyfile {
            if dkeyfile::make_keyfile(k).map_err(lift)? {
                eprintln!("wrote a new random keyfile to {}", k.display());
            }
        }
    }
    let mut bar = progress(ctx);
    let ran = apply::execute(spec, &device, &plan, &opts, &mut bar).map_err(lift)?;
    let after = apply::verify(spec, &device, &opts)
        .map_err(lift)
        .context("reading the disk back")?;
    let left = unverified(&after);
    if ctx.json {
        ctx.print_json(&ApplyReport {
            before: &plan,
            ran: &ran,
            after: Some(&after),
            nothing_to_do: false,
            unverified: &left,
        })?;
    } else if left.is_empty() {
        println!(
            "{}",
            ctx.paint(
                Style::Ok,
                &format!(
                    "applied {} step(s); read back: the disk matches the spec",
                    ran.len()
                )
            )
        );
    } else {
        print_unverified(ctx, &format!("applied {} step(s)", ran.len()), &left);
    }
    drop(_close);
    Ok(Applied {
        target,
        passphrase: opts.passphrase,
        unverified: left,
    })
}

/// What an apply that could not see inside the container says instead of
/// "the disk matches the spec".
fn print_unverified(ctx: &Ctx, done: &str, left: &[String]) {
    println!(
        "{}",
        ctx.paint(
            Style::Warning,
            &format!(
                "{done}; NOT verified: {} object(s) inside the container stay unchecked (the container was not opened: --no-open or no device-mapper):",
                left.len()
            )
        )
    );
    for l in left {
        println!("  {l}");
    }
    println!("run apply where device-mapper works, without --no-open, to create and check them (exit {})", exit::UNVERIFIED);
}

/// The passphrase from the prompt (or file/stdin). A signal at the prompt
/// ends the process at once (the terminal restored, loop devices detached).
fn prompt_passphrase(pass: &PassArgs, confirm: bool) -> anyhow::Result<Secret> {
    pass.get(confirm)
}

pub fn apply(args: &ApplyArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    let spec = checked_spec(ctx)?;
    preflight(&spec, args, &[])?;
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
    #[arg(long, value_name = "PATH")]
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

fn do_mount(
    ctx: &Ctx,
    spec: &HostSpec,
    device: &str,
    target: &Path,
    keyfile: &Option<PathBuf>,
    pass: Option<Secret>,
) -> anyhow::Result<Vec<dmount::Mounted>> {
    let key = match (keyfile, pass) {
        (Some(k), _) => Some(Key::File(k.clone())),
        (None, Some(p)) => Some(Key::Passphrase(p)),
        (None, None) => None,
    };
    let mounted = dmount::mount_layout(spec, device, target, key.as_ref()).map_err(lift)?;
    if !ctx.json {
        for m in &mounted {
            println!(
                "{} {} on {} ({}{})",
                if m.existed { "kept   " } else { "mounted" },
                m.source,
                m.target,
                m.fstype,
                if m.options.is_empty() {
                    String::new()
                } else {
                    format!(", {}", m.options)
                }
            );
        }
    }
    Ok(mounted)
}

pub fn mount(args: &MountArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    let spec = checked_spec(ctx)?;
    // An image mounted before keeps its loop device: use it again rather
    // than attaching a second one.
    let attached = if args.disk.is_file() {
        loopdev::attached(&args.disk)
            .map_err(lift)?
            .into_iter()
            .next()
    } else {
        None
    };
    let target = match attached {
        Some(dev) => Target::Block(dev),
        None => Target::open(&args.disk, false).map_err(lift)?,
    };
    let device = target.device().to_owned();
    // A key is needed unless the container on this disk is open already.
    let needs_key = spec.luks.is_some() && luks::container_mapping(&spec, &device).is_none();
    let pass = if needs_key && args.keyfile.is_none() {
        Some(args.pass.get(false)?)
    } else {
        args.pass.given()?
    };
    let mounted = do_mount(ctx, &spec, &device, &args.target, &args.keyfile, pass)?;
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
    #[arg(long, value_name = "PATH")]
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

    // The disk, when named: an image's loop device, or the block device.
    let device = match &args.disk {
        Some(d) if d.is_file() => loopdev::attached(d).map_err(lift)?.into_iter().next(),
        Some(d) => Some(d.to_string_lossy().into_owned()),
        None => None,
    };
    let done = dmount::unmount_layout(&spec, &args.target, device.as_deref()).map_err(lift)?;
    let mut detached = Vec::new();
    // An image's loop device goes only when nothing of the layout is left.
    let layout_left = done.left.iter().any(|l| l.why.starts_with("the layout's"));
    if let Some(d) = args.disk.as_ref().filter(|d| d.is_file() && !layout_left) {
        detached = loopdev::detach_image(d).map_err(lift)?;
    }
    if ctx.json {
        ctx.print_json(&UnmountReport {
            unmounted: done.unmounted,
            left: done.left,
            closed: done.closed,
            detached,
        })?;
    } else {
        for u in &done.unmounted {
            println!("unmounted {u}");
        }
        if let Some(c) = &done.closed {
            println!("closed {c}");
        }
        for d in &detached {
            println!("detached {d}");
        }
        for l in &done.left {
            println!(
                "{}",
                ctx.paint(
                    Style::Warning,
                    &format!(
                        "left mounted: {} ({} {}): {}",
                        l.target, l.fstype, l.source, l.why
                    )
                )
            );
        }
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
    preflight(&spec, &args.apply, &[("mount", "mount")])?;
    // Render before touching the disk: a spec the renderer refuses stops
    // here, with nothing written.
    let mut files = tabula_render::render_flake(&spec)
        .with_context(|| format!("rendering the flake of `{}`", spec.host.name))?;
    files.push(tabula_render::OutFile::generated(
        "host.toml",
        loaded.text.clone(),
    ));
    // The passphrase apply used (stdin can be read only once).
    let done = run_apply(&args.apply, ctx, &spec)?;
    if !done.unverified.is_empty() {
        return Err(Refused(
            "install needs the pool created and checked: the container was not opened (--no-open or no device-mapper)".into(),
        )
        .into());
    }
    let target = done.target;
    let device = target.device().to_owned();
    let keyfile = keyfile_path(&spec, &args.apply.keyfile, &args.apply.usb)?.filter(|k| k.exists());
    let pass = match (&keyfile, done.passphrase) {
        (Some(_), _) => None,
        (None, Some(p)) => Some(p),
        (None, None) => Some(args.apply.pass.get(false)?),
    };
    do_mount(ctx, &spec, &device, &args.target, &keyfile, pass)?;
    target.keep();
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
pub struct KeyfileArgs {
    /// add, replace or remove
    #[arg(value_enum)]
    pub action: KeyfileAction,
    /// The disk: a block device or an image file
    #[arg(long, value_name = "PATH")]
    pub disk: PathBuf,
    /// The keyfile to add (add, replace) or remove (remove)
    #[arg(long, value_name = "FILE")]
    pub keyfile: Option<PathBuf>,
    /// Write a new random keyfile on this mounted USB stick (add, replace)
    #[arg(long, value_name = "DIR", conflicts_with = "keyfile")]
    pub usb: Option<PathBuf>,
    /// The keyfile being replaced (replace)
    #[arg(long, value_name = "FILE")]
    pub old: Option<PathBuf>,
    #[command(flatten)]
    pub pass: PassArgs,
}

pub fn keyfile(args: &KeyfileArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    let spec = ctx.spec()?; // tearing down and key slots work whatever the rules say
    let key = keyfile_path(&spec, &args.keyfile, &args.usb)?
        .ok_or_else(|| Refused("give --keyfile FILE or --usb DIR".into()))?;
    // A key to enrol is checked before any prompt or write: an existing
    // file (--keyfile, or on the --usb stick) must be strong.
    if !matches!(args.action, KeyfileAction::Remove)
        && (args.usb.is_none() || key.symlink_metadata().is_ok())
    {
        dkeyfile::check_keyfile(&key).map_err(lift)?;
    }
    let target = Target::open(&args.disk, false).map_err(lift)?;
    let pass = args.pass.get(false)?;
    if args.usb.is_some() && !matches!(args.action, KeyfileAction::Remove) {
        if let Some(k) = spec.luks.as_ref().and(Some(&key)) {
            if dkeyfile::make_keyfile(k).map_err(lift)? {
                eprintln!("wrote a new random keyfile to {}", k.display());
            }
        }
    }
    let outcome = match args.action {
        KeyfileAction::Add => dkeyfile::add(&spec, target.device(), &pass, &key),
        KeyfileAction::Remove => dkeyfile::remove(&spec, target.device(), &pass, &key),
        KeyfileAction::Replace => {
            let old = args.old.as_ref().ok_or_else(|| {
                Refused("replace needs --old FILE (the keyfile being replaced)".into())
            })?;
            dkeyfile::replace(&spec, target.device(), &pass, old, &key)
        }
    }
    .map_err(lift)?;
    if ctx.json {
        ctx.print_json(&outcome)?;
    } else {
        println!(
            "{}: {}{}; {} key slot(s) now",
            outcome.node,
            if outcome.added {
                "added the keyfile's slot"
            } else {
                "the keyfile's slot was already there"
            },
            if outcome.removed {
                ", removed the old slot"
            } else {
                ""
            },
            outcome.key_slots
        );
    }
    Ok(exit::OK)
}
