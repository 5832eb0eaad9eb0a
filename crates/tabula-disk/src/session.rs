//! # The apply session: `tabula apply` from the command line's request to
//! the read-back
//!
//! [`run`] is the whole session in named steps, each a function here:
//! [`preflight`] (root, tools, device-mapper, the keyfile's strength, all
//! before any write), [`plan_new_image`] (a missing image: plan for an
//! empty disk, check, ask the key, then create it), [`open_for_write`]
//! (adopt a killed run's loop device, wait for a killed run's tools),
//! [`probe_and_plan`] (probe, open the container when a key is at hand,
//! plan), [`needs_key`] (decide whether the passphrase is needed),
//! [`check_before_writing`], [`make_usb_keyfile`], then
//! [`apply::execute`](crate::apply::execute) and
//! [`apply::verify`](crate::apply::verify). [`CloseGuard`] closes the
//! container again when the session found it closed; the image's loop
//! device is detached when the [`Report`]'s target is dropped.
//!
//! The session prints nothing: it asks for the passphrase through
//! [`KeyPrompt`] and shows the plan and its progress through [`View`]; the
//! binary decides how they look. [`undo_all`] takes down what an
//! interrupted run set up.

use std::path::{Path, PathBuf};

use serde::Serialize;
use tabula_run::Cmd;
use tabula_spec::{HostSpec, Size};

use crate::apply::{self, ApplyOptions, Progress};
use crate::interrupt::{self, Undo};
pub use crate::keyfile::keyfile_path;
use crate::loopdev::{self, Target};
pub use crate::luks::KeyPrompt;
use crate::luks::{self, Key, Secret};
use crate::mount::{self, Mounted};
use crate::plan::{self, Plan, PlanOptions, Step};
use crate::probe::DiskProbe;
use crate::{keyfile, Error, Result};

/// What the command line asked for (`tabula apply`'s flags).
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// A block device or an image file (created sparse when missing).
    pub disk: PathBuf,
    /// Size of a new image file (default: the spec's disk size).
    pub size: Option<u64>,
    pub yes: bool,
    /// Objects the user allows to be destroyed, as `plan` names them.
    pub wipe: Vec<String>,
    /// Subvolumes to recreate empty.
    pub reset: Vec<String>,
    /// The passphrase when given by file or stdin (else [`KeyPrompt`]).
    pub passphrase: Option<Secret>,
    /// `--keyfile FILE`.
    pub keyfile: Option<PathBuf>,
    /// `--usb DIR`: the spec's keyfile path on this stick (made when missing).
    pub usb: Option<PathBuf>,
    pub no_open: bool,
}

/// Shows what the session does (the binary's text or JSON).
pub trait View: Progress {
    /// The plan, when the session stops before writing because of it.
    fn refused(&mut self, _plan: &Plan) {}
    /// The plan about to run (after every check).
    fn planned(&mut self, _plan: &Plan) {}
    /// A side note (a new keyfile written).
    fn note(&mut self, _msg: &str) {}
}

/// What an apply did.
#[derive(Debug)]
pub struct Report {
    /// The disk (an image's loop device is detached when this is dropped,
    /// unless kept).
    pub target: Target,
    /// The passphrase used (stdin can be read only once: install mounts with it).
    pub passphrase: Option<Secret>,
    /// The plan run.
    pub before: Plan,
    /// The steps that changed something.
    pub ran: Vec<Step>,
    /// The read-back's plan; `None` when there was nothing to run.
    pub after: Option<Plan>,
    /// Container and pool lines that stay unverified (`--no-open`), as
    /// `object: reason`.
    pub unverified: Vec<String>,
}

/// [`Report`] as JSON (`tabula apply --json`).
#[derive(Serialize)]
pub struct ReportJson<'a> {
    pub before: &'a Plan,
    pub ran: &'a [Step],
    pub after: Option<&'a Plan>,
    /// True only when nothing is left to do AND everything was verified.
    pub nothing_to_do: bool,
    /// Container and pool objects that could not be checked.
    pub unverified: &'a [String],
}

