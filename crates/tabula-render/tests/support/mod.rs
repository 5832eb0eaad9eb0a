//! Helpers shared by the integration tests of tabula-render.
#![allow(dead_code, clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use tabula_render::{render_flake, write_files, OutFile};
use tabula_spec::{HostSpec, SpecSource};

/// The embedded host's text.
pub fn embedded_text() -> &'static str {
    tabula_spec::embedded::DEFAULT_HOST.toml
}

/// Parse spec text (panics with the problems when it is invalid).
pub fn spec_from(text: &str) -> HostSpec {
    match tabula_spec::load(&SpecSource::Text {
        name: "test.toml".into(),
        text: text.into(),
    }) {
        Ok(l) => l.spec,
        Err(e) => panic!("{e}"),
    }
}

pub fn embedded() -> HostSpec {
    spec_from(embedded_text())
}

/// Render and write into a fresh temp dir.
pub fn render_to_temp(spec: &HostSpec) -> (tempfile::TempDir, Vec<OutFile>) {
    let dir = tempfile::tempdir().unwrap();
    let files = render_flake(spec).unwrap();
    write_files(dir.path(), &files).unwrap();
    (dir, files)
}

/// Whether `nix-instantiate` is here; prints a SKIP line when not.
pub fn have_nix(test: &str) -> bool {
    let ok = Command::new("nix-instantiate")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIP {test}: nix-instantiate not found (Debian package nix-bin)");
    }
    ok
}

/// `nix-instantiate` with a dummy store and no build users (works offline,
/// as any user, without /nix).
pub fn nix_instantiate() -> Command {
    let mut c = Command::new("nix-instantiate");
    c.env("NIX_CONFIG", "build-users-group =\nexperimental-features =")
        .env("NIX_PATH", "")
        .env_remove("NIX_REMOTE")
        .arg("--store")
        .arg("dummy://");
    c
}

/// `nix-instantiate --parse FILE`: Ok or the error text.
pub fn nix_parse(file: &Path) -> Result<(), String> {
    let out = nix_instantiate().arg("--parse").arg(file).output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The stand-in harness that evaluates the rendered modules.
pub fn harness() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/harness.nix")
}

/// Evaluate the host's modules in `flake_dir` with the harness: the merged
/// config as JSON.
pub fn eval_host(flake_dir: &Path, host: &str) -> serde_json::Value {
    let out = nix_instantiate()
        .arg("--eval")
        .arg("--strict")
        .arg("--json")
        .arg(harness())
        .arg("--argstr")
        .arg("dir")
        .arg(flake_dir.join("hosts").join(host))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "nix-instantiate --eval failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
