//! Every rule code has a fixture that triggers it. `fixture` is an
//! exhaustive `match` over [`Code`]: a new code does not compile until it
//! has one, and the test proves each fixture fires its code.
#![allow(clippy::unwrap_used, clippy::panic)]

use tabula_spec::check::{check_on, findings_from_error, Code, Date, Finding, Severity};
use tabula_spec::{embedded, parse};

const LITERAL: &str = include_str!("fixtures/document-literal.toml");
const TODAY: Date = Date {
    year: 2026,
    month: 11,
    day: 25,
};

/// Where a code's finding comes from.
enum Fixture {
    /// The document's literal transcription, as is.
    Literal,
    /// The embedded host, as is.
    Embedded,
    /// The embedded host with these replacements (each applied once).
    Edit(&'static [(&'static str, &'static str)]),
    /// A fleet of two: the embedded host deploying to `root@surface`, and
    /// the same host with these replacements (cross-host rules).
    Fleet(&'static [(&'static str, &'static str)]),
}

const RENAMED: (&str, &str) = ("name = \"surface-pro-8\"", "name = \"desk\"");

const TMPFS: &str = "tmpfs = { size = \"2G\", mode = \"755\" }";
const MODULES: &str =
    "initrd_modules = [\"nvme\", \"xhci_pci\", \"usb_storage\", \"uas\", \"sd_mod\", \"exfat\"]";

fn fixture(code: Code) -> Fixture {
    use Fixture::{Edit, Embedded, Fleet, Literal};
    match code {
        Code::FleetHostDuplicate => Fleet(&[]),
        Code::FleetUuidShared | Code::FleetTargetShared => Fleet(&[RENAMED]),
        Code::FleetReleaseMixed => Fleet(&[RENAMED, ("release = \"26.05\"", "release = \"25.11\"")]),
        Code::SpecShape => Edit(&[("ram = \"8GB\"", "ram = \"8 gigs\"")]),
        Code::ReleaseUnsupported | Code::ReleaseEol => Literal,
        Code::KernelBuiltLocally => Embedded,
        Code::BootTooSmall => Edit(&[(
            "label = \"boot\"\nsize = \"2GB\"",
            "label = \"boot\"\nsize = \"200MB\"",
        )]),
        Code::WaydroidNftables => Edit(&[("release = \"26.05\"", "release = \"24.11\"")]),
        Code::StateVersionNewer => Edit(&[("state_version = \"24.11\"", "state_version = \"26.11\"")]),
        Code::StateVersionOlder => Embedded,
        Code::HostnameInvalid => Edit(&[("name = \"surface-pro-8\"", "name = \"surface pro 8\"")]),
        Code::PartitionNumber => Edit(&[("number = 3\n", "number = 2\n")]),
        Code::PartitionLabelDuplicate => Edit(&[("label = \"kali\"\n", "label = \"alpine\"\n")]),
        Code::PartitionLabelInvalid => Edit(&[("label = \"kali\"\n", "label = \"\"\n")]),
        Code::PartitionRestTwice => Edit(&[(
            "size = \"2GB\"\ntype = \"linux\"",
            "size = \"rest\"\ntype = \"linux\"",
        )]),
        Code::PartitionSizeZero => Edit(&[("size = \"5GB\"", "size = \"0MB\"")]),
        Code::PartitionOverlap => Edit(&[(
            "label = \"kali\"\nsize = \"20GB\"",
            "label = \"kali\"\nsize = \"20GB\"\nstart = \"5GB\"",
        )]),
        Code::PartitionExceedsDisk => Edit(&[(
            "size = \"20GB\"\ntype = \"windows-data\"",
            "size = \"250GB\"\ntype = \"windows-data\"",
        )]),
        Code::PartitionNoContent => Edit(&[(
            "filesystem = { type = \"ext4\", uuid = \"0eaf7961-48c5-4b55-8a8f-04cd0b71de07\", label = \"boot\" }\n",
            "\n",
        )]),
        Code::ForeignFormatted => Edit(&[(
            "filesystem = { type = \"ntfs\" }\n",
            "filesystem = { type = \"ntfs\" }\nformat = true\n",
        )]),
        Code::EspSharedFormatted => Edit(&[("format = false\n", "format = true\n")]),
        Code::WindowsTooSmall | Code::NotDualBoot | Code::ForeignUnreachable => Literal,
        Code::UuidMalformed => Edit(&[("uuid = \"2CE0-6722\"", "uuid = \"2CE06722\"")]),
        Code::LabelTooLong => Edit(&[(
            "label = \"ESP\" }",
            "label = \"A-LABEL-FAR-TOO-LONG-FOR-FAT\" }",
        )]),
        Code::LuksPartition => Edit(&[("partition = \"pool\"\n", "partition = \"kali\"\n")]),
        Code::KdfWeakened => Edit(&[("kdf = \"argon2id\"", "kdf = \"pbkdf2\"")]),
        Code::KeyfileDriverMissing => Edit(&[(MODULES, "initrd_modules = [\"nvme\", \"sd_mod\"]")]),
        Code::KeyfileUsbMissing => Edit(&[(
            MODULES,
            "initrd_modules = [\"nvme\", \"sd_mod\", \"exfat\"]",
        )]),
        Code::KeyfilePasswordFallback => Embedded,
        Code::SubvolumeDuplicate => Edit(&[("path = \"@shared/flatpak\"", "path = \"@shared/containers\"")]),
        Code::SubvolumeParentUndeclared => Edit(&[("path = \"@shared\"\n", "path = \"@common\"\n")]),
        Code::EstimatesExceedPool => Literal,
        Code::EstimatesFitPool => Embedded,
        Code::MountDuplicate => Edit(&[("path = \"/var/log\"\n", "path = \"/var/lib\"\n")]),
        Code::MountSourceUndeclared => Edit(&[("partition = \"boot\"\n", "partition = \"bot\"\n")]),
        Code::MountOptionInvalid => Edit(&[("options = [\"umask=0077\"]", "options = [\"umask=0077,ro\"]")]),
        Code::RootNotTmpfs => Edit(&[(
            TMPFS,
            "subvolume = \"@system\"",
        )]),
        Code::TmpfsMalformed => Edit(&[(TMPFS, "tmpfs = { size = \"2GB\", mode = \"755\" }")]),
        Code::TmpfsSize => Edit(&[(TMPFS, "tmpfs = { size = \"16G\", mode = \"755\" }")]),
        Code::NeededForBoot => Edit(&[(
            "subvolume = \"@system/logs\"\nneeded_for_boot = true",
            "subvolume = \"@system/logs\"",
        )]),
        Code::PersistNotPersistent | Code::EntryCoveredByMount => Literal,
        Code::CoveredByWrong => Edit(&[(
            "covered_by = \"/var/lib\" },\n  { path = \"/var/lib/systemd\"",
            "covered_by = \"/home\" },\n  { path = \"/var/lib/systemd\"",
        )]),
        Code::EntryDuplicate => Edit(&[("{ path = \"/etc/machine-id\" },", "{ path = \"/etc/machine-id\" },\n  { path = \"/etc/machine-id\" },")]),
        Code::ConfigOnTmpfs => Edit(&[("{ path = \"/etc/nixos\", note = \"this host's flake\" },", "")]),
        Code::UserUndeclared => Edit(&[("primary_user = \"user\"", "primary_user = \"someone\"")]),
        Code::UserNoPassword => Edit(&[("hashed_password_file = \"/persist/secrets/root.passwd\"\n", "\n")]),
        Code::PasswordFileNotPersistent => Edit(&[(
            "hashed_password_file = \"/persist/secrets/user.passwd\"",
            "hashed_password_file = \"/etc/user.passwd\"",
        )]),
        Code::SessionInvalid => Edit(&[("id = \"gnome\"", "id = \"plasma\"")]),
        Code::SessionDefaultUnknown => Edit(&[("default_session = \"plasma\"", "default_session = \"kde\"")]),
        Code::BootEntryInvalid => Edit(&[("system = \"kali\"", "system = \"parrot\"")]),
        Code::KeyfileNeedsSystemd => Edit(&[("initrd_systemd = true", "initrd_systemd = false")]),
        Code::EspTooSmall => Edit(&[
            ("loader = \"grub\"", "loader = \"refind\""),
            ("release = \"26.05\"", "release = \"25.11\""),
        ]),
        Code::ContainerInvalid => Edit(&[("\"htop\"", "\"ht op\"")]),
        Code::NameDuplicate => Edit(&[("name = \"fedora\"", "name = \"arch\"")]),
        Code::RootlessPodmanStorage => Literal,
        // The unpersisted /etc path (impermanence#282, agenix#219), and no host_key.
        Code::SecretIdentityNotAtBoot | Code::SecretsNoHostKey => Edit(&[(
            "\n[boot]\n",
            "\n[secrets]\nidentity = \"/etc/ssh/ssh_host_ed25519_key\"\nnames = [\"wifi\"]\n\n[boot]\n",
        )]),
        Code::TextUnrepresentable => Edit(&[(
            "description = \"Primary user\"",
            "description = \"Primary\\nuser\"",
        )]),
    }
}

fn findings(text: &str) -> Vec<Finding> {
    match parse("fixture.toml", text) {
        Ok(loaded) => check_on(&loaded, TODAY),
        Err(e) => findings_from_error(&e),
    }
}

fn run(code: Code) -> Vec<Finding> {
    match fixture(code) {
        Fixture::Literal => findings(LITERAL),
        Fixture::Embedded => findings(embedded::SURFACE_PRO_8.toml),
        Fixture::Edit(edits) => {
            let mut text = embedded::SURFACE_PRO_8.toml.to_owned();
            for (from, to) in edits {
                assert!(text.contains(from), "{code}: the host has no {from:?}");
                text = text.replacen(from, to, 1);
            }
            findings(&text)
        }
        Fixture::Fleet(edits) => {
            let first = format!(
                "{}\n[deploy]\ntarget = \"root@surface\"\n",
                embedded::SURFACE_PRO_8.toml
            );
            let mut second = first.clone();
            for (from, to) in edits {
                assert!(second.contains(from), "{code}: the host has no {from:?}");
                second = second.replacen(from, to, 1);
            }
            let a = parse("a.toml", &first).unwrap();
            let b = parse("b.toml", &second).unwrap();
            tabula_spec::fleet::check_fleet(&[&a, &b])
                .into_iter()
                .map(|f| {
                    assert_eq!(f.host, 1, "{code}: reported on the second host");
                    assert!(
                        f.finding.message.contains("a.toml:"),
                        "{code}: names the first place: {}",
                        f.finding.message
                    );
                    f.finding
                })
                .collect()
        }
    }
}

#[test]
fn every_code_has_a_fixture_that_triggers_it() {
    let mut missing = Vec::new();
    for &code in Code::ALL {
        let fs = run(code);
        match fs.iter().find(|f| f.code == code) {
            Some(f) => assert_eq!(f.severity, code.severity(), "{code}: {f:#?}"),
            None => missing.push(format!(
                "{code}: {:?}",
                fs.iter().map(|f| f.code).collect::<Vec<_>>()
            )),
        }
    }
    assert!(
        missing.is_empty(),
        "codes without a firing fixture:\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_code_has_a_name_severity_and_summary() {
    let mut names: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    let n = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), n, "two codes share a name");
    for &code in Code::ALL {
        let name = code.as_str();
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{name:?} is not kebab-case"
        );
        // Serde and Display say the same name.
        assert_eq!(serde_json::to_string(&code).unwrap(), format!("\"{name}\""));
        assert_eq!(code.to_string(), name);
        assert!(!code.summary().is_empty(), "{name} has no summary");
        let _: Severity = code.severity();
    }
    // `--rules` lists every code once, in the order they run.
    let rules = tabula_spec::check::rules();
    assert_eq!(rules.len(), Code::ALL.len());
    assert_eq!(rules[0].code, Code::SpecShape);
    assert_eq!(rules.last().unwrap().code, Code::TextUnrepresentable);
}

/// Findings come sorted by severity, line, then the code's *name* (as when
/// codes were strings), never by the enum's declaration order.
#[test]
fn findings_sort_by_severity_line_and_code_name() {
    for &code in Code::ALL {
        let fs = run(code);
        let keys: Vec<_> = fs
            .iter()
            .map(|f| (f.severity, f.line.unwrap_or(usize::MAX), f.code.as_str()))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted, "{code}");
    }
}
