//! The check every vectors test makes: each vector the reference code
//! computes is documented with the same value, and the document has no
//! vector the code does not compute. `UPOW_PRINT_VECTORS=1` prints the
//! computed block (to paste into the document after a deliberate change).

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
