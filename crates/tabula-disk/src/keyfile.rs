//! # The USB keyfile's key slot
//!
//! `add`, `replace` and `remove` on an existing container. Every operation
//! first proves that the passphrase opens the container, and removes a key
//! only after another one is known to work, so the container is never left
//! without a usable key. A keyfile is enrolled only when
//! [`check_keyfile`] finds it strong: a regular file of at least 32 bytes
//! with at least 128 bits by [`entropy_bits`] (an empty, short, one-byte or
//! short-pattern file, a FIFO or /dev/zero are refused before any write).

use std::path::{Path, PathBuf};

use serde::Serialize;
use tabula_spec::HostSpec;

use crate::loopdev::Target;
use crate::luks::{self, key_opens, Key, KeyPrompt, Secret};
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

impl Outcome {
    /// What `op` did, in one line: "NODE: added the keyfile's slot; N key
    /// slot(s) now". A keyfile that was not enrolled is said so, not as a
    /// slot "already there".
    pub fn summary(&self, op: &Op) -> String {
        let what = match op {
            Op::Add if self.added => "added the keyfile's slot".to_owned(),
            Op::Add => "the keyfile already has a slot; nothing added".to_owned(),
            Op::Replace { .. } => format!(
                "{}, {}",
                if self.added {
                    "added the new keyfile's slot"
                } else {
                    "the new keyfile already had a slot"
                },
                if self.removed {
                    "removed the old keyfile's slot"
                } else {
                    "the old keyfile was not enrolled (no slot to remove)"
                }
            ),
            Op::Remove if self.removed => "removed the keyfile's slot".to_owned(),
            Op::Remove => {
                "the keyfile was not enrolled (no key slot opens with it); nothing to remove"
                    .to_owned()
            }
        };
        format!("{}: {what}; {} key slot(s) now", self.node, self.key_slots)
    }
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

/// The keyfile to add: `--keyfile`, or the spec's path on the `--usb` stick.
///
/// # Errors
/// [`Error::Refused`] for `--usb` without `[luks.keyfile] path`.
pub fn keyfile_path(
    spec: &HostSpec,
    keyfile: Option<&Path>,
    usb: Option<&Path>,
) -> Result<Option<PathBuf>> {
    if let Some(k) = keyfile {
        return Ok(Some(k.to_owned()));
    }
    let Some(usb) = usb else { return Ok(None) };
    let rel = spec
        .luks
        .as_ref()
        .and_then(|l| l.keyfile.as_ref())
        .map(|k| k.path.as_str().trim_start_matches('/').to_owned())
        .ok_or_else(|| Error::Refused("--usb needs [luks.keyfile] path in the spec".into()))?;
    Ok(Some(usb.join(rel)))
}

/// What `tabula keyfile` does.
#[derive(Debug, Clone)]
pub enum Op {
    Add,
    /// Add the new keyfile, then remove this old one's slot.
    Replace {
        old: Option<PathBuf>,
    },
    Remove,
}

/// `tabula keyfile`: the key to enrol is checked before any prompt or
/// write (an existing file: `--keyfile`, or one on the `--usb` stick), the
/// disk opened and its container found, the passphrase asked and proven to
/// open it, and only then a new random keyfile written on the stick (`usb`,
/// unless one is there) and `op` run: a wrong disk, a missing container or
/// a wrong passphrase leaves no new keyfile behind that unlocks nothing.
///
/// # Errors
/// A weak key, a wrong passphrase, no `--old` for replace, cryptsetup.
pub fn run(
    spec: &HostSpec,
    disk: &Path,
    op: &Op,
    key: &Path,
    usb: bool,
    prompt: &mut dyn KeyPrompt,
    note: &mut dyn FnMut(&str),
) -> Result<Outcome> {
    let enrols = !matches!(op, Op::Remove);
    if enrols && (!usb || key.symlink_metadata().is_ok()) {
        check_keyfile(key)?;
    }
    let old = match op {
        Op::Replace { old: None } => {
            return Err(Error::Usage(
                "replace needs --old FILE (the keyfile being replaced)".into(),
            ))
        }
        Op::Replace { old: Some(old) } => Some(old.as_path()),
        Op::Add | Op::Remove => None,
    };
    let _lock = crate::lock::exclusive(disk)?;
    let target = Target::open(disk, false)?;
    let node = container_node(spec, target.device())?;
    let pass = prompt.passphrase(false)?;
    require_passphrase(&node, &pass)?;
    if usb && enrols && make_keyfile(key)? {
        note(&format!("wrote a new random keyfile to {}", key.display()));
    }
    match (op, old) {
        (Op::Remove, _) => remove(&node, &pass, key),
        (Op::Replace { .. }, Some(old)) => replace(spec, &node, &pass, old, key),
        _ => add(spec, &node, &pass, key),
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

/// Add `keyfile` as a key slot of the container `node` the passphrase is
/// known to open (a no-op when it already opens); [`add_keyfile`] never
/// enrols a keyfile [`check_keyfile`] refuses.
fn add(spec: &HostSpec, node: &str, pass: &Secret, keyfile: &Path) -> Result<Outcome> {
    let added = add_keyfile(spec, node, pass, keyfile)?;
    Ok(Outcome {
        key_slots: slots(node)?,
        node: node.to_owned(),
        added,
        removed: false,
    })
}

/// Add `new` and then remove `old`'s slot, on the container `node` the
/// passphrase is known to open; `old` is removed only once `new` is proven
/// to open it.
fn replace(spec: &HostSpec, node: &str, pass: &Secret, old: &Path, new: &Path) -> Result<Outcome> {
    let added = add_keyfile(spec, node, pass, new)?;
    if !key_opens(node, &Key::File(new.to_owned()))? {
        return Err(Error::Refused(format!(
            "the new keyfile {} does not open {node}; the old one was kept",
            new.display()
        )));
    }
    let removed = remove_slot_of(node, pass, old)?;
    Ok(Outcome {
        key_slots: slots(node)?,
        node: node.to_owned(),
        added,
        removed,
    })
}

/// Remove `keyfile`'s slot of the container `node`; the passphrase must
/// open another slot.
fn remove(node: &str, pass: &Secret, keyfile: &Path) -> Result<Outcome> {
    let removed = remove_slot_of(node, pass, keyfile)?;
    Ok(Outcome {
        key_slots: slots(node)?,
        node: node.to_owned(),
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
    luks::remove_key(node, keyfile)?;
    // The passphrase must still work: it is the key left.
    require_passphrase(node, pass)?;
    Ok(true)
}

/// Add `keyfile` as a key slot unless it already opens the container. A
/// keyfile [`check_keyfile`] refuses is never enrolled.
///
/// # Errors
/// When the keyfile is weak or cryptsetup fails (a wrong passphrase, say).
pub fn add_keyfile(spec: &HostSpec, node: &str, pass: &Secret, keyfile: &Path) -> Result<bool> {
    // Never enrol (nor even hand cryptsetup) a weak key or a FIFO.
    check_keyfile(keyfile)?;
    if key_opens(node, &Key::File(keyfile.to_owned()))? {
        return Ok(false);
    }
    luks::add_key(spec, node, pass, keyfile)?;
    Ok(true)
}

/// A keyfile: 4096 random bytes written to `path` (mode 0400, atomically),
/// unless a file is already there: a rerun keeps it, but only when it meets
/// [`check_keyfile`]'s bar.
///
/// # Errors
/// When the file cannot be written, or the file there is too weak.
pub fn make_keyfile(path: &Path) -> Result<bool> {
    use std::io::Read as _;
    if path.symlink_metadata().is_ok() {
        check_keyfile(path)?;
        return Ok(false);
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let mut key = vec![0u8; 4096];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .map_err(|e| Error::io("reading /dev/urandom", e))?;
    // The shared atomic writer: a unique temp name (a killed earlier run's
    // temp file never blocks this one, and is removed), fsync, rename.
    tabula_run::atomic::write_atomic(path, &key, 0o400).map_err(|e| {
        Error::io(
            format!("writing the keyfile {}", path.display()),
            std::io::Error::other(e.to_string()),
        )
    })?;
    Ok(true)
}

// ---------------------------------------------------------------------------
// How strong a keyfile must be before tabula enrols it.

/// A keyfile shorter than this is refused (256 bits).
pub const MIN_KEYFILE_BYTES: usize = 32;
/// The least entropy a keyfile must show, in bits, by [`entropy_bits`].
pub const MIN_ENTROPY_BITS: f64 = 128.0;
/// cryptsetup reads at most 8 MiB of a keyfile; a larger file is refused.
pub const MAX_KEYFILE_BYTES: u64 = 8 << 20;

/// The entropy estimate of `data`, in bits: the bytes' Shannon entropy
/// (from their frequencies) times the length of the shortest unit that
/// repeats to make `data` (`abcabcab` counts as `abc`). Of a random file it
/// is close to the truth (32 random bytes: ~150 bits; 64 hex digits: ~240;
/// 4096 random bytes: ~32700); of one repeated byte 0, of a repeated short
/// pattern at most the pattern's own. An overestimate for text, whose bytes
/// are not independent: a bound below which a file is surely weak.
pub fn entropy_bits(data: &[u8]) -> f64 {
    let unit = &data[..period(data)];
    if unit.is_empty() {
        return 0.0;
    }
    let mut counts = [0usize; 256];
    for &b in unit {
        counts[usize::from(b)] += 1;
    }
    let n = unit.len() as f64;
    let h: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum();
    h * n
}

/// The length of the shortest prefix of `data` that, repeated, makes
/// `data` (KMP's failure function; the last repetition may be partial).
fn period(data: &[u8]) -> usize {
    let n = data.len();
    if n == 0 {
        return 0;
    }
    let mut fail = vec![0usize; n];
    let mut k = 0;
    for i in 1..n {
        while k > 0 && data[i] != data[k] {
            k = fail[k - 1];
        }
        if data[i] == data[k] {
            k += 1;
        }
        fail[i] = k;
    }
    n - fail[n - 1]
}

/// Why `data` is too weak to be a key, if it is.
pub fn weakness(data: &[u8]) -> Option<String> {
    if data.len() < MIN_KEYFILE_BYTES {
        return Some(format!(
            "it holds {} byte(s), fewer than {MIN_KEYFILE_BYTES}",
            data.len()
        ));
    }
    let bits = entropy_bits(data);
    if bits < MIN_ENTROPY_BITS {
        return Some(format!(
            "it looks like about {bits:.0} bits of entropy (a repeated byte or pattern?), fewer than {MIN_ENTROPY_BITS:.0}"
        ));
    }
    None
}

/// Read a keyfile that is about to be enrolled (or reused from a stick) and
/// refuse it unless it is a regular file (never a FIFO, a device such as
/// /dev/zero, a directory: it is opened non-blocking and looked at before a
/// byte is read) of [`MIN_KEYFILE_BYTES`] to [`MAX_KEYFILE_BYTES`] bytes
/// with at least [`MIN_ENTROPY_BITS`] bits by [`entropy_bits`].
///
/// # Errors
/// [`Error::Refused`] naming the file, why, and how to make a good one;
/// [`Error::Io`] when it cannot be read.
pub fn check_keyfile(path: &Path) -> Result<()> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let fix = format!(
        "make a random one: head -c 4096 /dev/urandom > {} (with --usb: remove the file and tabula writes a new one)",
        path.display()
    );
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .map_err(|e| Error::io(format!("opening the keyfile {}", path.display()), e))?;
    let meta = file
        .metadata()
        .map_err(|e| Error::io(format!("reading the keyfile {}", path.display()), e))?;
    if !meta.is_file() {
        return Err(Error::Refused(format!(
            "the keyfile {} is not a regular file ({}); refusing to enrol it: {fix}",
            path.display(),
            kind_of(&meta)
        )));
    }
    if meta.len() > MAX_KEYFILE_BYTES {
        return Err(Error::Refused(format!(
            "the keyfile {} is larger than cryptsetup's limit of {MAX_KEYFILE_BYTES} bytes: {fix}",
            path.display()
        )));
    }
    let mut data = Vec::new();
    file.take(MAX_KEYFILE_BYTES + 1)
        .read_to_end(&mut data)
        .map_err(|e| Error::io(format!("reading the keyfile {}", path.display()), e))?;
    if let Some(why) = weakness(&data) {
        return Err(Error::Refused(format!(
            "the keyfile {} is too weak to unlock the pool: {why}. Nothing was changed; {fix}",
            path.display()
        )));
    }
    Ok(())
}

fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyfile_not_enrolled_is_said_so_not_already_there() {
        let o = |added, removed| Outcome {
            node: "/dev/loop0p2".into(),
            added,
            removed,
            key_slots: 1,
        };
        let remove = o(false, false).summary(&Op::Remove);
        assert_eq!(
            remove,
            "/dev/loop0p2: the keyfile was not enrolled (no key slot opens with it); \
             nothing to remove; 1 key slot(s) now"
        );
        assert!(!remove.contains("already there"));
        assert_eq!(
            o(false, true).summary(&Op::Remove),
            "/dev/loop0p2: removed the keyfile's slot; 1 key slot(s) now"
        );
        assert!(o(true, false)
            .summary(&Op::Add)
            .contains(": added the keyfile's slot;"));
        assert!(o(false, false)
            .summary(&Op::Add)
            .contains("already has a slot; nothing added"));
        let replace = o(true, true).summary(&Op::Replace { old: None });
        assert!(
            replace.contains("added the new keyfile's slot, removed the old keyfile's slot"),
            "{replace}"
        );
    }

    fn random(n: usize) -> Vec<u8> {
        use std::io::Read as _;
        let mut v = vec![0u8; n];
        std::fs::File::open("/dev/urandom")
            .unwrap()
            .read_exact(&mut v)
            .unwrap();
        v
    }

    fn hex(b: &[u8]) -> Vec<u8> {
        b.iter()
            .flat_map(|x| format!("{x:02x}").into_bytes())
            .collect()
    }

    #[test]
    fn a_killed_runs_temp_files_never_block_a_new_keyfile() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("keys/k.key");
        std::fs::create_dir_all(key.parent().unwrap()).unwrap();
        // What a kill -9 left: the old fixed temp name, and a dead writer's.
        let old = key.parent().unwrap().join(".k.key.tmp");
        let dead = key.parent().unwrap().join(".k.key.tabula-4294967-1.tmp");
        std::fs::write(&old, b"half").unwrap();
        std::fs::write(&dead, b"half").unwrap();
        assert!(make_keyfile(&key).unwrap());
        let meta = std::fs::metadata(&key).unwrap();
        assert_eq!(meta.len(), 4096);
        assert_eq!(meta.permissions().mode() & 0o777, 0o400);
        assert!(!dead.exists(), "the dead writer's temp file stays");
        // A rerun keeps the (strong) key it made.
        let before = std::fs::read(&key).unwrap();
        assert!(!make_keyfile(&key).unwrap());
        assert_eq!(std::fs::read(&key).unwrap(), before);
    }

    #[test]
    fn random_keys_pass() {
        for _ in 0..200 {
            assert_eq!(weakness(&random(32)), None);
            assert_eq!(weakness(&random(4096)), None);
            // 64 hex digits (256 bits), with and without a newline.
            let h = hex(&random(32));
            assert_eq!(weakness(&h), None, "{}", String::from_utf8_lossy(&h));
            let mut hn = h.clone();
            hn.push(b'\n');
            assert_eq!(weakness(&hn), None);
        }
        // 64 base64 characters (48 random bytes).
        let b64 = std::process::Command::new("sh")
            .args(["-c", "head -c 48 /dev/urandom | base64 -w0"])
            .output()
            .unwrap()
            .stdout;
        assert_eq!(b64.len(), 64);
        assert_eq!(weakness(&b64), None);
    }

    #[test]
    fn empty_short_repeated_and_patterned_keys_fail() {
        let mut bad: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"abcd".to_vec(),
            random(31),
            vec![0; 4096],
            vec![7; 512],
            b"abcd".repeat(1024),
            b"0123456789abcdef".repeat(256),
            // A 24-byte random block repeated: at most 24 bytes of key.
            random(24).repeat(100),
            // Zeros with one byte set.
            {
                let mut v = vec![0u8; 4096];
                v[100] = 1;
                v
            },
            b"password\n".to_vec(),
            b"correct horse battery staple 7\n".to_vec(),
        ];
        bad.push(random(16).repeat(3));
        for b in bad {
            assert!(weakness(&b).is_some(), "accepted {} bytes", b.len());
        }
    }

    #[test]
    fn period_finds_the_repeated_unit() {
        assert_eq!(period(b""), 0);
        assert_eq!(period(b"a"), 1);
        assert_eq!(period(b"aaaa"), 1);
        assert_eq!(period(b"abcabcab"), 3);
        assert_eq!(period(b"abcd"), 4);
    }

    #[test]
    fn fifos_devices_and_directories_are_refused_without_reading() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("fifo");
        rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, rustix::fs::Mode::from(0o600)).unwrap();
        for p in [fifo.as_path(), Path::new("/dev/zero"), d.path()] {
            let e = check_keyfile(p).unwrap_err().to_string();
            assert!(
                e.contains("not a regular file") && e.contains(&p.display().to_string()),
                "{e}"
            );
        }
        let link = d.path().join("zero-link");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        assert!(check_keyfile(&link).is_err());
        let weak = d.path().join("weak.key");
        std::fs::write(&weak, [0u8; 4096]).unwrap();
        let e = check_keyfile(&weak).unwrap_err().to_string();
        assert!(
            e.contains("weak.key") && e.contains("head -c 4096 /dev/urandom"),
            "{e}"
        );
        let good = d.path().join("good.key");
        std::fs::write(&good, random(4096)).unwrap();
        check_keyfile(&good).unwrap();
    }
}
