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

fn has_escape(s: &[u8]) -> bool {
    s.windows(2).any(|w| w == b"\x1b[")
}

/// `check` of the embedded host prints a warning (coloured when colour is
/// on). On a pipe: `--color=always` colours, auto and never do not.
#[test]
fn color_flag_decides_on_a_pipe() {
    let d = tempfile::tempdir().unwrap();
    let check = |extra: &[&str]| {
        let out = tabula(d.path())
            .env_remove("NO_COLOR")
            .env("TERM", "xterm")
            .arg("check")
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        out.stdout
    };
    assert!(has_escape(&check(&["--color=always"])));
    assert!(!has_escape(&check(&[])));
    assert!(!has_escape(&check(&["--color", "never"])));
    assert!(!has_escape(&check(&["--color=auto"])));
    // A wrong value is a usage error naming the choices.
    let out = tabula(d.path())
        .args(["check", "--color=sometimes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("auto") && stderr.contains("never"),
        "{stderr}"
    );
}

/// On a terminal (util-linux `script`): auto colours unless TERM=dumb,
/// NO_COLOR or --color=never.
#[test]
fn term_dumb_means_no_colour_on_a_terminal() {
    let have = std::process::Command::new("sh")
        .args(["-c", "command -v script"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        eprintln!("SKIP term_dumb_means_no_colour_on_a_terminal: util-linux `script` is missing");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_tabula");
    let on_tty = |term: &str, no_color: Option<&str>, flag: &str| {
        let mut c = std::process::Command::new("script");
        c.args([
            "-q",
            "-e",
            "-c",
            &format!("{bin} check {flag}"),
            "/dev/null",
        ])
        .current_dir(d.path())
        .env_remove("TABULA_SPEC")
        .env_remove("NO_COLOR")
        .env("TERM", term)
        .stdin(std::process::Stdio::null());
        if let Some(v) = no_color {
            c.env("NO_COLOR", v);
        }
        let o = c.output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stdout)
        );
        o.stdout
    };
    assert!(has_escape(&on_tty("xterm", None, "")), "auto on a terminal");
    assert!(!has_escape(&on_tty("dumb", None, "")), "TERM=dumb");
    assert!(has_escape(&on_tty("dumb", None, "--color=always")));
    assert!(!has_escape(&on_tty("xterm", Some("1"), "")), "NO_COLOR");
    assert!(!has_escape(&on_tty("xterm", None, "--color=never")));
}

/// `place` of a CLI tool names the spec key its change goes to, the same
/// key the change line and the docs use, not configuration.nix.
#[test]
fn place_names_the_spec_key_not_configuration_nix() {
    let d = tempfile::tempdir().unwrap();
    let out = tabula(d.path())
        .args(["place", "ripgrep", "--kind", "cli"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("→ Nix Native (add to [containers] nix_packages in host.toml)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("[containers] nix_packages += \"ripgrep\""),
        "{stdout}"
    );
    assert!(!stdout.contains("configuration.nix"), "{stdout}");
}

/// Every state `status` prints is listed in the README's `status` row, and
/// `unknown` is explained there and in `status --help`.
#[test]
fn every_status_state_is_in_the_readme() {
    let readme = include_str!("../../../README.md");
    let row = readme
        .lines()
        .find(|l| l.starts_with("| `status` |"))
        .expect("the README's command table has a status row");
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("target")).unwrap();
    // An empty --target: nothing is mounted, so mounts are missing and the
    // pool's subvolumes cannot be told.
    let out = tabula(d.path())
        .args(["status", "--json", "--target", "target"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // (under "data" once every command shares the JSON envelope)
    let items = v["items"].as_array().or(v["data"]["items"].as_array());
    let mut states: Vec<String> = items
        .unwrap()
        .iter()
        .map(|i| i["state"].as_str().unwrap().to_owned())
        .collect();
    states.sort();
    states.dedup();
    assert!(states.contains(&"unknown".to_owned()), "{states:?}");
    for s in &states {
        assert!(row.contains(&format!("`{s}`")), "`{s}` is not in: {row}");
    }
    assert!(row.contains("could not be told"), "{row}");
    let help = tabula(d.path())
        .args(["status", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("unknown"), "{help}");
}

/// `audit` shows a spinner with live counts on a terminal (util-linux
/// `script`), and none with --json, on a pipe or with TERM=dumb.
#[test]
fn audit_shows_a_spinner_only_on_a_terminal() {
    let have = std::process::Command::new("sh")
        .args(["-c", "command -v script"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        eprintln!("SKIP audit_shows_a_spinner_only_on_a_terminal: util-linux `script` is missing");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let tree = d.path().join("tree");
    std::fs::create_dir_all(tree.join("srv/www")).unwrap();
    std::fs::write(tree.join("srv/www/index.html"), "hi").unwrap();
    let bin = env!("CARGO_BIN_EXE_tabula");
    let on_tty = |term: &str, flag: &str| {
        let o = std::process::Command::new("script")
            .args([
                "-q",
                "-e",
                "-c",
                &format!("{bin} audit --root tree {flag}"),
                "/dev/null",
            ])
            .current_dir(d.path())
            .env_remove("TABULA_SPEC")
            .env("NO_COLOR", "1")
            .env("TERM", term)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        // Something is lost under /srv: exit 1.
        assert_eq!(o.status.code(), Some(1), "{text}");
        text
    };
    let text = on_tty("xterm", "");
    assert!(
        text.contains("auditing tree: ") && text.contains(" entries, "),
        "{text}"
    );
    assert!(text.contains("LOST AT THE NEXT REBOOT"), "{text}");
    assert!(!on_tty("xterm", "--json").contains("auditing"));
    assert!(!on_tty("dumb", "").contains("auditing"));
    let out = tabula(d.path())
        .args(["audit", "--root", "tree"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("auditing"));
}
