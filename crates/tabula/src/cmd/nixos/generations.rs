//! `tabula generations`: the system profile's generations, printed.

#[allow(clippy::wildcard_imports)]
use super::*;
use tabula_nixos::generations;

const GENERATIONS_HELP: &str = "\
The date is the generation link's time (UTC); the closure size is the NAR size
of every store path the generation needs.

Examples:
  tabula generations
  tabula generations --json | jq '.data.generations[] | select(.current)'";

/// List the system generations (number, date, NixOS version, kernel, closure size)
#[derive(Debug, Args)]
#[command(after_help = GENERATIONS_HELP)]
pub struct GenerationsArgs {
    #[command(flatten)]
    pub store: StoreArgs,
}

pub fn generations(a: &GenerationsArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    let store = a.store.store();
    let gens = generations::list(&a.store.profile, &a.store.booted_system, Some(&store))?;
    if ctx.json {
        ctx.print_json(&serde_json::json!({
            "profile": a.store.profile,
            "method": store.method(),
            "generations": gens,
        }))?;
        return Ok(exit::OK);
    }
    let rows: Vec<[String; 6]> = gens.iter().map(row).collect();
    let head = ["GEN", "DATE (UTC)", "NIXOS", "KERNEL", "CLOSURE", ""];
    let mut w = head.map(str::len);
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |r: &[String; 6]| {
        format!(
            "{:>w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {:>w4$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3],
            w4 = w[4]
        )
        .trim_end()
        .to_owned()
    };
    println!(
        "{}",
        ctx.paint(Style::Bold, &line(&head.map(str::to_owned)))
    );
    for r in &rows {
        let l = line(r);
        if r[5].contains("current") {
            println!("{}", ctx.paint(Style::Ok, &l));
        } else {
            println!("{l}");
        }
    }
    println!(
        "{}",
        ctx.paint(
            Style::Dim,
            &format!(
                "{} generations of {} ({})",
                gens.len(),
                a.store.profile.display(),
                method_note(store.method())
            )
        )
    );
    Ok(exit::OK)
}

/// One generation as the table's cells.
fn row(g: &generations::Generation) -> [String; 6] {
    let dash = || "-".to_owned();
    let mut marks = Vec::new();
    if g.current {
        marks.push("current");
    }
    if g.booted {
        marks.push("booted");
    }
    [
        g.number.to_string(),
        g.date.clone(),
        g.nixos_version.clone().unwrap_or_else(dash),
        g.kernel.clone().unwrap_or_else(dash),
        g.closure_size
            .map(tabula_spec::size::human_bytes)
            .unwrap_or_else(dash),
        marks.join(", "),
    ]
}
