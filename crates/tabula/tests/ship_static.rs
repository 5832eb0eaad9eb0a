//! The statically linked tabula for the NixOS installer
//! (`scripts/build-static.sh`): no interpreter and no dynamic section (`ldd`:
//! "not a dynamic executable"), and it runs where there is no glibc at all —
//! an empty chroot holding only the binary — on real commands: `--version`,
//! `check` of the embedded host, `plan --disk` of an image, `render`.
//! (The VM test, disk_vm.rs, runs it on a real disk too.)
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::path::Path;
use std::process::{Command, Output};

/// ELF program header types found in the file (PT_INTERP = 3, PT_DYNAMIC = 2).
fn program_headers(bin: &Path) -> Vec<u32> {
    let b = std::fs::read(bin).unwrap();
    assert_eq!(&b[..4], b"\x7fELF", "not an ELF file");
    assert_eq!(b[4], 2, "not 64-bit");
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(b[0x20..0x28].try_into().unwrap()) as usize;
    let (size, num) = (u16_at(0x36), u16_at(0x38));
    (0..num)
        .map(|i| {
            let o = phoff + i * size;
            u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
        })
        .collect()
}

#[test]
fn static_binary_has_no_interpreter_and_ldd_says_so() {
    let Some(bin) = support::static_tabula("static_binary_has_no_interpreter") else {
        return;
    };
    let ph = program_headers(&bin);
    assert!(!ph.contains(&3), "PT_INTERP in {}: {ph:?}", bin.display());
    assert!(!ph.contains(&2), "PT_DYNAMIC in {}: {ph:?}", bin.display());
    // The normal build is dynamic: the check can tell the difference.
    let dynamic = program_headers(&assert_cmd::cargo::cargo_bin("tabula"));
    assert!(dynamic.contains(&3), "{dynamic:?}");
    if support::have("ldd") {
        let o = Command::new("ldd").arg(&bin).output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(text.contains("not a dynamic executable"), "ldd: {text}");
    }
}

/// Entry points that need NSS (a passwd/group/hosts lookup through
/// /etc/nsswitch.conf and libnss_*.so) or load code at run time.
const NEEDS_NSS_OR_DLOPEN: &[&str] = &[
    "getpwnam",
    "getpwnam_r",
    "getpwuid",
    "getpwuid_r",
    "getpwent",
    "getgrnam",
    "getgrnam_r",
    "getgrgid",
    "getgrgid_r",
    "getgrouplist",
    "initgroups",
    "getspnam",
    "getlogin",
    "getlogin_r",
    "getaddrinfo",
    "gethostbyname",
    "gethostbyname_r",
    "gethostbyname2_r",
    "gethostbyaddr",
    "getservbyname",
    "getservbyname_r",
    "getnameinfo",
    "dlopen",
    "__dlopen",
    "___dlopen",
    "dlmopen",
    "iconv_open",
];

/// (caller, callee) for every call or jump to one of `names` in the binary.
fn call_sites(bin: &Path, names: &[&str]) -> Vec<(String, String)> {
    use std::io::BufRead;
    let mut child = Command::new("objdump")
        .args(["-d", "--no-show-raw-insn"])
        .arg(bin)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut func = String::new();
    let mut found = Vec::new();
    for line in std::io::BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(name) = line.strip_suffix(">:").and_then(|l| l.split_once(" <")) {
            func = name.1.to_owned();
            continue;
        }
        if !(line.contains("\tcall ") || line.contains("\tjmp ")) {
            continue;
        }
        if let Some(target) = line
            .rsplit_once(" <")
            .and_then(|(_, t)| t.strip_suffix('>'))
        {
            if names.contains(&target) {
                found.push((func.clone(), target.to_owned()));
            }
        }
    }
    assert!(child.wait().unwrap().success());
    found
}

#[test]
fn static_binary_calls_nothing_that_needs_nss_or_dlopen() {
    if !support::have("objdump") {
        eprintln!("SKIP static_binary_calls_nothing_that_needs_nss: objdump (binutils) is missing");
        return;
    }
    let Some(bin) = support::static_tabula("static_binary_calls_nothing_that_needs_nss") else {
        return;
    };
    let calls = call_sites(&bin, NEEDS_NSS_OR_DLOPEN);
    assert!(
        calls.is_empty(),
        "{} calls what needs NSS or dlopen (caller -> callee): {calls:?}",
        bin.display()
    );
    // The scan sees calls: the binary does call into libc.
    assert!(!call_sites(
        &bin,
        &[
            "fork",
            "__libc_fork",
            "_Fork",
            "clone",
            "__clone",
            "execve",
            "__execve",
            "posix_spawn",
            "__posix_spawn"
        ]
    )
    .is_empty());
}

fn in_chroot(root: &Path, args: &[&str]) -> Output {
    // Root's PATH may lack /usr/sbin, where Debian keeps chroot.
    let chroot = ["/usr/sbin/chroot", "/sbin/chroot"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .unwrap_or("chroot");
    Command::new(chroot)
        .arg(root)
        .arg("/tabula")
        .args(args)
        .env_clear()
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

#[test]
fn static_binary_runs_in_an_empty_chroot() {
    if !support::ready(
        "static_binary_runs_in_an_empty_chroot",
        &["chroot"],
        "chroot (coreutils)",
    ) {
        return;
    }
    let Some(bin) = support::static_tabula("static_binary_runs_in_an_empty_chroot") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::copy(&bin, root.join("tabula")).unwrap();
    let entries: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, ["tabula"], "the chroot holds only the binary");

    let v = in_chroot(root, &["--version"]);
    assert_eq!(v.status.code(), Some(0), "{v:?}");
    assert_eq!(
        String::from_utf8_lossy(&v.stdout).trim(),
        format!("tabula {}", env!("CARGO_PKG_VERSION"))
    );

    let check = in_chroot(root, &["check"]);
    assert_eq!(check.status.code(), Some(0), "{check:?}");
    assert!(
        String::from_utf8_lossy(&check.stdout).contains("0 error(s)"),
        "{check:?}"
    );

    // An image that does not exist yet: planned from the spec's disk size.
    let plan = in_chroot(root, &["plan", "--disk", "/disk.img"]);
    assert_eq!(plan.status.code(), Some(0), "{plan:?}");
    let text = String::from_utf8_lossy(&plan.stdout);
    assert!(text.contains("0 DESTROY, 0 refuse"), "{text}");
    assert!(!root.join("disk.img").exists(), "plan wrote an image");

    let render = in_chroot(root, &["render", "--out", "/out"]);
    assert_eq!(render.status.code(), Some(0), "{render:?}");
    let flake = std::fs::read_to_string(root.join("out/flake.nix")).unwrap();
    assert!(flake.contains("nixosConfigurations"), "{flake}");

    // A tool tabula runs is not there: the missing-tool exit, not a crash.
    let img = root.join("real.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    let probe = in_chroot(root, &["plan", "--disk", "/real.img"]);
    assert!(
        matches!(probe.status.code(), Some(0..=4)),
        "no signal, no panic: {probe:?}"
    );

    // The normal, dynamic build cannot even start there.
    std::fs::copy(assert_cmd::cargo::cargo_bin("tabula"), root.join("tabula")).unwrap();
    let dynamic = in_chroot(root, &["--version"]);
    assert!(!dynamic.status.success(), "{dynamic:?}");
}
