//! What the coordinator reads besides the work: the job's terms and the
//! author's block reward (for the earnings it reports), and whether each
//! device key is admitted (a device whose key is not idles).

use std::sync::atomic::Ordering;

use super::{Coordinator, State};
use crate::mine::{
    client::{rpc_u128, NodeClient, RpcError},
    events::Event,
};

impl Coordinator {
    /// Reads the job's price (on a job change) and the author's block
    /// reward (`upow_blockPayment` at the best block).
    pub(super) async fn update_terms(
        &mut self,
        client: &NodeClient,
        state: &mut State,
        job: u64,
    ) -> Result<(), RpcError> {
        let terms = client.job(job).await.and_then(|info| {
            let price = rpc_u128("upow_job", "pricePerStep", info.price_per_step)?;
            let budget_left = rpc_u128("upow_job", "budgetLeft", info.budget_left)?;
            Ok((info, price, budget_left))
        });
        match terms {
            Ok((info, price, budget_left)) => {
                if state.terms.job != Some(job) || state.terms.price_per_step != price {
                    self.events.emit(Event::Job {
                        job,
                        price_per_step: price,
                        budget_left,
                        target_steps: info.target_steps,
                        status: info.status,
                    });
                }
                state.terms.job = Some(job);
                state.terms.price_per_step = price;
            }
            Err(e) if e.is_connection() => return Err(e),
            Err(e) => tracing::debug!("job {job}: {e}"),
        }
        let reward = match client.block_payment(job, 0, None).await {
            Ok(Some(payment)) => Some(payment.author_reward),
            // The job is not trainable at the best block (any more): the
            // work will change; nothing to report.
            Ok(None) => return Ok(()),
            Err(e) if e.is_connection() => return Err(e),
            Err(e) => {
                tracing::debug!("block payment: {e}");
                None
            }
        };
        if reward != state.terms.author_reward || !state.terms.reward_reported {
            state.terms.reward_reported = true;
            self.events.emit(Event::Reward {
                author_reward: reward,
            });
        }
        state.terms.author_reward = reward;
        Ok(())
    }

    /// Asks the runtime whether each device key is admitted; a device whose
    /// key is not idles (its blocks would be rejected).
    pub(super) async fn check_admission(
        &mut self,
        client: &NodeClient,
        state: &mut State,
    ) -> Result<(), RpcError> {
        for (i, key) in self.keys.iter().enumerate() {
            let admitted = match client.is_admitted(&key.public()).await {
                Ok(a) => a,
                Err(e) if e.is_connection() => return Err(e),
                Err(e) => {
                    // An older runtime without the call: assume yes; the
                    // node's verdict on a win tells.
                    tracing::debug!("admission of {}: {e}", key.ss58());
                    true
                }
            };
            if state.admission[i] != Some(admitted) {
                state.admission[i] = Some(admitted);
                self.events.emit(Event::Admission {
                    device: i,
                    author: key.ss58(),
                    admitted,
                });
            }
            self.admitted[i].store(admitted, Ordering::Release);
        }
        Ok(())
    }
}
