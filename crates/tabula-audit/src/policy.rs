//! # What survives a reboot: the policy
//!
//! A [`Policy`] is a trie of path components built once before the walk
//! (pure: from the spec, or from the live mount table, plus NixOS's own
//! knowledge of what it regenerates at boot). Each node may carry a
//! [`Rule`]: the walk stops at a rule and counts the path as kept
//! (persisted by a mount, persisted by an entry, or ephemeral by design)
//! without descending. Paths without a rule anywhere above them are lost at
//! reboot unless an entry-level check (a symlink into the persistence root,
//! a NixOS-generated `/etc` link) says otherwise.

use std::collections::HashMap;

use serde::Serialize;
use tabula_spec::HostSpec;

use crate::mountinfo::{is_persistent_fstype, MountInfo};

/// Why a path is kept (or not lost) at reboot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// On a filesystem that persists (a subvolume, a partition).
    PersistedByMount,
    /// Claimed by a persistence entry (bind mount or symlink into the root).
    PersistedByEntry,
    /// Regenerated or wiped at boot by design (ignore list, NixOS defaults).
    Ephemeral,
}

impl Class {
    /// The name in JSON and text (`persisted-by-mount`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Class::PersistedByMount => "persisted-by-mount",
            Class::PersistedByEntry => "persisted-by-entry",
            Class::Ephemeral => "ephemeral",
        }
    }

    fn priority(self) -> u8 {
        match self {
            Class::PersistedByEntry => 3,
            Class::PersistedByMount => 2,
            Class::Ephemeral => 1,
        }
    }
}

/// A rule at one path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub path: String,
    pub class: Class,
    pub reason: String,
}

/// Where the mount table came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MountSource {
    /// The spec's `[[mount]]` list (a test tree, a mounted image).
    Spec,
    /// The live mount table (`/proc/self/mountinfo`).
    System,
}

/// Paths NixOS wipes or regenerates at every boot of a tmpfs root, whatever
/// the spec says. Each was read in nixpkgs' activation scripts and systemd's
/// units: `nixos/modules/system/etc/setup-etc.pl` (the `/etc/static` link,
/// copied files listed in `/etc/.clean`, the `/etc/NIXOS` marker),
/// `update-users-groups.pl` (passwd, group, shadow, subuid, subgid),
/// `activation-script.nix` (`binsh`, `usrbinenv`, `var`: `/var/empty`,
/// `/var/tmp`, the `/var/lock` and `/var/run` links), `stub-ld.nix`, and
/// systemd's `ConditionNeedsUpdate` stamps (`/etc/.updated`, `/var/.updated`).
pub const DEFAULT_IGNORES: &[(&str, &str)] = &[
    ("/tmp", "temporary files"),
    ("/var/tmp", "temporary files"),
    ("/run", "runtime state"),
    ("/proc", "kernel view (procfs)"),
    ("/sys", "kernel view (sysfs)"),
    ("/dev", "device nodes (devtmpfs)"),
    ("/var/cache", "caches, rebuilt on demand"),
    ("/etc/static", "NixOS: link to this generation's /etc"),
    ("/etc/.clean", "NixOS: list of files copied into /etc"),
    ("/etc/NIXOS", "NixOS: marker written at activation"),
    ("/etc/.updated", "systemd: ConditionNeedsUpdate stamp"),
    ("/var/.updated", "systemd: ConditionNeedsUpdate stamp"),
    ("/etc/mtab", "NixOS: link to /proc/mounts"),
    ("/etc/passwd", "NixOS: users written at activation"),
    ("/etc/group", "NixOS: groups written at activation"),
    ("/etc/shadow", "NixOS: users written at activation"),
    ("/etc/subuid", "NixOS: users written at activation"),
    ("/etc/subgid", "NixOS: users written at activation"),
    ("/etc/.pwd.lock", "lock file of the user database"),
    ("/etc/resolv.conf", "written by resolvconf at boot"),
    ("/bin/sh", "NixOS: /bin/sh link set at activation"),
    ("/usr/bin/env", "NixOS: /usr/bin/env link set at activation"),
    (
        "/lib64/ld-linux-x86-64.so.2",
        "NixOS: stub loader set at activation",
    ),
    ("/var/empty", "NixOS: empty directory made at activation"),
    ("/var/lock", "NixOS: link to /run/lock"),
    ("/var/run", "NixOS: link to /run"),
];

