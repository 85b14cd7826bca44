//! Mining, proving and verifying whole trajectories, and rejecting every
//! kind of tampering with a typed error.

// Test code outside `#[test]` functions may unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use upow_puzzle::{
    batch_indices, challenged_steps, merkle::proof_length, verify_trajectory, Batch, Dataset,
    Error, Hyperparams, JobProgress, JobSpec, Liveness, Model, TrainingStep, Trajectory,
    TrajectoryClaim, TrajectoryContext, TrajectoryProof, Weights,
};

struct Fixture {
    job: JobSpec,
    dataset: Dataset,
    ctx: TrajectoryContext,
    start: Weights,
    /// W_0 … W_n.
    weights: Vec<Weights>,
    trajectory: Trajectory,
    claim: TrajectoryClaim,
    proof: TrajectoryProof,
    difficulty: u128,
}

fn dataset(inputs: u32, samples: usize, classes: u8) -> Dataset {
    let labels: Vec<u8> = (0..samples)
        .map(|i| (i * 7 % classes as usize) as u8)
        .collect();
    let pixels: Vec<u8> = (0..samples * inputs as usize)
        .map(|i| ((i * 31 + i / 7) % 256) as u8)
        .collect();
    Dataset::new(inputs, &labels, &pixels).unwrap()
}

/// Mines until a ticket wins at `difficulty` (steps ≥ 3 so that there are
/// random challenges), then proves the claim.
fn mine(difficulty: u128) -> Fixture {
    let model = Model::new(&[12, 6, 3]).unwrap();
    let hyper = Hyperparams::new(4, 2, 1000).unwrap();
    let dataset = dataset(12, 50, 3);
    let job = JobSpec::new(model.clone(), hyper, dataset.commitment()).unwrap();
    let ctx = TrajectoryContext {
        parent: [7; 32],
        author: [8; 32],
        job: 3,
        salt: 0,
    };
    let start = Weights::initial(&model, &[1; 32]);
    let mut trajectory = Trajectory::start(ctx, start.hash());
    let mut weights = vec![start.clone()];
    let step = TrainingStep::new(&model, &hyper);
    let first_step = 40;
    loop {
        if trajectory.steps() >= upow_puzzle::max_steps(difficulty) {
            // Too long without a win: start again with the next salt.
            let ctx = TrajectoryContext {
                salt: trajectory.context().salt + 1,
                ..ctx
            };
            trajectory = Trajectory::start(ctx, start.hash());
            weights.truncate(1);
        }
        let current = weights.last().unwrap();
        let seed = trajectory.next_seed();
        let indices = batch_indices(&seed, hyper.batch(), dataset.len() as u64);
        let batch = Batch::from_encoded(
            indices.iter().map(|&i| dataset.sample(i as usize).unwrap()),
            &model,
        )
        .unwrap();
        let i = trajectory.steps() as u64;
        let next = step
            .run(current, &batch, &seed, first_step + i)
            .unwrap()
            .weights;
        let ticket = trajectory.push(next.hash());
        weights.push(next);
        if trajectory.steps() >= 3 && ticket.meets(difficulty) {
            break;
        }
    }
    let claim = trajectory.claim(weights.last().unwrap().hash()).unwrap();
    let proof = trajectory
        .prove(&claim, &job, &dataset, |i| Ok(weights[i as usize].clone()))
        .unwrap();
    Fixture {
        job,
        dataset,
        ctx: *trajectory.context(),
        start,
        weights,
        trajectory,
        claim,
        proof,
        difficulty,
    }
}

impl Fixture {
    fn progress(&self) -> JobProgress {
        JobProgress {
            weights: self.start.hash(),
            steps: 40,
        }
    }

    fn verify(&self, claim: &TrajectoryClaim, proof: &TrajectoryProof) -> Result<(), Error> {
        verify_trajectory(
            &self.job,
            Liveness::MINIMUM,
            &self.ctx,
            &self.progress(),
            self.difficulty,
            claim,
            proof,
        )
        .map(|_| ())
    }
}

