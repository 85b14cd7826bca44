//! IDX files (the MNIST family's format), plain or gzip-compressed, and the
//! Fashion-MNIST layout built on them.

use alloc::{format, string::String, vec::Vec};
use std::{io::Read, path::Path};

use crate::{
    dataset::Dataset,
    error::{Error, Result},
};

/// Where Debian's `dataset-fashion-mnist` installs the files.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// An IDX array of unsigned bytes: its dimensions and data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    /// Dimensions, outermost first.
    pub dims: Vec<u32>,
    /// Row-major data.
    pub data: Vec<u8>,
}

fn malformed(msg: String) -> Error {
    Error::Malformed(msg)
}

/// Parses IDX bytes (gzip-compressed if they start with the gzip magic).
pub fn parse_idx(bytes: &[u8]) -> Result<IdxArray> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut raw)
            .map_err(|e| malformed(format!("gzip: {e}")))?;
        return parse_idx(&raw);
    }
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(malformed("not an IDX file (bad magic)".into()));
    }
    if bytes[2] != 0x08 {
        return Err(malformed(format!(
            "IDX element type {:#04x} is not unsigned byte",
            bytes[2]
        )));
    }
    let ndims = bytes[3] as usize;
    let header = 4 + 4 * ndims;
    if ndims == 0 || bytes.len() < header {
        return Err(malformed("truncated IDX header".into()));
    }
    let dims: Vec<u32> = bytes[4..header]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let len = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d as usize))
        .ok_or_else(|| malformed("IDX dimensions overflow".into()))?;
    let data = &bytes[header..];
    if data.len() != len {
        return Err(malformed(format!(
            "IDX data is {} bytes, dimensions need {len}",
            data.len()
        )));
    }
    Ok(IdxArray {
        dims,
        data: data.to_vec(),
    })
}

/// Reads an IDX file.
pub fn read_idx(path: &Path) -> Result<IdxArray> {
    let bytes = std::fs::read(path).map_err(|e| malformed(format!("{}: {e}", path.display())))?;
    parse_idx(&bytes).map_err(|e| match e {
        Error::Malformed(m) => malformed(format!("{}: {m}", path.display())),
        other => other,
    })
}

/// Joins an images file and a labels file into a [`Dataset`].
pub fn dataset_from_idx(images: &IdxArray, labels: &IdxArray) -> Result<Dataset> {
    if images.dims.len() < 2 || labels.dims.len() != 1 {
        return Err(malformed("expected images [n, …] and labels [n]".into()));
    }
    if images.dims[0] != labels.dims[0] {
        return Err(malformed(format!(
            "{} images but {} labels",
            images.dims[0], labels.dims[0]
        )));
    }
    let inputs = images.dims[1..]
        .iter()
        .try_fold(1u32, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| malformed("IDX sample size overflows u32".into()))?;
    Dataset::new(inputs, &labels.data, &images.data)
}

/// Which half of a Fashion-MNIST-style directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// `train-images-idx3-ubyte[.gz]` + `train-labels-idx1-ubyte[.gz]`.
    Train,
    /// `t10k-images-idx3-ubyte[.gz]` + `t10k-labels-idx1-ubyte[.gz]`.
    Test,
}

/// Loads a split of an MNIST-layout directory (files plain or `.gz`).
pub fn load_split(dir: &Path, split: Split) -> Result<Dataset> {
    let prefix = match split {
        Split::Train => "train",
        Split::Test => "t10k",
    };
    let find = |stem: &str| {
        let plain = dir.join(format!("{prefix}-{stem}"));
        let gz = dir.join(format!("{prefix}-{stem}.gz"));
        if plain.exists() {
            Ok(plain)
        } else if gz.exists() {
            Ok(gz)
        } else {
            Err(malformed(format!(
                "{} not found (plain or .gz)",
                plain.display()
            )))
        }
    };
    let images = read_idx(&find("images-idx3-ubyte")?)?;
    let labels = read_idx(&find("labels-idx1-ubyte")?)?;
    dataset_from_idx(&images, &labels)
}

/// Encodes an array as IDX bytes (for tests and for writing subsets).
pub fn encode_idx(array: &IdxArray) -> Vec<u8> {
    let mut out = alloc::vec![0, 0, 0x08, array.dims.len() as u8];
    for d in &array.dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(&array.data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn roundtrip_plain_and_gzip() {
        let images = IdxArray {
            dims: alloc::vec![3, 2, 2],
            data: (0..12).collect(),
        };
        let labels = IdxArray {
            dims: alloc::vec![3],
            data: alloc::vec![1, 0, 1],
        };
        let plain = encode_idx(&images);
        assert_eq!(parse_idx(&plain).unwrap(), images);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&plain).unwrap();
        assert_eq!(parse_idx(&gz.finish().unwrap()).unwrap(), images);
        let ds = dataset_from_idx(&images, &labels).unwrap();
        assert_eq!(ds.len(), 3);
        assert_eq!(ds.sample(1).unwrap(), &[0, 4, 5, 6, 7]);
    }

    #[test]
    fn malformed_files_are_rejected() {
        assert!(parse_idx(&[]).is_err());
        assert!(parse_idx(&[0, 0, 0x0d, 1, 0, 0, 0, 1, 0]).is_err()); // float type
        assert!(parse_idx(&[0, 0, 8, 1, 0, 0, 0, 5, 1, 2]).is_err()); // truncated
        assert!(parse_idx(&[0x1f, 0x8b, 0, 0]).is_err()); // broken gzip
        assert!(parse_idx(&[0, 0, 8, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).is_err());
        let images = IdxArray {
            dims: alloc::vec![2, 2],
            data: alloc::vec![0; 4],
        };
        let labels = IdxArray {
            dims: alloc::vec![3],
            data: alloc::vec![0; 3],
        };
        assert!(dataset_from_idx(&images, &labels).is_err());
        // Images of zero bytes each (found by fuzzing: panicked in
        // `Dataset::new`), and a sample size overflowing u32 (panicked with
        // overflow checks; seen while writing the fuzz target).
        let empty = IdxArray {
            dims: alloc::vec![2, 0],
            data: alloc::vec![],
        };
        let labels = IdxArray {
            dims: alloc::vec![2],
            data: alloc::vec![0; 2],
        };
        assert!(dataset_from_idx(&empty, &labels).is_err());
        let huge = parse_idx(&[0, 0, 8, 3, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0]).unwrap();
        let none = IdxArray {
            dims: alloc::vec![0],
            data: alloc::vec![],
        };
        assert!(matches!(
            dataset_from_idx(&huge, &none),
            Err(Error::Malformed(_))
        ));
    }
}
