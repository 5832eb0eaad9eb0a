//! # boot.nix: systemd stage 1 and the boot loader with the foreign systems
//!
//! GRUB EFI (`device = "nodev"`, the ESP at its mount point) gets one
//! chain-load `menuentry` per foreign system. rEFInd is rendered only for a
//! release whose nixpkgs has a `boot.loader.refind` module; otherwise GRUB
//! is rendered and a comment says why.

use tabula_spec::model::{FsType, Loader, PartType};
use tabula_spec::KeyPath;

use super::{header, Ctx};
use crate::escape::grub_word;
use crate::nix::{self, s, AttrsBuilder, Expr};
use crate::RenderError;

/// The ESP's mount point: the mount of the `esp` partition, else /boot.
fn esp_mount(cx: &Ctx) -> String {
    let esp = cx.spec.partitions.iter().find(|p| p.kind == PartType::Esp);
    esp.and_then(|p| {
        cx.spec.mounts.iter().find(|m| {
            matches!(&m.source, tabula_spec::model::MountSource::Partition { partition } if *partition == p.label)
        })
    })
    .map(|m| m.path.as_str().to_owned())
    .unwrap_or_else(|| "/boot".into())
}

/// The ESP's vfat UUID, for GRUB's `search --fs-uuid`.
fn esp_uuid(cx: &Ctx) -> Option<String> {
    cx.spec
        .partitions
        .iter()
        .find(|p| p.kind == PartType::Esp)
        .and_then(|p| p.filesystem.as_ref())
        .filter(|f| f.kind == FsType::Vfat)
        .and_then(|f| f.uuid.clone())
}

fn no_line_breaks(at: KeyPath, v: &str, context: &'static str) -> Result<(), RenderError> {
    if v.chars().any(|c| c.is_control()) {
        return Err(RenderError::bad(
            at,
            v,
            context,
            "a boot menu line cannot hold a line break or control character",
        ));
    }
    Ok(())
}

/// GRUB `menuentry` blocks that chain-load each foreign system's EFI loader.
pub(crate) fn grub_entries(cx: &Ctx) -> Result<String, RenderError> {
    let mut out = String::new();
    let uuid = esp_uuid(cx);
    for (i, e) in cx.spec.boot.entries.iter().enumerate() {
        let at = KeyPath::root().key("boot").index("entry", i);
        no_line_breaks(at.key("name"), &e.name, "a GRUB menu entry title")?;
        no_line_breaks(at.key("efi"), &e.efi, "a GRUB chain-loader path")?;
        out.push_str(&format!("menuentry {} {{\n", grub_word(&e.name)));
        out.push_str("  insmod part_gpt\n  insmod fat\n  insmod chain\n");
        match &uuid {
            Some(u) => out.push_str(&format!(
                "  search --no-floppy --fs-uuid --set=root {}\n",
                grub_word(u)
            )),
            None => out.push_str(&format!(
                "  search --no-floppy --file --set=root {}\n",
                grub_word(&e.efi)
            )),
        }
        out.push_str(&format!("  chainloader {}\n}}\n", grub_word(&e.efi)));
    }
    Ok(out)
}

/// rEFInd `menuentry` stanzas (its tokenizer has no escape for `"`).
fn refind_entries(cx: &Ctx) -> Result<String, RenderError> {
    let mut out = String::new();
    for (i, e) in cx.spec.boot.entries.iter().enumerate() {
        let at = KeyPath::root().key("boot").index("entry", i);
        for (key, v) in [("name", &e.name), ("efi", &e.efi)] {
            no_line_breaks(at.key(key), v, "a rEFInd menu entry")?;
            if v.contains('"') {
                return Err(RenderError::bad(
                    at.key(key),
                    v,
                    "a rEFInd menu entry",
                    "rEFInd cannot quote a `\"`",
                ));
            }
        }
        out.push_str(&format!(
            "menuentry \"{}\" {{\n  loader \"{}\"\n}}\n",
            e.name, e.efi
        ));
    }
    Ok(out)
}

pub(crate) fn boot(cx: &Ctx) -> Result<String, RenderError> {
    let spec = cx.spec;
    let mut b = AttrsBuilder::new();
    b.set(
        "boot.initrd.systemd.enable",
        Expr::Bool(spec.boot.initrd_systemd),
    );
    b.comment("systemd stage 1: crypttab unlocks the pool with the USB keyfile, else asks for the password");
    b.set("boot.loader.efi.canTouchEfiVariables", Expr::Bool(true));
    b.set("boot.loader.efi.efiSysMountPoint", s(esp_mount(cx)));
    let mut note = String::from("The boot loader.");
    let refind = spec.boot.loader == Loader::Refind && cx.names.has_refind;
    if spec.boot.loader == Loader::Refind && !cx.names.has_refind {
        note.push_str(&format!(
            "\nhost.toml asks for rEFInd, but NixOS {} has no rEFInd module: GRUB is rendered instead.",
            spec.host.release
        ));
    }
    if refind {
        b.set("boot.loader.grub.enable", Expr::Bool(false));
        b.set("boot.loader.refind.enable", Expr::Bool(true));
        let entries = refind_entries(cx)?;
        if !entries.is_empty() {
            b.set("boot.loader.refind.extraConfig", s(entries));
        }
    } else {
        b.set("boot.loader.grub.enable", Expr::Bool(true));
        b.set("boot.loader.grub.efiSupport", Expr::Bool(true));
        b.set("boot.loader.grub.device", s("nodev"));
        b.comment("EFI only: GRUB is installed on the ESP, not in a disk's boot sector");
        if let Some(n) = spec.boot_generations() {
            b.set(
                "boot.loader.grub.configurationLimit",
                Expr::Int(i64::try_from(n).unwrap_or(i64::MAX)),
            );
            b.comment(format!(
                "GRUB copies every generation's kernel and initrd to /boot: {n} fit (~{} MB each)",
                tabula_spec::model::BOOT_PER_GENERATION / 1_000_000
            ));
        }
        let entries = grub_entries(cx)?;
        if !entries.is_empty() {
            b.set("boot.loader.grub.extraEntries", s(entries));
            b.comment("chain-load the foreign systems from the ESP");
        }
    }
    Ok(nix::module(&header(spec, &note), &[], &[], b.build()))
}
