//! # tabula-render
