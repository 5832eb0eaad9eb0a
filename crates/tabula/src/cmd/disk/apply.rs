//! `apply`: the apply session (tabula_disk::session) with the passphrase from a file, stdin or the terminal.

use super::*;

const APPLY_HELP: &str = "\
Runs the plan and nothing else; prints it first. Needs --yes; every DESTROY
line also needs --wipe NAME, NAME exactly as plan prints it; --wipe table:DISK
repartitions the whole disk (plan shows each partition lost). A busy disk is
refused. Running it again on a matching disk does nothing; after a kill, run
it again: every step looks at the disk first.

Exit codes: 0 done (or nothing to do) and read back, 2 --yes is missing,
3 refused, 4 a tool is missing, 5 done but the pool inside the container
stays unverified (--no-open), 130/143/129 interrupted (run it again).

Examples:
  tabula apply --disk disk.img --size 16GiB --yes --passphrase-file pass.txt
  tabula apply --disk /dev/nvme0n1 --yes --usb /media/stick
  tabula apply --disk disk.img --yes --reset @system/nix \\
      --wipe subvolume:@system/nix --passphrase-stdin < pass.txt
  tabula apply --disk /dev/nvme0n1 --yes --wipe table:/dev/nvme0n1";

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
    /// Allow destroying this object (as plan names it); repeat for each.
    /// `--wipe table:DISK` repartitions the disk (every partition on it)
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
    pub(super) fn request(&self) -> session::Request {
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
pub(super) fn run_apply(args: &ApplyArgs, ctx: &Ctx, spec: &HostSpec) -> anyhow::Result<Report> {
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
