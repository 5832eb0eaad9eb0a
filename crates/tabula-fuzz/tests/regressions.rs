//! Every crash the fuzzer found stays found: each input under
//! regressions/<target>/ is replayed and must run clean. Inputs listed in
//! regressions/known-open.txt (crashes whose fix belongs to another part of
//! the code and has not landed yet) are reported, not failed.
#![allow(clippy::unwrap_used, clippy::panic)]

use tabula_fuzz::exec::run_here;
use tabula_fuzz::targets::Target;
use tabula_fuzz::{known_open, regressions_dir, show_input};

#[test]
fn every_regression_input_runs_clean() {
    let known = known_open();
    let mut failed = Vec::new();
    let mut replayed = 0;
    for t in Target::ALL {
        let dir = regressions_dir().join(t.name());
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for p in files {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".md") {
                continue;
            }
            let data = std::fs::read(&p).unwrap();
            replayed += 1;
            // Deep: the render target also writes and runs nix-instantiate.
            let r = run_here(&t, &data, true);
            let open = known.iter().any(|k| k.target == t.name() && k.file == name);
            match (r, open) {
                (Ok(_), false) => {}
                (Ok(_), true) => eprintln!(
                    "FIXED {}/{name}: runs clean now; remove it from regressions/known-open.txt",
                    t.name()
                ),
                (Err(c), true) => eprintln!("KNOWN OPEN {}/{name} [{}]", t.name(), c.kind),
                (Err(c), false) => failed.push(format!(
                    "{}/{name} [{}] {}\n  input: {}",
                    t.name(),
                    c.kind,
                    c.detail.lines().next().unwrap_or(""),
                    show_input(&data)
                )),
            }
        }
    }
    assert!(replayed > 0, "no regression input found");
    assert!(failed.is_empty(), "regressions:\n{}", failed.join("\n"));
}

#[test]
fn every_known_open_entry_names_an_existing_input() {
    for k in known_open() {
        let p = regressions_dir().join(&k.target).join(&k.file);
        assert!(
            p.is_file(),
            "known-open.txt names {}, which is missing",
            p.display()
        );
        assert!(
            Target::from_name(&k.target).is_some(),
            "unknown target {}",
            k.target
        );
    }
}
