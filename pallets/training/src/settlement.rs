//! Settlement: the block that leaves its dispute window is final for the
//! fraud game; its author is paid (by the jobs pallet, from the payment
//! reserved when the block was imported) and its job's settled progress
//! advances.

use frame_support::{pallet_prelude::*, weights::Weight};
use frame_system::pallet_prelude::BlockNumberFor;
use sp_runtime::traits::Saturating;
use upow_primitives::traits::JobSchedule;

use crate::{Config, Disputable, DisputeWindow, Event, Jobs, Pallet};

impl<T: Config> Pallet<T> {
    /// Settles the block that leaves its dispute window at `now`: pays
    /// its author and advances its job's settled progress. Returns the
    /// weight used.
    pub(crate) fn settle(now: BlockNumberFor<T>) -> Weight {
        let window: BlockNumberFor<T> = DisputeWindow::<T>::get().into();
        let db = T::DbWeight::get();
        if now <= window {
            return Weight::zero();
        }
        let block = now.saturating_sub(window);
        let Some(settled) = Disputable::<T>::take(block) else {
            return db.reads(1);
        };
        let settled_steps = settled.start.steps.saturating_add(settled.steps.into());
        Jobs::<T>::mutate(settled.job, |progress| {
            if let Some(progress) = progress {
                progress.settled_weights = settled.final_weights;
                progress.settled_steps = settled_steps;
            }
        });
        T::Jobs::on_settled(settled.job, &settled.author, settled.steps, settled.payment);
        Self::deposit_event(Event::TrajectorySettled {
            block,
            job: settled.job,
            author: settled.author,
            steps: settled.steps,
            settled_steps,
        });
        db.reads_writes(2, 2)
            .saturating_add(T::Jobs::on_settled_weight())
    }
}
