//! The planner over fixture probes of the document's disk (pure: no device).
#![allow(clippy::unwrap_used, clippy::panic)]

use tabula_disk::plan::{plan, Action, Object, PlanOptions, Step};
use tabula_disk::probe::{
    parse_sfdisk, BtrfsProbe, Content, DiskProbe, Keyslot, LuksProbe, OpenContainer,
    ProbedPartition,
};
use tabula_spec::HostSpec;

fn spec() -> HostSpec {
    tabula_spec::parse(
        "surface-pro-8.toml",
        tabula_spec::embedded::SURFACE_PRO_8.toml,
    )
    .unwrap()
    .spec
}

const DISK: u64 = 256_000_000_000;
/// What a "256GB" NVMe really holds: a little more than the label.
const REAL_DISK: u64 = 256_060_514_304;

fn part(spec: &HostSpec, number: u32, content: Content) -> ProbedPartition {
    let i = spec
        .partitions
        .iter()
        .position(|p| p.number == number)
        .unwrap();
    let ext = spec.extents()[i].unwrap();
    let sp = &spec.partitions[i];
    ProbedPartition {
        number,
        node: format!("/dev/nvme0n1p{number}"),
        start: ext.start,
        size: ext.size,
        type_guid: sp.kind.guid().to_owned(),
        uuid: Some(format!("00000000-0000-4000-8000-00000000000{number}")),
        name: Some(sp.label.clone()),
        content,
    }
}

fn fs(t: &str, uuid: Option<&str>, label: Option<&str>) -> Content {
    Content::Filesystem {
        fstype: t.into(),
        uuid: uuid.map(Into::into),
        label: label.map(Into::into),
    }
}

fn esp() -> Content {
    fs("vfat", Some("2CE0-6722"), Some("ESP"))
}

fn luks(open: Option<OpenContainer>) -> Content {
    Content::Luks(LuksProbe {
        uuid: "3c75c6db-4d7c-4570-81f1-02d168781aac".into(),
        version: 2,
        keyslots: vec![Keyslot {
            id: 0,
            kdf: "argon2id".into(),
            iterations: Some(4),
        }],
        open,
    })
}

fn all_subvolumes(spec: &HostSpec) -> Vec<String> {
    let mut s: Vec<String> = spec
        .btrfs
        .as_ref()
        .unwrap()
        .subvolumes
        .iter()
        .map(|s| s.path.clone())
        .collect();
    s.sort();
    s
}

fn open_pool(subvolumes: Vec<String>) -> OpenContainer {
    OpenContainer {
        mapper: "/dev/mapper/pool".into(),
        inner: Some(BtrfsProbe {
            uuid: Some("5a1e0c9e-1111-4222-8333-944455566677".into()),
            label: Some("pool".into()),
            subvolumes,
        }),
        other: None,
    }
}

/// The document's disk with everything in place and the container open.
fn provisioned(spec: &HostSpec) -> DiskProbe {
    DiskProbe {
        device: "/dev/nvme0n1".into(),
        size: DISK,
        sector_size: 512,
        table: Some("gpt".into()),
        partitions: vec![
            part(spec, 1, esp()),
            part(
                spec,
                2,
                fs(
                    "ext4",
                    Some("0eaf7961-48c5-4b55-8a8f-04cd0b71de07"),
                    Some("boot"),
                ),
            ),
            part(spec, 3, fs("ext4", Some("a1"), Some("alpine"))),
            part(spec, 4, fs("ext4", Some("b2"), Some("kali"))),
            part(spec, 5, fs("ntfs", Some("C3"), None)),
            part(spec, 6, luks(Some(open_pool(all_subvolumes(spec))))),
        ],
        busy: Vec::new(),
    }
}

fn action(p: &tabula_disk::Plan, object: &str) -> Action {
    p.line(object)
        .unwrap_or_else(|| panic!("no line {object} in\n{}", p.table()))
        .action
}

