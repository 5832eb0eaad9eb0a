//! # The rebuild pipeline as a plan
//!
//! The document's build pipeline (flake check, build, switch, rollback) as
//! data: [`plan`] turns an action into [`Step`]s, which the CLI prints
//! (`--dry`) or runs one by one, each command shown before it runs.
//!
//! Why not `nixos-rebuild`: it evaluates, builds and switches in one go, so
//! there is no moment to show what will change and ask. Like nh, tabula
//! builds the system's toplevel with `nix build ... --out-link`, compares its
//! closure with /run/current-system, asks, and only then makes it the
//! system: `nix-env -p /nix/var/nix/profiles/system --set RESULT` (a new
//! generation, which is also the bootloader's list) followed by
//! `RESULT/bin/switch-to-configuration switch|boot|test` — the same two
//! steps nixos-rebuild takes after its build.

use std::path::{Path, PathBuf};

use serde::Serialize;
use tabula_run::Cmd;

/// What `tabula rebuild` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// `nix flake check` only.
    Check,
    /// Check, build, show the diff.
    Build,
    /// ... then make it the current generation and activate it now.
    Switch,
    /// ... then make it the current generation, active from the next boot.
    Boot,
    /// ... then activate it now without a new generation (gone at reboot).
    Test,
    /// Go back to the previous generation and activate it.
    Rollback,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Check => "check",
            Action::Build => "build",
            Action::Switch => "switch",
            Action::Boot => "boot",
            Action::Test => "test",
            Action::Rollback => "rollback",
        }
    }

    /// Whether it changes the running system or the boot menu (needs root
    /// and a yes).
    pub fn changes_system(self) -> bool {
        matches!(
            self,
            Action::Switch | Action::Boot | Action::Test | Action::Rollback
        )
    }
}

/// One step of a rebuild.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "step", rename_all = "lowercase")]
pub enum Step {
    /// Run an external command.
    Run {
        why: String,
        /// In JSON: `argv`, an array (program first).
        #[serde(rename = "argv", serialize_with = "argv_array")]
        cmd: Cmd,
        /// In JSON: `line`, the argv shell-quoted as `--dry` prints it.
        #[serde(rename = "line")]
        argv: String,
    },
    /// Show the package diff between two systems (in-process, `tabula diff`).
    Diff { old: PathBuf, new: PathBuf },
    /// Ask before going on (`--yes` answers).
    Confirm { question: String },
}

fn argv_array<S: serde::Serializer>(cmd: &Cmd, s: S) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&cmd.argv(), s)
}

impl Step {
    fn run(why: &str, cmd: Cmd) -> Step {
        Step::Run {
            why: why.to_owned(),
            argv: cmd.display(),
            cmd,
        }
    }

    /// The line `--dry` prints for it.
    pub fn display(&self) -> String {
        match self {
            Step::Run { argv, .. } => argv.clone(),
            Step::Diff { old, new } => {
                format!("tabula diff {} {}", old.display(), new.display())
            }
            Step::Confirm { question } => format!("# ask: {question}"),
        }
    }
}

/// Where things are.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub flake: PathBuf,
    pub host: String,
    pub out_link: PathBuf,
    pub profile: PathBuf,
    pub current_system: PathBuf,
    /// The generation a rollback returns to (for its diff), if known.
    pub previous: Option<PathBuf>,
    /// Skip `nix flake check`.
    pub no_check: bool,
}

const NIX_HINT: &str = "Nix with flakes: a NixOS system, or Debian package nix-bin";

fn nix() -> Cmd {
    Cmd::new("nix")
        .args(["--extra-experimental-features", "nix-command flakes"])
        .install_hint(NIX_HINT)
}

/// The flake attribute of the host's system: `DIR#nixosConfigurations.HOST.config.system.build.toplevel`.
pub fn toplevel_attr(flake: &Path, host: &str) -> String {
    format!(
        "{}#nixosConfigurations.{host}.config.system.build.toplevel",
        flake.display()
    )
}

