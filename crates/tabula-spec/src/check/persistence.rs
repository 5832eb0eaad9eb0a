//! Persistence: the root, entries, what covers them, the configuration.

use super::*;

impl Checker<'_> {
    pub(super) fn persistence(&mut self, s: &HostSpec) {
        let Some(ps) = &s.persistence else {
            self.config_location(s);
            return;
        };
        let at = key("persistence");
        let listed = ps.directories.len()
            + ps.files.len()
            + ps.users
                .values()
                .map(|u| u.directories.len() + u.files.len())
                .sum::<usize>();
        if !s.persistent_by_mount(&ps.root) {
            let holder = s
                .mount_holding(&ps.root)
                .map_or("nothing".to_owned(), |m| format!("the tmpfs at {}", m.path));
            self.add(
                Code::PersistNotPersistent,
                at.key("root"),
                format!(
                    "the persistence root {} is on {holder}, no persistent filesystem: every one of the {listed} entries listed under it is lost at reboot",
                    ps.root
                ),
                Some(format!(
                    "add a subvolume (e.g. @system/persist) and a [[mount]] at {} with needed_for_boot = true",
                    ps.root
                )),
            );
        }
        let mut seen = BTreeSet::new();
        let system = ps
            .directories
            .iter()
            .map(|e| ("directories", e))
            .chain(ps.files.iter().map(|e| ("files", e)));
        for (list, e) in system {
            let eat = at.index(list, e.index);
            if !seen.insert(e.path.clone()) {
                self.add(
                    Code::EntryDuplicate,
                    eat.key("path"),
                    format!("{} is listed twice", e.path),
                    None,
                );
            }
            self.covered(s, &e.path, e.covered_by.as_ref(), eat);
        }
        for (user, up) in &ps.users {
            let home = s.home_of(user);
            let uat = at.key("users").key(user);
            let mut seen = BTreeSet::new();
            let entries = up
                .directories
                .iter()
                .map(|e| ("directories", e))
                .chain(up.files.iter().map(|e| ("files", e)));
            for (list, e) in entries {
                let eat = uat.index(list, e.index);
                let full = home.join(&e.path);
                if !seen.insert(full.clone()) {
                    self.add(
                        Code::EntryDuplicate,
                        eat.key("path"),
                        format!("{full} is listed twice"),
                        None,
                    );
                }
                self.covered(s, &full, e.covered_by.as_ref(), eat);
            }
        }
        self.config_location(s);
    }

    /// An entry on a persistent mount is covered by it; `covered_by` says so.
    pub(super) fn covered(
        &mut self,
        s: &HostSpec,
        path: &AbsPath,
        covered_by: Option<&AbsPath>,
        at: KeyPath,
    ) {
        let holder = s.mount_holding(path).filter(|m| !m.is_tmpfs());
        match (holder, covered_by) {
            (Some(m), None) => {
                let what = match &m.source {
                    MountSource::Subvolume { subvolume } => format!(" (subvolume {subvolume})"),
                    MountSource::Partition { partition } => format!(" (partition {partition})"),
                    MountSource::Tmpfs { .. } => String::new(),
                };
                self.add(
                    Code::EntryCoveredByMount,
                    at.key("path"),
                    format!(
                        "{path} is already on the persistent mount {}{what}: a bind mount from the persistence root would hide the real directory",
                        m.path
                    ),
                    Some(format!("add covered_by = \"{}\" to keep it as intent without rendering it, or remove it", m.path)),
                );
            }
            (Some(m), Some(c)) if &m.path != c => self.add(
                Code::CoveredByWrong,
                at.key("covered_by"),
                format!("{path} is held by the mount {}, not {c}", m.path),
                Some(format!("write covered_by = \"{}\"", m.path)),
            ),
            (None, Some(c)) => self.add(
                Code::CoveredByWrong,
                at.key("covered_by"),
                format!("{path} is not on a persistent mount, so {c} does not cover it: it would be lost at reboot"),
                Some("remove covered_by so the entry is rendered as a bind mount".into()),
            ),
            _ => {}
        }
    }

    pub(super) fn config_location(&mut self, s: &HostSpec) {
        let Ok(etc_nixos) = AbsPath::parse("/etc/nixos") else {
            return;
        };
        if s.persistent_by_mount(&etc_nixos) {
            return;
        }
        let by_entry = s.persistence.as_ref().is_some_and(|ps| {
            s.persistent_by_mount(&ps.root)
                && ps
                    .directories
                    .iter()
                    .any(|e| e.covered_by.is_none() && etc_nixos.is_under(&e.path))
        });
        if !by_entry {
            self.add(
                Code::ConfigOnTmpfs,
                key("persistence"),
                "the configuration's location /etc/nixos is on the tmpfs root: the flake is lost at every reboot".into(),
                Some("add { path = \"/etc/nixos\" } to [persistence] directories".into()),
            );
        }
    }
}
