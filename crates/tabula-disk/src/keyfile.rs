//! # The USB keyfile's key slot
//!
//! `add`, `replace` and `remove` on an existing container. Every operation
//! first proves that the passphrase opens the container, and removes a key
//! only after another one is known to work, so the container is never left
//! without a usable key.

use std::path::Path;

use serde::Serialize;
use tabula_run::Cmd;
use tabula_spec::HostSpec;

use crate::apply::{add_keyfile, key_opens, Key, Secret};
use crate::probe::{self, Content};
use crate::{Error, Result};

/// What a keyfile operation did.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Outcome {
    pub node: String,
    pub added: bool,
    pub removed: bool,
    pub key_slots: usize,
}

/// The node of the spec's LUKS partition on `device`, checked to hold the
/// spec's container.
///
/// # Errors
/// [`Error::Refused`] when the container is not there.
pub fn container_node(spec: &HostSpec, device: &str) -> Result<String> {
    let luks = spec
        .luks
        .as_ref()
        .ok_or_else(|| Error::Refused("the spec has no [luks] container".into()))?;
    let sp = spec.partition(&luks.partition).ok_or_else(|| {
        Error::Refused(format!(
            "[luks] partition `{}` is not in the spec",
            luks.partition
        ))
    })?;
    let disk = probe::probe(device)?;
    let p = disk
        .partitions
        .iter()
        .find(|p| p.number == sp.number)
        .ok_or_else(|| Error::Refused(format!("{device} has no partition {}", sp.number)))?;
    match &p.content {
        Content::Luks(l) if l.uuid.eq_ignore_ascii_case(&luks.uuid) => Ok(p.node.clone()),
        other => Err(Error::Refused(format!(
            "{} does not hold the spec's container (LUKS2 UUID {}): found {other:?}",
            p.node, luks.uuid
        ))),
    }
}

fn slots(node: &str) -> Result<usize> {
    Ok(probe::luks_keyslots(node)?.len())
}

fn require_passphrase(node: &str, pass: &Secret) -> Result<()> {
    if !key_opens(node, &Key::Passphrase(pass.clone()))? {
        return Err(Error::Refused(format!(
            "the passphrase does not open {node}: nothing was changed"
        )));
    }
    Ok(())
}

/// Add `keyfile` as a key slot (a no-op when it already opens).
///
/// # Errors
/// When the passphrase does not open the container or cryptsetup fails.
pub fn add(spec: &HostSpec, device: &str, pass: &Secret, keyfile: &Path) -> Result<Outcome> {
    let node = container_node(spec, device)?;
    require_passphrase(&node, pass)?;
    let added = add_keyfile(spec, &node, pass, keyfile)?;
    Ok(Outcome {
        key_slots: slots(&node)?,
        node,
        added,
        removed: false,
    })
}

/// Add `new` and then remove `old`'s slot; `old` is removed only once `new`
/// is proven to open the container.
///
/// # Errors
/// When a key does not open the container or cryptsetup fails.
pub fn replace(
    spec: &HostSpec,
    device: &str,
    pass: &Secret,
    old: &Path,
    new: &Path,
) -> Result<Outcome> {
    let node = container_node(spec, device)?;
    require_passphrase(&node, pass)?;
    let added = add_keyfile(spec, &node, pass, new)?;
    if !key_opens(&node, &Key::File(new.to_owned()))? {
        return Err(Error::Refused(format!(
            "the new keyfile {} does not open {node}; the old one was kept",
            new.display()
        )));
    }
    let removed = remove_slot_of(&node, pass, old)?;
    Ok(Outcome {
        key_slots: slots(&node)?,
        node,
        added,
        removed,
    })
}

/// Remove `keyfile`'s slot; the passphrase must open another slot.
///
/// # Errors
/// When the passphrase does not open the container or cryptsetup fails.
pub fn remove(spec: &HostSpec, device: &str, pass: &Secret, keyfile: &Path) -> Result<Outcome> {
    let node = container_node(spec, device)?;
    require_passphrase(&node, pass)?;
    let removed = remove_slot_of(&node, pass, keyfile)?;
    Ok(Outcome {
        key_slots: slots(&node)?,
        node,
        added: false,
        removed,
    })
}

fn remove_slot_of(node: &str, pass: &Secret, keyfile: &Path) -> Result<bool> {
    let key = std::fs::read(keyfile)
        .map_err(|e| Error::io(format!("reading the keyfile {}", keyfile.display()), e))?;
    if key == pass.bytes() {
        return Err(Error::Refused(
            "the keyfile holds the passphrase itself: removing its slot would remove the passphrase's"
                .into(),
        ));
    }
    if !key_opens(node, &Key::File(keyfile.to_owned()))? {
        return Ok(false);
    }
    Cmd::new("cryptsetup")
        .args(["luksRemoveKey", "--batch-mode", "--key-file"])
        .arg(keyfile)
        .arg(node)
        .install_hint("Debian package cryptsetup-bin")
        .run()?;
    // The passphrase must still work: it is the key left.
    require_passphrase(node, pass)?;
    Ok(true)
}
