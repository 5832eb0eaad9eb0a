//! # `[deploy]`: where and how the fleet deploys a host
//!
//! Optional. `tabula render --fleet` turns it into the host's colmena node
//! (`deployment.targetHost`, `targetUser`, `targetPort`, `tags`,
//! `buildOnTarget`, `allowLocalDeployment`) and `tabula deploy` selects
//! hosts by name or `@tag` from it. A host without `[deploy]` is rendered
//! but never deployed (its node has `targetHost = null`).

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{KeyPath, Problem};

/// Where a build runs: `local` (this machine, then copied) or `target`.
pub const BUILD_ON: &[&str] = &["local", "target"];

/// `[deploy]` as written.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDeploy {
    /// SSH target `user@host[:port]` (user and port optional; an IPv6
    /// address in brackets: `root@[fd00::1]:22`).
    pub target: Option<String>,
    /// Tags for `tabula deploy --on @TAG` (letters, digits, `-`, `_`).
    #[serde(default)]
    pub tags: Vec<String>,
    /// "local" (default) or "target": where the system is built.
    pub build_on: Option<String>,
    /// May be deployed on the machine tabula runs on (colmena's
    /// `allowLocalDeployment`).
    #[serde(default)]
    pub allow_local: bool,
}

/// The validated `[deploy]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Deploy {
    pub target: Option<Target>,
    pub tags: Vec<String>,
    pub build_on_target: bool,
    pub allow_local: bool,
}

/// An SSH target: `user@host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[non_exhaustive]
pub struct Target {
    pub user: Option<String>,
    /// A host name, an IPv4 address or an IPv6 address (without brackets).
    pub host: String,
    pub port: Option<u16>,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(u) = &self.user {
            write!(f, "{u}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}

impl Target {
    /// The user colmena logs in as (its default: root).
    pub fn user_or_root(&self) -> &str {
        self.user.as_deref().unwrap_or("root")
    }

    /// The same machine, whatever the spelling: host names compare without
    /// case, a missing port is 22, a missing user is root.
    pub fn same_machine(&self, other: &Target) -> bool {
        self.host.eq_ignore_ascii_case(&other.host)
            && self.port.unwrap_or(22) == other.port.unwrap_or(22)
    }
}

const TARGET_FIX: &str = "write the SSH target as `user@host`, `user@host:port` or `user@[ipv6]:port`, e.g. \"root@laptop.lan:22\"";

/// Parse `user@host[:port]`.
///
/// # Errors
/// Why the text is not a target.
pub fn parse_target(text: &str) -> Result<Target, String> {
    if text.is_empty() {
        return Err("the target is empty".into());
    }
    if let Some(c) = text.chars().find(|c| {
        c.is_whitespace() || c.is_control() || matches!(c, '/' | '\'' | '"' | '`' | '$' | ';')
    }) {
        return Err(format!("the target holds {c:?}, which no SSH target has"));
    }
    let (user, rest) = match text.rsplit_once('@') {
        Some((u, r)) => (Some(u), r),
        None => (None, text),
    };
    if let Some(u) = user {
        let ok = !u.is_empty()
            && u.len() <= 32
            && !u.starts_with('-')
            && u.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !ok {
            return Err(format!(
                "`{u}` is not a user name (letters, digits, `_`, `-`, `.`)"
            ));
        }
    }
    let (host, port) = if let Some(r) = rest.strip_prefix('[') {
        let Some((h, after)) = r.split_once(']') else {
            return Err("an IPv6 address opened with `[` is not closed with `]`".into());
        };
        if h.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("`{h}` is not an IPv6 address"));
        }
        let port = match after {
            "" => None,
            p => match p.strip_prefix(':') {
                Some(p) => Some(p),
                None => return Err(format!("`{after}` after the address is not `:PORT`")),
            },
        };
        (h.to_owned(), port)
    } else {
        match rest.split_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (rest.to_owned(), None),
        }
    };
    if !host.contains(':') && !is_host_name(&host) {
        return Err(format!(
            "`{host}` is not a host name or address (letters, digits, `-`, `.`; an IPv6 address goes in brackets)"
        ));
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(format!("`{p}` is not a port (1-65535)")),
        },
    };
    Ok(Target {
        user: user.map(str::to_owned),
        host,
        port,
    })
}

