//! The rendered modules evaluated with real Nix (offline, stand-ins for
//! `lib`/`pkgs`/`inputs`: tests/fixtures/harness.nix), asserted against the
//! user's architecture document. The document's facts are written out here,
//! not read from the spec, so a spec or renderer drift fails the test.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use serde_json::{json, Value};

const STORE: &str = "/nix/store/00000000000000000000000000000000-";

/// The document's mount table (plus /persist, the decision of issue 2).
const SUBVOLUME_MOUNTS: [(&str, &str); 9] = [
    ("/nix", "@system/nix"),
    ("/persist", "@system/persist"),
    ("/var/lib", "@system/state"),
    ("/var/log", "@system/logs"),
    ("/home", "@user/home"),
    ("/var/lib/containers", "@shared/containers"),
    ("/var/lib/flatpak", "@shared/flatpak"),
    ("/var/lib/microvms", "@shared/microvm"),
    ("/var/lib/waydroid", "@shared/waydroid"),
];

fn eval_embedded() -> Option<Value> {
    if !support::have_nix("render_eval") {
        return None;
    }
    let (dir, _) = support::render_to_temp(&support::embedded());
    Some(support::eval_host(dir.path(), "surface-pro-8"))
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect()
}

#[test]
fn filesystems_match_the_document() {
    let Some(out) = eval_embedded() else { return };
    let fs = &out["config"]["fileSystems"];
    let root = &fs["/"];
    assert_eq!(root["fsType"], "tmpfs");
    assert_eq!(strs(&root["options"]), ["size=2G", "mode=755"]);
    for (mount, subvol) in SUBVOLUME_MOUNTS {
        let m = &fs[mount];
        assert_eq!(m["device"], "/dev/mapper/pool", "{mount}");
        assert_eq!(m["fsType"], "btrfs", "{mount}");
        let opts = strs(&m["options"]);
        assert!(
            opts.contains(&format!("subvol={subvol}").as_str()),
            "{mount}: {opts:?}"
        );
        assert!(opts.contains(&"compress=zstd"), "{mount}: {opts:?}");
    }
    assert_eq!(
        fs["/boot"]["device"],
        "/dev/disk/by-uuid/0eaf7961-48c5-4b55-8a8f-04cd0b71de07"
    );
    assert_eq!(fs["/boot"]["fsType"], "ext4");
    assert_eq!(fs["/boot/efi"]["device"], "/dev/disk/by-uuid/2CE0-6722");
    assert_eq!(fs["/boot/efi"]["fsType"], "vfat");
    assert_eq!(fs.as_object().unwrap().len(), 12);
    let needed: Vec<&str> = fs
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, v)| v["neededForBoot"] == true)
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(needed, ["/nix", "/persist", "/var/lib", "/var/log"]);
}

#[test]
fn luks_unlocks_with_the_usb_keyfile_under_systemd_stage_1() {
    let Some(out) = eval_embedded() else { return };
    let boot = &out["config"]["boot"];
    assert_eq!(boot["initrd"]["systemd"]["enable"], true);
    let pool = &boot["initrd"]["luks"]["devices"]["pool"];
    assert_eq!(
        pool["device"],
        "/dev/disk/by-uuid/3c75c6db-4d7c-4570-81f1-02d168781aac"
    );
    let key = pool["keyFile"].as_str().unwrap();
    assert!(
        key.starts_with('/') && key.ends_with(":UUID=223C-F3F8"),
        "{key}"
    );
    assert!(pool["keyFileTimeout"].as_u64().unwrap() > 0);
    // nixpkgs asserts it stays unset under systemd stage 1.
    assert!(pool.get("fallbackToPassword").is_none());
    let mods = strs(&boot["initrd"]["availableKernelModules"]);
    for m in ["xhci_pci", "usb_storage", "uas", "exfat"] {
        assert!(mods.contains(&m), "{m} not in the initrd: {mods:?}");
    }
}

#[test]
fn grub_chain_loads_the_foreign_systems() {
    let Some(out) = eval_embedded() else { return };
    let loader = &out["config"]["boot"]["loader"];
    assert_eq!(loader["efi"]["efiSysMountPoint"], "/boot/efi");
    assert_eq!(loader["grub"]["device"], "nodev");
    assert_eq!(loader["grub"]["efiSupport"], true);
    let entries = loader["grub"]["extraEntries"].as_str().unwrap();
    for (title, efi) in [
        ("Windows 11", "/EFI/Microsoft/Boot/bootmgfw.efi"),
        ("Kali Linux", "/EFI/kali/grubx64.efi"),
        ("Alpine Recovery", "/EFI/alpine/grubx64.efi"),
    ] {
        assert!(
            entries.contains(&format!("menuentry '{title}' {{")),
            "{entries}"
        );
        assert!(
            entries.contains(&format!("chainloader '{efi}'")),
            "{entries}"
        );
    }
    assert_eq!(
        entries
            .matches("search --no-floppy --fs-uuid --set=root '2CE0-6722'")
            .count(),
        3
    );
}

