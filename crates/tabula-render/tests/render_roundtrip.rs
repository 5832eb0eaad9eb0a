//! Property test: arbitrary strings (NUL excluded) put into spec fields come
//! back unchanged from real Nix evaluation of the rendered files, decoded
//! with the rules of the format they land in (Nix strings, `.desktop`
//! values and `Exec` quoting, sh words, GRUB words, mount options,
//! distrobox.ini), or the renderer refuses them with an error naming the
//! field (those are the contexts where `check` must reject them too).
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::process::Command;

use proptest::prelude::*;
use serde_json::Value;
use tabula_render::escape::desktop_unescape;
use tabula_render::nix::comment_untext;
use tabula_render::{render_flake, RenderError};
use tabula_spec::check::{Finding, Severity};
use tabula_spec::HostSpec;

/// Strings rich in what breaks escaping: quotes, `\`, `$`, `${`, `''`,
/// `%`, control characters, line breaks, non-ASCII.
fn nasty() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => prop::sample::select(vec![
            "\"", "\\", "$", "${", "$${", "''", "''${", "'", "`", "%", "%%", ";", "#", "=",
            " ", "\t", "\n", "\r", "\r\n", "\u{1}", "\u{7f}", "\u{2028}", "é", "😀", ",",
            "\\n", "\\s", "[", "]", "~", "*",
        ])
        .prop_map(str::to_owned),
        3 => "[a-zA-Z0-9./:_-]{1,4}",
        2 => any::<char>().prop_filter("no NUL", |c| *c != '\0').prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..10).prop_map(|v| v.concat())
}

fn session_mut<'a>(spec: &'a mut HostSpec, id: &str) -> &'a mut tabula_spec::model::Session {
    spec.desktop
        .as_mut()
        .unwrap()
        .sessions
        .iter_mut()
        .find(|s| s.id == id)
        .unwrap()
}

/// The value of `key=` in a `.desktop` text.
fn desktop_value<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in {text}"))
}

/// Split an `Exec` value (after the general unescape) into arguments, per
/// the Desktop Entry Specification's quoting rules.
fn exec_args(value: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut chars = value.chars().peekable();
    loop {
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        let mut arg = String::new();
        if first == '"' {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => arg.push(chars.next().unwrap()),
                    Some(c) => arg.push(c),
                    None => panic!("unterminated quote in {value:?}"),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ' ' {
                    break;
                }
                arg.push(c);
                chars.next();
            }
        }
        args.push(arg.replace("%%", "%"));
    }
    args
}

