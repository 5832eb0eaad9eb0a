//! # Pictures: the disk to scale and the subvolume tree
//!
//! Each picture is first a layout model ([`Picture`]: shapes and text
//! labels with their boxes), then SVG. Tests check the model (no two
//! labels overlap, no line crosses a label, no two leader lines meet,
//! every partition has a label) with the same conservative text-width
//! estimate the layout uses, so what is tested is what is drawn.
//!
//! Readable on light and dark pages: every picture has its own opaque
//! background and dark text on light plates. Output is deterministic: fixed
//! float formatting, spec order, no timestamps.

use std::fmt::Write as _;

use tabula_spec::model::Owner;
use tabula_spec::HostSpec;

use crate::facts;
use crate::textbox::width as display_width;

/// Monospace everywhere: widths can be estimated reliably.
const FONT: &str = "DejaVu Sans Mono, Menlo, Consolas, Liberation Mono, monospace";
/// Advance of one monospace column, as a fraction of the font size. Real
/// monospace fonts are at 0.60; 0.62 leaves room for a fallback font.
const ADVANCE: f64 = 0.62;
const LINE: f64 = 1.25;
const TEXT: &str = "#1a1a1a";
const MUTED: &str = "#555555";
const BACKGROUND: &str = "#ffffff";
/// How far a label's plate reaches beyond its text box, across and down.
pub const PLATE_X: f64 = 3.0;
pub const PLATE_Y: f64 = 2.0;

/// Conservative width of `s` at `size` px.
pub fn text_width(s: &str, size: f64) -> f64 {
    display_width(s) as f64 * size * ADVANCE
}

/// Fixed formatting for coordinates: one decimal, no `-0.0`.
fn f(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r == 0.0 {
        "0".to_owned()
    } else if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

/// Text for XML character data and attribute values. Characters XML 1.0
/// cannot hold (most control characters, U+FFFE, U+FFFF, the other
/// noncharacters) become spaces, and so do line breaks and tabs, which
/// an attribute value would normalise anyway.
pub fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() || !tabula_spec::landing::xml_char(c) => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Start,
    Middle,
}

/// A block of text: one or more lines, with the box it occupies.
#[derive(Debug, Clone)]
pub struct Label {
    /// What it labels (`partition 3`, `legend`, `subvolume @user/home`).
    pub role: String,
    /// The anchor point: left (Start) or centre (Middle) of the top edge.
    pub x: f64,
    pub y: f64,
    pub lines: Vec<String>,
    pub size: f64,
    pub anchor: Anchor,
    pub bold: bool,
    pub color: &'static str,
    /// A light plate behind the text (over hatching or colour).
    pub plate: bool,
}

impl Label {
    fn new(role: impl Into<String>, x: f64, y: f64, lines: Vec<String>, size: f64) -> Label {
        Label {
            role: role.into(),
            x,
            y,
            lines: lines.iter().map(|l| crate::textbox::clean(l)).collect(),
            size,
            anchor: Anchor::Start,
            bold: false,
            color: TEXT,
            plate: false,
        }
    }

    pub fn text_w(&self) -> f64 {
        self.lines
            .iter()
            .map(|l| text_width(l, self.size))
            .fold(0.0, f64::max)
    }

    pub fn text_h(&self) -> f64 {
        self.lines.len() as f64 * self.size * LINE
    }

    /// `(x0, y0, x1, y1)` of the text, estimated conservatively.
    pub fn bbox(&self) -> (f64, f64, f64, f64) {
        let w = self.text_w();
        let x0 = match self.anchor {
            Anchor::Start => self.x,
            Anchor::Middle => self.x - w / 2.0,
        };
        (x0, self.y, x0 + w, self.y + self.text_h())
    }

    /// `(x0, y0, x1, y1)` of what the label covers: its plate, if it has
    /// one, else its text.
    pub fn cover(&self) -> (f64, f64, f64, f64) {
        let (x0, y0, x1, y1) = self.bbox();
        if self.plate {
            (x0 - PLATE_X, y0 - PLATE_Y, x1 + PLATE_X, y1 + PLATE_Y)
        } else {
            (x0, y0, x1, y1)
        }
    }

