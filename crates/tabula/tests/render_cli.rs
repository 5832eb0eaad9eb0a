//! The real binary on `render` and `docs`, into temp dirs: what it writes,
//! what it leaves alone on a re-render, and what it refuses.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use assert_cmd::Command;
use serde_json::Value;

const EMBEDDED: &str = include_str!("../../tabula-spec/hosts/surface-pro-8.toml");
const HOST: &str = "hosts/surface-pro-8";

fn tabula(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("tabula").unwrap();
    c.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("TABULA_SPEC");
    c
}

fn render_json(dir: &Path, extra: &[&str]) -> (i32, Value) {
    let out = tabula(dir)
        .args(["render", "--json", "--out", "out"])
        .args(extra)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), v)
}

fn statuses(v: &Value) -> BTreeMap<String, String> {
    v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_owned(),
                f["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn mtimes(root: &Path) -> BTreeMap<String, SystemTime> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, e.metadata().unwrap().modified().unwrap());
            }
        }
    }
    out
}

#[test]
fn renders_the_embedded_host_into_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = tabula(dir.path())
        .args(["render", "--out", "flake"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in [
        "flake.nix",
        "default.nix",
        "hardware.nix",
        "filesystems.nix",
        "boot.nix",
        "persistence.nix",
        "users.nix",
        "services.nix",
        "desktop.nix",
        "containers.nix",
        "security.nix",
        "custom.nix",
        "distrobox.ini",
    ] {
        let p = if f == "flake.nix" {
            dir.path().join("flake/flake.nix")
        } else {
            dir.path().join("flake").join(HOST).join(f)
        };
        assert!(p.is_file(), "{} missing\n{stdout}", p.display());
    }
    assert!(!dir.path().join("flake/flake.lock").exists());
    assert!(stdout.contains("written"), "{stdout}");
    // The check summary is printed (the embedded host has warnings, no error).
    assert!(stdout.contains("check: "), "{stdout}");
}

#[test]
fn re_rendering_changes_nothing_and_keeps_custom_nix() {
    let dir = tempfile::tempdir().unwrap();
    let (code, first) = render_json(dir.path(), &[]);
    assert_eq!(code, 0);
    assert!(statuses(&first).values().all(|s| s == "written"), "{first}");
    assert_eq!(first["host"], "surface-pro-8");
    assert_eq!(first["release"], "24.11");
    assert_eq!(first["findings"]["errors"], 0);

    let out = dir.path().join("out");
    let custom = out.join(HOST).join("custom.nix");
    std::fs::write(&custom, "{ ... }: { time.timeZone = \"Europe/Berlin\"; }\n").unwrap();
    let before = mtimes(&out);
    std::thread::sleep(std::time::Duration::from_millis(50));

    let (code, second) = render_json(dir.path(), &[]);
    assert_eq!(code, 0);
    let st = statuses(&second);
    for (path, status) in &st {
        let expect = if path.ends_with("custom.nix") {
            "kept"
        } else {
            "unchanged"
        };
        assert_eq!(status, expect, "{path}");
    }
    assert_eq!(mtimes(&out), before, "a re-render touched a file");
    assert_eq!(
        std::fs::read_to_string(&custom).unwrap(),
        "{ ... }: { time.timeZone = \"Europe/Berlin\"; }\n"
    );

    // A changed spec rewrites only what changed (in the flake; the docs
    // describe the same spec and may change with it).
    let spec = EMBEDDED.replace("allowed_tcp_ports = []", "allowed_tcp_ports = [22]");
    std::fs::write(dir.path().join("host.toml"), spec).unwrap();
    let (code, third) = render_json(dir.path(), &[]);
    assert_eq!(code, 0, "{third}");
    let written: Vec<String> = statuses(&third)
        .into_iter()
        .filter(|(p, s)| s == "written" && !p.starts_with("docs/"))
        .map(|(p, _)| p)
        .collect();
    // The spec itself travels with the flake, so it changes too.
    assert_eq!(
        written,
        ["host.toml".to_owned(), format!("{HOST}/security.nix")]
    );
    assert!(std::fs::read_to_string(out.join("host.toml"))
        .unwrap()
        .contains("allowed_tcp_ports = [22]"));
    let sec = std::fs::read_to_string(out.join(HOST).join("security.nix")).unwrap();
    assert!(sec.contains("allowedTCPPorts = [ 22 ];"), "{sec}");
}

#[test]
fn every_reported_file_is_the_flake_or_under_docs() {
    let dir = tempfile::tempdir().unwrap();
    let (code, v) = render_json(dir.path(), &[]);
    assert_eq!(code, 0);
    for path in statuses(&v).keys() {
        assert!(
            path == "flake.nix"
                || path == "host.toml"
                || path.starts_with(&format!("{HOST}/"))
                || path.starts_with("docs/"),
            "{path}"
        );
    }
}

#[test]
fn refuses_to_write_when_check_finds_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let spec = EMBEDDED.replace(
        "options = [\"umask=0077\"]",
        "options = [\"umask=0077,ro\"]",
    );
    assert_ne!(spec, EMBEDDED);
    std::fs::write(dir.path().join("bad.toml"), spec).unwrap();
    let out = tabula(dir.path())
        .args(["render", "--spec", "bad.toml", "--out", "out"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("mount-option-invalid"), "{stderr}");
    assert!(!dir.path().join("out").exists(), "something was written");
}

#[test]
fn a_malformed_spec_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("host.toml"), "[host]\nname = 3\n").unwrap();
    let out = tabula(dir.path())
        .args(["render", "--out", "out"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!dir.path().join("out").exists());
}

#[test]
fn docs_writes_only_under_docs() {
    let dir = tempfile::tempdir().unwrap();
    let out = tabula(dir.path())
        .args(["docs", "--json", "--out", "out"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    for path in statuses(&v).keys() {
        assert!(path.starts_with("docs/"), "{path}");
    }
    assert!(!dir.path().join("out/flake.nix").exists());
}

#[test]
fn help_has_examples() {
    let dir = tempfile::tempdir().unwrap();
    let out = tabula(dir.path())
        .args(["render", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Examples:") && text.contains("--out"),
        "{text}"
    );
}
