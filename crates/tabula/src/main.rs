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

mod cli;
mod cmd;
mod ctx;
mod exit;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    sigpipe::reset();
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
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
    ctx::init_logging(cli.global.verbose);
    let ctx = ctx::Ctx::new(&cli.global);
    match cmd::run(cli.command, &ctx) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            let code = exit::code_for(&err);
            exit::print_error(&err);
            ExitCode::from(code)
        }
    }
}
