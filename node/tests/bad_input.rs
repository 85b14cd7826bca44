//! Bad input to a running mining node: malformed and oversize JSON-RPC
//! requests, and malformed, forged, oversize and over-nested extrinsics.
//! Each is refused with an error that says what is wrong (never a crash, a
//! hang or a native panic), and the node keeps answering, mining and
//! including valid transactions throughout (docs/reliability.md §Bad
//! input). The mining RPC payloads' own error paths are in `e2e.rs`; the
//! decoding behind them is fuzzed (fuzz/: `rpc_payloads`, `seal`,
//! `inherent`).

#[path = "common/chain.rs"]
mod chain;
mod common;

use std::time::Duration;

use chain::{balance, pair, signed};
use codec::Encode;
use common::{serial, Node, RpcError};
use serde_json::{json, Value};
use sp_core::crypto::Pair as _;
use sp_runtime::MultiSignature;
use upow_runtime::{RuntimeCall, UncheckedExtrinsic};

/// JSON-RPC's own error codes.
const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;
/// jsonrpsee: the request is above the server's limit.
const OVERSIZED_REQUEST: i64 = -32007;
/// `author_submitExtrinsic`: the bytes do not decode as an extrinsic.
const BAD_FORMAT: i64 = 1001;
/// `author_submitExtrinsic`: the runtime could not validate it.
const VERIFICATION_ERROR: i64 = 1002;
/// `author_submitExtrinsic`: the runtime found it invalid.
const INVALID_TRANSACTION: i64 = 1010;
/// `author_submitExtrinsic`: no pallet vouches for it (a bare call).
const UNKNOWN_VALIDITY: i64 = 1011;
/// `author_submitExtrinsic`: any other error (the pool's decoding of an
/// opaque extrinsic among them).
const OTHER_ERROR: i64 = 1040;