#[test]
fn empty_disk_creates_everything_and_formats_only_nixos_objects() {
    let spec = spec();
    let p = plan(
        &spec,
        &tabula_disk::plan::empty_disk("disk.img", DISK),
        &PlanOptions::default(),
    );
    assert!(p.refused().is_empty(), "{}", p.table());
    assert!(p.destroys().is_empty(), "{}", p.table());
    for label in ["ESP", "boot", "alpine", "kali", "windows", "pool"] {
        assert_eq!(action(&p, &format!("partition:{label}")), Action::Create);
    }
    assert_eq!(action(&p, "fs:ESP"), Action::Format);
    assert_eq!(action(&p, "fs:boot"), Action::Format);
    // Foreign partitions are made but never formatted.
    for label in ["alpine", "kali", "windows"] {
        assert_eq!(action(&p, &format!("fs:{label}")), Action::Unverified);
    }
    assert_eq!(action(&p, "luks:pool"), Action::Create);
    assert_eq!(action(&p, "btrfs:pool"), Action::Format);
    assert_eq!(action(&p, "subvolume:@user/home"), Action::Create);
    assert_eq!(action(&p, "mount:/"), Action::Keep);
    assert_eq!(action(&p, "mount:/nix"), Action::Create);
    assert_eq!(action(&p, "mount:/boot/efi"), Action::Create);
    assert_eq!(p.steps[0], Step::CreateTable);
    // Every object of the spec has its line.
    assert_eq!(
        p.lines.len(),
        1 + 6 + 5 + 1 + 1 + spec.btrfs.as_ref().unwrap().subvolumes.len() + spec.mounts.len()
    );
    // Parents before children.
    let order: Vec<&str> = p
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::CreateSubvolume { path } => Some(path.as_str()),
            _ => None,
        })
        .collect();
    let pos = |s: &str| order.iter().position(|x| *x == s).unwrap();
    assert!(pos("@system") < pos("@system/nix"));
    assert!(pos("@user") < pos("@user/home"));
    // The partitions land where spec.extents() puts them.
    let ext = spec.extents();
    let starts: Vec<u64> = p
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::CreatePartition { start, .. } => Some(*start),
            _ => None,
        })
        .collect();
    assert_eq!(
        starts,
        ext.iter().map(|e| e.unwrap().start).collect::<Vec<_>>()
    );
}

