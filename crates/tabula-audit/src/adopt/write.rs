//! # The facts into host.toml
//!
//! [`RootFacts::write_into`] sets what the document does not say yet and
//! keeps everything it does: a `[[mount]]` whose path is there, a user whose
//! name is there, a persistence entry whose path is there, a `[luks]` key
//! that is set are left as written. Every value that was guessed carries a
//! `# guessed: why` comment.

use std::collections::BTreeSet;

use toml_edit::{Array, ArrayOfTables, DocumentMut, InlineTable, Item, Table, Value};

use super::{CryptFact, DeviceRef, MountFact, RootFacts, SourceFact};

fn guessed<V: Into<Value>>(v: V, why: &str) -> Value {
    let mut v = v.into();
    v.decor_mut().set_suffix(format!(" # guessed: {why}"));
    v
}

fn str_array<'a>(items: impl IntoIterator<Item = &'a String>) -> Array {
    let mut a = Array::new();
    for i in items {
        a.push(i.as_str());
    }
    a
}

/// The table at `key` of `parent`, made when absent (a table written as
/// such, not an inline one). `None` when the key holds something else.
fn table_at<'a>(parent: &'a mut Table, key: &str) -> Option<&'a mut Table> {
    if !parent.contains_key(key) {
        let mut t = Table::new();
        t.set_implicit(false);
        parent.insert(key, Item::Table(t));
    }
    parent.get_mut(key)?.as_table_mut()
}

fn array_of_tables<'a>(parent: &'a mut Table, key: &str) -> Option<&'a mut ArrayOfTables> {
    if !parent.contains_key(key) {
        parent.insert(key, Item::ArrayOfTables(ArrayOfTables::new()));
    }
    parent.get_mut(key)?.as_array_of_tables_mut()
}

fn get_str<'a>(t: &'a Table, key: &str) -> Option<&'a str> {
    t.get(key)?.as_str()
}

/// The label of the `[[partition]]` a device names, when the document has one.
fn partition_for(doc: &Table, dev: &DeviceRef) -> Option<String> {
    let parts = doc.get("partition")?.as_array_of_tables()?;
    parts.iter().find_map(|p| {
        let label = get_str(p, "label")?;
        let fs = p.get("filesystem").and_then(|f| f.as_table_like());
        let fs_key = |k: &str| fs.and_then(|f| f.get(k)).and_then(Item::as_str);
        let hit = match dev {
            DeviceRef::Uuid(u) => fs_key("uuid").is_some_and(|x| x.eq_ignore_ascii_case(u)),
            DeviceRef::Label(l) => fs_key("label") == Some(l.as_str()),
            DeviceRef::PartLabel(l) => label == l,
            DeviceRef::PartUuid(_) | DeviceRef::Path(_) => false,
        };
        hit.then(|| label.to_owned())
    })
}

impl RootFacts {
    /// Set and merge the facts into a host.toml document: `[[mount]]`,
    /// `[btrfs]` compression, options and the mounted subvolumes,
    /// `[persistence]`, `[[user]]` and `[luks]`. What the document already
    /// says is kept; guessed values carry a `# guessed: ...` comment.
    pub fn write_into(&self, doc: &mut DocumentMut) {
        let root = doc.as_table_mut();
        self.write_btrfs_and_mounts(root);
        self.write_persistence(root);
        self.write_users(root);
        if let Some(c) = self.crypt.first() {
            write_luks(root, c);
        }
    }

    /// `[btrfs]` and `[[mount]]`: what the document lacks of the mounts.
    fn write_btrfs_and_mounts(&self, root: &mut Table) {
        let pool_opts = self.write_btrfs(root);
        self.write_mounts(root, &pool_opts);
    }

