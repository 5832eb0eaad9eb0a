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

// ---------------------------------------------------------------------------
// The CLI tests (error_messages, spec_in_use, json_envelope, schema_cli): one
// builder.

/// `tabula` run in `dir`: no `TABULA_SPEC` from the environment, no colour.
pub fn tabula_in(dir: &Path) -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("tabula").unwrap();
    c.current_dir(dir)
        .env_remove("TABULA_SPEC")
        .env("NO_COLOR", "1");
    c
}

/// `tabula ARGS` in `dir` (see [`tabula_in`]): exit code, stdout, stderr.
pub fn run_in(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = tabula_in(dir).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

// ---------------------------------------------------------------------------
// A real JSON Schema validator (Python `jsonschema`, Debian
// python3-jsonschema), for json_envelope (JSON documents) and schema_cli
// (host.toml files, read with Python's `tomllib`).

/// What the validated files hold.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Docs {
    Json,
    Toml,
}

const VALIDATE: &str = r#"
import json, sys
from jsonschema import Draft202012Validator
kind = sys.argv[1]
schema = json.load(open(sys.argv[2]))
Draft202012Validator.check_schema(schema)
v = Draft202012Validator(schema)
for path in sys.argv[3:]:
    if kind == "toml":
        import tomllib
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    else:
        try:
            doc = json.loads(open(path).read())
        except ValueError as e:
            print(path, "FAIL not one JSON document:", e)
            continue
    errs = sorted(v.iter_errors(doc), key=lambda e: list(e.path))
    if errs:
        sep, cut = (".", None) if kind == "toml" else ("/", 200)
        print(path, "FAIL", "; ".join(f"{sep.join(map(str, e.path))}: {e.message[:cut]}" for e in errs))
    else:
        print(path, "OK")
"#;