impl Report {
    /// Nothing was left to do and everything was verified.
    pub fn nothing_to_do(&self) -> bool {
        self.after.is_none() && self.unverified.is_empty()
    }

    pub fn json(&self) -> ReportJson<'_> {
        ReportJson {
            before: &self.before,
            ran: &self.ran,
            after: self.after.as_ref(),
            nothing_to_do: self.nothing_to_do(),
            unverified: &self.unverified,
        }
    }
}

/// The programs an apply of `spec` may run (where each comes from:
/// [`tabula_run::tools`]).
pub fn needed_tools(spec: &HostSpec, image: bool, no_open: bool) -> Vec<&'static str> {
    use tabula_spec::model::FsType;
    let mut t = vec!["sfdisk", "sgdisk", "blkid", "blockdev", "partx", "wipefs"];
    if image {
        t.push("losetup");
    }
    for p in spec.partitions.iter().filter(|p| p.owner.is_nixos()) {
        match p.filesystem.as_ref().map(|f| f.kind) {
            Some(FsType::Vfat) => t.push("mkfs.vfat"),
            Some(FsType::Ext4) => t.push("mkfs.ext4"),
            Some(FsType::Btrfs) => t.push("mkfs.btrfs"),
            Some(FsType::Swap) => t.push("mkswap"),
            _ => {}
        }
    }
    if spec.luks.is_some() {
        t.push("cryptsetup");
    }
    if spec.btrfs.is_some() && !no_open {
        t.push("mkfs.btrfs");
        t.push("btrfs");
        t.push("mount");
        t.push("umount");
    }
    // Once each, in first-needed order (mkfs.btrfs may come twice).
    let mut once = Vec::with_capacity(t.len());
    for p in t {
        if !once.contains(&p) {
            once.push(p);
        }
    }
    once
}

/// Never enrol a weak keyfile (or a FIFO, a device): checked before any
/// write (even the new image file) or prompt; with --usb only when a file
/// is already on the stick (else apply writes a new random one).
fn refuse_weak_keyfile(spec: &HostSpec, req: &Request) -> Result<()> {
    if let Some(k) = keyfile_path(spec, req.keyfile.as_deref(), req.usb.as_deref())?
        .filter(|k| req.keyfile.is_some() || k.symlink_metadata().is_ok())
    {
        if k.symlink_metadata().is_err() {
            return Err(Error::Refused(format!(
                "the keyfile {} does not exist (use --usb DIR to make a new one)",
                k.display()
            )));
        }
        keyfile::check_keyfile(&k)?;
    }
    Ok(())
}

/// What apply needs from this machine and the command line, checked before
/// the first write, file creation or prompt: root, every tool it may run
/// (plus `extra`), device-mapper when the pool must be opened, the keyfile.
///
/// # Errors
/// [`Error::Refused`], or [`Error::MissingTools`] naming every missing one.
pub fn preflight(spec: &HostSpec, req: &Request, extra: &[&'static str]) -> Result<()> {
    if !rustix::process::geteuid().is_root() {
        return Err(Error::Refused(
            "apply writes partition tables and block devices: run it as root (sudo)".into(),
        ));
    }
    let image = !req.disk.exists() || req.disk.is_file();
    let mut tools = needed_tools(spec, image, req.no_open);
    tools.extend_from_slice(extra);
    let missing: Vec<&str> = tools
        .into_iter()
        .filter(|p| tabula_run::find_program(p).is_none())
        .collect();
    if let Some(program) = missing.first() {
        let install = tabula_run::tools::install_line(missing.iter().copied())
            .map(|l| format!("\n  fix: {l}"))
            .unwrap_or_default();
        return Err(Error::MissingTools {
            summary: format!(
                "nothing was written: missing {}{install}",
                missing.join(", ")
            ),
            source: tabula_run::Error::NotFound {
                program: (*program).to_owned(),
                hint: tabula_run::tools::hint(program),
            },
        });
    }
    if spec.luks.is_some() && !req.no_open && !luks::device_mapper_available() {
        return Err(Error::Refused(
            "this kernel has no device-mapper, so the LUKS container cannot be opened to create and check the pool; nothing was written. Add --no-open to format the container without opening it (the pool stays unverified), or run apply where device-mapper works".into(),
        ));
    }
    // A missing, non-regular or weak keyfile (also one already on --usb).
    refuse_weak_keyfile(spec, req)
}

/// Resolve an existing disk for writing. An image already attached is
/// refused, unless its loop device is one a killed apply left behind and
/// nothing uses it: then it is taken over.
///
/// # Errors
/// When the disk cannot be opened, or is in use.
pub fn open_for_write(spec: &HostSpec, disk: &Path) -> Result<Target> {
    if disk.is_file() {
        // A killed run's temporary mount of the pool would hold the device.
        apply::release_stale_top_levels()?;
        let own = spec.luks.as_ref().map(|l| l.name.as_str());
        if let Some(l) = loopdev::adopt(disk, own)? {
            return Ok(Target::Image(l));
        }
    }
    let t = Target::open(disk, false)?;
    if let Target::Block(d) = &t {
        // A killed run's tools may still be writing to it.
        loopdev::wait_for_openers(d)?;
    }
    Ok(t)
}

/// Closes the container on drop when apply found it closed.
pub struct CloseGuard<'a> {
    spec: &'a HostSpec,
    device: String,
    armed: bool,
}

