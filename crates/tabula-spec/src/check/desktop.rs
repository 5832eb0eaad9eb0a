//! Desktop sessions.

use super::*;

impl Checker<'_> {
    pub(super) fn desktop(&mut self, s: &HostSpec) {
        let Some(d) = &s.desktop else { return };
        let at = key("desktop");
        if d.display_manager != "sddm" {
            self.add(
                Code::SessionInvalid,
                at.key("display_manager"),
                format!("display manager `{}` is not supported", d.display_manager),
                Some("use \"sddm\"".into()),
            );
        }
        let mut ids = BTreeSet::new();
        for ses in &d.sessions {
            let sat = at.index("session", ses.index);
            let id_ok = !ses.id.is_empty()
                && ses
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !id_ok || !ids.insert(ses.id.as_str()) {
                self.add(
                    Code::SessionInvalid,
                    sat.key("id"),
                    format!(
                        "session id `{}` is duplicated or not a plain file name",
                        crate::landing::shown(&ses.id)
                    ),
                    Some("use letters, digits, `-` and `_`; each id once".into()),
                );
            }
            self.session_entry(ses, &sat);
        }
        if let Some(def) = &d.default_session {
            if !d.sessions.iter().any(|x| &x.id == def) {
                self.add(
                    Code::SessionDefaultUnknown,
                    at.key("default_session"),
                    format!("default session `{def}` is not among the sessions"),
                    Some(format!(
                        "use one of: {}",
                        d.sessions
                            .iter()
                            .map(|x| x.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                );
            }
        }
    }

    /// What lands in the session's .desktop file and Exec line.
    fn session_entry(&mut self, ses: &Session, sat: &KeyPath) {
        for (field, value) in [
            ("name", Some(&ses.name)),
            ("comment", ses.comment.as_ref()),
            ("desktop_names", ses.desktop_names.as_ref()),
        ] {
            if value.is_some_and(|v| has_control(v)) {
                self.add(
                    Code::TextUnrepresentable,
                    sat.key(field),
                    format!("the session's {field} holds a line break or control character, which a .desktop file cannot carry"),
                    Some("keep it on one line".into()),
                );
            }
        }
        if ses.args.iter().any(|a| has_control(a)) {
            self.add(
                Code::TextUnrepresentable,
                sat.key("args"),
                "an argument holds a line break or control character, which an Exec line cannot carry".into(),
                None,
            );
        }
        if ses.kind == SessionKind::Cage {
            let pkg_ok = ses.package.as_deref().is_some_and(is_attr_path);
            let prog_ok = ses.program.as_deref().is_some_and(|p| {
                crate::RelPath::parse(p).is_ok() && !p.contains([' ', '"', '\\', '$'])
            });
            if !pkg_ok || !prog_ok {
                self.add(
                    Code::SessionInvalid,
                    sat.clone(),
                    format!("cage session `{}` needs `package` (a nixpkgs attribute) and `program` (a path in it such as \"bin/brave\")", ses.id),
                    None,
                );
            }
        }
    }
}
