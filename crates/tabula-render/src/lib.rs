//! # tabula-render: the host spec to a NixOS flake
//!
//! Pure: [`render_flake`] turns a [`HostSpec`] into [`OutFile`]s (path,
//! contents, write policy) and touches nothing. The only module that writes
//! to disk is [`write`], the atomic writer.
//!
//! - [`nix`]: the Nix writer (every Nix string is escaped there);
//! - [`escape`]: `.desktop`, GRUB, mount option, sh and ini escaping;
//! - [`options`]: option names per NixOS release and the listed option paths;
//! - `hosts`: one function per module of `hosts/<name>/`;
//! - [`write`]: temp file, fsync, rename; unchanged files untouched.

pub mod escape;
pub mod fleet;
pub mod nix;
pub mod options;
pub mod write;

mod hosts;

use serde::Serialize;
use tabula_spec::HostSpec;

pub use write::{write_files, FileStatus, WriteError, WriteReport};

/// How a file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// tabula owns it: rewritten when its content changes.
    Overwrite,
    /// The user owns it: created once, never overwritten.
    CreateOnce,
}

/// One generated file, its path relative to the output directory
/// (`/`-separated, normal, never absolute).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutFile {
    pub path: String,
    pub contents: String,
    pub policy: Policy,
}

impl OutFile {
    pub fn generated(path: impl Into<String>, contents: impl Into<String>) -> Self {
        OutFile {
            path: path.into(),
            contents: contents.into(),
            policy: Policy::Overwrite,
        }
    }

    pub fn create_once(path: impl Into<String>, contents: impl Into<String>) -> Self {
        OutFile {
            path: path.into(),
            contents: contents.into(),
            policy: Policy::CreateOnce,
        }
    }
}

/// Why the spec could not be rendered. `tabula check` reports the same
/// problems first (with the place in host.toml); these errors are the last
/// line of defence so that nothing unrepresentable is ever written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("{at}: `{value}` cannot be written as {context}: {why}")]
    Unrepresentable {
        /// The key path in host.toml (`mount[3].options[0]`).
        at: String,
        value: String,
        context: &'static str,
        why: String,
    },
    #[error("{at}: {what}")]
    Missing { at: String, what: String },
}

impl RenderError {
    pub(crate) fn bad(
        at: impl ToString,
        value: &str,
        context: &'static str,
        why: impl Into<String>,
    ) -> Self {
        RenderError::Unrepresentable {
            at: at.to_string(),
            value: value.escape_debug().to_string(),
            context,
            why: why.into(),
        }
    }

    pub(crate) fn missing(at: impl ToString, what: impl Into<String>) -> Self {
        RenderError::Missing {
            at: at.to_string(),
            what: what.into(),
        }
    }
}

/// The module files of `hosts/<name>/`, in import order.
pub const MODULES: [&str; 10] = [
    "hardware.nix",
    "filesystems.nix",
    "boot.nix",
    "persistence.nix",
    "users.nix",
    "services.nix",
    "desktop.nix",
    "containers.nix",
    "security.nix",
    "custom.nix",
];

/// The flake: `flake.nix`, `hosts/<name>/default.nix`, one module per
/// concern, `hosts/<name>/distrobox.ini` and the user's `custom.nix`
/// (create-once). Deterministic: the same spec gives the same bytes.
///
/// # Errors
/// [`RenderError`] when a value cannot be represented where it lands (a
/// `,` in a mount option, a session id that is not a file name, ...) or a
/// reference is undeclared (a mount of an unknown partition).
pub fn render_flake(spec: &HostSpec) -> Result<Vec<OutFile>, RenderError> {
    hosts::render(spec)
}

/// The directory of the host's modules inside the flake.
pub fn host_dir(spec: &HostSpec) -> String {
    format!("hosts/{}", spec.host.name)
}
