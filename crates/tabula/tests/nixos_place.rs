//! `tabula place`: the decision tree from the command line, `--apply` on a
//! host.toml in a temp dir, the refusals, and the questions on a terminal
//! (a real pseudo-terminal from util-linux's `script`).
#![allow(clippy::unwrap_used, clippy::panic)]

use std::process::Command;

use assert_cmd::Command as Bin;
use predicates::prelude::*;

const HOST: &str = include_str!("../../tabula-spec/hosts/surface-pro-8.toml");

fn tabula(dir: &std::path::Path) -> Bin {
    let mut c = Bin::cargo_bin("tabula").unwrap();
    c.current_dir(dir)
        .env_remove("TABULA_SPEC")
        .env("NO_COLOR", "1");
    c
}

#[test]
fn each_kind_prints_runtime_reason_and_change() {
    let d = tempfile::tempdir().unwrap();
    for (name, kind, runtime, change) in [
        (
            "ripgrep",
            "cli",
            "Nix Native",
            "[containers] nix_packages += \"ripgrep\"",
        ),
        (
            "rust",
            "dev",
            "Distrobox",
            "[containers.distrobox] images += { name = \"rust\"",
        ),
        (
            "org.mozilla.firefox",
            "gui",
            "Flatpak",
            "[containers.flatpak] apps += \"org.mozilla.firefox\"",
        ),
        (
            "postgres",
            "service",
            "Podman",
            "[containers.podman] containers += { name = \"postgres\"",
        ),
        (
            "ci-runner",
            "untrusted",
            "microvm.nix",
            "[containers.microvm] vms += { name = \"ci-runner\" }",
        ),
    ] {
        tabula(d.path())
            .args(["place", name, "--kind", kind])
            .assert()
            .success()
            .stdout(predicate::str::contains(format!("→ {runtime}")))
            .stdout(predicate::str::contains(change))
            .stdout(predicate::str::contains("overhead"));
    }
    let out = tabula(d.path())
        .args(["place", "ci-runner", "--kind", "untrusted", "--json"])
        .output()
        .unwrap();
    let v = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["data"].clone();
    assert_eq!(v["placement"]["runtime"], "microvm");
    assert_eq!(v["placement"]["why"]["kernel"], "Isolated");
    assert_eq!(v["placement"]["change"]["type"], "microvm");
    assert!(v["applied"].is_null());
}

#[test]
fn apply_writes_host_toml_and_keeps_the_rest_byte_identical() {
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("host.toml");
    std::fs::write(&file, HOST).unwrap();
    tabula(d.path())
        .args([
            "place",
            "postgres",
            "--kind",
            "service",
            "--image",
            "docker.io/library/postgres:16",
            "--port",
            "5432:5432",
            "--apply",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("written to host.toml"));
    let want = HOST.replacen(
        "containers = []",
        "containers = [{ name = \"postgres\", image = \"docker.io/library/postgres:16\", ports = [\"5432:5432\"] }]",
        1,
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), want);
    // Again: nothing to write, the file is the same.
    tabula(d.path())
        .args(["place", "postgres", "--kind", "service", "--apply"])
        .assert()
        .success()
        .stdout(predicate::str::contains("nothing to write"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), want);
    // --spec names another file.
    let other = d.path().join("other.toml");
    std::fs::write(&other, HOST).unwrap();
    tabula(d.path())
        .args([
            "--spec",
            "other.toml",
            "place",
            "ripgrep",
            "--kind",
            "cli",
            "--apply",
        ])
        .assert()
        .success();
    assert_eq!(
        std::fs::read_to_string(&other).unwrap(),
        HOST.replacen("\"tomb\"]", "\"tomb\", \"ripgrep\"]", 1)
    );
}

