//! The embedded hosts load without a problem.

use tabula_spec::{embedded, load, SpecSource};

#[test]
fn every_embedded_host_loads() {
    for h in embedded::ALL {
        let loaded = load(&SpecSource::Embedded(h)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(loaded.spec.host.name, h.name);
    }
}
