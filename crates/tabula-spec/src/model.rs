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

mod secrets;
mod validate;

pub use secrets::{
    age_x25519, secret_name, ssh_ed25519, Secrets, PERSISTED_IDENTITY, PLAIN_IDENTITY,
};

/// `[security] firewall` (checked here, in the model, and listed in the schema: the render turns anything
/// but nftables into iptables rules).
pub const FIREWALLS: &[&str] = &["nftables", "iptables"];
/// `[[containers.microvm.vms]] hypervisor`: microvm.nix's hypervisors
/// (`microvm.hypervisor`).
pub const HYPERVISORS: &[&str] = &[
    "qemu",
    "cloud-hypervisor",
    "firecracker",
    "crosvm",
    "kvmtool",
    "stratovirt",
    "alioth",
];
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
#[non_exhaustive]
pub struct HostSpec {
    pub host: Host,
    pub hardware: Hardware,
    pub disk: Disk,
    pub partitions: Vec<Partition>,
    pub luks: Option<Luks>,
    pub btrfs: Option<Btrfs>,
    pub mounts: Vec<Mount>,
    pub persistence: Option<Persistence>,
    pub users: Vec<User>,
    pub services: Services,
    pub containers: Containers,
    pub desktop: Option<Desktop>,
    pub security: Security,
    pub boot: Boot,
    pub audit: Audit,
    /// `[deploy]`: where and how the fleet deploys this host.
    pub deploy: Option<crate::deploy::Deploy>,
    pub secrets: Option<Secrets>,
}

#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
pub struct Keyfile {
    pub fs_uuid: String,
    pub fs_type: FsType,
    pub path: AbsPath,
    pub timeout: Option<u32>,
    pub password_fallback: bool,
}

#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
pub struct Entry<P> {
    #[serde(skip)]
    pub index: usize,
    pub path: P,
    pub note: Option<String>,
    pub covered_by: Option<AbsPath>,
}

#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Persistence {
    pub root: AbsPath,
    pub directories: Vec<Entry<AbsPath>>,
    pub files: Vec<Entry<AbsPath>>,
    pub users: BTreeMap<String, UserPersistence>,
}

#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
pub struct Boot {
    pub loader: Loader,
    pub initrd_systemd: bool,
    pub entries: Vec<BootEntry>,
}

// The tables that need no parsing: the same fields as in host.toml, in
// validated types of their own, so the raw (deserialized) types stay in
// `raw` and a `HostSpec` carries none of them.

#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Hardware {
    /// A module of nixos-hardware, e.g. "microsoft-surface-pro-intel".
    pub nixos_hardware: Option<String>,
    /// "intel" or "amd": microcode updates.
    pub cpu_vendor: Option<String>,
    /// Kernel modules available in stage 1 (`boot.initrd.availableKernelModules`).
    pub initrd_modules: Vec<String>,
    /// Kernel modules loaded after boot (`boot.kernelModules`).
    pub kernel_modules: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct User {
    pub name: String,
    pub description: Option<String>,
    pub groups: Vec<String>,
    /// A file holding the password hash (never the hash itself).
    pub hashed_password_file: Option<String>,
    pub shell: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Services {
    pub networkmanager: bool,
    pub bluetooth: bool,
    pub openssh: bool,
}

#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Containers {
    /// Nix native: CLI tools and system utilities (nixpkgs attribute names).
    pub nix_packages: Vec<String>,
    pub distrobox: Option<Distrobox>,
    pub flatpak: Option<Flatpak>,
    pub podman: Option<Podman>,
    pub microvm: Option<Microvm>,
}

#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Distrobox {
    pub enable: bool,
    pub images: Vec<DistroboxImage>,
}

#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct DistroboxImage {
    pub name: String,
    pub image: String,
    /// Extra packages installed into the container.
    pub packages: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Flatpak {
    pub enable: bool,
    pub remote: Option<Remote>,
    /// Flathub application ids, e.g. "org.mozilla.firefox".
    pub apps: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Remote {
    pub name: String,
    pub url: String,
}

#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Podman {
    pub enable: bool,
    pub rootless: bool,
    pub docker_compat: bool,
    /// Long-running services as containers.
    pub containers: Vec<PodmanContainer>,
}

#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct PodmanContainer {
    pub name: String,
    pub image: String,
    pub ports: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Microvm {
    pub enable: bool,
    pub vms: Vec<MicrovmVm>,
}

#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct MicrovmVm {
    pub name: String,
    /// qemu, cloud-hypervisor, firecracker, crosvm, kvmtool.
    pub hypervisor: Option<String>,
    pub mem_mib: Option<u32>,
    pub vcpu: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Security {
    /// "nftables" or "iptables".
    pub firewall: Option<String>,
    pub allowed_tcp_ports: Vec<u16>,
    pub allowed_udp_ports: Vec<u16>,
    /// The Tomb vault, relative to the primary user's home.
    pub tomb_vault: Option<String>,
    pub flatpak_sandbox: bool,
    pub microvm_untrusted: bool,
}

