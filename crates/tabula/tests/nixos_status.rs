//! `tabula status --target DIR` on a layout built on loop devices inside a
//! private mount namespace (`fixtures/nixos/status.sh`): all ok; then one
//! option changed and one mount missing: drift and missing, exit 1.
//!
//! The spec has no LUKS (this kernel has no device-mapper) and no vfat
//! mount. The full test on a layout made by `tabula mount` inside the VM is
//! for the disk area to add (see NOTES-nixos.md).
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

/// Detaches the loop devices of this test's images, by name, whatever
/// happened to the script.
struct Loops(PathBuf);

impl Drop for Loops {
    fn drop(&mut self) {
        for img in ["pool.img", "boot.img"] {
            let img = self.0.join("work").join(img);
            let Ok(o) = Command::new("losetup").arg("-j").arg(&img).output() else {
                continue;
            };
            for line in String::from_utf8_lossy(&o.stdout).lines() {
                if let Some((dev, _)) = line.split_once(':') {
                    let _ = Command::new("losetup").args(["-d", dev]).status();
                }
            }
        }
    }
}

fn world() -> Option<&'static Path> {
    static WORLD: OnceLock<Option<(tempfile::TempDir, PathBuf)>> = OnceLock::new();
    WORLD
        .get_or_init(|| {
            let tools = [
                "unshare",
                "losetup",
                "mkfs.btrfs",
                "btrfs",
                "mkfs.ext4",
                "blkid",
            ];
            if !support::ready(
                "nixos_status",
                &tools,
                "loop devices and btrfs-progs/e2fsprogs",
            ) {
                return None;
            }
            let (dir, out) = support::out_dir();
            let _loops = Loops(out.clone());
            support::run_fixture("status.sh", &out);
            Some((dir, out))
        })
        .as_ref()
        .map(|(_, out)| out.as_path())
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

fn items(dir: &Path, name: &str) -> Vec<(String, String, String, String)> {
    let v = serde_json::from_str::<Value>(&read(dir, name)).unwrap()["data"].clone();
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let s = |k: &str| i[k].as_str().unwrap().to_owned();
            (s("kind"), s("object"), s("state"), s("detail"))
        })
        .collect()
}

fn state_of<'a>(
    items: &'a [(String, String, String, String)],
    kind: &str,
    name: &str,
) -> &'a (String, String, String, String) {
    items
        .iter()
        .find(|i| i.0 == kind && i.1 == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {items:#?}"))
}

#[test]
fn a_layout_as_specified_is_all_ok() {
    let Some(w) = world() else { return };
    assert_eq!(
        read(w, "ok.json.code").trim(),
        "0",
        "{}",
        read(w, "ok.json.err")
    );
    let it = items(w, "ok.json");
    let bad: Vec<_> = it.iter().filter(|i| i.2 != "ok").collect();
    assert!(bad.is_empty(), "{bad:#?}");
    // Every spec mount, every uncovered persistence entry, every subvolume, the pool.
    let count = |k: &str| it.iter().filter(|i| i.0 == k).count();
    assert_eq!(count("mount"), 11);
    assert_eq!(count("persistence"), 3);
    assert_eq!(count("subvolume"), 12);
    assert_eq!(count("pool"), 2);
    let root = state_of(&it, "mount", "/");
    assert!(root.3.starts_with("tmpfs 64.0 MiB"), "{root:?}");
    assert!(state_of(&it, "mount", "/nix").3.contains("compress=zstd:3"));
    assert!(state_of(&it, "mount", "/boot")
        .3
        .starts_with("ext4 partition boot"));
    assert!(state_of(&it, "persistence", "/etc/nixos")
        .3
        .contains("bind mount of /persist/etc/nixos"));
    assert!(
        state_of(&it, "persistence", "/etc/ssh/ssh_host_ed25519_key")
            .3
            .starts_with("symlink")
    );
    // Quotas are on: the 2 MiB planted in @system/logs is seen.
    let logs = &state_of(&it, "subvolume", "@system/logs").3;
    assert!(
        logs.starts_with("2.0 MiB used of an estimated 1.9 GiB–4.7 GiB"),
        "{logs}"
    );
    assert!(it
        .iter()
        .any(|i| i.0 == "pool" && i.3.contains("labelled pool")));
    assert!(it.iter().any(|i| i.0 == "pool" && i.3.contains("free")));
    let text = read(w, "ok.txt");
    assert!(text.contains("28 ok, 0 drift, 0 missing"), "{text}");
}

#[test]
fn a_changed_option_is_drift_and_an_unmounted_one_missing() {
    let Some(w) = world() else { return };
    assert_eq!(read(w, "drift.json.code").trim(), "1");
    assert_eq!(read(w, "drift.txt.code").trim(), "1");
    let it = items(w, "drift.json");
    let not_ok: Vec<(&str, &str, &str)> = it
        .iter()
        .filter(|i| i.2 != "ok")
        .map(|i| (i.0.as_str(), i.1.as_str(), i.2.as_str()))
        .collect();
    assert_eq!(
        not_ok,
        [
            ("mount", "/home", "drift"),
            ("mount", "/var/lib/waydroid", "missing")
        ]
    );
    assert!(state_of(&it, "mount", "/home")
        .3
        .ends_with("noatime missing"));
    let text = read(w, "drift.txt");
    assert!(text.contains("26 ok, 1 drift, 1 missing"), "{text}");
}

#[test]
fn without_quotas_usage_is_unknown_and_said_so() {
    let Some(w) = world() else { return };
    let it = items(w, "noquota.json");
    let nix = state_of(&it, "subvolume", "@system/nix");
    assert_eq!(nix.2, "ok");
    assert!(nix.3.contains("usage unknown: quotas are off"), "{nix:?}");
}
