//! `upow-miner mine` as a whole: [`MineConfig`] and [`run`], which starts
//! the metrics endpoint, the view, one thread per device and the
//! coordinator, and stops them all on [`Shutdown`].

use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::{atomic::AtomicBool, Arc},
    time::Duration,
};

use tokio::sync::mpsc;

use super::{
    board, client, coordinator, device,
    error::MineError,
    events::{self, DeviceInfo, DeviceStats, Event},
    keys::{self, AuthorKey},
    metrics,
    shutdown::Shutdown,
    store,
    view::{self, Totals, ViewMode},
};
use crate::backend::BackendKind;
use upow_primitives::{signing::SigningRecord, JobId};

/// Default memory for one device's snapshots of its weights.
pub const DEFAULT_SNAPSHOT_MEMORY: usize = 512 << 20;

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
    pub view: ViewMode,
    /// Fixed snapshot interval (`None`: from the difficulty).
    pub snapshot_interval: Option<u32>,
    /// Snapshot memory per device, bytes.
    pub snapshot_memory: usize,
    /// Longest pause between reconnection attempts.
    pub max_backoff: Duration,
    /// The one job to mine (`None`: the node's pick).
    pub job: Option<JobId>,
    /// Other nodes to download a dataset from when `node` does not serve it.
    pub dataset_sources: Vec<String>,
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
pub async fn run(config: MineConfig, shutdown: Shutdown) -> Result<Totals, MineError> {
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
    let mut signing = SigningRecord::open(config.data_dir.join(store::SIGNING_RECORD))
        .map_err(store::StoreError::from)?;
    let moved = store.import_legacy_signatures(&mut signing)?;
    if moved > 0 {
        tracing::info!(
            "moved {moved} entries of the old signing record into {}",
            signing.path().display()
        );
    }

    let metrics_server = match config.metrics {
        Some(addr) => Some(metrics::spawn_server(addr, metrics.clone(), shutdown.clone()).await?),
        None => None,
    };

    let (events, events_rx) = events::channel();
    let stats: Vec<Arc<DeviceStats>> = (0..devices)
        .map(|_| Arc::new(DeviceStats::default()))
        .collect();
    let view = tokio::spawn(view::run_view(
        config.view.clone(),
        events_rx,
        stats.clone(),
        metrics.clone(),
    ));
    events.emit(Event::Started {
        node: client::websocket_url(&config.node),
        backend: config.backend,
        devices: (0..devices)
            .map(|i| DeviceInfo {
                device: i,
                label: labels[i].clone(),
                author: config.keys[i].ss58(),
            })
            .collect(),
        data_dir: config.data_dir.display().to_string(),
        metrics: config.metrics.map(|a| a.to_string()),
    });

    let board = Arc::new(board::WorkBoard::new());
    let admitted: Vec<Arc<AtomicBool>> = (0..devices)
        .map(|_| Arc::new(AtomicBool::new(true)))
        .collect();
    let (found_tx, found_rx) = mpsc::unbounded_channel();
    let mut threads = Vec::new();
    for i in 0..devices {
        let device = device::Device {
            index: i,
            ordinal: config.devices[i],
            kind: config.backend,
            label: labels[i].clone(),
            author: config.keys[i].public(),
            snapshot_interval: config.snapshot_interval,
            snapshot_memory: config.snapshot_memory,
        };
        let link = device::DeviceLink {
            board: board.clone(),
            found: found_tx.clone(),
            shutdown: shutdown.clone(),
            stats: stats[i].clone(),
            metrics: metrics.device(i),
            events: events.clone(),
            admitted: admitted[i].clone(),
        };
        match device::spawn(device, link) {
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
        signing,
        metrics,
        events: events.clone(),
        shutdown: shutdown.clone(),
        found: found_rx,
        max_backoff: config.max_backoff,
        job: config.job,
        dataset_sources: config.dataset_sources.clone(),
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
    events.emit(Event::Stopped {
        found: 0,
        accepted: 0,
        rejected: 0,
    });
    drop(events);
    view.await.map_err(|e| MineError::Task(e.to_string()))
}
