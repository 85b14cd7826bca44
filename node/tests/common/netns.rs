//! A LAN of network namespaces for the fault tests: one namespace per host,
//! each with a veth into one bridge of the test's own, on a /24 of its own
//! (`10.77.<n>.0/24`; the test process is `.254` on the bridge, so it
//! reaches every host's RPC). A partition is a set of blackhole routes in
//! each host for the other side's addresses; healing removes them. Needs
//! root (`ip netns`, from iproute2); everything is removed on drop.

// Test code outside `#[test]` functions may unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use std::process::Command;

/// One host of the LAN.
#[derive(Clone, Debug)]
pub struct Host {
    /// Its namespace.
    pub netns: String,
    /// Its address.
    pub ip: String,
}

/// The namespaces, the bridge and the veths of one test.
pub struct Lan {
    /// The hosts, in order.
    pub hosts: Vec<Host>,
    bridge: String,
    veths: Vec<String>,
    /// Hosts (indices) cut off from each other: `(a, b)` pairs routed to a
    /// blackhole in both directions.
    cuts: Vec<(usize, usize)>,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if !out.status.success() {
        return Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

impl Lan {
    /// `hosts` namespaces on a bridge, or why they could not be made (not
    /// root, no iproute2, no namespaces in this sandbox).
    pub fn new(hosts: usize) -> Result<Lan, String> {
        assert!((1..=200).contains(&hosts));
        let tag = std::process::id() % 100_000;
        let subnet = 1 + std::process::id() % 250;
        let mut lan = Lan {
            hosts: Vec::new(),
            bridge: format!("ub{tag}"),
            veths: Vec::new(),
            cuts: Vec::new(),
        };
        ip(&["link", "add", &lan.bridge, "type", "bridge"])?;
        ip(&[
            "addr",
            "add",
            &format!("10.77.{subnet}.254/24"),
            "dev",
            &lan.bridge,
        ])?;
        ip(&["link", "set", &lan.bridge, "up"])?;
        for i in 1..=hosts {
            let netns = format!("upow{tag}h{i}");
            let (outer, inner) = (format!("uv{tag}h{i}"), format!("up{tag}h{i}"));
            let addr = format!("10.77.{subnet}.{i}");
            ip(&["netns", "add", &netns])?;
            lan.hosts.push(Host {
                netns: netns.clone(),
                ip: addr.clone(),
            });
            ip(&[
                "link", "add", &outer, "type", "veth", "peer", "name", &inner,
            ])?;
            lan.veths.push(outer.clone());
            ip(&["link", "set", &inner, "netns", &netns])?;
            ip(&["link", "set", &outer, "master", &lan.bridge])?;
            ip(&["link", "set", &outer, "up"])?;
            let inside = |args: &[&str]| {
                let mut all = vec!["netns", "exec", &netns, "ip"];
                all.extend_from_slice(args);
                ip(&all)
            };
            inside(&["addr", "add", &format!("{addr}/24"), "dev", &inner])?;
            inside(&["link", "set", &inner, "up"])?;
            inside(&["link", "set", "lo", "up"])?;
        }
        Ok(lan)
    }

    /// Cuts every host of `a` off from every host of `b` (both directions):
    /// packets between them are dropped, as by a broken link.
    pub fn partition(&mut self, a: &[usize], b: &[usize]) {
        for &x in a {
            for &y in b {
                self.route("add", x, y);
                self.route("add", y, x);
                self.cuts.push((x, y));
            }
        }
    }

    /// Removes every cut.
    pub fn heal(&mut self) {
        for (x, y) in std::mem::take(&mut self.cuts) {
            self.route("del", x, y);
            self.route("del", y, x);
        }
    }

    /// Adds or deletes, in host `from`, the blackhole route to host `to`.
    fn route(&self, op: &str, from: usize, to: usize) {
        let dest = format!("{}/32", self.hosts[to].ip);
        ip(&[
            "netns",
            "exec",
            &self.hosts[from].netns,
            "ip",
            "route",
            op,
            "blackhole",
            &dest,
        ])
        .unwrap();
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        // Best effort: a half-made LAN is taken down as far as it got.
        for host in &self.hosts {
            let _ = ip(&["netns", "del", &host.netns]);
        }
        for veth in &self.veths {
            let _ = ip(&["link", "del", veth]);
        }
        let _ = ip(&["link", "del", &self.bridge]);
    }
}
