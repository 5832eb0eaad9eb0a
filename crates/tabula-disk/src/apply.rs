//! # Running a plan
//!
//! [`prepare`] probes the disk (opening an existing container first when a
//! key is at hand, so its inside can be checked) and computes the plan;
//! [`check`] refuses what is unsafe (refused lines, a busy disk, a DESTROY
//! not named with `--wipe`, no `--yes`); [`execute`] runs the plan's steps
//! and nothing else, each one looking at the disk first so that a rerun
//! after a kill converges; [`verify`] reads everything back and plans again:
//! the result must have no step left.
//!
//! A killed apply leaves at most a temporary top-level mount of the pool
//! behind; the next run unmounts it before probing.
//!
//! Secrets (the passphrase) reach cryptsetup on stdin only
//! (`--key-file -` with [`Cmd::stdin_secret`]), never argv or logs.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use tabula_run::Cmd;
use tabula_spec::model::{FsType, ALIGN};
use tabula_spec::HostSpec;

use crate::busy::Busy;
use crate::keyfile::add_keyfile;
use crate::loopdev;
use crate::luks::{self, device_mapper_available, key_opens, open_container, Key, Secret};
use crate::mount::TopLevel;
use crate::plan::{self, Plan, PlanOptions, Step};
use crate::probe::{self, Content, DiskProbe};
use crate::{Error, Result};

/// Test hook: when set to N, `execute` aborts the process (as a kill would)
/// right after its N-th step. The VM test uses it to kill apply at every
/// step in turn and prove that the rerun converges.
pub const ABORT_AFTER: &str = "TABULA_TEST_ABORT_AFTER_STEP";

/// What the user asked for beyond the spec.
#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    pub yes: bool,
    /// Objects the user allows to be destroyed, as `plan` names them.
    pub wipe: Vec<String>,
    /// Subvolumes to recreate empty.
    pub reset: Vec<String>,
    /// The passphrase (for formatting, adding a key, opening).
    pub passphrase: Option<Secret>,
    /// The keyfile to add as a second key slot.
    pub keyfile: Option<PathBuf>,
    /// Format the container but do not open it (no device-mapper here): the
    /// pool inside stays unverified.
    pub no_open: bool,
    /// The disk as the user named it (`--disk`): `--wipe table:DISK` may
    /// name it so.
    pub disk_arg: Option<String>,
}

impl ApplyOptions {
    fn plan_options(&self, keyfile_opens: Option<bool>) -> PlanOptions {
        PlanOptions {
            reset: self.reset.clone(),
            keyfile: self.keyfile.is_some(),
            keyfile_opens,
            wipe: self.wipe.clone(),
            disk_arg: self.disk_arg.clone(),
        }
    }

    /// A key to unlock the container: the passphrase when given (it is the
    /// key every run of apply formats or proves), else the keyfile when it
    /// is known to open it. A keyfile whose slot a killed run did not add
    /// yet must not be tried: the rerun would fail before converging.
    fn unlock_key(&self, keyfile_opens: Option<bool>) -> Option<Key> {
        self.passphrase.clone().map(Key::Passphrase).or_else(|| {
            self.keyfile
                .as_ref()
                .filter(|_| keyfile_opens == Some(true))
                .map(|p| Key::File(p.clone()))
        })
    }
}

/// Shows the step being run.
pub trait Progress {
    fn step(&mut self, index: usize, total: usize, step: &Step);
    /// A step of the plan this run leaves undone, and why (`--no-open`).
    fn skipped(&mut self, index: usize, total: usize, step: &Step, _why: &str) {
        self.step(index, total, step);
    }
    fn finish(&mut self) {}
}

/// A progress sink that shows nothing.
pub struct Quiet;

impl Progress for Quiet {
    fn step(&mut self, _: usize, _: usize, _: &Step) {}
}

/// The LUKS partition's node of the spec on this disk, if it exists.
fn luks_node(spec: &HostSpec, probe: &DiskProbe) -> Option<String> {
    let luks = spec.luks.as_ref()?;
    let sp = spec.partition(&luks.partition)?;
    probe
        .partitions
        .iter()
        .find(|p| p.number == sp.number)
        .map(|p| p.node.clone())
}

