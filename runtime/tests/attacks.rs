//! The attacks on the v1 proof-of-work, replayed against the real runtime
//! (docs/protocol.md §8): each forged block's trajectory inherent is refused
//! with its typed error, and as a block extrinsic it makes the block invalid
//! (`BadMandatory`), so no forged block is ever imported, paid, or counted
//! by the retarget. The same attacks at the puzzle level, with their costs,
//! are in `puzzle/tests/attacks.rs`.

// Test code outside `#[test]` functions may unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use common::*;
use frame_support::{assert_noop, assert_ok};
use pallet_upow_training::{Difficulty, Error};
use sp_runtime::transaction_validity::InvalidTransaction;
use upow_puzzle::{
    error::Degeneracy, forgery::Forgery, merkle::leaf_hash, rounding::MASTER_BITS,
    verify_trajectory, JobProgress, Liveness, TrajectoryClaim, TrajectoryProof, Weights,
    REFERENCE_LIVENESS,
};
use upow_runtime::{Executive, Runtime, RuntimeOrigin, Training};

/// The forged block's inherent is refused with `error`, changing nothing,
/// and as a block extrinsic invalidates the block.
fn refused(proof: TrajectoryProof, error: Error<Runtime>) {
    assert_noop!(
        Training::submit_trajectory(RuntimeOrigin::none(), proof.clone()),
        error
    );
    assert_eq!(
        Executive::apply_extrinsic(inherent(proof)),
        Err(InvalidTransaction::BadMandatory.into())
    );
}

/// A claim of `steps` steps with an empty proof: the claim's bounds are
/// checked before anything else.
fn oversized(steps: u32) -> (TrajectoryClaim, TrajectoryProof) {
    let claim = TrajectoryClaim {
        steps,
        root: [1; 32],
        final_weights: [2; 32],
    };
    let proof = TrajectoryProof {
        start: Default::default(),
        steps: vec![],
        segments: vec![],
    };
    (claim, proof)
}

/// Grinds the last leaf of `leaves` (by hashing only) until the claim's
/// ticket wins at the genesis difficulty; returns the forged claim and proof.
fn grind(mut forgery: Forgery) -> (TrajectoryClaim, TrajectoryProof) {
    let ctx = context(&alice());
    let last = forgery.leaves.len() - 1;
    let mut k = 0u64;
    while !forgery.ticket(&ctx).unwrap().meets(job_difficulty()) {
        k += 1;
        forgery.leaves[last] = leaf_hash(&k.to_le_bytes());
    }
    forgery
        .prove(&ctx, &spec(), &dataset(), &start_weights())
        .unwrap()
}

#[test]
fn attack_1_fixed_point_forgery_is_refused() {
    ext().execute_with(|| {
        let alice = alice();
        let (claim, proof) = oversized(u32::MAX);
        start_block(&alice, 0, claim);
        refused(proof, Error::TooManySteps);

        // Within the bound: W_0, then the all-zero fixed point; every proven
        // Z → Z step re-executes exactly and is refused as degenerate (or
        // the jump W_0 → Z is challenged and refused as a mismatch).
        let zero = Weights::zeros(&spec().model);
        let z = leaf_hash(&zero.hash());
        for n in 2..=upow_puzzle::max_steps(job_difficulty()) {
            let mut leaves = vec![leaf_hash(&start_weights().hash())];
            leaves.extend(std::iter::repeat_n(z, n as usize));
            let mut known: BTreeMap<u32, Weights> = (1..=n).map(|i| (i, zero.clone())).collect();
            known.insert(0, start_weights());
            let forgery = Forgery { leaves, known };
            if !forgery
                .ticket(&context(&alice))
                .unwrap()
                .meets(job_difficulty())
            {
                continue;
            }
            let (claim, proof) = forgery
                .prove(&context(&alice), &spec(), &dataset(), &zero)
                .unwrap();
            start_block(&alice, 0, claim);
            let error = if proof.steps[0].index == 0 {
                Error::StepMismatch
            } else {
                Error::DegenerateStep
            };
            refused(proof, error);
        }
    });
}

