//! Planted trees: each case of the classification, deep trees, symlink
//! loops, the suggestion round trip and orphans.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::path::Path;

use tabula_audit::walk::GroupKind;
use tabula_audit::{Class, Mounts, Report, WalkOptions};

fn run(root: &Path, spec_text: &str) -> Report {
    let spec = support::spec(spec_text);
    tabula_audit::audit(&spec, root, Mounts::Spec, &WalkOptions::default()).unwrap()
}

fn group<'a>(r: &'a Report, path: &str) -> &'a tabula_audit::Group {
    r.groups
        .iter()
        .find(|g| g.path == path)
        .unwrap_or_else(|| panic!("no group {path} in {:#?}", r.groups))
}

/// A small NixOS-like root: one of each case.
fn plant(root: &Path) {
    // Persisted by mounts (the spec mounts /nix, /var/lib, /home, /persist).
    support::file(root, "nix/store/abc-hello/bin/hello", 100);
    support::file(root, "var/lib/nixos/uid-map", 10);
    support::file(root, "home/user/notes.txt", 10);
    // Persisted by entries (a bind-mounted dir, a file, a symlink into /persist).
    support::file(root, "etc/nixos/flake.nix", 50);
    support::file(root, "etc/machine-id", 33);
    support::symlink(
        root,
        "etc/ssh/ssh_host_rsa_key",
        "/persist/etc/ssh/ssh_host_rsa_key",
    );
    // Ephemeral by design.
    support::file(root, "tmp/scratch", 1000);
    support::file(root, "run/user/1000/bus", 0);
    support::symlink(root, "etc/static", "/nix/store/xyz-etc/etc");
    support::symlink(root, "etc/hosts", "/etc/static/hosts");
    support::symlink(root, "etc/ssh/sshd_config", "/etc/static/ssh/sshd_config");
    support::symlink(root, "bin/sh", "/nix/store/abc-bash/bin/sh");
    support::file(root, "etc/NIXOS", 0);
    support::file(root, "etc/sudoers", 20);
    support::file(root, "etc/.clean", 0);
    std::fs::write(root.join("etc/.clean"), "sudoers\n").unwrap();
    // Lost.
    support::file(root, "etc/adjtime", 7);
    support::file(root, "root/.bash_history", 300);
    support::file(root, "root/.config/htop/htoprc", 40);
    support::file(root, "srv/www/index.html", 2000);
    support::file(root, "srv/www/css/site.css", 500);
    support::symlink(root, "srv/www/latest", "index.html");
    // A symlink into the Nix store outside /etc is the user's, and lost.
    support::symlink(root, "root/result", "/nix/store/abc-hello");
}

#[test]
fn planted_root_is_classified() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    plant(root);
    let r = run(root, &support::spec_text(&[]));
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(r.totals.lost, 7, "{:#?}", r.groups);
    let srv = group(&r, "/srv");
    assert_eq!(srv.kind, GroupKind::Tree);
    assert_eq!((srv.count, srv.dirs), (3, 3));
    assert_eq!(srv.bytes, 2000 + 500 + "index.html".len() as u64);
    let etc = group(&r, "/etc");
    assert_eq!(etc.kind, GroupKind::Files);
    assert_eq!(etc.files, vec!["adjtime"]);
    let root_files = group(&r, "/root");
    assert_eq!(root_files.files, vec![".bash_history", "result"]);
    assert_eq!(group(&r, "/root/.config").kind, GroupKind::Tree);
    // Sorted by bytes, largest first.
    assert_eq!(r.groups[0].path, "/srv");
    assert!(r.totals.persisted_by_mount >= 3);
    // /etc/nixos, /etc/machine-id and the link into /persist.
    assert_eq!(r.totals.persisted_by_entry, 3);
    // tmp, run, static, hosts, sshd_config, bin/sh, NIXOS, sudoers, .clean
    assert_eq!(r.totals.ephemeral, 9);
    assert!(r.has_findings());
}

