//! # A fleet: a folder of host specs
//!
//! `--fleet DIR` reads every `*.toml` of DIR that is a host spec (a file
//! with a `[host]` table), in name order, and the optional `DIR/fleet.toml`
//! (`[fleet]`: settings of the whole flake, never a host). [`check_fleet`]
//! runs the rules across hosts: the same name, UUID or deploy target on two
//! hosts, or two releases in one flake.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::check::{Code, Finding};
use crate::{KeyPath, Loaded};

/// The fleet's own settings file inside the fleet directory.
pub const FLEET_FILE: &str = "fleet.toml";

/// `fleet.toml` as written.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFleetFile {
    #[serde(default)]
    pub fleet: FleetSettings,
}

/// `[fleet]` of `fleet.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FleetSettings {
    /// Also write `deploy.nodes` for deploy-rs (and its input) beside
    /// colmena's `colmenaHive`.
    #[serde(default)]
    pub deploy_rs: bool,
}

/// What a fleet directory holds.
#[derive(Debug, Clone, Default)]
pub struct FleetFiles {
    /// The host specs, in name order.
    pub hosts: Vec<PathBuf>,
    pub settings: FleetSettings,
    /// `*.toml` files that are not host specs (no `[host]` table).
    pub skipped: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("cannot read the fleet directory {}: {source}", dir.display())]
    Read {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("the fleet directory {} holds no host spec (a *.toml with a [host] table); fix: add one, e.g. `tabula init {}/NAME.toml`", dir.display(), dir.display())]
    Empty { dir: PathBuf },
    #[error("{}: {message}; fix: `fleet.toml` holds only `[fleet]` with `deploy_rs = true|false`", path.display())]
    Settings { path: PathBuf, message: String },
}

/// Whether a TOML text is a host spec: it has a `[host]` table. Text that
/// is not TOML counts as a host spec, so its error is shown, not skipped.
pub fn is_host_spec(text: &str) -> bool {
    match toml::from_str::<toml::Table>(text) {
        Ok(t) => t.contains_key("host"),
        Err(_) => true,
    }
}

/// Parse `fleet.toml`.
///
/// # Errors
/// The TOML or shape error, as text.
pub fn parse_settings(text: &str) -> Result<FleetSettings, String> {
    toml::from_str::<RawFleetFile>(text)
        .map(|f| f.fleet)
        .map_err(|e| e.message().to_owned())
}

/// List a fleet directory (not recursive).
///
/// # Errors
/// [`FleetError`] when it cannot be read, `fleet.toml` is malformed or no
/// host spec is there.
pub fn scan(dir: &Path) -> Result<FleetFiles, FleetError> {
    let read = |source| FleetError::Read {
        dir: dir.to_owned(),
        source,
    };
    let mut paths = Vec::new();
    for e in std::fs::read_dir(dir).map_err(read)? {
        let p = e.map_err(read)?.path();
        if p.extension().is_some_and(|x| x == "toml") && p.is_file() {
            paths.push(p);
        }
    }
    paths.sort();
    let mut out = FleetFiles::default();
    for p in paths {
        let text = std::fs::read_to_string(&p).map_err(read)?;
        if p.file_name().is_some_and(|n| n == FLEET_FILE) {
            out.settings = parse_settings(&text).map_err(|message| FleetError::Settings {
                path: p.clone(),
                message,
            })?;
        } else if is_host_spec(&text) {
            out.hosts.push(p);
        } else {
            out.skipped.push(p);
        }
    }
    if out.hosts.is_empty() {
        return Err(FleetError::Empty {
            dir: dir.to_owned(),
        });
    }
    Ok(out)
}

/// A cross-host finding: which host (index into the slice given to
/// [`check_fleet`]) it is reported on, at a place in that host's file.
#[derive(Debug, Clone, Serialize)]
pub struct FleetFinding {
    pub host: usize,
    pub finding: Finding,
}

fn finding(l: &Loaded, code: Code, at: &KeyPath, message: String, hint: &str) -> Finding {
    let (line, column) = match l.line_col(at) {
        Some((a, b)) => (Some(a), Some(b)),
        None => (None, None),
    };
    Finding {
        code,
        severity: code.severity(),
        message,
        hint: Some(hint.to_owned()),
        at: at.to_string(),
        line,
        column,
    }
}

fn place(l: &Loaded, at: &KeyPath) -> String {
    match l.line_col(at) {
        Some((line, col)) => format!("{}:{line}:{col}", l.source_name),
        None => format!("{} ({at})", l.source_name),
    }
}

/// Every UUID a host declares, with its place.
fn uuids(l: &Loaded) -> Vec<(String, KeyPath)> {
    let s = &l.spec;
    let mut out = Vec::new();
    for p in &s.partitions {
        if let Some(u) = p.filesystem.as_ref().and_then(|f| f.uuid.as_ref()) {
            out.push((
                u.to_ascii_lowercase(),
                KeyPath::root()
                    .index("partition", p.index)
                    .key("filesystem")
                    .key("uuid"),
            ));
        }
    }
    if let Some(x) = &s.luks {
        out.push((
            x.uuid.to_ascii_lowercase(),
            KeyPath::root().key("luks").key("uuid"),
        ));
    }
    if let Some(u) = s.btrfs.as_ref().and_then(|b| b.uuid.as_ref()) {
        out.push((
            u.to_ascii_lowercase(),
            KeyPath::root().key("btrfs").key("uuid"),
        ));
    }
    out
}

