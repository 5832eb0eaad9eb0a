//! [`HostSpec::from_raw`]: one function per table of host.toml. Each adds
//! its problems to the one list, in file order, so every problem is
//! reported, not just the first.

use super::*;

impl HostSpec {
    /// Validate the raw file. Every problem is collected, not just the first.
    ///
    /// # Errors
    /// The list of problems, each with its key path.
    pub fn from_raw(r: &raw::RawSpec) -> Result<HostSpec, Vec<Problem>> {
        let mut p = Problems::default();
        let host = host(&mut p, &r.host);
        let disk = disk(&mut p, &r.disk);
        let partitions = r
            .partitions
            .iter()
            .enumerate()
            .map(|(i, rp)| partition(&mut p, i, rp))
            .collect();
        let luks = r.luks.as_ref().map(|l| luks(&mut p, l));
        let btrfs = r.btrfs.as_ref().map(|b| btrfs(&mut p, b));
        let mounts = r
            .mounts
            .iter()
            .enumerate()
            .map(|(i, m)| mount(&mut p, i, m))
            .collect();
        let persistence = r.persistence.as_ref().map(|ps| persistence(&mut p, ps));
        let desktop = r.desktop.as_ref().map(|d| desktop(&mut p, d));
        let boot = boot(&mut p, &r.boot);
        let deploy = r
            .deploy
            .as_ref()
            .map(|d| crate::deploy::validate(&mut p.0, d));
        let secrets = r.secrets.as_ref().map(|sc| {
            let root = r.persistence.as_ref().map(|ps| ps.root.as_str());
            super::secrets::secrets(&mut p, sc, root)
        });
        closed_sets(&mut p, r);
        if !p.0.is_empty() {
            return Err(p.0);
        }
        Ok(HostSpec {
            host,
            hardware: (&r.hardware).into(),
            disk,
            partitions,
            luks,
            btrfs,
            mounts,
            persistence,
            users: r.users.iter().map(Into::into).collect(),
            services: (&r.services).into(),
            containers: (&r.containers).into(),
            desktop,
            security: (&r.security).into(),
            boot,
            audit: (&r.audit).into(),
            deploy,
            secrets,
        })
    }
}

/// Closed sets the raw types keep as text (shared with the schema):
/// `[security] firewall` and each microVM's `hypervisor`.
fn closed_sets(p: &mut Problems, r: &raw::RawSpec) {
    if let Some(fw) = r.security.firewall.as_deref() {
        if !FIREWALLS.contains(&fw) {
            let at = KeyPath::root().key("security").key("firewall");
            p.unknown(at, fw, FIREWALLS);
        }
    }
    let vms = r
        .containers
        .microvm
        .as_ref()
        .map_or(&[][..], |m| &m.vms[..]);
    for (i, vm) in vms.iter().enumerate() {
        if let Some(h) = vm.hypervisor.as_deref() {
            if !HYPERVISORS.contains(&h) {
                let at = KeyPath::root()
                    .key("containers")
                    .key("microvm")
                    .index("vms", i)
                    .key("hypervisor");
                p.unknown(at, h, HYPERVISORS);
            }
        }
    }
}

/// `[host]`: the release, state_version, RAM and role.
fn host(p: &mut Problems, h: &raw::RawHost) -> Host {
    let release = Release::parse(&h.release);
    if release.is_none() {
        p.push(
            KeyPath::root().key("host").key("release"),
            format!("NixOS release `{}` is not one tabula knows", h.release),
            Some(format!("use one of {}", Release::known_list())),
        );
    }
    if let Some(sv) = &h.state_version {
        if crate::release::version_key(sv).is_none() {
            p.push(
                KeyPath::root().key("host").key("state_version"),
                format!(
                    "state_version `{}` is not a NixOS release number",
                    crate::landing::shown(sv)
                ),
                Some(
                    "write the release the machine was first installed with, e.g. \"24.11\" (see `system.stateVersion` in its /etc/nixos)"
                        .into(),
                ),
            );
        }
    }
    let ram = h
        .ram
        .as_deref()
        .and_then(|s| p.size(KeyPath::root().key("host").key("ram"), s));
    let standalone = match h.role.as_deref() {
        None | Some("primary") => true,
        Some("dual-boot") => false,
        Some(other) => {
            p.push(
                KeyPath::root().key("host").key("role"),
                format!("unknown role `{other}`"),
                Some("use \"primary\" or \"dual-boot\"".into()),
            );
            true
        }
    };
    Host {
        name: h.name.clone(),
        model: h.model.clone(),
        cpu: h.cpu.clone(),
        ram,
        release: release.unwrap_or_else(Release::oldest),
        state_version: h.state_version.clone().unwrap_or_else(|| h.release.clone()),
        primary_user: h.primary_user.clone(),
        standalone,
    }
}

