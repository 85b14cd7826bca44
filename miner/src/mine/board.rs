//! The work board: the current work, shared by the coordinator and the
//! device threads.
//!
//! The coordinator publishes each new piece of work ([`PreparedWork`]) on
//! the [`WorkBoard`] under a new *generation*; a device checks after every
//! step that the generation it mines is still current (one atomic load), so
//! a new best block switches all devices within one step. [`WorkKey`] says
//! when the node's work is new.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Condvar, Mutex,
    },
    time::Duration,
};

use upow_primitives::{rpc::WorkResponse, JobId};
use upow_puzzle::{Dataset, Hash, JobSpec, Liveness, Weights};

use super::client::{rpc_u128, RpcError};

/// Work ready to mine: the node's work with its weights and dataset.
#[derive(Clone, Debug)]
pub struct PreparedWork {
    /// Set by [`WorkBoard::publish`].
    pub generation: u64,
    /// The parent block.
    pub parent: Hash,
    /// The parent's number.
    pub number: u32,
    /// The job.
    pub job: JobId,
    /// Its spec.
    pub spec: JobSpec,
    /// Its workload's liveness threshold: what every proven step must pass.
    pub liveness: Liveness,
    /// Its training set (verified against the spec's commitment).
    pub dataset: Arc<Dataset>,
    /// `W_0` (verified against `weights_hash`).
    pub weights: Weights,
    /// `H(W_0)`.
    pub weights_hash: Hash,
    /// Steps the job already has.
    pub steps: u64,
    /// The difficulty to meet.
    pub difficulty: u128,
}

impl PreparedWork {
    /// What identifies this work.
    pub fn key(&self) -> WorkKey {
        WorkKey {
            parent: self.parent,
            job: self.job,
            weights: self.weights_hash,
            steps: self.steps,
            difficulty: self.difficulty,
        }
    }
}

/// What makes two pieces of work the same: a miner switches exactly when
/// this changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkKey {
    /// Parent block.
    pub parent: Hash,
    /// Job.
    pub job: JobId,
    /// Start weights.
    pub weights: Hash,
    /// Job steps.
    pub steps: u64,
    /// Difficulty.
    pub difficulty: u128,
}

impl WorkKey {
    /// The key of the node's work (an error if its difficulty does not
    /// fit in 128 bits).
    pub fn of(work: &WorkResponse) -> Result<Self, RpcError> {
        Ok(Self {
            parent: work.parent.0,
            job: work.job,
            weights: work.weights.0,
            steps: work.steps,
            difficulty: rpc_u128("upow_getWork", "difficulty", work.difficulty)?,
        })
    }
}

#[derive(Default)]
struct BoardState {
    work: Option<Arc<PreparedWork>>,
}

/// The current work, shared by the coordinator and the device threads.
#[derive(Default)]
pub struct WorkBoard {
    state: Mutex<BoardState>,
    changed: Condvar,
    generation: AtomicU64,
}

impl WorkBoard {
    /// An empty board (generation 0, no work).
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BoardState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current generation.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Whether `generation` is still the current one.
    pub fn is_current(&self, generation: u64) -> bool {
        self.generation() == generation
    }

    /// The current work.
    pub fn current(&self) -> Option<Arc<PreparedWork>> {
        self.lock().work.clone()
    }

    /// Whether the node's work `key` differs from the current work (then it
    /// must be prepared and published).
    pub fn is_new(&self, key: &WorkKey) -> bool {
        self.lock().work.as_ref().map(|w| w.key()) != Some(*key)
    }

    /// Publishes new work under a new generation (returned); every device
    /// drops what it was doing.
    pub fn publish(&self, mut work: PreparedWork) -> u64 {
        let mut state = self.lock();
        let generation = self.generation() + 1;
        work.generation = generation;
        state.work = Some(Arc::new(work));
        self.generation.store(generation, Ordering::Release);
        self.changed.notify_all();
        generation
    }

    /// Withdraws the work (the node has none): devices idle.
    pub fn clear(&self) {
        let mut state = self.lock();
        if state.work.take().is_some() {
            self.generation.fetch_add(1, Ordering::AcqRel);
            self.changed.notify_all();
        }
    }

    /// The current work if its generation is above `done`, waiting up to
    /// `timeout` for one.
    pub fn wait_newer(&self, done: u64, timeout: Duration) -> Option<Arc<PreparedWork>> {
        let state = self.lock();
        let ready = |s: &mut BoardState| !matches!(&s.work, Some(w) if w.generation > done);
        let (state, _) = self
            .changed
            .wait_timeout_while(state, timeout, ready)
            .unwrap_or_else(|e| e.into_inner());
        state.work.clone().filter(|w| w.generation > done)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use upow_puzzle::{Hyperparams, Model};

    /// A tiny job: its spec, dataset and start weights.
    pub(in crate::mine) fn job() -> (JobSpec, Arc<Dataset>, Weights) {
        let model = Model::new(&[8, 6, 3]).unwrap();
        let labels: Vec<u8> = (0..40).map(|i| (i % 3) as u8).collect();
        let pixels: Vec<u8> = (0..40 * 8).map(|i| (i * 53 % 256) as u8).collect();
        let dataset = Dataset::new(8, &labels, &pixels).unwrap();
        let hyper = Hyperparams::new(4, 2, 1000).unwrap();
        let spec = JobSpec::new(model.clone(), hyper, dataset.commitment()).unwrap();
        let weights = Weights::initial(&model, &[3; 32]);
        (spec, Arc::new(dataset), weights)
    }

    /// Work of [`job`] on parent `[parent; 32]` at `difficulty`.
    pub(in crate::mine) fn work(parent: u8, difficulty: u128) -> PreparedWork {
        let (spec, dataset, weights) = job();
        PreparedWork {
            generation: 0,
            parent: [parent; 32],
            number: parent as u32,
            job: 0,
            spec,
            liveness: Liveness::MINIMUM,
            dataset,
            weights_hash: weights.hash(),
            weights,
            steps: 10,
            difficulty,
        }
    }

    #[test]
    fn the_board_bumps_generations_and_wakes_waiters() {
        let board = Arc::new(WorkBoard::new());
        assert!(board.wait_newer(0, Duration::from_millis(10)).is_none());
        let w = work(1, 5);
        assert!(board.is_new(&w.key()));
        let g1 = board.publish(w.clone());
        assert!(!board.is_new(&w.key()));
        assert!(board.is_current(g1));
        assert_eq!(board.wait_newer(0, Duration::ZERO).unwrap().generation, g1);
        assert!(board.wait_newer(g1, Duration::from_millis(10)).is_none());

        // A waiter is woken by a publish.
        let b = board.clone();
        let waiter = std::thread::spawn(move || b.wait_newer(g1, Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(50));
        let g2 = board.publish(work(2, 5));
        assert_eq!(waiter.join().unwrap().unwrap().generation, g2);
        assert!(!board.is_current(g1));

        // Same parent, other difficulty: new work.
        let mut other = w.clone();
        other.difficulty = 6;
        assert!(board.is_new(&other.key()));

        board.clear();
        assert!(!board.is_current(g2));
        assert!(board.current().is_none());
        let g = board.generation();
        board.clear();
        assert_eq!(board.generation(), g, "clearing nothing changes nothing");
    }
}
