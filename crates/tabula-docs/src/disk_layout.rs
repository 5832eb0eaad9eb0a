//! # DISK_LAYOUT.md: partitions, the LUKS container and the pool
//!
//! Every number here comes from `HostSpec::extents()` (the same arithmetic
//! `plan` and `apply` use), so the page and the disk cannot disagree.

use std::fmt::Write as _;

use tabula_spec::model::Btrfs;
use tabula_spec::HostSpec;

use crate::facts;
use crate::md::{self, code, text, Table};

pub fn render(spec: &HostSpec) -> String {
    let mut s = crate::preamble(spec, "Disk layout");
    let _ = writeln!(
        s,
        "The disk {} holds {} in a GPT, aligned to 1 MiB. Sizes are binary (1 GiB = 2³⁰ bytes); offsets are exact in MiB.\n",
        code(&facts::disk_device(spec)),
        text(&format!(
            "{} ({} bytes)",
            spec.disk.size.human(),
            facts::group(spec.disk.size.as_u64())
        )),
    );
    s.push_str(
        "![The disk drawn to scale: each partition a block proportional to its size](disk.svg)\n\n",
    );
    s.push_str(&partitions(spec));
    s.push_str(&luks(spec));
    s.push_str(&pool(spec));
    s.push_str(&crate::related());
    s
}

fn partitions(spec: &HostSpec) -> String {
    let mut s = md::heading(2, "Partitions");
    s.push_str(&partition_table(spec).render());
    s.push_str(&partition_notes(spec));
    s
}

/// One row per partition, in spec order.
fn partition_table(spec: &HostSpec) -> Table {
    let mut t = Table::new(&[
        "No.",
        "Device",
        "Label",
        "Start",
        "Size",
        "Declared",
        "Type",
        "Owner",
        "Filesystem",
        "UUID",
        "Mounted at",
    ]);
    for p in facts::parts(spec) {
        let part = p.part;
        let (start, size) = match p.extent {
            Some(e) => (
                facts::mib(e.start),
                format!("{} ({})", facts::human(e.size), facts::mib(e.size)),
            ),
            None => ("—".to_owned(), "does not fit on the disk".to_owned()),
        };
        let mounts: Vec<String> = facts::mounts_of_partition(spec, &part.label)
            .iter()
            .map(|m| code(m.path.as_str()))
            .collect();
        let mut owner = text(&facts::owner(part));
        if part.owner.is_nixos() && !part.format {
            owner.push_str(", never formatted");
        }
        t.row([
            part.number.to_string(),
            code(&facts::device(spec, part)),
            text(&part.label),
            start,
            size,
            text(&facts::declared(part)),
            code(part.kind.name()),
            owner,
            text(&facts::filesystem(spec, part)),
            facts::uuid(spec, part)
                .map(|u| code(&u))
                .unwrap_or_else(|| "—".to_owned()),
            if mounts.is_empty() {
                "—".to_owned()
            } else {
                mounts.join(", ")
            },
        ]);
    }
    t
}

/// Free space, what is never formatted, and what /boot holds.
fn partition_notes(spec: &HostSpec) -> String {
    let mut s = String::new();
    let gaps = facts::gaps(spec);
    if gaps.is_empty() {
        s.push_str("Unpartitioned: the first 1 MiB (protective MBR and GPT) and the backup GPT at the end.\n\n");
    } else {
        let g: Vec<String> = gaps
            .iter()
            .map(|g| {
                format!(
                    "{} ({}) from {}",
                    facts::human(g.size),
                    facts::mib(g.size),
                    facts::mib(g.start)
                )
            })
            .collect();
        let _ = writeln!(
            s,
            "Free space: {}; besides the first 1 MiB (protective MBR and GPT) and the backup GPT at the end.\n",
            g.join(", ")
        );
    }
    let foreign: Vec<String> = spec
        .partitions
        .iter()
        .filter(|p| !p.owner.is_nixos() || !p.format)
        .map(|p| format!("{} ({})", code(&facts::device(spec, p)), text(&p.label)))
        .collect();
    if !foreign.is_empty() {
        let _ = writeln!(
            s,
            "tabula never formats {}: foreign systems and shared partitions are verified and kept.\n",
            foreign.join(", ")
        );
    }
    if let (tabula_spec::model::Loader::Grub, Some(n)) = (spec.boot.loader, spec.boot_generations())
    {
        let _ = writeln!(
            s,
            "{} holds the kernels: GRUB copies every generation's kernel and initrd there, one copy per distinct kernel or initrd (about {} MB each, an estimate rather than a measurement: a 12-15 MB Surface kernel plus a 15-45 MB systemd initrd with LUKS, btrfs and USB modules; counted as if every generation changed both), so the flake sets {} to {n}. Older generations leave the menu; a larger {} keeps more.\n",
            code("/boot"),
            tabula_spec::model::BOOT_PER_GENERATION / 1_000_000,
            code("boot.loader.grub.configurationLimit"),
            code("/boot")
        );
    }
    s
}