/// Top-level directories NixOS itself populates: never suggested as a whole
/// (a directory entry would hide what NixOS writes there at boot).
const BOUNDARIES: &[&str] = &["/etc", "/var", "/usr", "/bin", "/lib", "/lib64", "/home"];

/// The upper directory of NixOS's /etc overlay: its content is /etc's.
pub const ETC_UPPER: &str = "/.rw-etc/upper";

/// Symlink targets under these prefixes are NixOS-generated `/etc` entries.
pub const NIXOS_ETC_TARGETS: &[&[u8]] = &[b"/etc/static/", b"/nix/store/", b"/etc/zoneinfo/"];

/// Errors building a policy.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("[audit] ignore: `{pattern}` {why}")]
    BadIgnore { pattern: String, why: String },
}

pub(crate) const NONE: u32 = u32::MAX;
pub(crate) const F_BOUNDARY: u8 = 1;
pub(crate) const F_NIXOS_ETC: u8 = 2;

#[derive(Debug, Default)]
struct PNode {
    children: HashMap<Box<[u8]>, u32>,
    globs: Vec<(Box<[u8]>, u32)>,
    rule: Option<u32>,
    flags: u8,
}

/// Where a directory sits in the policy: its trie node (or none: no rule
/// anywhere below) and the flags inherited from above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PRef {
    pub node: u32,
    pub inherit: u8,
}

/// The classification rules for one audit.
#[derive(Debug)]
pub struct Policy {
    nodes: Vec<PNode>,
    rules: Vec<Rule>,
    /// Symlinks whose target lies here count as persisted by an entry.
    pub persistence_root: Option<String>,
    pub mounts_from: MountSource,
    /// Users and their homes: per-user suggestions are relative to these.
    pub homes: Vec<(String, String)>,
}

impl Policy {
    fn empty(mounts_from: MountSource) -> Policy {
        Policy {
            nodes: vec![PNode::default()],
            rules: Vec::new(),
            persistence_root: None,
            mounts_from,
            homes: Vec::new(),
        }
    }

    /// The audit policy from the spec alone (mounts from `[[mount]]`).
    /// `etc_clean` is the content of the tree's `/etc/.clean` (files NixOS
    /// copied into /etc), when present.
    ///
    /// # Errors
    /// [`PolicyError::BadIgnore`] for an `[audit] ignore` pattern that is not
    /// an absolute path.
    pub fn from_spec(spec: &HostSpec, etc_clean: Option<&str>) -> Result<Policy, PolicyError> {
        let mut p = Policy::base(spec, MountSource::Spec, etc_clean)?;
        for m in &spec.mounts {
            if m.path.as_str() == "/" {
                if !m.is_tmpfs() {
                    p.insert(
                        "/",
                        Class::PersistedByMount,
                        "the root filesystem is not a tmpfs: it persists".into(),
                    );
                }
                continue;
            }
            let (class, reason) = match &m.source {
                tabula_spec::model::MountSource::Tmpfs { .. } => {
                    (Class::Ephemeral, "a tmpfs mount".to_owned())
                }
                tabula_spec::model::MountSource::Subvolume { subvolume } => (
                    Class::PersistedByMount,
                    format!("mount of subvolume {subvolume}"),
                ),
                tabula_spec::model::MountSource::Partition { partition } => (
                    Class::PersistedByMount,
                    format!("mount of partition {partition}"),
                ),
            };
            p.insert(m.path.as_str(), class, reason);
        }
        Ok(p)
    }

