//! The audit against an independent oracle on random trees.
//!
//! The oracle is a plain recursive walk (`std::fs`, full paths) with its own
//! classifier: a path is kept when it is, or lies under, a non-root mount, a
//! persistence entry (not `covered_by`), an ignore path or a NixOS default;
//! a symlink is kept when it points into the persistence root, or lies under
//! /etc and points into /etc/static, /nix/store or /etc/zoneinfo; sockets
//! and fifos are skipped; every other non-directory is lost. The audit's
//! groups must partition exactly the oracle's lost files.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use proptest::prelude::*;
use tabula_audit::walk::GroupKind;
use tabula_audit::{Mounts, WalkOptions};
use tabula_spec::HostSpec;

const NAMES: &[&[u8]] = &[
    b"etc",
    b"nix",
    b"tmp",
    b"var",
    b"lib",
    b"log",
    b"persist",
    b"home",
    b"user",
    b"root",
    b"nixos",
    b"machine-id",
    b"ssh",
    b"a",
    b"b",
    b"cache",
    b"run",
    b"srv",
    b"\xc3\xa9t\xc3\xa9",
    b"\xffbad",
    b"static",
];

const TARGETS: &[&str] = &[
    "/etc/static/hosts",
    "/nix/store/abc-x/bin/sh",
    "/persist/kept",
    "/persistent-not",
    "relative/target",
    "..",
    "/etc/zoneinfo/UTC",
];

#[derive(Debug, Clone)]
enum Kind {
    Dir,
    File(usize, u32),
    Link(usize),
    Fifo,
}

fn op() -> impl Strategy<Value = (Vec<usize>, Kind)> {
    (
        proptest::collection::vec(0..NAMES.len(), 1..6),
        prop_oneof![
            2 => Just(Kind::Dir),
            5 => (0usize..5000, 0u32..100_000).prop_map(|(s, t)| Kind::File(s, t)),
            2 => (0..TARGETS.len()).prop_map(Kind::Link),
            1 => Just(Kind::Fifo),
        ],
    )
}

fn build(root: &Path, ops: &[(Vec<usize>, Kind)]) {
    for (comps, kind) in ops {
        let mut p = root.to_path_buf();
        for c in comps {
            p.push(OsStr::from_bytes(NAMES[*c]));
        }
        if let Some(parent) = p.parent() {
            if std::fs::create_dir_all(parent).is_err() {
                continue;
            }
        }
        // Never open an existing name: it may be a fifo (the open would block).
        if std::fs::symlink_metadata(&p).is_ok() {
            continue;
        }
        // Errors (a parent that is a file, a name taken) only shape the tree.
        let _ = match kind {
            Kind::Dir => std::fs::create_dir(&p),
            Kind::File(len, age) => std::fs::write(&p, vec![b'x'; *len]).and_then(|()| {
                let f = std::fs::File::options().write(true).open(&p)?;
                f.set_modified(UNIX_EPOCH + Duration::from_secs(1_700_000_000 + u64::from(*age)))
            }),
            Kind::Link(t) => std::os::unix::fs::symlink(TARGETS[*t], &p),
            Kind::Fifo => rustix::fs::mknodat(
                rustix::fs::CWD,
                &p,
                rustix::fs::FileType::Fifo,
                rustix::fs::Mode::from_raw_mode(0o644),
                0,
            )
            .map_err(std::io::Error::from),
        };
    }
}

/// The oracle's rules, from the spec, written independently of the policy.
fn rule_paths(spec: &HostSpec) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for m in &spec.mounts {
        if m.path.as_str() != "/" {
            out.push(m.path.as_str().into());
        }
    }
    if let Some(p) = &spec.persistence {
        for e in p.directories.iter().chain(&p.files) {
            if e.covered_by.is_none() {
                out.push(e.path.as_str().into());
            }
        }
        for (u, up) in &p.users {
            for e in up.directories.iter().chain(&up.files) {
                if e.covered_by.is_none() {
                    out.push(format!("{}/{}", spec.home_of(u), e.path).into_bytes());
                }
            }
        }
    }
    for (p, _) in tabula_audit::policy::DEFAULT_IGNORES {
        out.push(p.as_bytes().into());
    }
    for i in &spec.audit.ignore {
        out.push(i.as_bytes().into());
    }
    out
}

fn under(p: &[u8], r: &[u8]) -> bool {
    r == b"/" || p == r || (p.starts_with(r) && p.get(r.len()) == Some(&b'/'))
}

#[derive(Default, Debug)]
struct Seen {
    /// Lost files: logical path -> (bytes, mtime seconds).
    lost: BTreeMap<Vec<u8>, (u64, i64)>,
    /// Kept paths (rule hits and kept links).
    kept: Vec<Vec<u8>>,
}