#[test]
fn empty_disk_table_snapshot() {
    let spec = spec();
    let p = plan(
        &spec,
        &tabula_disk::plan::empty_disk("disk.img", DISK),
        &PlanOptions::default(),
    );
    let head: String = p.table().lines().take(9).collect::<Vec<_>>().join("\n");
    expect_test::expect![[r#"
        ACTION      OBJECT                        REASON
        create      disk:disk.img                 no partition table: a new GPT
        create      partition:ESP                 new partition 1 at 1 MiB, 96 MiB (96.0 MiB), type esp
        create      partition:boot                new partition 2 at 97 MiB, 1908 MiB (1.9 GiB), type linux
        create      partition:alpine              new partition 3 at 2005 MiB, 4769 MiB (4.7 GiB), type linux
        create      partition:kali                new partition 4 at 6774 MiB, 19074 MiB (18.6 GiB), type linux
        create      partition:windows             new partition 5 at 25848 MiB, 19074 MiB (18.6 GiB), type windows-data
        create      partition:pool                new partition 6 at 44922 MiB, 199218 MiB (194.5 GiB), type linux
        format      fs:ESP                        new partition: vfat UUID 2CE0-6722 label `ESP`"#]]
    .assert_eq(&head);
}

/// Windows (with its unlisted MSR partition at the disk's real end), Kali
/// and Alpine installed; NixOS absent.
fn others_installed(spec: &HostSpec, msr_start: u64) -> DiskProbe {
    let mut d = provisioned(spec);
    d.size = REAL_DISK;
    d.partitions.retain(|p| [1, 3, 4, 5].contains(&p.number));
    d.partitions.push(ProbedPartition {
        number: 7,
        node: "/dev/nvme0n1p7".into(),
        start: msr_start,
        size: 16 << 20,
        type_guid: "e3c9e316-0b5c-4db8-817d-f92df00215ae".into(),
        uuid: None,
        name: Some("Microsoft reserved partition".into()),
        content: Content::Empty,
    });
    d
}

#[test]
fn others_installed_nixos_absent_keeps_every_foreign_object() {
    let spec = spec();
    let msr_start = (REAL_DISK - (17 << 20)) / (1 << 20) * (1 << 20);
    let d = others_installed(&spec, msr_start);
    let p = plan(&spec, &d, &PlanOptions::default());
    assert!(p.refused().is_empty(), "{}", p.table());
    assert!(p.destroys().is_empty(), "{}", p.table());
    assert_eq!(action(&p, "partition:#7"), Action::Keep);
    assert!(p
        .line("partition:#7")
        .unwrap()
        .reason
        .contains("never touched"));
    for label in ["ESP", "alpine", "kali", "windows"] {
        assert_eq!(action(&p, &format!("partition:{label}")), Action::Keep);
    }
    assert_eq!(action(&p, "fs:ESP"), Action::Keep);
    assert_eq!(action(&p, "fs:alpine"), Action::Keep);
    assert_eq!(action(&p, "partition:boot"), Action::Create);
    assert_eq!(action(&p, "partition:pool"), Action::Create);
    // No step touches a partition that exists.
    for s in &p.steps {
        match s {
            Step::CreatePartition { number, .. }
            | Step::Mkfs {
                partition: number, ..
            } => {
                assert!([2, 6].contains(number), "{s:?}")
            }
            Step::CreateTable => panic!("a new GPT over a disk with partitions"),
            _ => {}
        }
    }
}

#[test]
fn an_unlisted_partition_in_the_way_is_refused() {
    let spec = spec();
    let pool = spec.extents()[5].unwrap();
    let d = others_installed(&spec, pool.start + (10 << 30));
    let p = plan(&spec, &d, &PlanOptions::default());
    assert_eq!(action(&p, "partition:pool"), Action::Refuse);
    let reason = &p.line("partition:pool").unwrap().reason;
    assert!(reason.contains("partition 7"), "{reason}");
    assert!(reason.contains("not in the spec"), "{reason}");
    assert_eq!(action(&p, "partition:#7"), Action::Keep);
    // The container on a refused partition is not checked.
    assert_eq!(action(&p, "luks:pool"), Action::Unverified);
}

#[test]
fn fully_provisioned_is_all_keep_and_no_step() {
    let spec = spec();
    let p = plan(&spec, &provisioned(&spec), &PlanOptions::default());
    assert!(p.is_noop(), "{:?}\n{}", p.steps, p.table());
    for l in &p.lines {
        assert_eq!(l.action, Action::Keep, "{}", p.table());
    }
}

#[test]
fn a_foreign_partition_moved_or_resized_is_refused() {
    let spec = spec();
    let mut d = provisioned(&spec);
    d.partitions[3].start += 1 << 20; // kali moved by 1 MiB
    d.partitions[3].size -= 1 << 20;
    let p = plan(&spec, &d, &PlanOptions::default());
    assert_eq!(action(&p, "partition:kali"), Action::Refuse);
    let r = &p.line("partition:kali").unwrap().reason;
    assert!(r.contains("kali's partition") && r.contains("moved"), "{r}");

    let mut d = provisioned(&spec);
    d.partitions[4].size -= 1 << 30; // windows shrunk by 1 GiB
    let p = plan(&spec, &d, &PlanOptions::default());
    assert_eq!(action(&p, "partition:windows"), Action::Refuse);
    assert!(p
        .line("partition:windows")
        .unwrap()
        .reason
        .contains("resized"));
    assert_eq!(action(&p, "partition:kali"), Action::Keep);

    let mut d = provisioned(&spec);
    d.partitions[2].type_guid = "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7".into();
    let p = plan(&spec, &d, &PlanOptions::default());
    assert_eq!(action(&p, "partition:alpine"), Action::Refuse);
    assert!(p
        .line("partition:alpine")
        .unwrap()
        .reason
        .contains("type is windows-data"));
}

#[test]
fn a_kept_filesystem_with_another_uuid_is_destroy_or_refuse() {
    let spec = spec();
    let mut d = provisioned(&spec);
    d.partitions[1].content = fs(
        "ext4",
        Some("11111111-2222-4333-8444-555555555555"),
        Some("boot"),
    );
    let p = plan(&spec, &d, &PlanOptions::default());
    assert_eq!(action(&p, "fs:boot"), Action::Destroy);
    assert!(p
        .line("fs:boot")
        .unwrap()
        .reason
        .contains("11111111-2222-4333-8444-555555555555"));
    assert!(matches!(
        p.steps.as_slice(),
        [Step::Mkfs { partition: 2, .. }]
    ));

    // The ESP shared with Windows is verified, never formatted.
    let mut d = provisioned(&spec);
    d.partitions[0].content = fs("vfat", Some("ABCD-1234"), Some("SYSTEM"));
    let p = plan(&spec, &d, &PlanOptions::default());
    assert_eq!(action(&p, "fs:ESP"), Action::Refuse);
    assert!(p.line("fs:ESP").unwrap().reason.contains("format = false"));
    assert!(p.steps.is_empty());

    // A foreign filesystem of another type is refused, not formatted.
    let mut d = provisioned(&spec);
    d.partitions[2].content = fs("xfs", None, None);
    let p = plan(&spec, &d, &PlanOptions::default());
    assert_eq!(action(&p, "fs:alpine"), Action::Refuse);
    assert!(p
        .line("fs:alpine")
        .unwrap()
        .reason
        .contains("belongs to alpine"));
}

#[test]
fn a_closed_container_leaves_the_pool_unverified() {
    let spec = spec();
    let mut d = provisioned(&spec);
    d.partitions[5].content = luks(None);
    let p = plan(&spec, &d, &PlanOptions::default());
    assert_eq!(action(&p, "luks:pool"), Action::Keep);
    assert_eq!(action(&p, "btrfs:pool"), Action::Unverified);
    assert_eq!(action(&p, "subvolume:@user/home"), Action::Unverified);
    assert_eq!(action(&p, "mount:/home"), Action::Unverified);
    assert!(p.is_noop());
}

#[test]
fn another_luks_container_is_destroy() {
    let spec = spec();
    let mut d = provisioned(&spec);
    if let Content::Luks(l) = &mut d.partitions[5].content {
        l.uuid = "99999999-0000-4000-8000-000000000000".into();
    }
    let p = plan(&spec, &d, &PlanOptions::default());
    assert_eq!(action(&p, "luks:pool"), Action::Destroy);
    assert_eq!(action(&p, "btrfs:pool"), Action::Format);
    assert!(matches!(p.steps[0], Step::LuksFormat { partition: 6, .. }));
}

#[test]
fn missing_subvolumes_are_created_and_extra_ones_left_alone() {
    let spec = spec();
    let mut d = provisioned(&spec);
    let mut subs = all_subvolumes(&spec);
    subs.retain(|s| s != "@shared/waydroid");
    subs.push("@old".into());
    d.partitions[5].content = luks(Some(open_pool(subs)));
    let p = plan(&spec, &d, &PlanOptions::default());
    assert_eq!(action(&p, "subvolume:@shared/waydroid"), Action::Create);
    assert_eq!(action(&p, "subvolume:@old"), Action::Keep);
    assert_eq!(
        p.steps,
        [Step::CreateSubvolume {
            path: "@shared/waydroid".into()
        }]
    );
}

#[test]
fn reset_is_destroy_of_that_subvolume_only() {
    let spec = spec();
    let d = provisioned(&spec);
    let opts = PlanOptions {
        reset: vec!["@system/nix".into()],
        ..Default::default()
    };
    let p = plan(&spec, &d, &opts);
    assert_eq!(action(&p, "subvolume:@system/nix"), Action::Destroy);
    assert_eq!(action(&p, "subvolume:@user/home"), Action::Keep);
    assert_eq!(p.destroys().len(), 1);
    assert_eq!(p.steps.len(), 2);

    let opts = PlanOptions {
        reset: vec!["@system".into(), "@nope".into()],
        ..Default::default()
    };
    let p = plan(&spec, &d, &opts);
    assert_eq!(action(&p, "subvolume:@system"), Action::Refuse);
    assert_eq!(action(&p, "subvolume:@nope"), Action::Refuse);
}

#[test]
fn a_smaller_disk_or_an_mbr_disk_is_refused() {
    let spec = spec();
    let p = plan(
        &spec,
        &tabula_disk::plan::empty_disk("small.img", 64 << 30),
        &PlanOptions::default(),
    );
    assert_eq!(action(&p, "disk:small.img"), Action::Refuse);
    let mut d = provisioned(&spec);
    d.table = Some("dos".into());
    let p = plan(&spec, &d, &PlanOptions::default());
    assert_eq!(action(&p, &format!("disk:{}", d.device)), Action::Refuse);
}

#[test]
fn keyfile_slot_lines() {
    let spec = spec();
    let d = provisioned(&spec);
    let mut opts = PlanOptions {
        keyfile: true,
        keyfile_opens: Some(false),
        ..Default::default()
    };
    let p = plan(&spec, &d, &opts);
    assert_eq!(action(&p, "keyslot:pool/keyfile"), Action::Create);
    assert_eq!(p.steps, [Step::AddKeyfile { partition: 6 }]);
    opts.keyfile_opens = Some(true);
    assert!(plan(&spec, &d, &opts).is_noop());
}

/// The captured `sfdisk --json` of the test layout, planned against the test
/// spec: every partition keeps.
#[test]
fn captured_sfdisk_layout_matches_the_test_spec() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let spec = tabula_spec::parse(
        "test-host.toml",
        &std::fs::read_to_string(dir.join("test-host.toml")).unwrap(),
    )
    .unwrap()
    .spec;
    let table =
        parse_sfdisk(&std::fs::read_to_string(dir.join("sfdisk-full.json")).unwrap()).unwrap();
    let d = DiskProbe {
        device: "/dev/loopX".into(),
        size: 1 << 30,
        sector_size: 512,
        table: Some("gpt".into()),
        partitions: table.partitions,
        busy: Vec::new(),
    };
    let p = plan(&spec, &d, &PlanOptions::default());
    for label in ["ESP", "boot", "alpine", "kali", "windows", "pool"] {
        assert_eq!(
            action(&p, &format!("partition:{label}")),
            Action::Keep,
            "{}",
            p.table()
        );
    }
}

#[test]
fn data_without_a_signature_is_destroy_never_empty() {
    let spec = spec();
    let data = Content::Data { nonzero_at: 4096 };
    // On a NixOS partition: DESTROY (needs --wipe), with the reason.
    let mut d = provisioned(&spec);
    d.partitions[1].content = data.clone();
    let p = plan(&spec, &d, &PlanOptions::default());
    assert_eq!(action(&p, "fs:boot"), Action::Destroy);
    assert!(p.line("fs:boot").unwrap().reason.contains("unknown data"));
    assert_eq!(p.destroys().len(), 1);
    // The pool's partition: DESTROY of the container, not "create".
    let mut d = provisioned(&spec);
    d.partitions[5].content = data.clone();
    let p = plan(&spec, &d, &PlanOptions::default());
    assert_eq!(action(&p, "luks:pool"), Action::Destroy);
    // The ESP shared with Windows is never formatted: refused.
    let mut d = provisioned(&spec);
    d.partitions[0].content = data.clone();
    let p = plan(&spec, &d, &PlanOptions::default());
    assert_eq!(action(&p, "fs:ESP"), Action::Refuse);
    assert!(p.steps.is_empty());
    // A foreign partition holding raw data is left alone, not refused.
    let mut d = provisioned(&spec);
    d.partitions[3].content = data;
    let p = plan(&spec, &d, &PlanOptions::default());
    assert_eq!(action(&p, "fs:kali"), Action::Unverified);
    assert!(p.refused().is_empty() && p.steps.is_empty());
    // All zero is still empty: formatted without --wipe.
    let mut d = provisioned(&spec);
    d.partitions[1].content = Content::Empty;
    let p = plan(&spec, &d, &PlanOptions::default());
    assert_eq!(action(&p, "fs:boot"), Action::Format);
    assert!(p.destroys().is_empty());
}

#[test]
fn an_interrupted_format_is_finished_without_wipe() {
    let spec = spec();
    let cut = Content::Interrupted {
        what: "ext4 format".into(),
    };
    let mut d = provisioned(&spec);
    d.partitions[1].content = cut.clone();
    let p = plan(&spec, &d, &PlanOptions::default());
    assert_eq!(action(&p, "fs:boot"), Action::Format);
    assert!(p.line("fs:boot").unwrap().reason.contains("interrupted"));
    assert!(matches!(
        p.steps.as_slice(),
        [Step::Mkfs { partition: 2, .. }]
    ));
    // An interrupted luksFormat: formatted again, and the pool made new.
    let mut d = provisioned(&spec);
    d.partitions[5].content = Content::Interrupted {
        what: "LUKS2 format".into(),
    };
    let p = plan(&spec, &d, &PlanOptions::default());
    assert_eq!(action(&p, "luks:pool"), Action::Format);
    assert!(p.destroys().is_empty());
    assert!(matches!(p.steps[0], Step::LuksFormat { partition: 6, .. }));
    // A foreign partition is never formatted, note or not.
    let mut d = provisioned(&spec);
    d.partitions[2].content = cut;
    let p = plan(&spec, &d, &PlanOptions::default());
    assert_eq!(action(&p, "fs:alpine"), Action::Unverified);
    assert!(p.steps.is_empty());
}

#[test]
fn a_closed_container_is_reported_as_unverified_pool() {
    let spec = spec();
    let mut d = provisioned(&spec);
    d.partitions[5].content = luks(None);
    let p = plan(&spec, &d, &PlanOptions::default());
    assert!(p.is_noop());
    let u = p.unverified_pool();
    assert!(u.iter().any(|l| l.object == "btrfs:pool"), "{u:?}");
    assert!(u.iter().any(|l| l.object == "subvolume:@user/home"));
    assert!(u.iter().all(|l| !matches!(l.object, Object::Fs(_))));
    assert!(plan(&spec, &provisioned(&spec), &PlanOptions::default())
        .unverified_pool()
        .is_empty());
}

/// Every pass over many probes: the plan's JSON and table, byte for byte
/// (the snapshot was made by the planner before it was split into passes
/// and before objects were typed).
#[test]
fn plans_are_byte_identical_across_many_probes() {
    let spec = spec();
    let contents = |spec: &HostSpec| -> Vec<Content> {
        vec![
            Content::Empty,
            Content::Unknown {
                reason: "blkid failed".into(),
            },
            Content::Interrupted {
                what: "ext4 format".into(),
            },
            Content::Data { nonzero_at: 4096 },
            esp(),
            fs(
                "ext4",
                Some("0eaf7961-48c5-4b55-8a8f-04cd0b71de07"),
                Some("other"),
            ),
            fs("xfs", None, None),
            luks(None),
            luks(Some(open_pool(all_subvolumes(spec)))),
            luks(Some(open_pool(vec!["@system/nix".into(), "@extra".into()]))),
            luks(Some(OpenContainer {
                mapper: "/dev/mapper/pool".into(),
                inner: None,
                other: None,
            })),
            luks(Some(OpenContainer {
                mapper: "/dev/mapper/pool".into(),
                inner: None,
                other: Some("ext4".into()),
            })),
            luks(Some(OpenContainer {
                mapper: "/dev/mapper/pool".into(),
                inner: Some(BtrfsProbe {
                    uuid: Some("ffffffff-1111-4222-8333-944455566677".into()),
                    label: None,
                    subvolumes: vec![],
                }),
                other: None,
            })),
        ]
    };
    let optss = [
        PlanOptions::default(),
        PlanOptions {
            reset: vec!["@system/nix".into(), "@nope".into()],
            keyfile: true,
            keyfile_opens: Some(false),
            ..Default::default()
        },
        PlanOptions {
            reset: vec!["@user".into()],
            keyfile: true,
            keyfile_opens: Some(true),
            ..Default::default()
        },
        PlanOptions {
            reset: vec![],
            keyfile: true,
            keyfile_opens: None,
            ..Default::default()
        },
    ];
    // FNV-1a: a stable digest of each plan (the full text of every plan
    // would be megabytes); the first scenarios are kept in full.
    let fnv = |s: &str| {
        s.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    };
    let mut out = String::new();
    let base = provisioned(&spec);
    let mut probes: Vec<(String, DiskProbe)> = vec![("provisioned".into(), base.clone())];
    for i in 0..base.partitions.len() {
        for (k, c) in contents(&spec).into_iter().enumerate() {
            let mut d = base.clone();
            d.partitions[i].content = c;
            probes.push((format!("partition {} content {k}", i + 1), d));
        }
        let mut d = base.clone();
        d.partitions.remove(i);
        probes.push((format!("partition {} missing", i + 1), d));
        let mut d = base.clone();
        d.partitions[i].start += 1 << 20;
        probes.push((format!("partition {} moved", i + 1), d));
    }
    let mut d = base.clone();
    d.table = None;
    d.partitions.clear();
    probes.push(("blank".into(), d));
    let mut d = base.clone();
    d.table = Some("dos".into());
    probes.push(("mbr".into(), d));
    let mut d = base.clone();
    d.size = 1 << 30;
    probes.push(("small".into(), d));
    probes.push(("others".into(), others_installed(&spec, 1 << 30)));
    for (name, d) in &probes {
        for (k, o) in optss.iter().enumerate() {
            let p = plan(&spec, d, o);
            let text = format!("{}\n{}", serde_json::to_string(&p).unwrap(), p.table());
            if name == "provisioned" || name == "blank" {
                out.push_str(&format!("=== {name}, options {k}\n{text}\n"));
            } else {
                out.push_str(&format!("{name}, options {k}: {:016x}\n", fnv(&text)));
            }
        }
    }
    expect_test::expect_file!["fixtures/plan-snapshots.txt"].assert_eq(&out);
}

/// A disk another installer partitioned: two partitions where the spec
/// puts its own (a Linux root over the ESP and /boot, a swap after it).
fn foreign_layout() -> DiskProbe {
    let p = |number: u32, start: u64, size: u64, guid: &str, name: &str| ProbedPartition {
        number,
        node: format!("/dev/nvme0n1p{number}"),
        start,
        size,
        type_guid: guid.into(),
        uuid: None,
        name: Some(name.into()),
        content: fs("ext4", None, Some(name)),
    };
    DiskProbe {
        partitions: vec![
            p(
                1,
                1 << 20,
                40 << 30,
                "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
                "debian-root",
            ),
            p(
                2,
                (40 << 30) + (1 << 20),
                8 << 30,
                "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F",
                "debian-swap",
            ),
        ],
        ..tabula_disk::plan::empty_disk("/dev/nvme0n1", REAL_DISK)
    }
}

#[test]
fn a_foreign_layout_is_refused_naming_wipe_table() {
    let spec = spec();
    let mut d = foreign_layout();
    d.table = Some("gpt".into());
    let opts = PlanOptions {
        disk_arg: Some("/dev/nvme0n1".into()),
        ..Default::default()
    };
    let p = plan(&spec, &d, &opts);
    let refused = p.refused();
    assert!(!refused.is_empty());
    for l in &refused {
        let fix = l.fix.as_deref().unwrap_or_else(|| panic!("no fix: {l:?}"));
        assert!(fix.contains("--wipe table:/dev/nvme0n1"), "{fix}");
    }
    // Every refuse line of every plan has a way forward.
    let json = serde_json::to_value(&p).unwrap();
    for l in json["lines"].as_array().unwrap() {
        assert_eq!(l["action"] == "refuse", l.get("fix").is_some(), "{l}");
    }
    assert!(p.table().contains("; fix: "));
}

#[test]
fn wipe_table_destroys_every_partition_by_name_then_creates_the_layout() {
    let spec = spec();
    let mut d = foreign_layout();
    d.table = Some("gpt".into());
    let opts = PlanOptions {
        wipe: vec!["table:/dev/nvme0n1".into()],
        ..Default::default()
    };
    let p = plan(&spec, &d, &opts);
    assert!(p.refused().is_empty(), "{}", p.table());
    let destroys: Vec<String> = p.destroys().iter().map(|l| l.object.name()).collect();
    assert_eq!(
        destroys,
        ["disk:/dev/nvme0n1", "partition:#1", "partition:#2"]
    );
    assert!(p
        .line("partition:#1")
        .unwrap()
        .reason
        .contains("`debian-root`"));
    assert!(p
        .line("partition:#2")
        .unwrap()
        .reason
        .contains("`debian-swap`"));
    assert_eq!(p.steps[..2], [Step::ZapTable, Step::CreateTable]);
    for sp in &spec.partitions {
        assert_eq!(
            action(&p, &format!("partition:{}", sp.label)),
            Action::Create
        );
    }
    let creates = p
        .steps
        .iter()
        .filter(|s| matches!(s, Step::CreatePartition { .. }))
        .count();
    assert_eq!(creates, spec.partitions.len());
    // The same plan as a blank disk's, after the DESTROY lines.
    let mut blank = d.clone();
    blank.table = None;
    blank.partitions.clear();
    let fresh = plan(&spec, &blank, &PlanOptions::default());
    assert_eq!(p.lines[3..], fresh.lines[1..]);
    assert_eq!(p.steps[1..], fresh.steps[..]);
    // An MBR disk too; a disk too small stays refused; another disk's name
    // changes nothing.
    d.table = Some("dos".into());
    assert_eq!(
        action(&plan(&spec, &d, &opts), "disk:/dev/nvme0n1"),
        Action::Destroy
    );
    let other = PlanOptions {
        wipe: vec!["table:/dev/sda".into()],
        ..Default::default()
    };
    assert_eq!(
        action(&plan(&spec, &d, &other), "disk:/dev/nvme0n1"),
        Action::Refuse
    );
    d.size = 1 << 30;
    assert_eq!(
        action(&plan(&spec, &d, &opts), "disk:/dev/nvme0n1"),
        Action::Refuse
    );
}

/// A "rest" partition that another tool ended at the last usable sector
/// (sgdisk `0:0`, parted `100%`, not 1 MiB aligned) is the same partition:
/// kept. One more MiB is a real resize: refused.
#[test]
fn a_rest_partition_to_the_last_usable_sector_is_kept() {
    let spec = spec();
    let mut d = provisioned(&spec);
    // The pool runs up to the sector before the backup GPT (33 sectors).
    let pool = &mut d.partitions[5];
    let last_usable_end = DISK - 33 * 512;
    assert!(last_usable_end > pool.end() && last_usable_end - pool.end() < 1 << 20);
    pool.size = last_usable_end - pool.start;
    let p = plan(&spec, &d, &PlanOptions::default());
    assert_eq!(action(&p, "partition:pool"), Action::Keep, "{}", p.table());

    let mut d = provisioned(&spec);
    d.partitions[5].size += 1 << 20;
    let p = plan(&spec, &d, &PlanOptions::default());
    assert_eq!(
        action(&p, "partition:pool"),
        Action::Refuse,
        "{}",
        p.table()
    );
}
