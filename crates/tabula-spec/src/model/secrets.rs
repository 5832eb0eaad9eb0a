//! `[secrets]` (issue 13): the validated table and its checks of shape.
//! Keys are checked for their form only (the crate is pure: no age here);
//! the binary parses them again with the `age` crate when it encrypts.

use serde::Serialize;

use super::{HostSpec, Problems};
use crate::path::AbsPath;
use crate::raw;
use crate::KeyPath;

/// The identity agenix reads on a host whose persistence root is /persist.
pub const PERSISTED_IDENTITY: &str = "/persist/etc/ssh/ssh_host_ed25519_key";
/// The identity on a host without a persistence root.
pub const PLAIN_IDENTITY: &str = "/etc/ssh/ssh_host_ed25519_key";

/// `[secrets]`, validated.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Secrets {
    /// Admin public keys (age1... or ssh-ed25519 ...), whitespace-trimmed.
    pub admins: Vec<String>,
    /// The host's SSH ed25519 public key ("ssh-ed25519 BASE64"), comment dropped.
    pub host_key: Option<String>,
    /// Where agenix finds the host's private key.
    pub identity: AbsPath,
    /// Plain secrets this host reads (`secrets/NAME.age`).
    pub names: Vec<String>,
    /// Users whose password hash is the secret [`Secrets::password_name`].
    pub passwords: Vec<String>,
}

impl Secrets {
    /// The secret that holds USER's password hash.
    pub fn password_name(user: &str) -> String {
        format!("password-{user}")
    }

    /// Every secret this host reads: the plain ones, then the passwords.
    pub fn all_names(&self) -> Vec<String> {
        let mut v = self.names.clone();
        v.extend(self.passwords.iter().map(|u| Secrets::password_name(u)));
        v
    }
}

impl HostSpec {
    /// Whether USER's password comes from an age secret.
    pub fn password_from_secret(&self, user: &str) -> bool {
        self.secrets
            .as_ref()
            .is_some_and(|s| s.passwords.iter().any(|u| u == user))
    }
}

/// The form of an ssh-ed25519 public key: `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI...`
/// (68 base64 characters: the type string and 32 key bytes), an optional comment.
/// Returns the key without its comment.
pub fn ssh_ed25519(text: &str) -> Result<String, String> {
    let mut parts = text.split_whitespace();
    let kind = parts.next().unwrap_or("");
    let blob = parts.next().unwrap_or("");
    if kind != "ssh-ed25519" {
        let shown = if kind.is_empty() {
            "an empty key"
        } else {
            kind
        };
        return Err(format!(
            "`{shown}` is not an ssh-ed25519 key: agenix decrypts with the host's ed25519 key only"
        ));
    }
    let b64 = |c: char| c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '=';
    if blob.len() != 68 || !blob.starts_with("AAAAC3NzaC1lZDI1NTE5AAAAI") || !blob.chars().all(b64)
    {
        return Err("the ssh-ed25519 key's base64 part is not a 32-byte ed25519 key".into());
    }
    Ok(format!("ssh-ed25519 {blob}"))
}

/// The form of an age X25519 recipient: `age1` and 58 bech32 characters.
pub fn age_x25519(text: &str) -> Result<String, String> {
    const BECH32: &str = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    let t = text.trim();
    let ok = t.len() == 62 && t.starts_with("age1") && t[4..].chars().all(|c| BECH32.contains(c));
    if ok {
        Ok(t.to_owned())
    } else {
        Err(format!(
            "`{}` is not an age recipient (age1 and 58 lower-case bech32 characters)",
            crate::landing::shown(t)
        ))
    }
}

/// A secret name: a file name in `secrets/` and a Nix attribute name.
pub fn secret_name(name: &str) -> Result<(), String> {
    let ok = name.len() <= 64
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a secret name: it names secrets/NAME.age and age.secrets.NAME",
            crate::landing::shown(name)
        ))
    }
}