    fn to_svg(&self, out: &mut String) {
        let (x0, y0, x1, y1) = self.bbox();
        if self.plate {
            let _ = writeln!(
                out,
                r#"  <rect x="{}" y="{}" width="{}" height="{}" rx="3" fill="{BACKGROUND}" fill-opacity="0.92"/>"#,
                f(x0 - PLATE_X),
                f(y0 - PLATE_Y),
                f(x1 - x0 + 2.0 * PLATE_X),
                f(y1 - y0 + 2.0 * PLATE_Y)
            );
        }
        let anchor = match self.anchor {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
        };
        let _ = write!(
            out,
            r#"  <text x="{}" y="{}" font-size="{}" text-anchor="{anchor}" fill="{}"{}>"#,
            f(self.x),
            f(self.y),
            f(self.size),
            self.color,
            if self.bold {
                r#" font-weight="bold""#
            } else {
                ""
            }
        );
        for (i, l) in self.lines.iter().enumerate() {
            // The baseline sits about 0.95 em below the top of each line.
            let dy = if i == 0 {
                self.size * 0.95
            } else {
                self.size * LINE
            };
            let _ = write!(
                out,
                r#"<tspan x="{}" dy="{}">{}</tspan>"#,
                f(self.x),
                f(dy),
                xml(l)
            );
        }
        out.push_str("</text>\n");
    }
}

/// A shape, drawn under the labels.
#[derive(Debug, Clone)]
pub enum Shape {
    Rect {
        x: f64,
        y: f64,
        w: f64,
        h: f64,
        fill: String,
        stroke: &'static str,
        dashed: bool,
        rx: f64,
    },
    Line {
        x1: f64,
        y1: f64,
        x2: f64,
        y2: f64,
        stroke: &'static str,
    },
}

/// A picture: its size, shapes and labels.
#[derive(Debug, Clone)]
pub struct Picture {
    pub width: f64,
    pub height: f64,
    pub title: String,
    pub shapes: Vec<Shape>,
    pub labels: Vec<Label>,
    /// `<defs>` content (patterns).
    defs: String,
}

impl Picture {
    pub fn to_svg(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="{t}" font-family="{FONT}">"#,
            w = f(self.width),
            h = f(self.height),
            t = xml(&self.title)
        );
        let _ = writeln!(s, "  <title>{}</title>", xml(&self.title));
        if !self.defs.is_empty() {
            let _ = writeln!(s, "  <defs>\n{}  </defs>", self.defs);
        }
        let _ = writeln!(
            s,
            r##"  <rect x="0" y="0" width="{}" height="{}" rx="8" fill="{BACKGROUND}" stroke="#d0d0d0"/>"##,
            f(self.width),
            f(self.height)
        );
        for sh in &self.shapes {
            match sh {
                Shape::Rect {
                    x,
                    y,
                    w,
                    h,
                    fill,
                    stroke,
                    dashed,
                    rx,
                } => {
                    let _ = writeln!(
                        s,
                        r#"  <rect x="{}" y="{}" width="{}" height="{}" rx="{}" fill="{}" stroke="{stroke}"{}/>"#,
                        f(*x),
                        f(*y),
                        f(*w),
                        f(*h),
                        f(*rx),
                        xml(fill),
                        if *dashed {
                            r#" stroke-dasharray="4 3""#
                        } else {
                            ""
                        }
                    );
                }
                Shape::Line {
                    x1,
                    y1,
                    x2,
                    y2,
                    stroke,
                } => {
                    let _ = writeln!(
                        s,
                        r#"  <line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{stroke}" stroke-width="1"/>"#,
                        f(*x1),
                        f(*y1),
                        f(*x2),
                        f(*y2)
                    );
                }
            }
        }
        for l in &self.labels {
            l.to_svg(&mut s);
        }
        s.push_str("</svg>\n");
        s
    }
}

// --- the disk ----------------------------------------------------------------

const MARGIN: f64 = 20.0;
const BAR_Y: f64 = 76.0;
const BAR_H: f64 = 84.0;
/// The narrowest block drawn, so even a sliver is visible.
pub const MIN_BLOCK: f64 = 4.0;
const LABEL_SIZE: f64 = 12.0;
const GAP: f64 = 10.0;

const NIXOS_FILL: &str = "#6f9bd8";
const LUKS_FILL: &str = "#2f5597";
const FOREIGN_FILL: &str = "url(#foreign)";
const FREE_FILL: &str = "#f4f4f4";

/// What a block of the disk is, for its fill and the legend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Nixos,
    Encrypted,
    Foreign,
    Free,
}

