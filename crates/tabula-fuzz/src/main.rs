//! `tabula-fuzz --target NAME --seconds N --seed S`: fuzz one target (or
//! `all`) and print executions, exec/s, unique crashes and coverage counts.
//! Exit 1 when a crash was found.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use tabula_fuzz::targets::Target;
use tabula_fuzz::{run, Config};

const USAGE: &str = "\
usage: tabula-fuzz [--target spec|render|probe|mountinfo|all] [--seconds N]
                   [--execs N] [--seed S] [--deadline-ms MS] [--deep-every N]
                   [--crashes DIR] [--no-minimize] [--quiet]
       tabula-fuzz --target NAME --replay FILE...

Fuzzes one target of tabula (default: all, one after the other) and prints
executions, exec/s, unique crashes (by panic location or broken invariant)
and coverage-like counts. Crash inputs are written under DIR/<target>/
(default target/fuzz/crashes). Exit status 1 when a crash was found.
--replay runs each FILE once (with the deep check) and prints the outcome
and the time it took.";

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tabula-fuzz: {e}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn real_main() -> Result<ExitCode, String> {
    let mut targets: Vec<Target> = Target::ALL.to_vec();
    let mut seconds: Option<u64> = Some(60);
    let mut execs: Option<u64> = None;
    let mut seed: u64 = 1;
    let mut deadline = Duration::from_secs(2);
    let mut deep_every = 200;
    let mut crashes = PathBuf::from("target/fuzz/crashes");
    let mut minimize = true;
    let mut quiet = false;
    let mut replay: Vec<PathBuf> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        let num = |name: &str, v: String| -> Result<u64, String> {
            v.parse()
                .map_err(|_| format!("{name}: `{v}` is not a number"))
        };
        match a.as_str() {
            "--target" => {
                let v = val("--target")?;
                targets = if v == "all" {
                    Target::ALL.to_vec()
                } else {
                    vec![Target::from_name(&v).ok_or(format!("unknown target `{v}`"))?]
                };
            }
            "--seconds" => seconds = Some(num("--seconds", val("--seconds")?)?),
            "--execs" => {
                execs = Some(num("--execs", val("--execs")?)?);
                seconds = None;
            }
            "--seed" => seed = num("--seed", val("--seed")?)?,
            "--deadline-ms" => {
                deadline = Duration::from_millis(num("--deadline-ms", val("--deadline-ms")?)?);
            }
            "--deep-every" => deep_every = num("--deep-every", val("--deep-every")?)?,
            "--crashes" => crashes = PathBuf::from(val("--crashes")?),
            "--no-minimize" => minimize = false,
            "--quiet" => quiet = true,
            "--replay" => {
                replay.push(PathBuf::from(val("--replay")?));
                replay.extend(args.by_ref().map(PathBuf::from));
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(ExitCode::SUCCESS);
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if !replay.is_empty() {
        let [t] = targets[..] else {
            return Err("--replay needs one --target".into());
        };
        let mut any = false;
        for f in &replay {
            let data = std::fs::read(f).map_err(|e| format!("{}: {e}", f.display()))?;
            let start = std::time::Instant::now();
            let r = tabula_fuzz::exec::run_here(&t, &data, true);
            let took = start.elapsed();
            match r {
                Ok(o) => println!(
                    "{}: ok in {took:?} ({} features)",
                    f.display(),
                    o.features.len()
                ),
                Err(c) => {
                    any = true;
                    println!(
                        "{}: CRASH in {took:?} [{}]\n  {}",
                        f.display(),
                        c.kind,
                        c.detail
                    );
                }
            }
        }
        return Ok(if any {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    }
    let mut any = false;
    for t in targets {
        let mut cfg = Config::new(t, seed);
        cfg.max_time = seconds.map(Duration::from_secs);
        cfg.max_execs = execs;
        cfg.deadline = deadline;
        cfg.deep_every = deep_every;
        cfg.minimize = minimize;
        cfg.crash_dir = Some(crashes.clone());
        cfg.progress = (!quiet).then_some(Duration::from_secs(30));
        let report = run(&cfg);
        print!("{}", report.summary());
        any |= !report.crashes.is_empty();
    }
    Ok(if any {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
