//! # hardware.nix, filesystems.nix (with the LUKS unlock), persistence.nix

use tabula_spec::model::{Luks, Mount, MountSource, Partition};
use tabula_spec::HostSpec;
use tabula_spec::KeyPath;

use super::{header, Ctx};
use crate::escape::mount_option;
use crate::nix::{self, s, strs, AttrsBuilder, Expr};
use crate::RenderError;

pub(crate) fn hardware(cx: &Ctx) -> String {
    let hw = &cx.spec.hardware;
    let mut b = AttrsBuilder::new();
    b.set("nixpkgs.hostPlatform", s("x86_64-linux"));
    b.set(
        "boot.initrd.availableKernelModules",
        strs(&hw.initrd_modules),
    );
    b.comment("stage 1: the disk, the USB keyfile stick and its filesystem");
    b.set("boot.kernelModules", strs(&hw.kernel_modules));
    if let Some(params) = hw.nixos_hardware.as_deref().and_then(profile_kernel_params) {
        b.set("boot.kernelParams", strs(params));
        b.comment(format!(
            "what the {} profile sets with mkDefault, rendered at normal priority: any other module's kernelParams (Waydroid's psi=1) would silently discard the mkDefault list",
            hw.nixos_hardware.as_deref().unwrap_or_default()
        ));
    }
    b.set("hardware.enableRedistributableFirmware", Expr::Bool(true));
    match hw.cpu_vendor.as_deref() {
        Some("intel") => {
            b.set("hardware.cpu.intel.updateMicrocode", Expr::Bool(true));
        }
        Some("amd") => {
            b.set("hardware.cpu.amd.updateMicrocode", Expr::Bool(true));
        }
        _ => {}
    }
    nix::module(
        &header(cx.spec, "Hardware: platform, kernel modules, firmware."),
        &[],
        &[],
        b.build(),
    )
}

/// The kernel parameters a nixos-hardware profile sets with `mkDefault`
/// (so a plain definition elsewhere drops them), to render explicitly.
/// The Surface profiles: `microsoft/surface/common/default.nix`,
/// `boot.kernelParams = mkDefault [ "mem_sleep_default=deep" ]`.
fn profile_kernel_params(profile: &str) -> Option<&'static [&'static str]> {
    profile
        .starts_with("microsoft-surface")
        .then_some(&["mem_sleep_default=deep"][..])
}

/// `/dev/disk/by-uuid/...` when the partition's filesystem has a UUID,
/// else by GPT partition label.
fn partition_device(p: &Partition) -> String {
    match p.filesystem.as_ref().and_then(|f| f.uuid.as_deref()) {
        Some(u) => format!("/dev/disk/by-uuid/{u}"),
        None => format!("/dev/disk/by-partlabel/{}", p.label),
    }
}

/// The device that holds the btrfs pool: the opened LUKS mapping, else the
/// pool by UUID or label.
fn pool_device(cx: &Ctx) -> Option<String> {
    if let Some(l) = &cx.spec.luks {
        return Some(format!("/dev/mapper/{}", l.name));
    }
    let b = cx.spec.btrfs.as_ref()?;
    if let Some(u) = &b.uuid {
        return Some(format!("/dev/disk/by-uuid/{u}"));
    }
    b.label.as_ref().map(|l| format!("/dev/disk/by-label/{l}"))
}

fn checked_options(opts: &[String], at: &KeyPath) -> Result<Vec<String>, RenderError> {
    opts.iter()
        .enumerate()
        .map(|(i, o)| {
            mount_option(o).map(str::to_owned).map_err(|e| {
                RenderError::bad(at.index("options", i), o, "a mount option", e.to_string())
            })
        })
        .collect()
}

/// A device name that lands in fstab: no whitespace or control characters.
fn checked_device(dev: String, at: KeyPath) -> Result<String, RenderError> {
    if dev.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(RenderError::bad(
            at,
            &dev,
            "a device path",
            "a device path in fstab cannot hold whitespace or control characters",
        ));
    }
    Ok(dev)
}

