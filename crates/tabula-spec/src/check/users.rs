//! Users and their password files.

use super::*;

impl Checker<'_> {
    pub(super) fn users(&mut self, s: &HostSpec) {
        let declared: BTreeSet<&str> = s.users.iter().map(|u| u.name.as_str()).collect();
        if !declared.contains(s.host.primary_user.as_str()) {
            self.add(
                Code::UserUndeclared,
                key("host").key("primary_user"),
                format!("the primary user `{}` is not declared in [[user]]: users are immutable, so nobody could log in", s.host.primary_user),
                Some(format!("add [[user]] with name = \"{}\" and a hashed_password_file", s.host.primary_user)),
            );
        }
        if let Some(ps) = &s.persistence {
            for name in ps.users.keys() {
                if !declared.contains(name.as_str()) && name != &s.host.primary_user {
                    self.add(
                        Code::UserUndeclared,
                        key("persistence").key("users").key(name),
                        format!("persistence lists user `{name}`, who is not declared in [[user]]"),
                        None,
                    );
                }
            }
        }
        let mut names: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, u) in s.users.iter().enumerate() {
            let at = KeyPath::root().index("user", i);
            if let Some(prev) = names.insert(u.name.as_str(), i) {
                self.duplicate(
                    at.key("name"),
                    KeyPath::root().index("user", prev).key("name"),
                    &format!("user name `{}`", crate::landing::shown(&u.name)),
                    "each [[user]] becomes users.users.NAME: declare a user once",
                );
            }
            let ok_name = !u.name.is_empty()
                && u.name.len() <= 32
                && u.name.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                });
            if !ok_name {
                self.add(
                    Code::TextUnrepresentable,
                    at.key("name"),
                    format!(
                        "`{}` is not a valid user name",
                        crate::landing::shown(&u.name)
                    ),
                    Some("use lower-case letters, digits, `_` and `-`".into()),
                );
            }
            match u.hashed_password_file.as_deref() {
                None if s.password_from_secret(&u.name) => {}
                None => self.add(
                    Code::UserNoPassword,
                    at.key("name"),
                    format!("user `{}` has no hashed_password_file: with immutable users they cannot log in with a password", u.name),
                    Some("add hashed_password_file = \"/persist/secrets/NAME.passwd\" (mkpasswd -m yescrypt > FILE)".into()),
                ),
                Some(f) => match AbsPath::parse(f) {
                    Err(m) => self.add(Code::PasswordFileNotPersistent, at.key("hashed_password_file"), m, None),
                    Ok(p) if !s.persistent_by_mount(&p) => self.add(
                        Code::PasswordFileNotPersistent,
                        at.key("hashed_password_file"),
                        format!("{p} is on the tmpfs root: the password is gone at reboot and `{}` is locked out", u.name),
                        Some("keep it under the persistence root, e.g. /persist/secrets".into()),
                    ),
                    Ok(_) => {}
                },
            }
            if let Some(d) = &u.description {
                if has_control(d) || d.contains(':') {
                    self.add(
                        Code::TextUnrepresentable,
                        at.key("description"),
                        "the description holds `:` or a control character, which /etc/passwd cannot carry (NixOS refuses it)".into(),
                        None,
                    );
                }
            }
        }
    }
}
