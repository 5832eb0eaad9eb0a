//! # Where should software run? The document's container decision tree
//!
//! Pure: [`decide`] walks the tree for a kind of software and returns the
//! runtime, the row of the document's comparison table that says why, and
//! the change to host.toml ([`SpecChange`]); tabula-spec's
//! [`tabula_spec::edit::apply`] makes that change in the file's text.

use serde::Serialize;

/// host.toml is tabula-spec's: the change a placement implies, and its
/// edit of the file's text, live in [`tabula_spec::edit`].
pub use tabula_spec::edit::{apply, Applied, SpecChange};

/// The kinds of software the tree tells apart, in the tree's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Cli,
    Dev,
    Gui,
    Service,
    Untrusted,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Cli,
        Kind::Dev,
        Kind::Gui,
        Kind::Service,
        Kind::Untrusted,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Cli => "cli",
            Kind::Dev => "dev",
            Kind::Gui => "gui",
            Kind::Service => "service",
            Kind::Untrusted => "untrusted",
        }
    }

    /// The tree's question for this branch, as the document asks it.
    pub fn question(self) -> &'static str {
        match self {
            Kind::Cli => "Is it a CLI tool or system utility?",
            Kind::Dev => "Is it a development environment (compiler, interpreter)?",
            Kind::Gui => "Is it a GUI application (browser, chat, office)?",
            Kind::Service => "Is it a long-running service (database, web server)?",
            Kind::Untrusted => "Is it untrusted code or CI/CD workload?",
        }
    }

    pub fn runtime(self) -> Runtime {
        match self {
            Kind::Cli => Runtime::NixNative,
            Kind::Dev => Runtime::Distrobox,
            Kind::Gui => Runtime::Flatpak,
            Kind::Service => Runtime::Podman,
            Kind::Untrusted => Runtime::Microvm,
        }
    }
}

/// The runtimes of the document's comparison table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Runtime {
    NixNative,
    Distrobox,
    Flatpak,
    Podman,
    Microvm,
}

/// One row of the document's "Container Runtime Comparison" table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Row {
    pub runtime: &'static str,
    pub kernel: &'static str,
    pub filesystem: &'static str,
    pub network: &'static str,
    pub overhead: &'static str,
    pub use_case: &'static str,
}

impl Runtime {
    pub fn row(self) -> Row {
        let r = |runtime, kernel, filesystem, network, overhead, use_case| Row {
            runtime,
            kernel,
            filesystem,
            network,
            overhead,
            use_case,
        };
        match self {
            Runtime::NixNative => r("Nix Native", "Shared", "Full", "Full", "0%", "CLI tools"),
            Runtime::Distrobox => r(
                "Distrobox",
                "Shared",
                "$HOME",
                "Full",
                "~1%",
                "Dev environments",
            ),
            Runtime::Flatpak => r(
                "Flatpak",
                "Shared",
                "Portal",
                "Restricted",
                "~2%",
                "GUI apps",
            ),
            Runtime::Podman => r("Podman", "Shared", "Volume", "Isolated", "~2%", "Services"),
            Runtime::Microvm => r(
                "microvm.nix",
                "Isolated",
                "Isolated",
                "Isolated",
                "~5-10%",
                "Untrusted",
            ),
        }
    }

    /// The tree's answer, as the document words it, except that Nix Native
    /// names the spec key (`[containers] nix_packages`) the change goes to,
    /// not the configuration.nix tabula renders from it.
    pub fn answer(self) -> &'static str {
        match self {
            Runtime::NixNative => "Nix Native (add to [containers] nix_packages in host.toml)",
            Runtime::Distrobox => "Distrobox (create Arch/Fedora/Ubuntu container)",
            Runtime::Flatpak => "Flatpak (install from Flathub)",
            Runtime::Podman => "Podman (rootless container)",
            Runtime::Microvm => "microvm.nix (VM isolation)",
        }
    }
}

/// A decision: where NAME runs, why, and what changes.
#[derive(Debug, Clone, Serialize)]
pub struct Placement {
    pub name: String,
    pub kind: Kind,
    pub runtime: Runtime,
    pub question: &'static str,
    pub answer: &'static str,
    pub why: Row,
    pub change: SpecChange,
}

/// What `decide` needs besides the kind.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The image of a Distrobox or Podman container.
    pub image: Option<String>,
    /// Ports a Podman container publishes ("8080:80").
    pub ports: Vec<String>,
}