/// Probe the disk and plan. When the spec's container exists, is closed and
/// a key is at hand, it is opened first (not destructive) so that the pool
/// inside can be checked, unless `no_open` or `--wipe table:` repartitions
/// the disk (the old container goes with it).
///
/// # Errors
/// When probing fails.
pub fn prepare(spec: &HostSpec, device: &str, opts: &ApplyOptions) -> Result<(DiskProbe, Plan)> {
    release_stale_top_levels()?;
    let mut disk = probe::probe(device)?;
    let mut keyfile_opens = None;
    // `--wipe table:DISK` destroys the old container with everything else:
    // opening it to look inside would only make its own partition busy.
    let wiping = opts.plan_options(None).wipes_table(device);
    if let Some(node) = luks_node(spec, &disk).filter(|_| !wiping) {
        let luks_ok = disk.partitions.iter().any(|p| {
            p.node == node
                && matches!(&p.content, Content::Luks(l)
                if spec.luks.as_ref().is_some_and(|s| s.uuid.eq_ignore_ascii_case(&l.uuid)))
        });
        if luks_ok {
            if let Some(k) = &opts.keyfile {
                keyfile_opens = Some(k.exists() && key_opens(&node, &Key::File(k.clone()))?);
            }
            let closed = disk.partitions.iter().any(|p| {
                p.node == node && matches!(&p.content, Content::Luks(l) if l.open.is_none())
            });
            if closed && !opts.no_open && device_mapper_available() {
                if let Some(key) = opts.unlock_key(keyfile_opens) {
                    open_container(spec, &node, &key)?;
                    disk = probe::probe(device)?;
                }
            }
        } else if opts.keyfile.is_some() {
            keyfile_opens = Some(false);
        }
    }
    let plan = plan::plan(spec, &disk, &opts.plan_options(keyfile_opens));
    Ok((disk, plan))
}

/// Unmount the pool top levels a killed apply left in its temporary
/// directories (`tabula-pool.PID.*`): they are tabula's own and would make
/// the rerun refuse a busy pool. One whose PID is alive belongs to an apply
/// running now (on another disk, say) and is left alone.
pub fn release_stale_top_levels() -> Result<()> {
    let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return Ok(());
    };
    let prefix = std::env::temp_dir().join(crate::mount::TOP_LEVEL_PREFIX);
    let prefix = prefix.to_string_lossy();
    for m in crate::busy::parse_mountinfo(&text) {
        let name = m.mount_point.rsplit('/').next().unwrap_or_default();
        let alive = crate::mount::top_level_owner(name).is_some_and(|pid| {
            pid != std::process::id() && Path::new(&format!("/proc/{pid}")).exists()
        });
        if alive {
            tracing::info!("{} belongs to a running apply: left alone", m.mount_point);
            continue;
        }
        if m.mount_point.starts_with(prefix.as_ref()) {
            tracing::info!("unmounting {} left by an interrupted apply", m.mount_point);
            // The killed run's `btrfs subvolume` may still be working in
            // it, orphaned: retry while it is busy (up to 30 s).
            let mut tries = 0;
            loop {
                match Cmd::new("umount").arg(&m.mount_point).run() {
                    Ok(_) => break,
                    Err(e @ tabula_run::Error::NotFound { .. }) => return Err(e.into()),
                    Err(e) if tries >= 150 => return Err(e.into()),
                    Err(_) => {
                        tries += 1;
                        std::thread::sleep(std::time::Duration::from_millis(200));
                    }
                }
            }
            // rmdir: only ever an empty directory, never recursively.
            let _ = std::fs::remove_dir(&m.mount_point);
        }
    }
    Ok(())
}

/// Busy entries that block writing: everything except the spec's own open
/// mapping holding the LUKS partition (apply writes through it).
fn blocking_busy<'a>(spec: &HostSpec, disk: &'a DiskProbe) -> Vec<&'a Busy> {
    let own = spec
        .luks
        .as_ref()
        .map(|l| format!("/dev/mapper/{} ", l.name));
    disk.busy
        .iter()
        .filter(|b| match (b, &own) {
            (Busy::Holder { holder, .. }, Some(own)) => !format!("{holder} ").starts_with(own),
            _ => true,
        })
        .collect()
}

