//! # tabula-disk
