//! # The rules of `tabula check`
//!
//! Each rule has a stable code, a severity, a place in host.toml and a fix
//! hint. Rules read the validated [`HostSpec`]; what could not even be built
//! (a bad size, an unknown key) is a [`crate::SpecError`] instead, which
//! `tabula check` shows with the code [`SPEC_SHAPE`].
//!
//! Pure: the date used for end-of-life checks is a parameter.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

pub use crate::date::Date;
use crate::model::{
    FsType, HostSpec, Kdf, Loader, MountSource, Owner, PartSize, PartType, Release, SessionKind,
};
use crate::path::AbsPath;
use crate::size::tmpfs_bytes;
use crate::{KeyPath, Loaded, SpecError};

/// The code of findings that come from a spec that could not be built.
pub const SPEC_SHAPE: &str = "spec-shape";

/// Microsoft's minimum disk size for Windows 11.
const WINDOWS_11_MIN: u64 = 64_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// One rule, for `tabula check --rules` and the README.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rule {
    pub code: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
}

/// Every rule tabula knows, in the order they run.
pub const RULES: &[Rule] = &[
    rule(
        SPEC_SHAPE,
        Severity::Error,
        "the file cannot be read as a host spec (syntax, unknown key, bad value)",
    ),
    rule(
        "release-unsupported",
        Severity::Error,
        "the boot loader or a feature has no NixOS module in this release",
    ),
    rule(
        "release-eol",
        Severity::Warning,
        "the NixOS release is past its end of life",
    ),
    rule(
        "kernel-built-locally",
        Severity::Info,
        "the hardware profile's kernel (linux-surface) is not in a binary cache: the first build compiles it",
    ),
    rule(
        "boot-too-small",
        Severity::Warning,
        "the /boot partition cannot hold two generations' kernels and initrds (GRUB copies them there; ~60 MB each is an estimate, so a warning)",
    ),
    rule(
        "waydroid-nftables",
        Severity::Error,
        "a Waydroid session with the nftables firewall on a release whose Waydroid needs iptables",
    ),
    rule(
        "state-version-newer",
        Severity::Error,
        "state_version is newer than the release (it is the release the machine was first installed with)",
    ),
    rule(
        "state-version-older",
        Severity::Info,
        "state_version is older than the release: the machine was installed earlier and follows a newer nixpkgs",
    ),
    rule(
        "hostname-invalid",
        Severity::Error,
        "the host name is not a valid host name (letters, digits, `-`, at most 63)",
    ),
    rule(
        "partition-number",
        Severity::Error,
        "partition numbers are duplicated or out of disk order",
    ),
    rule(
        "partition-label-duplicate",
        Severity::Error,
        "two partitions share a GPT name",
    ),
    rule(
        "partition-label-invalid",
        Severity::Error,
        "a GPT name is empty, too long (36) or holds control characters",
    ),
    rule(
        "partition-rest-twice",
        Severity::Error,
        "more than one partition takes the rest of the disk",
    ),
    rule(
        "partition-size-zero",
        Severity::Error,
        "a partition has size 0",
    ),
    rule(
        "partition-overlap",
        Severity::Error,
        "a partition starts before the previous one ends",
    ),
    rule(
        "partition-exceeds-disk",
        Severity::Error,
        "the partitions do not fit on the disk",
    ),
    rule(
        "partition-no-content",
        Severity::Error,
        "a partition has neither a filesystem nor the LUKS container, or both",
    ),
    rule(
        "foreign-formatted",
        Severity::Error,
        "a partition owned by another system is marked to be formatted",
    ),
    rule(
        "esp-shared-formatted",
        Severity::Error,
        "an ESP shared with another system is marked to be formatted",
    ),
    rule(
        "windows-too-small",
        Severity::Warning,
        "the Windows partition is under Microsoft's 64 GB minimum",
    ),
    rule(
        "uuid-malformed",
        Severity::Error,
        "a UUID does not have its filesystem's form",
    ),
    rule(
        "label-too-long",
        Severity::Error,
        "a filesystem label is longer than the filesystem allows",
    ),
    rule(
        "luks-partition",
        Severity::Error,
        "the LUKS container's partition is missing or not marked `luks = true`",
    ),
    rule(
        "kdf-weakened",
        Severity::Warning,
        "the LUKS key derivation is weaker than argon2id with cryptsetup's defaults",
    ),
    rule(
        "keyfile-driver-missing",
        Severity::Error,
        "the USB keyfile's filesystem driver is not in the initrd",
    ),
    rule(
        "keyfile-usb-missing",
        Severity::Warning,
        "the initrd lacks the USB drivers needed to read the keyfile stick",
    ),
    rule(
        "keyfile-password-fallback",
        Severity::Info,
        "how the container is unlocked when the stick is absent",
    ),
    rule(
        "subvolume-duplicate",
        Severity::Error,
        "a subvolume is declared twice",
    ),
    rule(
        "subvolume-parent-undeclared",
        Severity::Error,
        "a nested subvolume's parent is not declared",
    ),
    rule(
        "estimates-exceed-pool",
        Severity::Warning,
        "the subvolume estimates' upper bounds exceed the pool",
    ),
    rule(
        "estimates-fit-pool",
        Severity::Info,
        "the subvolume estimates against the pool, with the figures",
    ),
    rule(
        "mount-duplicate",
        Severity::Error,
        "two mounts share a mount point",
    ),
    rule(
        "mount-source-undeclared",
        Severity::Error,
        "a mount's subvolume or partition is not declared",
    ),
    rule(
        "mount-option-invalid",
        Severity::Error,
        "a mount option cannot be represented (`,`, space, control characters)",
    ),
    rule(
        "root-not-tmpfs",
        Severity::Warning,
        "the root filesystem is not a tmpfs, so nothing is wiped at boot",
    ),
    rule(
        "tmpfs-malformed",
        Severity::Error,
        "the tmpfs root's size or mode is not in tmpfs syntax (the kernel would refuse to mount /)",
    ),
    rule(
        "tmpfs-size",
        Severity::Warning,
        "the tmpfs root may grow larger than the RAM",
    ),
    rule(
        "needed-for-boot",
        Severity::Error,
        "a filesystem needed at boot is not marked `needed_for_boot`",
    ),
    rule(
        "persist-not-persistent",
        Severity::Error,
        "the persistence root is on no persistent filesystem",
    ),
    rule(
        "entry-covered-by-mount",
        Severity::Warning,
        "a persistence entry is already on a persistent mount",
    ),
    rule(
        "covered-by-wrong",
        Severity::Error,
        "`covered_by` names a mount that does not persist the entry",
    ),
    rule(
        "entry-duplicate",
        Severity::Error,
        "a persistence entry is listed twice",
    ),
    rule(
        "config-on-tmpfs",
        Severity::Warning,
        "the configuration's location (/etc/nixos) is not persisted",
    ),
    rule(
        "user-undeclared",
        Severity::Warning,
        "the primary user or a persistence user is not declared in [[user]]",
    ),
    rule(
        "user-no-password",
        Severity::Warning,
        "a user has no password file while users are immutable",
    ),
    rule(
        "password-file-not-persistent",
        Severity::Error,
        "a password file is lost at reboot",
    ),
    rule(
        "session-invalid",
        Severity::Error,
        "a desktop session is incomplete, duplicated or cannot be written safely",
    ),
    rule(
        "session-default-unknown",
        Severity::Error,
        "the default session is not one of the sessions",
    ),
    rule(
        "boot-entry-invalid",
        Severity::Error,
        "a boot entry names an unknown system or cannot be written safely",
    ),
    rule(
        "foreign-unreachable",
        Severity::Warning,
        "a foreign system has no boot entry",
    ),
    rule(
        "not-dual-boot",
        Severity::Info,
        "a standalone host shares its disk with foreign systems",
    ),
    rule(
        "keyfile-needs-systemd",
        Severity::Error,
        "the USB keyfile needs systemd in stage 1",
    ),
    rule(
        "esp-too-small",
        Severity::Warning,
        "rEFInd copies kernels to an ESP too small for them",
    ),
    rule(
        "container-invalid",
        Severity::Error,
        "a package, image, app id or VM name cannot be written where it goes",
    ),
    rule(
        "name-duplicate",
        Severity::Error,
        "a name that becomes a Nix attribute, a file or a device link (user, container, microVM, filesystem UUID) is given twice",
    ),
    rule(
        "rootless-podman-storage",
        Severity::Info,
        "rootless Podman keeps images in each user's home, not /var/lib/containers",
    ),
    rule(
        "text-unrepresentable",
        Severity::Error,
        "a value holds characters its file format cannot carry",
    ),
];

