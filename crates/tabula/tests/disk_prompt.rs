//! The interactive LUKS passphrase prompt of `tabula apply`, on a real
//! pseudo-terminal (util-linux's `script`) with a sparse image and the real
//! tools. The test types only after the prompt is on the screen: the prompt
//! turns echo off with TCSAFLUSH, which drops type-ahead, as getpass does.
//! Runs as root; prints a SKIP line otherwise. The container is formatted,
//! not opened (`--no-open`: no device-mapper here).
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;
use support::{disk_spec as spec_path, Loop};

use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::process::{Command, Stdio};
use std::time::Instant;

/// Distinctive, so a leak cannot match by chance.
const PASS: &str = "typed-Zq7 velvet lantern 4419";
const FIRST: &str = "LUKS passphrase: ";
const AGAIN: &str = "LUKS passphrase (again): ";

fn ready(test: &str) -> bool {
    support::disk_ready(test, &["script"])
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
        let base = support::ImageWork::new("tabula-prompt-test.", "");
        Work { base }
    }
    /// Whether the image is detached within a few seconds (see
    /// [`support::loops_settled`]).
    fn detached(&self) -> bool {
        support::loops_settled(&self.img()).is_empty()
    }
}

/// `tabula apply --yes --no-open --disk IMG` on a pseudo-terminal: each
/// answer is typed once the text before it is on the screen. Returns the
/// exit code and the whole terminal transcript.
fn apply_on_a_terminal(w: &Work, answers: &[(&str, &str)]) -> (i32, String) {
    let cmd = format!(
        "{bin} --spec {spec} apply --yes --no-open --disk {img}",
        bin = env!("CARGO_BIN_EXE_tabula"),
        spec = spec_path().display(),
        img = w.img().display(),
    );
    let log = w.p("argv.log");
    support::on_a_terminal(
        w.dir(),
        &cmd,
        &[("TABULA_ARGV_LOG", log.as_os_str())],
        answers,
    )
}

fn opens_with(node: &str, pass: &str) -> bool {
    let mut c = Command::new("cryptsetup")
        .args(["open", "--test-passphrase", "--key-file", "-", node])
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(pass.as_bytes()).unwrap();
    c.wait().unwrap().success()
}

#[test]
fn the_prompt_hides_the_passphrase_and_the_header_takes_it() {
    if !ready("the_prompt_hides_the_passphrase_and_the_header_takes_it") {
        return;
    }
    let w = Work::new();
    let t0 = Instant::now();
    let line = format!("{PASS}\n");
    let (code, screen) = apply_on_a_terminal(&w, &[(FIRST, &line), (AGAIN, &line)]);
    eprintln!("apply on a terminal took {:?}", t0.elapsed());
    // Exit 5: applied, the pool inside the unopened container unverified.
    assert_eq!(code, 5, "{screen}");
    assert!(
        screen.contains("applied") && screen.contains("NOT verified"),
        "apply did not finish:\n{screen}"
    );
    // Echo was off: not one piece of the passphrase is on the screen.
    for piece in PASS.split(' ') {
        assert!(!screen.contains(piece), "{piece:?} was echoed:\n{screen}");
    }
    assert!(w.detached(), "tabula left its loop device attached");

    // The LUKS header takes exactly what was typed (without the newline).
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
    assert!(dev.starts_with("/dev/loop"), "losetup gave {dev:?}");
    let l = Loop(dev);
    assert!(Command::new("partx")
        .args(["-a", &l.0])
        .status()
        .unwrap()
        .success());
    let pool = format!("{}p6", l.0);
    assert!(
        opens_with(&pool, PASS),
        "the typed passphrase does not open"
    );
    assert!(!opens_with(&pool, &line), "the newline became part of it");
    assert!(!opens_with(&pool, "wrong"), "any passphrase opens");
    drop(l);

    // No argv carried it (and the log did record cryptsetup's).
    let argv = std::fs::read_to_string(w.p("argv.log")).unwrap();
    assert!(argv.contains("luksFormat"), "argv log incomplete:\n{argv}");
    for piece in PASS.split(' ') {
        assert!(!argv.contains(piece), "{piece:?} in an argv:\n{argv}");
    }
}

#[test]
fn a_mismatched_confirmation_is_refused_before_any_write() {
    if !ready("a_mismatched_confirmation_is_refused_before_any_write") {
        return;
    }
    let w = Work::new();
    let line = format!("{PASS}\n");
    let (code, screen) = apply_on_a_terminal(&w, &[(FIRST, &line), (AGAIN, "not-the-same 1\n")]);
    assert_eq!(code, 3, "{screen}");
    assert!(
        screen.contains("the two passphrases differ"),
        "no clear message:\n{screen}"
    );
    assert!(!screen.contains("typed-Zq7"), "echoed:\n{screen}");
    assert!(!screen.contains("not-the-same"), "echoed:\n{screen}");
    assert!(w.detached(), "tabula left its loop device attached");
    // Nothing written: a new image is created only once the passphrase is
    // settled (and, if it exists, not one block is allocated).
    if let Ok(meta) = std::fs::metadata(w.img()) {
        assert_eq!(meta.blocks(), 0, "apply wrote to the image");
    }
    assert!(
        !w.img().exists(),
        "the image was created before the prompt was done"
    );
    let argv = std::fs::read_to_string(w.p("argv.log")).unwrap_or_default();
    for word in ["sgdisk", "mkfs", "luksFormat", "wipefs"] {
        assert!(
            !argv.lines().any(|l| l.contains(word)),
            "{word} ran:\n{argv}"
        );
    }
}
