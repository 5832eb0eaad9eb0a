//! The fuzz targets and their invariants.
//!
//! Each target takes raw bytes and returns the *features* it saw (finding
//! codes, error kinds, rendered file sets, parser output shapes: what the
//! engine uses as coverage) or a [`Crash`] when an invariant breaks. A panic
//! anywhere is caught by the worker (`exec`).

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use crate::mutate::Shape;

/// Why an input is a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crash {
    /// What makes two crashes the same: `panic at FILE:LINE`, `hang`, or an
    /// invariant's name and where it broke.
    pub kind: String,
    /// The panic message or the invariant's details.
    pub detail: String,
}

/// What one input showed (coverage-like features).
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    pub features: Vec<String>,
}

/// A fuzz target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `tabula_spec::parse`, the error report (miette) and every check rule.
    Spec,
    /// check accepts ⇒ render (flake and docs) succeeds ⇒ every `.nix`
    /// parses (rnix; `nix-instantiate --parse` on a sample) ⇒ every SVG is
    /// XML.
    Render,
    /// The disk probe's parsers of sfdisk, blkid, cryptsetup and btrfs
    /// output (and those of `tabula status`).
    Probe,
    /// The one mountinfo parser (tabula_run::mountinfo) and the views of
    /// its rows that the audit, the disk busy check and nixos status use,
    /// which must agree.
    Mountinfo,
}

impl Target {
    pub const ALL: [Target; 4] = [
        Target::Spec,
        Target::Render,
        Target::Probe,
        Target::Mountinfo,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Target::Spec => "spec",
            Target::Render => "render",
            Target::Probe => "probe",
            Target::Mountinfo => "mountinfo",
        }
    }

    pub fn from_name(s: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == s)
    }

    /// Run one input.
    ///
    /// # Errors
    /// A [`Crash`] when an invariant does not hold.
    pub fn run(self, data: &[u8], deep: bool) -> Result<Outcome, Crash> {
        match self {
            Target::Spec => spec(data),
            Target::Render => render(data, deep),
            Target::Probe => Ok(probe(data)),
            Target::Mountinfo => mountinfo(data),
        }
    }

    /// The shape of this target's seeds (one per seed for the probe).
    pub fn default_shape(self) -> Shape {
        match self {
            Target::Spec | Target::Render => Shape::Toml,
            Target::Probe | Target::Mountinfo => Shape::Lines,
        }
    }
}

/// The date check runs against: fixed, so a run is reproducible.
fn today() -> tabula_spec::check::Date {
    tabula_spec::check::Date::from_days(20_454) // 2026-01-01
}