#[test]
fn the_embedded_host_is_never_written() {
    let d = tempfile::tempdir().unwrap();
    tabula(d.path())
        .args(["place", "ripgrep", "--kind", "cli", "--apply"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("tabula init"));
    assert!(std::fs::read_dir(d.path()).unwrap().next().is_none());
}

#[test]
fn bad_names_and_no_terminal_are_usage_errors() {
    let d = tempfile::tempdir().unwrap();
    tabula(d.path())
        .args(["place", "firefox", "--kind", "gui"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("org.mozilla.firefox"));
    tabula(d.path())
        .args(["place", "ripgrep"])
        .write_stdin("y\n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--kind"));
}

/// Run `tabula place NAME` on a pseudo-terminal, typing `answers`.
fn on_a_terminal(name: &str, answers: &str) -> Option<(i32, String)> {
    let have = Command::new("sh")
        .args(["-c", "command -v script"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        eprintln!("SKIP: util-linux `script` is missing");
        return None;
    }
    let bin = env!("CARGO_BIN_EXE_tabula");
    let d = tempfile::tempdir().unwrap();
    let o = Command::new("script")
        .args([
            "-q",
            "-e",
            "-c",
            &format!("{bin} place {name}"),
            "/dev/null",
        ])
        .current_dir(d.path())
        .env("NO_COLOR", "1")
        .env_remove("TABULA_SPEC")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write as _;
            c.stdin.take().unwrap().write_all(answers.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    Some((
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    ))
}

#[test]
fn questions_are_asked_one_by_one_on_a_terminal() {
    // no, no, no, yes → a service.
    let Some((code, out)) = on_a_terminal("redis", "n\nn\nmaybe\nn\ny\n") else {
        return;
    };
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Is it a CLI tool or system utility?"), "{out}");
    assert!(out.contains("please answer y or n"), "{out}");
    assert!(out.contains("→ Podman"), "{out}");
    assert!(
        !out.contains("untrusted code"),
        "asked past the answer:\n{out}"
    );
    // No to everything: not placed.
    let Some((code, out)) = on_a_terminal("thing", "n\nn\nn\nn\nn\n") else {
        return;
    };
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no branch"), "{out}");
}

#[test]
fn a_runtime_that_is_off_is_switched_on_and_said_so() {
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("host.toml");
    let off = HOST.replacen(
        "[containers.microvm]\nenable = true",
        "[containers.microvm]\nenable = false",
        1,
    );
    assert_ne!(off, HOST);
    std::fs::write(&file, &off).unwrap();
    tabula(d.path())
        .args(["place", "sandbox", "--kind", "untrusted", "--apply"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "[containers.microvm] enable = true (it was off)",
        ));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        off.replacen(
            "[containers.microvm]\nenable = false\nvms = []",
            "[containers.microvm]\nenable = true\nvms = [{ name = \"sandbox\" }]",
            1
        )
    );
    // A name the spec's check would refuse is refused before anything is written.
    tabula(d.path())
        .args(["place", "bad.name", "--kind", "untrusted", "--apply"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("microVM name"));
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

#[test]
fn apply_through_a_symlink_updates_the_target_and_keeps_owner_and_mode() {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    if !is_root() {
        eprintln!("SKIP apply_through_a_symlink...: chown to uid 1000 needs root");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let real = d.path().join("dotfiles");
    std::fs::create_dir(&real).unwrap();
    let target = real.join("host.toml");
    std::fs::write(&target, HOST).unwrap();
    std::os::unix::fs::chown(&target, Some(1000), Some(1001)).unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
    let work = d.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let link = work.join("host.toml");
    std::os::unix::fs::symlink("../dotfiles/host.toml", &link).unwrap();

    tabula(&work)
        .args(["place", "ripgrep", "--kind", "cli", "--apply"])
        .assert()
        .success()
        .stdout(predicate::str::contains("written to"));

    let lm = std::fs::symlink_metadata(&link).unwrap();
    assert!(
        lm.file_type().is_symlink(),
        "the link was replaced by a file"
    );
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        std::path::Path::new("../dotfiles/host.toml")
    );
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        HOST.replacen("\"tomb\"]", "\"tomb\", \"ripgrep\"]", 1),
        "the link's target was not updated"
    );
    let m = std::fs::metadata(&target).unwrap();
    assert_eq!((m.uid(), m.gid()), (1000, 1001), "owner changed");
    assert_eq!(m.mode() & 0o7777, 0o640, "mode changed");
    // No temporary file is left beside the target or the link.
    for dir in [&real, &work] {
        for e in std::fs::read_dir(dir).unwrap() {
            let name = e.unwrap().file_name().into_string().unwrap();
            assert!(!name.ends_with(".tmp"), "{name} left in {}", dir.display());
        }
    }
}

#[test]
fn ten_concurrent_applies_lose_no_edit() {
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("host.toml");
    std::fs::write(&file, HOST).unwrap();
    let bin = assert_cmd::cargo::cargo_bin("tabula");
    let names: Vec<String> = (0..10).map(|i| format!("pkg-concurrent-{i}")).collect();
    let children: Vec<_> = names
        .iter()
        .map(|n| {
            Command::new(&bin)
                .current_dir(d.path())
                .env_remove("TABULA_SPEC")
                .env("NO_COLOR", "1")
                .args(["place", n, "--kind", "cli", "--apply"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("written to"));
    }
    let text = std::fs::read_to_string(&file).unwrap();
    let lost: Vec<&String> = names
        .iter()
        .filter(|n| !text.contains(&format!("\"{n}\"")))
        .collect();
    assert!(lost.is_empty(), "edits lost: {lost:?}\n{text}");
    // Still a valid spec.
    tabula(d.path()).arg("check").assert().success();
}
