#![allow(clippy::unwrap_used, clippy::panic)]
mod support;

/// `TABULA_RENDER_DUMP=DIR cargo test -p tabula-render --test render_dump`
/// writes the embedded host's flake to DIR (for reading it while developing).
#[test]
fn dump_when_asked() {
    let Some(dir) = std::env::var_os("TABULA_RENDER_DUMP") else {
        return;
    };
    let files = tabula_render::render_flake(&support::embedded()).unwrap();
    tabula_render::write_files(std::path::Path::new(&dir), &files).unwrap();
}