impl<'a> CloseGuard<'a> {
    /// apply opens the container to check and fill it; it closes it again
    /// when it was closed before (an image's loop device can then go), or
    /// when a killed run left it open on the device taken over.
    pub fn new(spec: &'a HostSpec, target: &Target) -> CloseGuard<'a> {
        let device = target.device().to_owned();
        let armed = target.adopted() || luks::container_mapping(spec, &device).is_none();
        CloseGuard {
            spec,
            device,
            armed,
        }
    }
}

impl Drop for CloseGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            if let Err(e) = luks::close_container(self.spec, &self.device) {
                tracing::warn!("could not close the container: {e}");
            }
        }
    }
}

/// The plan for a disk that does not exist yet (an image file not created,
/// `tabula plan` of a missing image): an empty disk of `size`.
pub fn plan_empty(
    spec: &HostSpec,
    disk: &Path,
    size: u64,
    reset: &[String],
    keyfile: bool,
) -> (DiskProbe, Plan) {
    let probe = plan::empty_disk(&disk.to_string_lossy(), size);
    let plan = plan::plan(
        spec,
        &probe,
        &PlanOptions {
            reset: reset.to_vec(),
            keyfile,
            keyfile_opens: keyfile.then_some(false),
            ..PlanOptions::default()
        },
    );
    (probe, plan)
}

/// What `tabula plan` shows (never writes): an existing disk probed
/// read-only (the container never opened), else an empty disk of `size`
/// (default: the spec's). Returns the probe of an existing disk.
///
/// # Errors
/// When the disk cannot be opened or probed.
pub fn plan_only(
    spec: &HostSpec,
    disk: &Path,
    size: Option<u64>,
    reset: &[String],
    wipe: &[String],
    keyfile: Option<&Path>,
) -> Result<(Option<DiskProbe>, Plan)> {
    if disk.exists() {
        let target = Target::open(disk, true)?;
        let opts = ApplyOptions {
            reset: reset.to_vec(),
            wipe: wipe.to_vec(),
            disk_arg: Some(disk.to_string_lossy().into_owned()),
            keyfile: keyfile.map(Path::to_owned),
            no_open: true,
            ..Default::default()
        };
        let (probe, plan) = apply::prepare(spec, target.device(), &opts)?;
        Ok((Some(probe), plan))
    } else {
        let size = size.unwrap_or(spec.disk.size.as_u64());
        let (_, plan) = plan_empty(spec, disk, size, reset, keyfile.is_some());
        Ok((None, plan))
    }
}

