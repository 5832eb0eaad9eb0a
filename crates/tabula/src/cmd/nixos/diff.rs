//! `tabula diff`: two closures compared, printed (also the rebuild's diff).

#[allow(clippy::wildcard_imports)]
use super::*;
use tabula_nixos::generations;

const DIFF_HELP: &str = "\
A and B are generation numbers, `current`, `booted`, or paths into the store
(/run/current-system, ./result, /nix/store/...). Packages are grouped by name
and version as `nix store diff-closures` groups them; sizes are NAR sizes.

Examples:
  tabula diff 41 42
  tabula diff booted current
  tabula diff /run/current-system ./result --json";

/// Packages added, removed, up- or downgraded between two systems, and the size change
#[derive(Debug, Args)]
#[command(after_help = DIFF_HELP)]
pub struct DiffArgs {
    /// The old system
    pub a: String,
    /// The new system
    pub b: String,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Two closures compared (tabula-nixos reads them).
pub(crate) use tabula_nixos::session::{diff_paths, DiffResult};

pub(crate) fn print_diff(r: &DiffResult, ctx: &Ctx) {
    let d = &r.diff;
    println!("{} → {}", r.old, r.new);
    let counts: Vec<String> = [
        Change::Added,
        Change::Removed,
        Change::Upgraded,
        Change::Downgraded,
        Change::Changed,
        Change::Resized,
    ]
    .into_iter()
    .filter_map(|c| {
        let n = d.count(c);
        (n > 0).then(|| format!("{n} {}", c.word()))
    })
    .collect();
    if counts.is_empty() {
        println!("Packages: no change");
    } else {
        println!("Packages: {}", counts.join(", "));
    }
    for p in &d.packages {
        let (mark, style) = match p.change {
            Change::Added => ("+", Style::Ok),
            Change::Removed => ("-", Style::Error),
            Change::Upgraded => ("↑", Style::Info),
            Change::Downgraded => ("↓", Style::Warning),
            Change::Changed => ("~", Style::Info),
            Change::Resized => ("·", Style::Dim),
        };
        let versions = match p.change {
            // A path without a version (`etc`, `unit-foo`) shows no version.
            Change::Added if p.added_versions == [""] => String::new(),
            Change::Removed if p.removed_versions == [""] => String::new(),
            Change::Added => closure_diff::show_versions(&p.added_versions),
            Change::Removed => closure_diff::show_versions(&p.removed_versions),
            Change::Resized => "(same version)".to_owned(),
            _ => format!(
                "{} → {}",
                closure_diff::show_versions(&p.removed_versions),
                closure_diff::show_versions(&p.added_versions)
            ),
        };
        let size = if p.size_delta == 0 {
            String::new()
        } else {
            format!(
                "  {}{}",
                if p.size_delta > 0 { "+" } else { "" },
                closure_diff::human(p.size_delta)
            )
        };
        let versions = if versions.is_empty() {
            versions
        } else {
            format!(" {versions}")
        };
        println!(
            "  {} {}{versions}{size}",
            ctx.paint(style, mark),
            ctx.paint(Style::Bold, &p.name)
        );
    }
    let sign = if d.size_delta > 0 { "+" } else { "" };
    println!(
        "Closure: {} paths, {} → {} paths, {} ({sign}{})",
        d.old_paths,
        closure_diff::human(i64::try_from(d.old_size).unwrap_or(i64::MAX)),
        d.new_paths,
        closure_diff::human(i64::try_from(d.new_size).unwrap_or(i64::MAX)),
        closure_diff::human(d.size_delta)
    );
    println!(
        "{}",
        ctx.paint(Style::Dim, &format!("({})", method_note(r.method)))
    );
}

pub(crate) fn diff_json(r: &DiffResult) -> serde_json::Value {
    serde_json::json!({
        "old": r.old,
        "new": r.new,
        "method": r.method,
        "packages": r.diff.packages,
        "old_paths": r.diff.old_paths,
        "new_paths": r.diff.new_paths,
        "old_size": r.diff.old_size,
        "new_size": r.diff.new_size,
        "size_delta": r.diff.size_delta,
    })
}

pub fn diff(a: &DiffArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    let resolve = |w: &str| generations::resolve(w, &a.store.profile, &a.store.booted_system);
    let old = resolve(&a.a)?;
    let new = resolve(&a.b)?;
    let r = diff_paths(a.store.store(), &old, &new)?;
    if ctx.json {
        ctx.print_json(&diff_json(&r))?;
    } else {
        print_diff(&r, ctx);
    }
    Ok(exit::OK)
}
