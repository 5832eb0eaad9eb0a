//! The real binary on `render` and `docs`, into temp dirs: what it writes,
//! what it leaves alone on a re-render, and what it refuses.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

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
    (out.status.code().unwrap(), v["data"].clone())
}

fn statuses(v: &Value) -> BTreeMap<String, String> {
    v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_owned(),
                f["state"].as_str().unwrap().to_owned(),
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
    assert_eq!(first["release"], "26.05");
    assert_eq!(first["counts"]["errors"], 0);

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
    let v = serde_json::from_slice::<Value>(&out.stdout).unwrap()["data"].clone();
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

// --- writing as one unit -----------------------------------------------------

/// Every file under `root` with its content, the lock file left out.
fn contents(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                if rel != ".tabula.lock" {
                    out.insert(rel, std::fs::read(&p).unwrap());
                }
            }
        }
    }
    out
}

fn temps(m: &BTreeMap<String, Vec<u8>>) -> Vec<&String> {
    m.keys().filter(|k| k.ends_with(".tmp")).collect()
}

/// Spec A (the embedded host) and spec B (one firewall port more: the
/// spec, security.nix and a doc differ) in `dir`, and a solo render of each.
fn two_specs(dir: &Path) -> (BTreeMap<String, Vec<u8>>, BTreeMap<String, Vec<u8>>) {
    std::fs::write(dir.join("a.toml"), EMBEDDED).unwrap();
    let b = EMBEDDED.replace("allowed_tcp_ports = []", "allowed_tcp_ports = [22]");
    assert_ne!(b, EMBEDDED);
    std::fs::write(dir.join("b.toml"), b).unwrap();
    for s in ["a", "b"] {
        tabula(dir)
            .args(["--spec", &format!("{s}.toml"), "render", "--out"])
            .arg(format!("solo-{s}"))
            .assert()
            .success();
    }
    let a = contents(&dir.join("solo-a"));
    let b = contents(&dir.join("solo-b"));
    assert_ne!(a, b);
    (a, b)
}

fn render_cmd(dir: &Path, spec: &str, out: &str) -> std::process::Command {
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("tabula"));
    c.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("TABULA_SPEC")
        .args(["--spec", spec, "render", "--out", out])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    c
}

#[test]
fn stale_temp_files_of_dead_writers_are_removed_and_never_block() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let host = out.join(HOST);
    std::fs::create_dir_all(&host).unwrap();
    // What kill -9 leaves: PID 99999999 is above any pid_max.
    for stale in [
        out.join(".flake.nix.tabula-99999999.tmp"),
        out.join(".host.toml.tabula-99999999-3.tmp"),
        host.join(".default.nix.tabula-99999999.tmp"),
    ] {
        std::fs::write(stale, "half a file").unwrap();
    }
    let out_cmd = tabula(dir.path())
        .args(["render", "--out", "out"])
        .output()
        .unwrap();
    assert_eq!(
        out_cmd.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out_cmd.stderr)
    );
    let stderr = String::from_utf8_lossy(&out_cmd.stderr);
    assert!(
        stderr.contains("left by a tabula that was killed"),
        "{stderr}"
    );
    let left = contents(&out);
    assert!(temps(&left).is_empty(), "{:?}", temps(&left));
}

/// A tiny deterministic generator (no dependency): the seed is printed so a
/// failure can be replayed.
fn lcg(state: &mut u64) -> u64 {
    *state = state
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    *state >> 33
}

