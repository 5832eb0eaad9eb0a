//! `--wipe table:DISK` (issue 14 item 10) on a sparse image and loop
//! devices with the real tools: a disk another installer partitioned is
//! refused with a line naming the flag; with it, plan lists every partition
//! as DESTROY by name, apply without --yes writes nothing, and
//! `apply --yes --wipe table:DISK` leaves the spec's table. Runs as root;
//! prints a SKIP line otherwise.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;
use support::{sh, ImageWork, Loop};

const PASS: &str = "correct horse battery staple 7";

#[test]
fn a_foreign_layout_is_repartitioned_only_with_wipe_table_and_yes() {
    if !support::disk_ready(
        "a_foreign_layout_is_repartitioned_only_with_wipe_table_and_yes",
        &["sha256sum", "truncate"],
    ) {
        return;
    }
    let w = ImageWork::new("tabula-wipe-test.", PASS);
    let img = w.img().display().to_string();
    // Another installer's layout where the spec puts its own: a Linux root
    // with a file on it and a swap partition.
    sh(&format!("truncate -s 1G {img}"));
    sh(&format!(
        "sgdisk -n 1:2048:+200M -t 1:8300 -c 1:debian-root -n 2:0:+100M -t 2:8200 -c 2:debian-swap {img}"
    ));
    {
        let l = Loop::attach(&w.img());
        sh(&format!("mkfs.ext4 -q -L debian {}", l.part(1)));
        sh(&format!("mkswap -L debswap {} >/dev/null", l.part(2)));
    }
    let wipe = format!("table:{img}");

    // Refused, every refuse line with its way forward: --wipe table:IMG.
    let (code, out, err) = w.run(&["plan"]);
    assert_eq!(code, Some(3), "{out}\n{err}");
    let refused: Vec<&str> = out
        .lines()
        .filter(|l| l.trim_start().starts_with("refuse"))
        .collect();
    assert!(!refused.is_empty(), "{out}");
    assert!(refused.iter().all(|l| l.contains("; fix: ")), "{out}");
    assert!(
        refused
            .iter()
            .any(|l| l.contains(&format!("--wipe {wipe}"))),
        "{out}"
    );

    // With the flag: the table and each partition DESTROY, by name.
    let (code, out, err) = w.run(&["plan", "--wipe", &wipe]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    let destroys: Vec<&str> = out
        .lines()
        .filter(|l| l.trim_start().starts_with("DESTROY"))
        .collect();
    assert_eq!(destroys.len(), 3, "{out}");
    assert!(destroys[0].contains("disk:/dev/loop"), "{out}");
    assert!(
        destroys[1].contains("partition:#1") && destroys[1].contains("`debian-root`"),
        "{out}"
    );
    assert!(
        destroys[2].contains("partition:#2") && destroys[2].contains("`debian-swap`"),
        "{out}"
    );
    assert!(destroys[1].contains("ext4"), "{out}");
    assert!(out.contains("create      partition:pool"), "{out}");
    assert!(!out.contains("refuse "), "{out}");
    // The same in JSON; a DESTROY has no `fix`.
    let (_, json, _) = w.run(&["--json", "plan", "--wipe", &wipe]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let v = &v["data"];
    let names: Vec<&str> = v["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["action"] == "DESTROY")
        .map(|l| l["object"].as_str().unwrap())
        .collect();
    assert_eq!(names[1..], ["partition:#1", "partition:#2"]);
    assert_eq!(v["steps"][0]["step"], "zap-table");

    // Nothing is written: without the flag (refused), and without --yes.
    let before = w.hash();
    let pass = w.p("pass").display().to_string();
    let (code, out, err) = w.run(&["apply", "--yes", "--no-open", "--passphrase-file", &pass]);
    assert_eq!(code, Some(3), "{out}\n{err}");
    assert!(err.contains(&format!("--wipe {wipe}")), "{err}");
    assert_eq!(w.hash(), before, "a refused apply wrote");
    let (code, out, err) = w.run(&[
        "apply",
        "--no-open",
        "--wipe",
        &wipe,
        "--passphrase-file",
        &pass,
    ]);
    assert_eq!(code, Some(2), "{out}\n{err}");
    assert!(err.contains("add --yes"), "{err}");
    assert!(out.contains("DESTROY     partition:#1"), "{out}");
    assert_eq!(w.hash(), before, "apply without --yes wrote");

    // --yes --wipe table:IMG: the spec's table, the old signatures gone.
    let (code, out, err) = w.run(&[
        "apply",
        "--yes",
        "--no-open",
        "--wipe",
        &wipe,
        "--passphrase-file",
        &pass,
    ]);
    assert_eq!(code, Some(5), "{out}\n{err}");
    assert!(
        support::loops_settled(&w.img()).is_empty(),
        "loop device left attached"
    );
    let table: serde_json::Value =
        serde_json::from_str(&sh(&format!("sfdisk --json {img}"))).unwrap();
    let names: Vec<&str> = table["partitiontable"]["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ESP", "boot", "alpine", "kali", "windows", "pool"]);
    assert_eq!(table["partitiontable"]["label"], "gpt");
    {
        let l = Loop::attach(&w.img());
        let sigs = sh(&format!(
            "blkid -p -o value -s LABEL {} {} || true",
            l.part(1),
            l.part(2)
        ));
        assert!(
            !sigs.contains("debian") && !sigs.contains("debswap"),
            "{sigs}"
        );
    }
    // Converged: plan without the flag is clean and destroys nothing.
    let (code, out, err) = w.run(&["plan"]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(
        !out.lines().any(|l| {
            let l = l.trim_start();
            l.starts_with("DESTROY") || l.starts_with("refuse")
        }),
        "{out}"
    );
}
