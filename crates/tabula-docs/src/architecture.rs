//! # ARCHITECTURE.md: the whole host on one page
//!
//! The document's sections, each drawn from the spec: the overview diagram,
//! design principles, the mount table, the subvolume tree, what survives a
//! reboot, container runtimes, desktop sessions, the security stack, the
//! build pipeline and the key UUIDs.

use std::fmt::Write as _;

use tabula_spec::model::{MountSource, SessionKind};
use tabula_spec::HostSpec;

use crate::facts::{self, Survival};
use crate::md::{self, code, text, Table};
use crate::runtimes::Zone;
use crate::textbox::{self, Panel};

pub fn render(spec: &HostSpec) -> String {
    let mut s = crate::preamble(spec, "NixOS host architecture");
    s.push_str(&header(spec));
    s.push_str(&overview(spec));
    s.push_str(&principles(spec));
    s.push_str(&filesystem(spec));
    s.push_str(&impermanence(spec));
    s.push_str(&containers(spec));
    s.push_str(&desktop(spec));
    s.push_str(&boot(spec));
    s.push_str(&security(spec));
    s.push_str(&build(spec));
    s.push_str(&uuids(spec));
    s.push_str(&crate::related());
    s
}

fn header(spec: &HostSpec) -> String {
    let h = &spec.host;
    let mut device = vec![];
    if let Some(c) = &h.cpu {
        device.push(c.clone());
    }
    if let Some(r) = h.ram {
        device.push(format!("{} RAM", r.human()));
    }
    device.push(format!("{} disk", spec.disk.size.human()));
    let mut s = String::new();
    let _ = writeln!(
        s,
        "> **Device**: {} ({})  ",
        text(&facts::title(spec)),
        text(&device.join(", "))
    );
    let _ = writeln!(
        s,
        "> **OS**: NixOS {}{}  ",
        h.release,
        if facts::root_is_tmpfs(spec) {
            " with full impermanence (tmpfs root)"
        } else {
            ""
        }
    );
    let loader = match spec.boot.loader {
        tabula_spec::model::Loader::Grub => "GRUB",
        tabula_spec::model::Loader::Refind => "rEFInd",
    };
    let _ = writeln!(
        s,
        "> **Boot**: {loader}{}  ",
        if spec.luks.is_some() {
            " (LUKS2 unlock)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        s,
        "> **Status**: {}\n",
        if h.standalone {
            "Primary OS (standalone, not dual-boot)"
        } else {
            "Dual-boot"
        }
    );
    s
}

fn overview(spec: &HostSpec) -> String {
    let runtime_rows: Vec<Vec<String>> = spec
        .mounts
        .iter()
        .filter(|m| !matches!(m.source, MountSource::Partition { .. }))
        .map(|m| {
            let what = match &m.source {
                MountSource::Tmpfs { .. } => {
                    format!("{}, wiped every boot", facts::source(spec, m))
                }
                _ => facts::source(spec, m),
            };
            vec![m.path.to_string(), what]
        })
        .collect();
    let storage_rows: Vec<Vec<String>> = facts::parts(spec)
        .iter()
        .map(|p| {
            let size = p
                .extent
                .map(|e| facts::human(e.size))
                .unwrap_or_else(|| "does not fit".to_owned());
            let mut what = format!("{} {}", p.part.label, facts::filesystem(spec, p.part));
            let mounts = facts::mounts_of_partition(spec, &p.part.label);
            if !mounts.is_empty() {
                let m: Vec<String> = mounts.iter().map(|m| m.path.to_string()).collect();
                let _ = write!(what, " on {}", m.join(", "));
            }
            if let tabula_spec::model::Owner::Foreign(o) = &p.part.owner {
                let _ = write!(what, ", {o} (foreign, kept)");
            }
            if facts::is_luks(spec, p.part) {
                what.push_str(" (encrypted)");
            }
            vec![facts::short_device(spec, p.part), format!("({size})"), what]
        })
        .collect();
    let mut panels = vec![Panel {
        title: "RUNTIME".into(),
        lines: textbox::columns(&runtime_rows, 2),
    }];
    if !storage_rows.is_empty() {
        panels.push(Panel {
            title: "STORAGE".into(),
            lines: textbox::columns(&storage_rows, 2),
        });
    }
    let title = format!("{} NixOS host", facts::title(spec).to_uppercase());
    let mut s = md::heading(2, "Overview");
    s.push_str(&format!(
        "NixOS is the {} operating system of this machine. {}Everything else is declared in host.toml and rendered into the flake by tabula.\n\n",
        if spec.host.standalone { "primary" } else { "dual-boot" },
        if facts::root_is_tmpfs(spec) {
            "The root is a tmpfs, wiped at every boot; only the mounts and entries below survive. "
        } else {
            ""
        }
    ));
    s.push_str(&md::fence("text", &textbox::framed(&title, &panels)));
    s.push('\n');
    s
}

fn principles(spec: &HostSpec) -> String {
    let mut t = Table::new(&["Principle", "Implementation"]);
    t.row([
        "**Declarative**".to_owned(),
        format!(
            "The whole host in one spec ({}), rendered into the flake {}",
            code("host.toml"),
            code(&format!(".#{}", spec.host.name))
        ),
    ]);
    if let Some(root) = spec.mount("/") {
        if let MountSource::Tmpfs { size, .. } = &root.source {
            let store = spec
                .mount("/nix")
                .map(|m| format!(", /nix/store read-only on {}", facts::source(spec, m)))
                .unwrap_or_default();
            t.row([
                "**Immutable Core**".to_owned(),
                text(&format!("tmpfs root ({size}){store}")),
            ]);
        }
    }
    if let Some(p) = &spec.persistence {
        t.row(persistence_row(spec, p));
    }
    let groups = facts::top_groups(spec);
    if !groups.is_empty() {
        let g: Vec<String> = groups.iter().map(|g| code(&format!("{g}/"))).collect();
        t.row([
            "**Semantic Storage**".to_owned(),
            format!("{} subvolumes", g.join(", ")),
        ]);
    }
    let mut layers = vec![];
    if spec.luks.is_some() {
        layers.push("LUKS2");
    }
    if Zone::Flatpak.enabled(spec) || Zone::Podman.enabled(spec) {
        layers.push("namespaces");
    }
    if Zone::Microvm.enabled(spec) {
        layers.push("microvm.nix");
    }
    if spec.security.firewall.is_some() {
        layers.push("firewall");
    }
    if !layers.is_empty() {
        t.row(["**Defense in Depth**".to_owned(), text(&layers.join(" + "))]);
    }
    format!("{}{}", md::heading(2, "Design principles"), t.render())
}

/// The persistence principle: persistent mounts and the entries bound
/// under the root (entries covered by a mount are intent only).
fn persistence_row(spec: &HostSpec, p: &tabula_spec::model::Persistence) -> [String; 2] {
    let persistent = spec.mounts.iter().filter(|m| !m.is_tmpfs()).count();
    // Entries covered by a mount are intent only: nothing under the root.
    let bound = |covered: &[bool]| covered.iter().filter(|c| !**c).count();
    let dirs: Vec<bool> = p
        .directories
        .iter()
        .map(|e| e.covered_by.is_some())
        .chain(
            p.users
                .values()
                .flat_map(|u| u.directories.iter().map(|e| e.covered_by.is_some())),
        )
        .collect();
    let files: Vec<bool> = p
        .files
        .iter()
        .map(|e| e.covered_by.is_some())
        .chain(
            p.users
                .values()
                .flat_map(|u| u.files.iter().map(|e| e.covered_by.is_some())),
        )
        .collect();
    [
        "**Explicit Persistence**".to_owned(),
        text(&format!(
            "Only declared paths survive a reboot: {persistent} persistent mounts, {} and {} under {}",
            plural(bound(&dirs), "directory", "directories"),
            plural(bound(&files), "file", "files"),
            p.root
        )),
    ]
}

fn filesystem(spec: &HostSpec) -> String {
    let mut s = md::heading(2, "Filesystem layout");
    s.push_str(&md::heading(3, "Mount points"));
    let mut t = Table::new(&[
        "Mount point",
        "Source",
        "Type",
        "Options",
        "Survives reboot",
        "In stage 1",
    ]);
    for m in &spec.mounts {
        let opts = facts::mount_options(spec, m);
        t.row([
            code(m.path.as_str()),
            text(&facts::source(spec, m)),
            text(&facts::mount_type(spec, m)),
            if opts.is_empty() {
                "—".to_owned()
            } else {
                code(&opts.join(","))
            },
            if m.is_tmpfs() { "no (RAM)" } else { "yes" }.to_owned(),
            if m.needed_for_boot || m.path.as_str() == "/" {
                "yes"
            } else {
                ""
            }
            .to_owned(),
        ]);
    }
    s.push_str(&t.render());
    if let Some(b) = &spec.btrfs {
        s.push_str(&md::heading(3, "Btrfs subvolume structure"));
        s.push_str(&subvolume_tree_text(spec, b));
        s.push_str(&format!(
            "![The pool's subvolumes with their mount points and size estimates]({})\n\n",
            "subvolumes.svg"
        ));
    }
    s
}

/// The document's tree: `├── nix/  # /nix (~30 GB–50 GB)`.
pub fn subvolume_tree_text(spec: &HostSpec, b: &tabula_spec::model::Btrfs) -> String {
    let mut head = format!("{} (btrfs", facts::pool_device(spec));
    if let Some(c) = b.compression.as_deref().filter(|c| *c != "none") {
        let _ = write!(head, ", {c} compression");
    }
    head.push(')');
    let nodes = facts::tree(spec);
    let rows: Vec<Vec<String>> = nodes
        .iter()
        .map(|n| {
            let mut note = vec![];
            let mounts = facts::mounts_of_subvolume(spec, n.path);
            if !mounts.is_empty() {
                note.push(
                    mounts
                        .iter()
                        .map(|m| m.path.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                );
            } else if nodes
                .iter()
                .any(|o| o.depth > n.depth && o.path.starts_with(&format!("{}/", n.path)))
            {
                note.push("group".to_owned());
            } else {
                note.push("not mounted".to_owned());
            }
            if let Some(e) = n.estimate {
                note.push(format!("~{e}"));
            }
            vec![
                format!("{}{}/", facts::tree_prefix(n), textbox::clean(&n.name)),
                format!("# {}", note.join(", ")),
            ]
        })
        .collect();
    let mut body = format!("{head}\n│\n");
    for (i, line) in textbox::columns(&rows, 4).into_iter().enumerate() {
        // A blank `│` between top-level groups, as the document draws it.
        if i > 0 && nodes[i].depth == 0 {
            body.push_str("│\n");
        }
        body.push_str(&line);
        body.push('\n');
    }
    let (lo, hi) = facts::estimate_total(spec);
    if hi > 0 {
        let _ = writeln!(
            body,
            "\nEstimates total {}{} of {} in the pool.",
            facts::human(lo),
            if lo == hi {
                String::new()
            } else {
                format!("–{}", facts::human(hi))
            },
            facts::pool_size(spec)
                .map(facts::human)
                .unwrap_or_else(|| "?".to_owned())
        );
    }
    md::fence("text", &body) + "\n"
}

fn impermanence(spec: &HostSpec) -> String {
    let mut s = md::heading(2, "Impermanence");
    if !facts::root_is_tmpfs(spec) {
        s.push_str("The root is not a tmpfs: everything on it survives a reboot.\n\n");
        return s;
    }
    s.push_str(&md::heading(3, "What survives a reboot"));
    s.push_str("Whole mounts:\n\n");
    let mut t = Table::new(&["Mount point", "Source"]);
    for m in spec.mounts.iter().filter(|m| !m.is_tmpfs()) {
        t.row([code(m.path.as_str()), text(&facts::source(spec, m))]);
    }
    s.push_str(&t.render());
    if let Some(p) = &spec.persistence {
        let _ = writeln!(
            s,
            "Entries kept under {} (an entry already on a persistent mount is covered by that mount and needs no bind):\n",
            code(p.root.as_str())
        );
        let mut t = Table::new(&["Path", "Kind", "How it survives", "Why"]);
        let how = |covered: &Option<tabula_spec::AbsPath>,
                   path: &tabula_spec::AbsPath,
                   kind: &str| match covered {
            Some(c) => format!("covered by the mount {}", code(c.as_str())),
            None => match facts::survival(spec, path) {
                Survival::Mount(m) if m.path.as_str() != "/" => {
                    format!("on the mount {}", code(m.path.as_str()))
                }
                _ => facts::kept_in(&p.root, path, kind == "directory"),
            },
        };
        for (kind, list) in [("directory", &p.directories), ("file", &p.files)] {
            for e in list {
                t.row([
                    code(e.path.as_str()),
                    kind.to_owned(),
                    how(&e.covered_by, &e.path, kind),
                    e.note.as_deref().map(text).unwrap_or_default(),
                ]);
            }
        }
        for (user, up) in &p.users {
            let home = spec.home_of(user);
            for (kind, list) in [("directory", &up.directories), ("file", &up.files)] {
                for e in list {
                    let abs = home.join(&e.path);
                    t.row([
                        code(abs.as_str()),
                        format!("{kind} of {}", text(user)),
                        how(&e.covered_by, &abs, kind),
                        e.note.as_deref().map(text).unwrap_or_default(),
                    ]);
                }
            }
        }
        if !t.is_empty() {
            s.push_str(&t.render());
        }
    }
    s.push_str(&md::heading(3, "What is wiped at every boot"));
    s.push_str("Everything on the tmpfs root that no mount or entry above keeps, for example:\n\n");
    for w in wiped(spec) {
        s.push_str(&md::bullet(&w));
    }
    s.push('\n');
    s
}

/// Well-known top-level places and whether the spec keeps them: the ones on
/// the tmpfs, with the entries that are kept inside them.
pub fn wiped(spec: &HostSpec) -> Vec<String> {
    const PLACES: [(&str, &str); 7] = [
        ("/etc", "regenerated from Nix at activation"),
        ("/root", "root's home"),
        ("/tmp", "temporary files"),
        ("/var/tmp", "temporary files"),
        ("/var/cache", "caches"),
        ("/srv", "service data"),
        ("/opt", "software installed by hand"),
    ];
    let mut out = vec![];
    for (place, why) in PLACES {
        let Ok(path) = tabula_spec::AbsPath::parse(place) else {
            continue;
        };
        if !facts::survival(spec, &path).is_wiped() {
            continue;
        }
        let mut line = format!("{} ({why})", code(place));
        let kept: Vec<String> = spec
            .persistence
            .iter()
            .flat_map(|p| p.directories.iter().chain(&p.files))
            .filter(|e| e.path.is_under(&path))
            .map(|e| code(e.path.as_str()))
            .collect();
        if !kept.is_empty() {
            let _ = write!(line, ", except {}", kept.join(", "));
        }
        out.push(line);
    }
    out.push("application runtime state written anywhere else on the root".to_owned());
    out
}

fn containers(spec: &HostSpec) -> String {
    let zones: Vec<Zone> = Zone::enabled_in(spec)
        .into_iter()
        .filter(|z| *z != Zone::Host)
        .collect();
    let mut s = md::heading(2, "Container runtimes");
    let mut t = Table::new(&[
        "Runtime",
        "Kernel",
        "Filesystem",
        "Network",
        "Overhead",
        "Use case",
    ]);
    for z in &zones {
        let f = z.facts();
        let strong = |v: &str, isolated: bool| {
            if isolated {
                format!("**{}**", text(v))
            } else {
                text(v)
            }
        };
        t.row([
            format!("**{}**", text(f.name)),
            strong(
                f.kernel.label(),
                f.kernel == crate::runtimes::Kernel::Isolated,
            ),
            strong(f.files.label(), f.files == crate::runtimes::Files::Isolated),
            text(f.net.label()),
            text(f.overhead),
            text(f.use_case),
        ]);
    }
    s.push_str(&t.render());
    s.push_str("See [ISOLATION_LAYERS.md](ISOLATION_LAYERS.md) for what each one isolates and where its data lives.\n\n");
    s.push_str(&md::heading(3, "When to use each"));
    s.push_str(&md::fence(
        "text",
        &textbox::single("CONTAINER DECISION TREE", &decision_lines(spec)),
    ));
    s.push_str(&format!(
        "\n{} asks these questions for a piece of software.\n\n",
        code("tabula place")
    ));
    s
}

/// The decision tree's lines, with this host's own answers (its images,
/// its remote) filled in.
pub fn decision_lines(spec: &HostSpec) -> Vec<String> {
    let c = &spec.containers;
    let mut lines = vec![];
    for z in Zone::enabled_in(spec) {
        let f = z.facts();
        let Some(q) = f.question else { continue };
        let how = match z {
            Zone::NixNative => "add to [containers].nix_packages".to_owned(),
            Zone::Distrobox => {
                let names: Vec<&str> = c
                    .distrobox
                    .iter()
                    .flat_map(|d| &d.images)
                    .map(|i| i.name.as_str())
                    .collect();
                if names.is_empty() {
                    "create a container".to_owned()
                } else {
                    format!("create a container: {}", names.join(", "))
                }
            }
            Zone::Flatpak => match c.flatpak.as_ref().and_then(|f| f.remote.as_ref()) {
                Some(r) => format!("install from {}", r.name),
                None => "install an app".to_owned(),
            },
            Zone::Podman => {
                if c.podman.as_ref().is_some_and(|p| p.rootless) {
                    "rootless container".to_owned()
                } else {
                    "container".to_owned()
                }
            }
            Zone::Microvm => "VM isolation".to_owned(),
            Zone::Host => continue,
        };
        if !lines.is_empty() {
            lines.push(String::new());
        }
        lines.push(q.to_owned());
        lines.push(format!("  YES → {} ({how})", f.name));
    }
    lines
}

fn desktop(spec: &HostSpec) -> String {
    let Some(d) = &spec.desktop else {
        return String::new();
    };
    let mut s = md::heading(
        2,
        &format!("Desktop sessions ({})", d.display_manager.to_uppercase()),
    );
    let mut t = Table::new(&["Session", "Type", "Protocol", "Runs", "Default"]);
    for sess in &d.sessions {
        let (kind, proto) = match sess.kind {
            SessionKind::Plasma6 => ("Desktop (KDE Plasma 6)", "Wayland"),
            SessionKind::Gnome => ("Desktop (GNOME)", "Wayland"),
            SessionKind::Openbox => ("Window manager (Openbox)", "X11"),
            SessionKind::Cage => ("Kiosk (cage)", "Wayland"),
        };
        let runs = match (&sess.package, &sess.program) {
            (Some(pkg), Some(prog)) => {
                let mut cmd = format!("cage -s -- ${{pkgs.{pkg}}}/{prog}");
                for a in &sess.args {
                    cmd.push(' ');
                    cmd.push_str(a);
                }
                code(&cmd)
            }
            _ => "—".to_owned(),
        };
        let mut name = format!("**{}**", text(&sess.name));
        if sess.unfree {
            name.push_str(" (unfree)");
        }
        t.row([
            name,
            kind.to_owned(),
            proto.to_owned(),
            runs,
            if d.default_session.as_deref() == Some(sess.id.as_str()) {
                "yes".to_owned()
            } else {
                String::new()
            },
        ]);
    }
    s.push_str(&t.render());
    s
}

fn boot(spec: &HostSpec) -> String {
    let b = &spec.boot;
    let mut s = md::heading(2, "Boot");
    let mut items = vec![];
    let loader = match b.loader {
        tabula_spec::model::Loader::Grub => "GRUB",
        tabula_spec::model::Loader::Refind => "rEFInd",
    };
    let on = |path: &str| {
        spec.mount(path)
            .map(|m| format!(" on {}, {}", code(path), text(&facts::source(spec, m))))
            .unwrap_or_default()
    };
    items.push(format!(
        "Loader: {loader}{}; kernels and initrds{}",
        on("/boot/efi"),
        on("/boot")
    ));
    let mut stage1 = format!(
        "Stage 1: {} initrd",
        if b.initrd_systemd {
            "systemd"
        } else {
            "scripted"
        }
    );
    if !spec.hardware.initrd_modules.is_empty() {
        let m: Vec<String> = spec
            .hardware
            .initrd_modules
            .iter()
            .map(|m| code(m))
            .collect();
        stage1.push_str(&format!(" with {}", m.join(", ")));
    }
    items.push(stage1);
    if let Some(l) = &spec.luks {
        items.push(unlock_item(l));
    }
    let early: Vec<String> = spec
        .mounts
        .iter()
        .filter(|m| m.needed_for_boot)
        .map(|m| code(m.path.as_str()))
        .collect();
    if !early.is_empty() {
        items.push(format!("Mounted in stage 1: {}", early.join(", ")));
    }
    for i in items {
        s.push_str(&md::bullet(&i));
    }
    s.push('\n');
    if !b.entries.is_empty() {
        s.push_str(&boot_entries(spec));
    }
    s
}

/// How the container is unlocked at boot.
fn unlock_item(l: &tabula_spec::model::Luks) -> String {
    let mut unlock = format!(
        "Unlock: {} as {}",
        code(&l.uuid),
        code(&format!("/dev/mapper/{}", l.name))
    );
    if let Some(k) = &l.keyfile {
        unlock.push_str(&format!(
            ", with {} from the USB stick {}",
            code(k.path.as_str()),
            code(&k.fs_uuid)
        ));
        if let Some(t) = k.timeout {
            unlock.push_str(&format!(" (waits {t} s)"));
        }
        if k.password_fallback {
            unlock.push_str(", else the passphrase");
        }
    }
    unlock
}

/// The boot menu's entries for the foreign systems, with their partitions.
fn boot_entries(spec: &HostSpec) -> String {
    let b = &spec.boot;
    let mut t = Table::new(&["Menu entry", "System", "EFI loader", "Its partition"]);
    for e in &b.entries {
        let part: Vec<String> = spec
            .partitions
            .iter()
            .filter(|p| p.owner.name() == e.system)
            .map(|p| format!("{} ({})", code(&facts::device(spec, p)), text(&p.label)))
            .collect();
        t.row([
            text(&e.name),
            text(&e.system),
            code(&e.efi),
            if part.is_empty() {
                "—".to_owned()
            } else {
                part.join(", ")
            },
        ]);
    }
    t.render()
}

fn security(spec: &HostSpec) -> String {
    let mut t = Table::new(&["Layer", "Implementation"]);
    if let Some(l) = &spec.luks {
        let unlock = match &l.keyfile {
            Some(k) if k.password_fallback => "USB keyfile + password",
            Some(_) => "USB keyfile",
            None => "password",
        };
        t.row([
            "**Disk**".to_owned(),
            text(&format!("LUKS2 ({unlock}, {})", l.kdf.name())),
        ]);
    }
    if let Some(v) = &spec.security.tomb_vault {
        let at = facts::in_home(spec, v)
            .map(|p| p.to_string())
            .unwrap_or_else(|| v.clone());
        t.row([
            "**Vault**".to_owned(),
            format!("Tomb at {} (LUKS-in-LUKS for secrets)", code(&at)),
        ]);
    }
    if let Some(fw) = &spec.security.firewall {
        let mut ports = vec![];
        if !spec.security.allowed_tcp_ports.is_empty() {
            let p: Vec<String> = spec
                .security
                .allowed_tcp_ports
                .iter()
                .map(u16::to_string)
                .collect();
            ports.push(format!("TCP {}", p.join(", ")));
        }
        if !spec.security.allowed_udp_ports.is_empty() {
            let p: Vec<String> = spec
                .security
                .allowed_udp_ports
                .iter()
                .map(u16::to_string)
                .collect();
            ports.push(format!("UDP {}", p.join(", ")));
        }
        let open = if ports.is_empty() {
            "no ports open".to_owned()
        } else {
            format!("open: {}", ports.join("; "))
        };
        t.row([
            "**Network**".to_owned(),
            text(&format!("{fw} firewall, {open}")),
        ]);
    }
    if spec.security.flatpak_sandbox && Zone::Flatpak.enabled(spec) {
        t.row(["**Apps**", "Flatpak sandboxing"]);
    }
    if spec.security.microvm_untrusted && Zone::Microvm.enabled(spec) {
        t.row(["**Untrusted**", "microvm.nix VMs"]);
    }
    t.row(["**Updates**", "Atomic generations (rollback)"]);
    format!("{}{}", md::heading(2, "Security stack"), t.render())
}

fn build(spec: &HostSpec) -> String {
    let flake = facts::flake_ref(spec, facts::FLAKE_DIR);
    let dir = facts::FLAKE_DIR;
    let body = format!(
        "# Check the spec (every rule, with its place in host.toml)
tabula check --spec {dir}/host.toml

# Render the flake and these docs from the spec
tabula render --spec {dir}/host.toml --out {dir}

# Check the flake
nix flake check {dir}

# Build without switching
sudo nixos-rebuild build --flake {flake}

# Switch to the new generation
sudo nixos-rebuild switch --flake {flake}

# Roll back if needed
sudo tabula rebuild rollback

# List generations
tabula generations
"
    );
    let mut s = md::heading(2, "Build pipeline");
    let _ = writeln!(
        s,
        "The flake lives in {} and this host is its attribute {}.\n",
        code(dir),
        code(&format!(".#{}", spec.host.name))
    );
    s.push_str(&md::fence("bash", &body));
    s.push('\n');
    s
}

fn uuids(spec: &HostSpec) -> String {
    let mut t = Table::new(&["Component", "UUID"]);
    for p in &spec.partitions {
        if facts::is_luks(spec, p) {
            continue;
        }
        if let Some(u) = p.filesystem.as_ref().and_then(|f| f.uuid.as_deref()) {
            t.row([
                text(&format!(
                    "{} partition ({}, {})",
                    p.label,
                    facts::short_device(spec, p),
                    facts::filesystem(spec, p)
                )),
                code(u),
            ]);
        }
    }
    if let (Some(l), Some(p)) = (&spec.luks, facts::luks_part(spec)) {
        t.row([
            text(&format!(
                "LUKS container ({})",
                facts::short_device(spec, p)
            )),
            code(&l.uuid),
        ]);
    }
    if let Some(u) = spec.btrfs.as_ref().and_then(|b| b.uuid.as_deref()) {
        t.row(["Btrfs pool".to_owned(), code(u)]);
    }
    if let Some(k) = spec.luks.as_ref().and_then(|l| l.keyfile.as_ref()) {
        t.row([
            text(&format!("USB keyfile stick ({})", k.fs_type)),
            code(&k.fs_uuid),
        ]);
    }
    if t.is_empty() {
        return String::new();
    }
    format!("{}{}", md::heading(2, "Key UUIDs"), t.render())
}

/// "1 directory", "5 files".
fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
