//! A local permissioned network of `upow-node`s on loopback, from the
//! `local` chain spec: dev node `i` runs with the node key `0x00…0i` (the
//! preset's well-known node `i`); nodes 1–3 are Alice's, Bob's and Charlie's
//! validators (GRANDPA needs all three: 3 of 3 is the only supermajority),
//! node 4 is Dave's full node. Each node has its own base path and ports
//! and knows every member as a bootnode. `scripts/localnet` starts the same
//! network for people.

// Test code outside `#[test]` functions may unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use serde_json::json;

use super::common::{free_port, Node};

/// The peer ids of the dev node keys `0x00…01` … `0x00…04`.
pub const DEV_PEER_IDS: [&str; 4] = [
    "12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp",
    "12D3KooWHdiAxVd8uMQR1hGWXccidmfCwLqcMpGwR6QcTP6QRMuD",
    "12D3KooWSCufgHzV4fCwRijfH2k3abrpAJxTKxEvN1FDuRXA2U9x",
    "12D3KooWSsChzF81YDUKpe9Uk5AHV5oqAaXAcWNSPYgoLauUk4st",
];

/// The dev accounts of nodes 1–4 (`--alice` …: their session keys).
pub const DEV_NAMES: [&str; 4] = ["alice", "bob", "charlie", "dave"];

/// Nodes 1–3 validate.
pub const VALIDATORS: usize = 3;

/// The node key `0x00…0i` of dev node `i` (1-based).
pub fn dev_node_key(i: usize) -> String {
    format!("{i:064x}")
}

/// A running local network.
pub struct Localnet {
    /// The members, node `i` at index `i - 1`.
    pub nodes: Vec<Node>,
    /// Each member's p2p port.
    p2p: Vec<u16>,
    /// Each member's network namespace and address (`None`: loopback).
    hosts: Vec<Option<(String, String)>>,
    dir: tempfile::TempDir,
}

impl Localnet {
    /// Starts dev nodes `1..=members`; the first `miners` of them mine
    /// with the built-in miner. `extra(i)` adds arguments to node `i`.
    pub fn start(members: usize, miners: usize, extra: impl Fn(usize) -> Vec<String>) -> Localnet {
        Localnet::start_on_hosts(vec![None; members], miners, extra)
    }

    /// [`Localnet::start`] with member `i` in the network namespace and on
    /// the address `hosts[i - 1]` (`None`: on loopback).
    pub fn start_on_hosts(
        hosts: Vec<Option<(String, String)>>,
        miners: usize,
        extra: impl Fn(usize) -> Vec<String>,
    ) -> Localnet {
        let members = hosts.len();
        assert!((1..=4).contains(&members) && miners <= members);
        let dir = tempfile::tempdir().unwrap();
        let p2p: Vec<u16> = (0..members).map(|_| free_port()).collect();
        let mut net = Localnet {
            nodes: Vec::new(),
            p2p,
            hosts,
            dir,
        };
        for i in 1..=members {
            let mut args = net.member_args(i);
            if i <= miners {
                args.push("--mine".into());
            }
            args.extend(extra(i));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let host = net.hosts[i - 1]
                .as_ref()
                .map(|(netns, ip)| (netns.as_str(), ip.as_str()));
            let node = Node::start_on_host(
                DEV_NAMES[i - 1],
                &net.base(DEV_NAMES[i - 1]),
                &args,
                host,
                free_port(),
                net.p2p[i - 1],
            );
            net.nodes.push(node);
        }
        net
    }

    /// The base path of the node `name`.
    pub fn base(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The `--bootnodes` of every member.
    pub fn bootnodes(&self) -> Vec<String> {
        self.p2p
            .iter()
            .zip(&self.hosts)
            .zip(DEV_PEER_IDS)
            .map(|((port, host), id)| {
                let ip = host.as_ref().map_or("127.0.0.1", |(_, ip)| ip.as_str());
                format!("/ip4/{ip}/tcp/{port}/p2p/{id}")
            })
            .collect()
    }

    /// The arguments of dev node `i` (validators: the dev account's keys).
    fn member_args(&self, i: usize) -> Vec<String> {
        let mut args = vec![
            "--chain".to_string(),
            "local".into(),
            "--node-key".into(),
            dev_node_key(i),
        ];
        if i <= VALIDATORS {
            args.push(format!("--{}", DEV_NAMES[i - 1]));
        } else {
            // Dave's node: a full node that mines as Dave if asked to.
            args.extend(["--author".into(), "//Dave".into()]);
        }
        for boot in self.bootnodes() {
            args.extend(["--bootnodes".into(), boot]);
        }
        args
    }

    /// Starts a node outside the network (a fresh node key), knowing every
    /// member as a bootnode.
    pub fn start_outsider(&self, name: &str, extra: &[&str]) -> Node {
        let mut args = vec!["--chain".to_string(), "local".into()];
        for boot in self.bootnodes() {
            args.extend(["--bootnodes".into(), boot]);
        }
        // A node key of its own (not one of the dev keys).
        args.extend([
            "--node-key".into(),
            format!("{:064x}", 0xee00 + free_port() as u64),
        ]);
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Node::start(name, &self.base(name), &args)
    }

    /// Waits until every member's finalized block is at least `number` and
    /// they all agree on the hash at `number`; that hash.
    pub fn wait_finalized(&self, number: u64, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let heights: Vec<u64> = self.nodes.iter().map(Node::finalized_number).collect();
            if heights.iter().all(|h| *h >= number) {
                let hashes: Vec<String> = self.nodes.iter().map(|n| n.block_hash(number)).collect();
                assert!(
                    hashes.iter().all(|h| *h == hashes[0]),
                    "finalized #{number} differs between nodes: {hashes:?}"
                );
                return hashes[0].clone();
            }
            assert!(
                Instant::now() < deadline,
                "finality did not reach #{number} on every node in {timeout:?} (finalized: {heights:?})\n{}",
                self.nodes
                    .iter()
                    .map(|n| format!("--- {} ---\n{}", n.name, n.log_tail()))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The lowest finalized number among the members.
    pub fn min_finalized(&self) -> u64 {
        self.nodes
            .iter()
            .map(Node::finalized_number)
            .min()
            .unwrap_or(0)
    }
}

/// The number of peers of `node` (`system_health`).
pub fn peers(node: &Node) -> u64 {
    node.call("system_health", json!([]))["peers"]
        .as_u64()
        .unwrap()
}

/// Sudo (Alice, the `local` chain's root) signs `call` on `node` with
/// nonce `nonce`.
pub fn sudo(node: &Node, nonce: u32, call: upow_runtime::RuntimeCall) {
    let sudo = upow_runtime::RuntimeCall::Sudo(pallet_sudo::Call::sudo {
        call: Box::new(call),
    });
    super::chain::submit(node, &super::chain::pair("//Alice"), nonce, sudo);
}
