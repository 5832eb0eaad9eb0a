//! `import --disk` on real loop images: layouts tabula made (the embedded
//! host and the test host, applied with the container left closed: this
//! kernel has no device-mapper) and layouts made with plain commands as
//! other installers leave them. Each import must leave the image's bytes as
//! they were, give a spec `check` accepts (no error) and whose `plan` on the
//! same image creates, formats, destroys and refuses nothing; or be refused
//! with a message naming what. Runs as root; SKIP otherwise.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;
use support::sh;

use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use assert_cmd::Command as Bin;

const PASS: &str = "correct horse battery staple 7";

fn ready(test: &str) -> bool {
    support::disk_ready(
        test,
        &["sha256sum", "debugfs", "mdir", "mmd", "mkswap", "sgdisk"],
    )
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
        let base = support::ImageWork::new("tabula-import-test.", PASS);
        Work { base }
    }
    fn tabula(&self) -> Bin {
        let mut c = Bin::cargo_bin("tabula").unwrap();
        c.env("NO_COLOR", "1");
        c.current_dir(self.dir());
        c
    }
    /// A sparse image of `size` with the partitions `sgdisk ARGS` makes.
    fn sgdisk(&self, size: &str, args: &str) -> support::Loop {
        sh(&format!("truncate -s {size} {}", self.img().display()));
        sh(&format!(
            "sgdisk {args} {} >/dev/null",
            self.img().display()
        ));
        support::Loop::attach(&self.img())
    }
    /// `import --disk IMG --out imported.toml [extra]`: (exit code, stderr).
    fn import(&self, extra: &[&str]) -> (i32, String) {
        let out = self
            .tabula()
            .args(["import", "--disk"])
            .arg(self.img())
            .args(["--out", "imported.toml"])
            .args(extra)
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
    fn spec(&self) -> String {
        std::fs::read_to_string(self.p("imported.toml")).unwrap()
    }
    /// `apply --no-open` of SPEC (the embedded host when None) on the image.
    fn apply_out(&self, spec: Option<&Path>) -> std::process::Output {
        let mut apply = self.tabula();
        if let Some(s) = spec {
            apply.arg("--spec").arg(s);
        }
        apply
            .args(["apply", "--yes", "--no-open", "--disk"])
            .arg(self.img())
            .arg("--passphrase-file")
            .arg(self.p("pass"))
            .timeout(std::time::Duration::from_secs(300))
            .output()
            .unwrap()
    }
    /// [`Work::apply_out`], which must give the layout with its container
    /// formatted and left closed (exit 5). Returns apply's stderr.
    fn apply_closed(&self, spec: Option<&Path>) -> String {
        let out = self.apply_out(spec);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(5), "apply: {err}");
        err
    }
    /// `import --disk IMG` with debugfs shimmed to pause `secs` seconds
    /// first: the running import once it is inside debugfs, and the shim's
    /// mark file (its PID).
    fn import_paused(&self, secs: u32) -> (std::process::Child, PathBuf) {
        let shim = self.p("shim");
        std::fs::create_dir_all(&shim).unwrap();
        let mark = self.p("in-debugfs");
        let _ = std::fs::remove_file(&mark);
        // The real one by its path: `exec debugfs` would find the shim again.
        let real = ["/usr/sbin/debugfs", "/sbin/debugfs"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap();
        std::fs::write(
            shim.join("debugfs"),
            format!(
                "#!/bin/sh\necho $$ > {}\nsleep {secs}\nexec {real} \"$@\"\n",
                mark.display()
            ),
        )
        .unwrap();
        sh(&format!("chmod 755 {}", shim.join("debugfs").display()));
        let path = format!(
            "{}:{}",
            shim.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut child = Command::new(env!("CARGO_BIN_EXE_tabula"))
            .args(["import", "--disk"])
            .arg(self.img())
            .current_dir(self.dir())
            .env("PATH", path)
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !mark.exists() {
            assert!(child.try_wait().unwrap().is_none(), "import ended first");
            assert!(
                std::time::Instant::now() < deadline,
                "import never ran debugfs"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        (child, mark)
    }
    /// `check` of the imported spec: no error (warnings are allowed).
    fn checks_clean(&self) {
        let out = self
            .tabula()
            .args(["--spec", "imported.toml", "check"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            text.contains(" 0 error(s)"),
            "check finds errors in the imported spec:\n{text}\n{}",
            self.spec()
        );
    }
    /// `plan` of the imported spec on the image: all keep (nothing
    /// created, formatted, destroyed or refused). Returns the plan.
    fn plans_all_keep(&self) -> String {
        let out = self
            .tabula()
            .args(["--spec", "imported.toml", "plan", "--disk"])
            .arg(self.img())
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(
            out.status.code(),
            Some(0),
            "plan refused:\n{text}{}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.spec()
        );
        assert!(
            text.contains("0 create, 0 format,") && text.contains("0 DESTROY, 0 refuse"),
            "plan of the imported spec is not all keep:\n{text}\n{}",
            self.spec()
        );
        text
    }
}

/// sha256 of a sparse image's content: every non-zero 64 KiB block with
/// its index, found through the data extents (SEEK_DATA/SEEK_HOLE), so a
/// 256 GB image hashes in a moment and extents the filesystem converts
/// later (delayed allocation) do not change it.
fn image_hash(img: &Path) -> String {
    use rustix::fs::{seek, SeekFrom as RSeek};
    const BLOCK: u64 = 64 * 1024;
    let mut f = std::fs::File::open(img).unwrap();
    let len = f.metadata().unwrap().len();
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut buf = vec![0u8; BLOCK as usize];
    let mut next = 0u64; // the first block not hashed yet
    let mut at = 0u64;
    while at < len {
        let Ok(start) = seek(&f, RSeek::Data(at)) else {
            break; // ENXIO: no data after `at`
        };
        let end = seek(&f, RSeek::Hole(start)).unwrap();
        for block in (start / BLOCK).max(next)..end.div_ceil(BLOCK) {
            let off = block * BLOCK;
            let n = usize::try_from(BLOCK.min(len - off)).unwrap();
            f.seek(SeekFrom::Start(off)).unwrap();
            f.read_exact(&mut buf[..n]).unwrap();
            if buf[..n].iter().any(|b| *b != 0) {
                stdin.write_all(format!("@{block}\n").as_bytes()).unwrap();
                stdin.write_all(&buf[..n]).unwrap();
            }
            next = block + 1;
        }
        at = end;
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// apply SPEC (container formatted, not opened), then import: the spec
/// names the partitions and the closed container as they are, the plan is
/// all keep, the image is unchanged, no loop device stays.
fn round_trip(spec: Option<&Path>, size: &str, test: &str) {
    if !ready(test) {
        return;
    }
    let w = Work::new();
    sh(&format!("truncate -s {size} {}", w.img().display()));
    w.apply_closed(spec);
    let before = image_hash(&w.img());
    let (code, err) = w.import(&[]);
    // The closed container's inside is left out: exit 1, named.
    assert_eq!(code, 1, "{err}");
    let spec_text = w.spec();
    assert!(
        spec_text.contains("# LEFT OUT") && spec_text.contains("the container is closed"),
        "{spec_text}"
    );
    for want in [
        "uuid = \"3c75c6db-4d7c-4570-81f1-02d168781aac\"",
        "filesystem = { type = \"vfat\", uuid = \"2CE0-6722\", label = \"ESP\" }",
        "uuid = \"0eaf7961-48c5-4b55-8a8f-04cd0b71de07\"",
        "label = \"pool\"",
        "luks = true",
    ] {
        assert!(spec_text.contains(want), "no `{want}` in:\n{spec_text}");
    }
    w.checks_clean();
    let plan = w.plans_all_keep();
    assert!(plan.contains("luks:pool"), "{plan}");
    assert_eq!(
        image_hash(&w.img()),
        before,
        "import or plan wrote to the image"
    );
    assert!(
        support::loops_settled(&w.img()).is_empty(),
        "a loop device stayed"
    );
}

#[test]
fn round_trip_test_host_plans_all_keep() {
    let spec = support::disk_spec();
    round_trip(Some(&spec), "1G", "round_trip_test_host_plans_all_keep");
}

#[test]
fn round_trip_embedded_host_plans_all_keep() {
    round_trip(None, "256G", "round_trip_embedded_host_plans_all_keep");
}

#[test]
fn swap_partition_is_left_out_and_the_rest_plans_keep() {
    if !ready("swap_partition_is_left_out_and_the_rest_plans_keep") {
        return;
    }
    let w = Work::new();
    // sgdisk as an installer runs it: the last partition to the disk's end.
    let l = w.sgdisk(
        "512M",
        "-n1:1M:+64M -t1:ef00 -c1:ESP -n2:0:+64M -t2:8200 -c2:swap -n3:0:0 -t3:8300 -c3:nixos",
    );
    sh(&format!("mkfs.vfat -n ESP {} >/dev/null", l.part(1)));
    sh(&format!("mkswap {} >/dev/null", l.part(2)));
    let root = w.p("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/os-release"), "NAME=NixOS\nID=nixos\n").unwrap();
    sh(&format!(
        "mkfs.ext4 -q -L nixos -d {} {}",
        root.display(),
        l.part(3)
    ));
    drop(l);
    let before = image_hash(&w.img());
    let (code, err) = w.import(&[]);
    assert_eq!(code, 1, "a left-out swap partition is exit 1: {err}");
    assert!(err.contains("partition 2 (`swap`"), "{err}");
    let spec = w.spec();
    assert!(spec.contains("#   - partition 2 (`swap`"), "{spec}");
    // The root read from its os-release (not guessed), to the disk's end.
    assert!(
        spec.contains("label = \"nixos\"\nsize = \"rest\"\nstart = \"129MiB\""),
        "{spec}"
    );
    assert!(
        spec.contains("owner = \"nixos\"\nfilesystem = { type = \"ext4\""),
        "{spec}"
    );
    assert!(
        spec.contains("path = \"/\"\npartition = \"nixos\""),
        "{spec}"
    );
    w.checks_clean();
    let plan = w.plans_all_keep();
    assert!(plan.contains("`swap` (swap"), "{plan}");
    assert_eq!(image_hash(&w.img()), before);
}

#[test]
fn ext4_root_without_luks_is_described_whole() {
    if !ready("ext4_root_without_luks_is_described_whole") {
        return;
    }
    let w = Work::new();
    let l = w.sgdisk(
        "512M",
        "-n1:1M:+100M -t1:ef00 -c1:ESP -n2:0:+300M -t2:8304 -c2:root",
    );
    sh(&format!("mkfs.vfat -n ESP {} >/dev/null", l.part(1)));
    let root = w.p("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/os-release"), "NAME=NixOS\nID=nixos\n").unwrap();
    sh(&format!("mkfs.ext4 -q -d {} {}", root.display(), l.part(2)));
    drop(l);
    let before = image_hash(&w.img());
    let (code, err) = w.import(&[]);
    assert_eq!(code, 0, "everything seen is described: {err}");
    let spec = w.spec();
    assert!(!spec.contains("LEFT OUT"), "{spec}");
    assert!(
        spec.contains("type = \"linux-root\"\nowner = \"nixos\"\n"),
        "{spec}"
    );
    assert!(
        spec.contains("path = \"/boot\"\npartition = \"ESP\""),
        "{spec}"
    );
    w.checks_clean();
    w.plans_all_keep();
    assert_eq!(image_hash(&w.img()), before);
}

#[test]
fn mbr_disk_is_refused_naming_the_table() {
    if !ready("mbr_disk_is_refused_naming_the_table") {
        return;
    }
    let w = Work::new();
    sh(&format!("truncate -s 128M {}", w.img().display()));
    sh(&format!(
        "printf 'label: dos\\n,64M,83\\n,,83\\n' | sfdisk -q {}",
        w.img().display()
    ));
    let before = image_hash(&w.img());
    let (code, err) = w.import(&[]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("MBR (dos) partition table"), "{err}");
    assert!(err.contains("GPT"), "{err}");
    assert!(
        !w.p("imported.toml").exists(),
        "a refused import wrote a spec"
    );
    assert_eq!(image_hash(&w.img()), before);
}

#[test]
fn luks2_flat_layout_keeps_the_closed_container() {
    if !ready("luks2_flat_layout_keeps_the_closed_container") {
        return;
    }
    let w = Work::new();
    // As Calamares and disko's luks-btrfs example lay it out: an ESP, then
    // a LUKS2 partition to the end of the disk (pbkdf2 here: a cheap KDF).
    let l = w.sgdisk(
        "512M",
        "-n1:1M:+300M -t1:ef00 -n2:0:0 -t2:8309 -c2:cryptroot",
    );
    sh(&format!("mkfs.vfat {} >/dev/null", l.part(1)));
    sh(&format!(
        "printf pw | cryptsetup luksFormat -q --type luks2 --uuid 0b1c3bd5-1cb2-4e4a-a5a6-3a8d0f0e9a11 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file - {}",
        l.part(2)
    ));
    drop(l);
    let before = image_hash(&w.img());
    let (code, err) = w.import(&[]);
    assert_eq!(code, 1, "{err}");
    let spec = w.spec();
    for want in [
        "partition = \"cryptroot\"",
        "uuid = \"0b1c3bd5-1cb2-4e4a-a5a6-3a8d0f0e9a11\"",
        "kdf = \"pbkdf2\"",
        "cipher aes-xts-plain64, key slot(s) 0",
        "label = \"part1\"  # guessed:",
        "size = \"rest\"",
    ] {
        assert!(spec.contains(want), "no `{want}` in:\n{spec}");
    }
    w.checks_clean();
    let plan = w.plans_all_keep();
    assert!(plan.contains("closed"), "{plan}");
    assert_eq!(image_hash(&w.img()), before);
}

#[test]
fn passphrase_without_device_mapper_is_left_out_not_an_error() {
    if !ready("passphrase_without_device_mapper_is_left_out_not_an_error") {
        return;
    }
    if tabula_disk_has_dm() {
        eprintln!("SKIP passphrase_without_device_mapper_is_left_out_not_an_error: this kernel has device-mapper");
        return;
    }
    let w = Work::new();
    let l = w.sgdisk("256M", "-n1:1M:+64M -t1:ef00 -n2:0:0 -t2:8309");
    sh(&format!("mkfs.vfat {} >/dev/null", l.part(1)));
    sh(&format!(
        "cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file {} {}",
        w.p("pass").display(),
        l.part(2)
    ));
    drop(l);
    let before = image_hash(&w.img());
    let pass = w.p("pass");
    let (code, err) = w.import(&["--passphrase-file", pass.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no device-mapper"), "{err}");
    assert!(!err.contains(PASS), "the passphrase was printed");
    assert!(!w.spec().contains(PASS));
    assert_eq!(image_hash(&w.img()), before);
}

fn tabula_disk_has_dm() -> bool {
    Path::new("/dev/mapper/control").exists()
        && std::fs::read_to_string("/proc/misc").is_ok_and(|m| m.contains("device-mapper"))
}

#[test]
fn ntfs_and_msr_are_windows_and_the_esp_is_shared() {
    if !ready("ntfs_and_msr_are_windows_and_the_esp_is_shared") {
        return;
    }
    if !support::have("mkfs.ntfs") {
        eprintln!("SKIP ntfs_and_msr_are_windows_and_the_esp_is_shared: needs mkfs.ntfs (ntfs-3g)");
        return;
    }
    let w = Work::new();
    let l = w.sgdisk(
        "512M",
        "-n1:1M:+100M -t1:ef00 -n2:0:+16M -t2:0c01 -n3:0:+200M -t3:0700",
    );
    sh(&format!("mkfs.vfat -n SYSTEM {} >/dev/null", l.part(1)));
    sh(&format!(
        "MTOOLS_SKIP_CHECK=1 mmd -i {} ::/EFI ::/EFI/Microsoft ::/EFI/Microsoft/Boot",
        l.part(1)
    ));
    sh(&format!(
        "mkfs.ntfs -Q -L Windows {} >/dev/null 2>&1",
        l.part(3)
    ));
    drop(l);
    let before = image_hash(&w.img());
    let (code, err) = w.import(&[]);
    // No NixOS root on a Windows disk: left out, named.
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no NixOS root filesystem"), "{err}");
    let spec = w.spec();
    for want in [
        "shared_with = [\"windows\"]",
        "type = \"windows-reserved\"\nowner = \"windows\"",
        "type = \"windows-data\"\nowner = \"windows\"\nfilesystem = { type = \"ntfs\"",
    ] {
        assert!(spec.contains(want), "no `{want}` in:\n{spec}");
    }
    w.checks_clean();
    w.plans_all_keep();
    assert_eq!(image_hash(&w.img()), before);
}

#[test]
fn out_is_never_overwritten_without_force() {
    if !ready("out_is_never_overwritten_without_force") {
        return;
    }
    let w = Work::new();
    let l = w.sgdisk("128M", "-n1:1M:+64M -t1:ef00");
    sh(&format!("mkfs.vfat {} >/dev/null", l.part(1)));
    drop(l);
    std::fs::write(w.p("imported.toml"), "mine\n").unwrap();
    let (code, err) = w.import(&[]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("exists; pass --force"), "{err}");
    assert_eq!(w.spec(), "mine\n");
    let (code, err) = w.import(&["--force"]);
    assert_eq!(code, 1, "{err}");
    assert!(w.spec().contains("[[partition]]"));
    // A link at --out is never written through, not even with --force.
    std::fs::write(w.p("victim"), "kept\n").unwrap();
    std::fs::remove_file(w.p("imported.toml")).unwrap();
    std::os::unix::fs::symlink(w.p("victim"), w.p("imported.toml")).unwrap();
    let (code, err) = w.import(&["--force"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read_to_string(w.p("victim")).unwrap(), "kept\n");
}

#[test]
fn init_from_disk_writes_the_import() {
    if !ready("init_from_disk_writes_the_import") {
        return;
    }
    let w = Work::new();
    let l = w.sgdisk(
        "256M",
        "-n1:1M:+64M -t1:ef00 -c1:ESP -n2:0:+128M -t2:8300 -c2:root",
    );
    sh(&format!("mkfs.vfat {} >/dev/null", l.part(1)));
    sh(&format!("mkfs.ext4 -q {}", l.part(2)));
    drop(l);
    let out = w
        .tabula()
        .args(["init", "--from-disk"])
        .arg(w.img())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let spec = std::fs::read_to_string(w.p("host.toml")).unwrap();
    assert!(
        spec.starts_with(
            "#:schema ./host.schema.json\n# tabula host spec, written by `tabula import`"
        ),
        "{spec}"
    );
    assert!(spec.contains("label = \"root\""), "{spec}");
    assert!(w.p("host.schema.json").exists());
}

#[test]
fn flat_btrfs_subvolumes_are_read_unmounted_and_mounted_by_name() {
    if !ready("flat_btrfs_subvolumes_are_read_unmounted_and_mounted_by_name") {
        return;
    }
    if !support::have("mkfs.btrfs") {
        eprintln!(
            "SKIP flat_btrfs_subvolumes_are_read_unmounted_and_mounted_by_name: needs mkfs.btrfs"
        );
        return;
    }
    let w = Work::new();
    // As Calamares and disko's examples make them: @, @home, @nix, @log.
    let l = w.sgdisk(
        "512M",
        "-n1:1M:+64M -t1:ef00 -c1:ESP -n2:0:0 -t2:8300 -c2:nixos",
    );
    sh(&format!("mkfs.vfat -n ESP {} >/dev/null", l.part(1)));
    sh(&format!("mkfs.btrfs -q -L nixos {}", l.part(2)));
    let mnt = w.p("mnt");
    std::fs::create_dir(&mnt).unwrap();
    sh(&format!("mount {} {}", l.part(2), mnt.display()));
    for s in ["@", "@home", "@nix", "@log"] {
        let made = Command::new("btrfs")
            .args(["-q", "subvolume", "create"])
            .arg(mnt.join(s))
            .status()
            .unwrap();
        if !made.success() {
            sh(&format!("umount {}", mnt.display()));
            panic!("btrfs subvolume create {s} failed");
        }
    }
    sh(&format!("umount {}", mnt.display()));
    drop(l);
    let before = image_hash(&w.img());
    let (code, err) = w.import(&[]);
    assert_eq!(code, 0, "{err}");
    let spec = w.spec();
    for want in [
        "[btrfs]\nlabel = \"nixos\"",
        "[[btrfs.subvolume]]\npath = \"@home\"",
        "path = \"/\"\nsubvolume = \"@\"  # guessed:",
        "path = \"/nix\"\nsubvolume = \"@nix\"  # guessed:",
        "path = \"/var/log\"\nsubvolume = \"@log\"  # guessed:",
        "path = \"/home\"\nsubvolume = \"@home\"  # guessed:",
    ] {
        assert!(spec.contains(want), "no `{want}` in:\n{spec}");
    }
    w.checks_clean();
    w.plans_all_keep();
    assert_eq!(image_hash(&w.img()), before);
}

/// The test host applied (container closed) on a fresh 1 GiB image: the
/// work folder, the spec, and the image's hash. None (SKIP) when not ready.
fn applied_test_host(test: &str) -> Option<(Work, PathBuf, String)> {
    if !ready(test) {
        return None;
    }
    let w = Work::new();
    sh(&format!("truncate -s 1G {}", w.img().display()));
    let spec = support::disk_spec();
    w.apply_closed(Some(&spec));
    let before = image_hash(&w.img());
    Some((w, spec, before))
}

/// `import` killed with kill -9 while it reads (inside debugfs, paused by a
/// PATH shim) leaves its read-only loop device behind. The next plan works
/// beside it, and the next writer (apply) detaches it, as tabula's own
/// leftover whose run is gone, instead of refusing the image; no loop
/// device stays after, and neither the kill nor the runs after it wrote
/// to the image.
#[test]
fn a_killed_import_leaves_nothing_that_blocks_the_next_writer() {
    let test = "a_killed_import_leaves_nothing_that_blocks_the_next_writer";
    let Some((w, spec, before)) = applied_test_host(test) else {
        return;
    };

    let (mut child, mark) = w.import_paused(60);
    child.kill().unwrap();
    child.wait().unwrap();
    // The shim, orphaned: ours (this test started the run), by its PID.
    let shim_pid = std::fs::read_to_string(&mark).unwrap();
    sh(&format!("kill -9 {} 2>/dev/null; true", shim_pid.trim()));
    let left = support::loops_settled(&w.img());
    assert_eq!(left.len(), 1, "the killed import's device: {left:?}");
    let ro = std::fs::read_to_string(format!(
        "/sys/class/block/{}/ro",
        left[0].trim_start_matches("/dev/")
    ))
    .unwrap();
    assert_eq!(ro.trim(), "1", "attached read-only");

    let plan = w
        .tabula()
        .arg("--spec")
        .arg(&spec)
        .args(["plan", "--disk"])
        .arg(w.img())
        .output()
        .unwrap();
    assert_eq!(plan.status.code(), Some(0), "{plan:?}");

    let err = w.apply_closed(Some(&spec));
    assert!(
        err.contains(&format!("detaching {}, left attached read-only", left[0])),
        "{err}"
    );
    assert!(
        support::loops_settled(&w.img()).is_empty(),
        "a loop device stayed"
    );
    assert_eq!(image_hash(&w.img()), before, "the image was written");
}

/// A writer while an import reads the image (paused inside debugfs): apply
/// and mount are refused at once, naming the running import, and take
/// nothing over; the import then ends as usual, detaching its own device,
/// and the same apply goes through.
#[test]
fn an_import_at_work_is_not_taken_over_by_a_writer() {
    let test = "an_import_at_work_is_not_taken_over_by_a_writer";
    let Some((w, spec, before)) = applied_test_host(test) else {
        return;
    };
    let (mut child, _) = w.import_paused(15);
    let mnt = w.p("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let mount = w
        .tabula()
        .arg("--spec")
        .arg(&spec)
        .args(["mount", "--disk"])
        .arg(w.img())
        .arg("--target")
        .arg(&mnt)
        .arg("--passphrase-file")
        .arg(w.p("pass"))
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    for (what, out) in [("apply", w.apply_out(Some(&spec))), ("mount", mount)] {
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{what}: {err}");
        assert!(
            err.contains(&format!(
                "is being read by a running tabula (PID {}",
                child.id()
            )),
            "{what}: {err}"
        );
    }
    // A safety net (the import takes ~15 s here): ours, by PID.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the import did not end in 120 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    // The closed container's inside is left out: import's exit 1.
    assert_eq!(status.code(), Some(1));
    assert!(support::loops_settled(&w.img()).is_empty());
    let err = w.apply_closed(Some(&spec));
    assert!(!err.contains("detaching"), "{err}");
    assert_eq!(image_hash(&w.img()), before, "the image was written");
}
