//! tabula's own flake.nix: real Nix parses it, and evaluates its outputs
//! offline with a stand-in nixpkgs (CI has no network to fetch the real
//! one), so the structure the README promises is checked: packages.default
//! built by rustPlatform.buildRustPackage from Cargo.lock, apps.default
//! running bin/tabula, a devShell with the Rust tools and the disk tools.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A stand-in for nixpkgs: each package is its name (with an outPath),
/// builders return their arguments, lib has what the flake calls.
const STUB: &str = r#"
let
  flake = import (FLAKE + "/flake.nix");
  pkg = name: { inherit name; outPath = "/nix/store/stub-" + name; };
  names = [ "cargo" "rustc" "clippy" "rustfmt" "cryptsetup" "btrfs-progs" "gptfdisk"
            "util-linux" "dosfstools" "e2fsprogs" "coreutils" "makeWrapper"
            "installShellFiles" "nixpkgs-fmt" ];
  pkgs = builtins.listToAttrs (map (n: { name = n; value = pkg n; }) names) // {
    rustPlatform.buildRustPackage = a: a // { outPath = "/nix/store/stub-tabula"; builder = "buildRustPackage"; };
    mkShell = a: a // { builder = "mkShell"; };
  };
  lib = {
    cleanSourceWith = a: a;
    removePrefix = p: s:
      let n = builtins.stringLength p; in
      if builtins.substring 0 n s == p then builtins.substring n (builtins.stringLength s) s else s;
    hasPrefix = p: s: builtins.substring 0 (builtins.stringLength p) s == p;
    makeBinPath = ps: builtins.concatStringsSep ":" (map (p: "${p}/bin") ps);
    licenses = { mit = "mit"; asl20 = "asl20"; };
  };
  nixpkgs = { inherit lib; legacyPackages.x86_64-linux = pkgs; };
  out = flake.outputs { self = out; inherit nixpkgs; };
  p = out.packages.x86_64-linux.default;
  shell = out.devShells.x86_64-linux.default;
  keep = rel: p.src.filter (FLAKE + "/" + rel) "regular";
in {
  inputs = flake.inputs.nixpkgs.url;
  builder = p.builder;
  pname = p.pname;
  version = p.version;
  lock = toString p.cargoLock.lockFile;
  flags = p.cargoBuildFlags;
  main = p.meta.mainProgram;
  wrapped = p.postInstall;
  app = out.apps.x86_64-linux.default;
  shell = map (x: x.name) shell.packages;
  keeps = map keep [ "Cargo.toml" "Cargo.lock" "crates" "crates/tabula/src/main.rs" ];
  drops = map keep [ "target" "target/debug/tabula" "docs" "README.md" ".ci" ];
}
"#;

#[test]
fn flake_parses_with_nix_instantiate() {
    if !support::have("nix-instantiate") {
        eprintln!(
            "SKIP flake_parses: nix-instantiate is not installed (ci/apt-packages/nixos.txt)"
        );
        return;
    }
    let o = Command::new("nix-instantiate")
        .arg("--parse")
        .arg(repo().join("flake.nix"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // A broken copy fails: the check can tell.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo().join("flake.nix")).unwrap();
    std::fs::write(dir.path().join("flake.nix"), text.replacen("};", "}", 1)).unwrap();
    let bad = Command::new("nix-instantiate")
        .arg("--parse")
        .arg(dir.path().join("flake.nix"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

#[test]
fn flake_outputs_evaluate_offline_to_the_promised_structure() {
    if !support::have("nix-instantiate") {
        eprintln!(
            "SKIP flake_outputs: nix-instantiate is not installed (ci/apt-packages/nixos.txt)"
        );
        return;
    }
    let root = repo().canonicalize().unwrap();
    let expr = STUB.replace("FLAKE", &format!("{:?}", root.display().to_string()));
    let o = Command::new("nix-instantiate")
        .args(["--eval", "--strict", "--json", "-E", &expr])
        .env("NIX_PATH", "")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();

    assert!(v["inputs"]
        .as_str()
        .unwrap()
        .starts_with("github:NixOS/nixpkgs/"));
    assert_eq!(v["builder"], "buildRustPackage");
    assert_eq!(v["pname"], "tabula");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        Path::new(v["lock"].as_str().unwrap()),
        root.join("Cargo.lock")
    );
    assert_eq!(v["flags"], serde_json::json!(["-p", "tabula"]));
    assert_eq!(v["main"], "tabula");
    let wrapped = v["wrapped"].as_str().unwrap();
    assert!(
        wrapped.contains("/nix/store/stub-cryptsetup/bin") && wrapped.contains("wrapProgram"),
        "{wrapped}"
    );
    assert!(wrapped.contains("tabula man --out $out/share/man/man1"));
    assert_eq!(v["app"]["type"], "app");
    assert_eq!(v["app"]["program"], "/nix/store/stub-tabula/bin/tabula");
    let shell: Vec<&str> = v["shell"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for tool in [
        "cargo",
        "rustc",
        "clippy",
        "rustfmt",
        "cryptsetup",
        "btrfs-progs",
        "gptfdisk",
        "util-linux",
        "dosfstools",
    ] {
        assert!(shell.contains(&tool), "devShell lacks {tool}: {shell:?}");
    }
    assert_eq!(v["keeps"], serde_json::json!([true, true, true, true]));
    assert_eq!(
        v["drops"],
        serde_json::json!([false, false, false, false, false])
    );
}

/// RUNBOOK step 0 and the README show both ways onto the installer, and
/// what they name is real: the flake's `nix run ... -- ARGS` parses as a
/// tabula command line, the static build script exists and takes `--out`.
#[test]
fn runbook_step_0_and_readme_show_both_ways_onto_the_installer() {
    let dir = tempfile::tempdir().unwrap();
    assert_cmd::Command::cargo_bin("tabula")
        .unwrap()
        .current_dir(dir.path())
        .env_remove("TABULA_SPEC")
        .args(["docs", "--out", "o"])
        .assert()
        .success();
    let runbook = std::fs::read_to_string(dir.path().join("o/docs/RUNBOOK.md")).unwrap();
    let step0 = runbook.find("## 0. Get tabula onto the installer").unwrap();
    let step1 = runbook.find("## 1. ").unwrap();
    assert!(step0 < step1, "step 0 comes first");
    let body = &runbook[step0..step1];
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    for text in [body, readme.as_str()] {
        assert!(
            text.contains("profile install github:OWNER/tabula"),
            "{text}"
        );
        assert!(text.contains("run github:OWNER/tabula -- "), "{text}");
        assert!(text.contains("scripts/build-static.sh --out "), "{text}");
    }
    let mut runs = 0;
    for line in body.lines().chain(readme.lines()) {
        let Some((_, args)) = line.split_once(" run github:OWNER/tabula -- ") else {
            continue;
        };
        runs += 1;
        let args: Vec<&str> = args.split_whitespace().collect();
        let out = assert_cmd::Command::cargo_bin("tabula")
            .unwrap()
            .current_dir(dir.path())
            .env("TABULA_PARSE_ONLY", "1")
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{line}: {out:?}");
    }
    assert!(runs >= 2, "{runs}");
    let script = repo().join("scripts/build-static.sh");
    let help = Command::new("bash")
        .arg(&script)
        .arg("--help")
        .output()
        .unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--out FILE"));
}