#[test]
fn nothing_lost_means_no_findings() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    support::file(root, "nix/store/a/b", 1);
    support::file(root, "etc/machine-id", 1);
    support::symlink(root, "etc/hosts", "/etc/static/hosts");
    support::dir(root, "srv/empty/dirs/only");
    let r = run(root, &support::spec_text(&[]));
    assert_eq!(r.totals.lost, 0);
    assert!(r.groups.is_empty());
    assert!(!r.has_findings());
}

#[test]
fn ignore_list_with_patterns() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    support::file(root, "srv/cache/a", 1);
    support::file(root, "root/.cache/x/y", 1);
    support::file(root, "opt/app/log.1", 1);
    support::file(root, "opt/app/keep.db", 1);
    let r = run(
        root,
        &support::spec_text(&["/srv/cache/*", "/root/.cache", "/opt/*/log.*"]),
    );
    assert_eq!(r.totals.lost, 1, "{:#?}", r.groups);
    assert_eq!(group(&r, "/opt/app").files, vec!["keep.db"]);
}

#[test]
fn a_persistent_root_has_nothing_to_audit() {
    let dir = tempfile::tempdir().unwrap();
    support::file(dir.path(), "srv/a", 1);
    let text = support::spec_text(&[]).replace(
        "tmpfs = { size = \"2G\", mode = \"755\" }      # wiped every boot",
        "subvolume = \"@system/state\"",
    );
    let r = run(dir.path(), &text);
    let rule = r.root_kept.as_ref().expect("the root is kept");
    assert_eq!(rule.class, Class::PersistedByMount);
    assert!(!r.has_findings());
}

#[test]
fn symlink_loops_are_never_followed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    support::symlink(root, "srv/self", "self");
    support::symlink(root, "srv/a", "b");
    support::symlink(root, "srv/b", "a");
    support::symlink(root, "srv/up", "..");
    support::symlink(root, "srv/rootlink", "/");
    let r = run(root, &support::spec_text(&[]));
    assert_eq!(r.totals.lost, 5);
    assert_eq!(r.totals.directories, 2);
    assert!(r.problems.is_empty());
}

#[test]
fn non_utf8_names_are_reported_with_their_bytes() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let bad = std::ffi::OsStr::from_bytes(b"caf\xe9");
    std::fs::create_dir_all(dir.path().join("srv").join(bad)).unwrap();
    std::fs::write(dir.path().join("srv").join(bad).join("menu"), "x").unwrap();
    std::fs::write(dir.path().join("etc-file-\u{e9}"), "y").unwrap();
    let spec_text = support::spec_text(&[]);
    let r = run(dir.path(), &spec_text);
    assert_eq!(r.totals.lost, 2);
    let g = r
        .groups
        .iter()
        .find(|g| g.path_bytes() == b"/srv")
        .expect("the tree group");
    assert!(g.path_hex.is_none());
    let spec = support::spec(&spec_text);
    let policy = tabula_audit::policy_for(&spec, dir.path(), Mounts::Spec).unwrap();
    // /srv is valid UTF-8 and suggestable; the file at the root too.
    let s = tabula_audit::suggest(&r, &policy, &spec);
    assert_eq!(s.directories, vec!["/srv"]);
    assert_eq!(s.files, vec!["/etc-file-\u{e9}"]);

    // A lost file whose own name is not UTF-8 next to a kept one cannot be
    // named in host.toml: reported as such, with its bytes in hex.
    let dir2 = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir2.path().join("etc")).unwrap();
    std::fs::write(dir2.path().join("etc").join(bad), "z").unwrap();
    std::fs::write(dir2.path().join("etc/machine-id"), "z").unwrap();
    std::fs::create_dir_all(dir2.path().join("opt").join(bad)).unwrap();
    std::fs::write(dir2.path().join("opt").join(bad).join("f"), "z").unwrap();
    support::symlink(dir2.path(), "opt/link", "/persist/x");
    let r = run(dir2.path(), &spec_text);
    let opt = r
        .groups
        .iter()
        .find(|g| g.path.starts_with("/opt/"))
        .unwrap();
    assert_eq!(opt.path_hex.as_deref(), Some("2f6f70742f636166e9"));
    let s = tabula_audit::suggest(&r, &policy, &spec);
    assert!(s.is_empty(), "{s:?}");
    assert_eq!(s.unpersistable.len(), 2);
    assert!(s.to_toml().contains("# cannot be named by an entry"));
}

