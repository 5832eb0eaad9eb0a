//! Containers, Flatpak apps, microVMs.

use super::*;

impl Checker<'_> {
    pub(super) fn container_entries(&mut self, s: &HostSpec) {
        let at = key("containers");
        for (i, pkg) in s.containers.nix_packages.iter().enumerate() {
            if !is_attr_path(pkg) {
                self.add(
                    Code::ContainerInvalid,
                    at.key("nix_packages").index_only(i),
                    format!("`{}` is not a nixpkgs attribute name", crate::landing::shown(pkg)),
                    Some("write the attribute as in `nix search nixpkgs`, e.g. \"ripgrep\" or \"kdePackages.kate\"".into()),
                );
            }
        }
        self.distrobox(s, &at);
        self.flatpak(s, &at);
        self.podman(s, &at);
        self.microvm(s, &at);
    }

    /// Distrobox assemble's images, names and packages.
    fn distrobox(&mut self, s: &HostSpec, at: &KeyPath) {
        // distrobox assemble sources each `key=value` line of its ini and
        // evals the command it builds from them: every value is checked by
        // its grammar, and only shell-inert characters get through.
        if let Some(d) = &s.containers.distrobox {
            let mut names: BTreeMap<&str, usize> = BTreeMap::new();
            for (i, img) in d.images.iter().enumerate() {
                let iat = at.key("distrobox").index("images", i);
                if !crate::landing::container_name(&img.name) {
                    self.add(
                        Code::ContainerInvalid,
                        iat.key("name"),
                        format!("distrobox container name `{}` is not a container name", crate::landing::shown(&img.name)),
                        Some("start with a letter or digit, then letters, digits, `_`, `.` or `-` (at most 63), e.g. \"arch-dev\"".into()),
                    );
                } else if let Some(prev) = names.insert(&img.name, i) {
                    self.duplicate(
                        iat.key("name"),
                        at.key("distrobox").index("images", prev).key("name"),
                        &format!("distrobox container name `{}`", img.name),
                        "distrobox.ini has one section per container: give each a different name",
                    );
                }
                if let Err(why) = crate::landing::image_reference(&img.image) {
                    self.add(
                        Code::ContainerInvalid,
                        iat.key("image"),
                        format!("`{}` is not a container image reference: {why}", crate::landing::shown(&img.image)),
                        Some("write it as registry/name:tag or name@sha256:DIGEST, e.g. \"quay.io/toolbx/arch-toolbox:latest\"".into()),
                    );
                }
                for (j, p) in img.packages.iter().enumerate() {
                    if !crate::landing::package_name(p) {
                        self.add(
                            Code::ContainerInvalid,
                            iat.key("packages").index_only(j),
                            format!("`{}` is not a package name", crate::landing::shown(p)),
                            Some("one package per element, its name only: letters, digits and `. _ + - : @` (no versions, spaces or shell characters)".into()),
                        );
                    }
                }
            }
        }
    }

    /// Flatpak app ids and the remote.
    fn flatpak(&mut self, s: &HostSpec, at: &KeyPath) {
        if let Some(f) = &s.containers.flatpak {
            for (i, app) in f.apps.iter().enumerate() {
                if app.split('.').count() < 3 || !app.split('.').all(|p| plain(p, b"_-")) {
                    self.add(
                        Code::ContainerInvalid,
                        at.key("flatpak").key("apps").index_only(i),
                        format!(
                            "`{}` is not a Flatpak application id",
                            crate::landing::shown(app)
                        ),
                        Some(
                            "use the reverse-DNS id from Flathub, e.g. \"org.mozilla.firefox\""
                                .into(),
                        ),
                    );
                }
            }
            if let Some(r) = &f.remote {
                if !plain(&r.name, b"-_") || !r.url.starts_with("https://") || spaced(&r.url) {
                    self.add(
                        Code::ContainerInvalid,
                        at.key("flatpak").key("remote"),
                        format!(
                            "Flatpak remote `{}` needs a plain name and an https:// URL",
                            crate::landing::shown(&r.name)
                        ),
                        None,
                    );
                }
            }
        }
    }

    /// Podman containers: names, images, ports.
    fn podman(&mut self, s: &HostSpec, at: &KeyPath) {
        if let Some(p) = &s.containers.podman {
            let mut names: BTreeMap<&str, usize> = BTreeMap::new();
            for (i, c) in p.containers.iter().enumerate() {
                let cat = at.key("podman").index("containers", i);
                if !crate::landing::container_name(&c.name) {
                    self.add(
                        Code::ContainerInvalid,
                        cat.key("name"),
                        format!("Podman container name `{}` is not a container name", crate::landing::shown(&c.name)),
                        Some("start with a letter or digit, then letters, digits, `_`, `.` or `-` (at most 63)".into()),
                    );
                } else if let Some(prev) = names.insert(&c.name, i) {
                    self.duplicate(
                        cat.key("name"),
                        at.key("podman").index("containers", prev).key("name"),
                        &format!("Podman container name `{}`", c.name),
                        "each name becomes virtualisation.oci-containers.containers.NAME and the unit podman-NAME.service: make them unique",
                    );
                }
                if let Err(why) = crate::landing::image_reference(&c.image) {
                    self.add(
                        Code::ContainerInvalid,
                        cat.key("image"),
                        format!("`{}` is not a container image reference: {why}", crate::landing::shown(&c.image)),
                        Some("write it as registry/name:tag or name@sha256:DIGEST, e.g. \"docker.io/library/nginx:1.27\"".into()),
                    );
                }
                for (j, port) in c.ports.iter().enumerate() {
                    if !crate::landing::port_mapping(port) {
                        self.add(
                            Code::ContainerInvalid,
                            cat.key("ports").index_only(j),
                            format!("`{}` is not a port mapping", crate::landing::shown(port)),
                            Some("write [IP:]HOST:CONTAINER[/tcp|udp], e.g. \"8080:80\" or \"127.0.0.1:8080:80/tcp\"".into()),
                        );
                    }
                }
            }
        }
    }

    /// MicroVM names.
    fn microvm(&mut self, s: &HostSpec, at: &KeyPath) {
        if let Some(m) = &s.containers.microvm {
            let mut names: BTreeMap<&str, usize> = BTreeMap::new();
            for (i, vm) in m.vms.iter().enumerate() {
                if plain(&vm.name, b"-_") {
                    if let Some(prev) = names.insert(&vm.name, i) {
                        self.duplicate(
                            at.key("microvm").index("vms", i).key("name"),
                            at.key("microvm").index("vms", prev).key("name"),
                            &format!("microVM name `{}`", vm.name),
                            "each name becomes microvm.vms.NAME: make them unique",
                        );
                    }
                }
                if !plain(&vm.name, b"-_") {
                    self.add(
                        Code::ContainerInvalid,
                        at.key("microvm").index("vms", i).key("name"),
                        format!(
                            "microVM name `{}` must be letters, digits, `-` and `_`",
                            crate::landing::shown(&vm.name)
                        ),
                        None,
                    );
                }
            }
        }
    }

    pub(super) fn containers(&mut self, s: &HostSpec) {
        self.container_entries(s);
        let Some(p) = &s.containers.podman else {
            return;
        };
        if !(p.enable && p.rootless) {
            return;
        }
        if let Some(m) = s.mount("/var/lib/containers") {
            self.add(
                Code::RootlessPodmanStorage,
                KeyPath::root().index("mount", m.index),
                "rootless Podman keeps images and containers under each user's ~/.local/share/containers, not /var/lib/containers: this mount only serves rootful containers".into(),
                Some("rootless storage lives in /home (persistent here); keep this mount for rootful containers or drop it".into()),
            );
        }
    }
}

/// Not empty, ASCII letters and digits and the `extra` bytes only.
fn plain(t: &str, extra: &[u8]) -> bool {
    !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
}

/// Empty, or holding whitespace or control characters.
fn spaced(t: &str) -> bool {
    t.is_empty() || t.chars().any(|c| c.is_whitespace() || c.is_control())
}
