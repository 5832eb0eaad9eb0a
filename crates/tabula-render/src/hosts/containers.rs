//! # containers.nix and distrobox.ini: the document's decision tree
//!
//! Nix native packages, Distrobox (images as a `distrobox.ini` for
//! `distrobox assemble`, installed at /etc/distrobox/distrobox.ini),
//! Flatpak (NixOS has no declarative remote: a oneshot service adds it),
//! rootless Podman and the microvm.nix host.

use tabula_spec::model::{Flatpak, Podman};
use tabula_spec::{HostSpec, KeyPath};

use super::{header, microvm_enabled, Ctx};
use crate::escape::{ini_value, sh_word};
use crate::nix::{self, list, pkg, raw, s, strs, AttrsBuilder, Expr};
use crate::RenderError;

pub(crate) fn containers(cx: &Ctx) -> Result<String, RenderError> {
    let spec = cx.spec;
    let c = &spec.containers;
    let at = KeyPath::root().key("containers");
    let mut b = AttrsBuilder::new();
    let mut packages: Vec<Expr> = c.nix_packages.iter().map(|p| pkg(p)).collect();
    let distrobox = c.distrobox.as_ref().filter(|d| d.enable);
    if distrobox.is_some() {
        packages.push(pkg("distrobox"));
    }
    b.set("environment.systemPackages", list(packages));
    b.comment("Nix native: CLI tools and system utilities");
    if distrobox.is_some() {
        b.set_path(
            vec![
                "environment".into(),
                "etc".into(),
                "distrobox/distrobox.ini".into(),
                "source".into(),
            ],
            raw("./distrobox.ini"),
        );
        b.comment("create the containers with `distrobox assemble create --file /etc/distrobox/distrobox.ini`");
    }
    if let Some(p) = c.podman.as_ref().filter(|p| p.enable) {
        podman(&mut b, p);
    }
    if let Some(f) = c.flatpak.as_ref().filter(|f| f.enable) {
        flatpak(&mut b, f, &at)?;
    }
    if microvm_enabled(spec) {
        microvm(&mut b, spec);
    }
    Ok(nix::module(
        &header(
            spec,
            "Container runtimes: Nix native, Distrobox, Flatpak, Podman, microvm.nix.",
        ),
        &["pkgs"],
        &[],
        b.build(),
    ))
}

/// Podman, rootless by default, and its long-running containers.
fn podman(b: &mut AttrsBuilder, p: &Podman) {
    b.set("virtualisation.podman.enable", Expr::Bool(true));
    if p.rootless {
        b.comment("rootless by default: each user's images live in ~/.local/share/containers");
    }
    if p.docker_compat {
        b.set("virtualisation.podman.dockerCompat", Expr::Bool(true));
    }
    b.set(
        "virtualisation.podman.defaultNetwork.settings.dns_enabled",
        Expr::Bool(true),
    );
    if !p.containers.is_empty() {
        b.set("virtualisation.oci-containers.backend", s("podman"));
        for pc in &p.containers {
            let mut o = AttrsBuilder::new();
            o.set("image", s(&pc.image));
            if !pc.ports.is_empty() {
                o.set("ports", strs(&pc.ports));
            }
            b.set_path(
                vec![
                    "virtualisation".into(),
                    "oci-containers".into(),
                    "containers".into(),
                    pc.name.clone(),
                ],
                o.build(),
            );
        }
    }
}

