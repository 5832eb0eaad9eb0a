//! # tabula-docs