#[test]
fn persistence_renders_only_uncovered_entries() {
    let Some(out) = eval_embedded() else { return };
    let p = &out["config"]["environment"]["persistence"]["/persist"];
    assert_eq!(strs(&p["directories"]), ["/etc/nixos"]);
    assert_eq!(
        strs(&p["files"]),
        [
            "/etc/machine-id",
            "/etc/ssh/ssh_host_ed25519_key",
            "/etc/ssh/ssh_host_ed25519_key.pub",
            "/etc/ssh/ssh_host_rsa_key",
            "/etc/ssh/ssh_host_rsa_key.pub",
        ]
    );
    // Every per-user entry of the document is under /home: none is rendered.
    assert!(p.get("users").is_none(), "{p}");
    assert_eq!(out["externalImports"][0], "input:impermanence");
}

#[test]
fn sessions_have_exec_lines_and_provided_sessions() {
    let Some(out) = eval_embedded() else { return };
    let dm = &out["config"]["services"]["displayManager"];
    assert_eq!(dm["sddm"]["enable"], true);
    assert_eq!(dm["sddm"]["wayland"]["enable"], true);
    assert_eq!(dm["defaultSession"], "plasma");
    let pkgs = dm["sessionPackages"].as_array().unwrap();
    let expect = [
        (
            "waydroid",
            // config.virtualisation.waydroid.package: waydroid-nftables, as
            // the host's firewall is nftables (26.05).
            format!(
                "Exec={STORE}cage/bin/cage -s -- {STORE}waydroid-nftables/bin/waydroid show-full-ui"
            ),
        ),
        (
            "brave-kiosk",
            format!(
                "Exec={STORE}cage/bin/cage -s -- {STORE}brave/bin/brave --kiosk --no-first-run"
            ),
        ),
    ];
    assert_eq!(pkgs.len(), expect.len());
    for (p, (id, exec)) in pkgs.iter().zip(&expect) {
        assert_eq!(p["providedSessions"], json!([id]));
        assert_eq!(p["path"], format!("share/wayland-sessions/{id}.desktop"));
        let text = p["text"].as_str().unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.contains(&exec.as_str()), "{text}");
        assert!(lines.contains(&"Type=Application"), "{text}");
    }
    assert_eq!(out["sessionPackagesOk"], true);
    let c = &out["config"];
    assert_eq!(c["services"]["desktopManager"]["plasma6"]["enable"], true);
    // 26.05: GNOME under services.desktopManager (moved in 25.11).
    assert_eq!(c["services"]["desktopManager"]["gnome"]["enable"], true);
    assert!(c["services"]["xserver"]["desktopManager"].is_null());
    assert_eq!(c["services"]["xserver"]["enable"], true);
    assert_eq!(
        c["services"]["xserver"]["windowManager"]["openbox"]["enable"],
        true
    );
    assert_eq!(c["virtualisation"]["waydroid"]["enable"], true);
    assert_eq!(
        c["programs"]["ssh"]["askPassword"],
        format!("{STORE}ksshaskpass/bin/ksshaskpass")
    );
    // Brave is allowed by name; nothing else is.
    assert_eq!(
        out["unfreeAllowed"],
        json!({"brave": true, "git": false, "cage": false, "waydroid": false})
    );
}