/// The refusals of `plan` (refused lines, busy, DESTROY without --wipe),
/// then a missing --yes ([`Error::Usage`]: exit 2). Shows the plan first
/// when it stops here, so the user sees why.
///
/// # Errors
/// [`Error::Refused`] or [`Error::Usage`].
pub fn check_before_writing(
    spec: &HostSpec,
    disk: &DiskProbe,
    plan: &Plan,
    opts: &ApplyOptions,
    view: &mut dyn View,
) -> Result<()> {
    let as_if_yes = ApplyOptions {
        yes: true,
        ..opts.clone()
    };
    let r = apply::check(spec, disk, plan, &as_if_yes).and_then(|()| {
        if opts.yes || plan.is_noop() {
            Ok(())
        } else {
            Err(Error::Usage(
                "apply changes the disk: review the plan above, then add --yes; nothing was written"
                    .into(),
            ))
        }
    });
    if r.is_err() {
        view.refused(plan);
    }
    r
}

/// Whether the session must ask for the passphrase before running `plan`:
/// a step needs it, or the container is closed and the pool inside can
/// only be checked once it is opened.
pub fn needs_key(plan: &Plan, opts: &ApplyOptions) -> bool {
    if opts.passphrase.is_some() {
        return false;
    }
    let closed = plan.pool_unverified();
    apply::needs_passphrase(plan) || (closed && !opts.no_open)
}

/// Whether the plan formats a new container (the prompt then asks twice).
fn formats(plan: &Plan) -> bool {
    plan.steps
        .iter()
        .any(|s| matches!(s, Step::LuksFormat { .. }))
}

/// A missing image: plan for an empty disk, check, ask for the passphrase,
/// and only then create the file.
///
/// # Errors
/// A refusal, the prompt's error, or creating the file.
pub fn plan_new_image(
    spec: &HostSpec,
    req: &Request,
    opts: &mut ApplyOptions,
    prompt: &mut dyn KeyPrompt,
    view: &mut dyn View,
) -> Result<()> {
    let size = req.size.unwrap_or(spec.disk.size.as_u64());
    let (empty, plan) = plan_empty(spec, &req.disk, size, &opts.reset, opts.keyfile.is_some());
    check_before_writing(spec, &empty, &plan, opts, view)?;
    if opts.passphrase.is_none() && apply::needs_passphrase(&plan) {
        opts.passphrase = Some(prompt.passphrase(formats(&plan))?);
    }
    loopdev::create_image(&req.disk, size)?;
    tracing::info!(
        "created the sparse image {} ({})",
        req.disk.display(),
        Size::bytes(size)
    );
    Ok(())
}

/// Probe and plan, check, and when the key is needed ask for it, probe and
/// plan again (opened, the pool may show more: a --reset DESTROY) and check
/// again.
///
/// # Errors
/// A refusal, or the probe's or the prompt's error.
pub fn probe_and_plan(
    spec: &HostSpec,
    device: &str,
    opts: &mut ApplyOptions,
    prompt: &mut dyn KeyPrompt,
    view: &mut dyn View,
) -> Result<(DiskProbe, Plan)> {
    let (mut disk, mut plan) = apply::prepare(spec, device, opts)?;
    check_before_writing(spec, &disk, &plan, opts, view)?;
    if needs_key(&plan, opts) {
        opts.passphrase = Some(prompt.passphrase(formats(&plan))?);
        (disk, plan) = apply::prepare(spec, device, opts)?;
        check_before_writing(spec, &disk, &plan, opts, view)?;
    }
    Ok((disk, plan))
}

/// With --usb, a plan that adds the keyfile's slot first writes a new
/// random keyfile on the stick (a rerun keeps the one there).
///
/// # Errors
/// When the file cannot be written, or the one there is weak.
pub fn make_usb_keyfile(
    req: &Request,
    plan: &Plan,
    opts: &ApplyOptions,
    view: &mut dyn View,
) -> Result<()> {
    let adds = plan
        .steps
        .iter()
        .any(|s| matches!(s, Step::AddKeyfile { .. }));
    if req.usb.is_some() && adds {
        if let Some(k) = &opts.keyfile {
            if keyfile::make_keyfile(k)? {
                view.note(&format!("wrote a new random keyfile to {}", k.display()));
            }
        }
    }
    Ok(())
}

