//! The partition table: numbers, GPT names, sizes, overlap, foreign systems, UUIDs.

use super::*;

impl Checker<'_> {
    pub(super) fn partitions(&mut self, s: &HostSpec) {
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
                Code::PartitionRestTwice,
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
                    Code::PartitionNumber,
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
                self.label_duplicate(p, prev);
            }
            self.gpt_name(p);
            self.partition_content(p);
            self.partition_filesystem(p);
        }
        self.extents(s, rest.len());
    }

    fn label_duplicate(&mut self, p: &Partition, prev: usize) {
        let at = |i: usize| KeyPath::root().index("partition", i);
        self.add(
            Code::PartitionLabelDuplicate,
            at(p.index).key("label"),
            format!(
                "partition label `{}` is also used by partition[{prev}]",
                p.label
            ),
            Some("mounts and the LUKS container find partitions by label: make each unique".into()),
        );
    }

    /// The GPT name: not empty, at most 36 UTF-16 units, no control character.
    fn gpt_name(&mut self, p: &Partition) {
        let at = |i: usize| KeyPath::root().index("partition", i);
        if p.label.is_empty() || p.label.encode_utf16().count() > 36 || has_control(&p.label) {
            self.add(
                Code::PartitionLabelInvalid,
                at(p.index).key("label"),
                format!(
                    "GPT name `{}` is empty, longer than 36 characters or holds control characters",
                    crate::landing::shown(&p.label)
                ),
                Some("use a short name such as \"boot\"".into()),
            );
        }
    }

    /// What the partition holds, and whether a foreign one is formatted.
    fn partition_content(&mut self, p: &Partition) {
        let at = |i: usize| KeyPath::root().index("partition", i);
        let has_fs = p.filesystem.is_some();
        if has_fs == p.luks && p.owner.is_nixos() {
            self.add(
                Code::PartitionNoContent,
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
            Code::ForeignFormatted,
            at(p.index).key("format"),
            format!("partition `{}` belongs to {} but is marked to be formatted", p.label, p.owner.name()),
            Some("remove `format = true`: tabula verifies foreign partitions and never formats them".into()),
        );
        }
        if p.kind == PartType::Esp && !p.shared_with.is_empty() && p.format {
            self.add(
            Code::EspSharedFormatted,
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
                    Code::WindowsTooSmall,
                    at(p.index).key("size"),
                    format!("the Windows partition is {size}, under Microsoft's 64 GB minimum for Windows 11"),
                    Some("Windows 11 may refuse to install or update; give it 64GB or more if it must be updated".into()),
                );
                }
            }
        }
    }

    /// The filesystem's UUID form and label length.
    fn partition_filesystem(&mut self, p: &Partition) {
        let at = |i: usize| KeyPath::root().index("partition", i);
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
                        Code::LabelTooLong,
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

    /// Sizes and places: zero sizes, overlaps, what does not fit the disk.
    fn extents(&mut self, s: &HostSpec, rest_count: usize) {
        let at = |i: usize| KeyPath::root().index("partition", i);
        let extents = s.extents();
        let mut prev_end = 0u64;
        let mut fits = true;
        let mut first_misfit = None;
        for (p, e) in s.partitions.iter().zip(&extents) {
            match e {
                None if p.size == PartSize::Fixed(crate::Size::bytes(0)) => self.add(
                    Code::PartitionSizeZero,
                    at(p.index).key("size"),
                    format!("partition `{}` has size 0", p.label),
                    Some("give it a size, or remove it".into()),
                ),
                // A second "rest" is already reported as partition-rest-twice.
                None if p.size == PartSize::Rest && rest_count > 1 => {}
                None => {
                    fits = false;
                    first_misfit.get_or_insert(p);
                }
                Some(e) => {
                    if e.start < prev_end {
                        self.add(
                            Code::PartitionOverlap,
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
                Code::PartitionExceedsDisk,
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

    pub(super) fn uuid(&mut self, kind: FsType, uuid: &str, at: KeyPath) {
        if !kind.uuid_ok(uuid) {
            self.add(
                Code::UuidMalformed,
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
}
