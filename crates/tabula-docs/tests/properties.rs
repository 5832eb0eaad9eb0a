//! Properties of the generated docs for the embedded host and for edited
//! specs: values follow the spec everywhere, tables keep their shape,
//! pictures are well-formed XML with no overlapping labels, spec strings
//! are escaped.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use support::{doc, edited, embedded, tables};
use tabula_docs::facts;
use tabula_docs::svg::{self, Picture, Shape};
use tabula_docs::{render, DISK_LAYOUT};
use unicode_width::UnicodeWidthStr;

// --- (a) every number of DISK_LAYOUT comes from the spec ----------------------

/// The partition table's cells against `extents()`, computed here.
fn assert_partition_table_matches(spec: &tabula_spec::HostSpec) {
    let docs = render(spec);
    let rows = support::table_after(doc(&docs, DISK_LAYOUT), "## Partitions");
    let header = &rows[0];
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let body = &rows[2..];
    assert_eq!(body.len(), spec.partitions.len());
    for ((row, part), ext) in body.iter().zip(&spec.partitions).zip(spec.extents()) {
        let e = ext.unwrap();
        assert_eq!(row[col("No.")], part.number.to_string());
        assert_eq!(row[col("Label")], part.label);
        assert_eq!(
            row[col("Start")],
            facts::mib(e.start),
            "start of {}",
            part.label
        );
        assert_eq!(
            row[col("Size")],
            format!("{} ({})", facts::human(e.size), facts::mib(e.size)),
            "size of {}",
            part.label
        );
        let uuid = facts::uuid(spec, part);
        match &uuid {
            Some(u) => assert_eq!(row[col("UUID")], format!("`{u}`")),
            None => assert_eq!(row[col("UUID")], "—"),
        }
        // Every digit string in the row is one the spec gives.
        let allowed: Vec<String> = [
            part.number.to_string(),
            facts::mib(e.start),
            facts::mib(e.size),
            facts::human(e.size),
            facts::declared(part),
            uuid.unwrap_or_default(),
            facts::device(spec, part),
            part.label.clone(),
            part.kind.name().to_owned(),
        ]
        .into_iter()
        .collect();
        for cell in row {
            for num in cell
                .split(|c: char| !c.is_ascii_digit() && c != '.' && c != '\u{202f}')
                .filter(|n| n.chars().any(|c| c.is_ascii_digit()))
            {
                assert!(
                    allowed.iter().any(|a| a.contains(num)),
                    "`{num}` in `{cell}` of {} comes from nowhere in the spec",
                    part.label
                );
            }
        }
    }
}

#[test]
fn partition_table_is_the_extents_of_the_embedded_host() {
    assert_partition_table_matches(&embedded());
}

#[test]
fn a_changed_partition_size_changes_every_document_and_picture() {
    let before = render(&embedded());
    let spec = edited(
        "label = \"kali\"\nsize = \"20GB\"",
        "label = \"kali\"\nsize = \"33GB\"",
    );
    assert_partition_table_matches(&spec);
    let after = render(&spec);
    // The pool partition (drawn and listed) and the pool inside it (less
    // the LUKS2 header) both shrink by 13 GB.
    let part_size =
        |spec: &tabula_spec::HostSpec| facts::human(spec.extents().last().unwrap().unwrap().size);
    let pool_size = |spec: &tabula_spec::HostSpec| facts::human(facts::pool_size(spec).unwrap());
    let (old_part, new_part) = (part_size(&embedded()), part_size(&spec));
    let (old_pool, new_pool) = (pool_size(&embedded()), pool_size(&spec));
    assert_ne!(old_part, new_part);
    assert_ne!(old_pool, new_pool);
    for (path, old, new) in [
        ("docs/ARCHITECTURE.md", &old_part, &new_part),
        ("docs/ARCHITECTURE.md", &old_pool, &new_pool),
        (DISK_LAYOUT, &old_part, &new_part),
        (DISK_LAYOUT, &old_pool, &new_pool),
        ("docs/disk.svg", &old_part, &new_part),
        ("docs/subvolumes.svg", &old_pool, &new_pool),
    ] {
        assert!(doc(&before, path).contains(old.as_str()), "{path} before");
        assert!(
            doc(&after, path).contains(new.as_str()),
            "{path} shows {new}"
        );
    }
    for d in &after {
        for old in [&old_part, &old_pool] {
            assert!(
                !d.contents.contains(old.as_str()),
                "{} still shows {old}",
                d.path
            );
        }
    }
    // 33 GB in the one convention (binary units).
    assert!(doc(&after, "docs/disk.svg").contains("30.7 GiB"));
    assert!(doc(&after, DISK_LAYOUT).contains("30.7 GiB"));
}

