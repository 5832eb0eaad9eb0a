//! `place`: every branch of the document's decision tree, and `apply` on the
//! embedded host's text changing exactly one line (or adding one) and
//! nothing else.
#![allow(clippy::unwrap_used, clippy::panic)]

use tabula_nixos::place::{apply, decide, Kind, Options, Runtime, SpecChange};

const HOST: &str = tabula_spec::embedded::SURFACE_PRO_8.toml;

/// `text` with line `old` replaced by `new` (the line must occur once).
fn replaced(text: &str, old: &str, new: &str) -> String {
    assert_eq!(text.matches(old).count(), 1, "{old:?}");
    text.replacen(old, new, 1)
}

fn opts() -> Options {
    Options {
        image: None,
        ports: vec!["5432:5432".into()],
    }
}

#[test]
fn every_branch_of_the_tree() {
    let cases = [
        (
            "ripgrep",
            Kind::Cli,
            Runtime::NixNative,
            "Is it a CLI tool or system utility?",
            ("Nix Native", "Shared", "Full", "Full", "0%"),
        ),
        (
            "rust",
            Kind::Dev,
            Runtime::Distrobox,
            "Is it a development environment (compiler, interpreter)?",
            ("Distrobox", "Shared", "$HOME", "Full", "~1%"),
        ),
        (
            "org.mozilla.firefox",
            Kind::Gui,
            Runtime::Flatpak,
            "Is it a GUI application (browser, chat, office)?",
            ("Flatpak", "Shared", "Portal", "Restricted", "~2%"),
        ),
        (
            "postgres",
            Kind::Service,
            Runtime::Podman,
            "Is it a long-running service (database, web server)?",
            ("Podman", "Shared", "Volume", "Isolated", "~2%"),
        ),
        (
            "ci-runner",
            Kind::Untrusted,
            Runtime::Microvm,
            "Is it untrusted code or CI/CD workload?",
            ("microvm.nix", "Isolated", "Isolated", "Isolated", "~5-10%"),
        ),
    ];
    for (name, kind, runtime, question, row) in cases {
        let p = decide(name, kind, &opts()).unwrap();
        assert_eq!(p.runtime, runtime);
        assert_eq!(p.question, question);
        let w = p.why;
        assert_eq!(
            (w.runtime, w.kernel, w.filesystem, w.network, w.overhead),
            row
        );
    }
}

#[test]
fn apply_changes_one_list_and_nothing_else() {
    let cases = [
        (
            "ripgrep",
            Kind::Cli,
            "nix_packages = [\"git\", \"vim\", \"htop\", \"tomb\"]",
            "nix_packages = [\"git\", \"vim\", \"htop\", \"tomb\", \"ripgrep\"]",
        ),
        (
            "rust",
            Kind::Dev,
            "  { name = \"ubuntu\", image = \"quay.io/toolbx/ubuntu-toolbox:24.04\" },\n",
            "  { name = \"ubuntu\", image = \"quay.io/toolbx/ubuntu-toolbox:24.04\" },\n  { name = \"rust\", image = \"quay.io/toolbx/arch-toolbox:latest\" },\n",
        ),
        (
            "org.mozilla.firefox",
            Kind::Gui,
            "apps = []",
            "apps = [\"org.mozilla.firefox\"]",
        ),
        (
            "postgres",
            Kind::Service,
            "containers = []",
            "containers = [{ name = \"postgres\", image = \"docker.io/library/postgres:latest\", ports = [\"5432:5432\"] }]",
        ),
        (
            "ci-runner",
            Kind::Untrusted,
            "vms = []",
            "vms = [{ name = \"ci-runner\" }]",
        ),
    ];
    for (name, kind, old, new) in cases {
        let p = decide(name, kind, &opts()).unwrap();
        let a = apply(HOST, &p.change).unwrap();
        assert!(a.changed && !a.enabled);
        assert_eq!(a.text, replaced(HOST, old, new), "{kind:?}");
        // Still a valid spec, now holding the entry.
        let spec = tabula_spec::parse("host.toml", &a.text).unwrap().spec;
        let c = &spec.containers;
        let found = match kind {
            Kind::Cli => c.nix_packages.iter().any(|n| n == name),
            Kind::Dev => c
                .distrobox
                .as_ref()
                .unwrap()
                .images
                .iter()
                .any(|i| i.name == name),
            Kind::Gui => c.flatpak.as_ref().unwrap().apps.iter().any(|i| i == name),
            Kind::Service => c
                .podman
                .as_ref()
                .unwrap()
                .containers
                .iter()
                .any(|i| i.name == name && i.ports == ["5432:5432"]),
            Kind::Untrusted => c
                .microvm
                .as_ref()
                .unwrap()
                .vms
                .iter()
                .any(|i| i.name == name),
        };
        assert!(found, "{kind:?}");
        // Placing it again changes nothing.
        let again = apply(&a.text, &p.change).unwrap();
        assert!(!again.changed);
        assert_eq!(again.text, a.text);
    }
}

#[test]
fn an_existing_entry_is_not_added_twice() {
    let a = apply(
        HOST,
        &SpecChange::NixPackage {
            package: "vim".into(),
        },
    )
    .unwrap();
    assert!(!a.changed);
    assert_eq!(a.text, HOST);
    let a = apply(
        HOST,
        &SpecChange::DistroboxImage {
            name: "arch".into(),
            image: "x".into(),
        },
    )
    .unwrap();
    assert!(!a.changed);
}

#[test]
fn a_disabled_runtime_is_enabled_and_a_missing_one_created() {
    let text = "[host]\nname = \"x\" # keep me\n\n[containers.flatpak]\nenable = false   # off for now\napps = []\n";
    let a = apply(
        text,
        &SpecChange::FlatpakApp {
            app_id: "org.gnome.Maps".into(),
        },
    )
    .unwrap();
    assert!(a.changed && a.enabled);
    assert_eq!(
        a.text,
        "[host]\nname = \"x\" # keep me\n\n[containers.flatpak]\nenable = true   # off for now\napps = [\"org.gnome.Maps\"]\n"
    );
    let a = apply(
        text,
        &SpecChange::Microvm {
            name: "sandbox".into(),
        },
    )
    .unwrap();
    assert!(a.text.starts_with(text), "{}", a.text);
    assert!(
        a.text
            .ends_with("[containers.microvm]\nvms = [{ name = \"sandbox\" }]\n"),
        "{}",
        a.text
    );
}

#[test]
fn arrays_of_tables_grow_as_tables() {
    let text = "[[containers.podman.containers]]\nname = \"web\"\nimage = \"nginx\"\n";
    let a = apply(
        text,
        &SpecChange::PodmanContainer {
            name: "db".into(),
            image: "postgres".into(),
            ports: vec![],
        },
    )
    .unwrap();
    assert_eq!(
        a.text,
        "[[containers.podman.containers]]\nname = \"web\"\nimage = \"nginx\"\n\n[[containers.podman.containers]]\nname = \"db\"\nimage = \"postgres\"\n"
    );
}

#[test]
fn a_key_that_is_not_a_list_is_an_error() {
    let text = "[containers]\nnix_packages = \"git\"\n";
    assert!(apply(
        text,
        &SpecChange::NixPackage {
            package: "vim".into()
        }
    )
    .is_err());
    assert!(apply(
        "not = [toml",
        &SpecChange::NixPackage {
            package: "vim".into()
        }
    )
    .is_err());
}