fn hex_bytes(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

fn request(method: &str, params: Value) -> String {
    json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string()
}

/// Sends `body`; it must be refused with one of `codes` (an HTTP status
/// `s` reads as `-s`, unless it carries a JSON-RPC error). `Err`: how it
/// was not.
fn refused(node: &Node, what: &str, body: &str, codes: &[i64]) -> Result<(), String> {
    let mut err: RpcError = match node.raw_http(body) {
        Ok(result) => return Err(format!("{what}: accepted, answered {result}")),
        Err(e) => e,
    };
    // An HTTP error status may carry a JSON-RPC error: its code counts.
    if let Some(code) = err
        .message
        .split_once(": ")
        .and_then(|(_, payload)| serde_json::from_str::<Value>(payload).ok())
        .and_then(|v| v["error"]["code"].as_i64())
    {
        err.code = code;
    }
    eprintln!("{what}: {} {}", err.code, err.message);
    if !codes.contains(&err.code) || err.message.is_empty() {
        return Err(format!(
            "{what}: refused with {} ({}), expected one of {codes:?} and a message",
            err.code, err.message
        ));
    }
    Ok(())
}

fn submit_bytes(bytes: &[u8]) -> String {
    request("author_submitExtrinsic", json!([hex_bytes(bytes)]))
}

/// A signed transfer of `value` from `from` to `to`.
fn transfer(node: &Node, from: &str, nonce: u32, to: &str, value: u128) -> UncheckedExtrinsic {
    let call = RuntimeCall::Balances(pallet_balances::Call::transfer_keep_alive {
        dest: sp_runtime::AccountId32::from(pair(to).public()).into(),
        value,
    });
    signed(node, &pair(from), nonce, call)
}

#[test]
fn malformed_and_oversize_requests_and_extrinsics_are_refused_and_the_node_keeps_mining() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start("alice", dir.path(), &["--alice", "--mine"]);
    node.wait_for("block 1", Duration::from_secs(120), |n| {
        n.best_number() >= 1
    });

    // ---- JSON-RPC envelopes and parameters.
    let hash = format!("0x{}", "11".repeat(32));
    let cases: Vec<(&str, String, &[i64])> = vec![
        ("not JSON", "{\"jsonrpc\": \"2.0\", ".into(), &[PARSE_ERROR]),
        ("an empty body", String::new(), &[PARSE_ERROR]),
        ("a number", "42".into(), &[INVALID_REQUEST, PARSE_ERROR]),
        (
            "no method",
            json!({"jsonrpc": "2.0", "id": 1}).to_string(),
            &[INVALID_REQUEST, PARSE_ERROR],
        ),
        (
            "an unknown method",
            request("upow_mineForMe", json!([])),
            &[METHOD_NOT_FOUND],
        ),
        (
            "params that are a string",
            request("upow_getWork", json!("x")),
            &[INVALID_PARAMS, INVALID_REQUEST, PARSE_ERROR],
        ),
        (
            "a hash that is not hex",
            request("upow_getWeights", json!(["0xzz"])),
            &[INVALID_PARAMS],
        ),
        (
            "a hash of 31 bytes",
            request("upow_getWeights", json!([format!("0x{}", "11".repeat(31))])),
            &[INVALID_PARAMS],
        ),
        (
            "a job id above u64",
            r#"{"jsonrpc":"2.0","id":1,"method":"upow_job","params":[18446744073709551616]}"#
                .into(),
            &[INVALID_PARAMS],
        ),
        (
            "a negative job id",
            request("upow_job", json!([-1])),
            &[INVALID_PARAMS],
        ),
        (
            "a submission without fields",
            request("upow_submitWork", json!([{}])),
            &[INVALID_PARAMS],
        ),
        (
            "a dataset chunk of odd hex",
            request("upow_putDataset", json!([hash, 10, 784, 0, "0x123"])),
            &[INVALID_PARAMS],
        ),
        (
            "params nested 100 000 deep",
            format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"upow_job","params":{}{}}}"#,
                "[".repeat(100_000),
                "]".repeat(100_000)
            ),
            &[PARSE_ERROR, INVALID_PARAMS, INVALID_REQUEST],
        ),
        (
            "an empty batch",
            "[]".into(),
            &[INVALID_REQUEST, PARSE_ERROR],
        ),
        (
            // Above the node's 32 MiB request limit: refused with HTTP 413
            // and jsonrpsee's "Request is too big" (or the connection
            // closed before the whole body was sent: no status, read as 0).
            "a 40 MiB request",
            request(
                "author_submitExtrinsic",
                json!([format!("0x{}", "00".repeat(20 << 20))]),
            ),
            &[OVERSIZED_REQUEST, 0],
        ),
    ];
    let mut wrong: Vec<String> = cases
        .iter()
        .filter_map(|(what, body, codes)| refused(&node, what, body, codes).err())
        .collect();
    // A batch of 500 calls is answered call by call.
    let batch: Vec<Value> = (0..500)
        .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "system_health", "params": []}))
        .collect();
    let answers = node
        .raw_http_json(&Value::Array(batch).to_string())
        .unwrap();
    assert_eq!(answers.as_array().map(Vec::len), Some(500), "{answers}");

    // ---- Extrinsics.
    let valid = transfer(&node, "//Bob", 0, "//Charlie", 1_000_000_000_000);
    let bytes = valid.encode();
    let sp_runtime::generic::Preamble::Signed(_, MultiSignature::Sr25519(signature), _) =
        &valid.preamble
    else {
        panic!("a signed transfer")
    };
    let at = bytes
        .windows(64)
        .position(|w| w == signature.0)
        .expect("the signature is in the encoding");
    let mut forged_signature = bytes.clone();
    forged_signature[at + 63] ^= 0x01;
    // Half of the transfer, under a length prefix that fits (so that it
    // reaches the runtime's decoding).
    let len = <codec::Compact<u32> as codec::Decode>::decode(&mut &bytes[..])
        .unwrap()
        .0 as usize;
    let body = &bytes[bytes.len() - len..];
    let truncated = body[..len / 2].to_vec().encode();
    let mut nested = RuntimeCall::System(frame_system::Call::remark { remark: vec![] });
    for _ in 0..300 {
        nested = RuntimeCall::Sudo(pallet_sudo::Call::sudo {
            call: Box::new(nested),
        });
    }
    let over_nested = signed(&node, &pair("//Alice"), 0, nested).encode();
    // 10 MiB: more than transactions may take of a block (9 of its 12
    // MiB), less than the RPC request limit (32 MiB of hex).
    let remark = RuntimeCall::System(frame_system::Call::remark {
        remark: vec![7; 10 << 20],
    });
    let oversize = signed(&node, &pair("//Alice"), 0, remark).encode();
    let penniless = signed(
        &node,
        &pair("//Nobody"),
        0,
        RuntimeCall::System(frame_system::Call::remark { remark: vec![1] }),
    )
    .encode();
    let unsigned_transfer = UncheckedExtrinsic::new_bare(valid.function.clone()).encode();
    let inherent = UncheckedExtrinsic::new_bare(RuntimeCall::Training(
        pallet_upow_training::Call::submit_trajectory {
            proof: upow_puzzle::TrajectoryProof {
                start: upow_puzzle::MerkleProof { siblings: vec![] },
                steps: vec![],
                segments: vec![],
            },
        },
    ))
    .encode();
    let extrinsics: Vec<(&str, String, &[i64])> = vec![
        (
            "extrinsic bytes that are not hex",
            request("author_submitExtrinsic", json!(["0xnothex"])),
            &[INVALID_PARAMS],
        ),
        (
            "garbage bytes",
            submit_bytes(&[1, 2, 3]),
            &[BAD_FORMAT, OTHER_ERROR],
        ),
        (
            "a transfer cut in half",
            submit_bytes(&truncated),
            &[VERIFICATION_ERROR, INVALID_TRANSACTION, OTHER_ERROR],
        ),
        (
            "a transfer with a forged signature",
            submit_bytes(&forged_signature),
            &[INVALID_TRANSACTION],
        ),
        (
            "a call nested 300 deep",
            submit_bytes(&over_nested),
            &[VERIFICATION_ERROR, INVALID_TRANSACTION],
        ),
        (
            "a 10 MiB extrinsic",
            submit_bytes(&oversize),
            &[INVALID_TRANSACTION],
        ),
        (
            "a fee payer without funds",
            submit_bytes(&penniless),
            &[INVALID_TRANSACTION],
        ),
        (
            "a transfer without a signature",
            submit_bytes(&unsigned_transfer),
            &[INVALID_TRANSACTION, UNKNOWN_VALIDITY],
        ),
        (
            "the trajectory inherent as a transaction",
            submit_bytes(&inherent),
            &[INVALID_TRANSACTION, UNKNOWN_VALIDITY],
        ),
    ];
    wrong.extend(
        extrinsics
            .iter()
            .filter_map(|(what, body, codes)| refused(&node, what, body, codes).err()),
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // ---- Still running: answering, mining, including valid transactions.
    let (charlie_before, _) = balance(&node, &pair("//Charlie"));
    node.call("author_submitExtrinsic", json!([hex_bytes(&bytes)]));
    let best = node.best_number();
    node.wait_for("the valid transfer", Duration::from_secs(180), |n| {
        balance(n, &pair("//Charlie")).0 == charlie_before + 1_000_000_000_000
    });
    node.wait_for("two more blocks", Duration::from_secs(180), |n| {
        n.best_number() >= best + 2
    });
    let log = std::fs::read_to_string(dir.path().join("alice.log")).unwrap();
    assert!(
        !log.lines()
            .any(|l| l.contains("thread '") && l.contains("panicked")),
        "a native panic:\n{log}"
    );
}
