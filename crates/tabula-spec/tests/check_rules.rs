//! `tabula check`'s rules against the document's literal transcription, the
//! embedded host, and specs broken one way at a time.
#![allow(clippy::unwrap_used, clippy::panic)]

use tabula_spec::check::{check_on, Date, Finding, Severity};
use tabula_spec::{embedded, load, parse, SpecSource};

const LITERAL: &str = include_str!("fixtures/document-literal.toml");
const TODAY: Date = Date {
    year: 2026,
    month: 11,
    day: 25,
};

fn findings(name: &str, text: &str) -> Vec<Finding> {
    let loaded = parse(name, text).unwrap_or_else(|e| panic!("{e}"));
    check_on(&loaded, TODAY)
}

fn find<'a>(fs: &'a [Finding], code: &str) -> Vec<&'a Finding> {
    fs.iter().filter(|f| f.code == code).collect()
}

fn one<'a>(fs: &'a [Finding], code: &str) -> &'a Finding {
    let hits = find(fs, code);
    assert!(!hits.is_empty(), "no `{code}` finding in:\n{fs:#?}");
    hits[0]
}

/// The embedded host with one text replacement applied.
fn embedded_with(from: &str, to: &str) -> Vec<Finding> {
    let text = embedded::SURFACE_PRO_8.toml;
    assert!(
        text.contains(from),
        "the embedded host no longer contains {from:?}"
    );
    findings("edited.toml", &text.replacen(from, to, 1))
}

#[test]
fn literal_persist_root_is_lost_at_reboot() {
    let fs = findings("literal.toml", LITERAL);
    let f = one(&fs, "persist-not-persistent");
    assert_eq!(f.severity, Severity::Error);
    assert!(f.message.contains("/persist"), "{}", f.message);
    assert!(f.message.contains("22 entries"), "{}", f.message);
    assert_eq!(f.at, "persistence.root");
    assert!(f.line.is_some());
}

#[test]
fn literal_entries_under_persistent_mounts_are_flagged() {
    let fs = findings("literal.toml", LITERAL);
    let covered = find(&fs, "entry-covered-by-mount");
    // 4 system directories under /var/lib and all 13 per-user entries under /home.
    assert_eq!(covered.len(), 4 + 13, "{covered:#?}");
    assert!(covered.iter().all(|f| f.severity == Severity::Warning));
    let var_lib = covered
        .iter()
        .filter(|f| {
            f.message
                .contains("mount /var/lib (subvolume @system/state)")
        })
        .count();
    let home = covered
        .iter()
        .filter(|f| f.message.contains("mount /home (subvolume @user/home)"))
        .count();
    assert_eq!((var_lib, home), (4, 13));
}

#[test]
fn literal_estimates_exceed_the_180gb_pool() {
    let fs = findings("literal.toml", LITERAL);
    let f = one(&fs, "estimates-exceed-pool");
    // Sizes in the one convention (binary units): 190 GB is 177.0 GiB.
    assert!(f.message.contains("177.0 GiB"), "{}", f.message);
    // The 180 GB partition less the 16 MiB LUKS2 header.
    assert!(f.message.contains("167.6 GiB"), "{}", f.message);
}

#[test]
fn literal_reports_the_rest_of_the_documents_contradictions() {
    let fs = findings("literal.toml", LITERAL);
    assert_eq!(one(&fs, "config-on-tmpfs").severity, Severity::Warning);
    let w = one(&fs, "windows-too-small");
    assert!(
        w.message.contains("18.6 GiB") && w.message.contains("64 GB"),
        "{}",
        w.message
    );
    assert_eq!(w.at, "partition[4].size");
    assert_eq!(one(&fs, "rootless-podman-storage").severity, Severity::Info);
    let d = one(&fs, "not-dual-boot");
    assert_eq!(d.severity, Severity::Info);
    assert!(
        d.message.contains("alpine") && d.message.contains("kali") && d.message.contains("windows"),
        "{}",
        d.message
    );
    assert_eq!(find(&fs, "foreign-unreachable").len(), 3);
    assert_eq!(one(&fs, "release-eol").severity, Severity::Warning);
    assert_eq!(one(&fs, "release-unsupported").at, "boot.loader");
    assert_eq!(one(&fs, "keyfile-driver-missing").severity, Severity::Error);
    // /nix, /var/lib and /var/log are not marked needed at boot.
    assert_eq!(find(&fs, "needed-for-boot").len(), 3);
}