const fn rule(code: &'static str, severity: Severity, summary: &'static str) -> Rule {
    Rule {
        code,
        severity,
        summary,
    }
}

fn severity_of(code: &str) -> Severity {
    RULES
        .iter()
        .find(|r| r.code == code)
        .map_or(Severity::Error, |r| r.severity)
}

/// One finding.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub hint: Option<String>,
    /// Key path in host.toml (`partition[4].size`).
    pub at: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
}

/// Run every rule against today's date.
pub fn check(loaded: &Loaded) -> Vec<Finding> {
    check_on(loaded, Date::today())
}

/// Run every rule as if today were `today`. Findings come sorted by
/// severity, then by place in the file.
pub fn check_on(loaded: &Loaded, today: Date) -> Vec<Finding> {
    let mut c = Checker {
        loaded,
        out: Vec::new(),
    };
    let s = &loaded.spec;
    c.text(&loaded.text);
    c.release(s, today);
    c.host(s);
    c.partitions(s);
    c.luks(s);
    c.btrfs(s);
    c.mounts(s);
    c.persistence(s);
    c.users(s);
    c.desktop(s);
    c.boot(s);
    c.containers(s);
    let mut out = c.out;
    out.sort_by(|a, b| {
        a.severity
            .cmp(&b.severity)
            .then(
                a.line
                    .unwrap_or(usize::MAX)
                    .cmp(&b.line.unwrap_or(usize::MAX)),
            )
            .then(a.code.cmp(b.code))
    });
    out
}

/// Findings for a spec that could not be built: one per problem.
pub fn findings_from_error(err: &SpecError) -> Vec<Finding> {
    err.problems
        .iter()
        .map(|p| Finding {
            code: SPEC_SHAPE,
            severity: Severity::Error,
            message: p.problem.message.clone(),
            hint: p.problem.hint.clone(),
            at: p.problem.at.to_string(),
            line: p.line,
            column: p.column,
        })
        .collect()
}

/// Whether any finding is an error.
pub fn has_errors(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.severity == Severity::Error)
}

struct Checker<'a> {
    loaded: &'a Loaded,
    out: Vec<Finding>,
}

fn key(k: &str) -> KeyPath {
    KeyPath::root().key(k)
}

/// Characters no line-based file (desktop entry, GRUB menu, crypttab) can hold.
/// The first release of `r`'s table that has `path`.
fn first_with(r: Release, path: &str) -> Release {
    r.siblings()
        .into_iter()
        .find(|x| x.has(path))
        .unwrap_or_else(|| r.newest())
}

fn has_control(s: &str) -> bool {
    s.chars().any(|c| c.is_control())
}

