//! # Byte sizes with explicit units
//!
//! `MB`/`GB`/`TB` are decimal (10^6, 10^9, 10^12 bytes), as drive makers and
//! the architecture document use them ("256GB NVMe"); `MiB`/`GiB`/`TiB` are
//! binary, `kB` is 1000 bytes and `B` one byte. The grammar is exactly
//! `DIGITS[.DIGITS]UNIT`: no space, units case-sensitive (`Gb` would be
//! gigabits, `KB` is ambiguous). A bare number is refused: a size without
//! a unit is ambiguous.

use std::fmt;

use serde::Serialize;

/// Sizes above 1 EiB are refused, so sums of sizes never overflow.
const MAX_BYTES: u64 = 1 << 60;

pub(crate) const UNITS: &[(&str, u64)] = &[
    ("B", 1),
    ("kB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("TB", 1_000_000_000_000),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("TiB", 1 << 40),
];

/// A size in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Size(u64);

impl Size {
    pub const fn bytes(b: u64) -> Self {
        Size(b)
    }

    pub const fn as_u64(self) -> u64 {
        self.0
    }

    /// Parse "100MB", "2GiB", "2.5GB".
    ///
    /// # Errors
    /// A message naming the accepted units.
    pub fn parse(text: &str) -> Result<Size, String> {
        const KNOWN: &str =
            "B, kB, MB, GB, TB (decimal) or KiB, MiB, GiB, TiB (binary), case as written";
        let t = text;
        let shown = crate::landing::shown(text);
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| {
                format!("`{shown}` has no unit; write e.g. \"{shown}GB\" or \"{shown}GiB\"")
            })?;
        let (num, unit) = t.split_at(split);
        let exact = |u: &str| UNITS.iter().find(|(x, _)| *x == u).map(|(_, f)| *f);
        let factor = match exact(unit) {
            Some(f) if text.trim() == text => f,
            _ => {
                let u = unit.trim();
                let close = UNITS
                    .iter()
                    .find(|(x, _)| x.eq_ignore_ascii_case(u))
                    .map(|(x, _)| *x);
                return Err(match (exact(u), close, u) {
                    (Some(_), _, _) => format!(
                        "`{}`: write the size without spaces, e.g. \"{}{u}\"",
                        shown,
                        num.trim()
                    ),
                    (None, _, "KB" | "Kb" | "kb") => format!(
                        "`{shown}`: `{u}` is ambiguous; write kB (1000 bytes) or KiB (1024 bytes)"
                    ),
                    (None, Some(x), _) => format!(
                        "`{}`: unit `{}` is not `{x}` (units are case-sensitive: `Gb` would be gigabits); use {KNOWN}",
                        shown,
                        u.escape_debug()
                    ),
                    (None, None, _) => format!(
                        "`{}`: unknown unit `{}` (use {KNOWN})",
                        shown,
                        u.escape_debug()
                    ),
                });
            }
        };
        if num.is_empty() {
            return Err(format!("`{shown}` has no number"));
        }
        let bytes = match num.split_once('.') {
            None => num.parse::<u64>().ok().and_then(|n| n.checked_mul(factor)),
            Some((int, frac)) if int.is_empty() || frac.is_empty() => None,
            Some((int, frac)) => {
                // Exact decimal arithmetic: "2.5GB" is 2_500_000_000 bytes.
                let digits = format!("{int}{frac}");
                let scale = 10u64.checked_pow(u32::try_from(frac.len()).unwrap_or(u32::MAX));
                match (digits.parse::<u64>().ok(), scale) {
                    (Some(d), Some(s)) if !frac.contains('.') => {
                        d.checked_mul(factor).map(|v| v / s)
                    }
                    _ => None,
                }
            }
        };
        match bytes {
            Some(b) if b <= MAX_BYTES => Ok(Size(b)),
            Some(_) => Err(format!(
                "`{shown}` is larger than any disk tabula handles (1 EiB)"
            )),
            None => Err(format!("`{shown}` is not a valid size")),
        }
    }

    /// Human form, the workspace's one convention: binary units with one
    /// decimal ("1.0 GiB", "512 B"); see [`human_bytes`].
    pub fn human(self) -> String {
        human_bytes(self.0)
    }
}

