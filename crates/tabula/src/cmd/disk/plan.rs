//! `plan`: what apply would do, never writing.

use super::*;

const PLAN_HELP: &str = "\
Never writes. For an image file that does not exist, plans for an empty disk
of the spec's size (or --size) without creating it.

Exit codes: 0 the plan can be applied, 3 it refuses something.

Examples:
  tabula plan --disk disk.img
  tabula plan --disk /dev/nvme0n1 --json
  tabula plan --disk disk.img --reset @system/nix
  tabula plan --disk /dev/nvme0n1 --wipe table:/dev/nvme0n1";

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
    /// Plan as apply would with these --wipe names; `--wipe table:DISK`
    /// (DISK as given to --disk, or the device plan shows) repartitions the
    /// disk: every partition on it DESTROY, then the spec's layout
    #[arg(long, value_name = "NAME")]
    pub wipe: Vec<String>,
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
        &args.wipe,
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
