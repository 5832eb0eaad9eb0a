//! The real binary on the spec commands: check, init, schema, and bad input.
#![allow(clippy::unwrap_used, clippy::panic)]

use assert_cmd::Command;
use serde_json::Value;

const EMBEDDED: &str = include_str!("../../tabula-spec/hosts/surface-pro-8.toml");
const LITERAL: &str = include_str!("../../tabula-spec/tests/fixtures/document-literal.toml");

fn tabula(dir: &std::path::Path) -> Command {
    let mut c = Command::cargo_bin("tabula").unwrap();
    c.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("TABULA_SPEC");
    c
}

fn json_check(dir: &std::path::Path, spec: &str) -> (i32, Value) {
    std::fs::write(dir.join("spec.toml"), spec).unwrap();
    let out = tabula(dir)
        .args(["check", "--json", "--spec", "spec.toml"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code().unwrap(), v)
}

fn codes(v: &Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn check_embedded_host_passes_with_no_argument() {
    let dir = tempfile::tempdir().unwrap();
    let out = tabula(dir.path()).arg("check").output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("0 error(s)"), "{text}");
    assert!(text.contains("surface-pro-8"), "{text}");
}

#[test]
fn check_embedded_host_follows_a_supported_release_and_keeps_its_state_version() {
    let dir = tempfile::tempdir().unwrap();
    let (code, v) = json_check(dir.path(), EMBEDDED);
    assert_eq!(code, 0, "{v}");
    let found = codes(&v);
    // 26.05 is supported until 2026-12-31; after that the warning is right.
    let eol = tabula_spec::date::Date::parse("2026-12-31").unwrap();
    assert_eq!(
        found.iter().any(|c| c == "release-eol"),
        tabula_spec::date::Date::today() > eol,
        "{found:?}"
    );
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "state-version-older")
        .unwrap_or_else(|| panic!("no state-version-older in {found:?}"));
    assert_eq!(f["severity"], "info");
    assert!(f["line"].is_u64());

    let newer = EMBEDDED.replacen("state_version = \"24.11\"", "state_version = \"26.11\"", 1);
    let (code, v) = json_check(dir.path(), &newer);
    assert_eq!(code, 1, "{v}");
    assert!(codes(&v).iter().any(|c| c == "state-version-newer"));
}

#[test]
fn check_prefers_local_host_toml_over_the_embedded_host() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("host.toml"), LITERAL).unwrap();
    let out = tabula(dir.path())
        .args(["check", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["data"]["spec"], "host.toml");
}

#[test]
fn check_literal_transcription_reports_the_documents_contradictions() {
    let dir = tempfile::tempdir().unwrap();
    let (code, v) = json_check(dir.path(), LITERAL);
    assert_eq!(code, 1);
    assert_eq!(v["ok"], false);
    let codes = codes(&v);
    for expected in [
        "persist-not-persistent",
        "entry-covered-by-mount",
        "estimates-exceed-pool",
        "config-on-tmpfs",
        "windows-too-small",
        "rootless-podman-storage",
        "not-dual-boot",
        "release-eol",
    ] {
        assert!(
            codes.iter().any(|c| c == expected),
            "missing {expected} in {codes:?}"
        );
    }
    for f in v["findings"].as_array().unwrap() {
        assert!(f["line"].is_u64(), "finding without a line: {f}");
        assert!(["error", "warning", "info"].contains(&f["severity"].as_str().unwrap()));
    }
}

#[test]
fn malformed_specs_give_one_screen_errors_with_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "unknown key",
            EMBEDDED.replacen("size = \"2GB\"", "sise = \"2GB\"", 1),
            "sise",
            "did you mean `size`",
        ),
        (
            "wrong type",
            EMBEDDED.replacen("number = 3", "number = \"three\"", 1),
            "three",
            "expected",
        ),
        (
            "bad size",
            EMBEDDED.replacen("size = \"5GB\"", "size = \"5 gigs\"", 1),
            "5 gigs",
            "unknown unit",
        ),
        (
            "bad uuid",
            EMBEDDED.replacen("2CE0-6722", "2CE0-67", 1),
            "2CE0-67",
            "XXXX-XXXX",
        ),
        (
            "dotdot path",
            EMBEDDED.replacen("path = \"/var/log\"", "path = \"/var/../log\"", 1),
            "/var/../log",
            "`..`",
        ),
        ("not toml", "[host\nname = ".to_owned(), "", ""),
    ];
    for (what, text, needle, hint) in cases {
        std::fs::write(dir.path().join("bad.toml"), &text).unwrap();
        let out = tabula(dir.path())
            .args(["check", "--spec", "bad.toml"])
            .output()
            .unwrap();
        // A bad UUID is a rule's finding (1); the others cannot be read (2).
        let expected = if what == "bad uuid" { 1 } else { 2 };
        assert_eq!(out.status.code(), Some(expected), "{what}: exit status");
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!all.contains("panicked"), "{what}: {all}");
        assert!(
            all.lines().count() < 40,
            "{what}: more than a screen:\n{all}"
        );
        assert!(all.contains("bad.toml:"), "{what}: no place:\n{all}");
        assert!(all.contains(needle) && all.contains(hint), "{what}:\n{all}");
        // The place names the right line.
        if !needle.is_empty() {
            let line = text.lines().position(|l| l.contains(needle)).unwrap() + 1;
            assert!(
                all.contains(&format!("bad.toml:{line}:")),
                "{what}: not line {line}:\n{all}"
            );
        }
    }
}

