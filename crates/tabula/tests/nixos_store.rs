//! `tabula generations` and `tabula diff` on a real Nix store.
//!
//! The store is built by `fixtures/nixos/store.sh` inside a private mount
//! namespace (`unshare -m`, a tmpfs on /nix), with three system generations
//! whose differences are planted in `fixtures/nixos/system.nix`. The script
//! runs tabula and `nix store diff-closures` there and leaves the results in
//! a temp dir that this test reads.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;

/// The results directory, built once for every test here; None = skipped.
fn world() -> Option<&'static Path> {
    static WORLD: OnceLock<Option<(tempfile::TempDir, PathBuf)>> = OnceLock::new();
    WORLD
        .get_or_init(|| {
            if !support::ready(
                "nixos_store",
                &["unshare", "nix-build", "nix-env", "nix"],
                "unshare + Nix (Debian nix-bin)",
            ) {
                return None;
            }
            let (dir, out) = support::out_dir();
            support::run_fixture("store.sh", &out);
            Some((dir, out))
        })
        .as_ref()
        .map(|(_, out)| out.as_path())
}

fn json(dir: &Path, name: &str) -> Value {
    let text = std::fs::read_to_string(dir.join(name)).unwrap();
    serde_json::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{name}: {e}\n{text}"))["data"]
        .clone()
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

/// `name: removed → added` lines (with the size part) as tabula's JSON says
/// `nix store diff-closures` would print them.
fn nix_lines_from_tabula(v: &Value) -> BTreeSet<String> {
    let show = |a: &Value| -> String {
        let mut vs: Vec<String> = a
            .as_array()
            .unwrap()
            .iter()
            .map(|s| match s.as_str().unwrap() {
                "" => "ε".to_owned(),
                s => s.to_owned(),
            })
            .collect();
        vs.sort();
        if vs.is_empty() {
            "∅".to_owned()
        } else {
            vs.join(", ")
        }
    };
    v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let mut items = Vec::new();
            let (r, a) = (&p["removed_versions"], &p["added_versions"]);
            if !r.as_array().unwrap().is_empty() || !a.as_array().unwrap().is_empty() {
                items.push(format!("{} → {}", show(r), show(a)));
            }
            let delta = p["size_delta"].as_i64().unwrap();
            if delta.abs() >= 8 * 1024 {
                items.push(format!("{:+.1} KiB", delta as f64 / 1024.0));
            }
            format!("{}: {}", p["name"].as_str().unwrap(), items.join(", "))
        })
        .collect()
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\x1b' {
            for d in it.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn changes(v: &Value) -> BTreeSet<(String, String, String, String)> {
    v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let j = |k: &str| {
                p[k].as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().to_owned())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            (
                p["name"].as_str().unwrap().to_owned(),
                p["change"].as_str().unwrap().to_owned(),
                j("removed_versions"),
                j("added_versions"),
            )
        })
        .collect()
}