    /// The audit policy with mounts from the live mount table. `root` is the
    /// audited directory as the table spells it (`/` on a live host); only
    /// mounts below it count, with their paths made relative to it.
    ///
    /// # Errors
    /// [`PolicyError::BadIgnore`], as for [`Policy::from_spec`].
    pub fn from_mounts(
        spec: &HostSpec,
        mounts: &[MountInfo],
        root: &[u8],
        etc_clean: Option<&str>,
    ) -> Result<Policy, PolicyError> {
        let mut p = Policy::base(spec, MountSource::System, etc_clean)?;
        let root = trim_slash(root);
        // The mount that holds the root: the last (top of the stack) of the
        // deepest mount points at or above it.
        let holding = mounts
            .iter()
            .filter(|m| is_at_or_under(root, trim_slash(&m.mount_point)))
            .max_by_key(|m| trim_slash(&m.mount_point).len());
        if let Some(h) = holding {
            if is_persistent_fstype(&h.fstype) {
                p.insert(
                    "/",
                    Class::PersistedByMount,
                    format!(
                        "the root filesystem is {}, not a tmpfs: it persists",
                        h.fstype
                    ),
                );
            }
        }
        // The mount of the persistence root: a bind mount of a directory
        // inside it is a persistence entry, claimed by the spec or not
        // (a host not yet rebuilt after an entry was removed).
        let pers_mount = p.persistence_root.as_deref().and_then(|pr| {
            let mut want = root.to_vec();
            want.extend_from_slice(trim_slash(pr.as_bytes()));
            mounts
                .iter()
                .rev()
                .find(|m| trim_slash(&m.mount_point) == want.as_slice())
        });
        for m in mounts {
            let mp = trim_slash(&m.mount_point);
            if mp.len() <= root.len() || !is_at_or_under(mp, root) {
                continue;
            }
            let rel = String::from_utf8_lossy(&mp[root.len()..]).into_owned();
            let from_persist = pers_mount.filter(|pm| {
                pm.id != m.id
                    && pm.source == m.source
                    && pm.fstype == m.fstype
                    && is_at_or_under(trim_slash(&m.root), trim_slash(&pm.root))
            });
            let (class, reason) = if let Some(pm) = from_persist {
                (
                    Class::PersistedByEntry,
                    format!(
                        "bind mount from the persistence root ({})",
                        String::from_utf8_lossy(&pm.mount_point)
                    ),
                )
            } else if is_persistent_fstype(&m.fstype) {
                (
                    Class::PersistedByMount,
                    format!("mount of {} ({})", m.source, m.fstype),
                )
            } else {
                (Class::Ephemeral, format!("a {} mount", m.fstype))
            };
            p.insert(&rel, class, reason);
        }
        Ok(p)
    }

    /// The orphan policy: under the persistence root, what each entry stores
    /// there is claimed; everything else is an orphan (reported as "lost").
    /// `None` when the spec has no `[persistence]`.
    pub fn orphans(spec: &HostSpec) -> Option<Policy> {
        let pers = spec.persistence.as_ref()?;
        let mut p = Policy::empty(MountSource::Spec);
        let root = pers.root.as_str().trim_end_matches('/');
        let mut claim = |path: &str, what: &str| {
            p.insert(
                &format!("{root}{path}"),
                Class::PersistedByEntry,
                format!("stores {what} {path}"),
            );
        };
        for e in pers.directories.iter().chain(&pers.files) {
            if e.covered_by.is_none() {
                claim(e.path.as_str(), "entry");
            }
        }
        for (user, up) in &pers.users {
            let home = spec.home_of(user);
            for e in up.directories.iter().chain(&up.files) {
                if e.covered_by.is_none() {
                    claim(home.join(&e.path).as_str(), &format!("{user}'s entry"));
                }
            }
        }
        p.mark(pers.root.as_str(), F_BOUNDARY);
        p.persistence_root = None;
        Some(p)
    }

    /// Entries, ignores and NixOS defaults: what both mount sources share.
    fn base(
        spec: &HostSpec,
        mounts_from: MountSource,
        etc_clean: Option<&str>,
    ) -> Result<Policy, PolicyError> {
        let mut p = Policy::empty(mounts_from);
        p.nodes[0].flags |= F_BOUNDARY;
        for b in BOUNDARIES {
            p.mark(b, F_BOUNDARY);
        }
        p.nixos_defaults(etc_clean);
        for pattern in &spec.audit.ignore {
            let path = parse_ignore(pattern)?;
            p.insert(&path, Class::Ephemeral, "[audit] ignore".into());
        }
        p.entries_and_homes(spec);
        Ok(p)
    }

