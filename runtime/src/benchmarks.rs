//! The runtime's benchmark list and the helpers the pallets' benchmarks need.

frame_benchmarking::define_benchmarks!(
    [frame_benchmarking, BaselineBench::<Runtime>]
    [frame_system, SystemBench::<Runtime>]
    [pallet_balances, Balances]
    [pallet_timestamp, Timestamp]
    [pallet_sudo, Sudo]
    [pallet_upow_training, Training]
    [pallet_upow_jobs, Jobs]
    [pallet_upow_staking, Staking]
    [pallet_upow_rewards, Rewards]
);

use crate::{AccountId, Runtime, RuntimeOrigin, UNIT};
use frame_support::traits::fungible::Mutate;
use pallet_upow_training::BenchmarkHelper as _;
use upow_primitives::{AuthorId, JobId};

/// Sets up jobs and authors for `pallet_upow_training`'s benchmarks with the
/// real jobs and staking pallets.
pub struct TrainingHelper;

impl pallet_upow_training::BenchmarkHelper<AccountId> for TrainingHelper {
    fn open_job(spec: upow_puzzle::JobSpec) -> JobId {
        let poster: AccountId = AccountId::from([0xa1; 32]);
        let budget = 1_000_000 * UNIT;
        if let Err(e) = pallet_balances::Pallet::<Runtime>::mint_into(&poster, 2 * budget) {
            panic!("benchmark poster not funded: {e:?}");
        }
        // Only a listed workload's spec is posted: listed at its nominal
        // cost and the degeneracy rule's own liveness threshold, which the
        // benchmark's trajectories are built to pass.
        if pallet_upow_jobs::Pallet::<Runtime>::listed_cost(&spec).is_none() {
            let listed = pallet_upow_jobs::Pallet::<Runtime>::do_list(
                spec.clone(),
                spec.nominal_cost(),
                spec.model.largest_label(),
                upow_puzzle::Liveness::MINIMUM.nonzero_weights_per_1024(),
                upow_puzzle::Liveness::MINIMUM.live_units_per_1024(),
                upow_puzzle::Liveness::MINIMUM.active_per_1024(),
            );
            if let Err(e) = listed {
                panic!("benchmark workload not listed: {e:?}");
            }
        }
        let id =
            match pallet_upow_jobs::Pallet::<Runtime>::do_post(&poster, spec, UNIT, budget, None) {
                Ok(id) => id,
                Err(e) => panic!("benchmark job rejected: {e:?}"),
            };
        // What the next block does first: draw its initial weights.
        pallet_upow_jobs::Pallet::<Runtime>::draw_initial_weights(&upow_puzzle::Ticket([0x5e; 32]));
        id
    }

    fn admit_author(author: AuthorId) -> AccountId {
        let who = AccountId::from(author);
        let bond = min_bond();
        if let Err(e) = pallet_balances::Pallet::<Runtime>::mint_into(&who, 2 * bond + UNIT) {
            panic!("benchmark author not funded: {e:?}");
        }
        let role = pallet_upow_staking::Role::Miner { author };
        if let Err(e) = admit_and_bond(&who, role) {
            panic!("benchmark author not admitted and bonded: {e:?}");
        }
        who
    }
}

/// The staking pallet's minimum bond, read through its configuration (not
/// from `configs`, which names these helpers: one way between the two).
fn min_bond() -> crate::Balance {
    <<Runtime as pallet_upow_staking::Config>::MinBond as frame_support::traits::Get<_>>::get()
}

/// Admits `who` in `role` (as governance does) and bonds the minimum stake
/// (as the candidate does).
fn admit_and_bond(
    who: &AccountId,
    role: pallet_upow_staking::Role,
) -> frame_support::dispatch::DispatchResult {
    pallet_upow_staking::Pallet::<Runtime>::admit(RuntimeOrigin::root(), who.clone(), role)?;
    pallet_upow_staking::Pallet::<Runtime>::bond(RuntimeOrigin::signed(who.clone()), min_bond())
}

/// Sets up validators and an author for `pallet_upow_rewards`'s benchmarks.
pub struct RewardsHelper;

impl pallet_upow_rewards::BenchmarkHelper<AccountId> for RewardsHelper {
    fn setup_block(validators: u32) -> Option<AccountId> {
        let bond = min_bond();
        for i in 0..validators {
            let mut raw = [0xb0u8; 32];
            raw[..4].copy_from_slice(&i.to_le_bytes());
            let who = AccountId::from(raw);
            if pallet_balances::Pallet::<Runtime>::mint_into(&who, 2 * bond + UNIT).is_err() {
                return None;
            }
            let role = pallet_upow_staking::Role::Validator { grandpa: raw };
            admit_and_bond(&who, role).ok()?;
        }
        let author = TrainingHelper::admit_author([0xc0; 32]);
        let digest = upow_primitives::PreDigest::new(
            [0xc0; 32],
            0,
            0,
            upow_primitives::TrajectoryClaim {
                steps: 1,
                root: [0; 32],
                final_weights: [0; 32],
            },
        );
        frame_system::Pallet::<Runtime>::deposit_log(digest.to_digest_item());
        Some(author)
    }
}
