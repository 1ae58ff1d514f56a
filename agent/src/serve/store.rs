//! The master's data directory, as ARCHITECTURE.md lays it out:
//!
//! ```text
//! <data>/leases.jsonl                 the DHCP lease journal (runtime::dhcp)
//! <data>/events.jsonl                 every event of every client, in order
//! <data>/nodes/<id>/events.jsonl      a boot node's timeline: dhcp, tftp, http, upload, ...
//! <data>/nodes/<id>/inventory.json    the last inventory it uploaded
//! <data>/report.html, inventory.csv   the operator's report
//! <data>/secret                       the key upload tokens are minted with (32 octets, 0600)
//! ```
//!
//! A node's id here is its boot MAC written with dashes (`52-54-00-12-34-56`): every request
//! the master sees before the inventory (DHCP, TFTP, HTTP) knows the MAC and nothing else, and
//! the stick's RECONDATA partition may be FAT, where `:` is not allowed in names. The SMBIOS UUID
//! is inside the inventory.
//!
//! Only boot nodes (PXE or iPXE clients, and nodes that upload) get a directory and an
//! in-memory timeline; every other DHCP client (a laptop, perfdhcp's fifty thousand simulated
//! MACs) is in the global log only, so a busy segment costs one buffered append per event, not a
//! file per MAC.
//!
//! Inventories are written atomically and fsynced before the upload is acknowledged; events are
//! appended and flushed, and fsynced with the next inventory.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::runtime::files::write_atomic;

/// What the master knows of one node.
#[derive(Debug, Default, Clone, Serialize)]
pub(crate) struct Node {
    /// Boot MAC, `aa:bb:cc:dd:ee:ff`.
    pub(crate) mac: String,
    /// Last address leased.
    pub(crate) ip: Option<Ipv4Addr>,
    /// Events in order (each a JSON object with `t`, unix ms, and `kind`).
    pub(crate) events: Vec<serde_json::Value>,
    /// Octets served to it over HTTP and TFTP.
    pub(crate) bytes_served: u64,
    /// Inventories received.
    pub(crate) uploads: u32,
    /// When the last inventory arrived, unix ms.
    pub(crate) inventory_at: Option<u64>,
}

/// The data directory.
pub(crate) struct Store {
    root: PathBuf,
    nodes: BTreeMap<String, Node>,
    by_ip: HashMap<Ipv4Addr, String>,
    open_logs: HashMap<String, File>,
    log: io::BufWriter<File>,
    /// Each service's counters since the master started (`GET /api/v1/stats`), as it last
    /// published them; in memory only.
    counters: BTreeMap<&'static str, BTreeMap<&'static str, u64>>,
}

/// Per-node files kept open at once; past this all are closed and reopened on demand.
const MAX_OPEN_LOGS: usize = 128;

/// `52:54:00:12:34:56` or `52-54-00-12-34-56` (any case) -> the id, `None` if not a MAC.
pub(crate) fn node_id(mac: &str) -> Option<String> {
    let parts: Vec<&str> = mac.split([':', '-']).collect();
    let ok = parts.len() == 6 && parts.iter().all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()));
    ok.then(|| parts.join("-").to_ascii_lowercase())
}

// The upload, progress and report paths (HTTP) use the rest.
#[allow(dead_code)]
impl Store {
    /// Opens `root`, reading every node's timeline back.
    pub(crate) fn open(root: &Path) -> io::Result<Store> {
        fs::create_dir_all(root.join("nodes"))?;
        let log = io::BufWriter::new(OpenOptions::new().create(true).append(true).open(root.join("events.jsonl"))?);
        let mut s = Store {
            root: root.to_owned(),
            nodes: BTreeMap::new(),
            by_ip: HashMap::new(),
            open_logs: HashMap::new(),
            log,
            counters: BTreeMap::new(),
        };
        for e in fs::read_dir(root.join("nodes"))? {
            let e = e?;
            let Some(id) = e.file_name().to_str().and_then(node_id) else { continue };
            let mut node = Node { mac: id.replace('-', ":"), ..Node::default() };
            if let Ok(text) = fs::read_to_string(e.path().join("events.jsonl")) {
                // A torn last line (a crash mid-append) is skipped, like any line that is not JSON.
                for line in text.lines() {
                    if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
                        apply_counters(&mut node, &v);
                        node.events.push(v);
                    }
                }
            }
            if let Some(ip) = node.ip {
                s.by_ip.insert(ip, id.clone());
            }
            s.nodes.insert(id, node);
        }
        Ok(s)
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    fn node_dir(&self, id: &str) -> PathBuf {
        self.root.join("nodes").join(id)
    }