/// The image a development box starts from unless `--image` says otherwise:
/// the document names Arch first.
pub const DEFAULT_DEV_IMAGE: &str = "quay.io/toolbx/arch-toolbox:latest";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlaceError {
    #[error("`{name}` cannot be placed as {kind}: {rule}")]
    BadName {
        name: String,
        kind: &'static str,
        rule: &'static str,
    },
    #[error("`{name}` is not a Flathub application id: a GUI app is placed by its id, e.g. org.mozilla.firefox (see `flatpak search {name}`)")]
    NotAppId { name: String },
    #[error(
        "`{value}` cannot be written to the spec: an image or port has no spaces or line breaks"
    )]
    Spaced { value: String },
    #[error(transparent)]
    Edit(#[from] tabula_spec::edit::EditError),
}

fn plain(s: &str, extra: &[u8]) -> bool {
    s.len() <= 128
        && s.as_bytes().first().is_some_and(u8::is_ascii_alphanumeric)
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
}

/// A nixpkgs attribute path (`ripgrep`, `kdePackages.kate`), as the spec's
/// check rules accept it.
fn attr_path(s: &str) -> bool {
    s.len() <= 128
        && s.split('.').all(|part| {
            part.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-'".contains(&b))
        })
}

fn spaced(s: &str) -> bool {
    s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Reverse-DNS with at least three parts, as Flathub requires.
fn app_id(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                && !p.as_bytes()[0].is_ascii_digit()
        })
}

/// Walk the tree for `kind`.
///
/// # Errors
/// [`PlaceError::BadName`], [`PlaceError::NotAppId`] or
/// [`PlaceError::Spaced`] for what cannot go into the spec.
pub fn decide(name: &str, kind: Kind, opts: &Options) -> Result<Placement, PlaceError> {
    // The same rules as the spec's `container-invalid` check, so a placement
    // never writes what `tabula check` would then refuse.
    let bad = |rule| PlaceError::BadName {
        name: name.to_owned(),
        kind: kind.name(),
        rule,
    };
    for v in opts.image.iter().chain(&opts.ports) {
        if spaced(v) {
            return Err(PlaceError::Spaced { value: v.clone() });
        }
    }
    let change = match kind {
        Kind::Cli if !attr_path(name) => {
            return Err(bad(
                "a nixpkgs attribute name, e.g. ripgrep or kdePackages.kate",
            ))
        }
        Kind::Cli => SpecChange::NixPackage {
            package: name.to_owned(),
        },
        Kind::Gui if !app_id(name) => {
            return Err(PlaceError::NotAppId {
                name: name.to_owned(),
            })
        }
        Kind::Gui => SpecChange::FlatpakApp {
            app_id: name.to_owned(),
        },
        Kind::Dev | Kind::Service if !plain(name, b"-_.") => {
            return Err(bad("a container name is letters, digits and `-_.`"))
        }
        Kind::Dev => SpecChange::DistroboxImage {
            name: name.to_owned(),
            image: opts
                .image
                .clone()
                .unwrap_or_else(|| DEFAULT_DEV_IMAGE.to_owned()),
        },
        Kind::Service => SpecChange::PodmanContainer {
            name: name.to_owned(),
            image: opts
                .image
                .clone()
                .unwrap_or_else(|| format!("docker.io/library/{name}:latest")),
            ports: opts.ports.clone(),
        },
        Kind::Untrusted if !plain(name, b"-_") => {
            return Err(bad("a microVM name is letters, digits, `-` and `_`"))
        }
        Kind::Untrusted => SpecChange::Microvm {
            name: name.to_owned(),
        },
    };
    let runtime = kind.runtime();
    Ok(Placement {
        name: name.to_owned(),
        kind,
        runtime,
        question: kind.question(),
        answer: runtime.answer(),
        why: runtime.row(),
        change,
    })
}

/// Replace `path` with `bytes` through [`tabula_run::atomic::write_atomic`]:
/// a temp file beside the file, fsync, rename. A symbolic link is written
/// through (its target is replaced, the link stays); the file keeps its
/// owner, group and mode; a reader sees the old or the new file, never half
/// of one. The caller holds the lock ([`tabula_run::atomic::Lock`]) around
/// its read-modify-write.
///
/// # Errors
/// The step that failed, naming the file (the original file is then intact).
pub fn write_atomic(
    path: &std::path::Path,
    bytes: &[u8],
) -> Result<(), tabula_run::atomic::AtomicError> {
    tabula_run::atomic::write_atomic(path, bytes, 0o644)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        let o = Options::default();
        assert!(decide("ripgrep", Kind::Cli, &o).is_ok());
        assert!(matches!(
            decide("rm -rf", Kind::Cli, &o),
            Err(PlaceError::BadName { .. })
        ));
        assert!(matches!(
            decide("\"x", Kind::Untrusted, &o),
            Err(PlaceError::BadName { .. })
        ));
        assert!(matches!(
            decide("firefox", Kind::Gui, &o),
            Err(PlaceError::NotAppId { .. })
        ));
        assert!(decide("org.mozilla.firefox", Kind::Gui, &o).is_ok());
    }
}