pub(crate) fn filesystems(cx: &Ctx) -> Result<String, RenderError> {
    let spec = cx.spec;
    let mut b = AttrsBuilder::new();
    for m in spec.mounts_in_order() {
        let fs = file_system(cx, m)?;
        b.set_path(vec!["fileSystems".into(), m.path.as_str().to_owned()], fs);
    }
    if let Some(l) = &spec.luks {
        let d = luks_device(spec, l)?;
        b.set_path(
            vec![
                "boot".into(),
                "initrd".into(),
                "luks".into(),
                "devices".into(),
                l.name.clone(),
            ],
            d,
        );
    }
    Ok(nix::module(
        &header(
            spec,
            "Filesystems: the tmpfs root, the btrfs subvolumes in the LUKS container, /boot and the ESP.",
        ),
        &[],
        &[],
        b.build(),
    ))
}

/// One mount's `fileSystems.<path>`.
fn file_system(cx: &Ctx, m: &Mount) -> Result<Expr, RenderError> {
    let spec = cx.spec;
    let at = KeyPath::root().index("mount", m.index);
    let mut fs = AttrsBuilder::new();
    let extra = checked_options(&m.options, &at)?;
    match &m.source {
        MountSource::Tmpfs { size, mode } => {
            fs.set("device", s("none"));
            fs.set("fsType", s("tmpfs"));
            let mut opts = vec![format!("size={size}")];
            if let Some(mode) = mode {
                opts.push(format!("mode={mode}"));
            }
            let opts = checked_options(&opts, &at.key("tmpfs"))?;
            fs.set("options", strs(opts.iter().chain(&extra)));
        }
        MountSource::Subvolume { subvolume } => {
            let Some(btrfs) = &spec.btrfs else {
                return Err(RenderError::missing(
                    at.key("subvolume"),
                    "a subvolume mount needs a [btrfs] pool",
                ));
            };
            let Some(dev) = pool_device(cx) else {
                return Err(RenderError::missing(
                    KeyPath::root().key("btrfs"),
                    "the pool needs a [luks] container, a uuid or a label to be found at boot",
                ));
            };
            let opts = checked_options(&btrfs.subvolume_options(subvolume), &at.key("subvolume"))?;
            fs.set(
                "device",
                s(checked_device(dev, KeyPath::root().key("btrfs"))?),
            );
            fs.set("fsType", s("btrfs"));
            fs.set("options", strs(opts.iter().chain(&extra)));
        }
        MountSource::Partition { partition } => {
            let Some(p) = spec.partition(partition) else {
                return Err(RenderError::missing(
                    at.key("partition"),
                    format!("no partition is labelled `{partition}`"),
                ));
            };
            let Some(f) = &p.filesystem else {
                return Err(RenderError::missing(
                    at.key("partition"),
                    format!("partition `{partition}` has no filesystem to mount"),
                ));
            };
            fs.set(
                "device",
                s(checked_device(partition_device(p), at.key("partition"))?),
            );
            fs.set("fsType", s(f.kind.name()));
            if !extra.is_empty() {
                fs.set("options", strs(&extra));
            }
        }
    }
    if m.needed_for_boot {
        fs.set("neededForBoot", Expr::Bool(true));
    }
    Ok(fs.build())
}