    /// What NixOS itself wipes or rewrites at boot: the default ignores,
    /// the /etc overlay's upper directory, and what /etc/.clean lists.
    fn nixos_defaults(&mut self, etc_clean: Option<&str>) {
        self.mark("/etc", F_NIXOS_ETC);
        for (path, why) in DEFAULT_IGNORES {
            self.insert(path, Class::Ephemeral, (*why).to_owned());
        }
        // NixOS's /etc overlay (`system.etc.overlay`, etc-activation.nix):
        // /etc is an overlay whose writable upper directory lives on the
        // root tmpfs; what is written to /etc lands there.
        self.mark(ETC_UPPER, F_NIXOS_ETC | F_BOUNDARY);
        for (path, why) in DEFAULT_IGNORES {
            if let Some(rest) = path.strip_prefix("/etc/") {
                self.insert(
                    &format!("{ETC_UPPER}/{rest}"),
                    Class::Ephemeral,
                    (*why).to_owned(),
                );
            }
        }
        self.insert(
            "/.rw-etc/work",
            Class::Ephemeral,
            "NixOS: work directory of the /etc overlay".into(),
        );
        if let Some(clean) = etc_clean {
            for line in clean.lines().map(str::trim).filter(|l| !l.is_empty()) {
                let rel = line.trim_start_matches('/');
                if rel
                    .split('/')
                    .any(|c| c.is_empty() || c == "." || c == "..")
                {
                    continue;
                }
                self.insert(
                    &format!("/etc/{rel}"),
                    Class::Ephemeral,
                    "NixOS: copied into /etc at activation (listed in /etc/.clean)".into(),
                );
            }
        }
    }

    /// The persistence entries (system and per user), and each user's home
    /// as a boundary.
    fn entries_and_homes(&mut self, spec: &HostSpec) {
        let mut users: Vec<String> = spec.users.iter().map(|u| u.name.clone()).collect();
        if let Some(pers) = &spec.persistence {
            self.persistence_root = Some(pers.root.as_str().to_owned());
            for e in pers.directories.iter().chain(&pers.files) {
                if e.covered_by.is_none() {
                    self.insert(
                        e.path.as_str(),
                        Class::PersistedByEntry,
                        format!("persistence entry (stored in {})", pers.root),
                    );
                }
            }
            for (user, up) in &pers.users {
                users.push(user.clone());
                let home = spec.home_of(user);
                for e in up.directories.iter().chain(&up.files) {
                    if e.covered_by.is_none() {
                        self.insert(
                            home.join(&e.path).as_str(),
                            Class::PersistedByEntry,
                            format!("{user}'s persistence entry (stored in {})", pers.root),
                        );
                    }
                }
            }
        }
        users.sort();
        users.dedup();
        for u in users {
            let home = spec.home_of(&u).as_str().to_owned();
            self.mark(&home, F_BOUNDARY);
            self.homes.push((u, home));
        }
    }

