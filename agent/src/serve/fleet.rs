//! What the master knows of the nodes it serves: one record per boot MAC, built from events
//! (DHCP, TFTP, HTTP, the agents' own), with no file system. `runtime::store` keeps the files
//! (docs/ARCHITECTURE.md, "What is durable when"): each event this model accepts comes back as a
//! [`Line`] for the writer to append; the model never waits on a disk.
//!
//! A node's id is its boot MAC: every request the master sees before the inventory (DHCP,
//! TFTP, HTTP) knows the MAC and nothing else. The SMBIOS UUID is inside the inventory.
//!
//! Only boot nodes (PXE or iPXE clients, and nodes that upload) get a record; every other DHCP
//! client (a laptop, perfdhcp's fifty thousand simulated MACs) goes to the global log only, so a
//! busy segment costs one line per event, not a record per MAC.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::sync::Arc;

use netboot_proto::Mac;

/// Events kept in memory per node; the oldest go first past this (the node's events.jsonl keeps
/// them all). A node that posts thousands of events must not grow the master without bound.
pub const MAX_EVENTS: usize = 1024;

/// One node's record.
#[derive(Debug, Default, Clone)]
pub struct Node {
    /// Boot MAC.
    pub mac: Mac,
    /// Last address leased (or seen fetching its own boot script).
    pub ip: Option<Ipv4Addr>,
    /// Events in order, newest last, each a JSON object with `t` (Unix ms), `kind` and `mac`.
    pub events: VecDeque<Arc<str>>,
    /// Events dropped from `events` by [`MAX_EVENTS`].
    pub events_dropped: u64,
    /// Octets served to it over HTTP and TFTP.
    pub bytes_served: u64,
    /// Inventories received.
    pub uploads: u32,
    /// When the last inventory arrived, Unix ms.
    pub inventory_at: Option<u64>,
    /// `(kind, run, seq)` of every agent event kept: an agent posts an event again when it saw
    /// no answer, and these name each once.
    seen: HashSet<(Box<str>, u64, u64)>,
}

/// A line for the writer: appended to the global log, and to the node's timeline when `node`
/// is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// One JSON object, no newline.
    pub text: Arc<str>,
    /// The node whose timeline it also goes to.
    pub node: Option<Mac>,
}

/// Every node the master knows, and the services' counters.
#[derive(Debug, Default)]
pub struct Fleet {
    nodes: BTreeMap<Mac, Node>,
    by_ip: HashMap<Ipv4Addr, Mac>,
    /// Each service's counters since the master started (`GET /api/v1/stats`), as it last
    /// published them.
    counters: BTreeMap<&'static str, BTreeMap<&'static str, u64>>,
}

fn agent_key(v: &serde_json::Value) -> Option<(u64, u64)> {
    Some((v.get("run")?.as_u64()?, v.get("seq")?.as_u64()?))
}

impl Node {
    fn new(mac: Mac) -> Node {
        Node { mac, ..Node::default() }
    }

    /// Takes an event into the record: its address, counters and place in the timeline.
    fn apply(&mut self, v: &serde_json::Value, text: Arc<str>) {
        let kind = v.get("kind").and_then(|k| k.as_str()).unwrap_or_default();
        let ip = |key: &str| v.get(key).and_then(|i| i.as_str()).and_then(|i| i.parse().ok());
        // runtime::dhcp records an ACK as `dhcp-ack`; `ack` is the older name.
        if matches!(kind, "ack" | "dhcp-ack")
            && let Some(a) = ip("ip")
        {
            self.ip = Some(a);
        }
        // A node fetching its own boot script (which names its MAC) from an address: where a
        // foreign DHCP server leased it (proxy mode), the master learns its address only here, and
        // the kernel and image downloads that follow are counted for it.
        if kind == "http"
            && v.get("path").and_then(|p| p.as_str()) == Some("/boot.ipxe")
            && v.get("status").and_then(|s| s.as_u64()) == Some(200)
            && let Some(a) = ip("from")
        {
            self.ip = Some(a);
        }
        if kind == "inventory" {
            self.uploads += 1;
            self.inventory_at = v.get("t").and_then(|t| t.as_u64());
        }
        if kind.starts_with("agent-")
            && let Some((run, seq)) = agent_key(v)
        {
            self.seen.insert((kind.into(), run, seq));
        }
        if self.events.len() >= MAX_EVENTS {
            self.events.pop_front();
            self.events_dropped += 1;
        }
        self.events.push_back(text);
    }
}

impl Fleet {
    /// No nodes yet.
    pub fn new() -> Fleet {
        Fleet::default()
    }

    /// Replays one line of a node's timeline file (at start); `false` if it is not a JSON
    /// object, which is then left out.
    pub fn replay(&mut self, mac: Mac, line: &str) -> bool {
        let Ok(v @ serde_json::Value::Object(_)) = serde_json::from_str::<serde_json::Value>(line) else {
            return false;
        };
        self.take(mac, &v, line.into());
        true
    }

