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
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
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
