//! The boot loader, its entries, foreign systems.

use super::*;

impl Checker<'_> {
    pub(super) fn boot(&mut self, s: &HostSpec) {
        if s.boot.loader == Loader::Refind {
            self.refind(s);
        }
        let owners: BTreeSet<&str> = s
            .partitions
            .iter()
            .filter_map(|p| match &p.owner {
                Owner::Foreign(o) => Some(o.as_str()),
                Owner::Nixos => None,
            })
            .collect();
        let reached = self.boot_entries(s, &owners);
        self.foreign_systems(s, &owners, &reached);
    }

    /// rEFInd's menu titles and the ESP it copies kernels to.
    fn refind(&mut self, s: &HostSpec) {
        for (i, e) in s.boot.entries.iter().enumerate() {
            if e.name.contains('"') {
                self.add(
                    Code::TextUnrepresentable,
                    KeyPath::root().key("boot").index("entry", i).key("name"),
                    "rEFInd menu titles cannot hold `\"`".into(),
                    Some("drop the quotes from the title".into()),
                );
            }
        }
        if let Some(esp) = s.partitions.iter().find(|p| p.kind == PartType::Esp) {
            if let PartSize::Fixed(size) = esp.size {
                if size.as_u64() < 500_000_000 {
                    self.add(
                        Code::EspTooSmall,
                        KeyPath::root().index("partition", esp.index).key("size"),
                        format!("rEFInd copies every generation's kernel and initrd to the ESP, which is only {size}"),
                        Some("use loader = \"grub\" (it reads kernels from /boot) or an ESP of 500MB or more".into()),
                    );
                }
            }
        }
    }

    /// Each boot entry's system, name and EFI path; the systems they reach.
    fn boot_entries<'s>(&mut self, s: &'s HostSpec, owners: &BTreeSet<&str>) -> BTreeSet<&'s str> {
        let mut reached = BTreeSet::new();
        for (i, e) in s.boot.entries.iter().enumerate() {
            let at = KeyPath::root().key("boot").index("entry", i);
            if !owners.contains(e.system.as_str()) {
                self.add(
                    Code::BootEntryInvalid,
                    at.key("system"),
                    format!(
                        "boot entry `{}` boots `{}`, which owns no partition",
                        e.name, e.system
                    ),
                    Some(format!(
                        "use one of: {}",
                        owners.iter().copied().collect::<Vec<_>>().join(", ")
                    )),
                );
            }
            reached.insert(e.system.as_str());
            if has_control(&e.name) || e.name.is_empty() {
                self.add(
                    Code::TextUnrepresentable,
                    at.key("name"),
                    "a boot entry's name is empty or holds control characters".into(),
                    None,
                );
            }
            let efi_ok = e.efi.starts_with('/')
                && !e.efi.contains(['\'', '"', ' ', '\\', '$', ';'])
                && !has_control(&e.efi)
                && !e.efi.split('/').any(|c| c == "..");
            if !efi_ok {
                self.add(
                    Code::BootEntryInvalid,
                    at.key("efi"),
                    format!(
                        "`{}` is not a plain EFI path on the ESP",
                        crate::landing::shown(&e.efi)
                    ),
                    Some("write it like \"/EFI/Microsoft/Boot/bootmgfw.efi\"".into()),
                );
            }
        }
        reached
    }

    /// Foreign systems without an entry, and a standalone host that shares its disk.
    fn foreign_systems(&mut self, s: &HostSpec, owners: &BTreeSet<&str>, reached: &BTreeSet<&str>) {
        let bootable = |o: &str| bootable(s, o);
        for o in owners {
            if bootable(o) && !reached.contains(o) {
                self.add(
                    Code::ForeignUnreachable,
                    KeyPath::root().key("boot"),
                    format!("`{o}` has a partition but no boot entry: it can only be started from the firmware's boot menu"),
                    Some(format!("add [[boot.entry]] with system = \"{o}\" and its EFI loader")),
                );
            }
        }
        let foreign: Vec<&str> = owners.iter().copied().filter(|o| bootable(o)).collect();
        if s.host.standalone && !foreign.is_empty() {
            let how = if s.boot.entries.is_empty() {
                "no boot entries are declared, so they are reached only through the firmware's boot menu".to_owned()
            } else {
                format!(
                    "they are reached through the {} menu: {}",
                    match s.boot.loader {
                        Loader::Grub => "GRUB",
                        Loader::Refind => "rEFInd",
                    },
                    s.boot
                        .entries
                        .iter()
                        .map(|e| e.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            self.add(
                Code::NotDualBoot,
                key("host").key("role"),
                format!(
                    "the host is \"primary (not dual-boot)\" yet {} other system{} share the disk ({}); NixOS owns the boot menu and {how}",
                    foreign.len(),
                    if foreign.len() == 1 { "" } else { "s" },
                    foreign.join(", ")
                ),
                None,
            );
        }
    }
}

/// Whether a foreign system owns a partition it can boot from.
fn bootable(s: &HostSpec, o: &str) -> bool {
    s.partitions.iter().any(|p| {
        p.owner.name() == o
            && matches!(
                p.kind,
                PartType::Linux | PartType::LinuxRoot | PartType::WindowsData
            )
    })
}
