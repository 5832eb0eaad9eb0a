//! `tabula status --fleet` / `tabula audit --fleet`: each host's `--json`
//! through `colmena exec`, and the parser of its output.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use serde::Serialize;

use super::*;
use crate::ctx::{Ctx, Style};
use crate::exit;

// --- status --fleet / audit --fleet: each host's `--json` through `colmena exec` ---
//
// How `colmena exec` prints (zhaofengli/colmena @ 5bf4ce6a24adba74a5184f4a9bef01d545a09473,
// src/command/exec.rs, src/progress/{mod,plain}.rs, src/util.rs, src/job.rs,
// src/troubleshooter.rs): with stdout not a terminal (our case, it is
// captured) the output is `PlainOutput`, which writes every line to STDERR
// as `format!("{:>width$} | {}", label, text)`: the node name right-aligned
// to the longest selected name (at least 5), " | ", then the line. The
// node's stdout and stderr lines both arrive so (`capture_stream`, only
// `trim_end`ed), no way to tell them apart; the job's own state lines too:
// `NAME | Succeeded`, `NAME | Failed: Child process exited with error code:
// N` (255 when ssh cannot reach it); the meta job has an empty label
// (`      | All done!`). Styles are colours only when enabled, so ANSI is
// stripped anyway. Nothing goes to stdout. When any node fails, exec
// returns `ExecError` ("Exec failed on N hosts") and colmena exits 1
// (`quit::with_code(1)` in troubleshooter.rs), after logging the last 20
// lines of each failed node through `tracing` (unprefixed `ERROR` lines).

/// `--fleet DIR [--on ...] [--out DIR] [--dry]` of `status` and `audit`.
#[derive(Debug, Clone, Args)]
pub struct FleetQuery {
    #[command(flatten)]
    pub fleet: FleetArg,
    /// With --fleet: hosts to ask, NAME or @TAG, repeatable or comma-separated
    /// (default: every host with [deploy])
    #[arg(long, value_name = "@TAG|NAME", num_args = 1.., value_delimiter = ',', requires = "fleet")]
    pub on: Vec<String>,
    /// With --fleet: where the fleet's flake is rendered and colmena runs
    #[arg(long, value_name = "DIR", default_value = "out", requires = "fleet")]
    pub out: PathBuf,
    /// With --fleet: print the colmena command, run nothing and write nothing
    #[arg(long, requires = "fleet")]
    pub dry: bool,
}

/// One host's answer.
#[derive(Debug, Serialize, PartialEq)]
pub struct HostAnswer {
    pub host: String,
    /// The host answered with an envelope whose `ok` is true.
    pub ok: bool,
    /// The exit code colmena reported for the host's command, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit: Option<i32>,
    /// The host's envelope `data`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
    /// Why there is no (ok) answer: the envelope's error message, or why the
    /// output was no envelope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The host answered with a tabula envelope (else it was not reached or
    /// printed something else).
    #[serde(skip)]
    pub answered: bool,
}

/// The exit code of a colmena job state line (`Failed: ... error code: N`,
/// `Succeeded`), None for any other line.
fn state_line(text: &str) -> Option<Option<i32>> {
    if text == "Succeeded" {
        return Some(Some(0));
    }
    let rest = text.strip_prefix("Failed: ")?;
    Some(
        rest.rsplit_once("exit code: ")
            .or_else(|| rest.rsplit_once("error code: "))
            .and_then(|(_, n)| n.trim().parse().ok()),
    )
}

/// The first tabula envelope in a node's lines (a pretty-printed JSON
/// document spans many lines).
fn find_envelope(lines: &[String]) -> Option<serde_json::Value> {
    // The host's stderr lines arrive under the same label and may fall
    // between the lines of its (pretty-printed) stdout: read the lines as
    // they came, then without those that cannot be part of the document
    // (serde's pretty lines start with a space, `{`, `}` or `]`).
    let json_like: Vec<String> = lines
        .iter()
        .filter(|l| l.starts_with([' ', '{', '}', ']']))
        .cloned()
        .collect();
    envelope_in(lines).or_else(|| envelope_in(&json_like))
}