/// Refuse what is unsafe, in order: refused lines, a busy disk, a DESTROY
/// not named with `--wipe`, a missing `--yes`.
///
/// # Errors
/// [`Error::Refused`] naming each object and the flag that allows it.
pub fn check(spec: &HostSpec, disk: &DiskProbe, plan: &Plan, opts: &ApplyOptions) -> Result<()> {
    let refused = plan.refused();
    if !refused.is_empty() {
        let list: Vec<String> = refused
            .iter()
            .map(|l| format!("  {}: {}", l.object, l.reason_and_fix()))
            .collect();
        return Err(Error::Refused(format!(
            "the plan refuses {} object(s); nothing was written:\n{}",
            refused.len(),
            list.join("\n")
        )));
    }
    if plan.is_noop() {
        return Ok(());
    }
    // A new container is opened under the spec's name: that name must be
    // free (taken, it belongs to another disk: the running system's pool).
    for step in &plan.steps {
        if let Step::Open { name, .. } = step {
            let mapper = format!("/dev/mapper/{name}");
            if Path::new(&mapper).exists() {
                return Err(Error::Refused(format!(
                    "{mapper} is already open for another device; close it first (cryptsetup close {name}) or change [luks] name. Nothing was written."
                )));
            }
        }
    }
    let busy = blocking_busy(spec, disk);
    if !busy.is_empty() {
        let list: Vec<String> = busy.iter().map(|b| format!("  {b}")).collect();
        return Err(Error::Refused(format!(
            "{} is busy; unmount it (tabula unmount), stop swap and close mappings first. Nothing was written:\n{}",
            disk.device,
            list.join("\n")
        )));
    }
    // `--wipe table:DISK` (the disk's line is DESTROY only then) names
    // the table and every partition on it.
    let table_wiped = plan
        .lines
        .iter()
        .any(|l| matches!(l.object, plan::Object::Disk(_)) && l.action == crate::Action::Destroy);
    let named = |l: &plan::Line| {
        opts.wipe.iter().any(|w| l.object == *w)
            || (table_wiped
                && matches!(l.object, plan::Object::Disk(_) | plan::Object::Unlisted(_)))
    };
    let missing: Vec<String> = plan
        .destroys()
        .iter()
        .filter(|l| !named(l))
        .map(|l| format!("  {}: {}  (add --wipe {})", l.object, l.reason, l.object))
        .collect();
    if !missing.is_empty() {
        return Err(Error::Refused(format!(
            "the plan destroys data; name each object with --wipe to allow it. Nothing was written:\n{}",
            missing.join("\n")
        )));
    }
    for w in opts
        .wipe
        .iter()
        .filter(|w| !(table_wiped && w.starts_with("table:")))
    {
        if plan
            .line(w)
            .is_none_or(|l| l.action != crate::Action::Destroy)
        {
            tracing::warn!("--wipe {w}: the plan does not destroy `{w}`");
        }
    }
    if !opts.yes {
        return Err(Error::Refused(
            "apply changes the disk: review the plan above, then add --yes".into(),
        ));
    }
    Ok(())
}

/// Whether running `plan` needs the passphrase.
pub fn needs_passphrase(plan: &Plan) -> bool {
    plan.steps.iter().any(|s| {
        matches!(
            s,
            Step::LuksFormat { .. } | Step::AddKeyfile { .. } | Step::Open { .. }
        )
    })
}

fn mkfs_cmd(fstype: FsType, uuid: Option<&str>, label: Option<&str>, node: &str) -> Result<Cmd> {
    // (program, fixed args, UUID flag, label flag); the install hint comes
    // from tabula_run::tools.
    let (program, fixed, uuid_flag, label_flag): (&str, &[&str], &str, &str) = match fstype {
        FsType::Vfat => ("mkfs.vfat", &["-F", "32"], "-i", "-n"),
        FsType::Ext4 => ("mkfs.ext4", &["-F", "-q"], "-U", "-L"),
        FsType::Btrfs => ("mkfs.btrfs", &["-f", "-q"], "-U", "-L"),
        FsType::Swap => ("mkswap", &[], "-U", "-L"),
        other => {
            return Err(Error::Refused(format!(
                "tabula does not create {other} filesystems (only vfat, ext4, btrfs, swap)"
            )))
        }
    };
    let mut cmd = Cmd::new(program).args(fixed);
    if let Some(u) = uuid {
        // mkfs.vfat takes the volume id as 8 hex digits, without the dash.
        let u = if fstype == FsType::Vfat {
            u.replace('-', "")
        } else {
            u.to_owned()
        };
        cmd = cmd.args([uuid_flag.to_owned(), u]);
    }
    if let Some(l) = label {
        cmd = cmd.args([label_flag, l]);
    }
    Ok(cmd.arg(node))
}

