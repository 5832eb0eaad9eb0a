//! `tabula status`: the live host against its spec, printed.

#[allow(clippy::wildcard_imports)]
use super::*;
use tabula_nixos::status;

const STATUS_HELP: &str = "\
Reads the system's own tables: /proc/self/mountinfo (source, subvolume,
filesystem, options including compression), statvfs (tmpfs fill, pool space),
/sys/block/dm-*/dm (the LUKS mapping), btrfs subvolume list, btrfs qgroup show
(usage only when quotas are on; tabula never walks the pool), blkid.
States: ok, drift (present but not as the spec says), missing, and unknown
(could not be told: no pool subvolume is mounted, a tool is missing, quotas
are off; the line says why). Exit 1 when anything is drift or missing.
With --fleet DIR: renders the fleet into --out and runs `colmena exec --on
NAMES -- tabula status --json` there; one row per host. Exit 0 all ok, 1 a host
reports something, 3 a host did not answer with an envelope, 4 no colmena.

Examples:
  tabula status
  tabula status --target /mnt          a layout mounted by `tabula mount`
  tabula status --fleet hosts --on @laptop   every host's status through colmena exec
  tabula status --json | jq '.data.items[] | select(.state != \"ok\")'";

/// The live host (or a layout mounted under DIR) against its spec: ok, drift, missing or unknown
#[derive(Debug, Args)]
#[command(after_help = STATUS_HELP)]
pub struct StatusArgs {
    /// Check a layout mounted under DIR (e.g. /mnt) instead of the running system
    #[arg(long, value_name = "DIR")]
    pub target: Option<PathBuf>,
    /// `--fleet DIR`: every host's `status --json` through `colmena exec`, one table
    #[command(flatten)]
    pub remote: crate::cmd::fleet::FleetQuery,
}

pub fn status(a: &StatusArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    if a.remote.fleet.fleet.is_some() {
        return crate::cmd::fleet::query("status", &a.remote, ctx);
    }
    let spec = ctx.spec()?;
    let target = match &a.target {
        // A target that is not a directory is a command-line error (exit 2),
        // as `audit --root` is.
        Some(t) if !t.is_dir() => {
            return Err(crate::exit::Usage(format!(
                "--target {}: not a directory (give the folder a layout is mounted under, such as /mnt)",
                t.display()
            ))
            .into())
        }
        Some(t) => {
            Some(std::fs::canonicalize(t).with_context(|| format!("--target {}", t.display()))?)
        }
        None => None,
    };
    let probe = status::probe(&spec, target.as_deref());
    let items = status::evaluate(&spec, target.as_deref(), &probe);
    let findings = status::has_findings(&items);
    if ctx.json {
        ctx.print_json(&serde_json::json!({
            "host": spec.host.name,
            "target": target,
            "ok": !findings,
            "items": items,
        }))?;
    } else {
        let name_w = items
            .iter()
            .map(|i| i.name.chars().count())
            .max()
            .unwrap_or(0);
        for i in &items {
            let style = match i.state {
                State::Ok => Style::Ok,
                State::Drift => Style::Warning,
                State::Missing => Style::Error,
                State::Unknown => Style::Dim,
            };
            println!(
                "{}  {:<11}  {:<name_w$}  {}",
                ctx.paint(style, &format!("{:<7}", i.state.word())),
                i.kind,
                i.name,
                i.detail
            );
        }
        let count = |s: State| items.iter().filter(|i| i.state == s).count();
        println!(
            "{}",
            ctx.paint(
                Style::Bold,
                &format!(
                    "{} ok, {} drift, {} missing, {} unknown ({} against {})",
                    count(State::Ok),
                    count(State::Drift),
                    count(State::Missing),
                    count(State::Unknown),
                    target
                        .as_ref()
                        .map_or("the running system".to_owned(), |t| t.display().to_string()),
                    spec.host.name
                )
            )
        );
    }
    Ok(if findings { exit::FINDINGS } else { exit::OK })
}
