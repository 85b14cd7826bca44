//! Author keys: sr25519 pairs from secret URIs (`//Alice`, a mnemonic, a
//! `0x` seed, with `//hard/soft` derivations and `///password`), from key
//! files, or from a Substrate keystore directory. Secrets are never printed:
//! [`SecretUri`] and [`AuthorKey`] show only public keys.
//!
//! ## One key per device
//!
//! A trajectory is a pure function of `(parent, author, job, W_0)`: every
//! step's seed is `H(parent ‖ author ‖ job ‖ i ‖ H(W_i))` and the weights
//! evolve deterministically, so two devices mining the same parent with the
//! same author key compute the *same* trajectory step for step, and find the
//! same winning ticket at the same step. A second device with the same key
//! adds nothing, and one trajectory cannot be split either (each step needs
//! the previous weights). The only thing that makes trajectories differ is
//! the author key, so the miner gives every device its own key:
//!
//! * `--author` (or `--key-file`) once per device, in `--devices` order; or
//! * `--derive-device-keys` with one base key: device `i` (its position in
//!   `--devices`) mines as `<base>//device//<i>`.
//!
//! Each key must be admitted (bonded as a miner) on the chain, or its blocks
//! are rejected; the miner checks admission and idles a device whose key is
//! not admitted.

use std::{
    fmt,
    path::{Path, PathBuf},
    str::FromStr,
};

use sp_core::{
    crypto::{Pair as _, Ss58Codec},
    sr25519,
};
use upow_primitives::{AuthorId, AUTHOR_KEY_TYPE};

/// A key problem.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// No key was given.
    #[error("no author key: pass --author <secret URI> (or set UPOW_AUTHOR), --key-file or --keystore-path")]
    Missing,
    /// A secret does not parse (the secret itself is not shown).
    #[error("author key {source_name}: not a valid secret URI, mnemonic or 0x seed ({reason})")]
    Invalid {
        /// Where the secret came from ("--author #1", a file path).
        source_name: String,
        /// The parser's reason (never the secret).
        reason: String,
    },
    /// A key file or keystore could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Keys and devices do not pair up.
    #[error("{keys} author keys for {devices} devices: a device needs its own key (same key, same parent = the same trajectory); give one key per device, or one key and --derive-device-keys")]
    Count {
        /// Keys given.
        keys: usize,
        /// Devices given.
        devices: usize,
    },
    /// Two devices would mine with the same key.
    #[error("devices {first} and {second} would both mine as {public}: their trajectories would be identical")]
    Duplicate {
        /// Position of the first device.
        first: usize,
        /// Position of the second device.
        second: usize,
        /// The shared public key (SS58).
        public: String,
    },
}

/// A secret URI as typed or read from a file. Its `Debug` hides it.
#[derive(Clone)]
pub struct SecretUri(String);

impl SecretUri {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself (to hand to a parser; never print it).
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// The URI of a derived key: `self` with `//junction` appended (before
    /// a `///password` part, if any).
    pub fn derive_hard(&self, junction: &str) -> Self {
        match self.0.split_once("///") {
            Some((path, password)) => Self(format!("{path}//{junction}///{password}")),
            None => Self(format!("{}//{junction}", self.0)),
        }
    }
}

impl FromStr for SecretUri {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.trim().to_string()))
    }
}

impl fmt::Debug for SecretUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretUri(<hidden>)")
    }
}

/// A secret and where it came from (for messages).
#[derive(Clone, Debug)]
pub struct KeySource {
    /// The secret.
    pub secret: SecretUri,
    /// "--author #1", "key file /path", "keystore /path/…".
    pub name: String,
}

/// A block author's key pair.
#[derive(Clone)]
pub struct AuthorKey {
    pair: sr25519::Pair,
}

impl AuthorKey {
    /// The pair of a secret URI (`password` overrides a `///password`).
    pub fn from_secret(source: &KeySource, password: Option<&str>) -> Result<Self, KeyError> {
        let pair = sr25519::Pair::from_string(&source.secret.0, password).map_err(|e| {
            KeyError::Invalid {
                source_name: source.name.clone(),
                reason: e.to_string(),
            }
        })?;
        Ok(Self { pair })
    }

    /// The public key, as the chain names authors.
    pub fn public(&self) -> AuthorId {
        self.pair.public().0
    }

    /// The public key in SS58 (generic prefix 42).
    pub fn ss58(&self) -> String {
        self.pair.public().to_ss58check()
    }

    /// Signs a block's pre-seal hash.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.pair.sign(message).0
    }
}

impl fmt::Debug for AuthorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthorKey({})", self.ss58())
    }
}

/// Reads a key file: the first non-empty line is a secret URI (or a
/// mnemonic, or a `0x` seed); a JSON string (a Substrate keystore file) is
/// accepted too.
pub fn read_key_file(path: &Path) -> Result<KeySource, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let secret = serde_json::from_str::<String>(line).unwrap_or_else(|_| line.to_string());
    Ok(KeySource {
        secret: SecretUri::new(secret),
        name: format!("key file {}", path.display()),
    })
}

