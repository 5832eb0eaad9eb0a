//! # PERSONAL_SPACE.md: the primary user's persistent space
//!
//! The home directory, what in it survives a reboot and how (a whole mount
//! or an impermanence entry), the Tomb vault, and where container and
//! Flatpak data live.

use std::fmt::Write as _;

use tabula_spec::HostSpec;

use crate::facts::{self, Survival};
use crate::md::{self, code, text, Table};
use crate::runtimes::Zone;

pub fn render(spec: &HostSpec) -> String {
    let user = &spec.host.primary_user;
    let home = facts::home(spec);
    let mut s = crate::preamble(spec, "Personal space");
    let desc = spec
        .users
        .iter()
        .find(|u| &u.name == user)
        .and_then(|u| u.description.clone());
    let _ = writeln!(
        s,
        "The primary user is {}{}, with the home directory {}.\n",
        code(user),
        desc.map(|d| format!(" ({})", text(&d))).unwrap_or_default(),
        code(home.as_str())
    );

    s.push_str(&md::heading(2, "Home"));
    match facts::survival(spec, &home) {
        Survival::Mount(m) => {
            let _ = writeln!(
                s,
                "{} is on the persistent mount {} ({}): **everything in it survives a reboot**, listed or not. The entries below record what matters and why.\n",
                code(home.as_str()),
                code(m.path.as_str()),
                text(&facts::source(spec, m))
            );
        }
        Survival::Wiped => {
            let _ = writeln!(
                s,
                "{} is on the tmpfs root: **only the entries below survive a reboot**; everything else in it is wiped.\n",
                code(home.as_str())
            );
        }
    }
    s.push_str(&entries(spec));
    s.push_str(&account(spec));
    s.push_str(&vault(spec));
    s.push_str(&runtime_data(spec));
    s.push_str(&crate::related());
    s
}

fn entries(spec: &HostSpec) -> String {
    let user = &spec.host.primary_user;
    let home = facts::home(spec);
    let Some(up) = spec.persistence.as_ref().and_then(|p| p.users.get(user)) else {
        return "No per-user persistence entries are declared.\n\n".to_owned();
    };
    let root = spec
        .persistence
        .as_ref()
        .map(|p| p.root.clone())
        .unwrap_or_else(tabula_spec::AbsPath::root);
    let mut s = md::heading(3, "What persists, and how");
    let mut t = Table::new(&["Path", "Kind", "How it persists", "Why"]);
    for (kind, list) in [("directory", &up.directories), ("file", &up.files)] {
        for e in list {
            let abs = home.join(&e.path);
            let how = match (&e.covered_by, facts::survival(spec, &abs)) {
                (Some(c), _) => format!("mount: covered by {}", code(c.as_str())),
                (None, Survival::Mount(m)) => format!("mount: on {}", code(m.path.as_str())),
                (None, Survival::Wiped) => format!(
                    "entry: {}",
                    facts::kept_in(&root, &abs, kind == "directory")
                ),
            };
            t.row([
                code(&format!("~/{}", e.path)),
                kind.to_owned(),
                how,
                e.note.as_deref().map(text).unwrap_or_default(),
            ]);
        }
    }
    s.push_str(&t.render());
    s
}

fn account(spec: &HostSpec) -> String {
    let Some(u) = spec.users.iter().find(|u| u.name == spec.host.primary_user) else {
        return String::new();
    };
    let mut s = md::heading(2, "Account");
    let mut t = Table::new(&["Property", "Value"]);
    if !u.groups.is_empty() {
        let g: Vec<String> = u.groups.iter().map(|g| code(g)).collect();
        t.row(["Groups".to_owned(), g.join(", ")]);
    }
    if let Some(sh) = &u.shell {
        t.row(["Shell".to_owned(), code(sh)]);
    }
    match &u.hashed_password_file {
        Some(f) => {
            let survives = match tabula_spec::AbsPath::parse(f)
                .ok()
                .map(|p| facts::survival(spec, &p))
            {
                Some(Survival::Mount(m)) => format!(
                    "on the mount {} ({}): survives a reboot",
                    code(m.path.as_str()),
                    text(&facts::source(spec, m))
                ),
                Some(Survival::Wiped) => {
                    "**on the tmpfs root: lost at reboot, and with it the login**".to_owned()
                }
                None => "not an absolute path".to_owned(),
            };
            t.row([
                "Password hash file".to_owned(),
                format!("{}, {survives}", code(f)),
            ]);
        }
        None => {
            t.row(["Password hash file".to_owned(), "none declared".to_owned()]);
        }
    }
    s.push_str(&t.render());
    s
}

