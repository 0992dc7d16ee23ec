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

const SUPPORTED: [(ValType, Kind, &str); 4] = [
    (ValType::I32, Kind::I32, "i32"),
    (ValType::I64, Kind::I64, "i64"),
    (ValType::F32, Kind::F32, "f32"),
    (ValType::F64, Kind::F64, "f64"),
];

/// Every value type wasmtime has that a host cannot pass.
fn unsupported() -> Vec<ValType> {
    vec![
        ValType::V128,
        ValType::FUNCREF,
        ValType::EXTERNREF,
        ValType::ANYREF,
        ValType::EQREF,
        ValType::I31REF,
        ValType::ARRAYREF,
        ValType::STRUCTREF,
        ValType::NULLREF,
        ValType::NULLFUNCREF,
        ValType::NULLEXTERNREF,
        ValType::EXNREF,
        ValType::NULLEXNREF,
        ValType::CONTREF,
        ValType::NULLCONTREF,
    ]
}

#[test]
fn every_numeric_type_has_its_kind_and_wasm_name() {
    for (ty, kind, name) in SUPPORTED {
        assert_eq!(Kind::of(&ty), Some(kind), "{ty}");
        assert_eq!(kind.name(), name);
        assert_eq!(ty.to_string(), name, "the name is the one wasm uses");
    }
}

#[test]
fn vectors_and_references_have_no_kind() {
    for ty in unsupported() {
        assert_eq!(Kind::of(&ty), None, "{ty}");
    }
}

#[test]
fn signatures_of_every_numeric_type_keep_their_order() {
    let engine = wasmtime::Engine::default();
    let types = SUPPORTED.map(|(ty, _, _)| ty);
    let kinds = SUPPORTED.map(|(_, kind, _)| kind);
    let reversed: Vec<ValType> = types.iter().rev().cloned().collect();
    let ty = FuncType::new(&engine, types.clone(), reversed);
    let signature = Signature::of(&ty, unsupported_type(ErrorKind::Export, "f")).unwrap();
    assert_eq!(*signature.params, kinds);
    let mut back = kinds;
    back.reverse();
    assert_eq!(*signature.results, back);
    assert_eq!(
        signature.to_string(),
        "(i32, i64, f32, f64) -> (f64, f32, i64, i32)"
    );
    assert!(signature.is(&kinds, &back));
    assert!(!signature.is(&back, &kinds));
}

#[test]
fn a_signature_without_params_or_results_is_empty() {
    let engine = wasmtime::Engine::default();
    let ty = FuncType::new(&engine, [], []);
    let signature = Signature::of(&ty, unsupported_type(ErrorKind::Export, "f")).unwrap();
    assert_eq!(signature.to_string(), "() -> ()");
    assert!(signature.is(&[], &[]));
    assert!(!signature.is(&[Kind::I32], &[]));
    assert!(!signature.is(&[], &[Kind::I32]));
}

#[test]
fn signatures_compare_params_and_results_separately() {
    let engine = wasmtime::Engine::default();
    let of = |params: &[ValType], results: &[ValType]| {
        let ty = FuncType::new(&engine, params.to_vec(), results.to_vec());
        Signature::of(&ty, unsupported_type(ErrorKind::Export, "f")).unwrap()
    };
    let a = of(&[ValType::I32], &[ValType::I64]);
    assert_eq!(a, of(&[ValType::I32], &[ValType::I64]));
    assert_ne!(a, of(&[ValType::I64], &[ValType::I32]));
    assert_ne!(a, of(&[ValType::I32, ValType::I64], &[]));
    assert!(!a.is(&[Kind::I32, Kind::I64], &[]));
    assert!(!a.is(&[Kind::I32], &[Kind::I32]));
}

#[test]
fn every_unsupported_type_is_refused_in_params_and_in_results_with_the_kind_given() {
    let engine = wasmtime::Engine::default();
    for ty in unsupported() {
        for (kind, params, results) in [
            (ErrorKind::Export, vec![ty.clone()], vec![]),
            (ErrorKind::Instantiation, vec![], vec![ty.clone()]),
            (
                ErrorKind::Argument,
                vec![ValType::I32],
                vec![ValType::F64, ty.clone()],
            ),
        ] {
            let func = FuncType::new(&engine, params, results);
            let err =
                Signature::of(&func, unsupported_type(kind, "import \"env\".\"h\"")).unwrap_err();
            assert_eq!(err.kind(), kind, "{ty}");
            assert_eq!(
                err.message(),
                format!("import \"env\".\"h\" uses the type {ty}, which JavaScript cannot pass")
            );
        }
    }
}

#[test]
fn the_error_is_built_for_the_first_unsupported_type_only() {
    let engine = wasmtime::Engine::default();
    let ty = FuncType::new(
        &engine,
        [ValType::I32, ValType::V128, ValType::EXTERNREF],
        [ValType::FUNCREF],
    );
    let seen = std::cell::RefCell::new(Vec::new());
    let err = Signature::of(&ty, |t| {
        seen.borrow_mut().push(t.to_string());
        unsupported_type(ErrorKind::Export, "export \"v\"")(t)
    })
    .unwrap_err();
    assert_eq!(*seen.borrow(), ["v128"]);
    assert_eq!(
        err.message(),
        "export \"v\" uses the type v128, which JavaScript cannot pass"
    );
    let results_only = FuncType::new(&engine, [ValType::I64], [ValType::EXTERNREF, ValType::V128]);
    let err = Signature::of(&results_only, unsupported_type(ErrorKind::Export, "f")).unwrap_err();
    assert_eq!(
        err.message(),
        format!(
            "f uses the type {}, which JavaScript cannot pass",
            ValType::EXTERNREF
        )
    );
}

#[test]
fn supported_types_never_build_an_error() {
    let engine = wasmtime::Engine::default();
    let ty = FuncType::new(
        &engine,
        SUPPORTED.map(|(ty, _, _)| ty),
        SUPPORTED.map(|(ty, _, _)| ty),
    );
    let calls = std::cell::Cell::new(0);
    Signature::of(&ty, |t| {
        calls.set(calls.get() + 1);
        unsupported_type(ErrorKind::Export, "f")(t)
    })
    .unwrap();
    assert_eq!(calls.get(), 0);
}
