//! The generated RUNBOOK's keyfile section, run as written: its `tabula
//! keyfile add` then its replace steps (`mv` the old key aside, `tabula
//! keyfile replace ... --old`, `rm`), against a sparse image formatted by
//! `apply --no-open` and a directory standing for the mounted stick. Each
//! line must succeed; afterwards the new key opens the container and the old
//! one does not. Runs as root with the disk tools; prints SKIP otherwise.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt as _;

const PASS: &str = "runbook keyfile passphrase 7";
const STICK: &str = "/media/stick";

fn spec_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tabula-disk/tests/fixtures/test-host.toml")
}

fn tabula() -> Command {
    let mut c = Command::cargo_bin("tabula").unwrap();
    c.arg("--spec").arg(spec_path()).env("NO_COLOR", "1");
    c
}

fn sh(cmd: &str) -> (bool, String) {
    let out = Command::new("sh").args(["-c", cmd]).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// A loop device the test attached; partitions and device removed by name.
struct Loop(String);

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("partx").args(["-d", &self.0]).output();
        let _ = Command::new("losetup").args(["-d", &self.0]).output();
    }
}

/// Whether `key` opens the LUKS container on `img` (partition 6).
fn opens(img: &Path, key: &Path) -> bool {
    let (ok, dev) = sh(&format!("losetup -f --show {}", img.display()));
    assert!(ok, "{dev}");
    let l = Loop(dev.trim().to_owned());
    let (ok, t) = sh(&format!("partx -a {}", l.0));
    assert!(ok, "{t}");
    sh(&format!(
        "cryptsetup open --test-passphrase --type luks2 --key-file {} {}p6",
        key.display(),
        l.0
    ))
    .0
}

/// The `sudo` lines of the keyfile section's first code block, in order.
fn keyfile_section(runbook: &str) -> Vec<String> {
    let start = runbook
        .find("Add or replace the USB keyfile")
        .expect("the runbook has a keyfile section");
    let rest = &runbook[start..];
    let open = rest.find("```bash").unwrap();
    let body = &rest[open + 7..];
    let close = body.find("```").unwrap();
    body[..close]
        .lines()
        .filter_map(|l| l.trim().strip_prefix("sudo "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_runbooks_keyfile_add_and_replace_succeed_as_written() {
    if !support::ready(
        "the_runbooks_keyfile_add_and_replace_succeed_as_written",
        &[
            "sgdisk",
            "sfdisk",
            "partx",
            "losetup",
            "blkid",
            "wipefs",
            "mkfs.vfat",
            "mkfs.ext4",
            "cryptsetup",
        ],
        "loop devices and the disk tools",
    ) {
        return;
    }
    let d = tempfile::Builder::new()
        .prefix("tabula-runbook-key.")
        .tempdir()
        .unwrap();
    let img = d.path().join("disk.img");
    let pass = d.path().join("pass");
    let stick = d.path().join("stick");
    std::fs::create_dir(&stick).unwrap();
    std::fs::write(&pass, format!("{PASS}\n")).unwrap();
    struct Detach(PathBuf);
    impl Drop for Detach {
        fn drop(&mut self) {
            support::detach_all(&self.0);
        }
    }
    let _detach = Detach(img.clone());

    let out = tabula()
        .args(["apply", "--yes", "--no-open", "--disk"])
        .arg(&img)
        .arg("--passphrase-file")
        .arg(&pass)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = tabula()
        .args(["docs", "--out"])
        .arg(d.path().join("o"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let runbook = std::fs::read_to_string(d.path().join("o/docs/RUNBOOK.md")).unwrap();
    let lines = keyfile_section(&runbook);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("tabula keyfile replace")),
        "{lines:?}"
    );
    let bin = assert_cmd::cargo::cargo_bin("tabula");
    let key = stick.join("keys/surface-pro-8.key");
    let mut old_key = None;
    let mut ran = 0;
    for line in &lines {
        // The stick is this directory: no mkdir, mount or umount of it.
        if ["mkdir ", "mount ", "umount "]
            .iter()
            .any(|p| line.starts_with(p))
        {
            continue;
        }
        let mut cmd = line
            .replace("/dev/nvme0n1", &img.to_string_lossy())
            .replace(STICK, &stick.to_string_lossy());
        if let Some(args) = cmd.strip_prefix("tabula ") {
            cmd = format!(
                "{} --spec {} {args} --passphrase-file {}",
                bin.display(),
                spec_path().display(),
                pass.display()
            );
        }
        if line.starts_with("mv ") {
            old_key = Some(std::fs::read(&key).unwrap());
        }
        let (ok, text) = sh(&cmd);
        assert!(ok, "runbook line `sudo {line}` failed:\n{text}");
        ran += 1;
    }
    assert!(ran >= 4, "{lines:?}");
    let old = old_key.expect("the runbook sets the old key aside");
    let new = std::fs::read(&key).unwrap();
    assert_ne!(old, new, "replace wrote no new key");
    let old_path = d.path().join("old.key");
    std::fs::write(&old_path, &old).unwrap();
    assert!(opens(&img, &key), "the new key does not open the container");
    assert!(
        !opens(&img, &old_path),
        "the old key still opens the container"
    );
    assert!(!stick.join("keys/surface-pro-8.key.old").exists());
}
