//! `job.toml`: what a builder writes to post a job, checked here with the
//! same limits as the runtime (the puzzle's [`JobSpec::try_from`]) so a bad
//! field is named before anything is signed.
//!
//! ```toml
//! model = [784, 128, 10]      # [inputs, hidden…, classes]
//! batch = 64                  # a power of two, 16 ..= 1024
//! lr_shift = 2                # learning rate 2^-lr_shift, 0 ..= 16
//! steps = 9375                # planned steps (they set the rate schedule)
//! price_per_step = "0.01 UPOW"   # or plancks: 10000000000
//! budget = "100 UPOW"
//! target_loss = 40            # optional: sixteenths of a bit per sample
//!
//! [dataset]                   # either the commitment …
//! root = "0x…"
//! samples = 60000
//! inputs = 784
//! # … or the dataset itself, committed here (and its labels checked
//! # against the model's classes): an IDX directory (its training split)
//! # or a CSV file, relative to the job file:
//! # path = "/usr/share/datasets/fashion-mnist"
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;
use upow_puzzle::{
    DatasetCommitment, Error as PuzzleError, JobSpec, UncheckedHyperparams, UncheckedJobSpec,
    UncheckedModel,
};

/// Plancks per UPOW (the chain's 12 decimals).
pub const PLANCKS_PER_UPOW: u128 = 1_000_000_000_000;

/// A job file problem: the field and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum JobFileError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not TOML, a missing or unknown field, a wrong type.
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message (it names the field and line).
        message: String,
    },
    /// A field's value is outside its limits.
    #[error("{path}: `{field}`: {message}")]
    Field {
        /// The file.
        path: PathBuf,
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJobFile {
    model: Vec<u32>,
    batch: u32,
    lr_shift: u8,
    steps: u64,
    price_per_step: Amount,
    budget: Amount,
    target_loss: Option<u64>,
    dataset: RawDataset,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDataset {
    root: Option<String>,
    samples: Option<u64>,
    inputs: Option<u32>,
    path: Option<PathBuf>,
}

/// A balance: plancks as an integer, or a string of plancks or `"<n> UPOW"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Amount {
    Plancks(u64),
    Text(String),
}

/// A checked job file: the call's arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobFile {
    /// The spec, within the puzzle's limits.
    pub spec: JobSpec,
    /// Price per verified step, plancks.
    pub price_per_step: u128,
    /// Budget escrowed, plancks.
    pub budget: u128,
    /// Optional target loss.
    pub target_loss: Option<u64>,
    /// The largest label of the dataset, when it was read from `dataset.path`.
    pub max_label: Option<u8>,
}

