//! Tampered and forged trajectory proofs: verification never panics, and
//! never accepts anything but the honest proof.
//!
//! A small job (model 12-6-3, batch 16, 50 samples) and an honest mined
//! trajectory with its proof are built once. Each input is one of:
//!
//! * `Edit`: a list of edits (weights byte or length, sample byte, length,
//!   count, order or replacement, Merkle sibling byte or count, step index,
//!   step count or order, claim fields) applied to a clone of the honest
//!   proof and claim;
//! * `Scale`, `ScaleClaim`: a `TrajectoryProof` (or a claim and a proof)
//!   SCALE-decoded from arbitrary bytes;
//! * `ScalePatch`: the honest proof's SCALE encoding with bytes overwritten
//!   and truncated, then decoded;
//! * `Forge`: an honest trajectory of 1–6 steps from arbitrary (in-range)
//!   start weights and job step, so the step runs on adversarial weights;
//!   it must verify unless one of its steps is degenerate (docs/puzzle.md
//!   §9: then it must not), and then the edits are applied to it.
//!
//! Every case runs `verify_trajectory` and `verify_step` on each opened
//! step. Besides not panicking, they must be sound: whatever verifies is
//! the honest proof (per step: the honest weights of that step, leading to
//! the honest next weights).

#![no_main]

use std::sync::LazyLock;

use arbitrary::Arbitrary;
use codec::{Decode, Encode};
use libfuzzer_sys::fuzz_target;
use upow_puzzle::{
    rounding::MASTER_MAX, Dataset, MerkleProof, StepProof, TrajectoryClaim, TrajectoryContext,
    TrajectoryProof, Weights,
};
use upow_fuzz::{check, mine, Fixture, Honest};

/// The job, its dataset and the honest trajectory every input is checked
/// against.
static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    Fixture::new(TrajectoryContext {
        parent: [7; 32],
        author: [8; 32],
        job: 3,
        salt: 0,
    })
});

/// Which Merkle proof an edit touches.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Which {
    Start,
    Before,
    After,
    Sample(u8),
}

/// One change to a proof or claim. `step` picks `steps[step % len]`.
#[derive(Arbitrary, Debug)]
enum Edit {
    WeightsByte {
        step: u8,
        offset: u16,
        value: u8,
    },
    WeightsLen {
        step: u8,
        len: u16,
    },
    SampleByte {
        step: u8,
        sample: u8,
        offset: u16,
        value: u8,
    },
    SampleLen {
        step: u8,
        sample: u8,
        len: u16,
    },
    SampleCount {
        step: u8,
        len: u8,
    },
    SampleSwap {
        step: u8,
        a: u8,
        b: u8,
    },
    /// A genuine opening of another dataset index.
    SampleReplace {
        step: u8,
        sample: u8,
        index: u16,
    },
    SiblingByte {
        step: u8,
        which: Which,
        sibling: u8,
        byte: u8,
        value: u8,
    },
    SiblingCount {
        step: u8,
        which: Which,
        len: u8,
    },
    Index {
        step: u8,
        index: u32,
    },
    StepCount {
        len: u8,
    },
    StepSwap {
        a: u8,
        b: u8,
    },
    ClaimSteps {
        steps: u32,
    },
    ClaimRootByte {
        byte: u8,
        value: u8,
    },
    ClaimFinalByte {
        byte: u8,
        value: u8,
    },
}

#[derive(Arbitrary, Debug)]
enum Input {
    Edit(Vec<Edit>),
    Scale(Vec<u8>),
    ScaleClaim(Vec<u8>),
    ScalePatch {
        patches: Vec<(u16, u8)>,
        truncate: Option<u16>,
    },
    Forge {
        start: Vec<i16>,
        steps: u8,
        first_step: u64,
        author: u8,
        edits: Vec<Edit>,
    },
}

fn pick<T>(items: &mut [T], i: u8) -> Option<&mut T> {
    let len = items.len();
    (len > 0).then(|| &mut items[i as usize % len])
}

/// Resizes to `len`: truncates, or repeats the last element (or `fill`).
fn resize<T: Clone>(items: &mut Vec<T>, len: usize, fill: T) {
    let last = items.last().cloned().unwrap_or(fill);
    items.resize(len, last);
}

/// The Merkle proof `which` of step `step` (or the start proof).
fn merkle(proof: &mut TrajectoryProof, step: u8, which: Which) -> Option<&mut MerkleProof> {
    if let Which::Start = which {
        return Some(&mut proof.start);
    }
    let s: &mut StepProof = pick(&mut proof.steps, step)?;
    match which {
        Which::Start => None,
        Which::Before => Some(&mut s.before),
        Which::After => Some(&mut s.after),
        Which::Sample(k) => pick(&mut s.samples, k).map(|o| &mut o.proof),
    }
}