fn envelope_in(lines: &[String]) -> Option<serde_json::Value> {
    for (i, l) in lines.iter().enumerate() {
        if !l.trim_start().starts_with('{') {
            continue;
        }
        let rest = lines[i..].join("\n");
        let mut stream = serde_json::Deserializer::from_str(&rest).into_iter::<serde_json::Value>();
        if let Some(Ok(v)) = stream.next() {
            if v.get("tabula").is_some() && v.get("ok").is_some_and(serde_json::Value::is_boolean) {
                return Some(v);
            }
        }
    }
    None
}

/// Split `colmena exec`'s output (see above) into each host's answer, in
/// the order of `names`.
pub fn parse_exec_output(names: &[&str], output: &str) -> Vec<HostAnswer> {
    let ExecLines {
        lines,
        exits,
        failed,
        last_other,
    } = split_exec_output(names, output);
    names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let exit = exits[i];
            if let Some(env) = find_envelope(&lines[i]) {
                let ok = env.get("ok").and_then(serde_json::Value::as_bool) == Some(true);
                let error = if ok {
                    None
                } else {
                    Some(
                        env.pointer("/error/message")
                            .and_then(serde_json::Value::as_str)
                            .unwrap_or("the host reported a problem")
                            .to_owned(),
                    )
                };
                return HostAnswer {
                    host: (*name).to_owned(),
                    ok,
                    exit: exit.or_else(|| {
                        env.pointer("/error/exit")
                            .and_then(serde_json::Value::as_i64)
                            .and_then(|n| i32::try_from(n).ok())
                    }),
                    data: env.get("data").cloned(),
                    error,
                    answered: true,
                };
            }
            let why = if lines[i].is_empty() && exits[i].is_none() {
                format!(
                    "colmena printed no line for this host{}",
                    last_other
                        .as_deref()
                        .map(|l| format!("; its last line: {l}"))
                        .unwrap_or_default()
                )
            } else if exit == Some(255) {
                format!(
                    "not reached (ssh exit 255){}",
                    lines[i]
                        .last()
                        .map(|l| format!(": {l}"))
                        .unwrap_or_default()
                )
            } else {
                let first = lines[i]
                    .iter()
                    .find(|l| !l.trim().is_empty())
                    .map_or_else(|| "nothing".to_owned(), |l| format!("`{}`", l.trim()));
                format!(
                    "no tabula JSON envelope in its output (is tabula on the host's PATH?); it printed {first}{}",
                    failed[i]
                        .as_deref()
                        .map(|f| format!("; colmena: {f}"))
                        .unwrap_or_default()
                )
            };
            HostAnswer {
                host: (*name).to_owned(),
                ok: false,
                exit,
                data: None,
                error: Some(why),
                answered: false,
            }
        })
        .collect()
}

/// `colmena exec`'s output taken apart per host (in the order of `names`).
pub struct ExecLines {
    /// Each host's own lines (stdout and stderr), without the state line.
    pub lines: Vec<Vec<String>>,
    /// The exit code of each host's command, when colmena reported it.
    pub exits: Vec<Option<i32>>,
    /// The `Failed: ...` state line of a host whose command failed.
    pub failed: Vec<Option<String>>,
    /// The last line that belongs to no host (colmena's own message).
    pub last_other: Option<String>,
}

/// Split `colmena exec`'s output (see above) into each host's lines.
pub fn split_exec_output(names: &[&str], output: &str) -> ExecLines {
    let mut lines: Vec<Vec<String>> = vec![Vec::new(); names.len()];
    let mut exits: Vec<Option<i32>> = vec![None; names.len()];
    let mut failed: Vec<Option<String>> = vec![None; names.len()];
    let mut last_other: Option<String> = None;
    for raw in output.lines() {
        let line = crate::json::strip_ansi(raw);
        let hit = line.split_once(" | ").and_then(|(label, text)| {
            names
                .iter()
                .position(|n| *n == label.trim_start())
                .map(|i| (i, text))
        });
        match hit {
            Some((i, text)) => match state_line(text) {
                Some(code) => {
                    exits[i] = code;
                    if text != "Succeeded" {
                        failed[i] = Some(text.to_owned());
                    }
                }
                None => lines[i].push(text.to_owned()),
            },
            None => {
                if !line.trim().is_empty() {
                    last_other = Some(line.trim().to_owned());
                }
            }
        }
    }
    ExecLines {
        lines,
        exits,
        failed,
        last_other,
    }
}

