//! # Partition device nodes
//!
//! The one naming rule for a disk's partition nodes (a leaf: used by the
//! probe, the LUKS module and the apply session alike).

use std::path::{Path, PathBuf};

/// The partition node of partition `number` of `disk`, from sysfs when the
/// kernel knows it, else by the usual naming rule (`p` after a digit).
pub fn partition_node(disk: &str, number: u32) -> String {
    let name = Path::new(disk)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let sys = PathBuf::from("/sys/class/block").join(&name);
    if let Ok(entries) = std::fs::read_dir(&sys) {
        for e in entries.flatten() {
            let part = e.path().join("partition");
            if std::fs::read_to_string(&part)
                .ok()
                .and_then(|s| s.trim().parse::<u32>().ok())
                == Some(number)
            {
                return format!("/dev/{}", e.file_name().to_string_lossy());
            }
        }
    }
    if name.ends_with(|c: char| c.is_ascii_digit()) {
        format!("{disk}p{number}")
    } else {
        format!("{disk}{number}")
    }
}