#[test]
fn suggestion_added_to_the_spec_leaves_nothing_lost() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    plant(root);
    support::file(root, "root/.local/share/x", 5);
    support::file(root, "var/db/sudo/lectured/user", 0);
    support::file(root, "var/spool/cron/root", 9);
    let text = support::spec_text(&[]);
    let spec = support::spec(&text);
    let policy = tabula_audit::policy_for(&spec, root, Mounts::Spec).unwrap();
    let r = tabula_audit::audit_with(&policy, root, &WalkOptions::default()).unwrap();
    assert!(r.totals.lost > 0);
    let s = tabula_audit::suggest(&r, &policy, &spec);
    let snippet = s.to_toml();
    // Per-user entries are relative to the home; /var's parts are separate
    // entries (NixOS writes /var itself at boot).
    assert!(snippet.contains("[persistence.users.root]"), "{snippet}");
    assert!(
        snippet.contains("{ path = \".bash_history\" }"),
        "{snippet}"
    );
    assert!(snippet.contains("{ path = \"/var/db\" }"), "{snippet}");
    assert!(snippet.contains("{ path = \"/srv\" }"), "{snippet}");
    assert!(!snippet.contains("{ path = \"/var\" }"), "{snippet}");
    let merged = support::merge_suggestion(&text, &snippet);
    let again = run(root, &merged);
    assert_eq!(again.totals.lost, 0, "{:#?}\n{merged}", again.groups);
    assert!(!again.has_findings());
}

#[test]
fn ten_thousand_levels_deep() {
    use rustix::fs::{mkdirat, openat, Mode, OFlags};
    // On a tmpfs when there is one: removing 10,000 levels from a disk
    // filesystem's journal takes long on a busy machine.
    let dir = tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .unwrap();
    let root = dir.path().join("tree");
    std::fs::create_dir(&root).unwrap();
    // Build relative to open handles: the full path is ~20,000 bytes, far
    // beyond PATH_MAX.
    let mut fd = openat(
        rustix::fs::CWD,
        &root,
        OFlags::RDONLY | OFlags::DIRECTORY,
        Mode::empty(),
    )
    .unwrap();
    for depth in 0..10_000 {
        let name = if depth == 0 { "srv" } else { "d" };
        mkdirat(&fd, name, Mode::from_raw_mode(0o755)).unwrap();
        fd = openat(&fd, name, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap();
        if depth == 5_000 {
            let f = openat(
                &fd,
                "middle",
                OFlags::WRONLY | OFlags::CREATE,
                Mode::from_raw_mode(0o644),
            )
            .unwrap();
            rustix::io::write(&f, b"mid").unwrap();
        }
    }
    let f = openat(
        &fd,
        "bottom",
        OFlags::WRONLY | OFlags::CREATE,
        Mode::from_raw_mode(0o644),
    )
    .unwrap();
    rustix::io::write(&f, b"bottom").unwrap();
    drop((f, fd));
    let r = run(&root, &support::spec_text(&[]));
    // GNU rm walks relative to handles too; std's remove_dir_all recurses.
    let _ = std::process::Command::new("rm")
        .arg("-rf")
        .arg(&root)
        .status();
    assert!(r.problems.is_empty(), "{:?}", r.problems.first());
    assert_eq!(r.totals.lost, 2);
    assert_eq!(r.totals.directories, 10_001);
    let g = group(&r, "/srv");
    assert_eq!((g.count, g.bytes, g.dirs), (2, 9, 10_000));
}

#[test]
fn files_next_to_kept_ones_keep_their_names_up_to_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for i in 0..10 {
        support::file(root, &format!("opt/many/f{i}"), 1);
    }
    // A kept path deeper down: /opt/many is not wholly lost, but that is
    // only known once the child completes, after the listing.
    support::symlink(root, "opt/many/sub/link", "/persist/x");
    let spec = support::spec(&support::spec_text(&[]));
    let opts = WalkOptions {
        names_cap: 4,
        ..WalkOptions::default()
    };
    let r = tabula_audit::audit(&spec, root, Mounts::Spec, &opts).unwrap();
    let g = group(&r, "/opt/many");
    assert_eq!(g.count, 10);
    assert_eq!(g.files.len(), 4);
    assert!(g.files_truncated);
}

