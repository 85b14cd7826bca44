//! `upow-miner mine`: mines a upow chain through a node's JSON-RPC.
//!
//! * [`coordinator`]: the connection (WebSocket, reconnecting with capped
//!   exponential backoff), new best blocks from `chain_subscribeNewHeads`,
//!   work preparation and submissions (`upow_submitWork`, sign, `upow_submitSeal`);
//! * [`client`]: the RPC calls (the `UpowApiClient` of `upow_primitives::rpc`);
//! * [`store`]: the local RocksDB cache of weights and datasets, checked
//!   against their hashes on every read;
//! * [`work`]: the work board and one mining thread per device;
//! * [`keys`]: author keys, one per device (see there why);
//! * [`metrics`]: Prometheus counters and the `/metrics` endpoint;
//! * [`ui`]: the live terminal view or JSON event lines.
//!
//! Guide for rig owners: docs/mining.md.

pub mod client;
pub mod coordinator;
pub mod keys;
pub mod metrics;
pub mod store;
pub mod ui;
pub mod work;

use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use tokio::sync::{mpsc, Notify};

use crate::{backend::BackendKind, error::MinerError};
use keys::AuthorKey;

/// Default memory for one device's checkpoints.
pub const DEFAULT_CHECKPOINT_MEMORY: usize = 512 << 20;