/// Remove every signature from a partition tabula is about to format, so
/// that no stale header (an old LUKS one, say) survives next to the new one.
fn wipe_signatures(node: &str) -> Result<()> {
    Cmd::new("wipefs").args(["-a", "-q", node]).run()?;
    Ok(())
}

/// The node of partition `number`, waiting briefly for the kernel.
fn node_of(device: &str, number: u32) -> Result<String> {
    for _ in 0..50 {
        let node = probe::partition_node(device, number);
        if Path::new(&node).exists() {
            return Ok(node);
        }
        loopdev::rescan_partitions(device)?;
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Err(Error::NoDeviceNode {
        device: device.to_owned(),
        number,
        waited_ms: 5000,
    })
}

/// Run the plan's steps, in order (one function per kind of step, below). Each step looks at the disk first and
/// is skipped when its effect is already there.
///
/// # Errors
/// The first failing step, with its context.
pub fn execute(
    spec: &HostSpec,
    device: &str,
    plan: &Plan,
    opts: &ApplyOptions,
    progress: &mut dyn Progress,
) -> Result<Vec<Step>> {
    let mut ran = Vec::new();
    let mut top: Option<TopLevel> = None;
    let abort_after: Option<usize> = std::env::var(ABORT_AFTER).ok().and_then(|v| v.parse().ok());
    let total = plan.steps.len();
    // A signal lets the running step finish; the loop stops before the next.
    let _writing = crate::interrupt::Writing::start();
    for (i, step) in plan.steps.iter().enumerate() {
        crate::interrupt::check()?;
        announce(progress, opts, i, total, step);
        tracing::info!("step {}/{total}: {}", i + 1, step.describe());
        let x = Exec {
            spec,
            device,
            plan,
            opts,
        };
        let did = match step {
            Step::ZapTable => zap_table(x)?,
            Step::CreateTable => create_table(x)?,
            Step::CreatePartition {
                number,
                name,
                type_guid,
                start,
                size,
            } => create_partition(x, number, name, type_guid, start, size)?,
            Step::Mkfs {
                partition,
                fstype,
                uuid,
                label,
                ..
            } => mkfs(x, partition, fstype, uuid, label)?,
            Step::LuksFormat {
                partition,
                uuid,
                kdf,
                iterations,
                memory_kib,
                time_ms,
                ..
            } => {
                let pbkdf = luks::Pbkdf {
                    kdf: *kdf,
                    iterations: *iterations,
                    memory_kib: *memory_kib,
                    time_ms: *time_ms,
                };
                luks_format(x, partition, uuid, pbkdf)?
            }
            Step::AddKeyfile { partition } => add_keyfile_slot(x, partition)?,
            Step::Open { partition, .. } => open(x, partition)?,
            Step::MkfsBtrfs { uuid, label, .. } => mkfs_btrfs(x, &mut top, uuid, label)?,
            Step::DeleteSubvolume { path, .. } => delete_subvolume(x, &mut top, path)?,
            Step::CreateSubvolume { path } => create_subvolume(x, &mut top, path)?,
        };
        if did {
            ran.push(step.clone());
        }
        if abort_after.is_some_and(|n| n == i + 1) {
            // Test hook: die like `kill -9` would, with no cleanup at all.
            std::process::abort();
        }
    }
    if let Some(t) = top.take() {
        t.unmount()?;
    }
    let _ = Cmd::new("sync").run();
    progress.finish();
    Ok(ran)
}

/// Show the step about to run, or that `--no-open` leaves it undone.
fn announce(
    progress: &mut dyn Progress,
    opts: &ApplyOptions,
    index: usize,
    total: usize,
    step: &Step,
) {
    if opts.no_open && step.inside_container() {
        progress.skipped(index, total, step, "--no-open: the container stays closed");
    } else {
        progress.step(index, total, step);
    }
}

/// What every step reads: the spec, the disk, the plan, the options.
#[derive(Clone, Copy)]
struct Exec<'a> {
    spec: &'a HostSpec,
    device: &'a str,
    plan: &'a Plan,
    opts: &'a ApplyOptions,
}

impl Exec<'_> {
    fn passphrase(&self) -> Result<Secret> {
        self.opts.passphrase.clone().ok_or_else(|| {
            Error::Refused(
                "this step needs the LUKS passphrase (--passphrase-file or --passphrase-stdin)"
                    .into(),
            )
        })
    }
}

