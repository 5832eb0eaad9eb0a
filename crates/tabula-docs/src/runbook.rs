//! # RUNBOOK.md: step-by-step procedures for this host
//!
//! Every command is complete for this host: its disk, UUIDs, mapper name,
//! keyfile path, subvolumes and mount options come from the spec, and every
//! spec value placed in a shell command is quoted for the shell. The
//! `tabula` commands follow the provisioning and day-two issues' interface
//! (`--disk`, `--target`, `--reset`, `--wipe`, `rebuild rollback`).

use std::fmt::Write as _;

use tabula_spec::model::{MountSource, Owner};
use tabula_spec::HostSpec;

use crate::facts;
use crate::md::{self, code, text};

/// Where procedures mount the layout.
const TARGET: &str = "/mnt";

pub fn render(spec: &HostSpec) -> String {
    let mut s = crate::preamble(spec, "Runbook");
    let _ = writeln!(
        s,
        "Procedures for {} with the exact commands. The disk is {}; check it with {} before anything that writes.\n",
        code(&spec.host.name),
        code(&facts::disk_device(spec)),
        code("lsblk -o NAME,SIZE,MODEL,PARTLABEL")
    );
    s.push_str(&md::heading(2, "0. Get tabula onto the installer"));
    s.push_str(&get_tabula(spec));
    let mut n = 0;
    let mut section = |title: &str, body: String, s: &mut String| {
        if body.is_empty() {
            return;
        }
        n += 1;
        s.push_str(&md::heading(2, &format!("{n}. {title}")));
        s.push_str(&body);
    };
    section("Install from the NixOS installer", install(spec), &mut s);
    section("Adopt this machine", adopt(spec), &mut s);
    section(&rescue_title(spec), rescue(spec), &mut s);
    section("Add or replace the USB keyfile", keyfile(spec), &mut s);
    section("Roll back a generation", rollback(spec), &mut s);
    section("Pin and update the flake inputs", inputs(spec), &mut s);
    section("Rotate a secret", crate::secrets::rotate(spec), &mut s);
    section(
        "Reset the system subvolumes, keeping user data",
        reset(spec),
        &mut s,
    );
    s.push_str(&crate::related());
    s
}