#[test]
fn kill_9_during_render_leaves_each_file_old_or_new_and_no_temp_after_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_specs(dir.path());
    assert!(render_cmd(dir.path(), "a.toml", "out")
        .status()
        .unwrap()
        .success());
    let out = dir.path().join("out");
    // Kill anywhere from the start to a bit past a whole render's time.
    let t = std::time::Instant::now();
    assert!(render_cmd(dir.path(), "b.toml", "timing")
        .status()
        .unwrap()
        .success());
    let span = (t.elapsed().as_millis() as u64 * 6 / 5).max(20);
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("seed {seed}, kills within {span} ms");
    let mut killed_with_temps = 0;
    let mut rounds = 0;
    // At least 16 kills, and on until one landed while files were staged
    // (temporary files left), up to 64.
    for round in 0..64 {
        if round >= 16 && killed_with_temps > 0 {
            break;
        }
        rounds += 1;
        let spec = if round % 2 == 0 { "b.toml" } else { "a.toml" };
        let mut child = render_cmd(dir.path(), spec, "out").spawn().unwrap();
        let delay = lcg(&mut seed) % span;
        std::thread::sleep(std::time::Duration::from_millis(delay));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let now = contents(&out);
        for (path, bytes) in &now {
            if path.ends_with(".tmp") {
                continue;
            }
            assert!(
                a.get(path) == Some(bytes) || b.get(path) == Some(bytes),
                "round {round} (kill after {delay} ms): {path} is neither spec's"
            );
        }
        for path in a.keys() {
            assert!(now.contains_key(path), "round {round}: {path} vanished");
        }
        if !temps(&now).is_empty() {
            killed_with_temps += 1;
        }
    }
    eprintln!("{killed_with_temps} of {rounds} kills left temporary files");
    let done = render_cmd(dir.path(), "a.toml", "out").output().unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let now = contents(&out);
    assert!(temps(&now).is_empty(), "{:?}", temps(&now));
    assert_eq!(now, a, "after a full render the directory is spec A's");
}

#[test]
fn concurrent_renders_of_two_specs_leave_exactly_one() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_specs(dir.path());
    for round in 0..6 {
        let out = format!("out{round}");
        let children: Vec<_> = (0..4)
            .map(|i| {
                let spec = if i % 2 == 0 { "a.toml" } else { "b.toml" };
                render_cmd(dir.path(), spec, &out).spawn().unwrap()
            })
            .collect();
        for c in children {
            let o = c.wait_with_output().unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
        let now = contents(&dir.path().join(&out));
        assert!(
            now == a || now == b,
            "round {round}: the directory mixes the two specs: {:?}",
            now.iter()
                .map(|(p, c)| (
                    p,
                    if a.get(p) == Some(c) { "A" } else { "" },
                    if b.get(p) == Some(c) { "B" } else { "" }
                ))
                .filter(|(_, x, y)| x.is_empty() || y.is_empty())
                .collect::<Vec<_>>()
        );
    }
}

/// `render` on a full filesystem: it fails naming the full disk (no panic),
/// and the output folder keeps the previous render whole, with no
/// temporary file; once there is room again, the same render succeeds.
#[test]
fn render_on_a_full_disk_fails_and_leaves_the_old_output_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_specs(dir.path());
    let fs = dir.path().join("fs");
    let mut guard = support::Mounted::default();
    if !support::small_fs(
        "render_on_a_full_disk_fails_and_leaves_the_old_output_whole",
        &fs,
        "2m",
        &mut guard,
    ) {
        return;
    }
    let o = render_cmd(dir.path(), "a.toml", "fs/out").output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(contents(&fs.join("out")), a);
    let filler = support::fill(&fs);
    let o = render_cmd(dir.path(), "b.toml", "fs/out").output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        matches!(o.status.code(), Some(1..=5)),
        "an error exit, not a panic: {:?}\n{err}",
        o.status
    );
    assert!(err.contains("No space left on device"), "{err}");
    let now = contents(&fs.join("out"));
    assert!(temps(&now).is_empty(), "{:?}", temps(&now));
    assert!(now == a, "the old render is not whole after a full disk");
    std::fs::remove_file(filler).unwrap();
    let o = render_cmd(dir.path(), "b.toml", "fs/out").output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(contents(&fs.join("out")), b);
}
