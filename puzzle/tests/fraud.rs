//! Fraud proofs (docs/puzzle.md §13): a trajectory with one planted jump
//! that the spot checks miss is accepted by `verify_trajectory`, and then
//! caught by a replay: `audit_trajectory` returns a fraud proof that
//! `verify_fraud` accepts. Honest trajectories are never reported, and
//! every tampering with a fraud proof is a typed error. A step that draws
//! a sample outside the model's classes (which no honest author computes)
//! is proven too, so no segment is unprovable whatever the dataset holds.

// Test code outside `#[test]` functions may unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use upow_puzzle::rounding::MASTER_MAX;
use upow_puzzle::{
    audit_trajectory,
    batch::select_batch,
    challenged_steps,
    segment::{segment_log2, SegmentSpan},
    verify_fraud, verify_trajectory, Audit, Dataset, Error, FraudProof, FraudReason, Hyperparams,
    JobProgress, JobSpec, Liveness, Model, TrainingStep, Trajectory, TrajectoryClaim,
    TrajectoryContext, TrajectoryProof, Weights,
};

fn dataset(inputs: u32, samples: usize, classes: u8) -> Dataset {
    let labels: Vec<u8> = (0..samples)
        .map(|i| (i * 7 % classes as usize) as u8)
        .collect();
    let pixels: Vec<u8> = (0..samples * inputs as usize)
        .map(|i| ((i * 31 + i / 7) % 256) as u8)
        .collect();
    Dataset::new(inputs, &labels, &pixels).unwrap()
}

/// Learning rate 2^-LR_SHIFT: small enough that the tiny model's layers stay
/// alive over the thousand-step trajectories.
const LR_SHIFT: u32 = 4;

struct Job {
    spec: JobSpec,
    dataset: Dataset,
    start: Weights,
}

impl Job {
    fn new() -> Self {
        let model = Model::new(&[12, 6, 3]).unwrap();
        let hyper = Hyperparams::new(4, LR_SHIFT, 100_000).unwrap();
        let dataset = dataset(12, 64, 3);
        let spec = JobSpec::new(model.clone(), hyper, dataset.commitment()).unwrap();
        let start = Weights::initial(&model, &[1; 32]);
        Self {
            spec,
            dataset,
            start,
        }
    }

    fn progress(&self) -> JobProgress {
        JobProgress {
            weights: self.start.hash(),
            steps: 40,
        }
    }
}

/// A mined block: its context, claim and proof, and every `W_i`.
struct Block {
    ctx: TrajectoryContext,
    claim: TrajectoryClaim,
    proof: TrajectoryProof,
    weights: Vec<Weights>,
    /// The steps that drew a sample outside the model's classes
    /// ([`Forge::OutsideClasses`]).
    outside: Vec<u32>,
}

/// What a mined block's author fakes.
#[derive(Clone, Copy)]
enum Forge<'a> {
    /// Nothing.
    Honest,
    /// Leaf `j` is the given weights instead of the output of step `j − 1`
    /// (the steps after it are honest steps of them).
    Jump(u32, &'a Weights),
    /// Every step that draws a sample outside the model's classes (no
    /// honest output exists) outputs its input shifted; the block is kept
    /// only if it has such a step and the spot checks miss them all.
    OutsideClasses,
}

/// Mines a trajectory of at least `min_steps` steps whose ticket wins at
/// `difficulty`; if `jump` is `Some((j, planted))`, leaf `j` is `planted`
/// instead of the output of step `j − 1` (the steps after it are honest
/// steps of the planted weights), and the block is kept only if the spot
/// checks miss step `j − 1`. Grinds salts until both hold.
fn mine(job: &Job, difficulty: u128, min_steps: u32, jump: Option<(u32, &Weights)>) -> Block {
    let forge = jump.map_or(Forge::Honest, |(j, planted)| Forge::Jump(j, planted));
    mine_forged(job, difficulty, min_steps, forge)
}