/// Widths proportional to `sizes` filling `total`, none narrower than
/// `min`: the ones that would be are widened and the others share what is
/// left, in proportion.
pub fn widths(sizes: &[u64], total: f64, min: f64) -> Vec<f64> {
    let n = sizes.len();
    let mut fixed = vec![false; n];
    loop {
        let free_w = total - min * fixed.iter().filter(|f| **f).count() as f64;
        let free_sum: u64 = sizes
            .iter()
            .zip(&fixed)
            .filter(|(_, f)| !**f)
            .map(|(s, _)| *s)
            .sum();
        let w: Vec<f64> = sizes
            .iter()
            .zip(&fixed)
            .map(|(s, fx)| {
                if *fx || free_sum == 0 {
                    min
                } else {
                    free_w * *s as f64 / free_sum as f64
                }
            })
            .collect();
        let mut changed = false;
        for i in 0..n {
            if !fixed[i] && w[i] < min {
                fixed[i] = true;
                changed = true;
            }
        }
        if !changed {
            return w;
        }
    }
}

/// One block of the disk bar: a partition or visible free space.
struct Block {
    role: String,
    lines: Vec<String>,
    size: u64,
    kind: Kind,
}

/// The disk drawn to scale.
pub fn disk(spec: &HostSpec) -> Picture {
    let blocks = disk_blocks(spec);
    let (title, width, mut labels) = disk_header(spec, &blocks);
    let bar_w = width - 2.0 * MARGIN;
    let mut shapes = vec![];
    let callouts = disk_bar(&blocks, bar_w, &mut shapes, &mut labels);
    let right = width - MARGIN;
    let (bottom, width) = disk_callouts(&blocks, &callouts, width, &mut shapes, &mut labels);
    let height = disk_legend(&blocks, bottom, right, &mut shapes, &mut labels);
    Picture {
        width: width.ceil(),
        height: height.ceil(),
        title: format!("Disk layout: {title}"),
        shapes,
        labels,
        defs: foreign_pattern(),
    }
}

/// The partitions in disk order (a fixed `start` may put a partition
/// anywhere), with the free space between and after them when it is worth
/// seeing (0.5 % of the disk: alignment slack is not).
fn disk_blocks(spec: &HostSpec) -> Vec<Block> {
    let mut placed: Vec<(tabula_spec::model::Extent, &tabula_spec::model::Partition)> =
        facts::parts(spec)
            .into_iter()
            .filter_map(|p| p.extent.map(|e| (e, p.part)))
            .collect();
    placed.sort_by_key(|(e, p)| (e.start, p.number));
    let visible = |gap: u64| gap.saturating_mul(200) > spec.disk.size.as_u64();
    let free_block = |size: u64| Block {
        role: "free".into(),
        lines: vec!["free".into(), facts::human(size)],
        size,
        kind: Kind::Free,
    };
    let mut blocks: Vec<Block> = vec![];
    let mut cursor = tabula_spec::model::ALIGN;
    for (e, part) in placed {
        if e.start > cursor && visible(e.start - cursor) {
            blocks.push(free_block(e.start - cursor));
        }
        cursor = cursor.max(e.end());
        let kind = if facts::is_luks(spec, part) {
            Kind::Encrypted
        } else if matches!(part.owner, Owner::Foreign(_)) {
            Kind::Foreign
        } else {
            Kind::Nixos
        };
        blocks.push(Block {
            role: format!("partition {}", part.number),
            lines: vec![
                part.label.clone(),
                facts::human(e.size),
                facts::filesystem(spec, part),
            ],
            size: e.size,
            kind,
        });
    }
    let tail = spec.usable_end().saturating_sub(cursor);
    if visible(tail) {
        blocks.push(free_block(tail));
    }

    blocks
}

/// The title and subtitle, and the picture's width: wide enough for the
/// title and for any label as a callout.
fn disk_header(spec: &HostSpec, blocks: &[Block]) -> (String, f64, Vec<Label>) {
    let title = format!(
        "{} · {} · {}",
        facts::disk_device(spec),
        spec.disk.size.human(),
        facts::title(spec)
    );
    let bytes_per_px_hint = |w: f64| spec.disk.size.as_u64() as f64 / w;
    let mut labels = vec![];
    let mut title_l = Label::new("title", MARGIN, 14.0, vec![title.clone()], 16.0);
    title_l.bold = true;
    // Wide enough for the title and for any label as a callout.
    let widest_label = blocks
        .iter()
        .map(|b| Label::new("", 0.0, 0.0, b.lines.clone(), LABEL_SIZE).text_w() + 6.0)
        .fold(0.0, f64::max);
    let min_width = 960.0f64
        .max(title_l.text_w() + 2.0 * MARGIN)
        .max(widest_label + 2.0 * MARGIN);
    let bar_w = min_width - 2.0 * MARGIN;
    let subtitle = format!(
        "GPT, drawn to scale: 1 px ≈ {}; blocks narrower than {} px are widened to {} px",
        facts::human(bytes_per_px_hint(bar_w) as u64),
        f(MIN_BLOCK),
        f(MIN_BLOCK)
    );
    let mut sub_l = Label::new("subtitle", MARGIN, 40.0, vec![subtitle], 12.0);
    sub_l.color = MUTED;
    let width = min_width.max(sub_l.text_w() + 2.0 * MARGIN);
    labels.push(title_l);
    labels.push(sub_l);

    (title, width, labels)
}