    /// Records an event for the client with MAC `mac`: `fields` (a JSON object) gets `t`,
    /// `kind` and `mac` added and goes to the global log; for a boot node (`boot`, or one
    /// already known) also to its timeline in memory and in its events.jsonl.
    pub(crate) fn event(
        &mut self,
        mac: &str,
        kind: &str,
        now_ms: u64,
        fields: serde_json::Value,
        boot: bool,
    ) -> io::Result<()> {
        let Some(id) = node_id(mac) else { return Ok(()) };
        let mut v = match fields {
            serde_json::Value::Object(m) => m,
            serde_json::Value::Null => serde_json::Map::new(),
            other => {
                let mut m = serde_json::Map::new();
                m.insert("value".into(), other);
                m
            }
        };
        v.insert("t".into(), now_ms.into());
        v.insert("kind".into(), kind.into());
        v.insert("mac".into(), id.replace('-', ":").into());
        let v = serde_json::Value::Object(v);
        let line = serde_json::to_string(&v).map_err(io::Error::other)?;
        self.log.write_all(line.as_bytes())?;
        self.log.write_all(b"\n")?;
        if !boot && !self.nodes.contains_key(&id) {
            return Ok(());
        }
        let dir = self.node_dir(&id);
        let node =
            self.nodes.entry(id.clone()).or_insert_with(|| Node { mac: id.replace('-', ":"), ..Node::default() });
        apply_counters(node, &v);
        if let Some(ip) = node.ip {
            self.by_ip.insert(ip, id.clone());
        }
        node.events.push(v);
        let f = match self.open_logs.get_mut(&id) {
            Some(f) => f,
            None => {
                if self.open_logs.len() >= MAX_OPEN_LOGS {
                    self.open_logs.clear();
                }
                fs::create_dir_all(&dir)?;
                let f = OpenOptions::new().create(true).append(true).open(dir.join("events.jsonl"))?;
                self.open_logs.entry(id).or_insert(f)
            }
        };
        f.write_all(format!("{line}\n").as_bytes())
    }

    /// Records an agent's event (`kind` is `agent-...`) unless the node's timeline already holds
    /// it: an agent posts again when it saw no answer, and its `run` and `seq` name each event
    /// once (agents that send neither are recorded every time). `boot` as for `event`. Returns
    /// whether it was recorded.
    pub(crate) fn agent_event(
        &mut self,
        mac: &str,
        kind: &str,
        now_ms: u64,
        fields: serde_json::Value,
        boot: bool,
    ) -> io::Result<bool> {
        let key = |v: &serde_json::Value| Some((v.get("run")?.as_u64()?, v.get("seq")?.as_u64()?));
        if let (Some(k), Some(id)) = (key(&fields), node_id(mac))
            && let Some(node) = self.nodes.get(&id)
            && node.events.iter().rev().any(|e| e["kind"] == kind && key(e) == Some(k))
        {
            return Ok(false);
        }
        self.event(mac, kind, now_ms, fields, boot)?;
        Ok(true)
    }

