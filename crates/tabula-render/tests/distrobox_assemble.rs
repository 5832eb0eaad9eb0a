//! distrobox.ini under attack: hostile values in every distrobox field are
//! either refused by `check` (at that field) or rendered so that the real
//! `distrobox-assemble create --dry-run --file distrobox.ini` carries them
//! literally and runs nothing (a marker file must not appear).
//!
//! The script is the upstream one (Debian bookworm's distrobox 1.4 has no
//! `assemble`): `TABULA_DISTROBOX_ASSEMBLE=/path/to/distrobox-assemble`,
//! else `distrobox-assemble` on PATH, else the test prints SKIP. It runs
//! with a throwaway HOME and PATH beside stand-in `distrobox-list` and
//! `distrobox-create` that only record their arguments. Versions 1.5 to
//! 1.8 were tried (before 1.8, --dry-run prints the command instead of
//! evaluating it; the test evaluates the printed line).
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use tabula_render::render_flake;
use tabula_spec::check::{Finding, Severity};
use tabula_spec::HostSpec;

fn assemble_script() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TABULA_DISTROBOX_ASSEMBLE") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("distrobox-assemble"))
            .find(|p| p.is_file())
    })
}

/// A sandbox: the real script copied beside the stand-ins, a HOME, a marker.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new(script: &Path) -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::copy(script, bin.join("distrobox-assemble")).unwrap();
        let args = dir.path().join("args");
        std::fs::write(bin.join("distrobox-list"), "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::write(
            bin.join("distrobox-create"),
            format!(
                "#!/bin/sh\nprintf '%s\\0' \"$@\" >> '{}'\nprintf 'END\\0' >> '{}'\n",
                args.display(),
                args.display()
            ),
        )
        .unwrap();
        for f in ["distrobox-assemble", "distrobox-list", "distrobox-create"] {
            std::fs::set_permissions(
                bin.join(f),
                std::os::unix::fs::PermissionsExt::from_mode(0o755),
            )
            .unwrap();
        }
        Sandbox { dir }
    }

    fn marker(&self) -> PathBuf {
        self.dir.path().join("PWNED")
    }

    /// Run `distrobox-assemble create --dry-run --file INI`: the argument
    /// lists distrobox-create got, one per section.
    fn run(&self, ini: &str) -> Vec<Vec<String>> {
        let file = self.dir.path().join("distrobox.ini");
        std::fs::write(&file, ini).unwrap();
        let _ = std::fs::remove_file(self.dir.path().join("args"));
        let bin = self.dir.path().join("bin");
        let out = Command::new(bin.join("distrobox-assemble"))
            .args(["create", "--dry-run", "--file"])
            .arg(&file)
            .current_dir(self.dir.path())
            .env_clear()
            .env("HOME", self.dir.path().join("home"))
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .output()
            .unwrap();
        // Before 1.8, --dry-run prints the distrobox-create command instead
        // of evaluating it: evaluate the printed line as 1.8 does.
        if !self.dir.path().join("args").exists() {
            for line in String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| l.contains("/distrobox-create "))
            {
                Command::new("sh")
                    .arg("-c")
                    .arg(line)
                    .current_dir(self.dir.path())
                    .env_clear()
                    .env("HOME", self.dir.path().join("home"))
                    .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
                    .status()
                    .unwrap();
            }
        }
        let text = std::fs::read_to_string(self.dir.path().join("args")).unwrap_or_default();
        let calls: Vec<Vec<String>> = text
            .split("END\0")
            .filter(|c| !c.is_empty())
            .map(|c| c.split_terminator('\0').map(str::to_owned).collect())
            .collect();
        assert!(
            out.status.success() || !calls.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        calls
    }
}

fn flag<'a>(call: &'a [String], name: &str) -> Option<&'a str> {
    call.iter()
        .position(|a| a == name)
        .and_then(|i| call.get(i + 1))
        .map(String::as_str)
}

fn check_of(spec: HostSpec) -> Vec<Finding> {
    let mut loaded = tabula_spec::parse("test.toml", support::embedded_text()).unwrap();
    loaded.spec = spec;
    tabula_spec::check::check(&loaded)
}

