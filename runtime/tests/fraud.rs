//! Model integrity through the real runtime (docs/protocol.md §4, §8 P4):
//! a block with one planted jump that the spot checks miss is accepted,
//! then proven wrong by a fraud proof from a replay. The author's whole
//! bond is slashed, its reward for the block clawed back, and it is
//! suspended; the job rolls back to the honest weights and training goes
//! on, the author of a later block of the job is paid from the slash only,
//! and the poster pays for no discarded step. A coalition that builds later
//! blocks on its own planted jump, owed far more than its bond at a
//! victim's price, ends half its bond down (A14). A step that draws a
//! sample outside the model's classes is proven like a jump. Wrong
//! fraud proofs — against an honest block, a wrong segment, a settled
//! block, with malformed data — are refused with their errors, and move
//! nothing but their sender's fee.

// Test code outside `#[test]` functions may unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use frame_support::{
    assert_noop, assert_ok,
    traits::{fungible::Inspect, fungible::InspectHold},
};
use sp_core::{crypto::Pair as _, sr25519, H256};
use sp_runtime::{
    traits::{Dispatchable, Header as _},
    Digest,
};
use upow_primitives::{traits::AuthorAdmission, JobId, JobStatus, PreDigest};
use upow_puzzle::{
    audit_trajectory, batch::select_batch, challenged_steps, open_segment, verify_trajectory,
    Audit, Dataset, FraudProof, JobProgress, JobSpec, TrainingStep, Trajectory, TrajectoryClaim,
    TrajectoryContext, TrajectoryProof, Weights,
};
use upow_runtime::{
    Balances, Executive, Header, Jobs, Runtime, RuntimeCall, RuntimeOrigin, Staking, System,
    Training, UNIT,
};

/// Price per step of the poster's job.
const PRICE: u128 = UNIT;
/// Its budget.
const BUDGET: u128 = 10_000 * UNIT;

fn dave() -> sr25519::Pair {
    sr25519::Pair::from_string("//Dave", None).unwrap()
}

/// A trajectory ready for a block.
struct Mined {
    ctx: TrajectoryContext,
    claim: TrajectoryClaim,
    proof: TrajectoryProof,
    /// `W_n`.
    last: Weights,
}

/// Mines a block of `job` on `parent` by `author` from `start` (the job's
/// weights, after `steps` steps): grinds salts until a ticket wins at the
/// job's difficulty and the trajectory verifies. With `jump = Some(j)`
/// leaf `j` is replaced by planted weights (the steps after it honest
/// steps of those), and the block is kept only if the spot checks miss it.
fn mine(
    author: &sr25519::Pair,
    job: JobId,
    parent: H256,
    start: &Weights,
    steps: u64,
    jump: Option<u32>,
) -> Mined {
    let forge = jump.map_or(Forge::Honest, Forge::Jump);
    try_mine_on(author, job, parent, start, steps, &dataset(), forge).unwrap_or_else(|| {
        panic!(
            "no block of job {job} in {MAX_SALTS} salts (its weights train into degenerate steps)"
        )
    })
}

/// Salts [`try_mine_on`] grinds before giving up.
const MAX_SALTS: u32 = 256;

/// What a mined block's author fakes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Forge {
    /// Nothing.
    Honest,
    /// Leaf `j`: planted weights.
    Jump(u32),
    /// Every step that draws a sample outside the model's classes (no
    /// honest output exists): planted weights; the block is kept only if
    /// it has at least one and the spot checks miss them all.
    OutsideClasses,
}

