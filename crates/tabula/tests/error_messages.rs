//! Errors a user can act on: rule findings show the line of host.toml like
//! shape errors do (check, and the warnings of render/docs, the refusals of
//! plan), a wrong type is said in user words, an unknown subvolume gets a
//! did-you-mean, a duplicate mount names the line of the other one.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::path::Path;

const EMBEDDED: &str = include_str!("../../tabula-spec/hosts/surface-pro-8.toml");

fn run(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    support::run_in(dir, args)
}

/// The embedded host with `from` replaced by `to` (once), as host.toml.
fn edited(dir: &Path, from: &str, to: &str) {
    assert!(
        EMBEDDED.contains(from),
        "`{from}` is not in the embedded host"
    );
    std::fs::write(dir.join("host.toml"), EMBEDDED.replacen(from, to, 1)).unwrap();
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.starts_with(needle)).unwrap() + 1
}

#[test]
fn check_findings_show_the_line_of_the_spec() {
    let d = tempfile::tempdir().unwrap();
    let (code, stdout, _) = run(d.path(), &["check"]);
    assert_eq!(code, Some(0));
    // The Windows partition's size: a warning, shown on its line.
    let l = line_of(EMBEDDED, "label = \"windows\"") + 1;
    assert!(
        stdout.contains(&format!("{l} │ size = \"20GB\"")),
        "no snippet:\n{stdout}"
    );
    assert!(stdout.contains("partition[4].size"), "{stdout}");
    assert!(stdout.contains("fix: "), "{stdout}");
}

#[test]
fn render_warnings_show_the_snippet_not_only_the_line_number() {
    let d = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(d.path(), &["render", "--out", "flake"]);
    assert_eq!(code, Some(0), "{stderr}");
    let l = line_of(EMBEDDED, "label = \"windows\"") + 1;
    assert!(
        stderr.contains(&format!("{l} │ size = \"20GB\"")),
        "{stderr}"
    );
    assert!(!stderr.contains(&format!("(line {l})")), "{stderr}");
}

#[test]
fn a_refused_plan_shows_each_error_with_its_snippet() {
    let d = tempfile::tempdir().unwrap();
    edited(
        d.path(),
        "subvolume = \"@system/nix\"",
        "subvolume = \"@system/nixx\"",
    );
    let (code, _, stderr) = run(d.path(), &["plan", "--disk", "x.img"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("│ subvolume = \"@system/nixx\""),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `@system/nix`?"), "{stderr}");
    assert!(stderr.contains("nothing was done"), "{stderr}");
}

#[test]
fn a_string_for_a_number_is_said_in_user_words() {
    let d = tempfile::tempdir().unwrap();
    edited(d.path(), "timeout = 10 ", "timeout = \"10s\" ");
    let (code, _, stderr) = run(d.path(), &["check"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(!stderr.contains("u32"), "{stderr}");
    assert!(stderr.contains("expected a whole number"), "{stderr}");
    assert!(stderr.contains("found the text \"10s\""), "{stderr}");
    assert!(
        stderr.contains("write the number without quotes or a unit: 10"),
        "{stderr}"
    );
    edited(
        d.path(),
        "initrd_systemd = true",
        "initrd_systemd = \"yes\"",
    );
    let (code, _, stderr) = run(d.path(), &["check"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("expected true or false"), "{stderr}");
}

#[test]
fn an_unknown_subvolume_gets_a_did_you_mean() {
    let d = tempfile::tempdir().unwrap();
    edited(
        d.path(),
        "subvolume = \"@system/nix\"",
        "subvolume = \"@system/nixx\"",
    );
    let (code, stdout, _) = run(d.path(), &["check"]);
    assert_eq!(code, Some(1));
    assert!(stdout.contains("did you mean `@system/nix`?"), "{stdout}");
}

#[test]
fn a_duplicate_mount_names_the_line_of_the_other() {
    let d = tempfile::tempdir().unwrap();
    edited(
        d.path(),
        "path = \"/persist\"\nsubvolume",
        "path = \"/nix\"\nsubvolume",
    );
    let first = line_of(EMBEDDED, "path = \"/nix\"");
    let (code, stdout, _) = run(d.path(), &["check"]);
    assert_eq!(code, Some(1));
    let dup = stdout
        .lines()
        .find(|l| l.contains("[mount-duplicate]"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(dup.contains(&format!("also at line {first}")), "{dup}");
    assert!(!dup.contains("mount["), "{dup}");
}