/// The lines of `p` that stay unverified, as `object: reason`.
fn unverified(p: &Plan) -> Vec<String> {
    p.unverified_pool()
        .iter()
        .map(|l| format!("{}: {}", l.object, l.reason))
        .collect()
}

/// The whole apply session (after [`preflight`]): the plan, the
/// passphrase, the checks, the steps, the read-back, with the container
/// closed again when it was found closed.
///
/// # Errors
/// A refusal ([`Error::Refused`], [`Error::Usage`] without --yes), a failed
/// step, an interruption, or a read-back that still differs
/// ([`Error::ReadBack`]).
pub fn run(
    spec: &HostSpec,
    req: &Request,
    prompt: &mut dyn KeyPrompt,
    view: &mut dyn View,
) -> Result<Report> {
    let mut opts = ApplyOptions {
        yes: req.yes,
        wipe: req.wipe.clone(),
        reset: req.reset.clone(),
        passphrase: req.passphrase.clone(),
        keyfile: keyfile_path(spec, req.keyfile.as_deref(), req.usb.as_deref())?,
        no_open: req.no_open,
        disk_arg: Some(req.disk.to_string_lossy().into_owned()),
    };
    if !req.disk.exists() {
        plan_new_image(spec, req, &mut opts, prompt, view)?;
    }
    // One writer per disk: a second run at once is refused here, before
    // anything is read or written (after a new image is created).
    let _lock = crate::lock::exclusive(&req.disk)?;
    let target = open_for_write(spec, &req.disk)?;
    let device = target.device().to_owned();
    let close = CloseGuard::new(spec, &target);
    let (disk, plan) = probe_and_plan(spec, &device, &mut opts, prompt, view)?;
    view.planned(&plan);
    apply::check(spec, &disk, &plan, &opts)?;
    let (ran, after) = if plan.is_noop() {
        (Vec::new(), None)
    } else {
        make_usb_keyfile(req, &plan, &opts, view)?;
        let ran = apply::execute(spec, &device, &plan, &opts, view)
            .map_err(|e| when_image_full(&req.disk, e))?;
        let after =
            apply::verify(spec, &device, &opts).map_err(|e| Error::ReadBack(Box::new(e)))?;
        (ran, Some(after))
    };
    let unverified = unverified(after.as_ref().unwrap_or(&plan));
    drop(close);
    Ok(Report {
        target,
        passphrase: opts.passphrase,
        before: plan,
        ran,
        after,
        unverified,
    })
}

/// A failed step on an image whose filesystem has no room left (under 1
/// MiB free): the tool's own message ("Device wipe error", "No space left")
/// does not say that the image itself could not grow, so say it.
fn when_image_full(disk: &Path, e: Error) -> Error {
    let Ok(meta) = std::fs::metadata(disk) else {
        return e;
    };
    if !meta.is_file() {
        return e;
    }
    let dir = disk
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let free = rustix::fs::statvfs(dir).map(|v| v.f_bavail.saturating_mul(v.f_frsize));
    match free {
        Ok(free) if free < 1 << 20 => Error::ImageFull {
            image: disk.display().to_string(),
            dir: std::fs::canonicalize(dir)
                .unwrap_or_else(|_| dir.to_owned())
                .display()
                .to_string(),
            size: Size::bytes(meta.len()).to_string(),
            source: Box::new(e),
        },
        _ => e,
    }
}

/// After an apply (install): mount the layout at `dir` with the keyfile
/// when it exists, else the passphrase the apply used (stdin is read only
/// once), else one asked now. The pool must have been created and checked.
///
/// # Errors
/// [`Error::Refused`] when the pool stays unverified, or mounting fails.
pub fn mount_after_apply(
    spec: &HostSpec,
    req: &Request,
    report: &mut Report,
    dir: &Path,
    prompt: &mut dyn KeyPrompt,
) -> Result<Vec<Mounted>> {
    if !report.unverified.is_empty() {
        return Err(Error::Refused(
            "install needs the pool created and checked: the container was not opened (--no-open or no device-mapper)".into(),
        ));
    }
    let keyfile =
        keyfile_path(spec, req.keyfile.as_deref(), req.usb.as_deref())?.filter(|k| k.exists());
    let key = match (keyfile, report.passphrase.take()) {
        (Some(k), _) => Key::File(k),
        (None, Some(p)) => Key::Passphrase(p),
        (None, None) => Key::Passphrase(prompt.passphrase(false)?),
    };
    mount::mount_layout(spec, report.target.device(), dir, Some(&key))
}

