//! # tabula, the binary
//!
//! Parses the command line, runs one command, prints the error chain and
//! turns the outcome into the exit codes every command shares:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | ok |
//! | 1 | findings or errors (a check with errors, drift, a failed step) |
//! | 2 | usage: the command line or the spec could not be understood |
//! | 3 | refused as unsafe (busy disk, data that would be destroyed, ...) |
//! | 4 | a needed external program is missing |
//! | 5 | apply done, but the pool inside the container stays unverified |
//! | 128+N | interrupted by signal N (130 SIGINT, 143 SIGTERM, 129 SIGHUP) |

mod cli;
mod cmd;
mod ctx;
mod exit;
mod json;
mod manpages;
mod report;

use std::process::ExitCode;

use clap::Parser;

/// SIGINT, SIGTERM and SIGHUP: the terminal's mode is put back (a prompt
/// with echo off is left clean), then [`tabula_disk::interrupt`] decides:
/// outside a writing step, what this run attached or opened is taken down
/// and the process exits 128+N at once; during a step, the step finishes
/// and the command stops before the next one (a second signal stops now).
fn handle_signals() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    use tabula_disk::interrupt;
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok();
    let saved = tty
        .as_ref()
        .and_then(|t| rustix::termios::tcgetattr(t).ok());
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        tracing::warn!("could not install the signal handlers");
        return;
    };
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                if let (Some(t), Some(mode)) = (&tty, &saved) {
                    let _ = rustix::termios::tcsetattr(
                        t,
                        rustix::termios::OptionalActions::Now,
                        mode,
                    );
                }
                if interrupt::raise(sig) {
                    let undone = tabula_disk::session::undo_all();
                    eprintln!(
                        "\ninterrupted by {}{}",
                        interrupt::signal_name(sig),
                        if undone.is_empty() {
                            String::new()
                        } else {
                            format!(
                                "; took down what this run set up: {}",
                                undone
                                    .iter()
                                    .map(|u| match u {
                                        interrupt::Undo::Close(n) => format!("closed {n}"),
                                        interrupt::Undo::Detach(d) => format!("detached {d}"),
                                    })
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        }
                    );
                    std::process::exit(128 + sig);
                }
                eprintln!(
                    "\ninterrupted by {}: finishing the running step, then stopping (again to stop now)",
                    interrupt::signal_name(sig)
                );
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("could not start the signal thread: {e}");
    }
}

/// 128 + the signal that interrupted this run, if one did.
fn interrupted() -> Option<u8> {
    tabula_disk::interrupt::signal().and_then(|s| u8::try_from(128 + s).ok())
}

/// One command, by its parsed arguments.
fn dispatch(command: cli::Command, ctx: &ctx::Ctx) -> anyhow::Result<u8> {
    use cli::Command;
    use cmd::{audit, disk, nixos, render, secret, spec};
    match command {
        Command::Check(a) => spec::check(&a, ctx),
        Command::Render(a) => render::render(&a, ctx),
        Command::Docs(a) => render::docs(&a, ctx),
        Command::Init(a) => spec::init(&a, ctx),
        Command::Schema(a) => spec::schema(&a, ctx),
        Command::Secret(a) => secret::secret(&a, ctx),
        Command::Plan(a) => disk::plan(&a, ctx),
        Command::Apply(a) => disk::apply(&a, ctx),
        Command::Mount(a) => disk::mount(&a, ctx),
        Command::Unmount(a) => disk::unmount(&a, ctx),
        Command::Install(a) => disk::install(&a, ctx),
        Command::Keyfile(a) => disk::keyfile(&a, ctx),
        Command::Import(a) => cmd::import::import(&a, ctx),
        Command::Audit(a) => audit::audit(&a, ctx),
        Command::Status(a) => nixos::status(&a, ctx),
        Command::Rebuild(a) => nixos::rebuild(&a, ctx),
        Command::Generations(a) => nixos::generations(&a, ctx),
        Command::Diff(a) => nixos::diff(&a, ctx),
        Command::Place(a) => nixos::place(&a, ctx),
        Command::Deploy(a) => cmd::fleet::deploy(&a, ctx),
        Command::Completions { shell } => crate::manpages::completions(shell, ctx),
        Command::Man(a) => crate::manpages::man(&a, ctx),
    }
}

fn main() -> ExitCode {
    sigpipe::reset();
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // With --json anywhere on the line, a usage error is the
            // envelope on stdout too (and clap's text on stderr).
            let args: Vec<String> = std::env::args().collect();
            if args.iter().skip(1).any(|a| a == "--json") {
                let names: Vec<String> = <cli::Cli as clap::CommandFactory>::command()
                    .get_subcommands()
                    .map(|c| c.get_name().to_owned())
                    .collect();
                let command = json::command_in_argv(&args, &names);
                if !e.use_stderr() {
                    // --help / --version: the text is the envelope's data
                    // (docs/JSON.md), nothing else on stdout.
                    let text = serde_json::json!({ "text": e.render().to_string() });
                    json::Envelope::new(&command, Some(text), exit::OK, None).print();
                    return ExitCode::from(exit::OK);
                }
                json::Envelope::usage(&command, &e.to_string()).print();
            }
            // clap prints help/version to stdout with exit 0, usage errors with 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    // For the docs' tests: every command line the docs print must parse.
    if std::env::var_os("TABULA_PARSE_ONLY").is_some() {
        return ExitCode::from(exit::OK);
    }
    ctx::set_color(cli.global.color);
    ctx::init_logging(cli.global.verbose);
    handle_signals();
    let ctx = ctx::Ctx::new(&cli.global);
    let name = command_name(&cli.command);
    let result = dispatch(cli.command, &ctx);
    let code = match &result {
        Ok(code) => *code,
        Err(err) => exit::code_for(err),
    };
    let code = interrupted().unwrap_or(code);
    if ctx.json {
        json::Envelope::new(&name, ctx.take_json(), code, result.as_ref().err()).print();
    }
    if let Err(err) = &result {
        exit::print_error(err, ctx::stderr_color());
    }
    ExitCode::from(code)
}

/// The subcommand's name, as typed (`keyfile` for `keyfile add`).
fn command_name(command: &cli::Command) -> String {
    use clap::CommandFactory;
    let debug = format!("{command:?}");
    let variant = debug
        .split(|c: char| !c.is_ascii_alphanumeric())
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    cli::Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .find(|n| n.replace('-', "") == variant)
        .unwrap_or(variant)
}