/// The author keys (key type `upow`) in a Substrate keystore directory
/// (files named `hex(key type) ‖ hex(public key)` holding the secret as a
/// JSON string), sorted by public key.
pub fn read_keystore(dir: &Path) -> Result<Vec<KeySource>, KeyError> {
    let prefix = hex::encode(AUTHOR_KEY_TYPE.0);
    let io = |source| KeyError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.len() == prefix.len() + 64 && name.starts_with(&prefix) {
            let mut source = read_key_file(&entry.path())?;
            source.name = format!("keystore {}", entry.path().display());
            found.push((name, source));
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found.into_iter().map(|(_, s)| s).collect())
}

/// One key per device: the given keys in order, or (with `derive` and one
/// base key) `<base>//device//<i>` for device position `i`.
pub fn device_keys(
    sources: &[KeySource],
    devices: usize,
    derive: bool,
    password: Option<&str>,
) -> Result<Vec<AuthorKey>, KeyError> {
    if sources.is_empty() {
        return Err(KeyError::Missing);
    }
    let keys = if derive {
        if sources.len() != 1 {
            return Err(KeyError::Count {
                keys: sources.len(),
                devices,
            });
        }
        (0..devices)
            .map(|i| {
                let derived = KeySource {
                    secret: sources[0].secret.derive_hard(&format!("device//{i}")),
                    name: format!("{} //device//{i}", sources[0].name),
                };
                AuthorKey::from_secret(&derived, password)
            })
            .collect::<Result<Vec<_>, _>>()?
    } else {
        if sources.len() != devices {
            return Err(KeyError::Count {
                keys: sources.len(),
                devices,
            });
        }
        sources
            .iter()
            .map(|s| AuthorKey::from_secret(s, password))
            .collect::<Result<Vec<_>, _>>()?
    };
    for (second, key) in keys.iter().enumerate() {
        if let Some(first) = keys[..second]
            .iter()
            .position(|k| k.public() == key.public())
        {
            return Err(KeyError::Duplicate {
                first,
                second,
                public: key.ss58(),
            });
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(s: &str) -> KeySource {
        KeySource {
            secret: SecretUri::new(s),
            name: "test".into(),
        }
    }

    #[test]
    fn dev_uris_give_the_well_known_keys() {
        let alice = AuthorKey::from_secret(&source("//Alice"), None).unwrap();
        assert_eq!(
            alice.ss58(),
            "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
        );
        assert!(!format!("{alice:?}").contains("Alice"));
        assert_eq!(
            format!("{:?}", source("//Alice").secret),
            "SecretUri(<hidden>)"
        );
    }

    #[test]
    fn invalid_secrets_are_not_echoed() {
        let err = AuthorKey::from_secret(&source("not a mnemonic at all"), None).unwrap_err();
        assert!(!err.to_string().contains("mnemonic at all"), "{err}");
    }

    #[test]
    fn one_key_per_device() {
        let one = [source("//Alice")];
        let two = [source("//Alice"), source("//Bob")];
        assert_eq!(device_keys(&one, 1, false, None).unwrap().len(), 1);
        assert!(matches!(
            device_keys(&one, 2, false, None),
            Err(KeyError::Count {
                keys: 1,
                devices: 2
            })
        ));
        let keys = device_keys(&two, 2, false, None).unwrap();
        assert_ne!(keys[0].public(), keys[1].public());
        assert!(matches!(
            device_keys(&[source("//Alice"), source("//Alice")], 2, false, None),
            Err(KeyError::Duplicate {
                first: 0,
                second: 1,
                ..
            })
        ));
        assert!(matches!(
            device_keys(&[], 1, false, None),
            Err(KeyError::Missing)
        ));
    }

    #[test]
    fn derived_device_keys_are_distinct_and_reproducible() {
        let keys = device_keys(&[source("//Alice")], 3, true, None).unwrap();
        let direct = AuthorKey::from_secret(&source("//Alice//device//1"), None).unwrap();
        assert_eq!(keys[1].public(), direct.public());
        assert_ne!(keys[0].public(), keys[2].public());
        // A password stays at the end of the URI.
        let uri = SecretUri::new("//Alice///secret").derive_hard("device//0");
        assert_eq!(uri.0, "//Alice//device//0///secret");
    }

    #[test]
    fn key_files_and_keystores() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key");
        std::fs::write(&file, "\n  //Bob  \n").unwrap();
        let bob = AuthorKey::from_secret(&read_key_file(&file).unwrap(), None).unwrap();
        assert_eq!(
            bob.ss58(),
            "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"
        );

        let store = dir.path().join("keystore");
        std::fs::create_dir(&store).unwrap();
        let put = |uri: &str, key_type: &str| {
            let k = AuthorKey::from_secret(&source(uri), None).unwrap();
            let name = format!("{}{}", hex::encode(key_type), hex::encode(k.public()));
            std::fs::write(store.join(name), format!("\"{uri}\"")).unwrap();
            k
        };
        let a = put("//Alice", "upow");
        let c = put("//Charlie", "upow");
        put("//Dave", "gran");
        let found = read_keystore(&store).unwrap();
        let mut publics: Vec<_> = found
            .iter()
            .map(|s| AuthorKey::from_secret(s, None).unwrap().public())
            .collect();
        assert_eq!(publics.len(), 2);
        publics.sort();
        let mut expected = vec![a.public(), c.public()];
        expected.sort();
        assert_eq!(publics, expected);
    }
}
