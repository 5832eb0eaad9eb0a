//! # A disk or an image, read-only, into a [`Draft`]
//!
//! [`read`] attaches an image read-only (`losetup -r`) and gathers
//! [`DiskFacts`]: tabula-disk's probe (GPT, sizes, types, names,
//! signatures, LUKS2 key slots) plus what import alone asks for: the
//! `/etc/os-release` of an ext4 (`debugfs`, which opens read-only), the
//! `EFI/Microsoft` directory of an ESP (`mdir`, no mount), the LUKS header's
//! cipher and PBKDF, the btrfs subvolume tree of a plain btrfs partition
//! and, with a key, of the pool in a container opened `--readonly`.
//! [`draft`] turns the facts into a host.toml, pure.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use tabula_disk::loopdev::Target;
use tabula_disk::luks::{self, Key};
use tabula_disk::probe::{self, BtrfsProbe, Content, DiskProbe, ProbedPartition};
use tabula_run::Cmd;
use tabula_spec::model::PartType;
use toml_edit::{Item, Value};

use crate::{inline, strings, value, Draft, Error, Result};

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;

/// What could be read of one thing: found, not there, or not readable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "seen", content = "value")]
pub enum Seen<T> {
    Found(T),
    Absent,
    Unreadable(String),
}

/// What import read of one partition besides the probe.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PartFacts {
    /// `ID` of `/etc/os-release` on a Linux filesystem.
    pub os_id: Option<Seen<String>>,
    /// Whether an ESP holds `EFI/Microsoft` (Windows boots from it).
    pub esp_microsoft: Option<Seen<bool>>,
    /// The subvolumes of a btrfs filesystem on the partition itself.
    pub btrfs: Option<Seen<BtrfsProbe>>,
}

/// A LUKS header's facts (`cryptsetup luksDump`), and the pool inside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LuksFacts {
    pub number: u32,
    pub uuid: String,
    pub version: u32,
    pub cipher: Option<String>,
    /// The PBKDF of the first key slot (`argon2id`, `pbkdf2`, ...).
    pub kdf: Option<String>,
    pub iterations: Option<u64>,
    pub keyslots: Vec<u32>,
    /// The btrfs pool, when the container could be opened read-only.
    pub pool: Seen<BtrfsProbe>,
}

/// Everything import read of one disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiskFacts {
    /// The path as given (`--disk`).
    pub path: String,
    pub probe: DiskProbe,
    pub parts: BTreeMap<u32, PartFacts>,
    pub luks: Vec<LuksFacts>,
}

/// How to open a LUKS container (read-only) to read the pool inside.
pub struct Options {
    pub key: Option<Key>,
}

/// Read one disk or image, never writing: an image is attached read-only.
///
/// # Errors
/// When the path is neither a block device nor a file, or a probe tool fails.
pub fn read(path: &Path, opts: &Options) -> Result<DiskFacts> {
    let target = Target::open(path, true)?;
    let device = target.device().to_owned();
    let probe = probe::probe(&device)?;
    let mut parts = BTreeMap::new();
    let mut containers = Vec::new();
    for p in &probe.partitions {
        let mut f = PartFacts::default();
        match &p.content {
            Content::Filesystem { fstype, .. } if fstype == "ext4" => {
                f.os_id = Some(os_release_ext4(&p.node));
            }
            Content::Filesystem { fstype, .. } if fstype == "btrfs" => {
                f.os_id = Some(Seen::Unreadable(
                    "files on btrfs are not read without mounting".into(),
                ));
                f.btrfs = Some(match probe::probe_inside(&p.node) {
                    Ok(o) => o.inner.map_or(Seen::Absent, Seen::Found),
                    Err(e) => Seen::Unreadable(e.to_string()),
                });
            }
            Content::Filesystem { fstype, .. }
                if fstype == "vfat" && p.type_guid.eq_ignore_ascii_case(PartType::Esp.guid()) =>
            {
                f.esp_microsoft = Some(esp_microsoft(&p.node));
            }
            Content::Luks(l) => containers.push(luks_facts(p, l, opts)),
            _ => {}
        }
        parts.insert(p.number, f);
    }
    drop(target);
    Ok(DiskFacts {
        path: path.display().to_string(),
        probe,
        parts,
        luks: containers,
    })
}

/// `ID` from `/etc/os-release` of an ext4, read by `debugfs` (read-only
/// unless given `-w`); absent when the file is not there.
fn os_release_ext4(node: &str) -> Seen<String> {
    let cmd = Cmd::new("debugfs").args(["-R", "cat /etc/os-release", node]);
    match cmd.run() {
        Ok(out) => os_release_id(&out.text()).map_or(Seen::Absent, Seen::Found),
        Err(e) => Seen::Unreadable(e.to_string()),
    }
}

/// The `ID=` of an os-release text (quotes dropped).
pub fn os_release_id(text: &str) -> Option<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("ID="))
        .map(|v| v.trim().trim_matches(['"', '\'']).to_owned())
        .find(|v| !v.is_empty())
}