#[test]
fn orphans_are_what_no_entry_claims() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    support::file(root, "persist/etc/nixos/flake.nix", 10);
    support::file(root, "persist/etc/machine-id", 33);
    support::file(root, "persist/etc/old.conf", 5);
    support::file(root, "persist/var/lib/gone/db", 100);
    // Covered entries are not stored in /persist: a copy there is an orphan.
    support::file(root, "persist/home/user/.config/x", 1);
    let spec = support::spec(&support::spec_text(&[]));
    let r = tabula_audit::orphans(&spec, root, &WalkOptions::default()).unwrap();
    assert_eq!(r.base, "/persist");
    assert_eq!(r.totals.lost, 3, "{:#?}", r.groups);
    assert_eq!(group(&r, "/persist/var").count, 1);
    assert_eq!(group(&r, "/persist/home").count, 1);
    assert_eq!(group(&r, "/persist/etc").files, vec!["old.conf"]);
    assert_eq!(r.totals.persisted_by_entry, 2);
}

#[test]
fn fifos_and_sockets_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    support::dir(root, "srv");
    let _sock = std::os::unix::net::UnixListener::bind(root.join("srv/sock")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        root.join("srv/fifo"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    support::file(root, "srv/real", 3);
    let r = run(root, &support::spec_text(&[]));
    assert_eq!(r.totals.special, 2);
    assert_eq!(r.totals.lost, 1);
    assert_eq!(group(&r, "/srv").count, 1);
}

/// With /home on the tmpfs, per-user entries (relative to each home) are
/// what keeps a home's content, and suggestions go to the user's table.
#[test]
fn per_user_entries_judge_an_ephemeral_home() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    support::file(root, "home/user/.config/app/rc", 10);
    support::file(root, "home/user/.ssh/id_ed25519", 400);
    support::file(root, "home/user/junk/big.iso", 5000);
    support::file(root, "home/user/.viminfo", 20);
    let text = support::spec_text(&[])
        .replace(
            "[[mount]]\npath = \"/home\"\nsubvolume = \"@user/home\"\n",
            "",
        )
        .replace(", covered_by = \"/home\"", "");
    assert!(!text.contains("covered_by = \"/home\""));
    let spec = support::spec(&text);
    assert!(spec.mount("/home").is_none());
    let policy = tabula_audit::policy_for(&spec, root, Mounts::Spec).unwrap();
    let r = tabula_audit::audit_with(&policy, root, &WalkOptions::default()).unwrap();
    assert_eq!(r.totals.lost, 2, "{:#?}", r.groups);
    assert_eq!(r.totals.persisted_by_entry, 2);
    // The home itself is never a tree group: entries are relative to it.
    assert_eq!(group(&r, "/home/user/junk").kind, GroupKind::Tree);
    assert_eq!(group(&r, "/home/user").files, vec![".viminfo"]);
    let s = tabula_audit::suggest(&r, &policy, &spec);
    let u = &s.users["user"];
    assert_eq!(u.directories, vec!["junk".to_owned()]);
    assert_eq!(u.files, vec![".viminfo".to_owned()]);
    let again = run(root, &support::merge_suggestion(&text, &s.to_toml()));
    assert_eq!(again.totals.lost, 0, "{:#?}", again.groups);
}

