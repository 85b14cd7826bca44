//! Benchmarks of pallet-upow-rewards: the block hook at its worst case (an
//! era boundary, an author, `v` validators to pay).

use super::*;
use crate::Pallet as Rewards;
use frame_benchmarking::v2::*;
use frame_support::traits::Hooks;

#[benchmarks]
mod benchmarks {
    use super::*;

    /// `on_finalize` paying `v` validators, at an era boundary.
    #[benchmark]
    fn on_finalize(v: Linear<0, { T::MaxValidators::get() }>) -> Result<(), BenchmarkError> {
        let _author = T::BenchmarkHelper::setup_block(v).ok_or(BenchmarkError::Weightless)?;
        let n = frame_system::Pallet::<T>::block_number();
        // The era ends here: the hook also moves to the next era.
        CurrentEra::<T>::put(EraInfo {
            era: 0,
            reward: T::InitialReward::get(),
            next_era_at: n,
        });

        #[block]
        {
            Rewards::<T>::on_finalize(n);
        }

        let era = CurrentEra::<T>::get().ok_or(BenchmarkError::Stop("no era"))?;
        assert_eq!(era.era, 1);
        if !era.reward.is_zero() {
            assert!(!TotalMinted::<T>::get().is_zero());
        }
        Ok(())
    }

    impl_benchmark_test_suite!(Rewards, crate::mock::new_test_ext(), crate::mock::Test);
}