    /// `[btrfs]` from the subvolume mounts: the pool's device, compression,
    /// options and subvolumes. Returns the pool's options: what the
    /// document says, else what every subvolume mount shares.
    fn write_btrfs(&self, root: &mut Table) -> BTreeSet<String> {
        let subvol_mounts: Vec<&MountFact> = self
            .mounts
            .iter()
            .filter(|m| matches!(m.source, SourceFact::Subvolume { .. }))
            .collect();
        let mut pool_opts: BTreeSet<String> = BTreeSet::new();
        if subvol_mounts.is_empty() {
            return pool_opts;
        }
        let common: BTreeSet<String> = subvol_mounts
            .iter()
            .map(|m| m.options.iter().cloned().collect::<BTreeSet<_>>())
            .reduce(|a, b| a.intersection(&b).cloned().collect())
            .unwrap_or_default();
        let pool_dev = subvol_mounts.iter().find_map(|m| match &m.source {
            SourceFact::Subvolume { device, .. } => Some(device.clone()),
            _ => None,
        });
        let Some(b) = table_at(root, "btrfs") else {
            return pool_opts;
        };
        set_pool_device(b, pool_dev.as_ref());
        merge_compression(b, &common, &mut pool_opts);
        merge_pool_options(b, &common, &mut pool_opts);
        if let Some(subs) = array_of_tables(b, "subvolume") {
            add_subvolumes(subs, &subvol_mounts);
        }
        pool_opts
    }

    /// The `[[mount]]` tables the document lacks (by path), in order;
    /// `pool_opts` are left out of a subvolume mount's options.
    fn write_mounts(&self, root: &mut Table, pool_opts: &BTreeSet<String>) {
        let labels: Vec<(String, Option<String>)> =
            self.mounts.iter().map(|m| mount_labels(root, m)).collect();
        let Some(mounts) = array_of_tables(root, "mount") else {
            return;
        };
        let have: BTreeSet<String> = mounts
            .iter()
            .filter_map(|t| get_str(t, "path").map(str::to_owned))
            .collect();
        for (m, (label, fallback)) in self.mounts.iter().zip(labels) {
            if have.contains(&m.path) {
                continue;
            }
            mounts.push(mount_table(m, &label, fallback, pool_opts));
        }
    }

    fn write_persistence(&self, root: &mut Table) {
        let Some(p) = &self.persistence else {
            return;
        };
        let Some(pt) = table_at(root, "persistence") else {
            return;
        };
        if !pt.contains_key("root") {
            pt.insert("root", toml_edit::value(p.root.as_str()));
        }
        merge_entries(pt, "directories", p.directories.iter(), |e| {
            p.guessed.get(e).map(String::as_str)
        });
        merge_entries(pt, "files", p.files.iter(), |_| None);
        if p.users.is_empty() {
            return;
        }
        let Some(users) = table_at(pt, "users") else {
            return;
        };
        for (name, e) in &p.users {
            let Some(ut) = table_at(users, name) else {
                continue;
            };
            let home = format!("/home/{name}/");
            merge_entries(ut, "directories", e.directories.iter(), |rel| {
                p.guessed.get(&format!("{home}{rel}")).map(String::as_str)
            });
            merge_entries(ut, "files", e.files.iter(), |_| None);
        }
    }

    fn write_users(&self, root: &mut Table) {
        if self.users.is_empty() {
            return;
        }
        let Some(users) = array_of_tables(root, "user") else {
            return;
        };
        let have: BTreeSet<String> = users
            .iter()
            .filter_map(|t| get_str(t, "name").map(str::to_owned))
            .collect();
        for u in &self.users {
            if have.contains(&u.name) {
                continue;
            }
            let mut t = Table::new();
            t.insert("name", toml_edit::value(u.name.as_str()));
            if let Some(d) = &u.description {
                t.insert("description", toml_edit::value(d.as_str()));
            }
            t.insert("groups", Item::Value(Value::Array(str_array(&u.groups))));
            if let Some(f) = &u.hashed_password_file {
                t.insert(
                    "hashed_password_file",
                    Item::Value(guessed(
                        f.as_str(),
                        "a file named after the user under the persistence root",
                    )),
                );
            }
            users.push(t);
        }
    }
}

