//! `tabula rebuild`: `--dry` prints the exact commands and runs none
//! (proved with TABULA_ARGV_LOG); the refusals and the missing-Nix exit; and
//! switch, test, boot and rollback run for real on a Nix store in a private
//! mount namespace (`fixtures/nixos/rebuild.sh`) with a flake whose system's
//! switch-to-configuration only logs how it was called.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;
use support::{have, is_root};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

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
    let v = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["data"].clone();
    let argv: Vec<&str> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["line"].as_str())
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

fn world() -> Option<&'static Path> {
    static WORLD: OnceLock<Option<(tempfile::TempDir, PathBuf)>> = OnceLock::new();
    WORLD
        .get_or_init(|| {
            if !support::ready(
                "nixos_rebuild (real run)",
                &["unshare", "nix-build", "nix-env", "nix"],
                "unshare + Nix (Debian nix-bin)",
            ) {
                return None;
            }
            let (dir, out) = support::out_dir();
            support::run_fixture("rebuild.sh", &out);
            Some((dir, out))
        })
        .as_ref()
        .map(|(_, out)| out.as_path())
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}

fn argv(dir: &Path, name: &str) -> Vec<Vec<String>> {
    read(dir, name)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn switch_test_boot_and_rollback_run_for_real() {
    let Some(w) = world() else { return };
    for step in ["switch", "test", "boot", "rollback"] {
        assert_eq!(
            read(w, &format!("{step}.code")).trim(),
            "0",
            "{step}: {}",
            read(w, &format!("{step}.err"))
        );
    }
    let out = w.to_str().unwrap();
    let flake = format!("{out}/flake");
    let nix = |rest: &[&str]| -> Vec<String> {
        ["nix", "--extra-experimental-features", "nix-command flakes"]
            .iter()
            .chain(rest)
            .map(|s| s.to_string())
            .collect()
    };
    let attr = format!("{flake}#nixosConfigurations.testhost.config.system.build.toplevel");
    let result = format!("{out}/result-switch");
    let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        argv(w, "switch.argv"),
        [
            nix(&["flake", "check", &flake]),
            nix(&["build", &attr, "--out-link", &result]),
            v(&[
                "nix-env",
                "-p",
                "/nix/var/nix/profiles/system",
                "--set",
                &result
            ]),
            v(&[&format!("{result}/bin/switch-to-configuration"), "switch"]),
        ]
    );
    // Each step is printed before it runs; the diff comes before the switch.
    let text = read(w, "switch.out");
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in\n{text}"))
    };
    assert!(at("==> check the flake") < at("==> build the system"));
    assert!(at("==> build the system") < at("hello 2.10 → 2.12"));
    assert!(
        at("oldtool 1.0")
            < at(&format!(
                "$ nix-env -p /nix/var/nix/profiles/system --set {result}"
            ))
    );
    assert!(at("$ nix-env") < at("switch-to-configuration switch"));
    // `test` makes no generation; `boot` does; rollback goes back to 1.
    let test = argv(w, "test.argv");
    assert_eq!(test.len(), 2, "{test:?}");
    assert!(test.iter().all(|a| a[0] != "nix-env"));
    let j =
        serde_json::from_str::<serde_json::Value>(&read(w, "test.out")).unwrap()["data"].clone();
    assert_eq!(j["action"], "test");
    assert_eq!(j["completed"], true);
    assert_eq!(j["ran"].as_array().unwrap().len(), 2);
    assert!(j["result"]
        .as_str()
        .unwrap()
        .ends_with("-nixos-system-testhost-24.11.20241115.bbbbbbb"));
    assert!(
        read(w, "test.err").contains("\"name\": \"hello\""),
        "the diff goes to stderr with --json"
    );
    assert_eq!(argv(w, "boot.argv").len(), 3);
    assert!(read(w, "after-switch.profile")
        .trim()
        .ends_with("-nixos-system-testhost-24.11.20241115.bbbbbbb"));
    assert!(read(w, "after-rollback.profile")
        .trim()
        .ends_with("-nixos-system-testhost-24.11.20241101.aaaaaaa"));
    assert!(read(w, "rollback.out").contains("hello 2.12 → 2.10"));
    assert_eq!(
        read(w, "switch.log"),
        "24.11.20241115.bbbbbbb switch\n24.11.20241115.bbbbbbb test\n24.11.20241115.bbbbbbb boot\n24.11.20241101.aaaaaaa switch\n"
    );
}

#[test]
fn switching_as_another_user_is_refused_before_anything_runs() {
    if !is_root() || !have("setpriv") || !have("nix") {
        eprintln!("SKIP: needs root (to drop to nobody with setpriv) and nix");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    // nobody must be able to write the argv log for the proof to mean anything.
    std::fs::set_permissions(
        d.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    // A copy nobody can run wherever the build tree is (CI may build under
    // a 0700 home).
    let bin = d.path().join("tabula");
    std::fs::copy(env!("CARGO_BIN_EXE_tabula"), &bin).unwrap();
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&bin)
        .args(["rebuild", "switch", "--yes", "--flake"])
        .arg(d.path())
        .env("TABULA_ARGV_LOG", d.path().join("argv.log"))
        .env_remove("TABULA_SPEC")
        .current_dir(d.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("run it as root"));
    nothing_ran(d.path());
}
