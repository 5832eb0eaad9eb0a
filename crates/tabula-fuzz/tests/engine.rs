//! The engine itself: the TOML tree writes back what it read, mutations are
//! reproducible from the seed, the hang bound and the panic capture work.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

use tabula_fuzz::mutate::{self, Dict, Node, Shape};
use tabula_fuzz::targets::Target;
use tabula_fuzz::SPEC_SEEDS;

fn canonical(t: Vec<(String, Node)>) -> Vec<(String, Node)> {
    let mut t: Vec<(String, Node)> = t.into_iter().map(|(k, v)| (k, canon(v))).collect();
    t.sort_by(|a, b| a.0.cmp(&b.0));
    t
}

fn canon(n: Node) -> Node {
    match n {
        Node::Tab(t) => Node::Tab(canonical(t)),
        Node::Aot(a) => Node::Aot(a.into_iter().map(canonical).collect()),
        Node::Arr(a) => Node::Arr(a.into_iter().map(canon).collect()),
        n => n,
    }
}

#[test]
fn toml_tree_round_trips_every_seed() {
    for s in SPEC_SEEDS {
        let top = mutate::parse_toml(s.data).unwrap();
        let again = mutate::parse_toml(&mutate::write_toml(&top)).unwrap();
        // Equal up to key order (an inline table is written as a [table]
        // after the table's plain values).
        assert_eq!(canonical(top.clone()), canonical(again), "{}", s.name);
        // And the spec means the same after the round trip.
        let a = tabula_spec::parse("a", s.data).map(|l| format!("{:?}", l.spec));
        let b = tabula_spec::parse("b", &mutate::write_toml(&top)).map(|l| format!("{:?}", l.spec));
        assert_eq!(a.ok(), b.ok(), "{}", s.name);
    }
}

#[test]
fn the_same_seed_gives_the_same_mutants() {
    let dict = Dict::from_toml_seeds(SPEC_SEEDS.iter().map(|s| s.data));
    let gen = |seed| {
        let mut rng = fastrand::Rng::with_seed(seed);
        (0..20)
            .map(|_| {
                mutate::mutate(
                    &mut rng,
                    SPEC_SEEDS[0].data.as_bytes(),
                    Shape::Toml,
                    b"",
                    &dict,
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(gen(7), gen(7));
    assert_ne!(gen(7), gen(8));
    // Most mutants are still TOML: the mutations are structural.
    let toml = gen(7)
        .iter()
        .filter(|m| mutate::parse_toml(&String::from_utf8_lossy(m)).is_some())
        .count();
    assert!(toml >= 10, "{toml} of 20 mutants parse as TOML");
}

#[test]
fn a_panic_is_caught_with_its_location() {
    let r = tabula_fuzz::exec::catch(|| {
        let v: Vec<u8> = Vec::new();
        let i = v.len() + 3;
        Ok(tabula_fuzz::targets::Outcome {
            features: vec![v[i].to_string()],
        })
    });
    let c = r.unwrap_err();
    assert!(
        c.kind
            .starts_with("panic at crates/tabula-fuzz/tests/engine.rs:"),
        "{c:?}"
    );
    assert!(c.detail.contains("index out of bounds"), "{c:?}");
    // Outside the fuzzer, panics are not swallowed.
    let r = std::panic::catch_unwind(|| tabula_fuzz::exec::run_here(&Target::Probe, b"{}", false));
    assert!(r.unwrap().is_ok());
}

#[test]
fn a_slow_input_is_reported_as_a_hang() {
    let mut w = tabula_fuzz::exec::Worker::new(std::sync::Arc::new(Target::Render));
    // A zero deadline: nothing finishes in it.
    let (r, _) = w.run(SPEC_SEEDS[0].data.as_bytes(), false, Duration::ZERO);
    assert_eq!(r.unwrap_err().kind, "hang");
    // The worker was replaced and runs the next input.
    let (r, _) = w.run(
        b"1 2 0:1 / /a rw - x y rw\n",
        false,
        Duration::from_secs(60),
    );
    assert!(r.is_ok());
}