    /// Stores an uploaded inventory (JSON), durably, then records the event. Returns whether
    /// it replaced an earlier one.
    pub(crate) fn put_inventory(&mut self, mac: &str, json: &[u8], now_ms: u64) -> io::Result<bool> {
        let id = node_id(mac).ok_or_else(|| io::Error::other("not a MAC"))?;
        let path = self.node_dir(&id).join("inventory.json");
        let replaced = path.exists();
        write_atomic(&path, json)?;
        self.event(mac, "inventory", now_ms, serde_json::json!({ "bytes": json.len(), "replaced": replaced }), true)?;
        self.log.flush()?;
        if let Some(f) = self.open_logs.get(&id) {
            f.sync_data()?;
        }
        Ok(replaced)
    }

    /// Where the node's last inventory is (it may not exist); `None` if `mac` is not a MAC.
    pub(crate) fn inventory_path(&self, mac: &str) -> Option<PathBuf> {
        node_id(mac).map(|id| self.node_dir(&id).join("inventory.json"))
    }

    /// The master's 32-octet secret, created on first use from the kernel's random source
    /// (`/dev/urandom`, which is getrandom's pool) and written atomically with mode 0600. It is
    /// read back on every later start, so the tokens of nodes already booted stay valid across a
    /// restart; a file of another size is an error, not something to replace silently.
    pub(crate) fn secret(&self) -> io::Result<[u8; 32]> {
        let path = self.root.join("secret");
        match fs::read(&path) {
            Ok(b) => {
                return b.try_into().map_err(|b: Vec<u8>| {
                    io::Error::other(format!("{}: {} octets, expected 32", path.display(), b.len()))
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut key = [0u8; 32];
        io::Read::read_exact(&mut File::open("/dev/urandom")?, &mut key)?;
        let tmp = self.root.join(format!(".secret.tmp.{}", std::process::id()));
        let res = (|| {
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
            f.write_all(&key)?;
            f.sync_all()?;
            // Two masters starting at once on one directory: the first key stays.
            fs::hard_link(&tmp, &path)?;
            File::open(&self.root)?.sync_all()
        })();
        let _ = fs::remove_file(&tmp);
        match res {
            Ok(()) => Ok(key),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => self.secret(),
            Err(e) => Err(e),
        }
    }

    /// Counts octets served to whoever has `ip` (HTTP and TFTP know only the address).
    pub(crate) fn served(&mut self, ip: Ipv4Addr, bytes: u64) {
        if let Some(id) = self.by_ip.get(&ip)
            && let Some(n) = self.nodes.get_mut(id)
        {
            n.bytes_served += bytes;
        }
    }

    /// The boot MAC of the node that has `ip`.
    pub(crate) fn mac_of(&self, ip: Ipv4Addr) -> Option<String> {
        self.by_ip.get(&ip).and_then(|id| self.nodes.get(id)).map(|n| n.mac.clone())
    }

    /// Every node.
    pub(crate) fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.values()
    }

    /// Replaces `service`'s counters with `values` (allocating only for a name it has not had).
    pub(crate) fn set_counters(&mut self, service: &'static str, values: &[(&'static str, u64)]) {
        let c = self.counters.entry(service).or_default();
        for &(name, v) in values {
            *c.entry(name).or_default() = v;
        }
    }

    /// Every service's counters, by service and name.
    pub(crate) fn counters(&self) -> &BTreeMap<&'static str, BTreeMap<&'static str, u64>> {
        &self.counters
    }

    /// Hands buffered log lines to the kernel.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.log.flush()
    }

    /// Fsyncs the log and every open timeline.
    pub(crate) fn sync(&mut self) -> io::Result<()> {
        self.log.flush()?;
        self.log.get_ref().sync_data()?;
        for f in self.open_logs.values() {
            f.sync_data()?;
        }
        Ok(())
    }
}