fn luks(spec: &HostSpec) -> String {
    let (Some(l), Some(part)) = (&spec.luks, facts::luks_part(spec)) else {
        return String::new();
    };
    let mut s = md::heading(2, "The LUKS container");
    let mut t = Table::new(&["Property", "Value"]);
    t.row(["Partition".to_owned(), code(&facts::device(spec, part))]);
    t.row(["Format".to_owned(), "LUKS2".to_owned()]);
    t.row(["UUID".to_owned(), code(&l.uuid)]);
    t.row([
        "Opened as".to_owned(),
        code(&format!("/dev/mapper/{}", l.name)),
    ]);
    t.row(["Key derivation".to_owned(), code(l.kdf.name())]);
    if let Some(i) = l.pbkdf_iterations {
        t.row(["PBKDF iterations".to_owned(), i.to_string()]);
    }
    if let Some(m) = l.pbkdf_memory_kib {
        t.row(["PBKDF memory".to_owned(), format!("{m} KiB")]);
    }
    if let Some(ms) = l.pbkdf_time_ms {
        t.row(["PBKDF time".to_owned(), format!("{ms} ms")]);
    }
    t.row([
        "Discards (TRIM)".to_owned(),
        if l.allow_discards {
            "allowed"
        } else {
            "not allowed"
        }
        .to_owned(),
    ]);
    match &l.keyfile {
        Some(k) => {
            t.row([
                "Keyfile".to_owned(),
                format!(
                    "{} on the USB stick with filesystem UUID {} ({})",
                    code(k.path.as_str()),
                    code(&k.fs_uuid),
                    text(k.fs_type.name())
                ),
            ]);
            t.row([
                "Waits for the stick".to_owned(),
                k.timeout
                    .map(|t| format!("{t} s"))
                    .unwrap_or_else(|| "the default time".to_owned()),
            ]);
            t.row([
                "Password fallback".to_owned(),
                if k.password_fallback {
                    "yes: asked for when the stick is missing".to_owned()
                } else {
                    "no: the stick is required".to_owned()
                },
            ]);
        }
        None => {
            t.row(["Unlock".to_owned(), "password only".to_owned()]);
        }
    }
    s.push_str(&t.render());
    s
}

fn pool(spec: &HostSpec) -> String {
    let Some(b) = &spec.btrfs else {
        return String::new();
    };
    let mut s = md::heading(2, "The btrfs pool");
    s.push_str(&pool_table(spec, b).render());
    s.push_str(&md::heading(3, "Subvolumes"));
    s.push_str(&subvolume_table(spec, b).render());
    let (lo, hi) = facts::estimate_total(spec);
    if let Some(size) = facts::pool_size(spec) {
        if hi > 0 {
            let _ = writeln!(
                s,
                "The estimates add up to {}–{} of the pool's {}.\n",
                facts::human(lo),
                facts::human(hi),
                facts::human(size)
            );
        }
    }
    s.push_str(
        "![The pool's subvolume tree with mount points and size estimates](subvolumes.svg)\n\n",
    );
    s
}

/// The pool's device, size, label, UUID, compression and options.
fn pool_table(spec: &HostSpec, b: &Btrfs) -> Table {
    let mut t = Table::new(&["Property", "Value"]);
    t.row(["Device".to_owned(), code(&facts::pool_device(spec))]);
    if let Some(size) = facts::pool_size(spec) {
        t.row([
            "Size".to_owned(),
            format!(
                "{} ({}){}",
                facts::human(size),
                facts::mib(size),
                if spec.luks.is_some() {
                    format!(
                        ": the partition less the {} LUKS2 header",
                        facts::mib(tabula_spec::model::LUKS2_HEADER)
                    )
                } else {
                    String::new()
                }
            ),
        ]);
    }
    if let Some(l) = &b.label {
        t.row(["Label".to_owned(), code(l)]);
    }
    t.row([
        "UUID".to_owned(),
        b.uuid
            .as_deref()
            .map(code)
            .unwrap_or_else(|| "assigned by mkfs.btrfs".to_owned()),
    ]);
    t.row([
        "Compression".to_owned(),
        b.compression
            .as_deref()
            .map(code)
            .unwrap_or_else(|| "none".to_owned()),
    ]);
    t.row([
        "Mount options".to_owned(),
        if b.mount_options.is_empty() {
            "—".to_owned()
        } else {
            code(&b.mount_options.join(","))
        },
    ]);
    t
}

/// One row per subvolume, in tree order.
fn subvolume_table(spec: &HostSpec, b: &Btrfs) -> Table {
    let mut t = Table::new(&["Subvolume", "Mounted at", "Estimate", "Mount options"]);
    for n in facts::tree(spec) {
        let mounts = facts::mounts_of_subvolume(spec, n.path);
        t.row([
            code(n.path),
            if mounts.is_empty() {
                "—".to_owned()
            } else {
                mounts
                    .iter()
                    .map(|m| code(m.path.as_str()))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            n.estimate
                .map(|e| text(&e.to_string()))
                .unwrap_or_else(|| "—".to_owned()),
            // A group such as @system is never mounted: no options to show.
            if mounts.is_empty() {
                "—".to_owned()
            } else {
                code(&b.subvolume_options(n.path).join(","))
            },
        ]);
    }
    t
}