    fn node_for(&mut self, path: &str) -> u32 {
        let mut n = 0u32;
        for comp in path.split('/').filter(|c| !c.is_empty()) {
            let key: Box<[u8]> = comp.as_bytes().into();
            let is_glob = comp.contains('*');
            let existing = if is_glob {
                self.nodes[n as usize]
                    .globs
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, i)| *i)
            } else {
                self.nodes[n as usize].children.get(&key).copied()
            };
            n = match existing {
                Some(i) => i,
                None => {
                    let i = u32::try_from(self.nodes.len()).unwrap_or(NONE - 1);
                    self.nodes.push(PNode::default());
                    let parent = &mut self.nodes[n as usize];
                    if is_glob {
                        parent.globs.push((key, i));
                    } else {
                        parent.children.insert(key, i);
                    }
                    i
                }
            };
        }
        n
    }

    fn mark(&mut self, path: &str, flag: u8) {
        let n = self.node_for(path);
        self.nodes[n as usize].flags |= flag;
    }

    /// Add a rule; where one exists, the stronger class wins
    /// (entry > mount > ephemeral).
    pub fn insert(&mut self, path: &str, class: Class, reason: String) {
        let n = self.node_for(path) as usize;
        if let Some(r) = self.nodes[n].rule {
            if self.rules[r as usize].class.priority() >= class.priority() {
                return;
            }
        }
        let id = u32::try_from(self.rules.len()).unwrap_or(NONE - 1);
        self.rules.push(Rule {
            path: path.to_owned(),
            class,
            reason,
        });
        self.nodes[n].rule = Some(id);
    }

    /// Every rule, in insertion order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The reference for a path (the walk's starting point), and the rule
    /// that holds it when one lies at or above it.
    pub(crate) fn start(&self, path: &[u8]) -> (PRef, Option<&Rule>) {
        let mut r = PRef {
            node: 0,
            inherit: self.nodes[0].flags & F_NIXOS_ETC,
        };
        if let Some(rule) = self.rule_at(r) {
            return (r, Some(rule));
        }
        for comp in path.split(|b| *b == b'/').filter(|c| !c.is_empty()) {
            let (next, rule) = self.child(r, comp);
            if rule.is_some() {
                return (next, rule);
            }
            r = next;
        }
        (r, None)
    }

    fn rule_at(&self, r: PRef) -> Option<&Rule> {
        if r.node == NONE {
            return None;
        }
        self.nodes[r.node as usize]
            .rule
            .map(|i| &self.rules[i as usize])
    }

    /// Step from a directory to one of its entries.
    #[inline]
    pub(crate) fn child(&self, r: PRef, name: &[u8]) -> (PRef, Option<&Rule>) {
        if r.node == NONE {
            return (r, None);
        }
        let node = &self.nodes[r.node as usize];
        let found = node.children.get(name).copied().or_else(|| {
            node.globs
                .iter()
                .find(|(pat, _)| glob_match(pat, name))
                .map(|(_, i)| *i)
        });
        match found {
            None => (
                PRef {
                    node: NONE,
                    inherit: r.inherit,
                },
                None,
            ),
            Some(i) => {
                let n = PRef {
                    node: i,
                    inherit: r.inherit | (self.nodes[i as usize].flags & F_NIXOS_ETC),
                };
                (n, self.rule_at(n))
            }
        }
    }

    /// Flags of the node itself (boundary), not inherited.
    #[inline]
    pub(crate) fn flags(&self, r: PRef) -> u8 {
        if r.node == NONE {
            0
        } else {
            self.nodes[r.node as usize].flags
        }
    }
}

/// `[audit] ignore` accepts absolute paths, `*` in a component (any name)
/// and a trailing `/*` (everything in the directory: the same as the
/// directory, since the audit counts what is inside).
fn parse_ignore(pattern: &str) -> Result<String, PolicyError> {
    let bad = |why: &str| PolicyError::BadIgnore {
        pattern: pattern.to_owned(),
        why: why.to_owned(),
    };
    if !pattern.starts_with('/') {
        return Err(bad(
            "is not absolute: write it from the root, such as `/var/cache/foo`",
        ));
    }
    let trimmed = pattern.strip_suffix("/*").unwrap_or(pattern);
    let trimmed = trimmed.trim_end_matches('/');
    if trimmed.split('/').any(|c| c == "." || c == "..") {
        return Err(bad("contains `.` or `..`: write the path without it"));
    }
    if trimmed.is_empty() {
        return Err(bad("ignores the whole root: nothing would be audited"));
    }
    Ok(trimmed.to_owned())
}

