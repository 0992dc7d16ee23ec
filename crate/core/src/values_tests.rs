//! Unit tests of `values`.

use super::*;

#[test]
fn signatures_print_like_wasm_and_compare_by_kinds() {
    let engine = wasmtime::Engine::default();
    let ty = FuncType::new(&engine, [ValType::I64, ValType::F32], [ValType::I32]);
    let signature = Signature::of(&ty, unsupported_type(ErrorKind::Export, "f")).unwrap();
    assert_eq!(signature.to_string(), "(i64, f32) -> (i32)");
    assert!(signature.is(&[Kind::I64, Kind::F32], &[Kind::I32]));
    assert!(!signature.is(&[Kind::I64], &[Kind::I32]));
}

#[test]
fn reference_types_are_refused_with_the_place() {
    let engine = wasmtime::Engine::default();
    let ty = FuncType::new(&engine, [ValType::EXTERNREF], []);
    let err = Signature::of(&ty, unsupported_type(ErrorKind::Export, "export \"g\"")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Export);
    assert!(err.message().starts_with("export \"g\" uses the type"));
}
