//! `tabula import --root`: the facts of a planted impermanent NixOS root
//! come back equal to the spec it was rendered from.
//!
//! The fixture is what a host rendered from the EMBEDDED spec shows: the
//! mount table follows tabula-render's storage module (a tmpfs root, btrfs
//! subvolumes of /dev/mapper/pool, /boot and /boot/efi by UUID, the
//! persistence root /persist, a bind mount from it for every rendered
//! directory, a symlink into it for every rendered file; entries marked
//! `covered_by` are not rendered, so they are not on the machine either),
//! plus what NixOS adds (proc, sysfs, /run, /dev/shm, the read-only
//! /nix/store bind mount), and the etc/fstab and etc/crypttab NixOS writes.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::Path;

use tabula_audit::adopt::{read_root, AdoptError, DeviceRef, RootFacts, SourceFact};
use tabula_spec::model::{MountSource, PartSize};
use tabula_spec::{check, HostSpec, Loaded, SpecSource};

fn embedded() -> Loaded {
    tabula_spec::load(&SpecSource::Embedded(tabula_spec::embedded::DEFAULT_HOST)).unwrap()
}

/// `2G` -> `2097152k`, as the kernel shows a tmpfs size.
fn kib(size: &str) -> String {
    let (n, unit) = size.split_at(size.len() - 1);
    let n: u64 = n.parse().unwrap();
    let f = match unit {
        "G" => 1 << 20,
        "M" => 1 << 10,
        _ => panic!("size {size}"),
    };
    format!("{}k", n * f)
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// Plant the tree of a host rendered from `spec` under `root`; the
/// mountinfo it would show.
fn plant(spec: &HostSpec, root: &Path) -> String {
    let mut mi = String::new();
    let mut fstab = String::from("# This is a generated file.  Do not edit!\n\n# Filesystems.\n");
    let btrfs = spec.btrfs.as_ref().unwrap();
    let luks = spec.luks.as_ref().unwrap();
    let mut id = 30;
    for m in spec.mounts_in_order() {
        let path = m.path.as_str();
        std::fs::create_dir_all(root.join(path.trim_start_matches('/'))).unwrap();
        id += 1;
        let parent = if path == "/" { 1 } else { 22 };
        let nfb = if m.needed_for_boot {
            "x-initrd.mount,"
        } else {
            ""
        };
        match &m.source {
            MountSource::Tmpfs { size, mode } => {
                let mode = mode.clone().unwrap_or_else(|| "755".into());
                writeln!(
                    mi,
                    "22 1 0:20 / / rw,relatime shared:1 - tmpfs none rw,size={},mode={mode}",
                    kib(size)
                )
                .unwrap();
                writeln!(fstab, "none / tmpfs {nfb}mode={mode},size={size} 0 0").unwrap();
            }
            MountSource::Subvolume { subvolume } => {
                writeln!(
                    mi,
                    "{id} {parent} 0:31 /{subvolume} {path} rw,noatime shared:{id} - btrfs /dev/mapper/{} rw,compress=zstd:3,ssd,discard=async,space_cache=v2,subvolid={id},subvol=/{subvolume}",
                    luks.name
                )
                .unwrap();
                let opts = btrfs.subvolume_options(subvolume).join(",");
                writeln!(
                    fstab,
                    "/dev/mapper/{} {path} btrfs {nfb}{opts} 0 0",
                    luks.name
                )
                .unwrap();
            }
            MountSource::Partition { partition } => {
                let p = spec.partition(partition).unwrap();
                let f = p.filesystem.as_ref().unwrap();
                let kind = f.kind.name();
                let sup = if kind == "vfat" {
                    "rw,fmask=0077,dmask=0077,codepage=437,iocharset=iso8859-1,shortname=mixed,errors=remount-ro"
                } else {
                    "rw"
                };
                writeln!(
                    mi,
                    "{id} {parent} 259:{} / {path} rw,relatime shared:{id} - {kind} /dev/nvme0n1p{} {sup}",
                    p.number, p.number
                )
                .unwrap();
                let mut opts = m.options.join(",");
                if opts.is_empty() {
                    opts = "defaults".into();
                }
                writeln!(
                    fstab,
                    "/dev/disk/by-uuid/{} {path} {kind} {nfb}{opts} 0 2",
                    f.uuid.as_ref().unwrap()
                )
                .unwrap();
            }
        }
    }
    // What NixOS and systemd add.
    for line in [
        "23 22 0:5 / /dev rw,nosuid shared:2 - devtmpfs devtmpfs rw,size=400000k,nr_inodes=99000,mode=755",
        "24 23 0:22 / /dev/shm rw,nosuid,nodev shared:3 - tmpfs tmpfs rw",
        "25 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:5 - proc proc rw",
        "26 22 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:6 - sysfs sysfs rw",
        "27 22 0:25 / /run rw,nosuid,nodev shared:10 - tmpfs tmpfs rw,size=400000k,mode=755",
        "28 27 0:26 / /run/user/1000 rw,nosuid,nodev,relatime shared:11 - tmpfs tmpfs rw,size=400000k,nr_inodes=100000,mode=700,uid=1000,gid=100",
        "29 26 0:27 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:7 - cgroup2 cgroup2 rw",
        "99 31 0:31 /@system/nix/store /nix/store ro,noatime shared:99 - btrfs /dev/mapper/pool rw,compress=zstd:3,subvol=/@system/nix",
    ] {
        writeln!(mi, "{line}").unwrap();
    }
    // Impermanence: bind mounts for directories, symlinks for files.
    let pers = spec.persistence.as_ref().unwrap();
    let proot = pers.root.as_str();
    let pm = spec.mount(proot).unwrap();
    let MountSource::Subvolume { subvolume: psub } = &pm.source else {
        panic!("persistence root is a subvolume")
    };
    let mut dirs: Vec<String> = pers
        .directories
        .iter()
        .filter(|e| e.covered_by.is_none())
        .map(|e| e.path.as_str().to_owned())
        .collect();
    let mut files: Vec<String> = pers
        .files
        .iter()
        .filter(|e| e.covered_by.is_none())
        .map(|e| e.path.as_str().to_owned())
        .collect();
    for (user, up) in &pers.users {
        let home = spec.home_of(user);
        dirs.extend(
            up.directories
                .iter()
                .filter(|e| e.covered_by.is_none())
                .map(|e| format!("{}/{}", home.as_str(), e.path.as_str())),
        );
        files.extend(
            up.files
                .iter()
                .filter(|e| e.covered_by.is_none())
                .map(|e| format!("{}/{}", home.as_str(), e.path.as_str())),
        );
    }
    for (i, d) in dirs.iter().enumerate() {
        let rel = d.trim_start_matches('/');
        std::fs::create_dir_all(root.join(rel)).unwrap();
        std::fs::create_dir_all(root.join(proot.trim_start_matches('/')).join(rel)).unwrap();
        writeln!(
            mi,
            "{} 22 0:31 /{psub}{d} {d} rw,noatime shared:{} - btrfs /dev/mapper/pool rw,compress=zstd:3,subvol=/{psub}",
            200 + i,
            200 + i
        )
        .unwrap();
    }
    for f in &files {
        let rel = f.trim_start_matches('/');
        write(&root.join(proot.trim_start_matches('/')), rel, "kept\n");
        let link = root.join(rel);
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        symlink(format!("{proot}{f}"), link).unwrap();
    }
    // Users: what NixOS's update-users-groups writes.
    let mut passwd = String::from(
        "root:x:0:0:System administrator:/root:/run/current-system/sw/bin/bash\n\
         messagebus:x:4:4:D-Bus system message bus daemon user:/run/dbus:/run/current-system/sw/bin/nologin\n\
         nixbld1:x:30001:30000:Nix build user 1:/var/empty:/run/current-system/sw/bin/nologin\n\
         nobody:x:65534:65534:Unprivileged account (don't use!):/var/empty:/run/current-system/sw/bin/nologin\n",
    );
    let mut members: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (i, u) in spec.users.iter().filter(|u| u.name != "root").enumerate() {
        writeln!(
            passwd,
            "{}:x:{}:100:{}:/home/{}:/run/current-system/sw/bin/bash",
            u.name,
            1000 + i,
            u.description.as_deref().unwrap_or(""),
            u.name
        )
        .unwrap();
        for g in &u.groups {
            members.entry(g.clone()).or_default().push(u.name.clone());
        }
        if let Some(f) = &u.hashed_password_file {
            write(root, f.trim_start_matches('/'), "$y$j9T$...\n");
        }
    }
    let mut group = String::from("root:x:0:\nusers:x:100:\nnixbld:x:30000:nixbld1\n");
    for (i, (g, m)) in members.iter().enumerate() {
        writeln!(group, "{g}:x:{}:{}", 400 + i, m.join(",")).unwrap();
    }
    write(root, "etc/passwd", &passwd);
    write(root, "etc/group", &group);
    write(root, "etc/fstab", &fstab);
    let k = luks.keyfile.as_ref().unwrap();
    write(
        root,
        "etc/crypttab",
        &format!(
            "{} /dev/disk/by-uuid/{} {}:UUID={} keyfile-timeout={}s,discard\n",
            luks.name,
            luks.uuid,
            k.path.as_str(),
            k.fs_uuid,
            k.timeout.unwrap()
        ),
    );
    // The rest of a tmpfs root: ordinary files, a few symlinks not into /persist.
    write(root, "etc/hostname", "surface-pro-8\n");
    symlink("/etc/static/bashrc", root.join("etc/bashrc")).unwrap();
    std::fs::create_dir_all(root.join("tmp")).unwrap();
    mi
}

/// The spec's mounts as comparable text.
fn spec_mounts(spec: &HostSpec) -> BTreeSet<String> {
    spec.mounts
        .iter()
        .map(|m| {
            let src = match &m.source {
                MountSource::Tmpfs { size, mode } => {
                    format!("tmpfs {size} {}", mode.as_deref().unwrap_or("-"))
                }
                MountSource::Subvolume { subvolume } => format!("subvol {subvolume}"),
                MountSource::Partition { partition } => format!("partition {partition}"),
            };
            format!("{} {src} {:?} {}", m.path, m.options, m.needed_for_boot)
        })
        .collect()
}

/// The facts' mounts in the same words (pool options taken off, UUIDs
/// named by the spec's partitions).
fn fact_mounts(facts: &RootFacts, spec: &HostSpec) -> BTreeSet<String> {
    let pool: BTreeSet<String> = spec.btrfs.as_ref().unwrap().subvolume_options("x")[1..]
        .iter()
        .cloned()
        .collect();
    facts
        .mounts
        .iter()
        .map(|m| {
            let (src, opts): (String, Vec<String>) = match &m.source {
                SourceFact::Tmpfs { size, mode } => (
                    format!(
                        "tmpfs {} {}",
                        size.as_deref().unwrap_or("?"),
                        mode.as_deref().unwrap_or("-")
                    ),
                    m.options.clone(),
                ),
                SourceFact::Subvolume { subvolume, .. } => (
                    format!("subvol {subvolume}"),
                    m.options
                        .iter()
                        .filter(|o| !pool.contains(*o))
                        .cloned()
                        .collect(),
                ),
                SourceFact::Device { device, .. } => {
                    let DeviceRef::Uuid(u) = device else {
                        panic!("{device:?}")
                    };
                    let p = spec
                        .partitions
                        .iter()
                        .find(|p| p.filesystem.as_ref().and_then(|f| f.uuid.as_ref()) == Some(u))
                        .unwrap();
                    (format!("partition {}", p.label), m.options.clone())
                }
            };
            format!("{} {src} {opts:?} {}", m.path, m.needed_for_boot)
        })
        .collect()
}

#[test]
fn embedded_host_round_trips_from_a_planted_root() {
    let loaded = embedded();
    let spec = &loaded.spec;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mi = plant(spec, root);
    let before = tree_hash(root);
    let facts = read_root(root, &mi).unwrap();
    assert_eq!(tree_hash(root), before, "read_root wrote to the tree");

    assert!(facts.left_out.is_empty(), "{:#?}", facts.left_out);
    assert_eq!(fact_mounts(&facts, spec), spec_mounts(spec));
    assert_eq!(facts.tmpfs_root(), Some((Some("2G"), Some("755"))));

    let pers = facts.persistence.as_ref().unwrap();
    let sp = spec.persistence.as_ref().unwrap();
    assert_eq!(pers.root, sp.root.as_str());
    let rendered = |v: &[tabula_spec::model::Entry<tabula_spec::AbsPath>]| -> BTreeSet<String> {
        v.iter()
            .filter(|e| e.covered_by.is_none())
            .map(|e| e.path.as_str().to_owned())
            .collect()
    };
    assert_eq!(pers.directories, rendered(&sp.directories));
    assert_eq!(pers.files, rendered(&sp.files));
    assert!(!pers.files.is_empty() && !pers.directories.is_empty());
    // Every user entry of the embedded host is covered by /home.
    assert!(pers.users.is_empty(), "{:?}", pers.users);
    assert!(pers.guessed.is_empty());

    let users: BTreeSet<(String, BTreeSet<String>)> = facts
        .users
        .iter()
        .map(|u| (u.name.clone(), u.groups.iter().cloned().collect()))
        .collect();
    let want: BTreeSet<(String, BTreeSet<String>)> = spec
        .users
        .iter()
        .filter(|u| u.name != "root")
        .map(|u| (u.name.clone(), u.groups.iter().cloned().collect()))
        .collect();
    assert_eq!(users, want);
    assert_eq!(
        facts.users[0].hashed_password_file.as_deref(),
        Some("/persist/secrets/user.passwd")
    );

    let l = spec.luks.as_ref().unwrap();
    assert_eq!(facts.crypt.len(), 1);
    let c = &facts.crypt[0];
    assert_eq!(c.name, l.name);
    assert_eq!(c.device, DeviceRef::Uuid(l.uuid.clone()));
    let k = l.keyfile.as_ref().unwrap();
    assert_eq!(c.keyfile.as_deref(), Some(k.path.as_str()));
    assert_eq!(c.keyfile_device, Some(DeviceRef::Uuid(k.fs_uuid.clone())));
    assert_eq!(c.keyfile_timeout, k.timeout);
}

/// Without etc/fstab the mounts come from mountinfo alone: the same
/// sources and options (the kernel's `zstd:3` is `zstd`, vfat's
/// `fmask=dmask=0077` is `umask=0077`), needed_for_boot unknown and marked.
#[test]
fn without_fstab_the_mount_table_alone_gives_the_mounts() {
    let loaded = embedded();
    let spec = &loaded.spec;
    let dir = tempfile::tempdir().unwrap();
    let mi = plant(spec, dir.path());
    std::fs::remove_file(dir.path().join("etc/fstab")).unwrap();
    let facts = read_root(dir.path(), &mi).unwrap();
    let esp = facts.mounts.iter().find(|m| m.path == "/boot/efi").unwrap();
    assert_eq!(esp.options, ["umask=0077"]);
    assert!(esp.guessed.is_some());
    assert_eq!(
        esp.source,
        SourceFact::Device {
            device: DeviceRef::Path("/dev/nvme0n1p1".into()),
            fstype: "vfat".into()
        }
    );
    let nix = facts.mounts.iter().find(|m| m.path == "/nix").unwrap();
    assert_eq!(nix.options, ["noatime", "compress=zstd"]);
    assert!(!nix.needed_for_boot);
    assert_eq!(facts.mounts.len(), spec.mounts.len());
}

/// The embedded host without its mount, persistence, user and luks tables,
/// filled in by write_into from the planted root, checks with no error the
/// embedded host does not have; written into the whole embedded host, it
/// changes nothing.
#[test]
fn write_into_gives_a_spec_that_checks() {
    let loaded = embedded();
    let dir = tempfile::tempdir().unwrap();
    let mi = plant(&loaded.spec, dir.path());
    let facts = read_root(dir.path(), &mi).unwrap();

    let mut whole: toml_edit::DocumentMut = loaded.text.parse().unwrap();
    facts.write_into(&mut whole);
    assert_eq!(
        whole.to_string(),
        loaded.text,
        "write_into changed what was there"
    );

    let mut doc: toml_edit::DocumentMut = loaded.text.parse().unwrap();
    for k in ["mount", "persistence", "user", "luks"] {
        doc.remove(k).unwrap();
    }
    facts.write_into(&mut doc);
    let text = doc.to_string();
    let back = match tabula_spec::parse("imported.toml", &text) {
        Ok(l) => l,
        Err(e) => panic!("{e:?}\n{text}"),
    };
    let errors = |l: &Loaded| -> BTreeSet<String> {
        check::check(l)
            .into_iter()
            .filter(|f| f.severity == check::Severity::Error)
            .map(|f| format!("{:?} {}", f.code, f.message))
            .collect()
    };
    let new: Vec<String> = errors(&back)
        .difference(&errors(&loaded))
        .cloned()
        .collect();
    assert!(new.is_empty(), "new errors: {new:#?}\n{text}");
    // The mounts, users and persistence read back equal the spec's.
    assert_eq!(spec_mounts(&back.spec), spec_mounts(&loaded.spec));
    let bp = back.spec.persistence.as_ref().unwrap();
    assert_eq!(bp.root.as_str(), "/persist");
    assert_eq!(bp.directories.len(), 1);
    assert_eq!(bp.files.len(), 5);
    let bl = back.spec.luks.as_ref().unwrap();
    let ll = loaded.spec.luks.as_ref().unwrap();
    assert_eq!(
        (&bl.uuid, &bl.name, &bl.partition),
        (&ll.uuid, &ll.name, &ll.partition)
    );
    let (bk, lk) = (bl.keyfile.as_ref().unwrap(), ll.keyfile.as_ref().unwrap());
    assert_eq!(
        (&bk.fs_uuid, bk.fs_type, &bk.path),
        (&lk.fs_uuid, lk.fs_type, &lk.path)
    );
    assert!(bl.allow_discards);
    // Guessed values say so.
    assert!(
        text.contains("hashed_password_file = \"/persist/secrets/user.passwd\" # guessed:"),
        "{text}"
    );
    assert!(text.contains("fs_type = \"exfat\" # guessed:"), "{text}");
    assert!(text.contains("partition = \"pool\" # guessed:"), "{text}");
    assert!(matches!(
        back.spec.partitions.last().unwrap().size,
        PartSize::Rest
    ));
}

/// From an empty document: every table is made, the persisted entries of a
/// user's home land under the user, the guessed partition names say so.
#[test]
fn write_into_an_empty_doc_and_user_entries() {
    let loaded = embedded();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut mi = plant(&loaded.spec, root);
    // A tmpfs home (instead of the @user/home subvolume) with
    // impermanence's user entries.
    mi = mi
        .lines()
        .filter(|l| !l.contains(" /home rw"))
        .map(|l| format!("{l}\n"))
        .collect();
    mi.push_str("300 22 0:31 /@system/persist/home/user/.ssh /home/user/.ssh rw,noatime shared:300 - btrfs /dev/mapper/pool rw,subvol=/@system/persist\n");
    std::fs::create_dir_all(root.join("home/user/.ssh")).unwrap();
    write(root, "persist/home/user/.zsh_history", "ls\n");
    symlink(
        "/persist/home/user/.zsh_history",
        root.join("home/user/.zsh_history"),
    )
    .unwrap();
    // A bind mount of a file: its mount point is a file.
    mi.push_str("301 22 0:31 /@system/persist/etc/adjtime /etc/adjtime rw,noatime shared:301 - btrfs /dev/mapper/pool rw,subvol=/@system/persist\n");
    write(root, "etc/adjtime", "0.0 0 0.0\n");
    let facts = read_root(root, &mi).unwrap();
    let p = facts.persistence.as_ref().unwrap();
    let u = &p.users["user"];
    assert_eq!(u.directories, BTreeSet::from([".ssh".to_owned()]));
    assert_eq!(u.files, BTreeSet::from([".zsh_history".to_owned()]));
    assert!(p.files.contains("/etc/adjtime"));
    assert!(!p.directories.contains("/home/user/.ssh"));

    let mut doc = toml_edit::DocumentMut::new();
    facts.write_into(&mut doc);
    let text = doc.to_string();
    for want in [
        "[persistence.users.user]",
        "{ path = \".ssh\" }",
        "{ path = \".zsh_history\" }",
        "[[btrfs.subvolume]]",
        "path = \"@system\" # guessed: the parent of the mounted",
        "partition = \"boot\" # guessed: no [[partition]] holds ext4",
        "compression = \"zstd\"",
        "mount_options = [\"noatime\"]",
        "[[user]]",
        "[luks.keyfile]",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    let v: toml::Value = toml::from_str(&text).unwrap();
    assert_eq!(
        v["mount"].as_array().unwrap().len(),
        loaded.spec.mounts.len() - 1
    );
}

#[test]
fn garbage_mountinfo_lines_are_errors_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let mi = "22 1 0:20 / / rw - tmpfs none rw,size=2097152k,mode=755\n\n1 2 0:1 / /a rw - \n";
    let e = read_root(dir.path(), mi).unwrap_err();
    assert!(matches!(e, AdoptError::Mountinfo { line: 3, .. }), "{e:?}");
    assert!(e.to_string().contains("line 3"), "{e}");
    let e = read_root(dir.path(), "not a mount table\n").unwrap_err();
    assert!(e.to_string().contains("line 1"), "{e}");
    let e = read_root(dir.path(), "40 22 0:31 / /nix rw - btrfs /dev/sda rw\n").unwrap_err();
    assert!(matches!(e, AdoptError::NoRootMount), "{e:?}");
    let e = read_root(
        &dir.path().join("absent"),
        "22 1 0:20 / / rw - tmpfs none rw\n",
    )
    .unwrap_err();
    assert!(matches!(e, AdoptError::Root { .. }), "{e:?}");
}

const TMPFS_ROOT: &str =
    "22 1 0:20 / / rw,relatime shared:1 - tmpfs none rw,size=1048576k,mode=755\n\
    41 22 0:31 /@persist /persist rw,noatime shared:21 - btrfs /dev/sda2 rw,subvol=/@persist\n";

/// Symlinks out of the root and loops of symlinks are never followed out
/// of it; an unreadable etc/passwd or etc/group is a left_out, not a panic.
#[test]
fn hostile_symlinks_stay_in_the_root() {
    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::create_dir_all(root.join("persist")).unwrap();
    // A passwd outside the root, with a user that must not come back.
    write(
        outer.path(),
        "outside/passwd",
        "evil:x:1000:100::/home/evil:/bin/sh\n",
    );
    let outside = outer.path().join("outside/passwd");
    symlink(&outside, root.join("etc/passwd")).unwrap();
    // A loop for etc/group, loops and escapes for the walk.
    symlink("group2", root.join("etc/group")).unwrap();
    symlink("group", root.join("etc/group2")).unwrap();
    symlink(".", root.join("self")).unwrap();
    symlink("/", root.join("host")).unwrap();
    symlink(outer.path(), root.join("outer")).unwrap();
    std::fs::create_dir_all(root.join("a")).unwrap();
    symlink("../a", root.join("a/b")).unwrap();
    // Climbing above the root stays at the root: a file entry, read lexically.
    symlink("../../../../../../persist/etc/kept", root.join("a/kept")).unwrap();
    // Outside the persistence root: not an entry.
    symlink("/persistent/x", root.join("a/not")).unwrap();
    let before = tree_hash(&root);
    let facts = read_root(&root, TMPFS_ROOT).unwrap();
    assert_eq!(tree_hash(&root), before);
    assert!(facts.users.is_empty(), "{:?}", facts.users);
    let what: Vec<&str> = facts.left_out.iter().map(|l| l.what.as_str()).collect();
    assert!(
        what.iter()
            .any(|w| w.starts_with("etc/passwd could not be read")),
        "{what:?}"
    );
    assert!(
        what.iter()
            .any(|w| w.starts_with("etc/group could not be read")),
        "{what:?}"
    );
    let p = facts.persistence.as_ref().unwrap();
    assert_eq!(p.files, BTreeSet::from(["/a/kept".to_owned()]));
    assert!(p.directories.is_empty());

    // etc/passwd a directory: a left_out too.
    std::fs::remove_file(root.join("etc/passwd")).unwrap();
    std::fs::create_dir(root.join("etc/passwd")).unwrap();
    let facts = read_root(&root, TMPFS_ROOT).unwrap();
    assert!(facts
        .left_out
        .iter()
        .any(|l| l.what.starts_with("etc/passwd could not be read") && !l.fix.is_empty()));
}

/// LVM, mdadm, ZFS, bcachefs, overlay, a foreign bind mount and a swap file
/// are seen and listed with a fix, not described.
#[test]
fn what_cannot_be_described_is_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "etc/fstab",
        "/dev/vg0/data /data ext4 defaults 0 2\n/swapfile none swap defaults 0 0\n/dev/sdb1 /srv ext4 defaults 0 2\n",
    );
    let mi = format!(
        "{TMPFS_ROOT}\
50 22 254:1 / /data rw - ext4 /dev/mapper/vg0-data rw\n\
51 22 9:0 / /raid rw - ext4 /dev/md0 rw\n\
52 22 0:50 / /tank rw - zfs tank/data rw,xattr\n\
53 22 0:51 / /bc rw - bcachefs /dev/sdc rw\n\
54 22 0:52 / /var/lib/docker/overlay2/x/merged rw - overlay overlay rw,lowerdir=/a,upperdir=/b,workdir=/c\n\
55 22 254:1 /shared /mnt/shared rw - ext4 /dev/mapper/vg0-data rw\n"
    );
    let facts = read_root(root, &mi).unwrap();
    let what = facts
        .left_out
        .iter()
        .map(|l| format!("{} | {}", l.what, l.fix))
        .collect::<Vec<_>>()
        .join("\n");
    for want in [
        "/data: an LVM",
        "/raid: an mdadm",
        "/tank: a ZFS",
        "/bc: a bcachefs",
        "/var/lib/docker/overlay2/x/merged: an overlay",
        "swap file /swapfile",
        "/srv: in etc/fstab",
        "/mnt/shared: a bind mount",
    ] {
        assert!(what.contains(want), "missing {want:?} in\n{what}");
    }
    assert!(
        facts
            .mounts
            .iter()
            .all(|m| m.path == "/" || m.path == "/persist"),
        "{:?}",
        facts.mounts
    );
}

