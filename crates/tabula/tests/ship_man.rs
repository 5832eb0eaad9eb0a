//! Man pages and shell completions, checked with the real man/groff, fish,
//! bash and zsh: every page a page names exists and renders, fish completes
//! positional values (`rebuild s<TAB>` → switch), `--spec` offers TOML files.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command as Std;

use assert_cmd::Command;

fn tabula(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("tabula").unwrap();
    c.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("TABULA_SPEC");
    c
}

/// Page names (`tabula-apply`) a roff text refers to as `NAME(1)`.
fn referenced(roff: &str) -> BTreeSet<String> {
    let text = roff.replace("\\-", "-");
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("(1)") {
        let head = &text[..i];
        let start = head
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .map_or(0, |p| p + 1);
        let name = &head[start..];
        if name.starts_with("tabula") {
            out.insert(name.to_owned());
        }
    }
    out
}

#[test]
fn man_out_writes_a_page_per_command_and_every_named_page_exists() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    let run = tabula(dir.path())
        .args(["man", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    let written: BTreeSet<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .trim_end_matches(".1")
                .to_owned()
        })
        .collect();
    // One per subcommand (from --help's list), plus the main page.
    let help = tabula(dir.path()).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for cmd in [
        "apply",
        "plan",
        "check",
        "rebuild",
        "keyfile",
        "man",
        "completions",
    ] {
        assert!(help.contains(cmd));
        assert!(
            written.contains(&format!("tabula-{cmd}")),
            "no tabula-{cmd}.1 in {written:?}"
        );
    }
    assert!(written.contains("tabula"));
    assert!(!written.iter().any(|p| p.contains("help")), "{written:?}");
    // stdout lists the paths written.
    assert_eq!(
        String::from_utf8_lossy(&run.stdout).lines().count(),
        written.len()
    );

    for page in &written {
        let text = std::fs::read_to_string(out.join(format!("{page}.1"))).unwrap();
        assert_eq!(text.matches(".TH ").count(), 1, "{page}: {text}");
        assert_eq!(text.matches(".ds Aq").count(), 2, "{page}: one preamble");
        assert!(!text.contains(".SH EXTRA"), "{page} has an EXTRA section");
        let names = referenced(&text);
        for name in &names {
            assert!(
                written.contains(name),
                "{page} names {name}(1), which is not written: {written:?}"
            );
        }
        if page != "tabula" {
            assert!(text.contains(".SH \"SEE ALSO\""), "{page}");
            assert!(names.contains("tabula"), "{page} does not name tabula(1)");
        }
    }
    let main = std::fs::read_to_string(out.join("tabula.1")).unwrap();
    let mut others = written.clone();
    others.remove("tabula");
    assert_eq!(
        referenced(&main),
        others,
        "the main page names every other page"
    );
    assert!(main.contains(".SH NOTES"), "{main}");
}

#[test]
fn man_prints_one_page_and_refuses_an_unknown_command() {
    let dir = tempfile::tempdir().unwrap();
    let one = tabula(dir.path())
        .args(["man", "rebuild"])
        .output()
        .unwrap();
    assert_eq!(one.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&one.stdout).contains("\n.TH tabula-rebuild 1 "));
    let main = tabula(dir.path()).arg("man").output().unwrap();
    assert!(String::from_utf8_lossy(&main.stdout).contains("\n.TH tabula 1 "));
    let bad = tabula(dir.path()).args(["man", "rebuld"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("rebuld") && err.contains("rebuild"), "{err}");
}

