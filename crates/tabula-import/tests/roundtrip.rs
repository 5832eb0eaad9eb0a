//! The round trip as a property, pure: a disk probe of random GPT layouts
//! (sizes, gaps, order of kinds, foreign and left-out partitions, a LUKS
//! container with an open btrfs pool of nested subvolumes) drafted into a
//! spec that parses, has no check error, and plans all keep on that probe.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use tabula_disk::plan::{plan, Action, PlanOptions};
use tabula_disk::probe::{
    BtrfsProbe, Content, DiskProbe, Keyslot, LuksProbe, OpenContainer, ProbedPartition,
};
use tabula_import::disk::{draft, DiskFacts, LuksFacts, PartFacts, Seen};
use tabula_spec::check::Severity;
use tabula_spec::model::PartType;

const MIB: u64 = 1 << 20;

#[derive(Debug, Clone)]
enum Kind {
    Ext4,
    Ntfs,
    Swap,
    Lvm,
    Luks,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Ext4),
        Just(Kind::Ntfs),
        Just(Kind::Swap),
        Just(Kind::Lvm),
        Just(Kind::Luks),
    ]
}

fn subvolumes() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::btree_set(
        prop_oneof![
            Just("@"),
            Just("@home"),
            Just("@nix"),
            Just("@log"),
            Just("@system"),
            Just("@system/nix"),
            Just("@system/persist"),
            Just("@user/home"),
            Just("@data/deep/er"),
        ],
        0..6,
    )
    .prop_map(|s| {
        // A nested path brings its parents (as btrfs lists them).
        let mut all: BTreeSet<String> = BTreeSet::new();
        for p in s {
            let mut acc = String::new();
            for part in p.split('/') {
                if !acc.is_empty() {
                    acc.push('/');
                }
                acc.push_str(part);
                all.insert(acc.clone());
            }
        }
        all.into_iter().collect()
    })
}

/// A disk: an ESP, then 1..6 partitions of random kinds, sizes and gaps.
fn disk() -> impl Strategy<Value = DiskFacts> {
    (
        1u64..200,
        proptest::collection::vec((kind(), 1u64..3000, 0u64..50), 1..6),
        subvolumes(),
        any::<bool>(),
    )
        .prop_map(|(esp_mib, parts, subvols, last_rest)| {
            let mut partitions = vec![ProbedPartition {
                number: 1,
                node: "/dev/loop9p1".into(),
                start: MIB,
                size: esp_mib * MIB,
                type_guid: PartType::Esp.guid().into(),
                uuid: None,
                name: Some("ESP".into()),
                content: Content::Filesystem {
                    fstype: "vfat".into(),
                    uuid: Some("2CE0-6722".into()),
                    label: None,
                },
            }];
            let mut at = MIB + esp_mib * MIB;
            let mut luks = Vec::new();
            let mut parts_facts = BTreeMap::new();
            for (i, (k, size, gap)) in parts.iter().enumerate() {
                let number = u32::try_from(i).unwrap() + 2;
                at += gap * MIB;
                let (guid, content) = match k {
                    Kind::Ext4 => (
                        PartType::Linux.guid(),
                        Content::Filesystem {
                            fstype: "ext4".into(),
                            uuid: Some(format!("00000000-0000-4000-8000-0000000000{number:02}")),
                            label: Some(format!("fs{number}")),
                        },
                    ),
                    Kind::Ntfs => (
                        PartType::WindowsData.guid(),
                        Content::Filesystem {
                            fstype: "ntfs".into(),
                            uuid: Some(format!("ABCD0000{number:08X}")),
                            label: None,
                        },
                    ),
                    Kind::Swap => (
                        PartType::Swap.guid(),
                        Content::Other {
                            usage: "other".into(),
                            fstype: "swap".into(),
                        },
                    ),
                    Kind::Lvm => (
                        PartType::Linux.guid(),
                        Content::Other {
                            usage: "raid".into(),
                            fstype: "LVM2_member".into(),
                        },
                    ),
                    Kind::Luks => {
                        let uuid = format!("11111111-0000-4000-8000-0000000000{number:02}");
                        let pool = BtrfsProbe {
                            uuid: None,
                            label: Some("pool".into()),
                            subvolumes: subvols.clone(),
                        };
                        luks.push(LuksFacts {
                            number,
                            uuid: uuid.clone(),
                            version: 2,
                            cipher: Some("aes-xts-plain64".into()),
                            kdf: Some("argon2id".into()),
                            iterations: Some(4),
                            keyslots: vec![0],
                            pool: Seen::Found(pool.clone()),
                        });
                        (
                            PartType::Linux.guid(),
                            Content::Luks(LuksProbe {
                                uuid,
                                version: 2,
                                keyslots: vec![Keyslot {
                                    id: 0,
                                    kdf: "argon2id".into(),
                                    iterations: Some(4),
                                }],
                                open: Some(OpenContainer {
                                    mapper: "/dev/mapper/x".into(),
                                    inner: Some(pool),
                                    other: None,
                                }),
                            }),
                        )
                    }
                };
                if matches!(k, Kind::Ext4) {
                    parts_facts.insert(
                        number,
                        PartFacts {
                            os_id: Some(Seen::Absent),
                            ..PartFacts::default()
                        },
                    );
                }
                partitions.push(ProbedPartition {
                    number,
                    node: format!("/dev/loop9p{number}"),
                    start: at,
                    size: size * MIB,
                    type_guid: guid.into(),
                    uuid: None,
                    name: Some(format!("part-{number}")),
                    content,
                });
                at += size * MIB;
            }
            // The disk ends 16 MiB after the last partition, or (as
            // sgdisk 0:0 leaves it) the last partition runs to the last
            // usable sector.
            let mut size = at + 16 * MIB;
            if last_rest {
                size = at + 33 * 512;
                // The end unaligned: 7 sectors past `at`, then the tail.
                let last = partitions.last_mut().unwrap();
                size += 7 * 512;
                last.size += 7 * 512;
            }
            DiskFacts {
                path: "disk.img".into(),
                probe: DiskProbe {
                    device: "/dev/loop9".into(),
                    size,
                    sector_size: 512,
                    table: Some("gpt".into()),
                    partitions,
                    busy: Vec::new(),
                },
                parts: parts_facts,
                luks,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn drafted_specs_check_and_plan_all_keep(f in disk()) {
        let d = draft(std::slice::from_ref(&f)).unwrap();
        let text = d.to_toml();
        let loaded = tabula_spec::parse("imported.toml", &text)
            .unwrap_or_else(|e| panic!("{e:?}\n{text}"));
        let errors: Vec<String> = tabula_spec::check::check(&loaded)
            .into_iter()
            .filter(|x| x.severity == Severity::Error)
            .map(|x| x.message)
            .collect();
        prop_assert!(errors.is_empty(), "{errors:?}\n{text}");
        let p = plan(&loaded.spec, &f.probe, &PlanOptions::default());
        for l in &p.lines {
            prop_assert!(
                matches!(l.action, Action::Keep | Action::Unverified),
                "{}\n{text}",
                p.table()
            );
        }
        // Swap and LVM are left out, named; so is nothing else.
        let expected = f.probe.partitions.iter().filter(|p| matches!(p.content, Content::Other { .. })).count()
            + f.luks.len().saturating_sub(1);
        prop_assert!(d.left_out.len() >= expected, "{:?}", d.left_out);
    }
}
