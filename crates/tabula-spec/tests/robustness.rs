//! Property tests: no input makes the spec loader or the checker panic, and
//! sizes and paths keep their meaning.
#![allow(clippy::unwrap_used, clippy::panic)]

use proptest::prelude::*;
use tabula_spec::check::{check_on, Date};
use tabula_spec::{embedded, parse, AbsPath, Size};

const TODAY: Date = Date {
    year: 2026,
    month: 11,
    day: 25,
};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any text: an error with places, or a spec the checker can read.
    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        match parse("any.toml", &text) {
            Ok(l) => { let _ = check_on(&l, TODAY); }
            Err(e) => {
                prop_assert!(!e.problems.is_empty());
                let _ = e.render_report(false);
            }
        }
    }

    /// The embedded host with one value replaced by arbitrary text.
    #[test]
    fn any_string_value_is_an_error_or_a_spec(value in "\\PC{0,40}", pick in 0usize..200) {
        let text = embedded::SURFACE_PRO_8.toml;
        let quoted: Vec<(usize, usize)> = text
            .match_indices("= \"")
            .filter_map(|(i, _)| {
                let start = i + 3;
                text[start..].find('"').map(|len| (start, start + len))
            })
            .collect();
        let (a, b) = quoted[pick % quoted.len()];
        let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
        let edited = format!("{}{}{}", &text[..a], escaped, &text[b..]);
        match parse("edited.toml", &edited) {
            Ok(l) => { let _ = check_on(&l, TODAY); }
            Err(e) => {
                prop_assert!(e.problems.iter().all(|p| p.line.is_some()), "{e}");
            }
        }
    }

    #[test]
    fn sizes_scale_by_their_unit(n in 0u64..100_000) {
        prop_assert_eq!(Size::parse(&format!("{n}MB")).unwrap().as_u64(), n * 1_000_000);
        prop_assert_eq!(Size::parse(&format!("{n}MiB")).unwrap().as_u64(), n << 20);
        prop_assert_eq!(Size::parse(&format!("{n}GB")).unwrap().as_u64(), n * 1_000_000_000);
    }

    /// A path is accepted exactly when it is already in normal form.
    #[test]
    fn paths_are_accepted_only_in_normal_form(parts in proptest::collection::vec("[a-z.]{0,3}", 0..5)) {
        let text = format!("/{}", parts.join("/"));
        let normal = text == "/" || parts.iter().all(|p| !p.is_empty() && p != "." && p != "..");
        prop_assert_eq!(AbsPath::parse(&text).is_ok(), normal, "{}", text);
    }
}
