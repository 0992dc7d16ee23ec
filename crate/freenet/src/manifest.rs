//! The `freenet-manifest` custom sections of a module: where a delegate
//! built with freenet-stdlib 0.12 declares the lifecycle events and
//! wake-ups it wants. The JSON inside is read by the TypeScript layer;
//! here the sections are only found.

/// The custom section's name (freenet-stdlib's `MANIFEST_SECTION_NAME`).
const SECTION_NAME: &[u8] = b"freenet-manifest";

/// Reads an unsigned LEB128 `u32` at `*at`, moving past it.
fn leb_u32(bytes: &[u8], at: &mut usize) -> Option<u32> {
    let mut value: u32 = 0;
    for shift in (0..35).step_by(7) {
        let byte = *bytes.get(*at)?;
        *at += 1;
        value |= u32::from(byte & 0x7f).checked_shl(shift)?;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// The payloads of the `freenet-manifest` custom sections of the module
/// `code`, in order. A binary that is not a module (WAT text, a component)
/// or ends inside a section has none past that point: the module was
/// compiled already, so only its custom sections are read here.
pub(crate) fn sections(code: &[u8]) -> Vec<Vec<u8>> {
    let mut found = Vec::new();
    if code.get(..8) != Some(b"\0asm\x01\0\0\0") {
        return found;
    }
    let mut at = 8;
    while at < code.len() {
        let id = code[at];
        at += 1;
        let Some(size) = leb_u32(code, &mut at) else {
            break;
        };
        let Some(end) = at
            .checked_add(size as usize)
            .filter(|&end| end <= code.len())
        else {
            break;
        };
        if id == 0 {
            let mut name_at = at;
            if let Some(name_len) = leb_u32(code, &mut name_at) {
                let name_end = name_at.saturating_add(name_len as usize);
                if name_end <= end && &code[name_at..name_end] == SECTION_NAME {
                    found.push(code[name_end..end].to_vec());
                }
            }
        }
        at = end;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::sections;

    fn custom(name: &[u8], payload: &[u8]) -> Vec<u8> {
        let mut body = vec![name.len() as u8];
        body.extend_from_slice(name);
        body.extend_from_slice(payload);
        let mut section = vec![0, body.len() as u8];
        section.extend(body);
        section
    }

    #[test]
    fn finds_each_manifest_section_and_only_those() {
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        module.extend(custom(b"name", b"x"));
        module.extend(custom(b"freenet-manifest", b"{\"manifest_version\":1}"));
        module.extend(custom(b"freenet-manifest", b"{}"));
        assert_eq!(
            sections(&module),
            vec![b"{\"manifest_version\":1}".to_vec(), b"{}".to_vec()]
        );
    }

    #[test]
    fn a_truncated_section_or_text_finds_nothing() {
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        let mut section = custom(b"freenet-manifest", b"{}");
        section[1] = 100;
        module.extend(section);
        assert!(sections(&module).is_empty());
        assert!(sections(b"(module)").is_empty());
        // A size whose LEB128 never ends.
        assert!(sections(b"\0asm\x01\0\0\0\0\xff\xff\xff\xff\xff\xff").is_empty());
    }
}