/// Whether an ESP has `EFI/Microsoft`, listed by `mdir` (mtools, no mount).
fn esp_microsoft(node: &str) -> Seen<bool> {
    if tabula_run::find_program("mdir").is_none() {
        return Seen::Unreadable("mdir (mtools) is not installed".into());
    }
    let cmd = Cmd::new("mdir")
        .args(["-b", "-i", node, "::/EFI"])
        .env("MTOOLS_SKIP_CHECK", "1")
        .ok_codes(&[1]);
    match cmd.run() {
        Ok(out) => Seen::Found(out.text().lines().any(|l| {
            l.trim_end_matches('/')
                .rsplit('/')
                .next()
                .is_some_and(|n| n.eq_ignore_ascii_case("microsoft"))
        })),
        Err(e) => Seen::Unreadable(e.to_string()),
    }
}

/// The header facts of a container, and the pool when a key opens it.
fn luks_facts(p: &ProbedPartition, l: &probe::LuksProbe, opts: &Options) -> LuksFacts {
    let meta = if l.version == 2 {
        luks::dump_json(&p.node)
            .ok()
            .and_then(|j| serde_json::from_str::<serde_json::Value>(&j).ok())
    } else {
        None
    };
    let cipher = meta.as_ref().and_then(|m| {
        m["segments"]
            .as_object()
            .and_then(|s| s.values().next())
            .and_then(|s| s["encryption"].as_str())
            .map(str::to_owned)
    });
    let first = l.keyslots.first();
    let pool = match (&l.open, &opts.key) {
        (Some(open), _) => open.inner.clone().map_or(
            Seen::Unreadable(format!(
                "the open container holds {}",
                open.other.as_deref().unwrap_or("no filesystem")
            )),
            Seen::Found,
        ),
        (None, None) => Seen::Unreadable(
            "the container is closed: give --passphrase-file or --keyfile to read the pool".into(),
        ),
        (None, Some(key)) => open_and_read(&p.node, key),
    };
    LuksFacts {
        number: p.number,
        uuid: l.uuid.clone(),
        version: l.version,
        cipher,
        kdf: first.map(|k| k.kdf.clone()),
        iterations: first.and_then(|k| k.iterations),
        keyslots: l.keyslots.iter().map(|k| k.id).collect(),
        pool,
    }
}

/// Open read-only, read the btrfs inside, close again.
fn open_and_read(node: &str, key: &Key) -> Seen<BtrfsProbe> {
    let name = format!("tabula-import-{}", std::process::id());
    let mapper = match luks::open_readonly(node, &name, key) {
        Ok(m) => m,
        Err(e) => return Seen::Unreadable(e.to_string()),
    };
    let inside = probe::probe_inside(&mapper);
    if let Err(e) = luks::close(&name) {
        tracing::warn!("closing {mapper}: {e}");
    }
    match inside {
        Ok(o) => match (o.inner, o.other) {
            (Some(b), _) => Seen::Found(b),
            (None, Some(other)) => Seen::Unreadable(format!("the container holds {other}")),
            (None, None) => Seen::Absent,
        },
        Err(e) => Seen::Unreadable(e.to_string()),
    }
}

// ---------------------------------------------------------------------------
// The draft (pure)

/// A size as host.toml writes it, exactly: GiB, MiB or bytes.
pub fn size_text(bytes: u64) -> String {
    if bytes.is_multiple_of(GIB) {
        format!("{}GiB", bytes / GIB)
    } else if bytes.is_multiple_of(MIB) {
        format!("{}MiB", bytes / MIB)
    } else {
        format!("{bytes}B")
    }
}

fn mib(bytes: u64) -> String {
    if bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// What a signature tabula does not model is, in words.
fn other_name(usage: &str, fstype: &str) -> String {
    match fstype {
        "LVM2_member" => "an LVM physical volume".into(),
        "linux_raid_member" => "an mdadm RAID member".into(),
        "zfs_member" => "a ZFS pool member".into(),
        "bcachefs" => "a bcachefs filesystem".into(),
        "swap" => "swap".into(),
        _ => format!("a `{fstype}` signature ({usage})"),
    }
}

/// A GPT name usable as a spec label.
fn usable_label(name: Option<&str>) -> Option<&str> {
    name.filter(|n| {
        !n.is_empty()
            && n.len() <= 36
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    })
}

/// Where a well-known subvolume is mounted (tabula's own tree, then the
/// flat names disko's examples and Calamares use).
fn mount_of(subvolume: &str) -> Option<&'static str> {
    Some(match subvolume {
        "@system/nix" | "@nix" | "nix" => "/nix",
        "@system/persist" | "@persist" | "persist" => "/persist",
        "@system/state" => "/var/lib",
        "@system/logs" | "@log" | "@var_log" | "log" => "/var/log",
        "@user/home" | "@home" | "home" => "/home",
        "@shared/containers" => "/var/lib/containers",
        "@shared/flatpak" => "/var/lib/flatpak",
        "@shared/microvm" => "/var/lib/microvms",
        "@shared/waydroid" => "/var/lib/waydroid",
        "@" | "root" | "@root" => "/",
        "@snapshots" => "/.snapshots",
        _ => return None,
    })
}

/// Mounts that activation needs before systemd mounts anything.
fn needed_for_boot(path: &str) -> bool {
    matches!(path, "/" | "/nix" | "/persist" | "/var/lib" | "/var/log")
}

