//! # `secret set|password|rekey|list` (issue 13): secrets encrypted with age
//!
//! The store is the `secrets/` folder next to the spec (or in the fleet's
//! folder): one `NAME.age` per secret, binary age (no armor) as agenix reads
//! it, written atomically with mode 0600. A secret is encrypted to every
//! admin key (`[secrets] admins` of every host) and to the SSH ed25519 host
//! key of each host that lists it (`[secrets] names`, or `passwords` for
//! `password-USER`). The host specs are the truth: `rekey` re-encrypts every
//! secret to the recipients they name now.
//!
//! A value is read from a prompt with echo off or from stdin, never from
//! the command line, and no external program is run: it reaches no argv.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal as _, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use serde::Serialize;
use tabula_spec::model::{secret_name, Secrets};
use tabula_spec::{HostSpec, SpecSource};

use crate::ctx::Ctx;
use crate::exit::{Refused, Usage};

const SECRET_HELP: &str = "\
The store is secrets/ next to the spec (--spec FILE) or in the fleet's folder
(--fleet DIR): secrets/NAME.age, readable by agenix on each host that lists
NAME in [secrets] names. Values are read from a prompt (echo off) or from
stdin, never from the command line.

Examples:
  tabula secret set wifi --spec host.toml              ask for the value
  printf %s \"$TOKEN\" | tabula secret set token --fleet hosts --hosts web,db
  tabula secret password user --spec host.toml         ask twice, store the hash
  tabula secret rekey --fleet hosts --identity ~/.config/age/admin.txt
  tabula secret list --fleet hosts --json";