#[test]
fn honest_trajectory_verifies() {
    let f = mine(4);
    let verified = verify_trajectory(
        &f.job,
        Liveness::MINIMUM,
        &f.ctx,
        &f.progress(),
        f.difficulty,
        &f.claim,
        &f.proof,
    )
    .unwrap();
    assert_eq!(verified.final_weights, f.weights.last().unwrap().hash());
    assert_eq!(verified.steps, f.claim.steps);
    let challenged = challenged_steps(&f.claim.ticket(&f.ctx).unwrap(), f.claim.steps);
    let proven: Vec<u32> = verified.proven.iter().map(|s| s.index).collect();
    assert_eq!(proven, challenged);
    assert!(verified.final_loss() > 0);
}

#[test]
fn tampered_weight_byte_is_rejected() {
    let f = mine(4);
    let mut proof = f.proof.clone();
    let bytes = &mut proof.steps[0].weights;
    bytes[3] = if bytes[3] == 5 { 6 } else { 5 };
    assert!(matches!(
        f.verify(&f.claim, &proof),
        Err(Error::ProofMismatch {
            what: "trajectory",
            ..
        })
    ));
}

#[test]
fn out_of_range_weight_byte_is_rejected() {
    let f = mine(4);
    let mut proof = f.proof.clone();
    // i16::MIN, little-endian: outside the master range.
    proof.steps[0].weights[0] = 0x00;
    proof.steps[0].weights[1] = 0x80;
    assert_eq!(
        f.verify(&f.claim, &proof),
        Err(Error::WeightValue { offset: 0 })
    );
    proof.steps[0].weights.pop();
    assert!(matches!(
        f.verify(&f.claim, &proof),
        Err(Error::WeightsLength { .. })
    ));
}

#[test]
fn tampered_sample_is_rejected() {
    let f = mine(4);
    let mut proof = f.proof.clone();
    proof.steps[0].samples[1].sample[4] ^= 0x10;
    assert!(matches!(
        f.verify(&f.claim, &proof),
        Err(Error::ProofMismatch {
            what: "dataset",
            ..
        })
    ));
}

#[test]
fn wrong_sample_with_valid_proof_is_rejected() {
    let f = mine(4);
    let mut proof = f.proof.clone();
    // A genuine sample of the dataset, but not the one the seed selects.
    let index = proof.steps[0].index;
    let seed = f.trajectory.seeds(index, index + 1).unwrap()[0];
    let selected = batch_indices(&seed, f.job.hyper.batch(), f.dataset.len() as u64)[0];
    // (One whose proof has the same length, so only the position is wrong.)
    let samples = f.dataset.len() as u64;
    let other = (0..samples)
        .find(|&i| i != selected && proof_length(i, samples) == proof_length(selected, samples))
        .unwrap();
    proof.steps[0].samples[0] = f.dataset.open(other).unwrap();
    assert!(matches!(
        f.verify(&f.claim, &proof),
        Err(Error::ProofMismatch {
            what: "dataset",
            ..
        })
    ));
}

#[test]
fn missing_sample_is_rejected() {
    let f = mine(4);
    let mut proof = f.proof.clone();
    proof.steps[0].samples.pop();
    assert!(matches!(
        f.verify(&f.claim, &proof),
        Err(Error::BatchSize { .. })
    ));
}

#[test]
fn tampered_merkle_proof_is_rejected() {
    let f = mine(4);
    for which in 0..3 {
        let mut proof = f.proof.clone();
        let target = match which {
            0 => &mut proof.start,
            1 => &mut proof.steps[0].before,
            _ => &mut proof.steps[0].after,
        };
        if target.siblings.is_empty() {
            continue;
        }
        target.siblings[0][31] ^= 1;
        assert!(f.verify(&f.claim, &proof).is_err(), "proof {which}");
    }
}