/// Values that run something if a shell evaluates them.
fn corpus(marker: &Path) -> Vec<String> {
    let m = marker.display();
    [
        format!("quay.io/toolbx/arch-toolbox:latest&&{{touch,{m}}}"),
        format!("quay.io/a:latest>{m}"),
        format!("quay.io/a:latest;touch {m}"),
        format!("quay.io/a:latest&&touch${{IFS}}{m}"),
        format!("quay.io/a:$(touch {m})"),
        format!("quay.io/a:`touch {m}`"),
        format!("quay.io/a|tee {m}"),
        format!("quay.io/a\ntouch {m}"),
        format!("quay.io/a\" ; touch {m} ; \""),
        format!("quay.io/a' ; touch {m} ; '"),
        format!("{{quay.io/a,{m}}}"),
        format!("a&touch {m}"),
        format!("a||touch {m}"),
        format!("a>>{m}"),
        "~/x".into(),
        "a*".into(),
        "a=b".into(),
        "#a".into(),
        "a\\b".into(),
        " a".into(),
    ]
    .into()
}

#[test]
fn hostile_distrobox_values_are_refused_or_carried_literally() {
    let Some(script) = assemble_script() else {
        eprintln!("SKIP hostile_distrobox_values_are_refused_or_carried_literally: no distrobox-assemble (set TABULA_DISTROBOX_ASSEMBLE to upstream's script)");
        return;
    };
    let sb = Sandbox::new(&script);

    // The harness sees what runs: a value written verbatim, as before the
    // fix, creates the marker.
    sb.run(&format!(
        "[a]\nimage=quay.io/a:latest>{}\n",
        sb.marker().display()
    ));
    assert!(
        sb.marker().exists(),
        "the sandbox does not detect execution"
    );
    std::fs::remove_file(sb.marker()).unwrap();

    // The embedded host's containers arrive as written.
    let files = render_flake(&support::embedded()).unwrap();
    let ini = &files
        .iter()
        .find(|f| f.path.ends_with("distrobox.ini"))
        .unwrap()
        .contents;
    let calls = sb.run(ini);
    assert_eq!(calls.len(), 3, "{ini}");
    assert_eq!(flag(&calls[0], "--name"), Some("arch"));
    assert_eq!(
        flag(&calls[0], "--image"),
        Some("quay.io/toolbx/arch-toolbox:latest")
    );

    let mut accepted = 0;
    let mut refused = 0;
    let digest = format!("docker.io/library/alpine@sha256:{}", "ab12".repeat(16));
    let cases = corpus(&sb.marker())
        .into_iter()
        .flat_map(|v| ["name", "image", "packages"].map(|f| (f, v.clone())))
        .chain([
            ("name", "dev.box_1".to_owned()),
            ("image", "localhost:5000/my/app:v1.0".to_owned()),
            ("image", digest),
            ("packages", "gcc-c++".to_owned()),
            ("packages", "libc6:i386".to_owned()),
        ]);
    for (field, value) in cases {
        {
            let mut spec = support::embedded();
            let img = &mut spec.containers.distrobox.as_mut().unwrap().images[0];
            match field {
                "name" => img.name = value.clone(),
                "image" => img.image = value.clone(),
                _ => img.packages = vec!["git".into(), value.clone()],
            }
            let place = format!("containers.distrobox.images[0].{field}");
            let findings = check_of(spec.clone());
            let errors: Vec<&Finding> = findings
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .collect();
            if errors.iter().any(|f| f.at.starts_with(&place)) {
                refused += 1;
                // The renderer refuses it too: nothing unsafe is ever written.
                assert!(render_flake(&spec).is_err(), "{field} = {value:?} rendered");
                continue;
            }
            assert!(errors.is_empty(), "{field} = {value:?}: {errors:?}");
            accepted += 1;
            let files = render_flake(&spec).unwrap();
            let ini = &files
                .iter()
                .find(|f| f.path.ends_with("distrobox.ini"))
                .unwrap()
                .contents;
            let calls = sb.run(ini);
            assert!(
                !sb.marker().exists(),
                "{field} = {value:?} ran a command:\n{ini}"
            );
            let got = match field {
                "name" => flag(&calls[0], "--name").map(str::to_owned),
                "image" => flag(&calls[0], "--image").map(str::to_owned),
                _ => flag(&calls[0], "--additional-packages").map(|s| s.trim().to_owned()),
            };
            let want = if field == "packages" {
                format!("git {value}")
            } else {
                value.clone()
            };
            assert_eq!(
                got.as_deref(),
                Some(want.as_str()),
                "{field} = {value:?}:\n{ini}"
            );
        }
    }
    eprintln!("distrobox corpus: {refused} refused by check, {accepted} carried literally");
    assert_eq!(refused, 60, "every hostile value is refused");
    assert_eq!(accepted, 5, "every benign value is carried");
}