/// Whether `p` is the last partition and ends within the last MiB before
/// the backup GPT (sgdisk `0:0`, parted `100%`): the spec's "rest".
fn is_rest(probe: &DiskProbe, p: &ProbedPartition) -> bool {
    let usable_end = probe.size.saturating_sub(tabula_spec::model::GPT_TAIL) / MIB * MIB;
    let last = probe.partitions.iter().map(|x| x.start).max() == Some(p.start);
    last && p.start.is_multiple_of(MIB) && p.end() >= usable_end && p.end() < usable_end + MIB
}

/// One listed partition, as the draft writes it.
struct Listed {
    number: u32,
    label: String,
    kind: PartType,
    /// Owner and why it is a guess (`None`: read from the disk).
    owner: (String, Option<String>),
    fs: Option<(String, Option<String>, Option<String>)>,
    luks: bool,
}

/// The draft of the first disk; every further disk is left out (a spec
/// describes one disk).
///
/// # Errors
/// [`Error::Refused`] when the first disk has no GPT (MBR, or none).
pub fn draft(disks: &[DiskFacts]) -> Result<Draft> {
    let Some(first) = disks.first() else {
        return Err(Error::NoDisk);
    };
    require_gpt(first)?;
    let mut d = Draft::new();
    d.sources = disks.iter().map(|f| f.path.clone()).collect();
    leave_out_other_disks(&mut d, &disks[1..]);
    let listed = list_partitions(&mut d, first);
    let listed = in_disk_order(&mut d, &first.probe, listed);
    write_host_and_disk(&mut d, first);
    write_partitions(&mut d, first, &listed);
    let root = pool_and_mounts(&mut d, first, &listed);
    if !root {
        d.leave_out(
            format!("disk {}: no NixOS root filesystem recognised", first.path),
            "add a [[mount]] with path = \"/\" (a partition, a subvolume or a tmpfs) before installing",
        );
    }
    write_user_and_boot(&mut d);
    Ok(d)
}

/// Refuse a disk whose partition table is not GPT (MBR, another, none).
fn require_gpt(first: &DiskFacts) -> Result<()> {
    match first.probe.table.as_deref() {
        Some("gpt") => Ok(()),
        Some("dos") => Err(Error::Refused(format!(
            "{}: the disk has an MBR (dos) partition table; tabula describes GPT disks only. Convert it (sgdisk --mbrtogpt, after a backup) or describe it by hand",
            first.path
        ))),
        Some(other) => Err(Error::Refused(format!(
            "{}: the disk has a `{other}` partition table; tabula describes GPT disks only",
            first.path
        ))),
        None => Err(Error::Refused(format!(
            "{}: no partition table found; there is nothing to import (`tabula init` starts a spec for a blank disk)",
            first.path
        ))),
    }
}

/// Leave out every disk after the first: a spec describes one disk.
fn leave_out_other_disks(d: &mut Draft, others: &[DiskFacts]) {
    for other in others {
        d.leave_out(
            format!(
                "disk {}: a second disk's layout ({} partition(s)) is not modelled",
                other.path,
                other.probe.partitions.len()
            ),
            "a spec describes one [disk]: import it on its own (`tabula import --disk` that one) and keep the mounts you need by hand",
        );
    }
}

/// The listed partitions sorted in disk order, as host.toml lists them;
/// one numbered lower than a partition before it is left out.
fn in_disk_order(d: &mut Draft, p: &DiskProbe, mut listed: Vec<Listed>) -> Vec<Listed> {
    // In disk order, as host.toml lists them (numbers may be out of order).
    listed.sort_by_key(|l| {
        p.partitions
            .iter()
            .find(|x| x.number == l.number)
            .map_or(0, |x| x.start)
    });
    // host.toml numbers partitions in disk order: one numbered lower than a
    // partition before it cannot be listed.
    let mut last = 0;
    listed.retain(|l| {
        if l.number > last {
            last = l.number;
            return true;
        }
        d.leave_out(
            format!(
                "partition {} (`{}`): numbered out of disk order (it lies after partition {last})",
                l.number, l.label
            ),
            "host.toml lists partitions numbered in disk order; plan keeps this one untouched (`sgdisk --sort` renumbers them, which changes their device names)",
        );
        false
    });
    listed
}

/// `[host]` (name from the path, newest release, guessed user) and `[disk]`.
fn write_host_and_disk(d: &mut Draft, first: &DiskFacts) {
    let host_name = Path::new(&first.path)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| usable_label(Some(s)).is_some() && !s.starts_with(['.', '-']))
        .unwrap_or_else(|| "imported".into());
    d.set(
        "host",
        "name",
        value(
            host_name.as_str(),
            Some("a disk holds no host name; the flake attribute is .#NAME"),
        ),
    );
    let release = tabula_spec::release::RELEASES
        .last()
        .map_or("26.05", |r| r.name);
    d.set(
        "host",
        "release",
        value(release, Some("the newest release tabula knows")),
    );
    d.set(
        "host",
        "state_version",
        value(
            release,
            Some("system.stateVersion is not on the disk: set the release this host was first installed with"),
        ),
    );
    d.set(
        "host",
        "primary_user",
        value(
            "user",
            Some("users are not read from a disk (import --root reads /etc/passwd)"),
        ),
    );
    d.set("disk", "device", value(first.path.as_str(), None));
    d.set("disk", "size", value(size_text(first.probe.size), None));
}

