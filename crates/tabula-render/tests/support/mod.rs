//! Helpers shared by the integration tests of tabula-render.
#![allow(dead_code, clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use tabula_render::{render_flake, write_files, OutFile};
use tabula_spec::{HostSpec, SpecSource};

/// The embedded host's text.
pub fn embedded_text() -> &'static str {
    tabula_spec::embedded::DEFAULT_HOST.toml
}

/// Parse spec text (panics with the problems when it is invalid).
pub fn spec_from(text: &str) -> HostSpec {
    match tabula_spec::load(&SpecSource::Text {
        name: "test.toml".into(),
        text: text.into(),
    }) {
        Ok(l) => l.spec,
        Err(e) => panic!("{e}"),
    }
}

pub fn embedded() -> HostSpec {
    spec_from(embedded_text())
}

/// A validated Podman container (built through host.toml, the only way
/// into a `HostSpec`), then given this name, image and ports.
pub fn podman_container(
    name: &str,
    image: &str,
    ports: &[&str],
) -> tabula_spec::model::PodmanContainer {
    let text = embedded_text().replacen(
        "containers = []",
        "containers = [{ name = \"c\", image = \"i\" }]",
        1,
    );
    let mut c = spec_from(&text)
        .containers
        .podman
        .unwrap()
        .containers
        .remove(0);
    c.name = name.into();
    c.image = image.into();
    c.ports = ports.iter().map(|p| (*p).to_owned()).collect();
    c
}

/// A validated microVM from its `[[containers.microvm.vms]]` fields.
pub fn microvm_vm(fields: &str) -> tabula_spec::model::MicrovmVm {
    let text = embedded_text().replacen("vms = []", &format!("vms = [{{ {fields} }}]"), 1);
    spec_from(&text).containers.microvm.unwrap().vms.remove(0)
}

/// Render and write into a fresh temp dir.
pub fn render_to_temp(spec: &HostSpec) -> (tempfile::TempDir, Vec<OutFile>) {
    let dir = tempfile::tempdir().unwrap();
    let files = render_flake(spec).unwrap();
    write_files(dir.path(), &files).unwrap();
    (dir, files)
}

/// Whether `nix-instantiate` is here; prints a SKIP line when not.
pub fn have_nix(test: &str) -> bool {
    let ok = Command::new("nix-instantiate")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIP {test}: nix-instantiate not found (Debian package nix-bin)");
    }
    ok
}

/// `nix-instantiate` with a dummy store and no build users (works offline,
/// as any user, without /nix).
pub fn nix_instantiate() -> Command {
    let mut c = Command::new("nix-instantiate");
    c.env("NIX_CONFIG", "build-users-group =\nexperimental-features =")
        .env("NIX_PATH", "")
        .env_remove("NIX_REMOTE")
        .arg("--store")
        .arg("dummy://");
    c
}

/// `nix-instantiate --parse FILE`: Ok or the error text.
pub fn nix_parse(file: &Path) -> Result<(), String> {
    let out = nix_instantiate().arg("--parse").arg(file).output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The stand-in harness that evaluates the rendered modules.
pub fn harness() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/harness.nix")
}

