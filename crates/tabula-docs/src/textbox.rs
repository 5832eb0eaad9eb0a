//! # Box diagrams in text
//!
//! The document draws its overview with box-drawing characters in a fenced
//! block. Spec strings may be any width (CJK takes two columns), so every
//! line is measured with `unicode-width` and padded: all lines of one
//! diagram have the same display width, and the right edge stays straight.

use unicode_width::UnicodeWidthStr;

/// Display width in a monospace font.
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// A spec string made safe for one line of a diagram: control characters
/// (newline, tab) would break the frame.
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn pad(s: &str, w: usize) -> String {
    let mut out = s.to_owned();
    out.push_str(&" ".repeat(w.saturating_sub(width(s))));
    out
}

fn center(s: &str, w: usize) -> String {
    let left = w.saturating_sub(width(s)) / 2;
    pad(&format!("{}{s}", " ".repeat(left)), w)
}

/// Rows of cells as aligned columns, `gap` spaces apart.
pub fn columns(rows: &[Vec<String>], gap: usize) -> Vec<String> {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| width(c))
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|r| {
            let mut line = String::new();
            for (i, c) in r.iter().enumerate() {
                if i + 1 == r.len() {
                    line.push_str(c);
                } else {
                    line.push_str(&pad(c, widths[i] + gap));
                }
            }
            line.trim_end().to_owned()
        })
        .collect()
}

/// A titled box around `lines`, at least `min_inner` columns inside.
/// Returns its lines (all the same display width).
pub fn boxed(title: &str, lines: &[String], min_inner: usize) -> Vec<String> {
    let title = clean(title);
    let lines: Vec<String> = lines.iter().map(|l| clean(l)).collect();
    let inner = lines
        .iter()
        .map(|l| width(l) + 6)
        .chain([width(&title) + 4, min_inner])
        .max()
        .unwrap_or(0);
    let mut out = vec![format!("┌{}┐", "─".repeat(inner))];
    out.push(format!("│{}│", center(&title, inner)));
    out.push(format!("├{}┤", "─".repeat(inner)));
    out.push(format!("│{}│", " ".repeat(inner)));
    for l in &lines {
        out.push(format!("│{}│", pad(&format!("   {l}"), inner)));
    }
    out.push(format!("│{}│", " ".repeat(inner)));
    out.push(format!("└{}┘", "─".repeat(inner)));
    out
}

/// A panel inside a [`framed`] diagram: a title and its lines.
#[derive(Debug, Clone)]
pub struct Panel {
    pub title: String,
    pub lines: Vec<String>,
}

/// The document's overview shape: an outer titled frame holding panels,
/// one under the other, all panels as wide as the widest.
pub fn framed(title: &str, panels: &[Panel]) -> String {
    let title = clean(title);
    let panel_inner = panels
        .iter()
        .flat_map(|p| {
            p.lines
                .iter()
                .map(|l| width(&clean(l)) + 6)
                .chain([width(&clean(&p.title)) + 4])
        })
        .chain([width(&title).saturating_sub(2)])
        .max()
        .unwrap_or(0);
    let drawn: Vec<Vec<String>> = panels
        .iter()
        .map(|p| boxed(&p.title, &p.lines, panel_inner))
        .collect();
    let outer = panel_inner + 2 + 4;
    let mut out = vec![format!("┌{}┐", "─".repeat(outer))];
    out.push(format!("│{}│", center(&title, outer)));
    out.push(format!("├{}┤", "─".repeat(outer)));
    out.push(format!("│{}│", " ".repeat(outer)));
    for d in &drawn {
        for l in d {
            out.push(format!("│{}│", pad(&format!("  {l}"), outer)));
        }
        out.push(format!("│{}│", " ".repeat(outer)));
    }
    out.push(format!("└{}┘", "─".repeat(outer)));
    let mut s = out.join("\n");
    s.push('\n');
    s
}

/// A box with its lines, as one string.
pub fn single(title: &str, lines: &[String]) -> String {
    let mut s = boxed(title, lines, 0).join("\n");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_has_the_same_width_even_with_wide_text() {
        let d = framed(
            "HOST 東京",
            &[
                Panel {
                    title: "RUNTIME".into(),
                    lines: vec!["/  tmpfs".into(), "/home  数据\tx".into()],
                },
                Panel {
                    title: "STORAGE".into(),
                    lines: vec!["a very long line that sets the width".into()],
                },
            ],
        );
        let widths: Vec<usize> = d.lines().map(width).collect();
        assert!(widths.windows(2).all(|w| w[0] == w[1]), "{d}");
    }

    #[test]
    fn columns_align() {
        let c = columns(
            &[
                vec!["/".into(), "tmpfs".into()],
                vec!["/var/lib".into(), "x".into()],
            ],
            2,
        );
        assert_eq!(c, vec!["/         tmpfs", "/var/lib  x"]);
    }
}
