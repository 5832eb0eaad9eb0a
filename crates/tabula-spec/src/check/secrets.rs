//! `[secrets]` (issue 13): the identity agenix decrypts with must be there
//! when activation runs (nix-community/impermanence#282, ryantm/agenix#219),
//! and a host that reads secrets needs a host key to encrypt them to.

use super::*;

impl Checker<'_> {
    pub(super) fn secrets(&mut self, s: &HostSpec) {
        let Some(sc) = &s.secrets else {
            return;
        };
        let at = key("secrets");
        let wanted = sc.all_names();
        if !wanted.is_empty() && sc.host_key.is_none() {
            self.add(
                Code::SecretsNoHostKey,
                at.clone(),
                format!(
                    "the host reads {} secret(s) but [secrets] has no host_key: nothing is encrypted to it, so agenix cannot decrypt them at boot",
                    wanted.len()
                ),
                Some("run `tabula install` (it prints the host key) or copy the line of /etc/ssh/ssh_host_ed25519_key.pub into host_key, then `tabula secret rekey`".into()),
            );
        }
        // agenix decrypts during activation, before systemd mounts anything
        // that is not needed for boot and while /etc's bind mounts from the
        // persistence root are still being made: the key must be read at
        // its persisted path, on a mount stage 1 brings up.
        let holder = s.mount_holding(&sc.identity);
        let problem = match holder {
            None => Some("no [[mount]] holds it".to_owned()),
            Some(m) if m.is_tmpfs() => Some(format!(
                "it is on the tmpfs at {}: the key is gone at every boot and a new one is made that no secret is encrypted to",
                m.path
            )),
            Some(m) if !m.needed_for_boot && m.path != AbsPath::root() => Some(format!(
                "the mount at {} is not needed_for_boot: agenix runs in activation, before systemd mounts it",
                m.path
            )),
            Some(_) => None,
        };
        if let Some(why) = problem {
            let hint = match &s.persistence {
                Some(ps) => format!(
                    "set identity = \"{}/etc/ssh/ssh_host_ed25519_key\" (the persisted path, not the bind-mounted /etc one) on a mount with needed_for_boot = true",
                    ps.root.as_str().trim_end_matches('/')
                ),
                None => "keep the key on a persistent mount with needed_for_boot = true".into(),
            };
            self.add(
                Code::SecretIdentityNotAtBoot,
                at.key("identity"),
                format!("agenix's identity {}: {why}", sc.identity),
                Some(hint),
            );
        }
        for (i, u) in sc.passwords.iter().enumerate() {
            if !s.users.iter().any(|x| &x.name == u) {
                self.add(
                    Code::UserUndeclared,
                    at.index("passwords", i),
                    format!(
                        "[secrets] passwords names user `{}`, who is not declared in [[user]]",
                        crate::landing::shown(u)
                    ),
                    Some("declare the [[user]] or drop the name".into()),
                );
            }
        }
    }
}
