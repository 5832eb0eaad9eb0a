//! Every string of the file is text the written files can carry.

use super::*;

impl Checker<'_> {
    /// Every string of the file (keys too) is text: no control character
    /// (a line break included), no noncharacter (U+FFFE, U+FFFF, ...), no
    /// U+2028/U+2029. No format tabula writes carries them all the same
    /// way (Nix, `.desktop`, GRUB, fstab, XML).
    pub(super) fn text(&mut self, text: &str) {
        fn walk(out: &mut Vec<(KeyPath, String)>, at: &KeyPath, v: &toml::Value) {
            match v {
                toml::Value::String(s) if !s.chars().all(crate::landing::text_char) => {
                    out.push((at.clone(), s.clone()));
                }
                toml::Value::Table(t) => {
                    for (k, v) in t {
                        let kat = at.key(k);
                        if !k.chars().all(crate::landing::text_char) {
                            out.push((kat.clone(), k.clone()));
                        }
                        match v {
                            toml::Value::Array(a) => {
                                for (i, x) in a.iter().enumerate() {
                                    walk(out, &at.index(k, i), x);
                                }
                            }
                            v => walk(out, &kat, v),
                        }
                    }
                }
                toml::Value::Array(a) => {
                    for (i, x) in a.iter().enumerate() {
                        walk(out, &at.index_only(i), x);
                    }
                }
                _ => {}
            }
        }
        let Ok(v) = text.parse::<toml::Value>() else {
            return;
        };
        let mut bad = Vec::new();
        walk(&mut bad, &KeyPath::root(), &v);
        for (at, s) in bad {
            let c = s
                .chars()
                .find(|c| !crate::landing::text_char(*c))
                .unwrap_or('\0');
            self.add(
                Code::TextUnrepresentable,
                at,
                format!(
                    "`{}` holds U+{:04X}, a control, noncharacter or line separator that the files tabula writes cannot carry",
                    crate::landing::shown(&s),
                    u32::from(c)
                ),
                Some("keep the value on one line, in printable characters".into()),
            );
        }
    }
}
