//! # LUKS2: the container, its keys and every cryptsetup call
//!
//! [`cryptsetup`] is the one constructor of a cryptsetup command in the
//! crate. [`Secret`] (a passphrase that never shows in `Debug`) and [`Key`]
//! (a passphrase or a keyfile) reach cryptsetup on stdin only (`--key-file -`
//! with [`Cmd::stdin_secret`]), never argv or logs.
//!
//! This module imports only [`crate::node`] and [`crate::interrupt`] (leaves):
//! probe, keyfile, mount and apply build on it, never the other way round.

use std::path::{Path, PathBuf};

use tabula_run::Cmd;
use tabula_spec::model::Kdf;
use tabula_spec::HostSpec;

use crate::interrupt::{self, Undo};
use crate::node::partition_node;
use crate::{Error, Result};

/// A secret passphrase; its bytes never show in `Debug`.
#[derive(Clone, Default)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// From what the user typed or gave in a file: one trailing newline
    /// (`\n` or `\r\n`) is not part of it.
    pub fn from_input(mut bytes: Vec<u8>) -> Secret {
        if bytes.last() == Some(&b'\n') {
            bytes.pop();
            if bytes.last() == Some(&b'\r') {
                bytes.pop();
            }
        }
        Secret(bytes)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A way to unlock the container.
#[derive(Debug, Clone)]
pub enum Key {
    Passphrase(Secret),
    File(PathBuf),
}

impl Key {
    /// `cmd` with the key: `--key-file -` and the passphrase on stdin, or
    /// `--key-file PATH`.
    pub(crate) fn feed(&self, cmd: Cmd) -> Cmd {
        match self {
            Key::Passphrase(s) => cmd
                .args(["--key-file", "-"])
                .stdin_secret(s.bytes().to_vec()),
            Key::File(p) => cmd.arg("--key-file").arg(p),
        }
    }
}

/// Asks for the passphrase (a terminal prompt, or a refusal without one):
/// the binary's side of every session that may need a key.
pub trait KeyPrompt {
    /// The LUKS passphrase; `confirm` when a new container is formatted.
    ///
    /// # Errors
    /// When none can be had (no terminal), or the prompt fails.
    fn passphrase(&mut self, confirm: bool) -> Result<Secret>;

    /// The passphrase when given without asking (a file, stdin), if any.
    ///
    /// # Errors
    /// When the file or stdin cannot be read, or the passphrase is invalid.
    fn given(&mut self) -> Result<Option<Secret>> {
        Ok(None)
    }
}

/// The one constructor of a cryptsetup command: `cryptsetup ARGS...` with
/// the install hint.
pub(crate) fn cryptsetup<I, S>(args: I) -> Cmd
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Cmd::new("cryptsetup").args(args)
}

/// The PBKDF flags of a new key slot.
fn pbkdf_args(cmd: Cmd, kdf: Kdf, it: Option<u32>, mem: Option<u32>, time: Option<u32>) -> Cmd {
    let mut cmd = cmd.args(["--pbkdf", kdf.name()]);
    if let Some(i) = it {
        cmd = cmd.args(["--pbkdf-force-iterations".to_owned(), i.to_string()]);
    }
    if let Some(m) = mem {
        cmd = cmd.args(["--pbkdf-memory".to_owned(), m.to_string()]);
    }
    if let Some(t) = time {
        cmd = cmd.args(["--iter-time".to_owned(), t.to_string()]);
    }
    cmd
}

/// Whether device-mapper can be used here (`cryptsetup open`).
pub fn device_mapper_available() -> bool {
    Path::new("/dev/mapper/control").exists()
        || std::fs::read_to_string("/proc/misc").is_ok_and(|m| m.contains("device-mapper"))
}

/// The device-mapper device open on top of `node`, if any (`/dev/mapper/NAME`).
pub fn open_mapping(node: &str) -> Option<String> {
    let name = Path::new(node).file_name()?.to_string_lossy().into_owned();
    let holders = std::fs::read_dir(format!("/sys/class/block/{name}/holders")).ok()?;
    let h = holders.flatten().next()?;
    let dm_name = std::fs::read_to_string(h.path().join("dm/name")).ok()?;
    Some(format!("/dev/mapper/{}", dm_name.trim()))
}

