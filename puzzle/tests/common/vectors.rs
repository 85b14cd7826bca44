//! The check every vectors test makes: each vector the reference code
//! computes is documented with the same value, and the document has no
//! vector the code does not compute. `UPOW_PRINT_VECTORS=1` prints the
//! computed block (to paste into the document after a deliberate change).
//! Shared by the puzzle's tests (docs/puzzle.md, docs/v3.md) and the
//! runtime's (docs/protocol.md).

use std::collections::BTreeMap;

/// Asserts that `documented` (parsed from `doc`) is exactly `computed`.
pub fn assert_documented(
    doc: &str,
    computed: &BTreeMap<&'static str, String>,
    documented: &BTreeMap<String, String>,
) {
    if std::env::var("UPOW_PRINT_VECTORS").is_ok() {
        for (name, value) in computed {
            println!("{name} = {value}");
        }
    }
    for (name, value) in computed {
        assert_eq!(documented.get(*name), Some(value), "vector {name}");
    }
    for name in documented.keys() {
        assert!(
            computed.contains_key(name.as_str()),
            "{doc} has unknown vector {name}"
        );
    }
}

/// The `name = value` lines between `<!-- {marker}:begin -->` and
/// `<!-- {marker}:end -->` of the document at `path` (relative to the
/// workspace root). A long hex value may go on over the following lines
/// (hex digits alone).
pub fn documented(path: &str, marker: &str) -> BTreeMap<String, String> {
    let file = format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
    let block = doc
        .split(&format!("<!-- {marker}:begin -->"))
        .nth(1)
        .and_then(|rest| rest.split(&format!("<!-- {marker}:end -->")).next())
        .unwrap_or_else(|| panic!("no {marker} block in {path}"));
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    let mut last: Option<String> = None;
    for trimmed in block.lines().map(str::trim) {
        if let Some((name, value)) = trimmed.split_once(" = ") {
            values.insert(name.trim().to_string(), value.trim().to_string());
            last = Some(name.trim().to_string());
        } else if let (Some(name), true) = (
            &last,
            !trimmed.is_empty() && trimmed.chars().all(|c| c.is_ascii_hexdigit()),
        ) {
            // Continuation of a long hex value.
            if let Some(v) = values.get_mut(name) {
                v.push_str(trimmed);
            }
        }
    }
    values
}