/// The rules across hosts. Each finding is on the later host and names
/// the place of the earlier one.
pub fn check_fleet(hosts: &[&Loaded]) -> Vec<FleetFinding> {
    let mut seen = Seen::default();
    let mut out = Vec::new();
    for (i, l) in hosts.iter().enumerate() {
        duplicate_name(hosts, i, l, &mut seen.names, &mut out);
        mixed_release(hosts, i, l, &mut out);
        shared_uuids(hosts, i, l, &mut seen.ids, &mut out);
        shared_target(hosts, i, l, &mut seen.targets, &mut out);
    }
    out
}

/// What `check_fleet` has seen on the hosts before the current one.
#[derive(Default)]
struct Seen {
    /// Lowercased host name -> index of the first host with it.
    names: BTreeMap<String, usize>,
    /// Lowercased UUID -> index and place of its first declaration.
    ids: BTreeMap<String, (usize, KeyPath)>,
    /// Deploy targets so far, with the index of their host.
    targets: Vec<(usize, crate::deploy::Target)>,
}

/// Host `i` reuses the (case-insensitive) name of an earlier host.
fn duplicate_name(
    hosts: &[&Loaded],
    i: usize,
    l: &Loaded,
    names: &mut BTreeMap<String, usize>,
    out: &mut Vec<FleetFinding>,
) {
    let s = &l.spec;
    let name_at = KeyPath::root().key("host").key("name");
    let name = s.host.name.to_ascii_lowercase();
    match names.get(&name) {
        Some(&j) => out.push(FleetFinding {
            host: i,
            finding: finding(
                l,
                Code::FleetHostDuplicate,
                &name_at,
                format!(
                    "the host name `{}` is already the host of {}",
                    s.host.name,
                    place(hosts[j], &name_at)
                ),
                "give each host its own `[host] name`: it is the flake attribute, the hosts/ directory and the hostname",
            ),
        }),
        None => {
            names.insert(name, i);
        }
    }
}

/// Host `i` (not the first) follows another NixOS release than the first host.
fn mixed_release(hosts: &[&Loaded], i: usize, l: &Loaded, out: &mut Vec<FleetFinding>) {
    let s = &l.spec;
    if let Some(first) = hosts.first() {
        if i > 0 && s.host.release != first.spec.host.release {
            let at = KeyPath::root().key("host").key("release");
            out.push(FleetFinding {
                host: i,
                finding: finding(
                    l,
                    Code::FleetReleaseMixed,
                    &at,
                    format!(
                        "`{}` follows NixOS {} but {} follows {}: one fleet flake has one nixpkgs",
                        s.host.name,
                        s.host.release,
                        place(first, &at),
                        first.spec.host.release
                    ),
                    "put every host of the fleet on the same `[host] release` (a host keeps its own `state_version`), or render it alone with --spec",
                ),
            });
        }
    }
}

/// Host `i` declares a UUID an earlier host declares too.
fn shared_uuids(
    hosts: &[&Loaded],
    i: usize,
    l: &Loaded,
    ids: &mut BTreeMap<String, (usize, KeyPath)>,
    out: &mut Vec<FleetFinding>,
) {
    let mut own = std::collections::BTreeSet::new();
    for (u, at) in uuids(l) {
        if !own.insert(u.clone()) {
            continue; // the same UUID twice in one host: check's own rule
        }
        match ids.get(&u) {
            Some((j, first)) if *j != i => out.push(FleetFinding {
                host: i,
                finding: finding(
                    l,
                    Code::FleetUuidShared,
                    &at,
                    format!(
                        "the UUID {u} is also declared by `{}` at {}",
                        hosts[*j].spec.host.name,
                        place(hosts[*j], first)
                    ),
                    "give this host its own UUID (`uuidgen`; vfat: 8 hex digits as XXXX-XXXX), or drop the key to let mkfs choose one",
                ),
            }),
            _ => {
                ids.insert(u, (i, at));
            }
        }
    }
}

/// Host `i` deploys to the machine an earlier host deploys to.
fn shared_target(
    hosts: &[&Loaded],
    i: usize,
    l: &Loaded,
    targets: &mut Vec<(usize, crate::deploy::Target)>,
    out: &mut Vec<FleetFinding>,
) {
    let s = &l.spec;
    if let Some(t) = s.deploy.as_ref().and_then(|d| d.target.as_ref()) {
        let at = KeyPath::root().key("deploy").key("target");
        if let Some((j, _)) = targets.iter().find(|(_, o)| o.same_machine(t)) {
            out.push(FleetFinding {
                host: i,
                finding: finding(
                    l,
                    Code::FleetTargetShared,
                    &at,
                    format!(
                        "`{}` deploys to {t}, the machine `{}` deploys to ({})",
                        s.host.name,
                        hosts[*j].spec.host.name,
                        place(hosts[*j], &at)
                    ),
                    "give each host the SSH target of its own machine; two configurations on one machine overwrite each other",
                ),
            });
        } else {
            targets.push((i, t.clone()));
        }
    }
}
