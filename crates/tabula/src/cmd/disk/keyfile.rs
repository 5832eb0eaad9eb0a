//! `keyfile add|replace|remove`: the USB keyfile's key slot.

use super::*;

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
        view::print_keyfile(&outcome, &op);
    }
    Ok(exit::OK)
}