/// Whether python3 has `jsonschema` (and `tomllib` for [`Docs::Toml`]).
pub fn have_jsonschema(docs: Docs) -> bool {
    let import = match docs {
        Docs::Json => "import jsonschema",
        Docs::Toml => "import jsonschema, tomllib",
    };
    Command::new("python3")
        .args(["-c", import])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Validate each file against the schema (Draft 2020-12, the schema itself
/// checked first): (file, Ok or the errors), one per file, in order.
pub fn validate(
    schema: &Path,
    docs: Docs,
    files: &[PathBuf],
) -> Vec<(PathBuf, Result<(), String>)> {
    let out = Command::new("python3")
        .arg("-c")
        .arg(VALIDATE)
        .arg(if docs == Docs::Toml { "toml" } else { "json" })
        .arg(schema)
        .args(files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "validator failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), files.len(), "{text}");
    files
        .iter()
        .zip(text.lines())
        .map(|(f, line)| {
            let rest = line.strip_prefix(&*f.to_string_lossy()).unwrap().trim();
            (
                f.clone(),
                if rest == "OK" {
                    Ok(())
                } else {
                    Err(rest.to_owned())
                },
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------
// disk_wipe's prelude: one image in a temp dir, tabula on it.

/// A temp dir with an image path (`disk.img`) and a passphrase file
/// (`pass`); detaches every loop device of the image when dropped.
pub struct ImageWork {
    dir: tempfile::TempDir,
}

impl ImageWork {
    /// The temp dir named `prefix...`, holding `pass` (the passphrase and a
    /// newline).
    pub fn new(prefix: &str, pass: &str) -> ImageWork {
        let dir = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
        std::fs::write(dir.path().join("pass"), format!("{pass}\n")).unwrap();
        ImageWork { dir }
    }

    /// The temp dir.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn img(&self) -> PathBuf {
        self.p("disk.img")
    }

    /// `tabula --spec DISK_SPEC`, no colour.
    pub fn tabula(&self) -> assert_cmd::Command {
        let mut c = assert_cmd::Command::cargo_bin("tabula").unwrap();
        c.arg("--spec").arg(disk_spec());
        c.env("NO_COLOR", "1");
        c
    }

    /// `tabula ARGS --disk IMG`: exit code, stdout, stderr.
    pub fn run(&self, args: &[&str]) -> (Option<i32>, String, String) {
        let out = self
            .tabula()
            .args(args)
            .arg("--disk")
            .arg(self.img())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The image's sha256.
    pub fn hash(&self) -> String {
        sh(&format!("sha256sum {}", self.img().display()))
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned()
    }
}

impl Drop for ImageWork {
    fn drop(&mut self) {
        detach_all(&self.img());
    }
}

/// `cmd` (a shell command line) on a pseudo-terminal (util-linux's
/// `script`), in `dir`, with `envs` added: each answer is typed once the
/// text before it is on the screen (echo-off drops type-ahead), and stdin
/// stays open until the command is done (an EOF could reach it as ^D).
/// Returns the exit code and the whole terminal transcript.
pub fn on_a_terminal(
    dir: &Path,
    cmd: &str,
    envs: &[(&str, &std::ffi::OsStr)],
    answers: &[(&str, &str)],
) -> (i32, String) {
    use std::io::{Read as _, Write as _};
    use std::process::Stdio;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", cmd, "/dev/null"])
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .envs(envs.iter().copied())
        .env_remove("TABULA_SPEC")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let screen = Arc::new(Mutex::new(Vec::<u8>::new()));
    let reader = {
        let screen = Arc::clone(&screen);
        let mut out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                screen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    };
    let text = |s: &Arc<Mutex<Vec<u8>>>| String::from_utf8_lossy(&s.lock().unwrap()).into_owned();
    let mut stdin = child.stdin.take().unwrap();
    let mut seen = 0;
    for (wait_for, typed) in answers {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let now = text(&screen);
            if let Some(at) = now[seen..].find(wait_for) {
                seen += at + wait_for.len();
                break;
            }
            if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
                let _ = child.kill();
                let _ = child.wait();
                panic!("no {wait_for:?} on the terminal:\n{now}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        stdin.write_all(typed.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tabula did not finish:\n{}", text(&screen));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(stdin);
    reader.join().unwrap();
    let mut err = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut err);
    assert!(err.is_empty(), "script itself complained: {err}");
    (status.code().unwrap_or(-1), text(&screen))
}

// ---------------------------------------------------------------------------
// Mounts a test makes inside its own temp directory (import_root, ship_static).

/// Unmounts what the test mounted, innermost first, even on a panic.
#[derive(Default)]
pub struct Mounted(Vec<PathBuf>);

impl Drop for Mounted {
    fn drop(&mut self) {
        for p in self.0.iter().rev() {
            let _ = Command::new("umount").arg(p).status();
        }
    }
}

/// `mount ARGS AT`; on success AT joins the guard's list.
pub fn mount(args: &[&str], at: &Path, guard: &mut Mounted) -> bool {
    let ok = Command::new("mount")
        .args(args)
        .arg(at)
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        guard.0.push(at.to_path_buf());
    }
    ok
}

/// A small tmpfs of `size` mounted at `dir` (made here), in the guard.
/// False, with one SKIP line for `test`, where it cannot be mounted (not
/// root).
pub fn small_fs(test: &str, dir: &Path, size: &str, guard: &mut Mounted) -> bool {
    std::fs::create_dir_all(dir).unwrap();
    let opts = format!("size={size}");
    let ok = is_root() && mount(&["-t", "tmpfs", "-o", &opts, "tabula-test"], dir, guard);
    if !ok {
        println!("SKIP {test}: needs root to mount a tmpfs");
    }
    ok
}

/// Fill the filesystem of `dir` to the last byte with a file `filler`
/// (written until ENOSPC); returns its path, to remove later.
pub fn fill(dir: &Path) -> PathBuf {
    use std::io::Write as _;
    let p = dir.join("filler");
    let mut f = std::fs::File::create(&p).unwrap();
    let block = vec![0x5au8; 4096];
    loop {
        match f.write(&block) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(28) => break,
            Err(e) => panic!("filling {}: {e}", dir.display()),
        }
    }
    let _ = f.sync_all();
    p
}

/// Every file under `dir` (not the folders), depth first.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}