/// `*` matches any run of bytes within one component.
fn glob_match(pat: &[u8], name: &[u8]) -> bool {
    let parts: Vec<&[u8]> = pat.split(|b| *b == b'*').collect();
    let (first, rest) = match parts.split_first() {
        Some(x) => x,
        None => return name.is_empty(),
    };
    if !name.starts_with(first) {
        return false;
    }
    let mut pos = first.len();
    let last_i = rest.len();
    for (i, part) in rest.iter().enumerate() {
        if i + 1 == last_i {
            return name.len() >= pos + part.len() && name.ends_with(part);
        }
        match find(&name[pos..], part) {
            Some(at) => pos += at + part.len(),
            None => return false,
        }
    }
    pos == name.len()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

fn trim_slash(p: &[u8]) -> &[u8] {
    if p == b"/" {
        b""
    } else {
        p.strip_suffix(b"/").unwrap_or(p)
    }
}

fn is_at_or_under(path: &[u8], dir: &[u8]) -> bool {
    path.starts_with(dir) && (path.len() == dir.len() || path[dir.len()] == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_within_a_component() {
        assert!(glob_match(b"*", b"anything"));
        assert!(glob_match(b".cache*", b".cache-old"));
        assert!(glob_match(b"*.log", b"x.log"));
        assert!(!glob_match(b"*.log", b"x.log.1"));
        assert!(glob_match(b"a*b*c", b"aXXbYYc"));
        assert!(!glob_match(b"a*b*c", b"aXXbYY"));
        assert!(glob_match(b"exact", b"exact"));
        assert!(!glob_match(b"exact", b"exactly"));
    }

    #[test]
    fn ignore_patterns_are_checked() {
        assert_eq!(
            parse_ignore("/var/cache/*").ok().as_deref(),
            Some("/var/cache")
        );
        assert_eq!(
            parse_ignore("/home/*/.cache").ok().as_deref(),
            Some("/home/*/.cache")
        );
        assert!(parse_ignore("var/cache").is_err());
        assert!(parse_ignore("/a/../b").is_err());
        assert!(parse_ignore("/*").is_err());
    }

    #[test]
    fn embedded_spec_policy_prunes_mounts_entries_and_defaults() {
        let spec = tabula_spec::load(&tabula_spec::SpecSource::Embedded(
            tabula_spec::embedded::DEFAULT_HOST,
        ))
        .expect("embedded spec loads")
        .spec;
        let p = Policy::from_spec(&spec, Some("sudoers\nssh/moduli\n")).expect("policy");
        let class = |path: &str| p.start(path.as_bytes()).1.map(|r| r.class);
        assert_eq!(class("/nix/store/x"), Some(Class::PersistedByMount));
        assert_eq!(class("/var/lib/anything"), Some(Class::PersistedByMount));
        assert_eq!(class("/etc/nixos/flake.nix"), Some(Class::PersistedByEntry));
        assert_eq!(class("/etc/machine-id"), Some(Class::PersistedByEntry));
        assert_eq!(class("/etc/sudoers"), Some(Class::Ephemeral));
        assert_eq!(class("/tmp/x"), Some(Class::Ephemeral));
        assert_eq!(class("/etc/adjtime"), None);
        assert_eq!(class("/root/.bash_history"), None);
        // Covered entries are kept by their mount, not by a bind mount.
        assert_eq!(class("/home/user/.config"), Some(Class::PersistedByMount));
        assert!(p.homes.iter().any(|(u, h)| u == "root" && h == "/root"));
    }

    #[test]
    fn live_table_classifies_binds_from_the_persistence_root() {
        let spec = tabula_spec::load(&tabula_spec::SpecSource::Embedded(
            tabula_spec::embedded::DEFAULT_HOST,
        ))
        .expect("embedded spec loads")
        .spec;
        let table = crate::mountinfo::parse(
            "\
22 1 0:20 / / rw shared:1 - tmpfs none rw,mode=755
30 22 0:25 / /run rw shared:10 - tmpfs tmpfs rw
40 22 0:31 /@system/nix /nix rw shared:20 - btrfs /dev/mapper/pool rw
41 22 0:31 /@system/persist /persist rw shared:21 - btrfs /dev/mapper/pool rw
45 22 0:31 /@system/persist/srv/old /srv/old rw shared:21 - btrfs /dev/mapper/pool rw
46 22 0:31 /@system/state /var/lib rw shared:22 - btrfs /dev/mapper/pool rw
",
        );
        let p = Policy::from_mounts(&spec, &table, b"/", None).expect("policy");
        let class = |path: &str| p.start(path.as_bytes()).1.map(|r| r.class);
        assert_eq!(class("/srv/old/x"), Some(Class::PersistedByEntry));
        assert_eq!(class("/var/lib/x"), Some(Class::PersistedByMount));
        assert_eq!(class("/persist/x"), Some(Class::PersistedByMount));
        assert_eq!(class("/run/x"), Some(Class::Ephemeral));
        assert_eq!(class("/srv/new"), None);
        // /etc/nixos is not mounted here: the spec's entry still claims it.
        assert_eq!(class("/etc/nixos"), Some(Class::PersistedByEntry));
        assert_eq!(p.mounts_from, MountSource::System);
        // A root that is not a tmpfs persists whole.
        let ext4 = crate::mountinfo::parse("1 0 8:1 / / rw - ext4 /dev/vda rw\n");
        let p = Policy::from_mounts(&spec, &ext4, b"/", None).expect("policy");
        assert_eq!(
            p.start(b"/").1.map(|r| r.class),
            Some(Class::PersistedByMount)
        );
    }
}