/// [`mine`] on the training set `data`, faking what `forge` says, or
/// `None` after [`MAX_SALTS`] salts without a block (a job whose initial
/// weights, drawn from the chain's hashes, train into degenerate steps has
/// none).
fn try_mine_on(
    author: &sr25519::Pair,
    job: JobId,
    parent: H256,
    start: &Weights,
    steps: u64,
    data: &Dataset,
    forge: Forge,
) -> Option<Mined> {
    let jump = match forge {
        Forge::Jump(j) => Some(j),
        _ => None,
    };
    let work = Training::work(job).unwrap();
    let (spec, liveness) = (work.spec, work.liveness);
    let difficulty = Training::job_difficulty(job).unwrap();
    let step = TrainingStep::new(&spec.model, &spec.hyper);
    let progress = JobProgress {
        weights: start.hash(),
        steps,
    };
    for salt in 0..MAX_SALTS {
        let ctx = TrajectoryContext {
            parent: parent.0,
            author: author.public().0,
            job,
            salt,
        };
        let mut trajectory = Trajectory::start(ctx, start.hash());
        let mut all = vec![start.clone()];
        let mut outside = Vec::new();
        for i in 0..upow_puzzle::max_steps(difficulty) {
            let seed = trajectory.next_seed();
            let last = all.last().unwrap();
            let mut next = match select_batch(&spec, data, &seed) {
                Ok(batch) => {
                    step.run(last, &batch, &seed, steps + u64::from(i))
                        .unwrap()
                        .weights
                }
                Err(upow_puzzle::Error::Label { .. }) if forge == Forge::OutsideClasses => {
                    outside.push(i);
                    last.clone()
                }
                Err(e) => panic!("{e}"),
            };
            if jump == Some(i + 1) || outside.last() == Some(&i) {
                // The planted model: the first layer shifted.
                let mut layers = next.layers().to_vec();
                for w in layers[0].iter_mut() {
                    *w = w.saturating_add(5).min(upow_puzzle::rounding::MASTER_MAX);
                }
                next = Weights::from_layers(&spec.model, layers).unwrap();
            }
            let ticket = trajectory.push(next.hash());
            all.push(next);
            // At least 4 steps, so that there are segments to name.
            if trajectory.steps() < 4 || !ticket.meets(difficulty) {
                continue;
            }
            let claim = trajectory.claim(all.last().unwrap().hash()).unwrap();
            if let Some(j) = jump {
                if claim.steps < j + 2 || challenged_steps(&ticket, claim.steps).contains(&(j - 1))
                {
                    break;
                }
            }
            if forge == Forge::OutsideClasses {
                let proven = challenged_steps(&ticket, claim.steps);
                if outside.is_empty() || outside.iter().any(|i| proven.contains(i)) {
                    break;
                }
            }
            let proof = trajectory
                .prove(&claim, &spec, data, |i| Ok(all[i as usize].clone()))
                .unwrap();
            if verify_trajectory(&spec, liveness, &ctx, &progress, difficulty, &claim, &proof)
                .is_err()
            {
                break;
            }
            return Some(Mined {
                ctx,
                claim,
                proof,
                last: all.pop().unwrap(),
            });
        }
    }
    None
}

/// A chain being built block by block.
struct Chain {
    number: u32,
    parent: H256,
    /// Block rewards minted to each author so far, less those clawed back.
    rewards: std::collections::BTreeMap<upow_runtime::AccountId, u128>,
}

impl Chain {
    fn new() -> Self {
        Self {
            number: 0,
            parent: System::block_hash(0),
            rewards: Default::default(),
        }
    }

    /// Block rewards `pair` received in the blocks built so far and kept.
    fn rewards_of(&self, pair: &sr25519::Pair) -> u128 {
        self.rewards.get(&account(pair)).copied().unwrap_or(0)
    }

    /// Imports the next block: `author`'s trajectory of `job` and `extrinsics`.
    fn block(
        &mut self,
        author: &sr25519::Pair,
        job: JobId,
        mined: &Mined,
        extrinsics: Vec<upow_runtime::UncheckedExtrinsic>,
    ) {
        self.number += 1;
        let pre = PreDigest::new(author.public().0, job, mined.ctx.salt, mined.claim);
        let digest = Digest {
            logs: vec![pre.to_digest_item()],
        };
        Executive::initialize_block(&Header::new(
            self.number,
            Default::default(),
            Default::default(),
            self.parent,
            digest,
        ));
        assert_ok!(Executive::apply_extrinsic(timestamp(u64::from(self.number) * 10_000)).unwrap());
        assert_ok!(Executive::apply_extrinsic(inherent(mined.proof.clone())).unwrap());
        for xt in extrinsics {
            let _ = Executive::apply_extrinsic(xt).unwrap();
        }
        self.parent = Executive::finalize_block().hash();
        for record in System::events() {
            match record.event {
                upow_runtime::RuntimeEvent::Rewards(pallet_upow_rewards::Event::Rewarded {
                    author,
                    author_amount,
                    ..
                }) => *self.rewards.entry(author).or_default() += author_amount,
                upow_runtime::RuntimeEvent::Rewards(pallet_upow_rewards::Event::ClawedBack {
                    author,
                    amount,
                    ..
                }) => *self.rewards.entry(author).or_default() -= amount,
                _ => {}
            }
        }
    }

