//! RUNBOOK's "Rotate a secret" (issue 13): only for a host with `[secrets]`.

use std::fmt::Write as _;

use tabula_spec::HostSpec;

use crate::md::{self, code};
use crate::runbook::sh;

pub fn rotate(spec: &HostSpec) -> String {
    let Some(sc) = &spec.secrets else {
        return String::new();
    };
    let host = sh(&spec.host.name);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Secrets live in {} next to host.toml, encrypted with age to the admin keys of {} and to this host's SSH key; agenix decrypts them at activation with {} (the persisted key itself, not the bind-mounted /etc one). Values are typed at a prompt or piped on stdin, never put on a command line.\n",
        code("secrets/NAME.age"),
        code("[secrets] admins"),
        code(sc.identity.as_str())
    );
    let mut b = String::new();
    let _ = writeln!(b, "# A new value for a secret (asked with echo off)");
    let _ = writeln!(b, "tabula secret set NAME --hosts {host}");
    let _ = writeln!(b);
    let _ = writeln!(
        b,
        "# A new password for a user (asked twice; stored as a SHA-512 crypt hash)"
    );
    let _ = writeln!(b, "tabula secret password {}", sh(&spec.host.primary_user));
    let _ = writeln!(b);
    let _ = writeln!(
        b,
        "# The host key changed, a host joined or left, an admin key changed:"
    );
    let _ = writeln!(
        b,
        "# re-encrypt every secret to the recipients the specs name now"
    );
    let _ = writeln!(b, "tabula secret rekey --identity ~/.config/age/admin.txt");
    let _ = writeln!(b);
    let _ = writeln!(b, "# Who reads what");
    let _ = writeln!(b, "tabula secret list");
    let _ = writeln!(b);
    let _ = writeln!(
        b,
        "# Then render and switch: the flake carries the new .age files"
    );
    let _ = writeln!(
        b,
        "tabula render --out /etc/nixos && sudo tabula rebuild switch"
    );
    s.push_str(&md::fence("bash", &b));
    let _ = writeln!(
        s,
        "\nA new install makes the host key ({}) before the first boot and prints its public key: put it in {} as {}, run the rekey above, render again, and the first boot decrypts. A removed host keeps what it already decrypted: rotate the values it could read, not only the keys.\n",
        code("tabula install"),
        code("[secrets]"),
        code("host_key")
    );
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    #[test]
    fn the_runbook_has_the_section_only_with_secrets() {
        let plain = tabula_spec::embedded::SURFACE_PRO_8.toml;
        let spec = |t: &str| tabula_spec::parse("t.toml", t).unwrap().spec;
        let runbook = |t: &str| crate::runbook::render(&spec(t));
        assert!(!runbook(plain).contains("Rotate a secret"));
        let with = plain.replacen(
            "\n[boot]\n",
            "\n[secrets]\nnames = [\"wifi\"]\n\n[boot]\n",
            1,
        );
        let r = runbook(&with);
        assert!(r.contains(". Rotate a secret"), "{r}");
        assert!(r.contains("tabula secret rekey --identity"));
        assert!(r.contains("/persist/etc/ssh/ssh_host_ed25519_key"));
    }
}