/// The LUKS2 header's JSON metadata (`luksDump --dump-json-metadata`).
///
/// # Errors
/// When cryptsetup fails.
pub fn dump_json(node: &str) -> Result<String> {
    let out = cryptsetup(["luksDump", "--dump-json-metadata", node]).run()?;
    Ok(out.text())
}

/// Whether the key opens the container (`open --test-passphrase`).
///
/// # Errors
/// When cryptsetup is missing.
pub fn key_opens(node: &str, key: &Key) -> Result<bool> {
    let cmd = key.feed(cryptsetup(["open", "--test-passphrase", "--type", "luks2"]));
    match cmd.arg(node).run() {
        Ok(_) => Ok(true),
        Err(e @ tabula_run::Error::NotFound { .. }) => Err(e.into()),
        Err(_) => Ok(false),
    }
}

/// The PBKDF of a new key slot, as the spec or the plan asks.
#[derive(Debug, Clone, Copy)]
pub struct Pbkdf {
    pub kdf: Kdf,
    pub iterations: Option<u32>,
    pub memory_kib: Option<u32>,
    pub time_ms: Option<u32>,
}

/// `luksFormat` `node` as LUKS2 with `uuid`, the passphrase as its first key.
///
/// # Errors
/// When the passphrase is empty or cryptsetup fails.
pub fn format(node: &str, uuid: &str, pbkdf: Pbkdf, pass: &Secret) -> Result<()> {
    if pass.is_empty() {
        return Err(Error::Refused("the LUKS passphrase is empty".into()));
    }
    let cmd = cryptsetup([
        "luksFormat",
        "--batch-mode",
        "--type",
        "luks2",
        "--uuid",
        uuid,
    ]);
    let cmd = pbkdf_args(
        cmd,
        pbkdf.kdf,
        pbkdf.iterations,
        pbkdf.memory_kib,
        pbkdf.time_ms,
    );
    Key::Passphrase(pass.clone()).feed(cmd).arg(node).run()?;
    Ok(())
}

/// Open the spec's container on `node` as `/dev/mapper/NAME` (a no-op when
/// that mapping exists).
///
/// # Errors
/// When cryptsetup fails (wrong key, no device-mapper).
pub fn open_container(spec: &HostSpec, node: &str, key: &Key) -> Result<String> {
    let luks = spec
        .luks
        .as_ref()
        .ok_or_else(|| Error::Refused("the spec has no [luks] container".into()))?;
    // Already open on this partition, under any name: use that mapping.
    if let Some(m) = open_mapping(node) {
        return Ok(m);
    }
    let mapper = format!("/dev/mapper/{}", luks.name);
    if Path::new(&mapper).exists() {
        // The name is taken by another device (the running system's own
        // pool, say): never write through it.
        return Err(Error::Refused(format!(
            "{mapper} is already open for another device than {node}; close it first (cryptsetup close {}) or change [luks] name",
            luks.name
        )));
    }
    let mut cmd = cryptsetup(["open", "--type", "luks2"]);
    if luks.allow_discards {
        cmd = cmd.arg("--allow-discards");
    }
    key.feed(cmd).args([node, luks.name.as_str()]).run()?;
    // Opened by this run: an interruption closes it again.
    interrupt::register(Undo::Close(luks.name.clone()));
    Ok(mapper)
}