/// Everything that can stop the miner or a device.
#[derive(Debug, thiserror::Error)]
pub enum MineError {
    /// An RPC call failed.
    #[error(transparent)]
    Rpc(#[from] client::RpcError),
    /// The local cache failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// A key problem.
    #[error(transparent)]
    Key(#[from] keys::KeyError),
    /// The metrics registry failed.
    #[error(transparent)]
    Metrics(#[from] metrics::MetricsError),
    /// A puzzle rule failed (bad weights, dataset, proof).
    #[error(transparent)]
    Puzzle(#[from] upow_puzzle::Error),
    /// A backend failed.
    #[error(transparent)]
    Backend(#[from] MinerError),
    /// The node's work is unusable (undecodable spec, mismatched data).
    #[error("invalid work: {0}")]
    InvalidWork(String),
    /// A device's proof failed the miner's own verification: the device
    /// (or its backend) computes wrong steps; nothing was submitted.
    #[error("{device}: self-check failed: {reason}")]
    SelfCheck {
        /// The device.
        device: String,
        /// What failed.
        reason: String,
    },
    /// A bad setting.
    #[error("{0}")]
    Config(String),
    /// An I/O failure (binding the metrics port, starting a thread).
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// A background task failed.
    #[error("background task: {0}")]
    Task(String),
}

/// A stop signal shared by the async tasks and the device threads.
#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    inner: Arc<ShutdownInner>,
}

#[derive(Debug, Default)]
struct ShutdownInner {
    flag: AtomicBool,
    notify: Notify,
}

impl Shutdown {
    /// A signal not yet triggered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Triggers it (idempotent).
    pub fn trigger(&self) {
        self.inner.flag.store(true, Ordering::Release);
        self.inner.notify.notify_waiters();
    }

    /// Whether it was triggered.
    pub fn is_triggered(&self) -> bool {
        self.inner.flag.load(Ordering::Acquire)
    }

    /// Resolves once triggered.
    pub async fn wait(&self) {
        loop {
            let notified = self.inner.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_triggered() {
                return;
            }
            notified.await;
        }
    }

    /// Sleeps up to `duration` on a thread, waking early on the signal;
    /// `false` if it was triggered.
    pub fn sleep(&self, duration: Duration) -> bool {
        let end = Instant::now() + duration;
        loop {
            if self.is_triggered() {
                return false;
            }
            let now = Instant::now();
            if now >= end {
                return true;
            }
            std::thread::sleep((end - now).min(Duration::from_millis(50)));
        }
    }

    /// Triggers on Ctrl-C (SIGINT) or SIGTERM. Call inside a tokio runtime.
    pub fn trigger_on_signals(&self) {
        let shutdown = self.clone();
        tokio::spawn(async move {
            #[cfg(unix)]
            {
                use tokio::signal::unix::{signal, SignalKind};
                match signal(SignalKind::terminate()) {
                    Ok(mut term) => {
                        tokio::select! {
                            _ = tokio::signal::ctrl_c() => {}
                            _ = term.recv() => {}
                        }
                    }
                    Err(e) => {
                        tracing::warn!("cannot listen for SIGTERM: {e}");
                        let _ = tokio::signal::ctrl_c().await;
                    }
                }
            }
            #[cfg(not(unix))]
            {
                let _ = tokio::signal::ctrl_c().await;
            }
            tracing::info!("stopping…");
            shutdown.trigger();
        });
    }
}

/// What `upow-miner mine` runs.
#[derive(Debug)]
pub struct MineConfig {
    /// The node (`ws://host:port`; `http://` is turned into `ws://`).
    pub node: String,
    /// The backend of every device.
    pub backend: BackendKind,
    /// Device numbers (GPU indices for CUDA; labels for the CPU backends).
    pub devices: Vec<usize>,
    /// One author key per device, in order.
    pub keys: Vec<AuthorKey>,
    /// Cache directory.
    pub data_dir: PathBuf,
    /// Where to serve Prometheus metrics.
    pub metrics: Option<SocketAddr>,
    /// Terminal or JSON.
    pub view: ui::ViewMode,
    /// Fixed checkpoint interval (`None`: from the difficulty).
    pub checkpoint_interval: Option<u32>,
    /// Checkpoint memory per device, bytes.
    pub checkpoint_memory: usize,
    /// Longest pause between reconnection attempts.
    pub max_backoff: Duration,
}

impl MineConfig {
    /// The label of device position `i` ("cpu#0", "cuda:1").
    pub fn device_label(&self, i: usize) -> String {
        let n = self.devices.get(i).copied().unwrap_or(i);
        match self.backend {
            BackendKind::Cuda => format!("cuda:{n}"),
            other => format!("{}#{n}", other.as_str()),
        }
    }
}

/// The default cache directory: `$XDG_DATA_HOME/upow-miner` or
/// `~/.local/share/upow-miner`.
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("upow-miner");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
    PathBuf::from(home).join(".local/share/upow-miner")
}

/// Mines until `shutdown` triggers; returns the totals.
pub async fn run(config: MineConfig, shutdown: Shutdown) -> Result<ui::Totals, MineError> {
    let devices = config.devices.len();
    if devices == 0 {
        return Err(MineError::Config("no devices".into()));
    }
    if config.keys.len() != devices {
        return Err(keys::KeyError::Count {
            keys: config.keys.len(),
            devices,
        }
        .into());
    }
    let labels: Vec<String> = (0..devices).map(|i| config.device_label(i)).collect();
    let metrics = Arc::new(metrics::Metrics::new(&labels)?);
    std::fs::create_dir_all(&config.data_dir).map_err(|source| MineError::Io {
        what: format!("creating {}", config.data_dir.display()),
        source,
    })?;
    let store = Arc::new(store::Store::open(&config.data_dir.join("cache"))?);

    let metrics_server = match config.metrics {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| MineError::Io {
                    what: format!("binding the metrics endpoint {addr}"),
                    source,
                })?;
            Some(tokio::spawn(metrics::serve(
                listener,
                metrics.clone(),
                shutdown.clone(),
            )))
        }
        None => None,
    };

    let (events, events_rx) = ui::channel();
    let stats: Vec<Arc<ui::DeviceStats>> = (0..devices)
        .map(|_| Arc::new(ui::DeviceStats::default()))
        .collect();
    let view = tokio::spawn(ui::run_view(
        config.view.clone(),
        events_rx,
        stats.clone(),
        metrics.clone(),
    ));
    events.emit(ui::Event::Started {
        node: client::websocket_url(&config.node),
        backend: config.backend.as_str().into(),
        devices: (0..devices)
            .map(|i| ui::DeviceInfo {
                device: i,
                label: labels[i].clone(),
                author: config.keys[i].ss58(),
            })
            .collect(),
        data_dir: config.data_dir.display().to_string(),
        metrics: config.metrics.map(|a| a.to_string()),
    });

    let board = Arc::new(work::WorkBoard::new());
    let admitted: Vec<Arc<AtomicBool>> = (0..devices)
        .map(|_| Arc::new(AtomicBool::new(true)))
        .collect();
    let (found_tx, found_rx) = mpsc::unbounded_channel();
    let mut threads = Vec::new();
    for i in 0..devices {
        let device = work::Device {
            index: i,
            ordinal: config.devices[i],
            kind: config.backend,
            label: labels[i].clone(),
            author: config.keys[i].public(),
            checkpoint_interval: config.checkpoint_interval,
            checkpoint_memory: config.checkpoint_memory,
        };
        let link = work::DeviceLink {
            board: board.clone(),
            found: found_tx.clone(),
            shutdown: shutdown.clone(),
            stats: stats[i].clone(),
            metrics: metrics.device(i),
            events: events.clone(),
            admitted: admitted[i].clone(),
        };
        match work::spawn(device, link) {
            Ok(handle) => threads.push(handle),
            Err(source) => {
                shutdown.trigger();
                return Err(MineError::Io {
                    what: format!("starting the thread of {}", labels[i]),
                    source,
                });
            }
        }
    }
    drop(found_tx);

    coordinator::Coordinator {
        node: config.node.clone(),
        keys: config.keys.clone(),
        admitted,
        board,
        store,
        metrics,
        events: events.clone(),
        shutdown: shutdown.clone(),
        found: found_rx,
        max_backoff: config.max_backoff,
    }
    .run()
    .await;

    shutdown.trigger();
    let joined = tokio::task::spawn_blocking(move || {
        for thread in threads {
            let _ = thread.join();
        }
    });
    if tokio::time::timeout(Duration::from_secs(10), joined)
        .await
        .is_err()
    {
        tracing::warn!("a device did not stop within 10 s");
    }
    if let Some(server) = metrics_server {
        let _ = server.await;
    }
    // The view fills in its totals.
    events.emit(ui::Event::Stopped {
        found: 0,
        accepted: 0,
        rejected: 0,
    });
    drop(events);
    view.await.map_err(|e| MineError::Task(e.to_string()))
}
