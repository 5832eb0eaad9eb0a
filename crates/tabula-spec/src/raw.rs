//! # host.toml as written
//!
//! Serde types that mirror the file one to one. They only check shape (types,
//! unknown keys); [`crate::model`] turns them into validated types. Every
//! struct denies unknown keys so a typo is an error with a suggestion, never
//! a silently ignored setting.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSpec {
    pub host: RawHost,
    #[serde(default)]
    pub hardware: RawHardware,
    pub disk: RawDisk,
    #[serde(default, rename = "partition")]
    pub partitions: Vec<RawPartition>,
    pub luks: Option<RawLuks>,
    pub btrfs: Option<RawBtrfs>,
    #[serde(default, rename = "mount")]
    pub mounts: Vec<RawMount>,
    #[serde(default)]
    pub persistence: Option<RawPersistence>,
    #[serde(default, rename = "user")]
    pub users: Vec<RawUser>,
    #[serde(default)]
    pub services: RawServices,
    #[serde(default)]
    pub containers: RawContainers,
    #[serde(default)]
    pub desktop: Option<RawDesktop>,
    #[serde(default)]
    pub security: RawSecurity,
    pub boot: RawBoot,
    #[serde(default)]
    pub audit: RawAudit,
    /// How the fleet deploys this host (colmena; `tabula deploy`).
    #[serde(default)]
    pub deploy: Option<crate::deploy::RawDeploy>,
    /// Secrets encrypted with age, decrypted on the host by agenix.
    #[serde(default)]
    pub secrets: Option<RawSecrets>,
}

