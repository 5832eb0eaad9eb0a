//! # Man pages and shell completions, from the clap model
//!
//! `tabula man --out DIR` writes one page per command: `tabula(1)`,
//! `tabula-apply(1)`, ... Each page is clap_mangen's sections (NAME,
//! SYNOPSIS, DESCRIPTION, OPTIONS, SUBCOMMANDS, VERSION) plus the command's
//! after-help as NOTES (clap_mangen would call it "EXTRA") and a SEE ALSO
//! that names only pages this same run writes.
//!
//! `tabula completions SHELL` is clap_complete's script with what it lacks
//! added: fish completes positional values (`rebuild s<TAB>` → `switch`,
//! which clap_complete's fish generator does not do), and `--spec` offers
//! `*.toml` files (and directories to walk into) in fish, zsh and bash.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::{Cli, ManArgs};

/// The command tree the pages and completions are made from.
fn root() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// Every page: (page name as in `tabula-apply`, roff text), the main page
/// first, then its commands depth first.
pub fn pages() -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let root = root();
    let mut out = Vec::new();
    walk(&root, None, &mut out)?;
    Ok(out)
}

fn page_name(cmd: &clap::Command) -> String {
    cmd.get_display_name()
        .unwrap_or_else(|| cmd.get_name())
        .to_owned()
}

fn visible(cmd: &clap::Command) -> impl Iterator<Item = &clap::Command> {
    cmd.get_subcommands().filter(|s| !s.is_hide_set())
}

fn walk(
    cmd: &clap::Command,
    parent: Option<&str>,
    out: &mut Vec<(String, Vec<u8>)>,
) -> anyhow::Result<()> {
    let name = page_name(cmd);
    out.push((name.clone(), render(cmd, parent)?));
    for sub in visible(cmd) {
        walk(sub, Some(&name), out)?;
    }
    Ok(())
}

/// The page names of every visible command below `cmd`, depth first.
fn descendants(cmd: &clap::Command) -> Vec<String> {
    let mut out = Vec::new();
    for sub in visible(cmd) {
        out.push(page_name(sub));
        out.extend(descendants(sub));
    }
    out
}

/// Escape free text for roff: backslashes, and a leading `.` or `'` that
/// would read as a request.
fn roff_escape(line: &str) -> String {
    let line = line.replace('\\', "\\e").replace('-', "\\-");
    if line.starts_with('.') || line.starts_with('\'') {
        format!("\\&{line}")
    } else {
        line
    }
}

fn render(cmd: &clap::Command, parent: Option<&str>) -> anyhow::Result<Vec<u8>> {
    let man = clap_mangen::Man::new(cmd.clone())
        .manual("tabula manual")
        .source(format!("tabula {}", env!("CARGO_PKG_VERSION")));
    let mut w = Vec::new();
    man.render_title(&mut w)?;
    man.render_name_section(&mut w)?;
    man.render_synopsis_section(&mut w)?;
    man.render_description_section(&mut w)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut w)?;
    }
    if visible(cmd).next().is_some() {
        // Names `tabula-X(1)` for each X: every one is written by `pages`.
        man.render_subcommands_section(&mut w)?;
    }
    if let Some(after) = cmd.get_after_long_help().or_else(|| cmd.get_after_help()) {
        writeln!(w, ".SH NOTES")?;
        writeln!(w, ".nf")?;
        for line in after.to_string().lines() {
            writeln!(w, "{}", roff_escape(line))?;
        }
        writeln!(w, ".fi")?;
    }
    man.render_version_section(&mut w)?;
    let mut see: Vec<String> = parent.map(|p| format!("{p}(1)")).into_iter().collect();
    // A nested page (tabula-secret-set) names the main page too, and the
    // main page names every page, nested ones included.
    if parent.is_some_and(|p| p != page_name(&root())) {
        see.push(format!("{}(1)", page_name(&root())));
    }
    if parent.is_none() {
        see.extend(descendants(cmd).iter().map(|n| format!("{n}(1)")));
    } else {
        see.extend(visible(cmd).map(|s| format!("{}(1)", page_name(s))));
    }
    if !see.is_empty() {
        writeln!(w, ".SH \"SEE ALSO\"")?;
        writeln!(w, "{}", roff_escape(&see.join(", ")))?;
    }
    Ok(once_preamble(&w))
}

