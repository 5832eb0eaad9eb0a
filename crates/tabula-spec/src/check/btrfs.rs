//! The btrfs pool: subvolumes and their estimates.

use super::*;

impl Checker<'_> {
    pub(super) fn btrfs(&mut self, s: &HostSpec) {
        let Some(b) = &s.btrfs else { return };
        let mut seen = BTreeSet::new();
        for sv in &b.subvolumes {
            let at = KeyPath::root().key("btrfs").index("subvolume", sv.index);
            if !seen.insert(sv.path.as_str()) {
                self.add(
                    Code::SubvolumeDuplicate,
                    at.key("path"),
                    format!("subvolume `{}` is declared twice", sv.path),
                    None,
                );
            }
            if let Some(parent) = sv.parent() {
                if b.subvolume(parent).is_none() {
                    self.add(
                        Code::SubvolumeParentUndeclared,
                        at.key("path"),
                        format!(
                            "subvolume `{}` is nested in `{parent}`, which is not declared",
                            sv.path
                        ),
                        Some(format!(
                            "add a [[btrfs.subvolume]] with path = \"{parent}\" before it"
                        )),
                    );
                }
            }
        }
        if let Some(u) = &b.uuid {
            self.uuid(FsType::Btrfs, u, key("btrfs").key("uuid"));
        }
        let (lo, hi) = b
            .subvolumes
            .iter()
            .filter_map(|s| s.estimate)
            .fold((0u64, 0u64), |(lo, hi), e| {
                (lo + e.min.as_u64(), hi + e.max.as_u64())
            });
        if hi == 0 {
            return;
        }
        let Some(pool) = s.pool_size() else { return };
        let figures = format!(
            "the subvolume estimates add up to {}–{}; the pool holds {}",
            crate::Size::bytes(lo),
            crate::Size::bytes(hi),
            crate::Size::bytes(pool)
        );
        if hi > pool {
            self.add(
                Code::EstimatesExceedPool,
                key("btrfs"),
                format!("{figures}: the upper bounds exceed it by {}", crate::Size::bytes(hi - pool)),
                Some("btrfs shares space between subvolumes, so this only bites if they all grow to their upper bound; enable quotas or trim the estimates".into()),
            );
        } else {
            self.add(
                Code::EstimatesFitPool,
                key("btrfs"),
                format!(
                    "{figures} ({} left at the upper bounds)",
                    crate::Size::bytes(pool - hi)
                ),
                None,
            );
        }
    }
}
