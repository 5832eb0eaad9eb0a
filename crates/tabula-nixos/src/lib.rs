//! # tabula-nixos