#[test]
fn generations_lists_every_generation_with_its_facts() {
    let Some(w) = world() else { return };
    for file in ["generations-db.json", "generations-cli.json"] {
        let v = json(w, file);
        let gens = v["generations"].as_array().unwrap();
        let facts: Vec<(u64, &str, &str, bool, bool)> = gens
            .iter()
            .map(|g| {
                (
                    g["number"].as_u64().unwrap(),
                    g["nixos_version"].as_str().unwrap(),
                    g["kernel"].as_str().unwrap(),
                    g["current"].as_bool().unwrap(),
                    g["booted"].as_bool().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            facts,
            [
                (1, "24.11.20241101.aaaaaaa", "6.6.50", false, false),
                (2, "24.11.20241115.bbbbbbb", "6.6.52", false, true),
                (3, "24.11.20241120.ccccccc", "6.6.52", true, false),
            ],
            "{file}"
        );
        for (i, g) in gens.iter().enumerate() {
            // `nix path-info -S` prints "PATH<tab>CLOSURE-SIZE".
            let info = read(w, &format!("gen{}.path-info", i + 1));
            let (path, size) = info.trim().split_once(char::is_whitespace).unwrap();
            assert_eq!(g["path"].as_str().unwrap(), path, "{file}");
            assert_eq!(
                g["closure_size"].as_u64().unwrap(),
                size.trim().parse::<u64>().unwrap(),
                "{file}: closure size of generation {}",
                i + 1
            );
            assert!(g["date"].as_str().unwrap().starts_with("20"), "{file}");
        }
    }
    // The same numbers, dates and current mark as `nix-env --list-generations`
    // ("   3   2026-11-25 17:47:33   (current)", in UTC here).
    let nix: Vec<(u64, String, bool)> = read(w, "nix-env-generations.txt")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                f[0].parse().unwrap(),
                format!("{} {}", f[1], f[2]),
                l.contains("(current)"),
            )
        })
        .collect();
    let ours: Vec<(u64, String, bool)> = json(w, "generations-db.json")["generations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["number"].as_u64().unwrap(),
                g["date"].as_str().unwrap().to_owned(),
                g["current"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(ours, nix);
    assert_eq!(json(w, "generations-db.json")["method"], "database");
    assert_eq!(json(w, "generations-cli.json")["method"], "cli");
    let text = read(w, "generations.txt");
    assert!(text.contains("current"), "{text}");
    assert!(text.contains("booted"), "{text}");
}

#[test]
fn diff_reports_exactly_the_planted_changes_both_ways() {
    let Some(w) = world() else { return };
    let t = |a: &str, b: &str, c: &str, d: &str| {
        (a.to_owned(), b.to_owned(), c.to_owned(), d.to_owned())
    };
    let want: BTreeSet<_> = [
        t("curl", "downgraded", "8.9.0", "8.8.0"),
        t("firmware", "resized", "", ""),
        t("hello", "upgraded", "2.10", "2.12"),
        t("linux", "upgraded", "6.6.50", "6.6.52"),
        t("newtool", "added", "", "0.5"),
        t(
            "nixos-system-testhost",
            "upgraded",
            "24.11.20241101.aaaaaaa",
            "24.11.20241115.bbbbbbb",
        ),
        t("oldtool", "removed", "1.0", ""),
    ]
    .into_iter()
    .collect();
    for (file, method) in [
        ("diff-1-2-db.json", "database"),
        ("diff-1-2-cli.json", "cli"),
        ("diff-1-2-auto.json", "cli"),
    ] {
        let v = json(w, file);
        assert_eq!(changes(&v), want, "{file}");
        assert_eq!(v["method"], method, "{file}");
        let firmware = v["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "firmware")
            .unwrap();
        assert_eq!(firmware["size_delta"], 65536, "{file}");
    }
    // The two ways agree on everything, sizes included.
    for pair in ["1-2", "2-3", "3-1"] {
        let mut db = json(w, &format!("diff-{pair}-db.json"));
        let mut cli = json(w, &format!("diff-{pair}-cli.json"));
        db["method"] = Value::Null;
        cli["method"] = Value::Null;
        assert_eq!(db, cli, "diff {pair}");
    }
    // 2 → 3 only adds jq; 3 → 1 is the reverse of the 1 → 3 changes.
    assert_eq!(
        changes(&json(w, "diff-2-3-db.json")),
        [
            t("jq", "added", "", "1.7.1"),
            t(
                "nixos-system-testhost",
                "upgraded",
                "24.11.20241115.bbbbbbb",
                "24.11.20241120.ccccccc"
            )
        ]
        .into_iter()
        .collect()
    );
    let back = changes(&json(w, "diff-3-1-db.json"));
    assert!(
        back.contains(&t("hello", "downgraded", "2.12", "2.10")),
        "{back:?}"
    );
    assert!(back.contains(&t("jq", "removed", "1.7.1", "")), "{back:?}");
    // Closure sizes match `nix path-info -S`.
    let v = json(w, "diff-1-2-db.json");
    for (key, g) in [("old_size", 1), ("new_size", 2)] {
        let info = read(w, &format!("gen{g}.path-info"));
        let size: i64 = info.split_whitespace().nth(1).unwrap().parse().unwrap();
        assert_eq!(v[key].as_i64().unwrap(), size, "{key}");
    }
    assert_eq!(
        v["size_delta"].as_i64().unwrap(),
        v["new_size"].as_i64().unwrap() - v["old_size"].as_i64().unwrap()
    );
}

#[test]
fn diff_agrees_with_nix_store_diff_closures() {
    let Some(w) = world() else { return };
    for pair in ["1-2", "2-3", "3-1"] {
        let nix: BTreeSet<String> = strip_ansi(&read(w, &format!("diff-{pair}-nix.txt")))
            .lines()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect();
        assert!(!nix.is_empty(), "nix printed nothing for {pair}");
        for way in ["db", "cli"] {
            let ours = nix_lines_from_tabula(&json(w, &format!("diff-{pair}-{way}.json")));
            assert_eq!(ours, nix, "diff {pair} through {way}");
        }
    }
}

#[test]
fn diff_by_name_text_and_errors() {
    let Some(w) = world() else { return };
    let v = json(w, "diff-booted-current.json");
    assert_eq!(v["old"].as_str().unwrap(), read(w, "gen2.path").trim());
    assert_eq!(v["new"].as_str().unwrap(), read(w, "gen3.path").trim());
    let text = read(w, "diff-1-2.txt");
    for needle in [
        "hello 2.10 → 2.12",
        "curl 8.9.0 → 8.8.0",
        "oldtool 1.0",
        "newtool 0.5",
        "1 added, 1 removed, 3 upgraded, 1 downgraded, 1 resized",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    assert_eq!(read(w, "diff-nonix.code").trim(), "4");
    assert!(read(w, "diff-nonix.err").contains("`nix-store` was not found"));
    assert_eq!(read(w, "diff-bad.code").trim(), "1");
    let err = read(w, "diff-bad.err");
    assert!(
        err.contains("generation 7") && err.contains("does not exist"),
        "{err}"
    );
}

#[test]
fn reading_the_database_leaves_it_untouched() {
    let Some(w) = world() else { return };
    assert_eq!(read(w, "db.before"), read(w, "db.after"));
    assert_eq!(read(w, "db-files.before"), read(w, "db-files.after"));
}
