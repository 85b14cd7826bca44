//! `cli/metadata.scale` is the runtime's metadata: the typed client that
//! subxt generates from it matches the chain. After a runtime change,
//! refresh it with `UPOW_BLESS=1 cargo test --release -p upow-cli --test
//! metadata` and commit the file.

use std::path::PathBuf;

/// The metadata version subxt generates the client from.
const VERSION: u32 = 15;

#[test]
fn committed_metadata_is_the_runtime_s() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("metadata.scale");
    let current = upow_runtime::Runtime::metadata_at_version(VERSION)
        .expect("the runtime serves metadata v15")
        .to_vec();
    if std::env::var_os("UPOW_BLESS").is_some() {
        std::fs::write(&path, &current).expect("write metadata.scale");
        return;
    }
    let committed = std::fs::read(&path).expect("cli/metadata.scale is committed");
    assert!(
        committed == current,
        "cli/metadata.scale is not the runtime's metadata: refresh it with \
         `UPOW_BLESS=1 cargo test --release -p upow-cli --test metadata` and commit it"
    );
}