/// A message with its variable parts taken out, as a feature: its first
/// plain words (values, numbers and quoted parts dropped).
fn shape_of(msg: &str) -> String {
    // What is between the first and the last quote is a value.
    let q = |c: char| c == '"' || c == '`';
    let msg = match (msg.find(q), msg.rfind(q)) {
        (Some(a), Some(b)) if a < b => format!("{} _ {}", &msg[..a], &msg[b + 1..]),
        _ => msg.to_owned(),
    };
    msg.split_whitespace()
        .filter(|w| {
            w.len() < 24
                && w.chars()
                    .all(|c| c.is_ascii_alphabetic() || matches!(c, ':' | ',' | '-' | '(' | ')'))
        })
        .take(10)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A key path without its indices (`mount[3].path` → `mount[].path`).
fn at_shape(at: &str) -> String {
    let mut out = String::new();
    let mut skip = false;
    for c in at.chars() {
        match c {
            '[' => {
                skip = true;
                out.push_str("[]");
            }
            ']' => skip = false,
            _ if skip => {}
            c => out.push(c),
        }
    }
    out
}

fn text_of(data: &[u8]) -> String {
    // The CLI reads host.toml with read_to_string: non-UTF-8 never gets
    // further, so the lossy text is what can.
    String::from_utf8_lossy(data).into_owned()
}

fn spec(data: &[u8]) -> Result<Outcome, Crash> {
    let text = text_of(data);
    let mut f = Vec::new();
    match tabula_spec::parse("fuzz.toml", &text) {
        Err(e) => {
            // What `tabula check` prints: both reports.
            let _ = e.to_string();
            let _ = e.render_report(false);
            for x in tabula_spec::check::findings_from_error(&e) {
                f.push(format!(
                    "shape:{}@{}",
                    shape_of(&x.message),
                    at_shape(&x.at)
                ));
            }
        }
        Ok(loaded) => {
            let found = tabula_spec::check::check_on(&loaded, today());
            for x in &found {
                f.push(format!("code:{}@{}", x.code, at_shape(&x.at)));
                if x.line.is_none() {
                    f.push(format!("unplaced:{}", x.code));
                }
            }
            if !tabula_spec::check::has_errors(&found) {
                f.push("accepted".into());
            }
            let _ = serde_json::to_string(&found);
        }
    }
    Ok(Outcome { features: f })
}

fn crash(kind: impl Into<String>, detail: impl Into<String>) -> Crash {
    Crash {
        kind: kind.into(),
        detail: detail.into(),
    }
}

fn render(data: &[u8], deep: bool) -> Result<Outcome, Crash> {
    let text = text_of(data);
    let mut f = Vec::new();
    let Ok(loaded) = tabula_spec::parse("fuzz.toml", &text) else {
        return Ok(Outcome {
            features: vec!["rejected:shape".into()],
        });
    };
    let found = tabula_spec::check::check_on(&loaded, today());
    if tabula_spec::check::has_errors(&found) {
        for x in &found {
            if x.severity == tabula_spec::check::Severity::Error {
                f.push(format!("rejected:{}", x.code));
            }
        }
        return Ok(Outcome { features: f });
    }
    for x in &found {
        f.push(format!("accepted-with:{}", x.code));
    }
    let spec = &loaded.spec;
    let mut files = tabula_render::render_flake(spec).map_err(|e| {
        let kind = match &e {
            tabula_render::RenderError::Unrepresentable { context, .. } => {
                format!("unrepresentable as {context}")
            }
            tabula_render::RenderError::Missing { at, .. } => format!("missing {}", at_shape(at)),
        };
        crash(
            format!("check accepted, render failed: {kind}"),
            e.to_string(),
        )
    })?;
    let host_dir = tabula_render::host_dir(spec);
    let docs = tabula_docs::render(spec);
    for d in &docs {
        if files.iter().any(|x| x.path == d.path) {
            return Err(crash("flake and docs write the same file", d.path.clone()));
        }
        files.push(tabula_render::OutFile::generated(
            d.path.clone(),
            d.contents.clone(),
        ));
    }
    let mut set: Vec<String> = files
        .iter()
        .map(|x| x.path.replacen(&host_dir, "hosts/H", 1))
        .collect();
    set.sort();
    f.push(format!("files:{}", set.join(",")));
    for x in &files {
        let shape = x.path.replacen(&host_dir, "hosts/H", 1);
        if x.path.ends_with(".nix") {
            let errors = rnix::Root::parse(&x.contents).errors().to_vec();
            if let Some(e) = errors.first() {
                return Err(crash(
                    format!("check accepted, {shape} does not parse (rnix)"),
                    format!("{e}\n--- {}\n{}", x.path, x.contents),
                ));
            }
            if let Some(dup) = duplicate_attribute(&x.contents) {
                return Err(crash(
                    format!("check accepted, {shape} defines an attribute twice"),
                    format!("{dup}\n--- {}\n{}", x.path, x.contents),
                ));
            }
        }
        if x.path.ends_with(".svg") {
            if let Err(e) = roxmltree::Document::parse(&x.contents) {
                return Err(crash(
                    format!("check accepted, {shape} is not well-formed XML"),
                    format!("{e}"),
                ));
            }
        }
    }
    if deep {
        deep_check(&files, &loaded.text, &host_dir)?;
        f.push("deep".into());
    }
    Ok(Outcome { features: f })
}

/// The same attribute defined twice in one attribute set or `let`, which
/// rnix parses but Nix refuses ("attribute 'x' already defined"). Nix
/// merges two attribute-set literals under one name, so their contents are
/// compared as one set.
fn duplicate_attribute(text: &str) -> Option<String> {
    use rnix::ast::{self, HasEntry};
    use rowan::ast::AstNode;

    fn attr_name(a: &ast::Attr) -> String {
        let t = a.syntax().text().to_string();
        match t.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
            Some(inner) if !inner.contains('\\') && !inner.contains("${") => inner.to_owned(),
            _ => t,
        }
    }

    /// The full paths of the leaves under `e`, attribute-set literals
    /// opened up.
    fn leaves(e: &impl HasEntry, prefix: &str, out: &mut Vec<String>) {
        for av in e.attrpath_values() {
            let Some(path) = av.attrpath() else { continue };
            let name: Vec<String> = path.attrs().map(|a| attr_name(&a)).collect();
            let full = format!("{prefix}{}", name.join("."));
            match av.value() {
                Some(ast::Expr::AttrSet(set)) => {
                    leaves(&set, &format!("{full}."), out);
                }
                _ => out.push(full),
            }
        }
        for inh in e.inherits() {
            for a in inh.attrs() {
                out.push(format!("{prefix}{}", attr_name(&a)));
            }
        }
    }

    fn check(out: &mut [String]) -> Option<String> {
        out.sort();
        for w in out.windows(2) {
            if w[0] == w[1] {
                return Some(format!("`{}` twice", w[0]));
            }
            if w[1].starts_with(&format!("{}.", w[0])) {
                return Some(format!("`{}` and `{}`", w[0], w[1]));
            }
        }
        None
    }

    let root = rnix::Root::parse(text).syntax();
    for node in root.descendants() {
        let mut out = Vec::new();
        if let Some(set) = ast::AttrSet::cast(node.clone()) {
            leaves(&set, "", &mut out);
        } else if let Some(l) = ast::LetIn::cast(node.clone()) {
            leaves(&l, "", &mut out);
        } else {
            continue;
        }
        if let Some(d) = check(&mut out) {
            return Some(d);
        }
    }
    None
}