/// `[disk]`: its size.
fn disk(p: &mut Problems, d: &raw::RawDisk) -> Disk {
    let size = p
        .size(KeyPath::root().key("disk").key("size"), &d.size)
        .unwrap_or(Size::bytes(0));
    Disk {
        device: d.device.clone(),
        size,
    }
}

/// One `[[partition]]`: size, start, type, owner, filesystem.
fn partition(p: &mut Problems, i: usize, rp: &raw::RawPartition) -> Partition {
    let at = KeyPath::root().index("partition", i);
    let size = if rp.size.trim() == "rest" {
        PartSize::Rest
    } else {
        PartSize::Fixed(p.size(at.key("size"), &rp.size).unwrap_or(Size::bytes(0)))
    };
    let start = rp.start.as_deref().and_then(|s| p.size(at.key("start"), s));
    let kind = PartType::parse(&rp.kind).unwrap_or_else(|| {
        p.unknown(at.key("type"), &rp.kind, &PartType::ALL.map(PartType::name));
        PartType::Linux
    });
    let owner = if rp.owner == "nixos" {
        Owner::Nixos
    } else {
        Owner::Foreign(rp.owner.clone())
    };
    let filesystem = rp.filesystem.as_ref().map(|f| Filesystem {
        kind: FsType::parse(&f.kind).unwrap_or_else(|| {
            p.unknown(
                at.key("filesystem").key("type"),
                &f.kind,
                &FsType::ALL.map(FsType::name),
            );
            FsType::Ext4
        }),
        uuid: f.uuid.clone(),
        label: f.label.clone(),
    });
    let format = rp
        .format
        .unwrap_or(owner.is_nixos() && rp.shared_with.is_empty());
    Partition {
        index: i,
        number: rp.number,
        label: rp.label.clone(),
        size,
        start,
        kind,
        owner,
        shared_with: rp.shared_with.clone(),
        format,
        filesystem,
        luks: rp.luks,
    }
}

/// `[luks]` and its keyfile.
fn luks(p: &mut Problems, l: &raw::RawLuks) -> Luks {
    let at = KeyPath::root().key("luks");
    let kdf = match l.kdf.as_deref().unwrap_or("argon2id") {
        "argon2id" => Kdf::Argon2id,
        "argon2i" => Kdf::Argon2i,
        "pbkdf2" => Kdf::Pbkdf2,
        other => {
            p.unknown(at.key("kdf"), other, &["argon2id", "argon2i", "pbkdf2"]);
            Kdf::Argon2id
        }
    };
    let keyfile = l.keyfile.as_ref().map(|k| {
        let kat = at.key("keyfile");
        Keyfile {
            fs_uuid: k.fs_uuid.clone(),
            fs_type: FsType::parse(&k.fs_type).unwrap_or_else(|| {
                p.unknown(
                    kat.key("fs_type"),
                    &k.fs_type,
                    &FsType::ALL.map(FsType::name),
                );
                FsType::Vfat
            }),
            path: p.abs(kat.key("path"), &k.path),
            timeout: k.timeout,
            password_fallback: k.password_fallback,
        }
    });
    Luks {
        partition: l.partition.clone(),
        name: l.name.clone(),
        uuid: l.uuid.clone(),
        kdf,
        pbkdf_iterations: l.pbkdf_iterations,
        pbkdf_memory_kib: l.pbkdf_memory_kib,
        pbkdf_time_ms: l.pbkdf_time_ms,
        keyfile,
        allow_discards: l.allow_discards,
    }
}

/// `[btrfs]` and its subvolumes.
fn btrfs(p: &mut Problems, b: &raw::RawBtrfs) -> Btrfs {
    let subvolumes = b
        .subvolumes
        .iter()
        .enumerate()
        .map(|(i, s)| subvolume(p, i, s))
        .collect();
    Btrfs {
        label: b.label.clone(),
        uuid: b.uuid.clone(),
        compression: b.compression.clone(),
        mount_options: b.mount_options.clone(),
        subvolumes,
    }
}

/// One `[[btrfs.subvolume]]`: a normal relative path that fits `subvol=`.
fn subvolume(p: &mut Problems, i: usize, s: &raw::RawSubvolume) -> Subvolume {
    let at = KeyPath::root().key("btrfs").index("subvolume", i);
    if s.path.is_empty()
        || s.path.starts_with('/')
        || s.path.ends_with('/')
        || s.path
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
    {
        p.push(
            at.key("path"),
            format!(
                "subvolume path `{}` is not a normal relative path",
                crate::landing::shown(&s.path)
            ),
            Some(
                "write it like \"@system/nix\": no leading or trailing `/`, no `..`, no `,`".into(),
            ),
        );
    } else if let Some(why) = crate::landing::mount_option_problem(&format!("subvol={}", s.path)) {
        // It lands in the mount option `subvol=PATH`.
        p.push(
            at.key("path"),
            format!(
                "subvolume path `{}` cannot be written in the mount option subvol=: {why}",
                crate::landing::shown(&s.path)
            ),
            Some("use letters, digits, `@`, `_`, `-`, `.` and `/`".into()),
        );
    }
    Subvolume {
        index: i,
        path: s.path.clone(),
        estimate: s
            .estimate
            .as_deref()
            .and_then(|e| match Estimate::parse(e) {
                Ok(e) => Some(e),
                Err(m) => {
                    p.push(
                        at.key("estimate"),
                        m,
                        Some("write \"5GB\" or \"30-50GB\"".into()),
                    );
                    None
                }
            }),
    }
}

