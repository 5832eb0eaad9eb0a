//! `tabula place`: where software runs, and the locked, checked write of host.toml.

#[allow(clippy::wildcard_imports)]
use super::*;
use tabula_nixos::place;

const PLACE_HELP: &str = "\
The tree, in the document's order: a CLI tool or system utility runs as a Nix
package; a development environment in a Distrobox container; a GUI application
as a Flatpak from Flathub (NAME is its app id); a long-running service in a
rootless Podman container; untrusted code or CI/CD in a microvm.nix VM.
Without --kind the questions are asked one by one (on a terminal only).
--apply adds the entry to host.toml (--spec FILE, else ./host.toml), keeping
its comments and layout; `tabula render` turns it into configuration.

Examples:
  tabula place ripgrep --kind cli
  tabula place org.mozilla.firefox --kind gui --apply
  tabula place postgres --kind service --image docker.io/library/postgres:16 --port 5432:5432
  tabula place ci-runner                      (asks the tree's questions)";

/// Where should this software run? The document's container decision tree
#[derive(Debug, Args)]
#[command(after_help = PLACE_HELP)]
pub struct PlaceArgs {
    /// The software: a package or container name, or a Flathub app id for a GUI app
    pub name: String,
    /// What it is (else the tree's questions are asked)
    #[arg(long, value_enum)]
    pub kind: Option<KindArg>,
    /// The image of a Distrobox (dev) or Podman (service) container
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// A port a service publishes, as Podman writes it (8080:80); repeatable
    #[arg(long = "port", value_name = "PORT")]
    pub ports: Vec<String>,
    /// Write the change into host.toml
    #[arg(long)]
    pub apply: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum KindArg {
    /// A CLI tool or system utility
    Cli,
    /// A development environment (compiler, interpreter)
    Dev,
    /// A GUI application (browser, chat, office)
    Gui,
    /// A long-running service (database, web server)
    Service,
    /// Untrusted code or a CI/CD workload
    Untrusted,
}

impl From<KindArg> for Kind {
    fn from(k: KindArg) -> Kind {
        match k {
            KindArg::Cli => Kind::Cli,
            KindArg::Dev => Kind::Dev,
            KindArg::Gui => Kind::Gui,
            KindArg::Service => Kind::Service,
            KindArg::Untrusted => Kind::Untrusted,
        }
    }
}

fn usage(message: String) -> anyhow::Error {
    exit::Reported {
        message,
        code: exit::USAGE,
    }
    .into()
}

/// Ask the tree's questions on the terminal until one is answered yes.
fn ask_kind(name: &str) -> anyhow::Result<Option<Kind>> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(usage(format!(
            "error: no --kind given and no terminal to ask on\n  hint: tabula place {name} --kind cli|dev|gui|service|untrusted"
        )));
    }
    let mut lines = stdin.lock().lines();
    let mut err = std::io::stderr();
    for kind in Kind::ALL {
        loop {
            write!(err, "{} [y/n] ", kind.question())?;
            err.flush()?;
            let Some(line) = lines.next().transpose()? else {
                return Err(usage("error: no answer (end of input)".into()));
            };
            match line.trim().to_ascii_lowercase().as_str() {
                "y" | "yes" => return Ok(Some(kind)),
                "n" | "no" => break,
                _ => writeln!(err, "please answer y or n")?,
            }
        }
    }
    Ok(None)
}

