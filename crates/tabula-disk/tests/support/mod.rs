//! Helpers shared by tabula-disk's integration tests that need root and
//! tools (`mod support;` in each).
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// Whether `program` is installed (in the system directories: a test that
/// shims PATH must still find the real tools).
pub fn have(program: &str) -> bool {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .any(|d| Path::new(d).join(program).is_file())
}

/// `sh -c CMD`, which must succeed; its stdout.
pub fn sh(cmd: &str) -> String {
    let out = Command::new("sh").args(["-c", cmd]).output().unwrap();
    assert!(
        out.status.success(),
        "`{cmd}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether `dir` is a mount point now (`/proc/self/mountinfo`).
pub fn mounted(dir: &Path) -> bool {
    let d = dir.to_string_lossy();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(d.as_ref()))
}