#[test]
fn a_changed_uuid_is_changed_everywhere_and_stale_nowhere() {
    let old = "0eaf7961-48c5-4b55-8a8f-04cd0b71de07";
    let new = "11111111-2222-4333-8444-555555555555";
    let spec = edited(old, new);
    let docs = render(&spec);
    for d in &docs {
        assert!(
            !d.contents.contains(old),
            "{} still has the old UUID",
            d.path
        );
    }
    for path in ["docs/ARCHITECTURE.md", DISK_LAYOUT, "docs/RUNBOOK.md"] {
        assert!(doc(&docs, path).contains(new), "{path} lacks the new UUID");
    }
}

#[test]
fn a_changed_mount_point_is_changed_everywhere_and_stale_nowhere() {
    let old = "/var/lib/waydroid";
    let new = "/var/lib/android";
    let spec = edited(&format!("path = \"{old}\""), &format!("path = \"{new}\""));
    let before = render(&embedded());
    let docs = render(&spec);
    for d in &docs {
        assert!(!d.contents.contains(old), "{} still has {old}", d.path);
    }
    for d in &before {
        if d.contents.contains(old) {
            assert!(
                doc(&docs, &d.path).contains(new),
                "{} showed the mount point and lacks the new one",
                d.path
            );
        }
    }
    assert!(doc(&docs, "docs/subvolumes.svg").contains(new));
}

// --- (b) SVG: well-formed, labels never overlap -------------------------------

fn overlaps(a: (f64, f64, f64, f64), b: (f64, f64, f64, f64)) -> bool {
    a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
}

type Seg = ((f64, f64), (f64, f64));

/// The picture's lines as segments.
fn segments(p: &Picture) -> Vec<Seg> {
    p.shapes
        .iter()
        .filter_map(|s| match s {
            Shape::Line { x1, y1, x2, y2, .. } => Some(((*x1, *y1), (*x2, *y2))),
            Shape::Rect { .. } => None,
        })
        .collect()
}

/// Sign of the turn a -> b -> c (0 when collinear).
fn orient(a: (f64, f64), b: (f64, f64), c: (f64, f64)) -> i8 {
    let v = (b.0 - a.0) * (c.1 - a.1) - (b.1 - a.1) * (c.0 - a.0);
    if v > 1e-9 {
        1
    } else if v < -1e-9 {
        -1
    } else {
        0
    }
}

/// `c`, collinear with `a`-`b`, lies within its bounding box.
fn on_segment(a: (f64, f64), b: (f64, f64), c: (f64, f64)) -> bool {
    c.0 >= a.0.min(b.0) && c.0 <= a.0.max(b.0) && c.1 >= a.1.min(b.1) && c.1 <= a.1.max(b.1)
}

/// Closed segments meet (touching counts).
fn segments_meet(s: Seg, t: Seg) -> bool {
    let (a, b) = s;
    let (c, d) = t;
    let (o1, o2, o3, o4) = (
        orient(a, b, c),
        orient(a, b, d),
        orient(c, d, a),
        orient(c, d, b),
    );
    (o1 != o2 && o3 != o4)
        || (o1 == 0 && on_segment(a, b, c))
        || (o2 == 0 && on_segment(a, b, d))
        || (o3 == 0 && on_segment(c, d, a))
        || (o4 == 0 && on_segment(c, d, b))
}

