//! The LUKS container and its USB keyfile.

use super::*;

impl Checker<'_> {
    pub(super) fn luks(&mut self, s: &HostSpec) {
        let Some(l) = &s.luks else { return };
        let at = key("luks");
        match s.partition(&l.partition) {
            None => self.add(
                Code::LuksPartition,
                at.key("partition"),
                format!("no partition is labelled `{}`", l.partition),
                Some("name the partition that holds the container".into()),
            ),
            Some(p) if !p.luks => self.add(
                Code::LuksPartition,
                KeyPath::root().index("partition", p.index).key("luks"),
                format!(
                    "partition `{}` holds the LUKS container but is not marked `luks = true`",
                    p.label
                ),
                Some("add `luks = true` to it".into()),
            ),
            Some(_) => {}
        }
        if !crate::model::is_rfc4122(&l.uuid) {
            self.add(
                Code::UuidMalformed,
                at.key("uuid"),
                format!("`{}` is not a LUKS UUID", crate::landing::shown(&l.uuid)),
                Some("a LUKS UUID is an RFC 4122 UUID (8-4-4-4-12 hex digits)".into()),
            );
        }
        if l.name.is_empty() || l.name.contains(['/', ' ']) || has_control(&l.name) {
            self.add(
                Code::TextUnrepresentable,
                at.key("name"),
                format!(
                    "`{}` cannot be a device-mapper name",
                    crate::landing::shown(&l.name)
                ),
                Some("use a plain name such as \"pool\"".into()),
            );
        }
        self.kdf(l, &at);
        if let Some(k) = &l.keyfile {
            self.keyfile(s, k, &at.key("keyfile"));
        }
    }

    /// A key derivation weaker than argon2id with cryptsetup's cost.
    fn kdf(&mut self, l: &Luks, at: &KeyPath) {
        let weakened = [
            (l.kdf != Kdf::Argon2id).then(|| format!("kdf = \"{}\"", l.kdf.name())),
            l.pbkdf_iterations
                .map(|n| format!("pbkdf_iterations = {n}")),
            l.pbkdf_memory_kib
                .map(|n| format!("pbkdf_memory_kib = {n}")),
            l.pbkdf_time_ms.map(|n| format!("pbkdf_time_ms = {n}")),
        ];
        let weakened: Vec<String> = weakened.into_iter().flatten().collect();
        if !weakened.is_empty() {
            self.add(
                Code::KdfWeakened,
                at.key("kdf"),
                format!(
                    "the key derivation is weakened ({}): fine for tests, not for a real disk",
                    weakened.join(", ")
                ),
                Some("remove these keys to use argon2id with cryptsetup's benchmarked cost".into()),
            );
        }
    }

    /// The USB keyfile: its stick's drivers, the fallback, stage 1.
    fn keyfile(&mut self, s: &HostSpec, k: &Keyfile, kat: &KeyPath) {
        self.uuid(k.fs_type, &k.fs_uuid, kat.key("fs_uuid"));
        let modules: BTreeSet<&str> = s
            .hardware
            .initrd_modules
            .iter()
            .map(String::as_str)
            .collect();
        let driver = k.fs_type.kernel_module();
        if !modules.contains(driver) {
            self.add(
                Code::KeyfileDriverMissing,
                kat.key("fs_type"),
                format!(
                    "the keyfile stick is {} but `{driver}` is not in hardware.initrd_modules: stage 1 cannot read the key",
                    k.fs_type
                ),
                Some(format!("add \"{driver}\" to initrd_modules under [hardware]")),
            );
        }
        let usb: Vec<&str> = ["xhci_pci", "usb_storage", "uas"]
            .into_iter()
            .filter(|m| !modules.contains(m))
            .collect();
        if !usb.is_empty() {
            self.add(
                Code::KeyfileUsbMissing,
                KeyPath::root().key("hardware").key("initrd_modules"),
                format!("the initrd lacks {} to see the USB stick", usb.join(", ")),
                Some(format!(
                    "add {} to initrd_modules",
                    usb.iter()
                        .map(|m| format!("\"{m}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            );
        }
        let how = if k.password_fallback {
            format!(
                "stage 1 waits {} s for the stick {}, then asks for the passphrase",
                k.timeout.unwrap_or(10),
                k.fs_uuid
            )
        } else {
            "without the stick the container stays locked (password_fallback = false)".to_owned()
        };
        self.add(Code::KeyfilePasswordFallback, kat.clone(), how, None);
        if !s.boot.initrd_systemd {
            self.add(
                Code::KeyfileNeedsSystemd,
                KeyPath::root().key("boot").key("initrd_systemd"),
                "the USB keyfile is read with crypttab's `file:UUID=` form and keyFileTimeout, which need systemd in stage 1".into(),
                Some("set initrd_systemd = true under [boot]".into()),
            );
        }
        let p = k.path.as_str();
        if p.contains([':', ' ', '\t']) || has_control(p) {
            self.add(
                Code::TextUnrepresentable,
                kat.key("path"),
                format!("the keyfile path `{}` holds `:` or whitespace, which crypttab's `file:device` form cannot carry", crate::landing::shown(p)),
                Some("rename the key file on the stick, e.g. /keys/host.key".into()),
            );
        }
    }
}