#[test]
fn attack_2_model_replacement_by_hashing_is_refused() {
    ext().execute_with(|| {
        let alice = alice();
        let (claim, proof) = oversized(u32::MAX);
        start_block(&alice, 0, claim);
        refused(proof, Error::TooManySteps);

        // The planted model opens step n − 1, its step's output was computed
        // once; the filler is ground by hashing until the ticket wins.
        let planted = Weights::initial(&spec().model, &[66; 32]);
        let n = 10u32;
        let mut leaves = vec![leaf_hash(&start_weights().hash())];
        leaves.extend((1..n - 1).map(|i| leaf_hash(&u64::from(i).to_le_bytes())));
        leaves.push(leaf_hash(&planted.hash()));
        leaves.push([0; 32]);
        let (claim, proof) = grind(Forgery {
            leaves,
            known: BTreeMap::from([(n - 1, planted)]),
        });
        start_block(&alice, 0, claim);
        assert!(Training::submit_trajectory(RuntimeOrigin::none(), proof.clone()).is_err());
        assert_eq!(
            Executive::apply_extrinsic(inherent(proof)),
            Err(InvalidTransaction::BadMandatory.into())
        );
    });
}

#[test]
fn attack_3_partial_faking_is_refused() {
    ext().execute_with(|| {
        let alice = alice();
        // v1: 51 real steps passed as 250. At the genesis difficulty the
        // house job's bound is 4 · 12 = 48 steps.
        let (claim, proof) = oversized(250);
        start_block(&alice, 0, claim);
        refused(proof, Error::TooManySteps);

        // A real first step, then filler ground by hashing.
        let honest = mine(&alice);
        let n = upow_puzzle::max_steps(job_difficulty());
        let w1 = {
            let ctx = context(&alice);
            let first = Forgery {
                leaves: vec![leaf_hash(&start_weights().hash())],
                known: BTreeMap::new(),
            };
            let seed = first.seed(&ctx, 0);
            let batch = upow_puzzle::batch::select_batch(&spec(), &dataset(), &seed).unwrap();
            upow_puzzle::TrainingStep::new(&spec().model, &spec().hyper)
                .run(&start_weights(), &batch, &seed, 0)
                .unwrap()
                .weights
        };
        let mut leaves = vec![leaf_hash(&start_weights().hash()), leaf_hash(&w1.hash())];
        leaves.extend((2..=n).map(|i| leaf_hash(&u64::from(i).to_le_bytes())));
        let (claim, proof) = grind(Forgery {
            leaves,
            known: BTreeMap::from([(0, start_weights()), (1, w1)]),
        });
        assert_ne!(claim, honest.claim);
        start_block(&alice, 0, claim);
        assert!(Training::submit_trajectory(RuntimeOrigin::none(), proof).is_err());
    });
}

#[test]
fn attack_4_the_pump_needs_real_blocks() {
    ext().execute_with(|| {
        let alice = alice();
        // v1 pumped the difficulty with forged blocks stamped 1 ms apart:
        // the first forged block is invalid, so the retarget never sees it.
        let zero = Weights::zeros(&spec().model);
        let z = leaf_hash(&zero.hash());
        let (claim, proof) = grind(Forgery {
            leaves: vec![leaf_hash(&start_weights().hash()), z, z, z],
            known: (1..=3).map(|i| (i, zero.clone())).collect(),
        });
        start_block(&alice, 0, claim);
        assert_ok!(Executive::apply_extrinsic(timestamp(1)).unwrap());
        assert_eq!(
            Executive::apply_extrinsic(inherent(proof)),
            Err(InvalidTransaction::BadMandatory.into())
        );
        assert_eq!(Difficulty::<Runtime>::get(), DIFFICULTY);
    });
}

#[test]
fn attack_4_a_real_block_stamped_1_ms_after_the_last_moves_it_at_most_twofold() {
    ext().execute_with(|| {
        let alice = alice();
        pallet_upow_training::RecentTimes::<Runtime>::put(
            frame_support::BoundedVec::truncate_from(vec![0]),
        );
        let mined = mine(&alice);
        start_mined_block(&alice, &mined);
        assert_ok!(Executive::apply_extrinsic(timestamp(1)).unwrap());
        assert_ok!(Executive::apply_extrinsic(inherent(mined.proof)).unwrap());
        Executive::finalize_block();
        assert_eq!(Difficulty::<Runtime>::get(), 2 * DIFFICULTY);
    });
}

/// The house job's initial weights with the first layer crafted so that
/// exactly `live` hidden units fire (all their weights positive, on this
/// test's inputs, none of which is all zero) and every other unit is dead
/// (all its weights negative): the cheap weights an unproven jump would
/// plant (docs/v3.md §2.3, F2). Magnitudes are the initial ones (at least
/// one compute unit), so the density rule of puzzle.md §9 passes.
fn crafted(live: usize) -> Weights {
    let model = spec().model;
    let (_, units) = model.shape(0);
    let mut layers = start_weights().layers().to_vec();
    for (i, w) in layers[0].iter_mut().enumerate() {
        let magnitude = (*w >> MASTER_BITS).unsigned_abs().max(1) as i16;
        let sign = if i % units < live { 1 } else { -1 };
        *w = (sign * magnitude) << MASTER_BITS;
    }
    Weights::from_layers(&model, layers).unwrap()
}

