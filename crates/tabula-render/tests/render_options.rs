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

/// The embedded host with every feature the renderer has a branch for
/// switched on at least once: the other CPU vendor, user shells, Podman
/// containers with ports, microVMs, Flatpak apps, open ports, rEFInd and
/// GRUB, nftables and iptables, and the minimal host (no LUKS, no
/// persistence, no desktop).
fn feature_variants(release: &str) -> Vec<(String, tabula_spec::HostSpec)> {
    let mut out = Vec::new();
    for loader in [None, Some("refind")] {
        for firewall in ["nftables", "iptables"] {
            let mut s = support::embedded_variant(release, loader);
            s.security.firewall = Some(firewall.into());
            s.security.allowed_tcp_ports = vec![22];
            s.security.allowed_udp_ports = vec![5353];
            s.hardware.cpu_vendor = Some(if loader.is_some() { "amd" } else { "intel" }.into());
            s.users[0].shell = Some(
                if firewall == "nftables" {
                    "zsh"
                } else {
                    "fish"
                }
                .into(),
            );
            s.containers.podman.as_mut().unwrap().containers = vec![support::podman_container(
                "svc",
                "docker.io/library/nginx:1",
                &["8080:80"],
            )];
            let vm = support::microvm_vm(
                "name = \"vm1\", hypervisor = \"qemu\", mem_mib = 512, vcpu = 1",
            );
            s.containers.microvm.as_mut().unwrap().vms = vec![vm];
            s.containers.flatpak.as_mut().unwrap().apps = vec!["org.mozilla.firefox".into()];
            if loader.is_some() {
                // Per-user persistence entries not covered by the /home mount.
                let up = s
                    .persistence
                    .as_mut()
                    .unwrap()
                    .users
                    .get_mut("user")
                    .unwrap();
                up.directories[0].covered_by = None;
                up.files[0].covered_by = None;
            }
            out.push((format!("{release} {loader:?} {firewall}"), s));
        }
    }
    let minimal = format!(
        "[host]\nname = \"mini\"\nrelease = \"{release}\"\nprimary_user = \"u\"\n[disk]\nsize = \"8GB\"\n[boot]\nloader = \"grub\"\n"
    );
    out.push((format!("{release} minimal"), support::spec_from(&minimal)));
    out
}

#[test]
fn every_path_of_every_feature_is_listed_for_every_release() {
    for r in Release::all() {
        let listing = parse_listing(listed(r).unwrap());
        let mut emitted = std::collections::BTreeSet::new();
        let mut emitted_paths: Vec<Vec<String>> = Vec::new();
        for (name, spec) in feature_variants(r.as_str()) {
            let files = tabula_render::render_flake(&spec).unwrap();
            for f in support::modules(&files) {
                for (p, ok) in support::assigned_paths(&f.contents, &listing) {
                    assert!(
                        ok,
                        "{name}: {}: {} is not in options/{r}.txt",
                        f.path,
                        p.join(".")
                    );
                    emitted.insert(p.join("."));
                    emitted_paths.push(p);
                }
            }
        }
        // The variants reach the feature branches they are meant to.
        for p in [
            "hardware.cpu.amd.updateMicrocode",
            "hardware.cpu.intel.updateMicrocode",
            "programs.zsh.enable",
            "programs.fish.enable",
            "networking.firewall.allowedTCPPorts",
            "networking.firewall.allowedUDPPorts",
            "boot.kernelParams",
            "boot.loader.grub.configurationLimit",
        ] {
            assert!(emitted.contains(p), "{r}: no variant emits {p}");
        }
        assert_eq!(
            emitted.contains("boot.loader.refind.enable"),
            r.has("boot.loader.refind"),
            "{r}"
        );
        // The list claims nothing the renderer does not emit (evidence, not
        // claims): a path no longer rendered (as pinentryPackage, once forced
        // for Plasma 6 + GNOME) leaves the list.
        let matches = |pat: &[String], p: &[String]| {
            pat.len() == p.len() && pat.iter().zip(p).all(|(a, b)| a == "<name>" || a == b)
        };
        let unused: Vec<String> = listing
            .iter()
            .filter(|(pat, _)| !emitted_paths.iter().any(|p| matches(pat, p)))
            .map(|(pat, _)| pat.join("."))
            .collect();
        assert!(
            unused.is_empty(),
            "{r}: listed but never rendered: {unused:#?}"
        );
    }
}

#[test]
fn every_known_release_has_an_options_list_and_every_list_a_release() {
    for r in Release::all() {
        assert!(listed(r).is_some(), "no options/{r}.txt");
    }
    for (name, _) in tabula_render::options::LISTINGS {
        assert!(
            Release::parse(name).is_some(),
            "options/{name}.txt names no release of the table"
        );
    }
}

#[test]
fn a_new_release_is_one_table_entry_and_one_options_list() {
    use tabula_spec::release::{ReleaseInfo, RELEASES};
    // The entry a maintainer would add to RELEASES (a made-up rename)...
    let mut table = RELEASES.to_vec();
    table.push(ReleaseInfo {
        name: "27.05",
        branch: "nixos-27.05",
        released: "2027-05",
        end_of_life: "2027-12-31",
        eol_confirmed: false,
        renames: &[("services.desktopManager.gnome", "services.gnome")],
        adds: &[],
    });
    let table: &'static [ReleaseInfo] = Box::leak(table.into_boxed_slice());
    let r = Release::parse_in(table, "27.05").unwrap();
    // ...and the options/27.05.txt they would write.
    let list = listed(Release::parse("26.11").unwrap()).unwrap().replace(
        "services.desktopManager.gnome.enable",
        "services.gnome.enable",
    );
    let listing = parse_listing(&list);

    let mut spec = support::embedded();
    spec.host.release = r;
    let files = tabula_render::render_flake(&spec).unwrap();
    for f in support::modules(&files) {
        for (p, ok) in support::assigned_paths(&f.contents, &listing) {
            assert!(ok, "{}: {} not listed", f.path, p.join("."));
        }
    }
    let text = |name: &str| {
        &files
            .iter()
            .find(|f| f.path.ends_with(name))
            .unwrap()
            .contents
    };
    assert!(text("desktop.nix").contains("services.gnome.enable = true;"));
    assert!(text("flake.nix").contains("github:NixOS/nixpkgs/nixos-27.05"));
    assert!(text("default.nix").contains("system.stateVersion = \"24.11\";"));
}