/// A pool outside LUKS is found at boot by its UUID or label: set the one
/// `pool_dev` names unless `[btrfs]` has either.
fn set_pool_device(b: &mut Table, pool_dev: Option<&DeviceRef>) {
    if b.contains_key("uuid") || b.contains_key("label") {
        return;
    }
    match pool_dev {
        Some(DeviceRef::Uuid(u)) => {
            b.insert("uuid", toml_edit::value(u.as_str()));
        }
        Some(DeviceRef::Label(l)) => {
            b.insert("label", toml_edit::value(l.as_str()));
        }
        _ => {}
    }
}

/// `[btrfs] compression`: the document's, else the one every subvolume
/// mount shares (`common`); adds `compress=` to `pool_opts` unless none.
fn merge_compression(b: &mut Table, common: &BTreeSet<String>, pool_opts: &mut BTreeSet<String>) {
    match get_str(b, "compression") {
        Some(c) if c != "none" => {
            pool_opts.insert(format!("compress={c}"));
        }
        Some(_) => {}
        None => {
            if let Some(c) = common.iter().find_map(|o| o.strip_prefix("compress=")) {
                b.insert("compression", toml_edit::value(c));
                pool_opts.insert(format!("compress={c}"));
            }
        }
    }
}

/// `[btrfs] mount_options`: the document's, else the ones every subvolume
/// mount shares (`common`, but compression); added to `pool_opts`.
fn merge_pool_options(b: &mut Table, common: &BTreeSet<String>, pool_opts: &mut BTreeSet<String>) {
    match b.get("mount_options").and_then(Item::as_array) {
        Some(a) => pool_opts.extend(a.iter().filter_map(|v| v.as_str().map(str::to_owned))),
        None => {
            let rest: Vec<&String> = common
                .iter()
                .filter(|o| !o.starts_with("compress"))
                .collect();
            if !rest.is_empty() {
                b.insert(
                    "mount_options",
                    Item::Value(Value::Array(str_array(rest.iter().copied()))),
                );
                pool_opts.extend(rest.into_iter().cloned());
            }
        }
    }
}

/// `[[btrfs.subvolume]]`: each mounted subvolume and its parents the list
/// lacks (a parent's path is guessed).
fn add_subvolumes(subs: &mut ArrayOfTables, subvol_mounts: &[&MountFact]) {
    let mut have: BTreeSet<String> = subs
        .iter()
        .filter_map(|t| get_str(t, "path").map(str::to_owned))
        .collect();
    for m in subvol_mounts {
        let SourceFact::Subvolume { subvolume, .. } = &m.source else {
            continue;
        };
        let parts: Vec<&str> = subvolume.split('/').collect();
        for i in 1..=parts.len() {
            let p = parts[..i].join("/");
            if !have.insert(p.clone()) {
                continue;
            }
            let mut t = Table::new();
            if i < parts.len() {
                t.insert(
                    "path",
                    Item::Value(guessed(p.as_str(), &format!("the parent of the mounted {subvolume}: a subvolume or a plain directory"))),
                );
            } else {
                t.insert("path", toml_edit::value(p.as_str()));
            }
            subs.push(t);
        }
    }
}

/// For a device mount: the label of the `[[partition]]` that holds it
/// (empty when none does) and the label to guess instead (the device's
/// label, else named after the mount point). `("", None)` for the rest.
fn mount_labels(root: &Table, m: &MountFact) -> (String, Option<String>) {
    match &m.source {
        SourceFact::Device { device, .. } => (
            partition_for(root, device).unwrap_or_default(),
            Some(match device {
                DeviceRef::PartLabel(l) | DeviceRef::Label(l) => l.clone(),
                _ => match m.path.rsplit('/').next() {
                    Some("") | None => "root".to_owned(),
                    Some("efi") => "ESP".to_owned(),
                    Some(last) => last.to_owned(),
                },
            }),
        ),
        _ => (String::new(), None),
    }
}

