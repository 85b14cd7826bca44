//! `upow-cli`: the builder's command line (docs/jobs.md).

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use upow_cli::{
    chain::{node_client, BuilderKey, Chain, ListingTerms},
    dataset::{self as datasets, Split},
    jobfile::{format_balance, parse_hash, JobFile},
    model::{from_safetensors, to_safetensors, Provenance},
};
use upow_miner::mine::client::NodeClient;
use upow_miner::mine::keys::{read_key_file, read_keystore, AuthorKey, KeySource, SecretUri};
use upow_primitives::rpc::dataset_chunk_samples;
use upow_primitives::{JobId, JobInfo, JobStatus};
use upow_puzzle::{evaluate, Batch, Dataset, DatasetCommitment, Liveness, Model, Weights};

/// upow's builder CLI: post training jobs, watch them, download and evaluate the models.
#[derive(Parser, Debug)]
#[command(name = "upow-cli", version)]
struct Cli {
    /// The node's WebSocket RPC endpoint.
    #[arg(
        long,
        global = true,
        env = "UPOW_NODE",
        default_value = "ws://127.0.0.1:9944"
    )]
    node: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Training jobs.
    #[command(subcommand)]
    Job(JobCommand),
    /// Datasets.
    #[command(subcommand)]
    Dataset(DatasetCommand),
    /// The catalogue of listed workloads: only a job whose spec is listed
    /// can be posted and trained (docs/jobs.md).
    #[command(subcommand)]
    Workload(WorkloadCommand),
}

#[derive(Subcommand, Debug)]
enum WorkloadCommand {
    /// Whether a job file's spec is listed, and at what cost.
    Show {
        /// The job file (TOML); only its spec is read.
        file: PathBuf,
    },
    /// List a job file's spec as governance (the chain's sudo key).
    List {
        /// The job file (TOML); only its spec is read.
        file: PathBuf,
        /// The measured cost of one step in cost units (65 536 per step of
        /// the reference workload, 784-128-10 at batch 64): `cargo bench -p
        /// upow-miner --bench shortcuts` prints it.
        #[arg(long, required_unless_present = "nominal", conflicts_with = "nominal")]
        cost: Option<u32>,
        /// Use the spec's nominal cost (its multiply-accumulates in cost
        /// units) instead of a measurement: only for shapes the bench shows
        /// within 10% of it (it overprices large batches, docs/jobs.md §3).
        #[arg(long)]
        nominal: bool,
        /// The largest label of the dataset (it must be a class of the
        /// model); read from the data when the job file names its path.
        #[arg(long)]
        max_label: Option<u8>,
        /// The non-zero-weights threshold: the fraction of each layer's
        /// compute weights every proven step must start from non-zero (0.5,
        /// the degeneracy rule alone, to 1), rounded up to 1024ths. Set it
        /// below the honest minimum (docs/jobs.md §3); the house workload's
        /// is 15/16.
        #[arg(long)]
        min_nonzero: f64,
        /// The liveness threshold: the fraction of each hidden layer's
        /// units every proven step must keep live (0.03125, the degeneracy
        /// rule alone, to 1), rounded up to 1024ths. Set it from the
        /// shortcut table (crafted-weights rows ≤ 1.25) and below the
        /// honest minimum (docs/jobs.md §3); the house workload's is 2/3.
        #[arg(long)]
        min_live: f64,
        /// The activation-density threshold: the fraction of each hidden
        /// layer's activations over a batch every proven step must keep
        /// non-zero (0, none, to 1), rounded up to 1024ths. Set it from
        /// the shortcut table's rare-firing rows and below the honest
        /// minimum (docs/jobs.md §3); the house workload's is 1/8.
        #[arg(long)]
        min_active: f64,
        #[command(flatten)]
        key: KeyArgs,
    },
}

