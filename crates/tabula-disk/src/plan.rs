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
use tabula_spec::model::{FsType, Kdf, MountSource, Owner, Partition};
use tabula_spec::{HostSpec, Size};

use crate::probe::{Content, DiskProbe, OpenContainer, ProbedPartition};

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

/// One object and what the plan does to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    /// The object's name, as `--wipe` takes it.
    pub object: String,
    pub action: Action,
    pub reason: String,
}

/// One effect `apply` runs. Partitions are named by number: their nodes are
/// resolved on the disk when the step runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "step")]
pub enum Step {
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
        object: String,
        partition: u32,
        fstype: FsType,
        uuid: Option<String>,
        label: Option<String>,
    },
    LuksFormat {
        object: String,
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
        object: String,
        mapper: String,
        uuid: Option<String>,
        label: Option<String>,
    },
    DeleteSubvolume {
        object: String,
        path: String,
    },
    CreateSubvolume {
        path: String,
    },
}

impl Step {
    /// A short description for the progress display.
    pub fn describe(&self) -> String {
        match self {
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
            .filter(|l| {
                l.action == Action::Unverified
                    && ["luks:", "keyslot:", "btrfs:", "subvolume:", "mount:"]
                        .iter()
                        .any(|p| l.object.starts_with(p))
            })
            .collect()
    }

    pub fn is_noop(&self) -> bool {
        self.steps.is_empty()
    }

    pub fn line(&self, object: &str) -> Option<&Line> {
        self.lines.iter().find(|l| l.object == object)
    }

    /// The plan as an aligned text table, one line per object.
    pub fn table(&self) -> String {
        let w = self
            .lines
            .iter()
            .map(|l| l.object.len())
            .max()
            .unwrap_or(6)
            .max(6);
        let mut out = format!("{:<10}  {:<w$}  REASON\n", "ACTION", "OBJECT");
        for l in &self.lines {
            out.push_str(&format!(
                "{:<10}  {:<w$}  {}\n",
                l.action.as_str(),
                l.object,
                l.reason
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
    fn line(&mut self, object: impl Into<String>, action: Action, reason: impl Into<String>) {
        self.lines.push(Line {
            object: object.into(),
            action,
            reason: reason.into(),
        });
    }
}

/// Compute the plan. Pure: no process, no disk.
pub fn plan(spec: &HostSpec, probe: &DiskProbe, opts: &PlanOptions) -> Plan {
    let mut b = Builder {
        lines: Vec::new(),
        steps: Vec::new(),
    };
    let extents = spec.extents();
    let spec_size = spec.disk.size.as_u64();

    // --- the disk and its table -------------------------------------------
    let disk_obj = format!("disk:{}", probe.device);
    let mut disk_refused = false;
    if probe.size < spec_size {
        disk_refused = true;
        b.line(
            &disk_obj,
            Action::Refuse,
            format!(
                "the disk is {} but the spec's [disk] size is {}",
                human(probe.size),
                human(spec_size)
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
                b.line(
                    &disk_obj,
                    Action::Refuse,
                    format!(
                        "the disk has a `{other}` partition table; tabula only keeps or writes GPT"
                    ),
                );
            }
        }
    }

    // --- partitions -------------------------------------------------------
    let listed: BTreeSet<u32> = spec.partitions.iter().map(|p| p.number).collect();
    let mut states: Vec<PartState> = Vec::with_capacity(spec.partitions.len());
    for (sp, ext) in spec.partitions.iter().zip(extents.iter()) {
        let obj = format!("partition:{}", sp.label);
        if disk_refused {
            b.line(&obj, Action::Unverified, "not checked: the disk is refused");
            states.push(PartState::Refused);
            continue;
        }
        let Some(ext) = ext else {
            b.line(
                &obj,
                Action::Refuse,
                format!(
                    "does not fit on a disk of {} after the partitions before it",
                    human(spec_size)
                ),
            );
            states.push(PartState::Refused);
            continue;
        };
        let here = probe.partitions.iter().find(|p| p.number == sp.number);
        match here {
            None => {
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
                        &obj,
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
                    states.push(PartState::New);
                } else {
                    b.line(
                        &obj,
                        Action::Refuse,
                        format!(
                            "needs {}..{} which {} occupies; tabula never touches it",
                            mib(ext.start),
                            mib(ext.end()),
                            blockers.join(" and ")
                        ),
                    );
                    states.push(PartState::Refused);
                }
            }
            Some(pp) => {
                let mut diffs = Vec::new();
                if pp.start != ext.start {
                    diffs.push(format!(
                        "moved: starts at {}, the spec puts it at {}",
                        mib(pp.start),
                        mib(ext.start)
                    ));
                }
                if pp.size != ext.size {
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
                    b.line(&obj, Action::Keep, reason);
                    states.push(PartState::Existing(pp));
                } else {
                    let who = match &sp.owner {
                        Owner::Foreign(o) => format!("{o}'s partition"),
                        Owner::Nixos => "the partition".into(),
                    };
                    b.line(
                        &obj,
                        Action::Refuse,
                        format!(
                            "{who} does not match: {}; tabula never moves or resizes",
                            diffs.join("; ")
                        ),
                    );
                    states.push(PartState::Refused);
                }
            }
        }
    }
    for pp in probe
        .partitions
        .iter()
        .filter(|p| !listed.contains(&p.number))
    {
        b.line(
            format!("partition:#{}", pp.number),
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

    // --- filesystems on partitions ------------------------------------------
    for (sp, state) in spec.partitions.iter().zip(states.iter()) {
        let Some(fs) = &sp.filesystem else { continue };
        let obj = format!("fs:{}", sp.label);
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
            PartState::Existing(pp) => match &pp.content {
                Content::Unknown { reason } => b.line(&obj, Action::Unverified, reason.clone()),
                Content::Empty if sp.owner.is_nixos() => {
                    // No signature at all: nothing to lose, even on a
                    // `format = false` partition (a rerun after a kill).
                    b.line(
                        &obj,
                        Action::Format,
                        format!("empty (no signature): {want}"),
                    );
                    b.steps.push(mkfs);
                }
                Content::Interrupted { what } if sp.owner.is_nixos() => {
                    // tabula's own half-made filesystem: nothing of the
                    // user's is there (the note is written just before the
                    // format, after any --wipe was given).
                    b.line(
                        &obj,
                        Action::Format,
                        format!("an interrupted apply left its {what} unfinished: {want}"),
                    );
                    b.steps.push(mkfs);
                }
                Content::Empty => b.line(
                    &obj,
                    Action::Unverified,
                    format!("empty: left for {}", sp.owner.name()),
                ),
                Content::Data { .. } | Content::Interrupted { .. } if !sp.owner.is_nixos() => b
                    .line(
                        &obj,
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
                } if *fstype == fs.kind.name()
                    && fs.uuid.as_deref().is_none_or(|u| {
                        uuid.as_deref().is_some_and(|h| h.eq_ignore_ascii_case(u))
                    }) =>
                {
                    let mut reason = format!("{}: matches", describe_content(&pp.content));
                    if let (Some(w), h) = (&fs.label, label) {
                        if h.as_deref() != Some(w.as_str()) {
                            reason.push_str(&format!(
                                " (label is `{}`, the spec says `{w}`; not relabelled)",
                                h.as_deref().unwrap_or("")
                            ));
                        }
                    }
                    b.line(&obj, Action::Keep, reason);
                }
                other if may_destroy(sp) => {
                    b.line(
                        &obj,
                        Action::Destroy,
                        format!(
                            "holds {}, the spec wants {want}: formatting loses its data",
                            describe_content(other)
                        ),
                    );
                    b.steps.push(mkfs);
                }
                other => b.line(
                    &obj,
                    Action::Refuse,
                    format!(
                        "holds {}, the spec says {want}; {}",
                        describe_content(other),
                        why_never_formatted(sp)
                    ),
                ),
            },
        }
    }

    // --- the LUKS container ---------------------------------------------------
    let mut inner = Inner::Unknown("no LUKS container in the spec".into());
    if let Some(luks) = &spec.luks {
        let obj = format!("luks:{}", luks.name);
        let found = spec
            .partitions
            .iter()
            .zip(states.iter())
            .find(|(p, _)| p.label == luks.partition);
        let format_step = |number: u32| Step::LuksFormat {
            object: obj.clone(),
            partition: number,
            uuid: luks.uuid.clone(),
            kdf: luks.kdf,
            iterations: luks.pbkdf_iterations,
            memory_kib: luks.pbkdf_memory_kib,
            time_ms: luks.pbkdf_time_ms,
        };
        let want = format!("LUKS2 UUID {} ({})", luks.uuid, luks.kdf.name());
        let fresh = |b: &mut Builder, sp: &Partition, action: Action, why: String| {
            b.line(&obj, action, why);
            b.steps.push(format_step(sp.number));
            if opts.keyfile {
                b.line(
                    format!("keyslot:{}/keyfile", luks.name),
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
        };
        inner = match found {
            None => {
                b.line(
                    &obj,
                    Action::Refuse,
                    format!("[luks] partition `{}` is not in the spec", luks.partition),
                );
                Inner::Unknown("the container is refused".into())
            }
            Some((_, PartState::Refused)) => {
                b.line(&obj, Action::Unverified, "its partition is refused");
                Inner::Unknown("its partition is refused".into())
            }
            Some((sp, PartState::New)) => {
                fresh(&mut b, sp, Action::Create, format!("new partition: {want}"))
            }
            Some((sp, PartState::Existing(pp))) => match &pp.content {
                Content::Unknown { reason } => {
                    b.line(&obj, Action::Unverified, reason.clone());
                    Inner::Unknown(reason.clone())
                }
                Content::Empty => fresh(
                    &mut b,
                    sp,
                    Action::Create,
                    format!("empty (no signature): {want}"),
                ),
                Content::Interrupted { what } => fresh(
                    &mut b,
                    sp,
                    Action::Format,
                    format!("an interrupted apply left its {what} unfinished: {want}"),
                ),
                Content::Luks(l) if l.uuid.eq_ignore_ascii_case(&luks.uuid) && l.version == 2 => {
                    let kdfs: BTreeSet<&str> = l.keyslots.iter().map(|k| k.kdf.as_str()).collect();
                    let kdfs: Vec<&str> = kdfs.into_iter().collect();
                    b.line(
                        &obj,
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
                        let kobj = format!("keyslot:{}/keyfile", luks.name);
                        match opts.keyfile_opens {
                            Some(true) => {
                                b.line(kobj, Action::Keep, "the keyfile opens the container")
                            }
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
                other if may_destroy(sp) => fresh(
                    &mut b,
                    sp,
                    Action::Destroy,
                    format!(
                        "holds {}, the spec wants {want}: formatting loses its data",
                        describe_content(other)
                    ),
                ),
                other => {
                    b.line(
                        &obj,
                        Action::Refuse,
                        format!(
                            "holds {}, the spec says {want}; {}",
                            describe_content(other),
                            why_never_formatted(sp)
                        ),
                    );
                    Inner::Unknown("the container is refused".into())
                }
            },
        };
    }

    // --- the btrfs pool and its subvolumes ------------------------------------
    let mut subvol_state: Vec<(String, Action)> = Vec::new();
    if let Some(btrfs) = &spec.btrfs {
        let name = spec.luks.as_ref().map_or("pool", |l| l.name.as_str());
        let obj = format!("btrfs:{name}");
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
        let all_create = |b: &mut Builder, subvol_state: &mut Vec<(String, Action)>, why: &str| {
            for s in &subs {
                b.line(format!("subvolume:{s}"), Action::Create, why);
                b.steps.push(Step::CreateSubvolume {
                    path: (*s).to_owned(),
                });
                subvol_state.push(((*s).to_owned(), Action::Create));
            }
        };
        let all_unverified =
            |b: &mut Builder, subvol_state: &mut Vec<(String, Action)>, why: &str| {
                for s in &subs {
                    b.line(format!("subvolume:{s}"), Action::Unverified, why);
                    subvol_state.push(((*s).to_owned(), Action::Unverified));
                }
            };
        match &inner {
            Inner::Fresh => {
                b.line(&obj, Action::Format, format!("new container: {want}"));
                b.steps.push(mkfs);
                all_create(&mut b, &mut subvol_state, "new pool");
            }
            Inner::Closed => {
                let why = "the container is closed: apply and mount open it to check";
                b.line(&obj, Action::Unverified, why);
                all_unverified(&mut b, &mut subvol_state, why);
            }
            Inner::Unknown(why) => {
                b.line(&obj, Action::Unverified, why.clone());
                all_unverified(&mut b, &mut subvol_state, why);
            }
            Inner::Open(oc) => match (&oc.inner, &oc.other) {
                (None, None) => {
                    b.line(&obj, Action::Format, format!("empty container: {want}"));
                    b.steps.push(mkfs);
                    all_create(&mut b, &mut subvol_state, "new pool");
                }
                (Some(fs), _)
                    if btrfs.uuid.as_deref().is_none_or(|u| {
                        fs.uuid
                            .as_deref()
                            .is_some_and(|h| h.eq_ignore_ascii_case(u))
                    }) && btrfs
                        .label
                        .as_deref()
                        .is_none_or(|l| fs.label.as_deref() == Some(l)) =>
                {
                    b.line(
                        &obj,
                        Action::Keep,
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
                            oc.mapper
                        ),
                    );
                    let existing: BTreeSet<&str> =
                        fs.subvolumes.iter().map(String::as_str).collect();
                    for s in &subs {
                        let sobj = format!("subvolume:{s}");
                        let children: Vec<&str> = existing
                            .iter()
                            .copied()
                            .filter(|e| e.starts_with(&format!("{s}/")))
                            .collect();
                        let reset = opts.reset.iter().any(|r| r == s);
                        if reset && !children.is_empty() {
                            b.line(
                                &sobj,
                                Action::Refuse,
                                format!(
                                    "--reset: it holds nested subvolumes ({}); reset those instead",
                                    children.join(", ")
                                ),
                            );
                            subvol_state.push(((*s).to_owned(), Action::Refuse));
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
                            subvol_state.push(((*s).to_owned(), Action::Create));
                        } else if existing.contains(s) {
                            b.line(&sobj, Action::Keep, "exists");
                            subvol_state.push(((*s).to_owned(), Action::Keep));
                        } else {
                            b.line(&sobj, Action::Create, "missing: created empty");
                            b.steps.push(Step::CreateSubvolume {
                                path: (*s).to_owned(),
                            });
                            subvol_state.push(((*s).to_owned(), Action::Create));
                        }
                    }
                    for e in existing.iter().filter(|e| !subs.contains(e)) {
                        b.line(
                            format!("subvolume:{e}"),
                            Action::Keep,
                            "not in the spec: left alone",
                        );
                    }
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
                    all_create(&mut b, &mut subvol_state, "new pool");
                }
            },
        }
    }
    for r in &opts.reset {
        if !subvol_state.iter().any(|(s, _)| s == r) {
            b.line(
                format!("subvolume:{r}"),
                Action::Refuse,
                "--reset names a subvolume the spec does not declare",
            );
        }
    }

    // --- mounts -----------------------------------------------------------------
    for m in spec.mounts_in_order() {
        let obj = format!("mount:{}", m.path.as_str());
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
                    None => (
                        Action::Refuse,
                        format!("subvolume {subvolume} is not declared in [btrfs]"),
                    ),
                };
                b.line(&obj, action, why);
            }
            MountSource::Partition { partition } => {
                let line = b
                    .lines
                    .iter()
                    .find(|l| l.object == format!("fs:{partition}"))
                    .map(|l| l.action);
                let (action, why) = match line {
                    Some(Action::Keep) => (Action::Keep, format!("fs:{partition} exists")),
                    Some(Action::Format | Action::Destroy) => {
                        (Action::Create, format!("fs:{partition} is formatted"))
                    }
                    Some(a) => (Action::Unverified, format!("fs:{partition} is {a}")),
                    None => (
                        Action::Refuse,
                        format!("partition `{partition}` has no filesystem in the spec"),
                    ),
                };
                b.line(&obj, action, why);
            }
        }
    }

    Plan {
        device: probe.device.clone(),
        lines: b.lines,
        steps: b.steps,
        busy: probe.busy.clone(),
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
