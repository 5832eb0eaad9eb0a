//! # The plan: spec + probe -> lines and steps (PURE)
//!
//! Every partition, filesystem, LUKS container, key slot, subvolume and
//! mount gets one [`Line`] naming the object (`partition:pool`, `fs:boot`,
//! `luks:pool`, `subvolume:@user/home`, `mount:/nix`) with an [`Action`] and
//! a reason. The [`Step`]s are what `apply` runs, and nothing else.
//!
//! Safety rules (fail closed):
//! - a partition on disk that the spec does not list is never touched; a
//!   spec partition that would need its space is refused;
//! - a listed partition that is moved, resized or of another type is
//!   refused; tabula never moves or resizes;
//! - foreign partitions and `format = false` partitions (the ESP shared with
//!   Windows) are never formatted: a mismatch there is refused;
//! - a NixOS-owned object holding other data is `DESTROY`, which `apply`
//!   runs only when named with `--wipe`;
//! - inside a closed LUKS container nothing can be checked: `unverified`;
//! - only all-zero space is empty: data without a signature is `DESTROY`
//!   on a NixOS partition (refused where tabula never formats); an
//!   interrupted run's own unfinished format is formatted again.

use std::collections::BTreeSet;

use serde::Serialize;
use tabula_spec::model::{
    Btrfs, Extent, Filesystem, FsType, Kdf, Luks, MountSource, Owner, Partition,
};
use tabula_spec::{HostSpec, Size};

use crate::probe::{BtrfsProbe, Content, DiskProbe, LuksProbe, OpenContainer, ProbedPartition};

/// What happens to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Does not exist yet: made new (nothing to lose).
    Create,
    /// Exists and matches the spec: untouched.
    Keep,
    /// A filesystem made where there is nothing to lose: all zero, or
    /// tabula's own unfinished format of an interrupted run.
    Format,
    /// Holds data that would be lost: needs `--wipe NAME`.
    #[serde(rename = "DESTROY")]
    Destroy,
    /// Does not match the spec and tabula will not change it: apply refuses.
    Refuse,
    /// Cannot be checked (inside a closed container, or not probed).
    Unverified,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Keep => "keep",
            Action::Format => "format",
            Action::Destroy => "DESTROY",
            Action::Refuse => "refuse",
            Action::Unverified => "unverified",
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The object a plan line (and a step) is about. Its [`Display`] and serde
/// form is the name `plan` prints and `--wipe` takes: `disk:/dev/sda`,
/// `partition:pool` (`partition:#5` for one the spec does not list),
/// `fs:boot`, `luks:pool`, `keyslot:pool/keyfile`, `btrfs:pool`,
/// `subvolume:@user/home`, `mount:/nix`.
///
/// [`Display`]: std::fmt::Display
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Object {
    /// The whole disk (its partition table), by device path.
    Disk(String),
    /// A partition the spec lists, by label.
    Partition(String),
    /// A partition on disk the spec does not list, by number.
    Unlisted(u32),
    /// The filesystem of the partition with this label.
    Fs(String),
    /// The LUKS2 container, by mapping name.
    Luks(String),
    /// The keyfile's key slot of the container with this name.
    Keyslot(String),
    /// The btrfs pool inside the container, by name.
    Btrfs(String),
    /// A btrfs subvolume, by path.
    Subvolume(String),
    /// A mount point, by path.
    Mount(String),
}

impl Object {
    /// The object's name (as `--wipe` takes it).
    pub fn name(&self) -> String {
        match self {
            Object::Disk(d) => format!("disk:{d}"),
            Object::Partition(l) => format!("partition:{l}"),
            Object::Unlisted(n) => format!("partition:#{n}"),
            Object::Fs(l) => format!("fs:{l}"),
            Object::Luks(n) => format!("luks:{n}"),
            Object::Keyslot(n) => format!("keyslot:{n}/keyfile"),
            Object::Btrfs(n) => format!("btrfs:{n}"),
            Object::Subvolume(s) => format!("subvolume:{s}"),
            Object::Mount(m) => format!("mount:{m}"),
        }
    }

    /// Inside the LUKS container (or the container itself): unverified
    /// while it is closed.
    pub fn in_container(&self) -> bool {
        matches!(
            self,
            Object::Luks(_)
                | Object::Keyslot(_)
                | Object::Btrfs(_)
                | Object::Subvolume(_)
                | Object::Mount(_)
        )
    }
}