/// Liveness thresholds given as fractions (`--min-nonzero` of a layer's
/// weights, `--min-live` of its units, `--min-active` of its activations),
/// rounded up to 1024ths.
fn liveness_from_fractions(min_nonzero: f64, min_live: f64, min_active: f64) -> Result<Liveness> {
    if !(min_nonzero > 0.0 && min_nonzero <= 1.0) {
        bail!("--min-nonzero {min_nonzero}: a fraction of each layer's weights, in (0, 1]");
    }
    if !(min_live > 0.0 && min_live <= 1.0) {
        bail!("--min-live {min_live}: a fraction of each hidden layer's units, in (0, 1]");
    }
    if !(0.0..=1.0).contains(&min_active) {
        bail!(
            "--min-active {min_active}: a fraction of each hidden layer's activations, in [0, 1]"
        );
    }
    let per_1024 = |fraction: f64| (fraction * f64::from(Liveness::DENOMINATOR)).ceil() as u16;
    let minimum = Liveness::MINIMUM.nonzero_weights_per_1024();
    if per_1024(min_nonzero) < minimum {
        bail!(
            "--min-nonzero {min_nonzero}: below the degeneracy rule's own threshold, {} of the \
             weights",
            f64::from(minimum) / f64::from(Liveness::DENOMINATOR)
        );
    }
    let minimum = Liveness::MINIMUM.live_units_per_1024();
    if per_1024(min_live) < minimum {
        bail!(
            "--min-live {min_live}: below the degeneracy rule's own threshold, {} of the units",
            f64::from(minimum) / f64::from(Liveness::DENOMINATOR)
        );
    }
    Ok(Liveness::new(
        per_1024(min_nonzero),
        per_1024(min_live),
        per_1024(min_active),
    )?)
}

/// The signing key: a secret URI, a key file or a keystore (like `upow-miner`).
#[derive(Args, Debug)]
struct KeyArgs {
    /// Secret URI of the builder's sr25519 key (`//Alice`, a mnemonic, a 0x seed).
    #[arg(long, env = "UPOW_KEY", hide_env_values = true)]
    key: Option<SecretUri>,
    /// A file whose first line is the secret URI (or a keystore file).
    #[arg(long, conflicts_with = "key")]
    key_file: Option<PathBuf>,
    /// A Substrate keystore directory: its first `upow` key.
    #[arg(long, conflicts_with_all = ["key", "key_file"])]
    keystore_path: Option<PathBuf>,
}

impl KeyArgs {
    fn load(&self) -> Result<BuilderKey> {
        let source = if let Some(secret) = &self.key {
            KeySource {
                secret: secret.clone(),
                name: "--key".into(),
            }
        } else if let Some(path) = &self.key_file {
            read_key_file(path)?
        } else if let Some(dir) = &self.keystore_path {
            read_keystore(dir)?
                .into_iter()
                .next()
                .with_context(|| format!("no upow keys in the keystore {}", dir.display()))?
        } else {
            bail!("no signing key: pass --key <secret URI> (or set UPOW_KEY), --key-file or --keystore-path");
        };
        Ok(BuilderKey::new(AuthorKey::from_secret(&source, None)?))
    }
}