/// Evaluate the host's modules with the harness; `Err(stderr)` when Nix
/// refuses them (a conflict).
fn try_eval(dir: &std::path::Path) -> Result<Value, String> {
    let out = support::nix_instantiate()
        .args(["--eval", "--strict", "--json"])
        .arg(support::harness())
        .arg("--argstr")
        .arg("dir")
        .arg(dir.join("hosts/surface-pro-8"))
        .output()
        .unwrap();
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn plasma_and_gnome_force_only_the_ask_password_they_both_set() {
    // The harness's stand-ins for plasma6.nix and gnome.nix/seahorse.nix set
    // askPassword with mkDefault each (two values: a conflict in NixOS);
    // pinentry and defaultSession are set by Plasma alone.
    if !support::have_nix("plasma_and_gnome_force_only_the_ask_password_they_both_set") {
        return;
    }
    for release in ["24.11", "25.11", "26.05", "26.11"] {
        let mut spec_text = support::with_release(support::embedded_text(), release);
        if release == "24.11" {
            // 24.11 refuses Waydroid with nftables (check); the desktops are the point here.
            spec_text = spec_text.replacen("firewall = \"nftables\"", "firewall = \"iptables\"", 1);
        }
        let (dir, files) = support::render_to_temp(&support::spec_from(&spec_text));
        let desktop = files
            .iter()
            .find(|f| f.path.ends_with("desktop.nix"))
            .unwrap();
        // Only what really conflicts is forced.
        assert!(
            !desktop.contents.contains("pinentryPackage"),
            "{release}: {}",
            desktop.contents
        );
        assert_eq!(
            desktop.contents.matches("lib.mkForce").count(),
            1,
            "{release}"
        );
        let out = try_eval(dir.path()).unwrap_or_else(|e| panic!("{release}: {e}"));
        let c = &out["config"];
        // The rendered (forced) value wins over both desktops' mkDefault.
        assert_eq!(
            c["programs"]["ssh"]["askPassword"],
            format!("{STORE}ksshaskpass/bin/ksshaskpass"),
            "{release}"
        );
        // Plasma's own mkDefault, uncontested.
        assert_eq!(
            c["programs"]["gnupg"]["agent"]["pinentryPackage"],
            format!("{STORE}pinentry-qt"),
            "{release}"
        );
        assert_eq!(c["services"]["displayManager"]["defaultSession"], "plasma");

        // Without the force the two desktops' definitions collide, as in NixOS.
        let path = dir.path().join("hosts/surface-pro-8/desktop.nix");
        let text = std::fs::read_to_string(&path).unwrap();
        let unforced: String = text
            .lines()
            .filter(|l| !l.contains("programs.ssh.askPassword"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_ne!(unforced, text);
        std::fs::write(&path, unforced).unwrap();
        let err = try_eval(dir.path()).unwrap_err();
        assert!(err.contains("conflicting"), "{release}: {err}");
    }
}

#[test]
fn gnome_alone_forces_nothing() {
    if !support::have_nix("gnome_alone_forces_nothing") {
        return;
    }
    let text = support::with_release(support::embedded_text(), "26.05");
    let spec = support::spec_from(&text);
    let mut spec = spec;
    let d = spec.desktop.as_mut().unwrap();
    d.sessions
        .retain(|s| s.kind != tabula_spec::model::SessionKind::Plasma6);
    d.default_session = None;
    let (dir, files) = support::render_to_temp(&spec);
    let desktop = files
        .iter()
        .find(|f| f.path.ends_with("desktop.nix"))
        .unwrap();
    assert!(
        !desktop.contents.contains("mkForce"),
        "{}",
        desktop.contents
    );
    let out = try_eval(dir.path()).unwrap();
    assert_eq!(
        out["config"]["programs"]["ssh"]["askPassword"],
        format!("{STORE}seahorse/libexec/seahorse/ssh-askpass")
    );
}

#[test]
fn surface_kernel_params_survive_waydroids_kernel_params() {
    // nixos-hardware's Surface profile sets mem_sleep_default=deep with
    // mkDefault; Waydroid's psi=1 (normal priority) would discard it.
    let Some(out) = eval_embedded() else { return };
    let params = strs(&out["config"]["boot"]["kernelParams"]);
    assert!(params.contains(&"mem_sleep_default=deep"), "{params:?}");
    assert!(params.contains(&"psi=1"), "{params:?}");
    // /boot (2 GB) sized the number of generations GRUB keeps there.
    assert_eq!(
        out["config"]["boot"]["loader"]["grub"]["configurationLimit"],
        30
    );
}

#[test]
fn waydroid_session_runs_the_configured_package_from_25_11_on() {
    if !support::have_nix("waydroid_session_runs_the_configured_package_from_25_11_on") {
        return;
    }
    for (release, exec_pkg) in [
        ("24.11", "waydroid"),
        ("25.11", "waydroid-nftables"),
        ("26.11", "waydroid-nftables"),
    ] {
        let (dir, _) = support::render_to_temp(&support::embedded_variant(release, None));
        let out = support::eval_host(dir.path(), "surface-pro-8");
        let pkgs = out["config"]["services"]["displayManager"]["sessionPackages"]
            .as_array()
            .unwrap();
        let text = pkgs[0]["text"].as_str().unwrap();
        let exec =
            format!("Exec={STORE}cage/bin/cage -s -- {STORE}{exec_pkg}/bin/waydroid show-full-ui");
        assert!(text.lines().any(|l| l == exec), "{release}: {text}");
    }
    // Without nftables the module's default is plain waydroid.
    let text = support::with_release(support::embedded_text(), "26.05").replacen(
        "firewall = \"nftables\"",
        "firewall = \"iptables\"",
        1,
    );
    let (dir, _) = support::render_to_temp(&support::spec_from(&text));
    let out = support::eval_host(dir.path(), "surface-pro-8");
    let t = out["config"]["services"]["displayManager"]["sessionPackages"][0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(t.contains(&format!("{STORE}waydroid/bin/waydroid")), "{t}");
}

#[test]
fn users_containers_and_security() {
    let Some(out) = eval_embedded() else { return };
    let c = &out["config"];
    assert_eq!(c["users"]["mutableUsers"], false);
    assert_eq!(
        c["users"]["users"]["user"]["hashedPasswordFile"],
        "/persist/secrets/user.passwd"
    );
    assert_eq!(c["users"]["users"]["user"]["isNormalUser"], true);
    assert_eq!(
        c["users"]["users"]["root"]["hashedPasswordFile"],
        "/persist/secrets/root.passwd"
    );
    assert_eq!(c["networking"]["hostName"], "surface-pro-8");
    assert_eq!(c["networking"]["nftables"]["enable"], true);
    assert_eq!(c["virtualisation"]["podman"]["enable"], true);
    assert_eq!(c["services"]["flatpak"]["enable"], true);
    let svc = &c["systemd"]["services"]["flatpak-repo"];
    assert_eq!(svc["serviceConfig"]["Type"], "oneshot");
    assert!(svc["script"].as_str().unwrap().contains("remote-add --system --if-not-exists 'flathub' 'https://dl.flathub.org/repo/flathub.flatpakrepo'"));
    assert_eq!(
        c["environment"]["etc"]["distrobox/distrobox.ini"]["source"],
        "path:distrobox.ini"
    );
    assert_eq!(c["microvm"]["host"]["enable"], true);
    assert_eq!(c["system"]["stateVersion"], "24.11");
    let imported: Vec<&str> = strs(&out["importedFiles"]);
    assert!(imported.contains(&"custom.nix"), "{imported:?}");
}

#[test]
fn a_conflicting_custom_setting_is_caught_by_the_harness() {
    // The stand-in merge must be able to fail like NixOS does.
    if !support::have_nix("a_conflicting_custom_setting_is_caught_by_the_harness") {
        return;
    }
    let (dir, _) = support::render_to_temp(&support::embedded());
    std::fs::write(
        dir.path().join("hosts/surface-pro-8/custom.nix"),
        "{ ... }: { networking.hostName = \"other\"; }\n",
    )
    .unwrap();
    let out = support::nix_instantiate()
        .args(["--eval", "--strict", "--json"])
        .arg(support::harness())
        .arg("--argstr")
        .arg("dir")
        .arg(dir.path().join("hosts/surface-pro-8"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("conflicting"));
}

#[test]
fn the_flake_evaluates_to_one_nixos_system_named_after_the_host() {
    if !support::have_nix("the_flake_evaluates_to_one_nixos_system_named_after_the_host") {
        return;
    }
    let (dir, _) = support::render_to_temp(&support::embedded());
    // A stand-in nixosSystem that returns its arguments.
    let expr = format!(
        r#"let
          f = import {}/flake.nix;
          inputs = {{ self = {{ }}; nixpkgs.lib.nixosSystem = args: args; impermanence = {{ }}; nixos-hardware = {{ }}; microvm = {{ }}; }};
          out = f.outputs inputs;
        in {{
          inherit (f) inputs description;
          names = builtins.attrNames out.nixosConfigurations;
          modules = map (m: baseNameOf (toString m)) out.nixosConfigurations."surface-pro-8".modules;
          specialArgs = builtins.attrNames out.nixosConfigurations."surface-pro-8".specialArgs;
        }}"#,
        dir.path().display()
    );
    let out = support::nix_instantiate()
        .args(["--eval", "--strict", "--json", "--expr", &expr])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["names"], json!(["surface-pro-8"]));
    assert_eq!(v["modules"], json!(["surface-pro-8"]));
    assert_eq!(v["specialArgs"], json!(["inputs"]));
    let inputs = &v["inputs"];
    // The release's branch, while system.stateVersion stays at the first install.
    assert_eq!(inputs["nixpkgs"]["url"], "github:NixOS/nixpkgs/nixos-26.05");
    assert_eq!(
        inputs["nixos-hardware"]["inputs"]["nixpkgs"]["follows"],
        "nixpkgs"
    );
    assert_eq!(
        inputs["impermanence"]["inputs"]["nixpkgs"]["follows"],
        "nixpkgs"
    );
    assert_eq!(inputs["microvm"]["inputs"]["nixpkgs"]["follows"], "nixpkgs");
    assert!(inputs["impermanence"]["url"].is_string());
    assert!(inputs["nixos-hardware"]["url"].is_string());
    assert!(!dir.path().join("flake.lock").exists());
}
