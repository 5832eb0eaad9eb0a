//! Two applies at once: the stale top-level mounts a rerun releases are
//! only those of dead runs. A tmpfs mounted by this test at
//! `$TMPDIR/tabula-pool.PID.x`, with PID a process this test started, stays
//! mounted while that process lives; once it is gone, the next
//! `release_stale_top_levels` unmounts it and removes the empty directory.
//!
//! One test in this binary: it sets TMPDIR for the process (to a directory
//! the test created). Needs root; prints SKIP otherwise.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::process::Command;

mod support;
use support::mounted;

#[test]
fn a_running_applys_top_level_is_left_alone_a_dead_ones_released() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIP stale top-level test: needs root (mount)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let tmp_path = std::fs::canonicalize(tmp.path()).unwrap();
    std::env::set_var("TMPDIR", &tmp_path);
    let mut alive = Command::new("sleep").arg("600").spawn().unwrap();
    let dir = tmp_path.join(format!("tabula-pool.{}.test", alive.id()));
    std::fs::create_dir(&dir).unwrap();
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1M", "tabula-test"])
        .arg(&dir)
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::write(dir.join("in-use"), "a running apply's file").unwrap();

    tabula_disk::apply::release_stale_top_levels().unwrap();
    let still = mounted(&dir);
    let kept = dir.join("in-use").is_file();

    alive.kill().unwrap();
    alive.wait().unwrap();
    if !still {
        // Clean up before failing: nothing of ours stays mounted.
        let _ = std::fs::remove_dir(&dir);
    }
    assert!(still, "the top level of a running apply was unmounted");
    assert!(kept, "a running apply's file vanished");

    tabula_disk::apply::release_stale_top_levels().unwrap();
    let released = !mounted(&dir);
    if !released {
        let _ = Command::new("umount").arg(&dir).status();
    }
    assert!(released, "a dead run's top level stayed mounted");
    assert!(!dir.exists(), "the released directory stays");
}
