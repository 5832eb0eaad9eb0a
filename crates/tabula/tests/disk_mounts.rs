//! `tabula unmount` unmounts exactly the spec's layout under its target and
//! leaves every other mount there (saying so); `tabula mount` refuses a
//! target that holds foreign mounts. On a test image (applied `--no-open`)
//! and a loop device this test attached, in a private mount namespace
//! (`unshare -m`) under a temp dir the test made: the layout's tmpfs root
//! and `/boot` partition are mounted by the test itself (no device-mapper
//! here for the pool), plus a foreign tmpfs at `/srv` and one at `/home`
//! (where the spec mounts a subvolume). Runs as root; prints SKIP otherwise.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;
use support::{disk_spec as spec_path, Loop};

use std::process::Command;

const PASS: &str = "mounts test passphrase 3";

const SCRIPT: &str = r#"
set -u
tab() { "$TAB" --spec "$SPEC" "$@"; }
mkdir -p "$T"
mount -t tmpfs -o size=2G,mode=755 tmpfs "$T" || exit 1
mkdir -p "$T/boot" "$T/srv" "$T/home"
mount "${L}p2" "$T/boot" || exit 1
mount -t tmpfs -o size=1M foreign "$T/srv" || exit 1
mount -t tmpfs -o size=1M tmpfs "$T/home" || exit 1
echo data > "$T/srv/keep.txt"
tab unmount --target "$T" --disk "$L" > "$OUT/unmount1.out" 2>&1
echo $? > "$OUT/unmount1.code"
findmnt -rn -o TARGET > "$OUT/after1"
cat "$T/srv/keep.txt" > "$OUT/keep.txt"
tab --json unmount --target "$T" --disk "$L" > "$OUT/unmount1.json" 2>&1
tab mount --target "$T" --disk "$L" --passphrase-file "$PASSFILE" > "$OUT/mount.out" 2>&1
echo $? > "$OUT/mount.code"
findmnt -rn -o TARGET > "$OUT/after-mount"
# Without the foreign mounts, and without --disk: /boot is known by its UUID.
umount "$T/srv" "$T/home"
mount "${L}p2" "$T/boot" || exit 1
tab unmount --target "$T" > "$OUT/unmount2.out" 2>&1
echo $? > "$OUT/unmount2.code"
findmnt -rn -o TARGET > "$OUT/after2"
touch "$OUT/finished"
"#;

#[test]
fn unmount_leaves_foreign_mounts_and_mount_refuses_them() {
    if !support::ready(
        "unmount_leaves_foreign_mounts_and_mount_refuses_them",
        &[
            "sgdisk",
            "sfdisk",
            "partx",
            "losetup",
            "blkid",
            "mkfs.ext4",
            "cryptsetup",
            "unshare",
            "findmnt",
        ],
        "loop devices, mount namespaces and the disk tools",
    ) {
        return;
    }
    let work = tempfile::Builder::new()
        .prefix("tabula-mounts-test.")
        .tempdir()
        .unwrap();
    let dir = std::fs::canonicalize(work.path()).unwrap();
    let img = dir.join("disk.img");
    let pass = dir.join("pass");
    std::fs::write(&pass, format!("{PASS}\n")).unwrap();
    let tabula = assert_cmd::cargo::cargo_bin("tabula");
    let out = Command::new(&tabula)
        .arg("--spec")
        .arg(spec_path())
        .args(["apply", "--yes", "--no-open", "--disk"])
        .arg(&img)
        .arg("--passphrase-file")
        .arg(&pass)
        .output()
        .unwrap();
    // --no-open: the pool stays unverified (exit 5).
    assert!(
        out.status.code() == Some(5),
        "apply: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let o = Command::new("losetup")
        .args(["-f", "--show"])
        .arg(&img)
        .output()
        .unwrap();
    let dev = String::from_utf8_lossy(&o.stdout).trim().to_owned();
    assert!(dev.starts_with("/dev/loop"), "losetup: {dev}");
    let _l = Loop(dev.clone());
    assert!(Command::new("partx")
        .args(["-a", &dev])
        .status()
        .unwrap()
        .success());
    let t = dir.join("target");
    let outd = dir.join("out");
    std::fs::create_dir(&outd).unwrap();
    let o = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", SCRIPT])
        .env("TAB", &tabula)
        .env("SPEC", spec_path())
        .env("T", &t)
        .env("L", &dev)
        .env("OUT", &outd)
        .env("PASSFILE", &pass)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let read = |n: &str| std::fs::read_to_string(outd.join(n)).unwrap_or_default();
    assert!(
        outd.join("finished").exists(),
        "script: {}\n{}\nunmount1: {}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
        read("unmount1.out")
    );
    let ts = t.to_string_lossy().into_owned();
    let under = |file: &str| -> Vec<String> {
        let mut v: Vec<String> = read(file)
            .lines()
            .filter(|l| *l == ts || l.starts_with(&format!("{ts}/")))
            .map(str::to_owned)
            .collect();
        v.sort();
        v
    };
    let (boot, srv, home) = (
        format!("{ts}/boot"),
        format!("{ts}/srv"),
        format!("{ts}/home"),
    );
    // The layout's /boot went; the foreign /srv and /home stayed, and the
    // tmpfs root they pin stayed too. All said.
    let text = read("unmount1.out");
    assert_eq!(read("unmount1.code").trim(), "0", "{text}");
    assert_eq!(
        under("after1"),
        [ts.clone(), home.clone(), srv.clone()],
        "{text}"
    );
    assert_eq!(read("keep.txt"), "data\n");
    assert!(text.contains(&format!("unmounted {boot}")), "{text}");
    for left in [&srv, &home, &ts] {
        assert!(
            text.contains(&format!("left mounted: {left} (")),
            "{left}: {text}"
        );
    }
    assert!(
        text.contains(&format!("{srv} is mounted under it"))
            || text.contains(&format!("{home} is mounted under it")),
        "{text}"
    );
    // --json lists what was left.
    let v = serde_json::from_str::<serde_json::Value>(&read("unmount1.json"))
        .unwrap_or_else(|e| panic!("{e}: {}", read("unmount1.json")))["data"]
        .clone();
    let left: Vec<&str> = v["left"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["target"].as_str().unwrap())
        .collect();
    assert!(
        left.contains(&srv.as_str()) && left.contains(&home.as_str()),
        "{v}"
    );
    assert_eq!(v["unmounted"].as_array().unwrap().len(), 0, "{v}");
    // mount refuses to stack on the foreign mounts, naming them.
    let m = read("mount.out");
    assert_eq!(read("mount.code").trim(), "3", "{m}");
    assert!(
        m.contains("not this spec's layout") && m.contains(&srv) && m.contains(&home),
        "{m}"
    );
    assert_eq!(under("after-mount"), under("after1"), "{m}");
    // Without foreign mounts (and without --disk) the whole layout goes.
    let u = read("unmount2.out");
    assert_eq!(read("unmount2.code").trim(), "0", "{u}");
    assert!(under("after2").is_empty(), "{u}\n{:?}", under("after2"));
    assert!(
        u.contains(&format!("unmounted {boot}")) && u.contains(&format!("unmounted {ts}")),
        "{u}"
    );
    assert!(!u.contains("left mounted"), "{u}");
}