/// Flatpak, the portal, and a oneshot service that adds the remote and
/// installs the apps.
fn flatpak(b: &mut AttrsBuilder, f: &Flatpak, at: &KeyPath) -> Result<(), RenderError> {
    b.set("services.flatpak.enable", Expr::Bool(true));
    b.set("xdg.portal.enable", Expr::Bool(true));
    b.comment("Flatpak requires the desktop portal");
    if let Some(r) = &f.remote {
        let mut script = format!(
            "flatpak remote-add --system --if-not-exists {} {}\n",
            sh_word(&r.name),
            sh_word(&r.url)
        );
        for app in &f.apps {
            script.push_str(&format!(
                "flatpak install --system --noninteractive {} {}\n",
                sh_word(&r.name),
                sh_word(app)
            ));
        }
        let mut svc = AttrsBuilder::new();
        svc.set(
            "description",
            s(format!("Add the Flatpak remote {}", r.name)),
        );
        svc.set("wantedBy", strs(["multi-user.target"]));
        svc.set("wants", strs(["network-online.target"]));
        svc.set("after", strs(["network-online.target"]));
        svc.set("path", list([pkg("flatpak")]));
        svc.set("serviceConfig.Type", s("oneshot"));
        svc.set("serviceConfig.RemainAfterExit", Expr::Bool(true));
        svc.set("script", s(script));
        b.set_path(
            vec!["systemd".into(), "services".into(), "flatpak-repo".into()],
            svc.build(),
        );
        b.comment("NixOS has no declarative Flatpak remote: add it once the network is up");
    } else if !f.apps.is_empty() {
        return Err(RenderError::missing(
            at.key("flatpak").key("remote"),
            "Flatpak apps need a remote to install from",
        ));
    }
    Ok(())
}

/// The microvm.nix host and its VMs.
fn microvm(b: &mut AttrsBuilder, spec: &HostSpec) {
    let c = &spec.containers;
    b.set("microvm.host.enable", Expr::Bool(true));
    b.comment("untrusted code runs in microvm.nix VMs");
    if let Some(m) = &c.microvm {
        for vm in &m.vms {
            let mut inner = AttrsBuilder::new();
            if let Some(h) = &vm.hypervisor {
                inner.set("microvm.hypervisor", s(h));
            }
            if let Some(mem) = vm.mem_mib {
                inner.set("microvm.mem", Expr::Int(i64::from(mem)));
            }
            if let Some(v) = vm.vcpu {
                inner.set("microvm.vcpu", Expr::Int(i64::from(v)));
            }
            inner.set("system.stateVersion", s(&spec.host.state_version));
            b.set_path(
                vec![
                    "microvm".into(),
                    "vms".into(),
                    vm.name.clone(),
                    "config".into(),
                ],
                inner.build(),
            );
        }
    }
}

/// `distrobox.ini` for `distrobox assemble`: one section per image.
pub(crate) fn distrobox_ini(cx: &Ctx) -> Result<String, RenderError> {
    let spec = cx.spec;
    let mut out = format!(
        "# Distrobox containers of `{}`, for `distrobox assemble create --file distrobox.ini`.\n# Generated by `tabula render` from host.toml; edits are overwritten.\n",
        spec.host.name
    );
    let Some(d) = spec.containers.distrobox.as_ref().filter(|d| d.enable) else {
        return Ok(out);
    };
    for (i, img) in d.images.iter().enumerate() {
        let at = KeyPath::root()
            .key("containers")
            .key("distrobox")
            .index("images", i);
        if !tabula_spec::landing::container_name(&img.name) {
            return Err(RenderError::bad(
                at.key("name"),
                &img.name,
                "a distrobox container name",
                "start with a letter or digit, then letters, digits, `_`, `.` or `-`",
            ));
        }
        let image = ini_value(at.key("image"), &img.image, "a container image reference")?;
        if let Err(why) = tabula_spec::landing::image_reference(&img.image) {
            return Err(RenderError::bad(
                at.key("image"),
                &img.image,
                "a container image reference",
                why,
            ));
        }
        out.push_str(&format!("\n[{}]\nimage={image}\n", img.name));
        if !img.packages.is_empty() {
            for (j, p) in img.packages.iter().enumerate() {
                if !tabula_spec::landing::package_name(p) {
                    return Err(RenderError::bad(
                        at.index("packages", j),
                        p,
                        "a distrobox.ini value",
                        "a package name is letters, digits and `. _ + - : @`",
                    ));
                }
            }
            out.push_str(&format!(
                "additional_packages={}\n",
                ini_value(
                    at.key("packages"),
                    &img.packages.join(" "),
                    "a package list"
                )?
            ));
        }
    }
    Ok(out)
}