/// A word for POSIX sh: as is when it holds only safe characters, else in
/// single quotes.
pub fn sh(word: &str) -> String {
    // `#` starts a comment only at the start of a word.
    let safe = !word.is_empty()
        && !word.starts_with('#')
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:=@,+-%#".contains(c));
    if safe {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// tabula's own flake (OWNER: the GitHub account of the tabula fork in use).
pub const FLAKE: &str = "github:OWNER/tabula";

/// The label of the USB stick that carries the static binary and host.toml.
const TOOL_STICK: &str = "TABULA";

/// Step 0: the NixOS installer has Nix but not tabula. Two ways: from the
/// flake (online), or the static binary from a USB stick (offline).
fn get_tabula(spec: &HostSpec) -> String {
    let nix = "nix --extra-experimental-features 'nix-command flakes'";
    let mut s = String::new();
    let _ = writeln!(
        s,
        "The NixOS {} installer has Nix but not tabula. Either way below gives the same {} on your {}, and {} finds it too (NixOS's sudo keeps your {}).\n",
        spec.host.release,
        code("tabula"),
        code("PATH"),
        code("sudo tabula"),
        code("PATH")
    );
    let _ = writeln!(
        s,
        "**From tabula's flake** (the installer is online; {} is the GitHub account of your tabula fork):\n",
        code("OWNER")
    );
    let mut b = String::new();
    let _ = writeln!(b, "{nix} profile install {FLAKE}");
    let _ = writeln!(b, "tabula --version");
    let _ = writeln!(b, "# or run it once without installing:");
    let _ = writeln!(b, "{nix} run {FLAKE} -- check {}", spec_flag());
    s.push_str(&md::fence("bash", &b));
    s.push('\n');
    let _ = writeln!(
        s,
        "**From a USB stick** (offline): on any x86_64 Linux machine with tabula's source, format a stick with the label {TOOL_STICK} (e.g. {}), mount it, and write the statically linked binary and the spec to it with {} and {}. The binary needs no glibc, no Nix and no network. On the installer:\n",
        code(&format!("mkfs.vfat -n {TOOL_STICK} /dev/sdX1")),
        code("scripts/build-static.sh --out /media/stick/tabula"),
        code("cp host.toml /media/stick/")
    );
    let stick = "/media/tabula";
    let mut b = String::new();
    let _ = writeln!(b, "sudo mkdir -p {stick}");
    let _ = writeln!(
        b,
        "sudo mount -o ro /dev/disk/by-label/{TOOL_STICK} {stick}"
    );
    let _ = writeln!(b, "install -D -m 0755 {stick}/tabula ~/.local/bin/tabula");
    let _ = writeln!(b, "export PATH=\"$HOME/.local/bin:$PATH\"");
    let _ = writeln!(b, "cp {stick}/host.toml .");
    let _ = writeln!(b, "sudo umount {stick}");
    let _ = writeln!(b, "tabula --version");
    s.push_str(&md::fence("bash", &b));
    s.push('\n');
    s
}

fn spec_flag() -> &'static str {
    "--spec host.toml"
}

fn install(spec: &HostSpec) -> String {
    let disk = sh(&facts::disk_device(spec));
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Boot the NixOS {} installer with this host's {} at hand (on a USB stick or fetched), then:\n",
        spec.host.release,
        code("host.toml")
    );
    let mut b = String::new();
    let _ = writeln!(
        b,
        "# 1. Check the spec and look at the plan (writes nothing)"
    );
    let _ = writeln!(b, "tabula check {}", spec_flag());
    let _ = writeln!(b, "sudo tabula plan {} --disk {disk}", spec_flag());
    let _ = writeln!(b);
    let _ = writeln!(
        b,
        "# 2. Partition, format, mount at {TARGET}, render the flake and run nixos-install"
    );
    let _ = writeln!(
        b,
        "sudo tabula install {} --disk {disk} --target {TARGET} --yes",
        spec_flag()
    );
    password_steps(spec, &mut b);
    let _ = writeln!(b);
    let _ = writeln!(b, "# 4. Leave the installer");
    let _ = writeln!(b, "sudo tabula unmount --disk {disk} --target {TARGET}");
    let _ = writeln!(b, "sudo reboot");
    s.push_str(&md::fence("bash", &b));
    s.push('\n');
    let kept: Vec<String> = spec
        .partitions
        .iter()
        .filter(|p| !p.format)
        .map(|p| format!("{} ({})", code(&facts::device(spec, p)), text(&p.label)))
        .collect();
    if !kept.is_empty() {
        let _ = writeln!(
            s,
            "The plan must show {} as `keep`; if it says `refuse`, the disk differs from the spec there: stop and compare with [DISK_LAYOUT.md](DISK_LAYOUT.md). A plan line `DESTROY` is applied only with `--wipe NAME`.\n",
            kept.join(", ")
        );
    }
    if spec
        .luks
        .as_ref()
        .and_then(|l| l.keyfile.as_ref())
        .is_some()
    {
        s.push_str("The install asks for the LUKS passphrase. To enrol the USB keyfile in the same run, mount the stick and give its mount point (a new random key is written to it):\n\n");
        if let Some(k) = spec.luks.as_ref().and_then(|l| l.keyfile.as_ref()) {
            s.push_str(&md::fence(
                "bash",
                &format!(
                    "{}sudo tabula install {} --disk {disk} --target {TARGET} --yes --usb {STICK}\nsudo umount {STICK}\n",
                    mount_stick(k),
                    spec_flag(),
                ),
            ));
            s.push('\n');
        }
    }
    s.push_str("After the first boot, compare the running host with its spec, and see what the next reboot would wipe:\n\n");
    s.push_str(&md::fence("bash", "tabula status\ntabula audit\n"));
    s.push('\n');
    s
}

/// Step 3 of the install: the users' password hash files under the target.
fn password_steps(spec: &HostSpec, b: &mut String) {
    let users: Vec<_> = spec
        .users
        .iter()
        .filter_map(|u| u.hashed_password_file.as_ref().map(|f| (u, f)))
        .collect();
    if !users.is_empty() {
        let _ = writeln!(b);
        let _ = writeln!(
            b,
            "# 3. Password hashes, read from files (the root is wiped at boot)"
        );
        let mut dirs: Vec<String> = users
            .iter()
            .map(|(_, f)| match f.rsplit_once('/') {
                Some((d, _)) if !d.is_empty() => d.to_owned(),
                _ => "/".to_owned(),
            })
            .collect();
        dirs.dedup();
        for d in dirs {
            let _ = writeln!(b, "sudo install -d -m 700 {}", sh(&format!("{TARGET}{d}")));
        }
        for (u, f) in users {
            let target = sh(&format!("{TARGET}{f}"));
            let _ = writeln!(
                b,
                "mkpasswd -m yescrypt | sudo tee {target} >/dev/null   # password of {}",
                textbox_safe(&u.name)
            );
            let _ = writeln!(b, "sudo chmod 600 {target}");
        }
    }
}

