//! # Image files through loop devices
//!
//! `--disk FILE` works through a loop device: [`LoopDevice::attach`] runs
//! `losetup -f --show`, adds the partition nodes with `partx -a` (this kernel
//! family does not scan partitions of loop devices by itself), and detaches
//! the device by name when dropped, also on error. [`create_image`] makes a
//! sparse image file of a given size.
//!
//! Each device tabula attaches is recorded in `/run/tabula/loop/NAME` (the
//! image's device and inode, and the PID of the run) until it is detached,
//! and registered with [`crate::interrupt`] so that a signal detaches it. A
//! run killed with `kill -9` leaves both behind: [`adopt`] lets the next
//! writer on the same image take that device over instead of refusing it,
//! but only when nothing uses it (not mounted, no holder but the spec's own
//! unmounted mapping, no process holding it or a partition open); a
//! read-only one, left by a killed plan or import whose PID is gone, is
//! detached instead ([`attached_for_writing`]). Two live writers never
//! meet here: each holds the disk's lock ([`crate::lock`]).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tabula_run::Cmd;

use crate::busy::{self, Busy};
use crate::interrupt::{self, Undo};
use crate::{Error, Result};

/// Where the records of attached loop devices live (tmpfs: gone at reboot,
/// as the devices are).
const RECORDS: &str = "/run/tabula/loop";

/// How long a rerun waits for processes (a killed run's orphaned mkfs, a
/// udev probe) to let go of an image's loop device.
const OPENERS_WAIT: Duration = Duration::from_secs(30);

fn record_path(device: &str) -> Option<PathBuf> {
    let name = Path::new(device).file_name()?;
    Some(Path::new(RECORDS).join(name))
}

/// `DEV:INO` of a file.
fn image_id(image: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt as _;
    let m = std::fs::metadata(image).ok()?;
    Some(format!("{}:{}", m.dev(), m.ino()))
}

fn write_record(device: &str, image: &Path) {
    let (Some(p), Some(id)) = (record_path(device), image_id(image)) else {
        return;
    };
    let pid = std::process::id();
    let r =
        std::fs::create_dir_all(RECORDS).and_then(|()| std::fs::write(&p, format!("{id} {pid}\n")));
    if let Err(e) = r {
        tracing::debug!("could not record {device} in {}: {e}", p.display());
    }
}

/// Remove the record of `device` (detached or kept on purpose).
pub(crate) fn forget_record(device: &str) {
    if let Some(p) = record_path(device) {
        let _ = std::fs::remove_file(p);
    }
}

/// Whether a run of tabula attached `device` for `image` and never
/// detached it.
fn recorded_for(device: &str, image: &Path) -> bool {
    let (Some(p), Some(id)) = (record_path(device), image_id(image)) else {
        return false;
    };
    std::fs::read_to_string(p).is_ok_and(|r| r.split_whitespace().next() == Some(id.as_str()))
}

/// The PID of the run that recorded `device`, while it is alive, is a
/// tabula (`/proc/PID/comm`: a PID the kernel gave to another program since
/// is no run of ours) and not this process. A record without a PID, or
/// with one that is gone, is a dead run's.
fn live_recorder(device: &str) -> Option<u32> {
    record_path(device)
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|r| r.split_whitespace().nth(1)?.parse::<u32>().ok())
        .filter(|pid| {
            *pid != std::process::id()
                && std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|c| c.trim().starts_with("tabula"))
        })
}

/// The partition nodes the kernel has for a whole disk (`/dev/loop3p1`...).
pub fn partition_nodes(device: &str) -> Vec<String> {
    let Some(name) = Path::new(device).file_name() else {
        return Vec::new();
    };
    let Ok(rd) = std::fs::read_dir(Path::new("/sys/class/block").join(name)) else {
        return Vec::new();
    };
    let mut nodes: Vec<String> = rd
        .flatten()
        .filter(|e| e.path().join("partition").exists())
        .map(|e| format!("/dev/{}", e.file_name().to_string_lossy()))
        .collect();
    nodes.sort();
    nodes
}

