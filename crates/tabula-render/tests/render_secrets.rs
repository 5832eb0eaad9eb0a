//! `[secrets]` (issue 13) in the rendered flake: the agenix input and
//! module, `age.secrets.NAME.file` inside the flake, the persisted identity,
//! `hashedPasswordFile` from `config.age.secrets`; parsed and evaluated with
//! real Nix and the harness's stand-ins. A host without secrets renders no
//! trace of them.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

const HOST_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIqrUfdDbY0cw4OJ3ZSx3Fp0N3yC5WzR3JVBZw3c9yWk root@h";

fn with_secrets(table: &str) -> String {
    support::embedded_text().replacen("\n[boot]\n", &format!("\n{table}\n\n[boot]\n"), 1)
}

#[test]
fn a_host_without_secrets_renders_no_agenix() {
    let plain = tabula_render::render_flake(&support::embedded()).unwrap();
    assert!(plain.iter().all(|f| !f.contents.contains("agenix")));
    assert!(plain.iter().all(|f| !f.path.ends_with("secrets.nix")));
    // A [secrets] table that names no secret changes nothing either.
    let empty = support::spec_from(&with_secrets(&format!(
        "[secrets]\nhost_key = \"{HOST_KEY}\""
    )));
    assert_eq!(tabula_render::render_flake(&empty).unwrap(), plain);
}

#[test]
fn secrets_render_for_agenix_and_evaluate() {
    let spec = support::spec_from(&with_secrets(&format!(
        "[secrets]\nhost_key = \"{HOST_KEY}\"\nnames = [\"wifi\"]\npasswords = [\"user\"]"
    )));
    let files = tabula_render::render_flake(&spec).unwrap();
    let get = |p: &str| {
        &files
            .iter()
            .find(|f| f.path == p)
            .unwrap_or_else(|| panic!("no {p}"))
            .contents
    };
    let flake = get("flake.nix");
    assert!(
        flake.contains("agenix.url = \"github:ryantm/agenix\";"),
        "{flake}"
    );
    assert!(flake.contains("agenix.inputs.nixpkgs.follows = \"nixpkgs\";"));
    let module = get("hosts/surface-pro-8/secrets.nix");
    assert!(
        module.contains("age.secrets.wifi.file = ../../secrets/wifi.age;"),
        "{module}"
    );
    assert!(module.contains("age.secrets.password-user.file = ../../secrets/password-user.age;"));
    let users = get("hosts/surface-pro-8/users.nix");
    assert!(
        users.contains("hashedPasswordFile = config.age.secrets.password-user.path;"),
        "{users}"
    );
    if !support::have_nix("render_secrets") {
        return;
    }
    let (dir, _) = support::render_to_temp(&spec);
    // The .age files `tabula render` copies into the flake.
    std::fs::create_dir(dir.path().join("secrets")).unwrap();
    for n in ["wifi", "password-user"] {
        std::fs::write(
            dir.path().join(format!("secrets/{n}.age")),
            b"age-encryption.org/v1\n",
        )
        .unwrap();
    }
    for f in &files {
        if f.path.ends_with(".nix") {
            support::nix_parse(&dir.path().join(&f.path))
                .unwrap_or_else(|e| panic!("{}: {e}", f.path));
        }
    }
    let out = support::eval_host(dir.path(), "surface-pro-8");
    let cfg = &out["config"];
    assert_eq!(
        cfg["age"]["identityPaths"],
        serde_json::json!(["/persist/etc/ssh/ssh_host_ed25519_key"])
    );
    assert_eq!(cfg["age"]["secrets"]["wifi"]["file"], "path:wifi.age");
    assert_eq!(
        cfg["age"]["secrets"]["password-user"]["file"],
        "path:password-user.age"
    );
    assert_eq!(
        cfg["users"]["users"]["user"]["hashedPasswordFile"],
        "/run/agenix/password-user"
    );
    // root keeps its file on the persistent mount.
    assert_eq!(
        cfg["users"]["users"]["root"]["hashedPasswordFile"],
        "/persist/secrets/root.passwd"
    );
    assert!(out["externalImports"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("input:agenix")));
    assert!(out["importedFiles"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("secrets.nix")));
}
