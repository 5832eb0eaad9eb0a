//! # The JSON Schema of host.toml
//!
//! The shape comes from the raw serde types ([`crate::raw`], through
//! schemars); the values are then constrained from the same tables the
//! model and the checker use: partition types ([`PartType::ALL`]),
//! filesystems ([`FsType::ALL`]), releases ([`crate::release::RELEASES`]),
//! size units, and the closed sets [`KDFS`], [`LOADERS`], [`SESSION_KINDS`],
//! [`ROLES`], [`DISPLAY_MANAGERS`] that the model matches on. A test feeds
//! every value of every enum through the model and a value outside it too,
//! so the schema and the checker cannot drift apart.

use serde_json::{json, Map, Value};

use crate::model::{FsType, PartType};

/// The schema's `$id` (a URN: editors find the file by the `#:schema` line).
pub const SCHEMA_ID: &str = "urn:tabula:host.schema.json:1";

/// `[luks] kdf`.
pub const KDFS: &[&str] = &["argon2id", "argon2i", "pbkdf2"];
/// `[boot] loader`.
pub const LOADERS: &[&str] = &["grub", "refind"];
/// `[[desktop.session]] kind` ("plasma" is read as plasma6).
pub const SESSION_KINDS: &[&str] = &["plasma6", "plasma", "gnome", "openbox", "cage"];
/// `[host] role`.
pub const ROLES: &[&str] = &["primary", "dual-boot"];
/// `[desktop] display_manager`.
pub const DISPLAY_MANAGERS: &[&str] = &["sddm"];
pub use crate::model::{FIREWALLS, HYPERVISORS};
/// Names `FsType::parse` reads besides the canonical ones.
pub const FS_ALIASES: &[&str] = &["fat32", "fat"];

const HEX: &str = "[0-9A-Fa-f]";

/// An RFC 4122 UUID, 8-4-4-4-12 hex digits.
pub fn rfc4122_pattern() -> String {
    format!("^{HEX}{{8}}-{HEX}{{4}}-{HEX}{{4}}-{HEX}{{4}}-{HEX}{{12}}$")
}

/// Any filesystem UUID tabula accepts: RFC 4122, vfat/exFAT `XXXX-XXXX`,
/// NTFS 16 hex digits (which one fits the type is the checker's job).
pub fn fs_uuid_pattern() -> String {
    format!(
        "^({HEX}{{8}}-{HEX}{{4}}-{HEX}{{4}}-{HEX}{{4}}-{HEX}{{12}}|{HEX}{{4}}-{HEX}{{4}}|{HEX}{{16}})$"
    )
}

fn units() -> String {
    // Longest first, so "MiB" is never read as "M" + junk by a lazy engine.
    let mut u: Vec<&str> = crate::size::UNITS.iter().map(|(n, _)| *n).collect();
    u.sort_by_key(|s| std::cmp::Reverse(s.len()));
    u.join("|")
}

const NUMBER: &str = "[0-9]+(\\.[0-9]+)?";

/// A size with its unit, as [`crate::size::Size::parse`] reads it.
pub fn size_pattern() -> String {
    format!("^{NUMBER}({})$", units())
}

/// A size estimate ("5GB", "30-50GB", "~2GB").
pub fn estimate_pattern() -> String {
    let u = units();
    format!("^\\s*~?({NUMBER}({u})?\\s*-)?{NUMBER}({u})\\s*$")
}

/// The release numbers tabula knows, oldest first.
pub fn releases() -> Vec<&'static str> {
    crate::release::RELEASES.iter().map(|r| r.name).collect()
}

/// Every filesystem name [`FsType::parse`] accepts.
pub fn filesystems() -> Vec<&'static str> {
    let mut v: Vec<&str> = FsType::ALL.iter().map(|f| f.name()).collect();
    v.extend_from_slice(FS_ALIASES);
    v
}

/// One constrained property: (definition, property, constraint).
type Constraint = (&'static str, &'static str, Value);

/// What each constrained property of the raw types must hold:
/// (definition, property, constraint).
fn constraints() -> Vec<Constraint> {
    let mut v = host_constraints();
    v.extend(storage_constraints());
    v.extend(system_constraints());
    v
}

/// A constraint: one of these values.
fn en(v: &[&str]) -> Value {
    json!({ "enum": v })
}

/// A constraint: matches this pattern, described as `what`.
fn pat(p: String, what: &str) -> Value {
    json!({ "pattern": p, "description_suffix": what })
}

/// A constraint: an absolute path.
fn abs() -> Value {
    pat("^/".into(), "an absolute path")
}

