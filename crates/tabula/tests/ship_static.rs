//! The statically linked tabula for the NixOS installer
//! (`scripts/build-static.sh`): no interpreter and no dynamic section (`ldd`:
//! "not a dynamic executable"), and it runs where there is no glibc at all —
//! an empty chroot holding only the binary — on real commands: `--version`,
//! `check` of the embedded host, `plan --disk` of an image, `render`.
//! The RUNBOOK's step 0 copies it off a read-only, noexec stick and runs it.
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

/// The RUNBOOK's step 0, "From a USB stick", run as written against a stick
/// that is mounted read-only and noexec (as a stick may be): the binary is
/// copied off it, not run from it. The stick is a tmpfs in this test's own
/// folder (this kernel mounts no vfat), so the lines that mount it by label
/// and unmount it are the only ones replaced; every other line runs.
#[test]
fn runbook_step_zero_installs_tabula_from_a_read_only_noexec_stick() {
    let test = "runbook_step_zero_installs_tabula_from_a_read_only_noexec_stick";
    if !support::is_root() {
        println!("SKIP {test}: needs root to mount the stick");
        return;
    }
    let Some(bin) = support::static_tabula(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = std::fs::canonicalize(dir.path()).unwrap();
    let docs = support::tabula_in(&d)
        .args(["docs", "--out", "docs"])
        .output()
        .unwrap();
    assert!(docs.status.success(), "{docs:?}");
    let runbook = std::fs::read_to_string(d.join("docs/docs/RUNBOOK.md")).unwrap();
    let after = runbook
        .split("**From a USB stick**")
        .nth(1)
        .expect("the runbook has a 'From a USB stick' way");
    let block: Vec<&str> = after
        .split("```bash\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .unwrap()
        .lines()
        .collect();
    // The stick's own lines: where it is mounted, and the three we replace.
    let at = block
        .iter()
        .find_map(|l| l.strip_prefix("sudo mkdir -p "))
        .expect("a mkdir for the stick's mount point");
    let replaced: Vec<&str> = block
        .iter()
        .copied()
        .filter(|l| l.starts_with("sudo mkdir ") || l.contains("mount "))
        .collect();
    assert_eq!(
        replaced.len(),
        3,
        "mkdir, mount -o ro, umount: {replaced:?}"
    );
    assert!(
        replaced[1].starts_with("sudo mount -o ro /dev/disk/by-label/"),
        "{replaced:?}"
    );

    // The stick: the static binary and a host.toml, then read-only, noexec.
    let stick = d.join("stick");
    std::fs::create_dir(&stick).unwrap();
    let mut guard = support::Mounted::default();
    if !support::mount(
        &["-t", "tmpfs", "-o", "size=1g", "stick"],
        &stick,
        &mut guard,
    ) {
        println!("SKIP {test}: cannot mount a tmpfs here");
        return;
    }
    std::fs::copy(&bin, stick.join("tabula")).unwrap();
    std::fs::write(
        stick.join("host.toml"),
        std::fs::read_to_string(support::disk_spec()).unwrap(),
    )
    .unwrap();
    let remount = Command::new("mount")
        .args(["-o", "remount,ro,noexec"])
        .arg(&stick)
        .status()
        .unwrap();
    assert!(remount.success());
    // noexec is real here: the binary cannot be run from the stick.
    let direct = Command::new(stick.join("tabula")).arg("--version").output();
    assert!(
        direct
            .as_ref()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied),
        "{direct:?}"
    );

    // Every other line of the block, as written, the stick's path in place
    // of the mount point; a fresh HOME and a PATH without tabula on it.
    let lines: Vec<String> = block
        .iter()
        .filter(|l| !replaced.contains(l))
        .map(|l| l.replace(at, &stick.to_string_lossy()))
        .collect();
    let home = d.join("home");
    let work = d.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let script = format!(
        "set -eu\n{}\ntabula check --spec host.toml\n",
        lines.join("\n")
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&work)
        .env_clear()
        .env("HOME", &home)
        .env("PATH", "/usr/bin:/bin")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{script}\n{out:?}");
    assert!(
        stdout.contains(&format!("tabula {}", env!("CARGO_PKG_VERSION"))),
        "{stdout}"
    );
    assert!(stdout.contains("0 error(s)"), "{stdout}");
    // What the block leaves behind: an executable copy and the spec.
    let installed = home.join(".local/bin/tabula");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&installed).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o755);
    assert_eq!(
        std::fs::read(work.join("host.toml")).unwrap(),
        std::fs::read(stick.join("host.toml")).unwrap()
    );
}
