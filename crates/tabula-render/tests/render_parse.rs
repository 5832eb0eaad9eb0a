//! Every rendered `.nix` file parses with rnix and with real Nix
//! (`nix-instantiate --parse`), for every release tabula knows.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use tabula_spec::model::Release;

fn variants() -> Vec<(String, tabula_spec::HostSpec)> {
    let mut v = Vec::new();
    for r in Release::all() {
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
        r#"nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";"#,
        r#"nixos-hardware.inputs.nixpkgs.follows = "nixpkgs";"#,
        r#"impermanence.inputs.nixpkgs.follows = "nixpkgs";"#,
        r#"impermanence.url = "github:nix-community/impermanence";"#,
        r#"nixos-hardware.url = "github:NixOS/nixos-hardware";"#,
        r#"microvm.inputs.nixpkgs.follows = "nixpkgs";"#,
        "nixosConfigurations.surface-pro-8 = nixpkgs.lib.nixosSystem",
        "modules = [ ./hosts/surface-pro-8 ];",
    ] {
        assert!(flake.contains(needle), "missing {needle}\n{flake}");
    }
}

/// A host with only what host.toml requires: no LUKS, no desktop, no
/// containers, no persistence. Every file still renders and parses, and
/// only listed option paths are used.
#[test]
fn a_minimal_host_renders() {
    let text = r#"
[host]
name = "mini"
release = "25.11"
primary_user = "me"

[disk]
size = "32GB"

[[partition]]
number = 1
label = "ESP"
size = "512MB"
type = "esp"
owner = "nixos"
filesystem = { type = "vfat", uuid = "ABCD-1234" }

[[partition]]
number = 2
label = "root"
size = "rest"
type = "linux"
owner = "nixos"
filesystem = { type = "ext4", uuid = "11111111-2222-3333-4444-555555555555" }

[[mount]]
path = "/"
partition = "root"

[[mount]]
path = "/boot"
partition = "ESP"

[boot]
loader = "grub"
"#;
    let spec = support::spec_from(text);
    let files = tabula_render::render_flake(&spec).unwrap();
    let listing = tabula_render::options::parse_listing(
        tabula_render::options::listed(spec.host.release).unwrap(),
    );
    for f in files.iter().filter(|f| f.path.ends_with(".nix")) {
        assert!(
            support::rnix_errors(&f.contents).is_empty(),
            "{}\n{}",
            f.path,
            f.contents
        );
        if f.path.starts_with("hosts/") {
            for (p, ok) in support::assigned_paths(&f.contents, &listing) {
                assert!(ok, "{}: {}", f.path, p.join("."));
            }
        }
    }
    let flake = &files
        .iter()
        .find(|f| f.path == "flake.nix")
        .unwrap()
        .contents;
    assert!(
        !flake.contains("impermanence") && !flake.contains("microvm"),
        "{flake}"
    );
    let boot = &files
        .iter()
        .find(|f| f.path.ends_with("boot.nix"))
        .unwrap()
        .contents;
    assert!(boot.contains(r#"efiSysMountPoint = "/boot";"#), "{boot}");
    assert!(!boot.contains("extraEntries"), "{boot}");
    if support::have_nix("a_minimal_host_renders") {
        let (dir, _) = support::render_to_temp(&spec);
        for f in files.iter().filter(|f| f.path.ends_with(".nix")) {
            support::nix_parse(&dir.path().join(&f.path)).unwrap();
        }
    }
}

#[test]
fn a_usb_keyfile_without_systemd_stage_1_is_refused() {
    let text = support::embedded_text().replace("initrd_systemd = true", "initrd_systemd = false");
    let spec = support::spec_from(&text);
    match tabula_render::render_flake(&spec) {
        Err(tabula_render::RenderError::Unrepresentable { at, why, .. }) => {
            assert_eq!(at, "boot.initrd_systemd");
            assert!(why.contains("systemd stage 1"), "{why}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_nul_anywhere_is_refused() {
    let mut spec = support::embedded();
    spec.users[0].description = Some("a\0b".into());
    match tabula_render::render_flake(&spec) {
        Err(tabula_render::RenderError::Unrepresentable { at, .. }) => {
            assert_eq!(at, "hosts/surface-pro-8/users.nix");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Each refusal names the field in host.toml.
#[test]
fn refusals_name_the_field() {
    type Edit = fn(&mut tabula_spec::HostSpec);
    let cases: [(&str, Edit); 10] = [
        ("host.name", |s| s.host.name = "bad_name".into()),
        ("mount[11].options[0]", |s| {
            s.mounts[11].options = vec!["umask=0077,ro".into()]
        }),
        ("desktop.session[2].id", |s| {
            s.desktop.as_mut().unwrap().sessions[2].id = "../x".into()
        }),
        ("desktop.default_session", |s| {
            s.desktop.as_mut().unwrap().default_session = Some("nope".into())
        }),
        ("boot.entry[1].name", |s| {
            s.boot.entries[1].name = "Kali\nLinux".into()
        }),
        ("mount[11].partition", |s| {
            s.mounts[11].source = tabula_spec::model::MountSource::Partition {
                partition: "missing".into(),
            }
        }),
        ("containers.distrobox.images[0].name", |s| {
            s.containers.distrobox.as_mut().unwrap().images[0].name = "a b".into()
        }),
        ("containers.distrobox.images[0].image", |s| {
            s.containers.distrobox.as_mut().unwrap().images[0].image =
                "quay.io/toolbx/arch-toolbox:latest&&{touch,/tmp/PWNED}".into()
        }),
        // Duplicate names would render `attribute ... already defined`.
        ("user[1].name", |s| {
            s.users[1].name = s.users[0].name.clone()
        }),
        ("containers.distrobox.images[1].name", |s| {
            let d = s.containers.distrobox.as_mut().unwrap();
            d.images[1].name = d.images[0].name.clone();
        }),
    ];
    for (field, edit) in cases {
        let mut spec = support::embedded();
        assert_eq!(spec.mounts[11].path.as_str(), "/boot/efi");
        edit(&mut spec);
        let err = tabula_render::render_flake(&spec).unwrap_err();
        let at = match &err {
            tabula_render::RenderError::Unrepresentable { at, .. }
            | tabula_render::RenderError::Missing { at, .. } => at.clone(),
        };
        assert_eq!(at, field, "{err}");
        assert!(err.to_string().starts_with(field), "{err}");
    }
}
