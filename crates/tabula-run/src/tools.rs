//! # Where a missing program comes from
//!
//! One table maps each external program tabula runs to the package that
//! ships it on Debian and its attribute in nixpkgs, so a missing-tool error
//! (exit 4) tells a Debian user what to `apt install` and a NixOS user what
//! to `nix shell`.

/// One program and where to get it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tool {
    /// The program's name on `PATH`.
    pub program: &'static str,
    /// The Debian package that ships it.
    pub debian: &'static str,
    /// Its nixpkgs attribute (`nix shell nixpkgs#ATTR`).
    pub nixpkgs: &'static str,
}

impl Tool {
    /// The hint a missing-tool error shows: "Debian package fdisk; on NixOS:
    /// nix shell nixpkgs#util-linux".
    pub fn hint(&self) -> String {
        format!(
            "Debian package {}; on NixOS: nix shell nixpkgs#{}",
            self.debian, self.nixpkgs
        )
    }
}

const fn t(program: &'static str, debian: &'static str, nixpkgs: &'static str) -> Tool {
    Tool {
        program,
        debian,
        nixpkgs,
    }
}

/// Every program tabula runs that a system may lack.
pub const TOOLS: &[Tool] = &[
    t("sfdisk", "fdisk", "util-linux"),
    t("sgdisk", "gdisk", "gptfdisk"),
    t("blkid", "util-linux", "util-linux"),
    t("blockdev", "util-linux", "util-linux"),
    t("partx", "util-linux", "util-linux"),
    t("wipefs", "util-linux", "util-linux"),
    t("losetup", "mount", "util-linux"),
    t("mount", "mount", "util-linux"),
    t("umount", "mount", "util-linux"),
    t("mkswap", "util-linux", "util-linux"),
    t("mkfs.vfat", "dosfstools", "dosfstools"),
    t("mkfs.ext4", "e2fsprogs", "e2fsprogs"),
    t("mkfs.btrfs", "btrfs-progs", "btrfs-progs"),
    t("btrfs", "btrfs-progs", "btrfs-progs"),
    t("debugfs", "e2fsprogs", "e2fsprogs"),
    t("mdir", "mtools", "mtools"),
    t("cryptsetup", "cryptsetup-bin", "cryptsetup"),
    t("nix", "nix-bin", "nix"),
    t("nix-store", "nix-bin", "nix"),
    t("nix-env", "nix-bin", "nix"),
];

/// The table's row for `program` (a bare name or a path to it).
pub fn lookup(program: &str) -> Option<&'static Tool> {
    let name = program.rsplit('/').next().unwrap_or(program);
    TOOLS.iter().find(|t| t.program == name)
}

/// The install hint for `program`, when the table knows it.
pub fn hint(program: &str) -> Option<String> {
    lookup(program).map(Tool::hint)
}

/// How to install several missing programs at once, each package named
/// once: "Debian: apt install fdisk gdisk; NixOS: nix shell
/// nixpkgs#util-linux nixpkgs#gptfdisk". Programs the table does not know
/// are left out; `None` when it knows none of them.
pub fn install_line<'a>(programs: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut debian: Vec<&str> = Vec::new();
    let mut nix: Vec<&str> = Vec::new();
    for tool in programs.into_iter().filter_map(lookup) {
        if !debian.contains(&tool.debian) {
            debian.push(tool.debian);
        }
        if !nix.contains(&tool.nixpkgs) {
            nix.push(tool.nixpkgs);
        }
    }
    if debian.is_empty() {
        return None;
    }
    let attrs: Vec<String> = nix.iter().map(|a| format!("nixpkgs#{a}")).collect();
    Some(format!(
        "Debian: apt install {}; NixOS: nix shell {}",
        debian.join(" "),
        attrs.join(" ")
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn hints_name_the_debian_package_and_the_nixpkgs_attribute() {
        assert_eq!(
            hint("cryptsetup").unwrap(),
            "Debian package cryptsetup-bin; on NixOS: nix shell nixpkgs#cryptsetup"
        );
        assert_eq!(lookup("/usr/sbin/sgdisk").unwrap().nixpkgs, "gptfdisk");
        assert!(hint("tabula-no-such-program-xyz").is_none());
    }

    #[test]
    fn install_line_names_each_package_once() {
        assert_eq!(
            install_line(["sfdisk", "sgdisk", "blkid", "wipefs", "frobnicate"]).unwrap(),
            "Debian: apt install fdisk gdisk util-linux; \
             NixOS: nix shell nixpkgs#util-linux nixpkgs#gptfdisk"
        );
        assert!(install_line(["frobnicate"]).is_none());
    }

    #[test]
    fn every_program_is_listed_once() {
        let mut names: Vec<_> = TOOLS.iter().map(|t| t.program).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TOOLS.len());
    }
}