const IEC: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

/// Bytes for people, the one formatter of the workspace (audit report, disk
/// plan, docs, `status`, and signed in the closure diff): binary (IEC)
/// units, one decimal above a KiB: `512 B`, `1.5 KiB`, `1.0 GiB` (never
/// "1.1 GB").
pub fn human_bytes(b: u64) -> String {
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < IEC.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", IEC[u])
    }
}

/// [`human_bytes`] with a sign: `-1.5 KiB`, `3.0 GiB` (a growth or shrink).
pub fn human_signed(b: i64) -> String {
    let sign = if b < 0 { "-" } else { "" };
    format!("{sign}{}", human_bytes(b.unsigned_abs()))
}

/// A tmpfs `size=`: a byte count or a percentage of the RAM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TmpfsSize {
    Bytes(u64),
    Percent(u64),
}

/// The one tmpfs size grammar, as the kernel's memparse reads it, for the
/// spec check, `status` and `mount`: `DIGITS[SUFFIX]` with a binary suffix
/// `k`, `m`, `g`, `t`, `p` or `e` (either case; `1T` is 2^40 bytes), or
/// `DIGITS%`. No spaces, no sign, no fraction, no leading zero (octal to
/// the kernel); past u64 is refused (the kernel would wrap around).
pub fn parse_tmpfs(s: &str) -> Option<TmpfsSize> {
    if let Some(p) = s.strip_suffix('%') {
        return digits(p).map(TmpfsSize::Percent);
    }
    let (num, shift) = match s.as_bytes().last()?.to_ascii_lowercase() {
        b'k' => (&s[..s.len() - 1], 10),
        b'm' => (&s[..s.len() - 1], 20),
        b'g' => (&s[..s.len() - 1], 30),
        b't' => (&s[..s.len() - 1], 40),
        b'p' => (&s[..s.len() - 1], 50),
        b'e' => (&s[..s.len() - 1], 60),
        _ => (s, 0),
    };
    digits(num)?
        .checked_mul(1u64 << shift)
        .map(TmpfsSize::Bytes)
}

/// Bytes of a tmpfs size; `None` for a percentage or anything malformed.
pub fn tmpfs_bytes(s: &str) -> Option<u64> {
    match parse_tmpfs(s)? {
        TmpfsSize::Bytes(b) => Some(b),
        TmpfsSize::Percent(_) => None,
    }
}

/// Decimal digits. A leading zero is refused: the kernel's memparse reads
/// `010` as octal (8) and `0x10` as hex, so such a size would not mean
/// what it seems to.
fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.human())
    }
}

/// A size estimate: one value ("5GB") or a range ("30-50GB", "30GB-50GB").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Estimate {
    pub min: Size,
    pub max: Size,
}

impl Estimate {
    /// # Errors
    /// A message when either bound is not a size or min > max.
    pub fn parse(text: &str) -> Result<Estimate, String> {
        let t = text.trim().trim_start_matches('~');
        let Some((lo, hi)) = t.split_once('-') else {
            let s = Size::parse(t)?;
            return Ok(Estimate { min: s, max: s });
        };
        let max = Size::parse(hi)?;
        let unit: String = hi
            .chars()
            .skip_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let lo = lo.trim();
        let min = if lo.chars().all(|c| c.is_ascii_digit() || c == '.') {
            Size::parse(&format!("{lo}{unit}"))?
        } else {
            Size::parse(lo)?
        };
        if min > max {
            return Err(format!(
                "`{text}`: the lower bound is above the upper bound"
            ));
        }
        Ok(Estimate { min, max })
    }
}