/// `[secrets]`: every key checked, problems in file order.
pub(super) fn secrets(
    p: &mut Problems,
    r: &raw::RawSecrets,
    persistence_root: Option<&str>,
) -> Secrets {
    let at = KeyPath::root().key("secrets");
    let admins = admin_keys(p, &at, r);
    let host_key = host_key(p, &at, r);
    let identity = identity(p, &at, r, persistence_root);
    check_names(p, &at, r);
    Secrets {
        admins,
        host_key,
        identity,
        names: r.names.clone(),
        passwords: r.passwords.clone(),
    }
}

/// `admins`: the keys that parse (age or ssh-ed25519), a problem for each other one.
fn admin_keys(p: &mut Problems, at: &KeyPath, r: &raw::RawSecrets) -> Vec<String> {
    let mut admins = Vec::new();
    for (i, a) in r.admins.iter().enumerate() {
        let a = a.trim();
        let parsed = if a.starts_with("ssh-") {
            ssh_ed25519(a)
        } else {
            age_x25519(a)
        };
        match parsed {
            Ok(k) => admins.push(k),
            Err(m) => p.push(
                at.index("admins", i),
                m,
                Some("write an age public key (age-keygen -y KEY) or an ssh-ed25519 public key (the line of ~/.ssh/id_ed25519.pub)".into()),
            ),
        }
    }
    admins
}

/// `host_key`: the host's ssh-ed25519 public key, if given and valid.
fn host_key(p: &mut Problems, at: &KeyPath, r: &raw::RawSecrets) -> Option<String> {
    r.host_key.as_deref().and_then(|k| match ssh_ed25519(k) {
        Ok(k) => Some(k),
        Err(m) => {
            p.push(
                at.key("host_key"),
                m,
                Some("write the line of the host's /etc/ssh/ssh_host_ed25519_key.pub (tabula install prints it)".into()),
            );
            None
        }
    })
}

/// `identity`: the given path, or the default under the persistence root.
fn identity(
    p: &mut Problems,
    at: &KeyPath,
    r: &raw::RawSecrets,
    persistence_root: Option<&str>,
) -> AbsPath {
    let default = if persistence_root == Some("/persist") {
        PERSISTED_IDENTITY.to_owned()
    } else if let Some(root) = persistence_root {
        format!("{}{PLAIN_IDENTITY}", root.trim_end_matches('/'))
    } else {
        PLAIN_IDENTITY.to_owned()
    };
    let identity_text = r.identity.clone().unwrap_or(default);
    match AbsPath::parse(&identity_text) {
        Ok(a) => a,
        Err(m) => {
            p.push(
                at.key("identity"),
                m,
                Some(format!("e.g. identity = \"{PERSISTED_IDENTITY}\"")),
            );
            AbsPath::root()
        }
    }
}

/// `names` and `passwords`: valid secret names, each taken once.
fn check_names(p: &mut Problems, at: &KeyPath, r: &raw::RawSecrets) {
    let mut seen = std::collections::BTreeSet::new();
    for (i, n) in r.names.iter().enumerate() {
        if let Err(m) = secret_name(n) {
            p.push(
                at.index("names", i),
                m,
                Some("use letters, digits, `-` and `_`, starting with a letter".into()),
            );
        } else if !seen.insert(n.clone()) {
            p.push(
                at.index("names", i),
                format!("secret `{n}` is listed twice"),
                Some("list each secret once".into()),
            );
        }
    }
    for (i, u) in r.passwords.iter().enumerate() {
        let name = Secrets::password_name(u);
        if secret_name(&name).is_err() || !seen.insert(name.clone()) {
            p.push(
                at.index("passwords", i),
                format!(
                    "`{}` cannot name a password secret here (invalid, or `{}` is taken)",
                    crate::landing::shown(u),
                    crate::landing::shown(&name)
                ),
                Some("list each [[user]] name once".into()),
            );
        }
    }
}
