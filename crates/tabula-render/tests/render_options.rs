//! The rendered modules assign only option paths listed, per release, in
//! `options/<release>.txt` (paths extracted with rnix), and the paths that
//! moved between releases are the right ones for each.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use tabula_render::options::{listed, parse_listing};
use tabula_spec::model::Release;

fn paths_of(spec: &tabula_spec::HostSpec) -> Vec<(String, Vec<String>, bool)> {
    let listing = parse_listing(listed(spec.host.release).unwrap());
    let files = tabula_render::render_flake(spec).unwrap();
    let mut out = Vec::new();
    for f in support::modules(&files) {
        for (p, ok) in support::assigned_paths(&f.contents, &listing) {
            out.push((f.path.clone(), p, ok));
        }
    }
    out
}

#[test]
fn every_rendered_path_is_listed_for_its_release() {
    for r in Release::all() {
        for loader in [None, Some("refind")] {
            let spec = support::embedded_variant(r.as_str(), loader);
            let paths = paths_of(&spec);
            assert!(paths.len() > 40, "{r}: only {} paths", paths.len());
            let unlisted: Vec<_> = paths
                .iter()
                .filter(|(_, _, ok)| !ok)
                .map(|(f, p, _)| format!("{f}: {}", p.join(".")))
                .collect();
            assert!(
                unlisted.is_empty(),
                "{r} {loader:?}: not in options/{r}.txt: {unlisted:#?}"
            );
        }
    }
}

#[test]
fn listings_name_a_declaring_file_for_every_path() {
    for r in Release::all() {
        for (path, file) in parse_listing(listed(r).unwrap()) {
            assert!(
                !file.is_empty(),
                "{r}: {} has no declaring file",
                path.join(".")
            );
            assert!(
                file.starts_with("nixos/") || file.contains(':'),
                "{r}: {} is declared by `{file}`",
                path.join(".")
            );
        }
    }
}

fn has(spec: &tabula_spec::HostSpec, path: &str) -> bool {
    paths_of(spec).iter().any(|(_, p, _)| p.join(".") == path)
}

#[test]
fn gnome_moved_in_25_11() {
    let old = "services.xserver.desktopManager.gnome.enable";
    let new = "services.desktopManager.gnome.enable";
    for r in ["24.11", "25.05"] {
        let s = support::embedded_variant(r, None);
        assert!(has(&s, old) && !has(&s, new), "{r}");
    }
    let s = support::embedded_variant("25.11", None);
    assert!(has(&s, new) && !has(&s, old));
}

#[test]
fn refind_only_where_nixpkgs_has_the_module() {
    let s = support::embedded_variant("24.11", Some("refind"));
    assert!(!has(&s, "boot.loader.refind.enable"));
    assert!(has(&s, "boot.loader.grub.extraEntries"));
    let files = tabula_render::render_flake(&s).unwrap();
    let boot = &files
        .iter()
        .find(|f| f.path.ends_with("boot.nix"))
        .unwrap()
        .contents;
    assert!(boot.contains("NixOS 24.11 has no rEFInd module"), "{boot}");

    let s = support::embedded_variant("25.11", Some("refind"));
    assert!(has(&s, "boot.loader.refind.enable"));
    assert!(has(&s, "boot.loader.refind.extraConfig"));
    assert!(!has(&s, "boot.loader.grub.extraEntries"));
}

#[test]
fn an_unlisted_path_is_caught() {
    // The extraction itself must be able to fail.
    let listing = parse_listing(listed(Release::parse("24.11").unwrap()).unwrap());
    let text = "{ lib, ... }:\n{\n  services.openssh.enable = true;\n  services.made-up.enable = lib.mkForce true;\n  fileSystems.\"/x\" = { device = \"d\"; bogus = 1; };\n}\n";
    let bad: Vec<String> = support::assigned_paths(text, &listing)
        .into_iter()
        .filter(|(_, ok)| !ok)
        .map(|(p, _)| p.join("."))
        .collect();
    assert_eq!(bad, ["services.made-up.enable", "fileSystems./x.bogus"]);
}