#[test]
fn device_nodes_are_skipped() {
    if !support::is_root() {
        eprintln!("SKIP: making a device node needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    support::dir(dir.path(), "srv");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        dir.path().join("srv/null"),
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::from_raw_mode(0o600),
        rustix::fs::makedev(1, 3),
    )
    .unwrap();
    let r = run(dir.path(), &support::spec_text(&[]));
    assert_eq!(r.totals.special, 1);
    assert_eq!(r.totals.lost, 0);
}

/// Files and directories vanishing (and appearing) during the walk are
/// counted or reported, never a failure.
#[test]
fn a_tree_changing_under_the_walk() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    for i in 0..50 {
        for j in 0..20 {
            support::file(&root, &format!("srv/d{i}/e{j}/f"), 1);
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let churn = {
        let stop = Arc::clone(&stop);
        let root = root.clone();
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let i = n % 50;
                let d = root.join(format!("srv/d{i}"));
                let _ = std::fs::remove_dir_all(&d);
                for j in 0..20 {
                    let _ = std::fs::create_dir_all(d.join(format!("e{j}")));
                    let _ = std::fs::write(d.join(format!("e{j}/f")), "x");
                }
                n += 1;
            }
        })
    };
    let spec = support::spec(&support::spec_text(&[]));
    for _ in 0..8 {
        let r = tabula_audit::audit(&spec, &root, Mounts::Spec, &WalkOptions::default()).unwrap();
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert!(r.totals.lost <= 1000 + 20);
    }
    stop.store(true, Ordering::Relaxed);
    churn.join().unwrap();
}

/// NixOS's /etc overlay keeps what is written to /etc in /.rw-etc/upper on
/// the root tmpfs: judged like /etc, suggested under its /etc name.
#[test]
fn etc_overlay_upper_directory_is_judged_as_etc() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    support::file(root, ".rw-etc/upper/adjtime", 7);
    support::file(root, ".rw-etc/upper/passwd", 70);
    support::symlink(root, ".rw-etc/upper/hosts", "/etc/static/hosts");
    support::file(
        root,
        ".rw-etc/upper/NetworkManager/system-connections/home.nmconnection",
        90,
    );
    support::file(root, ".rw-etc/work/work/x", 1);
    let text = support::spec_text(&[]);
    let spec = support::spec(&text);
    let policy = tabula_audit::policy_for(&spec, root, Mounts::Spec).unwrap();
    let r = tabula_audit::audit_with(&policy, root, &WalkOptions::default()).unwrap();
    assert_eq!(r.totals.lost, 2, "{:#?}", r.groups);
    assert_eq!(group(&r, "/.rw-etc/upper").files, vec!["adjtime"]);
    assert_eq!(
        group(&r, "/.rw-etc/upper/NetworkManager").kind,
        GroupKind::Tree
    );
    let s = tabula_audit::suggest(&r, &policy, &spec);
    assert_eq!(s.directories, vec!["/etc/NetworkManager"]);
    assert_eq!(s.files, vec!["/etc/adjtime"]);
}

/// The live counts a progress display reads add up to the report's totals.
#[test]
fn progress_counts_match_the_totals() {
    use std::sync::atomic::Ordering;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    plant(root);
    let spec = support::spec(&support::spec_text(&[]));
    let progress = std::sync::Arc::new(tabula_audit::WalkProgress::default());
    let opts = WalkOptions {
        progress: Some(progress.clone()),
        ..WalkOptions::default()
    };
    let r = tabula_audit::audit(&spec, root, Mounts::Spec, &opts).unwrap();
    let t = &r.totals;
    assert_eq!(progress.lost.load(Ordering::Relaxed), 7);
    assert_eq!(progress.lost.load(Ordering::Relaxed), t.lost);
    assert_eq!(progress.directories.load(Ordering::Relaxed), t.directories);
    let judged = t.lost
        + t.directories
        + t.persisted_by_mount
        + t.persisted_by_entry
        + t.ephemeral
        + t.special
        + t.other_filesystem
        + t.vanished
        + t.unreadable;
    assert_eq!(progress.entries.load(Ordering::Relaxed), judged);
    assert!(judged > t.directories);
}