/// A closed segment meets a closed rectangle: an end inside, or it meets
/// one of the four edges.
fn segment_meets_rect(s: Seg, r: (f64, f64, f64, f64)) -> bool {
    let inside = |p: (f64, f64)| p.0 >= r.0 && p.0 <= r.2 && p.1 >= r.1 && p.1 <= r.3;
    let corners = [(r.0, r.1), (r.2, r.1), (r.2, r.3), (r.0, r.3)];
    inside(s.0)
        || inside(s.1)
        || (0..4).any(|i| segments_meet(s, (corners[i], corners[(i + 1) % 4])))
}

#[test]
fn the_intersection_tests_themselves_work() {
    let r = (10.0, 10.0, 20.0, 20.0);
    assert!(
        segment_meets_rect(((0.0, 15.0), (30.0, 15.0)), r),
        "through"
    );
    assert!(
        segment_meets_rect(((0.0, 0.0), (30.0, 30.0)), r),
        "diagonal"
    );
    assert!(
        segment_meets_rect(((12.0, 12.0), (13.0, 13.0)), r),
        "inside"
    );
    assert!(
        segment_meets_rect(((15.0, 0.0), (15.0, 10.0)), r),
        "touching"
    );
    assert!(!segment_meets_rect(((15.0, 0.0), (15.0, 9.0)), r), "above");
    assert!(!segment_meets_rect(((0.0, 0.0), (30.0, 5.0)), r), "beside");
    assert!(segments_meet(
        ((0.0, 0.0), (10.0, 10.0)),
        ((0.0, 10.0), (10.0, 0.0))
    ));
    assert!(segments_meet(
        ((0.0, 0.0), (10.0, 0.0)),
        ((5.0, 0.0), (15.0, 0.0))
    ));
    assert!(!segments_meet(
        ((0.0, 0.0), (10.0, 0.0)),
        ((11.0, 0.0), (15.0, 0.0))
    ));
    assert!(!segments_meet(
        ((0.0, 0.0), (0.0, 10.0)),
        ((4.0, 0.0), (4.0, 10.0))
    ));
    assert!(!segments_meet(
        ((0.0, 0.0), (10.0, 10.0)),
        ((5.0, 0.0), (20.0, 4.0))
    ));
}

/// No line crosses a label (its plate included), and in the disk picture,
/// where every line is a callout's leader, no two leaders meet.
fn assert_lines_clear(p: &Picture, what: &str, leaders: bool) {
    let segs = segments(p);
    for s in &segs {
        for l in &p.labels {
            assert!(
                !segment_meets_rect(*s, l.cover()),
                "{what}: line {s:?} crosses label {:?} {:?}",
                l.lines,
                l.cover()
            );
        }
    }
    if leaders {
        for (i, s) in segs.iter().enumerate() {
            for t in &segs[i + 1..] {
                assert!(
                    !segments_meet(*s, *t),
                    "{what}: leaders {s:?} and {t:?} meet"
                );
            }
        }
    }
}

fn assert_readable(p: &Picture, what: &str) {
    let svg = p.to_svg();
    let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{what}: {e}\n{svg}"));
    // The text in the XML is the text of the model's labels.
    let texts: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("tspan"))
        .map(|n| n.text().unwrap_or("").to_owned())
        .collect();
    let lines: Vec<String> = p.labels.iter().flat_map(|l| l.lines.clone()).collect();
    assert_eq!(texts, lines, "{what}: the SVG's text is the layout's");
    for (i, a) in p.labels.iter().enumerate() {
        let ba = a.bbox();
        assert!(
            ba.0 >= 0.0 && ba.1 >= 0.0 && ba.2 <= p.width && ba.3 <= p.height,
            "{what}: label {:?} {ba:?} leaves the {}x{} picture",
            a.lines,
            p.width,
            p.height
        );
        assert!(a.size >= 11.0, "{what}: label {:?} too small", a.lines);
        for b in &p.labels[i + 1..] {
            assert!(
                !overlaps(a.cover(), b.cover()),
                "{what}: labels {:?} {:?} and {:?} {:?} overlap",
                a.lines,
                ba,
                b.lines,
                b.bbox()
            );
        }
    }
    // Only the disk picture's title starts with "Disk layout"; its lines
    // are all leaders.
    assert_lines_clear(p, what, p.title.starts_with("Disk layout"));
}

