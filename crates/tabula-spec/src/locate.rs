//! # From a key path to a place in the file
//!
//! The spec is parsed a second time with `toml_edit`, which keeps the byte
//! span of every key and value; a [`KeyPath`] is walked down that document.
//! When the exact key is absent (a missing key), the nearest ancestor that
//! exists is pointed at instead.

use toml_edit::{ImDocument, Item};

use crate::{KeyPath, Seg};

#[derive(Debug, Clone)]
pub struct Locator {
    text: String,
    doc: Option<ImDocument<String>>,
}

impl Locator {
    pub fn new(text: &str) -> Self {
        Locator {
            text: text.to_owned(),
            doc: ImDocument::parse(text.to_owned()).ok(),
        }
    }

    /// The byte span of the value at `at`, or of its nearest ancestor.
    pub fn span(&self, at: &KeyPath) -> Option<std::ops::Range<usize>> {
        let doc = self.doc.as_ref()?;
        let mut item: &Item = doc.as_item();
        let mut best = None;
        for seg in &at.0 {
            let next = match seg {
                Seg::Key(k) => item.get(k.as_str()).map(|i| {
                    // The key's own span is the most useful place to point at.
                    let key_span = item
                        .as_table_like()
                        .and_then(|t| t.get_key_value(k))
                        .and_then(|(key, _)| key.span());
                    (i, key_span)
                }),
                Seg::Index(n) => item.get(*n).map(|i| (i, None)),
            };
            match next {
                Some((i, key_span)) => {
                    item = i;
                    best = key_span.or_else(|| item_span(i)).or(best);
                }
                None => break,
            }
        }
        best
    }

    pub fn line_col(&self, at: &KeyPath) -> Option<(usize, usize)> {
        self.span(at).map(|s| line_col(&self.text, s.start))
    }
}

fn item_span(item: &Item) -> Option<std::ops::Range<usize>> {
    match item {
        Item::Value(v) => v.span(),
        Item::Table(t) => t.span(),
        Item::ArrayOfTables(a) => a.span(),
        Item::None => None,
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_in_arrays_of_tables() {
        let text = "[host]\nname = \"x\"\n\n[[partition]]\nlabel = \"a\"\n\n[[partition]]\nlabel = \"b\"\nsize = \"1GB\"\n";
        let l = Locator::new(text);
        let at = KeyPath::root().index("partition", 1).key("size");
        assert_eq!(l.line_col(&at), Some((9, 1)));
        // A missing key points at its table.
        let at = KeyPath::root().index("partition", 0).key("size");
        assert!(l.line_col(&at).is_some());
    }
}