    /// Mines and imports the next block of `job` by `author`, trained on
    /// from `previous`'s final weights (the job's current ones).
    fn build_on(&mut self, author: &sr25519::Pair, job: JobId, previous: &Mined) -> Mined {
        let steps = Training::work(job).unwrap().steps;
        let mined = mine(author, job, self.parent, &previous.last, steps, None);
        self.block(author, job, &mined, vec![]);
        mined
    }

    /// Mines and imports a block of the house job by `author` from
    /// `weights` after `steps` steps; returns `W_n`.
    fn house_block(
        &mut self,
        author: &sr25519::Pair,
        weights: &Weights,
        steps: u64,
        extrinsics: Vec<upow_runtime::UncheckedExtrinsic>,
    ) -> Weights {
        let mined = mine(author, 0, self.parent, weights, steps, None);
        self.block(author, 0, &mined, extrinsics);
        mined.last
    }
}

/// Admits and bonds `pair` as a miner.
fn admit_miner(pair: &sr25519::Pair) {
    assert_ok!(Staking::admit(
        RuntimeOrigin::root(),
        account(pair),
        pallet_upow_staking::Role::Miner {
            author: pair.public().0
        }
    ));
    assert_ok!(Staking::bond(
        RuntimeOrigin::signed(account(pair)),
        upow_runtime::configs::MinBond::get()
    ));
}

/// Genesis plus: Charlie and Dave endowed, Charlie admitted as a second
/// miner, and Bob's job (the house job's model on the same data, paid at
/// [`PRICE`]) that can be mined on `parent` with the jump at leaf 3 the
/// tests plant ([`post_minable`]; such a draw also mines honestly).
fn setup(parent: H256) -> JobId {
    for pair in [charlie(), dave()] {
        assert_ok!(Balances::force_set_balance(
            RuntimeOrigin::root(),
            account(&pair).into(),
            1_000_000 * UNIT
        ));
    }
    admit_miner(&charlie());
    post_minable(parent, &bob(), PRICE, BUDGET, &dataset(), Forge::Jump(3))
}

/// Block 1 (a house block by Alice), then [`setup`]: the chain, the house
/// job's weights after it, and Bob's job.
fn first_block_and_setup() -> (Chain, Weights, JobId) {
    let mut chain = Chain::new();
    System::set_block_number(0);
    let house = chain.house_block(&alice(), &start_weights(), 0, vec![]);
    let job = setup(chain.parent);
    (chain, house, job)
}

/// `poster`'s job of the house job's model on `data`, at `price` per step
/// — one that `forge` can mine on `parent` (and, after a planted jump,
/// that honest blocks can train on, from the planted model and from the
/// initial weights on `parent`): its initial weights come from the chain's
/// hashes, and a draw that trains into degenerate steps (a dead layer on
/// this small dataset) is cancelled and posted again.
fn post_minable(
    parent: H256,
    poster: &sr25519::Pair,
    price: u128,
    budget: u128,
    data: &Dataset,
    forge: Forge,
) -> JobId {
    let spec = JobSpec::new(spec().model, spec().hyper, data.commitment()).unwrap();
    list(&spec);
    for _ in 0..8 {
        let job = pallet_upow_jobs::NextJobId::<Runtime>::get();
        assert_ok!(RuntimeCall::Jobs(pallet_upow_jobs::Call::post_job {
            spec: spec.clone().into(),
            price_per_step: price,
            budget,
            target_loss: None,
        })
        .dispatch(RuntimeOrigin::signed(account(poster))));
        draw_initial_weights();
        let minable = match try_mine_on(&alice(), job, parent, &initial(job), 0, data, forge) {
            // Honest blocks train on from a planted model: the draw must
            // allow them too (checked on a stand-in parent: degeneracy is
            // the weights', not the parent's).
            Some(bad) if matches!(forge, Forge::Jump(_)) => {
                let steps = u64::from(bad.claim.steps);
                try_mine_on(
                    &charlie(),
                    job,
                    H256([9; 32]),
                    &bad.last,
                    steps,
                    data,
                    Forge::Honest,
                )
                .is_some()
                    && try_mine_on(&alice(), job, parent, &initial(job), 0, data, Forge::Honest)
                        .is_some()
            }
            mined => mined.is_some(),
        };
        if minable {
            return job;
        }
        assert_ok!(Jobs::cancel_job(
            RuntimeOrigin::signed(account(poster)),
            job
        ));
    }
    panic!("8 draws of initial weights in a row train into degenerate steps")
}