    fn take(&mut self, mac: Mac, v: &serde_json::Value, text: Arc<str>) {
        let node = self.nodes.entry(mac).or_insert_with(|| Node::new(mac));
        let before = node.ip;
        node.apply(v, text);
        if let Some(ip) = node.ip
            && before != Some(ip)
        {
            self.by_ip.insert(ip, mac);
        }
    }

    /// Records an event for the client with MAC `mac`: `fields` (a JSON object; another value
    /// goes under `value`) gets `t`, `kind` and `mac`. A boot node (`boot`, or one already known)
    /// keeps it in its record; any other client's goes to the global log only.
    pub fn event(&mut self, mac: Mac, kind: &str, now_ms: u64, fields: serde_json::Value, boot: bool) -> Line {
        let mut m = match fields {
            serde_json::Value::Object(m) => m,
            serde_json::Value::Null => serde_json::Map::new(),
            other => serde_json::Map::from_iter([("value".to_owned(), other)]),
        };
        m.insert("t".into(), now_ms.into());
        m.insert("kind".into(), kind.into());
        m.insert("mac".into(), mac.to_string().into());
        let v = serde_json::Value::Object(m);
        let text: Arc<str> = serde_json::to_string(&v).unwrap_or_default().into();
        if !boot && !self.nodes.contains_key(&mac) {
            return Line { text, node: None };
        }
        self.take(mac, &v, text.clone());
        Line { text, node: Some(mac) }
    }

    /// Records an agent's event (`kind` is `agent-...`) unless the node's record already holds
    /// it (the same `run` and `seq`; agents that send neither are recorded every time). `boot` as
    /// for [`Fleet::event`]. `None` when it was a copy.
    pub fn agent_event(
        &mut self,
        mac: Mac,
        kind: &str,
        now_ms: u64,
        fields: serde_json::Value,
        boot: bool,
    ) -> Option<Line> {
        if let Some((run, seq)) = agent_key(&fields)
            && self.nodes.get(&mac).is_some_and(|n| n.seen.contains(&(kind.into(), run, seq)))
        {
            return None;
        }
        Some(self.event(mac, kind, now_ms, fields, boot))
    }

    /// Counts octets served to whoever has `ip` (HTTP and TFTP know only the address).
    pub fn served(&mut self, ip: Ipv4Addr, bytes: u64) {
        if let Some(mac) = self.by_ip.get(&ip)
            && let Some(n) = self.nodes.get_mut(mac)
        {
            n.bytes_served += bytes;
        }
    }

    /// The boot MAC of the node that has `ip`.
    pub fn mac_of(&self, ip: Ipv4Addr) -> Option<Mac> {
        self.by_ip.get(&ip).copied()
    }

    /// One node.
    pub fn node(&self, mac: Mac) -> Option<&Node> {
        self.nodes.get(&mac)
    }

    /// Every node, by MAC.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.values()
    }

    /// Every node's record, cheap to take under a lock (the events are shared, not copied):
    /// [`listing_json`] turns it into `GET /api/v1/nodes`'s body outside the lock.
    pub fn snapshot(&self) -> Vec<Node> {
        self.nodes.values().cloned().collect()
    }

    /// Replaces `service`'s counters with `values` (allocating only for a name it has not had).
    pub fn set_counters(&mut self, service: &'static str, values: &[(&'static str, u64)]) {
        let c = self.counters.entry(service).or_default();
        for &(name, v) in values {
            *c.entry(name).or_default() = v;
        }
    }

    /// Every service's counters, by service and name.
    pub fn counters(&self) -> &BTreeMap<&'static str, BTreeMap<&'static str, u64>> {
        &self.counters
    }
}