/// The recovery system: a foreign partition whose owner is Alpine.
fn rescue_part(spec: &HostSpec) -> Option<&tabula_spec::model::Partition> {
    spec.partitions.iter().find(
        |p| matches!(&p.owner, Owner::Foreign(o) if o.to_ascii_lowercase().contains("alpine")),
    )
}

fn rescue_title(spec: &HostSpec) -> String {
    match rescue_part(spec) {
        Some(p) => format!("Rescue from the {} partition", p.label),
        None => "Rescue from a live system".to_owned(),
    }
}

fn rescue(spec: &HostSpec) -> String {
    let mut s = String::new();
    let disk = sh(&facts::disk_device(spec));
    rescue_boot(spec, &mut s);
    let Some(l) = &spec.luks else {
        let _ = writeln!(s, "Mount the layout:\n");
        s.push_str(&md::fence(
            "bash",
            &format!("tabula mount --disk {disk} --target {TARGET}\n"),
        ));
        s.push('\n');
        return s;
    };
    let luks_dev = sh(&format!("/dev/disk/by-uuid/{}", l.uuid));
    let name = sh(&l.name);
    s.push_str(&md::heading(3, "Unlock the pool"));
    if let Some(k) = &l.keyfile {
        s.push_str("With the USB keyfile:\n\n");
        let mut b = String::new();
        let _ = writeln!(b, "mkdir -p /mnt/key");
        let _ = writeln!(
            b,
            "mount -t {} -o ro {} /mnt/key",
            sh(k.fs_type.name()),
            sh(&format!("/dev/disk/by-uuid/{}", k.fs_uuid))
        );
        let _ = writeln!(
            b,
            "cryptsetup open --key-file {} {luks_dev} {name}",
            sh(&format!("/mnt/key{}", k.path))
        );
        let _ = writeln!(b, "umount /mnt/key");
        s.push_str(&md::fence("bash", &b));
        s.push_str("\nOr with the passphrase:\n\n");
    }
    s.push_str(&md::fence(
        "bash",
        &format!("cryptsetup open {luks_dev} {name}\n"),
    ));
    s.push('\n');
    s.push_str(&md::heading(3, "Mount the layout"));
    let _ = writeln!(
        s,
        "With tabula (it opens the container itself when it is still closed):\n"
    );
    s.push_str(&md::fence(
        "bash",
        &format!("tabula mount --disk {disk} --target {TARGET}\n"),
    ));
    s.push_str("\nOr by hand, parents before the mounts inside them:\n\n");
    s.push_str(&md::fence("bash", &raw_mounts(spec)));
    s.push_str(
        "\nWhen done, children before their parents (Alpine's busybox `umount` has no `-R`):\n\n",
    );
    s.push_str(&md::fence(
        "bash",
        &format!("{}cryptsetup close {name}\n", raw_unmounts(spec)),
    ));
    s.push('\n');
    s
}

/// How to boot the rescue system (or any live system).
fn rescue_boot(spec: &HostSpec, s: &mut String) {
    match rescue_part(spec) {
        Some(p) => {
            let entry = spec
                .boot
                .entries
                .iter()
                .find(|e| e.system == p.owner.name());
            let _ = writeln!(
                s,
                "Choose {}{} at boot and log in as root. Install the tools once: {}.\n",
                entry
                    .map(|e| format!("the boot menu entry **{}**", text(&e.name)))
                    .unwrap_or_else(|| format!("the system on {}", code(&facts::device(spec, p)))),
                entry
                    .map(|_| format!(" (on {})", code(&facts::device(spec, p))))
                    .unwrap_or_default(),
                code("apk add cryptsetup btrfs-progs e2fsprogs dosfstools exfatprogs")
            );
        }
        None => s.push_str("Boot any Linux live system with cryptsetup and btrfs-progs.\n\n"),
    }
}

/// The mount commands for the whole layout under [`TARGET`].
/// `umount` lines for the layout, the deepest mount first.
pub fn raw_unmounts(spec: &HostSpec) -> String {
    let mut b = String::new();
    for m in spec.mounts_in_order().into_iter().rev() {
        let at = if m.path.as_str() == "/" {
            TARGET.to_owned()
        } else {
            format!("{TARGET}{}", m.path)
        };
        let _ = writeln!(b, "umount {}", sh(&at));
    }
    b
}

