//! # ISOLATION_LAYERS.md: the security zones, host to microVM
//!
//! What each zone isolates comes from the typed table in
//! [`crate::runtimes`]; which zones exist, and what this host puts in them,
//! from the spec.

use std::fmt::Write as _;

use tabula_spec::HostSpec;

use crate::facts::{self, Survival};
use crate::md::{self, code, text, Table};
use crate::runtimes::{DataPath, Zone};
use crate::textbox;

pub fn render(spec: &HostSpec) -> String {
    let zones = Zone::enabled_in(spec);
    let mut s = crate::preamble(spec, "Isolation layers");
    s.push_str("Each zone below isolates more than the one before it, and costs more. Only the zones this host enables are listed.\n\n");
    let rows: Vec<Vec<String>> = zones
        .iter()
        .enumerate()
        .map(|(i, z)| {
            let f = z.facts();
            vec![
                format!("{}. {}", i + 1, f.name),
                format!("kernel: {}", f.kernel.label()),
                format!("files: {}", f.files.label()),
                format!("network: {}", f.net.label()),
            ]
        })
        .collect();
    let mut lines = vec![];
    for (i, l) in textbox::columns(&rows, 2).into_iter().enumerate() {
        if i > 0 {
            lines.push("   │ more isolation ↓".to_owned());
        }
        lines.push(l);
    }
    s.push_str(&md::fence(
        "text",
        &textbox::single("SECURITY ZONES", &lines),
    ));
    s.push('\n');

    s.push_str(&md::heading(2, "What each zone isolates"));
    let mut t = Table::new(&[
        "Zone",
        "Kernel",
        "Filesystem",
        "Network",
        "Overhead",
        "Cost",
        "Use case",
    ]);
    for z in &zones {
        let f = z.facts();
        t.row([
            format!("**{}**", text(f.name)),
            text(f.kernel.label()),
            text(f.files.label()),
            text(f.net.label()),
            text(f.overhead),
            text(f.cost),
            text(f.use_case),
        ]);
    }
    s.push_str(&t.render());

    for z in &zones {
        s.push_str(&zone_section(spec, *z));
    }
    s.push_str(&crate::related());
    s
}

fn zone_section(spec: &HostSpec, z: Zone) -> String {
    let f = z.facts();
    let mut s = md::heading(2, f.name);
    let _ = writeln!(s, "{}.\n", text(f.mechanism));
    if let Some(q) = f.question {
        let _ = writeln!(s, "Use it when the answer to *{}* is yes.\n", text(q));
    }
    let items = zone_items(spec, z);
    if !items.is_empty() {
        s.push_str("On this host:\n\n");
        for i in items {
            s.push_str(&md::bullet(&i));
        }
        s.push('\n');
    }
    if !f.data.is_empty() {
        s.push_str(&data_table(spec, f.data));
    }
    s
}

/// What this host declares in a zone, one bullet each.
fn zone_items(spec: &HostSpec, z: Zone) -> Vec<String> {
    let c = &spec.containers;
    let mut items: Vec<String> = vec![];
    match z {
        Zone::Host => {
            items.push(format!(
                "NixOS {}, flake attribute {}",
                spec.host.release,
                code(&format!(".#{}", spec.host.name))
            ));
            let svc: Vec<&str> = [
                (spec.services.networkmanager, "NetworkManager"),
                (spec.services.bluetooth, "Bluetooth"),
                (spec.services.openssh, "OpenSSH"),
            ]
            .into_iter()
            .filter(|(on, _)| *on)
            .map(|(_, n)| n)
            .collect();
            if !svc.is_empty() {
                items.push(format!("services: {}", text(&svc.join(", "))));
            }
            if let Some(fw) = &spec.security.firewall {
                items.push(format!("firewall: {}", text(fw)));
            }
        }
        Zone::NixNative => {
            if c.nix_packages.is_empty() {
                items.push("no packages declared yet".to_owned());
            } else {
                let p: Vec<String> = c.nix_packages.iter().map(|p| code(p)).collect();
                items.push(format!("packages: {}", p.join(", ")));
            }
        }
        Zone::Distrobox => {
            for i in c.distrobox.iter().flat_map(|d| &d.images) {
                let mut line = format!("{}: {}", text(&i.name), code(&i.image));
                if !i.packages.is_empty() {
                    let _ = write!(line, " with {}", text(&i.packages.join(", ")));
                }
                items.push(line);
            }
        }
        Zone::Flatpak => {
            if let Some(f) = &c.flatpak {
                if let Some(r) = &f.remote {
                    items.push(format!("remote {}: {}", text(&r.name), code(&r.url)));
                }
                for a in &f.apps {
                    items.push(format!("app {}", code(a)));
                }
            }
        }
        Zone::Podman => podman_items(spec, &mut items),
        Zone::Microvm => microvm_items(spec, &mut items),
    }
    items
}

fn podman_items(spec: &HostSpec, items: &mut Vec<String>) {
    let c = &spec.containers;
    if let Some(p) = &c.podman {
        items.push(
            if p.rootless {
                "rootless: containers run as the user"
            } else {
                "rootful"
            }
            .to_owned(),
        );
        if p.docker_compat {
            items.push(format!(
                "Docker-compatible socket and {} command",
                code("docker")
            ));
        }
        for ct in &p.containers {
            let mut line = format!("service {}: {}", text(&ct.name), code(&ct.image));
            if !ct.ports.is_empty() {
                let _ = write!(line, ", ports {}", text(&ct.ports.join(", ")));
            }
            items.push(line);
        }
    }
}

fn microvm_items(spec: &HostSpec, items: &mut Vec<String>) {
    let c = &spec.containers;
    for vm in c.microvm.iter().flat_map(|m| &m.vms) {
        let mut line = format!("VM {}", text(&vm.name));
        if let Some(h) = &vm.hypervisor {
            let _ = write!(line, " on {}", text(h));
        }
        if let Some(m) = vm.mem_mib {
            let _ = write!(line, ", {m} MiB");
        }
        if let Some(v) = vm.vcpu {
            let _ = write!(line, ", {v} vCPU");
        }
        items.push(line);
    }
    if spec.security.microvm_untrusted {
        items.push("the place for untrusted code on this host".to_owned());
    }
}

/// Where a runtime's data lives and whether it survives a reboot.
pub fn data_table(spec: &HostSpec, data: &[DataPath]) -> String {
    let mut t = Table::new(&["Data", "Held by", "Survives reboot"]);
    for d in data {
        let path = match d {
            DataPath::System(p) => tabula_spec::AbsPath::parse(p).ok(),
            DataPath::Home(rel) => facts::in_home(spec, rel),
        };
        let Some(path) = path else { continue };
        let (held, kept) = match facts::survival(spec, &path) {
            Survival::Mount(m) => (
                format!(
                    "{} ({})",
                    code(m.path.as_str()),
                    text(&facts::source(spec, m))
                ),
                "yes".to_owned(),
            ),
            Survival::Wiped => (
                "the tmpfs root".to_owned(),
                "**no**: wiped at boot".to_owned(),
            ),
        };
        t.row([code(path.as_str()), held, kept]);
    }
    t.render()
}