/// The bar, block by block, with the labels that fit inside; returns the
/// blocks too narrow for their label (index, x of their middle).
fn disk_bar(
    blocks: &[Block],
    bar_w: f64,
    shapes: &mut Vec<Shape>,
    labels: &mut Vec<Label>,
) -> Vec<(usize, f64)> {
    let sizes: Vec<u64> = blocks.iter().map(|b| b.size).collect();
    let ws = widths(&sizes, bar_w, MIN_BLOCK);
    let mut x = MARGIN;
    // Callouts: blocks too narrow for their label, labelled below.
    let mut callouts: Vec<(usize, f64)> = vec![];
    for (i, (b, w)) in blocks.iter().zip(&ws).enumerate() {
        let fill = match b.kind {
            Kind::Nixos => NIXOS_FILL,
            Kind::Encrypted => LUKS_FILL,
            Kind::Foreign => FOREIGN_FILL,
            Kind::Free => FREE_FILL,
        };
        shapes.push(Shape::Rect {
            x,
            y: BAR_Y,
            w: *w,
            h: BAR_H,
            fill: fill.to_owned(),
            stroke: "#333333",
            dashed: b.kind == Kind::Free,
            rx: 0.0,
        });
        let mut l = Label::new(
            b.role.clone(),
            x + w / 2.0,
            0.0,
            b.lines.clone(),
            LABEL_SIZE,
        );
        l.anchor = Anchor::Middle;
        l.plate = true;
        l.y = BAR_Y + (BAR_H - l.text_h()) / 2.0;
        if l.text_w() + 12.0 <= *w && l.text_h() + 8.0 <= BAR_H {
            labels.push(l);
        } else {
            callouts.push((i, x + w / 2.0));
        }
        x += w;
    }

    callouts
}

/// The callouts, under the bar. Guarantee (tested on the model): no
/// leader line crosses another or any label's plate. Two layouts:
/// - one row, when all callouts fit side by side: each as near its block
///   as the others allow, in disk order, so the leaders (from the bar's
///   bottom edge to the row's top edge, both ends in the same order)
///   cannot cross, and they end above every label;
/// - otherwise a staircase of rows with vertical leaders: each label
///   starts at its own leader (one line: name · size · filesystem) and
///   is placed right to left, in the first row where it overlaps no
///   label and covers no leader going deeper.
///   A new row always qualifies: every label placed before starts right
///   of this leader, so nothing covers it; vertical leaders at distinct
///   x never cross.
///
/// Returns the bottom of the lowest label and the (maybe grown) width.
fn disk_callouts(
    blocks: &[Block],
    callouts: &[(usize, f64)],
    width: f64,
    shapes: &mut Vec<Shape>,
    labels: &mut Vec<Label>,
) -> (f64, f64) {
    let bar_bottom = BAR_Y + BAR_H;
    let right = width - MARGIN;
    let mut boxes: Vec<Label> = callouts
        .iter()
        .map(|(i, _)| {
            let b = &blocks[*i];
            let mut l = Label::new(b.role.clone(), 0.0, 0.0, b.lines.clone(), LABEL_SIZE);
            l.plate = true;
            l
        })
        .collect();
    let anchors: Vec<f64> = callouts.iter().map(|(_, a)| *a).collect();
    let ws: Vec<f64> = boxes.iter().map(Label::text_w).collect();
    let room = right - MARGIN;
    let row_need = ws.iter().sum::<f64>() + GAP * ws.len().saturating_sub(1) as f64;
    let mut bottom = bar_bottom;
    let mut width = width;
    if row_need <= room {
        callouts_one_row(&mut boxes, &anchors, &ws, right, shapes);
    } else {
        width = callouts_staircase(&mut boxes, &anchors, width, shapes);
    }
    for l in boxes {
        bottom = bottom.max(l.y + l.text_h());
        labels.push(l);
    }
    (bottom, width)
}