impl JobFile {
    /// Reads and checks `path`.
    pub fn read(path: &Path) -> Result<Self, JobFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| JobFileError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Parses and checks a job file's text (`path` names it in errors).
    pub fn parse(path: &Path, text: &str) -> Result<Self, JobFileError> {
        let raw: RawJobFile = toml::from_str(text).map_err(|e| JobFileError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let field = |field: &'static str, message: String| JobFileError::Field {
            path: path.to_path_buf(),
            field,
            message,
        };
        if !raw.batch.is_power_of_two() {
            return Err(field(
                "batch",
                format!("{} is not a power of two", raw.batch),
            ));
        }
        let batch_log2 = raw.batch.trailing_zeros() as u8;
        let (dataset, max_label) = match raw.dataset {
            RawDataset {
                path: Some(data),
                root: None,
                samples: None,
                inputs: None,
            } => {
                let data = path.parent().unwrap_or(Path::new(".")).join(data);
                let train = crate::dataset::load(&data, crate::dataset::Split::Train)
                    .map_err(|e| field("dataset.path", e.to_string()))?;
                (train.commitment(), crate::dataset::max_label(&train))
            }
            RawDataset {
                path: None,
                root: Some(root),
                samples: Some(samples),
                inputs: Some(inputs),
            } => {
                let root = parse_hash(&root).map_err(|m| field("dataset.root", m))?;
                (
                    DatasetCommitment {
                        root,
                        samples,
                        inputs,
                    },
                    None,
                )
            }
            _ => {
                return Err(field(
                    "dataset",
                    "give either `path` (an IDX directory or a CSV file) or all of `root`, `samples` and `inputs`"
                        .into(),
                ))
            }
        };
        let unchecked = UncheckedJobSpec {
            model: UncheckedModel { dims: raw.model },
            hyper: UncheckedHyperparams {
                batch_log2,
                lr_shift: raw.lr_shift,
                total_steps: raw.steps,
            },
            dataset,
        };
        let spec = JobSpec::try_from(unchecked).map_err(|e| {
            let name = match e {
                PuzzleError::LayerCount { .. }
                | PuzzleError::Width { .. }
                | PuzzleError::Classes(_)
                | PuzzleError::Params { .. } => "model",
                PuzzleError::Batch { .. } => "batch",
                PuzzleError::LrShift { .. } => "lr_shift",
                PuzzleError::ZeroSteps => "steps",
                _ => "dataset",
            };
            field(name, e.to_string())
        })?;
        if let Some(label) = max_label {
            if label as usize >= spec.model.classes() {
                return Err(field(
                    "dataset.path",
                    format!(
                        "label {label} is not a class of the model ({} classes): every block \
                         that drew such a sample would be invalid",
                        spec.model.classes()
                    ),
                ));
            }
        }
        let price_per_step =
            parse_amount(&raw.price_per_step).map_err(|m| field("price_per_step", m))?;
        let budget = parse_amount(&raw.budget).map_err(|m| field("budget", m))?;
        if price_per_step == 0 {
            return Err(field("price_per_step", "must be above 0".into()));
        }
        if budget < price_per_step {
            return Err(field(
                "budget",
                format!("{budget} plancks cannot pay one step at {price_per_step}"),
            ));
        }
        if price_per_step
            .checked_mul(spec.hyper.total_steps() as u128)
            .is_none()
        {
            return Err(field(
                "price_per_step",
                "price × steps overflows a balance".into(),
            ));
        }
        Ok(Self {
            spec,
            price_per_step,
            budget,
            target_loss: raw.target_loss,
            max_label,
        })
    }
}

/// A `0x` + 64 hex digits hash.
pub fn parse_hash(text: &str) -> Result<[u8; 32], String> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    let bytes = hex::decode(digits).map_err(|e| format!("{text:?} is not hex: {e}"))?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("{text:?} is {} bytes, a hash is 32", b.len()))
}

fn parse_amount(amount: &Amount) -> Result<u128, String> {
    match amount {
        Amount::Plancks(n) => Ok(*n as u128),
        Amount::Text(text) => parse_balance(text),
    }
}

/// A balance: plancks (`"1500"`), or UPOW with up to 12 decimals
/// (`"1.5 UPOW"`).
pub fn parse_balance(text: &str) -> Result<u128, String> {
    let text = text.trim();
    let bad = || format!("{text:?} is not an amount (plancks, or \"<n> UPOW\")");
    match text.strip_suffix("UPOW") {
        None if text.bytes().all(|b| b.is_ascii_digit()) => text.parse::<u128>().map_err(|_| bad()),
        None => Err(bad()),
        Some(number) => {
            let number = number.trim();
            let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
            let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
            if fraction.len() > 12
                || whole.is_empty() && fraction.is_empty()
                || !digits(whole)
                || !digits(fraction)
            {
                return Err(bad());
            }
            let whole: u128 = if whole.is_empty() {
                0
            } else {
                whole.parse().map_err(|_| bad())?
            };
            let fraction: u128 = if fraction.is_empty() {
                0
            } else {
                format!("{fraction:0<12}").parse().map_err(|_| bad())?
            };
            whole
                .checked_mul(PLANCKS_PER_UPOW)
                .and_then(|w| w.checked_add(fraction))
                .ok_or_else(bad)
        }
    }
}

