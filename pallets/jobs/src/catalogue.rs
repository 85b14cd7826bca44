//! The catalogue of listed workloads (docs/v3.md §2): which specs blocks may
//! train, and what one of their steps costs.
//!
//! A poster chooses its job's data, model and hyper-parameters, so a job's
//! multiply-accumulates say nothing about what its steps really cost: rows
//! that are all one vector make every product rank one (~40× more
//! difficulty per second than honest mining, docs/v3.md §9). So consensus
//! prices only what governance has *listed*: a [`Workload`] is a spec and
//! the measured cost of one of its steps, in cost units
//! ([`upow_puzzle::REFERENCE_COST`] per reference step). A job is
//! trainable only while its spec — model, batch, learning rate, planned
//! steps and dataset, all of it — is a listed workload's, and its ticket
//! difficulty is scaled by that workload's cost, never by anything the
//! poster wrote. Each workload also carries a liveness threshold
//! ([`upow_puzzle::Liveness`], docs/v3.md §2.3): every proven step of its
//! jobs must keep that fraction of each hidden layer live, so weights
//! crafted with most units dead (a cheap step the degeneracy rule alone
//! admits) cannot make its blocks.
//!
//! * [`Pallet::do_list`] and [`Pallet::do_delist`] (root only, through
//!   `list_workload` and `delist_workload`) keep the catalogue.
//! * [`Pallet::listed_workload`] is the one lookup every rule uses: posting
//!   ([`Pallet::ensure_listed`]), [`JobSchedule::trainable`] and so the
//!   seal rule, the runtime API and the miner.
//! * The house job's spec is listed at [`upow_puzzle::REFERENCE_COST`] and
//!   [`upow_puzzle::REFERENCE_LIVENESS`] when the house job is created: it
//!   defines the unit, and it cannot be delisted (that would leave blocks
//!   nothing to train). The house job is priced at that cost and threshold
//!   whether or not the catalogue lists it, so a chain
//!   whose catalogue is not written yet — the state a runtime upgrade finds
//!   before its migration runs — still seals house blocks.
//!
//! [`JobSchedule::trainable`]: upow_primitives::traits::JobSchedule::trainable

use crate::{
    Config, Error, Event, HouseJob, Jobs, ListedSpecs, NextWorkloadId, Open, Pallet, Workload,
    WorkloadId, Workloads,
};
use frame_support::pallet_prelude::*;
use frame_system::pallet_prelude::BlockNumberFor;
use upow_puzzle::{JobSpec, Liveness, REFERENCE_COST, REFERENCE_LIVENESS};

impl<T: Config> Pallet<T> {
    /// The listed workload whose spec is `spec`, if one is listed now: the
    /// one rule of which jobs blocks may train, and at what cost and
    /// liveness threshold.
    pub fn listed_workload(spec: &JobSpec) -> Option<(WorkloadId, Workload<BlockNumberFor<T>>)> {
        let id = ListedSpecs::<T>::get(spec.listing_key())?;
        let workload = Workloads::<T>::get(id)?;
        workload.is_listed().then_some((id, workload))
    }

    /// The cost in cost units of one step of a job of `spec`, if `spec` is
    /// a listed workload's ([`Pallet::listed_workload`]).
    pub fn listed_cost(spec: &JobSpec) -> Option<u32> {
        Self::listed_workload(spec).map(|(_, workload)| workload.cost)
    }

    /// Refuses a spec that is not a listed workload's ([`Error::NotListed`]).
    pub(crate) fn ensure_listed(spec: &JobSpec) -> Result<u32, Error<T>> {
        Self::listed_cost(spec).ok_or(Error::<T>::NotListed)
    }