#[test]
fn embedded_pictures_are_well_formed_and_labels_do_not_overlap() {
    let spec = embedded();
    assert_readable(&svg::disk(&spec), "disk");
    assert_readable(&svg::subvolumes(&spec), "subvolumes");
}

#[test]
fn every_partition_is_labelled_with_name_size_and_filesystem() {
    let spec = embedded();
    let p = svg::disk(&spec);
    for (part, ext) in spec.partitions.iter().zip(spec.extents()) {
        let l = p
            .labels
            .iter()
            .find(|l| l.role == format!("partition {}", part.number))
            .unwrap_or_else(|| panic!("no label for {}", part.label));
        assert_eq!(
            l.lines,
            vec![
                part.label.clone(),
                facts::human(ext.unwrap().size),
                facts::filesystem(&spec, part)
            ]
        );
    }
}

#[test]
fn foreign_partitions_are_drawn_differently_from_nixos_ones() {
    let svg = svg::disk(&embedded()).to_svg();
    assert!(svg.contains("<pattern id=\"foreign\""));
    // Three foreign partitions, the legend's swatch: four hatched rects.
    assert_eq!(svg.matches("fill=\"url(#foreign)\"").count(), 4);
    assert!(svg.contains("foreign system, kept untouched"));
}

#[test]
fn pictures_have_an_opaque_background() {
    for p in [svg::disk(&embedded()), svg::subvolumes(&embedded())] {
        let svg = p.to_svg();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let first_rect = doc
            .descendants()
            .find(|n| n.has_tag_name("rect") && n.parent().is_some_and(|p| p.has_tag_name("svg")))
            .unwrap();
        assert_eq!(first_rect.attribute("fill"), Some("#ffffff"));
        assert_eq!(
            first_rect
                .attribute("width")
                .unwrap()
                .parse::<f64>()
                .unwrap(),
            p.width.round()
        );
    }
}

// --- (c) a tiny partition beside a huge one still gets a readable label ------

#[test]
fn a_partition_a_thousand_times_smaller_than_its_neighbour_is_labelled() {
    // ESP 20 MB beside a 20 GB /boot.
    let text = support::host_text()
        .replacen("size = \"100MB\"", "size = \"20MB\"", 1)
        .replacen(
            "label = \"boot\"\nsize = \"2GB\"",
            "label = \"boot\"\nsize = \"20GB\"",
            1,
        );
    let spec = support::parse(&text);
    let ext = spec.extents();
    assert!(ext[1].unwrap().size >= 900 * ext[0].unwrap().size);
    let p = svg::disk(&spec);
    assert_readable(&p, "tiny ESP");
    let l = p.labels.iter().find(|l| l.role == "partition 1").unwrap();
    assert_eq!(l.lines[0], "ESP");
    assert_eq!(l.lines[1], facts::human(ext[0].unwrap().size));
    // Its block is visible.
    assert!(p
        .to_svg()
        .contains(&format!("width=\"{}\"", svg::MIN_BLOCK)));
}

/// A disk of `n` partitions of the given sizes (MB), the last taking the rest.
fn disk_spec(sizes_mb: &[u64], disk_gb: u64) -> tabula_spec::HostSpec {
    let mut t = format!(
        "[host]\nname = \"t\"\nrelease = \"24.11\"\nprimary_user = \"u\"\n[disk]\nsize = \"{disk_gb}GB\"\n[boot]\nloader = \"grub\"\n"
    );
    for (i, s) in sizes_mb.iter().enumerate() {
        t.push_str(&format!(
            "[[partition]]\nnumber = {}\nlabel = \"part{}\"\nsize = \"{s}MB\"\ntype = \"linux\"\nowner = \"{}\"\nfilesystem = {{ type = \"ext4\" }}\n",
            i + 1,
            i + 1,
            if i % 2 == 0 { "nixos" } else { "other" }
        ));
    }
    t.push_str(&format!(
        "[[partition]]\nnumber = {}\nlabel = \"rest\"\nsize = \"rest\"\ntype = \"linux\"\nowner = \"nixos\"\nfilesystem = {{ type = \"btrfs\" }}\n",
        sizes_mb.len() + 1
    ));
    support::parse(&t)
}