/// The LUKS container's `boot.initrd.luks.devices.<name>`, with its USB keyfile.
fn luks_device(spec: &HostSpec, l: &Luks) -> Result<Expr, RenderError> {
    let lat = KeyPath::root().key("luks");
    let Some(p) = spec.partition(&l.partition) else {
        return Err(RenderError::missing(
            lat.key("partition"),
            format!("no partition is labelled `{}`", l.partition),
        ));
    };
    let _ = p;
    let mut d = AttrsBuilder::new();
    d.set(
        "device",
        s(checked_device(
            format!("/dev/disk/by-uuid/{}", l.uuid),
            lat.key("uuid"),
        )?),
    );
    if let Some(k) = &l.keyfile {
        let kat = lat.key("keyfile");
        if !spec.boot.initrd_systemd {
            // The `file:UUID=` form and keyFileTimeout are crypttab
            // features: NixOS asserts keyFileTimeout needs systemd stage 1.
            return Err(RenderError::bad(
                KeyPath::root().key("boot").key("initrd_systemd"),
                "false",
                "the stage 1 of a USB keyfile",
                "a keyfile on a USB stick needs systemd stage 1: set boot.initrd_systemd = true",
            ));
        }
        let uuid = checked_device(k.fs_uuid.clone(), kat.key("fs_uuid"))?;
        let path = checked_device(k.path.as_str().to_owned(), kat.key("path"))?;
        if path.contains(':') || uuid.contains(':') {
            return Err(RenderError::bad(
                kat.key("path"),
                &path,
                "a crypttab key file",
                "`:` separates the key file from its device in crypttab",
            ));
        }
        d.set("keyFile", s(format!("{path}:UUID={uuid}")));
        d.comment(
            "systemd stage 1 reads the key from the USB stick (crypttab `file:device`); without it, it asks for the password",
        );
        if let Some(t) = k.timeout {
            d.set("keyFileTimeout", Expr::Int(i64::from(t)));
        }
    }
    if l.allow_discards {
        d.set("allowDiscards", Expr::Bool(true));
    }
    Ok(d.build())
}

pub(crate) fn persistence(cx: &Ctx) -> String {
    let spec = cx.spec;
    let mut b = AttrsBuilder::new();
    let mut covered = Vec::new();
    if let Some(p) = &spec.persistence {
        let entry = |path: &str, note: &Option<String>| match note {
            Some(n) => Expr::Commented(n.clone(), Box::new(s(path))),
            None => s(path),
        };
        let mut root = AttrsBuilder::new();
        root.set("hideMounts", Expr::Bool(true));
        let mut dirs = Vec::new();
        for e in &p.directories {
            match &e.covered_by {
                Some(c) => covered.push(format!("{} (covered by the mount {c})", e.path)),
                None => dirs.push(entry(e.path.as_str(), &e.note)),
            }
        }
        let mut files = Vec::new();
        for e in &p.files {
            match &e.covered_by {
                Some(c) => covered.push(format!("{} (covered by the mount {c})", e.path)),
                None => files.push(entry(e.path.as_str(), &e.note)),
            }
        }
        root.set("directories", nix::list(dirs));
        root.set("files", nix::list(files));
        for (user, up) in &p.users {
            let mut ud = Vec::new();
            let mut uf = Vec::new();
            for (list, out) in [(&up.directories, &mut ud), (&up.files, &mut uf)] {
                for e in list {
                    match &e.covered_by {
                        Some(c) => {
                            covered.push(format!("~{user}/{} (covered by the mount {c})", e.path))
                        }
                        None => out.push(entry(e.path.as_str(), &e.note)),
                    }
                }
            }
            if ud.is_empty() && uf.is_empty() {
                continue;
            }
            let mut u = AttrsBuilder::new();
            u.set("directories", nix::list(ud));
            u.set("files", nix::list(uf));
            root.set_path(vec!["users".into(), user.clone()], u.build());
        }
        b.set_path(
            vec![
                "environment".into(),
                "persistence".into(),
                p.root.as_str().to_owned(),
            ],
            root.build(),
        );
    }
    let mut head = String::from(
        "Impermanence: what survives a reboot on the tmpfs root.\nEntries under a persistent mount are kept in host.toml as intent but not\nrendered (a bind mount from the persistence root would hide the real directory):",
    );
    for c in &covered {
        head.push_str("\n  ");
        head.push_str(c);
    }
    if covered.is_empty() {
        head.push_str(" none.");
    }
    nix::module(&header(spec, &head), &[], &[], b.build())
}
