//! Prometheus metrics of the miner, and the tiny HTTP endpoint that serves
//! them (`--metrics ADDR`, path `/metrics`).

use std::{sync::Arc, time::Duration};

use prometheus::{
    Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    Opts, Registry, TextEncoder,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

use super::shutdown::Shutdown;

/// Why the metrics could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("metrics: {0}")]
pub struct MetricsError(#[from] prometheus::Error);

/// Counters of one device (cheap to bump from its mining thread).
#[derive(Clone, Debug)]
pub struct DeviceMetrics {
    /// Training steps run.
    pub steps: IntCounter,
    /// Tickets checked against the difficulty (one per step).
    pub tickets: IntCounter,
    /// Winning tickets found.
    pub found: IntCounter,
    /// Failures (backend errors, panics, self-check failures).
    pub failures: IntCounter,
}

/// Every metric the miner exports (names prefixed `upow_miner_`).
pub struct Metrics {
    registry: Registry,
    devices: Vec<String>,
    steps: IntCounterVec,
    tickets: IntCounterVec,
    found: IntCounterVec,
    failures: IntCounterVec,
    accepted: IntCounterVec,
    rejected: IntCounterVec,
    stale: IntCounterVec,
    steps_per_second: GaugeVec,
    rpc_latency: HistogramVec,
    rpc_errors: IntCounterVec,
    /// Successful (re)connections to the node.
    pub connections: IntCounter,
    /// 1 while connected to the node.
    pub connected: IntGauge,
    /// Number of the block being mined on (the parent).
    pub best_block: IntGauge,
    /// Difficulty of the work.
    pub difficulty: Gauge,
    /// Id of the job being trained.
    pub job: IntGauge,
    /// Cache entries found corrupt (discarded and fetched again).
    pub cache_corrupt: IntCounter,
}

impl Metrics {
    /// Metrics for devices labelled `devices` (e.g. `cuda:0`).
    pub fn new(devices: &[String]) -> Result<Self, MetricsError> {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| -> Result<_, MetricsError> {
            let c = IntCounterVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let device = &["device"];
        let steps = counter("upow_miner_steps_total", "Training steps run.", device)?;
        let tickets = counter(
            "upow_miner_tickets_total",
            "Tickets checked against the difficulty (one per step).",
            device,
        )?;
        let found = counter(
            "upow_miner_blocks_found_total",
            "Winning tickets found.",
            device,
        )?;
        let failures = counter(
            "upow_miner_device_failures_total",
            "Device failures (backend errors, panics, failed self-checks).",
            device,
        )?;
        let accepted = counter(
            "upow_miner_blocks_accepted_total",
            "Blocks the node accepted and imported.",
            device,
        )?;
        let rejected = counter(
            "upow_miner_blocks_rejected_total",
            "Submissions the node rejected, by JSON-RPC error code.",
            &["device", "code"],
        )?;
        let stale = counter(
            "upow_miner_blocks_stale_total",
            "Winning tickets dropped unsubmitted: a new best block came first.",
            device,
        )?;
        let rpc_errors = counter(
            "upow_miner_rpc_errors_total",
            "Failed RPC calls, by method.",
            &["method"],
        )?;
        let steps_per_second = GaugeVec::new(
            Opts::new("upow_miner_steps_per_second", "Recent training speed."),
            device,
        )?;
        registry.register(Box::new(steps_per_second.clone()))?;
        let rpc_latency = HistogramVec::new(
            HistogramOpts::new("upow_miner_rpc_latency_seconds", "RPC call latency.").buckets(
                vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ],
            ),
            &["method"],
        )?;
        registry.register(Box::new(rpc_latency.clone()))?;
        let connections = IntCounter::new(
            "upow_miner_connections_total",
            "Successful (re)connections to the node.",
        )?;
        registry.register(Box::new(connections.clone()))?;
        let connected = IntGauge::new("upow_miner_connected", "1 while connected to the node.")?;
        registry.register(Box::new(connected.clone()))?;
        let best_block = IntGauge::new(
            "upow_miner_best_block",
            "Number of the block mined on (the parent).",
        )?;
        registry.register(Box::new(best_block.clone()))?;
        let difficulty = Gauge::new("upow_miner_difficulty", "Difficulty of the work.")?;
        registry.register(Box::new(difficulty.clone()))?;
        let job = IntGauge::new("upow_miner_job", "Id of the job trained.")?;
        registry.register(Box::new(job.clone()))?;
        let cache_corrupt = IntCounter::new(
            "upow_miner_cache_corrupt_total",
            "Cache entries that failed their hash check (discarded and fetched again).",
        )?;
        registry.register(Box::new(cache_corrupt.clone()))?;
        let metrics = Self {
            registry,
            devices: devices.to_vec(),
            steps,
            tickets,
            found,
            failures,
            accepted,
            rejected,
            stale,
            steps_per_second,
            rpc_latency,
            rpc_errors,
            connections,
            connected,
            best_block,
            difficulty,
            job,
            cache_corrupt,
        };
        // Every device's series exist from the start (rates need a zero).
        for d in 0..devices.len() {
            metrics.device(d);
            metrics.accepted.with_label_values(&[metrics.label(d)]);
            metrics.stale.with_label_values(&[metrics.label(d)]);
            metrics
                .steps_per_second
                .with_label_values(&[metrics.label(d)]);
        }
        Ok(metrics)
    }

    fn label(&self, device: usize) -> &str {
        self.devices.get(device).map(String::as_str).unwrap_or("?")
    }

    /// The counters of device `index`.
    pub fn device(&self, index: usize) -> DeviceMetrics {
        let label = [self.label(index)];
        DeviceMetrics {
            steps: self.steps.with_label_values(&label),
            tickets: self.tickets.with_label_values(&label),
            found: self.found.with_label_values(&label),
            failures: self.failures.with_label_values(&label),
        }
    }

    /// Records an accepted block of device `index`.
    pub fn accepted(&self, index: usize) {
        self.accepted.with_label_values(&[self.label(index)]).inc();
    }

    /// Records a rejected submission of device `index` (`code`: the node's
    /// error code, or "connection").
    pub fn rejected(&self, index: usize, code: &str) {
        self.rejected
            .with_label_values(&[self.label(index), code])
            .inc();
    }

    /// Records a win dropped because new work arrived first.
    pub fn stale(&self, index: usize) {
        self.stale.with_label_values(&[self.label(index)]).inc();
    }

    /// Sets the recent speed of device `index`.
    pub fn set_speed(&self, index: usize, steps_per_second: f64) {
        self.steps_per_second
            .with_label_values(&[self.label(index)])
            .set(steps_per_second);
    }

    /// Records one RPC call.
    pub fn observe_rpc(&self, method: &str, latency: Duration, ok: bool) {
        self.rpc_latency
            .with_label_values(&[method])
            .observe(latency.as_secs_f64());
        if !ok {
            self.rpc_errors.with_label_values(&[method]).inc();
        }
    }

    /// The registry (other parts of the binary register their metrics in
    /// it, e.g. the auditor's).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::warn!("encoding metrics: {e}");
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// Binds `addr` and serves the metrics there until shutdown (in a task).
pub async fn spawn_server(
    addr: std::net::SocketAddr,
    metrics: Arc<Metrics>,
    shutdown: Shutdown,
) -> Result<tokio::task::JoinHandle<()>, super::MineError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| super::MineError::Io {
            what: format!("binding the metrics endpoint {addr}"),
            source,
        })?;
    Ok(tokio::spawn(serve(listener, metrics, shutdown)))
}

/// Serves `GET /metrics` (and `/`) on `listener` until shutdown.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>, shutdown: Shutdown) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.wait() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => {
                let metrics = metrics.clone();
                tokio::spawn(async move {
                    if let Err(e) = answer(stream, &metrics).await {
                        tracing::debug!("metrics request: {e}");
                    }
                });
            }
            Err(e) => {
                tracing::warn!("metrics endpoint: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Answers one HTTP/1.x request and closes the connection.
async fn answer(mut stream: TcpStream, metrics: &Metrics) -> std::io::Result<()> {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    let read = async {
        while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            request.extend_from_slice(&buf[..n]);
        }
        Ok::<_, std::io::Error>(())
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "slow request"))??;
    let line = String::from_utf8_lossy(&request);
    let path = line.split_whitespace().nth(1).unwrap_or("/");
    let (status, body) = match path {
        "/metrics" | "/" => ("200 OK", metrics.render()),
        _ => ("404 Not Found", "not found: try /metrics\n".to_string()),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_endpoint_serves_the_registry() {
        let metrics = Arc::new(Metrics::new(&["cpu#0".into()]).unwrap());
        metrics.device(0).steps.inc_by(5);
        metrics.rejected(0, "1003");
        metrics.observe_rpc("upow_getWork", Duration::from_millis(3), true);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let server = tokio::spawn(serve(listener, metrics, shutdown.clone()));
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
        assert!(response.contains("upow_miner_steps_total{device=\"cpu#0\"} 5"));
        assert!(
            response.contains("upow_miner_blocks_rejected_total{code=\"1003\",device=\"cpu#0\"} 1")
        );
        assert!(
            response.contains("upow_miner_rpc_latency_seconds_count{method=\"upow_getWork\"} 1")
        );
        shutdown.trigger();
        tokio::time::timeout(Duration::from_secs(2), server)
            .await
            .unwrap()
            .unwrap();
    }
}
