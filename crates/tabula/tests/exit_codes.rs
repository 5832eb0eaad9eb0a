//! The README's exit-code table, held by one table: every command's usage
//! errors exit 2 (the command line or the spec could not be understood),
//! refusals 3, and nothing is written on the way.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::path::Path;

use assert_cmd::Command;

/// (command line, the exit code, a piece of what stderr must say)
const USAGE: &[(&str, u8, &str)] = &[
    // clap: unknown flags, missing or bad values, one per command
    ("bogus", 2, "unrecognized subcommand"),
    ("check --bogus", 2, "unexpected argument"),
    ("check --spec /nonexistent/host.toml", 2, "cannot read"),
    ("render --out", 2, "a value is required"),
    ("docs --bogus", 2, "unexpected argument"),
    ("init a b", 2, "unexpected argument"),
    ("schema extra", 2, "unexpected argument"),
    ("schema --out", 2, "a value is required"),
    ("plan", 2, "--disk <PATH>"),
    (
        "plan --disk /dev/null",
        2,
        "/dev/null is a character device",
    ),
    ("plan --disk .", 2, ". is a directory"),
    ("apply --disk /dev/null --yes", 2, "character device"),
    (
        "mount --disk missing.img --target m",
        2,
        "--disk missing.img: no such file",
    ),
    ("unmount --bogus", 2, "unexpected argument"),
    ("install --disk /dev/null", 2, "character device"),
    (
        "keyfile add --disk missing.img --keyfile k",
        2,
        "no such file or device",
    ),
    (
        "keyfile add --disk disk.img",
        2,
        "<--keyfile <FILE>|--usb <DIR>>",
    ),
    (
        "keyfile replace --disk disk.img --keyfile new.key",
        2,
        "--old <FILE>",
    ),
    (
        "keyfile replace --disk disk.img --usb stick",
        2,
        "--old <FILE>",
    ),
    (
        "keyfile bogus --disk disk.img --keyfile k",
        2,
        "invalid value",
    ),
    (
        "audit --root /nonexistent",
        2,
        "--root /nonexistent: not a directory",
    ),
    ("audit --mounts bogus", 2, "invalid value"),
    ("status --bogus", 2, "unexpected argument"),
    (
        "status --target missing",
        2,
        "--target missing: not a directory",
    ),
    ("rebuild bogus", 2, "invalid value"),
    ("generations --bogus", 2, "unexpected argument"),
    ("diff 1", 2, "<B>"),
    ("place", 2, "<NAME>"),
    ("completions nosh", 2, "invalid value"),
    ("man extra", 2, "no man page for"),
    // refused as unsafe: an existing file
    ("init existing.toml", 3, "exists"),
];

/// Rows past apply's preflight (root).
const AS_ROOT: &[(&str, u8, &str)] = &[
    ("apply --disk new.img", 2, "add --yes"),
    (
        "apply --disk new.img --yes --passphrase-file nope",
        2,
        "--passphrase-file nope: no such file",
    ),
    (
        "mount --disk disk.img --target m --passphrase-file nope",
        2,
        "--passphrase-file nope: no such file",
    ),
];

#[test]
fn every_usage_error_exits_as_the_readme_says() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("disk.img"), vec![0u8; 4096]).unwrap();
    std::fs::write(d.path().join("existing.toml"), "").unwrap();
    let before = listing(d.path());
    let mut wrong = vec![];
    // apply checks root and its tools before it shows the plan.
    let rows: Vec<&(&str, u8, &str)> = USAGE
        .iter()
        .chain(if support::is_root() { AS_ROOT } else { &[] })
        .collect();
    for (line, code, says) in rows {
        let out = Command::cargo_bin("tabula")
            .unwrap()
            .current_dir(d.path())
            .env_remove("TABULA_SPEC")
            .env("NO_COLOR", "1")
            .args(line.split_whitespace())
            .write_stdin("")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        if out.status.code() != Some(i32::from(*code)) || !err.contains(says) {
            wrong.push(format!(
                "`tabula {line}`: exit {:?} (want {code}), stderr: {err}",
                out.status.code()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(listing(d.path()), before, "a usage error wrote something");
}

/// No terminal and no --passphrase-file: a usage error, found before the
/// image is created (apply checks root and its tools first, so this row
/// needs them).
#[test]
fn a_missing_passphrase_is_a_usage_error_and_creates_nothing() {
    if !support::ready(
        "a_missing_passphrase_is_a_usage_error",
        &["sfdisk", "sgdisk", "cryptsetup", "losetup", "mkfs.vfat"],
        "apply's preflight tools",
    ) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("tabula")
        .unwrap()
        .current_dir(d.path())
        .env_remove("TABULA_SPEC")
        .args(["apply", "--disk", "new.img", "--yes", "--no-open"])
        .write_stdin("")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--passphrase-file"), "{err}");
    assert!(!d.path().join("new.img").exists());
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}