/// The steps of `action`, in order.
pub fn plan(action: Action, i: &Inputs) -> Vec<Step> {
    let mut steps = Vec::new();
    if action == Action::Rollback {
        if let Some(prev) = &i.previous {
            steps.push(Step::Diff {
                old: i.current_system.clone(),
                new: prev.clone(),
            });
        }
        steps.push(Step::Confirm {
            question: "Roll back to the previous generation?".into(),
        });
        steps.push(Step::run(
            "make the previous generation current",
            Cmd::new("nix-env")
                .arg("-p")
                .arg(&i.profile)
                .arg("--rollback")
                .install_hint(NIX_HINT),
        ));
        steps.push(Step::run(
            "activate it and make it the boot default",
            Cmd::new(i.profile.join("bin/switch-to-configuration")).arg("switch"),
        ));
        return steps;
    }
    if !i.no_check || action == Action::Check {
        steps.push(Step::run(
            "check the flake",
            nix().arg("flake").arg("check").arg(&i.flake),
        ));
    }
    if action == Action::Check {
        return steps;
    }
    steps.push(Step::run(
        "build the system",
        nix()
            .arg("build")
            .arg(toplevel_attr(&i.flake, &i.host))
            .arg("--out-link")
            .arg(&i.out_link),
    ));
    steps.push(Step::Diff {
        old: i.current_system.clone(),
        new: i.out_link.clone(),
    });
    let (question, mode) = match action {
        Action::Switch => ("Switch to the new system now?", "switch"),
        Action::Boot => ("Make the new system the default at the next boot?", "boot"),
        Action::Test => ("Activate the new system now, until the next boot?", "test"),
        _ => return steps,
    };
    steps.push(Step::Confirm {
        question: question.into(),
    });
    if action != Action::Test {
        steps.push(Step::run(
            "make it the current generation",
            Cmd::new("nix-env")
                .arg("-p")
                .arg(&i.profile)
                .arg("--set")
                .arg(&i.out_link)
                .install_hint(NIX_HINT),
        ));
    }
    steps.push(Step::run(
        match action {
            Action::Boot => "make it the boot default",
            Action::Test => "activate it (no new generation)",
            _ => "activate it and make it the boot default",
        },
        Cmd::new(i.out_link.join("bin/switch-to-configuration")).arg(mode),
    ));
    steps
}

/// A fresh private directory for the build result link (never a fixed name
/// in a world-writable /tmp); the link is `DIR/result`. Removing the
/// directory only drops the temporary GC root: the profile holds the system.
///
/// # Errors
/// When the temp dir cannot be made.
pub fn fresh_out_link() -> std::io::Result<(tempfile::TempDir, PathBuf)> {
    let d = tempfile::Builder::new()
        .prefix("tabula-rebuild-")
        .tempdir()?;
    let p = d.path().join("result");
    Ok((d, p))
}

/// The first program of the plan that is not installed. Programs inside the
/// build result or the profile are skipped: they appear during the run.
pub fn missing_program(steps: &[Step], i: &Inputs) -> Option<tabula_run::Error> {
    steps.iter().find_map(|s| {
        let Step::Run { cmd, .. } = s else {
            return None;
        };
        let prog = Path::new(cmd.program());
        if prog.starts_with(&i.out_link) || prog.starts_with(&i.profile) {
            return None;
        }
        tabula_run::find_program(prog)
            .is_none()
            .then(|| tabula_run::Error::NotFound {
                program: prog.to_string_lossy().into_owned(),
                hint: Some(NIX_HINT.into()),
            })
    })
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> Inputs {
        Inputs {
            flake: "/etc/nixos".into(),
            host: "h".into(),
            out_link: "/tmp/r/result".into(),
            profile: "/nix/var/nix/profiles/system".into(),
            current_system: "/run/current-system".into(),
            previous: Some("/nix/var/nix/profiles/system-1-link".into()),
            no_check: false,
        }
    }

    fn lines(a: Action, i: &Inputs) -> Vec<String> {
        plan(a, i).iter().map(Step::display).collect()
    }

    #[test]
    fn each_action_has_its_steps() {
        let i = inputs();
        let check = "nix --extra-experimental-features 'nix-command flakes' flake check /etc/nixos";
        let build = "nix --extra-experimental-features 'nix-command flakes' build '/etc/nixos#nixosConfigurations.h.config.system.build.toplevel' --out-link /tmp/r/result";
        let diff = "tabula diff /run/current-system /tmp/r/result";
        assert_eq!(lines(Action::Check, &i), [check]);
        assert_eq!(lines(Action::Build, &i), [check, build, diff]);
        assert_eq!(
            lines(Action::Boot, &i),
            [
                check,
                build,
                diff,
                "# ask: Make the new system the default at the next boot?",
                "nix-env -p /nix/var/nix/profiles/system --set /tmp/r/result",
                "/tmp/r/result/bin/switch-to-configuration boot"
            ]
        );
        assert_eq!(
            lines(Action::Test, &i)[3..],
            [
                "# ask: Activate the new system now, until the next boot?",
                "/tmp/r/result/bin/switch-to-configuration test"
            ]
        );
        assert_eq!(
            lines(Action::Rollback, &i),
            [
                "tabula diff /run/current-system /nix/var/nix/profiles/system-1-link",
                "# ask: Roll back to the previous generation?",
                "nix-env -p /nix/var/nix/profiles/system --rollback",
                "/nix/var/nix/profiles/system/bin/switch-to-configuration switch"
            ]
        );
        let mut no_check = inputs();
        no_check.no_check = true;
        assert_eq!(lines(Action::Build, &no_check), [build, diff]);
        assert_eq!(lines(Action::Check, &no_check), [check]);
    }
}
