//! Every command that writes files, on a full filesystem (a small tmpfs in
//! this test's own folder, filled to ENOSPC): an error exit naming "No space
//! left on device" — never a panic — with the file it would have replaced
//! as it was, no temporary file left, and every file it did write whole.
//! Then, with room again, the same line succeeds. And `apply` to a sparse
//! image whose filesystem fills up: the error says so, and the rerun with
//! room converges. (render and `secret set` have their own: render_cli.rs,
//! secret_cli.rs.) Needs root to mount the tmpfs; prints SKIP otherwise.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;
use std::path::Path;

/// Every file under `dir` with its length and a hash of its bytes, by path
/// relative to `dir`; lock files (empty, kept by design) left out.
fn files(dir: &Path) -> BTreeMap<String, (usize, u64)> {
    use std::hash::{Hash as _, Hasher as _};
    support::files_under(dir)
        .into_iter()
        .filter(|p| !p.to_string_lossy().ends_with(".tabula.lock"))
        .map(|p| {
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            let bytes = std::fs::read(&p).unwrap();
            let mut h = std::collections::hash_map::DefaultHasher::new();
            bytes.hash(&mut h);
            (rel, (bytes.len(), h.finish()))
        })
        .collect()
}

/// `tabula ARGS` in `dir`: (exit code, stdout + stderr).
fn run(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let (code, out, err) = support::run_in(dir, args);
    (code, out + &err)
}

/// The failure a full disk must give: an error exit, the cause named.
fn assert_full(what: &str, (code, text): &(Option<i32>, String)) {
    assert!(
        matches!(code, Some(1..=5)),
        "{what}: an error exit, not {code:?}:\n{text}"
    );
    assert!(
        text.contains("No space left on device"),
        "{what}: the cause is not named:\n{text}"
    );
}

/// The command lines that write, run in the tmpfs.
const WRITERS: [&[&str]; 4] = [
    &[
        "place",
        "ripgrep",
        "--kind",
        "cli",
        "--apply",
        "--spec",
        "host.toml",
    ],
    &["schema", "--out", "host.schema.json"],
    &["init", "new.toml"],
    &["man", "--out", "man"],
];

#[test]
fn writers_on_a_full_disk_fail_cleanly_and_keep_the_old_files() {
    let dir = tempfile::tempdir().unwrap();
    let fs = dir.path().join("fs");
    let mut guard = support::Mounted::default();
    if !support::small_fs(
        "writers_on_a_full_disk_fail_cleanly_and_keep_the_old_files",
        &fs,
        "4m",
        &mut guard,
    ) {
        return;
    }
    // With room: a host.toml, its schema, and the man pages elsewhere (the
    // pages a full run must match, file for file).
    let (code, text) = run(&fs, &["init", "host.toml"]);
    assert_eq!(code, Some(0), "{text}");
    std::fs::write(fs.join("host.schema.json"), "old schema\n").unwrap();
    let pages = dir.path().join("pages");
    let (code, text) = run(dir.path(), &["man", "--out", "pages"]);
    assert_eq!(code, Some(0), "{text}");
    let good_pages = files(&pages);
    assert!(good_pages.len() > 5, "{good_pages:?}");
    let before = files(&fs);

    let filler = support::fill(&fs);
    let filled = files(&fs);
    // Each writer: place --apply edits host.toml, schema --out replaces an
    // older schema, init makes a new file, man --out a folder of pages.
    for args in WRITERS {
        assert_full(&args.join(" "), &run(&fs, args));
    }
    // Every file outside man/ as it was, nothing new, no temp file.
    let mut now = files(&fs);
    now.retain(|k, _| !k.starts_with("man/"));
    assert_eq!(now, filled, "a file changed, appeared or a temp stayed");
    // The pages man could write are whole, no temp file.
    if fs.join("man").exists() {
        for (name, bytes) in files(&fs.join("man")) {
            assert_eq!(
                good_pages.get(&name),
                Some(&bytes),
                "man/{name} is not a whole page"
            );
        }
    }

    // Room again: every line succeeds.
    std::fs::remove_file(filler).unwrap();
    let _ = std::fs::remove_dir_all(fs.join("man"));
    assert_eq!(files(&fs), before);
    for args in WRITERS {
        let (code, text) = run(&fs, args);
        assert_eq!(code, Some(0), "{args:?}:\n{text}");
    }
    assert_eq!(files(&fs.join("man")), good_pages);
    assert!(std::fs::read_to_string(fs.join("host.toml"))
        .unwrap()
        .contains("ripgrep"));
}

/// `apply` to a sparse image on a filesystem with too little room: the
/// step that cannot write fails, and the error says the image's folder is
/// full (the tool alone says "Device wipe error"); no loop device stays.
/// Given room, the same line finishes and a plan has nothing left to do.
#[test]
fn apply_to_an_image_on_a_full_disk_says_so_and_converges_with_room() {
    let test = "apply_to_an_image_on_a_full_disk_says_so_and_converges_with_room";
    if !support::disk_ready(test, &[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fs = dir.path().join("fs");
    let mut guard = support::Mounted::default();
    if !support::small_fs(test, &fs, "20m", &mut guard) {
        return;
    }
    std::fs::write(dir.path().join("pass"), "full disk test pass\n").unwrap();
    let img = fs.join("disk.img");
    let apply = || {
        let mut c = assert_cmd::Command::cargo_bin("tabula").unwrap();
        c.arg("--spec")
            .arg(support::disk_spec())
            .args(["apply", "--yes", "--no-open", "--disk"])
            .arg(&img)
            .arg("--passphrase-file")
            .arg(dir.path().join("pass"))
            .env("NO_COLOR", "1")
            .timeout(std::time::Duration::from_secs(300))
            .output()
            .unwrap()
    };
    let out = apply();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let want = format!(
        "the filesystem holding {} ({}) is full",
        img.display(),
        std::fs::canonicalize(&fs).unwrap().display()
    );
    assert!(err.contains(&want), "no `{want}`:\n{err}");
    assert!(
        support::loops_settled(&img).is_empty(),
        "a loop device stayed"
    );
    // Room: the tmpfs grows; the same line finishes (exit 5: the pool in
    // the unopened container is unverified), and nothing is left to do.
    let grown = std::process::Command::new("mount")
        .args(["-o", "remount,size=300m"])
        .arg(&fs)
        .status()
        .unwrap();
    assert!(grown.success());
    for want in ["applied ", "no step left to run"] {
        let out = apply();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(5), "{text}");
        assert!(text.contains(want), "no `{want}`:\n{text}");
    }
    assert!(support::loops_settled(&img).is_empty());
}