#[test]
fn embedded_host_has_no_error_and_reports_real_pool_figures() {
    let loaded = load(&SpecSource::Embedded(embedded::DEFAULT_HOST)).unwrap();
    let fs = check_on(&loaded, TODAY);
    let errors: Vec<_> = fs
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let fit = one(&fs, "estimates-fit-pool");
    // 256 GB disk less 47.1 GB of other partitions, less the GPT and LUKS header.
    let pool = loaded.spec.pool_size().unwrap();
    assert!((208_000_000_000..209_000_000_000).contains(&pool), "{pool}");
    assert!(fit.message.contains("177.9 GiB"), "{}", fit.message);
    assert!(find(&fs, "entry-covered-by-mount").is_empty());
    assert!(find(&fs, "config-on-tmpfs").is_empty());
    assert!(!find(&fs, "windows-too-small").is_empty());
    // The 2 GB /boot keeps 30 generations of the Surface kernel.
    assert_eq!(loaded.spec.boot_generations(), Some(30));
    assert!(find(&fs, "boot-too-small").is_empty());
    let k = one(&fs, "kernel-built-locally");
    assert_eq!(k.severity, Severity::Info);
    assert_eq!(k.at, "hardware.nixos_hardware");
    assert!(k.message.contains("7.5 GiB"), "{}", k.message);
    assert!(k.hint.as_deref().unwrap().contains("--build-host"));
}

#[test]
fn release_eol_depends_on_the_date() {
    let loaded = load(&SpecSource::Embedded(embedded::DEFAULT_HOST)).unwrap();
    // The embedded host follows 26.05 (end of life 2026-12-31).
    assert_eq!(loaded.spec.host.release.as_str(), "26.05");
    let before = check_on(
        &loaded,
        Date {
            year: 2026,
            month: 12,
            day: 31,
        },
    );
    assert!(find(&before, "release-eol").is_empty());
    let after = check_on(
        &loaded,
        Date {
            year: 2027,
            month: 1,
            day: 1,
        },
    );
    let eol = find(&after, "release-eol");
    assert_eq!(eol.len(), 1);
    let hint = eol[0].hint.as_deref().unwrap();
    // The newest supported one, with its date marked as not announced.
    assert!(hint.contains("release = \"26.11\""), "{hint}");
    assert!(
        hint.contains("2027-06-30") && hint.contains("not yet announced"),
        "{hint}"
    );
}

#[test]
fn an_eol_release_names_the_newest_supported_one() {
    // 2026-12-01: 24.11, 25.05 and 25.11 are past their end of life.
    let today = Date {
        year: 2026,
        month: 12,
        day: 1,
    };
    for r in ["24.11", "25.05", "25.11"] {
        let text = embedded::SURFACE_PRO_8.toml.replacen(
            "release = \"26.05\"",
            &format!("release = \"{r}\""),
            1,
        );
        let fs = check_on(&parse("r.toml", &text).unwrap(), today);
        let f = one(&fs, "release-eol");
        assert_eq!(f.severity, Severity::Warning);
        assert!(
            f.hint.as_deref().unwrap().contains("release = \"26.11\""),
            "{f:#?}"
        );
    }
    for r in ["26.05", "26.11"] {
        let text = embedded::SURFACE_PRO_8.toml.replacen(
            "release = \"26.05\"",
            &format!("release = \"{r}\""),
            1,
        );
        let fs = check_on(&parse("r.toml", &text).unwrap(), today);
        assert!(find(&fs, "release-eol").is_empty(), "{r}: {fs:#?}");
    }
}

#[test]
fn an_unknown_release_is_refused_listing_the_known_ones() {
    let text =
        embedded::SURFACE_PRO_8
            .toml
            .replacen("release = \"26.05\"", "release = \"27.05\"", 1);
    let e = parse("r.toml", &text).unwrap_err().to_string();
    assert!(e.contains("`27.05` is not one tabula knows"), "{e}");
    assert!(e.contains("24.11, 25.05, 25.11, 26.05, 26.11"), "{e}");
}

