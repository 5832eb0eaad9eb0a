use serde::Serialize;

use super::Severity;

/// The stable code of a rule. Its kebab-case name is what `tabula check`
/// prints and `--rules` lists; every code has a severity and a summary by
/// construction (an exhaustive `match`, no table to forget a code in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Code {
    SpecShape,
    ReleaseUnsupported,
    ReleaseEol,
    KernelBuiltLocally,
    BootTooSmall,
    WaydroidNftables,
    StateVersionNewer,
    StateVersionOlder,
    HostnameInvalid,
    PartitionNumber,
    PartitionLabelDuplicate,
    PartitionLabelInvalid,
    PartitionRestTwice,
    PartitionSizeZero,
    PartitionOverlap,
    PartitionExceedsDisk,
    PartitionNoContent,
    ForeignFormatted,
    EspSharedFormatted,
    WindowsTooSmall,
    UuidMalformed,
    LabelTooLong,
    LuksPartition,
    KdfWeakened,
    KeyfileDriverMissing,
    KeyfileUsbMissing,
    KeyfilePasswordFallback,
    SubvolumeDuplicate,
    SubvolumeParentUndeclared,
    EstimatesExceedPool,
    EstimatesFitPool,
    MountDuplicate,
    MountSourceUndeclared,
    MountOptionInvalid,
    RootNotTmpfs,
    TmpfsMalformed,
    TmpfsSize,
    NeededForBoot,
    PersistNotPersistent,
    EntryCoveredByMount,
    CoveredByWrong,
    EntryDuplicate,
    ConfigOnTmpfs,
    UserUndeclared,
    UserNoPassword,
    PasswordFileNotPersistent,
    SessionInvalid,
    SessionDefaultUnknown,
    BootEntryInvalid,
    ForeignUnreachable,
    NotDualBoot,
    KeyfileNeedsSystemd,
    EspTooSmall,
    ContainerInvalid,
    NameDuplicate,
    RootlessPodmanStorage,
    FleetHostDuplicate,
    FleetUuidShared,
    FleetTargetShared,
    FleetReleaseMixed,
    SecretIdentityNotAtBoot,
    SecretsNoHostKey,
    TextUnrepresentable,
}