/// One line that sums up a host's `status` or `audit` data.
fn summary(command: &str, a: &HostAnswer) -> String {
    let Some(data) = &a.data else {
        return a.error.clone().unwrap_or_default();
    };
    let text = match command {
        "status" => data
            .get("items")
            .and_then(serde_json::Value::as_array)
            .map(|items| {
                let count = |s: &str| {
                    items
                        .iter()
                        .filter(|i| i.get("state").and_then(serde_json::Value::as_str) == Some(s))
                        .count()
                };
                format!(
                    "{} ok, {} drift, {} missing, {} unknown",
                    count("ok"),
                    count("drift"),
                    count("missing"),
                    count("unknown")
                )
            }),
        _ => data
            .pointer("/totals/lost")
            .and_then(serde_json::Value::as_u64)
            .map(|lost| {
                let groups = data
                    .get("groups")
                    .and_then(serde_json::Value::as_array)
                    .map_or(0, Vec::len);
                format!("{lost} lost file(s) in {groups} group(s)")
            }),
    };
    match (text, &a.error) {
        (Some(t), None) => t,
        (Some(t), Some(e)) => format!("{t} ({e})"),
        (None, Some(e)) => e.clone(),
        (None, None) => "answered".to_owned(),
    }
}

/// `tabula status --fleet` / `tabula audit --fleet`: render the fleet into
/// `--out`, run `colmena exec --on NAMES -- tabula COMMAND --json` there,
/// and print one table (or, with --json, `data.hosts`). Exit 0 all ok, 1
/// a host reported findings or drift, 3 a host did not answer.
///
/// # Errors
/// The fleet's errors (as deploy), colmena missing (exit 4), colmena
/// failing with another code than 0 or 1.
pub fn query(command: &'static str, q: &FleetQuery, ctx: &Ctx) -> anyhow::Result<u8> {
    let fleet = fleet_of(ctx, &q.fleet)?
        .ok_or_else(|| exit::Usage(format!("`{command} --fleet` needs the fleet's folder")))?;
    checked(ctx, &fleet)?;
    let hosts = select(&fleet, &q.on)?;
    let names: Vec<&str> = hosts.iter().map(|l| l.spec.host.name.as_str()).collect();
    let cmd = exec_cmd(command, &names, &q.out);
    let line = format!(
        "cd {} && {}",
        tabula_run::shell_quote(&q.out.display().to_string()),
        cmd.display()
    );
    if q.dry {
        print_dry(ctx, q, &names, &cmd, &line)?;
        return Ok(exit::OK);
    }
    need_colmena()?;
    write_flake(ctx, &fleet, &q.out)?;
    if !ctx.json {
        eprintln!("running: {line}");
    }
    let out = cmd
        .run()
        .with_context(|| format!("asking {} with colmena exec", names.join(", ")))?;
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.push('\n');
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    let answers = parse_exec_output(&names, &text);
    if ctx.json {
        ctx.print_json(&serde_json::json!({ "hosts": answers }))?;
    } else {
        print_table(ctx, command, &names, &answers);
    }
    Ok(exit_code(&answers))
}

/// `colmena exec --on NAMES -- tabula COMMAND --json`, run in `out`.
fn exec_cmd(command: &str, names: &[&str], out: &Path) -> tabula_run::Cmd {
    tabula_run::Cmd::new("colmena")
        .arg("exec")
        .arg("--on")
        .arg(names.join(","))
        .args(["--", "tabula", command, "--json"])
        .current_dir(out)
        .install_hint(COLMENA_HINT)
        // 1: some host's command failed (a finding, or not reached).
        .ok_codes(&[1])
}