/// Wait (up to 30 s) until no process holds `device`, one of its partitions
/// or a mapping on them open; refuse naming them when some still do.
///
/// # Errors
/// [`Error::Refused`] listing the processes.
pub fn wait_for_openers(device: &str) -> Result<()> {
    let deadline = Instant::now() + OPENERS_WAIT;
    let mut said = false;
    loop {
        let mut nodes = vec![device.to_owned()];
        nodes.extend(partition_nodes(device));
        let openers = busy::openers(&nodes);
        if openers.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            let list: Vec<String> = openers.iter().map(|o| format!("  {o}")).collect();
            return Err(Error::Refused(format!(
                "{device} is in use; nothing was written:\n{}",
                list.join("\n")
            )));
        }
        if !said {
            eprintln!(
                "waiting for {} to let go of {device} (up to {}s)",
                openers
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                OPENERS_WAIT.as_secs()
            );
            said = true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The loop device an earlier, killed run of tabula left attached to
/// `image`, taken over when nothing uses it. `Ok(None)` when `image` is not
/// attached at all.
///
/// `own_mapping` is the spec's container name: a mapping of that name on
/// the device's partition (opened by the killed run) is allowed when
/// nothing is mounted on it; the caller closes it at the end.
///
/// # Errors
/// [`Error::Refused`] when the image is attached and that device is not
/// tabula's own leftover, or is in use.
pub fn adopt(image: &Path, own_mapping: Option<&str>) -> Result<Option<LoopDevice>> {
    let devs = attached_for_writing(image)?;
    let Some(dev) = devs.first() else {
        return Ok(None);
    };
    let refuse = |why: String| {
        Err(Error::Refused(format!(
            "{} is already attached as {}{why}: unmount it (tabula unmount --disk {}) or pass that device with --disk",
            image.display(),
            devs.join(", "),
            image.display()
        )))
    };
    if devs.len() > 1 || !recorded_for(dev, image) {
        return refuse(String::new());
    }
    if read_only(dev) {
        return refuse(" read-only".into());
    }
    let nodes = partition_nodes(dev);
    let mut all = vec![dev.clone()];
    all.extend(nodes.iter().cloned());
    let in_use: Vec<Busy> = busy::scan_nodes(&all)?
        .into_iter()
        .filter(|b| match (b, own_mapping) {
            (Busy::Holder { holder, .. }, Some(own)) => {
                !holder.starts_with(&format!("/dev/mapper/{own} "))
            }
            _ => true,
        })
        .collect();
    if !in_use.is_empty() {
        let list: Vec<String> = in_use.iter().map(|b| format!("; {b}")).collect();
        return refuse(list.concat());
    }
    wait_for_openers(dev)?;
    tracing::info!(
        "taking over {dev}, left attached to {} by an interrupted run",
        image.display()
    );
    eprintln!(
        "using {dev}, left attached to {} by an interrupted run",
        image.display()
    );
    let l = LoopDevice {
        device: dev.clone(),
        image: image.to_owned(),
        detached: false,
        adopted: true,
    };
    interrupt::register(Undo::Detach(l.device.clone()));
    l.rescan()?;
    Ok(Some(l))
}

/// The loop devices attached to `image`, once a writer has dealt with the
/// ones tabula's read-only runs (plan, import) left: a device recorded for
/// `image` by a run that is still alive is refused (that run is reading it
/// now and must not be disturbed); a lone read-only one whose run is gone
/// and that nothing uses is detached (a writer cannot use it, and it would
/// block the image). Everything else is returned for the caller to judge.
///
/// # Errors
/// [`Error::Refused`] naming a live reader's PID and device; a failed
/// `losetup -d`, or openers that do not let go.
pub fn attached_for_writing(image: &Path) -> Result<Vec<String>> {
    let devs = attached(image)?;
    for dev in devs.iter().filter(|d| recorded_for(d, image)) {
        if let Some(pid) = live_recorder(dev) {
            return Err(Error::Refused(format!(
                "{} is being read by a running tabula (PID {pid}, through {dev}): wait for it to end, then run this again",
                image.display()
            )));
        }
    }
    let [dev] = devs.as_slice() else {
        return Ok(devs);
    };
    if !read_only(dev) || !recorded_for(dev, image) {
        return Ok(devs);
    }
    let mut all = vec![dev.clone()];
    all.extend(partition_nodes(dev));
    if !busy::scan_nodes(&all)?.is_empty() {
        return Ok(devs);
    }
    wait_for_openers(dev)?;
    eprintln!(
        "detaching {dev}, left attached read-only to {} by an interrupted run",
        image.display()
    );
    forget_record(dev);
    drop_partitions(dev);
    Cmd::new("losetup").args(["-d", dev]).run()?;
    Ok(Vec::new())
}

/// Whether a loop device is attached read-only (`/sys/class/block/NAME/ro`).
fn read_only(device: &str) -> bool {
    Path::new(device).file_name().is_some_and(|name| {
        std::fs::read_to_string(Path::new("/sys/class/block").join(name).join("ro"))
            .is_ok_and(|v| v.trim() == "1")
    })
}

/// A loop device tabula attached; detached (by name) on drop.
#[derive(Debug)]
pub struct LoopDevice {
    device: String,
    image: PathBuf,
    detached: bool,
    adopted: bool,
}

impl LoopDevice {
    /// Attach `image` to a free loop device (read-only when `read_only`) and
    /// make its partition nodes.
    ///
    /// # Errors
    /// When losetup or partx fails or is missing.
    pub fn attach(image: &Path, read_only: bool) -> Result<LoopDevice> {
        let mut cmd = Cmd::new("losetup");
        if read_only {
            cmd = cmd.arg("-r");
        }
        let out = cmd.args(["-f", "--show"]).arg(image).run()?;
        let device = out.text().trim().to_owned();
        if !device.starts_with("/dev/") {
            return Err(Error::Parse(format!(
                "losetup -f --show {} printed `{device}`",
                image.display()
            )));
        }
        tracing::debug!("attached {} as {device}", image.display());
        let dev = LoopDevice {
            device,
            image: image.to_owned(),
            detached: false,
            adopted: false,
        };
        interrupt::register(Undo::Detach(dev.device.clone()));
        // Read-only ones too: a killed plan or import leaves its device
        // behind, and the next writer must know it for tabula's own.
        write_record(&dev.device, image);
        // From here on, an error detaches through Drop.
        dev.rescan()?;
        Ok(dev)
    }

    /// The loop device (`/dev/loop3`).
    pub fn device(&self) -> &str {
        &self.device
    }

    pub fn image(&self) -> &Path {
        &self.image
    }

    /// Whether this device was left by an earlier, killed run ([`adopt`]).
    pub fn adopted(&self) -> bool {
        self.adopted
    }

    /// Make the kernel's partition nodes match the table: `partx -a` adds
    /// new ones, `partx -u` updates changed ones. A disk with no table is
    /// not an error.
    ///
    /// # Errors
    /// When partx is missing.
    pub fn rescan(&self) -> Result<()> {
        rescan_partitions(&self.device)
    }

    /// Leave the device attached past this guard (a mounted layout needs
    /// it); `tabula unmount --disk IMAGE` detaches it. Returns its name.
    pub fn keep(mut self) -> String {
        self.detached = true;
        interrupt::forget(&Undo::Detach(self.device.clone()));
        forget_record(&self.device);
        self.device.clone()
    }

    /// Detach now, reporting failure (Drop detaches quietly otherwise).
    ///
    /// # Errors
    /// When `losetup -d` fails.
    pub fn detach(mut self) -> Result<()> {
        self.detached = true;
        interrupt::forget(&Undo::Detach(self.device.clone()));
        forget_record(&self.device);
        drop_partitions(&self.device);
        Cmd::new("losetup").args(["-d", &self.device]).run()?;
        Ok(())
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        if self.detached {
            return;
        }
        interrupt::forget(&Undo::Detach(self.device.clone()));
        forget_record(&self.device);
        drop_partitions(&self.device);
        if let Err(e) = Cmd::new("losetup").args(["-d", &self.device]).run() {
            tracing::warn!("could not detach {}: {e}", self.device);
        }
    }
}

/// Remove the partition nodes `partx -a` added: on kernels that do not scan
/// loop partitions, `losetup -d` leaves them behind.
fn drop_partitions(device: &str) {
    if let Err(e) = Cmd::new("partx").args(["-d", device]).run() {
        tracing::debug!("{e}");
    }
}

/// `partx -a` then `partx -u` on a whole disk, ignoring "no table" and
/// "already exists" results (partx exits 1 for both).
///
/// # Errors
/// When partx is missing.
pub fn rescan_partitions(device: &str) -> Result<()> {
    for flag in ["-a", "-u"] {
        match Cmd::new("partx").args([flag, device]).run() {
            Ok(_) => {}
            Err(e @ tabula_run::Error::NotFound { .. }) => return Err(e.into()),
            Err(e) => tracing::debug!("{e}"),
        }
    }
    Ok(())
}

/// The loop devices backing `image` now.
///
/// # Errors
/// When losetup fails.
pub fn attached(image: &Path) -> Result<Vec<String>> {
    let out = Cmd::new("losetup")
        .args(["--noheadings", "--output", "NAME", "-j"])
        .arg(image)
        .run()?;
    Ok(out
        .text()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

/// Detach every loop device backing `image` (after `tabula mount` of an
/// image). Returns the devices detached.
///
/// # Errors
/// When losetup fails.
pub fn detach_image(image: &Path) -> Result<Vec<String>> {
    let devs = attached(image)?;
    for dev in &devs {
        forget_record(dev);
        drop_partitions(dev);
        Cmd::new("losetup").args(["-d", dev.as_str()]).run()?;
    }
    Ok(devs)
}

/// Create `path` as a sparse file of `size` bytes (it must not exist).
///
/// # Errors
/// When the file exists or cannot be created.
pub fn create_image(path: &Path, size: u64) -> Result<()> {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Error::io(format!("creating the image {}", path.display()), e))?;
    f.set_len(size)
        .map_err(|e| Error::io(format!("sizing the image {}", path.display()), e))?;
    f.sync_all()
        .map_err(|e| Error::io(format!("syncing the image {}", path.display()), e))?;
    Ok(())
}

/// A disk given with `--disk`: a block device used as it is, or an image
/// file attached to a loop device for as long as this lives.
#[derive(Debug)]
pub enum Target {
    Block(String),
    Image(LoopDevice),
}

impl Target {
    /// Open `path`: a block device, or an image file through a loop device.
    ///
    /// # Errors
    /// When `path` is neither, or attaching fails.
    pub fn open(path: &Path, read_only: bool) -> Result<Target> {
        use std::os::unix::fs::FileTypeExt;
        let meta = std::fs::metadata(path)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        if meta.file_type().is_block_device() {
            Ok(Target::Block(path.to_string_lossy().into_owned()))
        } else if meta.is_file() {
            Ok(Target::Image(LoopDevice::attach(path, read_only)?))
        } else {
            Err(Error::Refused(format!(
                "{} is neither a block device nor an image file",
                path.display()
            )))
        }
    }

    /// Keep an image's loop device attached past this value (see
    /// [`LoopDevice::keep`]); returns the device.
    pub fn keep(self) -> String {
        match self {
            Target::Block(d) => d,
            Target::Image(l) => l.keep(),
        }
    }

    pub fn device(&self) -> &str {
        match self {
            Target::Block(d) => d,
            Target::Image(l) => l.device(),
        }
    }

    /// Whether this is an image's loop device left by a killed run.
    pub fn adopted(&self) -> bool {
        matches!(self, Target::Image(l) if l.adopted())
    }

    /// Make partition nodes match the table after a change.
    ///
    /// # Errors
    /// When partx is missing.
    pub fn rescan(&self) -> Result<()> {
        rescan_partitions(self.device())
    }
}