#[test]
fn state_version_older_than_release_is_explained_not_refused() {
    let fs = findings("e.toml", embedded::SURFACE_PRO_8.toml);
    let f = one(&fs, "state-version-older");
    assert_eq!(f.severity, Severity::Info);
    assert_eq!(f.at, "host.state_version");
    assert!(
        f.message.contains("24.11") && f.message.contains("nixos-26.05"),
        "{}",
        f.message
    );
    // state_version equal to release (the default for a new host): nothing.
    let text = embedded::SURFACE_PRO_8.toml.replacen(
        "state_version = \"24.11\"",
        "state_version = \"26.05\"",
        1,
    );
    assert!(find(&findings("e.toml", &text), "state-version-older").is_empty());
    let text = embedded::SURFACE_PRO_8
        .toml
        .replacen("state_version = \"24.11\"", "", 1);
    let loaded = parse("e.toml", &text).unwrap();
    assert_eq!(loaded.spec.host.state_version, "26.05");
    assert!(find(&check_on(&loaded, TODAY), "state-version-older").is_empty());
}

#[test]
fn state_version_newer_than_release_is_an_error() {
    let text = embedded::SURFACE_PRO_8.toml.replacen(
        "state_version = \"24.11\"",
        "state_version = \"26.11\"",
        1,
    );
    let fs = findings("e.toml", &text);
    let f = one(&fs, "state-version-newer");
    assert_eq!(f.severity, Severity::Error);
    assert!(f.line.is_some());
    assert!(
        f.hint.as_deref().unwrap().contains("at most 26.05"),
        "{f:#?}"
    );
    assert!(find(&fs, "state-version-older").is_empty());
}

#[test]
fn a_malformed_state_version_is_refused() {
    let text = embedded::SURFACE_PRO_8.toml.replacen(
        "state_version = \"24.11\"",
        "state_version = \"24.11.1\"",
        1,
    );
    let e = parse("e.toml", &text).unwrap_err().to_string();
    assert!(
        e.contains("state_version `24.11.1` is not a NixOS release number"),
        "{e}"
    );
}

