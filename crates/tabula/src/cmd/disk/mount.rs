//! `mount` and `unmount`: the layout for install and rescue, and its teardown.

use super::*;

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