/// Each `render_*` call starts with roff's `.ie \n(.g .ds Aq ...` pair;
/// keep only the first.
fn once_preamble(text: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(text);
    let mut seen = BTreeSet::new();
    let mut out = String::new();
    for line in text.lines() {
        let preamble = line.starts_with(".ie \\n(.g .ds Aq") || line.starts_with(".el .ds Aq");
        if preamble && !seen.insert(line.to_owned()) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.into_bytes()
}

/// `tabula man [COMMAND] [--out DIR]`.
pub fn man(args: &ManArgs, ctx: &crate::ctx::Ctx) -> anyhow::Result<u8> {
    let pages = pages()?;
    let mut stdout = std::io::stdout().lock();
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the man page folder {}", dir.display()))?;
        let mut written = Vec::new();
        for (name, text) in &pages {
            let path = dir.join(format!("{name}.1"));
            write_file(&path, text)?;
            if !ctx.json {
                writeln!(stdout, "{}", path.display())?;
            }
            written.push(path.display().to_string());
        }
        ctx.print_json(&serde_json::json!({ "written": written }))?;
        return Ok(crate::exit::OK);
    }
    let wanted = match &args.command {
        None => "tabula".to_owned(),
        Some(c) => format!("tabula-{}", c.trim().replace(' ', "-")),
    };
    let Some((_, text)) = pages.iter().find(|(n, _)| *n == wanted) else {
        let known: Vec<&str> = pages
            .iter()
            .filter_map(|(n, _)| n.strip_prefix("tabula-"))
            .collect();
        return Err(crate::exit::Usage(format!(
            "no man page for '{}': the commands are {}",
            args.command.as_deref().unwrap_or_default(),
            known.join(", ")
        ))
        .into());
    };
    if ctx.json {
        ctx.print_json(&serde_json::json!({
            "page": wanted,
            "roff": String::from_utf8_lossy(text),
        }))?;
    } else {
        stdout.write_all(text)?;
    }
    Ok(crate::exit::OK)
}

/// Each page whole or not at all (temporary file, fsync, rename): a full
/// disk or a kill leaves the older page, never an empty or cut one.
fn write_file(path: &Path, text: &[u8]) -> anyhow::Result<()> {
    tabula_run::atomic::write_atomic(path, text, 0o644)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// `tabula completions SHELL`: clap_complete's script plus positional values
/// for fish and `*.toml` for `--spec`.
pub fn completions(shell: clap_complete::Shell, ctx: &crate::ctx::Ctx) -> anyhow::Result<u8> {
    let script = completion_script(shell)?;
    if ctx.json {
        ctx.print_json(&serde_json::json!({ "shell": shell.to_string(), "script": script }))?;
    } else {
        std::io::stdout().lock().write_all(script.as_bytes())?;
    }
    Ok(crate::exit::OK)
}

pub fn completion_script(shell: clap_complete::Shell) -> anyhow::Result<String> {
    use clap_complete::Shell;
    let mut cmd = root();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "tabula", &mut buf);
    let script = String::from_utf8(buf).context("the completion script is not UTF-8")?;
    Ok(match shell {
        Shell::Fish => fish(&script, &cmd),
        Shell::Zsh => script.replace(":FILE:_files'", ":FILE:_files -g \"*.toml\"'"),
        Shell::Bash => bash(&script),
        _ => script,
    })
}

/// Single-quote for fish (`\'` and `\\` are its only escapes there).
fn fish_quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\'', "\\'")
}

fn fish(script: &str, root: &clap::Command) -> String {
    // Directories (to walk into) and *.toml files under the word so far
    // (fish 3.6's __fish_complete_suffix offers every file).
    let mut out = String::from(
        "function __fish_tabula_toml\n    set -l tok (string replace -r -- '^--spec=' '' (commandline -ct))\n    for f in $tok*\n        if test -d $f\n            echo $f/\n        else if string match -q -- '*.toml' $f\n            echo $f\n        end\n    end\nend\n\n",
    );
    for line in script.lines() {
        // --spec FILE: host specs are TOML; directories stay reachable.
        if line.contains(" -l spec ") && line.ends_with(" -r -F") {
            let head = line.trim_end_matches(" -r -F");
            out.push_str(head);
            out.push_str(" -r -f -a \"(__fish_tabula_toml)\"\n");
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str("\n# Positional values (clap_complete's fish script has only options).\n");
    for sub in visible(root) {
        for pos in sub.get_positionals().filter(|a| !a.is_hide_set()) {
            let values: Vec<_> = pos
                .get_possible_values()
                .into_iter()
                .filter(|v| !v.is_hide_set())
                .collect();
            if values.is_empty() {
                continue;
            }
            let names: Vec<&str> = values.iter().map(|v| v.get_name()).collect();
            let words: Vec<String> = values
                .iter()
                .map(|v| match v.get_help() {
                    // `\t` stays an escape: fish expands it when it splits the words.
                    Some(h) => format!(
                        "{}\\t'{}'",
                        v.get_name(),
                        fish_quote(&h.to_string().replace('\n', " "))
                    ),
                    None => v.get_name().to_owned(),
                })
                .collect();
            out.push_str(&format!(
                "complete -c tabula -n \"__fish_tabula_using_subcommand {}; and not __fish_seen_subcommand_from {}\" -f -a \"{}\"\n",
                sub.get_name(),
                names.join(" "),
                words.join("\n")
            ));
        }
    }
    out
}

fn bash(script: &str) -> String {
    let mut out = String::new();
    let mut after_spec = false;
    for line in script.lines() {
        let t = line.trim_start();
        if after_spec && t.starts_with("COMPREPLY=($(compgen -f") {
            let indent = &line[..line.len() - t.len()];
            out.push_str(indent);
            out.push_str(
                "COMPREPLY=($(compgen -f -X '!*.toml' -- \"${cur}\"; compgen -d -- \"${cur}\"))\n",
            );
            out.push_str(indent);
            out.push_str("compopt -o filenames 2>/dev/null\n");
        } else {
            out.push_str(line);
            out.push('\n');
        }
        after_spec = t == "--spec)";
    }
    out
}