#[test]
fn many_tiny_partitions_spill_into_lanes_without_overlap() {
    let spec = disk_spec(&[1, 2, 1, 3, 1, 5, 1, 8, 1, 1, 2, 1], 2000);
    let p = svg::disk(&spec);
    assert_readable(&p, "twelve tiny partitions");
    for i in 1..=13 {
        assert!(p.labels.iter().any(|l| l.role == format!("partition {i}")));
    }
}

#[test]
fn callouts_that_do_not_fit_in_one_row_step_down_without_crossings() {
    // Twenty-four tiny partitions: their callouts are wider together than
    // the bar, so they take several rows.
    let sizes: Vec<u64> = (0..24).map(|i| 1 + i % 3).collect();
    let spec = disk_spec(&sizes, 2000);
    let p = svg::disk(&spec);
    assert_readable(&p, "twenty-four tiny partitions");
    let rows: std::collections::BTreeSet<i64> = p
        .labels
        .iter()
        .filter(|l| l.role.starts_with("partition ") && l.y > 160.0)
        .map(|l| l.y.round() as i64)
        .collect();
    assert!(rows.len() > 1, "{rows:?}");
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]
        #[test]
        fn any_layout_is_labelled_without_overlap(
            sizes in proptest::collection::vec(1u64..60_000, 1..9),
        ) {
            let spec = disk_spec(&sizes, 600);
            let p = svg::disk(&spec);
            assert_readable(&p, &format!("{sizes:?}"));
            let parts = spec.extents().iter().filter(|e| e.is_some()).count();
            let labelled = p.labels.iter().filter(|l| l.role.starts_with("partition ")).count();
            prop_assert_eq!(parts, labelled);
        }

        /// Many tiny partitions mixed with big ones: callouts in one row or
        /// in a staircase, never a leader through a label or another leader.
        #[test]
        fn any_crowd_of_tiny_partitions_has_clear_leaders(
            sizes in proptest::collection::vec(prop_oneof![3 => 1u64..200, 1 => 1u64..200_000], 1..30),
        ) {
            let spec = disk_spec(&sizes, 2000);
            let p = svg::disk(&spec);
            assert_readable(&p, &format!("{sizes:?}"));
            let parts = spec.extents().iter().filter(|e| e.is_some()).count();
            let labelled = p.labels.iter().filter(|l| l.role.starts_with("partition ")).count();
            prop_assert_eq!(parts, labelled);
        }
    }
}

// --- (d) tables keep their shape; diagrams keep their width ------------------

fn assert_tables_consistent(docs: &[tabula_docs::Doc]) {
    for d in docs.iter().filter(|d| d.path.ends_with(".md")) {
        let ts = tables(&d.contents);
        assert!(
            !ts.is_empty() || d.path.ends_with("RUNBOOK.md"),
            "{}",
            d.path
        );
        for t in ts {
            let n = t[0].1.len();
            assert!(
                t.len() >= 2,
                "{}:{}: a header without a separator",
                d.path,
                t[0].0
            );
            assert!(
                t[1].1
                    .iter()
                    .all(|c| c.chars().all(|ch| ch == '-' || ch == ':') && !c.is_empty()),
                "{}:{}: second row is not a separator",
                d.path,
                t[1].0
            );
            for (line, row) in &t {
                assert_eq!(
                    row.len(),
                    n,
                    "{}:{line}: {row:?} has {} cells, header {n}",
                    d.path,
                    row.len()
                );
            }
        }
    }
}

#[test]
fn markdown_tables_have_a_consistent_column_count() {
    assert_tables_consistent(&render(&embedded()));
}

#[test]
fn box_diagrams_have_lines_of_equal_display_width() {
    for d in render(&embedded())
        .iter()
        .filter(|d| d.path.ends_with(".md"))
    {
        for f in support::fences(&d.contents) {
            if !f.first().is_some_and(|l| l.starts_with('┌')) {
                continue;
            }
            let w: Vec<usize> = f.iter().map(|l| l.width()).collect();
            assert!(w.windows(2).all(|p| p[0] == p[1]), "{}: {w:?}", d.path);
        }
    }
}