/// Counters and the address that events carry.
fn apply_counters(node: &mut Node, v: &serde_json::Value) {
    // runtime::dhcp records an ACK as `dhcp-ack`; `ack` is the older name.
    if let Some(ip) = v.get("ip").and_then(|i| i.as_str()).and_then(|i| i.parse().ok())
        && matches!(v.get("kind").and_then(|k| k.as_str()), Some("ack" | "dhcp-ack"))
    {
        node.ip = Some(ip);
    }
    // A node fetching its own boot script (which names its MAC) from an address: where a
    // foreign DHCP server leased it (proxy mode), the master learns its address only here, and
    // the kernel and image downloads that follow are counted for it.
    if v.get("kind").and_then(|k| k.as_str()) == Some("http")
        && v.get("path").and_then(|p| p.as_str()) == Some("/boot.ipxe")
        && v.get("status").and_then(|s| s.as_u64()) == Some(200)
        && let Some(ip) = v.get("from").and_then(|i| i.as_str()).and_then(|i| i.parse().ok())
    {
        node.ip = Some(ip);
    }
    if v.get("kind").and_then(|k| k.as_str()) == Some("inventory") {
        node.uploads += 1;
        node.inventory_at = v.get("t").and_then(|t| t.as_u64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_boot_script_fetch_tells_the_nodes_address() {
        let d = tempfile::tempdir().unwrap();
        let mut s = Store::open(d.path()).unwrap();
        let get = |path: &str, status: u64| serde_json::json!({"method": "GET", "path": path, "status": status, "bytes": 1, "from": "10.9.0.7"});
        s.event("52:54:00:00:00:07", "http", 1, get("/vmlinuz", 200), true).unwrap();
        assert_eq!(s.mac_of(Ipv4Addr::new(10, 9, 0, 7)), None, "only the boot script names the node");
        s.event("52:54:00:00:00:07", "http", 2, get("/boot.ipxe", 404), true).unwrap();
        assert_eq!(s.mac_of(Ipv4Addr::new(10, 9, 0, 7)), None);
        s.event("52:54:00:00:00:07", "http", 3, get("/boot.ipxe", 200), true).unwrap();
        assert_eq!(s.mac_of(Ipv4Addr::new(10, 9, 0, 7)).as_deref(), Some("52:54:00:00:00:07"));
    }

    #[test]
    fn ids_events_and_inventories_survive_a_reopen() {
        assert_eq!(node_id("52:54:00:AB:cd:01").as_deref(), Some("52-54-00-ab-cd-01"));
        assert_eq!(node_id("52:54:00:ab:cd"), None);
        assert_eq!(node_id("../../etc"), None);
        let d = tempfile::tempdir().unwrap();
        let mut s = Store::open(d.path()).unwrap();
        s.event("52:54:00:00:00:01", "ack", 1, serde_json::json!({"ip": "10.0.0.5"}), true).unwrap();
        s.event("52:54:00:00:00:02", "ack", 1, serde_json::json!({"ip": "10.0.0.6"}), false).unwrap();
        s.served(Ipv4Addr::new(10, 0, 0, 5), 1000);
        assert_eq!(s.mac_of(Ipv4Addr::new(10, 0, 0, 5)).as_deref(), Some("52:54:00:00:00:01"));
        assert!(!s.put_inventory("52:54:00:00:00:01", b"{}", 2).unwrap());
        assert!(s.put_inventory("52:54:00:00:00:01", b"{\"a\":1}", 3).unwrap());
        drop(s);
        let s = Store::open(d.path()).unwrap();
        let n: Vec<&Node> = s.nodes().collect();
        assert_eq!(n.len(), 1);
        assert_eq!((n[0].uploads, n[0].inventory_at, n[0].ip), (2, Some(3), Some(Ipv4Addr::new(10, 0, 0, 5))));
        assert_eq!(n[0].events.len(), 3);
        let log = fs::read_to_string(d.path().join("events.jsonl")).unwrap();
        assert_eq!(log.lines().count(), 4, "every event in the global log: {log}");
        assert!(!d.path().join("nodes/52-54-00-00-00-02").exists(), "no directory for a non-boot client");
        assert_eq!(fs::read(d.path().join("nodes/52-54-00-00-00-01/inventory.json")).unwrap(), b"{\"a\":1}");
        assert_eq!(
            s.inventory_path("52:54:00:00:00:01").unwrap(),
            d.path().join("nodes/52-54-00-00-00-01/inventory.json")
        );
    }

    #[test]
    fn an_agent_event_posted_twice_is_kept_once_also_after_a_restart() {
        let d = tempfile::tempdir().unwrap();
        let mac = "52:54:00:00:00:03";
        let ev = |run: u64, seq: u64| serde_json::json!({"kind": "phase", "phase": "probe", "run": run, "seq": seq});
        let mut s = Store::open(d.path()).unwrap();
        s.event(mac, "dhcp-ack", 1, serde_json::json!({"ip": "10.0.0.7"}), true).unwrap();
        assert!(s.agent_event(mac, "agent-phase", 2, ev(100, 1), false).unwrap());
        assert!(!s.agent_event(mac, "agent-phase", 3, ev(100, 1), false).unwrap(), "a retried post");
        assert!(s.agent_event(mac, "agent-phase", 4, ev(100, 2), false).unwrap(), "the next event");
        assert!(s.agent_event(mac, "agent-phase", 5, ev(200, 1), false).unwrap(), "a restarted agent's first");
        assert!(s.agent_event(mac, "agent-done", 6, ev(200, 1), false).unwrap(), "another kind");
        let bare = serde_json::json!({"kind": "phase", "phase": "probe"});
        assert!(s.agent_event(mac, "agent-phase", 7, bare.clone(), false).unwrap());
        assert!(s.agent_event(mac, "agent-phase", 8, bare, false).unwrap(), "no run/seq: nothing to tell copies by");
        drop(s);
        let mut s = Store::open(d.path()).unwrap();
        assert!(!s.agent_event(mac, "agent-phase", 9, ev(100, 2), false).unwrap(), "a copy after the master restarted");
        let t = fs::read_to_string(d.path().join("nodes/52-54-00-00-00-03/events.jsonl")).unwrap();
        assert_eq!(t.lines().count(), 7, "{t}");
        // A node the master has not seen boot: a timeline only when its token vouched for it.
        assert!(s.agent_event("52:54:00:00:00:04", "agent-phase", 10, ev(300, 1), false).unwrap());
        assert!(!d.path().join("nodes/52-54-00-00-00-04").exists());
        assert!(s.agent_event("52:54:00:00:00:04", "agent-phase", 11, ev(300, 2), true).unwrap());
        assert!(d.path().join("nodes/52-54-00-00-00-04/events.jsonl").exists());
    }

    #[test]
    fn the_secret_is_made_once_private_and_kept() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let a = Store::open(d.path()).unwrap().secret().unwrap();
        let meta = fs::metadata(d.path().join("secret")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(Store::open(d.path()).unwrap().secret().unwrap(), a, "a restart keeps the key");
        assert_ne!(a, [0; 32]);
        let e = tempfile::tempdir().unwrap();
        assert_ne!(Store::open(e.path()).unwrap().secret().unwrap(), a, "each master its own");
        fs::write(d.path().join("secret"), b"short").unwrap();
        assert!(Store::open(d.path()).unwrap().secret().is_err(), "a damaged key is not replaced");
        let left: Vec<_> = fs::read_dir(d.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(!left.iter().any(|n| n.to_string_lossy().starts_with(".secret")), "temporary file left: {left:?}");
    }

    #[test]
    fn a_dhcp_ack_tells_which_node_has_an_address() {
        // As runtime::dhcp writes a lease; HTTP and TFTP know only the client's address.
        let d = tempfile::tempdir().unwrap();
        let mut s = Store::open(d.path()).unwrap();
        s.event("52:54:00:00:00:02", "dhcp-ack", 4, serde_json::json!({"kind": "ack", "ip": "10.0.0.6"}), true)
            .unwrap();
        assert_eq!(s.mac_of(Ipv4Addr::new(10, 0, 0, 6)).as_deref(), Some("52:54:00:00:00:02"));
        drop(s);
        let s = Store::open(d.path()).unwrap();
        assert_eq!(s.mac_of(Ipv4Addr::new(10, 0, 0, 6)).as_deref(), Some("52:54:00:00:00:02"), "after a restart");
    }
}