/// Salts [`mine_forged`] grinds before it fails.
const MAX_SALTS: u32 = 1 << 16;

/// [`mine`], faking what `forge` says.
fn mine_forged(job: &Job, difficulty: u128, min_steps: u32, forge: Forge<'_>) -> Block {
    let step = TrainingStep::new(&job.spec.model, &job.spec.hyper);
    let progress = job.progress();
    for salt in 0..MAX_SALTS {
        let ctx = TrajectoryContext {
            parent: [7; 32],
            author: [8; 32],
            job: 3,
            salt,
        };
        let mut trajectory = Trajectory::start(ctx, job.start.hash());
        let mut weights = vec![job.start.clone()];
        let mut outside = Vec::new();
        let max = upow_puzzle::max_steps(difficulty);
        for i in 0..max {
            let seed = trajectory.next_seed();
            let last = weights.last().unwrap();
            let mut next = match select_batch(&job.spec, &job.dataset, &seed) {
                Ok(batch) => {
                    step.run(last, &batch, &seed, progress.steps + i as u64)
                        .unwrap()
                        .weights
                }
                Err(Error::Label { .. }) if matches!(forge, Forge::OutsideClasses) => {
                    outside.push(i);
                    planted(job, last, 1)
                }
                Err(e) => panic!("{e}"),
            };
            if let Forge::Jump(j, planted) = forge {
                if i + 1 == j {
                    next = planted.clone();
                }
            }
            let ticket = trajectory.push(next.hash());
            weights.push(next);
            if i + 1 < min_steps || !ticket.meets(difficulty) {
                continue;
            }
            let claim = trajectory.claim(weights.last().unwrap().hash()).unwrap();
            let proven = challenged_steps(&ticket, claim.steps);
            let missed = match forge {
                Forge::Honest => true,
                Forge::Jump(j, _) => j <= claim.steps && !proven.contains(&(j - 1)),
                Forge::OutsideClasses => {
                    !outside.is_empty() && !outside.iter().any(|b| proven.contains(b))
                }
            };
            if !missed {
                break;
            }
            let proof = trajectory
                .prove(&claim, &job.spec, &job.dataset, |i| {
                    Ok(weights[i as usize].clone())
                })
                .unwrap();
            // Only blocks the chain would take (the spot-checked steps of
            // a long run on this tiny model may be degenerate).
            if verify_trajectory(
                &job.spec,
                Liveness::MINIMUM,
                &ctx,
                &progress,
                difficulty,
                &claim,
                &proof,
            )
            .is_err()
            {
                break;
            }
            return Block {
                ctx,
                claim,
                proof,
                weights,
                outside,
            };
        }
    }
    panic!("no block in {MAX_SALTS} salts")
}

/// The fraud proof of segment `k` of `block`, wrong or not.
fn open_segment(job: &Job, block: &Block, k: u32) -> FraudProof {
    upow_puzzle::open_segment(
        &job.spec,
        &block.ctx,
        &job.progress(),
        &job.start,
        &block.claim,
        &block.proof.segments,
        &job.dataset,
        k,
    )
    .unwrap()
}

fn audit(job: &Job, block: &Block) -> Audit {
    audit_trajectory(
        &job.spec,
        &block.ctx,
        &job.progress(),
        &job.start,
        &block.claim,
        &block.proof.segments,
        &job.dataset,
        || {},
    )
    .unwrap()
}

fn check_fraud(job: &Job, block: &Block, proof: &FraudProof) -> Result<(), Error> {
    verify_fraud(&job.spec, &block.ctx, &job.progress(), &block.claim, proof).map(|_| ())
}

/// Weights an attacker plants: the honest ones with every weight of the
/// first layer shifted (any change will do; this one keeps them valid).
fn planted(job: &Job, from: &Weights, delta: i16) -> Weights {
    let mut layers = from.layers().to_vec();
    for w in layers[0].iter_mut() {
        *w = w.saturating_add(delta).clamp(-MASTER_MAX, MASTER_MAX);
    }
    Weights::from_layers(&job.spec.model, layers).unwrap()
}