    /// Lists `spec` at `cost` cost units per step, over a dataset whose
    /// largest label is `max_label`, with liveness thresholds of
    /// `min_nonzero_per_1024` (non-zero weights), `min_live_per_1024` (live
    /// units) and `min_active_per_1024` (non-zero activations; see
    /// `Pallet::list_workload`). The spec must pass the
    /// same admission as a posted job's. Changes nothing when it fails.
    pub fn do_list(
        spec: JobSpec,
        cost: u32,
        max_label: u8,
        min_nonzero_per_1024: u16,
        min_live_per_1024: u16,
        min_active_per_1024: u16,
    ) -> Result<WorkloadId, DispatchError> {
        let liveness = Liveness::new(min_nonzero_per_1024, min_live_per_1024, min_active_per_1024)
            .map_err(|_| Error::<T>::LivenessOutOfRange)?;
        Self::admit(&spec)?;
        Self::insert_workload(spec, cost, max_label, liveness)
    }

    /// Lists the house job's spec: the reference workload, at
    /// [`REFERENCE_COST`] and [`REFERENCE_LIVENESS`] (what
    /// [`JobSchedule::trainable`] prices the house job at without a
    /// lookup), its dataset's labels its model's classes. Without the
    /// admission rule: the house job was admitted when the chain was built,
    /// whatever the limits of a later runtime. Changes nothing when it fails.
    pub(crate) fn insert_house_workload(spec: JobSpec) -> Result<WorkloadId, DispatchError> {
        let max_label = spec.model.largest_label();
        Self::insert_workload(spec, REFERENCE_COST, max_label, REFERENCE_LIVENESS)
    }

    /// Lists `spec` without the admission rule. Changes nothing when it
    /// fails.
    fn insert_workload(
        spec: JobSpec,
        cost: u32,
        max_label: u8,
        liveness: Liveness,
    ) -> Result<WorkloadId, DispatchError> {
        ensure!(cost > 0, Error::<T>::ZeroCost);
        upow_puzzle::dataset::check_label(max_label, spec.model.classes())
            .map_err(|_| Error::<T>::LabelsOutsideClasses)?;
        let key = spec.listing_key();
        ensure!(
            !ListedSpecs::<T>::contains_key(key),
            Error::<T>::AlreadyListed
        );
        let id = NextWorkloadId::<T>::get();
        let next = id.checked_add(1).ok_or(Error::<T>::WorkloadIdsExhausted)?;
        NextWorkloadId::<T>::put(next);
        let now = frame_system::Pallet::<T>::block_number();
        Workloads::<T>::insert(
            id,
            Workload {
                spec,
                cost,
                max_label,
                liveness,
                listed_at: now,
                delisted_at: None,
            },
        );
        ListedSpecs::<T>::insert(key, id);
        Self::deposit_event(Event::WorkloadListed { workload: id, cost });
        Ok(id)
    }

    /// Delists workload `id` (see `Pallet::delist_workload`): jobs of its
    /// spec are not trainable from the next block on (this block's
    /// trajectory, an inherent, was verified before any call), and its
    /// open jobs expire at once, refunded (they can never train again: they
    /// neither hold a place in the market nor take a top-up; a settling one
    /// completes as its payments settle, and expires if a fraud proof rolls
    /// it back); nothing they trained before is undone.
    pub fn do_delist(id: WorkloadId) -> DispatchResult {
        let mut workload = Workloads::<T>::get(id).ok_or(Error::<T>::UnknownWorkload)?;
        ensure!(workload.is_listed(), Error::<T>::AlreadyDelisted);
        let house_spec = HouseJob::<T>::get()
            .and_then(Jobs::<T>::get)
            .map(|house| house.spec);
        ensure!(
            house_spec.as_ref() != Some(&workload.spec),
            Error::<T>::HouseWorkload
        );
        ListedSpecs::<T>::remove(workload.spec.listing_key());
        workload.delisted_at = Some(frame_system::Pallet::<T>::block_number());
        Self::deposit_event(Event::WorkloadDelisted { workload: id });
        // Its open jobs; a settling one completes, or expires if a fraud
        // proof would reopen it (`do_roll_back`).
        for job in Open::<T>::get() {
            if let Some(info) =
                Jobs::<T>::get(job).filter(|info| info.is_live() && info.spec == workload.spec)
            {
                Self::expire(job, info);
            }
        }
        Workloads::<T>::insert(id, workload);
        Ok(())
    }
}