#[test]
fn every_page_renders_with_man_or_groff_without_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    tabula(dir.path())
        .args(["man", "--out"])
        .arg(&out)
        .assert()
        .success();
    let man = support::have("man");
    if !man && !support::have("groff") {
        eprintln!("SKIP every_page_renders: neither man nor groff is installed");
        return;
    }
    for e in std::fs::read_dir(&out).unwrap() {
        let path = e.unwrap().path();
        let o = if man {
            Std::new("man")
                .args(["-l", "-Tutf8"])
                .arg(&path)
                .env("MANWIDTH", "80")
                .env("MAN_KEEP_STDERR", "1")
                .output()
                .unwrap()
        } else {
            Std::new("groff")
                .args(["-man", "-Tutf8", "-ww"])
                .arg(&path)
                .output()
                .unwrap()
        };
        assert!(o.status.success(), "{}: {o:?}", path.display());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.trim().is_empty(), "{}: {err}", path.display());
        // man's bold is overstrike (N\bN): keep the letters.
        let raw = String::from_utf8_lossy(&o.stdout);
        let mut text = String::new();
        for c in raw.chars() {
            if c == '\u{8}' {
                text.pop();
            } else {
                text.push(c);
            }
        }
        assert!(text.contains("NAME") && text.contains("SYNOPSIS"), "{text}");
    }
    // groff's own warnings (-ww) on the main page, where man hides them.
    if support::have("groff") {
        let o = Std::new("groff")
            .args(["-man", "-Tutf8", "-ww", "-z"])
            .arg(out.join("tabula.1"))
            .output()
            .unwrap();
        assert!(o.status.success());
        assert_eq!(String::from_utf8_lossy(&o.stderr).trim(), "");
    }
}

/// A folder with a spec, a non-spec file and a subfolder, and the script.
fn completion_dir(shell: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("host.toml"), "").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "").unwrap();
    std::fs::create_dir(dir.path().join("hosts")).unwrap();
    let script = tabula(dir.path())
        .args(["completions", shell])
        .output()
        .unwrap();
    assert_eq!(script.status.code(), Some(0));
    std::fs::write(dir.path().join(format!("tabula.{shell}")), &script.stdout).unwrap();
    dir
}

fn fish_complete(dir: &Path, line: &str) -> Vec<String> {
    let o = Std::new("fish")
        .current_dir(dir)
        .args(["--no-config", "-c"])
        .arg(format!("source tabula.fish; complete -C '{line}'"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| l.split('\t').next().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn fish_completes_subcommands_positional_values_and_toml_specs() {
    if !support::have("fish") {
        eprintln!("SKIP fish_completes: fish is not installed (ci/apt-packages/ship.txt)");
        return;
    }
    let dir = completion_dir("fish");
    assert_eq!(fish_complete(dir.path(), "tabula rebuild s"), ["switch"]);
    assert_eq!(
        fish_complete(dir.path(), "tabula keyfile re"),
        ["remove", "replace"]
    );
    assert!(fish_complete(dir.path(), "tabula reb").contains(&"rebuild".to_owned()));
    // A value already given: no second one offered.
    let after = fish_complete(dir.path(), "tabula rebuild switch ");
    assert!(!after.contains(&"boot".to_owned()), "{after:?}");
    // --spec: TOML files and folders, not other files.
    assert_eq!(
        fish_complete(dir.path(), "tabula check --spec "),
        ["host.toml", "hosts/"]
    );
    assert_eq!(
        fish_complete(dir.path(), "tabula plan --spec=h"),
        ["--spec=host.toml", "--spec=hosts/"]
    );
}

fn bash_complete(dir: &Path, words: &[&str]) -> Vec<String> {
    let cword = words.len() - 1;
    let arr: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let script = format!(
        "source ./tabula.bash; COMP_WORDS=({}); COMP_CWORD={cword}; \
         _tabula tabula '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        arr.join(" "),
        words[cword],
        words[cword - 1]
    );
    let o = Std::new("bash")
        .current_dir(dir)
        .args(["--norc", "-c", &script])
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    let mut v: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

#[test]
fn bash_completes_positional_values_and_toml_specs() {
    let dir = completion_dir("bash");
    assert_eq!(
        bash_complete(dir.path(), &["tabula", "rebuild", "s"]),
        ["switch"]
    );
    assert_eq!(
        bash_complete(dir.path(), &["tabula", "check", "--spec", ""]),
        ["host.toml", "hosts"]
    );
}

#[test]
fn zsh_script_parses_and_filters_specs_to_toml() {
    let dir = completion_dir("zsh");
    let script = std::fs::read_to_string(dir.path().join("tabula.zsh")).unwrap();
    assert!(script.contains(":FILE:_files -g \"*.toml\"'"), "{script}");
    assert!(!script.contains(":FILE:_files'"));
    // The values of `rebuild`'s positional are in the script.
    assert!(script.contains("switch"));
    if !support::have("zsh") {
        eprintln!("SKIP zsh -n: zsh is not installed (ci/apt-packages/ship.txt)");
        return;
    }
    let o = Std::new("zsh")
        .current_dir(dir.path())
        .args(["-n", "tabula.zsh"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
}
