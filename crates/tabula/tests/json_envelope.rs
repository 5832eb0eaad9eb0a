//! Every command's `--json` is one envelope (docs/JSON.md), on success and
//! on each failure class reachable here without a real layout (usage
//! errors from clap and from the command, a missing spec file, a missing
//! `--target`, passphrase file or profile, refused, findings, a missing
//! tool, a failure), and `--help`/`--version` too: stdout is exactly one JSON
//! document, it validates against `tabula schema --envelope` with a real
//! validator (Python `jsonschema`), and its `error.exit` is the process's
//! exit code.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;
use support::Docs;

use std::path::Path;

use assert_cmd::Command;

const EMBEDDED: &str = include_str!("../../tabula-spec/hosts/surface-pro-8.toml");

fn tabula(dir: &Path) -> Command {
    let mut c = support::tabula_in(dir);
    c.timeout(std::time::Duration::from_secs(120));
    c
}

fn have_validator() -> bool {
    support::have_jsonschema(Docs::Json)
}

/// (argv, exit code, error code: None for success).
type Case = (&'static [&'static str], i32, Option<&'static str>);

/// A case as run: (argv, extra environment, exit code, error code).
type Run = (
    Vec<String>,
    Vec<(String, String)>,
    i32,
    Option<&'static str>,
);

const CASES: &[Case] = &[
    // success
    (&["check"], 0, None),
    (&["check", "--rules"], 0, None),
    (&["render", "--out", "o"], 0, None),
    (&["docs", "--out", "d"], 0, None),
    (&["init", "new.toml"], 0, None),
    (&["schema"], 0, None),
    (&["schema", "--envelope"], 0, None),
    (&["plan", "--disk", "x.img"], 0, None),
    (&["unmount", "--target", "m"], 0, None),
    (&["rebuild", "boot", "--dry", "--host", "box"], 0, None),
    (&["place", "ci-runner", "--kind", "untrusted"], 0, None),
    (&["completions", "bash"], 0, None),
    (&["man"], 0, None),
    (&["man", "--out", "mandir"], 0, None),
    (&["unmount", "--target", "nothere"], 0, None),
    (
        &[
            "generations",
            "--profile",
            "prof/system",
            "--nix-db",
            "nodb",
            "--booted-system",
            "nob",
        ],
        0,
        None,
    ),
    // --help and --version: the text as the envelope's data
    (&["--help"], 0, None),
    (&["--version"], 0, None),
    (&["status", "--help"], 0, None),
    // usage: clap's own errors, then the commands'
    (&["plan"], 2, Some("usage")),
    (&["bogus"], 2, Some("usage")),
    (&["plan", "--disk", "/dev/null"], 2, Some("usage")),
    (&["man", "extra"], 2, Some("usage")),
    (&["apply", "--disk", "x.img"], 2, Some("usage")),
    (
        &["keyfile", "--disk", "missing.img", "--keyfile", "k", "add"],
        2,
        Some("usage"),
    ),
    (&["audit", "--root", "/nonexistent"], 2, Some("usage")),
    // secrets need a spec file (the embedded host has no store)
    (&["secret", "list"], 2, Some("usage")),
    (&["status", "--target", "nothere"], 2, Some("usage")),
    (
        &["mount", "--disk", "missing.img", "--target", "m"],
        2,
        Some("usage"),
    ),
    // a missing spec file is a usage error too
    (&["check", "--spec", "missing.toml"], 2, Some("usage")),
    (
        &["render", "--spec", "missing.toml", "--out", "o3"],
        2,
        Some("usage"),
    ),
    // refused
    (&["init", "new.toml"], 3, Some("refused")),
    // findings
    (&["check", "--spec", "dup.toml"], 1, Some("findings")),
    (
        &["render", "--spec", "dup.toml", "--out", "o2"],
        1,
        Some("findings"),
    ),
    (
        &["plan", "--spec", "dup.toml", "--disk", "x.img"],
        1,
        Some("findings"),
    ),
    (&["audit", "--root", "o"], 1, Some("findings")),
    // nothing of the layout mounted under m: every mount missing
    (&["status", "--target", "m"], 1, Some("findings")),
    // a failure that is none of the above
    (&["diff", "a", "b"], 1, Some("failed")),
    // no profile there: no generations
    (
        &["generations", "--profile", "noprof/system"],
        1,
        Some("failed"),
    ),
];

