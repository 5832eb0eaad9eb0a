//! `tabula secret` (issue 13) against Debian's `age` CLI and real keys made
//! by ssh-keygen and age-keygen: a secret decrypts with each reading host's
//! SSH host key and with the admin key; after a host leaves and `rekey` it
//! no longer does; the value reaches no argv (every program on a fake PATH
//! logs its argv), no output and no spec; the password hash verifies with
//! Python's crypt and mkpasswd. Prints SKIP when a tool is missing.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// Distinctive, so a leak cannot match by chance.
const VALUE: &str = "wifi-Kx93 amber meridian 7731";
const PASSWORD: &str = "pw-Lq28 copper harbour 5120";

fn ready(test: &str) -> bool {
    let missing: Vec<&str> = ["age", "age-keygen", "ssh-keygen", "python3"]
        .into_iter()
        .filter(|p| !support::have(p))
        .collect();
    if !missing.is_empty() {
        eprintln!("SKIP {test}: needs {missing:?} (apt-get install age openssh-client)");
        return false;
    }
    true
}

struct Fleet {
    dir: tempfile::TempDir,
    admin_pub: String,
}

impl Fleet {
    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// Two hosts (a, b) from the embedded spec, each with its own SSH host
    /// key, one admin age key; a fake PATH whose every program logs argv.
    fn new() -> Fleet {
        let dir = tempfile::Builder::new()
            .prefix("tabula-secret-test.")
            .tempdir()
            .unwrap();
        let d = dir.path().to_path_buf();
        std::fs::create_dir(d.join("fleet")).unwrap();
        for h in ["a", "b"] {
            let st = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", h, "-f"])
                .arg(d.join(format!("host-{h}")))
                .status()
                .unwrap();
            assert!(st.success());
        }
        let st = Command::new("age-keygen")
            .arg("-o")
            .arg(d.join("admin.txt"))
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success());
        let admin_pub = String::from_utf8(
            Command::new("age-keygen")
                .arg("-y")
                .arg(d.join("admin.txt"))
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap()
        .trim()
        .to_owned();
        let f = Fleet { dir, admin_pub };
        for h in ["a", "b"] {
            f.write_spec(h);
        }
        // The fake PATH: each program tabula could start logs its argv and fails.
        let bin = d.join("bin");
        std::fs::create_dir(&bin).unwrap();
        for p in [
            "age",
            "age-keygen",
            "rage",
            "ssh-keygen",
            "mkpasswd",
            "openssl",
            "sh",
            "bash",
            "env",
            "cat",
            "tee",
            "nix",
            "nix-instantiate",
            "git",
            "sudo",
            "colmena",
        ] {
            let script = format!(
                "#!/bin/sh\necho \"{p} $*\" >> {}\nexit 1\n",
                d.join("argv.log").display()
            );
            let path = bin.join(p);
            std::fs::write(&path, script).unwrap();
            Command::new("chmod")
                .arg("755")
                .arg(&path)
                .status()
                .unwrap();
        }
        std::fs::write(d.join("argv.log"), "").unwrap();
        f
    }

    fn write_spec(&self, h: &str) {
        let key = std::fs::read_to_string(self.path(&format!("host-{h}.pub"))).unwrap();
        let text = tabula_spec::embedded::SURFACE_PRO_8
            .toml
            .replacen(
                "name = \"surface-pro-8\"",
                &format!("name = \"host-{h}\""),
                1,
            )
            .replacen(
                "\n[boot]\n",
                &format!(
                    "\n[secrets]\nadmins = [\"{}\"]\nhost_key = \"{}\"\n\n[boot]\n",
                    self.admin_pub,
                    key.trim()
                ),
                1,
            );
        std::fs::write(self.path(&format!("fleet/{h}.toml")), text).unwrap();
    }