impl fmt::Display for Estimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.min == self.max {
            write!(f, "{}", self.max)
        } else {
            write!(f, "{}–{}", self.min, self.max)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_decimal_and_binary_units() {
        assert_eq!(Size::parse("100MB").map(Size::as_u64), Ok(100_000_000));
        assert_eq!(Size::parse("2GiB").map(Size::as_u64), Ok(2 << 30));
        assert_eq!(Size::parse("2.5GB").map(Size::as_u64), Ok(2_500_000_000));
        assert_eq!(Size::parse("2kB").map(Size::as_u64), Ok(2_000));
    }

    #[test]
    fn only_the_documented_grammar() {
        for bad in [
            "2 gb", "2Gb", "2KB", "256 GB", "1gb", " 2GB", "2GB ", "2gib", "2GB\n", "2.GB", ".5GB",
        ] {
            assert!(Size::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Size::parse("2KB").unwrap_err().contains("KiB"));
        assert!(Size::parse("2Gb").unwrap_err().contains("case-sensitive"));
    }

    #[test]
    fn refuses_missing_or_unknown_units() {
        assert!(Size::parse("100").is_err());
        assert!(Size::parse("100XB").is_err());
        assert!(Size::parse("GB").is_err());
        assert!(Size::parse("1.2.3GB").is_err());
        assert!(Size::parse("99999999999999999999TB").is_err());
        assert!(Size::parse("18446744073709551615B").is_err());
        assert!(Size::parse("10000000TB").is_err());
    }

    #[test]
    fn estimates_take_ranges() {
        let e = Estimate::parse("30-50GB").expect("range");
        assert_eq!(
            (e.min.as_u64(), e.max.as_u64()),
            (30_000_000_000, 50_000_000_000)
        );
        let e = Estimate::parse("~5GB").expect("single");
        assert_eq!(e.min, e.max);
        assert!(Estimate::parse("50-30GB").is_err());
    }

    #[test]
    fn human_sizes() {
        assert_eq!(Size::bytes(100_000_000).human(), "95.4 MiB");
        assert_eq!(Size::bytes(1 << 30).human(), "1.0 GiB");
        assert_eq!(Size::parse("1GiB").map(Size::human), Ok("1.0 GiB".into()));
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(u64::MAX), "16.0 EiB");
        assert_eq!(human_signed(-1536), "-1.5 KiB");
        assert_eq!(human_signed(3 << 30), "3.0 GiB");
        assert_eq!(human_signed(i64::MIN), "-8.0 EiB");
    }

    #[test]
    fn tmpfs_grammar() {
        assert_eq!(tmpfs_bytes("1T"), Some(1 << 40));
        assert_eq!(tmpfs_bytes("1t"), Some(1 << 40));
        assert_eq!(tmpfs_bytes("2G"), Some(2 << 30));
        assert_eq!(tmpfs_bytes("2097152k"), Some(2 << 30));
        assert_eq!(tmpfs_bytes("512m"), Some(512 << 20));
        assert_eq!(tmpfs_bytes("1P"), Some(1 << 50));
        assert_eq!(tmpfs_bytes("1e"), Some(1 << 60));
        assert_eq!(tmpfs_bytes("4096"), Some(4096));
        assert_eq!(tmpfs_bytes("0"), Some(0));
        assert_eq!(tmpfs_bytes("100G"), Some(100 << 30));
        assert_eq!(parse_tmpfs("50%"), Some(TmpfsSize::Percent(50)));
        assert_eq!(tmpfs_bytes("50%"), None);
        for bad in [
            "",
            "G",
            "%",
            "16e",
            "99999999999999999999G",
            "2 G",
            " 2G",
            "2G ",
            "-2G",
            "+2G",
            "2.5G",
            "2GB",
            "2x",
            "2GiB",
            "é",
        ] {
            assert_eq!(parse_tmpfs(bad), None, "{bad:?}");
        }
    }
}