/// `--dry`: the command that would run, or its report.
fn print_dry(
    ctx: &Ctx,
    q: &FleetQuery,
    names: &[&str],
    cmd: &tabula_run::Cmd,
    line: &str,
) -> anyhow::Result<()> {
    if ctx.json {
        ctx.print_json(&serde_json::json!({
            "dry": true,
            "out": q.out.display().to_string(),
            "hosts": names,
            "commands": [{"argv": cmd.argv(), "dir": q.out.display().to_string()}],
        }))?;
    } else {
        println!(
            "would run (render the fleet into {}, then):",
            q.out.display()
        );
        println!("{line}");
    }
    Ok(())
}

/// Exit 3 when a host did not answer, 1 when one reported findings or
/// drift, else 0.
fn exit_code(answers: &[HostAnswer]) -> u8 {
    if answers.iter().any(|a| !a.answered) {
        exit::REFUSED
    } else if answers.iter().any(|a| !a.ok) {
        exit::FINDINGS
    } else {
        exit::OK
    }
}

/// One row per host: name, ok, summary.
fn print_table(ctx: &Ctx, command: &str, names: &[&str], answers: &[HostAnswer]) {
    let w = names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    println!("{:<w$}  {:<4}  summary", "host", "ok");
    for a in answers {
        let ok = if a.ok {
            ctx.paint(Style::Info, "yes ")
        } else if a.answered {
            ctx.paint(Style::Warning, "no  ")
        } else {
            ctx.paint(Style::Error, "--  ")
        };
        println!("{:<w$}  {ok}  {}", a.host, summary(command, a));
    }
}

#[cfg(test)]
mod query_tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[test]
    fn interleaved_nodes_and_colour_are_taken_apart() {
        // Nodes run in parallel: their lines interleave; a terminal may add
        // colour around the label.
        let out = "\
\u{1b}[1m  a\u{1b}[0m | {\n bbbbbb | {\n      a |   \"tabula\": 1, \"command\": \"audit\",\n bbbbbb |   \"tabula\": 1, \"command\": \"audit\",\n\
      a |   \"ok\": false, \"data\": {\"totals\": {\"lost\": 2}, \"groups\": [1]},\n bbbbbb |   \"ok\": true, \"data\": null,\n\
      a |   \"findings\": [], \"error\": {\"message\": \"lost\", \"exit\": 1}\n bbbbbb |   \"findings\": [], \"error\": null\n      a | }\n bbbbbb | }\n\
      a | Failed: Child process exited with error code: 1\n bbbbbb | Succeeded\n";
        let a = parse_exec_output(&["a", "bbbbbb"], out);
        assert!(a[0].answered && !a[0].ok && a[0].exit == Some(1), "{a:?}");
        assert_eq!(
            summary("audit", &a[0]),
            "2 lost file(s) in 1 group(s) (lost)"
        );
        assert!(a[1].answered && a[1].ok && a[1].exit == Some(0), "{a:?}");
    }

    #[test]
    fn a_stderr_line_inside_the_document_is_passed_over() {
        let out = "\
  box | {\n  box |   \"tabula\": 1,\n  box | warning: quotas are off\n  box |   \"ok\": true,\n  box |   \"data\": {\"items\": []}\n  box | }\n  box | Succeeded\n";
        let a = parse_exec_output(&["box"], out);
        assert!(a[0].answered && a[0].ok, "{a:?}");
    }

    #[test]
    fn prefixed_lines_become_one_answer_per_host() {
        let out = "\
 desk | {\n desk |   \"tabula\": 1,\n desk |   \"command\": \"status\",\n desk |   \"ok\": true,\n desk |   \"data\": {\"items\": []},\n desk |   \"findings\": [],\n desk |   \"error\": null\n desk | }\n desk | Succeeded\n\
  lap | Warning: Permanently added\n  lap | Failed: Child process exited with error code: 255\n\
      | All done!\n";
        let a = parse_exec_output(&["desk", "lap", "gone"], out);
        assert!(a[0].ok && a[0].answered && a[0].exit == Some(0), "{a:?}");
        assert!(!a[1].answered && a[1].exit == Some(255), "{a:?}");
        assert!(
            a[1].error.as_deref().unwrap().contains("not reached"),
            "{a:?}"
        );
        assert!(a[2].error.as_deref().unwrap().contains("no line"), "{a:?}");
    }
}