/// A balance in UPOW with its plancks, for people: `1.5 UPOW`.
pub fn format_balance(plancks: u128) -> String {
    let whole = plancks / PLANCKS_PER_UPOW;
    let fraction = plancks % PLANCKS_PER_UPOW;
    if fraction == 0 {
        format!("{whole} UPOW")
    } else {
        let digits = format!("{fraction:012}");
        format!("{whole}.{} UPOW", digits.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
model = [4, 8, 3]
batch = 16
lr_shift = 2
steps = 100
price_per_step = "0.001 UPOW"
budget = 1000000000000
target_loss = 40
[dataset]
root = "0x0707070707070707070707070707070707070707070707070707070707070707"
samples = 100
inputs = 4
"#;

    fn parse(text: &str) -> Result<JobFile, JobFileError> {
        JobFile::parse(Path::new("job.toml"), text)
    }

    fn field_of(text: &str) -> &'static str {
        match parse(text) {
            Err(JobFileError::Field { field, .. }) => field,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn a_good_file_is_the_call() {
        let job = parse(GOOD).unwrap();
        assert_eq!(job.spec.model.dims(), &[4, 8, 3]);
        assert_eq!(job.spec.hyper.batch(), 16);
        assert_eq!(job.price_per_step, 1_000_000_000);
        assert_eq!(job.budget, PLANCKS_PER_UPOW);
        assert_eq!(job.target_loss, Some(40));
        assert_eq!(job.spec.dataset.root, [7; 32]);
    }

    #[test]
    fn each_bad_field_is_named() {
        let with = |from: &str, to: &str| GOOD.replace(from, to);
        assert_eq!(field_of(&with("[4, 8, 3]", "[4, 2000, 3]")), "model");
        assert_eq!(field_of(&with("[4, 8, 3]", "[4, 8, 1]")), "model");
        assert_eq!(field_of(&with("batch = 16", "batch = 24")), "batch");
        assert_eq!(field_of(&with("batch = 16", "batch = 8")), "batch");
        assert_eq!(field_of(&with("lr_shift = 2", "lr_shift = 17")), "lr_shift");
        assert_eq!(field_of(&with("steps = 100", "steps = 0")), "steps");
        assert_eq!(field_of(&with("inputs = 4", "inputs = 5")), "dataset");
        assert_eq!(field_of(&with("0x07070707", "0x0707")), "dataset.root");
        assert_eq!(
            field_of(&with("\"0.001 UPOW\"", "\"lots\"")),
            "price_per_step"
        );
        assert_eq!(field_of(&with("\"0.001 UPOW\"", "0")), "price_per_step");
        assert_eq!(
            field_of(&with("budget = 1000000000000", "budget = 5")),
            "budget"
        );
        assert_eq!(field_of(&with("samples = 100\n", "")), "dataset");
        assert!(matches!(
            parse(&with("steps = 100", "steps = 100\nepochs = 3")),
            Err(JobFileError::Syntax { .. })
        ));
        assert!(matches!(
            parse("model = "),
            Err(JobFileError::Syntax { .. })
        ));
    }

    #[test]
    fn a_dataset_file_is_committed_and_its_labels_checked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("d.csv"),
            "0,1,2,3,4\n2,5,6,7,8\n1,0,0,0,0\n",
        )
        .unwrap();
        let file = GOOD.replace(
            "root = \"0x0707070707070707070707070707070707070707070707070707070707070707\"\nsamples = 100\ninputs = 4",
            "path = \"d.csv\"",
        );
        let job = JobFile::parse(&dir.path().join("job.toml"), &file).unwrap();
        assert_eq!((job.spec.dataset.samples, job.spec.dataset.inputs), (3, 4));
        assert_eq!(job.max_label, Some(2));
        // Label 2 is not a class of a 2-class model.
        let two = file.replace("[4, 8, 3]", "[4, 8, 2]");
        match JobFile::parse(&dir.path().join("job.toml"), &two) {
            Err(JobFileError::Field { field, .. }) => assert_eq!(field, "dataset.path"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn balances_read_and_print_in_upow_or_plancks() {
        assert_eq!(parse_balance("1500"), Ok(1500));
        assert_eq!(parse_balance("1.5 UPOW"), Ok(1_500_000_000_000));
        assert_eq!(parse_balance(".25UPOW"), Ok(250_000_000_000));
        assert!(parse_balance("1.0000000000001 UPOW").is_err());
        assert!(parse_balance("UPOW").is_err());
        assert!(parse_balance("-1").is_err());
        assert!(parse_balance("+1").is_err());
        assert!(parse_balance("1.+5 UPOW").is_err());
        assert!(parse_balance("+1.5 UPOW").is_err());
        for plancks in [
            0u128,
            1,
            999_999_999_999,
            1_000_000_000_000,
            123_456_789_012_345_678,
        ] {
            assert_eq!(parse_balance(&format_balance(plancks)), Ok(plancks));
        }
        assert_eq!(format_balance(1_500_000_000_000), "1.5 UPOW");
        assert_eq!(format_balance(7 * PLANCKS_PER_UPOW), "7 UPOW");
        assert_eq!(format_balance(1), "0.000000000001 UPOW");
    }
}