pub fn place(a: &PlaceArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    let kind = match a.kind {
        Some(k) => k.into(),
        None => match ask_kind(&a.name)? {
            Some(k) => k,
            None => {
                return Err(exit::Reported {
                    message: "The document's decision tree has no branch for software that is none of these: \
                              not placed.\n  hint: pick the closest with --kind"
                        .into(),
                    code: exit::FINDINGS,
                }
                .into())
            }
        },
    };
    let opts = place::Options {
        image: a.image.clone(),
        ports: a.ports.clone(),
    };
    let p = place::decide(&a.name, kind, &opts).map_err(|e| usage(format!("error: {e}")))?;
    let written = if a.apply {
        Some(apply_placement(&p, ctx)?)
    } else {
        None
    };
    if ctx.json {
        ctx.print_json(&serde_json::json!({
            "placement": p,
            "applied": written.as_ref().map(|(path, changed, enabled)| serde_json::json!({
                "file": path, "changed": changed, "enabled_runtime": enabled,
            })),
        }))?;
        return Ok(exit::OK);
    }
    let w = p.why;
    println!(
        "{}  {}",
        ctx.paint(Style::Bold, &p.name),
        ctx.paint(Style::Info, &format!("→ {}", p.answer))
    );
    println!("  because: {} yes", p.question);
    println!(
        "  {}: kernel {}, filesystem {}, network {}, overhead {} (use case: {})",
        w.runtime, w.kernel, w.filesystem, w.network, w.overhead, w.use_case
    );
    println!("  change:  {}", p.change.describe());
    if let Some((_, _, true)) = &written {
        let (table, _) = p.change.key();
        println!(
            "  also:    [{}] enable = true (it was off)",
            table.join(".")
        );
    }
    match written {
        Some((path, true, _)) => println!(
            "{}",
            ctx.paint(
                Style::Ok,
                &format!(
                    "written to {} (run `tabula render` to make it configuration)",
                    path.display()
                )
            )
        ),
        Some((path, false, _)) => println!("already in {}: nothing to write", path.display()),
        None => println!(
            "{}",
            ctx.paint(Style::Dim, "(add --apply to write it into host.toml)")
        ),
    }
    Ok(exit::OK)
}

/// Write the placement into the spec file: refused for the embedded host;
/// the result is checked to still be a valid spec before it replaces the file.
/// Returns the file, whether it changed, and whether the runtime was switched on.
fn apply_placement(p: &Placement, ctx: &Ctx) -> anyhow::Result<(PathBuf, bool, bool)> {
    let path = match ctx.spec_source() {
        tabula_spec::SpecSource::File(path) => path,
        other => {
            return Err(exit::Refused(format!(
                "--apply writes host.toml, but the spec is {other}, which is built into tabula\n  hint: run `tabula init host.toml` first, then `tabula place ... --apply` in that folder (or pass --spec FILE)"
            ))
            .into())
        }
    };
    // A symlinked host.toml is edited where it lives (the link stays a
    // link), and the read-modify-write runs under a lock beside that file:
    // concurrent `place --apply` runs queue, and none loses another's edit.
    let target = tabula_run::atomic::final_target(&path)?;
    let _lock = tabula_run::atomic::Lock::acquire(
        &tabula_run::atomic::lock_path_for(&target),
        tabula_run::atomic::LOCK_TIMEOUT,
        &mut |lock| {
            eprintln!(
                "waiting for another tabula editing {} (lock {})",
                target.display(),
                lock.display()
            );
        },
    )?;
    let loaded = ctx.load()?;
    let applied = place::apply(&loaded.text, &p.change)
        .with_context(|| format!("editing {}", path.display()))?;
    if !applied.changed {
        return Ok((path, false, false));
    }
    let edited = tabula_spec::parse(&path.to_string_lossy(), &applied.text).with_context(|| {
        format!(
            "the edited {} would not be a valid spec; nothing written",
            path.display()
        )
    })?;
    // Refuse an edit that `tabula check` would then refuse.
    let new = tabula_spec::edit::new_errors(&loaded, &edited);
    if !new.is_empty() {
        return Err(exit::Refused(format!(
            "placing {} would make {} fail `tabula check`; nothing written:\n  {}",
            p.name,
            path.display(),
            new.join("\n  ")
        ))
        .into());
    }
    place::write_atomic(&target, applied.text.as_bytes())
        .with_context(|| format!("writing {}", target.display()))?;
    Ok((path, true, applied.enabled))
}