/// A digest of the tree: every entry's path, kind, mode, size, mtime,
/// content and symlink target (never following one).
fn tree_hash(root: &Path) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let mut stack = vec![root.to_owned()];
    let mut n = 0;
    while let Some(d) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            n += 1;
            let md = std::fs::symlink_metadata(&p).unwrap();
            p.hash(&mut h);
            (md.mode(), md.len(), md.mtime(), md.mtime_nsec(), md.ino()).hash(&mut h);
            if md.file_type().is_symlink() {
                std::fs::read_link(&p).unwrap().hash(&mut h);
            } else if md.is_dir() {
                stack.push(p);
            } else if md.is_file() {
                std::fs::read(&p).unwrap().hash(&mut h);
            }
        }
    }
    assert!(n > 0);
    h.finish()
}

/// Unmounts (lazily) what the test mounted, even when it fails.
struct Mounted(Vec<std::path::PathBuf>);

impl Drop for Mounted {
    fn drop(&mut self) {
        for p in self.0.iter().rev() {
            let _ = rustix::mount::unmount(p, rustix::mount::UnmountFlags::DETACH);
        }
    }
}

/// The live reader on a real tmpfs root this test mounts in a tempdir: the
/// mount points come back relative to it, the tmpfs size and mode as
/// mounted, a bind mount from the persistence root as a directory entry.
#[test]
fn live_root_in_a_tempdir() {
    use rustix::mount::{mount, mount_bind, MountFlags};
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let mut guard = Mounted(Vec::new());
    if let Err(e) = mount(
        "tmpfs",
        &root,
        "tmpfs",
        MountFlags::empty(),
        c"size=64m,mode=750",
    ) {
        println!("SKIP live_root_in_a_tempdir: cannot mount a tmpfs ({e})");
        return;
    }
    guard.0.push(root.clone());
    std::fs::create_dir_all(root.join("persist")).unwrap();
    mount(
        "tmpfs",
        root.join("persist"),
        "tmpfs",
        MountFlags::empty(),
        c"size=8m",
    )
    .unwrap();
    guard.0.push(root.join("persist"));
    std::fs::create_dir_all(root.join("persist/etc/nixos")).unwrap();
    std::fs::create_dir_all(root.join("etc/nixos")).unwrap();
    mount_bind(root.join("persist/etc/nixos"), root.join("etc/nixos")).unwrap();
    guard.0.push(root.join("etc/nixos"));
    write(&root, "persist/etc/machine-id", "0123\n");
    symlink("/persist/etc/machine-id", root.join("etc/machine-id")).unwrap();
    write(
        &root,
        "etc/passwd",
        "alice:x:1000:100:Alice:/home/alice:/bin/sh\n",
    );
    write(&root, "etc/group", "wheel:x:1:alice\n");
    let before = tree_hash(&root);
    let facts = tabula_audit::adopt::read_root_live(&root).unwrap();
    assert_eq!(tree_hash(&root), before);
    assert_eq!(facts.tmpfs_root(), Some((Some("64M"), Some("750"))));
    let p = facts.persistence.as_ref().unwrap();
    assert_eq!(p.root, "/persist");
    assert_eq!(p.directories, BTreeSet::from(["/etc/nixos".to_owned()]));
    assert_eq!(p.files, BTreeSet::from(["/etc/machine-id".to_owned()]));
    assert_eq!(facts.users.len(), 1);
    assert_eq!(facts.users[0].groups, ["wheel"]);
    drop(guard);
    // This machine's own root reads without a panic or an error.
    tabula_audit::adopt::read_root_live(Path::new("/")).unwrap();
}

