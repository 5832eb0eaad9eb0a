//! `tabula init` never follows a symbolic link: not with `--force` onto a
//! link to some other file, not onto a dangling link (which would create its
//! target).
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

fn tabula(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("tabula").unwrap();
    c.current_dir(dir)
        .env_remove("TABULA_SPEC")
        .env("NO_COLOR", "1");
    c
}

#[test]
fn init_force_onto_a_symlink_is_refused_and_the_target_untouched() {
    let d = tempfile::tempdir().unwrap();
    let victim = d.path().join("precious.conf");
    std::fs::write(&victim, "keep me\n").unwrap();
    std::os::unix::fs::symlink(&victim, d.path().join("host.toml")).unwrap();
    for args in [&["init", "--force"][..], &["init"][..]] {
        tabula(d.path()).args(args).assert().code(3).stderr(
            predicate::str::contains("host.toml is a symbolic link")
                .and(predicate::str::contains("hint:")),
        );
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me\n");
        assert!(std::fs::symlink_metadata(d.path().join("host.toml"))
            .unwrap()
            .file_type()
            .is_symlink());
    }
}

#[test]
fn init_onto_a_dangling_symlink_creates_nothing() {
    let d = tempfile::tempdir().unwrap();
    let missing = d.path().join("elsewhere/new.toml");
    std::fs::create_dir(d.path().join("elsewhere")).unwrap();
    std::os::unix::fs::symlink(&missing, d.path().join("host.toml")).unwrap();
    for args in [&["init"][..], &["init", "--force"][..]] {
        tabula(d.path())
            .args(args)
            .assert()
            .code(3)
            .stderr(predicate::str::contains("symbolic link"));
        assert!(!missing.exists(), "init created the link's target");
    }
    assert_eq!(
        std::fs::read_dir(d.path().join("elsewhere"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn init_force_replaces_a_regular_file_and_leaves_no_temp() {
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("my.toml");
    std::fs::write(&file, "old\n").unwrap();
    tabula(d.path())
        .args(["init", "my.toml", "--force"])
        .assert()
        .success();
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        format!(
            "#:schema ./host.schema.json\n{}",
            tabula_spec::embedded::DEFAULT_HOST.toml
        )
    );
    let mut names: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    // The spec and its schema, no temp file.
    assert_eq!(names, ["host.schema.json", "my.toml"], "{names:?}");
}