#[derive(Subcommand, Debug)]
enum JobCommand {
    /// Post a job from a job file (docs/jobs.md), escrowing its budget.
    Post {
        /// The job file (TOML).
        file: PathBuf,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// A job's state, steps, escrow, payments and loss (at the finalized block).
    Status {
        /// The job.
        id: JobId,
    },
    /// Follow a job live: steps toward its target, loss per block, ETA.
    Watch {
        /// The job.
        id: JobId,
    },
    /// Cancel one of your jobs: its unspent budget comes back.
    Cancel {
        /// The job.
        id: JobId,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Download a job's weights as safetensors.
    Weights {
        /// The job.
        id: JobId,
        /// The block number (default: the finalized block).
        #[arg(long)]
        at: Option<u32>,
        /// Where to write the model.
        #[arg(long)]
        out: PathBuf,
    },
    /// The job's loss curve as an image (.png or .svg).
    Plot {
        /// The job.
        id: JobId,
        /// Where to write it: `.png` or `.svg`.
        #[arg(long)]
        out: PathBuf,
        /// A TrueType font for the chart's text (default: DejaVu Sans).
        #[arg(long)]
        font: Option<PathBuf>,
    },
    /// Accuracy and loss of a model on a test set (docs/puzzle.md §10).
    Eval {
        /// A job id (its weights at the best block, or --at) or a model file.
        model: String,
        /// The test set: an IDX directory (its t10k split) or a CSV file.
        #[arg(long)]
        test: PathBuf,
        /// The block number, for a job id.
        #[arg(long)]
        at: Option<u32>,
    },
}

#[derive(Subcommand, Debug)]
enum DatasetCommand {
    /// The commitment (root, samples, inputs) a job names for a dataset.
    Commit {
        /// An IDX directory (its training split) or a CSV file (label, inputs…).
        path: PathBuf,
    },
    /// Upload a dataset to a node (resumable): the node stores it only if
    /// its samples hash to the root, and serves it to miners.
    Publish {
        /// An IDX directory (its training split) or a CSV file (label, inputs…).
        path: PathBuf,
    },
    /// Copy a dataset from another node to this one (`--node`), checked
    /// against its root on the way.
    Copy {
        /// The dataset's root.
        root: String,
        /// The node that has it.
        #[arg(long)]
        from: String,
    },
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if let Err(e) = run(cli).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Dataset(command) => dataset(&cli.node, command).await,
        Command::Job(command) => job(&cli.node, command).await,
        Command::Workload(command) => workload(&cli.node, command).await,
    }
}

async fn dataset(url: &str, command: DatasetCommand) -> Result<()> {
    match command {
        DatasetCommand::Commit { path } => {
            let dataset = datasets::load(&path, Split::Train)?;
            print_commitment(&dataset);
            Ok(())
        }
        DatasetCommand::Publish { path } => {
            let dataset = datasets::load(&path, Split::Train)?;
            print_commitment(&dataset);
            let node = node_client(url).await?;
            upload(&node, &dataset).await
        }
        DatasetCommand::Copy { root, from } => {
            let root = parse_hash(&root).map_err(|m| anyhow::anyhow!("root: {m}"))?;
            let source = node_client(&from).await?;
            let status = source
                .dataset_upload(root.into())
                .await
                .with_context(|| format!("asking {from} for the dataset"))?;
            let Some(status) = status.filter(|s| s.stored) else {
                bail!("{from} does not store the dataset 0x{}", hex::encode(root));
            };
            let commitment = DatasetCommitment {
                root,
                samples: status.samples,
                inputs: status.inputs,
            };
            let bar = samples_bar(commitment.samples, "download");
            let bytes = source
                .download_dataset(&commitment, |loaded| bar.set_position(loaded))
                .await
                .with_context(|| format!("downloading from {from}"))?;
            bar.finish_and_clear();
            let dataset = Dataset::from_encoded(commitment.inputs, bytes)?;
            if dataset.commitment() != commitment {
                bail!(
                    "{from} sent samples that do not hash to 0x{}",
                    hex::encode(root)
                );
            }
            let node = node_client(url).await?;
            upload(&node, &dataset).await
        }
    }
}

fn print_commitment(dataset: &Dataset) {
    let c = dataset.commitment();
    println!("root    0x{}", hex::encode(c.root));
    println!("samples {}", c.samples);
    println!("inputs  {}", c.inputs);
    if let Some(label) = datasets::max_label(dataset) {
        println!(
            "labels  0 ..= {label} (a model needs at least {} classes)",
            label as u32 + 1
        );
    }
}

fn samples_bar(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:40}] {pos}/{len} samples ({per_sec}, ETA {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_prefix(what.to_string());
    bar
}

/// Uploads `dataset` to a node from where the node's upload stands.
async fn upload(node: &NodeClient, dataset: &Dataset) -> Result<()> {
    let c = dataset.commitment();
    let len = c.sample_len();
    let mut offset = match node.dataset_upload(c.root.into()).await? {
        Some(status) if status.stored => {
            println!("the node already stores this dataset");
            return Ok(());
        }
        Some(status) if (status.samples, status.inputs) == (c.samples, c.inputs) => {
            println!("resuming the upload at sample {}", status.received);
            status.received
        }
        _ => 0,
    };
    let bar = samples_bar(c.samples, "upload");
    bar.set_position(offset);
    let per_call = dataset_chunk_samples(len as u64);
    let bytes = dataset.encoded();
    let mut last = None;
    while offset < c.samples {
        let end = offset.saturating_add(per_call).min(c.samples);
        let chunk = bytes[offset as usize * len..end as usize * len].to_vec();
        let status = node
            .put_dataset(&c, offset, chunk)
            .await
            .with_context(|| format!("uploading samples {offset}..{end}"))?;
        if status.received != end {
            bail!(
                "the node has {} samples of the upload after samples {offset}..{end}: run the \
                 command again to resume",
                status.received
            );
        }
        offset = end;
        bar.set_position(offset);
        last = Some(status);
    }
    bar.finish_and_clear();
    match last {
        Some(status) if status.stored => {
            println!(
                "stored: 0x{} ({} samples, {} bytes)",
                hex::encode(c.root),
                c.samples,
                bytes.len()
            );
            Ok(())
        }
        _ => bail!("the node did not confirm the dataset as stored"),
    }
}

async fn connect(url: &str) -> Result<Chain> {
    Ok(Chain::connect(url).await?)
}

async fn workload(url: &str, command: WorkloadCommand) -> Result<()> {
    match command {
        WorkloadCommand::Show { file } => {
            let job = JobFile::read(&file)?;
            let chain = connect(url).await?;
            match chain.listed_workload(&job.spec).await? {
                Some(listed) => println!(
                    "{}: workload {}, {} cost units a step ({:.3} reference steps), {}/1024 of \
                     each layer's weights non-zero, {}/1024 of each hidden layer live, \
                     {}/1024 of its activations non-zero",
                    file.display(),
                    listed.id,
                    listed.cost,
                    f64::from(listed.cost) / f64::from(upow_puzzle::REFERENCE_COST),
                    listed.min_nonzero_per_1024,
                    listed.min_live_per_1024,
                    listed.min_active_per_1024
                ),
                None => println!("{}: not listed", file.display()),
            }
            Ok(())
        }
        WorkloadCommand::List {
            file,
            cost,
            nominal,
            max_label,
            min_nonzero,
            min_live,
            min_active,
            key,
        } => {
            let liveness = liveness_from_fractions(min_nonzero, min_live, min_active)?;
            let job = JobFile::read(&file)?;
            let max_label = match (max_label, job.max_label) {
                (Some(flag), Some(data)) if flag != data => bail!(
                    "--max-label {flag}: the dataset at the job file's path has labels up to {data}"
                ),
                (_, Some(data)) => data,
                (Some(flag), None) => flag,
                (None, None) => bail!(
                    "{}: the dataset is named by its commitment only: pass --max-label (the \
                     largest label of the dataset) or name its path in the job file",
                    file.display()
                ),
            };
            // The chain refuses it too (LabelsOutsideClasses); say why here.
            if upow_puzzle::dataset::check_label(max_label, job.spec.model.classes()).is_err() {
                bail!(
                    "--max-label {max_label}: not a class of the model ({} classes), so no \
                     job of this workload could train",
                    job.spec.model.classes()
                );
            }
            let cost = match cost {
                Some(0) => bail!("--cost: a step costs at least 1 cost unit"),
                Some(cost) => cost,
                None if nominal => job.spec.nominal_cost(),
                None => bail!("pass --cost <units> or --nominal"),
            };
            let key = key.load()?;
            let chain = connect(url).await?;
            if let Some(listed) = chain.listed_workload(&job.spec).await? {
                bail!(
                    "{}: already listed as workload {} at {} cost units",
                    file.display(),
                    listed.id,
                    listed.cost
                );
            }
            let terms = ListingTerms {
                cost,
                max_label,
                min_nonzero_per_1024: liveness.nonzero_weights_per_1024(),
                min_live_per_1024: liveness.live_units_per_1024(),
                min_active_per_1024: liveness.active_per_1024(),
            };
            let (id, included) = chain.list_workload(&key, job.spec, terms).await?;
            println!(
                "workload {id} listed at {cost} cost units, {liveness} of each hidden layer, \
                 in finalized block {:?} (fee {})",
                included.block,
                format_balance(included.fee)
            );
            Ok(())
        }
    }
}

async fn job(url: &str, command: JobCommand) -> Result<()> {
    match command {
        JobCommand::Post { file, key } => {
            let job = JobFile::read(&file)?;
            let key = key.load()?;
            let chain = connect(url).await?;
            if chain.listed_workload(&job.spec).await?.is_none() {
                bail!(
                    "{}: its spec (model, batch, learning rate, planned steps and dataset) is not \
                     a listed workload's, so no block could train it; governance lists \
                     workloads (`upow-cli workload list {} --cost <units>`)",
                    file.display(),
                    file.display()
                );
            }
            let deposit = chain.job_deposit(&job.spec.dataset).await?;
            let min_price = chain.min_price_per_step().await?;
            if job.price_per_step < min_price {
                bail!(
                    "{}: `price_per_step`: {} is below the chain's minimum of {}",
                    file.display(),
                    format_balance(job.price_per_step),
                    format_balance(min_price)
                );
            }
            let spendable = chain.spendable_balance(&key.account()).await?;
            let needed = job.budget.saturating_add(deposit);
            if spendable < needed {
                bail!(
                    "{}: budget {} + deposit {} = {} is above the free balance of {} that can be \
                     held ({}; fees come on top)",
                    file.display(),
                    format_balance(job.budget),
                    format_balance(deposit),
                    format_balance(needed),
                    key.ss58(),
                    format_balance(spendable)
                );
            }
            let (id, included) = chain
                .post_job(
                    &key,
                    job.spec,
                    job.price_per_step,
                    job.budget,
                    job.target_loss,
                )
                .await?;
            println!(
                "job {id} posted in finalized block {:?} (fee {})",
                included.block,
                format_balance(included.fee)
            );
            println!(
                "escrowed {} (+ deposit {}), {} per step",
                format_balance(job.budget),
                format_balance(deposit),
                format_balance(job.price_per_step)
            );
            Ok(())
        }
        JobCommand::Status { id } => {
            let chain = connect(url).await?;
            let (info, at) = chain.job_at(id, None).await?;
            print_status(id, &info, at.number);
            Ok(())
        }
        JobCommand::Watch { id } => watch(&connect(url).await?, id).await,
        JobCommand::Cancel { id, key } => {
            let key = key.load()?;
            let chain = connect(url).await?;
            // Refused here, before anything is signed (no fee is spent).
            let info = chain.job(id, None).await?;
            if info.poster != key.account().0 {
                bail!(
                    "job {id} was posted by 0x{}, not by {} (0x{}): only its poster may cancel it",
                    hex::encode(info.poster),
                    key.ss58(),
                    hex::encode(key.account().0)
                );
            }
            if !matches!(info.status, JobStatus::Open | JobStatus::Settling) {
                bail!("job {id} has already ended ({})", status_name(info.status));
            }
            let (refund, included) = chain.cancel_job(&key, id).await?;
            println!(
                "job {id} cancelled in finalized block {:?} (fee {}): {} refunded (the budget \
                 left after any block that trained it earlier in the same block; reserved \
                 payments of unsettled blocks stay held until they settle)",
                included.block,
                format_balance(included.fee),
                format_balance(refund)
            );
            Ok(())
        }
        JobCommand::Weights { id, at, out } => {
            let chain = connect(url).await?;
            let (info, block, weights) = chain.job_weights(id, at).await?;
            let provenance = Provenance {
                job: id,
                block: block.number,
                block_hash: format!("{:?}", block.hash),
                spec_version: chain.spec_version().await?,
                batch: info.spec.hyper.batch(),
                steps: info.steps,
            };
            let bytes = to_safetensors(&info.spec.model, &weights, &provenance)?;
            std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
            println!(
                "job {id} at block {}: {} steps, weights 0x{} ({} bytes) → {}",
                block.number,
                info.steps,
                hex::encode(weights.hash()),
                bytes.len(),
                out.display()
            );
            Ok(())
        }
        JobCommand::Plot { id, out, font } => {
            let chain = connect(url).await?;
            // The curve is kept per block; read it 1024 points at a time.
            let mut points = Vec::new();
            loop {
                let from = u32::try_from(points.len()).context("too many loss points")?;
                let page = chain
                    .node()
                    .loss_curve(id, from, 1024)
                    .await
                    .with_context(|| format!("reading job {id}'s loss curve"))?;
                let last = page.len() < 1024;
                points.extend(page.into_iter().map(|p| (p.steps, nats(p.loss))));
                if last {
                    break;
                }
            }
            if points.is_empty() {
                bail!("job {id} has no loss points yet: no block has trained it");
            }
            upow_cli::plot::plot(
                &points,
                &format!("job {id}: loss per block"),
                &out,
                font.as_deref(),
            )?;
            println!("job {id}: {} points → {}", points.len(), out.display());
            Ok(())
        }
        JobCommand::Eval { model, test, at } => {
            let (model, weights, chunk) = match model.parse::<JobId>() {
                Ok(id) => {
                    let chain = connect(url).await?;
                    let (info, _, weights) = chain.job_weights(id, at).await?;
                    let chunk = info.spec.hyper.batch();
                    (info.spec.model, weights, chunk)
                }
                Err(_) => {
                    let path = Path::new(&model);
                    let bytes = std::fs::read(path)
                        .with_context(|| format!("reading the model file {}", path.display()))?;
                    let file = from_safetensors(&bytes)
                        .with_context(|| format!("loading {}", path.display()))?;
                    (file.model, file.weights, file.provenance.batch)
                }
            };
            let eval = evaluate_on(&model, &weights, chunk, &test)?;
            println!(
                "accuracy {:.2}% ({} of {}), loss {:.4} nats",
                100.0 * eval.accuracy(),
                eval.correct,
                eval.total,
                eval.mean_loss_nats()
            );
            Ok(())
        }
    }
}

/// Evaluates on a test set: an IDX directory's t10k split.
fn evaluate_on(
    model: &Model,
    weights: &Weights,
    chunk: usize,
    test: &Path,
) -> Result<upow_puzzle::Evaluation> {
    let set = datasets::load(test, Split::Test)
        .with_context(|| format!("reading the test set {}", test.display()))?;
    let batch = Batch::from_encoded((0..set.len()).filter_map(|i| set.sample(i)), model)
        .with_context(|| format!("the test set in {} does not fit the model", test.display()))?;
    Ok(evaluate(model, weights, &batch, chunk))
}

fn status_name(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Open => "Open",
        JobStatus::Settling => "Settling",
        JobStatus::Completed => "Completed",
        JobStatus::Exhausted => "Exhausted",
        JobStatus::Cancelled => "Cancelled",
        JobStatus::Expired => "Expired",
        JobStatus::Evicted => "Evicted",
    }
}

