//! # users.nix, services.nix, security.nix

use tabula_spec::KeyPath;

use super::{header, Ctx};
use crate::nix::{self, list, pkg, s, strs, AttrsBuilder, Expr};
use crate::RenderError;

pub(crate) fn users(cx: &Ctx) -> Result<String, RenderError> {
    let spec = cx.spec;
    let mut b = AttrsBuilder::new();
    b.set("users.mutableUsers", Expr::Bool(false));
    b.comment("/etc is wiped at every boot: users and passwords come only from here");
    let mut shells = Vec::new();
    for (i, u) in spec.users.iter().enumerate() {
        let at = KeyPath::root().index("user", i);
        let mut a = AttrsBuilder::new();
        if u.name != "root" {
            a.set("isNormalUser", Expr::Bool(true));
        }
        if let Some(d) = &u.description {
            a.set("description", s(d));
        }
        if !u.groups.is_empty() {
            a.set("extraGroups", strs(&u.groups));
        }
        if super::secrets::enabled(spec) && spec.password_from_secret(&u.name) {
            // The hash is the age secret password-USER (`tabula secret password`).
            a.set(
                "hashedPasswordFile",
                super::secrets::path_of(&tabula_spec::model::Secrets::password_name(&u.name)),
            );
        } else if let Some(f) = &u.hashed_password_file {
            if !f.starts_with('/') || f.chars().any(char::is_control) {
                return Err(RenderError::bad(
                    at.key("hashed_password_file"),
                    f,
                    "a password file path",
                    "give an absolute path on a persistent mount, without line breaks",
                ));
            }
            a.set("hashedPasswordFile", s(f));
        }
        if let Some(sh) = &u.shell {
            a.set("shell", pkg(sh));
            if matches!(sh.as_str(), "zsh" | "fish") && !shells.contains(sh) {
                shells.push(sh.clone());
            }
        }
        b.set_path(
            vec!["users".into(), "users".into(), u.name.clone()],
            a.build(),
        );
    }
    for sh in shells {
        // NixOS asserts that a login shell's program module is enabled.
        b.set(&format!("programs.{sh}.enable"), Expr::Bool(true));
    }
    let from_secrets = super::secrets::enabled(spec)
        && spec
            .users
            .iter()
            .any(|u| spec.password_from_secret(&u.name));
    Ok(nix::module(
        &header(
            spec,
            if from_secrets {
                "Users: immutable, passwords from files on the persistent mount or from age secrets."
            } else {
                "Users: immutable, passwords from files on the persistent mount."
            },
        ),
        if from_secrets {
            &["config", "pkgs"]
        } else {
            &["pkgs"]
        },
        &[],
        b.build(),
    ))
}

pub(crate) fn services(cx: &Ctx) -> String {
    let sv = &cx.spec.services;
    let mut b = AttrsBuilder::new();
    if sv.networkmanager {
        b.set("networking.networkmanager.enable", Expr::Bool(true));
    }
    if sv.bluetooth {
        b.set("hardware.bluetooth.enable", Expr::Bool(true));
    }
    if sv.openssh {
        b.set("services.openssh.enable", Expr::Bool(true));
        b.comment("its host keys are persisted (see persistence.nix)");
    }
    nix::module(&header(cx.spec, "System services."), &[], &[], b.build())
}

pub(crate) fn security(cx: &Ctx) -> String {
    let spec = cx.spec;
    let sec = &spec.security;
    let mut b = AttrsBuilder::new();
    b.set("networking.firewall.enable", Expr::Bool(true));
    if sec.firewall.as_deref() == Some("nftables") {
        b.set("networking.nftables.enable", Expr::Bool(true));
        b.comment("the firewall's rules as nftables");
    }
    b.set(
        "networking.firewall.allowedTCPPorts",
        list(
            sec.allowed_tcp_ports
                .iter()
                .map(|p| Expr::Int(i64::from(*p))),
        ),
    );
    b.set(
        "networking.firewall.allowedUDPPorts",
        list(
            sec.allowed_udp_ports
                .iter()
                .map(|p| Expr::Int(i64::from(*p))),
        ),
    );
    if sec.tomb_vault.is_some() && !spec.containers.nix_packages.iter().any(|p| p == "tomb") {
        b.set("environment.systemPackages", list([pkg("tomb")]));
    }
    let mut head = String::from("Security: the firewall and the Tomb vault's tool.");
    if let Some(v) = &sec.tomb_vault {
        head.push_str(&format!(
            "\nThe Tomb vault is ~{}/{} (LUKS-in-LUKS secrets).",
            spec.host.primary_user, v
        ));
    }
    if sec.flatpak_sandbox {
        head.push_str("\nGUI apps run sandboxed as Flatpaks (containers.nix).");
    }
    if sec.microvm_untrusted {
        head.push_str("\nUntrusted code runs in microvm.nix VMs (containers.nix).");
    }
    let args: &[&str] = if b.is_empty() { &[] } else { &["pkgs"] };
    nix::module(&header(spec, &head), args, &[], b.build())
}
