//! A win's submission: `upow_submitWork`, the node's template checked
//! against the win ([`check_template`]) and the on-disk signing record
//! (never two blocks on one parent), the seal signed and submitted
//! (`upow_submitSeal`), and the verdict sent back to the device.

use codec::{Decode, Encode};
use sp_core::{Bytes, H256};
use upow_primitives::{
    rpc::{error, ClaimJson, SubmitWork, Template},
    Header, PowSeal, PreDigest, ENGINE_ID,
};

use super::{Coordinator, State};
use crate::mine::{
    client::{NodeClient, RpcError},
    device::{Found, SubmitOutcome},
    events::Event,
};
use upow_primitives::signing::SignPermit;

impl Coordinator {
    /// Submits a win: `upow_submitWork`, sign the pre-hash with the device's
    /// key, `upow_submitSeal`. `Err`: the connection is gone (the win is kept
    /// for the next session).
    pub(super) async fn submit(
        &mut self,
        client: &NodeClient,
        state: &mut State,
        found: Found,
    ) -> Result<(), RpcError> {
        let device = found.device;
        let block = found.number.saturating_add(1);
        if !self.board.is_current(found.generation) {
            self.metrics.stale(device);
            self.events.emit(Event::Stale { device, block });
            let _ = found.reply.send(SubmitOutcome::Stale);
            return Ok(());
        }
        let Some(key) = self.keys.get(device) else {
            let _ = found.reply.send(SubmitOutcome::Stale);
            return Ok(());
        };
        let Some(genesis) = state.genesis else {
            state.pending = Some(found);
            return Err(RpcError::Response {
                method: "chain_getBlockHash",
                message: "no genesis hash yet".into(),
            });
        };
        let claim = found.mined.claim;
        let digest = PreDigest::new(found.author, found.job, found.mined.context.salt, claim);
        let signature = key.sign(&digest.submission_message(&genesis, &found.parent));
        let submission = SubmitWork {
            parent: H256(found.parent),
            author: H256(found.author),
            job: found.job,
            salt: found.mined.context.salt,
            claim: ClaimJson {
                steps: claim.steps,
                root: H256(claim.root),
                final_weights: H256(claim.final_weights),
            },
            proof: Bytes(found.mined.proof.encode()),
            signature: Bytes(signature.to_vec()),
        };
        let template = match client.submit_work(submission).await {
            Ok(template) => template,
            Err(e) => return self.rejected(state, found, e),
        };
        // Sign only what was checked, and never a second block on a parent.
        let refusal = match check_template(&template, &found) {
            Err(reason) => Some(reason),
            Ok(()) => match self.signing.permit(
                &found.author,
                &found.parent,
                block,
                &template.pre_hash.0,
            ) {
                Ok(SignPermit::Granted) => None,
                Ok(SignPermit::Refused { signed }) => Some(format!(
                    "already signed block 0x{} on this parent; a second one would be an equivocation",
                    hex::encode(signed)
                )),
                Ok(SignPermit::TooOld { number, newest }) => Some(format!(
                    "block #{number} is below the signing record's history (newest signed #{newest}): \
                     the node's block numbers are not to be trusted"
                )),
                Err(e) => Some(format!("the signing record cannot be written ({e})")),
            },
        };
        if let Some(reason) = refusal {
            self.metrics.rejected(device, "refused");
            self.events.emit(Event::Rejected {
                device,
                block,
                code: None,
                message: format!("not signed: {reason}"),
            });
            let _ = found.reply.send(SubmitOutcome::Refused);
            return Ok(());
        }
        let signature = key.sign(&PowSeal::message(&genesis, &template.pre_hash.0));
        let sealed = client.submit_seal(template.pre_hash, signature).await;
        match sealed {
            Ok(hash) => {
                self.metrics.accepted(device);
                // The chain adopts the final weights: no need to fetch them.
                state.remember_weights(claim.final_weights, found.mined.final_weights.clone());
                let _ = found.reply.send(SubmitOutcome::Accepted { hash: hash.0 });
                // What the block pays, as the runtime computes it at its
                // parent (the miner has no formula of its own).
                let payment = match client
                    .block_payment(found.job, claim.steps, Some(found.parent))
                    .await
                {
                    Ok(payment) => payment,
                    Err(e) => {
                        tracing::debug!("payment of block {block}: {e}");
                        None
                    }
                };
                self.events.emit(Event::Accepted {
                    device,
                    block,
                    hash: format!("{hash:?}"),
                    steps: claim.steps,
                    job_payment: payment.map(|p| p.job_payment),
                    author_reward: payment.map(|p| p.author_reward),
                });
                Ok(())
            }
            Err(e) if e.is_connection() => {
                // Resubmitted after reconnecting: a new template, which the
                // signing record will refuse to sign (it may have been
                // imported): safe, if that block is then lost.
                state.pending = Some(found);
                Err(e)
            }
            Err(e) => {
                // Signed but not imported: this parent is done for us (a
                // second signature on it would be an equivocation).
                let (code, message) = node_error(&e);
                self.metrics.rejected(device, &code.to_string());
                self.events.emit(Event::Rejected {
                    device,
                    block,
                    code: Some(code),
                    message,
                });
                let _ = found.reply.send(SubmitOutcome::Refused);
                Ok(())
            }
        }
    }