/// One `[[partition]]` per listed partition, each starting where it lies.
fn write_partitions(d: &mut Draft, first: &DiskFacts, listed: &[Listed]) {
    let mut at = MIB;
    for l in listed {
        write_partition(d, first, l, at);
        if let Some(pp) = first.probe.partitions.iter().find(|x| x.number == l.number) {
            at = pp.end();
        }
    }
}

/// The guessed `[[user]]` and `[boot]`: neither is read from a disk.
fn write_user_and_boot(d: &mut Draft) {
    d.push(
        "user",
        vec![(
            "name",
            value("user", Some("users are not read from a disk")),
        )],
        Some("--- users ---"),
    );
    d.set(
        "boot",
        "loader",
        value("grub", Some("the boot loader is not read from a disk")),
    );
}

/// The partitions the spec lists (what cannot be described is left out).
fn list_partitions(d: &mut Draft, f: &DiskFacts) -> Vec<Listed> {
    let mut out: Vec<Listed> = Vec::new();
    let windows_seen = windows_seen(f);
    let mut luks_seen = false;
    for p in &f.probe.partitions {
        let at = part_at(p);
        let Some(kind) = listable_kind(d, f, p, &at) else {
            continue;
        };
        let facts = f.parts.get(&p.number).cloned().unwrap_or_default();
        let windows_why = (!windows_seen).then(|| {
            "NTFS without a Microsoft reserved partition or EFI/Microsoft on the ESP".to_owned()
        });
        let ctx = PartCtx {
            at: &at,
            kind,
            facts: &facts,
            windows_why,
        };
        let Some((fs, luks, owner)) = classify(d, p, &ctx, &mut luks_seen) else {
            continue;
        };
        let label = unique_label(&out, p);
        out.push(Listed {
            number: p.number,
            label,
            kind,
            owner: (owner.0, owner.1),
            fs,
            luks,
        });
    }
    out
}

/// An owner and why it is a guess (`None`: read from the disk).
type Owner = (String, Option<String>);

/// A listed partition's filesystem (type, UUID, label), whether it is the
/// LUKS container, and its owner.
type Classified = (
    Option<(String, Option<String>, Option<String>)>,
    bool,
    Owner,
);

/// What [`classify`] knows of one partition besides its probe.
struct PartCtx<'a> {
    /// The partition as messages name it ([`part_at`]).
    at: &'a str,
    kind: PartType,
    facts: &'a PartFacts,
    /// Why an NTFS is guessed to be Windows's (`None`: Windows was seen).
    windows_why: Option<String>,
}

/// Whether the disk shows Windows: a Microsoft reserved partition or
/// `EFI/Microsoft` on an ESP.
fn windows_seen(f: &DiskFacts) -> bool {
    let has_msr = f.probe.partitions.iter().any(|p| {
        p.type_guid
            .eq_ignore_ascii_case(PartType::WindowsReserved.guid())
    });
    let microsoft = f
        .parts
        .values()
        .any(|x| x.esp_microsoft == Some(Seen::Found(true)));
    has_msr || microsoft
}

/// A partition as messages name it: number, GPT name, size and start.
fn part_at(p: &ProbedPartition) -> String {
    format!(
        "partition {} (`{}`, {} at {})",
        p.number,
        p.name.as_deref().unwrap_or(""),
        mib(p.size),
        mib(p.start)
    )
}

/// The partition's type when it can be listed; `None` (left out) for an
/// unmodelled type GUID, a partition not aligned to 1 MiB, or swap.
fn listable_kind(d: &mut Draft, f: &DiskFacts, p: &ProbedPartition, at: &str) -> Option<PartType> {
    let Some(kind) = PartType::from_guid(&p.type_guid) else {
        d.leave_out(
            format!("{at}: type GUID {} is not one tabula models", p.type_guid),
            "plan keeps it untouched; describe it by hand only if tabula should know it",
        );
        return None;
    };
    if !p.start.is_multiple_of(MIB) || (!p.size.is_multiple_of(MIB) && !is_rest(&f.probe, p)) {
        d.leave_out(
            format!("{at}: not aligned to 1 MiB"),
            "tabula places partitions on 1 MiB boundaries; plan keeps this one untouched as long as it is not listed",
        );
        return None;
    }
    if kind == PartType::Swap {
        d.leave_out(
            format!("{at}: a swap partition"),
            "import does not describe swap; plan keeps it untouched (add swapDevices in your NixOS config)",
        );
        return None;
    }
    Some(kind)
}