/// The words of a GRUB/sh line made of `'...'` and `\'` pieces.
fn single_quoted_words(line: &str) -> Vec<String> {
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
            '\\' => {
                in_word = true;
                cur.push(chars.next().unwrap());
            }
            ' ' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
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

/// The check findings of a spec built in memory (the embedded text gives
/// the places).
fn check_of(spec: HostSpec) -> Vec<Finding> {
    let mut loaded = tabula_spec::parse("test.toml", support::embedded_text()).unwrap();
    loaded.spec = spec;
    tabula_spec::check::check(&loaded)
}

fn eval(spec: &HostSpec) -> (tempfile::TempDir, Value) {
    let (dir, _) = support::render_to_temp(spec);
    let v = support::eval_host(dir.path(), &spec.host.name);
    (dir, v)
}

/// The arguments a shell passes to `flatpak` when it runs the oneshot
/// service's script (a stand-in `flatpak` prints them NUL-separated).
fn run_flatpak_script(script: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("flatpak");
    std::fs::write(&bin, "#!/bin/sh\nprintf '%s\\0' \"$@\"\n").unwrap();
    std::fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .env("PATH", format!("{}:/usr/bin:/bin", dir.path().display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    text.split_terminator('\0').map(str::to_owned).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, failure_persistence: None, ..ProptestConfig::default() })]

    /// Fields that land in Nix strings, `.desktop` values and sh words:
    /// every string (NUL excluded) can be represented there.
    #[test]
    fn strings_in_nix_come_back_unchanged(
        description in nasty(),
        comment in nasty(),
        name in nasty(),
        arg in nasty(),
        image in nasty(),
        note in nasty(),
        url in nasty(),
        program in nasty().prop_filter("a program path", |p| !p.is_empty() && !p.starts_with('/')),
        desktop_names in nasty(),
    ) {
        if !support::have_nix("strings_in_nix_come_back_unchanged") {
            return Ok(());
        }
        let mut spec = support::embedded();
        spec.users[0].description = Some(description.clone());
        {
            let s = session_mut(&mut spec, "waydroid");
            s.comment = Some(comment.clone());
            s.name = name.clone();
            s.args = vec!["show-full-ui".into(), arg.clone()];
            s.program = Some(program.clone());
            s.desktop_names = Some(desktop_names.clone());
        }
        spec.containers.podman.as_mut().unwrap().containers = vec![support::podman_container("svc", &image, &[])];
        spec.persistence.as_mut().unwrap().directories[4].note = Some(note.clone());
        spec.containers.flatpak.as_mut().unwrap().remote.as_mut().unwrap().url = url.clone();

        let (dir, out) = eval(&spec);
        let c = &out["config"];
        prop_assert_eq!(c["users"]["users"]["user"]["description"].as_str().unwrap(), description.as_str());
        prop_assert_eq!(
            c["virtualisation"]["oci-containers"]["containers"]["svc"]["image"].as_str().unwrap(),
            image.as_str()
        );
        let text = c["services"]["displayManager"]["sessionPackages"][0]["text"].as_str().unwrap();
        prop_assert_eq!(desktop_unescape(desktop_value(text, "Comment")), comment.clone());
        prop_assert_eq!(desktop_unescape(desktop_value(text, "Name")), name.clone());
        let args = exec_args(&desktop_unescape(desktop_value(text, "Exec")));
        prop_assert_eq!(args.len(), 6, "{:?}", args);
        // The embedded host: 26.05 with nftables, so the configured package.
        let program_path = format!("/nix/store/00000000000000000000000000000000-waydroid-nftables/{program}");
        prop_assert_eq!(&args[1..5], &["-s", "--", program_path.as_str(), "show-full-ui"]);
        prop_assert_eq!(desktop_unescape(desktop_value(text, "DesktopNames")), desktop_names.clone());
        prop_assert_eq!(args[5].as_str(), arg.as_str());

        // The note is a comment (impermanence entries have no note field):
        // it comes back from the parsed file.
        let persistence = std::fs::read_to_string(dir.path().join("hosts/surface-pro-8/persistence.nix")).unwrap();
        let comments: Vec<String> = support::nix_comments(&persistence).iter().map(|c| comment_untext(c)).collect();
        prop_assert!(comments.contains(&note), "{:?} not in {:?}", note, comments);

        let script = c["systemd"]["services"]["flatpak-repo"]["script"].as_str().unwrap();
        let argv = run_flatpak_script(script);
        prop_assert_eq!(argv, vec!["remote-add".to_owned(), "--system".into(), "--if-not-exists".into(), "flathub".into(), url]);
    }

    /// Fields whose format cannot hold every string: the value comes back
    /// unchanged, or rendering fails naming the field.
    #[test]
    fn strings_in_restricted_contexts_come_back_or_are_refused(
        title in nasty(),
        distro in nasty(),
        option in nasty(),
    ) {
        if !support::have_nix("strings_in_restricted_contexts_come_back_or_are_refused") {
            return Ok(());
        }
        let fields = [("boot.entry[0].name", 0), ("containers.distrobox.images[0].image", 1), ("mount[", 2)];
        for (field, which) in fields {
            let mut spec = support::embedded();
            match which {
                0 => spec.boot.entries[0].name = title.clone(),
                1 => spec.containers.distrobox.as_mut().unwrap().images[0].image = distro.clone(),
                _ => {
                    let efi = spec.mounts.iter_mut().find(|m| m.path.as_str() == "/boot/efi").unwrap();
                    efi.options = vec![option.clone()];
                }
            }
            match render_flake(&spec) {
                Err(RenderError::Unrepresentable { at, .. }) => {
                    prop_assert!(at.starts_with(field), "refused at {} instead of {}", at, field);
                    // `check` must reject what the renderer refuses, at the same
                    // place.
                    let findings = check_of(spec);
                    prop_assert!(
                        findings.iter().any(|f| f.severity == Severity::Error && at.starts_with(&f.at)),
                        "render refused {} but check found no error there: {:?}", at, findings
                    );
                }
                Err(e) => prop_assert!(false, "unexpected error {}", e),
                Ok(files) => match which {
                    0 => {
                        let (_d, out) = eval(&spec);
                        let entries = out["config"]["boot"]["loader"]["grub"]["extraEntries"].as_str().unwrap();
                        let first = entries.lines().next().unwrap();
                        let words = single_quoted_words(first.strip_suffix(" {").unwrap());
                        prop_assert_eq!(words, vec!["menuentry".to_owned(), title.clone()]);
                    }
                    1 => {
                        let ini = &files.iter().find(|f| f.path.ends_with("distrobox.ini")).unwrap().contents;
                        let line = format!("image=\"{distro}\"");
                        prop_assert!(ini.lines().any(|l| l == line), "{}", ini);
                    }
                    _ => {
                        let (_d, out) = eval(&spec);
                        let opts = &out["config"]["fileSystems"]["/boot/efi"]["options"];
                        prop_assert_eq!(opts, &serde_json::json!([option.clone()]));
                    }
                },
            }
        }
    }
}