#[test]
fn faked_step_is_rejected() {
    // A trajectory whose challenged step jumps to weights the step does not
    // produce: re-execution catches it.
    let f = mine(4);
    let model = &f.job.model;
    let n = f.claim.steps as usize;
    // Replace W_n (the final step's output) with other weights, re-commit,
    // and grind those until the forged ticket wins.
    let mut weights = f.weights.clone();
    let (claim, proof) = (0u8..=255)
        .find_map(|fake| {
            weights[n] = Weights::initial(model, &[fake; 32]);
            let mut trajectory = Trajectory::start(f.ctx, weights[0].hash());
            let ticket = weights[1..]
                .iter()
                .map(|w| trajectory.push(w.hash()))
                .last()?;
            if !ticket.meets(f.difficulty) {
                return None;
            }
            let claim = trajectory.claim(weights[n].hash())?;
            let proof = trajectory
                .prove(&claim, &f.job, &f.dataset, |i| {
                    Ok(weights[i as usize].clone())
                })
                .ok()?;
            Some((claim, proof))
        })
        .unwrap();
    let result = f.verify(&claim, &proof);
    assert!(
        matches!(result, Err(Error::StepMismatch { index, .. }) if index as usize == n - 1),
        "{result:?}"
    );
}

#[test]
fn ticket_above_target_is_rejected() {
    let f = mine(4);
    // At a huge difficulty the same claim's ticket no longer wins.
    assert_eq!(
        verify_trajectory(
            &f.job,
            Liveness::MINIMUM,
            &f.ctx,
            &f.progress(),
            u128::MAX,
            &f.claim,
            &f.proof
        ),
        Err(Error::TicketAboveTarget {
            difficulty: u128::MAX
        })
    );
    assert_eq!(
        verify_trajectory(
            &f.job,
            Liveness::MINIMUM,
            &f.ctx,
            &f.progress(),
            0,
            &f.claim,
            &f.proof
        ),
        Err(Error::ZeroDifficulty)
    );
}

#[test]
fn wrong_context_or_start_is_rejected() {
    let f = mine(4);
    let other_author = TrajectoryContext {
        author: [9; 32],
        ..f.ctx
    };
    // Another author's claim: seeds differ, so the proofs no longer verify
    // (or the ticket misses), never silently accepted.
    assert!(verify_trajectory(
        &f.job,
        Liveness::MINIMUM,
        &other_author,
        &f.progress(),
        1,
        &f.claim,
        &f.proof
    )
    .is_err());
    let moved = JobProgress {
        weights: [0; 32],
        steps: 40,
    };
    assert!(matches!(
        verify_trajectory(
            &f.job,
            Liveness::MINIMUM,
            &f.ctx,
            &moved,
            f.difficulty,
            &f.claim,
            &f.proof
        ),
        Err(Error::StartMismatch { .. })
    ));
    let later = JobProgress {
        weights: f.start.hash(),
        steps: 41,
    };
    // A different global step changes the learning rate only at schedule
    // boundaries; step 40 → 41 of 1000 does not, so this still verifies.
    assert!(verify_trajectory(
        &f.job,
        Liveness::MINIMUM,
        &f.ctx,
        &later,
        f.difficulty,
        &f.claim,
        &f.proof
    )
    .is_ok());
}

#[test]
fn challenge_set_must_match() {
    let f = mine(4);
    let mut proof = f.proof.clone();
    proof.steps.remove(0);
    assert!(matches!(
        f.verify(&f.claim, &proof),
        Err(Error::ChallengeSet { .. })
    ));
    let mut claim = f.claim;
    claim.final_weights = [0; 32];
    assert!(f.verify(&claim, &f.proof).is_err());
    claim.steps = 0;
    assert_eq!(f.verify(&claim, &f.proof), Err(Error::EmptyTrajectory));
}

/// Where the reference-miner tests start: a 12-6-3 model at batch 16, its
/// weights from seed 32×02, the job at 17 steps.
struct MinerStart {
    model: Model,
    hyper: Hyperparams,
    ctx: TrajectoryContext,
    start: Weights,
    progress: JobProgress,
}

impl MinerStart {
    fn new() -> Self {
        let model = Model::new(&[12, 6, 3]).unwrap();
        let start = Weights::initial(&model, &[2; 32]);
        Self {
            hyper: Hyperparams::new(4, 2, 1000).unwrap(),
            ctx: TrajectoryContext {
                parent: [3; 32],
                author: [4; 32],
                job: 1,
                salt: 0,
            },
            progress: JobProgress {
                weights: start.hash(),
                steps: 17,
            },
            model,
            start,
        }
    }
}

