//! The runbook's commands: every bash block is valid shell (checked by
//! `bash -n`, also with hostile spec strings), and the hand-written mount
//! sequence mounts exactly the spec's mounts, parents first.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use tabula_run::{find_program, Cmd};

fn bash_blocks(md: &str) -> Vec<String> {
    let mut out = vec![];
    let mut cur: Option<String> = None;
    for l in md.lines() {
        match &mut cur {
            Some(body) if l.starts_with("```") => {
                out.push(std::mem::take(body));
                cur = None;
            }
            Some(body) => {
                body.push_str(l);
                body.push('\n');
            }
            None if l == "```bash" => cur = Some(String::new()),
            None => {}
        }
    }
    out
}

fn assert_valid_shell(md: &str, what: &str) {
    if find_program("bash").is_none() {
        println!("SKIP {what}: bash is not installed");
        return;
    }
    let blocks = bash_blocks(md);
    assert!(!blocks.is_empty(), "{what}: no bash blocks");
    for b in blocks {
        if let Err(e) = Cmd::new("bash").arg("-n").stdin_bytes(b.clone()).run() {
            panic!("{what}: bash -n refuses\n{b}\n{e:#}");
        }
    }
}

#[test]
fn every_bash_block_of_every_document_is_valid_shell() {
    for d in tabula_docs::render(&support::embedded()) {
        if d.path.ends_with(".md") && d.contents.contains("```bash") {
            assert_valid_shell(&d.contents, &d.path);
        }
    }
}

#[test]
fn hostile_paths_stay_valid_shell() {
    let text = support::host_text()
        .replacen(
            "path = \"/keys/surface-pro-8.key\"",
            "path = \"/keys/a b'c;$(rm -rf x)`d`.key\"",
            1,
        )
        .replacen(
            "hashed_password_file = \"/persist/secrets/user.passwd\"",
            "hashed_password_file = \"/persist/secrets/u ser;ls.passwd\"",
            1,
        );
    let docs = tabula_docs::render(&support::parse(&text));
    let rb = support::doc(&docs, "docs/RUNBOOK.md");
    assert!(
        rb.contains("'/mnt/key/keys/a b'\\''c;$(rm -rf x)`d`.key'"),
        "{rb}"
    );
    assert_valid_shell(rb, "hostile runbook");
}

#[test]
fn the_manual_mounts_are_the_spec_mounts_parents_first() {
    let spec = support::embedded();
    let docs = tabula_docs::render(&spec);
    let rb = support::doc(&docs, "docs/RUNBOOK.md");
    let block = bash_blocks(rb)
        .into_iter()
        .find(|b| b.starts_with("mount -t tmpfs"))
        .unwrap();
    let targets: Vec<&str> = block
        .lines()
        .filter(|l| l.starts_with("mount "))
        .map(|l| l.rsplit(' ').next().unwrap())
        .collect();
    assert_eq!(targets.len(), spec.mounts.len());
    for m in &spec.mounts {
        let t = if m.path.as_str() == "/" {
            "/mnt".to_owned()
        } else {
            format!("/mnt{}", m.path)
        };
        let at = targets
            .iter()
            .position(|x| *x == t)
            .unwrap_or_else(|| panic!("{t} not mounted"));
        // Every mount above it comes earlier.
        for other in &spec.mounts {
            if other.path != m.path && m.path.is_under(&other.path) {
                let o = if other.path.as_str() == "/" {
                    "/mnt".to_owned()
                } else {
                    format!("/mnt{}", other.path)
                };
                let oi = targets.iter().position(|x| *x == o).unwrap();
                assert!(oi < at, "{o} must be mounted before {t}");
            }
        }
        // With the options the spec gives it.
        let line = block
            .lines()
            .find(|l| l.starts_with("mount ") && l.ends_with(&format!(" {t}")))
            .unwrap();
        for opt in tabula_docs::facts::mount_options(&spec, m) {
            assert!(line.contains(&opt), "{line} lacks {opt}");
        }
    }
}
