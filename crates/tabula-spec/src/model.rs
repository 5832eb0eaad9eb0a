//! # The validated host spec
//!
//! [`HostSpec`] is built only by [`crate::load`] / [`HostSpec::from_raw`]:
//! every size is parsed, every path is normal, every enum is known and every
//! mount has exactly one source. What is well-formed but unwise (overlapping
//! partitions, an undeclared subvolume, ...) is left to [`crate::check`],
//! which reports it with a rule code and the place in host.toml.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::path::{AbsPath, RelPath};
use crate::raw;
use crate::size::{Estimate, Size};
use crate::{KeyPath, Problem};

/// GPT alignment and the space the GPT takes at each end of the disk.
pub const ALIGN: u64 = 1 << 20;
pub const GPT_TAIL: u64 = 33 * 512;
/// What one generation takes on /boot when its kernel or initrd is new: an
/// ESTIMATE with headroom, not a measurement (no NixOS 26.05 Surface kernel
/// or initrd could be built or fetched where tabula was written). What it
/// rests on:
/// - kernel: a bzImage of 12-15 MB (linux-surface's config is the stock
///   NixOS one plus the Surface patches; a 2026 report of stock 7.1 kernels
///   on /boot shows ~14 MB each, olafkfreund/nixos_config#1248);
/// - initrd: a systemd stage-1 initrd with LUKS measured 14-19 MB in
///   NixOS/nixpkgs#258920 (minimal modules); the host's adds btrfs, USB
///   storage, the keyfile's vfat and the Surface profile's modules and their
///   firmware, so 20-45 MB is assumed;
/// - srvos (nix-community/srvos#463) sizes a bzImage plus initrd at ~32 MiB.
///
/// So 35-60 MB; 60 MB is the top of that. GRUB's install-grub.pl
/// (nixpkgs nixos/modules/system/boot/loader/grub/install-grub.pl @ f5271680,
/// `copyToKernelsDir`) names each copy in /boot/kernels after its store path
/// and copies only a path not already there, so a generation that changes
/// neither kernel nor initrd adds nothing: the limit derived from this is
/// conservative.
pub const BOOT_PER_GENERATION: u64 = 60_000_000;
/// GRUB's own files, fonts and slack on /boot.
pub const BOOT_RESERVE: u64 = 100_000_000;
/// Never more than this many generations in the menu.
pub const BOOT_GENERATIONS_MAX: u64 = 30;
/// Fewer than this and there is no generation to roll back to.
pub const BOOT_GENERATIONS_MIN: u64 = 2;

/// What a LUKS2 header takes by default (cryptsetup's data offset).
pub const LUKS2_HEADER: u64 = 16 << 20;

#[derive(Debug, Clone, Serialize)]
pub struct HostSpec {
    pub host: Host,
    pub hardware: raw::RawHardware,
    pub disk: Disk,
    pub partitions: Vec<Partition>,
    pub luks: Option<Luks>,
    pub btrfs: Option<Btrfs>,
    pub mounts: Vec<Mount>,
    pub persistence: Option<Persistence>,
    pub users: Vec<raw::RawUser>,
    pub services: raw::RawServices,
    pub containers: raw::RawContainers,
    pub desktop: Option<Desktop>,
    pub security: raw::RawSecurity,
    pub boot: Boot,
    pub audit: raw::RawAudit,
}

#[derive(Debug, Clone, Serialize)]
pub struct Host {
    pub name: String,
    pub model: Option<String>,
    pub cpu: Option<String>,
    pub ram: Option<Size>,
    pub release: Release,
    pub state_version: String,
    pub primary_user: String,
    pub standalone: bool,
}

pub use crate::release::Release;

#[derive(Debug, Clone, Serialize)]
pub struct Disk {
    pub device: Option<String>,
    pub size: Size,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PartSize {
    Fixed(Size),
    Rest,
}

/// GPT partition types tabula knows, with their type GUIDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PartType {
    Esp,
    Linux,
    LinuxRoot,
    Luks,
    Swap,
    WindowsData,
    WindowsReserved,
    WindowsRecovery,
}

