//! `tabula schema` checked with a real validator (Python `jsonschema`,
//! Debian `python3-jsonschema`; TOML read with Python's `tomllib`): the
//! embedded host, `init`'s output and every fixture host.toml that checks
//! clean pass; hostile values fail. taplo lints with it when installed.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;
use support::Docs;

use std::path::{Path, PathBuf};

use assert_cmd::Command;

const EMBEDDED: &str = include_str!("../../tabula-spec/hosts/surface-pro-8.toml");

fn tabula(dir: &Path) -> Command {
    support::tabula_in(dir)
}

fn have_validator() -> bool {
    support::have_jsonschema(Docs::Toml)
}

/// Validate each host.toml against the schema: (file, Ok or the errors).
fn validate(schema: &Path, files: &[PathBuf]) -> Vec<(PathBuf, Result<(), String>)> {
    support::validate(schema, Docs::Toml, files)
}

fn write_schema(dir: &Path) -> PathBuf {
    let schema = dir.join("host.schema.json");
    tabula(dir)
        .args(["schema", "--out"])
        .arg(&schema)
        .assert()
        .success();
    schema
}

#[test]
fn schema_out_equals_stdout_with_id_title_and_no_null() {
    let d = tempfile::tempdir().unwrap();
    let schema = write_schema(d.path());
    let stdout = tabula(d.path()).arg("schema").output().unwrap().stdout;
    let written = std::fs::read(&schema).unwrap();
    assert_eq!(written, stdout);
    let v: serde_json::Value = serde_json::from_slice(&written).unwrap();
    assert!(v["$id"].as_str().is_some_and(|s| !s.is_empty()));
    assert_ne!(v["title"], "RawSpec");
    assert!(!String::from_utf8(written).unwrap().contains("\"null\""));
}

#[test]
fn real_validator_takes_the_clean_hosts_and_refuses_hostile_values() {
    if !have_validator() {
        println!(
            "SKIP real_validator: python3 with jsonschema (python3-jsonschema) is not installed"
        );
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let schema = write_schema(d.path());

    // Clean: the embedded host and every fixture host that checks clean.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut clean = vec![d.path().join("embedded.toml")];
    std::fs::write(&clean[0], EMBEDDED).unwrap();
    for f in [
        "crates/tabula-spec/tests/fixtures/document-literal.toml",
        "crates/tabula-render/tests/fixtures/surface-pro-8.toml",
        "crates/tabula/tests/fixtures/nixos/status-host.toml",
        "crates/tabula-disk/tests/fixtures/test-host.toml",
        "crates/tabula/tests/fixtures/fleet/desk.toml",
        "crates/tabula/tests/fixtures/fleet/laptop.toml",
    ] {
        let p = root.join(f);
        let checked = tabula(d.path())
            .args(["check", "--quiet", "--spec"])
            .arg(&p)
            .output()
            .unwrap();
        if checked.status.code() == Some(0) {
            clean.push(p);
        } else {
            println!("not clean, not required to validate: {f}");
        }
    }
    assert!(clean.len() >= 5, "{clean:?}");
    for (f, r) in validate(&schema, &clean) {
        assert_eq!(r, Ok(()), "{} should validate", f.display());
    }

    // Hostile: each one edit of the embedded host, each must fail.
    let hostile = [
        ("type-efi", "type = \"esp\"", "type = \"efi\""),
        (
            "loader-systemd-boot",
            "loader = \"grub\"",
            "loader = \"systemd-boot\"",
        ),
        ("size-no-unit", "size = \"100MB\"", "size = \"2048\""),
        (
            "release-unknown",
            "release = \"26.05\"",
            "release = \"23.11\"",
        ),
        (
            "bad-uuid",
            "uuid = \"3c75c6db-4d7c-4570-81f1-02d168781aac\"",
            "uuid = \"3c75c6db-4d7c-4570-81f1\"",
        ),
        ("timeout-string", "timeout = 10 ", "timeout = \"10s\" "),
        (
            "firewall-pf",
            "firewall = \"nftables\"",
            "firewall = \"pf\"",
        ),
        (
            "hypervisor-virtualbox",
            "vms = []",
            "vms = [{ name = \"t\", hypervisor = \"virtualbox\" }]",
        ),
        (
            "deploy-build-on-remote",
            "[audit]",
            "[deploy]\ntarget = \"root@laptop\"\nbuild_on = \"remote\"\n\n[audit]",
        ),
        (
            "deploy-target-spaces",
            "[audit]",
            "[deploy]\ntarget = \"root at laptop\"\n\n[audit]",
        ),
    ];
    let mut files = vec![];
    for (name, from, to) in hostile {
        assert!(
            EMBEDDED.contains(from),
            "{name}: `{from}` is not in the embedded host"
        );
        let p = d.path().join(format!("{name}.toml"));
        std::fs::write(&p, EMBEDDED.replacen(from, to, 1)).unwrap();
        files.push(p);
    }
    for (f, r) in validate(&schema, &files) {
        let e = r.expect_err(&format!("{} validated", f.display()));
        println!("{}: {e}", f.display());
    }
}

#[test]
fn init_writes_the_schema_line_and_the_schema_beside_it() {
    let d = tempfile::tempdir().unwrap();
    tabula(d.path()).arg("init").assert().success();
    let host = std::fs::read_to_string(d.path().join("host.toml")).unwrap();
    assert_eq!(host.lines().next(), Some("#:schema ./host.schema.json"));
    let written = std::fs::read(d.path().join("host.schema.json")).unwrap();
    let printed = tabula(d.path()).arg("schema").output().unwrap().stdout;
    assert_eq!(written, printed);
    // What init wrote checks clean, and validates against its schema.
    tabula(d.path()).arg("check").assert().success();
    if have_validator() {
        let r = validate(
            &d.path().join("host.schema.json"),
            &[d.path().join("host.toml")],
        );
        assert_eq!(r[0].1, Ok(()));
    }
    if support::have("taplo") {
        let out = std::process::Command::new("taplo")
            .args(["lint", "host.toml"])
            .current_dir(d.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "taplo lint: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(
            d.path().join("host.toml"),
            host.replacen("type = \"esp\"", "type = \"efi\"", 1),
        )
        .unwrap();
        let out = std::process::Command::new("taplo")
            .args(["lint", "host.toml"])
            .current_dir(d.path())
            .output()
            .unwrap();
        assert!(!out.status.success(), "taplo took type = \"efi\"");
    } else {
        println!("SKIP taplo lint: taplo is not installed (not in Debian 12)");
    }
}
