//! # `import`: an existing disk read into a commented host.toml
//!
//! Thin over `tabula_import`: read each `--disk` read-only (an image through
//! a read-only loop device), draft the spec, print it or write it with
//! `--out` (atomically, never over a file without `--force`). Exit 1 when
//! something seen was left out, 0 when the spec describes all of it.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use serde::Serialize;
use tabula_disk::luks::Key;
use tabula_import::disk::{self, DiskFacts};
use tabula_import::LeftOut;

use crate::ctx::Ctx;
use crate::exit::{self, Refused};

const IMPORT_HELP: &str = "\
Never writes to a disk: an image is attached read-only, a LUKS container is
only opened with a key (--passphrase-file, --keyfile) and then --readonly.
Every value tabula had to guess carries a `# guessed:` comment; what it saw
but cannot describe (swap, LVM, mdadm, ZFS, a second disk, ...) is listed at
the top of the spec.

Exit codes: 0 everything seen is described, 1 something was left out,
3 refused (an MBR disk, an existing --out without --force).

Examples:
  tabula import --disk /dev/nvme0n1 --out host.toml
  tabula import --disk disk.img --passphrase-file pass --json
  tabula import --disk /dev/nvme0n1 --root / --out host.toml   on the running host
  tabula import --disk /dev/sda --root /mnt                     an installed system mounted at /mnt
  tabula import --disk X --out host.toml && tabula plan --spec host.toml --disk X";

/// Read an existing disk (read-only) into a commented host.toml
#[derive(Debug, Args)]
#[command(after_help = IMPORT_HELP)]
pub struct ImportArgs {
    /// A disk to read: a block device or an image file (repeatable; the
    /// first is the spec's [disk])
    #[arg(long, value_name = "PATH", required_unless_present = "root", value_parser = crate::ctx::disk_path)]
    pub disk: Vec<PathBuf>,
    /// A mounted or running system to read (mounts, tmpfs root,
    /// persistence, users, crypttab): `/` on the host itself, or where an
    /// installed system is mounted
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Write the spec to FILE (atomically) instead of stdout
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Overwrite an existing --out file
    #[arg(long, requires = "out")]
    pub force: bool,
    #[command(flatten)]
    pub key: KeyArgs,
}

/// The key that opens a LUKS container read-only (never on the command line).
#[derive(Debug, Args, Clone, Default)]
pub struct KeyArgs {
    /// Read the LUKS passphrase from FILE, to read the pool inside
    #[arg(long, value_name = "FILE", conflicts_with = "keyfile")]
    pub passphrase_file: Option<PathBuf>,
    /// Open the LUKS container with this keyfile, to read the pool inside
    #[arg(long, value_name = "FILE")]
    pub keyfile: Option<PathBuf>,
}

/// What `--json` reports.
#[derive(Debug, Serialize)]
pub struct ImportReport {
    /// The host.toml text.
    pub spec: String,
    /// Where it was written (`--out`), if anywhere.
    pub out: Option<PathBuf>,
    pub left_out: Vec<LeftOut>,
    /// How many values carry a `# guessed:` comment.
    pub guessed: usize,
    /// What was read of each disk.
    pub disks: Vec<DiskFacts>,
    /// What was read of `--root`.
    pub root: Option<tabula_audit::adopt::RootFacts>,
}

/// Read the disks and draft the spec: (toml, report without `out`).
pub fn draft(disks: &[PathBuf], key: &KeyArgs) -> anyhow::Result<ImportReport> {
    draft_with_root(disks, key, None)
}

/// As [`draft`], with what a mounted or running system at `root` shows
/// merged in (only what the disks did not already say).
pub fn draft_with_root(
    disks: &[PathBuf],
    key: &KeyArgs,
    root: Option<&Path>,
) -> anyhow::Result<ImportReport> {
    let key = match (&key.passphrase_file, &key.keyfile) {
        (Some(f), _) => Some(Key::Passphrase(
            tabula_disk::secret::from_file(f).map_err(super::disk::lift_pub)?,
        )),
        (None, Some(k)) => Some(Key::File(k.clone())),
        (None, None) => None,
    };
    let opts = disk::Options { key };
    let facts = disks
        .iter()
        .map(|p| {
            disk::read(p, &opts)
                .map_err(lift)
                .with_context(|| format!("reading {}", p.display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut d = if facts.is_empty() {
        let mut d = tabula_import::Draft::new();
        d.leave_out(
            "the disk layout (partitions, LUKS, the pool): no --disk was given",
            "run again with --disk DEVICE (the disk that holds this system)",
        );
        d
    } else {
        disk::draft(&facts).map_err(lift)?
    };
    let root_facts = match root {
        Some(r) => {
            let f = tabula_audit::adopt::read_root_live(r).map_err(|e| match e {
                tabula_audit::adopt::AdoptError::Root { .. } => {
                    anyhow::Error::from(exit::Usage(format!("--root {}: {e}", r.display())))
                }
                other => anyhow::Error::from(other),
            })?;
            d.sources.push(format!("the system at {}", r.display()));
            for l in &f.left_out {
                d.leave_out(l.what.clone(), l.fix.clone());
            }
            Some(f)
        }
        None => None,
    };
    let spec = match &root_facts {
        Some(f) => d.to_toml_with(|doc| f.write_into(doc)),
        None => d.to_toml(),
    };
    Ok(ImportReport {
        guessed: spec.matches("# guessed:").count(),
        spec,
        out: None,
        left_out: d.left_out.clone(),
        disks: facts,
        root: root_facts,
    })
}

fn lift(e: tabula_import::Error) -> anyhow::Error {
    match e {
        tabula_import::Error::Disk(d) => super::disk::lift_pub(d),
        tabula_import::Error::Refused(m) => Refused(m).into(),
        other => other.into(),
    }
}

/// The exit code of an import: 1 when something was left out.
pub fn code(r: &ImportReport) -> u8 {
    if r.left_out.is_empty() {
        exit::OK
    } else {
        exit::FINDINGS
    }
}

pub fn import(a: &ImportArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    let mut r = draft_with_root(&a.disk, &a.key, a.root.as_deref())?;
    if let Some(out) = &a.out {
        super::spec::refuse_existing(out, a.force)?;
        super::spec::write_spec(out, &r.spec, a.force)?;
        r.out = Some(out.clone());
    }
    if ctx.json {
        ctx.print_json(&r)?;
    } else if let Some(out) = &r.out {
        eprintln!(
            "wrote {} ({} value(s) guessed, {} thing(s) left out){}",
            out.display(),
            r.guessed,
            r.left_out.len(),
            if r.left_out.is_empty() {
                String::new()
            } else {
                format!(
                    ":\n{}",
                    r.left_out
                        .iter()
                        .map(|l| format!("  - {}\n    to do: {}", l.what, l.todo))
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            }
        );
    } else {
        print!("{}", r.spec);
    }
    Ok(code(&r))
}