impl std::fmt::Display for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`: the plan's table aligns names with `{:<w$}`.
        f.pad(&self.name())
    }
}

impl Serialize for Object {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl From<&Object> for Object {
    fn from(o: &Object) -> Object {
        o.clone()
    }
}

impl PartialEq<str> for Object {
    fn eq(&self, other: &str) -> bool {
        self.name() == other
    }
}

impl PartialEq<&str> for Object {
    fn eq(&self, other: &&str) -> bool {
        self.name() == *other
    }
}

impl PartialEq<String> for Object {
    fn eq(&self, other: &String) -> bool {
        self.name() == *other
    }
}

/// One object and what the plan does to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    /// The object (its name as `--wipe` takes it).
    pub object: Object,
    pub action: Action,
    pub reason: String,
    /// The way forward from a `refuse` (a flag or a spec change); absent on
    /// other lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Line {
    /// The reason, followed by `; fix: ...` when the line has one.
    pub fn reason_and_fix(&self) -> String {
        match &self.fix {
            Some(f) => format!("{}; fix: {f}", self.reason),
            None => self.reason.clone(),
        }
    }
}

/// One effect `apply` runs. Partitions are named by number: their nodes are
/// resolved on the disk when the step runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "step")]
pub enum Step {
    /// `--wipe table:DISK`: every partition's signatures wiped, then the
    /// partition table zapped (`sgdisk --zap-all`); skipped on a disk with
    /// no table.
    ZapTable,
    /// A new, empty GPT (only on a disk with no partition table).
    CreateTable,
    CreatePartition {
        number: u32,
        name: String,
        type_guid: String,
        /// Bytes.
        start: u64,
        /// Bytes.
        size: u64,
    },
    Mkfs {
        object: Object,
        partition: u32,
        fstype: FsType,
        uuid: Option<String>,
        label: Option<String>,
    },
    LuksFormat {
        object: Object,
        partition: u32,
        uuid: String,
        kdf: Kdf,
        iterations: Option<u32>,
        memory_kib: Option<u32>,
        time_ms: Option<u32>,
    },
    AddKeyfile {
        partition: u32,
    },
    Open {
        partition: u32,
        name: String,
    },
    MkfsBtrfs {
        object: Object,
        mapper: String,
        uuid: Option<String>,
        label: Option<String>,
    },
    DeleteSubvolume {
        object: Object,
        path: String,
    },
    CreateSubvolume {
        path: String,
    },
}

impl Step {
    /// A short description for the progress display.
    /// Whether the step works inside the open container (opening it, the
    /// pool, its subvolumes): what `--no-open` leaves undone.
    pub fn inside_container(&self) -> bool {
        matches!(
            self,
            Step::Open { .. }
                | Step::MkfsBtrfs { .. }
                | Step::DeleteSubvolume { .. }
                | Step::CreateSubvolume { .. }
        )
    }

    pub fn describe(&self) -> String {
        match self {
            Step::ZapTable => "removing every partition and the partition table".into(),
            Step::CreateTable => "writing a new GPT".into(),
            Step::CreatePartition { number, name, .. } => {
                format!("creating partition {number} ({name})")
            }
            Step::Mkfs { object, fstype, .. } => format!("formatting {object} as {fstype}"),
            Step::LuksFormat { object, .. } => format!("formatting {object} as LUKS2"),
            Step::AddKeyfile { .. } => "adding the keyfile's key slot".into(),
            Step::Open { name, .. } => format!("opening the container as /dev/mapper/{name}"),
            Step::MkfsBtrfs { object, .. } => format!("creating the btrfs pool {object}"),
            Step::DeleteSubvolume { path, .. } => format!("deleting subvolume {path}"),
            Step::CreateSubvolume { path } => format!("creating subvolume {path}"),
        }
    }
}

/// The plan for one disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub device: String,
    pub lines: Vec<Line>,
    pub steps: Vec<Step>,
    /// What makes the disk busy now (apply refuses to write while any is).
    pub busy: Vec<crate::busy::Busy>,
}

impl Plan {
    /// Lines apply refuses over.
    pub fn refused(&self) -> Vec<&Line> {
        self.lines
            .iter()
            .filter(|l| l.action == Action::Refuse)
            .collect()
    }

    /// Lines that lose data (each needs `--wipe NAME`).
    pub fn destroys(&self) -> Vec<&Line> {
        self.lines
            .iter()
            .filter(|l| l.action == Action::Destroy)
            .collect()
    }

    /// Nothing to do: the disk matches.
    /// Lines about the container and what is inside it (key slot, pool,
    /// subvolumes, mounts) that could not be checked: with `--no-open` or
    /// without device-mapper, the pool is never seen.
    pub fn unverified_pool(&self) -> Vec<&Line> {
        self.lines
            .iter()
            .filter(|l| l.action == Action::Unverified && l.object.in_container())
            .collect()
    }

    /// The pool's line is unverified: the container is closed, and only
    /// opening it shows the pool.
    pub fn pool_unverified(&self) -> bool {
        self.lines
            .iter()
            .any(|l| matches!(l.object, Object::Btrfs(_)) && l.action == Action::Unverified)
    }

    pub fn is_noop(&self) -> bool {
        self.steps.is_empty()
    }

    pub fn line(&self, object: &str) -> Option<&Line> {
        self.lines.iter().find(|l| l.object == *object)
    }

    /// The plan as an aligned text table, one line per object.
    pub fn table(&self) -> String {
        let w = self
            .lines
            .iter()
            .map(|l| l.object.name().len())
            .max()
            .unwrap_or(6)
            .max(6);
        let mut out = format!("{:<10}  {:<w$}  REASON\n", "ACTION", "OBJECT");
        for l in &self.lines {
            out.push_str(&format!(
                "{:<10}  {:<w$}  {}\n",
                l.action.as_str(),
                l.object,
                l.reason_and_fix()
            ));
        }
        out
    }
}

/// What the caller adds to the spec and the probe.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Subvolumes to recreate empty (`--reset`).
    pub reset: Vec<String>,
    /// A keyfile key slot is wanted (`--keyfile` or `--usb` given).
    pub keyfile: bool,
    /// Whether that keyfile already opens the container (tested by apply).
    pub keyfile_opens: Option<bool>,
    /// The `--wipe` names given: `table:DISK` repartitions the whole disk
    /// (every partition on it DESTROY, then the spec's layout created).
    pub wipe: Vec<String>,
    /// The disk as the user named it (`--disk`), for `--wipe table:DISK` in
    /// the fix lines; the probed device when absent.
    pub disk_arg: Option<String>,
}

impl PlanOptions {
    /// The `--wipe` name that repartitions this disk: `table:DISK`.
    pub fn table_name(&self, device: &str) -> String {
        format!("table:{}", self.disk_arg.as_deref().unwrap_or(device))
    }

    /// Whether `--wipe table:DISK` names this disk (by the path given to
    /// `--disk` or the device, with or without the `disk:` prefix).
    pub fn wipes_table(&self, device: &str) -> bool {
        self.wipe.iter().any(|w| {
            w.strip_prefix("table:").is_some_and(|d| {
                let d = d.strip_prefix("disk:").unwrap_or(d);
                d == device || self.disk_arg.as_deref() == Some(d)
            })
        })
    }
}

/// State of a spec partition after the partition section.
#[derive(Clone, Copy)]
enum PartState<'a> {
    Refused,
    New,
    Existing(&'a ProbedPartition),
}

/// State of the inside of the container.
enum Inner<'a> {
    /// Made new by this plan: empty.
    Fresh,
    Open(&'a OpenContainer),
    Closed,
    Unknown(String),
}

fn human(b: u64) -> String {
    Size::bytes(b).human()
}

fn mib(b: u64) -> String {
    format!("{} MiB", b >> 20)
}

fn describe_content(c: &Content) -> String {
    match c {
        Content::Empty => "no signature".into(),
        Content::Data { nonzero_at } => {
            format!("unknown data (no signature, but not zero: a non-zero byte at {nonzero_at})")
        }
        Content::Interrupted { what } => {
            format!("the unfinished {what} of an interrupted apply")
        }
        Content::Filesystem {
            fstype,
            uuid,
            label,
        } => {
            let mut s = fstype.clone();
            if let Some(u) = uuid {
                s.push_str(&format!(" UUID {u}"));
            }
            if let Some(l) = label {
                s.push_str(&format!(" label `{l}`"));
            }
            s
        }
        Content::Luks(l) => format!("LUKS{} UUID {}", l.version, l.uuid),
        Content::Other { usage, fstype } => format!("{fstype} ({usage})"),
        Content::Unknown { reason } => reason.clone(),
    }
}

fn describe_fs(kind: FsType, uuid: Option<&str>, label: Option<&str>) -> String {
    let mut s = kind.name().to_owned();
    if let Some(u) = uuid {
        s.push_str(&format!(" UUID {u}"));
    }
    if let Some(l) = label {
        s.push_str(&format!(" label `{l}`"));
    }
    s
}

fn why_never_formatted(p: &Partition) -> String {
    match &p.owner {
        Owner::Foreign(o) => format!("it belongs to {o}: tabula never formats a foreign partition"),
        Owner::Nixos => {
            "it is marked `format = false` (shared): tabula verifies it, never formats it".into()
        }
    }
}

/// Whether tabula may overwrite what is on this partition (with `--wipe`).
fn may_destroy(p: &Partition) -> bool {
    p.owner.is_nixos() && p.format
}

struct Builder {
    lines: Vec<Line>,
    steps: Vec<Step>,
}

impl Builder {
    fn line(&mut self, object: impl Into<Object>, action: Action, reason: impl Into<String>) {
        self.lines.push(Line {
            object: object.into(),
            action,
            reason: reason.into(),
            fix: None,
        });
    }

    /// A `refuse` line with its way forward.
    fn refuse(
        &mut self,
        object: impl Into<Object>,
        reason: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.lines.push(Line {
            object: object.into(),
            action: Action::Refuse,
            reason: reason.into(),
            fix: Some(fix.into()),
        });
    }
}

/// Compute the plan. Pure: no process, no disk. One pass per kind of
/// object, in order; each adds its lines and steps to the builder.
pub fn plan(spec: &HostSpec, probe: &DiskProbe, opts: &PlanOptions) -> Plan {
    let mut b = Builder {
        lines: Vec::new(),
        steps: Vec::new(),
    };
    let table = opts.table_name(&probe.device);
    let wiped = (opts.wipes_table(&probe.device)
        && probe.table.is_some()
        && probe.size >= spec.disk.size.as_u64())
    .then(|| wipe_table(&mut b, probe, &table));
    let states = match &wiped {
        Some(empty) => partitions(&mut b, spec, empty, false, &table),
        None => {
            let disk_refused = disk_table(&mut b, spec, probe, &table);
            partitions(&mut b, spec, probe, disk_refused, &table)
        }
    };
    filesystems(&mut b, spec, &states);
    let inner = container(&mut b, spec, &states, opts);
    let subvol_state = pool(&mut b, spec, &inner, opts);
    mounts(&mut b, spec, &subvol_state);
    Plan {
        device: probe.device.clone(),
        lines: b.lines,
        steps: b.steps,
        busy: probe.busy.clone(),
    }
}

/// Pass 1 with `--wipe table:DISK` on a disk with a table: the table and
/// every partition on it DESTROY (each by name, foreign ones too), then a
/// new GPT. Returns the probe of the disk as it is then: empty.
fn wipe_table(b: &mut Builder, probe: &DiskProbe, table: &str) -> DiskProbe {
    b.line(
        Object::Disk(probe.device.clone()),
        Action::Destroy,
        format!(
            "--wipe {table}: its {} partition table and all {} partition(s) on it are removed, then a new GPT is written",
            probe.table.as_deref().unwrap_or("unknown"),
            probe.partitions.len()
        ),
    );
    for pp in &probe.partitions {
        b.line(
            Object::Unlisted(pp.number),
            Action::Destroy,
            format!(
                "`{}` ({}, {} at {}, holds {}): removed with the table, its data is lost",
                pp.name.as_deref().unwrap_or(""),
                type_name(&pp.type_guid),
                mib(pp.size),
                mib(pp.start),
                describe_content(&pp.content)
            ),
        );
    }
    b.steps.push(Step::ZapTable);
    b.steps.push(Step::CreateTable);
    DiskProbe {
        table: None,
        partitions: Vec::new(),
        ..probe.clone()
    }
}

/// Pass 1, the disk and its table: a new GPT on a blank disk; a disk too
/// small or with another table is refused. Returns whether it is refused.
fn disk_table(b: &mut Builder, spec: &HostSpec, probe: &DiskProbe, table: &str) -> bool {
    let spec_size = spec.disk.size.as_u64();
    let disk_obj = Object::Disk(probe.device.clone());
    let mut disk_refused = false;
    if probe.size < spec_size {
        disk_refused = true;
        b.refuse(
            &disk_obj,
            format!(
                "the disk is {} but the spec's [disk] size is {}",
                human(probe.size),
                human(spec_size)
            ),
            format!(
                "use a disk of at least {}, or set [disk] size to at most {} (and the partitions to fit)",
                human(spec_size),
                human(probe.size)
            ),
        );
    } else {
        match probe.table.as_deref() {
            None => {
                b.line(&disk_obj, Action::Create, "no partition table: a new GPT");
                b.steps.push(Step::CreateTable);
            }
            Some("gpt") => b.line(&disk_obj, Action::Keep, "GPT"),
            Some(other) => {
                disk_refused = true;
                b.refuse(
                    &disk_obj,
                    format!(
                        "the disk has a `{other}` partition table; tabula only keeps or writes GPT"
                    ),
                    format!(
                        "to repartition the disk with the spec's GPT (every partition on it is lost), add --wipe {table}"
                    ),
                );
            }
        }
    }
    disk_refused
}

/// Pass 2, the partitions: each listed one is created, kept or refused
/// (never moved or resized); a partition the spec does not list is kept and
/// never touched. Returns each listed partition's state, in spec order.
fn partitions<'a>(
    b: &mut Builder,
    spec: &HostSpec,
    probe: &'a DiskProbe,
    disk_refused: bool,
    table: &str,
) -> Vec<PartState<'a>> {
    let extents = spec.extents();
    let spec_size = spec.disk.size.as_u64();
    let listed: BTreeSet<u32> = spec.partitions.iter().map(|p| p.number).collect();
    let states = spec
        .partitions
        .iter()
        .zip(extents.iter())
        .map(|(sp, ext)| {
            let at = Where {
                probe,
                listed: &listed,
                spec_size,
                table,
            };
            partition(b, sp, ext.as_ref(), &at, disk_refused)
        })
        .collect();
    unlisted_partitions(b, probe, &listed);
    states
}

/// What every listed partition is planned against.
struct Where<'a, 'b> {
    probe: &'a DiskProbe,
    listed: &'b BTreeSet<u32>,
    spec_size: u64,
    /// `table:DISK`, the `--wipe` name that repartitions the disk.
    table: &'b str,
}

/// One listed partition.
fn partition<'a>(
    b: &mut Builder,
    sp: &Partition,
    ext: Option<&Extent>,
    at: &Where<'a, '_>,
    disk_refused: bool,
) -> PartState<'a> {
    let probe = at.probe;
    let obj = Object::Partition(sp.label.clone());
    if disk_refused {
        b.line(&obj, Action::Unverified, "not checked: the disk is refused");
        return PartState::Refused;
    }
    let Some(ext) = ext else {
        b.refuse(
            &obj,
            format!(
                "does not fit on a disk of {} after the partitions before it",
                human(at.spec_size)
            ),
            "make this partition or the ones before it smaller in the spec, or raise [disk] size on a bigger disk",
        );
        return PartState::Refused;
    };
    match probe.partitions.iter().find(|p| p.number == sp.number) {
        None => new_partition(b, &obj, sp, ext, at),
        Some(pp) => existing_partition(b, &obj, sp, ext, pp, at.table),
    }
}

/// A listed partition not on the disk: created in free space, else refused.
fn new_partition<'a>(
    b: &mut Builder,
    obj: &Object,
    sp: &Partition,
    ext: &Extent,
    at: &Where<'a, '_>,
) -> PartState<'a> {
    let (probe, listed, table) = (at.probe, at.listed, at.table);
    let blockers: Vec<String> = probe
        .partitions
        .iter()
        .filter(|p| p.start < ext.end() && ext.start < p.end())
        .map(|p| {
            let what = if listed.contains(&p.number) {
                "listed under another number".to_owned()
            } else {
                "not in the spec".to_owned()
            };
            format!(
                "partition {} (`{}`, {}, {what})",
                p.number,
                p.name.as_deref().unwrap_or(""),
                type_name(&p.type_guid)
            )
        })
        .collect();
    if blockers.is_empty() {
        b.line(
            obj,
            Action::Create,
            format!(
                "new partition {} at {}, {} ({}), type {}",
                sp.number,
                mib(ext.start),
                mib(ext.size),
                human(ext.size),
                sp.kind.name()
            ),
        );
        b.steps.push(Step::CreatePartition {
            number: sp.number,
            name: sp.label.clone(),
            type_guid: sp.kind.guid().to_owned(),
            start: ext.start,
            size: ext.size,
        });
        PartState::New
    } else {
        b.refuse(
            obj,
            format!(
                "needs {}..{} which {} occupies; tabula never touches it",
                mib(ext.start),
                mib(ext.end()),
                blockers.join(" and ")
            ),
            format!(
                "to repartition the whole disk (every partition on it is lost), add --wipe {table}; or list the partition(s) there in the spec and place this one in free space"
            ),
        );
        PartState::Refused
    }
}

/// A listed partition on the disk: kept when it matches, else refused.
fn existing_partition<'a>(
    b: &mut Builder,
    obj: &Object,
    sp: &Partition,
    ext: &Extent,
    pp: &'a ProbedPartition,
    table: &str,
) -> PartState<'a> {
    let mut diffs = Vec::new();
    if pp.start != ext.start {
        diffs.push(format!(
            "moved: starts at {}, the spec puts it at {}",
            mib(pp.start),
            mib(ext.start)
        ));
    }
    // A "rest" partition another tool ended at the last usable sector
    // (sgdisk `0:0`, parted `100%`) runs up to 1 MiB past the aligned end
    // the spec computes: the same partition, the rest of the disk.
    let rest_to_end = matches!(sp.size, tabula_spec::model::PartSize::Rest)
        && pp.size > ext.size
        && pp.size - ext.size < tabula_spec::model::ALIGN;
    if pp.size != ext.size && !rest_to_end {
        diffs.push(format!(
            "resized: {} ({}), the spec says {} ({})",
            mib(pp.size),
            human(pp.size),
            mib(ext.size),
            human(ext.size)
        ));
    }
    if !pp.type_guid.eq_ignore_ascii_case(sp.kind.guid()) {
        diffs.push(format!(
            "type is {}, the spec says {}",
            type_name(&pp.type_guid),
            sp.kind.name()
        ));
    }
    if diffs.is_empty() {
        let mut reason = format!(
            "partition {} at {}, {}, {}: matches",
            sp.number,
            mib(pp.start),
            mib(pp.size),
            sp.kind.name()
        );
        if pp.name.as_deref() != Some(sp.label.as_str()) {
            reason.push_str(&format!(
                " (its GPT name is `{}`; tabula does not rename)",
                pp.name.as_deref().unwrap_or("")
            ));
        }
        b.line(obj, Action::Keep, reason);
        PartState::Existing(pp)
    } else {
        let who = match &sp.owner {
            Owner::Foreign(o) => format!("{o}'s partition"),
            Owner::Nixos => "the partition".into(),
        };
        b.refuse(
            obj,
            format!(
                "{who} does not match: {}; tabula never moves or resizes",
                diffs.join("; ")
            ),
            format!(
                "write the partition as it is on the disk into the spec (start {}, size {}), or to repartition the whole disk (every partition on it is lost) add --wipe {table}",
                mib(pp.start),
                mib(pp.size)
            ),
        );
        PartState::Refused
    }
}

/// Partitions on the disk that the spec does not list: kept, never touched.
fn unlisted_partitions(b: &mut Builder, probe: &DiskProbe, listed: &BTreeSet<u32>) {
    for pp in probe
        .partitions
        .iter()
        .filter(|p| !listed.contains(&p.number))
    {
        b.line(
            Object::Unlisted(pp.number),
            Action::Keep,
            format!(
                "`{}` ({}, {} at {}): not in the spec, never touched",
                pp.name.as_deref().unwrap_or(""),
                type_name(&pp.type_guid),
                mib(pp.size),
                mib(pp.start)
            ),
        );
    }
}

/// Pass 3, the filesystems on partitions: made on new or empty NixOS
/// partitions, kept when they match, DESTROY where NixOS may format, else
/// refused (a foreign partition is never formatted).
fn filesystems(b: &mut Builder, spec: &HostSpec, states: &[PartState<'_>]) {
    for (sp, state) in spec.partitions.iter().zip(states.iter()) {
        if let Some(fs) = &sp.filesystem {
            filesystem(b, sp, fs, state);
        }
    }
}

/// The filesystem of one partition.
fn filesystem(b: &mut Builder, sp: &Partition, fs: &Filesystem, state: &PartState<'_>) {
    let obj = Object::Fs(sp.label.clone());
    let want = describe_fs(fs.kind, fs.uuid.as_deref(), fs.label.as_deref());
    let mkfs = Step::Mkfs {
        object: obj.clone(),
        partition: sp.number,
        fstype: fs.kind,
        uuid: fs.uuid.clone(),
        label: fs.label.clone(),
    };
    match state {
        PartState::Refused => b.line(&obj, Action::Unverified, "its partition is refused"),
        PartState::New if sp.owner.is_nixos() => {
            b.line(&obj, Action::Format, format!("new partition: {want}"));
            b.steps.push(mkfs);
        }
        PartState::New => b.line(
            &obj,
            Action::Unverified,
            format!(
                "new partition left empty for {}: tabula never formats a foreign partition",
                sp.owner.name()
            ),
        ),
        PartState::Existing(pp) => existing_filesystem(b, &obj, sp, fs, pp, &want, mkfs),
    }
}

/// What is on an existing partition against the filesystem the spec wants.
fn existing_filesystem(
    b: &mut Builder,
    obj: &Object,
    sp: &Partition,
    fs: &Filesystem,
    pp: &ProbedPartition,
    want: &str,
    mkfs: Step,
) {
    match &pp.content {
        Content::Unknown { reason } => b.line(obj, Action::Unverified, reason.clone()),
        Content::Empty if sp.owner.is_nixos() => {
            // No signature at all: nothing to lose, even on a
            // `format = false` partition (a rerun after a kill).
            b.line(obj, Action::Format, format!("empty (no signature): {want}"));
            b.steps.push(mkfs);
        }
        Content::Interrupted { what } if sp.owner.is_nixos() => {
            // tabula's own half-made filesystem: nothing of the
            // user's is there (the note is written just before the
            // format, after any --wipe was given).
            b.line(
                obj,
                Action::Format,
                format!("an interrupted apply left its {what} unfinished: {want}"),
            );
            b.steps.push(mkfs);
        }
        Content::Empty => b.line(
            obj,
            Action::Unverified,
            format!("empty: left for {}", sp.owner.name()),
        ),
        Content::Data { .. } | Content::Interrupted { .. } if !sp.owner.is_nixos() => b.line(
            obj,
            Action::Unverified,
            format!(
                "{}: left for {}",
                describe_content(&pp.content),
                sp.owner.name()
            ),
        ),
        Content::Filesystem {
            fstype,
            uuid,
            label,
        } if fs_matches(fs, fstype, uuid.as_deref()) => {
            b.line(
                obj,
                Action::Keep,
                kept_fs(&pp.content, fs, label.as_deref()),
            );
        }
        other if may_destroy(sp) => {
            b.line(
                obj,
                Action::Destroy,
                format!(
                    "holds {}, the spec wants {want}: formatting loses its data",
                    describe_content(other)
                ),
            );
            b.steps.push(mkfs);
        }
        other => refuse_filesystem(b, obj, sp, other, want),
    }
}

/// Whether a found filesystem is the one the spec wants: same type, and
/// the spec's UUID (if it names one) matches, case-insensitively.
fn fs_matches(fs: &Filesystem, fstype: &str, uuid: Option<&str>) -> bool {
    fstype == fs.kind.name()
        && fs
            .uuid
            .as_deref()
            .is_none_or(|u| uuid.is_some_and(|h| h.eq_ignore_ascii_case(u)))
}

/// Refuse to format a partition tabula may not destroy that holds
/// something else than the spec's filesystem.
fn refuse_filesystem(b: &mut Builder, obj: &Object, sp: &Partition, found: &Content, want: &str) {
    b.refuse(
        obj,
        format!(
            "holds {}, the spec says {want}; {}",
            describe_content(found),
            why_never_formatted(sp)
        ),
        format!(
            "write what is there into the spec's filesystem of partition `{}`, or, if its data may go, clear it yourself (wipefs -a on its node) and apply again",
            sp.label
        ),
    );
}

/// The reason of a kept filesystem (a label other than the spec's is
/// named, never changed).
fn kept_fs(content: &Content, fs: &Filesystem, label: Option<&str>) -> String {
    let mut reason = format!("{}: matches", describe_content(content));
    if let Some(w) = &fs.label {
        if label != Some(w.as_str()) {
            reason.push_str(&format!(
                " (label is `{}`, the spec says `{w}`; not relabelled)",
                label.unwrap_or("")
            ));
        }
    }
    reason
}

/// Pass 4, the LUKS container on its partition: formatted (with the
/// keyfile's slot and opened) where there is nothing to lose, kept when
/// its UUID matches, else DESTROY or refused. Returns what its inside is.
fn container<'a>(
    b: &mut Builder,
    spec: &HostSpec,
    states: &[PartState<'a>],
    opts: &PlanOptions,
) -> Inner<'a> {
    let Some(luks) = &spec.luks else {
        return Inner::Unknown("no LUKS container in the spec".into());
    };
    let obj = Object::Luks(luks.name.clone());
    let found = spec
        .partitions
        .iter()
        .zip(states.iter())
        .find(|(p, _)| p.label == luks.partition);
    let want = format!("LUKS2 UUID {} ({})", luks.uuid, luks.kdf.name());
    let fresh = |b: &mut Builder, sp: &Partition, action: Action, why: String| {
        fresh_container(b, luks, sp, opts, action, why)
    };
    match found {
        None => {
            b.refuse(
                &obj,
                format!("[luks] partition `{}` is not in the spec", luks.partition),
                "set [luks] partition to the label of a listed partition",
            );
            Inner::Unknown("the container is refused".into())
        }
        Some((_, PartState::Refused)) => {
            b.line(&obj, Action::Unverified, "its partition is refused");
            Inner::Unknown("its partition is refused".into())
        }
        Some((sp, PartState::New)) => {
            fresh(b, sp, Action::Create, format!("new partition: {want}"))
        }
        Some((sp, PartState::Existing(pp))) => container_on_existing(b, luks, sp, pp, opts, &want),
    }
}

/// The container on an existing partition: what is found there against
/// the container the spec wants (`want`, as shown).
fn container_on_existing<'a>(
    b: &mut Builder,
    luks: &Luks,
    sp: &Partition,
    pp: &'a ProbedPartition,
    opts: &PlanOptions,
    want: &str,
) -> Inner<'a> {
    let obj = Object::Luks(luks.name.clone());
    let fresh = |b: &mut Builder, action: Action, why: String| {
        fresh_container(b, luks, sp, opts, action, why)
    };
    match &pp.content {
        Content::Unknown { reason } => {
            b.line(&obj, Action::Unverified, reason.clone());
            Inner::Unknown(reason.clone())
        }
        Content::Empty => fresh(b, Action::Create, format!("empty (no signature): {want}")),
        Content::Interrupted { what } => fresh(
            b,
            Action::Format,
            format!("an interrupted apply left its {what} unfinished: {want}"),
        ),
        Content::Luks(l) if l.uuid.eq_ignore_ascii_case(&luks.uuid) && l.version == 2 => {
            existing_container(b, luks, sp, l, opts)
        }
        other if may_destroy(sp) => fresh(
            b,
            Action::Destroy,
            format!(
                "holds {}, the spec wants {want}: formatting loses its data",
                describe_content(other)
            ),
        ),
        other => {
            b.refuse(
                &obj,
                format!(
                    "holds {}, the spec says {want}; {}",
                    describe_content(other),
                    why_never_formatted(sp)
                ),
                format!(
                    "put [luks] on a NixOS partition tabula may format, or write the container that is there into [luks] (its UUID), or, if the data on `{}` may go, clear it yourself (wipefs -a on its node)",
                    sp.label
                ),
            );
            Inner::Unknown("the container is refused".into())
        }
    }
}

/// A new container: `luksFormat`, the keyfile's slot when asked, `open`.
fn fresh_container<'a>(
    b: &mut Builder,
    luks: &Luks,
    sp: &Partition,
    opts: &PlanOptions,
    action: Action,
    why: String,
) -> Inner<'a> {
    let obj = Object::Luks(luks.name.clone());
    b.line(&obj, action, why);
    b.steps.push(Step::LuksFormat {
        object: obj.clone(),
        partition: sp.number,
        uuid: luks.uuid.clone(),
        kdf: luks.kdf,
        iterations: luks.pbkdf_iterations,
        memory_kib: luks.pbkdf_memory_kib,
        time_ms: luks.pbkdf_time_ms,
    });
    if opts.keyfile {
        b.line(
            Object::Keyslot(luks.name.clone()),
            Action::Create,
            "the keyfile as a second key slot",
        );
        b.steps.push(Step::AddKeyfile {
            partition: sp.number,
        });
    }
    b.steps.push(Step::Open {
        partition: sp.number,
        name: luks.name.clone(),
    });
    Inner::Fresh
}

/// The spec's container, found: kept; the keyfile's slot added when the
/// keyfile does not open it yet.
fn existing_container<'a>(
    b: &mut Builder,
    luks: &Luks,
    sp: &Partition,
    l: &'a LuksProbe,
    opts: &PlanOptions,
) -> Inner<'a> {
    let kdfs: BTreeSet<&str> = l.keyslots.iter().map(|k| k.kdf.as_str()).collect();
    let kdfs: Vec<&str> = kdfs.into_iter().collect();
    b.line(
        Object::Luks(luks.name.clone()),
        Action::Keep,
        format!(
            "LUKS{} UUID {}, {} key slot(s) ({}): matches{}",
            l.version,
            l.uuid,
            l.keyslots.len(),
            kdfs.join(", "),
            if l.open.is_some() {
                ", open"
            } else {
                ", closed"
            }
        ),
    );
    if opts.keyfile {
        let kobj = Object::Keyslot(luks.name.clone());
        match opts.keyfile_opens {
            Some(true) => b.line(kobj, Action::Keep, "the keyfile opens the container"),
            Some(false) => {
                b.line(
                    kobj,
                    Action::Create,
                    "the keyfile does not open the container yet: a new key slot",
                );
                b.steps.push(Step::AddKeyfile {
                    partition: sp.number,
                });
            }
            None => b.line(kobj, Action::Unverified, "the keyfile was not tested"),
        }
    }
    match &l.open {
        Some(o) => Inner::Open(o),
        None => Inner::Closed,
    }
}

/// What the plan does to each declared subvolume (read by the mounts pass).
type SubvolState = Vec<(String, Action)>;

/// Pass 5, the btrfs pool inside the container and its subvolumes: made in
/// a new or empty container, kept when it matches (then pass 6 for its
/// subvolumes), unverified while the container is closed, else DESTROY.
fn pool(b: &mut Builder, spec: &HostSpec, inner: &Inner<'_>, opts: &PlanOptions) -> SubvolState {
    let mut subvol_state: SubvolState = Vec::new();
    if let Some(btrfs) = &spec.btrfs {
        let name = spec.luks.as_ref().map_or("pool", |l| l.name.as_str());
        let obj = Object::Btrfs(name.to_owned());
        let mapper = format!("/dev/mapper/{name}");
        let want = describe_fs(FsType::Btrfs, btrfs.uuid.as_deref(), btrfs.label.as_deref());
        let mkfs = Step::MkfsBtrfs {
            object: obj.clone(),
            mapper: mapper.clone(),
            uuid: btrfs.uuid.clone(),
            label: btrfs.label.clone(),
        };
        let mut subs: Vec<&str> = btrfs.subvolumes.iter().map(|s| s.path.as_str()).collect();
        subs.sort_by_key(|s| (s.matches('/').count(), *s));
        let st = &mut subvol_state;
        match inner {
            Inner::Fresh => {
                b.line(&obj, Action::Format, format!("new container: {want}"));
                b.steps.push(mkfs);
                all_subvolumes(b, &subs, st, Action::Create, "new pool");
            }
            Inner::Closed => {
                let why = "the container is closed: apply and mount open it to check";
                b.line(&obj, Action::Unverified, why);
                all_subvolumes(b, &subs, st, Action::Unverified, why);
            }
            Inner::Unknown(why) => {
                b.line(&obj, Action::Unverified, why.clone());
                all_subvolumes(b, &subs, st, Action::Unverified, why);
            }
            Inner::Open(oc) => match (&oc.inner, &oc.other) {
                (None, None) => {
                    b.line(&obj, Action::Format, format!("empty container: {want}"));
                    b.steps.push(mkfs);
                    all_subvolumes(b, &subs, st, Action::Create, "new pool");
                }
                (Some(fs), _) if pool_matches(btrfs, fs) => {
                    b.line(&obj, Action::Keep, kept_pool(fs, &oc.mapper));
                    subvolumes(b, &subs, fs, opts, st);
                }
                (fs, other) => {
                    let holds = match (fs, other) {
                        (Some(fs), _) => {
                            describe_fs(FsType::Btrfs, fs.uuid.as_deref(), fs.label.as_deref())
                        }
                        (None, Some(o)) => o.clone(),
                        (None, None) => "nothing".into(),
                    };
                    b.line(
                        &obj,
                        Action::Destroy,
                        format!("holds {holds}, the spec wants {want}: formatting loses its data"),
                    );
                    b.steps.push(mkfs);
                    all_subvolumes(b, &subs, st, Action::Create, "new pool");
                }
            },
        }
    }
    unknown_resets(b, opts, &subvol_state);
    subvol_state
}

/// The pool found has the spec's UUID and label (when the spec gives them).
fn pool_matches(btrfs: &Btrfs, fs: &BtrfsProbe) -> bool {
    btrfs.uuid.as_deref().is_none_or(|u| {
        fs.uuid
            .as_deref()
            .is_some_and(|h| h.eq_ignore_ascii_case(u))
    }) && btrfs
        .label
        .as_deref()
        .is_none_or(|l| fs.label.as_deref() == Some(l))
}

/// The reason of a kept pool.
fn kept_pool(fs: &BtrfsProbe, mapper: &str) -> String {
    format!(
        "btrfs{}{} in {}: matches",
        fs.uuid
            .as_deref()
            .map(|u| format!(" UUID {u}"))
            .unwrap_or_default(),
        fs.label
            .as_deref()
            .map(|l| format!(" label `{l}`"))
            .unwrap_or_default(),
        mapper
    )
}

/// Every declared subvolume with the same action: created (a new pool) or
/// unverified (a pool that cannot be seen).
fn all_subvolumes(
    b: &mut Builder,
    subs: &[&str],
    state: &mut SubvolState,
    action: Action,
    why: &str,
) {
    for s in subs {
        b.line(Object::Subvolume((*s).to_owned()), action, why);
        if action == Action::Create {
            b.steps.push(Step::CreateSubvolume {
                path: (*s).to_owned(),
            });
        }
        state.push(((*s).to_owned(), action));
    }
}

/// Pass 6, the subvolumes of a kept pool: kept, created when missing,
/// recreated empty for `--reset` (DESTROY); subvolumes the spec does not
/// declare are left alone.
fn subvolumes(
    b: &mut Builder,
    subs: &[&str],
    fs: &BtrfsProbe,
    opts: &PlanOptions,
    state: &mut SubvolState,
) {
    let existing: BTreeSet<&str> = fs.subvolumes.iter().map(String::as_str).collect();
    for s in subs {
        let sobj = Object::Subvolume((*s).to_owned());
        let children: Vec<&str> = existing
            .iter()
            .copied()
            .filter(|e| e.starts_with(&format!("{s}/")))
            .collect();
        let reset = opts.reset.iter().any(|r| r == s);
        if reset && !children.is_empty() {
            b.refuse(
                &sobj,
                format!(
                    "--reset: it holds nested subvolumes ({})",
                    children.join(", ")
                ),
                format!("reset those instead (--reset {})", children.join(" ")),
            );
            state.push(((*s).to_owned(), Action::Refuse));
        } else if reset && existing.contains(s) {
            b.line(
                &sobj,
                Action::Destroy,
                "--reset: recreated empty, its data is lost",
            );
            b.steps.push(Step::DeleteSubvolume {
                object: sobj.clone(),
                path: (*s).to_owned(),
            });
            b.steps.push(Step::CreateSubvolume {
                path: (*s).to_owned(),
            });
            state.push(((*s).to_owned(), Action::Create));
        } else if existing.contains(s) {
            b.line(&sobj, Action::Keep, "exists");
            state.push(((*s).to_owned(), Action::Keep));
        } else {
            b.line(&sobj, Action::Create, "missing: created empty");
            b.steps.push(Step::CreateSubvolume {
                path: (*s).to_owned(),
            });
            state.push(((*s).to_owned(), Action::Create));
        }
    }
    for e in existing.iter().filter(|e| !subs.contains(e)) {
        b.line(
            Object::Subvolume((*e).to_owned()),
            Action::Keep,
            "not in the spec: left alone",
        );
    }
}

/// `--reset` of a subvolume the spec does not declare: refused.
fn unknown_resets(b: &mut Builder, opts: &PlanOptions, state: &SubvolState) {
    for r in &opts.reset {
        if !state.iter().any(|(s, _)| s == r) {
            let declared: Vec<&str> = state.iter().map(|(s, _)| s.as_str()).collect();
            b.refuse(
                Object::Subvolume(r.clone()),
                "--reset names a subvolume the spec does not declare",
                if declared.is_empty() {
                    "drop this --reset: the spec declares no subvolume".to_owned()
                } else {
                    format!("--reset one the spec declares: {}", declared.join(", "))
                },
            );
        }
    }
}

/// Pass 7, the mounts: a tmpfs needs nothing on disk; a subvolume or
/// partition mount follows what passes 3, 5 and 6 do to its source.
fn mounts(b: &mut Builder, spec: &HostSpec, subvol_state: &SubvolState) {
    for m in spec.mounts_in_order() {
        let obj = Object::Mount(m.path.as_str().to_owned());
        match &m.source {
            MountSource::Tmpfs { size, mode } => b.line(
                &obj,
                Action::Keep,
                format!(
                    "tmpfs size={size}{}: nothing on disk",
                    mode.as_deref()
                        .map(|m| format!(" mode={m}"))
                        .unwrap_or_default()
                ),
            ),
            MountSource::Subvolume { subvolume } => {
                let (action, why) = match subvol_state.iter().find(|(s, _)| s == subvolume) {
                    Some((_, Action::Keep)) => {
                        (Action::Keep, format!("subvolume {subvolume} exists"))
                    }
                    Some((_, Action::Create)) => {
                        (Action::Create, format!("subvolume {subvolume} is created"))
                    }
                    Some((_, a)) => (Action::Unverified, format!("subvolume {subvolume} is {a}")),
                    None => {
                        b.refuse(
                            &obj,
                            format!("subvolume {subvolume} is not declared in [btrfs]"),
                            format!("declare {subvolume} in [btrfs] subvolumes, or mount a declared one"),
                        );
                        continue;
                    }
                };
                b.line(&obj, action, why);
            }
            MountSource::Partition { partition } => {
                let line = b
                    .lines
                    .iter()
                    .find(|l| l.object == Object::Fs(partition.clone()))
                    .map(|l| l.action);
                let (action, why) = match line {
                    Some(Action::Keep) => (Action::Keep, format!("fs:{partition} exists")),
                    Some(Action::Format | Action::Destroy) => {
                        (Action::Create, format!("fs:{partition} is formatted"))
                    }
                    Some(a) => (Action::Unverified, format!("fs:{partition} is {a}")),
                    None => {
                        b.refuse(
                            &obj,
                            format!("partition `{partition}` has no filesystem in the spec"),
                            format!("give partition `{partition}` a filesystem in the spec, or mount another source"),
                        );
                        continue;
                    }
                };
                b.line(&obj, action, why);
            }
        }
    }
}

/// A type GUID by its spec name when tabula knows it.
fn type_name(guid: &str) -> String {
    match tabula_spec::model::PartType::from_guid(guid) {
        Some(t) => t.name().to_owned(),
        None => format!("type {guid}"),
    }
}

/// The probe of an empty disk of `size` bytes (for `plan` on an image that
/// does not exist yet).
pub fn empty_disk(device: &str, size: u64) -> DiskProbe {
    DiskProbe {
        device: device.to_owned(),
        size,
        sector_size: 512,
        table: None,
        partitions: Vec::new(),
        busy: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> HostSpec {
        tabula_spec::parse(
            "test-host.toml",
            include_str!("../tests/fixtures/test-host.toml"),
        )
        .unwrap()
        .spec
    }

    fn builder() -> Builder {
        Builder {
            lines: Vec::new(),
            steps: Vec::new(),
        }
    }

    #[test]
    fn object_names_are_the_names_plan_always_printed() {
        let cases = [
            (Object::Disk("/dev/sda".into()), "disk:/dev/sda"),
            (Object::Partition("pool".into()), "partition:pool"),
            (Object::Unlisted(5), "partition:#5"),
            (Object::Fs("boot".into()), "fs:boot"),
            (Object::Luks("pool".into()), "luks:pool"),
            (Object::Keyslot("pool".into()), "keyslot:pool/keyfile"),
            (Object::Btrfs("pool".into()), "btrfs:pool"),
            (
                Object::Subvolume("@user/home".into()),
                "subvolume:@user/home",
            ),
            (Object::Mount("/nix".into()), "mount:/nix"),
        ];
        for (o, name) in cases {
            assert_eq!(o.to_string(), name);
            assert_eq!(serde_json::to_string(&o).unwrap(), format!("\"{name}\""));
            assert!(o == name, "{o:?} == {name}");
            // The plan table pads names: Display honours the width.
            assert_eq!(format!("{o:<24}|").len(), name.len().max(24) + 1);
        }
        assert!(!Object::Fs("boot".into()).in_container());
        assert!(Object::Mount("/".into()).in_container());
    }

    #[test]
    fn the_disk_pass_refuses_a_small_or_non_gpt_disk() {
        let spec = spec();
        let size = spec.disk.size.as_u64();
        let mut b = builder();
        assert!(!disk_table(
            &mut b,
            &spec,
            &empty_disk("/dev/x", size),
            "table:/dev/x"
        ));
        assert_eq!(b.steps, [Step::CreateTable]);
        let mut b = builder();
        assert!(disk_table(
            &mut b,
            &spec,
            &empty_disk("/dev/x", size - 1),
            "table:/dev/x"
        ));
        assert_eq!(b.lines[0].action, Action::Refuse);
        assert!(b.lines[0]
            .fix
            .as_deref()
            .is_some_and(|f| f.contains("[disk] size")));
        let mut mbr = empty_disk("/dev/x", size);
        mbr.table = Some("dos".into());
        let mut b = builder();
        assert!(disk_table(&mut b, &spec, &mbr, "table:disk.img"));
        assert!(b.steps.is_empty());
        assert!(b.lines[0]
            .reason_and_fix()
            .ends_with("add --wipe table:disk.img"));
    }

    #[test]
    fn a_reset_of_an_undeclared_subvolume_is_refused() {
        let mut b = builder();
        let opts = PlanOptions {
            reset: vec!["@kept".into(), "@nope".into()],
            ..PlanOptions::default()
        };
        unknown_resets(&mut b, &opts, &vec![("@kept".into(), Action::Keep)]);
        assert_eq!(b.lines.len(), 1);
        assert_eq!(b.lines[0].object, Object::Subvolume("@nope".into()));
        assert_eq!(b.lines[0].action, Action::Refuse);
        assert_eq!(
            b.lines[0].fix.as_deref(),
            Some("--reset one the spec declares: @kept")
        );
    }

    #[test]
    fn wipe_table_names_the_disk_by_its_path_or_device() {
        let opts = PlanOptions {
            wipe: vec!["table:disk.img".into()],
            disk_arg: Some("disk.img".into()),
            ..PlanOptions::default()
        };
        assert!(opts.wipes_table("/dev/loop7"));
        assert_eq!(opts.table_name("/dev/loop7"), "table:disk.img");
        let by_device = PlanOptions {
            wipe: vec!["table:disk:/dev/vda".into()],
            ..PlanOptions::default()
        };
        assert!(by_device.wipes_table("/dev/vda"));
        assert!(!by_device.wipes_table("/dev/vdb"));
        assert!(!PlanOptions::default().wipes_table("/dev/vda"));
        assert_eq!(
            PlanOptions::default().table_name("/dev/vda"),
            "table:/dev/vda"
        );
    }
}
