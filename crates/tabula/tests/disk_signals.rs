//! An apply that is killed (`kill -9`), terminated (SIGTERM) or interrupted
//! (SIGINT, Ctrl-C at the passphrase prompt) converges when run again with
//! the same arguments, leaves no loop device attached to its image, and
//! leaves the terminal as it found it. On sparse images with the real tools;
//! the run is paused at a known point by a PATH shim of `mkfs.ext4` that
//! holds the partition open and sleeps before running the real tool (as a
//! slow mkfs would). Runs as root; prints a SKIP line otherwise.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;
use support::disk_spec as spec_path;

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PASS: &str = "signals-Kq4 amber teapot 8812";

fn ready(test: &str) -> bool {
    support::disk_ready(test, &["script", "stty"])
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
        let base = support::ImageWork::new("tabula-signals-test.", PASS);
        let dir = base.dir();
        // The shim: marks that it runs, holds the partition open, sleeps,
        // then runs the real mkfs.ext4.
        let shim = dir.join("shim");
        std::fs::create_dir(&shim).unwrap();
        let real = ["/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap();
        let script = format!(
            "#!/bin/sh\nfor a; do last=$a; done\nexec 3<\"$last\"\necho $$ > {mark}\nsleep ${{SHIM_SLEEP:-4}}\nexec {real} \"$@\"\n",
            mark = dir.join("in-mkfs").display()
        );
        let p = shim.join("mkfs.ext4");
        std::fs::write(&p, script).unwrap();
        Command::new("chmod").arg("755").arg(&p).status().unwrap();
        Work { base }
    }
    fn path_env(&self) -> String {
        format!(
            "{}:{}",
            self.p("shim").display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }
    /// `tabula apply --yes --no-open` on the image, as a child (shimmed).
    fn spawn_apply(&self, out: &str) -> Child {
        Command::new(env!("CARGO_BIN_EXE_tabula"))
            .arg("--spec")
            .arg(spec_path())
            .args(["apply", "--yes", "--no-open", "--disk"])
            .arg(self.img())
            .arg("--passphrase-file")
            .arg(self.p("pass"))
            .env("PATH", self.path_env())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(self.p(&format!("{out}.out"))).unwrap())
            .stderr(std::fs::File::create(self.p(&format!("{out}.err"))).unwrap())
            .spawn()
            .unwrap()
    }
    /// Wait until the shim runs (tabula is inside its mkfs.ext4 step).
    fn wait_in_mkfs(&self, child: &mut Child) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !self.p("in-mkfs").exists() {
            assert!(
                child.try_wait().unwrap().is_none(),
                "apply ended before mkfs.ext4: {}",
                std::fs::read_to_string(self.p("run.err")).unwrap_or_default()
            );
            assert!(Instant::now() < deadline, "apply never reached mkfs.ext4");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    /// The same apply, not shimmed, to its end: (exit code, stdout+stderr).
    fn rerun(&self) -> (Option<i32>, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_tabula"))
            .arg("--spec")
            .arg(spec_path())
            .args(["apply", "--yes", "--no-open", "--disk"])
            .arg(self.img())
            .arg("--passphrase-file")
            .arg(self.p("pass"))
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    }
    /// What a plan says now: (steps, actions that are not keep/unverified).
    fn plan_left(&self) -> (usize, Vec<String>) {
        let out = Command::new(env!("CARGO_BIN_EXE_tabula"))
            .arg("--spec")
            .arg(spec_path())
            .args(["--json", "plan", "--disk"])
            .arg(self.img())
            .output()
            .unwrap();
        let v = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["data"].clone();
        let left = v["lines"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["action"] != "keep" && l["action"] != "unverified")
            .map(|l| format!("{} {}", l["action"], l["object"]))
            .collect();
        (v["steps"].as_array().unwrap().len(), left)
    }
}

fn wait(child: &mut Child, secs: u64) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the apply did not end in {secs}s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The rerun converges: exit 5 (done; the pool inside the unopened
/// container is unverified), no step left, nothing to destroy or refuse,
/// and no loop device left on the image.
fn assert_converges(w: &Work, what: &str) {
    let (code, text) = w.rerun();
    assert_eq!(code, Some(5), "{what}: rerun:\n{text}");
    let (steps, left) = w.plan_left();
    assert_eq!(
        (steps, left.clone()),
        (0, vec![]),
        "{what}: plan after: {left:?}"
    );
    let loops = support::loops_settled(&w.img());
    assert!(loops.is_empty(), "{what}: left attached: {loops:?}");
    let (code, text) = w.rerun();
    assert_eq!(code, Some(5), "{what}: third run:\n{text}");
    assert!(text.contains("no step left to run"), "{what}:\n{text}");
}

#[test]
fn kill_9_inside_mkfs_then_rerun_converges() {
    if !ready("kill_9_inside_mkfs_then_rerun_converges") {
        return;
    }
    let w = Work::new();
    let mut child = w.spawn_apply("run");
    w.wait_in_mkfs(&mut child);
    let shim_pid = std::fs::read_to_string(w.p("in-mkfs")).unwrap();
    // kill -9 of tabula alone: its mkfs.ext4 (the shim) runs on, orphaned,
    // with the partition open.
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    let left = support::loops_of(&w.img());
    assert_eq!(left.len(), 1, "the killed run's loop device: {left:?}");
    // The rerun waits for the orphan, takes the device over and finishes.
    let t0 = Instant::now();
    let (code, text) = w.rerun();
    assert_eq!(code, Some(5), "rerun after kill -9:\n{text}");
    assert!(
        text.contains(&format!("using {}", left[0])) && text.contains("interrupted run"),
        "{text}"
    );
    assert!(
        text.contains("waiting for") && text.contains(shim_pid.trim()),
        "did not wait for the orphaned mkfs:\n{text}"
    );
    eprintln!("rerun after kill -9 took {:?}", t0.elapsed());
    assert_converges(&w, "kill -9");
}

fn signal_in_mkfs(sig: &str, code: i32) {
    let w = Work::new();
    let mut child = w.spawn_apply("run");
    w.wait_in_mkfs(&mut child);
    let t0 = Instant::now();
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let status = wait(&mut child, 120);
    let err = std::fs::read_to_string(w.p("run.err")).unwrap();
    assert_eq!(status.code(), Some(code), "{sig}:\n{err}");
    assert!(err.contains(&format!("interrupted by SIG{sig}")), "{err}");
    eprintln!("{sig}: stopped after {:?}", t0.elapsed());
    let loops = support::loops_settled(&w.img());
    assert!(loops.is_empty(), "{sig}: left attached: {loops:?}");
    assert_converges(&w, sig);
}

#[test]
fn sigterm_inside_mkfs_exits_143_detached_and_converges() {
    if !ready("sigterm_inside_mkfs_exits_143_detached_and_converges") {
        return;
    }
    signal_in_mkfs("TERM", 143);
}

#[test]
fn sigint_inside_mkfs_exits_130_detached_and_converges() {
    if !ready("sigint_inside_mkfs_exits_130_detached_and_converges") {
        return;
    }
    signal_in_mkfs("INT", 130);
}

/// Ctrl-C at the passphrase prompt on a real pseudo-terminal: exit 130,
/// echo back on (`stty -a` in the same terminal afterwards), the loop
/// device of the (existing) image detached.
#[test]
fn ctrl_c_at_the_prompt_restores_echo_and_detaches() {
    if !ready("ctrl_c_at_the_prompt_restores_echo_and_detaches") {
        return;
    }
    let w = Work::new();
    // An existing, blank image: attached before the prompt.
    std::fs::File::create(w.img())
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let cmd = format!(
        "trap 'true' INT; {bin} --spec {spec} apply --yes --no-open --disk {img}; echo \"rc=$?\"; stty -a; echo end-of-test",
        bin = env!("CARGO_BIN_EXE_tabula"),
        spec = spec_path().display(),
        img = w.img().display(),
    );
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let screen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let reader = {
        let screen = std::sync::Arc::clone(&screen);
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
    let text = || String::from_utf8_lossy(&screen.lock().unwrap()).into_owned();
    let mut stdin = child.stdin.take().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !text().contains("LUKS passphrase: ") {
        assert!(Instant::now() < deadline, "no prompt:\n{}", text());
        std::thread::sleep(Duration::from_millis(20));
    }
    // The loop device is attached while the prompt waits.
    assert_eq!(support::loops_of(&w.img()).len(), 1);
    stdin.write_all(b"\x03").unwrap();
    stdin.flush().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !text().contains("end-of-test") {
        assert!(Instant::now() < deadline, "did not end:\n{}", text());
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(stdin);
    let _ = wait(&mut child, 30);
    reader.join().unwrap();
    let screen = text();
    assert!(screen.contains("rc=130"), "{screen}");
    assert!(screen.contains("interrupted by SIGINT"), "{screen}");
    // `stty -a` lists "echo" when echo is on, "-echo" when off.
    let echo_on = screen.split_whitespace().any(|w| w == "echo");
    assert!(echo_on, "echo left off:\n{screen}");
    assert!(!screen.split_whitespace().any(|w| w == "-echo"), "{screen}");
    let loops = support::loops_settled(&w.img());
    assert!(loops.is_empty(), "left attached: {loops:?}");
}

/// A loop device of the image that is in use stays refused, recorded as a
/// killed run's leftover or not: tabula takes over only an idle one.
#[test]
fn a_leftover_loop_device_in_use_is_refused() {
    if !ready("a_leftover_loop_device_in_use_is_refused") || !support::have("unshare") {
        return;
    }
    let w = Work::new();
    let (code, text) = w.rerun();
    assert_eq!(code, Some(5), "{text}");
    // Attached by hand: not tabula's, refused even when idle.
    let dev = String::from_utf8(
        Command::new("losetup")
            .args(["-f", "--show"])
            .arg(w.img())
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_owned();
    assert!(dev.starts_with("/dev/loop"), "{dev}");
    assert!(Command::new("partx")
        .args(["-a", &dev])
        .status()
        .unwrap()
        .success());
    let (code, text) = w.rerun();
    assert_eq!(code, Some(3), "{text}");
    assert!(text.contains("already attached"), "{text}");
    // Recorded as a killed run's leftover (what apply writes), but /boot
    // is mounted: refused, naming the mount.
    use std::os::unix::fs::MetadataExt as _;
    let m = std::fs::metadata(w.img()).unwrap();
    let name = dev.trim_start_matches("/dev/");
    std::fs::create_dir_all("/run/tabula/loop").unwrap();
    let record = Path::new("/run/tabula/loop").join(name);
    std::fs::write(&record, format!("{}:{}\n", m.dev(), m.ino())).unwrap();
    std::fs::create_dir(w.p("mnt")).unwrap();
    let script = format!(
        "mount {dev}p2 {mnt} && exec {bin} --spec {spec} apply --yes --no-open --disk {img} --passphrase-file {pass}",
        mnt = w.p("mnt").display(),
        bin = env!("CARGO_BIN_EXE_tabula"),
        spec = spec_path().display(),
        img = w.img().display(),
        pass = w.p("pass").display(),
    );
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("already attached") && stderr.contains("is mounted"),
        "{stderr}"
    );
    // Idle and recorded: taken over, and detached at the end.
    let (code, text) = w.rerun();
    assert_eq!(code, Some(5), "{text}");
    assert!(text.contains(&format!("using {dev}")), "{text}");
    assert!(support::loops_settled(&w.img()).is_empty());
    let _ = std::fs::remove_file(record);
}

/// Two runs at once on one image: while an apply is inside its mkfs.ext4,
/// a second apply (through a symlink to the image), a `keyfile add` and a
/// `mount` are each refused at once (exit 3), naming the first run's PID,
/// before they ask for anything or attach a loop device of their own; the
/// first run then finishes as if alone, and converges.
#[test]
fn a_second_writer_at_once_is_refused_and_the_first_finishes() {
    if !ready("a_second_writer_at_once_is_refused_and_the_first_finishes") {
        return;
    }
    let w = Work::new();
    let mut child = w.spawn_apply("run");
    w.wait_in_mkfs(&mut child);
    let link = w.p("link.img");
    std::os::unix::fs::symlink(w.img(), &link).unwrap();
    let key = w.p("good.key");
    std::fs::write(&key, support::random_bytes(4096)).unwrap();
    std::fs::create_dir(w.p("mnt")).unwrap();
    let pass = w.p("pass");
    let (link_s, pass_s) = (link.to_str().unwrap(), pass.to_str().unwrap());
    let mnt = w.p("mnt");
    let cases: [(&str, Vec<&str>); 3] = [
        (
            "apply",
            vec![
                "apply",
                "--yes",
                "--no-open",
                "--disk",
                link_s,
                "--passphrase-file",
                pass_s,
            ],
        ),
        (
            "keyfile add",
            vec![
                "keyfile",
                "add",
                "--disk",
                link_s,
                "--keyfile",
                key.to_str().unwrap(),
                "--passphrase-file",
                pass_s,
            ],
        ),
        (
            "mount",
            vec![
                "mount",
                "--disk",
                link_s,
                "--target",
                mnt.to_str().unwrap(),
                "--passphrase-file",
                pass_s,
            ],
        ),
    ];
    for (what, args) in &cases {
        let out = Command::new(env!("CARGO_BIN_EXE_tabula"))
            .arg("--spec")
            .arg(spec_path())
            .args(args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{what}:\n{err}");
        assert!(
            err.contains("another tabula is working on")
                && err.contains(&format!("PID {}", child.id())),
            "{what}:\n{err}"
        );
        assert_eq!(support::loops_of(&w.img()).len(), 1, "{what} attached one");
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the first run is still at work"
    );
    let status = wait(&mut child, 300);
    let err = std::fs::read_to_string(w.p("run.err")).unwrap();
    assert_eq!(status.code(), Some(5), "the first run:\n{err}");
    assert_converges(&w, "two at once");
}
