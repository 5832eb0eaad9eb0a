//! Every rendered `.nix` file parses with rnix and with real Nix
//! (`nix-instantiate --parse`), for every release tabula knows.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use tabula_spec::model::Release;

fn variants() -> Vec<(String, tabula_spec::HostSpec)> {
    let mut v = Vec::new();
    for r in Release::ALL {
        v.push((r.to_string(), support::embedded_variant(r.as_str(), None)));
        v.push((
            format!("{r} refind"),
            support::embedded_variant(r.as_str(), Some("refind")),
        ));
    }
    v
}

#[test]
fn every_nix_file_parses_with_rnix() {
    for (name, spec) in variants() {
        let files = tabula_render::render_flake(&spec).unwrap();
        let nix: Vec<_> = files.iter().filter(|f| f.path.ends_with(".nix")).collect();
        assert_eq!(
            nix.len(),
            12,
            "{name}: {:?}",
            files.iter().map(|f| &f.path).collect::<Vec<_>>()
        );
        for f in nix {
            let errors = support::rnix_errors(&f.contents);
            assert!(
                errors.is_empty(),
                "{name} {}: {errors:?}\n{}",
                f.path,
                f.contents
            );
        }
    }
}

#[test]
fn every_nix_file_parses_with_real_nix() {
    if !support::have_nix("every_nix_file_parses_with_real_nix") {
        return;
    }
    for (name, spec) in variants() {
        let (dir, files) = support::render_to_temp(&spec);
        for f in files.iter().filter(|f| f.path.ends_with(".nix")) {
            if let Err(e) = support::nix_parse(&dir.path().join(&f.path)) {
                panic!(
                    "{name} {}: nix-instantiate --parse failed:\n{e}\n{}",
                    f.path, f.contents
                );
            }
        }
    }
}

#[test]
fn rendering_is_deterministic() {
    let spec = support::embedded();
    let a = tabula_render::render_flake(&spec).unwrap();
    let b = tabula_render::render_flake(&support::embedded()).unwrap();
    assert_eq!(a, b);
}

#[test]
fn no_flake_lock_and_one_create_once_file() {
    let files = tabula_render::render_flake(&support::embedded()).unwrap();
    assert!(files.iter().all(|f| !f.path.ends_with("flake.lock")));
    let once: Vec<_> = files
        .iter()
        .filter(|f| f.policy == tabula_render::Policy::CreateOnce)
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(once, ["hosts/surface-pro-8/custom.nix"]);
}

#[test]
fn the_flake_names_the_inputs_and_the_host() {
    let files = tabula_render::render_flake(&support::embedded()).unwrap();
    let flake = &files
        .iter()
        .find(|f| f.path == "flake.nix")
        .unwrap()
        .contents;
    for needle in [
        r#"nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.11";"#,
        r#"impermanence.url = "github:nix-community/impermanence";"#,
        r#"nixos-hardware.url = "github:NixOS/nixos-hardware";"#,
        r#"microvm.inputs.nixpkgs.follows = "nixpkgs";"#,
        "nixosConfigurations.surface-pro-8 = nixpkgs.lib.nixosSystem",
        "modules = [ ./hosts/surface-pro-8 ];",
    ] {
        assert!(flake.contains(needle), "missing {needle}\n{flake}");
    }
}
