//! # Values checked against where they land
//!
//! One function per kind of value that leaves the spec for a format with
//! its own grammar: container image references (OCI distribution
//! reference), container names, distribution package names, Podman port
//! mappings, and the characters an XML document (the SVG pictures) can
//! carry. `check` reports what they refuse with the place and the fix; the
//! renderer calls the same functions as its last line of defence.
//!
//! distrobox.ini is read by `distrobox assemble` with shell code: each
//! `key=value` line is written to a file that is sourced, and the values
//! are then pasted into a command line that is `eval`ed. No quoting
//! survives both, so every distrobox.ini value is limited to characters
//! that mean nothing to a shell ([`shell_inert`]).

/// A value as shown in a message: escaped (`\n`, `\u{fffe}`) and cut to
/// 60 characters, so that a huge value does not make a huge report.
pub fn shown(s: &str) -> String {
    const MAX: usize = 60;
    let n = s.chars().count();
    if n <= MAX {
        return s.escape_debug().to_string();
    }
    let head: String = s.chars().take(MAX).collect();
    format!("{}… ({n} characters)", head.escape_debug())
}

/// Characters that mean nothing to a POSIX shell or bash, in any position:
/// ASCII letters and digits and `. _ - : / @ +`. (No `~`, which expands
/// after `=` and `:`; no `{ } ,`, brace expansion; no `% =` either.)
pub fn shell_inert(s: &str) -> bool {
    s.bytes().all(|b| {
        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':' | b'/' | b'@' | b'+')
    })
}

/// An OCI image reference: `[registry[:port]/]name(/component)*[:tag][@algo:hex]`
/// (the grammar of github.com/distribution/reference).
///
/// # Errors
/// Why `s` is not one, as a sentence.
pub fn image_reference(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("the image reference is empty".into());
    }
    if !s.is_ascii() || s.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err("an image reference is ASCII without spaces or control characters".into());
    }
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (s, None),
    };
    if let Some(d) = digest {
        digest_ok(d)?;
    }
    // The tag follows the last `:` that is after the last `/`.
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(t) = tag {
        let b = t.as_bytes();
        let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
        if b.is_empty()
            || b.len() > 128
            || !word(b[0])
            || !b.iter().all(|&c| word(c) || c == b'.' || c == b'-')
        {
            return Err(format!(
                "tag `{t}` is not a tag: a letter, digit or `_`, then letters, digits, `_`, `.` or `-` (at most 128)"
            ));
        }
    }
    if name.len() > 255 {
        return Err("the image name is longer than 255 characters".into());
    }
    let mut components: Vec<&str> = name.split('/').collect();
    let first = components[0];
    let has_domain = components.len() > 1
        && (first.contains(['.', ':'])
            || first == "localhost"
            || first.bytes().any(|b| b.is_ascii_uppercase()));
    if has_domain {
        domain_ok(first)?;
        components.remove(0);
    }
    for c in components {
        path_component_ok(c)?;
    }
    Ok(())
}

fn domain_ok(d: &str) -> Result<(), String> {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (d, None),
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.parse::<u16>().is_err() {
            return Err(format!("registry port `{p}` is not a port number"));
        }
    }
    let label_ok = |l: &str| {
        let b = l.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
    };
    if !host.split('.').all(label_ok) {
        return Err(format!(
            "registry `{host}` is not a host name (letters, digits and `-` between dots)"
        ));
    }
    Ok(())
}

/// `[a-z0-9]+ ( (\.|_|__|-+) [a-z0-9]+ )*`
fn path_component_ok(c: &str) -> Result<(), String> {
    let bad = || {
        Err(format!(
            "`{c}` is not an image name component: lower-case letters and digits, separated by one `.`, one or two `_`, or dashes"
        ))
    };
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return bad();
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return bad();
        }
    }
    Ok(())
}

/// `algo:hex`: algorithm components `[A-Za-z][A-Za-z0-9]*` joined by
/// `+ . _ -`, and at least 32 hex digits.
fn digest_ok(d: &str) -> Result<(), String> {
    let bad = || {
        Err(format!(
            "`@{d}` is not a digest such as `@sha256:` and 64 hex digits"
        ))
    };
    let Some((algo, hex)) = d.split_once(':') else {
        return bad();
    };
    let algo_ok = algo.split(['+', '.', '_', '-']).all(|p| {
        let b = p.as_bytes();
        !b.is_empty() && b[0].is_ascii_alphabetic() && b.iter().all(u8::is_ascii_alphanumeric)
    });
    if !algo_ok || hex.len() < 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return bad();
    }
    Ok(())
}

/// A container name (Podman, Distrobox, microVM): `[a-zA-Z0-9][a-zA-Z0-9_.-]*`,
/// at most 63 characters (it also becomes a host name and a unit name).
pub fn container_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// A distribution package name as apt, dnf, pacman, apk and zypper know
/// them: a letter or digit, then letters, digits and `. _ + - : @`
/// (`libc6:i386`, `gcc-c++`). Versions and globs are not names.
pub fn package_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 255
        && b[0].is_ascii_alphanumeric()
        && b.iter().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'+' | b'-' | b':' | b'@')
        })
}

