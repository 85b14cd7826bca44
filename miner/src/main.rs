//! `upow-miner`: train upow jobs locally, benchmark backends, and mine.

use std::{io::IsTerminal, net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use upow_miner::{
    backend::BackendKind,
    baseline,
    bench::{self, BenchConfig, BenchShape},
    mine::{
        self,
        keys::{self, KeySource, SecretUri},
        view::ViewMode,
        MineConfig, Shutdown,
    },
    train::{self, TrainConfig},
};
use upow_puzzle::{idx, Hyperparams, Model};

/// upow miner: useful proof-of-work by training neural networks.
#[derive(Parser, Debug)]
#[command(name = "upow-miner", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a model locally with the puzzle's step (no chain) and report
    /// its test accuracy, optionally next to a float32 baseline.
    Train(TrainArgs),
    /// Measure steps per second of every backend, the reference's
    /// verification time per step, and a float32 step of the same shapes.
    Bench(BenchArgs),
    /// Mine a upow chain through a node's JSON-RPC (docs/mining.md).
    Mine(MineArgs),
    /// Replay every block in its dispute window and submit a fraud proof
    /// for each wrong one (docs/operations.md, Auditors).
    #[cfg(feature = "audit")]
    Audit(AuditArgs),
}

/// Parses "INDEX/COUNT" (an auditor's shard).
#[cfg(feature = "audit")]
fn parse_shard(s: &str) -> Result<(u64, u64), String> {
    let (index, count) = s
        .split_once('/')
        .ok_or_else(|| format!("{s:?}: expected INDEX/COUNT, e.g. 0/3"))?;
    let parse = |v: &str| {
        v.trim()
            .parse::<u64>()
            .map_err(|e| format!("{s:?}: {v:?} is not a number: {e}"))
    };
    let (index, count) = (parse(index)?, parse(count)?);
    if count == 0 || index >= count {
        return Err(format!("{s:?}: INDEX must be below COUNT (COUNT ≥ 1)"));
    }
    Ok((index, count))
}