/// The job's initial weights.
fn initial(job: JobId) -> Weights {
    Weights::initial(
        &spec().model,
        &Jobs::job_info(job).unwrap().initial.unwrap().seed,
    )
}

fn escrow(who: &sr25519::Pair) -> u128 {
    Balances::balance_on_hold(
        &upow_runtime::RuntimeHoldReason::Jobs(pallet_upow_jobs::HoldReason::JobEscrow),
        &account(who),
    )
}

/// The treasury's balance.
fn treasury() -> u128 {
    Balances::balance(&upow_runtime::configs::TreasuryAccount::get())
}

fn report(block: u32, proof: FraudProof) -> RuntimeCall {
    RuntimeCall::Training(pallet_upow_training::Call::report_fraud { block, proof })
}

/// The audit of the disputable record of `block`.
fn audit(block: u32, start: &Weights) -> Audit {
    audit_on(block, start, &dataset())
}

/// [`audit`] of a block of a job on `data`.
fn audit_on(block: u32, start: &Weights, data: &Dataset) -> Audit {
    let record = pallet_upow_training::Disputable::<Runtime>::get(block).unwrap();
    let spec = Jobs::job_info(record.job).unwrap().spec;
    let segments = proof_segments(block);
    audit_trajectory(
        &spec,
        &record.context(),
        &JobProgress {
            weights: record.start.weights,
            steps: record.start.steps,
        },
        start,
        &record.trajectory_claim(),
        &segments,
        data,
        || {},
    )
    .unwrap()
}

thread_local! {
    /// The segment roots of each imported block's body, by number (what an
    /// auditor reads from the block).
    static BODIES: std::cell::RefCell<std::collections::BTreeMap<u32, Vec<[u8; 32]>>> =
        Default::default();
}

fn keep_segments(block: u32, mined: &Mined) {
    BODIES.with(|b| b.borrow_mut().insert(block, mined.proof.segments.clone()));
}

fn proof_segments(block: u32) -> Vec<[u8; 32]> {
    BODIES.with(|b| b.borrow().get(&block).cloned().unwrap())
}