#[test]
fn general_rules_each_fire_on_one_breakage() {
    let cases: &[(&str, &str, &str)] = &[
        ("size = \"2GB\"\ntype = \"linux\"", "size = \"rest\"\ntype = \"linux\"", "partition-rest-twice"),
        ("number = 3\n", "number = 2\n", "partition-number"),
        ("size = \"20GB\"\ntype = \"windows-data\"", "size = \"250GB\"\ntype = \"windows-data\"", "partition-exceeds-disk"),
        ("label = \"kali\"\nsize = \"20GB\"", "label = \"kali\"\nsize = \"20GB\"\nstart = \"5GB\"", "partition-overlap"),
        ("path = \"/var/log\"\n", "path = \"/var/lib\"\n", "mount-duplicate"),
        ("subvolume = \"@shared/waydroid\"", "subvolume = \"@shared/waydroyd\"", "mount-source-undeclared"),
        ("partition = \"boot\"\n", "partition = \"bot\"\n", "mount-source-undeclared"),
        ("path = \"@shared\"\n", "path = \"@common\"\n", "subvolume-parent-undeclared"),
        ("subvolume = \"@system/logs\"\nneeded_for_boot = true", "subvolume = \"@system/logs\"", "needed-for-boot"),
        ("initrd_modules = [\"nvme\", \"xhci_pci\", \"usb_storage\", \"uas\", \"sd_mod\", \"exfat\"]", "initrd_modules = [\"nvme\", \"sd_mod\"]", "keyfile-driver-missing"),
        ("initrd_modules = [\"nvme\", \"xhci_pci\", \"usb_storage\", \"uas\", \"sd_mod\", \"exfat\"]", "initrd_modules = [\"nvme\", \"sd_mod\", \"exfat\"]", "keyfile-usb-missing"),
        ("uuid = \"2CE0-6722\"", "uuid = \"2CE06722\"", "uuid-malformed"),
        ("uuid = \"0eaf7961-48c5-4b55-8a8f-04cd0b71de07\"", "uuid = \"0eaf7961-48c5-4b55-8a8f\"", "uuid-malformed"),
        ("fs_uuid = \"223C-F3F8\"", "fs_uuid = \"223C-F3F8-00\"", "uuid-malformed"),
        ("filesystem = { type = \"ntfs\" }", "filesystem = { type = \"ntfs\", uuid = \"XYZ\" }", "uuid-malformed"),
        ("format = false\n", "format = true\n", "esp-shared-formatted"),
        ("kdf = \"argon2id\"", "kdf = \"pbkdf2\"", "kdf-weakened"),
        ("options = [\"umask=0077\"]", "options = [\"umask=0077,ro\"]", "mount-option-invalid"),
        ("default_session = \"plasma\"", "default_session = \"kde\"", "session-default-unknown"),
        ("comment = \"Android in a container\"", "comment = \"Android\\nin a container\"", "text-unrepresentable"),
        ("system = \"kali\"", "system = \"parrot\"", "boot-entry-invalid"),
        ("covered_by = \"/var/lib\" },\n  { path = \"/var/lib/systemd\"", "covered_by = \"/home\" },\n  { path = \"/var/lib/systemd\"", "covered-by-wrong"),
        ("hashed_password_file = \"/persist/secrets/user.passwd\"", "hashed_password_file = \"/etc/user.passwd\"", "password-file-not-persistent"),
        ("name = \"surface-pro-8\"", "name = \"surface pro 8\"", "hostname-invalid"),
        ("tmpfs = { size = \"2G\", mode = \"755\" }", "tmpfs = { size = \"16G\", mode = \"755\" }", "tmpfs-size"),
        ("{ path = \"/etc/nixos\", note = \"this host's flake\" },", "", "config-on-tmpfs"),
        ("release = \"26.05\"", "release = \"25.11\"", "release-eol"),
        ("state_version = \"24.11\"", "state_version = \"26.11\"", "state-version-newer"),
        ("release = \"26.05\"", "release = \"24.11\"", "waydroid-nftables"),
        ("label = \"boot\"\nsize = \"2GB\"", "label = \"boot\"\nsize = \"200MB\"", "boot-too-small"),
        ("tmpfs = { size = \"2G\", mode = \"755\" }", "tmpfs = { size = \"2GB\", mode = \"755\" }", "tmpfs-malformed"),
        ("description = \"Primary user\"", "description = \"Primary: user\"", "text-unrepresentable"),
        ("size = \"5GB\"", "size = \"0MB\"", "partition-size-zero"),
        ("\"htop\"", "\"ht op\"", "container-invalid"),
        ("apps = []", "apps = [\"firefox\"]", "container-invalid"),
        ("{ name = \"arch\"", "{ name = \"ar ch\"", "container-invalid"),
        ("image = \"quay.io/toolbx/arch-toolbox:latest\"", "image = \"quay.io/$(reboot)\"", "container-invalid"),
        ("initrd_systemd = true", "initrd_systemd = false", "keyfile-needs-systemd"),
        ("path = \"/keys/surface-pro-8.key\"", "path = \"/keys/a:b.key\"", "text-unrepresentable"),
    ];
    for (from, to, code) in cases {
        let fs = embedded_with(from, to);
        let hits = find(&fs, code);
        assert!(
            !hits.is_empty(),
            "replacing {from:?} by {to:?} gave no `{code}`:\n{fs:#?}"
        );
        assert!(
            hits.iter().all(|f| f.line.is_some()),
            "`{code}` has no line: {hits:#?}"
        );
        assert!(
            hits.iter().all(|f| f.hint.is_some()
                || f.severity != Severity::Error
                || *code == "text-unrepresentable"),
            "`{code}` has no hint"
        );
    }
}

#[test]
fn refind_on_25_11_warns_about_the_small_esp() {
    let text = embedded::SURFACE_PRO_8
        .toml
        .replacen("loader = \"grub\"", "loader = \"refind\"", 1)
        .replacen("release = \"26.05\"", "release = \"25.11\"", 1);
    let fs = findings("refind.toml", &text);
    assert!(find(&fs, "release-unsupported").is_empty(), "{fs:#?}");
    let f = one(&fs, "esp-too-small");
    assert!(f.message.contains("95.4 MiB"), "{}", f.message);
}