// --- (e) spec strings are escaped --------------------------------------------

fn hostile_spec() -> tabula_spec::HostSpec {
    let text = support::host_text()
        .replacen(
            "note = \"this host's flake\"",
            "note = \"a|b<c&d\\nnext\"",
            1,
        )
        .replacen("name = \"Brave Kiosk\"", "name = \"K|D<E>&F\"", 1)
        .replacen("label = \"kali\"", "label = \"k<a&l>|i\"", 1)
        .replacen(
            "model = \"Microsoft Surface Pro 8\"",
            "model = \"Surface <8> & |co|\"",
            1,
        );
    support::parse(&text)
}

#[test]
fn hostile_strings_are_escaped_in_markdown_and_svg() {
    let spec = hostile_spec();
    let docs = render(&spec);
    let arch = doc(&docs, "docs/ARCHITECTURE.md");
    assert!(
        arch.contains("a\\|b&lt;c&amp;d<br>next"),
        "note escaped in a cell"
    );
    assert!(
        arch.contains("K\\|D&lt;E&gt;&amp;F"),
        "session name escaped"
    );
    let layout = doc(&docs, DISK_LAYOUT);
    assert!(
        layout.contains("k&lt;a&amp;l&gt;\\|i"),
        "partition label escaped"
    );
    for d in &docs {
        if d.path.ends_with(".md") {
            for (n, l) in support::prose_lines(&d.contents) {
                for raw in ["<c&d", "<E>", "<a&l>", "<8>"] {
                    // Inside a code span `<` is literal text; outside it must not be.
                    let outside_code: String = l.split('`').step_by(2).collect();
                    assert!(
                        !outside_code.contains(raw),
                        "{}:{n}: raw {raw} in {l}",
                        d.path
                    );
                }
            }
        } else {
            roxmltree::Document::parse(&d.contents).unwrap_or_else(|e| panic!("{}: {e}", d.path));
            if d.path.ends_with("disk.svg") {
                assert!(d.contents.contains("k&lt;a&amp;l&gt;|i"));
            }
        }
    }
    assert_tables_consistent(&docs);
    assert_readable(&svg::disk(&spec), "hostile disk");
}

#[test]
fn box_diagrams_survive_newlines_and_wide_text_in_the_spec() {
    let text = support::host_text().replacen(
        "model = \"Microsoft Surface Pro 8\"",
        "model = \"東京\\nSurface\"",
        1,
    );
    let docs = render(&support::parse(&text));
    let arch = doc(&docs, "docs/ARCHITECTURE.md");
    let f = support::fences(arch)
        .into_iter()
        .find(|f| f.first().is_some_and(|l| l.starts_with('┌')))
        .unwrap();
    let w: Vec<usize> = f.iter().map(|l| l.width()).collect();
    assert!(w.windows(2).all(|p| p[0] == p[1]), "{w:?}");
    assert!(f.iter().any(|l| l.contains("東京 SURFACE")));
}

#[test]
fn shell_words_from_the_spec_are_quoted_in_the_runbook() {
    let text = support::host_text().replacen(
        "path = \"/keys/surface-pro-8.key\"",
        "path = \"/keys/my key's.key\"",
        1,
    );
    let docs = render(&support::parse(&text));
    let rb = doc(&docs, "docs/RUNBOOK.md");
    assert!(
        rb.contains("--key-file '/mnt/key/keys/my key'\\''s.key'"),
        "{rb}"
    );
}

// --- only what the spec enables ---------------------------------------------

#[test]
fn disabled_runtimes_are_not_rendered() {
    let text = support::host_text().replacen(
        "[containers.microvm]\nenable = true",
        "[containers.microvm]\nenable = false",
        1,
    );
    let docs = render(&support::parse(&text));
    let iso = doc(&docs, "docs/ISOLATION_LAYERS.md");
    assert!(!iso.contains("microvm.nix"), "{iso}");
    assert!(doc(&render(&embedded()), "docs/ISOLATION_LAYERS.md").contains("## microvm.nix"));
}

// --- specs far from the embedded host ---------------------------------------

