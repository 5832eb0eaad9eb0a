//! Which spec is in use is never silent: a command that falls back to the
//! embedded host says so on stderr in one line (stdout stays clean JSON with
//! --json), and the plan header (plan, apply, install) names the spec's path
//! or "embedded host surface-pro-8".
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::path::Path;

const FALLBACK: &str = "using the embedded host surface-pro-8";

fn tabula(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    support::run_in(dir, args)
}

#[test]
fn falling_back_to_the_embedded_host_is_said_once_on_stderr() {
    if Path::new("/etc/nixos/host.toml").exists() {
        println!("SKIP falling_back: /etc/nixos/host.toml exists on this machine");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    for args in [
        &["check"][..],
        &["check", "--json"],
        &["render", "--out", "flake"],
        &["docs", "--out", "docs"],
        &["plan", "--disk", "x.img"],
        &["plan", "--disk", "x.img", "--json"],
    ] {
        let (code, stdout, stderr) = tabula(d.path(), args);
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        assert_eq!(
            stderr.matches(FALLBACK).count(),
            1,
            "{args:?}: stderr:\n{stderr}"
        );
        assert!(!stdout.contains(FALLBACK), "{args:?}: said on stdout");
        if args.contains(&"--json") {
            serde_json::from_str::<serde_json::Value>(&stdout)
                .unwrap_or_else(|e| panic!("{args:?}: stdout is not JSON ({e}):\n{stdout}"));
        }
        if args[0] == "plan" && !args.contains(&"--json") {
            assert!(
                stdout
                    .lines()
                    .next()
                    .unwrap()
                    .contains("(spec: embedded host surface-pro-8)"),
                "{stdout}"
            );
        }
    }
}

#[test]
fn a_spec_file_is_named_in_the_plan_header_and_nothing_is_said() {
    let d = tempfile::tempdir().unwrap();
    let (code, _, stderr) = tabula(d.path(), &["init"]);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, stdout, stderr) = tabula(d.path(), &["plan", "--disk", "x.img"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains(FALLBACK), "{stderr}");
    assert!(
        stdout.lines().next().unwrap().contains("(spec: host.toml)"),
        "{stdout}"
    );
}

/// apply shows the same header before it asks for --yes (root: apply
/// checks root and its tools before it plans).
#[test]
fn apply_names_the_spec_in_its_plan_header() {
    let is_root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    if !is_root {
        println!("SKIP apply_names_the_spec_in_its_plan_header: needs root");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = tabula(d.path(), &["apply", "--disk", "new.img", "--no-open"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stdout.contains("plan for new.img (spec: embedded host surface-pro-8)"),
        "{stdout}\n{stderr}"
    );
    assert_eq!(stderr.matches(FALLBACK).count(), 1, "{stderr}");
    assert!(!d.path().join("new.img").exists());
}
