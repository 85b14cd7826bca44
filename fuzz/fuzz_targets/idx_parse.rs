//! Arbitrary bytes as an IDX file (plain or gzip): parsing never panics,
//! and what parses is consistent and re-encodes to the input.

#![no_main]

use libfuzzer_sys::fuzz_target;
use upow_puzzle::idx::{dataset_from_idx, encode_idx, parse_idx, IdxArray};

fuzz_target!(|data: &[u8]| {
    let Ok(array) = parse_idx(data) else { return };
    let len = array
        .dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d as usize));
    assert_eq!(
        len,
        Some(array.data.len()),
        "data length differs from the dimensions"
    );
    if !data.starts_with(&[0x1f, 0x8b]) {
        assert_eq!(encode_idx(&array), data, "plain IDX does not round-trip");
    }
    // Whatever parses may be handed to the dataset builder: as images with
    // labels of its first dimension, and as labels.
    if let Some(&n) = array.dims.first() {
        let labels = IdxArray {
            dims: vec![n],
            data: vec![0; n.min(1 << 16) as usize],
        };
        let _ = dataset_from_idx(&array, &labels);
    }
    let _ = dataset_from_idx(&array, &array);
});
