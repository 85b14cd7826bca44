//! The real runtime (every pallet as configured) verifying trajectories:
//! an honest block's inherent is applied, pays the author and moves the job;
//! tampered proofs and a non-admitted author are refused; a block without
//! the proof is invalid.

// Test code outside `#[test]` functions may unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use frame_support::{assert_noop, assert_ok, traits::fungible::Inspect};
use sp_runtime::transaction_validity::InvalidTransaction;
use upow_runtime::{Balances, Executive, Runtime, RuntimeOrigin, Training};

#[test]
fn honest_block_is_applied_pays_and_trains() {
    ext().execute_with(|| {
        let alice = alice();
        let mined = mine(&alice);
        start_mined_block(&alice, &mined);
        let before = Balances::balance(&account(&alice));
        assert_ok!(Executive::apply_extrinsic(timestamp(10_000)).unwrap());
        assert_ok!(Executive::apply_extrinsic(inherent(mined.proof.clone())).unwrap());
        let header = Executive::finalize_block();
        assert_eq!(header.number, 1);
        let state = pallet_upow_training::Jobs::<Runtime>::get(0).unwrap();
        assert_eq!(state.weights, mined.final_weights.hash());
        assert_eq!(state.steps, mined.claim.steps as u64);
        // The block reward went to the author's account.
        assert!(Balances::balance(&account(&alice)) > before);
        // The next block's work starts from the adopted weights.
        assert_eq!(
            Training::work(0).unwrap().weights,
            mined.final_weights.hash()
        );
    });
}

#[test]
fn tampered_proofs_are_refused_by_the_runtime() {
    ext().execute_with(|| {
        let alice = alice();
        let mined = mine(&alice);
        start_mined_block(&alice, &mined);
        let refuse = |proof, error: pallet_upow_training::Error<Runtime>| {
            assert_noop!(
                Training::submit_trajectory(RuntimeOrigin::none(), proof),
                error
            );
        };
        let mut p = mined.proof.clone();
        p.steps[0].weights[1] ^= 1;
        refuse(p.clone(), pallet_upow_training::Error::BadTrajectoryProof);
        // As a block extrinsic, a failing mandatory inherent invalidates the block.
        assert_eq!(
            Executive::apply_extrinsic(inherent(p)),
            Err(InvalidTransaction::BadMandatory.into())
        );
        let mut p = mined.proof.clone();
        p.steps[0].samples[0].sample[2] ^= 1;
        refuse(p, pallet_upow_training::Error::WrongSamples);
        let mut p = mined.proof.clone();
        if let Some(s) = p.steps[0].after.siblings.first_mut() {
            s[0] ^= 1;
            refuse(p, pallet_upow_training::Error::StepMismatch);
        }
        pallet_upow_training::Difficulty::<Runtime>::put(u128::MAX);
        refuse(
            mined.proof.clone(),
            pallet_upow_training::Error::TicketAboveTarget,
        );
    });
}

#[test]
fn non_admitted_author_is_refused() {
    ext().execute_with(|| {
        let bob = bob();
        let mined = mine(&bob);
        start_mined_block(&bob, &mined);
        assert_noop!(
            Training::submit_trajectory(RuntimeOrigin::none(), mined.proof),
            pallet_upow_training::Error::<Runtime>::AuthorNotAdmitted
        );
    });
}

#[test]
#[should_panic(expected = "a block must carry its trajectory proof")]
fn block_without_proof_is_invalid() {
    ext().execute_with(|| {
        let alice = alice();
        let mined = mine(&alice);
        start_mined_block(&alice, &mined);
        assert_ok!(Executive::apply_extrinsic(timestamp(10_000)).unwrap());
        Executive::finalize_block();
    });
}