#[test]
fn other_commands_refuse_a_malformed_spec_with_usage_status() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        EMBEDDED.replacen("size = \"2GB\"", "sise = \"2GB\"", 1),
    )
    .unwrap();
    let out = tabula(dir.path())
        .args(["render", "--spec", "bad.toml", "--out", "o"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !dir.path().join("o").exists(),
        "render wrote output for a bad spec"
    );
}

#[test]
fn init_writes_the_embedded_host_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    tabula(dir.path()).arg("init").assert().success();
    let written = std::fs::read_to_string(dir.path().join("host.toml")).unwrap();
    assert_eq!(written, format!("#:schema ./host.schema.json\n{EMBEDDED}"));
    assert!(
        written.contains("DEPARTS"),
        "init must explain departures from the document"
    );
    let out = tabula(dir.path()).arg("init").output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    tabula(dir.path())
        .args(["init", "--force"])
        .assert()
        .success();
}

#[test]
fn schema_is_json_schema_denying_unknown_keys() {
    let dir = tempfile::tempdir().unwrap();
    let out = tabula(dir.path()).arg("schema").output().unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["$schema"].as_str().unwrap().contains("json-schema.org"));
    assert_eq!(v["additionalProperties"], false);
    assert!(v["properties"]["partition"].is_object());
}

#[test]
fn check_rules_lists_every_code_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = tabula(dir.path())
        .args(["check", "--rules", "--json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes: Vec<&str> = v["data"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    let mut dedup = codes.clone();
    dedup.sort_unstable();
    dedup.dedup();
    assert_eq!(codes.len(), dedup.len());
    assert!(codes.len() > 30);
}

#[test]
fn help_teaches_with_examples_and_man_and_completions_render() {
    let dir = tempfile::tempdir().unwrap();
    for cmd in ["check", "init", "schema", "render", "docs"] {
        let out = tabula(dir.path()).args([cmd, "--help"]).output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("Example"),
            "{cmd} --help has no example:\n{text}"
        );
    }
    let man = tabula(dir.path()).arg("man").output().unwrap();
    assert!(String::from_utf8_lossy(&man.stdout).contains(".TH tabula"));
    let comp = tabula(dir.path())
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&comp.stdout).contains("_tabula"));
    let bad = tabula(dir.path()).arg("frobnicate").output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn render_json_on_a_spec_with_errors_prints_the_findings_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let spec = EMBEDDED.replacen("path = \"/var/log\"", "path = \"/var/lib\"", 1);
    std::fs::write(dir.path().join("dup.toml"), spec).unwrap();
    let out = tabula(dir.path())
        .args(["render", "--json", "--spec", "dup.toml", "--out", "o"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert!(codes(&v).iter().any(|c| c == "mount-duplicate"));
    assert!(!dir.path().join("o").exists());
}

/// A syntax error past column 65535 made miette's graphical handler panic
/// (exit 101): the report cuts the line around the error instead.
#[test]
fn syntax_error_on_a_very_long_line_is_reported_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    for (what, filler) in [
        ("ascii", "a".repeat(70_000)),
        ("multibyte", "é".repeat(70_000)),
    ] {
        let spec = EMBEDDED.replacen(
            "model = \"",
            &format!("model = \"{filler}\" junk\nignored = \""),
            1,
        );
        std::fs::write(dir.path().join("long.toml"), &spec).unwrap();
        let out = tabula(dir.path())
            .args(["check", "--spec", "long.toml"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {err}");
        assert!(!err.contains("panicked"), "{what}: {err}");
        assert!(err.contains("long.toml:"), "{what}: {err}");
        assert!(err.contains("cut"), "{what}: {err}");
        assert!(
            err.contains("junk"),
            "{what}: the snippet shows the error: {err}"
        );
        assert!(
            err.len() < 4_000,
            "{what}: the report stays short: {} bytes",
            err.len()
        );
    }
}

#[test]
fn a_one_megabyte_single_line_file_is_reported_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("x = \"{}\" junk", "b".repeat(1 << 20));
    std::fs::write(dir.path().join("big.toml"), text).unwrap();
    for json in [false, true] {
        let mut c = tabula(dir.path());
        c.args(["check", "--spec", "big.toml"]);
        if json {
            c.arg("--json");
        }
        let out = c
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "json={json}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        if json {
            let v: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(v["ok"], false);
            assert_eq!(v["findings"][0]["line"], 1);
        } else {
            assert!(err.contains("big.toml:1:"), "{err}");
            assert!(err.len() < 4_000, "{} bytes", err.len());
        }
    }
}

/// A huge value that check refuses is shown cut, not echoed whole.
#[test]
fn a_huge_refused_value_makes_a_short_report() {
    let dir = tempfile::tempdir().unwrap();
    let spec = EMBEDDED.replacen(
        "model = \"Microsoft Surface Pro 8\"",
        &format!("model = \"{}\\u0001\"", "a".repeat(70_000)),
        1,
    );
    std::fs::write(dir.path().join("huge.toml"), spec).unwrap();
    let out = tabula(dir.path())
        .args(["check", "--spec", "huge.toml"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("text-unrepresentable") && text.contains("70001 characters"),
        "{text}"
    );
    assert!(text.len() < 8_000, "{} bytes", text.len());
}