#[test]
fn honest_blocks_audit_clean_and_no_segment_can_be_reported() {
    let job = Job::new();
    for (difficulty, min_steps) in [(8u128, 5u32), (1024, 1100)] {
        let block = mine(&job, difficulty, min_steps, None);
        verify_trajectory(
            &job.spec,
            Liveness::MINIMUM,
            &block.ctx,
            &job.progress(),
            difficulty,
            &block.claim,
            &block.proof,
        )
        .unwrap();
        let Audit::Honest(last) = audit(&job, &block) else {
            panic!("an honest block was reported");
        };
        assert_eq!(last.hash(), block.claim.final_weights);
        let segments = block.proof.segments.len() as u32;
        for k in [0, 1, segments / 2, segments - 1] {
            let proof = open_segment(&job, &block, k);
            let result = check_fraud(&job, &block, &proof);
            if k == 0 && segment_log2(&job.spec, block.claim.leaves()) == 0 {
                assert_eq!(result, Err(Error::NothingToReplay(0)));
            } else {
                assert_eq!(result, Err(Error::NoFraud(k)), "segment {k}");
            }
        }
    }
}

#[test]
fn a_planted_jump_passes_the_spot_checks_and_is_proven_by_a_replay() {
    let job = Job::new();
    // One-leaf segments (n < 1024) and multi-leaf segments (n > 1024).
    for (difficulty, min_steps, j) in [(16u128, 20u32, 9u32), (1024, 1100, 700)] {
        let honest = mine(&job, difficulty, min_steps, None);
        let plant = planted(&job, &honest.weights[j as usize], 3);
        let block = mine(&job, difficulty, min_steps, Some((j, &plant)));
        // The spot checks miss it: the block is valid.
        verify_trajectory(
            &job.spec,
            Liveness::MINIMUM,
            &block.ctx,
            &job.progress(),
            difficulty,
            &block.claim,
            &block.proof,
        )
        .unwrap();
        let Audit::Fraud(proof) = audit(&job, &block) else {
            panic!("the replay missed the planted jump");
        };
        let span = SegmentSpan::of(&job.spec, proof.segment, block.claim.leaves()).unwrap();
        assert!((span.first_leaf..span.end_leaf).contains(&u64::from(j)));
        let verdict =
            verify_fraud(&job.spec, &block.ctx, &job.progress(), &block.claim, &proof).unwrap();
        assert_eq!(verdict.segment, proof.segment);
        assert_eq!(verdict.steps, span.steps());

        // Wrong fraud proofs, each with its error.
        let mut wrong = proof.clone();
        wrong.segment = proof.segment.saturating_sub(1).max(1);
        if wrong.segment < proof.segment {
            let honest_segment = open_segment(&job, &block, wrong.segment);
            assert_eq!(
                check_fraud(&job, &block, &honest_segment),
                Err(Error::NoFraud(wrong.segment))
            );
        }
        let mut wrong = proof.clone();
        wrong.segment = block.proof.segments.len() as u32;
        assert!(matches!(
            check_fraud(&job, &block, &wrong),
            Err(Error::SegmentIndex { .. })
        ));
        let mut wrong = proof.clone();
        wrong.segments[0][0] ^= 1;
        assert_eq!(
            check_fraud(&job, &block, &wrong),
            Err(Error::SegmentsMismatch)
        );
        let mut wrong = proof.clone();
        wrong.weights = plant.encode();
        assert!(matches!(
            check_fraud(&job, &block, &wrong),
            Err(Error::ProofMismatch { .. } | Error::StartMismatch { .. })
        ));
        let mut wrong = proof.clone();
        wrong.batches[0][0].sample[1] ^= 1;
        assert!(matches!(
            check_fraud(&job, &block, &wrong),
            Err(Error::ProofMismatch {
                what: "dataset",
                ..
            })
        ));
        let mut wrong = proof.clone();
        wrong.batches.pop();
        assert!(matches!(
            check_fraud(&job, &block, &wrong),
            Err(Error::BatchCount { .. })
        ));
        let mut wrong = proof.clone();
        wrong.weights.truncate(3);
        assert!(matches!(
            check_fraud(&job, &block, &wrong),
            Err(Error::WeightsLength { .. })
        ));
        // The same proof against another block's claim.
        assert!(check_fraud(&job, &honest, &proof).is_err());
    }
}

