//! `tabula import --root DIR`: a running impermanent system read back into
//! host.toml. The root is a real tmpfs with a tmpfs /persist, a bind mount
//! of a persisted directory and a symlink to a persisted file, all mounted
//! inside this test's own temp directory and unmounted at the end.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::path::Path;
use std::process::Command;

fn listing(root: &Path) -> Vec<String> {
    let o = Command::new("find")
        .arg(root)
        .args(["-printf", "%p %y %s %l\\n"])
        .output()
        .unwrap();
    let mut v: Vec<String> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

#[test]
fn import_root_reads_persistence_and_users_of_a_live_tmpfs_root() {
    if !support::is_root() {
        println!("SKIP import_root: needs root to mount a tmpfs");
        return;
    }
    let dir = tempfile::Builder::new()
        .prefix("tabula-import-root.")
        .tempdir()
        .unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let mut guard = support::Mounted::default();
    if !support::mount(
        &["-t", "tmpfs", "-o", "size=64m,mode=755", "tmpfs"],
        &root,
        &mut guard,
    ) {
        println!("SKIP import_root: cannot mount a tmpfs here");
        return;
    }
    let persist = root.join("persist");
    std::fs::create_dir(&persist).unwrap();
    assert!(support::mount(
        &["-t", "tmpfs", "-o", "size=8m", "tmpfs"],
        &persist,
        &mut guard
    ));
    std::fs::create_dir_all(persist.join("var/log")).unwrap();
    std::fs::create_dir_all(root.join("var/log")).unwrap();
    assert!(support::mount(
        &["--bind", persist.join("var/log").to_str().unwrap()],
        &root.join("var/log"),
        &mut guard
    ));
    std::fs::create_dir_all(persist.join("etc")).unwrap();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(persist.join("etc/machine-id"), "0123\n").unwrap();
    std::os::unix::fs::symlink("/persist/etc/machine-id", root.join("etc/machine-id")).unwrap();
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0::/root:/bin/sh\nalice:x:1000:100:Alice:/home/alice:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(root.join("etc/group"), "wheel:x:1:alice\n").unwrap();
    let before = listing(&root);

    let o = Command::new(env!("CARGO_BIN_EXE_tabula"))
        .args(["--json", "import", "--root"])
        .arg(&root)
        .env_remove("TABULA_SPEC")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    // No --disk: the layout is left out, so the exit is 1, not 0.
    assert_eq!(
        o.status.code(),
        Some(1),
        "{text}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let data = &v["data"];
    let spec = data["spec"].as_str().unwrap();
    let doc: toml_edit::DocumentMut = spec.parse().unwrap();
    let dirs = doc["persistence"]["directories"].to_string();
    assert!(dirs.contains("\"/var/log\""), "{spec}");
    assert!(
        doc["persistence"]["files"]
            .to_string()
            .contains("\"/etc/machine-id\""),
        "{spec}"
    );
    assert!(spec.contains("\"alice\""), "{spec}");
    assert!(!spec.contains("\"root\""), "{spec}");
    let left: Vec<String> = data["left_out"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["what"].as_str().unwrap().to_owned())
        .collect();
    assert!(left.iter().any(|l| l.contains("no --disk")), "{left:?}");
    assert_eq!(data["root"]["persistence"]["root"], "/persist", "{text}");
    // Read-only: the tree is exactly as it was.
    assert_eq!(listing(&root), before);

    // A root that is not a directory is a usage error naming it.
    let bad = Command::new(env!("CARGO_BIN_EXE_tabula"))
        .args(["import", "--root"])
        .arg(dir.path().join("nowhere"))
        .env_remove("TABULA_SPEC")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("nowhere"));
    drop(guard);
}