/// Plants `weights` as the house job's tip (the jump a fraud proof would
/// catch, taken for granted here).
fn plant(weights: &Weights) {
    pallet_upow_training::Jobs::<Runtime>::insert(
        0,
        upow_primitives::TrainingProgress::untrained(weights.hash()),
    );
}

#[test]
fn attack_5_planted_dead_units_cannot_seal_the_house_workload() {
    // F2: weights with most hidden units dead make a step cheap (2.4× for
    // the integer attacker, up to 3.8× for a float one at the degeneracy
    // rule's 4 live units of 128, docs/benchmarks.md §Shortcuts). The house
    // workload is listed at two thirds of its units live (86 of 128), so a
    // block on such weights is refused even though every step passes the
    // rule alone; at exactly 86 live it is accepted.
    ext().execute_with(|| {
        let alice = alice();
        let house = Training::work(0).unwrap();
        assert_eq!(house.liveness, REFERENCE_LIVENESS);
        for live in [8, 64, 85] {
            let weights = crafted(live);
            plant(&weights);
            // Mined as the attacker would: checked against the rule alone.
            let mined = mine_from(&alice, weights, Liveness::MINIMUM);
            start_mined_block(&alice, &mined);
            refused(mined.proof, Error::DegenerateStep);
        }
        let weights = crafted(86);
        plant(&weights);
        let mined = mine_from(&alice, weights, REFERENCE_LIVENESS);
        start_mined_block(&alice, &mined);
        assert_ok!(Training::submit_trajectory(
            RuntimeOrigin::none(),
            mined.proof
        ));
    });
}

/// The house job's initial weights with every hidden unit triggered on one
/// of the rarely lit pixels ([`RARE_PIXELS`] in the image's centre, in
/// turn): weight `+127` there, `−1` on every other pixel. A unit's
/// pre-activation is `≤ 0` on every row where its pixel is dark, so its
/// activation there is known to be zero without computing it, and its
/// bright pixel outweighs the rest of a row when lit: the unit is live on
/// most batches while about nine activations in ten are zero (docs/v3.md
/// §2.3). The `−1`s stay negative over a block's steps.
fn triggered() -> Weights {
    let model = spec().model;
    let (_, units) = model.shape(0);
    let rare: Vec<usize> = RARE_PIXELS
        .filter(|pixel| (7..21).contains(&(pixel % 28)))
        .map(|pixel| pixel as usize)
        .collect();
    let mut layers = start_weights().layers().to_vec();
    for (index, w) in layers[0].iter_mut().enumerate() {
        let (pixel, unit) = (index / units, index % units);
        let value: i16 = if pixel == rare[unit % rare.len()] {
            127
        } else {
            -1
        };
        *w = value << MASTER_BITS;
    }
    Weights::from_layers(&model, layers).unwrap()
}

#[test]
fn attack_6_planted_rarely_firing_units_cannot_seal_the_house_workload() {
    // docs/v3.md §2.3: units that fire only on rarely lit pixels are live
    // by the live-unit count while most activations are zero and known in
    // advance. A block mined on such weights with every step checked
    // against the house's live-unit threshold alone is refused: its proven
    // steps fall under the house's density threshold (an eighth).
    ext().execute_with(|| {
        let alice = alice();
        let weights = triggered();
        plant(&weights);
        let live_only = Liveness::new(
            REFERENCE_LIVENESS.nonzero_weights_per_1024(),
            REFERENCE_LIVENESS.live_units_per_1024(),
            0,
        )
        .unwrap();
        let mined = mine_from(&alice, weights.clone(), live_only);
        let progress = JobProgress {
            weights: weights.hash(),
            steps: 0,
        };
        let verify = |liveness| {
            verify_trajectory(
                &spec(),
                liveness,
                &mined.context,
                &progress,
                job_difficulty(),
                &mined.claim,
                &mined.proof,
            )
        };
        assert!(verify(live_only).is_ok(), "live by the live-unit count");
        assert!(
            matches!(
                verify(REFERENCE_LIVENESS),
                Err(upow_puzzle::Error::Degenerate {
                    rule: Degeneracy::SparseActivations,
                    ..
                })
            ),
            "{:?}",
            verify(REFERENCE_LIVENESS)
        );
        start_mined_block(&alice, &mined);
        refused(mined.proof, Error::DegenerateStep);
    });
}
