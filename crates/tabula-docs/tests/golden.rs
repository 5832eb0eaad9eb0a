//! Snapshot tests: the embedded host's documents, byte for byte, against
//! the files in tests/golden/. After an intended change, regenerate with
//! `UPDATE_EXPECT=1 cargo test -p tabula-docs --test golden` and review the
//! diff. `tests/golden/docs/disk.svg` is also the picture the README shows,
//! so this test is what keeps it current.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

#[test]
fn embedded_host_docs_match_the_golden_files() {
    let docs = tabula_docs::render(&support::embedded());
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut stale = vec![];
    for d in &docs {
        let path = golden_dir().join(&d.path);
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &d.contents).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(want) if want == d.contents => {}
            Ok(want) => {
                let line = want
                    .lines()
                    .zip(d.contents.lines())
                    .position(|(a, b)| a != b)
                    .map_or(want.lines().count().min(d.contents.lines().count()), |i| i);
                stale.push(format!(
                    "{}: differs from line {} on\n  golden:   {:?}\n  rendered: {:?}",
                    d.path,
                    line + 1,
                    want.lines().nth(line).unwrap_or(""),
                    d.contents.lines().nth(line).unwrap_or("")
                ));
            }
            Err(e) => stale.push(format!("{}: {e}", path.display())),
        }
    }
    assert!(
        stale.is_empty(),
        "stale golden files (rerun with UPDATE_EXPECT=1 and review):\n{}",
        stale.join("\n")
    );
}

#[test]
fn no_golden_file_is_left_over() {
    let docs = tabula_docs::render(&support::embedded());
    let dir = golden_dir().join("docs");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let path = format!("docs/{name}");
        assert!(
            docs.iter().any(|d| d.path == path),
            "{path} is in tests/golden but render() no longer writes it"
        );
    }
}

#[test]
fn rendering_is_deterministic() {
    let spec = support::embedded();
    assert_eq!(tabula_docs::render(&spec), tabula_docs::render(&spec));
}

#[test]
fn every_document_of_the_issue_is_written_under_docs() {
    let docs = tabula_docs::render(&support::embedded());
    let paths: Vec<&str> = docs.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "docs/ARCHITECTURE.md",
            "docs/DISK_LAYOUT.md",
            "docs/ISOLATION_LAYERS.md",
            "docs/PERSONAL_SPACE.md",
            "docs/RUNBOOK.md",
            "docs/disk.svg",
            "docs/subvolumes.svg",
        ]
    );
    for d in &docs {
        if d.path.ends_with(".md") {
            // Every picture a document links to is one of the documents.
            for part in d.contents.split("](").skip(1) {
                let target = part.split(')').next().unwrap();
                if target.contains("://") {
                    continue;
                }
                assert!(
                    paths.contains(&format!("docs/{target}").as_str()),
                    "{} links to {target}, which is not generated",
                    d.path
                );
            }
        }
    }
}
