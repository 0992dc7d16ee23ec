//! Unit tests of `state`: the cache of resolved imports.

use crate::config::RuntimeConfig;
use crate::engine::{Engine, parse_text};
use crate::site::Site;

fn prepared(engine: &Engine) -> usize {
    engine
        .enter(Site::Direct, |state| Ok(state.prepared.len()))
        .unwrap()
}

#[test]
fn compiling_the_same_bytes_again_reuses_the_resolved_imports() {
    let config = RuntimeConfig {
        compile_cache: Some(false),
        ..RuntimeConfig::default()
    };
    let engine = Engine::new(&config, None, Vec::new(), None).unwrap();
    let guest = parse_text(r#"(module (memory (export "memory") 1))"#).unwrap();
    for _ in 0..3 {
        let module = engine.compile(&guest).unwrap();
        engine.create_instance(Site::Direct, &module, 1, 0).unwrap();
    }
    assert_eq!(prepared(&engine), 1);
    let other = parse_text(r#"(module (memory (export "memory") 2))"#).unwrap();
    let other = engine.compile(&other).unwrap();
    engine.create_instance(Site::Direct, &other, 2, 0).unwrap();
    assert_eq!(prepared(&engine), 2);
}
