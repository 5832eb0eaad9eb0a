//! # What each runtime isolates, and what it costs
//!
//! The spec says which runtimes the host enables; what a runtime *is* (its
//! kernel, filesystem and network isolation, its overhead, the question of
//! the decision tree that leads to it, where it keeps its data) is a fact
//! about the runtime, the same on every host. Those facts live here as a
//! typed table, keyed by [`Zone`], from the architecture document's runtime
//! comparison; only the zones a spec enables are rendered.

use tabula_spec::HostSpec;

/// A security zone, from the least to the most isolated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Zone {
    Host,
    NixNative,
    Distrobox,
    Flatpak,
    Podman,
    Microvm,
}

impl Zone {
    pub const ALL: [Zone; 6] = [
        Zone::Host,
        Zone::NixNative,
        Zone::Distrobox,
        Zone::Flatpak,
        Zone::Podman,
        Zone::Microvm,
    ];

    /// Whether the spec enables this zone. The host and Nix native always
    /// exist on NixOS; the others are switched on in `[containers]`.
    pub fn enabled(self, spec: &HostSpec) -> bool {
        let c = &spec.containers;
        match self {
            Zone::Host | Zone::NixNative => true,
            Zone::Distrobox => c.distrobox.as_ref().is_some_and(|d| d.enable),
            Zone::Flatpak => c.flatpak.as_ref().is_some_and(|f| f.enable),
            Zone::Podman => c.podman.as_ref().is_some_and(|p| p.enable),
            Zone::Microvm => c.microvm.as_ref().is_some_and(|m| m.enable),
        }
    }

    /// The zones the spec enables, least isolated first.
    pub fn enabled_in(spec: &HostSpec) -> Vec<Zone> {
        Zone::ALL.into_iter().filter(|z| z.enabled(spec)).collect()
    }

    pub fn facts(self) -> &'static Facts {
        match self {
            Zone::Host => &HOST,
            Zone::NixNative => &NIX_NATIVE,
            Zone::Distrobox => &DISTROBOX,
            Zone::Flatpak => &FLATPAK,
            Zone::Podman => &PODMAN,
            Zone::Microvm => &MICROVM,
        }
    }
}

/// Whose kernel a workload runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// It is the kernel.
    Own,
    Shared,
    Isolated,
}

/// What of the host's files a workload sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Files {
    Full,
    /// The user's home, mounted in.
    Home,
    /// Only what the user grants through a portal.
    Portal,
    /// Only the volumes given to it.
    Volume,
    Isolated,
}

/// What of the network a workload reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Net {
    Full,
    /// Per-app permissions (Flatpak's `--share=network`).
    Restricted,
    /// Its own namespace or virtual NIC; ports published explicitly.
    Isolated,
}

impl Kernel {
    pub fn label(self) -> &'static str {
        match self {
            Kernel::Own => "Host kernel",
            Kernel::Shared => "Shared",
            Kernel::Isolated => "Isolated",
        }
    }
}

impl Files {
    pub fn label(self) -> &'static str {
        match self {
            Files::Full => "Full",
            Files::Home => "$HOME",
            Files::Portal => "Portal",
            Files::Volume => "Volume",
            Files::Isolated => "Isolated",
        }
    }
}

impl Net {
    pub fn label(self) -> &'static str {
        match self {
            Net::Full => "Full",
            Net::Restricted => "Restricted",
            Net::Isolated => "Isolated",
        }
    }
}

/// Where a runtime keeps data: a system path, or one under each user's home.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataPath {
    System(&'static str),
    Home(&'static str),
}

/// One runtime's row of the comparison.
#[derive(Debug)]
pub struct Facts {
    pub zone: Zone,
    pub name: &'static str,
    pub kernel: Kernel,
    pub files: Files,
    pub net: Net,
    /// CPU/memory overhead against running natively.
    pub overhead: &'static str,
    pub use_case: &'static str,
    /// What the isolation costs beyond overhead.
    pub cost: &'static str,
    /// The decision tree's question (None for the host itself).
    pub question: Option<&'static str>,
    /// What the zone is made of, in one sentence.
    pub mechanism: &'static str,
    pub data: &'static [DataPath],
}

static HOST: Facts = Facts {
    zone: Zone::Host,
    name: "Host (NixOS)",
    kernel: Kernel::Own,
    files: Files::Full,
    net: Net::Full,
    overhead: "0%",
    use_case: "The system itself: boot, services, the desktop",
    cost: "None; everything it runs is trusted with the whole machine",
    question: None,
    mechanism: "The NixOS system built from the flake; systemd services run here",
    data: &[],
};

static NIX_NATIVE: Facts = Facts {
    zone: Zone::NixNative,
    name: "Nix native",
    kernel: Kernel::Shared,
    files: Files::Full,
    net: Net::Full,
    overhead: "0%",
    use_case: "CLI tools",
    cost: "No isolation: a package runs with the user's rights",
    question: Some("Is it a CLI tool or system utility?"),
    mechanism: "Packages from nixpkgs in the system profile, read-only in /nix/store",
    data: &[],
};

static DISTROBOX: Facts = Facts {
    zone: Zone::Distrobox,
    name: "Distrobox",
    kernel: Kernel::Shared,
    files: Files::Home,
    net: Net::Full,
    overhead: "~1%",
    use_case: "Dev environments",
    cost: "Shares $HOME and the network: convenience, not a security boundary",
    question: Some("Is it a development environment (compiler, interpreter)?"),
    mechanism: "A mutable distribution userland in a Podman container, sharing $HOME",
    data: &[DataPath::Home(".local/share/containers")],
};

static FLATPAK: Facts = Facts {
    zone: Zone::Flatpak,
    name: "Flatpak",
    kernel: Kernel::Shared,
    files: Files::Portal,
    net: Net::Restricted,
    overhead: "~2%",
    use_case: "GUI apps",
    cost: "Runtimes take disk space; files only through portals",
    question: Some("Is it a GUI application (browser, chat, office)?"),
    mechanism: "bubblewrap sandbox with per-app permissions and desktop portals",
    data: &[
        DataPath::System("/var/lib/flatpak"),
        DataPath::Home(".var/app"),
    ],
};

static PODMAN: Facts = Facts {
    zone: Zone::Podman,
    name: "Podman",
    kernel: Kernel::Shared,
    files: Files::Volume,
    net: Net::Isolated,
    overhead: "~2%",
    use_case: "Services",
    cost: "Images and volumes take disk space; ports must be published",
    question: Some("Is it a long-running service (database, web server)?"),
    mechanism: "OCI containers in their own namespaces, rootless when configured",
    data: &[
        DataPath::System("/var/lib/containers"),
        DataPath::Home(".local/share/containers"),
    ],
};

static MICROVM: Facts = Facts {
    zone: Zone::Microvm,
    name: "microvm.nix",
    kernel: Kernel::Isolated,
    files: Files::Isolated,
    net: Net::Isolated,
    overhead: "~5-10%",
    use_case: "Untrusted",
    cost: "Its own kernel and memory; slower to start",
    question: Some("Is it untrusted code or CI/CD workload?"),
    mechanism: "A lightweight VM with its own kernel, declared in Nix",
    data: &[DataPath::System("/var/lib/microvms")],
};