fn nats(loss: u64) -> f64 {
    loss as f64 / 16.0 * std::f64::consts::LN_2
}

fn print_status(id: JobId, info: &JobInfo, block: u32) {
    let spec = &info.spec;
    let dims = &spec.model;
    println!(
        "job {id}: {} (at finalized block {block})",
        status_name(info.status)
    );
    println!("  poster     0x{}", hex::encode(info.poster));
    println!(
        "  model      {dims}, batch {}, lr 2^-{}, {} planned steps",
        spec.hyper.batch(),
        spec.hyper.lr_shift(),
        spec.hyper.total_steps()
    );
    println!(
        "  dataset    0x{} ({} samples of {} inputs)",
        hex::encode(spec.dataset.root),
        spec.dataset.samples,
        spec.dataset.inputs
    );
    println!(
        "  steps      {} of {} (settled {})",
        info.steps, info.target_steps, info.settled_steps
    );
    println!(
        "  escrow     {} left, {} pending (reserved for blocks in their dispute window), deposit {}",
        format_balance(info.budget_left),
        format_balance(info.pending_payment),
        format_balance(info.deposit)
    );
    println!(
        "  price      {} per step (blocks past their dispute window are paid: JobPaid events)",
        format_balance(info.price_per_step)
    );
    match info.last_loss {
        Some(loss) => println!(
            "  loss       {loss} (sixteenths of a bit) = {:.4} nats",
            nats(loss)
        ),
        None => println!("  loss       none yet"),
    }
    if let Some(target) = info.target_loss {
        println!("  target     loss ≤ {target} = {:.4} nats", nats(target));
    }
    match info.weights {
        Some(weights) => println!("  weights    0x{}", hex::encode(weights)),
        None => println!("  weights    none yet (a later block draws the initial weights)"),
    }
}