/// Take down everything registered, newest first (best effort: each
/// failure is printed). Returns what was taken down.
pub fn undo_all() -> Vec<Undo> {
    let list = interrupt::take_all();
    let mut done = Vec::new();
    for u in list.into_iter().rev() {
        let r = match &u {
            Undo::Close(name) => luks::cryptsetup(["close", name.as_str()]).run().map(|_| ()),
            Undo::Detach(dev) => {
                let _ = Cmd::new("partx").args(["-d", dev.as_str()]).run();
                loopdev::forget_record(dev);
                Cmd::new("losetup")
                    .args(["-d", dev.as_str()])
                    .run()
                    .map(|_| ())
            }
        };
        match r {
            Ok(()) => done.push(u),
            Err(e) => eprintln!("could not undo {u:?}: {e}"),
        }
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> HostSpec {
        tabula_spec::parse(
            "test-host.toml",
            include_str!("../tests/fixtures/test-host.toml"),
        )
        .unwrap()
        .spec
    }

    #[test]
    fn the_keyfile_is_the_flag_else_the_specs_path_on_the_stick() {
        let spec = spec();
        let k = keyfile_path(&spec, Some(Path::new("/k.key")), None).unwrap();
        assert_eq!(k, Some(PathBuf::from("/k.key")));
        let k = keyfile_path(&spec, None, Some(Path::new("/media/stick"))).unwrap();
        assert_eq!(
            k,
            Some(PathBuf::from("/media/stick/keys/surface-pro-8.key"))
        );
        assert_eq!(keyfile_path(&spec, None, None).unwrap(), None);
        let mut bare = spec.clone();
        if let Some(l) = bare.luks.as_mut() {
            l.keyfile = None;
        }
        let e = keyfile_path(&bare, None, Some(Path::new("/media/stick"))).unwrap_err();
        assert!(matches!(e, Error::Refused(_)), "{e:?}");
    }

    #[test]
    fn a_new_container_needs_the_key_unless_it_was_given() {
        let spec = spec();
        let (_, plan) = plan_empty(
            &spec,
            Path::new("new.img"),
            spec.disk.size.as_u64(),
            &[],
            false,
        );
        assert!(formats(&plan));
        let mut opts = ApplyOptions::default();
        assert!(needs_key(&plan, &opts));
        opts.passphrase = Some(Secret::from_input(b"given".to_vec()));
        assert!(!needs_key(&plan, &opts));
    }

    #[test]
    fn the_report_says_nothing_to_do_only_when_verified_and_nothing_ran() {
        let spec = spec();
        let (_, plan) = plan_empty(
            &spec,
            Path::new("new.img"),
            spec.disk.size.as_u64(),
            &[],
            false,
        );
        let json = |after: Option<Plan>, unverified: Vec<String>| {
            let r = Report {
                target: Target::Block("/dev/null".into()),
                passphrase: None,
                before: plan.clone(),
                ran: Vec::new(),
                after,
                unverified,
            };
            serde_json::to_string(&r.json()).unwrap()
        };
        assert!(
            json(None, vec![]).contains(r#""after":null,"nothing_to_do":true,"unverified":[]}"#)
        );
        assert!(json(None, vec!["btrfs:pool: closed".into()]).contains(r#""nothing_to_do":false"#));
        let s = json(Some(plan.clone()), vec![]);
        assert!(s.contains(r#""nothing_to_do":false"#));
        // The fields in the order `tabula apply --json` always wrote them.
        let at = |k: &str| s.find(&format!("\"{k}\":")).unwrap();
        assert!(at("before") < at("ran") && at("ran") < at("after"));
        assert!(at("after") < at("nothing_to_do") && at("nothing_to_do") < at("unverified"));
    }
}
