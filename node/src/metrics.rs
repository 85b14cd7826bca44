//! Prometheus metrics of upow's consensus work, on the node's `/metrics`
//! endpoint (beside Substrate's own): where block import time goes, and
//! what verifying a trajectory costs natively and in the wasm runtime.

use std::{sync::Arc, time::Instant};

use substrate_prometheus_endpoint::{
    exponential_buckets, register, Histogram, HistogramOpts, PrometheusError, Registry,
};

/// The histograms; absent when Prometheus is disabled.
pub struct NodeMetrics {
    /// `PowAlgorithm::verify`: digest, seal signature, ticket, admission.
    pub seal_check: Histogram,
    /// Executing and committing an imported block (the runtime re-executes
    /// the challenged steps here).
    pub execution: Histogram,
    /// Replaying a block's final step to store `W_n`.
    pub replay: Histogram,
    /// Verifying a submitted trajectory natively before building its block.
    pub native_verification: Histogram,
    /// Building a block (the runtime verifies the trajectory in wasm).
    pub proposal: Histogram,
    /// Encoded size of imported block bodies.
    pub body_bytes: Histogram,
}

fn seconds(registry: &Registry, name: &str, help: &str) -> Result<Histogram, PrometheusError> {
    register(
        Histogram::with_opts(
            HistogramOpts::new(name, help).buckets(exponential_buckets(0.0001, 2.0, 18)?),
        )?,
        registry,
    )
}

impl NodeMetrics {
    /// Registers the metrics (`None` without a registry).
    pub fn register(registry: Option<&Registry>) -> Result<Option<Arc<Self>>, PrometheusError> {
        let Some(registry) = registry else {
            return Ok(None);
        };
        Ok(Some(Arc::new(Self {
            seal_check: seconds(
                registry,
                "upow_seal_check_seconds",
                "Seal, ticket and admission check of a block",
            )?,
            execution: seconds(
                registry,
                "upow_block_execution_seconds",
                "Execution and commit of an imported block",
            )?,
            replay: seconds(
                registry,
                "upow_weights_replay_seconds",
                "Replay of a block's final step to store its weights",
            )?,
            native_verification: seconds(
                registry,
                "upow_native_verification_seconds",
                "Native verification of a submitted trajectory",
            )?,
            proposal: seconds(
                registry,
                "upow_block_proposal_seconds",
                "Building a block (wasm verification included)",
            )?,
            body_bytes: register(
                Histogram::with_opts(
                    HistogramOpts::new(
                        "upow_block_body_bytes",
                        "Encoded size of imported block bodies",
                    )
                    .buckets(exponential_buckets(1024.0, 2.0, 16)?),
                )?,
                registry,
            )?,
        })))
    }
}

/// Observes the seconds since `started` into `histogram` of optional metrics.
pub fn observe(
    metrics: &Option<Arc<NodeMetrics>>,
    histogram: impl Fn(&NodeMetrics) -> &Histogram,
    started: Instant,
) {
    if let Some(m) = metrics {
        histogram(m).observe(started.elapsed().as_secs_f64());
    }
}