#[test]
fn a_planted_jump_is_proven_the_author_slashed_and_the_job_rolled_back() {
    ext().execute_with(|| {
        let (alice, charlie, dave, bob) = (alice(), charlie(), dave(), bob());
        let (mut chain, house, job) = first_block_and_setup();
        let w0 = initial(job);
        let bob_free = Balances::balance(&account(&bob));
        let alice_bond = Staking::ledger(&account(&alice)).unwrap().active;
        let alice_free = Balances::balance(&account(&alice));
        let treasury_before = treasury();

        // Block 2: Alice trains Bob's job with a planted jump at leaf 3
        // that the spot checks miss: the runtime accepts it.
        let bad = mine(&alice, job, chain.parent, &w0, 0, Some(3));
        chain.block(&alice, job, &bad, vec![]);
        keep_segments(2, &bad);
        let after_bad = Training::work(job).unwrap();
        assert_eq!(after_bad.weights, bad.claim.final_weights);
        assert_eq!(
            Jobs::job_info(job).unwrap().pending,
            PRICE * u128::from(bad.claim.steps)
        );
        let bad_reward = Balances::balance(&account(&alice)) - alice_free;
        assert!(bad_reward > 0);

        // Block 3: Charlie trains on from Alice's (planted) weights.
        let later = chain.build_on(&charlie, job, &bad);
        let charlie_owed = PRICE * u128::from(later.claim.steps);
        let charlie_free = Balances::balance(&account(&charlie)) - chain.rewards_of(&charlie);
        let dave_free = Balances::balance(&account(&dave));

        // An auditor replays block 2 and finds the planted segment.
        let Audit::Fraud(proof) = audit(2, &w0) else {
            panic!("the audit missed the jump");
        };
        assert_eq!(proof.segment, 3);
        // Block 4 (a house block) carries Dave's fraud proof.
        let house = chain.house_block(
            &charlie,
            &house,
            Training::work(0).unwrap().steps,
            vec![signed(&dave, report(2, proof), 0)],
        );
        let events = System::events();
        let proven = events
            .iter()
            .find_map(|e| match &e.event {
                upow_runtime::RuntimeEvent::Training(
                    pallet_upow_training::Event::FraudProven {
                        block,
                        discarded,
                        slashed,
                        steps,
                        ..
                    },
                ) => Some((*block, *discarded, *slashed, *steps)),
                _ => None,
            })
            .expect("FraudProven");
        assert_eq!(proven, (2, 2, alice_bond, 0));

        // The author: whole bond slashed, its reward for the discarded
        // block clawed back, suspended.
        assert!(Staking::ledger(&account(&alice)).is_none());
        assert_eq!(Staking::account_of(&alice.public().0), None);
        assert_eq!(Balances::balance(&account(&alice)), alice_free);
        assert!(events.iter().any(|e| e.event
            == upow_runtime::RuntimeEvent::Rewards(pallet_upow_rewards::Event::ClawedBack {
                block: 2,
                author: account(&alice),
                amount: bad_reward,
                shortfall: 0,
            })));
        // Of the payable half of the slash, Charlie was paid for his
        // discarded block as far as it goes (never from the escrow); Dave
        // got the reporter's share of what was left of that half (and paid
        // no fee); Bob, the poster, nothing from the slash: all his
        // reservations went back to the job's budget. The treasury got the
        // rest: at least half the bond, whoever of these four is Alice.
        let payable = upow_runtime::configs::FraudPayoutCap::get().mul_floor(alice_bond);
        let from_slash = charlie_owed.min(payable);
        let reward = upow_runtime::configs::FraudReward::get().mul_floor(payable - from_slash);
        assert_eq!(
            Balances::balance(&account(&charlie)) - chain.rewards_of(&charlie),
            charlie_free + from_slash
        );
        assert_eq!(Balances::balance(&account(&dave)), dave_free + reward);
        assert_eq!(Balances::balance(&account(&bob)), bob_free);
        let to_treasury = treasury() - treasury_before;
        assert_eq!(to_treasury, alice_bond - from_slash - reward);
        assert!(
            to_treasury >= alice_bond / 2,
            "{to_treasury} of {alice_bond}"
        );
        // The job is back at W_0 with its whole budget; nothing pending.
        let work = Training::work(job).unwrap();
        assert_eq!((work.weights, work.steps), (w0.hash(), 0));
        let info = Jobs::job_info(job).unwrap();
        assert_eq!((info.budget_left, info.pending), (BUDGET, 0));
        assert_eq!(escrow(&bob), BUDGET);
        assert_eq!(info.status, JobStatus::Open);
        assert!(pallet_upow_training::Disputable::<Runtime>::get(2).is_none());
        assert!(pallet_upow_training::Disputable::<Runtime>::get(3).is_none());

        // Training goes on: Charlie trains the job from the honest W_0, on
        // the same weights an honest chain holds.
        let honest = mine(&charlie, job, chain.parent, &w0, 0, None);
        chain.block(&charlie, job, &honest, vec![]);
        keep_segments(5, &honest);
        assert!(
            matches!(audit(5, &w0), Audit::Honest(w) if w.hash() == honest.claim.final_weights)
        );
        let paid = PRICE * u128::from(honest.claim.steps);
        // Past the dispute window the block settles and Charlie is paid:
        // all Bob ever paid.
        let mut house = house;
        for _ in 0..DISPUTE_WINDOW {
            house = chain.house_block(&charlie, &house, Training::work(0).unwrap().steps, vec![]);
        }
        assert!(pallet_upow_training::Disputable::<Runtime>::get(5).is_none());
        assert_eq!(
            Balances::balance(&account(&charlie)) - chain.rewards_of(&charlie),
            charlie_free + from_slash + paid
        );
        assert_eq!(escrow(&bob), BUDGET - paid);
        let info = upow_runtime::apis::job_info(job).unwrap();
        assert_eq!(info.settled_steps, u64::from(honest.claim.steps));
        assert_eq!(info.settled_weights, Some(honest.claim.final_weights));
    });
}

/// Everything `pairs` own: free and held (their bonds).
fn wealth(pairs: &[&sr25519::Pair]) -> u128 {
    pairs
        .iter()
        .map(|p| Balances::total_balance(&account(p)))
        .sum()
}