fn vault(spec: &HostSpec) -> String {
    let Some(v) = &spec.security.tomb_vault else {
        return String::new();
    };
    let mut s = md::heading(2, "The Tomb vault");
    let Some(abs) = facts::in_home(spec, v) else {
        let _ = writeln!(
            s,
            "The vault is declared as {}, which is not a path relative to the home directory.\n",
            code(v)
        );
        return s;
    };
    let _ = writeln!(
        s,
        "Secrets live in the Tomb vault {}: a LUKS volume in a file, inside the LUKS-encrypted pool (LUKS-in-LUKS). Its key is kept apart from it, never next to it.\n",
        code(abs.as_str())
    );
    let mut t = Table::new(&["Property", "Value"]);
    let (held, survives) = match facts::survival(spec, &abs) {
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
            "**no**: declare it as a persisted file".to_owned(),
        ),
    };
    t.row(["Held by".to_owned(), held]);
    t.row(["Survives reboot".to_owned(), survives]);
    let has_tomb = spec.containers.nix_packages.iter().any(|p| p == "tomb");
    t.row([
        "tomb installed".to_owned(),
        if has_tomb {
            format!(
                "yes ({} in {})",
                code("tomb"),
                code("[containers].nix_packages")
            )
        } else {
            format!(
                "no: add {} to {}",
                code("tomb"),
                code("[containers].nix_packages")
            )
        },
    ]);
    s.push_str(&t.render());
    let lines = crate::textbox::columns(
        &[
            vec![
                format!("tomb open {} -k KEY", crate::runbook::sh(abs.as_str())),
                "# opens and mounts it".to_owned(),
            ],
            vec!["tomb close".to_owned(), "# when done".to_owned()],
        ],
        3,
    );
    s.push_str(&md::fence("bash", &(lines.join("\n") + "\n")));
    s.push('\n');
    s
}

fn runtime_data(spec: &HostSpec) -> String {
    let zones: Vec<Zone> = Zone::enabled_in(spec)
        .into_iter()
        .filter(|z| !z.facts().data.is_empty())
        .collect();
    let shared: Vec<_> = spec
        .mounts_in_order()
        .into_iter()
        .filter(|m| {
            matches!(&m.source, tabula_spec::model::MountSource::Subvolume { subvolume }
                if subvolume.starts_with("@shared"))
        })
        .collect();
    if zones.is_empty() && shared.is_empty() {
        return String::new();
    }
    let mut s = md::heading(2, "Where containers and Flatpak data live");
    for z in zones {
        let f = z.facts();
        s.push_str(&md::heading(3, f.name));
        s.push_str(&crate::isolation::data_table(spec, f.data));
    }
    if !shared.is_empty() {
        s.push_str(&md::heading(3, "Shared subvolumes"));
        let mut t = Table::new(&["Mount point", "Subvolume", "Estimate"]);
        for m in shared {
            let sub = match &m.source {
                tabula_spec::model::MountSource::Subvolume { subvolume } => subvolume.as_str(),
                _ => "",
            };
            let est = spec
                .btrfs
                .as_ref()
                .and_then(|b| b.subvolume(sub))
                .and_then(|s| s.estimate)
                .map(|e| text(&e.to_string()))
                .unwrap_or_else(|| "—".to_owned());
            t.row([code(m.path.as_str()), code(sub), est]);
        }
        s.push_str(&t.render());
    }
    s
}