#[test]
fn a_second_rest_is_not_also_reported_as_exceeding_the_disk() {
    let fs = embedded_with(
        "size = \"2GB\"\ntype = \"linux\"",
        "size = \"rest\"\ntype = \"linux\"",
    );
    assert!(!find(&fs, "partition-rest-twice").is_empty());
    assert!(find(&fs, "partition-exceeds-disk").is_empty(), "{fs:#?}");
}

#[test]
fn huge_sizes_are_errors_not_panics() {
    for size in ["18446744073709551615B", "10000000TB", "1000000TB"] {
        let text = embedded::SURFACE_PRO_8.toml.replacen(
            "size = \"5GB\"",
            &format!("size = \"{size}\""),
            1,
        );
        match parse("huge.toml", &text) {
            Err(e) => assert!(e.to_string().contains("larger than any disk"), "{e}"),
            Ok(l) => assert!(!find(&check_on(&l, TODAY), "partition-exceeds-disk").is_empty()),
        }
    }
}

#[test]
fn findings_point_at_the_right_line() {
    let text = embedded::SURFACE_PRO_8.toml.replacen(
        "subvolume = \"@shared/waydroid\"",
        "subvolume = \"@shared/waydroyd\"",
        1,
    );
    let fs = findings("edited.toml", &text);
    let f = one(&fs, "mount-source-undeclared");
    let line = text
        .lines()
        .position(|l| l.contains("@shared/waydroyd"))
        .unwrap()
        + 1;
    assert_eq!(f.line, Some(line));
}

/// Every name that becomes a Nix attribute (or an ini section) is unique:
/// the second is an error naming the place of the first (file:line).
#[test]
fn duplicate_names_are_errors_with_both_places() {
    let cases = [
        (
            "[[user]]\nname = \"root\"\nhashed_password_file = \"/persist/secrets/root.passwd\"\n",
            "[[user]]\nname = \"root\"\nhashed_password_file = \"/persist/secrets/root.passwd\"\n\n[[user]]\nname = \"root\"\nhashed_password_file = \"/persist/secrets/root.passwd\"\n",
            "user[2].name",
            "user[1].name",
        ),
        (
            "containers = []",
            "containers = [\n  { name = \"web\", image = \"docker.io/library/nginx:1.27\" },\n  { name = \"web\", image = \"docker.io/library/caddy:2\" },\n]",
            "containers.podman.containers[1].name",
            "containers.podman.containers[0].name",
        ),
        (
            "vms = []",
            "vms = [\n  { name = \"sandbox\" },\n  { name = \"sandbox\" },\n]",
            "containers.microvm.vms[1].name",
            "containers.microvm.vms[0].name",
        ),
        (
            "{ name = \"fedora\"",
            "{ name = \"arch\"",
            "containers.distrobox.images[1].name",
            "containers.distrobox.images[0].name",
        ),
        (
            "uuid = \"0eaf7961-48c5-4b55-8a8f-04cd0b71de07\"",
            "uuid = \"2CE0-6722\"",
            "partition[1].filesystem.uuid",
            "partition[0].filesystem.uuid",
        ),
    ];
    for (from, to, at, first) in cases {
        let fs = embedded_with(from, to);
        let f = one(&fs, "name-duplicate");
        assert_eq!(f.severity, Severity::Error);
        assert_eq!(f.at, at, "{f:#?}");
        assert!(f.line.is_some(), "{f:#?}");
        assert!(
            f.message.contains("edited.toml:") && f.message.contains(first),
            "the message names the first place: {}",
            f.message
        );
        assert!(f.hint.is_some());
    }
}