#[test]
fn a_minimal_spec_renders_every_document_without_panicking() {
    let spec = support::parse(
        "[host]\nname = \"mini\"\nrelease = \"24.11\"\nprimary_user = \"u\"\n[disk]\nsize = \"8GB\"\n[boot]\nloader = \"grub\"\n",
    );
    let docs = render(&spec);
    assert_tables_consistent(&docs);
    for d in docs.iter().filter(|d| d.path.ends_with(".svg")) {
        roxmltree::Document::parse(&d.contents).unwrap();
    }
    assert!(!docs.iter().any(|d| d.path == "docs/subvolumes.svg"));
    assert_readable(&svg::disk(&spec), "empty disk");
}

#[test]
fn a_partition_that_does_not_fit_is_reported_not_drawn() {
    let spec = disk_spec(&[5000, 5000], 6);
    let docs = render(&spec);
    assert!(doc(&docs, DISK_LAYOUT).contains("does not fit on the disk"));
    assert_tables_consistent(&docs);
    assert_readable(&svg::disk(&spec), "overfull disk");
}

#[test]
fn a_very_long_label_widens_the_picture_instead_of_overflowing() {
    let long = "x".repeat(180);
    let text = support::host_text().replacen("label = \"kali\"", &format!("label = \"{long}\""), 1);
    let spec = support::parse(&text);
    let p = svg::disk(&spec);
    assert_readable(&p, "long label");
    assert!(p.width > 960.0);
}

#[test]
fn a_fixed_start_leaves_free_space_drawn_and_listed_where_it_is() {
    // Kali moved 30 GB further: a gap before it, drawn as a free block
    // between alpine and kali.
    let spec = edited(
        "label = \"kali\"\nsize = \"20GB\"",
        "label = \"kali\"\nsize = \"20GB\"\nstart = \"37GB\"",
    );
    let ext = spec.extents();
    let alpine_end = ext[2].unwrap().end();
    let gap = ext[3].unwrap().start - alpine_end;
    assert!(gap > 29_000_000_000);
    let docs = render(&spec);
    assert!(doc(&docs, DISK_LAYOUT).contains(&format!(
        "{} ({}) from {}",
        facts::human(gap),
        facts::mib(gap),
        facts::mib(alpine_end)
    )));
    let p = svg::disk(&spec);
    assert_readable(&p, "gap");
    let roles: Vec<&str> = p
        .labels
        .iter()
        .map(|l| l.role.as_str())
        .filter(|r| r.starts_with("partition") || *r == "free")
        .collect();
    // Labels inside blocks come in disk order; callouts after them.
    assert!(roles.contains(&"free"));
    let free_i = roles.iter().position(|r| *r == "free").unwrap();
    let kali_i = roles.iter().position(|r| *r == "partition 4").unwrap();
    assert!(free_i < kali_i, "{roles:?}");
}

/// Undo [`tabula_docs::md::text`]: what a Markdown reader shows.
fn shown(cell: &str) -> String {
    let cell = cell
        .replace("<br>", "\n")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let mut out = String::new();
    let mut esc = false;
    for c in cell.chars() {
        if esc {
            out.push(c);
            esc = false;
        } else if c == '\\' {
            esc = true;
        } else {
            out.push(c);
        }
    }
    out
}

mod escaping {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]
        /// Any note survives the trip into a table cell and back, and the
        /// table keeps its shape.
        #[test]
        fn any_note_round_trips_through_a_table_cell(note in "[a-z |<>&\n`*_\\[\\]$#!~\\\\]{1,24}") {
            let toml_str = note
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            let text = support::host_text().replacen(
                "note = \"this host's flake\"",
                &format!("note = \"{toml_str}\""),
                1,
            );
            let docs = render(&support::parse(&text));
            assert_tables_consistent(&docs);
            let arch = doc(&docs, "docs/ARCHITECTURE.md");
            let rows = support::table_after(arch, "Entries kept under");
            let row = rows.iter().find(|r| r[0] == "`/etc/nixos`").unwrap();
            let seen = shown(&row[3]);
            prop_assert_eq!(seen.trim(), note.trim());
        }
    }
}
