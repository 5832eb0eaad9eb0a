//! The pictures as a browser and a desktop renderer draw them: each SVG is
//! rendered to PNG by headless Chromium (Debian's `chromium`) and by
//! librsvg (`rsvg-convert`, Debian's `librsvg2-bin`), then decoded and
//! checked: the expected size, not blank, and the colours of the layout
//! model where the model puts its blocks. A renderer that is not installed
//! is skipped with a SKIP line (CI installs both).
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::path::Path;

use tabula_docs::svg::{self, Picture, Shape};
use tabula_run::{find_program, Cmd};

struct Png {
    width: u32,
    height: u32,
    rgba: Vec<u8>,
}

impl Png {
    fn pixel(&self, x: f64, y: f64) -> [u8; 3] {
        let (x, y) = (x.round() as usize, y.round() as usize);
        let i = (y * self.width as usize + x) * 4;
        [self.rgba[i], self.rgba[i + 1], self.rgba[i + 2]]
    }
}

fn decode(path: &Path) -> Png {
    let mut dec = png::Decoder::new(std::fs::File::open(path).unwrap());
    dec.set_transformations(
        png::Transformations::normalize_to_color8() | png::Transformations::ALPHA,
    );
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    // Expand to RGBA whatever came out (RGB+alpha or grey+alpha).
    let rgba = match info.color_type {
        png::ColorType::Rgba => buf,
        png::ColorType::GrayscaleAlpha => buf
            .chunks(2)
            .flat_map(|p| [p[0], p[0], p[0], p[1]])
            .collect(),
        other => panic!("unexpected PNG colour type {other:?}"),
    };
    Png {
        width: info.width,
        height: info.height,
        rgba,
    }
}

fn hex(c: &str) -> [u8; 3] {
    let v = u32::from_str_radix(c.trim_start_matches('#'), 16).unwrap();
    [(v >> 16) as u8, (v >> 8) as u8, v as u8]
}

fn close(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 12)
}

/// Size, not blank, and every solid block where the model says it is.
fn check(png: &Png, p: &Picture, what: &str) {
    assert_eq!(
        (png.width, png.height),
        (p.width as u32, p.height as u32),
        "{what}: PNG size"
    );
    let bg = hex("#ffffff");
    let total = (png.width * png.height) as usize;
    let inked = (0..total)
        .filter(|i| {
            let px = [png.rgba[i * 4], png.rgba[i * 4 + 1], png.rgba[i * 4 + 2]];
            !close(px, bg)
        })
        .count();
    assert!(
        inked * 50 > total,
        "{what}: only {inked} of {total} pixels are not background: blank?"
    );
    let rects: Vec<(f64, f64, f64, f64, &str)> = p
        .shapes
        .iter()
        .filter_map(|s| match s {
            Shape::Rect {
                x, y, w, h, fill, ..
            } => Some((*x, *y, *w, *h, fill.as_str())),
            Shape::Line { .. } => None,
        })
        .collect();
    let mut checked = 0;
    for (x, y, w, h, _) in &rects {
        if *w < 12.0 || *h < 12.0 {
            continue;
        }
        // A point just inside the block's corner, off its border. What is
        // seen there is the topmost rect holding it (blocks overlap, as the
        // bars of the subvolume picture do), unless a label covers it.
        let (sx, sy) = (x + 4.0, y + 4.0);
        let on_top = rects
            .iter()
            .rev()
            .find(|(rx, ry, rw, rh, _)| sx > *rx && sx < rx + rw && sy > *ry && sy < ry + rh)
            .unwrap();
        // Only where the colour is unambiguous: well inside the topmost rect.
        let inside = sx - on_top.0 >= 3.0
            && on_top.0 + on_top.2 - sx >= 3.0
            && sy - on_top.1 >= 3.0
            && on_top.1 + on_top.3 - sy >= 3.0;
        let on_top = on_top.4;
        let under_label = p.labels.iter().any(|l| {
            let (x0, y0, x1, y1) = l.bbox();
            sx >= x0 - 4.0 && sx <= x1 + 4.0 && sy >= y0 - 3.0 && sy <= y1 + 3.0
        });
        if !on_top.starts_with('#') || under_label || !inside {
            continue;
        }
        let px = png.pixel(sx, sy);
        assert!(
            close(px, hex(on_top)),
            "{what}: at ({sx}, {sy}) expected {on_top}, found {px:?}"
        );
        checked += 1;
    }
    assert!(checked > 0, "{what}: no block checked");
}

fn pictures() -> Vec<(&'static str, Picture)> {
    let spec = support::embedded();
    vec![
        ("disk", svg::disk(&spec)),
        ("subvolumes", svg::subvolumes(&spec)),
    ]
}

#[test]
fn chromium_renders_each_picture() {
    let Some(chromium) = ["chromium", "chromium-browser"]
        .into_iter()
        .find_map(find_program)
    else {
        println!("SKIP chromium_renders_each_picture: chromium is not installed (Debian package chromium)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for (name, p) in pictures() {
        let svg_path = dir.path().join(format!("{name}.svg"));
        let png_path = dir.path().join(format!("{name}.png"));
        std::fs::write(&svg_path, p.to_svg()).unwrap();
        Cmd::new("timeout")
            .arg("120")
            .arg(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--force-device-scale-factor=1",
                "--default-background-color=00000000",
            ])
            .arg(format!(
                "--user-data-dir={}",
                dir.path().join("profile").display()
            ))
            .arg(format!(
                "--window-size={},{}",
                p.width as u32, p.height as u32
            ))
            .arg(format!("--screenshot={}", png_path.display()))
            .arg(format!("file://{}", svg_path.display()))
            .env("HOME", dir.path())
            .run()
            .unwrap();
        check(&decode(&png_path), &p, &format!("chromium {name}"));
    }
}

#[test]
fn librsvg_renders_each_picture() {
    if find_program("rsvg-convert").is_none() {
        println!("SKIP librsvg_renders_each_picture: rsvg-convert is not installed (Debian package librsvg2-bin)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (name, p) in pictures() {
        let svg_path = dir.path().join(format!("{name}.svg"));
        let png_path = dir.path().join(format!("{name}.png"));
        std::fs::write(&svg_path, p.to_svg()).unwrap();
        Cmd::new("rsvg-convert")
            .arg("-o")
            .arg(&png_path)
            .arg(&svg_path)
            .run()
            .unwrap();
        check(&decode(&png_path), &p, &format!("rsvg {name}"));
    }
}
