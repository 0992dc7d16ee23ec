//! What `wire_tests.rs` (freenet-stdlib 0.6.0) and `wire_0_12_tests.rs`
//! (0.12.1) share: the notes' worked example and the checks, none of which
//! names a freenet-stdlib type, so one copy serves both versions. The test
//! cases, which do, are `stdlib_cases`, compiled against each version.

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wasm_engine_freenet::wire;

/// `[1, 2, 3]`: the code of the notes' worked example.
pub const CODE: [u8; 3] = [1, 2, 3];
/// `[9, 8]`: the parameters of the notes' worked example.
pub const PARAMS: [u8; 2] = [9, 8];
/// `blake3([1, 2, 3])`.
pub const CODE_HASH_HEX: &str = "b177ec1bf26dfb3b7010d473e6d44713b29b765b99c6e60ecbfae742de496543";
/// `blake3(code_hash ‖ [9, 8])`: the delegate key and the contract instance id.
pub const KEY_HEX: &str = "ff65b55003d20e98dc53c31d7a23763dce1a072261c527ef5542e1196b29b5ba";

pub fn hex(text: &str) -> Vec<u8> {
    let text: String = text.split_whitespace().collect();
    assert_eq!(text.len() % 2, 0, "odd hex: {text}");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// A message about one contract as the notes lay it out: its variant's
/// `tag`, the contract's 32 bytes (each `id`), then `rest`, in hex.
pub fn about(tag: u32, id: u8, rest: &str) -> Vec<u8> {
    let mut bytes = tag.to_le_bytes().to_vec();
    bytes.extend([id; 32]);
    bytes.extend(hex(rest));
    bytes
}

pub fn key(text: &str) -> wire::Key {
    hex(text).try_into().unwrap()
}

pub fn our_key(key: u8, code: u8) -> wire::DelegateKey {
    wire::DelegateKey {
        key: [key; 32],
        code_hash: [code; 32],
    }
}

/// stdlib's bytes for `theirs`: they decode in `wire` to exactly `ours`,
/// and `wire` encodes `ours` to exactly the same bytes.
pub fn same<S: Serialize, T: Serialize + DeserializeOwned + PartialEq + Debug>(
    theirs: &S,
    ours: &T,
) -> Vec<u8> {
    let bytes = bincode::serialize(theirs).unwrap();
    let decoded: T = wire::decode(&bytes).unwrap_or_else(|err| {
        panic!(
            "{} does not decode stdlib's {bytes:02x?}: {err}",
            std::any::type_name::<T>()
        )
    });
    assert_eq!(&decoded, ours, "stdlib's bytes {bytes:02x?}");
    assert_eq!(
        wire::encode(ours).unwrap(),
        bytes,
        "{} encodes differently from stdlib",
        std::any::type_name::<T>()
    );
    bytes
}

/// `same` for a pair of stdlib's value and ours.
pub fn same_pair<S: Serialize, T: Serialize + DeserializeOwned + PartialEq + Debug>(
    (theirs, ours): &(S, T),
) -> Vec<u8> {
    same(theirs, ours)
}

/// `same` for each pair of messages, whose bytes start with the tag `tag`
/// gives ours, below `variants`, the number of variants the stdlib at hand
/// has; between them the pairs cover every one (`what` names the messages).
/// `check` is given each pair besides, with its tag and bytes.
pub fn every_variant<S: Serialize, T: Serialize + DeserializeOwned + PartialEq + Debug>(
    what: &str,
    pairs: Vec<(S, T)>,
    variants: usize,
    tag: fn(&T) -> u32,
    mut check: impl FnMut(&S, &T, u32, &[u8]),
) {
    let mut seen = vec![false; variants];
    for (theirs, ours) in pairs {
        let bytes = same(&theirs, &ours);
        let tag = tag(&ours);
        assert_eq!(bytes[..4], tag.to_le_bytes(), "{ours:?}");
        assert!(
            (tag as usize) < variants,
            "not in this freenet-stdlib: {ours:?}"
        );
        seen[tag as usize] = true;
        check(&theirs, &ours, tag, &bytes);
    }
    assert_eq!(
        seen,
        vec![true; variants],
        "every {what} variant is covered"
    );
}

/// freenet-stdlib, reading `bytes` as `S`, and `wire`, reading them as `T`,
/// both refuse them.
pub fn both_refuse<'a, S: Deserialize<'a>, T: Deserialize<'a>>(bytes: &'a [u8]) {
    assert!(
        bincode::deserialize::<S>(bytes).is_err(),
        "stdlib's {} takes {bytes:02x?}",
        std::any::type_name::<S>()
    );
    assert!(
        wire::decode::<T>(bytes).is_err(),
        "{} takes {bytes:02x?}",
        std::any::type_name::<T>()
    );
}

/// freenet-stdlib, reading `bytes` as `S`, and `wire`, reading them as `T`,
/// both take them.
pub fn both_take<'a, S: Deserialize<'a>, T: Deserialize<'a>>(bytes: &'a [u8]) {
    if let Err(err) = bincode::deserialize::<S>(bytes) {
        panic!(
            "stdlib's {} refuses {bytes:02x?}: {err}",
            std::any::type_name::<S>()
        );
    }
    if let Err(err) = wire::decode::<T>(bytes) {
        panic!("{} refuses {bytes:02x?}: {err}", std::any::type_name::<T>());
    }
}

/// `wire`'s bytes for `ours`, read by freenet-stdlib as `S`, which encodes
/// it back to the same bytes.
pub fn stdlib_reads<'a, S: Deserialize<'a> + Serialize>(bytes: &'a [u8]) -> S {
    let value: S = bincode::deserialize(bytes).unwrap_or_else(|err| {
        panic!(
            "stdlib's {} does not decode our {bytes:02x?}: {err}",
            std::any::type_name::<S>()
        )
    });
    assert_eq!(
        bincode::serialize(&value).unwrap(),
        bytes,
        "stdlib re-encodes our bytes differently"
    );
    value
}
