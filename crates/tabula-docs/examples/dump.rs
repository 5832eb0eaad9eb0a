//! Write the embedded host's docs into a directory for a quick look:
//! `cargo run -p tabula-docs --example dump -- /tmp/docs-out`
//! (an optional second argument is a host.toml to use instead).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = std::path::PathBuf::from(args.next().ok_or("usage: dump OUT_DIR [host.toml]")?);
    let loaded = match args.next() {
        Some(p) => tabula_spec::load(&tabula_spec::SpecSource::File(p.into()))?,
        None => tabula_spec::load(&tabula_spec::SpecSource::Embedded(
            tabula_spec::embedded::DEFAULT_HOST,
        ))?,
    };
    for d in tabula_docs::render(&loaded.spec) {
        let path = out.join(&d.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, d.contents)?;
        println!("{}", path.display());
    }
    Ok(())
}
