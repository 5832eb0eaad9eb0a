//! # Image files through loop devices
//!
//! `--disk FILE` works through a loop device: [`LoopDevice::attach`] runs
//! `losetup -f --show`, adds the partition nodes with `partx -a` (this kernel
//! family does not scan partitions of loop devices by itself), and detaches
//! the device by name when dropped, also on error. [`create_image`] makes a
//! sparse image file of a given size.

use std::path::{Path, PathBuf};

use tabula_run::Cmd;

use crate::{Error, Result};

/// A loop device tabula attached; detached (by name) on drop.
#[derive(Debug)]
pub struct LoopDevice {
    device: String,
    image: PathBuf,
    detached: bool,
}

impl LoopDevice {
    /// Attach `image` to a free loop device (read-only when `read_only`) and
    /// make its partition nodes.
    ///
    /// # Errors
    /// When losetup or partx fails or is missing.
    pub fn attach(image: &Path, read_only: bool) -> Result<LoopDevice> {
        let mut cmd = Cmd::new("losetup").install_hint("Debian package mount (util-linux)");
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
        };
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
        self.device.clone()
    }

    /// Detach now, reporting failure (Drop detaches quietly otherwise).
    ///
    /// # Errors
    /// When `losetup -d` fails.
    pub fn detach(mut self) -> Result<()> {
        self.detached = true;
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
        match Cmd::new("partx")
            .args([flag, device])
            .install_hint("Debian package util-linux")
            .run()
        {
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
        .install_hint("Debian package mount (util-linux)")
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

    /// Make partition nodes match the table after a change.
    ///
    /// # Errors
    /// When partx is missing.
    pub fn rescan(&self) -> Result<()> {
        rescan_partitions(self.device())
    }
}