/// Secrets encrypted with age for agenix: set, password, rekey, list
#[derive(Debug, Args)]
#[command(after_help = SECRET_HELP)]
pub struct SecretArgs {
    #[command(subcommand)]
    pub action: SecretAction,
    /// Every host spec (*.toml with a [host] table) in DIR, instead of --spec
    #[arg(long, global = true, value_name = "DIR")]
    pub fleet: Option<PathBuf>,
    /// The secrets folder (default: secrets/ next to the spec, or in the fleet's folder)
    #[arg(long, global = true, value_name = "DIR")]
    pub store: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum SecretAction {
    /// Encrypt a value (prompt or stdin) as secrets/NAME.age for the hosts that read it
    Set {
        /// The secret's name (letters, digits, `-`, `_`; a letter first)
        name: String,
        /// The hosts that read it, by host name, comma-separated (default: every host given);
        /// it is listed in their [secrets] names and dropped from the others'
        #[arg(long, value_delimiter = ',', value_name = "HOST,...")]
        hosts: Vec<String>,
    },
    /// Hash USER's password (typed twice, or one line on stdin) with SHA-512 crypt
    /// and store the hash as the secret password-USER
    Password {
        /// The [[user]] whose hashedPasswordFile it becomes
        user: String,
        /// The hosts where USER gets this password (default: every host given)
        #[arg(long, value_delimiter = ',', value_name = "HOST,...")]
        hosts: Vec<String>,
    },
    /// Re-encrypt every secret to the recipients the specs name now
    Rekey {
        /// An admin's identity: an age key file (AGE-SECRET-KEY-1...) or an
        /// unencrypted OpenSSH ed25519 private key
        #[arg(long, value_name = "FILE")]
        identity: PathBuf,
    },
    /// Show who can read which secret
    List,
}

/// One host spec of the fleet.
struct Host {
    path: PathBuf,
    text: String,
    spec: HostSpec,
}

impl Host {
    fn name(&self) -> &str {
        &self.spec.host.name
    }
    fn secrets(&self) -> Option<&Secrets> {
        self.spec.secrets.as_ref()
    }
    fn reads(&self, secret: &str) -> bool {
        self.secrets()
            .is_some_and(|s| s.all_names().iter().any(|n| n == secret))
    }
}

pub fn secret(args: &SecretArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    // Every action but list edits the specs and the store: one at a time.
    let writes = !matches!(args.action, SecretAction::List);
    let (hosts, store, _lock) = load_hosts(args, ctx, writes)?;
    match &args.action {
        SecretAction::Set { name, hosts: sel } => {
            secret_name(name).map_err(|m| {
                Usage(format!(
                    "{m}: use letters, digits, `-` and `_`, starting with a letter"
                ))
            })?;
            if name.starts_with("password-") {
                bail!(Usage(format!(
                    "`{name}` is kept for `tabula secret password USER`: choose another name"
                )));
            }
            let chosen = select(&hosts, sel)?;
            let value = read_value(&format!("value of secret {name}"))?;
            store_secret(ctx, hosts, &store, name, "names", name, &chosen, &value)
        }
        SecretAction::Password { user, hosts: sel } => {
            let chosen = select(&hosts, sel)?;
            for h in hosts.iter().filter(|h| chosen.contains(h.name())) {
                if !h.spec.users.iter().any(|u| &u.name == user) {
                    bail!(Usage(format!(
                        "{}: host {} declares no [[user]] named `{user}`; add it, or leave the host out with --hosts",
                        h.path.display(),
                        h.name()
                    )));
                }
            }
            let password = read_password(user)?;
            let hash = sha_crypt::sha512_simple(&password, &sha_crypt::Sha512Params::default())
                .map_err(|e| anyhow::anyhow!("hashing the password: {e:?}"))?;
            let name = Secrets::password_name(user);
            store_secret(
                ctx,
                hosts,
                &store,
                &name,
                "passwords",
                user,
                &chosen,
                hash.as_bytes(),
            )
        }
        SecretAction::Rekey { identity } => rekey(ctx, &hosts, &store, identity),
        SecretAction::List => list(ctx, &hosts, &store),
    }
}

/// The host specs (`--fleet DIR` or the one `--spec`) and the store. With
/// `lock`, the specs are read under a lock in their folder
/// (`.secrets.tabula.lock`), held until the caller drops it: two `secret`
/// runs at once queue, and neither loses the other's spec edit or writes a
/// secret to readers the other just changed.
fn load_hosts(
    args: &SecretArgs,
    ctx: &Ctx,
    lock: bool,
) -> anyhow::Result<(Vec<Host>, PathBuf, Option<tabula_run::atomic::Lock>)> {
    let mut files = Vec::new();
    let base = if let Some(dir) = &args.fleet {
        let rd = std::fs::read_dir(dir)
            .with_context(|| format!("reading the fleet folder {}", dir.display()))?;
        for e in rd {
            let p = e
                .with_context(|| format!("reading {}", dir.display()))?
                .path();
            if p.extension().is_some_and(|x| x == "toml") && p.is_file() {
                let text = std::fs::read_to_string(&p)
                    .with_context(|| format!("reading {}", p.display()))?;
                // A host spec is a TOML file with a [host] table.
                let is_host = toml_edit::DocumentMut::from_str(&text)
                    .is_ok_and(|d| d.get("host").is_some_and(toml_edit::Item::is_table_like));
                if is_host {
                    files.push(p);
                }
            }
        }
        files.sort();
        if files.is_empty() {
            bail!(Usage(format!(
                "{} holds no host spec (*.toml with a [host] table)",
                dir.display()
            )));
        }
        dir.clone()
    } else {
        match ctx.spec_source() {
            SpecSource::File(p) => {
                let dir = p
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
                files.push(p);
                dir
            }
            _ => bail!(Usage(
                "secrets live next to a spec file: give --spec FILE or --fleet DIR".into()
            )),
        }
    };
    let guard = if lock {
        Some(secrets_lock(&base)?)
    } else {
        None
    };
    let mut hosts: Vec<Host> = Vec::new();
    for p in files {
        let loaded = tabula_spec::load(&SpecSource::File(p.clone()))
            .with_context(|| format!("loading the host spec {}", p.display()))?;
        if let Some(other) = hosts.iter().find(|h| h.name() == loaded.spec.host.name) {
            bail!(Usage(format!(
                "{} and {} both name host `{}`: each host needs its own name",
                other.path.display(),
                p.display(),
                loaded.spec.host.name
            )));
        }
        hosts.push(Host {
            path: p,
            text: loaded.text,
            spec: loaded.spec,
        });
    }
    let store = args.store.clone().unwrap_or_else(|| base.join("secrets"));
    Ok((hosts, store, guard))
}

/// The lock of the secrets of the specs in `base` (`.secrets.tabula.lock`):
/// a second `secret` run waits for it, saying so.
fn secrets_lock(base: &Path) -> anyhow::Result<tabula_run::atomic::Lock> {
    let path = tabula_run::atomic::lock_path_for(&base.join("secrets"));
    Ok(tabula_run::atomic::Lock::acquire(
        &path,
        tabula_run::atomic::LOCK_TIMEOUT,
        &mut |lock| {
            eprintln!(
                "waiting for another tabula editing the secrets of {} (lock {})",
                base.display(),
                lock.display()
            );
        },
    )?)
}

/// The host names `--hosts` picks (every host when empty).
fn select(hosts: &[Host], sel: &[String]) -> anyhow::Result<BTreeSet<String>> {
    if sel.is_empty() {
        return Ok(hosts.iter().map(|h| h.name().to_owned()).collect());
    }
    let known: Vec<&str> = hosts.iter().map(Host::name).collect();
    for s in sel {
        if !known.contains(&s.as_str()) {
            bail!(Usage(format!(
                "--hosts names `{s}`, which is not a host given (known: {})",
                known.join(", ")
            )));
        }
    }
    Ok(sel.iter().cloned().collect())
}

/// A value: all of stdin when it is not a terminal (kept byte for byte),
/// else one line typed with echo off.
fn read_value(what: &str) -> anyhow::Result<Vec<u8>> {
    let bytes = if std::io::stdin().is_terminal() {
        prompt(what)?
    } else {
        let mut b = Vec::new();
        std::io::stdin()
            .read_to_end(&mut b)
            .context("reading the secret from stdin")?;
        b
    };
    if bytes.is_empty() {
        bail!(Refused(format!("the {what} is empty: nothing was written")));
    }
    Ok(bytes)
}

/// A password: typed twice on a terminal, or one line on stdin.
fn read_password(user: &str) -> anyhow::Result<String> {
    let bytes = if std::io::stdin().is_terminal() {
        let first = prompt(&format!("new password for {user}"))?;
        let again = prompt(&format!("new password for {user} (again)"))?;
        if first != again {
            bail!(Refused(
                "the two passwords differ: nothing was written".into()
            ));
        }
        first
    } else {
        let mut b = Vec::new();
        std::io::stdin()
            .read_to_end(&mut b)
            .context("reading the password from stdin")?;
        if b.last() == Some(&b'\n') {
            b.pop();
        }
        b
    };
    if bytes.is_empty() || bytes.iter().any(|b| *b == b'\n' || *b == b'\r') {
        bail!(Refused(
            "the password must be one non-empty line (at most one newline at its end): nothing was written".into()
        ));
    }
    String::from_utf8(bytes).map_err(|_| Refused("the password is not UTF-8 text".into()).into())
}

/// One line typed on /dev/tty with echo off (the signal handler puts the
/// terminal's mode back if the prompt is interrupted).
fn prompt(what: &str) -> anyhow::Result<Vec<u8>> {
    use rustix::termios::{tcgetattr, tcsetattr, LocalModes, OptionalActions};
    use std::io::BufRead as _;
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .context("no terminal to ask on: give the value on stdin")?;
    let old = tcgetattr(&tty).context("reading the terminal mode")?;
    let mut quiet = old.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    quiet.local_modes.insert(LocalModes::ECHONL);
    tcsetattr(&tty, OptionalActions::Flush, &quiet).context("turning terminal echo off")?;
    let mut w = &tty;
    let _ = w.write_all(format!("{what}: ").as_bytes());
    let mut line = Vec::new();
    let read = std::io::BufReader::new(&tty).read_until(b'\n', &mut line);
    let _ = tcsetattr(&tty, OptionalActions::Flush, &old);
    read.context("reading from the terminal")?;
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    Ok(line)
}

/// Every admin key of every host, once each, in order.
fn admins(hosts: &[Host]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    hosts
        .iter()
        .filter_map(Host::secrets)
        .flat_map(|s| s.admins.iter())
        .filter(|a| seen.insert((*a).clone()))
        .cloned()
        .collect()
}

/// Who can read `secret` by the specs: (admins, hosts with their key,
/// hosts that list it but have no host_key).
fn readers(hosts: &[Host], secret: &str) -> (Vec<String>, Vec<(String, String)>, Vec<String>) {
    let mut keyed = Vec::new();
    let mut keyless = Vec::new();
    for h in hosts.iter().filter(|h| h.reads(secret)) {
        match h.secrets().and_then(|s| s.host_key.clone()) {
            Some(k) => keyed.push((h.name().to_owned(), k)),
            None => keyless.push(h.name().to_owned()),
        }
    }
    (admins(hosts), keyed, keyless)
}

fn recipient(key: &str) -> anyhow::Result<Box<dyn age::Recipient + Send>> {
    if key.starts_with("ssh-") {
        age::ssh::Recipient::from_str(key)
            .map(|r| Box::new(r) as Box<dyn age::Recipient + Send>)
            .map_err(|e| anyhow::anyhow!("`{key}` is not an SSH key age can encrypt to: {e:?}"))
    } else {
        age::x25519::Recipient::from_str(key)
            .map(|r| Box::new(r) as Box<dyn age::Recipient + Send>)
            .map_err(|e| anyhow::anyhow!("`{key}` is not an age recipient: {e}"))
    }
}

/// Encrypt `plain` for `secret`'s readers (binary age, no armor).
fn encrypt(hosts: &[Host], secret: &str, plain: &[u8]) -> anyhow::Result<Vec<u8>> {
    let (admins, keyed, keyless) = readers(hosts, secret);
    for h in &keyless {
        eprintln!("warning: host {h} reads {secret} but has no [secrets] host_key, so it cannot decrypt it");
    }
    if admins.is_empty() {
        bail!(Usage(
            "no admin key: add [secrets] admins = [\"age1...\"] (age-keygen -y KEY) so the secret can be rekeyed".into()
        ));
    }
    let recips: Vec<Box<dyn age::Recipient + Send>> = admins
        .iter()
        .chain(keyed.iter().map(|(_, k)| k))
        .map(|k| recipient(k))
        .collect::<anyhow::Result<_>>()?;
    let enc =
        age::Encryptor::with_recipients(recips.iter().map(|r| r.as_ref() as &dyn age::Recipient))
            .map_err(|e| anyhow::anyhow!("encrypting {secret}: {e}"))?;
    let mut out = Vec::new();
    let mut w = enc
        .wrap_output(&mut out)
        .with_context(|| format!("encrypting {secret}"))?;
    w.write_all(plain)
        .and_then(|()| w.finish().map(|_| ()))
        .with_context(|| format!("encrypting {secret}"))?;
    Ok(out)
}

fn write_secret(store: &Path, secret: &str, bytes: &[u8]) -> anyhow::Result<PathBuf> {
    if !store.is_dir() {
        use std::os::unix::fs::DirBuilderExt as _;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(store)
            .with_context(|| format!("creating the secrets folder {}", store.display()))?;
    }
    let path = store.join(format!("{secret}.age"));
    tabula_run::atomic::write_atomic(&path, bytes, 0o600)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

#[derive(Serialize)]
struct Written {
    secret: String,
    file: String,
    hosts: Vec<String>,
    hosts_without_key: Vec<String>,
    admins: usize,
    specs_changed: Vec<String>,
}

/// List `item` in `[secrets] LIST` of the chosen hosts and drop it from
/// the others, then encrypt `plain` to the new readers and write it.
#[allow(clippy::too_many_arguments)]
fn store_secret(
    ctx: &Ctx,
    mut hosts: Vec<Host>,
    store: &Path,
    secret: &str,
    list: &str,
    item: &str,
    chosen: &BTreeSet<String>,
    plain: &[u8],
) -> anyhow::Result<u8> {
    // The spec edits first in memory, so the secret is encrypted to the
    // readers the specs will name; nothing is written before it encrypts.
    let mut edits = Vec::new();
    for h in &mut hosts {
        let want = chosen.contains(h.name());
        let new = tabula_spec::secrets_edit::set_listed(&h.text, list, item, want)
            .with_context(|| format!("editing {}", h.path.display()))?;
        if let Some(text) = new {
            let loaded = tabula_spec::parse(&h.path.display().to_string(), &text)
                .with_context(|| format!("{} after the edit", h.path.display()))?;
            h.spec = loaded.spec;
            h.text = text.clone();
            edits.push((h.path.clone(), text));
        }
    }
    let bytes = encrypt(&hosts, secret, plain)?;
    let file = write_secret(store, secret, &bytes)?;
    for (path, text) in &edits {
        tabula_run::atomic::write_atomic(path, text.as_bytes(), 0o644)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let (admins, keyed, keyless) = readers(&hosts, secret);
    let out = Written {
        secret: secret.to_owned(),
        file: file.display().to_string(),
        hosts: keyed.into_iter().map(|(h, _)| h).collect(),
        hosts_without_key: keyless,
        admins: admins.len(),
        specs_changed: edits.iter().map(|(p, _)| p.display().to_string()).collect(),
    };
    if ctx.json {
        ctx.print_json(&out)?;
    } else {
        println!(
            "wrote {} for {} admin key(s) and host(s): {}",
            out.file,
            out.admins,
            if out.hosts.is_empty() {
                "none".to_owned()
            } else {
                out.hosts.join(", ")
            }
        );
        for p in &out.specs_changed {
            println!("updated [secrets] {list} in {p}");
        }
    }
    Ok(crate::exit::OK)
}

/// The identities in FILE: an age key file or an OpenSSH private key.
fn identities(path: &Path) -> anyhow::Result<Vec<Box<dyn age::Identity>>> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading the identity {}", path.display()))?;
    if bytes.starts_with(b"-----BEGIN OPENSSH PRIVATE KEY-----") {
        let id = age::ssh::Identity::from_buffer(&bytes[..], Some(path.display().to_string()))
            .with_context(|| format!("reading the SSH key {}", path.display()))?;
        return match id {
            age::ssh::Identity::Unencrypted(_) => Ok(vec![Box::new(id)]),
            _ => bail!(Usage(format!(
                "{} is a passphrase-protected or unsupported SSH key: give an unencrypted ed25519 key or an age key file",
                path.display()
            ))),
        };
    }
    let file = age::IdentityFile::from_buffer(&bytes[..])
        .with_context(|| format!("reading the age identity {}", path.display()))?;
    let ids = file
        .into_identities()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if ids.is_empty() {
        bail!(Usage(format!(
            "{} holds no identity (AGE-SECRET-KEY-1... or an OpenSSH private key)",
            path.display()
        )));
    }
    Ok(ids)
}

/// The `NAME.age` files in the store, by name.
fn stored(store: &Path) -> anyhow::Result<BTreeMap<String, PathBuf>> {
    let mut out = BTreeMap::new();
    let Ok(rd) = std::fs::read_dir(store) else {
        return Ok(out);
    };
    for e in rd {
        let p = e
            .with_context(|| format!("reading {}", store.display()))?
            .path();
        if let (Some(stem), Some("age")) = (
            p.file_stem().and_then(|s| s.to_str()),
            p.extension().and_then(|s| s.to_str()),
        ) {
            out.insert(stem.to_owned(), p);
        }
    }
    Ok(out)
}

fn rekey(ctx: &Ctx, hosts: &[Host], store: &Path, identity: &Path) -> anyhow::Result<u8> {
    let ids = identities(identity)?;
    let files = stored(store)?;
    if files.is_empty() {
        bail!(Usage(format!(
            "{} holds no secret (NAME.age)",
            store.display()
        )));
    }
    // Decrypt everything first: a secret this identity cannot read stops
    // the run before any file changes.
    let mut plain = Vec::new();
    for (name, path) in &files {
        let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let dec = age::Decryptor::new(&data[..])
            .map_err(|e| anyhow::anyhow!("{}: not an age file: {e}", path.display()))?;
        let mut r = dec
            .decrypt(ids.iter().map(|i| i.as_ref() as &dyn age::Identity))
            .map_err(|e| {
                Refused(format!(
                    "{} cannot be decrypted with {} ({e}): is it an admin key of [secrets] admins? Nothing was changed.",
                    path.display(),
                    identity.display()
                ))
            })?;
        let mut v = Vec::new();
        r.read_to_end(&mut v)
            .with_context(|| format!("decrypting {}", path.display()))?;
        plain.push((name.clone(), v));
    }
    let mut rows = Vec::new();
    for (name, v) in &plain {
        let bytes = encrypt(hosts, name, v)?;
        write_secret(store, name, &bytes)?;
        let (admins, keyed, _) = readers(hosts, name);
        rows.push(serde_json::json!({
            "secret": name,
            "admins": admins.len(),
            "hosts": keyed.iter().map(|(h, _)| h).collect::<Vec<_>>(),
        }));
        if !ctx.json {
            println!(
                "rekeyed {name}: {} admin key(s), hosts: {}",
                admins.len(),
                keyed
                    .iter()
                    .map(|(h, _)| h.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    if ctx.json {
        ctx.print_json(&serde_json::json!({ "rekeyed": rows }))?;
    }
    Ok(crate::exit::OK)
}

#[derive(Serialize)]
struct Row {
    secret: String,
    file: Option<String>,
    hosts: Vec<String>,
    hosts_without_key: Vec<String>,
    admins: Vec<String>,
    /// `users.users.USER.hashedPasswordFile` for a password secret.
    user: Option<String>,
}

fn list(ctx: &Ctx, hosts: &[Host], store: &Path) -> anyhow::Result<u8> {
    let files = stored(store)?;
    let mut names: BTreeSet<String> = files.keys().cloned().collect();
    for h in hosts {
        if let Some(s) = h.secrets() {
            names.extend(s.all_names());
        }
    }
    let rows: Vec<Row> = names
        .iter()
        .map(|n| {
            let (admins, keyed, keyless) = readers(hosts, n);
            Row {
                secret: n.clone(),
                file: files.get(n).map(|p| p.display().to_string()),
                hosts: keyed.into_iter().map(|(h, _)| h).collect(),
                hosts_without_key: keyless,
                admins,
                user: n.strip_prefix("password-").map(str::to_owned),
            }
        })
        .collect();
    if ctx.json {
        ctx.print_json(
            &serde_json::json!({ "store": store.display().to_string(), "secrets": rows }),
        )?;
        return Ok(crate::exit::OK);
    }
    if rows.is_empty() {
        println!(
            "no secrets in {} and none listed in the specs",
            store.display()
        );
    }
    for r in &rows {
        let mut who = r.hosts.clone();
        who.extend(
            r.hosts_without_key
                .iter()
                .map(|h| format!("{h} (no host_key: cannot read)")),
        );
        println!(
            "{}{}  {} admin key(s); hosts: {}{}",
            r.secret,
            r.user
                .as_ref()
                .map(|u| format!(" (password of {u})"))
                .unwrap_or_default(),
            r.admins.len(),
            if who.is_empty() {
                "none".to_owned()
            } else {
                who.join(", ")
            },
            if r.file.is_none() {
                "  MISSING: run `tabula secret set`"
            } else {
                ""
            }
        );
    }
    Ok(crate::exit::OK)
}

/// The store of a single host: `secrets/` next to its spec file (the
/// working folder's for the embedded host or stdin).
pub fn store_of(ctx: &Ctx) -> PathBuf {
    match ctx.spec_source() {
        SpecSource::File(p) => p
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
            .join("secrets"),
        _ => PathBuf::from("secrets"),
    }
}

/// For `tabula render`: the `.age` files the host reads, from the store next
/// to the spec to `OUT/secrets/` (inside the flake, where secrets.nix refers
/// to them). Checked before anything is written: a secret the spec lists
/// but the store lacks is an error naming the fix.
pub struct FlakeSecrets(Vec<(PathBuf, PathBuf)>);

impl FlakeSecrets {
    pub fn plan(ctx: &Ctx, spec: &HostSpec, out: &Path) -> anyhow::Result<FlakeSecrets> {
        Self::plan_from(&store_of(ctx), spec, out)
    }

    /// As [`FlakeSecrets::plan`], from a given store (a fleet's `DIR/secrets`).
    pub fn plan_from(store: &Path, spec: &HostSpec, out: &Path) -> anyhow::Result<FlakeSecrets> {
        let names = spec
            .secrets
            .as_ref()
            .map(Secrets::all_names)
            .unwrap_or_default();
        if names.is_empty() {
            return Ok(FlakeSecrets(Vec::new()));
        }
        let mut pairs = Vec::new();
        for n in names {
            let src = store.join(format!("{n}.age"));
            if !src.is_file() {
                bail!(Usage(format!(
                    "[secrets] lists `{n}` but {} does not exist: run `tabula secret set {n}` (or `tabula secret password USER` for password-USER); nothing was written",
                    src.display()
                )));
            }
            pairs.push((src, out.join("secrets").join(format!("{n}.age"))));
        }
        Ok(FlakeSecrets(pairs))
    }

    /// Copy (atomically, 0600); a file already in place is left alone.
    pub fn copy(&self) -> anyhow::Result<usize> {
        let mut n = 0;
        for (src, dst) in &self.0 {
            let bytes = std::fs::read(src).with_context(|| format!("reading {}", src.display()))?;
            if std::fs::read(dst).is_ok_and(|old| old == bytes) {
                continue;
            }
            if let Some(dir) = dst.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            tabula_run::atomic::write_atomic(dst, &bytes, 0o600)
                .with_context(|| format!("writing {}", dst.display()))?;
            n += 1;
        }
        Ok(n)
    }
}

/// The host key `tabula install` made (or found) under the target.
#[derive(Debug, Serialize)]
pub struct HostKey {
    /// The private key's path under the target.
    pub path: PathBuf,
    /// "ssh-ed25519 AAAA..." (no comment).
    pub public: String,
    /// Whether this run made it.
    pub generated: bool,
    /// Whether `[secrets] host_key` already names it.
    pub in_spec: bool,
}

/// For `tabula install`: when the host has `[secrets]`, make its SSH
/// ed25519 host key at `<target><identity>` (ssh-keygen through the one
/// runner; an existing key is kept), so the first boot has the key agenix
/// decrypts with. `None` for a host without secrets.
///
/// # Errors
/// When the key cannot be made or read.
pub fn ensure_host_key(spec: &HostSpec, target: &Path) -> anyhow::Result<Option<HostKey>> {
    let Some(sc) = &spec.secrets else {
        return Ok(None);
    };
    let path = target.join(sc.identity.as_str().trim_start_matches('/'));
    let generated = !path.exists();
    if generated {
        if let Some(dir) = path.parent() {
            use std::os::unix::fs::DirBuilderExt as _;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(dir)
                .with_context(|| format!("creating {}", dir.display()))?;
        }
        tabula_run::Cmd::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C"])
            .arg(format!("root@{}", spec.host.name))
            .arg("-f")
            .arg(&path)
            .install_hint("install OpenSSH (Debian: openssh-client; NixOS installer: it is there)")
            .run()
            .with_context(|| format!("making the host key {}", path.display()))?;
    }
    let pub_path = PathBuf::from(format!("{}.pub", path.display()));
    let line = std::fs::read_to_string(&pub_path)
        .with_context(|| format!("reading {}", pub_path.display()))?;
    let public = tabula_spec::model::ssh_ed25519(line.trim())
        .map_err(|m| anyhow::anyhow!("{}: {m}", pub_path.display()))?;
    let in_spec = sc.host_key.as_deref() == Some(public.as_str());
    Ok(Some(HostKey {
        path,
        public,
        generated,
        in_spec,
    }))
}

/// What install says about the host key: on stderr when it is not yet in
/// the spec (the secrets are not encrypted to it until a rekey).
pub fn tell_host_key(k: &HostKey, json: bool) {
    // stdout carries only the envelope under --json.
    let line = format!(
        "host key: {} {}",
        k.path.display(),
        if k.generated { "(made now)" } else { "(kept)" }
    );
    if json {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
    if !k.in_spec {
        eprintln!(
            "the secrets are not encrypted to this host's key yet: add to [secrets] in the spec\n  host_key = \"{}\"\nthen `tabula secret rekey --identity ADMIN_KEY` and render/rebuild (RUNBOOK: rotate a secret)",
            k.public
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn spec_with(secrets: &str) -> HostSpec {
        let text = tabula_spec::embedded::SURFACE_PRO_8.toml.replacen(
            "\n[boot]\n",
            &format!("\n{secrets}\n\n[boot]\n"),
            1,
        );
        tabula_spec::parse("t.toml", &text).unwrap().spec
    }

    #[test]
    fn install_makes_the_host_key_at_the_persisted_identity_once() {
        if tabula_run::find_program("ssh-keygen").is_none() {
            eprintln!("SKIP install host key: ssh-keygen missing");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        assert!(ensure_host_key(&spec_with(""), dir.path())
            .unwrap()
            .is_none());
        let spec = spec_with("[secrets]\nnames = [\"wifi\"]");
        let k = ensure_host_key(&spec, dir.path()).unwrap().unwrap();
        let want = dir.path().join("persist/etc/ssh/ssh_host_ed25519_key");
        assert_eq!(k.path, want);
        assert!(k.generated && !k.in_spec);
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&want).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let before = std::fs::read(&want).unwrap();
        // Kept on a second run; once in the spec, it says so.
        let spec = spec_with(&format!(
            "[secrets]\nhost_key = \"{}\"\nnames = [\"wifi\"]",
            k.public
        ));
        let again = ensure_host_key(&spec, dir.path()).unwrap().unwrap();
        assert!(!again.generated && again.in_spec);
        assert_eq!(again.public, k.public);
        assert_eq!(std::fs::read(&want).unwrap(), before);
    }
}