/// The `[[mount]]` table of `m`; `label`/`fallback` as [`mount_labels`]
/// gives them, `pool_opts` left out of a subvolume's options.
fn mount_table(
    m: &MountFact,
    label: &str,
    fallback: Option<String>,
    pool_opts: &BTreeSet<String>,
) -> Table {
    let mut t = Table::new();
    if let Some(why) = &m.guessed {
        t.decor_mut().set_prefix(format!("\n# guessed: {why}\n"));
    }
    t.insert("path", toml_edit::value(m.path.as_str()));
    let mut extra: Vec<&String> = m.options.iter().collect();
    match &m.source {
        SourceFact::Tmpfs { size, mode } => {
            t.insert("tmpfs", tmpfs_item(size.as_deref(), mode.as_deref()));
        }
        SourceFact::Subvolume { subvolume, .. } => {
            t.insert("subvolume", toml_edit::value(subvolume.as_str()));
            extra.retain(|o| !pool_opts.contains(*o) && !o.starts_with("compress"));
        }
        SourceFact::Device { device, fstype } => {
            if label.is_empty() {
                let l = fallback.unwrap_or_default();
                t.insert(
                    "partition",
                    Item::Value(guessed(
                        l.as_str(),
                        &format!("no [[partition]] holds {fstype} {device:?}: name the partition's label"),
                    )),
                );
            } else {
                t.insert("partition", toml_edit::value(label));
            }
        }
    }
    if !extra.is_empty() {
        t.insert("options", Item::Value(Value::Array(str_array(extra))));
    }
    if m.needed_for_boot {
        t.insert("needed_for_boot", toml_edit::value(true));
    }
    t
}

/// A mount's `tmpfs = { size, mode }`; the size is guessed (`50%`) when
/// none was seen.
fn tmpfs_item(size: Option<&str>, mode: Option<&str>) -> Item {
    let mut it = InlineTable::new();
    it.insert("size", size.unwrap_or("50%").into());
    if let Some(md) = mode {
        it.insert("mode", md.into());
    }
    let v = Value::InlineTable(it);
    Item::Value(if size.is_none() {
        guessed(v, "no size seen: tmpfs's default, half the RAM")
    } else {
        v
    })
}