pub fn raw_mounts(spec: &HostSpec) -> String {
    let pool = sh(&facts::pool_device(spec));
    let mut b = String::new();
    for m in spec.mounts_in_order() {
        let at = if m.path.as_str() == "/" {
            TARGET.to_owned()
        } else {
            format!("{TARGET}{}", m.path)
        };
        let at = sh(&at);
        if m.path.as_str() != "/" {
            let _ = writeln!(b, "mkdir -p {at}");
        }
        let opts = facts::mount_options(spec, m);
        let o = if opts.is_empty() {
            String::new()
        } else {
            format!(" -o {}", sh(&opts.join(",")))
        };
        match &m.source {
            MountSource::Tmpfs { .. } => {
                let _ = writeln!(b, "mount -t tmpfs{o} none {at}");
            }
            MountSource::Subvolume { .. } => {
                let _ = writeln!(b, "mount -t btrfs{o} {pool} {at}");
            }
            MountSource::Partition { partition } => {
                let part = spec.partition(partition);
                let dev = match part
                    .and_then(|p| p.filesystem.as_ref())
                    .and_then(|f| f.uuid.as_ref())
                {
                    Some(u) => format!("/dev/disk/by-uuid/{u}"),
                    None => format!("/dev/disk/by-partlabel/{partition}"),
                };
                let ty = part
                    .and_then(facts::fs_kind)
                    .map(|k| format!(" -t {}", sh(k.name())))
                    .unwrap_or_default();
                let _ = writeln!(b, "mount{ty}{o} {} {at}", sh(&dev));
            }
        }
    }
    b
}

/// Where the runbook mounts the USB stick for `--usb`.
const STICK: &str = "/media/stick";

/// Commands that mount the keyfile stick read-write at [`STICK`].
fn mount_stick(k: &tabula_spec::model::Keyfile) -> String {
    format!(
        "sudo mkdir -p {STICK}\nsudo mount -t {} {} {STICK}\n",
        sh(k.fs_type.name()),
        sh(&format!("/dev/disk/by-uuid/{}", k.fs_uuid))
    )
}

fn keyfile(spec: &HostSpec) -> String {
    let Some(l) = &spec.luks else {
        return String::new();
    };
    let Some(k) = &l.keyfile else {
        return String::new();
    };
    let disk = sh(&facts::disk_device(spec));
    let usb = STICK;
    let luks_dev = sh(&format!("/dev/disk/by-uuid/{}", l.uuid));
    let mut s = String::new();
    let _ = writeln!(
        s,
        "The key is the file {} on the USB stick whose {} filesystem has the UUID {}. Both commands need an existing key (the passphrase) and never leave the container without a usable key.\n",
        code(k.path.as_str()),
        text(k.fs_type.name()),
        code(&k.fs_uuid)
    );
    let mut b = String::new();
    let _ = writeln!(
        b,
        "# Add a key slot for a new random keyfile written to the stick"
    );
    b.push_str(&mount_stick(k));
    let _ = writeln!(b, "sudo tabula keyfile add --disk {disk} --usb {usb}");
    let _ = writeln!(b);
    // replace needs the old key (--old) to find its slot: set it aside, a
    // new random key is written where the spec says, the old slot goes.
    let on_stick = format!("{usb}{}", k.path);
    let old = sh(&format!("{on_stick}.old"));
    let _ = writeln!(
        b,
        "# Replace it (a copied stick, or a routine change): set the old key aside,"
    );
    let _ = writeln!(
        b,
        "# a new random key is written in its place, then the old key's slot is removed"
    );
    let _ = writeln!(b, "sudo mv {} {old}", sh(&on_stick));
    let _ = writeln!(
        b,
        "sudo tabula keyfile replace --disk {disk} --usb {usb} --old {old}"
    );
    let _ = writeln!(b, "sudo rm {old}");
    let _ = writeln!(b, "sudo umount {usb}");
    s.push_str(&md::fence("bash", &b));
    s.push_str("\nBy hand, with the stick mounted at `/mnt/key`:\n\n");
    let key = sh(&format!("/mnt/key{}", k.path));
    let mut b = String::new();
    let _ = writeln!(b, "dd if=/dev/urandom of={key}.new bs=512 count=8");
    let _ = writeln!(b, "# add: the new key next to the passphrase");
    let _ = writeln!(b, "cryptsetup luksAddKey {luks_dev} {key}.new");
    let _ = writeln!(b, "# replace: the slot of the old key takes the new one");
    let _ = writeln!(
        b,
        "cryptsetup luksChangeKey --key-file {key} {luks_dev} {key}.new"
    );
    let _ = writeln!(b, "mv {key}.new {key}");
    let _ = writeln!(b, "# check that it opens the container");
    let _ = writeln!(
        b,
        "cryptsetup open --test-passphrase --key-file {key} {luks_dev}"
    );
    s.push_str(&md::fence("bash", &b));
    s.push('\n');
    if let Some(t) = k.timeout {
        let _ = writeln!(
            s,
            "At boot the initrd waits {t} s for the stick{}.\n",
            if k.password_fallback {
                ", then asks for the passphrase"
            } else {
                ""
            }
        );
    }
    s
}

