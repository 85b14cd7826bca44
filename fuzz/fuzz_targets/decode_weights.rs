//! Arbitrary bytes as the canonical weights encoding of a few fixed models:
//! decoding never panics, and whatever decodes re-encodes to the same bytes
//! (the encoding is canonical) with an int8 compute copy.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use upow_puzzle::{weights::hash_encoded, Model, Weights};

/// Models of 4 to 234 bytes of weights: one layer, hidden layers, the
/// smallest widths, four layers.
static MODELS: LazyLock<Vec<Model>> = LazyLock::new(|| {
    [
        &[1, 2][..],
        &[2, 2],
        &[5, 3, 2],
        &[12, 6, 3],
        &[3, 4, 5, 2],
        &[2, 3, 2, 3, 2],
    ]
    .iter()
    .map(|dims| Model::new(dims).expect("a model inside the limits"))
    .collect()
});

fuzz_target!(|data: &[u8]| {
    for model in MODELS.iter() {
        let Ok(weights) = Weights::decode(model, data) else {
            continue;
        };
        assert_eq!(
            weights.encode(),
            data,
            "decode ∘ encode is not the identity"
        );
        assert_eq!(weights.hash(), hash_encoded(data));
        let again = Weights::from_layers(model, weights.layers().to_vec());
        assert_eq!(again.as_ref(), Ok(&weights));
        for l in 0..model.layers() {
            let compute = weights.compute_layer(l);
            assert_eq!(compute.len(), weights.layer(l).len());
            assert!(
                compute.iter().all(|w| (-127..=127).contains(w)),
                "compute weight outside int8"
            );
        }
    }
});