/// What a partition's content makes of it in the spec; `None` when it is
/// left out (a second LUKS container, unmodelled or unreadable content).
fn classify(
    d: &mut Draft,
    p: &ProbedPartition,
    ctx: &PartCtx<'_>,
    luks_seen: &mut bool,
) -> Option<Classified> {
    let at = ctx.at;
    match &p.content {
        Content::Filesystem {
            fstype,
            uuid,
            label,
        } => filesystem(d, ctx, fstype).map(|owner| {
            (
                Some((fstype.clone(), uuid.clone(), label.clone())),
                false,
                owner,
            )
        }),
        Content::Luks(_) if !*luks_seen => {
            *luks_seen = true;
            Some((None, true, ("nixos".to_owned(), None)))
        }
        Content::Luks(l) => {
            d.leave_out(
                format!("{at}: a second LUKS container (UUID {})", l.uuid),
                "a spec has one [luks] container; plan keeps this one untouched",
            );
            None
        }
        Content::Empty => Some((None, false, empty_owner(ctx.kind))),
        Content::Data { .. } if ctx.kind == PartType::WindowsReserved => {
            Some((None, false, ("windows".to_owned(), None)))
        }
        Content::Data { nonzero_at } => {
            d.leave_out(
                format!("{at}: data without a signature (first non-zero byte at {nonzero_at}): plain dm-crypt, VeraCrypt, raw data?"),
                "plan keeps it untouched; list it by hand with its owner if it belongs to a system",
            );
            None
        }
        Content::Other { usage, fstype } => {
            d.leave_out(
                format!("{at}: {}", other_name(usage, fstype)),
                "tabula does not model it; plan keeps the partition untouched",
            );
            None
        }
        Content::Interrupted { what } => {
            d.leave_out(
                format!("{at}: an interrupted tabula apply left its {what} unfinished"),
                "run `tabula apply` with the original spec to finish it",
            );
            None
        }
        Content::Unknown { reason } => {
            d.leave_out(format!("{at}: not probed: {reason}"), "probe it again");
            None
        }
    }
}

/// The owner of a partition holding a filesystem; `None` (left out) when
/// tabula does not model the filesystem.
fn filesystem(d: &mut Draft, ctx: &PartCtx<'_>, fstype: &str) -> Option<Owner> {
    let modelled = matches!(fstype, "vfat" | "ext4" | "btrfs" | "ntfs" | "exfat" | "xfs");
    if !modelled {
        d.leave_out(
            format!("{}: {}", ctx.at, other_name("filesystem", fstype)),
            "tabula does not model this filesystem; plan keeps the partition untouched",
        );
        return None;
    }
    Some(match (fstype, ctx.kind) {
        (_, PartType::Esp) => ("nixos".to_owned(), None),
        ("ntfs", _) => ("windows".to_owned(), ctx.windows_why.clone()),
        ("ext4" | "btrfs" | "xfs", _) => linux_owner(ctx.facts),
        _ => (
            "foreign".to_owned(),
            Some(format!("a {fstype} partition with no system on it")),
        ),
    })
}

/// The owner of a Linux filesystem, from its `/etc/os-release` `ID`.
fn linux_owner(facts: &PartFacts) -> Owner {
    match &facts.os_id {
        Some(Seen::Found(id)) if id == "nixos" => ("nixos".to_owned(), None),
        Some(Seen::Found(id)) => (owner_name(id), None),
        Some(Seen::Unreadable(why)) => (
            "nixos".to_owned(),
            Some(format!("/etc/os-release could not be read ({why})")),
        ),
        Some(Seen::Absent) | None => (
            "nixos".to_owned(),
            Some("no /etc/os-release on it: name its system here if it is not NixOS's".into()),
        ),
    }
}

/// The guessed owner of an empty partition, by its type.
fn empty_owner(kind: PartType) -> Owner {
    (
        if matches!(
            kind,
            PartType::WindowsData | PartType::WindowsReserved | PartType::WindowsRecovery
        ) {
            "windows".to_owned()
        } else {
            "foreign".to_owned()
        },
        Some(
            "an empty partition of this type: set owner = \"nixos\" to let tabula format it".into(),
        ),
    )
}

/// The partition's GPT name when usable and not taken by one listed
/// before it, else `partN`.
fn unique_label(out: &[Listed], p: &ProbedPartition) -> String {
    let used: Vec<&str> = out.iter().map(|l| l.label.as_str()).collect();
    usable_label(p.name.as_deref())
        .filter(|n| !used.contains(n))
        .map_or_else(|| format!("part{}", p.number), str::to_owned)
}

/// An os-release `ID` as an owner name.
fn owner_name(id: &str) -> String {
    let s: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect::<String>()
        .to_ascii_lowercase();
    if s.is_empty() {
        "foreign".into()
    } else {
        s
    }
}

fn write_partition(d: &mut Draft, f: &DiskFacts, l: &Listed, prev_end: u64) {
    let Some(pp) = f.probe.partitions.iter().find(|p| p.number == l.number) else {
        return;
    };
    let mut pairs: Vec<(&str, Item)> = vec![
        ("number", value(i64::from(l.number), None)),
        ("label", {
            let guessed = usable_label(pp.name.as_deref()) != Some(l.label.as_str());
            value(
                l.label.as_str(),
                guessed.then_some("its GPT name is empty or not usable as a label"),
            )
        }),
        (
            "size",
            if is_rest(&f.probe, pp) {
                value("rest", None)
            } else {
                value(size_text(pp.size), None)
            },
        ),
    ];
    // The start, when it is not right after the listed one before it.
    if pp.start != prev_end {
        pairs.push(("start", value(size_text(pp.start), None)));
    }
    pairs.push(("type", value(l.kind.name(), None)));
    pairs.push(("owner", value(l.owner.0.as_str(), l.owner.1.as_deref())));
    if l.kind == PartType::Esp {
        let facts = f.parts.get(&l.number);
        match facts.and_then(|x| x.esp_microsoft.clone()) {
            Some(Seen::Found(true)) => {
                pairs.push(("shared_with", Item::Value(strings(["windows"]))));
            }
            Some(Seen::Unreadable(why)) => {
                let mut v = strings(Vec::<String>::new());
                v.decor_mut().set_suffix(format!(
                    "  # guessed: not read ({why}); add \"windows\" if EFI/Microsoft is on it"
                ));
                pairs.push(("shared_with", Item::Value(v)));
            }
            _ => {}
        }
        pairs.push((
            "format",
            value(
                false,
                Some("an ESP found with its boot files is never formatted"),
            ),
        ));
    }
    if let Some((fstype, uuid, label)) = &l.fs {
        let t = inline(&[
            ("type", Some(fstype.as_str())),
            ("uuid", uuid.as_deref()),
            ("label", label.as_deref()),
        ]);
        pairs.push(("filesystem", Item::Value(Value::InlineTable(t))));
    }
    if l.luks {
        pairs.push(("luks", value(true, None)));
    }
    d.push("partition", pairs, None);
}

