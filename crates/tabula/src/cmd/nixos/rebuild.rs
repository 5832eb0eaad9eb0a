//! `tabula rebuild`: arguments to a tabula-nixos session; its progress, diff and question on the terminal.

use super::diff::{diff_json, print_diff};
#[allow(clippy::wildcard_imports)]
use super::*;
use tabula_nixos::session::DiffResult;
use tabula_nixos::{generations, rebuild};

const REBUILD_HELP: &str = "\
Every step's command is printed before it runs. After the build, the package
diff between the running system and the new one is shown, and tabula asks
before it touches the system (--yes answers for you; without a terminal and
without --yes it refuses). switch/boot add a generation to the system profile
with `nix-env --set` and run the new system's switch-to-configuration, as
nixos-rebuild does after its build. Switching needs root.

Examples:
  tabula rebuild check
  tabula rebuild switch --dry           print every command, run none
  sudo tabula rebuild switch
  sudo tabula rebuild boot --flake ~/src/host --yes
  sudo tabula rebuild rollback";

/// Check, build, switch, boot, test or roll back the system, showing what changes first
#[derive(Debug, Args)]
#[command(after_help = REBUILD_HELP)]
pub struct RebuildArgs {
    /// check, build, switch, boot, test or rollback
    #[arg(value_enum)]
    pub action: ActionArg,
    /// The flake directory
    #[arg(long, value_name = "DIR", default_value = "/etc/nixos")]
    pub flake: PathBuf,
    /// The nixosConfigurations attribute (default: the spec's host name)
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// Where the build result link goes (default: a fresh temp dir)
    #[arg(long, value_name = "PATH")]
    pub out_link: Option<PathBuf>,
    /// Print every command it would run, and run none
    #[arg(long)]
    pub dry: bool,
    /// Do not ask before switching
    #[arg(long, short)]
    pub yes: bool,
    /// Skip `nix flake check`
    #[arg(long)]
    pub no_check: bool,
    /// The system profile
    #[arg(long, value_name = "PATH", default_value = DEFAULT_PROFILE)]
    pub profile: PathBuf,
    /// The running system
    #[arg(long, value_name = "PATH", default_value = generations::CURRENT_SYSTEM)]
    pub current_system: PathBuf,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ActionArg {
    /// nix flake check
    Check,
    /// check, build and show the diff
    Build,
    /// ... and switch to it now
    Switch,
    /// ... and make it the default at the next boot
    Boot,
    /// ... and activate it until the next boot
    Test,
    /// go back to the previous generation
    Rollback,
}

impl From<ActionArg> for Action {
    fn from(a: ActionArg) -> Action {
        match a {
            ActionArg::Check => Action::Check,
            ActionArg::Build => Action::Build,
            ActionArg::Switch => Action::Switch,
            ActionArg::Boot => Action::Boot,
            ActionArg::Test => Action::Test,
            ActionArg::Rollback => Action::Rollback,
        }
    }
}

/// The CLI's face of a rebuild session: coloured progress on stdout (stderr
/// under --json), the diff, and the question on the terminal.
struct Terminal<'a> {
    ctx: &'a Ctx,
}

impl Terminal<'_> {
    fn line(&self, text: &str) {
        if self.ctx.json {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    }
}

impl session::RebuildUi for Terminal<'_> {
    fn step(&mut self, why: &str, argv: &str) {
        let ctx = self.ctx;
        self.line(&format!(
            "{} {}",
            ctx.paint(Style::Info, "==>"),
            ctx.paint(Style::Bold, why)
        ));
        self.line(&format!("$ {argv}"));
    }

    fn say(&mut self, text: &str) {
        self.line(text);
    }

    fn diff(&mut self, r: &DiffResult) {
        if self.ctx.json {
            match serde_json::to_string_pretty(&diff_json(r)) {
                Ok(j) => eprintln!("{j}"),
                Err(e) => self.warn(&e.to_string()),
            }
        } else {
            print_diff(r, self.ctx);
        }
    }

    fn warn(&mut self, text: &str) {
        eprintln!("{} {text}", self.ctx.paint(Style::Warning, "warning:"));
    }

    fn confirm(&mut self, question: &str) -> std::io::Result<bool> {
        eprint!("{question} [y/N] ");
        std::io::stderr().flush()?;
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok(matches!(
            line.trim().to_ascii_lowercase().as_str(),
            "y" | "yes"
        ))
    }
}

pub fn rebuild(a: &RebuildArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    let action: Action = a.action.into();
    let host = match &a.host {
        Some(h) => h.clone(),
        None => ctx.spec()?.host.name,
    };
    let (out_link, _tmp) = session::determine_out_link(a.out_link.as_deref(), a.dry)
        .context("creating a temp dir for the build result")?;
    let inputs = session::setup_inputs(
        a.flake.clone(),
        host,
        out_link,
        a.profile.clone(),
        a.current_system.clone(),
        a.no_check,
    );
    let steps = rebuild::plan(action, &inputs);
    if a.dry {
        return print_dry(action, &steps, ctx);
    }
    let opts = session::Options {
        yes: a.yes,
        terminal: std::io::stdin().is_terminal(),
    };
    // A refusal is exit 3, a missing program exit 4 (the runner's error).
    let refused = |e: session::RebuildError| -> anyhow::Error {
        match e {
            session::RebuildError::Missing(missing) => missing.into(),
            e if e.is_refusal() => exit::Refused(e.to_string()).into(),
            e => e.into(),
        }
    };
    session::preflight(action, &steps, &inputs, opts).map_err(refused)?;
    let outcome = session::execute(action, &steps, &inputs, opts, &mut Terminal { ctx })?;
    if ctx.json {
        ctx.print_json(&serde_json::json!({
            "action": action,
            "dry": false,
            "completed": outcome.completed,
            "result": std::fs::canonicalize(&inputs.out_link).ok(),
            "ran": outcome.ran,
        }))?;
    }
    Ok(exit::OK)
}

fn print_dry(action: Action, steps: &[Step], ctx: &Ctx) -> anyhow::Result<u8> {
    if ctx.json {
        ctx.print_json(&serde_json::json!({
            "action": action, "dry": true, "steps": steps,
        }))?;
    } else {
        println!(
            "{}",
            ctx.paint(
                Style::Dim,
                &format!("# tabula rebuild {} --dry: nothing is run", action.name())
            )
        );
        for s in steps {
            println!("{}", s.display());
        }
    }
    Ok(exit::OK)
}