    /// The node refused a win before anything was signed: the device keeps
    /// extending its trajectory (unless the work is stale). `Err`: the
    /// connection is gone (the win is kept for the next session).
    fn rejected(&self, state: &mut State, found: Found, e: RpcError) -> Result<(), RpcError> {
        if e.is_connection() {
            state.pending = Some(found);
            return Err(e);
        }
        let (code, message) = node_error(&e);
        self.metrics.rejected(found.device, &code.to_string());
        self.events.emit(Event::Rejected {
            device: found.device,
            block: found.number + 1,
            code: Some(code),
            message,
        });
        let _ = found.reply.send(SubmitOutcome::Rejected {
            code,
            message: e.to_string(),
        });
        Ok(())
    }
}

/// The JSON-RPC code and message of a failed call.
fn node_error(e: &RpcError) -> (i32, String) {
    match e {
        RpcError::Node { code, message, .. } => (*code, message.clone()),
        other => (error::INTERNAL, other.to_string()),
    }
}

/// Checks the node's template against the win before the author signs it:
/// the header decodes (every byte), hashes to the template's `pre_hash`,
/// is built on the win's parent at the next number, is not sealed, and
/// carries exactly the win's `pow_` pre-runtime digest (author, job, salt,
/// claim). A node that asks for anything else does not get a signature.
pub fn check_template(template: &Template, found: &Found) -> Result<(), String> {
    let mut bytes = &template.header.0[..];
    let header = Header::decode(&mut bytes)
        .map_err(|e| format!("the template's header does not decode: {e}"))?;
    if !bytes.is_empty() {
        return Err("the template's header has trailing bytes".into());
    }
    if header.hash() != template.pre_hash {
        return Err(format!(
            "the template's header hashes to {:?}, not to its preHash {:?}",
            header.hash(),
            template.pre_hash
        ));
    }
    if header.parent_hash.0 != found.parent || header.number != found.number + 1 {
        return Err(format!(
            "the template is block #{} on {:?}, the win is for #{} on 0x{}",
            header.number,
            header.parent_hash,
            found.number + 1,
            hex::encode(found.parent)
        ));
    }
    let sealed = header
        .digest
        .logs()
        .iter()
        .any(|item| item.as_seal().is_some_and(|(id, _)| id == ENGINE_ID));
    if sealed {
        return Err("the template is already sealed".into());
    }
    let expected = PreDigest::new(
        found.author,
        found.job,
        found.mined.context.salt,
        found.mined.claim,
    );
    match PreDigest::find(&header.digest) {
        Ok(digest) if digest == expected => Ok(()),
        Ok(_) => Err("the template's pow_ digest is not the win's claim".into()),
        Err(e) => Err(format!("the template's pow_ digest: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sp_runtime::traits::Header as _;
    use std::sync::mpsc as sync_mpsc;
    use upow_puzzle::{
        mining::ReferenceMiner, Dataset, Hyperparams, JobSpec, Model, TrajectoryContext, Weights,
    };

    /// A real win (on a tiny job) and the template an honest node builds
    /// for it.
    fn win() -> (Found, Header) {
        let model = Model::new(&[8, 6, 3]).unwrap();
        let labels: Vec<u8> = (0..40).map(|i| (i % 3) as u8).collect();
        let pixels: Vec<u8> = (0..40 * 8).map(|i| (i * 53 % 256) as u8).collect();
        let dataset = Dataset::new(8, &labels, &pixels).unwrap();
        let spec = JobSpec::new(
            model.clone(),
            Hyperparams::new(4, 2, 100).unwrap(),
            dataset.commitment(),
        )
        .unwrap();
        let ctx = TrajectoryContext {
            parent: [4; 32],
            author: [5; 32],
            job: 2,
            salt: 0,
        };
        let mined = ReferenceMiner::new(
            &spec,
            upow_puzzle::Liveness::MINIMUM,
            &dataset,
            ctx,
            Weights::initial(&model, &[1; 32]),
            0,
            8,
        )
        .run(3, 100_000)
        .unwrap()
        .unwrap();
        let digest = PreDigest::new([5; 32], 2, mined.context.salt, mined.claim);
        let header = Header::new(
            10,
            Default::default(),
            Default::default(),
            H256([4; 32]),
            sp_runtime::Digest {
                logs: vec![digest.to_digest_item()],
            },
        );
        let (reply, _verdict) = sync_mpsc::sync_channel(1);
        let found = Found {
            device: 0,
            generation: 1,
            parent: [4; 32],
            number: 9,
            job: 2,
            author: [5; 32],
            mined,
            reply,
        };
        (found, header)
    }

    fn template(header: &Header) -> Template {
        Template {
            pre_hash: header.hash(),
            header: Bytes(header.encode()),
        }
    }

    #[test]
    fn only_the_wins_own_block_is_signed() {
        let (found, header) = win();
        assert_eq!(check_template(&template(&header), &found), Ok(()));

        // Whatever a node changes, the miner does not sign it.
        let refused = |t: Template, what: &str| {
            let verdict = check_template(&t, &found);
            assert!(verdict.is_err(), "{what} was accepted");
            eprintln!("{what}: {}", verdict.unwrap_err());
        };
        let mut other_hash = template(&header);
        other_hash.pre_hash = H256([9; 32]);
        refused(other_hash, "a preHash of another header");
        let mut garbage = template(&header);
        garbage.header = Bytes(vec![1, 2, 3]);
        refused(garbage, "an undecodable header");
        let mut trailing = template(&header);
        trailing.header.0.push(0);
        refused(trailing, "trailing bytes");
        let mut moved = header.clone();
        moved.parent_hash = H256([8; 32]);
        refused(template(&moved), "another parent");
        let mut later = header.clone();
        later.number = 11;
        refused(template(&later), "another number");
        let mut sealed = header.clone();
        sealed
            .digest
            .push(sp_runtime::DigestItem::Seal(ENGINE_ID, vec![2; 65]));
        refused(template(&sealed), "an already sealed header");
        let mut claims = found.mined.claim;
        claims.steps += 1;
        for (what, digest) in [
            (
                "another author",
                PreDigest::new([6; 32], 2, found.mined.context.salt, found.mined.claim),
            ),
            (
                "another job",
                PreDigest::new([5; 32], 3, found.mined.context.salt, found.mined.claim),
            ),
            (
                "another salt",
                PreDigest::new([5; 32], 2, found.mined.context.salt + 1, found.mined.claim),
            ),
            (
                "another claim",
                PreDigest::new([5; 32], 2, found.mined.context.salt, claims),
            ),
        ] {
            let mut h = header.clone();
            h.digest = sp_runtime::Digest {
                logs: vec![digest.to_digest_item()],
            };
            refused(template(&h), what);
        }
        let mut twice = header.clone();
        twice.digest.push(twice.digest.logs()[0].clone());
        refused(template(&twice), "two digests");
    }
}