#[test]
fn reference_miner_produces_verifiable_blocks() {
    use upow_puzzle::mining::ReferenceMiner;
    let MinerStart {
        model,
        hyper,
        ctx,
        start,
        progress,
    } = MinerStart::new();
    let dataset = dataset(12, 50, 3);
    let job = JobSpec::new(model.clone(), hyper, dataset.commitment()).unwrap();
    // Snapshots every 3 steps: challenged weights are recomputed.
    let mut miner = ReferenceMiner::new(&job, Liveness::MINIMUM, &dataset, ctx, start, 17, 3);
    let mined = miner
        .run(25, 10_000)
        .unwrap()
        .expect("a ticket wins within 10 000 steps");
    assert_eq!(
        mined.context,
        TrajectoryContext {
            salt: miner.salt(),
            ..ctx
        }
    );
    let verified = verify_trajectory(
        &job,
        Liveness::MINIMUM,
        &mined.context,
        &progress,
        25,
        &mined.claim,
        &mined.proof,
    )
    .unwrap();
    // Steps beyond the bound (4 · 25) restart the trajectory with a new salt.
    assert!(mined.claim.steps <= upow_puzzle::max_steps(25));
    assert_eq!(verified.final_weights, mined.final_weights.hash());
    assert_eq!(verified.steps, miner.steps());
}

/// On a dataset where a sample in eight is labelled outside the model's
/// classes, the mining loop never errs on such a step: it restarts with
/// the next salt and counts it, and a trajectory that avoids every such
/// sample still wins and verifies. On one where every label is outside,
/// it only restarts, so the node's miner can pass the job over.
#[test]
fn the_reference_miner_restarts_at_a_step_outside_the_classes() {
    use upow_puzzle::mining::{
        MiningProgress, ReferenceBackend, ReferenceMiner, Restart, TrajectoryMiner,
    };
    let MinerStart {
        model,
        hyper,
        ctx,
        start,
        progress,
    } = MinerStart::new();
    let pixels: Vec<u8> = (0..200 * 12)
        .map(|i| ((i * 31 + i / 7) % 256) as u8)
        .collect();

    let labels: Vec<u8> = (0..200)
        .map(|i| if i % 8 == 0 { 3 } else { i as u8 % 3 })
        .collect();
    let dataset = Dataset::new(12, &labels, &pixels).unwrap();
    let job = JobSpec::new(model.clone(), hyper, dataset.commitment()).unwrap();
    let mut miner =
        ReferenceMiner::new(&job, Liveness::MINIMUM, &dataset, ctx, start.clone(), 17, 3);
    let mined = miner
        .run(16, 100_000)
        .unwrap()
        .expect("a trajectory clear of the bad samples wins");
    assert!(miner.outside_class_steps() > 0);
    assert_eq!(miner.salt(), miner.outside_class_steps());
    verify_trajectory(
        &job,
        Liveness::MINIMUM,
        &mined.context,
        &progress,
        16,
        &mined.claim,
        &mined.proof,
    )
    .unwrap();

    let labels = vec![7u8; 200];
    let dataset = Dataset::new(12, &labels, &pixels).unwrap();
    let job = JobSpec::new(model.clone(), hyper, dataset.commitment()).unwrap();
    let mut backend = ReferenceBackend::new(model.clone(), hyper, start.clone());
    let mut miner = TrajectoryMiner::new(&job, Liveness::MINIMUM, &dataset, ctx, start, 17, 4, 3);
    for restarts in 1..=10 {
        assert!(matches!(
            miner.step(&mut backend),
            Ok(MiningProgress::Restarted(Restart::OutsideClasses))
        ));
        assert_eq!(miner.outside_class_restarts(), restarts);
        assert_eq!(miner.salt(), restarts);
    }
}

#[test]
fn final_step_replays_to_the_claimed_weights() {
    let f = mine(4);
    let w =
        upow_puzzle::replay_final_step(&f.job, Liveness::MINIMUM, &f.ctx, 40, &f.claim, &f.proof)
            .unwrap();
    assert_eq!(&w, f.weights.last().unwrap());
    let mut claim = f.claim;
    claim.final_weights = [1; 32];
    assert_eq!(
        upow_puzzle::replay_final_step(&f.job, Liveness::MINIMUM, &f.ctx, 40, &claim, &f.proof),
        Err(Error::FinalMismatch)
    );
}
