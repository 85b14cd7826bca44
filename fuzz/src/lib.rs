//! What the fuzz targets share: a small job with an honest mined trajectory
//! ([`Fixture`]), the soundness check every verification in a target goes
//! through ([`check`]), and the honest chain objects built around such a
//! trajectory ([`chain::Chain`]: a signed `upow_submitWork` payload, a
//! sealed header, the inherent extrinsic), which the `seal`, `inherent` and
//! `rpc_payloads` targets tamper with.

use std::sync::LazyLock;

use upow_puzzle::{
    batch_indices, max_steps, validate_step, verify_step, verify_trajectory, Batch, Dataset,
    Hyperparams, JobProgress, JobSpec, Liveness, Model, TrainingStep, Trajectory, TrajectoryClaim,
    TrajectoryContext, TrajectoryProof, Weights, STEP_BOUND,
};

pub mod chain;

/// Difficulty of the fixture's trajectory (so that it has several steps).
pub const DIFFICULTY: u128 = 4;
/// Steps the job had before the fixture's trajectory.
pub const FIRST_STEP: u64 = 40;

/// An honest trajectory and everything needed to verify it.
#[derive(Clone)]
pub struct Honest {
    /// Its context (parent, author, job, salt).
    pub ctx: TrajectoryContext,
    /// The job's progress it starts from.
    pub progress: JobProgress,
    /// The difficulty it was mined at.
    pub difficulty: u128,
    /// `W_0 … W_n`.
    pub weights: Vec<Weights>,
    /// Its claim.
    pub claim: TrajectoryClaim,
    /// Its proof.
    pub proof: TrajectoryProof,
    /// Whether a step of the trajectory breaks the degeneracy rule.
    pub degenerate: bool,
}

/// A job (model 12-6-3, batch 4, 50 samples), its dataset and an honest
/// trajectory of it.
pub struct Fixture {
    /// The job.
    pub job: JobSpec,
    /// Its dataset.
    pub dataset: Dataset,
    /// The honest trajectory.
    pub honest: Honest,
}

impl Fixture {
    /// The job and an honest trajectory mined in `ctx` from step
    /// [`FIRST_STEP`] at [`DIFFICULTY`], with at least three steps; checked
    /// to verify.
    pub fn new(ctx: TrajectoryContext) -> Self {
        let model = Model::new(&[12, 6, 3]).expect("model");
        let hyper = Hyperparams::new(4, 2, 1000).expect("hyper-parameters");
        let dataset = dataset(12, 50, 3);
        let job = JobSpec::new(model.clone(), hyper, dataset.commitment()).expect("job");
        let start = Weights::initial(&model, &[1; 32]);
        let honest = mine(&job, &dataset, ctx, start, FIRST_STEP, DIFFICULTY, 3);
        let fixture = Fixture {
            job,
            dataset,
            honest,
        };
        check(
            &fixture,
            &fixture.honest,
            &fixture.honest.claim,
            &fixture.honest.proof,
            true,
        );
        fixture
    }
}

fn dataset(inputs: u32, samples: usize, classes: u8) -> Dataset {
    let labels: Vec<u8> = (0..samples)
        .map(|i| (i * 7 % classes as usize) as u8)
        .collect();
    let pixels: Vec<u8> = (0..samples * inputs as usize)
        .map(|i| ((i * 31 + i / 7) % 256) as u8)
        .collect();
    Dataset::new(inputs, &labels, &pixels).expect("a valid dataset")
}

