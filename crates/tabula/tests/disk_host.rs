//! `plan`, `apply` and `keyfile` on sparse images and loop devices, with the
//! real tools (sgdisk, sfdisk, mkfs, cryptsetup). Runs as root; prints a SKIP
//! line otherwise. What needs device-mapper or vfat mounts runs in the VM
//! (disk_vm.rs); here the container is formatted but not opened (`--no-open`).
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;
use support::have;
use support::{disk_spec as spec_path, sh, Loop};

use std::path::Path;
use std::process::Command;

use assert_cmd::Command as Bin;

const PASS: &str = "correct horse battery staple 7";

fn ready(test: &str) -> bool {
    support::disk_ready(test, &["mdir", "mcopy", "debugfs", "sha256sum"])
}

/// The image and its files: [`support::ImageWork`] (detached on drop),
/// plus what this test needs.
struct Work {
    base: support::ImageWork,
}

impl std::ops::Deref for Work {
    type Target = support::ImageWork;
    fn deref(&self) -> &support::ImageWork {
        &self.base
    }
}

impl Work {
    fn new() -> Work {
        let base = support::ImageWork::new("tabula-disk-test.", PASS);
        Work { base }
    }
    fn loops(&self) -> Vec<String> {
        support::loops_of(&self.img())
    }
    fn loops_settled(&self) -> Vec<String> {
        support::loops_settled(&self.img())
    }
    fn tabula(&self) -> Bin {
        let mut c = Bin::cargo_bin("tabula").unwrap();
        c.arg("--spec").arg(spec_path());
        c.env("TABULA_ARGV_LOG", self.p("argv.log"));
        c.env("NO_COLOR", "1");
        c
    }
    /// A fresh apply of the test layout (container formatted, not opened),
    /// with debug logs (`-v`: every command run). Returns stdout + stderr.
    fn fresh(&self, keyfile: Option<&Path>) -> String {
        let mut c = self.tabula();
        c.args(["-v", "apply", "--yes", "--no-open", "--disk"])
            .arg(self.img())
            .arg("--passphrase-file")
            .arg(self.p("pass"));
        if let Some(k) = keyfile {
            c.arg("--keyfile").arg(k);
        }
        let out = c.output().unwrap();
        // Exit 5: done, but the pool inside the unopened container is
        // unverified (this kernel has no device-mapper).
        assert_eq!(
            out.status.code(),
            Some(5),
            "fresh apply failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    }
    fn attach(&self) -> Loop {
        Loop::attach(&self.img())
    }
}

fn blkid(node: &str, tag: &str) -> String {
    sh(&format!("blkid -p -s {tag} -o value {node} || true"))
        .trim()
        .to_owned()
}

fn key_opens(node: &str, keyfile: &Path) -> bool {
    Command::new("cryptsetup")
        .args(["open", "--test-passphrase", "--key-file"])
        .arg(keyfile)
        .arg(node)
        .status()
        .unwrap()
        .success()
}

fn sha(node: &str) -> String {
    sh(&format!("sha256sum {node}"))
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn plan_never_creates_the_image() {
    let w = Work::new();
    let out = w
        .tabula()
        .args(["plan", "--disk"])
        .arg(w.img())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("create      partition:pool"), "{text}");
    assert!(!w.img().exists(), "plan created the image");
    let out = w
        .tabula()
        .args(["--json", "plan", "--disk"])
        .arg(w.img())
        .output()
        .unwrap();
    let v = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["data"].clone();
    let lines = v["lines"].as_array().unwrap();
    assert!(lines
        .iter()
        .any(|l| l["object"] == "subvolume:@user/home" && l["action"] == "create"));
    assert!(!w.img().exists());
}

#[test]
fn fresh_apply_partitions_formats_and_keys_then_is_a_noop() {
    if !ready("fresh_apply_partitions_formats_and_keys_then_is_a_noop") {
        return;
    }
    let w = Work::new();
    let key = w.p("usb.key");
    std::fs::write(&key, support::random_bytes(512)).unwrap();
    let fresh_out = w.fresh(Some(&key));
    assert!(
        fresh_out.contains("running: cryptsetup luksFormat"),
        "no debug log:\n{fresh_out}"
    );
    assert!(
        !fresh_out.contains("horse battery"),
        "passphrase in the debug log"
    );
    // --no-open: the steps inside the container are shown as not run.
    for want in [
        "opening the container as /dev/mapper/pool: skipped (--no-open",
        "creating subvolume @user/home: skipped (--no-open",
    ] {
        assert!(fresh_out.contains(want), "no `{want}`:\n{fresh_out}");
    }
    assert!(
        w.loops_settled().is_empty(),
        "tabula left its loop device attached"
    );

    // Sparse: 1 GiB long, a few MiB written.
    let meta = std::fs::metadata(w.img()).unwrap();
    assert_eq!(meta.len(), 1 << 30);
    use std::os::unix::fs::MetadataExt as _;
    assert!(
        meta.blocks() * 512 < 64 << 20,
        "image not sparse: {} blocks",
        meta.blocks()
    );

    {
        let l = w.attach();
        let table: serde_json::Value =
            serde_json::from_str(&sh(&format!("sfdisk --json {}", l.0))).unwrap();
        let names: Vec<&str> = table["partitiontable"]["partitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["ESP", "boot", "alpine", "kali", "windows", "pool"]);
        assert_eq!(
            table["partitiontable"]["partitions"][4]["type"],
            "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"
        );
        // ESP: vfat with the spec's serial and label, readable with mtools.
        assert_eq!(blkid(&l.part(1), "TYPE"), "vfat");
        assert_eq!(blkid(&l.part(1), "UUID"), "2CE0-6722");
        assert_eq!(blkid(&l.part(1), "LABEL"), "ESP");
        std::fs::write(w.p("hello.txt"), "hello ESP\n").unwrap();
        sh(&format!(
            "mcopy -i {} {} ::/hello.txt",
            l.part(1),
            w.p("hello.txt").display()
        ));
        assert!(sh(&format!("mdir -i {} ::/", l.part(1))).contains("hello"));
        assert_eq!(
            sh(&format!("mtype -i {} ::/hello.txt", l.part(1))),
            "hello ESP\n"
        );
        // /boot: ext4 with the spec's UUID.
        assert_eq!(blkid(&l.part(2), "TYPE"), "ext4");
        assert_eq!(
            blkid(&l.part(2), "UUID"),
            "0eaf7961-48c5-4b55-8a8f-04cd0b71de07"
        );
        // Foreign partitions are left without a filesystem.
        assert_eq!(blkid(&l.part(3), "TYPE"), "");
        // LUKS2 with the spec's UUID, KDF and two key slots.
        assert_eq!(blkid(&l.part(6), "TYPE"), "crypto_LUKS");
        assert_eq!(
            blkid(&l.part(6), "UUID"),
            "3c75c6db-4d7c-4570-81f1-02d168781aac"
        );
        let dump: serde_json::Value = serde_json::from_str(&sh(&format!(
            "cryptsetup luksDump --dump-json-metadata {}",
            l.part(6)
        )))
        .unwrap();
        let slots = dump["keyslots"].as_object().unwrap();
        assert_eq!(slots.len(), 2, "{dump}");
        for s in slots.values() {
            assert_eq!(s["kdf"]["type"], "pbkdf2");
            assert_eq!(s["kdf"]["iterations"], 1000);
        }
        std::fs::write(w.p("pass-exact"), PASS).unwrap();
        assert!(
            key_opens(&l.part(6), &w.p("pass-exact")),
            "the passphrase does not open"
        );
        assert!(key_opens(&l.part(6), &key), "the keyfile does not open");
        std::fs::write(w.p("wrong"), "wrong").unwrap();
        assert!(!key_opens(&l.part(6), &w.p("wrong")));
    }

    // plan on the provisioned image: reads only (a read-only loop device),
    // every object kept or (inside the closed container) unverified.
    let before = std::fs::metadata(w.img()).unwrap().modified().unwrap();
    let out = w
        .tabula()
        .args(["--json", "plan", "--disk"])
        .arg(w.img())
        .arg("--keyfile")
        .arg(&key)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["data"].clone();
    assert_eq!(v["steps"].as_array().unwrap().len(), 0, "{v}");
    for l in v["lines"].as_array().unwrap() {
        assert!(l["action"] == "keep" || l["action"] == "unverified", "{l}");
    }
    assert!(v["lines"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["object"] == "keyslot:pool/keyfile" && l["action"] == "keep"));
    assert_eq!(
        std::fs::metadata(w.img()).unwrap().modified().unwrap(),
        before
    );
    assert!(w.loops_settled().is_empty());

    // Again: no step left, but the pool was never seen: it says so and
    // never claims "nothing to do: the disk matches the spec" (exit 5).
    let out = w
        .tabula()
        .args(["apply", "--yes", "--no-open", "--disk"])
        .arg(w.img())
        .arg("--passphrase-file")
        .arg(w.p("pass"))
        .arg("--keyfile")
        .arg(&key)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stdout}\n{stderr}");
    assert!(!stdout.contains("nothing to do"), "{stdout}");
    assert!(!stdout.contains("matches the spec"), "{stdout}");
    assert!(
        stdout.contains("NOT verified") && stdout.contains("subvolume:@user/home"),
        "{stdout}"
    );
    assert!(!stdout.contains("refuse "), "{stdout}");

    // The same for scripts.
    let out = w
        .tabula()
        .args(["--json", "apply", "--yes", "--no-open", "--disk"])
        .arg(w.img())
        .arg("--passphrase-file")
        .arg(w.p("pass"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    let v = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["data"].clone();
    assert_eq!(v["nothing_to_do"], false, "{v}");
    assert!(v["unverified"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u.as_str().unwrap().starts_with("btrfs:pool")));
    assert_eq!(v["ran"].as_array().unwrap().len(), 0);

    // The passphrase never reached an argv, stdout or stderr.
    let argv = std::fs::read_to_string(w.p("argv.log")).unwrap();
    assert!(argv.contains("luksFormat"), "argv log incomplete:\n{argv}");
    assert!(argv.contains("luksAddKey"));
    for text in [&argv, &stdout.to_string(), &stderr.to_string()] {
        assert!(!text.contains(PASS), "passphrase leaked");
        assert!(!text.contains("horse battery"), "passphrase leaked");
    }
}

#[test]
fn foreign_data_survives_and_destroy_needs_wipe() {
    if !ready("foreign_data_survives_and_destroy_needs_wipe") {
        return;
    }
    let w = Work::new();
    let _ = w.fresh(None);
    let planted = w.p("planted");
    std::fs::write(&planted, "alpine's own file\n").unwrap();
    let before: Vec<String>;
    {
        let l = w.attach();
        // The other systems install themselves: Alpine's ext4 with a file,
        // raw data on Kali's and Windows' partitions.
        sh(&format!("mkfs.ext4 -q -L alpine {}", l.part(3)));
        sh(&format!(
            "debugfs -w -R 'write {} planted' {} 2>/dev/null",
            planted.display(),
            l.part(3)
        ));
        sh(&format!(
            "head -c 3000000 /dev/urandom | dd of={} bs=1M conv=notrunc status=none",
            l.part(4)
        ));
        sh(&format!(
            "head -c 5000000 /dev/urandom | dd of={} bs=1M seek=3 conv=notrunc status=none",
            l.part(5)
        ));
        // /boot holds something else now: a foreign ext4 with data.
        sh(&format!(
            "mkfs.ext4 -q -F -U 11111111-2222-4333-8444-555555555555 {}",
            l.part(2)
        ));
        before = [1, 3, 4, 5].iter().map(|n| sha(&l.part(*n))).collect();
    }

    // Without --wipe: refused (exit 3), naming the object; nothing written.
    let out = w
        .tabula()
        .args(["apply", "--yes", "--no-open", "--disk"])
        .arg(w.img())
        .arg("--passphrase-file")
        .arg(w.p("pass"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("fs:boot") && stderr.contains("--wipe fs:boot"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("DESTROY     fs:boot"));
    {
        let l = w.attach();
        assert_eq!(
            blkid(&l.part(2), "UUID"),
            "11111111-2222-4333-8444-555555555555"
        );
    }

    // With --wipe fs:boot: /boot is remade; every other partition is
    // byte-identical.
    let out = w
        .tabula()
        .args(["apply", "--yes", "--no-open", "--wipe", "fs:boot", "--disk"])
        .arg(w.img())
        .arg("--passphrase-file")
        .arg(w.p("pass"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let l = w.attach();
    assert_eq!(
        blkid(&l.part(2), "UUID"),
        "0eaf7961-48c5-4b55-8a8f-04cd0b71de07"
    );
    let after: Vec<String> = [1, 3, 4, 5].iter().map(|n| sha(&l.part(*n))).collect();
    assert_eq!(before, after, "a partition tabula must not touch changed");
    assert_eq!(
        sh(&format!(
            "debugfs -R 'cat planted' {} 2>/dev/null",
            l.part(3)
        )),
        "alpine's own file\n"
    );
}

#[test]
fn a_busy_device_is_refused() {
    if !ready("a_busy_device_is_refused") || !have("unshare") {
        return;
    }
    let w = Work::new();
    let _ = w.fresh(None);
    let l = w.attach();
    let key = w.p("new.key");
    std::fs::write(&key, support::random_bytes(256)).unwrap();
    std::fs::create_dir(w.p("mnt")).unwrap();
    let bin = assert_cmd::cargo::cargo_bin("tabula");
    // Mounted in a private namespace, where tabula runs too.
    let script = format!(
        "mount {part} {mnt} && {bin} --spec {spec} --json plan --disk {dev} > {plan} && exec {bin} --spec {spec} apply --yes --no-open --disk {dev} --passphrase-file {pass} --keyfile {key}",
        part = l.part(2),
        mnt = w.p("mnt").display(),
        bin = bin.display(),
        spec = spec_path().display(),
        dev = l.0,
        pass = w.p("pass").display(),
        key = key.display(),
        plan = w.p("plan.json").display(),
    );
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("busy") && stderr.contains(&format!("{} is mounted", l.part(2))),
        "{stderr}"
    );
    // plan shows it too (and still plans: it never writes).
    let plan: serde_json::Value = serde_json::from_str::<serde_json::Value>(
        &std::fs::read_to_string(w.p("plan.json")).unwrap(),
    )
    .unwrap()["data"]
        .clone();
    assert!(
        plan["busy"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["kind"] == "mounted" && b["device"] == l.part(2).as_str()),
        "{plan}"
    );
    // Nothing was written: still one key slot.
    let dump = sh(&format!(
        "cryptsetup luksDump --dump-json-metadata {}",
        l.part(6)
    ));
    let v: serde_json::Value = serde_json::from_str(&dump).unwrap();
    assert_eq!(v["keyslots"].as_object().unwrap().len(), 1);
}

#[test]
fn the_loop_device_is_detached_after_an_error() {
    if !ready("the_loop_device_is_detached_after_an_error") {
        return;
    }
    let w = Work::new();
    let out = w
        .tabula()
        .args(["apply", "--yes", "--no-open", "--disk"])
        .arg(w.img())
        .arg("--passphrase-file")
        .arg(w.p("no-such-file"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-file"));
    assert!(
        w.loops_settled().is_empty(),
        "loop device left attached: {:?}",
        w.loops()
    );
}

#[test]
fn keyfile_add_replace_remove_never_lose_the_last_key() {
    if !ready("keyfile_add_replace_remove_never_lose_the_last_key") {
        return;
    }
    let w = Work::new();
    let _ = w.fresh(None);
    let (k1, k2) = (w.p("k1"), w.p("k2"));
    std::fs::write(&k1, support::random_bytes(300)).unwrap();
    std::fs::write(&k2, support::random_bytes(300)).unwrap();
    let run = |args: &[&str]| {
        let out = w
            .tabula()
            .arg("keyfile")
            .args(args)
            .arg("--disk")
            .arg(w.img())
            .arg("--passphrase-file")
            .arg(w.p("pass"))
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    // The passphrase on stdin this time.
    let out = w
        .tabula()
        .args(["keyfile", "add", "--passphrase-stdin", "--keyfile"])
        .arg(&k1)
        .arg("--disk")
        .arg(w.img())
        .write_stdin(format!("{PASS}\n"))
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("2 key slot(s)"), "{text}");
    // Adding it again changes nothing.
    let (code, text) = run(&["add", "--keyfile", k1.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("already has a slot; nothing added") && text.contains("2 key slot(s)"),
        "{text}"
    );
    let (code, text) = run(&[
        "replace",
        "--old",
        k1.to_str().unwrap(),
        "--keyfile",
        k2.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{text}");
    {
        let l = w.attach();
        assert!(key_opens(&l.part(6), &k2));
        assert!(!key_opens(&l.part(6), &k1));
    }
    let (code, text) = run(&["remove", "--keyfile", k2.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("removed the keyfile's slot; 1 key slot(s)"),
        "{text}"
    );
    // Removing it again: said to be not enrolled, not "already there".
    let (code, text) = run(&["remove", "--keyfile", k2.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("the keyfile was not enrolled") && text.contains("nothing to remove"),
        "{text}"
    );
    assert!(!text.contains("already there"), "{text}");
    let l = w.attach();
    assert!(!key_opens(&l.part(6), &k2));
    std::fs::write(w.p("pass-exact"), PASS).unwrap();
    assert!(key_opens(&l.part(6), &w.p("pass-exact")));
    drop(l);
    // A wrong passphrase changes nothing and exits 3.
    std::fs::write(w.p("pass"), "not it\n").unwrap();
    let (code, text) = run(&["add", "--keyfile", k1.to_str().unwrap()]);
    assert_eq!(code, Some(3), "{text}");
}

#[test]
fn several_signatures_are_never_taken_for_empty() {
    if !ready("several_signatures_are_never_taken_for_empty") || !have("mkfs.btrfs") {
        return;
    }
    let w = Work::new();
    let _ = w.fresh(None);
    // A btrfs superblock next to /boot's ext4 and Alpine's ext4: blkid calls
    // that ambivalent (exit 8) and prints nothing.
    let b = w.p("b.img");
    std::fs::File::create(&b)
        .unwrap()
        .set_len(200 << 20)
        .unwrap();
    sh(&format!("mkfs.btrfs -q {} 2>/dev/null", b.display()));
    {
        let l = w.attach();
        sh(&format!("mkfs.ext4 -q -L alpine {}", l.part(3)));
        for n in [2, 3] {
            sh(&format!(
                "dd if={} of={} bs=4096 skip=16 seek=16 count=1 conv=notrunc status=none",
                b.display(),
                l.part(n)
            ));
        }
    }
    let out = w
        .tabula()
        .args(["--json", "plan", "--disk"])
        .arg(w.img())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["data"].clone();
    let line = |o: &str| {
        v["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["object"] == o)
            .unwrap()
            .clone()
    };
    assert_eq!(line("fs:boot")["action"], "DESTROY", "{v}");
    assert!(line("fs:boot")["reason"]
        .as_str()
        .unwrap()
        .contains("several signatures"));
    assert_eq!(line("fs:alpine")["action"], "refuse", "{v}");
}

/// Data without a signature (random bytes: plain dm-crypt, VeraCrypt, raw
/// data look like this) in a NixOS slot is DESTROY, never "empty": refused
/// without `--wipe`, the bytes untouched; with `--wipe` it is formatted.
#[test]
fn random_bytes_in_a_slot_are_destroy_not_empty() {
    if !ready("random_bytes_in_a_slot_are_destroy_not_empty") {
        return;
    }
    let w = Work::new();
    let _ = w.fresh(None);
    let before = {
        let l = w.attach();
        // /boot's slot: no signature left, 3 MB of random bytes from 8 MiB on.
        sh(&format!("wipefs -a -q {}", l.part(2)));
        sh(&format!(
            "head -c 3000000 /dev/urandom | dd of={} bs=1M seek=8 conv=notrunc status=none",
            l.part(2)
        ));
        assert_eq!(blkid(&l.part(2), "TYPE"), "", "a signature is left");
        sha(&l.part(2))
    };
    let out = w
        .tabula()
        .args(["--json", "plan", "--disk"])
        .arg(w.img())
        .output()
        .unwrap();
    let v = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["data"].clone();
    let boot = v["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["object"] == "fs:boot")
        .unwrap()
        .clone();
    assert_eq!(boot["action"], "DESTROY", "{boot}");
    assert!(
        boot["reason"].as_str().unwrap().contains("unknown data"),
        "{boot}"
    );
    // apply without --wipe: refused, naming it; not one byte changed.
    let out = w
        .tabula()
        .args(["apply", "--yes", "--no-open", "--disk"])
        .arg(w.img())
        .arg("--passphrase-file")
        .arg(w.p("pass"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("--wipe fs:boot"), "{stderr}");
    {
        let l = w.attach();
        assert_eq!(sha(&l.part(2)), before, "the data was touched");
    }
    // With --wipe fs:boot: formatted.
    let out = w
        .tabula()
        .args(["apply", "--yes", "--no-open", "--wipe", "fs:boot", "--disk"])
        .arg(w.img())
        .arg("--passphrase-file")
        .arg(w.p("pass"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let l = w.attach();
    assert_eq!(
        blkid(&l.part(2), "UUID"),
        "0eaf7961-48c5-4b55-8a8f-04cd0b71de07"
    );
}

/// `apply` without `--yes` on an image that does not exist: the plan, then
/// exit 2 — no file created, no passphrase asked.
#[test]
fn apply_without_yes_creates_nothing_and_asks_nothing() {
    if !ready("apply_without_yes_creates_nothing_and_asks_nothing") {
        return;
    }
    let w = Work::new();
    let out = w
        .tabula()
        .args(["apply", "--no-open", "--disk"])
        .arg(w.img())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(stderr.contains("add --yes"), "{stderr}");
    assert!(stdout.contains("create      luks:pool"), "{stdout}");
    assert!(!stderr.contains("passphrase"), "asked for it: {stderr}");
    assert!(!w.img().exists(), "the image was created");
    assert!(!w.p("argv.log").exists(), "a command ran");
}

/// `install` where nixos-install is missing stops before the disk: no
/// image created, an existing one unchanged, exit 4.
#[test]
fn install_without_nixos_install_writes_nothing() {
    if !ready("install_without_nixos_install_writes_nothing") {
        return;
    }
    let path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    if std::env::split_paths(path).any(|d| d.join("nixos-install").exists()) {
        eprintln!("SKIP install_without_nixos_install_writes_nothing: nixos-install is here");
        return;
    }
    let w = Work::new();
    let install = |w: &Work| {
        w.tabula()
            .env("PATH", path)
            .args(["install", "--yes", "--no-open", "--target"])
            .arg(w.p("target"))
            .arg("--disk")
            .arg(w.img())
            .arg("--passphrase-file")
            .arg(w.p("pass"))
            .output()
            .unwrap()
    };
    let out = install(&w);
    // An error like any other: on stderr (stdout stays for --json's envelope).
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("nixos-install --flake"), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!w.img().exists(), "the image was created");
    // An existing, provisioned image: not one byte changes.
    let _ = w.fresh(None);
    let before = sha(&w.img().to_string_lossy());
    let out = install(&w);
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(sha(&w.img().to_string_lossy()), before);
    assert!(!w.p("target").exists());
    assert!(w.loops_settled().is_empty());
}