impl Checker<'_> {
    fn add(&mut self, code: &'static str, at: KeyPath, message: String, hint: Option<String>) {
        let (line, column) = match self.loaded.line_col(&at) {
            Some((l, c)) => (Some(l), Some(c)),
            None => (None, None),
        };
        self.out.push(Finding {
            code,
            severity: severity_of(code),
            message,
            hint,
            at: at.to_string(),
            line,
            column,
        });
    }

    /// A name that must be unique, given twice: the finding is at the
    /// second, and names the place of the first.
    fn duplicate(&mut self, at: KeyPath, first: KeyPath, what: &str, hint: &str) {
        let place = match self.loaded.line_col(&first) {
            Some((l, c)) => format!("{}:{l}:{c} ({first})", self.loaded.source_name),
            None => first.to_string(),
        };
        self.add(
            "name-duplicate",
            at,
            format!("{what} is already used at {place}"),
            Some(hint.to_owned()),
        );
    }

    /// Every string of the file (keys too) is text: no control character
    /// (a line break included), no noncharacter (U+FFFE, U+FFFF, ...), no
    /// U+2028/U+2029. No format tabula writes carries them all the same
    /// way (Nix, `.desktop`, GRUB, fstab, XML).
    fn text(&mut self, text: &str) {
        fn walk(out: &mut Vec<(KeyPath, String)>, at: &KeyPath, v: &toml::Value) {
            match v {
                toml::Value::String(s) if !s.chars().all(crate::landing::text_char) => {
                    out.push((at.clone(), s.clone()));
                }
                toml::Value::Table(t) => {
                    for (k, v) in t {
                        let kat = at.key(k);
                        if !k.chars().all(crate::landing::text_char) {
                            out.push((kat.clone(), k.clone()));
                        }
                        match v {
                            toml::Value::Array(a) => {
                                for (i, x) in a.iter().enumerate() {
                                    walk(out, &at.index(k, i), x);
                                }
                            }
                            v => walk(out, &kat, v),
                        }
                    }
                }
                toml::Value::Array(a) => {
                    for (i, x) in a.iter().enumerate() {
                        walk(out, &at.index_only(i), x);
                    }
                }
                _ => {}
            }
        }
        let Ok(v) = text.parse::<toml::Value>() else {
            return;
        };
        let mut bad = Vec::new();
        walk(&mut bad, &KeyPath::root(), &v);
        for (at, s) in bad {
            let c = s
                .chars()
                .find(|c| !crate::landing::text_char(*c))
                .unwrap_or('\0');
            self.add(
                "text-unrepresentable",
                at,
                format!(
                    "`{}` holds U+{:04X}, a control, noncharacter or line separator that the files tabula writes cannot carry",
                    crate::landing::shown(&s),
                    u32::from(c)
                ),
                Some("keep the value on one line, in printable characters".into()),
            );
        }
    }

    fn release(&mut self, s: &HostSpec, today: Date) {
        let r = s.host.release;
        let unconfirmed = |x: Release| {
            if x.eol_confirmed() {
                String::new()
            } else {
                " (by the usual cadence; not yet announced)".to_owned()
            }
        };
        if let Some(eol) = Date::parse(r.end_of_life()) {
            if today > eol {
                let supported = r
                    .siblings()
                    .into_iter()
                    .rfind(|x| Date::parse(x.end_of_life()).is_some_and(|d| d >= today));
                let newest = r.newest();
                let hint = match supported {
                    Some(x) => format!(
                        "set release = \"{x}\", the newest supported release (until {}{}); tabula renders the option names of each release. Keep state_version as it is",
                        x.end_of_life(),
                        unconfirmed(x)
                    ),
                    None if newest == r => "move to a supported NixOS release; tabula knows none newer".into(),
                    None => format!(
                        "every release tabula knows is past its end of life; {newest} is the newest (ended {})",
                        newest.end_of_life()
                    ),
                };
                self.add(
                    "release-eol",
                    key("host").key("release"),
                    format!(
                        "NixOS {r} reached its end of life on {}: it gets no security updates",
                        r.end_of_life()
                    ),
                    Some(hint),
                );
            }
        }
        self.waydroid_nftables(s, r);
        self.boot_generations(s);
        self.surface_kernel(s);
        let sv = s.host.state_version.as_str();
        if let Some(k) = crate::release::version_key(sv) {
            let rk = crate::release::version_key(r.as_str()).unwrap_or((0, 0));
            if k > rk {
                self.add(
                    "state-version-newer",
                    key("host").key("state_version"),
                    format!(
                        "state_version {sv} is newer than release {r}: the machine cannot have been installed with a NixOS that its nixpkgs does not have yet"
                    ),
                    Some(format!(
                        "set state_version to the release the machine was first installed with (at most {r}), or raise release"
                    )),
                );
            } else if k < rk {
                self.add(
                    "state-version-older",
                    key("host").key("state_version"),
                    format!(
                        "state_version {sv} is older than release {r}: the machine was installed with {sv} and now follows nixpkgs {}. That is how it should be: `system.stateVersion` keeps the data formats of {sv} (databases, state directories) and must not follow the release",
                        r.branch()
                    ),
                    Some(
                        "nothing to do; change state_version only after reading every stateVersion note of the releases in between"
                            .into(),
                    ),
                );
            }
        }
        if s.boot.loader == Loader::Refind && !r.has("boot.loader.refind") {
            self.add(
                "release-unsupported",
                key("boot").key("loader"),
                format!(
                    "tabula renders rEFInd (boot.loader.refind) only from NixOS {}; {r} has no such module it can rely on",
                    first_with(r, "boot.loader.refind")
                ),
                Some(
                    "use loader = \"grub\" (it chain-loads the other systems) or a newer release"
                        .into(),
                ),
            );
        }
    }

    /// Before 25.11 the nftables module blacklists `ip_tables` and
    /// `waydroid-net.sh` (iptables) fails: the Waydroid session never starts
    /// (waydroid/waydroid#2094). From 25.11 `virtualisation.waydroid.package`
    /// defaults to waydroid-nftables when nftables is on.
    fn waydroid_nftables(&mut self, s: &HostSpec, r: Release) {
        if r.has("virtualisation.waydroid.package")
            || s.security.firewall.as_deref() != Some("nftables")
        {
            return;
        }
        let Some(d) = &s.desktop else { return };
        let Some(i) = d
            .sessions
            .iter()
            .position(|x| x.package.as_deref() == Some("waydroid"))
        else {
            return;
        };
        let first = first_with(r, "virtualisation.waydroid.package");
        self.add(
            "waydroid-nftables",
            key("desktop").index("session", i).key("package"),
            format!(
                "on NixOS {r} the nftables firewall blacklists ip_tables, so waydroid-net.sh fails and the Waydroid session never starts (waydroid/waydroid#2094)"
            ),
            Some(format!(
                "set release = \"{first}\" or newer (Waydroid then uses waydroid-nftables), or firewall = \"iptables\" in [security]"
            )),
        );
    }

    /// nixos-hardware's Surface profiles build linux-surface
    /// (`microsoft/surface/common/default.nix`): no binary cache has it.
    fn surface_kernel(&mut self, s: &HostSpec) {
        let Some(p) = s.hardware.nixos_hardware.as_deref() else {
            return;
        };
        if !p.starts_with("microsoft-surface") {
            return;
        }
        let ram = s
            .host
            .ram
            .map(|r| format!(" on this machine's {}", r.human()))
            .unwrap_or_default();
        self.add(
            "kernel-built-locally",
            key("hardware").key("nixos_hardware"),
            format!(
                "the `{}` profile builds the patched linux-surface kernel, which no binary cache holds: the first build (and every kernel update) compiles a kernel, one to several hours{ram} with several GB free under /nix",
                crate::landing::shown(p)
            ),
            Some(
                "build on a faster machine with `nixos-rebuild switch --flake .#HOST --build-host USER@BUILDER`, or set hardware.microsoft-surface.kernelVersion / boot.kernelPackages in custom.nix to use the stock (cached) kernel at the cost of Surface-specific drivers"
                    .into(),
            ),
        );
    }

    /// GRUB keeps each generation's kernel and initrd on /boot.
    fn boot_generations(&mut self, s: &HostSpec) {
        use crate::model::{BOOT_GENERATIONS_MIN, BOOT_PER_GENERATION, BOOT_RESERVE};
        if s.boot.loader != Loader::Grub {
            return;
        }
        let Some(n) = s.boot_generations() else {
            return;
        };
        if n >= BOOT_GENERATIONS_MIN {
            return;
        }
        let Some(MountSource::Partition { partition }) = s.mount("/boot").map(|m| &m.source) else {
            return;
        };
        let Some(p) = s.partition(partition) else {
            return;
        };
        let need = BOOT_RESERVE + BOOT_GENERATIONS_MIN * BOOT_PER_GENERATION;
        self.add(
            "boot-too-small",
            KeyPath::root().index("partition", p.index).key("size"),
            format!(
                "/boot ({}) holds {n} generation(s): GRUB copies every generation's kernel and initrd there (~{} MB each), so there is none to roll back to",
                crate::landing::shown(&p.label),
                BOOT_PER_GENERATION / 1_000_000
            ),
            Some(format!(
                "make partition `{}` at least {} MB",
                crate::landing::shown(&p.label),
                need / 1_000_000
            )),
        );
    }

    fn host(&mut self, s: &HostSpec) {
        let n = &s.host.name;
        let ok = !n.is_empty()
            && n.len() <= 63
            && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !n.starts_with('-')
            && !n.ends_with('-');
        if !ok {
            self.add(
                "hostname-invalid",
                key("host").key("name"),
                format!("`{}` is not a valid host name", crate::landing::shown(n)),
                Some("use letters, digits and `-` (at most 63), e.g. \"surface-pro-8\"".into()),
            );
        }
    }

    fn partitions(&mut self, s: &HostSpec) {
        let at = |i: usize| KeyPath::root().index("partition", i);
        let mut labels: BTreeMap<&str, usize> = BTreeMap::new();
        let mut last_number = 0;
        let mut numbers = BTreeSet::new();
        let rest: Vec<usize> = s
            .partitions
            .iter()
            .filter(|p| p.size == PartSize::Rest)
            .map(|p| p.index)
            .collect();
        for &i in rest.iter().skip(1) {
            self.add(
                "partition-rest-twice",
                at(i).key("size"),
                format!(
                    "partition `{}` also takes the rest of the disk; only one can",
                    s.partitions[i].label
                ),
                Some("give every partition but one a size".into()),
            );
        }
        let mut uuids: BTreeMap<String, usize> = BTreeMap::new();
        for p in &s.partitions {
            let uuid = p.filesystem.as_ref().and_then(|f| f.uuid.as_deref());
            if let Some(u) = uuid {
                if let Some(prev) = uuids.insert(u.to_ascii_lowercase(), p.index) {
                    self.duplicate(
                        at(p.index).key("filesystem").key("uuid"),
                        at(prev).key("filesystem").key("uuid"),
                        &format!("filesystem UUID `{u}`"),
                        "filesystems are mounted by /dev/disk/by-uuid/UUID: give each its own",
                    );
                }
            }
            if !numbers.insert(p.number)
                || p.number <= last_number
                || p.number == 0
                || p.number > 128
            {
                self.add(
                    "partition-number",
                    at(p.index).key("number"),
                    format!(
                        "partition number {} is duplicated, zero or out of disk order",
                        p.number
                    ),
                    Some("number partitions 1, 2, 3, ... in the order they lie on the disk".into()),
                );
            }
            last_number = last_number.max(p.number);
            if let Some(prev) = labels.insert(&p.label, p.index) {
                self.add(
                    "partition-label-duplicate",
                    at(p.index).key("label"),
                    format!(
                        "partition label `{}` is also used by partition[{prev}]",
                        p.label
                    ),
                    Some(
                        "mounts and the LUKS container find partitions by label: make each unique"
                            .into(),
                    ),
                );
            }
            if p.label.is_empty() || p.label.encode_utf16().count() > 36 || has_control(&p.label) {
                self.add(
                    "partition-label-invalid",
                    at(p.index).key("label"),
                    format!("GPT name `{}` is empty, longer than 36 characters or holds control characters", crate::landing::shown(&p.label)),
                    Some("use a short name such as \"boot\"".into()),
                );
            }
            let has_fs = p.filesystem.is_some();
            if has_fs == p.luks && p.owner.is_nixos() {
                self.add(
                    "partition-no-content",
                    at(p.index),
                    format!(
                        "NixOS partition `{}` must hold either a filesystem or the LUKS container{}",
                        p.label,
                        if has_fs { ", not both" } else { "" }
                    ),
                    Some("add `filesystem = { type = \"ext4\" }` or `luks = true`".into()),
                );
            }
            if !p.owner.is_nixos() && p.format {
                self.add(
                    "foreign-formatted",
                    at(p.index).key("format"),
                    format!("partition `{}` belongs to {} but is marked to be formatted", p.label, p.owner.name()),
                    Some("remove `format = true`: tabula verifies foreign partitions and never formats them".into()),
                );
            }
            if p.kind == PartType::Esp && !p.shared_with.is_empty() && p.format {
                self.add(
                    "esp-shared-formatted",
                    at(p.index).key("format"),
                    format!(
                        "the ESP `{}` is shared with {} but marked to be formatted: that would erase their boot loaders",
                        p.label,
                        p.shared_with.join(", ")
                    ),
                    Some("set `format = false`".into()),
                );
            }
            if p.owner.name().eq_ignore_ascii_case("windows") && p.kind == PartType::WindowsData {
                if let PartSize::Fixed(size) = p.size {
                    if size.as_u64() < WINDOWS_11_MIN {
                        self.add(
                            "windows-too-small",
                            at(p.index).key("size"),
                            format!("the Windows partition is {size}, under Microsoft's 64 GB minimum for Windows 11"),
                            Some("Windows 11 may refuse to install or update; give it 64GB or more if it must be updated".into()),
                        );
                    }
                }
            }
            if let Some(fs) = &p.filesystem {
                if let Some(uuid) = &fs.uuid {
                    self.uuid(fs.kind, uuid, at(p.index).key("filesystem").key("uuid"));
                }
                if let Some(label) = &fs.label {
                    let max = match fs.kind {
                        FsType::Vfat => 11,
                        FsType::Ext4 => 16,
                        FsType::Exfat => 15,
                        FsType::Xfs => 12,
                        FsType::Ntfs => 128,
                        FsType::Btrfs | FsType::Swap => 255,
                    };
                    if label.len() > max || has_control(label) {
                        self.add(
                            "label-too-long",
                            at(p.index).key("filesystem").key("label"),
                            format!(
                                "{} labels hold at most {max} bytes; `{}` has {}",
                                fs.kind,
                                crate::landing::shown(label),
                                label.len()
                            ),
                            Some("shorten the label".into()),
                        );
                    }
                }
            }
        }
        let extents = s.extents();
        let mut prev_end = 0u64;
        let mut fits = true;
        let mut first_misfit = None;
        for (p, e) in s.partitions.iter().zip(&extents) {
            match e {
                None if p.size == PartSize::Fixed(crate::Size::bytes(0)) => self.add(
                    "partition-size-zero",
                    at(p.index).key("size"),
                    format!("partition `{}` has size 0", p.label),
                    Some("give it a size, or remove it".into()),
                ),
                // A second "rest" is already reported as partition-rest-twice.
                None if p.size == PartSize::Rest && rest.len() > 1 => {}
                None => {
                    fits = false;
                    first_misfit.get_or_insert(p);
                }
                Some(e) => {
                    if e.start < prev_end {
                        self.add(
                            "partition-overlap",
                            at(p.index).key("start"),
                            format!(
                                "partition `{}` starts at {} but the previous one ends at {}",
                                p.label,
                                crate::Size::bytes(e.start),
                                crate::Size::bytes(prev_end)
                            ),
                            Some("move its start or shrink the partition before it".into()),
                        );
                    }
                    prev_end = e.end();
                }
            }
        }
        if !fits {
            let fixed: u64 = s
                .partitions
                .iter()
                .map(|p| match p.size {
                    PartSize::Fixed(x) => crate::model::align_up(x.as_u64()),
                    PartSize::Rest => 0,
                })
                .sum();
            let first = first_misfit.map_or(String::new(), |p| {
                format!("partition `{}` does not fit: ", p.label)
            });
            self.add(
                "partition-exceeds-disk",
                key("disk").key("size"),
                format!(
                    "{first}the partitions need {} (plus any \"rest\") but the disk has {} usable",
                    crate::Size::bytes(fixed),
                    crate::Size::bytes(s.usable_end().saturating_sub(crate::model::ALIGN))
                ),
                Some("shrink a partition or check the disk size".into()),
            );
        }
    }

    fn uuid(&mut self, kind: FsType, uuid: &str, at: KeyPath) {
        if !kind.uuid_ok(uuid) {
            self.add(
                "uuid-malformed",
                at,
                format!(
                    "`{}` is not {} {kind} UUID",
                    crate::landing::shown(uuid),
                    article(kind.name())
                ),
                Some(format!(
                    "{} {kind} UUID is {}",
                    article(kind.name()),
                    kind.uuid_form()
                )),
            );
        }
    }

    fn luks(&mut self, s: &HostSpec) {
        let Some(l) = &s.luks else { return };
        let at = key("luks");
        match s.partition(&l.partition) {
            None => self.add(
                "luks-partition",
                at.key("partition"),
                format!("no partition is labelled `{}`", l.partition),
                Some("name the partition that holds the container".into()),
            ),
            Some(p) if !p.luks => self.add(
                "luks-partition",
                KeyPath::root().index("partition", p.index).key("luks"),
                format!(
                    "partition `{}` holds the LUKS container but is not marked `luks = true`",
                    p.label
                ),
                Some("add `luks = true` to it".into()),
            ),
            Some(_) => {}
        }
        if !crate::model::is_rfc4122(&l.uuid) {
            self.add(
                "uuid-malformed",
                at.key("uuid"),
                format!("`{}` is not a LUKS UUID", crate::landing::shown(&l.uuid)),
                Some("a LUKS UUID is an RFC 4122 UUID (8-4-4-4-12 hex digits)".into()),
            );
        }
        if l.name.is_empty() || l.name.contains(['/', ' ']) || has_control(&l.name) {
            self.add(
                "text-unrepresentable",
                at.key("name"),
                format!(
                    "`{}` cannot be a device-mapper name",
                    crate::landing::shown(&l.name)
                ),
                Some("use a plain name such as \"pool\"".into()),
            );
        }
        let weakened = [
            (l.kdf != Kdf::Argon2id).then(|| format!("kdf = \"{}\"", l.kdf.name())),
            l.pbkdf_iterations
                .map(|n| format!("pbkdf_iterations = {n}")),
            l.pbkdf_memory_kib
                .map(|n| format!("pbkdf_memory_kib = {n}")),
            l.pbkdf_time_ms.map(|n| format!("pbkdf_time_ms = {n}")),
        ];
        let weakened: Vec<String> = weakened.into_iter().flatten().collect();
        if !weakened.is_empty() {
            self.add(
                "kdf-weakened",
                at.key("kdf"),
                format!(
                    "the key derivation is weakened ({}): fine for tests, not for a real disk",
                    weakened.join(", ")
                ),
                Some("remove these keys to use argon2id with cryptsetup's benchmarked cost".into()),
            );
        }
        if let Some(k) = &l.keyfile {
            let kat = at.key("keyfile");
            self.uuid(k.fs_type, &k.fs_uuid, kat.key("fs_uuid"));
            let modules: BTreeSet<&str> = s
                .hardware
                .initrd_modules
                .iter()
                .map(String::as_str)
                .collect();
            let driver = k.fs_type.kernel_module();
            if !modules.contains(driver) {
                self.add(
                    "keyfile-driver-missing",
                    kat.key("fs_type"),
                    format!(
                        "the keyfile stick is {} but `{driver}` is not in hardware.initrd_modules: stage 1 cannot read the key",
                        k.fs_type
                    ),
                    Some(format!("add \"{driver}\" to initrd_modules under [hardware]")),
                );
            }
            let usb: Vec<&str> = ["xhci_pci", "usb_storage", "uas"]
                .into_iter()
                .filter(|m| !modules.contains(m))
                .collect();
            if !usb.is_empty() {
                self.add(
                    "keyfile-usb-missing",
                    KeyPath::root().key("hardware").key("initrd_modules"),
                    format!("the initrd lacks {} to see the USB stick", usb.join(", ")),
                    Some(format!(
                        "add {} to initrd_modules",
                        usb.iter()
                            .map(|m| format!("\"{m}\""))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                );
            }
            let how = if k.password_fallback {
                format!(
                    "stage 1 waits {} s for the stick {}, then asks for the passphrase",
                    k.timeout.unwrap_or(10),
                    k.fs_uuid
                )
            } else {
                "without the stick the container stays locked (password_fallback = false)"
                    .to_owned()
            };
            self.add("keyfile-password-fallback", kat.clone(), how, None);
            if !s.boot.initrd_systemd {
                self.add(
                    "keyfile-needs-systemd",
                    KeyPath::root().key("boot").key("initrd_systemd"),
                    "the USB keyfile is read with crypttab's `file:UUID=` form and keyFileTimeout, which need systemd in stage 1".into(),
                    Some("set initrd_systemd = true under [boot]".into()),
                );
            }
            let p = k.path.as_str();
            if p.contains([':', ' ', '\t']) || has_control(p) {
                self.add(
                    "text-unrepresentable",
                    kat.key("path"),
                    format!("the keyfile path `{}` holds `:` or whitespace, which crypttab's `file:device` form cannot carry", crate::landing::shown(p)),
                    Some("rename the key file on the stick, e.g. /keys/host.key".into()),
                );
            }
        }
    }

    fn btrfs(&mut self, s: &HostSpec) {
        let Some(b) = &s.btrfs else { return };
        let mut seen = BTreeSet::new();
        for sv in &b.subvolumes {
            let at = KeyPath::root().key("btrfs").index("subvolume", sv.index);
            if !seen.insert(sv.path.as_str()) {
                self.add(
                    "subvolume-duplicate",
                    at.key("path"),
                    format!("subvolume `{}` is declared twice", sv.path),
                    None,
                );
            }
            if let Some(parent) = sv.parent() {
                if b.subvolume(parent).is_none() {
                    self.add(
                        "subvolume-parent-undeclared",
                        at.key("path"),
                        format!(
                            "subvolume `{}` is nested in `{parent}`, which is not declared",
                            sv.path
                        ),
                        Some(format!(
                            "add a [[btrfs.subvolume]] with path = \"{parent}\" before it"
                        )),
                    );
                }
            }
        }
        if let Some(u) = &b.uuid {
            self.uuid(FsType::Btrfs, u, key("btrfs").key("uuid"));
        }
        let (lo, hi) = b
            .subvolumes
            .iter()
            .filter_map(|s| s.estimate)
            .fold((0u64, 0u64), |(lo, hi), e| {
                (lo + e.min.as_u64(), hi + e.max.as_u64())
            });
        if hi == 0 {
            return;
        }
        let Some(pool) = s.pool_size() else { return };
        let figures = format!(
            "the subvolume estimates add up to {}–{}; the pool holds {}",
            crate::Size::bytes(lo),
            crate::Size::bytes(hi),
            crate::Size::bytes(pool)
        );
        if hi > pool {
            self.add(
                "estimates-exceed-pool",
                key("btrfs"),
                format!("{figures}: the upper bounds exceed it by {}", crate::Size::bytes(hi - pool)),
                Some("btrfs shares space between subvolumes, so this only bites if they all grow to their upper bound; enable quotas or trim the estimates".into()),
            );
        } else {
            self.add(
                "estimates-fit-pool",
                key("btrfs"),
                format!(
                    "{figures} ({} left at the upper bounds)",
                    crate::Size::bytes(pool - hi)
                ),
                None,
            );
        }
    }

    fn mounts(&mut self, s: &HostSpec) {
        let mut seen: BTreeMap<&AbsPath, usize> = BTreeMap::new();
        for m in &s.mounts {
            let at = KeyPath::root().index("mount", m.index);
            if let Some(prev) = seen.insert(&m.path, m.index) {
                self.add(
                    "mount-duplicate",
                    at.key("path"),
                    format!("`{}` is mounted twice (also mount[{prev}])", m.path),
                    Some("keep one mount per mount point".into()),
                );
            }
            match &m.source {
                MountSource::Subvolume { subvolume } => {
                    let declared = s
                        .btrfs
                        .as_ref()
                        .is_some_and(|b| b.subvolume(subvolume).is_some());
                    if !declared {
                        self.add(
                            "mount-source-undeclared",
                            at.key("subvolume"),
                            format!(
                                "`{}` mounts subvolume `{subvolume}`, which is not declared",
                                m.path
                            ),
                            Some(format!(
                                "add a [[btrfs.subvolume]] with path = \"{subvolume}\""
                            )),
                        );
                    }
                }
                MountSource::Partition { partition } => match s.partition(partition) {
                    None => self.add(
                        "mount-source-undeclared",
                        at.key("partition"),
                        format!(
                            "`{}` mounts partition `{partition}`, which is not declared",
                            m.path
                        ),
                        Some(
                            match crate::did_you_mean(
                                partition,
                                &s.partitions
                                    .iter()
                                    .map(|p| p.label.as_str())
                                    .collect::<Vec<_>>(),
                            ) {
                                Some(l) => format!("did you mean `{l}`?"),
                                None => "name a partition by its label".into(),
                            },
                        ),
                    ),
                    Some(p) if p.filesystem.is_none() => self.add(
                        "mount-source-undeclared",
                        at.key("partition"),
                        format!(
                            "`{}` mounts partition `{partition}`, which declares no filesystem",
                            m.path
                        ),
                        Some("add `filesystem = { type = ... }` to the partition".into()),
                    ),
                    Some(_) => {}
                },
                MountSource::Tmpfs { size, mode } => {
                    // The one tmpfs grammar (size.rs). The kernel's memparse
                    // wraps around past u64; 0 means no limit at all; a
                    // percentage is of the RAM.
                    let size_ok = match crate::size::parse_tmpfs(size) {
                        Some(crate::size::TmpfsSize::Percent(p)) => (1..=100).contains(&p),
                        Some(crate::size::TmpfsSize::Bytes(b)) => b > 0,
                        None => false,
                    };
                    let mode_ok = mode.as_deref().is_none_or(|m| {
                        (3..=4).contains(&m.len()) && m.bytes().all(|b| (b'0'..=b'7').contains(&b))
                    });
                    if !size_ok || !mode_ok {
                        self.add(
                            "tmpfs-malformed",
                            at.key("tmpfs"),
                            format!(
                                "tmpfs size `{}` / mode `{}` is not in tmpfs syntax",
                                crate::landing::shown(size),
                                mode.as_deref().unwrap_or("").escape_debug()
                            ),
                            Some("write size like \"2G\" (k, m, g, t, p or e; not 0, which is no limit; at most 16 EiB) or \"25%\" (1-100) and mode like \"755\"".into()),
                        );
                    } else if let (Some(ram), Some(bytes)) = (s.host.ram, tmpfs_bytes(size)) {
                        if bytes > ram.as_u64() {
                            self.add(
                                "tmpfs-size",
                                at.key("tmpfs").key("size"),
                                format!("the tmpfs root may grow to {size}, more than the {ram} of RAM"),
                                Some("lower it: a full tmpfs root pushes the machine into swap or the OOM killer".into()),
                            );
                        }
                    }
                }
            }
            for (i, o) in m.options.iter().enumerate() {
                if let Some(why) = crate::landing::mount_option_problem(o) {
                    self.add(
                        "mount-option-invalid",
                        at.key("options").index_only(i),
                        format!("mount option `{}` cannot be written: {why}", crate::landing::shown(o)),
                        Some("give each option as its own list element, without quotes: [\"noatime\", \"umask=0077\"]".into()),
                    );
                }
            }
        }
        if let Some(b) = &s.btrfs {
            for (i, o) in b.mount_options.iter().enumerate() {
                if let Some(why) = crate::landing::mount_option_problem(o) {
                    self.add(
                        "mount-option-invalid",
                        key("btrfs").key("mount_options").index_only(i),
                        format!(
                            "mount option `{}` cannot be written: {why}",
                            crate::landing::shown(o)
                        ),
                        Some("give each option as its own list element".into()),
                    );
                }
            }
            if let Some(c) = &b.compression {
                let ok = matches!(c.split(':').next(), Some("zstd" | "lzo" | "zlib" | "none"))
                    && c.split_once(':')
                        .is_none_or(|(_, l)| l.parse::<u8>().is_ok());
                if !ok {
                    self.add(
                        "mount-option-invalid",
                        key("btrfs").key("compression"),
                        format!(
                            "compression `{}` is not one btrfs knows",
                            crate::landing::shown(c)
                        ),
                        Some("use zstd, zstd:N (1-15), lzo, zlib or none".into()),
                    );
                }
            }
        }
        match s.mount("/") {
            Some(m) if m.is_tmpfs() => {}
            _ => self.add(
                "root-not-tmpfs",
                key("mount"),
                "`/` is not a tmpfs: nothing is wiped at boot, so impermanence does nothing".into(),
                Some("add a [[mount]] with path = \"/\" and tmpfs = { size = \"2G\", mode = \"755\" }".into()),
            ),
        }
        // What stage 1 must mount before the system can activate.
        let mut needed: Vec<(AbsPath, String)> = Vec::new();
        for p in ["/nix", "/var/lib", "/var/log"] {
            if let Ok(p) = AbsPath::parse(p) {
                needed.push((
                    p,
                    "activation needs it before systemd mounts anything".into(),
                ));
            }
        }
        if let Some(ps) = &s.persistence {
            needed.push((
                ps.root.clone(),
                "the impermanence module binds from it during activation".into(),
            ));
        }
        for u in &s.users {
            if let Some(f) = u
                .hashed_password_file
                .as_deref()
                .and_then(|f| AbsPath::parse(f).ok())
            {
                needed.push((
                    f,
                    format!(
                        "user `{}`'s password file is read during activation",
                        u.name
                    ),
                ));
            }
        }
        let mut flagged = BTreeSet::new();
        for (path, why) in needed {
            if let Some(m) = s.mount_holding(&path) {
                if !m.is_tmpfs() && !m.needed_for_boot && flagged.insert(m.index) {
                    let what = if m.path == path {
                        String::new()
                    } else {
                        format!(" holds {path}:")
                    };
                    self.add(
                        "needed-for-boot",
                        KeyPath::root().index("mount", m.index).key("path"),
                        format!(
                            "`{}`{what} {why}, but it is not marked needed_for_boot",
                            m.path
                        ),
                        Some("add `needed_for_boot = true` to this mount".into()),
                    );
                }
            }
        }
    }

    fn persistence(&mut self, s: &HostSpec) {
        let Some(ps) = &s.persistence else {
            self.config_location(s);
            return;
        };
        let at = key("persistence");
        let listed = ps.directories.len()
            + ps.files.len()
            + ps.users
                .values()
                .map(|u| u.directories.len() + u.files.len())
                .sum::<usize>();
        if !s.persistent_by_mount(&ps.root) {
            let holder = s
                .mount_holding(&ps.root)
                .map_or("nothing".to_owned(), |m| format!("the tmpfs at {}", m.path));
            self.add(
                "persist-not-persistent",
                at.key("root"),
                format!(
                    "the persistence root {} is on {holder}, no persistent filesystem: every one of the {listed} entries listed under it is lost at reboot",
                    ps.root
                ),
                Some(format!(
                    "add a subvolume (e.g. @system/persist) and a [[mount]] at {} with needed_for_boot = true",
                    ps.root
                )),
            );
        }
        let mut seen = BTreeSet::new();
        let system = ps
            .directories
            .iter()
            .map(|e| ("directories", e))
            .chain(ps.files.iter().map(|e| ("files", e)));
        for (list, e) in system {
            let eat = at.index(list, e.index);
            if !seen.insert(e.path.clone()) {
                self.add(
                    "entry-duplicate",
                    eat.key("path"),
                    format!("{} is listed twice", e.path),
                    None,
                );
            }
            self.covered(s, &e.path, e.covered_by.as_ref(), eat);
        }
        for (user, up) in &ps.users {
            let home = s.home_of(user);
            let uat = at.key("users").key(user);
            let mut seen = BTreeSet::new();
            let entries = up
                .directories
                .iter()
                .map(|e| ("directories", e))
                .chain(up.files.iter().map(|e| ("files", e)));
            for (list, e) in entries {
                let eat = uat.index(list, e.index);
                let full = home.join(&e.path);
                if !seen.insert(full.clone()) {
                    self.add(
                        "entry-duplicate",
                        eat.key("path"),
                        format!("{full} is listed twice"),
                        None,
                    );
                }
                self.covered(s, &full, e.covered_by.as_ref(), eat);
            }
        }
        self.config_location(s);
    }

    /// An entry on a persistent mount is covered by it; `covered_by` says so.
    fn covered(&mut self, s: &HostSpec, path: &AbsPath, covered_by: Option<&AbsPath>, at: KeyPath) {
        let holder = s.mount_holding(path).filter(|m| !m.is_tmpfs());
        match (holder, covered_by) {
            (Some(m), None) => {
                let what = match &m.source {
                    MountSource::Subvolume { subvolume } => format!(" (subvolume {subvolume})"),
                    MountSource::Partition { partition } => format!(" (partition {partition})"),
                    MountSource::Tmpfs { .. } => String::new(),
                };
                self.add(
                    "entry-covered-by-mount",
                    at.key("path"),
                    format!(
                        "{path} is already on the persistent mount {}{what}: a bind mount from the persistence root would hide the real directory",
                        m.path
                    ),
                    Some(format!("add covered_by = \"{}\" to keep it as intent without rendering it, or remove it", m.path)),
                );
            }
            (Some(m), Some(c)) if &m.path != c => self.add(
                "covered-by-wrong",
                at.key("covered_by"),
                format!("{path} is held by the mount {}, not {c}", m.path),
                Some(format!("write covered_by = \"{}\"", m.path)),
            ),
            (None, Some(c)) => self.add(
                "covered-by-wrong",
                at.key("covered_by"),
                format!("{path} is not on a persistent mount, so {c} does not cover it: it would be lost at reboot"),
                Some("remove covered_by so the entry is rendered as a bind mount".into()),
            ),
            _ => {}
        }
    }

    fn config_location(&mut self, s: &HostSpec) {
        let Ok(etc_nixos) = AbsPath::parse("/etc/nixos") else {
            return;
        };
        if s.persistent_by_mount(&etc_nixos) {
            return;
        }
        let by_entry = s.persistence.as_ref().is_some_and(|ps| {
            s.persistent_by_mount(&ps.root)
                && ps
                    .directories
                    .iter()
                    .any(|e| e.covered_by.is_none() && etc_nixos.is_under(&e.path))
        });
        if !by_entry {
            self.add(
                "config-on-tmpfs",
                key("persistence"),
                "the configuration's location /etc/nixos is on the tmpfs root: the flake is lost at every reboot".into(),
                Some("add { path = \"/etc/nixos\" } to [persistence] directories".into()),
            );
        }
    }

    fn users(&mut self, s: &HostSpec) {
        let declared: BTreeSet<&str> = s.users.iter().map(|u| u.name.as_str()).collect();
        if !declared.contains(s.host.primary_user.as_str()) {
            self.add(
                "user-undeclared",
                key("host").key("primary_user"),
                format!("the primary user `{}` is not declared in [[user]]: users are immutable, so nobody could log in", s.host.primary_user),
                Some(format!("add [[user]] with name = \"{}\" and a hashed_password_file", s.host.primary_user)),
            );
        }
        if let Some(ps) = &s.persistence {
            for name in ps.users.keys() {
                if !declared.contains(name.as_str()) && name != &s.host.primary_user {
                    self.add(
                        "user-undeclared",
                        key("persistence").key("users").key(name),
                        format!("persistence lists user `{name}`, who is not declared in [[user]]"),
                        None,
                    );
                }
            }
        }
        let mut names: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, u) in s.users.iter().enumerate() {
            let at = KeyPath::root().index("user", i);
            if let Some(prev) = names.insert(u.name.as_str(), i) {
                self.duplicate(
                    at.key("name"),
                    KeyPath::root().index("user", prev).key("name"),
                    &format!("user name `{}`", crate::landing::shown(&u.name)),
                    "each [[user]] becomes users.users.NAME: declare a user once",
                );
            }
            let ok_name = !u.name.is_empty()
                && u.name.len() <= 32
                && u.name.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                });
            if !ok_name {
                self.add(
                    "text-unrepresentable",
                    at.key("name"),
                    format!(
                        "`{}` is not a valid user name",
                        crate::landing::shown(&u.name)
                    ),
                    Some("use lower-case letters, digits, `_` and `-`".into()),
                );
            }
            match u.hashed_password_file.as_deref() {
                None => self.add(
                    "user-no-password",
                    at.key("name"),
                    format!("user `{}` has no hashed_password_file: with immutable users they cannot log in with a password", u.name),
                    Some("add hashed_password_file = \"/persist/secrets/NAME.passwd\" (mkpasswd -m yescrypt > FILE)".into()),
                ),
                Some(f) => match AbsPath::parse(f) {
                    Err(m) => self.add("password-file-not-persistent", at.key("hashed_password_file"), m, None),
                    Ok(p) if !s.persistent_by_mount(&p) => self.add(
                        "password-file-not-persistent",
                        at.key("hashed_password_file"),
                        format!("{p} is on the tmpfs root: the password is gone at reboot and `{}` is locked out", u.name),
                        Some("keep it under the persistence root, e.g. /persist/secrets".into()),
                    ),
                    Ok(_) => {}
                },
            }
            if let Some(d) = &u.description {
                if has_control(d) || d.contains(':') {
                    self.add(
                        "text-unrepresentable",
                        at.key("description"),
                        "the description holds `:` or a control character, which /etc/passwd cannot carry (NixOS refuses it)".into(),
                        None,
                    );
                }
            }
        }
    }

    fn desktop(&mut self, s: &HostSpec) {
        let Some(d) = &s.desktop else { return };
        let at = key("desktop");
        if d.display_manager != "sddm" {
            self.add(
                "session-invalid",
                at.key("display_manager"),
                format!("display manager `{}` is not supported", d.display_manager),
                Some("use \"sddm\"".into()),
            );
        }
        let mut ids = BTreeSet::new();
        for ses in &d.sessions {
            let sat = at.index("session", ses.index);
            let id_ok = !ses.id.is_empty()
                && ses
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !id_ok || !ids.insert(ses.id.as_str()) {
                self.add(
                    "session-invalid",
                    sat.key("id"),
                    format!(
                        "session id `{}` is duplicated or not a plain file name",
                        crate::landing::shown(&ses.id)
                    ),
                    Some("use letters, digits, `-` and `_`; each id once".into()),
                );
            }
            for (field, value) in [
                ("name", Some(&ses.name)),
                ("comment", ses.comment.as_ref()),
                ("desktop_names", ses.desktop_names.as_ref()),
            ] {
                if value.is_some_and(|v| has_control(v)) {
                    self.add(
                        "text-unrepresentable",
                        sat.key(field),
                        format!("the session's {field} holds a line break or control character, which a .desktop file cannot carry"),
                        Some("keep it on one line".into()),
                    );
                }
            }
            if ses.args.iter().any(|a| has_control(a)) {
                self.add(
                    "text-unrepresentable",
                    sat.key("args"),
                    "an argument holds a line break or control character, which an Exec line cannot carry".into(),
                    None,
                );
            }
            if ses.kind == SessionKind::Cage {
                let pkg_ok = ses.package.as_deref().is_some_and(is_attr_path);
                let prog_ok = ses.program.as_deref().is_some_and(|p| {
                    crate::RelPath::parse(p).is_ok() && !p.contains([' ', '"', '\\', '$'])
                });
                if !pkg_ok || !prog_ok {
                    self.add(
                        "session-invalid",
                        sat,
                        format!("cage session `{}` needs `package` (a nixpkgs attribute) and `program` (a path in it such as \"bin/brave\")", ses.id),
                        None,
                    );
                }
            }
        }
        if let Some(def) = &d.default_session {
            if !d.sessions.iter().any(|x| &x.id == def) {
                self.add(
                    "session-default-unknown",
                    at.key("default_session"),
                    format!("default session `{def}` is not among the sessions"),
                    Some(format!(
                        "use one of: {}",
                        d.sessions
                            .iter()
                            .map(|x| x.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                );
            }
        }
    }

    fn boot(&mut self, s: &HostSpec) {
        if s.boot.loader == Loader::Refind {
            for (i, e) in s.boot.entries.iter().enumerate() {
                if e.name.contains('"') {
                    self.add(
                        "text-unrepresentable",
                        KeyPath::root().key("boot").index("entry", i).key("name"),
                        "rEFInd menu titles cannot hold `\"`".into(),
                        Some("drop the quotes from the title".into()),
                    );
                }
            }
            if let Some(esp) = s.partitions.iter().find(|p| p.kind == PartType::Esp) {
                if let PartSize::Fixed(size) = esp.size {
                    if size.as_u64() < 500_000_000 {
                        self.add(
                            "esp-too-small",
                            KeyPath::root().index("partition", esp.index).key("size"),
                            format!("rEFInd copies every generation's kernel and initrd to the ESP, which is only {size}"),
                            Some("use loader = \"grub\" (it reads kernels from /boot) or an ESP of 500MB or more".into()),
                        );
                    }
                }
            }
        }
        let owners: BTreeSet<&str> = s
            .partitions
            .iter()
            .filter_map(|p| match &p.owner {
                Owner::Foreign(o) => Some(o.as_str()),
                Owner::Nixos => None,
            })
            .collect();
        let mut reached = BTreeSet::new();
        for (i, e) in s.boot.entries.iter().enumerate() {
            let at = KeyPath::root().key("boot").index("entry", i);
            if !owners.contains(e.system.as_str()) {
                self.add(
                    "boot-entry-invalid",
                    at.key("system"),
                    format!(
                        "boot entry `{}` boots `{}`, which owns no partition",
                        e.name, e.system
                    ),
                    Some(format!(
                        "use one of: {}",
                        owners.iter().copied().collect::<Vec<_>>().join(", ")
                    )),
                );
            }
            reached.insert(e.system.as_str());
            if has_control(&e.name) || e.name.is_empty() {
                self.add(
                    "text-unrepresentable",
                    at.key("name"),
                    "a boot entry's name is empty or holds control characters".into(),
                    None,
                );
            }
            let efi_ok = e.efi.starts_with('/')
                && !e.efi.contains(['\'', '"', ' ', '\\', '$', ';'])
                && !has_control(&e.efi)
                && !e.efi.split('/').any(|c| c == "..");
            if !efi_ok {
                self.add(
                    "boot-entry-invalid",
                    at.key("efi"),
                    format!(
                        "`{}` is not a plain EFI path on the ESP",
                        crate::landing::shown(&e.efi)
                    ),
                    Some("write it like \"/EFI/Microsoft/Boot/bootmgfw.efi\"".into()),
                );
            }
        }
        let bootable = |o: &str| {
            s.partitions.iter().any(|p| {
                p.owner.name() == o
                    && matches!(
                        p.kind,
                        PartType::Linux | PartType::LinuxRoot | PartType::WindowsData
                    )
            })
        };
        for o in &owners {
            if bootable(o) && !reached.contains(o) {
                self.add(
                    "foreign-unreachable",
                    KeyPath::root().key("boot"),
                    format!("`{o}` has a partition but no boot entry: it can only be started from the firmware's boot menu"),
                    Some(format!("add [[boot.entry]] with system = \"{o}\" and its EFI loader")),
                );
            }
        }
        let foreign: Vec<&str> = owners.iter().copied().filter(|o| bootable(o)).collect();
        if s.host.standalone && !foreign.is_empty() {
            let how = if s.boot.entries.is_empty() {
                "no boot entries are declared, so they are reached only through the firmware's boot menu".to_owned()
            } else {
                format!(
                    "they are reached through the {} menu: {}",
                    match s.boot.loader {
                        Loader::Grub => "GRUB",
                        Loader::Refind => "rEFInd",
                    },
                    s.boot
                        .entries
                        .iter()
                        .map(|e| e.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            self.add(
                "not-dual-boot",
                key("host").key("role"),
                format!(
                    "the host is \"primary (not dual-boot)\" yet {} other system{} share the disk ({}); NixOS owns the boot menu and {how}",
                    foreign.len(),
                    if foreign.len() == 1 { "" } else { "s" },
                    foreign.join(", ")
                ),
                None,
            );
        }
    }

    fn container_entries(&mut self, s: &HostSpec) {
        let at = key("containers");
        let plain = |t: &str, extra: &[u8]| {
            !t.is_empty()
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
        };
        let spaced =
            |t: &str| t.is_empty() || t.chars().any(|c| c.is_whitespace() || c.is_control());
        for (i, pkg) in s.containers.nix_packages.iter().enumerate() {
            if !is_attr_path(pkg) {
                self.add(
                    "container-invalid",
                    at.key("nix_packages").index_only(i),
                    format!("`{}` is not a nixpkgs attribute name", crate::landing::shown(pkg)),
                    Some("write the attribute as in `nix search nixpkgs`, e.g. \"ripgrep\" or \"kdePackages.kate\"".into()),
                );
            }
        }
        // distrobox assemble sources each `key=value` line of its ini and
        // evals the command it builds from them: every value is checked by
        // its grammar, and only shell-inert characters get through.
        if let Some(d) = &s.containers.distrobox {
            let mut names: BTreeMap<&str, usize> = BTreeMap::new();
            for (i, img) in d.images.iter().enumerate() {
                let iat = at.key("distrobox").index("images", i);
                if !crate::landing::container_name(&img.name) {
                    self.add(
                        "container-invalid",
                        iat.key("name"),
                        format!("distrobox container name `{}` is not a container name", crate::landing::shown(&img.name)),
                        Some("start with a letter or digit, then letters, digits, `_`, `.` or `-` (at most 63), e.g. \"arch-dev\"".into()),
                    );
                } else if let Some(prev) = names.insert(&img.name, i) {
                    self.duplicate(
                        iat.key("name"),
                        at.key("distrobox").index("images", prev).key("name"),
                        &format!("distrobox container name `{}`", img.name),
                        "distrobox.ini has one section per container: give each a different name",
                    );
                }
                if let Err(why) = crate::landing::image_reference(&img.image) {
                    self.add(
                        "container-invalid",
                        iat.key("image"),
                        format!("`{}` is not a container image reference: {why}", crate::landing::shown(&img.image)),
                        Some("write it as registry/name:tag or name@sha256:DIGEST, e.g. \"quay.io/toolbx/arch-toolbox:latest\"".into()),
                    );
                }
                for (j, p) in img.packages.iter().enumerate() {
                    if !crate::landing::package_name(p) {
                        self.add(
                            "container-invalid",
                            iat.key("packages").index_only(j),
                            format!("`{}` is not a package name", crate::landing::shown(p)),
                            Some("one package per element, its name only: letters, digits and `. _ + - : @` (no versions, spaces or shell characters)".into()),
                        );
                    }
                }
            }
        }
        if let Some(f) = &s.containers.flatpak {
            for (i, app) in f.apps.iter().enumerate() {
                if app.split('.').count() < 3 || !app.split('.').all(|p| plain(p, b"_-")) {
                    self.add(
                        "container-invalid",
                        at.key("flatpak").key("apps").index_only(i),
                        format!(
                            "`{}` is not a Flatpak application id",
                            crate::landing::shown(app)
                        ),
                        Some(
                            "use the reverse-DNS id from Flathub, e.g. \"org.mozilla.firefox\""
                                .into(),
                        ),
                    );
                }
            }
            if let Some(r) = &f.remote {
                if !plain(&r.name, b"-_") || !r.url.starts_with("https://") || spaced(&r.url) {
                    self.add(
                        "container-invalid",
                        at.key("flatpak").key("remote"),
                        format!(
                            "Flatpak remote `{}` needs a plain name and an https:// URL",
                            crate::landing::shown(&r.name)
                        ),
                        None,
                    );
                }
            }
        }
        if let Some(p) = &s.containers.podman {
            let mut names: BTreeMap<&str, usize> = BTreeMap::new();
            for (i, c) in p.containers.iter().enumerate() {
                let cat = at.key("podman").index("containers", i);
                if !crate::landing::container_name(&c.name) {
                    self.add(
                        "container-invalid",
                        cat.key("name"),
                        format!("Podman container name `{}` is not a container name", crate::landing::shown(&c.name)),
                        Some("start with a letter or digit, then letters, digits, `_`, `.` or `-` (at most 63)".into()),
                    );
                } else if let Some(prev) = names.insert(&c.name, i) {
                    self.duplicate(
                        cat.key("name"),
                        at.key("podman").index("containers", prev).key("name"),
                        &format!("Podman container name `{}`", c.name),
                        "each name becomes virtualisation.oci-containers.containers.NAME and the unit podman-NAME.service: make them unique",
                    );
                }
                if let Err(why) = crate::landing::image_reference(&c.image) {
                    self.add(
                        "container-invalid",
                        cat.key("image"),
                        format!("`{}` is not a container image reference: {why}", crate::landing::shown(&c.image)),
                        Some("write it as registry/name:tag or name@sha256:DIGEST, e.g. \"docker.io/library/nginx:1.27\"".into()),
                    );
                }
                for (j, port) in c.ports.iter().enumerate() {
                    if !crate::landing::port_mapping(port) {
                        self.add(
                            "container-invalid",
                            cat.key("ports").index_only(j),
                            format!("`{}` is not a port mapping", crate::landing::shown(port)),
                            Some("write [IP:]HOST:CONTAINER[/tcp|udp], e.g. \"8080:80\" or \"127.0.0.1:8080:80/tcp\"".into()),
                        );
                    }
                }
            }
        }
        if let Some(m) = &s.containers.microvm {
            let mut names: BTreeMap<&str, usize> = BTreeMap::new();
            for (i, vm) in m.vms.iter().enumerate() {
                if plain(&vm.name, b"-_") {
                    if let Some(prev) = names.insert(&vm.name, i) {
                        self.duplicate(
                            at.key("microvm").index("vms", i).key("name"),
                            at.key("microvm").index("vms", prev).key("name"),
                            &format!("microVM name `{}`", vm.name),
                            "each name becomes microvm.vms.NAME: make them unique",
                        );
                    }
                }
                if !plain(&vm.name, b"-_") {
                    self.add(
                        "container-invalid",
                        at.key("microvm").index("vms", i).key("name"),
                        format!(
                            "microVM name `{}` must be letters, digits, `-` and `_`",
                            crate::landing::shown(&vm.name)
                        ),
                        None,
                    );
                }
            }
        }
    }

    fn containers(&mut self, s: &HostSpec) {
        self.container_entries(s);
        let Some(p) = &s.containers.podman else {
            return;
        };
        if !(p.enable && p.rootless) {
            return;
        }
        if let Some(m) = s.mount("/var/lib/containers") {
            self.add(
                "rootless-podman-storage",
                KeyPath::root().index("mount", m.index),
                "rootless Podman keeps images and containers under each user's ~/.local/share/containers, not /var/lib/containers: this mount only serves rootful containers".into(),
                Some("rootless storage lives in /home (persistent here); keep this mount for rootful containers or drop it".into()),
            );
        }
    }
}

/// "an" before a filesystem name read letter by letter or starting with a
/// vowel sound (an ext4, an NTFS, an XFS), else "a".
fn article(word: &str) -> &'static str {
    match word.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u' | 'n' | 'x') => "an",
        _ => "a",
    }
}

/// A nixpkgs attribute path such as `brave` or `kdePackages.kate`.
fn is_attr_path(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'\'')
        })
}

trait IndexOnly {
    fn index_only(&self, i: usize) -> KeyPath;
}

impl IndexOnly for KeyPath {
    /// `options[i]` when `self` is already `options`.
    fn index_only(&self, i: usize) -> KeyPath {
        let mut k = self.clone();
        k.0.push(crate::Seg::Index(i));
        k
    }
}
