//! `[secrets]` (issue 13): keys validated with line and fix, the identity
//! rule on the embedded host, users whose password is a secret.
#![allow(clippy::unwrap_used, clippy::panic)]

use tabula_spec::check::{check_on, Date};
use tabula_spec::{embedded, parse};

const TODAY: Date = Date {
    year: 2026,
    month: 11,
    day: 25,
};
const HOST_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIqrUfdDbY0cw4OJ3ZSx3Fp0N3yC5WzR3JVBZw3c9yWk root@h";
const ADMIN: &str = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";

fn with_secrets(table: &str) -> String {
    embedded::SURFACE_PRO_8
        .toml
        .replacen("\n[boot]\n", &format!("\n{table}\n\n[boot]\n"), 1)
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn a_good_table_loads_and_checks_clean() {
    let text = with_secrets(&format!(
        "[secrets]\nadmins = [\"{ADMIN}\"]\nhost_key = \"{HOST_KEY}\"\nnames = [\"wifi\"]\npasswords = [\"user\"]"
    ));
    let loaded = parse("h.toml", &text).unwrap();
    let sc = loaded.spec.secrets.as_ref().unwrap();
    // The default identity on a host persisted under /persist.
    assert_eq!(
        sc.identity.as_str(),
        "/persist/etc/ssh/ssh_host_ed25519_key"
    );
    assert_eq!(
        sc.host_key.as_deref(),
        Some(&HOST_KEY[..HOST_KEY.len() - 7])
    );
    assert_eq!(sc.all_names(), ["wifi", "password-user"]);
    let fs = check_on(&loaded, TODAY);
    assert!(
        !fs.iter().any(|f| f.code.as_str().starts_with("secret")),
        "{fs:#?}"
    );
}

#[test]
fn bad_keys_are_refused_with_their_line_and_a_fix() {
    let text = with_secrets(
        "[secrets]\nadmins = [\"age1nope\"]\nhost_key = \"ssh-rsa AAAAB3NzaC1yc2E root@h\"\nnames = [\"../etc/passwd\"]",
    );
    let err = parse("h.toml", &text).unwrap_err();
    let at = |k: &str| {
        err.problems
            .iter()
            .find(|p| p.problem.at.to_string().starts_with(k))
            .unwrap_or_else(|| panic!("no problem at {k}: {err:#?}"))
    };
    let admin = at("secrets.admins");
    assert_eq!(admin.line, Some(line_of(&text, "age1nope")));
    assert!(admin
        .problem
        .hint
        .as_deref()
        .unwrap()
        .contains("age-keygen -y"));
    let hk = at("secrets.host_key");
    assert_eq!(hk.line, Some(line_of(&text, "ssh-rsa")));
    assert!(
        hk.problem.message.contains("not an ssh-ed25519 key"),
        "{}",
        hk.problem.message
    );
    assert!(hk
        .problem
        .hint
        .as_deref()
        .unwrap()
        .contains("ssh_host_ed25519_key.pub"));
    let name = at("secrets.names");
    assert!(name.problem.message.contains("not a secret name"));
}

#[test]
fn an_identity_on_the_bind_mounted_etc_is_an_error_naming_the_persisted_path() {
    let text = with_secrets(&format!(
        "[secrets]\nhost_key = \"{HOST_KEY}\"\nidentity = \"/etc/ssh/ssh_host_ed25519_key\"\nnames = [\"wifi\"]"
    ));
    let loaded = parse("h.toml", &text).unwrap();
    let fs = check_on(&loaded, TODAY);
    let f = fs
        .iter()
        .find(|f| f.code == "secret-identity-not-at-boot")
        .unwrap_or_else(|| panic!("{fs:#?}"));
    assert_eq!(f.line, Some(line_of(&text, "identity = ")));
    assert!(f.message.contains("tmpfs"), "{}", f.message);
    assert!(f
        .hint
        .as_deref()
        .unwrap()
        .contains("/persist/etc/ssh/ssh_host_ed25519_key"));
    // On /home (a mount systemd brings up after activation): also refused.
    let text = text.replace("identity = \"/etc/", "identity = \"/home/");
    let fs = check_on(&parse("h.toml", &text).unwrap(), TODAY);
    let f = fs
        .iter()
        .find(|f| f.code == "secret-identity-not-at-boot")
        .unwrap_or_else(|| panic!("{fs:#?}"));
    assert!(f.message.contains("not needed_for_boot"), "{}", f.message);
}

#[test]
fn a_user_whose_password_is_a_secret_needs_no_password_file() {
    let base = embedded::SURFACE_PRO_8.toml.replacen(
        "hashed_password_file = \"/persist/secrets/user.passwd\"\n",
        "\n",
        1,
    );
    let fs = check_on(&parse("h.toml", &base).unwrap(), TODAY);
    assert!(fs.iter().any(|f| f.code == "user-no-password"));
    let text = base.replacen(
        "\n[boot]\n",
        &format!("\n[secrets]\nhost_key = \"{HOST_KEY}\"\npasswords = [\"user\"]\n\n[boot]\n"),
        1,
    );
    let fs = check_on(&parse("h.toml", &text).unwrap(), TODAY);
    assert!(!fs.iter().any(|f| f.code == "user-no-password"), "{fs:#?}");
}
