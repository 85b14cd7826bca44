//! The real runtime (every pallet as configured) verifying trajectories:
//! an honest block's inherent is applied, pays the author and moves the job;
//! tampered proofs and a non-admitted author are refused; a block without
//! the proof is invalid.

// Test code outside `#[test]` functions may unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use frame_support::{assert_noop, assert_ok, traits::fungible::Inspect};
use sp_core::{crypto::Pair as _, sr25519, H256};
use sp_runtime::{transaction_validity::InvalidTransaction, BuildStorage, Digest};
use upow_primitives::PreDigest;
use upow_puzzle::{
    mining::{Mined, ReferenceMiner},
    Dataset, Hyperparams, JobSpec, Model, TrajectoryContext, Weights,
};
use upow_runtime::{
    AccountId, Balances, Executive, Runtime, RuntimeCall, RuntimeGenesisConfig, RuntimeOrigin,
    System, Training, UncheckedExtrinsic, UNIT,
};

const INIT_SEED: [u8; 32] = [4; 32];
const PARENT: H256 = H256([7; 32]);

fn dataset() -> Dataset {
    let labels: Vec<u8> = (0..48).map(|i| (i % 3) as u8).collect();
    let pixels: Vec<u8> = (0..48 * 16).map(|i| (i * 53 % 256) as u8).collect();
    Dataset::new(16, &labels, &pixels).unwrap()
}

fn spec() -> JobSpec {
    JobSpec::new(
        Model::new(&[16, 8, 3]).unwrap(),
        Hyperparams::new(2, 2, 1000).unwrap(),
        dataset().commitment(),
    )
    .unwrap()
}

fn alice() -> sr25519::Pair {
    sr25519::Pair::from_string("//Alice", None).unwrap()
}

fn account(pair: &sr25519::Pair) -> AccountId {
    AccountId::from(pair.public().0)
}

/// Genesis: Alice endowed, admitted and bonded as a miner; the house job is
/// a small 16-8-3 MLP; difficulty 3.
fn ext() -> sp_io::TestExternalities {
    let alice = alice();
    let bob = sr25519::Pair::from_string("//Bob", None).unwrap();
    let bond = upow_runtime::configs::MinBond::get();
    let genesis = RuntimeGenesisConfig {
        balances: pallet_balances::GenesisConfig {
            balances: vec![
                (account(&alice), 1_000_000 * UNIT),
                (account(&bob), 1_000_000 * UNIT),
            ],
            ..Default::default()
        },
        staking: pallet_upow_staking::GenesisConfig {
            miners: vec![(account(&alice), alice.public().0, bond)],
            validators: vec![],
        },
        jobs: pallet_upow_jobs::GenesisConfig {
            house_job: Some(pallet_upow_jobs::GenesisHouseJob {
                poster: account(&alice),
                spec: pallet_upow_jobs::GenesisJobSpec::from(&spec()),
                init_seed: H256(INIT_SEED),
            }),
            jobs: vec![],
        },
        training: pallet_upow_training::GenesisConfig {
            difficulty: 3,
            _config: Default::default(),
        },
        ..Default::default()
    };
    genesis.build_storage().unwrap().into()
}

fn mine(author: &sr25519::Pair) -> Mined {
    let data = dataset();
    let spec = spec();
    let ctx = TrajectoryContext {
        parent: PARENT.0,
        author: author.public().0,
        job: 0,
    };
    let start = Weights::initial(&spec.model, &INIT_SEED);
    ReferenceMiner::new(&spec, &data, ctx, start, 0, 8)
        .run(3, 1_000_000)
        .unwrap()
        .unwrap()
}

fn start_block(author: &sr25519::Pair, mined: &Mined) {
    let pre = PreDigest::V1 {
        author: author.public().0,
        job: 0,
        claim: mined.claim,
    };
    System::initialize(
        &1,
        &PARENT,
        &Digest {
            logs: vec![pre.to_digest_item()],
        },
    );
}

fn inherent(proof: upow_puzzle::TrajectoryProof) -> UncheckedExtrinsic {
    UncheckedExtrinsic::new_bare(RuntimeCall::Training(
        pallet_upow_training::Call::submit_trajectory { proof },
    ))
}

#[test]
fn honest_block_is_applied_pays_and_trains() {
    ext().execute_with(|| {
        let alice = alice();
        let mined = mine(&alice);
        start_block(&alice, &mined);
        let before = Balances::balance(&account(&alice));
        let timestamp =
            UncheckedExtrinsic::new_bare(RuntimeCall::Timestamp(pallet_timestamp::Call::set {
                now: 10_000,
            }));
        assert_ok!(Executive::apply_extrinsic(timestamp).unwrap());
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
            Training::work().unwrap().weights,
            mined.final_weights.hash()
        );
    });
}

#[test]
fn tampered_proofs_are_refused_by_the_runtime() {
    ext().execute_with(|| {
        let alice = alice();
        let mined = mine(&alice);
        start_block(&alice, &mined);
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
        let bob = sr25519::Pair::from_string("//Bob", None).unwrap();
        let mined = mine(&bob);
        start_block(&bob, &mined);
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
        start_block(&alice, &mined);
        let timestamp =
            UncheckedExtrinsic::new_bare(RuntimeCall::Timestamp(pallet_timestamp::Call::set {
                now: 10_000,
            }));
        assert_ok!(Executive::apply_extrinsic(timestamp).unwrap());
        Executive::finalize_block();
    });
}
