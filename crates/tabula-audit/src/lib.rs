//! # tabula-audit