/// A14 (docs/v3.md §9.1): Alice plants a jump in Dave's job, priced far
/// above her bond, and Charlie — her second key — trains on from the
/// planted weights and reports her. Before the fix Charlie's discarded
/// block was paid from the slash and then from Dave's escrow, so the
/// coalition netted `owed − B`. Now it is paid from the slash only, and
/// Alice's reward for her block is clawed back: the coalition ends at
/// least half the bond below its start (counting only the block rewards
/// its kept blocks earned by their tickets), and Dave gets all his
/// reservations back.
#[test]
fn a_coalition_owed_far_more_than_its_bond_at_a_victims_price_still_loses_half_of_it() {
    ext().execute_with(|| {
        let (alice, charlie, dave) = (alice(), charlie(), dave());
        // Charlie admitted, Dave's job at a price that makes any block of
        // it owed many bonds.
        let (mut chain, house, _) = first_block_and_setup();
        let bond = Staking::ledger(&account(&alice)).unwrap().active;
        let price = 10 * bond;
        let budget = 500_000 * UNIT;
        let job = post_minable(
            chain.parent,
            &dave,
            price,
            budget,
            &dataset(),
            Forge::Jump(3),
        );
        let w0 = initial(job);
        let coalition = [&alice, &charlie];
        let start = wealth(&coalition) - chain.rewards_of(&alice) - chain.rewards_of(&charlie);
        let dave_wealth = wealth(&[&dave]);

        let bad = mine(&alice, job, chain.parent, &w0, 0, Some(3));
        chain.block(&alice, job, &bad, vec![]);
        keep_segments(2, &bad);
        let later = chain.build_on(&charlie, job, &bad);
        let owed = price * u128::from(later.claim.steps);
        assert!(owed >= 10 * bond, "owed {owed}, bond {bond}");

        let Audit::Fraud(proof) = audit(2, &w0) else {
            panic!("the audit missed the jump");
        };
        chain.house_block(
            &charlie,
            &house,
            Training::work(0).unwrap().steps,
            vec![signed(&charlie, report(2, proof), 0)],
        );
        assert!(System::events().iter().any(|e| matches!(
            e.event,
            upow_runtime::RuntimeEvent::Training(pallet_upow_training::Event::FraudProven {
                block: 2,
                ..
            })
        )));
        let end = wealth(&coalition) - chain.rewards_of(&alice) - chain.rewards_of(&charlie);
        assert!(
            end + bond / 2 <= start,
            "the coalition went from {start} to {end} with a bond of {bond}"
        );
        // Dave paid for nothing: his whole budget is back in the escrow.
        assert_eq!(escrow(&dave), budget);
        assert_eq!(wealth(&[&dave]), dave_wealth);
        let info = Jobs::job_info(job).unwrap();
        assert_eq!((info.budget_left, info.pending), (budget, 0));
    });
}

/// The house job's training set with sample 5 labelled 10, outside the
/// model's 10 classes (a poster's mistake, or its trap).
fn dataset_with_a_bad_label() -> Dataset {
    let mut labels: Vec<u8> = (0..48).map(|i| (i % 10) as u8).collect();
    labels[5] = 10;
    Dataset::new(784, &labels, &pixels()).unwrap()
}

/// docs/puzzle.md §13, "A step outside the classes", through the runtime:
/// Alice's block puts weights of her choice where a step draws a sample
/// outside the classes (no honest output exists), the spot checks miss
/// it, and the fraud proof that ends at that step slashes her.
#[test]
fn a_step_that_draws_a_label_outside_the_classes_is_proven_through_the_runtime() {
    ext().execute_with(|| {
        let (alice, charlie, dave) = (alice(), charlie(), dave());
        let (mut chain, house, _) = first_block_and_setup();
        let data = dataset_with_a_bad_label();
        let job = post_minable(
            chain.parent,
            &bob(),
            PRICE,
            BUDGET,
            &data,
            Forge::OutsideClasses,
        );
        let w0 = initial(job);
        let alice_bond = Staking::ledger(&account(&alice)).unwrap().active;
        let bad = try_mine_on(
            &alice,
            job,
            chain.parent,
            &w0,
            0,
            &data,
            Forge::OutsideClasses,
        )
        .unwrap();
        chain.block(&alice, job, &bad, vec![]);
        keep_segments(2, &bad);
        assert_eq!(
            Training::work(job).unwrap().weights,
            bad.claim.final_weights
        );

        let Audit::Fraud(proof) = audit_on(2, &w0, &data) else {
            panic!("the audit missed the step outside the classes");
        };
        // The proof ends at the step that draws sample 5.
        assert!(proof
            .batches
            .last()
            .unwrap()
            .iter()
            .any(|o| o.sample[0] == 10));
        chain.house_block(
            &charlie,
            &house,
            Training::work(0).unwrap().steps,
            vec![signed(&dave, report(2, proof), 0)],
        );
        let slashed = System::events().iter().find_map(|e| match &e.event {
            upow_runtime::RuntimeEvent::Training(pallet_upow_training::Event::FraudProven {
                block: 2,
                slashed,
                ..
            }) => Some(*slashed),
            _ => None,
        });
        assert_eq!(slashed, Some(alice_bond));
        assert!(Staking::ledger(&account(&alice)).is_none());
        let work = Training::work(job).unwrap();
        assert_eq!((work.weights, work.steps), (w0.hash(), 0));
    });
}