#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct BootEntry {
    pub name: String,
    /// The foreign system (a partition owner) this entry boots.
    pub system: String,
    /// Its EFI loader on the ESP.
    pub efi: String,
}

#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Audit {
    /// Paths (or globs ending in /*) that are ephemeral by design, added to
    /// the built-in defaults.
    pub ignore: Vec<String>,
}

impl From<&raw::RawHardware> for Hardware {
    fn from(r: &raw::RawHardware) -> Self {
        Hardware {
            nixos_hardware: r.nixos_hardware.clone(),
            cpu_vendor: r.cpu_vendor.clone(),
            initrd_modules: r.initrd_modules.clone(),
            kernel_modules: r.kernel_modules.clone(),
        }
    }
}

impl From<&raw::RawUser> for User {
    fn from(r: &raw::RawUser) -> Self {
        User {
            name: r.name.clone(),
            description: r.description.clone(),
            groups: r.groups.clone(),
            hashed_password_file: r.hashed_password_file.clone(),
            shell: r.shell.clone(),
        }
    }
}

impl From<&raw::RawServices> for Services {
    fn from(r: &raw::RawServices) -> Self {
        Services {
            networkmanager: r.networkmanager,
            bluetooth: r.bluetooth,
            openssh: r.openssh,
        }
    }
}

impl From<&raw::RawContainers> for Containers {
    fn from(r: &raw::RawContainers) -> Self {
        Containers {
            nix_packages: r.nix_packages.clone(),
            distrobox: r.distrobox.as_ref().map(Into::into),
            flatpak: r.flatpak.as_ref().map(Into::into),
            podman: r.podman.as_ref().map(Into::into),
            microvm: r.microvm.as_ref().map(Into::into),
        }
    }
}

impl From<&raw::RawDistrobox> for Distrobox {
    fn from(r: &raw::RawDistrobox) -> Self {
        Distrobox {
            enable: r.enable,
            images: r.images.iter().map(Into::into).collect(),
        }
    }
}

impl From<&raw::RawDistroboxImage> for DistroboxImage {
    fn from(r: &raw::RawDistroboxImage) -> Self {
        DistroboxImage {
            name: r.name.clone(),
            image: r.image.clone(),
            packages: r.packages.clone(),
        }
    }
}

impl From<&raw::RawFlatpak> for Flatpak {
    fn from(r: &raw::RawFlatpak) -> Self {
        Flatpak {
            enable: r.enable,
            remote: r.remote.as_ref().map(Into::into),
            apps: r.apps.clone(),
        }
    }
}

impl From<&raw::RawRemote> for Remote {
    fn from(r: &raw::RawRemote) -> Self {
        Remote {
            name: r.name.clone(),
            url: r.url.clone(),
        }
    }
}

impl From<&raw::RawPodman> for Podman {
    fn from(r: &raw::RawPodman) -> Self {
        Podman {
            enable: r.enable,
            rootless: r.rootless,
            docker_compat: r.docker_compat,
            containers: r.containers.iter().map(Into::into).collect(),
        }
    }
}

impl From<&raw::RawPodmanContainer> for PodmanContainer {
    fn from(r: &raw::RawPodmanContainer) -> Self {
        PodmanContainer {
            name: r.name.clone(),
            image: r.image.clone(),
            ports: r.ports.clone(),
        }
    }
}

impl From<&raw::RawMicrovm> for Microvm {
    fn from(r: &raw::RawMicrovm) -> Self {
        Microvm {
            enable: r.enable,
            vms: r.vms.iter().map(Into::into).collect(),
        }
    }
}

impl From<&raw::RawMicrovmVm> for MicrovmVm {
    fn from(r: &raw::RawMicrovmVm) -> Self {
        MicrovmVm {
            name: r.name.clone(),
            hypervisor: r.hypervisor.clone(),
            mem_mib: r.mem_mib,
            vcpu: r.vcpu,
        }
    }
}

impl From<&raw::RawSecurity> for Security {
    fn from(r: &raw::RawSecurity) -> Self {
        Security {
            firewall: r.firewall.clone(),
            allowed_tcp_ports: r.allowed_tcp_ports.clone(),
            allowed_udp_ports: r.allowed_udp_ports.clone(),
            tomb_vault: r.tomb_vault.clone(),
            flatpak_sandbox: r.flatpak_sandbox,
            microvm_untrusted: r.microvm_untrusted,
        }
    }
}

impl From<&raw::RawBootEntry> for BootEntry {
    fn from(r: &raw::RawBootEntry) -> Self {
        BootEntry {
            name: r.name.clone(),
            system: r.system.clone(),
            efi: r.efi.clone(),
        }
    }
}

impl From<&raw::RawAudit> for Audit {
    fn from(r: &raw::RawAudit) -> Self {
        Audit {
            ignore: r.ignore.clone(),
        }
    }
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
