//! Messages a user acts on (issue 14 item 7): a missing tool names its
//! Debian package and its nixpkgs attribute.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::Path;

use assert_cmd::Command;

fn tabula(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("tabula").unwrap();
    c.current_dir(dir)
        .env_remove("TABULA_SPEC")
        .env_remove("TERM")
        .env_remove("CLICOLOR_FORCE")
        .env("NO_COLOR", "1");
    c
}

/// A PATH holding every program `apply` of the embedded host needs except
/// sgdisk: apply stops before writing and says how to get it on Debian and
/// on NixOS.
#[test]
fn missing_tool_names_the_nixpkgs_attribute() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIP missing_tool_names_the_nixpkgs_attribute: not root");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let bin = d.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    for p in [
        "sfdisk",
        "blkid",
        "blockdev",
        "partx",
        "wipefs",
        "losetup",
        "mkfs.vfat",
        "mkfs.ext4",
        "cryptsetup",
        "mkfs.btrfs",
        "btrfs",
        "mount",
        "umount",
    ] {
        std::os::unix::fs::symlink("/bin/true", bin.join(p)).unwrap();
    }
    let img = d.path().join("x.img");
    let out = tabula(d.path())
        .env("PATH", &bin)
        .args(["apply", "--yes", "--disk"])
        .arg(&img)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("missing sgdisk\n"), "{stderr}");
    assert!(
        stderr.contains("fix: Debian: apt install gdisk; NixOS: nix shell nixpkgs#gptfdisk"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "`sgdisk` was not found on PATH (Debian package gdisk; on NixOS: nix shell nixpkgs#gptfdisk)"
        ),
        "{stderr}"
    );
    assert!(!img.exists(), "the image was created");
}