/// `--wipe table:DISK`: every partition's signatures wiped (no old header
/// may turn up in a new partition at the same place), the table zapped
/// (GPT, its backup and the MBR) and the kernel's partitions dropped;
/// nothing to do on a disk with no table (a rerun after a kill).
fn zap_table(x: Exec<'_>) -> Result<bool> {
    let Exec { device, .. } = x;
    let Some(table) = probe::read_table(device)? else {
        return Ok(false);
    };
    loopdev::rescan_partitions(device)?;
    for p in &table.partitions {
        wipe_signatures(&node_of(device, p.number)?)?;
    }
    Cmd::new("sgdisk")
        .args(["--zap-all", device])
        .install_hint("Debian package gdisk")
        .run()?;
    // Stale partition nodes would stand for the new partitions.
    if let Err(e) = Cmd::new("partx").args(["-d", device]).run() {
        tracing::debug!("{e}");
    }
    Ok(true)
}

/// A new GPT, unless the disk has a table.
fn create_table(x: Exec<'_>) -> Result<bool> {
    let Exec { device, .. } = x;
    let out = Cmd::new("sfdisk")
        .args(["--json", device])
        .ok_codes(&[1])
        .run()?;
    Ok(if out.text().trim().is_empty() {
        Cmd::new("sgdisk").args(["-o", device]).run()?;
        true
    } else {
        false
    })
}

/// One partition, unless its number is in the table.
fn create_partition(
    x: Exec<'_>,
    number: &u32,
    name: &str,
    type_guid: &str,
    start: &u64,
    size: &u64,
) -> Result<bool> {
    let Exec { device, plan, .. } = x;
    // The table alone (a full probe would read every partition).
    let now = probe::read_table(device)?;
    Ok(
        if now
            .as_ref()
            .is_some_and(|t| t.partitions.iter().any(|p| p.number == *number))
        {
            false
        } else {
            let ss = now.as_ref().map_or(512, |t| t.sector_size).max(512);
            let first = start / ss;
            let last = (start + size) / ss - 1;
            debug_assert!(start.is_multiple_of(ALIGN));
            // The new partition holds whatever the free space held.
            // When this plan formats it, a note under its partition
            // UUID (chosen here) tells a rerun after a kill, before
            // the format is done, that it is tabula's own.
            let part_uuid = random_uuid()?;
            let formats = plan.steps.iter().any(|s| {
            matches!(s, Step::Mkfs { partition, .. } | Step::LuksFormat { partition, .. } if partition == number)
        });
            if formats {
                FormatNote(Some(Path::new(probe::FORMATTING).join(&part_uuid)))
                    .write("new partition, format")?;
            }
            Cmd::new("sgdisk")
                .args([
                    format!("--new={number}:{first}:{last}"),
                    format!("--typecode={number}:{type_guid}"),
                    format!("--change-name={number}:{name}"),
                    format!("--partition-guid={number}:{part_uuid}"),
                ])
                .arg(device)
                .run()?;
            loopdev::rescan_partitions(device)?;
            true
        },
    )
}

/// A filesystem, unless the spec's one is there (and no format was cut short).
fn mkfs(
    x: Exec<'_>,
    partition: &u32,
    fstype: &FsType,
    uuid: &Option<String>,
    label: &Option<String>,
) -> Result<bool> {
    let Exec { device, .. } = x;
    let node = node_of(device, *partition)?;
    let map = probe::blkid(&node)?;
    let note = FormatNote::of(&map);
    let now = probe::content_from_blkid(&map);
    let done = !note.pending()
        && matches!(&now, Content::Filesystem { fstype: t, uuid: u, .. }
        if t == fstype.name() && uuid.as_deref().is_some_and(|w| u.as_deref().is_some_and(|h| h.eq_ignore_ascii_case(w))));
    Ok(if done {
        false
    } else {
        note.write(&format!("{} format", fstype.name()))?;
        wipe_signatures(&node)?;
        mkfs_cmd(*fstype, uuid.as_deref(), label.as_deref(), &node)?.run()?;
        note.done();
        true
    })
}

