//! Every `tabula ...` command line the generated docs print (the runbook,
//! the build pipeline) parses with the real command line model, so the docs
//! cannot drift from the CLI.
#![allow(clippy::unwrap_used, clippy::panic)]

use assert_cmd::Command;

/// Split one shell line the way `sh` would for the quoting the docs use
/// (plain words and single quotes).
fn split(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    cur.push(q);
                }
            }
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '#' if !in_word => break,
            _ => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

#[test]
fn every_command_line_in_the_docs_parses() {
    let dir = tempfile::tempdir().unwrap();
    Command::cargo_bin("tabula")
        .unwrap()
        .current_dir(dir.path())
        .env_remove("TABULA_SPEC")
        .args(["docs", "--out", "o"])
        .assert()
        .success();
    let mut seen = 0;
    for entry in std::fs::read_dir(dir.path().join("o/docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut in_code = false;
        for line in text.lines() {
            if line.starts_with("```") {
                in_code = !in_code;
                continue;
            }
            if !in_code {
                continue;
            }
            // `a && b`: each command on its own.
            for part in line.split(" && ") {
                let mut words = split(part.trim());
                if words.first().is_some_and(|w| w == "sudo") {
                    words.remove(0);
                }
                if words.first().is_none_or(|w| w != "tabula") {
                    continue;
                }
                seen += 1;
                let out = Command::cargo_bin("tabula")
                    .unwrap()
                    .env("TABULA_PARSE_ONLY", "1")
                    .args(&words[1..])
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{}: `{line}` does not parse:\n{}",
                    path.display(),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
    assert!(
        seen >= 10,
        "only {seen} tabula command lines found in the docs"
    );
}

#[test]
fn the_parse_only_hook_still_rejects_bad_lines() {
    let out = Command::cargo_bin("tabula")
        .unwrap()
        .env("TABULA_PARSE_ONLY", "1")
        .args(["check", "--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