/// The distrobox corpus of hostile values (defect: command execution
/// through distrobox.ini) in the other places values land: a GRUB menu
/// entry title, a `.desktop` Exec argument, a mount option, Nix strings.
/// Each value is refused by `check` at that field, or the real Nix
/// evaluation of the rendered files gives it back literally (and, for
/// GRUB and Exec, the format's own quoting rules give it back).
#[test]
fn hostile_corpus_is_refused_or_carried_literally_everywhere() {
    if !support::have_nix("hostile_corpus_is_refused_or_carried_literally_everywhere") {
        return;
    }
    let corpus = [
        "quay.io/toolbx/arch-toolbox:latest&&{touch,/tmp/PWNED}",
        "a;touch /tmp/PWNED",
        "$(touch /tmp/PWNED)",
        "`touch /tmp/PWNED`",
        "${builtins.abort \"x\"}",
        "'' + abort \"x\" + ''",
        "{a,b}",
        "a\ntouch /tmp/PWNED",
        "a\"b",
        "a'b",
        "a|b",
        "a>b",
        "mode=\"755,size=1M",
        "%f %u %%",
        "\\x41",
        "a\u{2028}b",
    ];
    let mut literal = 0;
    let mut refused = 0;
    for value in corpus {
        let fields = [
            "boot.entry[0].name",
            "desktop.session[",
            "mount[11].options[0]",
            "user[0].description",
        ];
        let set = |spec: &mut HostSpec, which: usize, v: &str| match which {
            0 => spec.boot.entries[0].name = v.to_owned(),
            1 => session_mut(spec, "waydroid").args = vec!["show-full-ui".into(), v.to_owned()],
            2 => spec.mounts[11].options = vec![v.to_owned()],
            _ => spec.users[0].description = Some(v.to_owned()),
        };
        let mut spec = support::embedded();
        let mut kept = Vec::new();
        for (which, field) in fields.iter().enumerate() {
            let mut one = support::embedded();
            set(&mut one, which, value);
            let findings = check_of(one);
            let errors: Vec<&Finding> = findings
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .collect();
            if errors.is_empty() {
                set(&mut spec, which, value);
                kept.push(which);
            } else {
                assert!(
                    errors.iter().any(|f| f.at.starts_with(field)),
                    "{value:?} in {field}: refused elsewhere: {errors:?}"
                );
                refused += 1;
            }
        }
        if kept.is_empty() {
            continue;
        }
        let (_dir, out) = eval(&spec);
        let c = &out["config"];
        for which in kept {
            literal += 1;
            match which {
                0 => {
                    let entries = c["boot"]["loader"]["grub"]["extraEntries"]
                        .as_str()
                        .unwrap();
                    let first = entries.lines().next().unwrap();
                    let words = single_quoted_words(first.strip_suffix(" {").unwrap());
                    assert_eq!(words, vec!["menuentry".to_owned(), value.to_owned()]);
                }
                1 => {
                    let text = c["services"]["displayManager"]["sessionPackages"][0]["text"]
                        .as_str()
                        .unwrap();
                    let args = exec_args(&desktop_unescape(desktop_value(text, "Exec")));
                    assert_eq!(args.last().map(String::as_str), Some(value), "{args:?}");
                }
                2 => assert_eq!(
                    c["fileSystems"]["/boot/efi"]["options"],
                    serde_json::json!([value])
                ),
                _ => assert_eq!(
                    c["users"]["users"]["user"]["description"].as_str(),
                    Some(value)
                ),
            }
        }
    }
    eprintln!("hostile corpus: {refused} refused by check, {literal} carried literally");
    assert!(refused > 0 && literal > 0);
}