/// A forger on a job whose dataset holds one sample outside the model's
/// classes: where a step draws it (no honest step exists), the forger puts
/// weights of its choice and goes on; the spot checks miss that step. The
/// audit proves the segment with the batches up to that step, and the
/// proof holds by itself; cut anywhere else, or with the sample forged,
/// it is refused.
#[test]
fn a_step_that_draws_a_label_outside_the_classes_is_proven() {
    let mut job = Job::new();
    let mut labels: Vec<u8> = (0..64).map(|i| (i * 7 % 3) as u8).collect();
    labels[5] = 3;
    let pixels: Vec<u8> = (0..64 * 12)
        .map(|i| ((i * 31 + i / 7) % 256) as u8)
        .collect();
    job.dataset = Dataset::new(12, &labels, &pixels).unwrap();
    job.spec = JobSpec::new(
        job.spec.model.clone(),
        job.spec.hyper,
        job.dataset.commitment(),
    )
    .unwrap();
    let block = mine_forged(&job, 16, 9, Forge::OutsideClasses);
    let first_bad = block.outside[0];
    let Audit::Fraud(proof) = audit(&job, &block) else {
        panic!("the replay missed the step outside the classes");
    };
    let span = SegmentSpan::of(&job.spec, proof.segment, block.claim.leaves()).unwrap();
    assert!((span.first_step..span.first_step + span.steps()).contains(&u64::from(first_bad)));
    let verdict =
        verify_fraud(&job.spec, &block.ctx, &job.progress(), &block.claim, &proof).unwrap();
    assert_eq!(
        verdict.reason,
        FraudReason::Label {
            step: u64::from(first_bad),
            label: 3
        }
    );
    assert_eq!(verdict.steps, proof.batches.len() as u64);
    // The sample forged: its dataset proof fails before its label counts.
    let mut wrong = proof.clone();
    let last = wrong.batches.last_mut().unwrap();
    let at = last.iter().position(|o| o.sample[0] == 3).unwrap();
    last[at].sample[1] ^= 1;
    assert!(matches!(
        check_fraud(&job, &block, &wrong),
        Err(Error::ProofMismatch {
            what: "dataset",
            ..
        })
    ));
    // A batch more after it, or the proof cut before it: refused.
    let mut wrong = proof.clone();
    wrong.batches.push(proof.batches[0].clone());
    assert!(matches!(
        check_fraud(&job, &block, &wrong),
        Err(Error::BatchCount { .. } | Error::Label { .. })
    ));
    if proof.batches.len() > 1 {
        let mut wrong = proof.clone();
        wrong.batches.pop();
        assert!(matches!(
            check_fraud(&job, &block, &wrong),
            Err(Error::BatchCount { .. })
        ));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Random jumps (position, size) that the spot checks miss are always
    /// caught, in the segment that holds them.
    #[test]
    fn every_planted_jump_is_caught_in_its_segment(j in 1u32..40, delta in 1i16..200) {
        let job = Job::new();
        let honest = mine(&job, 16, 45, None);
        let plant = planted(&job, &honest.weights[j as usize], delta);
        prop_assume!(plant != honest.weights[j as usize]);
        let block = mine(&job, 16, 45, Some((j, &plant)));
        let Audit::Fraud(proof) = audit(&job, &block) else {
            panic!("jump at {j} missed");
        };
        prop_assert_eq!(proof.segment, j);
        prop_assert!(check_fraud(&job, &block, &proof).is_ok());
    }
}