    /// `tabula ARGS` in the temp dir with the logging PATH and `stdin`.
    fn tabula(&self, args: &[&str], stdin: &str) -> Output {
        use std::io::Write as _;
        let mut child = Command::new(env!("CARGO_BIN_EXE_tabula"))
            .args(args)
            .current_dir(self.dir.path())
            .env("PATH", self.path("bin"))
            .env_remove("TABULA_SPEC")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// `age -d -i IDENTITY FILE` with the real age: the plaintext, or None.
    fn decrypt(&self, identity: &str, file: &str) -> Option<String> {
        let o = Command::new("age")
            .arg("-d")
            .arg("-i")
            .arg(self.path(identity))
            .arg(self.path(file))
            .output()
            .unwrap();
        o.status
            .success()
            .then(|| String::from_utf8(o.stdout).unwrap())
    }

    fn argv_log(&self) -> String {
        std::fs::read_to_string(self.path("argv.log")).unwrap()
    }
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn no_leak(f: &Fleet, outputs: &[&Output], secret: &str) {
    for o in outputs {
        assert!(
            !text(o).contains(secret),
            "the value leaked to output:\n{}",
            text(o)
        );
    }
    assert!(!f.argv_log().contains(secret), "argv: {}", f.argv_log());
    for h in ["a", "b"] {
        let p = f.path(&format!("fleet/{h}.toml"));
        if p.exists() {
            assert!(!std::fs::read_to_string(p).unwrap().contains(secret));
        }
    }
}

#[test]
fn a_secret_decrypts_with_each_host_key_and_the_admin_key_until_rekey_drops_a_host() {
    if !ready("secret_set_rekey") {
        return;
    }
    let f = Fleet::new();
    let set = f.tabula(&["secret", "set", "wifi", "--fleet", "fleet"], VALUE);
    assert!(set.status.success(), "{}", text(&set));
    let file = "fleet/secrets/wifi.age";
    // Binary age (as agenix reads it), mode 0600.
    let bytes = std::fs::read(f.path(file)).unwrap();
    assert!(
        bytes.starts_with(b"age-encryption.org/v1\n"),
        "armored or not age"
    );
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(f.path(file))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(f.decrypt("host-a", file).as_deref(), Some(VALUE));
    assert_eq!(f.decrypt("host-b", file).as_deref(), Some(VALUE));
    assert_eq!(f.decrypt("admin.txt", file).as_deref(), Some(VALUE));
    // Both specs now list it.
    for h in ["a", "b"] {
        let t = std::fs::read_to_string(f.path(&format!("fleet/{h}.toml"))).unwrap();
        assert!(t.contains("names = [\"wifi\"]"), "{t}");
    }
    let list = f.tabula(&["secret", "list", "--fleet", "fleet", "--json"], "");
    assert!(list.status.success(), "{}", text(&list));
    let v: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(v["data"]["secrets"][0]["secret"], "wifi");
    assert_eq!(
        v["data"]["secrets"][0]["hosts"],
        serde_json::json!(["host-a", "host-b"])
    );

    // Host b leaves the fleet; rekey with the admin identity.
    std::fs::remove_file(f.path("fleet/b.toml")).unwrap();
    let rekey = f.tabula(
        &[
            "secret",
            "rekey",
            "--fleet",
            "fleet",
            "--identity",
            "admin.txt",
        ],
        "",
    );
    assert!(rekey.status.success(), "{}", text(&rekey));
    assert_eq!(f.decrypt("host-b", file), None, "host b still reads it");
    assert_eq!(f.decrypt("host-a", file).as_deref(), Some(VALUE));
    assert_eq!(f.decrypt("admin.txt", file).as_deref(), Some(VALUE));

    // A key that cannot read the secrets (b's, now) is refused, nothing changed.
    let before = std::fs::read(f.path(file)).unwrap();
    let bad = f.tabula(
        &[
            "secret",
            "rekey",
            "--fleet",
            "fleet",
            "--identity",
            "host-b",
        ],
        "",
    );
    assert_eq!(bad.status.code(), Some(3), "{}", text(&bad));
    assert!(text(&bad).contains("cannot be decrypted"), "{}", text(&bad));
    assert_eq!(std::fs::read(f.path(file)).unwrap(), before);

    no_leak(&f, &[&set, &list, &rekey, &bad], VALUE);
}

#[test]
fn set_with_hosts_takes_a_host_out_and_the_value_never_reaches_argv() {
    if !ready("secret_set_hosts") {
        return;
    }
    let f = Fleet::new();
    let first = f.tabula(&["secret", "set", "vpn", "--fleet", "fleet"], VALUE);
    assert!(first.status.success(), "{}", text(&first));
    let only_a = f.tabula(
        &[
            "secret", "set", "vpn", "--fleet", "fleet", "--hosts", "host-a",
        ],
        VALUE,
    );
    assert!(only_a.status.success(), "{}", text(&only_a));
    let b = std::fs::read_to_string(f.path("fleet/b.toml")).unwrap();
    assert!(!b.contains("\"vpn\""), "{b}");
    assert_eq!(f.decrypt("host-b", "fleet/secrets/vpn.age"), None);
    assert_eq!(
        f.decrypt("host-a", "fleet/secrets/vpn.age").as_deref(),
        Some(VALUE)
    );
    // Bad input: an unknown host, a bad name, an empty value; nothing written.
    let unknown = f.tabula(
        &[
            "secret", "set", "vpn", "--fleet", "fleet", "--hosts", "host-z",
        ],
        VALUE,
    );
    assert_eq!(unknown.status.code(), Some(2), "{}", text(&unknown));
    assert!(text(&unknown).contains("host-z"));
    let bad_name = f.tabula(&["secret", "set", "../x", "--fleet", "fleet"], VALUE);
    assert_eq!(bad_name.status.code(), Some(2), "{}", text(&bad_name));
    let empty = f.tabula(&["secret", "set", "empty", "--fleet", "fleet"], "");
    assert_eq!(empty.status.code(), Some(3), "{}", text(&empty));
    assert!(!f.path("fleet/secrets/empty.age").exists());
    no_leak(&f, &[&first, &only_a, &unknown, &bad_name, &empty], VALUE);
}

#[test]
fn a_password_is_stored_as_a_sha512_crypt_hash_that_verifies() {
    if !ready("secret_password") {
        return;
    }
    let f = Fleet::new();
    let o = f.tabula(
        &[
            "secret", "password", "user", "--fleet", "fleet", "--hosts", "host-a",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(o.status.success(), "{}", text(&o));
    let hash = f
        .decrypt("host-a", "fleet/secrets/password-user.age")
        .unwrap();
    assert!(hash.starts_with("$6$"), "{hash}");
    assert_eq!(f.decrypt("host-b", "fleet/secrets/password-user.age"), None);
    let a = std::fs::read_to_string(f.path("fleet/a.toml")).unwrap();
    assert!(a.contains("passwords = [\"user\"]"), "{a}");
    // Python's crypt(3) binding (the password on stdin, not argv).
    let py = |pw: &str| {
        let mut c = Command::new("python3")
            .args([
                "-W",
                "ignore",
                "-c",
                "import crypt,sys; h=sys.argv[1]; print(crypt.crypt(sys.stdin.read(), h) == h)",
                &hash,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        c.stdin.take().unwrap().write_all(pw.as_bytes()).unwrap();
        String::from_utf8(c.wait_with_output().unwrap().stdout).unwrap()
    };
    assert_eq!(py(PASSWORD).trim(), "True");
    assert_eq!(py("wrong").trim(), "False");
    // mkpasswd (whois) makes the same hash from the same salt.
    if support::have("mkpasswd") {
        let salt = hash.split('$').nth(2).unwrap();
        let mut c = Command::new("mkpasswd")
            .args(["-m", "sha-512", "-S", salt, "-s"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        c.stdin
            .take()
            .unwrap()
            .write_all(PASSWORD.as_bytes())
            .unwrap();
        let made = String::from_utf8(c.wait_with_output().unwrap().stdout).unwrap();
        assert_eq!(made.trim(), hash);
    } else {
        eprintln!("SKIP mkpasswd comparison: mkpasswd (whois) missing");
    }
    // Two lines on stdin are not one password: refused, nothing written.
    let two = f.tabula(
        &["secret", "password", "user", "--fleet", "fleet"],
        "one\ntwo\n",
    );
    assert_eq!(two.status.code(), Some(3), "{}", text(&two));
    no_leak(&f, &[&o, &two], PASSWORD);
    assert!(!text(&o).contains(&hash));
}

#[test]
fn password_then_render_gives_users_nix_the_age_secret_and_the_flake_its_file() {
    if !ready("secret_render") {
        return;
    }
    let f = Fleet::new();
    let render = |out: &str| {
        Command::new(env!("CARGO_BIN_EXE_tabula"))
            .args(["render", "--spec", "fleet/a.toml", "--out", out])
            .current_dir(f.dir.path())
            .env_remove("TABULA_SPEC")
            .output()
            .unwrap()
    };
    let pw = f.tabula(
        &["secret", "password", "user", "--spec", "fleet/a.toml"],
        &format!("{PASSWORD}\n"),
    );
    assert!(pw.status.success(), "{}", text(&pw));
    // A listed secret missing from the store: refused before anything is written.
    let spec = f.path("fleet/a.toml");
    let t = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(
        &spec,
        t.replacen("[secrets]\n", "[secrets]\nnames = [\"gone\"]\n", 1),
    )
    .unwrap();
    let missing = render("out0");
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));
    assert!(
        text(&missing).contains("tabula secret set gone"),
        "{}",
        text(&missing)
    );
    assert!(!f.path("out0").exists());
    std::fs::write(&spec, t).unwrap();

    let r = render("out");
    assert!(r.status.success(), "{}", text(&r));
    let users = std::fs::read_to_string(f.path("out/hosts/host-a/users.nix")).unwrap();
    assert!(
        users.contains("hashedPasswordFile = config.age.secrets.password-user.path;"),
        "{users}"
    );
    let secrets = std::fs::read_to_string(f.path("out/hosts/host-a/secrets.nix")).unwrap();
    assert!(
        secrets.contains("age.identityPaths = [ \"/persist/etc/ssh/ssh_host_ed25519_key\" ];"),
        "{secrets}"
    );
    let hash = f
        .decrypt("host-a", "out/secrets/password-user.age")
        .unwrap();
    assert!(hash.starts_with("$6$"));
    if support::have("nix-instantiate") {
        for m in ["users.nix", "secrets.nix", "default.nix"] {
            let o = Command::new("nix-instantiate")
                .args(["--parse", "--store", "dummy://"])
                .arg(f.path(&format!("out/hosts/host-a/{m}")))
                .env("NIX_CONFIG", "build-users-group =\nexperimental-features =")
                .output()
                .unwrap();
            assert!(o.status.success(), "{m}: {}", text(&o));
        }
    }
}

/// `tabula ARGS` on a pseudo-terminal (util-linux's `script`): each answer
/// is typed once its prompt is on the screen (echo-off drops type-ahead).
fn on_a_terminal(f: &Fleet, args: &str, answers: &[(&str, &str)]) -> (i32, String) {
    let cmd = format!("{} {args}", env!("CARGO_BIN_EXE_tabula"));
    support::on_a_terminal(f.dir.path(), &cmd, &[], answers)
}

#[test]
fn a_password_typed_twice_on_a_terminal_is_not_echoed_and_a_mismatch_writes_nothing() {
    if !ready("secret_password_terminal") {
        return;
    }
    if !support::have("script") {
        eprintln!("SKIP secret_password_terminal: needs script (util-linux)");
        return;
    }
    let f = Fleet::new();
    let first = "new password for user: ";
    let again = "new password for user (again): ";
    let line = format!("{PASSWORD}\n");
    let args = "secret password user --spec fleet/a.toml";
    let (code, screen) = on_a_terminal(&f, args, &[(first, "one\n"), (again, "two\n")]);
    assert_eq!(code, 3, "{screen}");
    assert!(screen.contains("the two passwords differ"), "{screen}");
    assert!(!f.path("fleet/secrets/password-user.age").exists());
    let (code, screen) = on_a_terminal(&f, args, &[(first, &line), (again, &line)]);
    assert_eq!(code, 0, "{screen}");
    for piece in PASSWORD.split(' ') {
        assert!(!screen.contains(piece), "{piece:?} was echoed:\n{screen}");
    }
    let hash = f
        .decrypt("host-a", "fleet/secrets/password-user.age")
        .unwrap();
    let salt_hash = "import crypt,sys; print(crypt.crypt(sys.argv[1], sys.argv[2]) == sys.argv[2])";
    // The password in python's argv here is the test's own, not tabula's.
    let ok = Command::new("python3")
        .args(["-W", "ignore", "-c", salt_hash, PASSWORD, &hash])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), "True");
}

#[test]
fn an_ssh_ed25519_admin_key_reads_and_rekeys() {
    if !ready("secret_ssh_admin") {
        return;
    }
    let f = Fleet::new();
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "admin", "-f"])
        .arg(f.path("admin-ssh"))
        .status()
        .unwrap();
    assert!(st.success());
    let ssh_pub = std::fs::read_to_string(f.path("admin-ssh.pub")).unwrap();
    for h in ["a", "b"] {
        let p = f.path(&format!("fleet/{h}.toml"));
        let t = std::fs::read_to_string(&p).unwrap();
        let t = t.replacen(&f.admin_pub, ssh_pub.trim(), 1);
        std::fs::write(&p, t).unwrap();
    }
    let set = f.tabula(&["secret", "set", "token", "--fleet", "fleet"], VALUE);
    assert!(set.status.success(), "{}", text(&set));
    let file = "fleet/secrets/token.age";
    assert_eq!(f.decrypt("admin-ssh", file).as_deref(), Some(VALUE));
    assert_eq!(
        f.decrypt("admin.txt", file),
        None,
        "the old admin still reads it"
    );
    std::fs::remove_file(f.path("fleet/a.toml")).unwrap();
    let rekey = f.tabula(
        &[
            "secret",
            "rekey",
            "--fleet",
            "fleet",
            "--identity",
            "admin-ssh",
        ],
        "",
    );
    assert!(rekey.status.success(), "{}", text(&rekey));
    assert_eq!(f.decrypt("host-a", file), None);
    assert_eq!(f.decrypt("host-b", file).as_deref(), Some(VALUE));
    assert_eq!(f.decrypt("admin-ssh", file).as_deref(), Some(VALUE));
    no_leak(&f, &[&set, &rekey], VALUE);
}

#[test]
fn render_fleet_copies_each_hosts_secrets_into_the_flake() {
    if !ready("secret_render_fleet") {
        return;
    }
    let f = Fleet::new();
    // A fleet of one (two hosts made from one spec would share its UUIDs).
    std::fs::remove_file(f.path("fleet/b.toml")).unwrap();
    let set = f.tabula(&["secret", "set", "vpn", "--fleet", "fleet"], VALUE);
    assert!(set.status.success(), "{}", text(&set));
    let render = |out: &str| {
        Command::new(env!("CARGO_BIN_EXE_tabula"))
            .args(["render", "--fleet", "fleet", "--out", out])
            .current_dir(f.dir.path())
            .env_remove("TABULA_SPEC")
            .output()
            .unwrap()
    };
    let r = render("fout");
    assert!(r.status.success(), "{}", text(&r));
    let module = std::fs::read_to_string(f.path("fout/hosts/host-a/secrets.nix")).unwrap();
    assert!(module.contains("../../secrets/vpn.age"), "{module}");
    assert_eq!(
        f.decrypt("host-a", "fout/secrets/vpn.age").as_deref(),
        Some(VALUE)
    );
    // A listed secret missing from the fleet's store: nothing is written.
    std::fs::remove_file(f.path("fleet/secrets/vpn.age")).unwrap();
    let missing = render("fout2");
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));
    assert!(
        text(&missing).contains("tabula secret set vpn"),
        "{}",
        text(&missing)
    );
    assert!(!f.path("fout2").exists());
}

