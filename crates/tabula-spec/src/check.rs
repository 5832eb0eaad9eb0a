//! # The rules of `tabula check` (filled in below)