/// One `[[mount]]`: an absolute path and exactly one source.
fn mount(p: &mut Problems, i: usize, m: &raw::RawMount) -> Mount {
    let at = KeyPath::root().index("mount", i);
    let path = p.abs(at.key("path"), &m.path);
    let sources = [
        m.tmpfs.is_some(),
        m.subvolume.is_some(),
        m.partition.is_some(),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if sources != 1 {
        p.push(
            at.clone(),
            format!(
                "mount `{}` must have exactly one source, found {sources}",
                m.path
            ),
            Some(
                "give one of `tmpfs = {...}`, `subvolume = \"@...\"` or `partition = \"LABEL\"`"
                    .into(),
            ),
        );
    }
    let source = if let Some(t) = &m.tmpfs {
        MountSource::Tmpfs {
            size: t.size.clone(),
            mode: t.mode.clone(),
        }
    } else if let Some(s) = &m.subvolume {
        MountSource::Subvolume {
            subvolume: s.clone(),
        }
    } else {
        MountSource::Partition {
            partition: m.partition.clone().unwrap_or_default(),
        }
    };
    Mount {
        index: i,
        path,
        source,
        options: m.options.clone(),
        needed_for_boot: m.needed_for_boot,
    }
}

/// `[persistence]`: absolute system entries, relative per-user entries.
fn persistence(p: &mut Problems, ps: &raw::RawPersistence) -> Persistence {
    let at = KeyPath::root().key("persistence");
    let directories = entries(p, &at, "directories", &ps.directories, Problems::abs);
    let files = entries(p, &at, "files", &ps.files, Problems::abs);
    let users = ps
        .users
        .iter()
        .map(|(name, u)| {
            let uat = at.key("users").key(name);
            let directories = entries(p, &uat, "directories", &u.directories, Problems::rel);
            let files = entries(p, &uat, "files", &u.files, Problems::rel);
            (name.clone(), UserPersistence { directories, files })
        })
        .collect();
    Persistence {
        root: p.abs(at.key("root"), &ps.root),
        directories,
        files,
        users,
    }
}

/// One list of persistence entries, each path read by `path` (absolute for
/// the system, relative to the home for a user); `covered_by` is absolute.
fn entries<P>(
    p: &mut Problems,
    at: &KeyPath,
    key: &str,
    list: &[raw::RawEntry],
    path: fn(&mut Problems, KeyPath, &str) -> P,
) -> Vec<Entry<P>> {
    list.iter()
        .enumerate()
        .map(|(i, e)| Entry {
            index: i,
            path: path(p, at.index(key, i).key("path"), &e.path),
            note: e.note.clone(),
            covered_by: e
                .covered_by
                .as_deref()
                .map(|c| p.abs(at.index(key, i).key("covered_by"), c)),
        })
        .collect()
}

/// `[desktop]` and its sessions.
fn desktop(p: &mut Problems, d: &raw::RawDesktop) -> Desktop {
    Desktop {
        display_manager: d.display_manager.clone(),
        wayland: d.wayland,
        default_session: d.default_session.clone(),
        sessions: d
            .sessions
            .iter()
            .enumerate()
            .map(|(i, s)| Session {
                index: i,
                id: s.id.clone(),
                kind: SessionKind::parse(&s.kind).unwrap_or_else(|| {
                    p.unknown(
                        KeyPath::root()
                            .key("desktop")
                            .index("session", i)
                            .key("kind"),
                        &s.kind,
                        &["plasma6", "gnome", "openbox", "cage"],
                    );
                    SessionKind::Cage
                }),
                name: s.name.clone(),
                comment: s.comment.clone(),
                package: s.package.clone(),
                program: s.program.clone(),
                args: s.args.clone(),
                desktop_names: s.desktop_names.clone(),
                unfree: s.unfree,
            })
            .collect(),
    }
}

/// `[boot]`: the loader and its entries.
fn boot(p: &mut Problems, b: &raw::RawBoot) -> Boot {
    let loader = match b.loader.as_str() {
        "grub" => Loader::Grub,
        "refind" => Loader::Refind,
        other => {
            p.unknown(
                KeyPath::root().key("boot").key("loader"),
                other,
                &["grub", "refind"],
            );
            Loader::Grub
        }
    };
    Boot {
        loader,
        initrd_systemd: b.initrd_systemd,
        entries: b.entries.iter().map(Into::into).collect(),
    }
}