/// `nix flake lock` / `nix flake update`: what pins what.
fn inputs(spec: &HostSpec) -> String {
    let dir = sh(facts::FLAKE_DIR);
    let mut unbranched = Vec::new();
    if spec.persistence.is_some() {
        unbranched.push("impermanence");
    }
    if spec.containers.microvm.as_ref().is_some_and(|m| m.enable) {
        unbranched.push("microvm");
    }
    if spec.hardware.nixos_hardware.is_some() {
        unbranched.push("nixos-hardware");
    }
    let mut s = String::new();
    let _ = write!(
        s,
        "{} follows the release branch {}, which moves with security updates. ",
        code("nixpkgs"),
        code(spec.host.release.branch())
    );
    if unbranched.is_empty() {
        s.push_str("No other input is used. ");
    } else {
        let _ = write!(
            s,
            "{} have no release branches: the flake names their default branch and makes their own {} follow this host's, so only one nixpkgs is locked. ",
            unbranched.iter().map(|n| code(n)).collect::<Vec<_>>().join(", "),
            code("nixpkgs")
        );
    }
    let _ = writeln!(
        s,
        "tabula writes no {lock}: {first} pins every input to one commit in {lock} (keep it in {dir}, persisted), and every rebuild uses exactly those commits until you update them. {state} stays {sv} through updates and release changes.\n",
        lock = code("flake.lock"),
        first = code("nix flake lock"),
        dir = code(facts::FLAKE_DIR),
        state = code("system.stateVersion"),
        sv = code(&spec.host.state_version),
    );
    let mut b = String::new();
    let _ = writeln!(b, "# First use: pin every input (writes flake.lock)");
    let _ = writeln!(b, "cd {dir} && nix flake lock");
    let _ = writeln!(b);
    let _ = writeln!(
        b,
        "# Security updates: move every input to its newest commit"
    );
    let _ = writeln!(b, "cd {dir} && nix flake update");
    let _ = writeln!(b);
    let _ = writeln!(b, "# Or one input only");
    let _ = writeln!(b, "cd {dir} && nix flake update nixpkgs");
    let _ = writeln!(b);
    let _ = writeln!(
        b,
        "# Then build and switch (the old generation stays bootable)"
    );
    let _ = writeln!(
        b,
        "sudo nixos-rebuild switch --flake {}",
        sh(&facts::flake_ref(spec, facts::FLAKE_DIR))
    );
    s.push_str(&md::fence("bash", &b));
    let _ = writeln!(
        s,
        "\nA new NixOS release: set {} in host.toml, render again, then {} (the branch changed) and switch. Leave {} as it is.\n",
        code("release"),
        code("nix flake update"),
        code("state_version")
    );
    s
}