/// One `[[mount]]`: its path and its pairs.
type Mount = (String, Vec<(&'static str, Item)>);

/// The LUKS container, the btrfs pool and the mount table. Returns whether
/// a root (`/`) was found or guessed.
fn pool_and_mounts(d: &mut Draft, f: &DiskFacts, listed: &[Listed]) -> bool {
    let mut mounts: Vec<Mount> = Vec::new();
    let luks_part = listed.iter().find(|l| l.luks);
    let mut pool = luks_part.and_then(|lp| luks_pool(d, f, lp));
    // A btrfs partition (no LUKS): its subvolumes are read unmounted.
    if pool.is_none() && luks_part.is_none() {
        pool = partition_pool(f, listed);
    }
    if let Some((b, _)) = &pool {
        write_pool(d, b, &mut mounts);
    }
    if !has_mount(&mounts, "/") {
        root_mount(d, listed, luks_part, pool.is_some(), &mut mounts);
    }
    boot_mounts(d, listed, &mut mounts);
    let root = has_mount(&mounts, "/");
    for (i, (_, pairs)) in mounts.into_iter().enumerate() {
        d.push(
            "mount",
            pairs,
            (i == 0).then_some("--- the mount table ---"),
        );
    }
    root
}

/// Whether the mount table has a mount at `path`.
fn has_mount(mounts: &[Mount], path: &str) -> bool {
    mounts.iter().any(|(m, _)| m == path)
}

/// Writes `[luks]` for the listed container and returns the pool read
/// inside it (`true`: inside LUKS); what could not be read is left out.
fn luks_pool(d: &mut Draft, f: &DiskFacts, lp: &Listed) -> Option<(BtrfsProbe, bool)> {
    let lf = f.luks.iter().find(|x| x.number == lp.number)?;
    write_luks(d, lp, lf);
    match &lf.pool {
        Seen::Found(b) => return Some((b.clone(), true)),
        Seen::Absent => d.leave_out(
            format!("the LUKS container {}: no filesystem inside", lf.uuid),
            "apply with the spec's [btrfs] makes the pool in it",
        ),
        Seen::Unreadable(why) => d.leave_out(
            format!(
                "the inside of LUKS container {} (partition `{}`): not read: {why}",
                lf.uuid, lp.label
            ),
            "run import with --passphrase-file or --keyfile where `cryptsetup open` works (the installer), or write [btrfs] and its [[mount]]s by hand",
        ),
    }
    None
}

/// The first NixOS btrfs partition with subvolumes, as the pool (`false`:
/// not inside LUKS).
fn partition_pool(f: &DiskFacts, listed: &[Listed]) -> Option<(BtrfsProbe, bool)> {
    for l in listed.iter().filter(|l| l.owner.0 == "nixos") {
        // A btrfs without subvolumes is a plain root filesystem.
        if let Some(Seen::Found(b)) = f
            .parts
            .get(&l.number)
            .and_then(|x| x.btrfs.clone())
            .filter(|b| matches!(b, Seen::Found(x) if !x.subvolumes.is_empty()))
        {
            return Some((b, false));
        }
    }
    None
}

/// Writes `[btrfs]` and its subvolumes; a subvolume of a well-known name
/// gets a mount where such subvolumes usually are.
fn write_pool(d: &mut Draft, b: &BtrfsProbe, mounts: &mut Vec<Mount>) {
    if let Some(label) = &b.label {
        d.set("btrfs", "label", value(label.as_str(), None));
    }
    if let Some(uuid) = &b.uuid {
        d.set("btrfs", "uuid", value(uuid.as_str(), None));
    }
    d.comment_table("btrfs", "--- the btrfs pool ---");
    for s in &b.subvolumes {
        d.push(
            "btrfs.subvolume",
            vec![("path", value(s.as_str(), None))],
            None,
        );
        if let Some(m) = mount_of(s) {
            if !has_mount(mounts, m) {
                let mut pairs = vec![
                    ("path", value(m, None)),
                    (
                        "subvolume",
                        value(
                            s.as_str(),
                            Some("mounted where subvolumes of this name usually are"),
                        ),
                    ),
                ];
                if needed_for_boot(m) {
                    pairs.push(("needed_for_boot", value(true, None)));
                }
                mounts.push((m.to_owned(), pairs));
            }
        }
    }
}

/// The root when no subvolume gave one: NixOS's own partition, else a
/// tmpfs over a pool (impermanence), else the one Linux filesystem.
fn root_mount(
    d: &mut Draft,
    listed: &[Listed],
    luks_part: Option<&Listed>,
    has_pool: bool,
    mounts: &mut Vec<Mount>,
) {
    let part_root = listed.iter().find(|l| {
        l.owner.0 == "nixos"
            && l.kind != PartType::Esp
            && matches!(
                l.fs.as_ref().map(|x| x.0.as_str()),
                Some("ext4" | "xfs" | "btrfs")
            )
            && l.label != "boot"
    });
    if let (Some(r), None, false) = (part_root, luks_part, has_pool) {
        let why = r
            .owner
            .1
            .as_ref()
            .map(|_| "the one Linux filesystem with no other system named on it");
        mounts.insert(
            0,
            (
                "/".into(),
                vec![
                    ("path", value("/", None)),
                    ("partition", value(r.label.as_str(), why)),
                    ("needed_for_boot", value(true, None)),
                ],
            ),
        );
    } else if luks_part.is_some() || has_pool {
        let mut t = toml_edit::InlineTable::new();
        t.insert("size", Value::from("2G"));
        t.insert("mode", Value::from("755"));
        let mut v = Value::InlineTable(t);
        v.decor_mut().set_suffix(
            "  # guessed: no root subvolume: an impermanent tmpfs root (its size is not on the disk)",
        );
        d.guessed += 1;
        mounts.insert(
            0,
            (
                "/".into(),
                vec![("path", value("/", None)), ("tmpfs", Item::Value(v))],
            ),
        );
    }
}

/// `/boot`: an ext4 named boot; the ESP at `/boot/efi` then, else at `/boot`.
fn boot_mounts(d: &mut Draft, listed: &[Listed], mounts: &mut Vec<Mount>) {
    let boot = listed.iter().find(|l| {
        l.label == "boot" && l.owner.0 == "nixos" && l.kind != PartType::Esp && l.fs.is_some()
    });
    if let Some(b) = boot {
        mounts.push((
            "/boot".into(),
            vec![
                ("path", value("/boot", None)),
                (
                    "partition",
                    value(b.label.as_str(), Some("a filesystem named boot")),
                ),
            ],
        ));
    }
    if let Some(esp) = listed.iter().find(|l| l.kind == PartType::Esp) {
        let at = if boot.is_some() { "/boot/efi" } else { "/boot" };
        mounts.push((
            at.into(),
            vec![
                ("path", value(at, None)),
                ("partition", value(esp.label.as_str(), None)),
                ("options", {
                    let mut v = strings(["umask=0077"]);
                    v.decor_mut()
                        .set_suffix("  # guessed: mount options are not on the disk");
                    Item::Value(v)
                }),
            ],
        ));
        d.guessed += 1;
    }
}

fn write_luks(d: &mut Draft, lp: &Listed, lf: &LuksFacts) {
    d.comment_table(
        "luks",
        &format!(
            "--- the LUKS{} container: cipher {}, key slot(s) {} ---",
            lf.version,
            lf.cipher.as_deref().unwrap_or("unknown"),
            lf.keyslots
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    d.set("luks", "partition", value(lp.label.as_str(), None));
    d.set(
        "luks",
        "name",
        value("pool", Some("the /dev/mapper name is not on the disk")),
    );
    d.set("luks", "uuid", value(lf.uuid.as_str(), None));
    if lf.version != 2 {
        d.leave_out(
            format!("the LUKS container {} is LUKS{}", lf.uuid, lf.version),
            "tabula keeps LUKS2 only: convert it (cryptsetup convert --type luks2, after a header backup)",
        );
    }
    match lf.kdf.as_deref() {
        Some(k @ ("argon2id" | "argon2i" | "pbkdf2")) => {
            d.set("luks", "kdf", value(k, None));
            if k == "pbkdf2" {
                if let Some(it) = lf.iterations.and_then(|i| i64::try_from(i).ok()) {
                    d.set("luks", "pbkdf_iterations", value(it, None));
                }
            }
        }
        Some(other) => d.leave_out(
            format!("the LUKS container {}: key slot PBKDF `{other}`", lf.uuid),
            "set [luks] kdf by hand",
        ),
        None => d.leave_out(
            format!("the LUKS container {}: no key slot read", lf.uuid),
            "set [luks] kdf by hand",
        ),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn part(
        number: u32,
        start_mib: u64,
        size_mib: u64,
        kind: PartType,
        content: Content,
    ) -> ProbedPartition {
        ProbedPartition {
            number,
            node: format!("/dev/loop9p{number}"),
            start: start_mib * MIB,
            size: size_mib * MIB,
            type_guid: kind.guid().to_owned(),
            uuid: None,
            name: Some(format!("p{number}")),
            content,
        }
    }

    fn facts(table: Option<&str>, partitions: Vec<ProbedPartition>) -> DiskFacts {
        DiskFacts {
            path: "disk.img".into(),
            probe: DiskProbe {
                device: "/dev/loop9".into(),
                size: GIB,
                sector_size: 512,
                table: table.map(Into::into),
                partitions,
                busy: Vec::new(),
            },
            parts: BTreeMap::new(),
            luks: Vec::new(),
        }
    }

    #[test]
    fn os_release_id_drops_quotes_and_skips_other_keys() {
        assert_eq!(
            os_release_id("NAME=\"Alpine\"\nVERSION_ID=3\nID=\"alpine\"\n").as_deref(),
            Some("alpine")
        );
        assert_eq!(os_release_id("ID_LIKE=debian\n"), None);
    }

    #[test]
    fn sizes_are_written_exactly() {
        assert_eq!(size_text(GIB), "1GiB");
        assert_eq!(size_text(64 * MIB), "64MiB");
        assert_eq!(size_text(MIB + 512), "1049088B");
    }

    #[test]
    fn mbr_and_no_table_are_refused_naming_what() {
        let e = draft(&[facts(Some("dos"), vec![])])
            .unwrap_err()
            .to_string();
        assert!(e.contains("MBR (dos)") && e.contains("GPT"), "{e}");
        let e = draft(&[facts(None, vec![])]).unwrap_err().to_string();
        assert!(e.contains("no partition table"), "{e}");
    }

    #[test]
    fn lvm_mdadm_zfs_bcachefs_and_a_second_disk_are_left_out() {
        let other = |u: &str, t: &str| Content::Other {
            usage: u.into(),
            fstype: t.into(),
        };
        let f = facts(
            Some("gpt"),
            vec![
                part(1, 1, 64, PartType::Linux, other("raid", "LVM2_member")),
                part(
                    2,
                    65,
                    64,
                    PartType::Linux,
                    other("raid", "linux_raid_member"),
                ),
                part(
                    3,
                    129,
                    64,
                    PartType::Linux,
                    other("filesystem", "zfs_member"),
                ),
                part(4, 193, 64, PartType::Linux, other("filesystem", "bcachefs")),
                part(
                    5,
                    257,
                    64,
                    PartType::Linux,
                    Content::Filesystem {
                        fstype: "ext4".into(),
                        uuid: Some("u5".into()),
                        label: None,
                    },
                ),
            ],
        );
        let mut second = f.clone();
        second.path = "second.img".into();
        let d = draft(&[f, second]).unwrap();
        let all: Vec<&str> = d.left_out.iter().map(|l| l.what.as_str()).collect();
        for want in [
            "an LVM physical volume",
            "an mdadm RAID member",
            "a ZFS pool member",
            "a bcachefs filesystem",
            "disk second.img: a second disk",
        ] {
            assert!(all.iter().any(|w| w.contains(want)), "{want}: {all:?}");
        }
        let t = d.to_toml();
        // Only partition 5 is listed, at its own start after the unlisted ones.
        assert_eq!(t.matches("[[partition]]").count(), 1, "{t}");
        assert!(t.contains("start = \"257MiB\""), "{t}");
        // Its owner and the root it makes are guesses, said so.
        assert!(t.contains("owner = \"nixos\"  # guessed:"), "{t}");
        assert!(t.contains("partition = \"p5\"  # guessed:"), "{t}");
    }

    #[test]
    fn a_foreign_os_release_names_the_owner() {
        let mut f = facts(
            Some("gpt"),
            vec![part(
                1,
                1,
                64,
                PartType::Linux,
                Content::Filesystem {
                    fstype: "ext4".into(),
                    uuid: None,
                    label: None,
                },
            )],
        );
        f.parts.insert(
            1,
            PartFacts {
                os_id: Some(Seen::Found("kali".into())),
                ..PartFacts::default()
            },
        );
        let t = draft(&[f]).unwrap().to_toml();
        assert!(t.contains("owner = \"kali\"\n"), "{t}");
        assert!(t.contains("no NixOS root filesystem"), "{t}");
    }

    #[test]
    fn a_btrfs_root_is_the_partition_without_subvolumes_else_a_tmpfs_over_them() {
        let btrfs = |subvolumes: Vec<&str>| {
            let mut f = facts(
                Some("gpt"),
                vec![part(
                    1,
                    1,
                    64,
                    PartType::Linux,
                    Content::Filesystem {
                        fstype: "btrfs".into(),
                        uuid: None,
                        label: None,
                    },
                )],
            );
            f.parts.insert(
                1,
                PartFacts {
                    btrfs: Some(Seen::Found(BtrfsProbe {
                        uuid: None,
                        label: None,
                        subvolumes: subvolumes.into_iter().map(Into::into).collect(),
                    })),
                    ..PartFacts::default()
                },
            );
            draft(&[f]).unwrap().to_toml()
        };
        let t = btrfs(vec![]);
        assert!(t.contains("path = \"/\"\npartition = \"p1\""), "{t}");
        assert!(!t.contains("[btrfs]"), "{t}");
        let t = btrfs(vec!["@home"]);
        assert!(t.contains("path = \"/\"\ntmpfs = "), "{t}");
        assert!(t.contains("path = \"/home\"\nsubvolume = \"@home\""), "{t}");
    }

    #[test]
    fn a_partition_numbered_out_of_disk_order_is_left_out() {
        let ext4 = || Content::Filesystem {
            fstype: "ext4".into(),
            uuid: None,
            label: None,
        };
        let f = facts(
            Some("gpt"),
            vec![
                part(1, 65, 64, PartType::Linux, ext4()),
                part(2, 1, 64, PartType::Linux, ext4()),
            ],
        );
        let d = draft(&[f]).unwrap();
        assert!(
            d.left_out[0]
                .what
                .contains("partition 1 (`p1`): numbered out of disk order"),
            "{:?}",
            d.left_out
        );
        let t = d.to_toml();
        assert_eq!(t.matches("[[partition]]").count(), 1, "{t}");
        assert!(t.contains("number = 2"), "{t}");
    }
}