fn oracle(root: &Path, rules: &[Vec<u8>]) -> Seen {
    fn rec(root: &Path, dir: &Path, rules: &[Vec<u8>], seen: &mut Seen) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd {
            let e = e.unwrap();
            let path: PathBuf = e.path();
            let logical = support::logical(root, &path);
            if rules.iter().any(|r| under(&logical, r)) {
                seen.kept.push(logical);
                continue;
            }
            let md = std::fs::symlink_metadata(&path).unwrap();
            let ft = md.file_type();
            if ft.is_dir() {
                rec(root, &path, rules, seen);
                continue;
            }
            if ft.is_symlink() {
                let t = std::fs::read_link(&path).unwrap();
                let t = t.as_os_str().as_bytes();
                let into_persist = under(t, b"/persist");
                let etc_link = logical.starts_with(b"/etc/")
                    && [&b"/etc/static/"[..], b"/nix/store/", b"/etc/zoneinfo/"]
                        .iter()
                        .any(|p| t.starts_with(p));
                if into_persist || etc_link {
                    seen.kept.push(logical);
                    continue;
                }
            } else if !ft.is_file() {
                continue;
            }
            use std::os::unix::fs::MetadataExt;
            seen.lost.insert(logical, (md.len(), md.mtime()));
        }
    }
    let mut seen = Seen::default();
    rec(root, root, rules, &mut seen);
    seen
}

fn check(root: &Path, spec: &HostSpec, jobs: usize) -> Result<(), TestCaseError> {
    let opts = WalkOptions {
        jobs,
        ..WalkOptions::default()
    };
    let report = tabula_audit::audit(spec, root, Mounts::Spec, &opts).unwrap();
    let seen = oracle(root, &rule_paths(spec));
    prop_assert!(report.problems.is_empty(), "{:?}", report.problems);
    prop_assert_eq!(report.totals.lost, seen.lost.len() as u64);
    let bytes: u64 = seen.lost.values().map(|v| v.0).sum();
    prop_assert_eq!(report.totals.lost_bytes, bytes);
    let mut covered = 0u64;
    for g in &report.groups {
        let gp = g.path_bytes();
        let members: Vec<(&Vec<u8>, &(u64, i64))> = match g.kind {
            GroupKind::Tree => seen.lost.iter().filter(|(p, _)| under(p, gp)).collect(),
            GroupKind::Files => seen
                .lost
                .iter()
                .filter(|(p, _)| {
                    p.len() > gp.len()
                        && under(p, gp)
                        && !p[gp.len() + usize::from(gp != b"/")..].contains(&b'/')
                })
                .collect(),
        };
        prop_assert_eq!(g.count, members.len() as u64, "group {}", g.path);
        prop_assert_eq!(
            g.bytes,
            members.iter().map(|m| m.1 .0).sum::<u64>(),
            "group {}",
            g.path
        );
        prop_assert_eq!(
            g.newest_unix,
            members.iter().map(|m| m.1 .1).max(),
            "group {}",
            g.path
        );
        if g.kind == GroupKind::Tree {
            // Wholly lost: nothing kept below it.
            prop_assert!(
                !seen.kept.iter().any(|k| under(k, gp)),
                "tree group {} holds a kept path",
                g.path
            );
        } else {
            let mut names: Vec<Vec<u8>> = members
                .iter()
                .map(|m| m.0.rsplit(|b| *b == b'/').next().unwrap().to_vec())
                .collect();
            names.sort();
            prop_assert_eq!(g.file_names(), &names[..]);
        }
        covered += g.count;
    }
    // Groups partition the lost files: counts add up and every file is in one.
    prop_assert_eq!(covered, seen.lost.len() as u64);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn audit_equals_the_oracle(ops in proptest::collection::vec(op(), 1..60), jobs in 1usize..4) {
        let dir = tempfile::tempdir().unwrap();
        build(dir.path(), &ops);
        let spec = support::spec(&support::spec_text(&["/srv/cache"]));
        check(dir.path(), &spec, jobs)?;
    }
}

/// A fixed, larger tree: many directories, so both workers share work.
#[test]
fn wide_tree_equals_the_oracle_with_any_number_of_workers() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for i in 0..40 {
        for j in 0..20 {
            support::file(root, &format!("srv/d{i}/e{j}/f"), i * j);
            if j % 7 == 0 {
                support::symlink(root, &format!("etc/d{i}/l{j}"), "/etc/static/x");
            }
            support::file(root, &format!("etc/d{i}/g{j}"), j);
        }
    }
    let spec = support::spec(&support::spec_text(&[]));
    for jobs in [1, 2, 4] {
        check(root, &spec, jobs).unwrap();
    }
}