/// A Podman port mapping: `[ip:][hostPort:]containerPort[/tcp|udp|sctp]`,
/// ports and ranges `N-M` from 1 to 65535, ip an IPv4 address.
pub fn port_mapping(s: &str) -> bool {
    let (ports, proto) = match s.split_once('/') {
        Some((p, proto)) => (p, Some(proto)),
        None => (s, None),
    };
    if proto.is_some_and(|p| !matches!(p, "tcp" | "udp" | "sctp")) {
        return false;
    }
    let port = |p: &str| {
        !p.is_empty()
            && p.len() <= 5
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u16>().is_ok_and(|n| n > 0)
    };
    let range = |r: &str| match r.split_once('-') {
        Some((a, b)) => port(a) && port(b),
        None => port(r),
    };
    let ipv4 = |ip: &str| ip.parse::<std::net::Ipv4Addr>().is_ok();
    let parts: Vec<&str> = ports.split(':').collect();
    match parts.as_slice() {
        [c] => range(c),
        [h, c] => range(h) && range(c),
        [ip, h, c] => ipv4(ip) && (h.is_empty() || range(h)) && range(c),
        _ => false,
    }
}

/// Why a value cannot be a mount option, or `None` when it can: one
/// option of a `-o` list / fstab field, read by libmount. A `,` separates
/// options; `"` opens a quoted value (`mode="755,size=1M` would mount with
/// no size limit); fstab splits fields at whitespace and decodes `\`
/// escapes. Only printable ASCII without `, " ' \` is written.
pub fn mount_option_problem(o: &str) -> Option<&'static str> {
    if o.is_empty() {
        Some("the option is empty")
    } else if o.contains(',') {
        Some("a `,` separates mount options, so an option cannot contain one")
    } else if o.contains(['"', '\'', '\\']) {
        Some("libmount reads `\"` as a quote and fstab reads `\\` as an escape: an option cannot hold quotes or backslashes")
    } else if o.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("fstab cannot hold a space, a tab or a control character in an option")
    } else if !o.is_ascii() {
        Some("mount options are ASCII")
    } else {
        None
    }
}

/// Whether XML 1.0 can carry `c` (`Char` production): tab, line feed,
/// carriage return, and U+0020 up, less the surrogates and U+FFFE/U+FFFF.
/// Other C0 and C1 controls are refused too (legal in XML 1.0 as C1, but
/// no text tabula writes should hold them).
pub fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r')
        || (!c.is_control() && !matches!(c, '\u{FFFE}' | '\u{FFFF}') && !is_noncharacter(c))
}

/// Unicode noncharacters (U+FDD0..U+FDEF and the last two of every plane).
fn is_noncharacter(c: char) -> bool {
    let n = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&n) || (n & 0xFFFE) == 0xFFFE
}

/// Characters no text field of the spec may hold, whatever the format it
/// lands in: controls (a line break included), noncharacters, and the
/// Unicode line and paragraph separators, which Nix, `.desktop` files and
/// GRUB treat differently from each other.
pub fn text_char(c: char) -> bool {
    !c.is_control() && !is_noncharacter(c) && !matches!(c, '\u{2028}' | '\u{2029}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references() {
        for ok in [
            "quay.io/toolbx/arch-toolbox:latest",
            "docker.io/library/debian:12",
            "debian",
            "localhost:5000/my/app:v1.0",
            "registry.fedoraproject.org/fedora-toolbox:40",
            "ghcr.io/a__b/c-d--e/f.g:x_y",
            "alpine@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "Registry.Example.com/app",
        ] {
            assert_eq!(image_reference(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "quay.io/toolbx/arch-toolbox:latest&&{touch,/tmp/PWNED}",
            "a;b",
            "a$(id)",
            "a`id`",
            "a b",
            "a\nb",
            "upper/Case",
            "a:",
            "a:-tag",
            "a@sha256:12",
            "a//b",
            "a.-b",
            "a___b",
            "host:99999/a",
            "a|b",
            "a>b",
            "'a'",
            "\"a\"",
        ] {
            assert!(image_reference(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_packages_ports() {
        assert!(container_name("arch-dev.1_x") && !container_name("-a") && !container_name("a b"));
        assert!(package_name("gcc-c++") && package_name("libc6:i386") && !package_name("a>=1"));
        assert!(!package_name("$(id)") && !package_name(""));
        for ok in [
            "8080:80",
            "80",
            "127.0.0.1:8080:80/tcp",
            "127.0.0.1::80",
            "1000-1010:1000-1010/udp",
        ] {
            assert!(port_mapping(ok), "{ok}");
        }
        for bad in [
            "", "0:80", "70000:80", "a:80", "80/icmp", "1:2:3:4", "x:1:2",
        ] {
            assert!(!port_mapping(bad), "{bad}");
        }
    }

    #[test]
    fn mount_options() {
        assert_eq!(mount_option_problem("umask=0077"), None);
        assert_eq!(mount_option_problem("subvol=@user/home"), None);
        for bad in [
            "",
            "a,b",
            "mode=\"755",
            "a'b",
            "a\\040b",
            "a b",
            "a\nb",
            "é",
        ] {
            assert!(mount_option_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn xml_and_text_chars() {
        assert!(xml_char('a') && xml_char('\n') && xml_char('é'));
        assert!(!xml_char('\u{FFFE}') && !xml_char('\u{FFFF}') && !xml_char('\u{1}'));
        assert!(!xml_char('\u{1FFFF}') && !xml_char('\u{FDD0}'));
        assert!(!text_char('\u{2028}') && !text_char('\0') && text_char('😀'));
        assert!(shell_inert("quay.io/a:b@sha256:00") && !shell_inert("a&b") && !shell_inert("~"));
    }
}
