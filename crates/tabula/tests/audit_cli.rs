//! `tabula audit` as a user runs it: the real binary on planted trees in
//! temp dirs, classified by a spec file (`--root DIR`), or by the mount
//! table of a private mount namespace (`--mounts system`, root only).
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;

fn tabula() -> Command {
    Command::cargo_bin("tabula").unwrap()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}

/// The embedded host as a spec file in `dir`.
fn spec_file(dir: &Path) -> PathBuf {
    let p = dir.join("host.toml");
    std::fs::write(&p, tabula_spec::embedded::DEFAULT_HOST.toml).unwrap();
    p
}

fn put(root: &Path, rel: &str, content: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, content).unwrap();
}

fn link(root: &Path, rel: &str, target: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, p).unwrap();
}

fn audit_json(spec: &Path, root: &Path, extra: &[&str]) -> (i32, Value) {
    let out = tabula()
        .arg("--spec")
        .arg(spec)
        .args(["audit", "--json", "--root"])
        .arg(root)
        .args(extra)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {} stderr {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), v["data"].clone())
}

fn group<'a>(v: &'a Value, path: &str) -> &'a Value {
    v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["path"] == path)
        .unwrap_or_else(|| panic!("no group {path} in {v:#}"))
}

#[test]
fn lost_files_exit_1_and_a_clean_tree_exits_0() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = spec_file(tmp.path());
    let root = tmp.path().join("root");
    put(&root, "nix/store/abc/bin/x", "x");
    put(&root, "etc/machine-id", "id");
    link(&root, "etc/hosts", "/etc/static/hosts");
    put(&root, "tmp/t", "t");
    let (code, v) = audit_json(&spec, &root, &[]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["totals"]["lost"], 0);
    assert_eq!(v["mounts_from"], "spec");

    put(&root, "srv/app/data.db", "0123456789");
    put(&root, "etc/adjtime", "0.0 0 0");
    let (code, v) = audit_json(&spec, &root, &[]);
    assert_eq!(code, 1);
    assert_eq!(v["totals"]["lost"], 2);
    assert_eq!(group(&v, "/srv")["kind"], "tree");
    assert_eq!(group(&v, "/srv")["bytes"], 10);
    assert_eq!(group(&v, "/etc")["files"][0], "adjtime");

    // The text report names the groups, largest first.
    let out = tabula()
        .arg("--spec")
        .arg(&spec)
        .args(["audit", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let srv = text.find("/srv/").unwrap();
    let etc = text.find("/etc/: adjtime").unwrap();
    assert!(srv < etc, "{text}");
}

#[test]
fn suggest_prints_host_toml_entries() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = spec_file(tmp.path());
    let root = tmp.path().join("root");
    put(&root, "srv/app/data.db", "x");
    put(&root, "root/.bash_history", "ls");
    put(&root, "etc/adjtime", "0");
    link(&root, "etc/hosts", "/etc/static/hosts");
    let out = tabula()
        .arg("--spec")
        .arg(&spec)
        .args(["audit", "--suggest", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let expected = "\
[persistence]
directories = [
  { path = \"/srv\" },
]
files = [
  { path = \"/etc/adjtime\" },
]

[persistence.users.root]
files = [
  { path = \".bash_history\" },
]
";
    assert!(text.ends_with(expected), "{text}");
}

#[test]
fn orphans_lists_unclaimed_storage() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = spec_file(tmp.path());
    let root = tmp.path().join("root");
    put(&root, "persist/etc/nixos/flake.nix", "{}");
    put(&root, "persist/var/lib/removed-service/state", "old");
    let (code, v) = audit_json(&spec, &root, &["--orphans"]);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["mode"], "orphans");
    assert_eq!(group(&v, "/persist/var")["count"], 1);
    assert_eq!(v["totals"]["lost"], 1);
}

#[test]
fn a_missing_root_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = spec_file(tmp.path());
    let out = tabula()
        .arg("--spec")
        .arg(&spec)
        .args(["audit", "--root"])
        .arg(tmp.path().join("nope"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("not a directory"), "{err}");
    let out = tabula()
        .args(["audit", "--mounts", "sideways"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// An unreadable directory is reported, never a crash, and the exit code
/// says the audit could not vouch for it. Root reads everything, so the
/// audit runs as `nobody` (setpriv) when the test is root.
#[test]
fn unreadable_directories_are_reported() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let spec = spec_file(tmp.path());
    let root = tmp.path().join("root");
    put(&root, "srv/open/a", "a");
    put(&root, "srv/locked/secret", "s");
    std::fs::set_permissions(
        root.join("srv/locked"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    let mut cmd = if is_root() {
        if Command::new("setpriv").arg("--version").output().is_err() {
            eprintln!("SKIP: setpriv (util-linux) is missing");
            return;
        }
        // A copy of the binary that `nobody` can run wherever the build is.
        let bin = tmp.path().join("tabula");
        std::fs::copy(assert_cmd::cargo::cargo_bin("tabula"), &bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(bin);
        c
    } else {
        tabula()
    };
    let out = cmd
        .arg("--spec")
        .arg(&spec)
        .args(["audit", "--json", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    std::fs::set_permissions(
        root.join("srv/locked"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let v = serde_json::from_slice::<Value>(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))["data"]
        .clone();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(v["totals"]["unreadable"], 1, "{v:#}");
    assert_eq!(v["problems"][0]["path"], "/srv/locked");
    assert!(v["problems"][0]["message"]
        .as_str()
        .unwrap()
        .contains("cannot open"));
    // The readable sibling is still audited; /srv is not called wholly lost.
    assert_eq!(v["totals"]["lost"], 1);
    assert_eq!(group(&v, "/srv/open")["kind"], "tree");
    assert!(v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .all(|g| g["path"] != "/srv"));
}

/// Real mounts in a private mount namespace: the walk never enters another
/// filesystem (a bind mount from elsewhere, also one from the same
/// filesystem, told apart by mount id), and with `--mounts system` the
/// mount table classifies them (a persistence bind mount is an entry).
#[test]
fn bind_mounts_in_a_private_namespace() {
    if !is_root() {
        eprintln!("SKIP: bind mounts need root (unshare -m)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let spec = spec_file(d);
    let script = r#"
set -eu
R="$D/root"
mkdir -p "$R" "$D/outside"
mount -t tmpfs -o size=16m tabula-audit-test "$R"
mkdir -p "$R/srv/bound" "$R/srv/src" "$R/opt/same" "$R/etc/nixos" "$R/persist"
echo lost > "$R/srv/lost.txt"
echo mine > "$R/srv/src/file"
echo secret > "$D/outside/inner.txt"
mount --bind "$D/outside" "$R/srv/bound"
mount --bind "$R/srv/src" "$R/opt/same"
mount -t tmpfs tabula-audit-persist "$R/persist"
mkdir -p "$R/persist/etc/nixos"
echo '{}' > "$R/persist/etc/nixos/flake.nix"
mount --bind "$R/persist/etc/nixos" "$R/etc/nixos"
set +e
"$TABULA" --spec "$SPEC" audit --json --root "$R" --mounts spec > "$D/spec.json"
echo $? > "$D/spec.rc"
"$TABULA" --spec "$SPEC" audit --json --root "$R" --mounts system > "$D/system.json"
echo $? > "$D/system.rc"
"#;
    let st = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", script])
        .env("D", d)
        .env("SPEC", &spec)
        .env("TABULA", assert_cmd::cargo::cargo_bin("tabula"))
        .status();
    match st {
        Ok(s) if s.success() => {}
        other => {
            eprintln!("SKIP: unshare -m could not set up the mounts: {other:?}");
            return;
        }
    }
    let read = |name: &str| -> Value {
        serde_json::from_slice::<Value>(&std::fs::read(d.join(name)).unwrap()).unwrap()["data"]
            .clone()
    };
    let spec_v = read("spec.json");
    // Spec mode: /srv/bound (another filesystem) and /opt/same (a bind of
    // the same tmpfs: another mount id) are counted, not entered.
    assert_eq!(spec_v["totals"]["other_filesystem"], 2, "{spec_v:#}");
    assert_eq!(spec_v["totals"]["lost"], 2, "{spec_v:#}");
    assert_eq!(group(&spec_v, "/srv")["files"][0], "lost.txt");
    assert_eq!(group(&spec_v, "/srv/src")["count"], 1);
    assert_eq!(spec_v["totals"]["persisted_by_entry"], 1);

    let sys = read("system.json");
    assert_eq!(sys["mounts_from"], "system");
    assert_eq!(sys["totals"]["other_filesystem"], 0, "{sys:#}");
    // /srv/bound is an ext4 (or whatever holds the temp dir) mount: persisted;
    // /etc/nixos is the persistence entry; /persist and /opt/same are tmpfs.
    assert_eq!(sys["totals"]["persisted_by_entry"], 1, "{sys:#}");
    assert_eq!(sys["totals"]["lost"], 2, "{sys:#}");
    assert_eq!(
        std::fs::read_to_string(d.join("system.rc")).unwrap().trim(),
        "1"
    );
}

/// Files named with a newline, a tab, a terminal escape and bytes that are
/// not UTF-8: each group stays one line of text (names escaped), and JSON
/// keeps every name's exact bytes.
#[test]
fn hostile_file_names_stay_on_their_line_and_keep_their_bytes() {
    use std::os::unix::ffi::OsStrExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let spec = spec_file(tmp.path());
    let root = tmp.path().join("root");
    put(&root, "etc/machine-id", "id");
    let etc = root.join("etc");
    for name in [&b"a\nb"[..], b"t\tab", b"\x1b[31mred", b"bad\xff\xfename"] {
        std::fs::write(etc.join(std::ffi::OsStr::from_bytes(name)), "x").unwrap();
    }
    // A whole lost tree beside the kept machine-id: a tree group of its own.
    let evil = etc.join("evil\ndir");
    std::fs::create_dir_all(&evil).unwrap();
    std::fs::write(evil.join("f"), "xy").unwrap();

    let out = tabula()
        .arg("--spec")
        .arg(&spec)
        .args(["audit", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains('\x1b') && !text.contains('\t'), "{text:?}");
    let etc_lines: Vec<&str> = text.lines().filter(|l| l.contains("/etc/:")).collect();
    assert_eq!(etc_lines.len(), 1, "{text}");
    let line = etc_lines[0];
    for escaped in [r"a\nb", r"t\tab", r"\u{1b}[31mred", r"bad\xff\xfename"] {
        assert!(line.contains(escaped), "{escaped} not in {line:?}\n{text}");
    }
    assert!(
        text.lines()
            .any(|l| l.contains(r"/etc/evil\ndir/  (whole tree")),
        "{text}"
    );
    // Every line is a line of the report, none a piece of a name.
    for l in text.lines() {
        assert!(
            !(l.starts_with('b') || l.starts_with("dir") || l.starts_with("ab")),
            "a name split the line: {l:?}\n{text}"
        );
    }

    let (code, v) = audit_json(&spec, &root, &[]);
    assert_eq!(code, 1);
    let g = group(&v, "/etc");
    let files = g["files"].as_array().unwrap();
    let hexes = g["files_path_hex"]
        .as_array()
        .unwrap_or_else(|| panic!("{g:#}"));
    assert_eq!(files.len(), hexes.len());
    for (f, h) in files.iter().zip(hexes) {
        let f = f.as_str().unwrap();
        if f.starts_with("bad") {
            // "/etc/bad\xff\xfename"
            assert_eq!(h, "2f6574632f626164fffe6e616d65");
        } else {
            assert!(h.is_null(), "{f:?}: {h}");
        }
    }
    assert!(files.iter().any(|f| f == "a\nb"), "{g:#}");
    // A group of UTF-8 names has no files_path_hex.
    std::fs::remove_file(etc.join(std::ffi::OsStr::from_bytes(b"bad\xff\xfename"))).unwrap();
    let (_, v) = audit_json(&spec, &root, &[]);
    assert!(group(&v, "/etc").get("files_path_hex").is_none());

    // --suggest: what no entry can name is a one-line comment.
    let out = tabula()
        .arg("--spec")
        .arg(&spec)
        .args(["audit", "--suggest", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    let toml = String::from_utf8(out.stdout).unwrap();
    assert!(
        toml.lines()
            .any(|l| l.starts_with("# cannot be named by an entry: /etc/evil\\ndir")),
        "{toml}"
    );
    assert!(!toml.contains('\x1b') && !toml.contains('\t'), "{toml:?}");
}