/// `{"nodes": [...]}`: each node's fields and its events as they were recorded.
pub fn listing_json(nodes: &[Node]) -> String {
    let mut out = String::from("{\"nodes\":[");
    for (i, n) in nodes.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let fields = serde_json::json!({
            "mac": n.mac,
            "ip": n.ip,
            "bytes_served": n.bytes_served,
            "uploads": n.uploads,
            "inventory_at": n.inventory_at,
            "events_dropped": n.events_dropped,
        });
        let fields = fields.to_string();
        // The fields object without its closing brace, then the events as they are.
        let _ = write!(out, "{},\"events\":[", fields.trim_end_matches('}'));
        for (k, e) in n.events.iter().enumerate() {
            if k > 0 {
                out.push(',');
            }
            out.push_str(e);
        }
        out.push_str("]}");
    }
    out.push_str("]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(last: u8) -> Mac {
        Mac([0x52, 0x54, 0, 0, 0, last])
    }

    #[test]
    fn a_boot_script_fetch_tells_the_nodes_address() {
        let mut f = Fleet::new();
        let get = |path: &str, status: u64| serde_json::json!({"method": "GET", "path": path, "status": status, "bytes": 1, "from": "10.9.0.7"});
        f.event(mac(7), "http", 1, get("/vmlinuz", 200), true);
        assert_eq!(f.mac_of(Ipv4Addr::new(10, 9, 0, 7)), None, "only the boot script names the node");
        f.event(mac(7), "http", 2, get("/boot.ipxe", 404), true);
        assert_eq!(f.mac_of(Ipv4Addr::new(10, 9, 0, 7)), None);
        f.event(mac(7), "http", 3, get("/boot.ipxe", 200), true);
        assert_eq!(f.mac_of(Ipv4Addr::new(10, 9, 0, 7)), Some(mac(7)));
    }

    #[test]
    fn only_boot_nodes_get_a_record_and_every_event_a_line() {
        let mut f = Fleet::new();
        let a = f.event(mac(1), "dhcp-ack", 1, serde_json::json!({"ip": "10.0.0.5"}), true);
        let b = f.event(mac(2), "dhcp-ack", 1, serde_json::json!({"ip": "10.0.0.6"}), false);
        assert_eq!((a.node, b.node), (Some(mac(1)), None));
        assert!(b.text.contains("\"mac\":\"52:54:00:00:00:02\""), "{}", b.text);
        f.served(Ipv4Addr::new(10, 0, 0, 5), 1000);
        f.served(Ipv4Addr::new(10, 0, 0, 6), 1000);
        let n: Vec<&Node> = f.nodes().collect();
        assert_eq!((n.len(), n[0].bytes_served, n[0].ip), (1, 1000, Some(Ipv4Addr::new(10, 0, 0, 5))));
        // Once known, a node keeps every event, boot or not.
        assert_eq!(f.event(mac(1), "dhcp-ack", 2, serde_json::json!({}), false).node, Some(mac(1)));
    }

    #[test]
    fn an_agent_event_posted_twice_is_kept_once_also_after_a_replay() {
        let ev = |run: u64, seq: u64| serde_json::json!({"kind": "phase", "phase": "probe", "run": run, "seq": seq});
        let mut f = Fleet::new();
        f.event(mac(3), "dhcp-ack", 1, serde_json::json!({"ip": "10.0.0.7"}), true);
        assert!(f.agent_event(mac(3), "agent-phase", 2, ev(100, 1), false).is_some());
        assert!(f.agent_event(mac(3), "agent-phase", 3, ev(100, 1), false).is_none(), "a retried post");
        assert!(f.agent_event(mac(3), "agent-phase", 4, ev(100, 2), false).is_some(), "the next event");
        assert!(f.agent_event(mac(3), "agent-phase", 5, ev(200, 1), false).is_some(), "a restarted agent's first");
        assert!(f.agent_event(mac(3), "agent-done", 6, ev(200, 1), false).is_some(), "another kind");
        let bare = serde_json::json!({"kind": "phase"});
        assert!(f.agent_event(mac(3), "agent-phase", 7, bare.clone(), false).is_some());
        assert!(
            f.agent_event(mac(3), "agent-phase", 8, bare, false).is_some(),
            "no run/seq: nothing to tell copies by"
        );
        // The timeline as the writer stored it, read back by a restarted master.
        let lines: Vec<Arc<str>> = f.node(mac(3)).unwrap().events.iter().cloned().collect();
        let mut g = Fleet::new();
        for l in &lines {
            assert!(g.replay(mac(3), l));
        }
        assert!(!g.replay(mac(3), "{\"torn"), "a torn line is left out");
        assert!(g.agent_event(mac(3), "agent-phase", 9, ev(100, 2), false).is_none(), "a copy after a restart");
        assert_eq!(g.node(mac(3)).unwrap().events.len(), 7);
        // A node the master has not seen boot: a record only when its token vouched for it.
        assert_eq!(g.agent_event(mac(4), "agent-phase", 10, ev(300, 1), false).unwrap().node, None);
        assert_eq!(g.agent_event(mac(4), "agent-phase", 11, ev(300, 2), true).unwrap().node, Some(mac(4)));
    }

    #[test]
    fn a_nodes_events_are_capped_in_memory() {
        let mut f = Fleet::new();
        for t in 0..(MAX_EVENTS as u64 + 10) {
            f.event(mac(5), "http", t, serde_json::json!({"n": t}), true);
        }
        let n = f.node(mac(5)).unwrap();
        assert_eq!((n.events.len(), n.events_dropped), (MAX_EVENTS, 10));
        assert!(n.events.front().unwrap().contains("\"n\":10"), "the oldest went first");
    }

    #[test]
    fn the_listing_is_json_with_the_events_as_recorded() {
        let mut f = Fleet::new();
        f.event(mac(6), "dhcp-ack", 1, serde_json::json!({"ip": "10.0.0.8"}), true);
        f.event(mac(6), "inventory", 2, serde_json::json!({"bytes": 5}), true);
        let v: serde_json::Value = serde_json::from_str(&listing_json(&f.snapshot())).unwrap();
        let n = &v["nodes"][0];
        assert_eq!(n["mac"], "52:54:00:00:00:06");
        assert_eq!(n["ip"], "10.0.0.8");
        assert_eq!((n["uploads"].as_u64(), n["inventory_at"].as_u64()), (Some(1), Some(2)));
        assert_eq!(n["events"][1]["kind"], "inventory");
        let empty: serde_json::Value = serde_json::from_str(&listing_json(&[])).unwrap();
        assert_eq!(empty, serde_json::json!({"nodes": []}));
    }
}