/// Append `{ path = ... }` for each entry the list at `key` lacks.
fn merge_entries<'a>(
    t: &mut Table,
    key: &str,
    entries: impl Iterator<Item = &'a String>,
    why: impl Fn(&str) -> Option<&'a str>,
) {
    let entries: Vec<&String> = entries.collect();
    if entries.is_empty() {
        return;
    }
    if !t.contains_key(key) {
        t.insert(key, Item::Value(Value::Array(Array::new())));
    }
    let Some(arr) = t.get_mut(key).and_then(Item::as_array_mut) else {
        return;
    };
    let have: BTreeSet<String> = arr
        .iter()
        .filter_map(|v| {
            v.as_inline_table()?
                .get("path")?
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    let mut added = false;
    for e in entries {
        if have.contains(e) {
            continue;
        }
        let mut it = InlineTable::new();
        it.insert("path", e.as_str().into());
        let mut v = Value::InlineTable(it);
        if let Some(w) = why(e) {
            v = guessed(v, w);
        }
        // One entry a line, as the embedded host writes them.
        v.decor_mut().set_prefix("\n  ");
        arr.push_formatted(v);
        added = true;
    }
    if added {
        arr.set_trailing("\n");
        arr.set_trailing_comma(true);
    }
}

/// `[luks]` from the first crypttab mapping: the partition, name, UUID,
/// discards and key file the table lacks.
fn write_luks(root: &mut Table, c: &CryptFact) {
    let luks_part = luks_partition(root);
    let initrd_exfat = initrd_has_exfat(root);
    let Some(l) = table_at(root, "luks") else {
        return;
    };
    merge_luks_keys(l, c, luks_part.as_deref());
    let Some(path) = &c.keyfile else {
        return;
    };
    if l.contains_key("keyfile") {
        return;
    }
    let Some(k) = table_at(l, "keyfile") else {
        return;
    };
    set_keyfile_fs(k, c.keyfile_device.as_ref(), initrd_exfat);
    k.insert("path", toml_edit::value(path.as_str()));
    if let Some(t) = c.keyfile_timeout {
        k.insert("timeout", toml_edit::value(i64::from(t)));
    }
}

/// The label of the [[partition]] that holds the container: the one marked
/// luks.
fn luks_partition(root: &Table) -> Option<String> {
    root.get("partition")
        .and_then(Item::as_array_of_tables)
        .and_then(|ps| {
            ps.iter()
                .find(|p| p.get("luks").and_then(Item::as_bool) == Some(true))
                .and_then(|p| get_str(p, "label").map(str::to_owned))
        })
}

/// Whether `[hardware] initrd_modules` has exfat.
fn initrd_has_exfat(root: &Table) -> bool {
    root.get("hardware")
        .and_then(|h| h.get("initrd_modules"))
        .and_then(Item::as_array)
        .is_some_and(|a| a.iter().any(|v| v.as_str() == Some("exfat")))
}

/// `[luks]` partition (guessed: `luks_part`, else the mapping's name),
/// name, uuid (guessed empty when crypttab does not give it) and
/// `allow_discards = false`, each unless set.
fn merge_luks_keys(l: &mut Table, c: &CryptFact, luks_part: Option<&str>) {
    if !l.contains_key("partition") {
        let v = match luks_part {
            Some(p) => guessed(p, "the partition marked luks = true"),
            None => guessed(
                c.name.as_str(),
                "named after the mapping: give the label of the partition holding the container",
            ),
        };
        l.insert("partition", Item::Value(v));
    }
    if !l.contains_key("name") {
        l.insert("name", toml_edit::value(c.name.as_str()));
    }
    if !l.contains_key("uuid") {
        match &c.device {
            DeviceRef::Uuid(u) => {
                l.insert("uuid", toml_edit::value(u.as_str()));
            }
            other => {
                l.insert(
                    "uuid",
                    Item::Value(guessed(
                        "",
                        &format!("crypttab names the device {other:?}: give its LUKS UUID (cryptsetup luksUUID DEVICE)"),
                    )),
                );
            }
        }
    }
    if !c.discard && !l.contains_key("allow_discards") {
        l.insert("allow_discards", toml_edit::value(false));
    }
}

/// `[luks.keyfile]` fs_uuid and fs_type (guessed) from the key file's
/// device: the type from the UUID's shape and `initrd_exfat`.
fn set_keyfile_fs(k: &mut Table, device: Option<&DeviceRef>, initrd_exfat: bool) {
    match device {
        Some(DeviceRef::Uuid(u)) => {
            k.insert("fs_uuid", toml_edit::value(u.as_str()));
            let vfat_like = u.len() == 9 && u.as_bytes().get(4) == Some(&b'-');
            let (fs, why) = match (vfat_like, initrd_exfat) {
                (true, true) => (
                    "exfat",
                    "a FAT-style UUID and exfat among the initrd modules",
                ),
                (true, false) => ("vfat", "a FAT-style UUID (XXXX-XXXX)"),
                _ => ("ext4", "an RFC 4122 UUID: set the stick's filesystem"),
            };
            k.insert("fs_type", Item::Value(guessed(fs, why)));
        }
        other => {
            k.insert(
                "fs_uuid",
                Item::Value(guessed(
                    "",
                    &format!("crypttab gives the key file's device as {other:?}: give the stick's filesystem UUID"),
                )),
            );
            k.insert(
                "fs_type",
                Item::Value(guessed(
                    "vfat",
                    "the key file's device is not named by UUID",
                )),
            );
        }
    }
}