/// The LUKS2 header, unless the spec's container is there.
fn luks_format(x: Exec<'_>, partition: &u32, uuid: &str, pbkdf: luks::Pbkdf) -> Result<bool> {
    let Exec { device, .. } = x;
    let passphrase = || x.passphrase();
    let node = node_of(device, *partition)?;
    let map = probe::blkid(&node)?;
    let note = FormatNote::of(&map);
    let now = probe::content_from_blkid(&map);
    Ok(
        if !note.pending() && matches!(&now, Content::Luks(l) if l.uuid.eq_ignore_ascii_case(uuid))
        {
            false
        } else {
            let pass = passphrase()?;
            if pass.is_empty() {
                return Err(Error::Refused("the LUKS passphrase is empty".into()));
            }
            note.write("LUKS2 format")?;
            wipe_signatures(&node)?;
            luks::format(&node, uuid, pbkdf, &pass)?;
            note.done();
            true
        },
    )
}

/// The keyfile's key slot, unless it opens the container already.
fn add_keyfile_slot(x: Exec<'_>, partition: &u32) -> Result<bool> {
    let Exec {
        spec, device, opts, ..
    } = x;
    let passphrase = || x.passphrase();
    let node = node_of(device, *partition)?;
    let keyfile = opts
        .keyfile
        .as_ref()
        .ok_or_else(|| Error::Refused("no keyfile given (--keyfile FILE or --usb DIR)".into()))?;
    add_keyfile(spec, &node, &passphrase()?, keyfile)
}

/// Open the container (not with --no-open), unless it is open.
fn open(x: Exec<'_>, partition: &u32) -> Result<bool> {
    let Exec {
        spec, device, opts, ..
    } = x;
    Ok(if opts.no_open {
        tracing::info!("--no-open: the container stays closed");
        false
    } else {
        let node = node_of(device, *partition)?;
        let keyfile_opens = match &opts.keyfile {
            Some(k) if k.exists() => Some(key_opens(&node, &Key::File(k.clone()))?),
            _ => None,
        };
        let key = opts.unlock_key(keyfile_opens).ok_or_else(|| {
            Error::Refused("opening the container needs the passphrase or the keyfile".into())
        })?;
        let existed = spec
            .luks
            .as_ref()
            .is_some_and(|l| Path::new(&format!("/dev/mapper/{}", l.name)).exists());
        open_container(spec, &node, &key)?;
        !existed
    })
}

/// The pool in the open container, unless --no-open.
fn mkfs_btrfs(
    x: Exec<'_>,
    top: &mut Option<TopLevel>,
    uuid: &Option<String>,
    label: &Option<String>,
) -> Result<bool> {
    let Exec {
        spec, device, opts, ..
    } = x;
    Ok(if opts.no_open {
        false
    } else {
        let mapper = &pool_mapper(spec, device)?;
        // A DESTROY of the pool: nothing may stay mounted on it.
        *top = None;
        wipe_signatures(mapper)?;
        mkfs_cmd(FsType::Btrfs, uuid.as_deref(), label.as_deref(), mapper)?.run()?;
        true
    })
}

/// Delete a subvolume (--reset), unless it is gone.
fn delete_subvolume(x: Exec<'_>, top: &mut Option<TopLevel>, path: &str) -> Result<bool> {
    let Exec {
        spec, device, opts, ..
    } = x;
    Ok(if opts.no_open {
        false
    } else {
        let t = top_level(spec, device, top)?;
        let dir = t.path().join(path);
        if dir.exists() {
            Cmd::new("btrfs")
                .args(["subvolume", "delete", "--commit-after"])
                .arg(&dir)
                .run()?;
            true
        } else {
            false
        }
    })
}

/// Create a subvolume, unless it exists.
fn create_subvolume(x: Exec<'_>, top: &mut Option<TopLevel>, path: &str) -> Result<bool> {
    let Exec {
        spec, device, opts, ..
    } = x;
    Ok(if opts.no_open {
        false
    } else {
        let t = top_level(spec, device, top)?;
        let dir = t.path().join(path);
        if dir.exists() {
            false
        } else {
            if let Some(parent) = dir.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
            }
            Cmd::new("btrfs")
                .args(["subvolume", "create"])
                .arg(&dir)
                .run()?;
            true
        }
    })
}

/// The note apply keeps while it formats a partition (in
/// [`probe::FORMATTING`], by partition UUID): a run killed mid-format
/// leaves it, and the next run's probe reports the partition as its own
/// unfinished work ([`Content::Interrupted`]) instead of unknown data that
/// would need `--wipe`. Written before the first byte is changed, removed
/// once the format succeeded.
struct FormatNote(Option<PathBuf>);