/// All callouts side by side in one row, each as near its block as the
/// others allow.
fn callouts_one_row(
    boxes: &mut [Label],
    anchors: &[f64],
    ws: &[f64],
    right: f64,
    shapes: &mut Vec<Shape>,
) {
    let bar_bottom = BAR_Y + BAR_H;
    let n = boxes.len();
    let mut xs: Vec<f64> = (0..n)
        .map(|k| (anchors[k] - ws[k] / 2.0).min(right - ws[k]).max(MARGIN))
        .collect();
    for k in 1..n {
        xs[k] = xs[k].max(xs[k - 1] + ws[k - 1] + GAP);
    }
    for k in (0..n).rev() {
        let limit = if k + 1 < n { xs[k + 1] - GAP } else { right };
        xs[k] = xs[k].min(limit - ws[k]);
    }
    // The steeper the leaders, the more room they get to drop.
    let slant = (0..n)
        .map(|k| (xs[k] + ws[k] / 2.0 - anchors[k]).abs())
        .fold(0.0, f64::max);
    let row_y = bar_bottom + (slant / 5.0).clamp(26.0, 70.0);
    for (k, l) in boxes.iter_mut().enumerate() {
        l.x = xs[k];
        l.y = row_y;
        shapes.push(Shape::Line {
            x1: anchors[k],
            y1: bar_bottom,
            x2: xs[k] + ws[k] / 2.0,
            y2: row_y - PLATE_Y - 1.0,
            stroke: "#333333",
        });
    }
}

/// A staircase of rows with vertical leaders, placed right to left.
/// Returns the (maybe grown) width.
fn callouts_staircase(
    boxes: &mut [Label],
    anchors: &[f64],
    width: f64,
    shapes: &mut Vec<Shape>,
) -> f64 {
    let bar_bottom = BAR_Y + BAR_H;
    let mut width = width;
    // One line per label keeps the staircase short.
    for l in boxes.iter_mut() {
        l.lines = vec![l.lines.join(" · ")];
    }
    let ws: Vec<f64> = boxes.iter().map(Label::text_w).collect();
    let row_h = LABEL_SIZE * LINE + 2.0 * PLATE_Y + 6.0;
    let top = bar_bottom + 18.0;
    // Per row: the placed labels' plate spans.
    let mut rows: Vec<Vec<(f64, f64)>> = vec![];
    // Placed leaders: (x, row of their label).
    let mut leaders: Vec<(f64, usize)> = vec![];
    let mut row_of = vec![0usize; boxes.len()];
    for k in (0..boxes.len()).rev() {
        let (x0, x1) = (anchors[k] - PLATE_X, anchors[k] + ws[k] + PLATE_X);
        let fits = |r: usize, row: &Vec<(f64, f64)>| {
            row.iter().all(|(a, b)| x1 + GAP <= *a || *b + GAP <= x0)
                && leaders
                    .iter()
                    .all(|(lx, lr)| *lr <= r || *lx < x0 || *lx > x1)
        };
        let r = rows
            .iter()
            .enumerate()
            .position(|(r, row)| fits(r, row))
            .unwrap_or(rows.len());
        if r == rows.len() {
            rows.push(vec![]);
        }
        if let Some(row) = rows.get_mut(r) {
            row.push((x0, x1));
        }
        leaders.push((anchors[k], r));
        row_of[k] = r;
    }
    for (k, l) in boxes.iter_mut().enumerate() {
        l.x = anchors[k];
        l.y = top + row_of[k] as f64 * row_h;
        shapes.push(Shape::Line {
            x1: anchors[k],
            y1: bar_bottom,
            x2: anchors[k],
            y2: l.y - PLATE_Y - 1.0,
            stroke: "#333333",
        });
        // A label near the right end may reach past the bar: the
        // picture grows rather than the label moving off its leader.
        width = width.max(l.bbox().2 + PLATE_X + MARGIN);
    }
    width
}