/// Distrobox, Podman values are checked by their grammar, each at its own
/// field: image references (OCI), names, package names, port mappings.
#[test]
fn container_values_are_checked_by_their_grammar() {
    let image = "image = \"quay.io/toolbx/arch-toolbox:latest\"";
    for (to, at) in [
        (
            "image = \"quay.io/toolbx/arch-toolbox:latest&&{touch,/tmp/PWNED}\"",
            "containers.distrobox.images[0].image",
        ),
        (
            "image = \"quay.io/a:latest>/tmp/x\"",
            "containers.distrobox.images[0].image",
        ),
        (
            "image = \"Quay.io/Toolbx/arch\"",
            "containers.distrobox.images[0].image",
        ),
        (
            "image = \"quay.io/toolbx/arch-toolbox:latest\", packages = [\"git\", \"vim|sh\"]",
            "containers.distrobox.images[0].packages[1]",
        ),
    ] {
        let fs = embedded_with(image, to);
        let f = one(&fs, "container-invalid");
        assert_eq!(f.at, at, "{to}: {f:#?}");
        assert!(f.hint.is_some());
    }
    for (to, at) in [
        (
            "containers = [{ name = \"web\", image = \"nginx;reboot\" }]",
            "containers.podman.containers[0].image",
        ),
        (
            "containers = [{ name = \"web\", image = \"nginx\", ports = [\"80:80:80:80\"] }]",
            "containers.podman.containers[0].ports[0]",
        ),
        (
            "containers = [{ name = \"-web\", image = \"nginx\" }]",
            "containers.podman.containers[0].name",
        ),
    ] {
        let fs = embedded_with("containers = []", to);
        let f = one(&fs, "container-invalid");
        assert_eq!(f.at, at, "{to}: {f:#?}");
    }
    let fs = embedded_with(
        "containers = []",
        "containers = [{ name = \"web\", image = \"docker.io/library/nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\", ports = [\"127.0.0.1:8080:80/tcp\"] }]",
    );
    assert!(find(&fs, "container-invalid").is_empty(), "{fs:#?}");
}

