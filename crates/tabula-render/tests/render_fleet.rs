//! `render_fleet`: each host's files are exactly its single-host render
//! (minus `flake.nix`), the flake is deterministic, and two hosts with one
//! name are refused. Evaluation with real Nix: crates/tabula/tests/fleet_cli.rs.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use tabula_render::fleet::render_fleet;
use tabula_spec::fleet::FleetSettings;

fn renamed(name: &str, deploy: &str) -> tabula_spec::HostSpec {
    let text = support::embedded_text().replacen(
        "name = \"surface-pro-8\"",
        &format!("name = \"{name}\""),
        1,
    );
    support::spec_from(&format!("{text}\n{deploy}"))
}

#[test]
fn each_host_is_its_own_render_and_the_flake_is_deterministic() {
    let a = support::embedded();
    let b = renamed(
        "desk",
        "[deploy]\ntarget = \"root@desk.lan\"\ntags = [\"home\"]\n",
    );
    let files = render_fleet(&[&a, &b], &FleetSettings::default()).unwrap();
    for spec in [&a, &b] {
        let single = tabula_render::render_flake(spec).unwrap();
        for f in single.iter().filter(|f| f.path != "flake.nix") {
            let g = files.iter().find(|g| g.path == f.path).unwrap();
            assert_eq!(g, f, "{}", f.path);
        }
    }
    let flakes: Vec<_> = files.iter().filter(|f| f.path == "flake.nix").collect();
    assert_eq!(flakes.len(), 1);
    let flake = &flakes[0].contents;
    assert!(flake.contains("nixosConfigurations.desk = nixpkgs.lib.nixosSystem"));
    assert!(flake.contains("colmenaHive = colmena.lib.makeHive"));
    assert!(flake.contains("targetHost = \"desk.lan\";"));
    assert!(!flake.contains("deploy-rs"), "deploy-rs only when asked");
    let again = render_fleet(&[&a, &b], &FleetSettings::default()).unwrap();
    assert_eq!(files, again);
    let mut paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let n = paths.len();
    paths.dedup();
    assert_eq!(paths.len(), n, "a path written twice");
}

#[test]
fn two_hosts_with_one_name_are_refused() {
    let a = support::embedded();
    let e = render_fleet(&[&a, &a], &FleetSettings::default()).unwrap_err();
    assert!(e.to_string().contains("two hosts have this name"), "{e}");
}
