//! The pool's temporary top-level mount when `umount` fails: on a btrfs
//! image (a loop device this test attached) with a PATH shim `umount` that
//! says "target is busy" and exits 32, neither `TopLevel::unmount` nor its
//! drop may remove anything inside the still-mounted directory (the old
//! `TempDir` ran `remove_dir_all` on it and deleted `@user/home`). Once the
//! real umount works, the directory goes with `rmdir`.
//!
//! One test in this binary: it sets PATH for the process. Needs root,
//! losetup, mkfs.btrfs and btrfs; prints SKIP otherwise.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use tabula_disk::mount::TopLevel;

mod support;
use support::{have, mounted, sh};

/// The test's loop device and the top-level mounts it saw; on drop, the
/// mounts are released with the real umount and the device detached, all by
/// name.
struct Fixture {
    dev: String,
    mounts: Vec<PathBuf>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        for m in &self.mounts {
            if mounted(m) {
                let _ = Command::new("/usr/bin/umount").arg(m).status();
            }
            let _ = std::fs::remove_dir(m);
        }
        let _ = Command::new("losetup").args(["-d", &self.dev]).status();
    }
}

fn sha(path: &Path) -> String {
    sh(&format!("sha256sum {}", path.display()))
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn a_failing_umount_never_removes_the_pools_contents() {
    let uid = sh("id -u");
    if uid.trim() != "0" || !["losetup", "mkfs.btrfs", "btrfs"].iter().all(|p| have(p)) {
        eprintln!("SKIP a_failing_umount_never_removes_the_pools_contents: needs root, losetup, mkfs.btrfs, btrfs");
        return;
    }
    let work = tempfile::Builder::new()
        .prefix("tabula-toplevel-test.")
        .tempdir()
        .unwrap();
    // Mount points inside the test's own dir: a concurrent `tabula apply`
    // releases stale top levels under $TMPDIR/tabula-pool.*.
    std::env::set_var("TMPDIR", work.path());
    let img = work.path().join("pool.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(256 << 20)
        .unwrap();
    let dev = sh(&format!("losetup -f --show {}", img.display()))
        .trim()
        .to_owned();
    let mut fx = Fixture {
        dev: dev.clone(),
        mounts: Vec::new(),
    };
    sh(&format!("mkfs.btrfs -q -f {dev}"));
    // The pool as apply finds it: @user/home with the user's file.
    let top = TopLevel::mount(&dev).unwrap();
    let dir = top.path().to_owned();
    fx.mounts.push(dir.clone());
    sh(&format!(
        "btrfs -q subvolume create {d}/@user && btrfs -q subvolume create {d}/@user/home && head -c 100000 /dev/urandom > {d}/@user/home/thesis.bin && mkdir {d}/@user/home/docs && echo hi > {d}/@user/home/docs/a.txt",
        d = dir.display()
    ));
    let sum = sha(&dir.join("@user/home/thesis.bin"));
    top.unmount().unwrap();
    assert!(!dir.exists(), "the empty mount point was not removed");

    // An umount that always fails.
    let shim = work.path().join("shim");
    std::fs::create_dir(&shim).unwrap();
    std::fs::write(
        shim.join("umount"),
        "#!/bin/sh\necho \"umount: $1: target is busy.\" >&2\nexit 32\n",
    )
    .unwrap();
    sh(&format!("chmod +x {}/umount", shim.display()));
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::set_var("PATH", format!("{}:{path}", shim.display()));

    // unmount() reports it, and removes nothing.
    let top = TopLevel::mount(&dev).unwrap();
    let a = top.path().to_owned();
    fx.mounts.push(a.clone());
    let e = top.unmount().unwrap_err().to_string();
    assert!(
        e.contains(&format!("stays mounted at {}", a.display())) && e.contains("umount"),
        "{e}"
    );
    assert!(mounted(&a));
    assert_eq!(sha(&a.join("@user/home/thesis.bin")), sum);
    // Dropped on an error path: the same.
    let top = TopLevel::mount(&dev).unwrap();
    let b = top.path().to_owned();
    fx.mounts.push(b.clone());
    assert!(
        mounted(&b),
        "{}",
        std::fs::read_to_string("/proc/self/mountinfo").unwrap()
    );
    drop(top);
    assert!(
        mounted(&b),
        "{}",
        std::fs::read_to_string("/proc/self/mountinfo").unwrap()
    );
    assert_eq!(sha(&b.join("@user/home/thesis.bin")), sum);
    assert!(b.join("@user/home/docs/a.txt").is_file());

    // The real umount again: release works and removes only empty dirs.
    std::env::set_var("PATH", path);
    for d in [&a, &b] {
        tabula_disk::mount::release(d).unwrap();
        assert!(!mounted(d) && !d.exists(), "{}", d.display());
    }
    let top = TopLevel::mount(&dev).unwrap();
    fx.mounts.push(top.path().to_owned());
    assert_eq!(sha(&top.path().join("@user/home/thesis.bin")), sum);
    assert!(top.path().join("@user/home/docs/a.txt").is_file());
    top.unmount().unwrap();
    drop(fx);
}
