//! Mounts: sources, options, the tmpfs root, what boot needs.

use super::*;

impl Checker<'_> {
    pub(super) fn mounts(&mut self, s: &HostSpec) {
        let mut seen: BTreeMap<&AbsPath, usize> = BTreeMap::new();
        for m in &s.mounts {
            let at = KeyPath::root().index("mount", m.index);
            if let Some(prev) = seen.insert(&m.path, m.index) {
                self.add(
                    Code::MountDuplicate,
                    at.key("path"),
                    format!(
                        "`{}` is mounted twice (also at {})",
                        m.path,
                        self.loaded
                            .line_col(&KeyPath::root().index("mount", prev).key("path"))
                            .map_or_else(|| format!("mount[{prev}]"), |(l, _)| format!("line {l}"))
                    ),
                    Some("keep one mount per mount point".into()),
                );
            }
            self.mount_source(s, m, &at);
            self.mount_options(m, &at);
        }
        self.btrfs_mount_options(s);
        self.root_is_tmpfs(s);
        self.needed_for_boot(s);
    }

    /// The subvolume, partition or tmpfs a mount takes.
    fn mount_source(&mut self, s: &HostSpec, m: &Mount, at: &KeyPath) {
        match &m.source {
            MountSource::Subvolume { subvolume } => {
                let declared = s
                    .btrfs
                    .as_ref()
                    .is_some_and(|b| b.subvolume(subvolume).is_some());
                if !declared {
                    self.add(
                        Code::MountSourceUndeclared,
                        at.key("subvolume"),
                        format!(
                            "`{}` mounts subvolume `{subvolume}`, which is not declared",
                            m.path
                        ),
                        Some(match crate::did_you_mean(
                            subvolume,
                            &s.btrfs.as_ref().map_or_else(Vec::new, |b| {
                                b.subvolumes.iter().map(|v| v.path.as_str()).collect()
                            }),
                        ) {
                            Some(v) => format!(
                                "did you mean `{v}`? Else add a [[btrfs.subvolume]] with path = \"{subvolume}\""
                            ),
                            None => format!(
                                "add a [[btrfs.subvolume]] with path = \"{subvolume}\""
                            ),
                        }),
                    );
                }
            }
            MountSource::Partition { partition } => match s.partition(partition) {
                None => self.add(
                    Code::MountSourceUndeclared,
                    at.key("partition"),
                    format!(
                        "`{}` mounts partition `{partition}`, which is not declared",
                        m.path
                    ),
                    Some(
                        match crate::did_you_mean(
                            partition,
                            &s.partitions
                                .iter()
                                .map(|p| p.label.as_str())
                                .collect::<Vec<_>>(),
                        ) {
                            Some(l) => format!("did you mean `{l}`?"),
                            None => "name a partition by its label".into(),
                        },
                    ),
                ),
                Some(p) if p.filesystem.is_none() => self.add(
                    Code::MountSourceUndeclared,
                    at.key("partition"),
                    format!(
                        "`{}` mounts partition `{partition}`, which declares no filesystem",
                        m.path
                    ),
                    Some("add `filesystem = { type = ... }` to the partition".into()),
                ),
                Some(_) => {}
            },
            MountSource::Tmpfs { size, mode } => self.tmpfs(s, size, mode.as_deref(), at),
        }
    }

    /// The tmpfs size and mode, and the size against the RAM.
    fn tmpfs(&mut self, s: &HostSpec, size: &str, mode: Option<&str>, at: &KeyPath) {
        // The one tmpfs grammar (size.rs). The kernel's memparse wraps
        // around past u64; 0 means no limit at all; a percentage is of the
        // RAM.
        let size_ok = match crate::size::parse_tmpfs(size) {
            Some(crate::size::TmpfsSize::Percent(p)) => (1..=100).contains(&p),
            Some(crate::size::TmpfsSize::Bytes(b)) => b > 0,
            None => false,
        };
        let mode_ok = mode.is_none_or(|m| {
            (3..=4).contains(&m.len()) && m.bytes().all(|b| (b'0'..=b'7').contains(&b))
        });
        if !size_ok || !mode_ok {
            self.add(
                Code::TmpfsMalformed,
                at.key("tmpfs"),
                format!(
                    "tmpfs size `{}` / mode `{}` is not in tmpfs syntax",
                    crate::landing::shown(size),
                    mode.unwrap_or("").escape_debug()
                ),
                Some("write size like \"2G\" (k, m, g, t, p or e; not 0, which is no limit; at most 16 EiB) or \"25%\" (1-100) and mode like \"755\"".into()),
            );
        } else if let (Some(ram), Some(bytes)) = (s.host.ram, tmpfs_bytes(size)) {
            if bytes > ram.as_u64() {
                self.add(
                    Code::TmpfsSize,
                    at.key("tmpfs").key("size"),
                    format!("the tmpfs root may grow to {size}, more than the {ram} of RAM"),
                    Some("lower it: a full tmpfs root pushes the machine into swap or the OOM killer".into()),
                );
            }
        }
    }

    fn mount_options(&mut self, m: &Mount, at: &KeyPath) {
        for (i, o) in m.options.iter().enumerate() {
            if let Some(why) = crate::landing::mount_option_problem(o) {
                self.add(
                    Code::MountOptionInvalid,
                    at.key("options").index_only(i),
                    format!("mount option `{}` cannot be written: {why}", crate::landing::shown(o)),
                    Some("give each option as its own list element, without quotes: [\"noatime\", \"umask=0077\"]".into()),
                );
            }
        }
    }

    /// The pool's mount options and compression.
    fn btrfs_mount_options(&mut self, s: &HostSpec) {
        if let Some(b) = &s.btrfs {
            for (i, o) in b.mount_options.iter().enumerate() {
                if let Some(why) = crate::landing::mount_option_problem(o) {
                    self.add(
                        Code::MountOptionInvalid,
                        key("btrfs").key("mount_options").index_only(i),
                        format!(
                            "mount option `{}` cannot be written: {why}",
                            crate::landing::shown(o)
                        ),
                        Some("give each option as its own list element".into()),
                    );
                }
            }
            if let Some(c) = &b.compression {
                let ok = matches!(c.split(':').next(), Some("zstd" | "lzo" | "zlib" | "none"))
                    && c.split_once(':')
                        .is_none_or(|(_, l)| l.parse::<u8>().is_ok());
                if !ok {
                    self.add(
                        Code::MountOptionInvalid,
                        key("btrfs").key("compression"),
                        format!(
                            "compression `{}` is not one btrfs knows",
                            crate::landing::shown(c)
                        ),
                        Some("use zstd, zstd:N (1-15), lzo, zlib or none".into()),
                    );
                }
            }
        }
    }

    fn root_is_tmpfs(&mut self, s: &HostSpec) {
        match s.mount("/") {
            Some(m) if m.is_tmpfs() => {}
            _ => self.add(
                Code::RootNotTmpfs,
                key("mount"),
                "`/` is not a tmpfs: nothing is wiped at boot, so impermanence does nothing".into(),
                Some("add a [[mount]] with path = \"/\" and tmpfs = { size = \"2G\", mode = \"755\" }".into()),
            ),
        }
    }

    /// What stage 1 must mount before the system can activate.
    fn needed_for_boot(&mut self, s: &HostSpec) {
        let mut needed: Vec<(AbsPath, String)> = Vec::new();
        for p in ["/nix", "/var/lib", "/var/log"] {
            if let Ok(p) = AbsPath::parse(p) {
                needed.push((
                    p,
                    "activation needs it before systemd mounts anything".into(),
                ));
            }
        }
        if let Some(ps) = &s.persistence {
            needed.push((
                ps.root.clone(),
                "the impermanence module binds from it during activation".into(),
            ));
        }
        for u in &s.users {
            if let Some(f) = u
                .hashed_password_file
                .as_deref()
                .and_then(|f| AbsPath::parse(f).ok())
            {
                needed.push((
                    f,
                    format!(
                        "user `{}`'s password file is read during activation",
                        u.name
                    ),
                ));
            }
        }
        let mut flagged = BTreeSet::new();
        for (path, why) in needed {
            if let Some(m) = s.mount_holding(&path) {
                if !m.is_tmpfs() && !m.needed_for_boot && flagged.insert(m.index) {
                    let what = if m.path == path {
                        String::new()
                    } else {
                        format!(" holds {path}:")
                    };
                    self.add(
                        Code::NeededForBoot,
                        KeyPath::root().index("mount", m.index).key("path"),
                        format!(
                            "`{}`{what} {why}, but it is not marked needed_for_boot",
                            m.path
                        ),
                        Some("add `needed_for_boot = true` to this mount".into()),
                    );
                }
            }
        }
    }
}
