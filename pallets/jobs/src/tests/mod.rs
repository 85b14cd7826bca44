//! Unit tests of every call, hook, error and event, and property tests over
//! random sequences of calls checking the escrow invariants: one module per
//! topic, and the helpers they share.

use crate::{
    mock::*, AwaitingInitialWeights, Error, Event, Expiry, GenesisJobSpec, HoldReason, HouseJob,
    Job, JobOf, Jobs, NextJobId, Open, MAX_SPEC_ENCODED_LEN,
};
use codec::{Compact, Decode, Encode, MaxEncodedLen};
use frame_support::{
    assert_noop, assert_ok,
    dispatch::GetDispatchInfo,
    traits::{
        fungible::{Inspect, InspectHold, Mutate},
        LockableCurrency, WithdrawReasons,
    },
};
use sp_runtime::{traits::Dispatchable, BuildStorage, DispatchError, TokenError};
use std::collections::BTreeMap;
use upow_primitives::{
    traits::{JobSchedule, ProgressOf},
    JobId, JobStatus,
};
use upow_puzzle::{DatasetCommitment, Hyperparams, JobSpec, Model};

mod catalogue;
mod encoding;
mod escrow;
mod expiry;
mod genesis;
mod market;
mod migration;
mod payment;
mod posting;
mod proptests;
mod reaping;
mod settlement;

const LOCK: frame_support::traits::LockIdentifier = *b"testlock";

fn reason() -> RuntimeHoldReason {
    RuntimeHoldReason::UpowJobs(HoldReason::JobEscrow)
}

/// `who`'s escrow hold (budgets of its open jobs).
fn held(who: u64) -> u64 {
    Balances::balance_on_hold(&reason(), &who)
}

/// `who`'s deposit hold (deposits of its unreaped jobs).
fn deposits(who: u64) -> u64 {
    Balances::balance_on_hold(&RuntimeHoldReason::UpowJobs(HoldReason::JobDeposit), &who)
}

fn free(who: u64) -> u64 {
    Balances::free_balance(who)
}

fn job(id: JobId) -> JobOf<Test> {
    Jobs::<Test>::get(id).expect("job exists")
}

/// Lists `spec` at its nominal cost (root), unless it is listed.
fn list(spec: &JobSpec) {
    if UpowJobs::listed_cost(spec).is_none() {
        assert_ok!(UpowJobs::list_workload(
            RuntimeOrigin::root(),
            spec.clone().into(),
            spec.nominal_cost(),
            spec.model.largest_label(),
            MIN_NONZERO,
            MIN_LIVE,
            MIN_ACTIVE
        ));
    }
}

/// Posts `spec` (listed first if it is not), draws its initial weights as
/// the next block would, and returns the job's id.
fn post_with(who: u64, spec: JobSpec, price: u64, budget: u64, target_loss: Option<u64>) -> JobId {
    list(&spec);
    let id = NextJobId::<Test>::get();
    assert_ok!(UpowJobs::post_job(
        RuntimeOrigin::signed(who),
        spec.into(),
        price,
        budget,
        target_loss
    ));
    draw_initial_weights();
    id
}

/// The sealing ticket of the tests' "next block".
const SEALING_TICKET: upow_puzzle::Ticket = upow_puzzle::Ticket([0x5e; 32]);

/// What the next block does first: draws the initial weights of the jobs
/// awaiting them from its sealing ticket ([`SEALING_TICKET`]).
fn draw_initial_weights() {
    UpowJobs::draw_initial_weights(&SEALING_TICKET);
}

fn post(who: u64, total_steps: u64, price: u64, budget: u64) -> JobId {
    post_with(who, spec(total_steps), price, budget, None)
}

/// A block by `author` verifying `steps` more steps of `id`, reported as the
/// training pallet reports it: the job's progress (`total` steps, last loss
/// `loss`) recorded first, then `on_progress`. Returns the reserved payment.
fn verified_block(id: JobId, author: u64, steps: u32, total: u64, loss: u64) -> u128 {
    set_progress(id, total, Some(loss));
    <UpowJobs as JobSchedule<u64>>::on_progress(id, &author, steps)
}

/// [`verified_block`] and, at once, its settlement.
fn settled_block(id: JobId, author: u64, steps: u32, total: u64, loss: u64) {
    let payment = verified_block(id, author, steps, total, loss);
    <UpowJobs as JobSchedule<u64>>::on_settled(id, &author, steps, payment);
}

/// A block by `author` verifying `steps` more steps of `id` with `loss`,
/// settled at once.
fn progress_loss(id: JobId, author: u64, steps: u32, loss: u64) {
    let total = steps_of(id).saturating_add(steps.into());
    settled_block(id, author, steps, total, loss);
}

fn progress(id: JobId, author: u64, steps: u32) {
    progress_loss(id, author, steps, 1_000)
}

/// The ids of the jobs blocks may train, in market order (house job last).
fn open_ids() -> Vec<JobId> {
    <UpowJobs as JobSchedule<u64>>::open()
        .into_iter()
        .map(|job| job.id)
        .collect()
}

/// Whether blocks may train `id` now.
fn trainable(id: JobId) -> bool {
    <UpowJobs as JobSchedule<u64>>::trainable(id).is_some()
}

/// Ends block `n` as the runtime would (the expiry runs in `on_finalize`),
/// then starts block `n + 1`, which draws the initial weights of the jobs
/// posted in `n` first.
fn end_block(n: u64) {
    use frame_support::traits::Hooks;
    System::set_block_number(n);
    UpowJobs::on_finalize(n);
    System::set_block_number(n + 1);
    draw_initial_weights();
}

/// The pallet's events, but [`Event::InitialWeightsDrawn`] (which
/// [`post_with`] causes, as the next block would; `posting.rs` checks it).
fn events() -> Vec<Event<Test>> {
    System::events()
        .into_iter()
        .filter_map(|record| match record.event {
            RuntimeEvent::UpowJobs(Event::InitialWeightsDrawn { .. }) => None,
            RuntimeEvent::UpowJobs(event) => Some(event),
            _ => None,
        })
        .collect()
}

fn take_events() -> Vec<Event<Test>> {
    let events = events();
    System::reset_events();
    events
}