/// A line above the progress bar, or on stdout when the bar is hidden (not a terminal).
fn say(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        println!("{line}");
    } else {
        bar.println(line);
    }
}

async fn watch(chain: &Chain, id: JobId) -> Result<()> {
    let info = chain.job(id, None).await?;
    let bar = ProgressBar::new(info.target_steps);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} job {prefix} [{bar:40}] {pos}/{len} steps ({per_sec}, ETA {eta}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_prefix(id.to_string());
    bar.set_position(info.steps);
    let mut seen = 0u32;
    loop {
        let points = chain
            .node()
            .loss_curve(id, seen, 1024)
            .await
            .context("reading the loss curve")?;
        for point in &points {
            // Shown above the bar on a terminal, as plain lines otherwise.
            say(
                &bar,
                format!(
                    "block {:>6}: {:>8} steps, loss {:>4} = {:.4} nats",
                    point.block,
                    point.steps,
                    point.loss,
                    nats(point.loss)
                ),
            );
        }
        seen = seen.saturating_add(points.len() as u32);
        let info = chain.job(id, None).await?;
        bar.set_position(info.steps.min(info.target_steps));
        bar.set_message(format!(
            "{} · escrow {}",
            status_name(info.status),
            format_balance(info.budget_left)
        ));
        if !matches!(info.status, JobStatus::Open | JobStatus::Settling) {
            bar.finish();
            println!(
                "job {id} ended: {} at {} steps in {seen} blocks, {} of escrow left",
                status_name(info.status),
                info.steps,
                format_balance(info.budget_left)
            );
            return Ok(());
        }
        bar.tick();
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