#[test]
fn wrong_fraud_proofs_are_refused_and_move_nothing() {
    ext().execute_with(|| {
        let (alice, charlie, dave) = (alice(), charlie(), dave());
        let (mut chain, house, job) = first_block_and_setup();
        let w0 = initial(job);
        // Block 2: an honest block of a trajectory long enough for several
        // segments to be named.
        let honest = mine(&alice, job, chain.parent, &w0, 0, None);
        chain.block(&alice, job, &honest, vec![]);
        keep_segments(2, &honest);
        let record = pallet_upow_training::Disputable::<Runtime>::get(2).unwrap();
        let spec = spec();
        let open = |segment| {
            open_segment(
                &spec,
                &record.context(),
                &JobProgress {
                    weights: w0.hash(),
                    steps: 0,
                },
                &w0,
                &record.trajectory_claim(),
                &honest.proof.segments,
                &dataset(),
                segment,
            )
            .unwrap()
        };
        let segments = honest.proof.segments.len() as u32;
        let reject = |call: RuntimeCall, error: pallet_upow_training::Error<Runtime>| {
            assert_noop!(call.dispatch(RuntimeOrigin::signed(account(&dave))), error);
        };
        use pallet_upow_training::Error as E;
        // An honest block: every segment replays to its root.
        for k in 1..segments {
            reject(report(2, open(k)), E::NoFraud);
        }
        // Segment 0 of one leaf has nothing to replay; past the end is not a segment.
        reject(report(2, open(0)), E::BadFraudSegment);
        let mut wrong = open(1);
        wrong.segment = segments;
        reject(report(2, wrong), E::BadFraudSegment);
        // Malformed data.
        let mut wrong = open(1);
        wrong.segments.pop();
        reject(report(2, wrong), E::BadSegments);
        let mut wrong = open(1);
        wrong.weights.truncate(10);
        reject(report(2, wrong), E::BadFraudStart);
        let mut wrong = open(2);
        wrong.weights = w0.encode();
        reject(report(2, wrong), E::BadFraudStart);
        let mut wrong = open(1);
        wrong.batches[0][0].sample[3] ^= 1;
        reject(report(2, wrong), E::BadFraudBatches);
        let mut wrong = open(1);
        wrong.batches.clear();
        reject(report(2, wrong), E::BadFraudBatches);
        // A block that is not disputable: none, or the house block 1 whose
        // proof is not this one.
        reject(report(99, open(1)), E::NotDisputable);

        // As a real extrinsic, a wrong proof costs its sender the fee, and
        // moves nothing else.
        let alice_bond = Staking::ledger(&account(&alice)).unwrap().active;
        let dave_free = Balances::balance(&account(&dave));
        // The following blocks train whichever job still makes blocks, the
        // paid job on from block 2 or the house job: on this 48-sample set
        // either job's weights can reach a dead first layer, where no block
        // is mined (which one does depends on the chain's hashes).
        let mut jobs = [(job, honest.last.clone()), (0, house)];
        let mut next_block = |chain: &mut Chain, xts| {
            let (k, mined) = jobs
                .iter()
                .enumerate()
                .find_map(|(k, (id, start))| {
                    let steps = Training::work(*id).unwrap().steps;
                    try_mine_on(
                        &charlie,
                        *id,
                        chain.parent,
                        start,
                        steps,
                        &dataset(),
                        Forge::Honest,
                    )
                    .map(|mined| (k, mined))
                })
                .expect("a block of the paid job or of the house job");
            chain.block(&charlie, jobs[k].0, &mined, xts);
            jobs[k].1 = mined.last;
        };
        next_block(&mut chain, vec![signed(&dave, report(2, open(1)), 0)]);
        assert!(Balances::balance(&account(&dave)) < dave_free);
        assert_eq!(
            Staking::ledger(&account(&alice)).unwrap().active,
            alice_bond
        );
        assert_eq!(
            pallet_upow_training::Disputable::<Runtime>::get(2).map(|r| r.root),
            Some(honest.claim.root)
        );

        // Past the window the block is settled: no proof can reach it.
        for _ in 0..DISPUTE_WINDOW {
            next_block(&mut chain, vec![]);
        }
        reject(report(2, open(1)), E::NotDisputable);
    });
}