fn apply(dataset: &Dataset, claim: &mut TrajectoryClaim, proof: &mut TrajectoryProof, edit: &Edit) {
    match *edit {
        Edit::WeightsByte {
            step,
            offset,
            value,
        } => {
            if let Some(s) = pick(&mut proof.steps, step) {
                let len = s.weights.len();
                if len > 0 {
                    s.weights[offset as usize % len] = value;
                }
            }
        }
        Edit::WeightsLen { step, len } => {
            if let Some(s) = pick(&mut proof.steps, step) {
                s.weights.resize(len as usize % 1024, 0);
            }
        }
        Edit::SampleByte {
            step,
            sample,
            offset,
            value,
        } => {
            if let Some(o) = pick(&mut proof.steps, step).and_then(|s| pick(&mut s.samples, sample))
            {
                let len = o.sample.len();
                if len > 0 {
                    o.sample[offset as usize % len] = value;
                }
            }
        }
        Edit::SampleLen { step, sample, len } => {
            if let Some(o) = pick(&mut proof.steps, step).and_then(|s| pick(&mut s.samples, sample))
            {
                o.sample.resize(len as usize % 64, 0);
            }
        }
        Edit::SampleCount { step, len } => {
            if let Some(s) = pick(&mut proof.steps, step) {
                let fill = dataset.open(0).expect("sample 0");
                resize(&mut s.samples, len as usize % 16, fill);
            }
        }
        Edit::SampleSwap { step, a, b } => {
            if let Some(s) = pick(&mut proof.steps, step) {
                let len = s.samples.len();
                if len > 0 {
                    s.samples.swap(a as usize % len, b as usize % len);
                }
            }
        }
        Edit::SampleReplace {
            step,
            sample,
            index,
        } => {
            if let Some(o) = pick(&mut proof.steps, step).and_then(|s| pick(&mut s.samples, sample))
            {
                *o = dataset
                    .open(index as u64 % dataset.len() as u64)
                    .expect("in range");
            }
        }
        Edit::SiblingByte {
            step,
            which,
            sibling,
            byte,
            value,
        } => {
            if let Some(hash) =
                merkle(proof, step, which).and_then(|m| pick(&mut m.siblings, sibling))
            {
                hash[byte as usize % 32] = value;
            }
        }
        Edit::SiblingCount { step, which, len } => {
            if let Some(m) = merkle(proof, step, which) {
                resize(&mut m.siblings, len as usize % 40, [0; 32]);
            }
        }
        Edit::Index { step, index } => {
            if let Some(s) = pick(&mut proof.steps, step) {
                s.index = index;
            }
        }
        Edit::StepCount { len } => {
            let fill = proof.steps.first().cloned();
            if let Some(fill) = fill {
                resize(&mut proof.steps, len as usize % 8, fill);
            } else {
                proof.steps.clear();
            }
        }
        Edit::StepSwap { a, b } => {
            let len = proof.steps.len();
            if len > 0 {
                proof.steps.swap(a as usize % len, b as usize % len);
            }
        }
        Edit::ClaimSteps { steps } => claim.steps = steps,
        Edit::ClaimRootByte { byte, value } => claim.root[byte as usize % 32] = value,
        Edit::ClaimFinalByte { byte, value } => claim.final_weights[byte as usize % 32] = value,
    }
}

fn forge(fixture: &Fixture, start: &[i16], steps: u8, first_step: u64, author: u8) -> Honest {
    let model = &fixture.job.model;
    let layers = (0..model.layers())
        .scan(0usize, |offset, l| {
            let (r, c) = model.shape(l);
            let layer: Vec<i16> = (0..r * c)
                .map(|i| {
                    let v = if start.is_empty() {
                        0
                    } else {
                        start[(*offset + i) % start.len()]
                    };
                    v.clamp(-MASTER_MAX, MASTER_MAX)
                })
                .collect();
            *offset += r * c;
            Some(layer)
        })
        .collect();
    let start = Weights::from_layers(model, layers).expect("in-range weights");
    let ctx = TrajectoryContext {
        author: [author; 32],
        ..fixture.honest.ctx
    };
    // The miner's own step counter must not overflow either.
    let first_step = first_step.min(u64::MAX - 8);
    mine(
        &fixture.job,
        &fixture.dataset,
        ctx,
        start,
        first_step,
        1,
        1 + steps as u32 % 6,
    )
}

fuzz_target!(|input: Input| {
    let fixture = &*FIXTURE;
    match input {
        Input::Edit(edits) => {
            let honest = &fixture.honest;
            let (mut claim, mut proof) = (honest.claim, honest.proof.clone());
            for edit in &edits {
                apply(&fixture.dataset, &mut claim, &mut proof, edit);
            }
            check(fixture, honest, &claim, &proof, false);
        }
        Input::Scale(bytes) => {
            if let Ok(proof) = TrajectoryProof::decode(&mut &bytes[..]) {
                check(
                    fixture,
                    &fixture.honest,
                    &fixture.honest.claim,
                    &proof,
                    false,
                );
            }
        }
        Input::ScaleClaim(bytes) => {
            if let Ok((claim, proof)) =
                <(TrajectoryClaim, TrajectoryProof)>::decode(&mut &bytes[..])
            {
                let easy = Honest {
                    difficulty: 1,
                    ..fixture.honest.clone()
                };
                check(fixture, &easy, &claim, &proof, false);
            }
        }
        Input::ScalePatch { patches, truncate } => {
            let mut bytes = fixture.honest.proof.encode();
            for (offset, value) in patches {
                let len = bytes.len();
                bytes[offset as usize % len] = value;
            }
            if let Some(len) = truncate {
                bytes.truncate(len as usize);
            }
            if let Ok(proof) = TrajectoryProof::decode(&mut &bytes[..]) {
                check(
                    fixture,
                    &fixture.honest,
                    &fixture.honest.claim,
                    &proof,
                    false,
                );
            }
        }
        Input::Forge {
            start,
            steps,
            first_step,
            author,
            edits,
        } => {
            let honest = forge(fixture, &start, steps, first_step, author);
            // Honest work verifies, unless the fuzzer's weights made a step
            // degenerate (then its proof may be refused).
            check(
                fixture,
                &honest,
                &honest.claim,
                &honest.proof,
                !honest.degenerate,
            );
            if !edits.is_empty() {
                let (mut claim, mut proof) = (honest.claim, honest.proof.clone());
                for edit in &edits {
                    apply(&fixture.dataset, &mut claim, &mut proof, edit);
                }
                check(fixture, &honest, &claim, &proof, false);
            }
        }
    }
});