/// Values that break where they land are refused by check, each at its
/// field: XML-forbidden characters (SVG), a libmount quote, NUL and
/// U+2028, impossible tmpfs sizes, sizes outside the documented grammar.
#[test]
fn values_that_break_where_they_land_are_refused() {
    let tmpfs = "tmpfs = { size = \"2G\", mode = \"755\" }";
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "model = \"Microsoft Surface Pro 8\"",
            "model = \"Surface\u{FFFE}\"",
            "text-unrepresentable",
            "host.model",
        ),
        (
            "model = \"Microsoft Surface Pro 8\"",
            "model = \"Surface\u{FFFF}\"",
            "text-unrepresentable",
            "host.model",
        ),
        (
            "model = \"Microsoft Surface Pro 8\"",
            "model = \"Surface\\u0000\"",
            "text-unrepresentable",
            "host.model",
        ),
        (
            "model = \"Microsoft Surface Pro 8\"",
            "model = \"Surface\u{2028}8\"",
            "text-unrepresentable",
            "host.model",
        ),
        (
            "label = \"boot\"\n",
            "label = \"bo\u{FFFF}ot\"\n",
            "text-unrepresentable",
            "partition[1].label",
        ),
        (
            "options = [\"umask=0077\"]",
            "options = [\"mode=\\\"755\"]",
            "mount-option-invalid",
            "mount[11].options[0]",
        ),
        (
            "options = [\"umask=0077\"]",
            "options = [\"a\\\\040b\"]",
            "mount-option-invalid",
            "mount[11].options[0]",
        ),
        (
            "mount_options = [\"noatime\"]",
            "mount_options = [\"noatime\\\"\"]",
            "mount-option-invalid",
            "btrfs.mount_options[0]",
        ),
        (
            tmpfs,
            "tmpfs = { size = \"99999999999999999999999G\", mode = \"755\" }",
            "tmpfs-malformed",
            "mount[0].tmpfs",
        ),
        (
            tmpfs,
            "tmpfs = { size = \"18446744073709551615k\", mode = \"755\" }",
            "tmpfs-malformed",
            "mount[0].tmpfs",
        ),
        (
            tmpfs,
            "tmpfs = { size = \"0\", mode = \"755\" }",
            "tmpfs-malformed",
            "mount[0].tmpfs",
        ),
        (
            tmpfs,
            "tmpfs = { size = \"250%\", mode = \"755\" }",
            "tmpfs-malformed",
            "mount[0].tmpfs",
        ),
    ];
    for (from, to, code, at) in cases {
        let fs = embedded_with(from, to);
        let hits = find(&fs, code);
        assert!(
            hits.iter()
                .any(|f| f.at == *at && f.severity == Severity::Error),
            "{to}: no {code} at {at} in {fs:#?}"
        );
    }
    // A subvolume path lands in `subvol=`: a quote there is a spec error.
    for bad in ["@user/ho\\\"me", "@user/ho me", "@user/h\u{FFFE}"] {
        let text = embedded::SURFACE_PRO_8.toml.replacen(
            "path = \"@user/home\"",
            &format!("path = \"{bad}\""),
            1,
        );
        let err = parse("edited.toml", &text).unwrap_err();
        assert!(
            err.problems
                .iter()
                .any(|p| p.problem.at.to_string().starts_with("btrfs.subvolume[")),
            "{bad}: {err}"
        );
    }
    // Sizes: exactly DIGITS[.DIGITS]UNIT, units case-sensitive.
    for bad in ["2 gb", "2Gb", "2KB", "256 GB", "1gb", "2.GB"] {
        let text =
            embedded::SURFACE_PRO_8
                .toml
                .replacen("ram = \"8GB\"", &format!("ram = \"{bad}\""), 1);
        let err = parse("edited.toml", &text).unwrap_err();
        assert!(
            err.problems
                .iter()
                .any(|p| p.problem.at.to_string() == "host.ram"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn waydroid_with_nftables_is_an_error_only_before_25_11() {
    let on = |r: &str, firewall: &str| {
        let text = embedded::SURFACE_PRO_8
            .toml
            .replacen("release = \"26.05\"", &format!("release = \"{r}\""), 1)
            .replacen(
                "firewall = \"nftables\"",
                &format!("firewall = \"{firewall}\""),
                1,
            );
        findings("w.toml", &text)
    };
    let fs = on("24.11", "nftables");
    let f = one(&fs, "waydroid-nftables");
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.at.starts_with("desktop.session[") && f.at.ends_with("].package"),
        "{}",
        f.at
    );
    assert!(f.line.is_some());
    let hint = f.hint.as_deref().unwrap();
    assert!(
        hint.contains("release = \"25.11\"") && hint.contains("iptables"),
        "{hint}"
    );
    // The same 24.11 host without the conflict checks without an error.
    let fs = on("24.11", "iptables");
    let errors: Vec<_> = fs
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    for r in ["25.11", "26.05", "26.11"] {
        let fs = on(r, "nftables");
        let errors: Vec<_> = fs
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .collect();
        assert!(errors.is_empty(), "{r}: {errors:#?}");
    }
}

#[test]
fn boot_too_small_says_its_per_generation_figure_is_an_estimate_and_its_parts() {
    // 60 MB per generation is not measured: the finding says so and names
    // the kernel and initrd figures it rests on (model::BOOT_PER_GENERATION).
    let fs = embedded_with(
        "label = \"boot\"\nsize = \"2GB\"",
        "label = \"boot\"\nsize = \"150MB\"",
    );
    let f = one(&fs, "boot-too-small");
    assert_eq!(f.severity, Severity::Warning);
    assert!(f.message.contains("~60 MB each"), "{}", f.message);
    assert!(f.message.contains("an estimate"), "{}", f.message);
    assert!(f.message.contains("12-15 MB kernel"), "{}", f.message);
    assert!(f.message.contains("15-45 MB initrd"), "{}", f.message);
    // 100 MB reserve + 2 x 60 MB.
    assert_eq!(
        f.hint.as_deref(),
        Some("make partition `boot` at least 220 MB")
    );
}

/// One tmpfs size grammar (tabula_spec::size::parse_tmpfs) for check,
/// status and mount: `1T` is 2^40 bytes, as the kernel reads it. check
/// knew only k/m/g and called it malformed while status read a terabyte.
#[test]
fn tmpfs_size_in_terabytes_is_one_terabyte_everywhere() {
    let fs = embedded_with(
        "tmpfs = { size = \"2G\", mode = \"755\" }",
        "tmpfs = { size = \"1T\", mode = \"755\" }",
    );
    assert!(find(&fs, "tmpfs-malformed").is_empty(), "{fs:#?}");
    assert!(
        find(&fs, "tmpfs-size")
            .iter()
            .any(|f| f.at == "mount[0].tmpfs.size" && f.message.contains("1T")),
        "{fs:#?}"
    );
    assert_eq!(tabula_spec::size::tmpfs_bytes("1T"), Some(1 << 40));
}