#[test]
fn every_command_prints_one_envelope_that_validates() {
    if !have_validator() {
        eprintln!(
            "SKIP every_command_prints_one_envelope_that_validates: needs python3-jsonschema"
        );
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let dup = EMBEDDED.replacen("path = \"/var/log\"", "path = \"/var/lib\"", 1);
    assert_ne!(dup, EMBEDDED);
    std::fs::write(dir.join("dup.toml"), dup).unwrap();
    std::fs::create_dir(dir.join("m")).unwrap();
    // A system profile with one generation (not in a store: no closure size).
    std::fs::create_dir_all(dir.join("sys1")).unwrap();
    std::fs::write(dir.join("sys1/nixos-version"), "24.11.1").unwrap();
    std::fs::create_dir(dir.join("prof")).unwrap();
    std::os::unix::fs::symlink("../sys1", dir.join("prof/system-1-link")).unwrap();
    std::os::unix::fs::symlink("system-1-link", dir.join("prof/system")).unwrap();
    let outs = dir.join("outs");
    std::fs::create_dir(&outs).unwrap();

    let mut cases: Vec<Run> = CASES
        .iter()
        .map(|(argv, exit, code)| {
            (
                argv.iter().map(|s| (*s).to_owned()).collect(),
                Vec::new(),
                *exit,
                *code,
            )
        })
        .collect();
    // A needed program missing: nothing on PATH.
    cases.push((
        ["rebuild", "test", "--yes", "--no-check", "--host", "box"]
            .map(str::to_owned)
            .to_vec(),
        vec![("PATH".to_owned(), "/nonexistent".to_owned())],
        4,
        Some("missing-tool"),
    ));
    if support::is_root() {
        // mount on a blank image: the passphrase file missing (usage), then
        // no layout on it (refused; its loop device detached again).
        std::fs::write(dir.join("blank.img"), vec![0u8; 1 << 20]).unwrap();
        std::fs::write(dir.join("pass"), "pw\n").unwrap();
        for (pass, exit, code) in [("nope", 2, "usage"), ("pass", 3, "refused")] {
            cases.push((
                [
                    "mount",
                    "--disk",
                    "blank.img",
                    "--target",
                    "m",
                    "--passphrase-file",
                    pass,
                ]
                .map(str::to_owned)
                .to_vec(),
                Vec::new(),
                exit,
                Some(code),
            ));
        }
    }
    if !support::have("nixos-install") {
        cases.push((
            ["install", "--disk", "x.img", "--target", "m"]
                .map(str::to_owned)
                .to_vec(),
            Vec::new(),
            4,
            Some("missing-tool"),
        ));
    }

    let mut files = Vec::new();
    let mut seen_commands = std::collections::BTreeSet::new();
    for (i, (argv, env, exit, code)) in cases.iter().enumerate() {
        let mut c = tabula(dir);
        c.arg("--json").args(argv);
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(*exit), "{argv:?}: {stderr}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{argv:?}: stdout is not one JSON document ({e}):\n{}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
        let name = if argv[0] == "bogus" || argv[0].starts_with('-') {
            "tabula"
        } else {
            &argv[0]
        };
        if argv.iter().any(|a| a == "--help" || a == "--version") {
            let text = v["data"]["text"].as_str().unwrap_or_default();
            let want = if argv.iter().any(|a| a == "--help") {
                "Usage: tabula"
            } else {
                "tabula "
            };
            assert!(
                text.starts_with(want) || text.contains(want),
                "{argv:?}: {v}"
            );
        }
        assert_eq!(v["command"], name, "{argv:?}: {v}");
        assert_eq!(v["ok"], code.is_none(), "{argv:?}: {v}");
        match code {
            None => assert!(v["error"].is_null(), "{argv:?}: {v}"),
            Some(code) => {
                assert_eq!(v["error"]["code"], *code, "{argv:?}: {v}");
                assert_eq!(v["error"]["exit"], *exit, "{argv:?}: {v}");
            }
        }
        if *code == Some("findings") && !["audit", "status"].contains(&name) {
            assert!(
                v["findings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|f| f["code"] == "mount-duplicate"
                        && f["object"].is_string()
                        && f["fix"].is_string()),
                "{argv:?}: {v}"
            );
        }
        if code.is_none() && (argv == &["check"] || ["render", "docs"].contains(&name)) {
            // The embedded host's warnings are listed on success too.
            assert!(
                v["findings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|f| f["severity"] == "warning"),
                "{argv:?}: {v}"
            );
        }
        seen_commands.insert(name.to_owned());
        let f = outs.join(format!("{i:02}.json"));
        std::fs::write(&f, &out.stdout).unwrap();
        files.push((f, argv.clone()));
    }

    // The schema as tabula serves it.
    let schema = dir.join("envelope.schema.json");
    let out = tabula(dir).args(["schema", "--envelope"]).output().unwrap();
    assert!(out.status.success());
    std::fs::write(&schema, &out.stdout).unwrap();
    let paths: Vec<_> = files.iter().map(|(f, _)| f.clone()).collect();
    let failed: Vec<String> = support::validate(&schema, Docs::Json, &paths)
        .into_iter()
        .zip(&files)
        .filter_map(|((f, r), (_, argv))| r.err().map(|e| format!("{argv:?}: {} {e}", f.display())))
        .collect();
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    for c in [
        "check",
        "render",
        "docs",
        "init",
        "schema",
        "plan",
        "apply",
        "mount",
        "unmount",
        "status",
        "generations",
        "keyfile",
        "audit",
        "rebuild",
        "diff",
        "place",
        "secret",
        "completions",
        "man",
        "tabula",
    ] {
        assert!(seen_commands.contains(c), "no case runs {c}");
    }
}

/// The validator is not a rubber stamp: an envelope with a wrong field
/// fails it.
#[test]
fn the_envelope_schema_rejects_a_wrong_envelope() {
    if !have_validator() {
        eprintln!("SKIP the_envelope_schema_rejects_a_wrong_envelope: needs python3-jsonschema");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let schema = d.path().join("s.json");
    let out = tabula(d.path())
        .args(["schema", "--envelope"])
        .output()
        .unwrap();
    std::fs::write(&schema, &out.stdout).unwrap();
    let bad = [
        // ok with an error
        r#"{"tabula":1,"command":"check","ok":true,"data":null,"findings":[],"error":{"code":"usage","message":"x","exit":2}}"#,
        // an unknown error class
        r#"{"tabula":1,"command":"check","ok":false,"data":null,"findings":[],"error":{"code":"oops","message":"x","exit":1}}"#,
        // the old finding field names
        r#"{"tabula":1,"command":"check","ok":true,"data":null,"findings":[{"code":"a","severity":"error","message":"m","hint":null,"at":""}],"error":null}"#,
        // a bare payload, as before the envelope
        r#"{"spec":"host.toml","ok":true,"findings":[]}"#,
    ];
    let mut files = Vec::new();
    for (i, b) in bad.iter().enumerate() {
        let f = d.path().join(format!("bad{i}.json"));
        std::fs::write(&f, b).unwrap();
        files.push(f);
    }
    let report = support::validate(&schema, Docs::Json, &files);
    assert_eq!(report.len(), bad.len(), "{:?}", report);
    for (f, r) in report {
        assert!(r.is_err(), "passed: {}", f.display());
    }
}

/// docs/JSON.md has a generated example for every command (the commands
/// are the man pages `man --out` writes, one per subcommand).
#[test]
fn json_md_has_an_example_per_command() {
    let d = tempfile::tempdir().unwrap();
    let out = tabula(d.path())
        .args(["--json", "man", "--out", "pages"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let commands: Vec<String> = v["data"]["written"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| {
            let name = p.as_str().unwrap().rsplit('/').next().unwrap();
            name.strip_prefix("tabula-")?
                .strip_suffix(".1")
                .map(str::to_owned)
        })
        .collect();
    assert!(commands.len() >= 19, "{commands:?}");
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/JSON.md"))
        .unwrap();
    let documented: std::collections::BTreeSet<String> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("$ tabula --json "))
        .flat_map(|l| {
            // `secret set` documents the page tabula-secret-set.1.
            let w: Vec<&str> = l.split_whitespace().take(2).collect();
            let pair = (w.len() == 2).then(|| format!("{}-{}", w[0], w[1]));
            w.first().map(|f| (*f).to_owned()).into_iter().chain(pair)
        })
        .collect();
    let missing: Vec<&String> = commands
        .iter()
        .filter(|c| !documented.contains(c.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "no example in docs/JSON.md for {missing:?}"
    );
}
