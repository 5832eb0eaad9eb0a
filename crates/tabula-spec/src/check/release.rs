//! The release: end of life, modules it lacks, state_version, the host name.

use super::*;

impl Checker<'_> {
    pub(super) fn release(&mut self, s: &HostSpec, today: Date) {
        let r = s.host.release;
        self.end_of_life(r, today);
        self.waydroid_nftables(s, r);
        self.boot_generations(s);
        self.surface_kernel(s);
        self.state_version(s, r);
        if s.boot.loader == Loader::Refind && !r.has("boot.loader.refind") {
            self.add(
                Code::ReleaseUnsupported,
                key("boot").key("loader"),
                format!(
                    "tabula renders rEFInd (boot.loader.refind) only from NixOS {}; {r} has no such module it can rely on",
                    first_with(r, "boot.loader.refind")
                ),
                Some(
                    "use loader = \"grub\" (it chain-loads the other systems) or a newer release"
                        .into(),
                ),
            );
        }
    }

    /// A release past its end of life, and the one to move to.
    fn end_of_life(&mut self, r: Release, today: Date) {
        let unconfirmed = |x: Release| {
            if x.eol_confirmed() {
                String::new()
            } else {
                " (by the usual cadence; not yet announced)".to_owned()
            }
        };
        if let Some(eol) = Date::parse(r.end_of_life()) {
            if today > eol {
                let supported = r
                    .siblings()
                    .into_iter()
                    .rfind(|x| Date::parse(x.end_of_life()).is_some_and(|d| d >= today));
                let newest = r.newest();
                let hint = match supported {
                    Some(x) => format!(
                        "set release = \"{x}\", the newest supported release (until {}{}); tabula renders the option names of each release. Keep state_version as it is",
                        x.end_of_life(),
                        unconfirmed(x)
                    ),
                    None if newest == r => "move to a supported NixOS release; tabula knows none newer".into(),
                    None => format!(
                        "every release tabula knows is past its end of life; {newest} is the newest (ended {})",
                        newest.end_of_life()
                    ),
                };
                self.add(
                    Code::ReleaseEol,
                    key("host").key("release"),
                    format!(
                        "NixOS {r} reached its end of life on {}: it gets no security updates",
                        r.end_of_life()
                    ),
                    Some(hint),
                );
            }
        }
    }

    /// state_version against the release: newer is an error, older is how it should be.
    fn state_version(&mut self, s: &HostSpec, r: Release) {
        let sv = s.host.state_version.as_str();
        if let Some(k) = crate::release::version_key(sv) {
            let rk = crate::release::version_key(r.as_str()).unwrap_or((0, 0));
            if k > rk {
                self.add(
                    Code::StateVersionNewer,
                    key("host").key("state_version"),
                    format!(
                        "state_version {sv} is newer than release {r}: the machine cannot have been installed with a NixOS that its nixpkgs does not have yet"
                    ),
                    Some(format!(
                        "set state_version to the release the machine was first installed with (at most {r}), or raise release"
                    )),
                );
            } else if k < rk {
                self.add(
                    Code::StateVersionOlder,
                    key("host").key("state_version"),
                    format!(
                        "state_version {sv} is older than release {r}: the machine was installed with {sv} and now follows nixpkgs {}. That is how it should be: `system.stateVersion` keeps the data formats of {sv} (databases, state directories) and must not follow the release",
                        r.branch()
                    ),
                    Some(
                        "nothing to do; change state_version only after reading every stateVersion note of the releases in between"
                            .into(),
                    ),
                );
            }
        }
    }

    /// Before 25.11 the nftables module blacklists `ip_tables` and
    /// `waydroid-net.sh` (iptables) fails: the Waydroid session never starts
    /// (waydroid/waydroid#2094). From 25.11 `virtualisation.waydroid.package`
    /// defaults to waydroid-nftables when nftables is on.
    pub(super) fn waydroid_nftables(&mut self, s: &HostSpec, r: Release) {
        if r.has("virtualisation.waydroid.package")
            || s.security.firewall.as_deref() != Some("nftables")
        {
            return;
        }
        let Some(d) = &s.desktop else { return };
        let Some(i) = d
            .sessions
            .iter()
            .position(|x| x.package.as_deref() == Some("waydroid"))
        else {
            return;
        };
        let first = first_with(r, "virtualisation.waydroid.package");
        self.add(
            Code::WaydroidNftables,
            key("desktop").index("session", i).key("package"),
            format!(
                "on NixOS {r} the nftables firewall blacklists ip_tables, so waydroid-net.sh fails and the Waydroid session never starts (waydroid/waydroid#2094)"
            ),
            Some(format!(
                "set release = \"{first}\" or newer (Waydroid then uses waydroid-nftables), or firewall = \"iptables\" in [security]"
            )),
        );
    }

    /// nixos-hardware's Surface profiles build linux-surface
    /// (`microsoft/surface/common/default.nix`): no binary cache has it.
    pub(super) fn surface_kernel(&mut self, s: &HostSpec) {
        let Some(p) = s.hardware.nixos_hardware.as_deref() else {
            return;
        };
        if !p.starts_with("microsoft-surface") {
            return;
        }
        let ram = s
            .host
            .ram
            .map(|r| format!(" on this machine's {}", r.human()))
            .unwrap_or_default();
        self.add(
            Code::KernelBuiltLocally,
            key("hardware").key("nixos_hardware"),
            format!(
                "the `{}` profile builds the patched linux-surface kernel, which no binary cache holds: the first build (and every kernel update) compiles a kernel, one to several hours{ram} with several GB free under /nix",
                crate::landing::shown(p)
            ),
            Some(
                "build on a faster machine with `nixos-rebuild switch --flake .#HOST --build-host USER@BUILDER`, or set hardware.microsoft-surface.kernelVersion / boot.kernelPackages in custom.nix to use the stock (cached) kernel at the cost of Surface-specific drivers"
                    .into(),
            ),
        );
    }

    /// GRUB keeps each generation's kernel and initrd on /boot.
    pub(super) fn boot_generations(&mut self, s: &HostSpec) {
        use crate::model::{BOOT_GENERATIONS_MIN, BOOT_PER_GENERATION, BOOT_RESERVE};
        if s.boot.loader != Loader::Grub {
            return;
        }
        let Some(n) = s.boot_generations() else {
            return;
        };
        if n >= BOOT_GENERATIONS_MIN {
            return;
        }
        let Some(MountSource::Partition { partition }) = s.mount("/boot").map(|m| &m.source) else {
            return;
        };
        let Some(p) = s.partition(partition) else {
            return;
        };
        let need = BOOT_RESERVE + BOOT_GENERATIONS_MIN * BOOT_PER_GENERATION;
        self.add(
            Code::BootTooSmall,
            KeyPath::root().index("partition", p.index).key("size"),
            format!(
                "/boot ({}) holds {n} generation(s): GRUB copies every generation's kernel and initrd there (~{} MB each, an estimate: a 12-15 MB kernel plus a 15-45 MB initrd), so there is none to roll back to",
                crate::landing::shown(&p.label),
                BOOT_PER_GENERATION / 1_000_000
            ),
            Some(format!(
                "make partition `{}` at least {} MB",
                crate::landing::shown(&p.label),
                need / 1_000_000
            )),
        );
    }

    pub(super) fn host(&mut self, s: &HostSpec) {
        let n = &s.host.name;
        let ok = !n.is_empty()
            && n.len() <= 63
            && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !n.starts_with('-')
            && !n.ends_with('-');
        if !ok {
            self.add(
                Code::HostnameInvalid,
                key("host").key("name"),
                format!("`{}` is not a valid host name", crate::landing::shown(n)),
                Some("use letters, digits and `-` (at most 63), e.g. \"surface-pro-8\"".into()),
            );
        }
    }
}
