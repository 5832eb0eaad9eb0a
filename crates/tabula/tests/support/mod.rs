//! Helpers shared by the integration tests that need root, tools and the
//! shell fixtures under `tests/fixtures/nixos/`. Each test file includes it
//! with `mod support;` and uses what it needs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Whether `program` is on PATH (or in /usr/sbin, /sbin, which a root PATH
/// may lack).
pub fn have(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| {
        std::env::split_paths(&p).any(|d| d.join(program).is_file())
            || ["/usr/sbin", "/sbin"]
                .iter()
                .any(|d| Path::new(d).join(program).is_file())
    })
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// True when root and every tool is there; otherwise prints one SKIP line
/// naming what is missing.
pub fn ready(test: &str, tools: &[&str], why: &str) -> bool {
    let missing: Vec<&str> = tools.iter().copied().filter(|p| !have(p)).collect();
    if !is_root() || !missing.is_empty() {
        eprintln!(
            "SKIP {test}: needs root and {why}; missing: {missing:?}, root: {}",
            is_root()
        );
        return false;
    }
    true
}

/// A temp dir with an empty `out/` folder for a fixture script's results.
pub fn out_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    (dir, out)
}

/// Run `tests/fixtures/nixos/<script>` in a private mount namespace with
/// TABULA, OUT and FIXTURES set; it must exit 0 and leave `OUT/finished`.
pub fn run_fixture(script: &str, out: &Path) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nixos");
    let o = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh"])
        .arg(fixtures.join(script))
        .env("TABULA", env!("CARGO_BIN_EXE_tabula"))
        .env("OUT", out)
        .env("FIXTURES", &fixtures)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        o.status.success() && out.join("finished").exists(),
        "{script} failed: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The loop devices attached to `img` now (`losetup -j`).
pub fn loops_of(img: &Path) -> Vec<String> {
    let out = Command::new("losetup")
        .args(["--noheadings", "--output", "NAME", "-j"])
        .arg(img)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

/// The loop devices still attached to `img` after up to 10 s: `losetup -d`
/// on a device another process holds open for a moment (a parallel test's
/// `losetup -j`) detaches it only when that holder lets go.
pub fn loops_settled(img: &Path) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let l = loops_of(img);
        if l.is_empty() || std::time::Instant::now() > deadline {
            return l;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Detach every loop device of `img`, by name: `partx -d` first, since
/// `losetup -d` leaves the partition nodes behind on this kernel.
pub fn detach_all(img: &Path) {
    for l in loops_of(img) {
        let _ = Command::new("partx").args(["-d", &l]).output();
        let _ = Command::new("losetup").args(["-d", &l]).output();
    }
}

/// `n` bytes from /dev/urandom: a keyfile tabula accepts (it refuses short
/// or low-entropy ones).
pub fn random_bytes(n: usize) -> Vec<u8> {
    use std::io::Read as _;
    let mut v = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut v)
        .unwrap();
    v
}

// ---------------------------------------------------------------------------
// The disk tests (disk_host, disk_keys, disk_prompt, disk_signals,
// disk_mounts): one prelude.

/// The disk tests' spec: tabula-disk's small test host.
pub fn disk_spec() -> PathBuf {
    std::fs::canonicalize(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tabula-disk/tests/fixtures/test-host.toml"),
    )
    .unwrap()
}

/// The tools every disk test runs (tabula's, and the test's own checks).
pub const DISK_TOOLS: &[&str] = &[
    "sgdisk",
    "sfdisk",
    "partx",
    "losetup",
    "blkid",
    "wipefs",
    "mkfs.vfat",
    "mkfs.ext4",
    "cryptsetup",
];

/// Root, [`DISK_TOOLS`] and `extra`, or one SKIP line naming what is missing.
pub fn disk_ready(test: &str, extra: &[&str]) -> bool {
    let tools: Vec<&str> = DISK_TOOLS.iter().chain(extra).copied().collect();
    ready(test, &tools, "loop devices and the disk tools")
}

/// `sh -c CMD`, which must succeed; its stdout.
pub fn sh(cmd: &str) -> String {
    let out = Command::new("sh").args(["-c", cmd]).output().unwrap();
    assert!(
        out.status.success(),
        "`{cmd}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A loop device the test attached; detached by name on drop (`partx -d`
/// first, see [`detach_all`]).
pub struct Loop(pub String);

impl Loop {
    /// `losetup -f --show IMG` and `partx -a`.
    pub fn attach(img: &Path) -> Loop {
        let dev = sh(&format!("losetup -f --show {}", img.display()))
            .trim()
            .to_owned();
        let l = Loop(dev);
        sh(&format!("partx -a {}", l.0));
        l
    }

    /// The node of partition `n`.
    pub fn part(&self, n: u32) -> String {
        format!("{}p{n}", self.0)
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("partx").args(["-d", &self.0]).output();
        let _ = Command::new("losetup").args(["-d", &self.0]).output();
    }
}

/// The statically linked tabula (`scripts/build-static.sh --debug`, in
/// target/static), built once per test process; `TABULA_STATIC_BIN` names a
/// prebuilt one instead. None (with a SKIP line) when the build fails for
/// want of a static libc (Debian's libc6-dev ships libc.a).
pub fn static_tabula(test: &str) -> Option<PathBuf> {
    use std::sync::OnceLock;
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let got = BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("TABULA_STATIC_BIN") {
            return Ok(PathBuf::from(p));
        }
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        if !Path::new("/usr/lib/x86_64-linux-gnu/libc.a").is_file() {
            return Err("no static glibc (/usr/lib/x86_64-linux-gnu/libc.a, libc6-dev)".into());
        }
        let started = std::time::Instant::now();
        let out = Command::new("bash")
            .arg(repo.join("scripts/build-static.sh"))
            .arg("--debug")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_TARGET_DIR")
            .output()
            .map_err(|e| format!("cannot run scripts/build-static.sh: {e}"))?;
        eprintln!(
            "scripts/build-static.sh --debug took {:.1}s",
            started.elapsed().as_secs_f64()
        );
        // A static libc that is there but does not link is a failure, not a skip.
        assert!(
            out.status.success(),
            "scripts/build-static.sh failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
    });
    match got {
        Ok(p) => Some(p.clone()),
        Err(why) => {
            eprintln!("SKIP {test}: {why}");
            None
        }
    }
}