/// An installed machine read back into a spec: `import` never writes, and
/// the plan of what it wrote must be all `keep` before the spec is trusted.
fn adopt(spec: &HostSpec) -> String {
    let disk = sh(&facts::disk_device(spec));
    let mut s = String::new();
    let _ = writeln!(
        s,
        "A machine that is already installed (this one, or another laptop) is read into a commented {} instead of being transcribed by hand. {} only reads (an image through a read-only loop device, a LUKS container opened {} only when a key is given); every value it had to guess carries a {} comment, and what it saw but cannot describe (swap, LVM, mdadm, ZFS, a second disk) is listed at the top, with exit 1.\n",
        code("host.toml"),
        code("tabula import"),
        code("--readonly"),
        code("# guessed:")
    );
    let mut b = String::new();
    let _ = writeln!(
        b,
        "# Read the disk into a spec (exit 1 when something is left out: listed on top)"
    );
    let _ = writeln!(b, "sudo tabula import --disk {disk} --out host.toml");
    let _ = writeln!(
        b,
        "# Then check that it describes the disk: every line `keep`"
    );
    let _ = writeln!(b, "sudo tabula plan --spec host.toml --disk {disk}");
    let _ = writeln!(b);
    let _ = writeln!(
        b,
        "# Where `cryptsetup open` works (the installer): the pool inside the container too"
    );
    let _ = writeln!(
        b,
        "sudo tabula import --disk {disk} --passphrase-file /root/luks-pass --out host.toml --force"
    );
    let _ = writeln!(b);
    let _ = writeln!(b, "# Review the guesses, then");
    let _ = writeln!(b, "tabula check --spec host.toml");
    s.push_str(&md::fence("bash", &b));
    let _ = writeln!(
        s,
        "\nA plan with anything but {} means the spec does not describe the disk yet: fix the spec, never the disk. {} does the same for a new user who starts from their own machine rather than the embedded one.\n",
        code("keep"),
        code(&format!("tabula init --from-disk {disk}"))
    );
    s
}

fn rollback(spec: &HostSpec) -> String {
    let flake = sh(&facts::flake_ref(spec, facts::FLAKE_DIR));
    let mut s = String::new();
    let mut b = String::new();
    let _ = writeln!(b, "# The generations, current and booted marked");
    let _ = writeln!(b, "tabula generations");
    let _ = writeln!(b);
    let _ = writeln!(b, "# Back to the previous generation");
    let _ = writeln!(b, "sudo tabula rebuild rollback");
    let _ = writeln!(b);
    let _ = writeln!(b, "# The same without tabula");
    let _ = writeln!(b, "sudo nixos-rebuild switch --rollback --flake {flake}");
    s.push_str(&md::fence("bash", &b));
    let menu = match spec.boot.loader {
        tabula_spec::model::Loader::Grub => "GRUB's *NixOS - All configurations* submenu",
        tabula_spec::model::Loader::Refind => "rEFInd's generation entries",
    };
    let _ = writeln!(
        s,
        "\nWhen the new generation does not boot, pick an older one in {menu}, then run the rollback above to make it the default.\n"
    );
    s
}

/// The subvolumes a reset recreates: the ones holding what Nix rebuilds
/// (the store) and what may be lost (logs). Everything else stays.
pub fn reset_set(spec: &HostSpec) -> Vec<String> {
    ["/nix", "/var/log"]
        .into_iter()
        .filter_map(|p| spec.mount(p))
        .filter_map(|m| match &m.source {
            MountSource::Subvolume { subvolume } => Some(subvolume.clone()),
            _ => None,
        })
        .collect()
}

fn reset(spec: &HostSpec) -> String {
    let reset = reset_set(spec);
    if reset.is_empty() {
        return String::new();
    }
    let disk = sh(&facts::disk_device(spec));
    let names: Vec<String> = reset.iter().map(|r| sh(r)).collect();
    let kept: Vec<String> = spec
        .btrfs
        .iter()
        .flat_map(|b| &b.subvolumes)
        .filter(|sv| !reset.contains(&sv.path))
        .map(|sv| code(&sv.path))
        .collect();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Recreates {} empty to reinstall the system from scratch; {} stay byte-identical. Run it from the NixOS installer.\n",
        reset.iter().map(|r| code(r)).collect::<Vec<_>>().join(" and "),
        kept.join(", ")
    );
    let mut b = String::new();
    let _ = writeln!(b, "# Each reset shows as DESTROY");
    let _ = writeln!(
        b,
        "sudo tabula plan {} --disk {disk} --reset {}",
        spec_flag(),
        names.join(" ")
    );
    // NAME exactly as `tabula plan` prints the DESTROY line.
    let wipes: Vec<String> = reset
        .iter()
        .map(|n| format!("--wipe {}", sh(&format!("subvolume:{n}"))))
        .collect();
    let _ = writeln!(
        b,
        "sudo tabula apply {} --disk {disk} --reset {} --yes {}",
        spec_flag(),
        names.join(" "),
        wipes.join(" ")
    );
    let _ = writeln!(b);
    let _ = writeln!(b, "# Fill the new store again");
    let _ = writeln!(
        b,
        "sudo tabula install {} --disk {disk} --target {TARGET} --yes",
        spec_flag()
    );
    s.push_str(&md::fence("bash", &b));
    s.push('\n');
    s
}

/// A spec string on one line of a shell comment.
fn textbox_safe(s: &str) -> String {
    crate::textbox::clean(s)
}