/// Whether `nix-instantiate` runs here (checked once).
pub fn have_nix() -> bool {
    static HAVE: OnceLock<bool> = OnceLock::new();
    *HAVE.get_or_init(|| {
        Command::new("nix-instantiate")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// The sampled deep check: write the whole render as `tabula render` does
/// (atomic writer, into a fresh directory) and have real Nix parse every
/// `.nix` file.
fn deep_check(
    files: &[tabula_render::OutFile],
    spec_text: &str,
    host_dir: &str,
) -> Result<(), Crash> {
    let dir = tempfile::tempdir().map_err(|e| crash("fuzzer: no temp dir", e.to_string()))?;
    let mut all = files.to_vec();
    all.push(tabula_render::OutFile::generated("host.toml", spec_text));
    tabula_render::write_files(dir.path(), &all)
        .map_err(|e| crash("check accepted, writing the render failed", e.to_string()))?;
    if !have_nix() {
        return Ok(());
    }
    for x in files.iter().filter(|x| x.path.ends_with(".nix")) {
        if let Err(e) = nix_parse(&dir.path().join(&x.path)) {
            let shape = x.path.replacen(host_dir, "hosts/H", 1);
            return Err(crash(
                format!("check accepted, nix-instantiate --parse refuses {shape}"),
                format!("{e}\n--- {}\n{}", x.path, x.contents),
            ));
        }
    }
    Ok(())
}

/// `nix-instantiate --parse FILE` with a dummy store and no build users.
fn nix_parse(file: &Path) -> Result<(), String> {
    let out = Command::new("nix-instantiate")
        .env("NIX_CONFIG", "build-users-group =\nexperimental-features =")
        .env("NIX_PATH", "")
        .env_remove("NIX_REMOTE")
        .args(["--store", "dummy://", "--parse"])
        .arg(file)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// How many, capped, as a feature.
fn n(x: usize) -> usize {
    x.min(4)
}

fn err_shape<T>(r: &Result<T, tabula_disk::Error>) -> String {
    match r {
        Ok(_) => "ok".into(),
        // serde's position ("at line 3 column 7") is not a new behaviour.
        Err(e) => {
            let m = e.to_string();
            let m = m.split(" at line ").next().unwrap_or("");
            format!("err:{}", shape_of(m))
        }
    }
}

fn probe(data: &[u8]) -> Outcome {
    use tabula_disk::probe;
    let text = text_of(data);
    let mut f = Vec::new();
    let t = probe::parse_sfdisk(&text);
    f.push(format!("sfdisk:{}", err_shape(&t)));
    if let Ok(t) = &t {
        f.push(format!(
            "sfdisk:{}:{}:{}",
            match t.label.as_str() {
                l @ ("gpt" | "dos") => l,
                "" => "empty",
                _ => "other",
            },
            match t.sector_size {
                0 => "0",
                512 => "512",
                4096 => "4096",
                _ => "other",
            },
            n(t.partitions.len())
        ));
        for p in &t.partitions {
            let _ = p.end();
        }
    }
    let map = probe::parse_blkid_export(&text);
    let c = probe::content_from_blkid(&map);
    let kind = format!("{c:?}");
    f.push(format!(
        "blkid:{}:{}",
        n(map.len()),
        kind.split(|c: char| !c.is_alphanumeric())
            .next()
            .unwrap_or("")
    ));
    let l = probe::parse_luks_json(&text);
    f.push(format!("luks:{}", err_shape(&l)));
    if let Ok(l) = &l {
        f.push(format!("luks:slots:{}", n(l.len())));
    }
    let b = probe::parse_btrfs_root_tree(&text);
    f.push(format!("btrfs-tree:{}", err_shape(&b)));
    if let Ok(b) = &b {
        f.push(format!("btrfs-tree:subvols:{}", n(b.len())));
        f.push(format!(
            "btrfs-tree:depth:{}",
            b.iter()
                .map(|s| n(s.matches('/').count()))
                .max()
                .unwrap_or(0)
        ));
    }
    use tabula_nixos::status;
    f.push(format!(
        "subvolume-list:{}",
        n(status::parse_subvolume_list(&text).len())
    ));
    f.push(format!("qgroups:{}", n(status::parse_qgroups(&text).len())));
    f.push(format!("free:{}", status::parse_free(&text).is_some()));
    f.push(format!(
        "swaps:{}",
        n(tabula_disk::busy::parse_swaps(&text).len())
    ));
    Outcome { features: f }
}

fn mountinfo(data: &[u8]) -> Result<Outcome, Crash> {
    let text = text_of(data);
    let mut f = Vec::new();
    // The workspace's one parser; the audit, the busy check and status read
    // the table through it (their row types are views of its rows).
    let rows = tabula_run::mountinfo::parse(&text);
    let _ = tabula_disk::busy::parse_swaps(&text);
    f.push(format!("count:{}", n(rows.len())));
    for m in &rows {
        let _ = tabula_audit::mountinfo::is_persistent_fstype(&m.fstype);
    }
    if text.contains('\\') {
        f.push("escapes".into());
    }
    // Line by line: a line the parser accepts reads the same through every
    // view (the busy check and the audit decide what is whose), and the
    // unescape never grows a field.
    for line in text.lines() {
        let a = tabula_audit::mountinfo::parse(line);
        let b = tabula_disk::busy::parse_mountinfo(line);
        let s = tabula_nixos::status::parse_mountinfo(line);
        f.push(format!("line:{}", a.len()));
        if a.len() != b.len() || a.len() != s.len() {
            return Err(crash(
                "a view of the mountinfo parser dropped a row",
                format!("line {line:?}: {} {} {}", a.len(), b.len(), s.len()),
            ));
        }
        if let (Some(a), Some(b), Some(s)) = (a.first(), b.first(), s.first()) {
            let am = a.mount_point_lossy();
            if am != b.mount_point || am != s.mount_point || a.mount_point.len() > line.len() {
                return Err(crash(
                    "the mountinfo views disagree on the mount point",
                    format!(
                        "line {line:?}: audit {am:?}, disk busy {:?}, nixos status {:?}",
                        b.mount_point, s.mount_point
                    ),
                ));
            }
        }
    }
    Ok(Outcome { features: f })
}

#[cfg(test)]
mod tests {
    use super::duplicate_attribute as dup;

    /// Each case as `nix-instantiate --parse` (Nix 2.x) judges it.
    #[test]
    fn duplicate_attributes_as_nix_sees_them() {
        for ok in [
            "{ a = { x = 1; }; a = { y = 2; }; }",
            "{ a = { x = 1; }; a.y = 2; }",
            "{ a.y = 2; a = { x = 1; }; }",
            "{ a = rec { x = 1; }; a.y = 2; }",
            "{ a.b = 1; a.c = 2; ab = 3; }",
            "let a = 1; b = 2; in { a = a; }",
        ] {
            assert_eq!(dup(ok), None, "{ok}");
        }
        for bad in [
            "let a = 1; a = 2; in a",
            "{ inherit a; a = 1; }",
            "{ \"a\" = 1; a = 2; }",
            "{ a = { x = 1; }; a = { x = 2; }; }",
            "{ a = 1; a.b = 2; }",
            "{ u.root = { f = 1; }; u.root = { f = 2; }; }",
        ] {
            assert!(dup(bad).is_some(), "{bad}");
        }
    }
}