/// A flat-subvolume btrfs root by UUID, as Calamares and disko's examples
/// make it (no tmpfs, no LUKS): the subvolumes, the pool's UUID and its
/// options land in [btrfs], the mounts refer to them.
#[test]
fn flat_subvolumes_by_uuid_write_the_pool() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let uuid = "8a2c9f3e-1b7d-4c5e-9f0a-2b3c4d5e6f70";
    let mut fstab = String::new();
    let mut mi = String::new();
    for (i, (sub, path)) in [
        ("@", "/"),
        ("@home", "/home"),
        ("@nix", "/nix"),
        ("@log", "/var/log"),
    ]
    .into_iter()
    .enumerate()
    {
        writeln!(
            mi,
            "{} {} 0:40 /{sub} {path} rw,noatime - btrfs /dev/sda2 rw,compress=zstd:3,ssd,subvolid={},subvol=/{sub}",
            30 + i,
            if i == 0 { 1 } else { 30 },
            256 + i
        )
        .unwrap();
        writeln!(
            fstab,
            "UUID={uuid} {path} btrfs subvol={sub},compress=zstd,noatime 0 0"
        )
        .unwrap();
        std::fs::create_dir_all(root.join(path.trim_start_matches('/'))).unwrap();
    }
    write(root, "etc/fstab", &fstab);
    write(
        root,
        "etc/passwd",
        "root:x:0:0::/root:/bin/bash\nana:x:1000:1000:Ana:/home/ana:/bin/zsh\n",
    );
    write(root, "etc/group", "wheel:x:10:ana\nana:x:1000:\n");
    let facts = read_root(root, &mi).unwrap();
    assert!(facts.left_out.is_empty(), "{:?}", facts.left_out);
    assert!(facts.persistence.is_none());
    assert_eq!(facts.tmpfs_root(), None);
    let mut doc = toml_edit::DocumentMut::new();
    facts.write_into(&mut doc);
    let v: toml::Value = toml::from_str(&doc.to_string()).unwrap();
    let b = &v["btrfs"];
    assert_eq!(b["uuid"].as_str(), Some(uuid));
    assert_eq!(b["compression"].as_str(), Some("zstd"));
    let subs: BTreeSet<&str> = b["subvolume"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["path"].as_str().unwrap())
        .collect();
    assert_eq!(subs, BTreeSet::from(["@", "@home", "@nix", "@log"]));
    let mounts: BTreeSet<(String, String)> = v["mount"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["path"].as_str().unwrap().to_owned(),
                m["subvolume"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(mounts.contains(&("/".into(), "@".into())));
    assert!(v["mount"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m.get("options").is_none()));
    assert_eq!(v["user"][0]["name"].as_str(), Some("ana"));
    assert_eq!(v["user"][0]["groups"].as_array().unwrap().len(), 1);
}