/// T1 and T3 of docs/v3.md §10 through the runtime. The attack — a
/// poster's job whose samples all share one input vector (512-128-2: every
/// product rank one, ~40× more difficulty per second at batch 1024; here
/// at batch 64, which this test chain's block budgets admit) — cannot even
/// be posted, nor can a listed workload's spec with the poster's
/// own planned steps; and a block mined on a workload that governance then
/// delists is refused, so it neither seals nor weighs.
#[test]
fn poster_chosen_cheap_jobs_are_refused_and_a_delisted_workloads_block_seals_nothing() {
    ext().execute_with(|| {
        let (mut chain, _, bobs_job) = first_block_and_setup();
        let bob_free = Balances::balance(&account(&bob()));

        let row: Vec<u8> = (0..512).map(|i| (i * 37 % 256) as u8).collect();
        let labels: Vec<u8> = (0..4096).map(|i| (i % 2) as u8).collect();
        let identical = Dataset::new(512, &labels, &row.repeat(4096)).unwrap();
        let cheap = JobSpec::new(
            upow_puzzle::Model::new(&[512, 128, 2]).unwrap(),
            upow_puzzle::Hyperparams::new(6, 2, 10_000).unwrap(),
            identical.commitment(),
        )
        .unwrap();
        let listed = Training::work(bobs_job).unwrap().spec;
        let own_plan = JobSpec {
            hyper: upow_puzzle::Hyperparams::new(
                listed.hyper.batch_log2(),
                listed.hyper.lr_shift(),
                listed.hyper.total_steps() + 1,
            )
            .unwrap(),
            ..listed.clone()
        };
        assert_ok!(
            <upow_runtime::configs::JobLimits as upow_primitives::traits::JobLimits>::check(&cheap)
        );
        for spec in [cheap, own_plan.clone()] {
            assert_noop!(
                Jobs::post_job(
                    RuntimeOrigin::signed(account(&bob())),
                    spec.into(),
                    PRICE,
                    BUDGET,
                    None
                ),
                pallet_upow_jobs::Error::<Runtime>::NotListed
            );
        }
        assert_eq!(Balances::balance(&account(&bob())), bob_free);

        // Governance lists the variant after all; Bob posts it, Charlie
        // mines a block of it, and governance delists the workload before
        // the block is imported.
        list(&own_plan);
        let (job, mined) = (0..8)
            .find_map(|_| {
                let job = pallet_upow_jobs::NextJobId::<Runtime>::get();
                assert_ok!(Jobs::post_job(
                    RuntimeOrigin::signed(account(&bob())),
                    own_plan.clone().into(),
                    PRICE,
                    BUDGET,
                    None
                ));
                draw_initial_weights();
                let mined = try_mine_on(
                    &charlie(),
                    job,
                    chain.parent,
                    &initial(job),
                    0,
                    &dataset(),
                    Forge::Honest,
                );
                if mined.is_none() {
                    assert_ok!(Jobs::cancel_job(
                        RuntimeOrigin::signed(account(&bob())),
                        job
                    ));
                }
                mined.map(|mined| (job, mined))
            })
            .expect("a minable draw in 8 posts");
        let (workload, _) = Jobs::listed_workload(&own_plan).unwrap();
        assert_ok!(Jobs::delist_workload(RuntimeOrigin::root(), workload));
        assert!(Training::job_difficulty(job).is_none());
        chain.number += 1;
        let pre = PreDigest::new(charlie().public().0, job, mined.ctx.salt, mined.claim);
        Executive::initialize_block(&Header::new(
            chain.number,
            Default::default(),
            Default::default(),
            chain.parent,
            Digest {
                logs: vec![pre.to_digest_item()],
            },
        ));
        assert_noop!(
            Training::submit_trajectory(RuntimeOrigin::none(), mined.proof.clone()),
            pallet_upow_training::Error::<Runtime>::JobNotOpen
        );
        assert_eq!(
            Executive::apply_extrinsic(inherent(mined.proof)),
            Err(sp_runtime::transaction_validity::InvalidTransaction::BadMandatory.into())
        );
    });
}