fn is_host_name(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// A tag colmena can select with `--on @TAG`.
pub fn is_tag(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 64
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub(crate) fn validate(p: &mut Vec<Problem>, r: &RawDeploy) -> Deploy {
    let at = KeyPath::root().key("deploy");
    let target = match &r.target {
        None => None,
        Some(t) => match parse_target(t) {
            Ok(t) => Some(t),
            Err(why) => {
                p.push(Problem {
                    at: at.key("target"),
                    message: format!("`{}` is not an SSH target: {why}", crate::landing::shown(t)),
                    hint: Some(TARGET_FIX.into()),
                });
                None
            }
        },
    };
    if r.target.is_none() && !r.allow_local {
        p.push(Problem {
            at: at.clone(),
            message: "`[deploy]` has neither `target` nor `allow_local = true`: the host could not be deployed anywhere".into(),
            hint: Some(format!("add `target = \"root@HOST\"` ({TARGET_FIX}), or `allow_local = true` to deploy on this machine")),
        });
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, t) in r.tags.iter().enumerate() {
        if !is_tag(t) {
            p.push(Problem {
                at: at.index("tags", i),
                message: format!("`{}` is not a tag", crate::landing::shown(t)),
                hint: Some(
                    "use letters, digits, `-` and `_` (it is selected with `--on @TAG`)".into(),
                ),
            });
        } else if !seen.insert(t.as_str()) {
            p.push(Problem {
                at: at.index("tags", i),
                message: format!("the tag `{t}` is given twice"),
                hint: Some("remove the second one".into()),
            });
        }
    }
    let build_on_target = match r.build_on.as_deref() {
        None | Some("local") => false,
        Some("target") => true,
        Some(other) => {
            let hint = match crate::did_you_mean(other, BUILD_ON) {
                Some(s) => format!("did you mean `{s}`? (known: local, target)"),
                None => "known values: local, target".into(),
            };
            p.push(Problem {
                at: at.key("build_on"),
                message: format!("unknown value `{}`", crate::landing::shown(other)),
                hint: Some(hint),
            });
            false
        }
    };
    Deploy {
        target,
        tags: r.tags.clone(),
        build_on_target,
        allow_local: r.allow_local,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[test]
    fn targets_parse_and_print_back() {
        for t in [
            "root@laptop.lan",
            "admin@10.0.0.2:2222",
            "server",
            "root@[fd00::1]:22",
            "deploy_user@host-1",
        ] {
            assert_eq!(parse_target(t).unwrap().to_string(), t);
        }
        let t = parse_target("me@box:2200").unwrap();
        assert_eq!(
            (t.user.as_deref(), t.host.as_str(), t.port),
            (Some("me"), "box", Some(2200))
        );
    }

    #[test]
    fn bad_targets_say_why() {
        for (t, why) in [
            ("", "empty"),
            ("root@", "not a host name"),
            ("@host", "not a user name"),
            ("root@host:0", "not a port"),
            ("root@host:99999", "not a port"),
            ("root@host:ssh", "not a port"),
            ("root@fd00::1", "not a port"),
            ("root@[fd00::1", "not closed"),
            ("root@[nope]:22", "not an IPv6"),
            ("root@host name", "holds"),
            ("root@-host", "not a host name"),
            ("root@host;reboot", "holds"),
        ] {
            let e = parse_target(t).unwrap_err();
            assert!(e.contains(why), "{t:?}: {e}");
        }
    }

    #[test]
    fn a_bad_target_is_an_error_at_its_line_with_the_fix() {
        let text = format!(
            "{}\n[deploy]\ntarget = \"root@laptop:ssh\"\ntags = [\"laptop\"]\n",
            crate::embedded::SURFACE_PRO_8.toml
        );
        let line = text
            .lines()
            .position(|l| l.starts_with("target ="))
            .unwrap()
            + 1;
        let e = crate::parse("host.toml", &text).unwrap_err();
        let p = &e.problems[0];
        assert_eq!(p.line, Some(line), "{p:?}");
        assert!(p.problem.message.contains("not a port"), "{p:?}");
        assert!(p
            .problem
            .hint
            .as_deref()
            .unwrap()
            .contains("user@host:port"));
        let ok = text.replace("root@laptop:ssh", "root@laptop:2222");
        let d = crate::parse("host.toml", &ok).unwrap().spec.deploy.unwrap();
        assert_eq!(d.target.unwrap().port, Some(2222));
        assert_eq!(d.tags, ["laptop"]);
        let bad = ok.replace("tags = [", "build_on = \"targt\"\ntags = [");
        let e = crate::parse("host.toml", &bad).unwrap_err();
        assert!(e.problems[0]
            .problem
            .hint
            .as_deref()
            .unwrap()
            .contains("did you mean `target`"));
    }
}