/// The machine and the NixOS release it runs.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHost {
    /// Host name; also the flake attribute (`.#NAME`).
    pub name: String,
    pub model: Option<String>,
    pub cpu: Option<String>,
    /// Installed memory, e.g. "8GB".
    pub ram: Option<String>,
    /// NixOS release the host follows (its nixpkgs branch), e.g. "26.05";
    /// one of the releases tabula knows (`tabula_spec::release::RELEASES`).
    pub release: String,
    /// `system.stateVersion`: the release the machine was first installed
    /// with; never changes on an installed host, may be older than
    /// `release`, never newer. Defaults to the release (a new host).
    pub state_version: Option<String>,
    /// The user the per-user persistence and the Tomb vault belong to.
    pub primary_user: String,
    /// "primary" (standalone) or "dual-boot".
    pub role: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHardware {
    /// A module of nixos-hardware, e.g. "microsoft-surface-pro-intel".
    pub nixos_hardware: Option<String>,
    /// "intel" or "amd": microcode updates.
    pub cpu_vendor: Option<String>,
    /// Kernel modules available in stage 1 (`boot.initrd.availableKernelModules`).
    #[serde(default)]
    pub initrd_modules: Vec<String>,
    /// Kernel modules loaded after boot (`boot.kernelModules`).
    #[serde(default)]
    pub kernel_modules: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDisk {
    /// The device on the real machine (documentation only: tabula never
    /// writes to a disk that was not given with --disk).
    pub device: Option<String>,
    /// Whole-disk size, e.g. "256GB".
    pub size: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPartition {
    /// GPT partition number (1-based, disk order).
    pub number: u32,
    /// GPT partition name; how mounts and the LUKS container refer to it.
    pub label: String,
    /// A size with unit ("100MB", "2GiB") or "rest" for what is left.
    pub size: String,
    /// Where it starts, when fixed (an existing foreign partition); by
    /// default right after the previous one, 1 MiB aligned.
    pub start: Option<String>,
    /// esp, linux, linux-root, luks, swap, windows-data, windows-reserved, windows-recovery.
    #[serde(rename = "type")]
    pub kind: String,
    /// "nixos", or the foreign system that owns it (never formatted by tabula).
    pub owner: String,
    /// Other systems that use this partition (an ESP shared with Windows).
    #[serde(default)]
    pub shared_with: Vec<String>,
    /// Whether tabula may format it (default: true for NixOS-owned, not shared).
    pub format: Option<bool>,
    /// The filesystem on it (absent when it holds a LUKS container).
    pub filesystem: Option<RawFilesystem>,
    /// Holds the LUKS container.
    #[serde(default)]
    pub luks: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFilesystem {
    /// vfat, ext4, btrfs, ntfs, exfat, xfs, swap.
    #[serde(rename = "type")]
    pub kind: String,
    /// Fixed UUID (vfat/exFAT "XXXX-XXXX", NTFS 16 hex digits, else RFC 4122).
    pub uuid: Option<String>,
    pub label: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLuks {
    /// The partition label holding the container.
    pub partition: String,
    /// The mapping name: /dev/mapper/NAME.
    pub name: String,
    pub uuid: String,
    /// argon2id (default), argon2i or pbkdf2.
    pub kdf: Option<String>,
    /// Key derivation cost overrides; cheap values are for tests only.
    pub pbkdf_iterations: Option<u32>,
    pub pbkdf_memory_kib: Option<u32>,
    pub pbkdf_time_ms: Option<u32>,
    pub keyfile: Option<RawKeyfile>,
    /// Enable TRIM through the container.
    #[serde(default = "yes")]
    pub allow_discards: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawKeyfile {
    /// The USB stick's filesystem UUID.
    pub fs_uuid: String,
    /// The stick's filesystem (its driver must be in the initrd).
    pub fs_type: String,
    /// The key file's path on the stick.
    pub path: String,
    /// Seconds to wait for the stick before asking for the password.
    pub timeout: Option<u32>,
    /// Ask for the password when the stick is absent.
    #[serde(default = "yes")]
    pub password_fallback: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBtrfs {
    pub label: Option<String>,
    pub uuid: Option<String>,
    /// zstd, zstd:N, lzo, zlib or none.
    pub compression: Option<String>,
    /// Options added to every subvolume mount.
    #[serde(default)]
    pub mount_options: Vec<String>,
    #[serde(default, rename = "subvolume")]
    pub subvolumes: Vec<RawSubvolume>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSubvolume {
    /// Path in the pool, e.g. "@system/nix"; its parent must be declared.
    pub path: String,
    /// Expected size: "5GB" or a range "30-50GB".
    pub estimate: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMount {
    /// Absolute, normal mount point.
    pub path: String,
    /// A btrfs subvolume of the pool.
    pub subvolume: Option<String>,
    /// A partition, by label.
    pub partition: Option<String>,
    /// A tmpfs.
    pub tmpfs: Option<RawTmpfs>,
    /// Extra mount options.
    #[serde(default)]
    pub options: Vec<String>,
    /// Mounted in stage 1 (`neededForBoot`).
    #[serde(default)]
    pub needed_for_boot: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTmpfs {
    /// e.g. "2G" (tmpfs syntax: k, m, g or %).
    pub size: String,
    /// Octal mode of the root directory, e.g. "755".
    pub mode: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPersistence {
    /// Where persisted entries are stored, e.g. "/persist".
    pub root: String,
    #[serde(default)]
    pub directories: Vec<RawEntry>,
    #[serde(default)]
    pub files: Vec<RawEntry>,
    /// Per-user entries, relative to the user's home.
    #[serde(default)]
    pub users: BTreeMap<String, RawUserPersistence>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUserPersistence {
    #[serde(default)]
    pub directories: Vec<RawEntry>,
    #[serde(default)]
    pub files: Vec<RawEntry>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEntry {
    pub path: String,
    /// Why it is kept.
    pub note: Option<String>,
    /// A persistent mount that already covers it: kept as intent, not rendered.
    pub covered_by: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUser {
    pub name: String,
    pub description: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    /// A file holding the password hash (never the hash itself).
    pub hashed_password_file: Option<String>,
    pub shell: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawServices {
    #[serde(default)]
    pub networkmanager: bool,
    #[serde(default)]
    pub bluetooth: bool,
    #[serde(default)]
    pub openssh: bool,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawContainers {
    /// Nix native: CLI tools and system utilities (nixpkgs attribute names).
    #[serde(default)]
    pub nix_packages: Vec<String>,
    pub distrobox: Option<RawDistrobox>,
    pub flatpak: Option<RawFlatpak>,
    pub podman: Option<RawPodman>,
    pub microvm: Option<RawMicrovm>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDistrobox {
    #[serde(default = "yes")]
    pub enable: bool,
    #[serde(default)]
    pub images: Vec<RawDistroboxImage>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDistroboxImage {
    pub name: String,
    pub image: String,
    /// Extra packages installed into the container.
    #[serde(default)]
    pub packages: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFlatpak {
    #[serde(default = "yes")]
    pub enable: bool,
    pub remote: Option<RawRemote>,
    /// Flathub application ids, e.g. "org.mozilla.firefox".
    #[serde(default)]
    pub apps: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRemote {
    pub name: String,
    pub url: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPodman {
    #[serde(default = "yes")]
    pub enable: bool,
    #[serde(default = "yes")]
    pub rootless: bool,
    #[serde(default)]
    pub docker_compat: bool,
    /// Long-running services as containers.
    #[serde(default)]
    pub containers: Vec<RawPodmanContainer>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPodmanContainer {
    pub name: String,
    pub image: String,
    #[serde(default)]
    pub ports: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMicrovm {
    #[serde(default = "yes")]
    pub enable: bool,
    #[serde(default)]
    pub vms: Vec<RawMicrovmVm>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMicrovmVm {
    pub name: String,
    /// qemu, cloud-hypervisor, firecracker, crosvm, kvmtool.
    pub hypervisor: Option<String>,
    pub mem_mib: Option<u32>,
    pub vcpu: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDesktop {
    /// Only "sddm".
    pub display_manager: String,
    #[serde(default)]
    pub wayland: bool,
    /// The id of the default session.
    pub default_session: Option<String>,
    #[serde(default, rename = "session")]
    pub sessions: Vec<RawSession>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSession {
    /// The session's file name: share/wayland-sessions/ID.desktop.
    pub id: String,
    /// plasma6, gnome, openbox, or cage (one program fullscreen).
    pub kind: String,
    pub name: String,
    pub comment: Option<String>,
    /// For cage: the nixpkgs attribute that provides the program.
    pub package: Option<String>,
    /// For cage: the program inside the package, e.g. "bin/brave".
    pub program: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
    pub desktop_names: Option<String>,
    /// The package is unfree: allowed by name.
    #[serde(default)]
    pub unfree: bool,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSecurity {
    /// "nftables" or "iptables".
    pub firewall: Option<String>,
    #[serde(default)]
    pub allowed_tcp_ports: Vec<u16>,
    #[serde(default)]
    pub allowed_udp_ports: Vec<u16>,
    /// The Tomb vault, relative to the primary user's home.
    pub tomb_vault: Option<String>,
    #[serde(default)]
    pub flatpak_sandbox: bool,
    #[serde(default)]
    pub microvm_untrusted: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBoot {
    /// "grub" or "refind" (rEFInd only on releases that have a module).
    pub loader: String,
    /// systemd in stage 1 (default true).
    #[serde(default = "yes")]
    pub initrd_systemd: bool,
    /// Menu entries that chain-load the foreign systems.
    #[serde(default, rename = "entry")]
    pub entries: Vec<RawBootEntry>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBootEntry {
    pub name: String,
    /// The foreign system (a partition owner) this entry boots.
    pub system: String,
    /// Its EFI loader on the ESP.
    pub efi: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAudit {
    /// Paths (or globs ending in /*) that are ephemeral by design, added to
    /// the built-in defaults.
    #[serde(default)]
    pub ignore: Vec<String>,
}

// --- secrets (issue 13) ------------------------------------------------------

/// `[secrets]`: who can read the age-encrypted secrets in the `secrets/`
/// folder next to the spec, and which of them this host reads.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSecrets {
    /// Admin public keys that can read (and rekey) every secret: age
    /// X25519 recipients ("age1...") or "ssh-ed25519 AAAA..." keys.
    #[serde(default)]
    pub admins: Vec<String>,
    /// This host's SSH ed25519 host public key ("ssh-ed25519 AAAA..."), as
    /// `tabula install` prints it. Without it the host reads no secret.
    pub host_key: Option<String>,
    /// Where agenix finds the host's private key at boot (default
    /// /persist/etc/ssh/ssh_host_ed25519_key under a persistence root
    /// "/persist", else /etc/ssh/ssh_host_ed25519_key).
    pub identity: Option<String>,
    /// The secrets this host reads: each is `secrets/NAME.age`.
    #[serde(default)]
    pub names: Vec<String>,
    /// Users whose password hash is the secret `password-USER`
    /// (`tabula secret password USER`).
    #[serde(default)]
    pub passwords: Vec<String>,
}