/// `[host]`, `[disk]` and `[[partition]]`.
fn host_constraints() -> Vec<Constraint> {
    vec![
        ("RawHost", "release", en(&releases())),
        (
            "RawHost",
            "state_version",
            pat(
                "^[0-9]{1,2}\\.(0?[1-9]|1[0-2])$".into(),
                "a NixOS release number, e.g. \"24.11\"",
            ),
        ),
        ("RawHost", "ram", pat(size_pattern(), "a size with unit")),
        ("RawHost", "role", en(ROLES)),
        ("RawDisk", "size", pat(size_pattern(), "a size with unit")),
        (
            "RawPartition",
            "size",
            pat(
                format!("^(rest|{})$", &size_pattern()[1..size_pattern().len() - 1]),
                "a size with unit, or \"rest\"",
            ),
        ),
        (
            "RawPartition",
            "start",
            pat(size_pattern(), "a size with unit"),
        ),
        (
            "RawPartition",
            "type",
            en(&PartType::ALL.map(PartType::name)),
        ),
        ("RawPartition", "number", json!({ "minimum": 1 })),
    ]
}

/// `filesystem`, `[luks]`, keyfile, `[btrfs]`, subvolumes, mounts and persistence.
fn storage_constraints() -> Vec<Constraint> {
    vec![
        ("RawFilesystem", "type", en(&filesystems())),
        (
            "RawFilesystem",
            "uuid",
            pat(fs_uuid_pattern(), "a filesystem UUID"),
        ),
        (
            "RawLuks",
            "uuid",
            pat(rfc4122_pattern(), "an RFC 4122 UUID"),
        ),
        ("RawLuks", "kdf", en(KDFS)),
        (
            "RawKeyfile",
            "fs_uuid",
            pat(fs_uuid_pattern(), "a filesystem UUID"),
        ),
        ("RawKeyfile", "fs_type", en(&filesystems())),
        (
            "RawBtrfs",
            "uuid",
            pat(rfc4122_pattern(), "an RFC 4122 UUID"),
        ),
        (
            "RawBtrfs",
            "compression",
            pat(
                "^(zstd|lzo|zlib|none)(:[0-9]{1,3})?$".into(),
                "zstd, zstd:N, lzo, zlib or none",
            ),
        ),
        (
            "RawSubvolume",
            "estimate",
            pat(estimate_pattern(), "a size or a range"),
        ),
        ("RawMount", "path", abs()),
        ("RawPersistence", "root", abs()),
    ]
}

/// Desktop, boot, security, microvm, `[deploy]` and `[secrets]`.
fn system_constraints() -> Vec<Constraint> {
    vec![
        ("RawDesktop", "display_manager", en(DISPLAY_MANAGERS)),
        ("RawSession", "kind", en(SESSION_KINDS)),
        ("RawBoot", "loader", en(LOADERS)),
        ("RawSecurity", "firewall", en(FIREWALLS)),
        ("RawMicrovmVm", "hypervisor", en(HYPERVISORS)),
        ("RawDeploy", "build_on", en(crate::deploy::BUILD_ON)),
        (
            "RawDeploy",
            "target",
            pat(
                "^([A-Za-z0-9_][A-Za-z0-9_.-]*@)?([A-Za-z0-9.-]+|\\[[0-9A-Fa-f:.]+\\])(:[0-9]{1,5})?$".into(),
                "an SSH target user@host[:port]",
            ),
        ),
        (
            "RawSecrets",
            "host_key",
            pat(
                "^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/=]{43}( .*)?$".into(),
                "an ssh-ed25519 public key",
            ),
        ),
        ("RawSecrets", "identity", abs()),
    ]
}

/// Drop every `null` (TOML has none): from `type` lists, `anyOf`/`oneOf`
/// alternatives and `default`s.
fn strip_null(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.get("default").is_some_and(Value::is_null) {
                m.remove("default");
            }
            if let Some(Value::Array(types)) = m.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    m.insert("type".into(), only);
                }
            }
            for key in ["anyOf", "oneOf"] {
                if let Some(Value::Array(alts)) = m.get_mut(key) {
                    alts.retain(|a| a.get("type").is_none_or(|t| t != "null"));
                    if alts.len() == 1 {
                        let only = alts.remove(0);
                        m.remove(key);
                        if let Value::Object(o) = only {
                            m.extend(o);
                        }
                    }
                }
            }
            m.values_mut().for_each(strip_null);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_null),
        _ => {}
    }
}

/// The JSON Schema of host.toml, for editors (taplo, Even Better TOML) and
/// validators.
///
/// # Errors
/// A message when a constrained property is no longer in the raw types
/// (a test keeps that from shipping).
pub fn host_schema() -> Result<Value, String> {
    let settings = schemars::generate::SchemaSettings::draft2020_12();
    let root = settings
        .into_generator()
        .into_root_schema_for::<crate::raw::RawSpec>();
    let mut v = serde_json::to_value(&root).map_err(|e| e.to_string())?;
    strip_null(&mut v);
    let Value::Object(top) = &mut v else {
        return Err("the schema is not an object".into());
    };
    top.insert("$id".into(), json!(SCHEMA_ID));
    top.insert("title".into(), json!("tabula host spec (host.toml)"));
    top.insert(
        "description".into(),
        json!("One NixOS host for tabula: disk layout, impermanence, boot, desktop. `tabula check` checks what a schema cannot (references, sizes that fit, rules)."),
    );
    let defs = top
        .get_mut("$defs")
        .and_then(Value::as_object_mut)
        .ok_or("the schema has no $defs")?;
    for (def, prop, c) in constraints() {
        let p = defs
            .get_mut(def)
            .and_then(|d| d.get_mut("properties"))
            .and_then(|p| p.get_mut(prop))
            .and_then(Value::as_object_mut)
            .ok_or_else(|| format!("{def}.{prop} is not in the raw types"))?;
        apply(p, c);
    }
    Ok(v)
}

