//! # tabula-docs: the host's documentation and pictures, from the spec
//!
//! Pure: spec in, Markdown and SVG files out.

use tabula_spec::HostSpec;

/// One generated document, its path relative to the output directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doc {
    pub path: String,
    pub contents: String,
}

/// Every document of the host (`docs/ARCHITECTURE.md`, ...).
pub fn render(_spec: &HostSpec) -> Vec<Doc> {
    Vec::new()
}
