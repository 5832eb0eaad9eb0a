//! `install`: apply, mount, render into the target and nixos-install.

use super::*;

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
        // On stderr (and in the --json envelope's error), stdout stays clean.
        return Err(exit::Reported {
            message: format!(
                "nixos-install is not available here; nothing was written. Run on the NixOS installer:\n  tabula install ... (it runs: {})",
                cmd.display()
            ),
            code: exit::MISSING_TOOL,
        }
        .into());
    }
    if args.apply.no_open {
        return Err(Usage(
            "install mounts the pool, so it must open the container: drop --no-open (it needs device-mapper); nothing was written".into(),
        )
        .into());
    }
    session::preflight(&spec, &args.apply.request(), &["mount"]).map_err(lift)?;
    // Render before touching the disk: a spec the renderer refuses stops
    // here, with nothing written.
    let mut files = tabula_render::render_flake(&spec)
        .with_context(|| format!("rendering the flake of `{}`", spec.host.name))?;
    files.push(tabula_render::OutFile::generated(
        "host.toml",
        loaded.text.clone(),
    ));
    // The host's secrets/NAME.age travel with the flake: a missing one
    // stops here too, before the disk is touched.
    let secrets = crate::cmd::secret::FlakeSecrets::plan(ctx, &spec, &flake_dir)?;
    // One install per disk, from its apply to the end of nixos-install (a
    // new image is locked by apply, then here once it exists).
    let mut lock = tabula_disk::lock::exclusive(&args.apply.disk).map_err(lift)?;
    // The passphrase apply used (stdin can be read only once).
    let mut done = run_apply(&args.apply, ctx, &spec)?;
    if lock.is_none() {
        lock = tabula_disk::lock::exclusive(&args.apply.disk).map_err(lift)?;
    }
    let _lock = lock;
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
    secrets.copy()?;
    if !ctx.json {
        println!(
            "flake: {} file(s) written into {}",
            report.files.len(),
            flake_dir.display()
        );
    }
    // A host with [secrets]: its SSH host key at the persisted identity
    // before the first boot, so agenix can decrypt there (issue 13).
    if let Some(k) = crate::cmd::secret::ensure_host_key(&spec, &args.target)? {
        crate::cmd::secret::tell_host_key(&k, ctx.json);
    }
    cmd.run_inherit()?;
    Ok(exit::OK)
}
