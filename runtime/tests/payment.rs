//! One rule for what a block pays: what the runtime API predicts at the
//! parent (`upow_runtime::apis::block_payment`, which miners ask for before
//! they submit) is exactly what the block then reserves for its author from
//! the job's escrow and mints to it as its share of the block reward — for
//! a paid job with validators sharing the reward, and for the house job.

// Test code outside `#[test]` functions may unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use frame_support::assert_ok;
use sp_core::{crypto::Pair as _, H256};
use sp_runtime::BuildStorage;
use upow_primitives::BlockPayment;
use upow_puzzle::{mining::ReferenceMiner, TrajectoryContext, Weights};
use upow_runtime::{
    Executive, Runtime, RuntimeEvent, RuntimeGenesisConfig, System, Training, UNIT,
};

/// Price per step of the paid job.
const PRICE: u128 = 3 * UNIT;
/// Its budget: five steps and a remainder, fewer than most blocks carry
/// (the job's difficulty is about 12 at the fixture's chain difficulty), so
/// the cap applies to a long block.
const BUDGET: u128 = 5 * PRICE + 7;

/// [`ext`] plus a paid job of Bob's (id 1, the house job's spec) and two
/// validators (Bob and Charlie) sharing every block reward.
fn paid_ext() -> sp_io::TestExternalities {
    let bond = upow_runtime::configs::MinBond::get();
    let genesis = RuntimeGenesisConfig {
        balances: pallet_balances::GenesisConfig {
            balances: vec![
                (account(&alice()), 1_000_000 * UNIT),
                (account(&bob()), 1_000_000 * UNIT),
                (account(&charlie()), 1_000_000 * UNIT),
            ],
            ..Default::default()
        },
        staking: pallet_upow_staking::GenesisConfig {
            miners: vec![(account(&alice()), alice().public().0, bond)],
            validators: vec![
                (account(&bob()), [0xb0; 32], bond),
                (account(&charlie()), [0xc0; 32], bond),
            ],
        },
        jobs: pallet_upow_jobs::GenesisConfig {
            house_job: Some(pallet_upow_jobs::GenesisHouseJob {
                poster: account(&alice()),
                spec: pallet_upow_jobs::GenesisJobSpec::from(&spec()),
                init_seed: H256(INIT_SEED),
            }),
            workloads: vec![],
            jobs: vec![pallet_upow_jobs::GenesisPaidJob {
                poster: account(&bob()),
                spec: pallet_upow_jobs::GenesisJobSpec::from(&spec()),
                price_per_step: PRICE,
                budget: BUDGET,
                target_loss: None,
            }],
            expiry: None,
        },
        training: pallet_upow_training::GenesisConfig {
            difficulty: DIFFICULTY,
            dispute_window: Some(DISPUTE_WINDOW),
            _config: Default::default(),
        },
        sudo: pallet_sudo::GenesisConfig {
            key: Some(account(&alice())),
        },
        ..Default::default()
    };
    let mut ext: sp_io::TestExternalities = genesis.build_storage().unwrap().into();
    // Block 1 draws the genesis job's initial weights first thing.
    ext.execute_with(draw_initial_weights);
    ext
}

/// Mines a block of `job` on [`PARENT`] as Alice, from the job's work at
/// genesis, running at least `min_steps` steps.
fn mine_job(job: u64, min_steps: u32) -> upow_puzzle::mining::Mined {
    let work = Training::work(job).unwrap();
    let start = Weights::initial(&work.spec.model, &work.init_seed);
    assert_eq!(start.hash(), work.weights);
    let ctx = TrajectoryContext {
        parent: PARENT.0,
        author: alice().public().0,
        job,
        salt: 0,
    };
    let mut salt = 0;
    loop {
        let mined = ReferenceMiner::new(
            &work.spec,
            work.liveness,
            &dataset(),
            TrajectoryContext { salt, ..ctx },
            start.clone(),
            0,
            8,
        )
        .run(work.difficulty, 1_000_000)
        .unwrap()
        .unwrap();
        if mined.claim.steps >= min_steps {
            return mined;
        }
        salt = mined.context.salt + 1;
    }
}

/// Applies a block of `job` (mined at genesis) and returns what the API
/// predicted before it and what the block's events say it paid.
fn predicted_and_paid(job: u64, min_steps: u32) -> (BlockPayment, BlockPayment) {
    let mined = mine_job(job, min_steps);
    // At the parent (genesis state), as a miner asks before submitting.
    let predicted = upow_runtime::apis::block_payment(job, mined.claim.steps).unwrap();
    let pre =
        upow_primitives::PreDigest::new(alice().public().0, job, mined.context.salt, mined.claim);
    System::initialize(
        &1,
        &PARENT,
        &sp_runtime::Digest {
            logs: vec![pre.to_digest_item()],
        },
    );
    assert_ok!(Executive::apply_extrinsic(timestamp(10_000)).unwrap());
    assert_ok!(Executive::apply_extrinsic(inherent(mined.proof.clone())).unwrap());
    Executive::finalize_block();
    let mut paid = BlockPayment::default();
    for record in System::events() {
        match record.event {
            RuntimeEvent::Training(pallet_upow_training::Event::TrajectoryVerified {
                payment,
                ..
            }) => paid.job_payment = payment,
            RuntimeEvent::Rewards(pallet_upow_rewards::Event::Rewarded {
                author_amount, ..
            }) => paid.author_reward = author_amount,
            _ => {}
        }
    }
    (predicted, paid)
}

#[test]
fn a_paid_job_pays_what_the_api_predicted() {
    paid_ext().execute_with(|| {
        let (predicted, paid) = predicted_and_paid(1, 1);
        assert_eq!(paid, predicted);
        assert!(predicted.job_payment > 0 && predicted.job_payment <= BUDGET);
        // The validators took their share: the author got less than the reward.
        let reward = pallet_upow_rewards::Pallet::<Runtime>::current_era()
            .unwrap()
            .reward;
        assert!(predicted.author_reward < reward);
    });
}

#[test]
fn a_long_block_is_capped_by_the_budget_as_predicted() {
    paid_ext().execute_with(|| {
        // More steps than the budget pays for: the cap is the prediction too.
        let (predicted, paid) = predicted_and_paid(1, 6);
        assert_eq!(paid, predicted);
        assert_eq!(predicted.job_payment, BUDGET);
    });
}

#[test]
fn the_house_job_pays_only_the_reward_as_predicted() {
    paid_ext().execute_with(|| {
        let (predicted, paid) = predicted_and_paid(0, 1);
        assert_eq!(paid, predicted);
        assert_eq!(predicted.job_payment, 0);
        assert!(predicted.author_reward > 0);
    });
}

#[test]
fn no_payment_for_a_job_blocks_may_not_train() {
    paid_ext().execute_with(|| {
        assert_eq!(upow_runtime::apis::block_payment(99, 10), None);
    });
}
