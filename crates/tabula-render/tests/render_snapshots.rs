//! Snapshots of every file rendered from a frozen copy of the embedded host
//! (tests/fixtures/surface-pro-8.toml), kept in tests/snapshots/ so a change
//! of the output shows as a diff in review. Update with
//! `UPDATE_EXPECT=1 cargo test -p tabula-render --test render_snapshots`.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

#[test]
fn rendered_files_match_the_snapshots() {
    let text = include_str!("fixtures/surface-pro-8.toml");
    let files = tabula_render::render_flake(&support::spec_from(text)).unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    for f in &files {
        let name = f.path.replace('/', "__");
        expect_test::expect_file![dir.join(name)].assert_eq(&f.contents);
    }
    // No stale snapshot is left behind.
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries {
            let name = e.unwrap().file_name().into_string().unwrap();
            assert!(
                files.iter().any(|f| f.path.replace('/', "__") == name),
                "stale snapshot {name}"
            );
        }
    }
}