/// The legend under everything: only the kinds this disk has. Returns the
/// picture's height.
fn disk_legend(
    blocks: &[Block],
    bottom: f64,
    right: f64,
    shapes: &mut Vec<Shape>,
    labels: &mut Vec<Label>,
) -> f64 {
    let mut kinds: Vec<Kind> = vec![];
    for b in blocks {
        if !kinds.contains(&b.kind) {
            kinds.push(b.kind);
        }
    }
    kinds.sort_by_key(|k| *k as u8);
    let legend_y = bottom + 28.0;
    let mut lx = MARGIN;
    let mut ly = legend_y;
    for k in kinds {
        let (fill, text) = match k {
            Kind::Nixos => (NIXOS_FILL, "NixOS-owned"),
            Kind::Encrypted => (LUKS_FILL, "NixOS, encrypted (LUKS2)"),
            Kind::Foreign => (FOREIGN_FILL, "foreign system, kept untouched"),
            Kind::Free => (FREE_FILL, "free space"),
        };
        let l = Label::new("legend", 0.0, 0.0, vec![text.to_owned()], LABEL_SIZE);
        let item_w = 18.0 + 8.0 + l.text_w();
        if lx + item_w > right && lx > MARGIN {
            lx = MARGIN;
            ly += 24.0;
        }
        shapes.push(Shape::Rect {
            x: lx,
            y: ly,
            w: 18.0,
            h: 14.0,
            fill: fill.to_owned(),
            stroke: "#333333",
            dashed: k == Kind::Free,
            rx: 2.0,
        });
        let mut l = l;
        l.x = lx + 26.0;
        l.y = ly + (14.0 - l.text_h()) / 2.0;
        labels.push(l);
        lx += item_w + 28.0;
    }
    ly + 14.0 + MARGIN
}

/// The hatching of foreign partitions.
fn foreign_pattern() -> String {
    concat!(
        r##"    <pattern id="foreign" patternUnits="userSpaceOnUse" width="8" height="8" patternTransform="rotate(45)">"##,
        "\n",
        r##"      <rect width="8" height="8" fill="#d9d9d9"/>"##,
        "\n",
        r##"      <line x1="0" y1="0" x2="0" y2="8" stroke="#8f8f8f" stroke-width="3"/>"##,
        "\n",
        "    </pattern>\n"
    )
    .to_owned()
}

// --- the subvolume tree ------------------------------------------------------

const ROW_H: f64 = 30.0;
const INDENT: f64 = 26.0;
const BAR_LEN: f64 = 220.0;

fn group_colors(path: &str) -> (&'static str, &'static str) {
    match path.split('/').next().unwrap_or("") {
        "@system" => ("#dce7f7", "#2f5597"),
        "@user" => ("#dcf0dc", "#2e7d32"),
        "@shared" => ("#fbe7cf", "#b26a00"),
        _ => ("#ececec", "#666666"),
    }
}

/// One row of the subvolume tree: the pool or a subvolume.
struct Row {
    depth: usize,
    name: String,
    path: Option<String>,
    mount: String,
    estimate: Option<tabula_spec::Estimate>,
}

/// Where the subvolume tree's columns start, and how its bars scale.
struct Columns {
    mount: f64,
    est: f64,
    bar: f64,
    bar_title: &'static str,
    scale_total: u64,
    width: f64,
}

const CHIP_PAD: f64 = 8.0;
const TREE_TOP: f64 = 72.0;

/// The pool's subvolumes as a tree, each with its mount point and estimate.
pub fn subvolumes(spec: &HostSpec) -> Picture {
    let pool_size = facts::pool_size(spec);
    let compression = spec
        .btrfs
        .as_ref()
        .and_then(|b| b.compression.clone())
        .filter(|c| c != "none");
    let mut head = vec![facts::pool_device(spec), "btrfs".to_owned()];
    if let Some(c) = &compression {
        head.push(c.clone());
    }
    if let Some(s) = pool_size {
        head.push(facts::human(s));
    }
    let title = head.join(" · ");
    let mut labels = vec![];
    let mut shapes = vec![];
    let mut t = Label::new("title", MARGIN, 14.0, vec![title.clone()], 16.0);
    t.bold = true;
    let title_w = t.text_w();
    labels.push(t);

    let size = LABEL_SIZE;
    let top = TREE_TOP;
    let rows = tree_rows(spec);
    let cols = tree_columns(spec, &rows, pool_size, title_w);
    tree_column_titles(&cols, &mut shapes, &mut labels);
    // The y of each row's chip centre, to draw connectors from parents.
    let mut stack: Vec<f64> = vec![];
    for (i, r) in rows.iter().enumerate() {
        tree_row(i, r, &cols, &mut stack, &mut shapes, &mut labels);
    }
    let width = cols.width;
    let mut bottom = top + rows.len() as f64 * ROW_H;
    let (lo, hi) = facts::estimate_total(spec);
    if hi > 0 {
        let note = format!(
            "bars: solid up to the low estimate, dashed up to the high one; estimates total {}–{}{}",
            facts::human(lo),
            facts::human(hi),
            pool_size
                .map(|s| format!(" of {}", facts::human(s)))
                .unwrap_or_default()
        );
        let mut l = Label::new("note", MARGIN, bottom + 6.0, vec![note], size);
        l.color = MUTED;
        bottom = l.bbox().3;
        labels.push(l);
    }
    let width = labels
        .iter()
        .map(|l| l.bbox().2 + MARGIN)
        .fold(width, f64::max);
    Picture {
        width: width.ceil(),
        height: (bottom + MARGIN).ceil(),
        title: format!("Subvolumes: {title}"),
        shapes,
        labels,
        defs: String::new(),
    }
}