impl Code {
    /// Every code, in the order the rules run.
    pub const ALL: &'static [Code] = &[
        Code::SpecShape,
        Code::ReleaseUnsupported,
        Code::ReleaseEol,
        Code::KernelBuiltLocally,
        Code::BootTooSmall,
        Code::WaydroidNftables,
        Code::StateVersionNewer,
        Code::StateVersionOlder,
        Code::HostnameInvalid,
        Code::PartitionNumber,
        Code::PartitionLabelDuplicate,
        Code::PartitionLabelInvalid,
        Code::PartitionRestTwice,
        Code::PartitionSizeZero,
        Code::PartitionOverlap,
        Code::PartitionExceedsDisk,
        Code::PartitionNoContent,
        Code::ForeignFormatted,
        Code::EspSharedFormatted,
        Code::WindowsTooSmall,
        Code::UuidMalformed,
        Code::LabelTooLong,
        Code::LuksPartition,
        Code::KdfWeakened,
        Code::KeyfileDriverMissing,
        Code::KeyfileUsbMissing,
        Code::KeyfilePasswordFallback,
        Code::SubvolumeDuplicate,
        Code::SubvolumeParentUndeclared,
        Code::EstimatesExceedPool,
        Code::EstimatesFitPool,
        Code::MountDuplicate,
        Code::MountSourceUndeclared,
        Code::MountOptionInvalid,
        Code::RootNotTmpfs,
        Code::TmpfsMalformed,
        Code::TmpfsSize,
        Code::NeededForBoot,
        Code::PersistNotPersistent,
        Code::EntryCoveredByMount,
        Code::CoveredByWrong,
        Code::EntryDuplicate,
        Code::ConfigOnTmpfs,
        Code::UserUndeclared,
        Code::UserNoPassword,
        Code::PasswordFileNotPersistent,
        Code::SessionInvalid,
        Code::SessionDefaultUnknown,
        Code::BootEntryInvalid,
        Code::ForeignUnreachable,
        Code::NotDualBoot,
        Code::KeyfileNeedsSystemd,
        Code::EspTooSmall,
        Code::ContainerInvalid,
        Code::NameDuplicate,
        Code::RootlessPodmanStorage,
        Code::FleetHostDuplicate,
        Code::FleetUuidShared,
        Code::FleetTargetShared,
        Code::FleetReleaseMixed,
        Code::SecretIdentityNotAtBoot,
        Code::SecretsNoHostKey,
        Code::TextUnrepresentable,
    ];

    /// The name shown in output (`release-eol`).
    pub fn as_str(self) -> &'static str {
        match self {
            Code::SpecShape => "spec-shape",
            Code::ReleaseUnsupported => "release-unsupported",
            Code::ReleaseEol => "release-eol",
            Code::KernelBuiltLocally => "kernel-built-locally",
            Code::BootTooSmall => "boot-too-small",
            Code::WaydroidNftables => "waydroid-nftables",
            Code::StateVersionNewer => "state-version-newer",
            Code::StateVersionOlder => "state-version-older",
            Code::HostnameInvalid => "hostname-invalid",
            Code::PartitionNumber => "partition-number",
            Code::PartitionLabelDuplicate => "partition-label-duplicate",
            Code::PartitionLabelInvalid => "partition-label-invalid",
            Code::PartitionRestTwice => "partition-rest-twice",
            Code::PartitionSizeZero => "partition-size-zero",
            Code::PartitionOverlap => "partition-overlap",
            Code::PartitionExceedsDisk => "partition-exceeds-disk",
            Code::PartitionNoContent => "partition-no-content",
            Code::ForeignFormatted => "foreign-formatted",
            Code::EspSharedFormatted => "esp-shared-formatted",
            Code::WindowsTooSmall => "windows-too-small",
            Code::UuidMalformed => "uuid-malformed",
            Code::LabelTooLong => "label-too-long",
            Code::LuksPartition => "luks-partition",
            Code::KdfWeakened => "kdf-weakened",
            Code::KeyfileDriverMissing => "keyfile-driver-missing",
            Code::KeyfileUsbMissing => "keyfile-usb-missing",
            Code::KeyfilePasswordFallback => "keyfile-password-fallback",
            Code::SubvolumeDuplicate => "subvolume-duplicate",
            Code::SubvolumeParentUndeclared => "subvolume-parent-undeclared",
            Code::EstimatesExceedPool => "estimates-exceed-pool",
            Code::EstimatesFitPool => "estimates-fit-pool",
            Code::MountDuplicate => "mount-duplicate",
            Code::MountSourceUndeclared => "mount-source-undeclared",
            Code::MountOptionInvalid => "mount-option-invalid",
            Code::RootNotTmpfs => "root-not-tmpfs",
            Code::TmpfsMalformed => "tmpfs-malformed",
            Code::TmpfsSize => "tmpfs-size",
            Code::NeededForBoot => "needed-for-boot",
            Code::PersistNotPersistent => "persist-not-persistent",
            Code::EntryCoveredByMount => "entry-covered-by-mount",
            Code::CoveredByWrong => "covered-by-wrong",
            Code::EntryDuplicate => "entry-duplicate",
            Code::ConfigOnTmpfs => "config-on-tmpfs",
            Code::UserUndeclared => "user-undeclared",
            Code::UserNoPassword => "user-no-password",
            Code::PasswordFileNotPersistent => "password-file-not-persistent",
            Code::SessionInvalid => "session-invalid",
            Code::SessionDefaultUnknown => "session-default-unknown",
            Code::BootEntryInvalid => "boot-entry-invalid",
            Code::ForeignUnreachable => "foreign-unreachable",
            Code::NotDualBoot => "not-dual-boot",
            Code::KeyfileNeedsSystemd => "keyfile-needs-systemd",
            Code::EspTooSmall => "esp-too-small",
            Code::ContainerInvalid => "container-invalid",
            Code::NameDuplicate => "name-duplicate",
            Code::RootlessPodmanStorage => "rootless-podman-storage",
            Code::FleetHostDuplicate => "fleet-host-duplicate",
            Code::FleetUuidShared => "fleet-uuid-shared",
            Code::FleetTargetShared => "fleet-target-shared",
            Code::FleetReleaseMixed => "fleet-release-mixed",
            Code::SecretIdentityNotAtBoot => "secret-identity-not-at-boot",
            Code::SecretsNoHostKey => "secrets-no-host-key",
            Code::TextUnrepresentable => "text-unrepresentable",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            Code::SpecShape
            | Code::ReleaseUnsupported
            | Code::WaydroidNftables
            | Code::StateVersionNewer
            | Code::HostnameInvalid
            | Code::PartitionNumber
            | Code::PartitionLabelDuplicate
            | Code::PartitionLabelInvalid
            | Code::PartitionRestTwice
            | Code::PartitionSizeZero
            | Code::PartitionOverlap
            | Code::PartitionExceedsDisk
            | Code::PartitionNoContent
            | Code::ForeignFormatted
            | Code::EspSharedFormatted
            | Code::UuidMalformed
            | Code::LabelTooLong
            | Code::LuksPartition
            | Code::KeyfileDriverMissing
            | Code::SubvolumeDuplicate
            | Code::SubvolumeParentUndeclared
            | Code::MountDuplicate
            | Code::MountSourceUndeclared
            | Code::MountOptionInvalid
            | Code::TmpfsMalformed
            | Code::NeededForBoot
            | Code::PersistNotPersistent
            | Code::CoveredByWrong
            | Code::EntryDuplicate
            | Code::PasswordFileNotPersistent
            | Code::SessionInvalid
            | Code::SessionDefaultUnknown
            | Code::BootEntryInvalid
            | Code::KeyfileNeedsSystemd
            | Code::ContainerInvalid
            | Code::NameDuplicate
            | Code::FleetHostDuplicate
            | Code::FleetUuidShared
            | Code::FleetTargetShared
            | Code::FleetReleaseMixed
            | Code::SecretIdentityNotAtBoot
            | Code::TextUnrepresentable => Severity::Error,
            Code::ReleaseEol
            | Code::BootTooSmall
            | Code::WindowsTooSmall
            | Code::KdfWeakened
            | Code::KeyfileUsbMissing
            | Code::EstimatesExceedPool
            | Code::RootNotTmpfs
            | Code::TmpfsSize
            | Code::EntryCoveredByMount
            | Code::ConfigOnTmpfs
            | Code::UserUndeclared
            | Code::UserNoPassword
            | Code::ForeignUnreachable
            | Code::EspTooSmall
            | Code::SecretsNoHostKey => Severity::Warning,
            Code::KernelBuiltLocally
            | Code::StateVersionOlder
            | Code::KeyfilePasswordFallback
            | Code::EstimatesFitPool
            | Code::NotDualBoot
            | Code::RootlessPodmanStorage => Severity::Info,
        }
    }

    /// What the rule checks, for `tabula check --rules` and the README.
    pub fn summary(self) -> &'static str {
        match self {
            Code::SpecShape => "the file cannot be read as a host spec (syntax, unknown key, bad value)",
            Code::ReleaseUnsupported => "the boot loader or a feature has no NixOS module in this release",
            Code::ReleaseEol => "the NixOS release is past its end of life",
            Code::KernelBuiltLocally => "the hardware profile's kernel (linux-surface) is not in a binary cache: the first build compiles it",
            Code::BootTooSmall => "the /boot partition cannot hold two generations' kernels and initrds (GRUB copies them there; 60 MB per generation is an estimate, not a measurement: a 12-15 MB kernel plus a 15-45 MB systemd initrd, see BOOT_PER_GENERATION; so a warning)",
            Code::WaydroidNftables => "a Waydroid session with the nftables firewall on a release whose Waydroid needs iptables",
            Code::StateVersionNewer => "state_version is newer than the release (it is the release the machine was first installed with)",
            Code::StateVersionOlder => "state_version is older than the release: the machine was installed earlier and follows a newer nixpkgs",
            Code::HostnameInvalid => "the host name is not a valid host name (letters, digits, `-`, at most 63)",
            Code::PartitionNumber => "partition numbers are duplicated or out of disk order",
            Code::PartitionLabelDuplicate => "two partitions share a GPT name",
            Code::PartitionLabelInvalid => "a GPT name is empty, too long (36) or holds control characters",
            Code::PartitionRestTwice => "more than one partition takes the rest of the disk",
            Code::PartitionSizeZero => "a partition has size 0",
            Code::PartitionOverlap => "a partition starts before the previous one ends",
            Code::PartitionExceedsDisk => "the partitions do not fit on the disk",
            Code::PartitionNoContent => "a partition has neither a filesystem nor the LUKS container, or both",
            Code::ForeignFormatted => "a partition owned by another system is marked to be formatted",
            Code::EspSharedFormatted => "an ESP shared with another system is marked to be formatted",
            Code::WindowsTooSmall => "the Windows partition is under Microsoft's 64 GB minimum",
            Code::UuidMalformed => "a UUID does not have its filesystem's form",
            Code::LabelTooLong => "a filesystem label is longer than the filesystem allows",
            Code::LuksPartition => "the LUKS container's partition is missing or not marked `luks = true`",
            Code::KdfWeakened => "the LUKS key derivation is weaker than argon2id with cryptsetup's defaults",
            Code::KeyfileDriverMissing => "the USB keyfile's filesystem driver is not in the initrd",
            Code::KeyfileUsbMissing => "the initrd lacks the USB drivers needed to read the keyfile stick",
            Code::KeyfilePasswordFallback => "how the container is unlocked when the stick is absent",
            Code::SubvolumeDuplicate => "a subvolume is declared twice",
            Code::SubvolumeParentUndeclared => "a nested subvolume's parent is not declared",
            Code::EstimatesExceedPool => "the subvolume estimates' upper bounds exceed the pool",
            Code::EstimatesFitPool => "the subvolume estimates against the pool, with the figures",
            Code::MountDuplicate => "two mounts share a mount point",
            Code::MountSourceUndeclared => "a mount's subvolume or partition is not declared",
            Code::MountOptionInvalid => "a mount option cannot be represented (`,`, space, control characters)",
            Code::RootNotTmpfs => "the root filesystem is not a tmpfs, so nothing is wiped at boot",
            Code::TmpfsMalformed => "the tmpfs root's size or mode is not in tmpfs syntax (the kernel would refuse to mount /)",
            Code::TmpfsSize => "the tmpfs root may grow larger than the RAM",
            Code::NeededForBoot => "a filesystem needed at boot is not marked `needed_for_boot`",
            Code::PersistNotPersistent => "the persistence root is on no persistent filesystem",
            Code::EntryCoveredByMount => "a persistence entry is already on a persistent mount",
            Code::CoveredByWrong => "`covered_by` names a mount that does not persist the entry",
            Code::EntryDuplicate => "a persistence entry is listed twice",
            Code::ConfigOnTmpfs => "the configuration's location (/etc/nixos) is not persisted",
            Code::UserUndeclared => "the primary user or a persistence user is not declared in [[user]]",
            Code::UserNoPassword => "a user has no password file while users are immutable",
            Code::PasswordFileNotPersistent => "a password file is lost at reboot",
            Code::SessionInvalid => "a desktop session is incomplete, duplicated or cannot be written safely",
            Code::SessionDefaultUnknown => "the default session is not one of the sessions",
            Code::BootEntryInvalid => "a boot entry names an unknown system or cannot be written safely",
            Code::ForeignUnreachable => "a foreign system has no boot entry",
            Code::NotDualBoot => "a standalone host shares its disk with foreign systems",
            Code::KeyfileNeedsSystemd => "the USB keyfile needs systemd in stage 1",
            Code::EspTooSmall => "rEFInd copies kernels to an ESP too small for them",
            Code::ContainerInvalid => "a package, image, app id or VM name cannot be written where it goes",
            Code::NameDuplicate => "a name that becomes a Nix attribute, a file or a device link (user, container, microVM, filesystem UUID) is given twice",
            Code::RootlessPodmanStorage => "rootless Podman keeps images in each user's home, not /var/lib/containers",
            Code::FleetHostDuplicate => "two hosts of a fleet have the same name (flake attribute, hosts/ directory and hostname)",
            Code::FleetUuidShared => "two hosts of a fleet declare the same filesystem, LUKS or pool UUID",
            Code::FleetTargetShared => "two hosts of a fleet deploy to the same SSH target",
            Code::FleetReleaseMixed => "the hosts of a fleet follow different NixOS releases (one flake has one nixpkgs)",
            Code::SecretIdentityNotAtBoot => "the host key agenix decrypts with is not on a mount there at boot",
            Code::SecretsNoHostKey => "the host reads secrets but [secrets] has no host_key to encrypt them to",
            Code::TextUnrepresentable => "a value holds characters its file format cannot carry",
        }
    }

    /// This code's row of `tabula check --rules`.
    pub fn rule(self) -> Rule {
        Rule {
            code: self,
            severity: self.severity(),
            summary: self.summary(),
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl PartialEq<str> for Code {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// One rule, for `tabula check --rules` and the README.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rule {
    pub code: Code,
    pub severity: Severity,
    pub summary: &'static str,
}

/// Every rule tabula knows, in the order they run.
pub fn rules() -> Vec<Rule> {
    Code::ALL.iter().map(|c| c.rule()).collect()
}