fn apply(p: &mut Map<String, Value>, c: Value) {
    let Value::Object(c) = c else { return };
    for (k, val) in c {
        if k == "description_suffix" {
            let what = val.as_str().unwrap_or_default();
            let d = p.get("description").and_then(Value::as_str).map_or_else(
                || format!("Must be {what}."),
                |d| format!("{d} Must be {what}."),
            );
            p.insert("description".into(), json!(d));
        } else {
            p.insert(k, val);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn host() -> String {
        crate::embedded::DEFAULT_HOST.toml.to_owned()
    }

    /// The problems the model finds at `key` after `edit`.
    fn problems_at(edit: impl Fn(&mut toml::Value), key: &str) -> Vec<crate::Problem> {
        let mut doc: toml::Value = toml::from_str(&host()).unwrap();
        edit(&mut doc);
        let raw: crate::raw::RawSpec = doc.try_into().unwrap();
        match crate::model::HostSpec::from_raw(&raw) {
            Ok(_) => vec![],
            Err(ps) => ps.into_iter().filter(|p| p.at.to_string() == key).collect(),
        }
    }

    fn set<'a>(path: &'a [&'a str], value: &str) -> impl Fn(&mut toml::Value) + 'a {
        let value = value.to_owned();
        move |doc: &mut toml::Value| {
            let (last, parents) = path.split_last().unwrap();
            let mut t = doc;
            for k in parents {
                t = match k.parse::<usize>() {
                    Ok(n) => t.get_mut(n).unwrap(),
                    Err(_) => t.get_mut(*k).unwrap(),
                };
            }
            t.as_table_mut()
                .unwrap()
                .insert((*last).to_owned(), toml::Value::String(value.clone()));
        }
    }

    /// Every enum value is one the model takes, and a value outside the
    /// enum is one it refuses: the schema and the model agree both ways.
    #[test]
    fn every_enum_agrees_with_the_model() {
        let cases: Vec<(&[&str], &str, Vec<&str>)> = vec![
            (&["host", "release"], "host.release", releases()),
            (&["host", "role"], "host.role", ROLES.to_vec()),
            (&["boot", "loader"], "boot.loader", LOADERS.to_vec()),
            (
                &["security", "firewall"],
                "security.firewall",
                FIREWALLS.to_vec(),
            ),
            (&["luks", "kdf"], "luks.kdf", KDFS.to_vec()),
            (
                &["partition", "0", "type"],
                "partition[0].type",
                PartType::ALL.map(PartType::name).to_vec(),
            ),
            (
                &["partition", "0", "filesystem", "type"],
                "partition[0].filesystem.type",
                filesystems(),
            ),
            (
                &["desktop", "session", "0", "kind"],
                "desktop.session[0].kind",
                SESSION_KINDS.to_vec(),
            ),
        ];
        for (path, key, values) in cases {
            for v in &values {
                let ps = problems_at(set(path, v), key);
                assert!(
                    ps.is_empty(),
                    "{key} = {v:?} is in the schema but the model says {ps:?}"
                );
            }
            let ps = problems_at(set(path, "zz-not-a-value"), key);
            assert!(
                !ps.is_empty(),
                "{key}: the model takes a value the schema refuses"
            );
        }
    }

    #[test]
    fn hypervisors_agree_with_the_model() {
        let key = "containers.microvm.vms[0].hypervisor";
        let problems = |h: &str| {
            let text = host().replace(
                "vms = []",
                &format!("vms = [{{ name = \"t\", hypervisor = \"{h}\" }}]"),
            );
            let raw: crate::raw::RawSpec = toml::from_str(&text).unwrap();
            match crate::model::HostSpec::from_raw(&raw) {
                Ok(_) => 0,
                Err(ps) => ps.iter().filter(|p| p.at.to_string() == key).count(),
            }
        };
        for h in HYPERVISORS {
            assert_eq!(problems(h), 0, "{h}");
        }
        assert_eq!(problems("virtualbox"), 1);
    }

    #[test]
    fn display_manager_outside_the_enum_is_a_check_error() {
        let text = host().replace("display_manager = \"sddm\"", "display_manager = \"gdm\"");
        assert_ne!(text, host());
        let loaded = crate::parse("host.toml", &text).unwrap();
        let f = crate::check::check(&loaded);
        assert!(f.iter().any(|f| f.at.contains("display_manager")), "{f:?}");
    }

    #[test]
    fn no_null_anywhere_and_a_real_title() {
        let s = host_schema().unwrap();
        let text = s.to_string();
        assert!(!text.contains("\"null\""), "{text}");
        assert_eq!(s["$id"], SCHEMA_ID);
        assert_ne!(s["title"], "RawSpec");
    }
}