/// The rows: the root (the pool) first, then the subvolumes in tree order.
fn tree_rows(spec: &HostSpec) -> Vec<Row> {
    let nodes = facts::tree(spec);
    // Column 1: the tree of chips, the root (the pool) first.
    let root_name = spec
        .btrfs
        .as_ref()
        .and_then(|b| b.label.clone())
        .map(|l| format!("{l} (top level)"))
        .unwrap_or_else(|| "top level".to_owned());
    let mut rows = vec![Row {
        depth: 0,
        name: root_name,
        path: None,
        mount: "—".to_owned(),
        estimate: None,
    }];
    for n in &nodes {
        let mounts: Vec<String> = facts::mounts_of_subvolume(spec, n.path)
            .iter()
            .map(|m| m.path.to_string())
            .collect();
        rows.push(Row {
            depth: n.depth + 1,
            name: n.name.clone(),
            path: Some(n.path.to_owned()),
            mount: if mounts.is_empty() {
                "—".to_owned()
            } else {
                mounts.join(", ")
            },
            estimate: n.estimate,
        });
    }
    rows
}

/// The columns: after the widest chip, mount point and estimate.
fn tree_columns(spec: &HostSpec, rows: &[Row], pool_size: Option<u64>, title_w: f64) -> Columns {
    let size = LABEL_SIZE;
    let chip_pad = CHIP_PAD;
    let chip_right = rows
        .iter()
        .map(|r| MARGIN + r.depth as f64 * INDENT + text_width(&r.name, size) + 2.0 * chip_pad)
        .fold(0.0, f64::max);
    let col_mount = chip_right + 28.0;
    let mount_w = rows
        .iter()
        .map(|r| text_width(&r.mount, size))
        .chain([text_width("mounted at", size)])
        .fold(0.0, f64::max);
    let col_est = col_mount + mount_w + 28.0;
    let est_text = |e: &Option<tabula_spec::Estimate>| e.map(|e| e.to_string()).unwrap_or_default();
    let est_w = rows
        .iter()
        .map(|r| text_width(&est_text(&r.estimate), size))
        .chain([text_width("estimate", size)])
        .fold(0.0, f64::max);
    let col_bar = col_est + est_w + 24.0;
    let scale_total = pool_size.unwrap_or_else(|| facts::estimate_total(spec).1.max(1));
    let bar_title = match pool_size {
        Some(_) => "share of the pool",
        None => "share of all estimates",
    };
    let width =
        (col_bar + BAR_LEN.max(text_width(bar_title, size)) + MARGIN).max(title_w + 2.0 * MARGIN);

    Columns {
        mount: col_mount,
        est: col_est,
        bar: col_bar,
        bar_title,
        scale_total,
        width,
    }
}

/// The column titles and the rule under them.
fn tree_column_titles(cols: &Columns, shapes: &mut Vec<Shape>, labels: &mut Vec<Label>) {
    let size = LABEL_SIZE;
    let (col_mount, col_est, col_bar, bar_title, width) =
        (cols.mount, cols.est, cols.bar, cols.bar_title, cols.width);
    for (x, text) in [
        (MARGIN, "subvolume"),
        (col_mount, "mounted at"),
        (col_est, "estimate"),
        (col_bar, bar_title),
    ] {
        let mut l = Label::new(
            format!("header {text}"),
            x,
            44.0,
            vec![text.to_owned()],
            size,
        );
        l.color = MUTED;
        l.bold = true;
        labels.push(l);
    }
    shapes.push(Shape::Line {
        x1: MARGIN,
        y1: 62.0,
        x2: width - MARGIN,
        y2: 62.0,
        stroke: "#d0d0d0",
    });
}