/// Mines from `start` until a ticket wins at `difficulty` (raised if need
/// be so that `min_steps` fits the step bound) with at least `min_steps`
/// steps, restarting with the next salt at the bound, and proves it.
pub fn mine(
    job: &JobSpec,
    dataset: &Dataset,
    ctx: TrajectoryContext,
    start: Weights,
    first_step: u64,
    difficulty: u128,
    min_steps: u32,
) -> Honest {
    let difficulty = difficulty.max(u128::from(min_steps.div_ceil(STEP_BOUND)));
    let step = TrainingStep::new(&job.model, &job.hyper);
    let mut trajectory = Trajectory::start(ctx, start.hash());
    let mut weights = vec![start.clone()];
    let mut degenerate = false;
    loop {
        if trajectory.steps() >= max_steps(difficulty) {
            let salt = trajectory.context().salt + 1;
            trajectory = Trajectory::start(TrajectoryContext { salt, ..ctx }, start.hash());
            weights.truncate(1);
            degenerate = false;
        }
        let current = weights.last().expect("W_0 at least");
        let seed = trajectory.next_seed();
        let indices = batch_indices(&seed, job.hyper.batch(), dataset.len() as u64);
        let samples = indices
            .iter()
            .map(|&i| dataset.sample(i as usize).expect("in range"));
        let batch = Batch::from_encoded(samples, &job.model).expect("a valid batch");
        let i = trajectory.steps() as u64;
        let outcome = step
            .run(current, &batch, &seed, first_step + i)
            .expect("a step");
        degenerate |= validate_step(&job.model, Liveness::MINIMUM, &outcome.stats).is_err();
        let ticket = trajectory.push(outcome.weights.hash());
        weights.push(outcome.weights);
        if trajectory.steps() >= min_steps && ticket.meets(difficulty) {
            break;
        }
    }
    let final_hash = weights.last().expect("W_n").hash();
    let claim = trajectory.claim(final_hash).expect("at least one step");
    let proof = trajectory
        .prove(&claim, job, dataset, |i| Ok(weights[i as usize].clone()))
        .expect("an honest proof");
    let progress = JobProgress {
        weights: weights[0].hash(),
        steps: first_step,
    };
    Honest {
        ctx: *trajectory.context(),
        progress,
        difficulty,
        weights,
        claim,
        proof,
        degenerate,
    }
}

/// With `UPOW_FUZZ_STATS` set, every verification's outcome goes to stderr
/// (replay a corpus with `-runs=0` to see which checks it reaches).
pub static STATS: LazyLock<bool> = LazyLock::new(|| std::env::var_os("UPOW_FUZZ_STATS").is_some());

/// Prints `upow-stats <what> <outcome>` when [`STATS`] is set.
pub fn stat(what: &str, outcome: &str) {
    if *STATS {
        eprintln!("upow-stats {what} {outcome}");
    }
}

/// The outcome's name: `ok` or the error variant.
pub fn outcome<T, E: std::fmt::Debug>(result: &Result<T, E>) -> String {
    match result {
        Ok(_) => "ok".into(),
        Err(e) => format!("{e:?}")
            .split([' ', '(', '{'])
            .next()
            .unwrap_or_default()
            .to_string(),
    }
}

/// Verifies `(claim, proof)` against the job, as a whole and step by step,
/// and checks soundness against the honest trajectory: whatever verifies
/// is the honest claim and proof (per step: the honest weights of its
/// index, leading to the honest next weights). `must_verify`: the input is
/// honest, so it has to verify. Returns whether the trajectory verified.
pub fn check(
    fixture: &Fixture,
    honest: &Honest,
    claim: &TrajectoryClaim,
    proof: &TrajectoryProof,
    must_verify: bool,
) -> bool {
    let job = &fixture.job;
    let result = verify_trajectory(
        job,
        Liveness::MINIMUM,
        &honest.ctx,
        &honest.progress,
        honest.difficulty,
        claim,
        proof,
    );
    stat("trajectory", &outcome(&result));
    if must_verify {
        assert!(result.is_ok(), "an honest trajectory failed: {result:?}");
    }
    if let Ok(verified) = &result {
        assert_eq!(claim, &honest.claim, "a tampered claim verified");
        assert_eq!(proof, &honest.proof, "a tampered proof verified");
        assert_eq!(
            verified.final_weights,
            honest.weights[claim.steps as usize].hash()
        );
    }
    for step in &proof.steps {
        let result = verify_step(
            job,
            Liveness::MINIMUM,
            &honest.ctx,
            claim,
            honest.progress.steps,
            step,
        );
        stat("step", &outcome(&result));
        if let (Ok(verified), true) = (&result, claim == &honest.claim) {
            let i = step.index as usize;
            assert_eq!(
                step.weights,
                honest.weights[i].encode(),
                "step {i} verified other weights"
            );
            assert_eq!(
                verified.after,
                honest.weights[i + 1].hash(),
                "step {i} led elsewhere"
            );
        }
    }
    result.is_ok()
}