/// Evaluate the host's modules in `flake_dir` with the harness: the merged
/// config as JSON.
pub fn eval_host(flake_dir: &Path, host: &str) -> serde_json::Value {
    let out = nix_instantiate()
        .arg("--eval")
        .arg("--strict")
        .arg("--json")
        .arg(harness())
        .arg("--argstr")
        .arg("dir")
        .arg(flake_dir.join("hosts").join(host))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "nix-instantiate --eval failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The embedded host with its release (and optionally its loader) replaced.
pub fn embedded_variant(release: &str, loader: Option<&str>) -> HostSpec {
    let mut text = with_release(embedded_text(), release);
    if let Some(l) = loader {
        text = text.replace("loader = \"grub\"", &format!("loader = \"{l}\""));
    }
    spec_from(&text)
}

/// `text` with its `release = "..."` line set to `release`.
pub fn with_release(text: &str, release: &str) -> String {
    let mut out = String::new();
    let mut done = false;
    for line in text.split_inclusive('\n') {
        if !done && line.starts_with("release = \"") {
            let rest = &line["release = \"".len()..];
            let end = rest.find('"').unwrap();
            out.push_str(&format!("release = \"{release}\"{}", &rest[end + 1..]));
            done = true;
        } else {
            out.push_str(line);
        }
    }
    assert!(done, "no release line");
    out
}

/// rnix: the parse errors of `text` (empty when it parses).
pub fn rnix_errors(text: &str) -> Vec<String> {
    rnix::Root::parse(text)
        .errors()
        .iter()
        .map(|e| e.to_string())
        .collect()
}

/// The text of one attribute name (identifier or string).
fn attr_text(a: &rnix::ast::Attr) -> String {
    use rnix::ast::{Attr, InterpolPart};
    match a {
        Attr::Ident(i) => i
            .ident_token()
            .map(|t| t.text().to_owned())
            .unwrap_or_else(|| "or".into()),
        Attr::Str(s) => s
            .normalized_parts()
            .into_iter()
            .map(|p| match p {
                InterpolPart::Literal(l) => l,
                InterpolPart::Interpolation(_) => panic!("interpolated attribute name"),
            })
            .collect(),
        Attr::Dynamic(_) => panic!("dynamic attribute name"),
    }
}

/// The top attribute set of a module file: the body of `{ ... }:` (and of
/// a `let ... in`).
pub fn module_body(text: &str) -> rnix::ast::AttrSet {
    use rnix::ast::Expr;
    let root = rnix::Root::parse(text).tree();
    let mut e = root.expr().unwrap();
    loop {
        e = match e {
            Expr::Lambda(l) => l.body().unwrap(),
            Expr::LetIn(l) => l.body().unwrap(),
            Expr::AttrSet(a) => return a,
            other => panic!("a module body should be an attribute set, found {other:?}"),
        }
    }
}

/// Every option path assigned in a module, as `(path, listed)`: a path is
/// a leaf when the listing names it, or when its value is not an attribute
/// set; attribute sets not named by the listing are descended into.
/// `imports` is the module system's own key and is left out.
pub fn assigned_paths(text: &str, listing: &[(Vec<String>, String)]) -> Vec<(Vec<String>, bool)> {
    use rnix::ast::{Expr, HasEntry};
    fn walk(
        set: &rnix::ast::AttrSet,
        prefix: &[String],
        listing: &[(Vec<String>, String)],
        out: &mut Vec<(Vec<String>, bool)>,
    ) {
        assert!(set.inherits().next().is_none(), "inherit in a module");
        for apv in set.attrpath_values() {
            let mut path = prefix.to_vec();
            path.extend(apv.attrpath().unwrap().attrs().map(|a| attr_text(&a)));
            if path == ["imports"] {
                continue;
            }
            if tabula_render::options::is_listed(listing, &path) {
                out.push((path, true));
                continue;
            }
            match apv.value().unwrap() {
                Expr::AttrSet(inner) if inner.rec_token().is_none() => {
                    walk(&inner, &path, listing, out);
                }
                _ => out.push((path, false)),
            }
        }
    }
    let mut out = Vec::new();
    walk(&module_body(text), &[], listing, &mut out);
    out
}

/// The `# ...` comments of a Nix text, without the `#` and one space.
pub fn nix_comments(text: &str) -> Vec<String> {
    rnix::Root::parse(text)
        .syntax()
        .descendants_with_tokens()
        .filter_map(|e| e.into_token())
        .filter(|t| t.kind() == rnix::SyntaxKind::TOKEN_COMMENT)
        .map(|t| {
            let s = t.text();
            s.strip_prefix("# ")
                .or(s.strip_prefix('#'))
                .unwrap_or(s)
                .to_owned()
        })
        .collect()
}

/// Every rendered Nix module file (not flake.nix).
pub fn modules(files: &[OutFile]) -> Vec<&OutFile> {
    files
        .iter()
        .filter(|f| f.path.starts_with("hosts/") && f.path.ends_with(".nix"))
        .collect()
}