/// One row: its connector from the parent, chip, mount point and estimate.
fn tree_row(
    i: usize,
    r: &Row,
    cols: &Columns,
    stack: &mut Vec<f64>,
    shapes: &mut Vec<Shape>,
    labels: &mut Vec<Label>,
) {
    let size = LABEL_SIZE;
    let chip_pad = CHIP_PAD;
    let top = TREE_TOP;
    let chip_h = size * LINE + 8.0;
    let (col_mount, col_est) = (cols.mount, cols.est);
    let y = top + i as f64 * ROW_H;
    let cy = y + chip_h / 2.0;
    let x = MARGIN + r.depth as f64 * INDENT;
    stack.truncate(r.depth);
    if let Some(py) = stack.last() {
        connector(*py + chip_h, x, cy, shapes);
    }
    stack.push(y);
    let (fill, stroke) = match &r.path {
        Some(p) => group_colors(p),
        None => ("#f0f0f0", "#333333"),
    };
    let w = text_width(&r.name, size) + 2.0 * chip_pad;
    shapes.push(Shape::Rect {
        x,
        y,
        w,
        h: chip_h,
        fill: fill.to_owned(),
        stroke,
        dashed: false,
        rx: 4.0,
    });
    let role = match &r.path {
        Some(p) => format!("subvolume {p}"),
        None => "pool".to_owned(),
    };
    let ty = y + 4.0;
    labels.push(Label::new(
        role.clone(),
        x + chip_pad,
        ty,
        vec![r.name.clone()],
        size,
    ));
    let mut m = Label::new(
        format!("{role} mount"),
        col_mount,
        ty,
        vec![r.mount.clone()],
        size,
    );
    if r.mount == "—" {
        m.color = MUTED;
    }
    labels.push(m);
    if let Some(e) = r.estimate {
        labels.push(Label::new(
            format!("{role} estimate"),
            col_est,
            ty,
            vec![e.to_string()],
            size,
        ));
        estimate_bars(e, cols, y, (fill, stroke), shapes);
    }
}

/// The elbow from the parent's chip (its bottom at `from_y`) down and
/// right to a child's chip at (`x`, `cy`).
fn connector(from_y: f64, x: f64, cy: f64, shapes: &mut Vec<Shape>) {
    let px = x - INDENT + 10.0;
    shapes.push(Shape::Line {
        x1: px,
        y1: from_y,
        x2: px,
        y2: cy,
        stroke: "#888888",
    });
    shapes.push(Shape::Line {
        x1: px,
        y1: cy,
        x2: x,
        y2: cy,
        stroke: "#888888",
    });
}

/// The estimate's bars: the track, dashed up to the high estimate, solid
/// up to the low one.
fn estimate_bars(
    e: tabula_spec::Estimate,
    cols: &Columns,
    y: f64,
    (fill, stroke): (&str, &'static str),
    shapes: &mut Vec<Shape>,
) {
    let chip_h = LABEL_SIZE * LINE + 8.0;
    let (col_bar, scale_total) = (cols.bar, cols.scale_total);
    let px = |b: u64| (BAR_LEN * b as f64 / scale_total as f64).clamp(1.0, BAR_LEN);
    shapes.push(Shape::Rect {
        x: col_bar,
        y: y + 5.0,
        w: BAR_LEN,
        h: chip_h - 10.0,
        fill: "#f4f4f4".to_owned(),
        stroke: "#cccccc",
        dashed: false,
        rx: 2.0,
    });
    if e.max > e.min {
        shapes.push(Shape::Rect {
            x: col_bar,
            y: y + 5.0,
            w: px(e.max.as_u64()),
            h: chip_h - 10.0,
            fill: fill.to_owned(),
            stroke,
            dashed: true,
            rx: 2.0,
        });
    }
    shapes.push(Shape::Rect {
        x: col_bar,
        y: y + 5.0,
        w: px(e.min.as_u64()),
        h: chip_h - 10.0,
        fill: stroke.to_owned(),
        stroke,
        dashed: false,
        rx: 2.0,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_fill_the_bar_and_respect_the_minimum() {
        let w = widths(&[1, 1000, 1_000_000], 900.0, 4.0);
        assert!((w.iter().sum::<f64>() - 900.0).abs() < 1e-6);
        assert!(w.iter().all(|x| *x >= 4.0));
        assert!(w[2] > w[1]);
    }

    #[test]
    fn xml_escapes_markup_and_controls() {
        assert_eq!(xml("a<b>&\"'\u{1}"), "a&lt;b&gt;&amp;&quot;&apos; ");
        assert_eq!(xml("a\u{FFFE}b\u{FFFF}c\u{1FFFE}\u{85}"), "a b c  ");
        let doc = format!("<t a=\"{0}\">{0}</t>", xml("\u{FFFE}\u{FFFF}\u{FDD0}x"));
        roxmltree::Document::parse(&doc).unwrap();
    }

    #[test]
    fn floats_are_fixed() {
        assert_eq!(f(1.0), "1");
        assert_eq!(f(1.25), "1.3");
        assert_eq!(f(-0.01), "0");
    }
}