/// Parses "784-128-10" into a validated model.
fn parse_model(s: &str) -> Result<Model, String> {
    let dims = s
        .split(['-', ','])
        .map(|d| {
            d.trim()
                .parse::<u32>()
                .map_err(|e| format!("bad layer width {d:?}: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Model::new(&dims).map_err(|e| e.to_string())
}

#[derive(Args, Debug)]
struct TrainArgs {
    /// Directory with MNIST-layout IDX files (plain or .gz).
    #[arg(long, default_value = idx::FASHION_MNIST_DIR)]
    dataset: PathBuf,
    /// Layer widths, inputs first: e.g. 784-128-10.
    #[arg(long, default_value = "784-128-10", value_parser = parse_model)]
    model: Model,
    /// log2 of the batch size (6 = 64).
    #[arg(long, default_value_t = 6)]
    batch_log2: u32,
    /// Base learning-rate shift (lr = 2^-shift).
    #[arg(long, default_value_t = 2)]
    lr_shift: u32,
    /// Epochs over the training set (ignored when --steps is given).
    #[arg(long, default_value_t = 10)]
    epochs: u64,
    /// Exact number of steps.
    #[arg(long)]
    steps: Option<u64>,
    /// Seed of the run (initial weights, batches, rounding).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Backend running the integer step.
    #[arg(long, value_enum, default_value_t = BackendKind::Reference)]
    backend: BackendKind,
    /// GPU index for --backend cuda.
    #[arg(long, default_value_t = 0)]
    device: usize,
    /// Evaluate on the test set every N steps (0: only at the end).
    #[arg(long, default_value_t = 0)]
    eval_every: u64,
    /// Also train the float32 candle baseline of the same model and budget.
    #[arg(long)]
    baseline: bool,
    /// Use only the first N training samples.
    #[arg(long)]
    train_limit: Option<usize>,
    /// Print one JSON object per line instead of a progress bar.
    #[arg(long)]
    json: bool,
}

fn run_train(args: TrainArgs) -> anyhow::Result<()> {
    let mut train_set = idx::load_split(&args.dataset, idx::Split::Train)
        .with_context(|| format!("loading the training set from {}", args.dataset.display()))?;
    if let Some(limit) = args.train_limit {
        train_set = train_set.slice(0..limit.min(train_set.len()))?;
    }
    let test_set = idx::load_split(&args.dataset, idx::Split::Test)
        .with_context(|| format!("loading the test set from {}", args.dataset.display()))?;
    if train_set.sample_len() - 1 != args.model.inputs() {
        bail!(
            "the dataset has {} inputs per sample, the model takes {}",
            train_set.sample_len() - 1,
            args.model.inputs()
        );
    }
    let batch = 1u64 << args.batch_log2;
    let steps = args
        .steps
        .unwrap_or(args.epochs * train_set.len() as u64 / batch)
        .max(1);
    let hyper = Hyperparams::new(args.batch_log2, args.lr_shift, steps)?;
    let config = TrainConfig {
        model: args.model.clone(),
        hyper,
        seed: args.seed,
        backend: args.backend,
        device: args.device,
    };
    let model_name = args.model.to_string();
    let bar = if args.json {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::new(steps);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} steps ({per_sec}, eta {eta}) {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    };
    let json = args.json;
    let report = train::train(&config, &train_set, &test_set, args.eval_every, |p| {
        bar.set_position(p.step);
        let test = p
            .test
            .map(|t| format!(" test acc {:.2}%", 100.0 * t.accuracy()))
            .unwrap_or_default();
        bar.set_message(format!("loss {:.4}{test}", p.train_loss));
        if json && (p.test.is_some() || p.step % 1000 == 0) {
            println!(
                "{}",
                serde_json::json!({
                    "event": "progress", "step": p.step, "train_loss": p.train_loss,
                    "test_accuracy": p.test.map(|t| t.accuracy()),
                })
            );
        }
    })?;
    bar.finish_and_clear();
    let baseline = if args.baseline {
        let device = candle_core::Device::Cpu;
        Some(baseline::train_float(
            &config.model,
            &config.hyper,
            &config.initial_weights(),
            &config.context().parent,
            &train_set,
            &test_set,
            &device,
        )?)
    } else {
        None
    };
    let summary = serde_json::json!({
        "event": "result",
        "model": model_name,
        "batch": batch,
        "steps": steps,
        "seed": args.seed,
        "backend": args.backend,
        "integer_test_accuracy": report.test.accuracy(),
        "integer_test_loss": report.test.mean_loss_nats(),
        "integer_steps_per_second": steps as f64 / report.seconds.max(1e-9),
        "float32_test_accuracy": baseline.map(|b| b.accuracy),
        "float32_test_loss": baseline.map(|b| b.loss),
        "weights_hash": hex(&report.weights.hash()),
    });
    if json {
        println!("{summary}");
    } else {
        println!(
            "{model_name} batch {batch}, {steps} steps, seed {}: integer ({}) test accuracy {:.2}% (loss {:.4}), {:.1} steps/s",
            args.seed,
            args.backend.as_str(),
            100.0 * report.test.accuracy(),
            report.test.mean_loss_nats(),
            steps as f64 / report.seconds.max(1e-9)
        );
        if let Some(b) = baseline {
            println!(
                "float32 baseline (candle, same init/batch/steps/lr): test accuracy {:.2}% (loss {:.4})",
                100.0 * b.accuracy,
                b.loss
            );
        }
        println!("final weights hash {}", hex(&report.weights.hash()));
    }
    Ok(())
}

#[derive(Args, Debug)]
struct BenchArgs {
    /// Measure only this model (layer widths, inputs first: e.g. 784-128-10);
    /// repeat the flag for several. Default: 784-128-10, 784-256-128-10 and
    /// 1024-1000-10.
    #[arg(long, value_parser = parse_model)]
    model: Vec<Model>,
    /// log2 of the batch size, or several comma-separated (6,8,10 = 64, 256
    /// and 1024: every model at every batch). Default 6 = 64.
    #[arg(long, value_delimiter = ',')]
    batch_log2: Vec<u32>,
    /// Backends whose integer step to measure (comma-separated). The float32
    /// step and the reference verification are always measured.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [BackendKind::Reference, BackendKind::Sparse, BackendKind::Cpu, BackendKind::Cuda])]
    backend: Vec<BackendKind>,
    /// Wall time of each measurement in seconds, after its warm-up.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Samples in the synthetic dataset (sets the depth of the dataset
    /// proofs that verification checks; 60000 is Fashion-MNIST's size).
    #[arg(long, default_value_t = 60_000)]
    samples: usize,
    /// GPU index for the cuda backend.
    #[arg(long, default_value_t = 0)]
    device: usize,
    /// Threads of candle's CPU kernels (sets RAYON_NUM_THREADS and
    /// CANDLE_NUM_THREADS; default: those variables, else one per physical
    /// core). Use 1 on a busy machine: candle's parallel kernels slow down
    /// badly when their threads have to wait for a core.
    #[arg(long)]
    threads: Option<usize>,
    /// Skip the float32 steps (no `×float32` column): only the integer
    /// steps (and the verification) are measured.
    #[arg(long)]
    no_float32: bool,
    /// Skip the reference verification of a proven step.
    #[arg(long)]
    no_verify: bool,
    /// Print one JSON object per row instead of a table.
    #[arg(long)]
    json: bool,
}

fn run_bench(args: BenchArgs) -> anyhow::Result<()> {
    if let Some(threads) = args.threads {
        if threads == 0 {
            bail!("--threads must be at least 1");
        }
        // Before candle's first CPU kernel, which sizes its thread pools
        // once; nothing else runs yet, so no thread reads the environment
        // while it changes.
        std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
        std::env::set_var("CANDLE_NUM_THREADS", threads.to_string());
    }
    let config = BenchConfig {
        shapes: BenchShape::grid(&args.model, &args.batch_log2)?,
        backends: args.backend,
        seconds: args.seconds,
        samples: args.samples,
        device: args.device,
        float32: !args.no_float32,
        verify: !args.no_verify,
    };
    let json = args.json;
    if !json {
        println!("{}", bench::table_header(&config));
    }
    bench::run(&config, |row| {
        if json {
            let mut value = serde_json::json!(row);
            value["available_parallelism"] = bench::available_parallelism().into();
            println!("{value}");
        } else {
            println!("{}", bench::table_row(row));
        }
    })?;
    Ok(())
}

#[derive(Args, Debug)]
struct MineArgs {
    /// The node's RPC endpoint (WebSocket; `http://` is turned into `ws://`).
    #[arg(long, env = "UPOW_NODE", default_value = "ws://127.0.0.1:9944")]
    node: String,
    /// Author key as a secret URI: `//Alice`, a mnemonic, a 0x seed, with
    /// optional `//derivation` and `///password`. Give one per device (or
    /// one with --derive-device-keys). Never printed.
    #[arg(long, env = "UPOW_AUTHOR", hide_env_values = true)]
    author: Vec<SecretUri>,
    /// A file whose first line is a secret URI (repeatable: one per device).
    #[arg(long)]
    key_file: Vec<PathBuf>,
    /// A Substrate keystore directory: its `upow` author keys, one per
    /// device, in the order of their public keys.
    #[arg(long)]
    keystore_path: Option<PathBuf>,
    /// Password of the secrets (overrides a `///password` in the URIs).
    #[arg(long, env = "UPOW_KEY_PASSWORD", hide_env_values = true)]
    password: Option<SecretUri>,
    /// One base key for several devices: device i mines as
    /// `<author>//device//<i>`. Each derived key must be admitted on chain.
    #[arg(long)]
    derive_device_keys: bool,
    /// Backend running the steps.
    #[arg(long, value_enum, default_value_t = BackendKind::Cpu)]
    backend: BackendKind,
    /// Devices (GPU indices for cuda), comma-separated: one trajectory and
    /// one thread each.
    #[arg(long, value_delimiter = ',', default_value = "0")]
    devices: Vec<usize>,
    /// Cache of weights and datasets (default ~/.local/share/upow-miner).
    #[arg(long, env = "UPOW_MINER_DATA")]
    data_dir: Option<PathBuf>,
    /// Serve Prometheus metrics on this address (e.g. 127.0.0.1:9615).
    #[arg(long)]
    metrics: Option<SocketAddr>,
    /// One JSON object per event on stdout instead of the live view.
    #[arg(long)]
    json: bool,
    /// Threads of candle's CPU kernels (sets RAYON_NUM_THREADS and
    /// CANDLE_NUM_THREADS; default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Steps between kept snapshots of a trajectory's weights (default:
    /// from the difficulty and --snapshot-memory).
    #[arg(long, alias = "checkpoint-interval")]
    snapshot_interval: Option<u32>,
    /// Memory for one device's snapshots, MiB.
    #[arg(long, alias = "checkpoint-memory", default_value_t = 512)]
    snapshot_memory: usize,
    /// Longest pause between reconnection attempts, seconds.
    #[arg(long, default_value_t = 30)]
    max_backoff: u64,
    /// Mine only this job (while it is open). Default: the node's pick,
    /// the best-paying open job whose dataset the node serves (see
    /// `upow_openJobs`).
    #[arg(long)]
    job: Option<u64>,
    /// Another node to download datasets from when `--node` does not serve
    /// a job's dataset (repeatable; every dataset is checked against its
    /// root). With `--job`, a job whose data only other nodes hold can be mined.
    #[arg(long = "dataset-source", value_name = "WS_URL")]
    dataset_sources: Vec<String>,
}

#[cfg(feature = "audit")]
#[derive(Args, Debug)]
struct AuditArgs {
    /// The node's RPC endpoint (WebSocket; `http://` is turned into `ws://`).
    #[arg(long, env = "UPOW_NODE", default_value = "ws://127.0.0.1:9944")]
    node: String,
    /// The reporter's key as a secret URI (`//Alice`, a mnemonic, a 0x
    /// seed): signs the fraud reports and receives the reporter's share of
    /// the slash. Never printed.
    #[arg(long, env = "UPOW_AUDITOR", hide_env_values = true)]
    key: Option<SecretUri>,
    /// A file whose first line is the reporter's secret URI.
    #[arg(long, conflicts_with = "key")]
    key_file: Option<PathBuf>,
    /// Password of the secret (overrides a `///password` in the URI).
    #[arg(long, env = "UPOW_KEY_PASSWORD", hide_env_values = true)]
    password: Option<SecretUri>,
    /// Audit only this job's blocks.
    #[arg(long)]
    job: Option<u64>,
    /// Share of the blocks to replay, in (0, 1] (drawn with a secret of
    /// this process, so authors cannot grind their way out of the sample).
    #[arg(long, default_value_t = 1.0)]
    rate: f64,
    /// Replay only shard INDEX/COUNT of the blocks (by block hash): COUNT
    /// auditors with shards 0/COUNT … COUNT-1/COUNT split every block.
    #[arg(long, value_parser = parse_shard, default_value = "0/1")]
    shard: (u64, u64),
    /// Backend of the replay. Only `reference` (the normative integer
    /// step) replays today.
    #[arg(long, value_enum, default_value_t = BackendKind::Reference)]
    backend: BackendKind,
    /// Cache of weights and datasets (default ~/.local/share/upow-miner).
    #[arg(long, env = "UPOW_MINER_DATA")]
    data_dir: Option<PathBuf>,
    /// Serve Prometheus metrics on this address (e.g. 127.0.0.1:9616).
    #[arg(long)]
    metrics: Option<SocketAddr>,
    /// Seconds between rounds when no new block is disputable.
    #[arg(long, default_value_t = 2)]
    poll: u64,
    /// Longest pause between reconnection attempts, seconds.
    #[arg(long, default_value_t = 30)]
    max_backoff: u64,
    /// One round, then exit.
    #[arg(long)]
    once: bool,
}

#[cfg(feature = "audit")]
fn run_audit(args: AuditArgs) -> anyhow::Result<()> {
    use upow_miner::audit::{self, AuditConfig};
    if args.backend != BackendKind::Reference {
        bail!(
            "--backend {}: the auditor replays with the reference step only",
            args.backend.as_str()
        );
    }
    let source = match (&args.key, &args.key_file) {
        (Some(secret), _) => KeySource {
            secret: secret.clone(),
            name: "--key (or UPOW_AUDITOR)".into(),
        },
        (None, Some(path)) => keys::read_key_file(path)?,
        (None, None) => bail!("the auditor needs a key to sign its reports: --key or --key-file"),
    };
    let password = args.password.as_ref().map(SecretUri::expose_secret);
    let key = keys::AuthorKey::from_secret(&source, password)?;
    let config = AuditConfig {
        node: args.node,
        job: args.job,
        rate: args.rate,
        shard: args.shard,
        key,
        data_dir: args.data_dir.unwrap_or_else(mine::default_data_dir),
        metrics: args.metrics,
        poll: Duration::from_secs(args.poll.max(1)),
        max_backoff: Duration::from_secs(args.max_backoff.max(1)),
        once: args.once,
    };
    let totals = run_async("upow-auditor", |shutdown| audit::run(config, shutdown))?;
    println!(
        "audited {} blocks ({} steps): {} wrong, {} reported",
        totals.blocks, totals.steps, totals.frauds, totals.reports
    );
    Ok(())
}

fn run_mine(args: MineArgs) -> anyhow::Result<()> {
    if let Some(threads) = args.threads {
        if threads == 0 {
            bail!("--threads must be at least 1");
        }
        // Before any thread exists (see run_bench).
        std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
        std::env::set_var("CANDLE_NUM_THREADS", threads.to_string());
    }
    if args.devices.is_empty() {
        bail!("--devices needs at least one device");
    }
    let view = if args.json {
        ViewMode::Json
    } else {
        ViewMode::terminal()
    };
    init_tracing(view.log_writer());

    let mut sources: Vec<KeySource> = args
        .author
        .iter()
        .enumerate()
        .map(|(i, secret)| KeySource {
            secret: secret.clone(),
            name: format!("--author #{} (or UPOW_AUTHOR)", i + 1),
        })
        .collect();
    for path in &args.key_file {
        sources.push(keys::read_key_file(path)?);
    }
    if let Some(dir) = &args.keystore_path {
        let found = keys::read_keystore(dir)?;
        if found.is_empty() {
            bail!(
                "no upow author keys (key type \"upow\") in the keystore {}",
                dir.display()
            );
        }
        sources.extend(found);
    }
    let password = args.password.as_ref().map(SecretUri::expose_secret);
    let keys = keys::device_keys(
        &sources,
        args.devices.len(),
        args.derive_device_keys,
        password,
    )?;
    if args.snapshot_interval == Some(0) {
        bail!("--snapshot-interval must be at least 1");
    }
    let config = MineConfig {
        node: args.node,
        backend: args.backend,
        devices: args.devices,
        keys,
        data_dir: args.data_dir.unwrap_or_else(mine::default_data_dir),
        metrics: args.metrics,
        view,
        snapshot_interval: args.snapshot_interval,
        snapshot_memory: args.snapshot_memory.max(1) << 20,
        max_backoff: Duration::from_secs(args.max_backoff.max(1)),
        job: args.job,
        dataset_sources: args.dataset_sources,
    };
    run_async("upow-miner-rpc", |shutdown| mine::run(config, shutdown))?;
    Ok(())
}

/// Runs `task` on a two-thread async runtime (threads named `name`) with a
/// shutdown signal that Ctrl-C and SIGTERM trigger.
fn run_async<T, F>(name: &str, task: impl FnOnce(Shutdown) -> F) -> anyhow::Result<T>
where
    F: std::future::Future<Output = Result<T, mine::MineError>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(name)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let shutdown = Shutdown::new();
    let result = runtime.block_on(async {
        shutdown.trigger_on_signals();
        task(shutdown.clone()).await
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(result?)
}

fn init_tracing<W>(writer: W)
where
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(writer)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Train(args) => {
            init_tracing(std::io::stderr);
            run_train(args)
        }
        Command::Bench(args) => {
            init_tracing(std::io::stderr);
            run_bench(args)
        }
        // Sets up its own logging (log lines above the live view).
        Command::Mine(args) => run_mine(args),
        #[cfg(feature = "audit")]
        Command::Audit(args) => {
            init_tracing(std::io::stderr);
            run_audit(args)
        }
    }
}
