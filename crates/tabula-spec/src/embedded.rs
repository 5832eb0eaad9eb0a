//! # Hosts compiled into the binary
//!
//! `surface-pro-8` is the user's document with the decisions recorded in its
//! comments (each departure from the document is marked `DEPARTS`).

/// A host spec shipped inside tabula.
#[derive(Debug)]
pub struct EmbeddedHost {
    pub name: &'static str,
    pub toml: &'static str,
}

pub static SURFACE_PRO_8: EmbeddedHost = EmbeddedHost {
    name: "surface-pro-8",
    toml: include_str!("../hosts/surface-pro-8.toml"),
};

/// The host every command uses when no spec is given.
pub static DEFAULT_HOST: &EmbeddedHost = &SURFACE_PRO_8;

pub static ALL: &[&EmbeddedHost] = &[&SURFACE_PRO_8];

pub fn find(name: &str) -> Option<&'static EmbeddedHost> {
    ALL.iter().copied().find(|h| h.name == name)
}
