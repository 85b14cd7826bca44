//! Command-line interface of `upow-node`.

use std::path::PathBuf;

use sc_cli::RunCmd;

/// upow full node.
#[derive(Debug, clap::Parser)]
#[command(version, about)]
pub struct Cli {
    /// Subcommands.
    #[command(subcommand)]
    pub subcommand: Option<Subcommand>,

    /// Standard Substrate node options.
    #[clap(flatten)]
    pub run: RunCmd,

    /// upow options.
    #[clap(flatten)]
    pub upow: UpowParams,
}

/// upow's own node options.
#[derive(Debug, Clone, clap::Args)]
pub struct UpowParams {
    /// Mine with the built-in CPU miner (the reference step, one thread).
    #[arg(long)]
    pub mine: bool,

    /// Secret URI of the mining author key (sr25519), e.g. `//Alice` or a
    /// mnemonic. Default: the keystore's `upow` key, or the dev seed with
    /// `--dev`/`--alice`.
    #[arg(long, value_name = "SECRET_URI")]
    pub author: Option<String>,

    /// Directory with MNIST-layout IDX files (plain or .gz) whose training
    /// split is imported into the node's dataset store and served to miners.
    #[arg(long, value_name = "DIR", default_value = upow_puzzle::idx::FASHION_MNIST_DIR)]
    pub dataset_dir: Option<PathBuf>,

    /// Finalized blocks whose adopted weights are kept (older ones are
    /// pruned, except every job's current weights).
    #[arg(long, default_value_t = 256, value_name = "BLOCKS")]
    pub keep_weights: u32,

    /// Free space (MiB) the base path's filesystem must keep: the node does
    /// not start with less, and stops (exit status 1) when it falls below,
    /// before its databases fail a write.
    #[arg(long, default_value_t = 512, value_name = "MIB")]
    pub min_free_space: u64,
}

impl UpowParams {
    /// Whether `--dataset-dir` points somewhere other than the default (a
    /// failure to import it is then an error, not a warning).
    pub fn dataset_dir_explicit(&self) -> bool {
        self.dataset_dir.as_deref()
            != Some(std::path::Path::new(upow_puzzle::idx::FASHION_MNIST_DIR))
    }
}

/// Subcommands.
#[derive(Debug, clap::Subcommand)]
#[allow(clippy::large_enum_variant)]
pub enum Subcommand {
    /// Key management.
    #[command(subcommand)]
    Key(sc_cli::KeySubcommand),

    /// Build a chain specification.
    BuildSpec(sc_cli::BuildSpecCmd),

    /// Validate blocks.
    CheckBlock(sc_cli::CheckBlockCmd),

    /// Export blocks.
    ExportBlocks(sc_cli::ExportBlocksCmd),

    /// Export the state of a given block into a chain spec.
    ExportState(sc_cli::ExportStateCmd),

    /// Import blocks.
    ImportBlocks(sc_cli::ImportBlocksCmd),

    /// Remove the whole chain.
    PurgeChain(sc_cli::PurgeChainCmd),

    /// Revert the chain to a previous state.
    Revert(sc_cli::RevertCmd),

    /// Benchmarks (pallet weights need `--features runtime-benchmarks`).
    #[cfg(feature = "runtime-benchmarks")]
    #[command(subcommand)]
    Benchmark(frame_benchmarking_cli::BenchmarkCmd),

    /// Database meta columns information.
    ChainInfo(sc_cli::ChainInfoCmd),

    /// Try a runtime upgrade against a running node's state before
    /// submitting it: migrations, their checks and every pallet's
    /// invariants (what try-runtime's `on-runtime-upgrade` does).
    TryUpgrade(crate::try_upgrade::TryUpgradeCmd),
}
