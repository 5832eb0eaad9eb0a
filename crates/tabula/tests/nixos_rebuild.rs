//! `tabula rebuild`: `--dry` prints the exact commands and runs none
//! (proved with TABULA_ARGV_LOG); the refusals and the missing-Nix exit.
#![allow(clippy::unwrap_used, clippy::panic)]

use assert_cmd::Command as Bin;
use predicates::prelude::*;

fn tabula(dir: &std::path::Path) -> Bin {
    let mut c = Bin::cargo_bin("tabula").unwrap();
    c.current_dir(dir)
        .env_remove("TABULA_SPEC")
        .env("NO_COLOR", "1")
        .env("TABULA_ARGV_LOG", dir.join("argv.log"));
    c
}

fn nothing_ran(dir: &std::path::Path) {
    let log = std::fs::read_to_string(dir.join("argv.log")).unwrap_or_default();
    assert!(log.is_empty(), "commands ran:\n{log}");
}

#[test]
fn switch_dry_prints_the_exact_commands_and_runs_none() {
    let d = tempfile::tempdir().unwrap();
    let out = tabula(d.path())
        .args([
            "rebuild",
            "switch",
            "--dry",
            "--flake",
            "/srv/my flake",
            "--out-link",
            "/tmp/t/result",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    // The host is the embedded spec's name.
    let want = "\
# tabula rebuild switch --dry: nothing is run
nix --extra-experimental-features 'nix-command flakes' flake check '/srv/my flake'
nix --extra-experimental-features 'nix-command flakes' build '/srv/my flake#nixosConfigurations.surface-pro-8.config.system.build.toplevel' --out-link /tmp/t/result
tabula diff /run/current-system /tmp/t/result
# ask: Switch to the new system now?
nix-env -p /nix/var/nix/profiles/system --set /tmp/t/result
/tmp/t/result/bin/switch-to-configuration switch
";
    assert_eq!(text, want);
    nothing_ran(d.path());
}

#[test]
fn dry_defaults_and_json() {
    let d = tempfile::tempdir().unwrap();
    let out = tabula(d.path())
        .args(["rebuild", "boot", "--dry", "--host", "box", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let argv: Vec<&str> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["argv"].as_str())
        .collect();
    assert_eq!(argv.len(), 4, "{argv:?}");
    assert!(argv[0].ends_with("flake check /etc/nixos"), "{argv:?}");
    assert!(argv[1].contains("'/etc/nixos#nixosConfigurations.box.config.system.build.toplevel'"));
    assert!(argv[1].contains("tabula-rebuild-XXXXXX/result"), "{argv:?}");
    assert!(argv[3].ends_with("/bin/switch-to-configuration boot"));
    tabula(d.path())
        .args(["rebuild", "rollback", "--dry"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "nix-env -p /nix/var/nix/profiles/system --rollback\n",
        ))
        .stdout(predicate::str::contains(
            "/nix/var/nix/profiles/system/bin/switch-to-configuration switch\n",
        ));
    nothing_ran(d.path());
}

#[test]
fn no_terminal_and_no_yes_is_refused_before_anything_runs() {
    let d = tempfile::tempdir().unwrap();
    tabula(d.path())
        .args(["rebuild", "switch", "--flake", d.path().to_str().unwrap()])
        .write_stdin("y\n")
        .assert()
        .code(3)
        .stderr(predicate::str::contains("--yes"));
    nothing_ran(d.path());
}

#[test]
fn missing_nix_exits_4_naming_it() {
    let d = tempfile::tempdir().unwrap();
    let empty = d.path().join("bin");
    std::fs::create_dir(&empty).unwrap();
    tabula(d.path())
        .env("PATH", &empty)
        .args(["rebuild", "build", "--flake", d.path().to_str().unwrap()])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("`nix`").and(predicate::str::contains("nix-bin")));
    nothing_ran(d.path());
}