impl PartType {
    pub const ALL: [PartType; 8] = [
        PartType::Esp,
        PartType::Linux,
        PartType::LinuxRoot,
        PartType::Luks,
        PartType::Swap,
        PartType::WindowsData,
        PartType::WindowsReserved,
        PartType::WindowsRecovery,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PartType::Esp => "esp",
            PartType::Linux => "linux",
            PartType::LinuxRoot => "linux-root",
            PartType::Luks => "luks",
            PartType::Swap => "swap",
            PartType::WindowsData => "windows-data",
            PartType::WindowsReserved => "windows-reserved",
            PartType::WindowsRecovery => "windows-recovery",
        }
    }

    /// The GPT partition type GUID (lower case, as sfdisk and blkid print it).
    pub fn guid(self) -> &'static str {
        match self {
            PartType::Esp => "c12a7328-f81f-11d2-ba4b-00a0c93ec93b",
            PartType::Linux => "0fc63daf-8483-4772-8e79-3d69d8477de4",
            PartType::LinuxRoot => "4f68bce3-e8cd-4db1-96e7-fbcaf984b709",
            PartType::Luks => "ca7d7ccb-63ed-4c53-861c-1742536059cc",
            PartType::Swap => "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f",
            PartType::WindowsData => "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7",
            PartType::WindowsReserved => "e3c9e316-0b5c-4db8-817d-f92df00215ae",
            PartType::WindowsRecovery => "de94bba4-06d1-4d40-a16a-bfd50179d6ac",
        }
    }

    pub fn parse(s: &str) -> Option<PartType> {
        PartType::ALL.into_iter().find(|t| t.name() == s)
    }

    pub fn from_guid(guid: &str) -> Option<PartType> {
        PartType::ALL
            .into_iter()
            .find(|t| t.guid().eq_ignore_ascii_case(guid))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Owner {
    Nixos,
    Foreign(String),
}

impl Owner {
    pub fn is_nixos(&self) -> bool {
        matches!(self, Owner::Nixos)
    }

    pub fn name(&self) -> &str {
        match self {
            Owner::Nixos => "nixos",
            Owner::Foreign(s) => s,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Partition {
    /// Index in host.toml's `[[partition]]` list (for error places).
    #[serde(skip)]
    pub index: usize,
    pub number: u32,
    pub label: String,
    pub size: PartSize,
    /// A fixed start, when given.
    pub start: Option<Size>,
    pub kind: PartType,
    pub owner: Owner,
    pub shared_with: Vec<String>,
    /// tabula may create a filesystem on it.
    pub format: bool,
    pub filesystem: Option<Filesystem>,
    pub luks: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FsType {
    Vfat,
    Ext4,
    Btrfs,
    Ntfs,
    Exfat,
    Xfs,
    Swap,
}

impl FsType {
    pub const ALL: [FsType; 7] = [
        FsType::Vfat,
        FsType::Ext4,
        FsType::Btrfs,
        FsType::Ntfs,
        FsType::Exfat,
        FsType::Xfs,
        FsType::Swap,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FsType::Vfat => "vfat",
            FsType::Ext4 => "ext4",
            FsType::Btrfs => "btrfs",
            FsType::Ntfs => "ntfs",
            FsType::Exfat => "exfat",
            FsType::Xfs => "xfs",
            FsType::Swap => "swap",
        }
    }

    pub fn parse(s: &str) -> Option<FsType> {
        let s = if s == "fat32" || s == "fat" {
            "vfat"
        } else {
            s
        };
        FsType::ALL.into_iter().find(|t| t.name() == s)
    }

    /// The kernel module that reads it (for the initrd).
    pub fn kernel_module(self) -> &'static str {
        match self {
            FsType::Vfat => "vfat",
            FsType::Ext4 => "ext4",
            FsType::Btrfs => "btrfs",
            FsType::Ntfs => "ntfs3",
            FsType::Exfat => "exfat",
            FsType::Xfs => "xfs",
            FsType::Swap => "swap",
        }
    }

    /// What a UUID of this filesystem looks like, for messages.
    pub fn uuid_form(self) -> &'static str {
        match self {
            FsType::Vfat | FsType::Exfat => "XXXX-XXXX (8 hex digits)",
            FsType::Ntfs => "16 hex digits",
            _ => "an RFC 4122 UUID (8-4-4-4-12 hex digits)",
        }
    }

    /// Whether `uuid` is well-formed for this filesystem.
    pub fn uuid_ok(self, uuid: &str) -> bool {
        let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
        match self {
            FsType::Vfat | FsType::Exfat => uuid
                .split_once('-')
                .is_some_and(|(a, b)| hex(a, 4) && hex(b, 4)),
            FsType::Ntfs => hex(uuid, 16),
            _ => is_rfc4122(uuid),
        }
    }
}

/// `8-4-4-4-12` hex digits.
pub fn is_rfc4122(uuid: &str) -> bool {
    let parts: Vec<&str> = uuid.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl std::fmt::Display for FsType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Filesystem {
    pub kind: FsType,
    pub uuid: Option<String>,
    pub label: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kdf {
    Argon2id,
    Argon2i,
    Pbkdf2,
}

impl Kdf {
    pub fn name(self) -> &'static str {
        match self {
            Kdf::Argon2id => "argon2id",
            Kdf::Argon2i => "argon2i",
            Kdf::Pbkdf2 => "pbkdf2",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Luks {
    pub partition: String,
    pub name: String,
    pub uuid: String,
    pub kdf: Kdf,
    pub pbkdf_iterations: Option<u32>,
    pub pbkdf_memory_kib: Option<u32>,
    pub pbkdf_time_ms: Option<u32>,
    pub keyfile: Option<Keyfile>,
    pub allow_discards: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Keyfile {
    pub fs_uuid: String,
    pub fs_type: FsType,
    pub path: AbsPath,
    pub timeout: Option<u32>,
    pub password_fallback: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Btrfs {
    pub label: Option<String>,
    pub uuid: Option<String>,
    pub compression: Option<String>,
    pub mount_options: Vec<String>,
    pub subvolumes: Vec<Subvolume>,
}

impl Btrfs {
    /// Options for mounting a subvolume: `subvol=`, compression, then the
    /// pool's own options.
    pub fn subvolume_options(&self, subvol: &str) -> Vec<String> {
        let mut opts = vec![format!("subvol={subvol}")];
        if let Some(c) = self.compression.as_deref().filter(|c| *c != "none") {
            opts.push(format!("compress={c}"));
        }
        opts.extend(self.mount_options.iter().cloned());
        opts
    }

    pub fn subvolume(&self, path: &str) -> Option<&Subvolume> {
        self.subvolumes.iter().find(|s| s.path == path)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Subvolume {
    #[serde(skip)]
    pub index: usize,
    pub path: String,
    pub estimate: Option<Estimate>,
}

impl Subvolume {
    /// The declared parent (`@system` for `@system/nix`), if nested.
    pub fn parent(&self) -> Option<&str> {
        self.path.rsplit_once('/').map(|(p, _)| p)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "type")]
pub enum MountSource {
    Tmpfs { size: String, mode: Option<String> },
    Subvolume { subvolume: String },
    Partition { partition: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct Mount {
    #[serde(skip)]
    pub index: usize,
    pub path: AbsPath,
    pub source: MountSource,
    pub options: Vec<String>,
    pub needed_for_boot: bool,
}

impl Mount {
    pub fn is_tmpfs(&self) -> bool {
        matches!(self.source, MountSource::Tmpfs { .. })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Entry<P> {
    #[serde(skip)]
    pub index: usize,
    pub path: P,
    pub note: Option<String>,
    pub covered_by: Option<AbsPath>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Persistence {
    pub root: AbsPath,
    pub directories: Vec<Entry<AbsPath>>,
    pub files: Vec<Entry<AbsPath>>,
    pub users: BTreeMap<String, UserPersistence>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UserPersistence {
    pub directories: Vec<Entry<RelPath>>,
    pub files: Vec<Entry<RelPath>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionKind {
    Plasma6,
    Gnome,
    Openbox,
    Cage,
}

impl SessionKind {
    pub fn parse(s: &str) -> Option<SessionKind> {
        Some(match s {
            "plasma6" | "plasma" => SessionKind::Plasma6,
            "gnome" => SessionKind::Gnome,
            "openbox" => SessionKind::Openbox,
            "cage" => SessionKind::Cage,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Session {
    #[serde(skip)]
    pub index: usize,
    pub id: String,
    pub kind: SessionKind,
    pub name: String,
    pub comment: Option<String>,
    pub package: Option<String>,
    pub program: Option<String>,
    pub args: Vec<String>,
    pub desktop_names: Option<String>,
    pub unfree: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Desktop {
    pub display_manager: String,
    pub wayland: bool,
    pub default_session: Option<String>,
    pub sessions: Vec<Session>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Loader {
    Grub,
    Refind,
}

#[derive(Debug, Clone, Serialize)]
pub struct Boot {
    pub loader: Loader,
    pub initrd_systemd: bool,
    pub entries: Vec<raw::RawBootEntry>,
}

/// Where one partition lands on the disk, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Extent {
    pub start: u64,
    pub size: u64,
}

impl Extent {
    pub fn end(&self) -> u64 {
        self.start + self.size
    }
}

impl HostSpec {
    /// Validate the raw file. Every problem is collected, not just the first.
    ///
    /// # Errors
    /// The list of problems, each with its key path.
    pub fn from_raw(r: &raw::RawSpec) -> Result<HostSpec, Vec<Problem>> {
        let mut p = Problems::default();

        let release = Release::parse(&r.host.release);
        if release.is_none() {
            p.push(
                KeyPath::root().key("host").key("release"),
                format!("NixOS release `{}` is not one tabula knows", r.host.release),
                Some(format!("use one of {}", Release::known_list())),
            );
        }
        if let Some(sv) = &r.host.state_version {
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
        let ram = r
            .host
            .ram
            .as_deref()
            .and_then(|s| p.size(KeyPath::root().key("host").key("ram"), s));
        let standalone = match r.host.role.as_deref() {
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
        let disk_size = p
            .size(KeyPath::root().key("disk").key("size"), &r.disk.size)
            .unwrap_or(Size::bytes(0));

        let partitions = r
            .partitions
            .iter()
            .enumerate()
            .map(|(i, rp)| {
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
            })
            .collect();

        let luks = r.luks.as_ref().map(|l| {
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
        });

        let btrfs = r.btrfs.as_ref().map(|b| {
            let subvolumes = b
                .subvolumes
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let at = KeyPath::root().key("btrfs").index("subvolume", i);
                    if s.path.is_empty()
                        || s.path.starts_with('/')
                        || s.path.ends_with('/')
                        || s.path.split('/').any(|c| c.is_empty() || c == "." || c == "..")
                    {
                        p.push(
                            at.key("path"),
                            format!("subvolume path `{}` is not a normal relative path", crate::landing::shown(&s.path)),
                            Some("write it like \"@system/nix\": no leading or trailing `/`, no `..`, no `,`".into()),
                        );
                    } else if let Some(why) =
                        crate::landing::mount_option_problem(&format!("subvol={}", s.path))
                    {
                        // It lands in the mount option `subvol=PATH`.
                        p.push(
                            at.key("path"),
                            format!("subvolume path `{}` cannot be written in the mount option subvol=: {why}", crate::landing::shown(&s.path)),
                            Some("use letters, digits, `@`, `_`, `-`, `.` and `/`".into()),
                        );
                    }
                    Subvolume {
                        index: i,
                        path: s.path.clone(),
                        estimate: s.estimate.as_deref().and_then(|e| match Estimate::parse(e) {
                            Ok(e) => Some(e),
                            Err(m) => {
                                p.push(at.key("estimate"), m, Some("write \"5GB\" or \"30-50GB\"".into()));
                                None
                            }
                        }),
                    }
                })
                .collect();
            Btrfs {
                label: b.label.clone(),
                uuid: b.uuid.clone(),
                compression: b.compression.clone(),
                mount_options: b.mount_options.clone(),
                subvolumes,
            }
        });

        let mounts = r
            .mounts
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let at = KeyPath::root().index("mount", i);
                let path = p.abs(at.key("path"), &m.path);
                let sources = [m.tmpfs.is_some(), m.subvolume.is_some(), m.partition.is_some()]
                    .iter()
                    .filter(|x| **x)
                    .count();
                if sources != 1 {
                    p.push(
                        at.clone(),
                        format!("mount `{}` must have exactly one source, found {sources}", m.path),
                        Some("give one of `tmpfs = {...}`, `subvolume = \"@...\"` or `partition = \"LABEL\"`".into()),
                    );
                }
                let source = if let Some(t) = &m.tmpfs {
                    MountSource::Tmpfs { size: t.size.clone(), mode: t.mode.clone() }
                } else if let Some(s) = &m.subvolume {
                    MountSource::Subvolume { subvolume: s.clone() }
                } else {
                    MountSource::Partition { partition: m.partition.clone().unwrap_or_default() }
                };
                Mount {
                    index: i,
                    path,
                    source,
                    options: m.options.clone(),
                    needed_for_boot: m.needed_for_boot,
                }
            })
            .collect();

        let persistence = r.persistence.as_ref().map(|ps| {
            let at = KeyPath::root().key("persistence");
            let abs_entries = |p: &mut Problems, key: &str, list: &[raw::RawEntry]| {
                list.iter()
                    .enumerate()
                    .map(|(i, e)| Entry {
                        index: i,
                        path: p.abs(at.index(key, i).key("path"), &e.path),
                        note: e.note.clone(),
                        covered_by: e
                            .covered_by
                            .as_deref()
                            .map(|c| p.abs(at.index(key, i).key("covered_by"), c)),
                    })
                    .collect::<Vec<_>>()
            };
            let directories = abs_entries(&mut p, "directories", &ps.directories);
            let files = abs_entries(&mut p, "files", &ps.files);
            let users = ps
                .users
                .iter()
                .map(|(name, u)| {
                    let uat = at.key("users").key(name);
                    let rel = |p: &mut Problems, key: &str, list: &[raw::RawEntry]| {
                        list.iter()
                            .enumerate()
                            .map(|(i, e)| Entry {
                                index: i,
                                path: p.rel(uat.index(key, i).key("path"), &e.path),
                                note: e.note.clone(),
                                covered_by: e
                                    .covered_by
                                    .as_deref()
                                    .map(|c| p.abs(uat.index(key, i).key("covered_by"), c)),
                            })
                            .collect::<Vec<_>>()
                    };
                    let directories = rel(&mut p, "directories", &u.directories);
                    let files = rel(&mut p, "files", &u.files);
                    (name.clone(), UserPersistence { directories, files })
                })
                .collect();
            Persistence {
                root: p.abs(at.key("root"), &ps.root),
                directories,
                files,
                users,
            }
        });

        let desktop = r.desktop.as_ref().map(|d| Desktop {
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
        });

        // Closed sets the raw types keep as text (shared with the schema).
        if let Some(fw) = r.security.firewall.as_deref() {
            if !crate::schema::FIREWALLS.contains(&fw) {
                let at = KeyPath::root().key("security").key("firewall");
                p.unknown(at, fw, crate::schema::FIREWALLS);
            }
        }
        let vms = r
            .containers
            .microvm
            .as_ref()
            .map_or(&[][..], |m| &m.vms[..]);
        for (i, vm) in vms.iter().enumerate() {
            if let Some(h) = vm.hypervisor.as_deref() {
                if !crate::schema::HYPERVISORS.contains(&h) {
                    let at = KeyPath::root()
                        .key("containers")
                        .key("microvm")
                        .index("vms", i)
                        .key("hypervisor");
                    p.unknown(at, h, crate::schema::HYPERVISORS);
                }
            }
        }

        let loader = match r.boot.loader.as_str() {
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

        if !p.0.is_empty() {
            return Err(p.0);
        }
        Ok(HostSpec {
            host: Host {
                name: r.host.name.clone(),
                model: r.host.model.clone(),
                cpu: r.host.cpu.clone(),
                ram,
                release: release.unwrap_or_else(Release::oldest),
                state_version: r
                    .host
                    .state_version
                    .clone()
                    .unwrap_or_else(|| r.host.release.clone()),
                primary_user: r.host.primary_user.clone(),
                standalone,
            },
            hardware: r.hardware.clone(),
            disk: Disk {
                device: r.disk.device.clone(),
                size: disk_size,
            },
            partitions,
            luks,
            btrfs,
            mounts,
            persistence,
            users: r.users.clone(),
            services: r.services.clone(),
            containers: r.containers.clone(),
            desktop,
            security: r.security.clone(),
            boot: Boot {
                loader,
                initrd_systemd: r.boot.initrd_systemd,
                entries: r.boot.entries.clone(),
            },
            audit: r.audit.clone(),
        })
    }

    /// Where each partition lands, in `partitions` order: 1 MiB aligned,
    /// at its fixed `start` when given, else right after the previous one;
    /// "rest" takes what the others leave up to the backup GPT. `None` for a
    /// partition that does not fit on the disk. Overlaps are left for
    /// [`crate::check`] to report (compare each start with the previous end).
    pub fn extents(&self) -> Vec<Option<Extent>> {
        let disk_end = self.usable_end();
        let fixed_after = |i: usize| -> u64 {
            self.partitions[i + 1..]
                .iter()
                .map(|p| match p.size {
                    PartSize::Fixed(s) => align_up(s.as_u64()),
                    PartSize::Rest => 0,
                })
                .sum()
        };
        let mut at = ALIGN;
        let mut out = Vec::with_capacity(self.partitions.len());
        for (i, p) in self.partitions.iter().enumerate() {
            if let Some(s) = p.start {
                at = align_up(s.as_u64());
            }
            let size = match p.size {
                PartSize::Fixed(s) => align_up(s.as_u64()),
                PartSize::Rest => disk_end.saturating_sub(at).saturating_sub(fixed_after(i)),
            };
            if size == 0 || at.saturating_add(size) > disk_end {
                out.push(None);
            } else {
                out.push(Some(Extent { start: at, size }));
            }
            at = at.saturating_add(size);
        }
        out
    }

    /// The last usable byte boundary (aligned down, before the backup GPT).
    pub fn usable_end(&self) -> u64 {
        self.disk.size.as_u64().saturating_sub(GPT_TAIL) / ALIGN * ALIGN
    }

    /// The size of the btrfs pool: the LUKS partition less the LUKS2 header
    /// (16 MiB), or the partition holding btrfs directly.
    pub fn pool_size(&self) -> Option<u64> {
        let ext = self.extents();
        let (i, header) = match &self.luks {
            Some(l) => (
                self.partitions
                    .iter()
                    .position(|p| p.label == l.partition)?,
                LUKS2_HEADER,
            ),
            None => (
                self.partitions.iter().position(|p| {
                    p.filesystem
                        .as_ref()
                        .is_some_and(|f| f.kind == FsType::Btrfs)
                })?,
                0,
            ),
        };
        ext.get(i)
            .copied()
            .flatten()
            .map(|e| e.size.saturating_sub(header))
    }

    pub fn partition(&self, label: &str) -> Option<&Partition> {
        self.partitions.iter().find(|p| p.label == label)
    }

    /// How many NixOS generations GRUB can keep on the `/boot` partition
    /// (`boot.loader.grub.configurationLimit`): GRUB copies each
    /// generation's kernel and initrd there (one copy per distinct store
    /// path; counted as if every generation were distinct, the worst case).
    /// `None` when `/boot` is
    /// not a partition of fixed size.
    pub fn boot_generations(&self) -> Option<u64> {
        let m = self.mount("/boot")?;
        let MountSource::Partition { partition } = &m.source else {
            return None;
        };
        let PartSize::Fixed(size) = self.partition(partition)?.size else {
            return None;
        };
        Some(
            (size.as_u64().saturating_sub(BOOT_RESERVE) / BOOT_PER_GENERATION)
                .min(BOOT_GENERATIONS_MAX),
        )
    }

    pub fn mount(&self, path: &str) -> Option<&Mount> {
        self.mounts.iter().find(|m| m.path.as_str() == path)
    }

    /// The mount that holds `path`: the deepest mount point at or above it.
    pub fn mount_holding(&self, path: &AbsPath) -> Option<&Mount> {
        self.mounts
            .iter()
            .filter(|m| path.is_under(&m.path))
            .max_by_key(|m| m.path.depth())
    }

    /// Whether data at `path` survives a reboot by its mount alone.
    pub fn persistent_by_mount(&self, path: &AbsPath) -> bool {
        self.mount_holding(path).is_some_and(|m| !m.is_tmpfs())
    }

    /// The home directory of a user (`/root` for root).
    pub fn home_of(&self, user: &str) -> AbsPath {
        let s = if user == "root" {
            "/root".to_owned()
        } else {
            format!("/home/{user}")
        };
        AbsPath::parse(&s).unwrap_or_else(|_| AbsPath::root())
    }

    /// Mounts in the order they must be mounted (parents first).
    pub fn mounts_in_order(&self) -> Vec<&Mount> {
        let mut m: Vec<&Mount> = self.mounts.iter().collect();
        m.sort_by(|a, b| {
            a.path
                .depth()
                .cmp(&b.path.depth())
                .then(a.path.cmp(&b.path))
        });
        m
    }
}

pub fn align_up(v: u64) -> u64 {
    v.div_ceil(ALIGN).saturating_mul(ALIGN)
}

/// Collects problems while the raw spec is converted.
#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn push(&mut self, at: KeyPath, message: String, hint: Option<String>) {
        self.0.push(Problem { at, message, hint });
    }

    fn unknown(&mut self, at: KeyPath, value: &str, known: &[&str]) {
        let hint = match crate::did_you_mean(value, known) {
            Some(s) => format!("did you mean `{s}`? (known: {})", known.join(", ")),
            None => format!("known values: {}", known.join(", ")),
        };
        self.push(at, format!("unknown value `{value}`"), Some(hint));
    }

    fn size(&mut self, at: KeyPath, text: &str) -> Option<Size> {
        match Size::parse(text) {
            Ok(s) => Some(s),
            Err(m) => {
                self.push(
                    at,
                    m,
                    Some("sizes need a unit: MB/GB are decimal, MiB/GiB binary".into()),
                );
                None
            }
        }
    }

    fn abs(&mut self, at: KeyPath, text: &str) -> AbsPath {
        AbsPath::parse(text).unwrap_or_else(|m| {
            self.push(at, m, None);
            AbsPath::root()
        })
    }

    fn rel(&mut self, at: KeyPath, text: &str) -> RelPath {
        RelPath::parse(text).unwrap_or_else(|m| {
            self.push(at, m, None);
            RelPath::placeholder()
        })
    }
}