/// Open the container on `node` READ-ONLY as `/dev/mapper/NAME`
/// (`cryptsetup open --readonly`), for `import`: nothing is written, not
/// even the header. Refused without device-mapper; an interruption closes it.
///
/// # Errors
/// [`Error::Refused`] when this kernel has no device-mapper or `NAME` is
/// taken; when cryptsetup fails (a wrong key).
pub fn open_readonly(node: &str, name: &str, key: &Key) -> Result<String> {
    if let Some(m) = open_mapping(node) {
        return Ok(m);
    }
    if !device_mapper_available() {
        return Err(Error::Refused(format!(
            "cannot open {node}: no device-mapper on this kernel (run import where `cryptsetup open` works, e.g. the installer)"
        )));
    }
    let mapper = format!("/dev/mapper/{name}");
    if Path::new(&mapper).exists() {
        return Err(Error::Refused(format!(
            "{mapper} is already open for another device than {node}"
        )));
    }
    let cmd = cryptsetup(["open", "--readonly", "--type", "luks"]);
    match key.feed(cmd).args([node, name]).run() {
        Ok(_) => {}
        // /dev/mapper/control without the kernel's device-mapper.
        Err(e) if e.to_string().contains("Cannot initialize device-mapper") => {
            return Err(Error::Refused(format!(
                "cannot open {node}: no device-mapper on this kernel (run import where `cryptsetup open` works, e.g. the installer)"
            )));
        }
        Err(e) => return Err(e.into()),
    }
    interrupt::register(Undo::Close(name.to_owned()));
    Ok(mapper)
}

/// The mapping open on the spec's LUKS partition of `device`, if any.
pub fn container_mapping(spec: &HostSpec, device: &str) -> Option<String> {
    let sp = spec
        .luks
        .as_ref()
        .and_then(|l| spec.partition(&l.partition))?;
    open_mapping(&partition_node(device, sp.number))
}

/// `cryptsetup close NAME` (the mapping `/dev/mapper/NAME`).
///
/// # Errors
/// When cryptsetup fails (the pool is still mounted, say).
pub fn close(name: &str) -> Result<()> {
    cryptsetup(["close", name]).run()?;
    interrupt::forget(&Undo::Close(name.to_owned()));
    Ok(())
}

/// Close the mapping open on the spec's LUKS partition of `device` (a no-op
/// when none is).
///
/// # Errors
/// When cryptsetup fails (the pool is still mounted, say).
pub fn close_container(spec: &HostSpec, device: &str) -> Result<()> {
    if let Some(m) = container_mapping(spec, device) {
        close(m.trim_start_matches("/dev/mapper/"))?;
    }
    Ok(())
}

/// Add `keyfile` as a key slot, unlocked by the passphrase, with the spec's
/// PBKDF. The caller checks the keyfile's strength first
/// (`keyfile::add_keyfile`).
///
/// # Errors
/// When the spec has no container or cryptsetup fails (a wrong passphrase).
pub fn add_key(spec: &HostSpec, node: &str, pass: &Secret, keyfile: &Path) -> Result<()> {
    let luks = spec
        .luks
        .as_ref()
        .ok_or_else(|| Error::Refused("the spec has no [luks] container".into()))?;
    let cmd = pbkdf_args(
        cryptsetup(["luksAddKey", "--batch-mode"]),
        luks.kdf,
        luks.pbkdf_iterations,
        luks.pbkdf_memory_kib,
        luks.pbkdf_time_ms,
    );
    Key::Passphrase(pass.clone())
        .feed(cmd)
        .arg(node)
        .arg(keyfile)
        .run()?;
    Ok(())
}

/// Remove the key slot `keyfile` opens (`luksRemoveKey`).
///
/// # Errors
/// When cryptsetup fails.
pub fn remove_key(node: &str, keyfile: &Path) -> Result<()> {
    cryptsetup(["luksRemoveKey", "--batch-mode", "--key-file"])
        .arg(keyfile)
        .arg(node)
        .run()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_drops_one_trailing_newline_and_hides_in_debug() {
        let s = Secret::from_input(b"hunter2\n".to_vec());
        assert_eq!(s.bytes(), b"hunter2");
        let s = Secret::from_input(b"two\r\n\n".to_vec());
        assert_eq!(s.bytes(), b"two\r\n");
        assert!(!format!("{s:?}").contains("two"));
    }

    #[test]
    fn every_cryptsetup_command_carries_its_install_hint() {
        let c = cryptsetup(["close", "pool"]);
        assert_eq!(c.display(), "cryptsetup close pool");
        let c = pbkdf_args(
            cryptsetup(["luksAddKey"]),
            Kdf::Pbkdf2,
            Some(1000),
            None,
            None,
        );
        assert_eq!(
            c.display(),
            "cryptsetup luksAddKey --pbkdf pbkdf2 --pbkdf-force-iterations 1000"
        );
    }
}
