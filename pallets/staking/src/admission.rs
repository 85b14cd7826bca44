//! Admission: binding author and GRANDPA keys to accounts for good
//! ([`Pallet::do_admit`]), whether a candidate is active (admitted, not
//! suspended, bonded at least `MinBond`), the queries on candidates and
//! author keys, and the [`AuthorAdmission`] the training pallet asks which
//! account an author key belongs to.

use crate::{
    AuthorOwner, Candidate, Candidates, Config, Error, GrandpaOwner, Ledgers, Pallet, Role,
    ValidatorCount, WeightInfo,
};
use frame_support::pallet_prelude::*;
use upow_primitives::{traits::AuthorAdmission, AuthorId};

impl<T: Config> Pallet<T> {
    /// The candidate record of `who`, if admitted.
    pub fn candidate(who: &T::AccountId) -> Option<Candidate> {
        Candidates::<T>::get(who)
    }

    /// The account of an admitted, unsuspended author key bonded at least
    /// `MinBond`.
    pub fn account_of_author(author: &AuthorId) -> Option<T::AccountId> {
        let who = AuthorOwner::<T>::get(author)?;
        let candidate = Candidates::<T>::get(&who)?;
        (candidate.author == Some(*author) && Self::is_active(&who, &candidate)).then_some(who)
    }

    /// Whether `author` may author blocks now (admitted, not suspended,
    /// bonded at least `MinBond`).
    pub fn is_author_admitted(author: &AuthorId) -> bool {
        Self::account_of_author(author).is_some()
    }

    /// Whether a candidate counts: not suspended and bonded ≥ `MinBond`.
    pub(crate) fn is_active(who: &T::AccountId, candidate: &Candidate) -> bool {
        !candidate.suspended
            && Ledgers::<T>::get(who).is_some_and(|l| l.active >= T::MinBond::get())
    }

    /// Admission without origin checks or events (calls and genesis).
    pub(crate) fn do_admit(who: &T::AccountId, role: Role) -> DispatchResult {
        let mut candidate = Candidates::<T>::get(who).unwrap_or_default();
        match role {
            Role::Miner { author } => {
                match AuthorOwner::<T>::get(author) {
                    Some(owner) if owner != *who => return Err(Error::<T>::AuthorKeyInUse.into()),
                    _ => {}
                }
                ensure!(
                    candidate.author != Some(author),
                    Error::<T>::AlreadyAdmitted
                );
                candidate.author = Some(author);
                AuthorOwner::<T>::insert(author, who);
            }
            Role::Validator { grandpa } => {
                match GrandpaOwner::<T>::get(grandpa) {
                    Some(owner) if owner != *who => return Err(Error::<T>::GrandpaKeyInUse.into()),
                    _ => {}
                }
                ensure!(
                    candidate.grandpa != Some(grandpa),
                    Error::<T>::AlreadyAdmitted
                );
                if candidate.grandpa.is_none() {
                    let count = ValidatorCount::<T>::get();
                    ensure!(
                        count < T::MaxValidators::get(),
                        Error::<T>::TooManyValidators
                    );
                    ValidatorCount::<T>::put(count.saturating_add(1));
                }
                candidate.grandpa = Some(grandpa);
                GrandpaOwner::<T>::insert(grandpa, who);
            }
        }
        Candidates::<T>::insert(who, candidate);
        Ok(())
    }
}

impl<T: Config> AuthorAdmission<T::AccountId> for Pallet<T> {
    fn account_of(author: &AuthorId) -> Option<T::AccountId> {
        Self::account_of_author(author)
    }

    fn account_of_weight() -> Weight {
        T::WeightInfo::account_of()
    }
}