/// Eight `secret set` runs at once on one fleet, each a different secret:
/// every spec lists all eight afterwards (no run lost another's edit of
/// `[secrets] names`), and each secret decrypts with both host keys.
#[test]
fn secrets_set_at_once_lose_no_edit() {
    if !ready("secrets_set_at_once_lose_no_edit") {
        return;
    }
    let f = Fleet::new();
    let names: Vec<String> = (0..8).map(|i| format!("s{i}")).collect();
    let outs: Vec<Output> = std::thread::scope(|s| {
        let runs: Vec<_> = names
            .iter()
            .map(|n| {
                let f = &f;
                s.spawn(move || {
                    f.tabula(
                        &["secret", "set", n, "--fleet", "fleet"],
                        &format!("value of {n}"),
                    )
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for o in &outs {
        assert!(o.status.success(), "{}", text(o));
    }
    for h in ["a", "b"] {
        let spec = std::fs::read_to_string(f.path(&format!("fleet/{h}.toml"))).unwrap();
        let doc: toml_edit::DocumentMut = spec.parse().unwrap();
        let listed: Vec<&str> = doc["secrets"]["names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        for n in &names {
            assert!(
                listed.contains(&n.as_str()),
                "host {h} lost {n}: {listed:?}"
            );
        }
    }
    for n in &names {
        let file = format!("fleet/secrets/{n}.age");
        for id in ["host-a", "host-b"] {
            assert_eq!(
                f.decrypt(id, &file).as_deref(),
                Some(format!("value of {n}").as_str()),
                "{n} with {id}"
            );
        }
    }
}

/// `secret set` on a full filesystem: it fails naming the full disk (no
/// panic), no spec changes, no .age and no temporary file is left; once
/// there is room, the same line succeeds.
#[test]
fn secret_set_on_a_full_disk_changes_nothing() {
    if !ready("secret_set_on_a_full_disk_changes_nothing") {
        return;
    }
    let f = Fleet::new();
    let fs = f.path("fs");
    let mut guard = support::Mounted::default();
    if !support::small_fs(
        "secret_set_on_a_full_disk_changes_nothing",
        &fs,
        "1m",
        &mut guard,
    ) {
        return;
    }
    for h in ["a", "b"] {
        std::fs::copy(
            f.path(&format!("fleet/{h}.toml")),
            fs.join(format!("{h}.toml")),
        )
        .unwrap();
    }
    let before: Vec<String> = ["a", "b"]
        .iter()
        .map(|h| std::fs::read_to_string(fs.join(format!("{h}.toml"))).unwrap())
        .collect();
    let filler = support::fill(&fs);
    let set = f.tabula(&["secret", "set", "wifi", "--fleet", "fs"], VALUE);
    assert!(
        matches!(set.status.code(), Some(1..=5)),
        "an error exit, not a panic:\n{}",
        text(&set)
    );
    assert!(
        text(&set).contains("No space left on device"),
        "{}",
        text(&set)
    );
    let after: Vec<String> = ["a", "b"]
        .iter()
        .map(|h| std::fs::read_to_string(fs.join(format!("{h}.toml"))).unwrap())
        .collect();
    assert_eq!(after, before, "a spec changed");
    let mut left: Vec<String> = Vec::new();
    for e in support::files_under(&fs) {
        let name = e.strip_prefix(&fs).unwrap().display().to_string();
        if !["a.toml", "b.toml", "filler", ".secrets.tabula.lock"].contains(&name.as_str()) {
            left.push(name);
        }
    }
    assert_eq!(left, Vec::<String>::new(), "left behind");
    no_leak(&f, &[&set], VALUE);
    std::fs::remove_file(filler).unwrap();
    let set = f.tabula(&["secret", "set", "wifi", "--fleet", "fs"], VALUE);
    assert!(set.status.success(), "{}", text(&set));
    assert_eq!(
        f.decrypt("host-a", "fs/secrets/wifi.age").as_deref(),
        Some(VALUE)
    );
}
