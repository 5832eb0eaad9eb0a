//! # How the disk commands look: the plan table, the progress, the reports
//!
//! Everything `tabula plan`, `apply`, `mount`, `unmount`, `install` and
//! `keyfile` print; the sessions themselves live in tabula-disk.

use std::io::IsTerminal as _;

use tabula_disk::apply::Progress;
use tabula_disk::plan::{Action, Plan, Step};
use tabula_disk::session::{Report, View};
use tabula_disk::{keyfile as dkeyfile, mount as dmount};

use crate::ctx::{Ctx, Style};
use crate::exit;

pub(super) fn paint_action(ctx: &Ctx, a: Action) -> String {
    let style = match a {
        Action::Keep => Style::Ok,
        Action::Create | Action::Format => Style::Info,
        Action::Destroy | Action::Refuse => Style::Error,
        Action::Unverified => Style::Warning,
    };
    ctx.paint(style, &format!("{:<10}", a.as_str()))
}

pub(super) fn print_plan(ctx: &Ctx, plan: &Plan) {
    let w = plan
        .lines
        .iter()
        .map(|l| l.object.name().len())
        .max()
        .unwrap_or(6);
    println!(
        "{}",
        ctx.paint(
            Style::Bold,
            &format!("plan for {} (spec: {})", plan.device, ctx.spec_label()),
        )
    );
    for l in &plan.lines {
        // What is kept is dimmed so that the changes stand out.
        let reason = if l.action == Action::Keep {
            ctx.paint(Style::Dim, &l.reason)
        } else {
            l.reason_and_fix()
        };
        println!(
            "  {}  {:<w$}  {reason}",
            paint_action(ctx, l.action),
            l.object
        );
    }
    for b in &plan.busy {
        println!(
            "{}",
            ctx.paint(
                Style::Warning,
                &format!("busy: {b} (apply refuses to write while it is)")
            )
        );
    }
    let count = |a: Action| plan.lines.iter().filter(|l| l.action == a).count();
    println!(
        "{} create, {} format, {} keep, {} DESTROY, {} refuse, {} unverified; {} step(s)",
        count(Action::Create),
        count(Action::Format),
        count(Action::Keep),
        count(Action::Destroy),
        count(Action::Refuse),
        count(Action::Unverified),
        plan.steps.len()
    );
}

/// The terminal side of the session: the plan and the progress bar.
pub(super) struct Front<'a> {
    ctx: &'a Ctx,
    bar: Option<indicatif::ProgressBar>,
}

impl<'a> Front<'a> {
    pub(super) fn new(ctx: &'a Ctx) -> Front<'a> {
        let bar = (!ctx.json && std::io::stderr().is_terminal()).then(|| {
            let b = indicatif::ProgressBar::new(0);
            if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            {
                b.set_style(style);
            }
            b
        });
        Front { ctx, bar }
    }
}

impl Progress for Front<'_> {
    fn step(&mut self, index: usize, total: usize, step: &Step) {
        if let Some(b) = &self.bar {
            b.set_length(total as u64);
            b.set_position(index as u64);
            b.set_message(step.describe());
        } else {
            eprintln!("[{}/{total}] {}", index + 1, step.describe());
        }
    }
    fn skipped(&mut self, index: usize, total: usize, step: &Step, why: &str) {
        let msg = format!("{}: skipped ({why})", step.describe());
        if let Some(b) = &self.bar {
            b.set_length(total as u64);
            b.set_position(index as u64);
            b.set_message(msg);
        } else {
            eprintln!("[{}/{total}] {msg}", index + 1);
        }
    }
    fn finish(&mut self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl View for Front<'_> {
    fn refused(&mut self, plan: &Plan) {
        if self.ctx.json {
            if let Err(e) = self.ctx.print_json(plan) {
                tracing::warn!("{e}");
            }
        } else {
            print_plan(self.ctx, plan);
        }
    }
    fn planned(&mut self, plan: &Plan) {
        if !self.ctx.json {
            print_plan(self.ctx, plan);
        }
    }
    fn note(&mut self, msg: &str) {
        eprintln!("{msg}");
    }
}

pub(super) fn print_report(ctx: &Ctx, r: &Report) -> anyhow::Result<()> {
    if ctx.json {
        return ctx.print_json(&r.json());
    }
    let done = if r.after.is_none() {
        "no step left to run".to_owned()
    } else {
        format!("applied {} step(s)", r.ran.len())
    };
    if !r.unverified.is_empty() {
        print_unverified(ctx, &done, &r.unverified);
    } else if r.after.is_none() {
        println!(
            "{}",
            ctx.paint(Style::Ok, "nothing to do: the disk matches the spec")
        );
    } else {
        println!(
            "{}",
            ctx.paint(
                Style::Ok,
                &format!("{done}; read back: the disk matches the spec")
            )
        );
    }
    Ok(())
}

/// What an apply that could not see inside the container says instead of
/// "the disk matches the spec".
pub(super) fn print_unverified(ctx: &Ctx, done: &str, left: &[String]) {
    println!(
        "{}",
        ctx.paint(
            Style::Warning,
            &format!(
                "{done}; NOT verified: {} object(s) inside the container stay unchecked (the container was not opened: --no-open or no device-mapper):",
                left.len()
            )
        )
    );
    for l in left {
        println!("  {l}");
    }
    println!("run apply where device-mapper works, without --no-open, to create and check them (exit {})", exit::UNVERIFIED);
}

pub(super) fn print_mounted(ctx: &Ctx, mounted: &[dmount::Mounted]) {
    if ctx.json {
        return;
    }
    for m in mounted {
        println!(
            "{} {} on {} ({}{})",
            if m.existed { "kept   " } else { "mounted" },
            m.source,
            m.target,
            m.fstype,
            if m.options.is_empty() {
                String::new()
            } else {
                format!(", {}", m.options)
            }
        );
    }
}

pub(super) fn print_unmounted(ctx: &Ctx, done: &dmount::Unmounted, detached: &[String]) {
    for u in &done.unmounted {
        println!("unmounted {u}");
    }
    if let Some(c) = &done.closed {
        println!("closed {c}");
    }
    for d in detached {
        println!("detached {d}");
    }
    for l in &done.left {
        println!(
            "{}",
            ctx.paint(
                Style::Warning,
                &format!(
                    "left mounted: {} ({} {}): {}",
                    l.target, l.fstype, l.source, l.why
                )
            )
        );
    }
}

pub(super) fn print_keyfile(outcome: &dkeyfile::Outcome, op: &dkeyfile::Op) {
    println!("{}", outcome.summary(op));
}