impl FormatNote {
    fn of(blkid: &std::collections::BTreeMap<String, String>) -> FormatNote {
        FormatNote(
            blkid
                .get("PART_ENTRY_UUID")
                .filter(|u| !u.is_empty() && !u.contains('/'))
                .map(|u| Path::new(probe::FORMATTING).join(u.to_ascii_lowercase())),
        )
    }

    /// An earlier run's note is there: its format did not finish.
    fn pending(&self) -> bool {
        self.0.as_ref().is_some_and(|p| p.exists())
    }

    /// Best effort: without the note, a kill mid-format makes the rerun see
    /// unknown data and ask for `--wipe` (safe, only less convenient).
    fn write(&self, what: &str) -> Result<()> {
        let Some(p) = &self.0 else { return Ok(()) };
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(probe::FORMATTING)?;
            let mut f = std::fs::File::create(p)?;
            f.write_all(what.as_bytes())?;
            f.sync_all()
        };
        if let Err(e) = write() {
            tracing::warn!("could not write {}: {e}", p.display());
        }
        Ok(())
    }

    fn done(&self) {
        if let Some(p) = &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A random (version 4) UUID, lower case.
fn random_uuid() -> Result<String> {
    use std::io::Read as _;
    let mut b = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| Error::io("reading /dev/urandom", e))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// The mapping open on the spec's LUKS partition of `device`: the only
/// device the pool steps write to (never a same-named mapping of another
/// disk).
fn pool_mapper(spec: &HostSpec, device: &str) -> Result<String> {
    let sp = spec
        .luks
        .as_ref()
        .and_then(|l| spec.partition(&l.partition))
        .ok_or_else(|| Error::Refused("the spec has no [luks] container".into()))?;
    let node = node_of(device, sp.number)?;
    probe::open_mapping(&node)
        .ok_or_else(|| Error::Refused(format!("the container on {node} is not open")))
}

fn top_level<'a>(
    spec: &HostSpec,
    device: &str,
    top: &'a mut Option<TopLevel>,
) -> Result<&'a TopLevel> {
    let t = match top.take() {
        Some(t) => t,
        None => TopLevel::mount(&pool_mapper(spec, device)?)?,
    };
    Ok(top.insert(t))
}

/// Read the disk back and plan again: nothing may be left to do.
///
/// # Errors
/// [`Error::Verify`] listing what still differs.
pub fn verify(spec: &HostSpec, device: &str, opts: &ApplyOptions) -> Result<Plan> {
    let verify_opts = ApplyOptions {
        reset: Vec::new(),
        // The read-back plans the disk as it is now, never a repartition.
        wipe: Vec::new(),
        ..opts.clone()
    };
    let (_, after) = prepare(spec, device, &verify_opts)?;
    let left: Vec<String> = after
        .lines
        .iter()
        .filter(|l| !matches!(l.action, crate::Action::Keep | crate::Action::Unverified))
        .map(|l| format!("  {} {}: {}", l.action, l.object, l.reason))
        .collect();
    if !left.is_empty() || !after.steps.is_empty() {
        return Err(Error::Verify(left.join("\n")));
    }
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_device_node_is_a_failure_not_a_refusal() {
        // Was Error::Refused ("refused as unsafe", exit 3).
        let e = node_of("/dev/tabula-test-no-such-disk", 3).unwrap_err();
        assert!(matches!(&e, Error::NoDeviceNode { number: 3, .. }), "{e:?}");
        assert!(e
            .to_string()
            .contains("partx -a /dev/tabula-test-no-such-disk"));
    }

    #[test]
    fn mkfs_commands_carry_the_spec_identity() {
        let c = mkfs_cmd(FsType::Vfat, Some("2CE0-6722"), Some("ESP"), "/dev/x1").unwrap();
        assert_eq!(c.display(), "mkfs.vfat -F 32 -i 2CE06722 -n ESP /dev/x1");
        let c = mkfs_cmd(
            FsType::Ext4,
            Some("0eaf7961-48c5-4b55-8a8f-04cd0b71de07"),
            Some("boot"),
            "/dev/x2",
        )
        .unwrap();
        assert_eq!(
            c.display(),
            "mkfs.ext4 -F -q -U 0eaf7961-48c5-4b55-8a8f-04cd0b71de07 -L boot /dev/x2"
        );
        assert!(mkfs_cmd(FsType::Ntfs, None, None, "/dev/x5").is_err());
    }
}
