//! Datasets as builders have them — IDX (MNIST layout) or CSV — read into
//! the puzzle's [`Dataset`] (samples `label ‖ inputs`, one byte each) whose
//! Merkle root a job names.
//!
//! * an IDX directory: its training split (`train-images-idx3-ubyte[.gz]`,
//!   `train-labels-idx1-ubyte[.gz]`), or its test split for evaluation;
//! * a CSV file: one sample per row, the label in the first column, then one
//!   column per input, every value an integer 0–255; a first row that is
//!   not numeric is a header and skipped.

use std::path::{Path, PathBuf};

use upow_puzzle::{idx, Dataset};

/// A dataset file problem.
#[derive(Debug, thiserror::Error)]
pub enum DatasetFileError {
    /// IDX files missing or malformed.
    #[error("{path}: {message}")]
    Idx {
        /// The directory.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A CSV row that is not a sample.
    #[error("{path}, row {row}: {message}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based row number.
        row: u64,
        /// Why.
        message: String,
    },
    /// Neither a directory nor a `.csv` file.
    #[error("{0}: not an IDX directory or a .csv file")]
    Kind(PathBuf),
}

/// Which split of an IDX directory.
pub use upow_puzzle::idx::Split;

/// Reads a dataset: an IDX directory's `split`, or a CSV file.
pub fn load(path: &Path, split: Split) -> Result<Dataset, DatasetFileError> {
    if path.is_dir() {
        return idx::load_split(path, split).map_err(|e| DatasetFileError::Idx {
            path: path.to_path_buf(),
            message: e.to_string(),
        });
    }
    match path.extension().and_then(|e| e.to_str()) {
        Some(ext) if ext.eq_ignore_ascii_case("csv") => load_csv(path),
        _ => Err(DatasetFileError::Kind(path.to_path_buf())),
    }
}

/// Reads a CSV dataset (label, then inputs; integers 0–255).
pub fn load_csv(path: &Path) -> Result<Dataset, DatasetFileError> {
    let error = |row: u64, message: String| DatasetFileError::Csv {
        path: path.to_path_buf(),
        row,
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| error(0, e.to_string()))?;
    let mut labels = Vec::new();
    let mut inputs = Vec::new();
    let mut width: Option<usize> = None;
    for (index, record) in reader.records().enumerate() {
        let row = index as u64 + 1;
        let record = record.map_err(|e| error(row, e.to_string()))?;
        let values: Result<Vec<u8>, _> = record.iter().map(str::parse::<u8>).collect();
        let values = match values {
            Ok(values) => values,
            // A header.
            Err(_) if row == 1 => continue,
            Err(_) => {
                let bad = record
                    .iter()
                    .position(|v| v.parse::<u8>().is_err())
                    .unwrap_or(0);
                return Err(error(
                    row,
                    format!(
                        "column {}: {:?} is not an integer 0–255",
                        bad + 1,
                        record.get(bad).unwrap_or("")
                    ),
                ));
            }
        };
        if values.len() < 2 {
            return Err(error(
                row,
                "a sample needs a label and at least one input".into(),
            ));
        }
        let row_width = values.len() - 1;
        match width {
            None => width = Some(row_width),
            Some(w) if w != row_width => {
                return Err(error(
                    row,
                    format!("{row_width} inputs, the rows above have {w}"),
                ))
            }
            Some(_) => {}
        }
        labels.push(values[0]);
        inputs.extend_from_slice(&values[1..]);
    }
    let width = width.ok_or_else(|| error(0, "no samples".into()))?;
    let width = u32::try_from(width).map_err(|_| error(1, "too many columns".into()))?;
    Dataset::new(width, &labels, &inputs).map_err(|e| error(0, e.to_string()))
}

/// The largest label of a dataset (models need more classes than that).
pub fn max_label(dataset: &Dataset) -> Option<u8> {
    (0..dataset.len())
        .filter_map(|i| dataset.sample(i).map(|s| s[0]))
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csv_reads_as_the_same_dataset_as_its_samples() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.csv");
        std::fs::write(&path, "label,a,b,c\n1, 0, 255, 7\n0,3,4,5\n2,9,9,9\n").unwrap();
        let dataset = load(&path, Split::Train).unwrap();
        let expected = Dataset::new(3, &[1, 0, 2], &[0, 255, 7, 3, 4, 5, 9, 9, 9]).unwrap();
        assert_eq!(dataset.commitment(), expected.commitment());
        assert_eq!(max_label(&dataset), Some(2));
    }

    #[test]
    fn bad_csv_rows_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let write = |text: &str| {
            let path = dir.path().join("bad.csv");
            std::fs::write(&path, text).unwrap();
            load(&path, Split::Train).unwrap_err().to_string()
        };
        assert!(write("1,2,3\n0,256,1\n").contains("row 2: column 2"));
        assert!(write("1,2,3\n0,1\n").contains("row 2: 1 inputs"));
        assert!(write("1,2,3\n0,-1,2\n").contains("row 2"));
        assert!(write("").contains("no samples"));
        assert!(load(Path::new("model.bin"), Split::Train).is_err());
    }
}
