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
use netboot_proto::dhcpv4::pxe::ClientArch;
use serde::{Deserialize, Serialize};

/// Events kept in memory per node; the oldest go first past this (the node's events.jsonl keeps
/// them all). A node that posts thousands of events must not grow the master without bound.
pub const MAX_EVENTS: usize = 1024;

/// Lines of the fleet's log kept for the board.
pub const LOG_LINES: usize = 200;

/// A node with no event for this long, and not done, is stuck where it stopped (the default;
/// `recon serve --stuck`).
pub const STUCK_MS: u64 = 90_000;

//--- Where a node is

/// The steps of a node's boot, in order. A node on the fast path skips `Image`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// The master's DHCP server answered it (or offered it PXE by proxy).
    Dhcp,
    /// It fetched an iPXE binary over TFTP.
    Tftp,
    /// It fetched its boot.ipxe.
    Script,
    /// It fetched the kernel and initrd.
    Kernel,
    /// It fetched the live image (dracut livenet).
    Image,
    /// Its agent spoke to the master.
    Hello,
    /// Its inventory is stored.
    Inventory,
    /// It powered off, or said it is done and stays up.
    Done,
}

impl Step {
    /// Every step, in order.
    pub const ALL: [Step; 8] =
        [Step::Dhcp, Step::Tftp, Step::Script, Step::Kernel, Step::Image, Step::Hello, Step::Inventory, Step::Done];

    /// How a person calls it.
    pub fn name(self) -> &'static str {
        match self {
            Step::Dhcp => "DHCP",
            Step::Tftp => "TFTP",
            Step::Script => "boot script",
            Step::Kernel => "kernel/initrd",
            Step::Image => "image",
            Step::Hello => "agent hello",
            Step::Inventory => "inventory stored",
            Step::Done => "done",
        }
    }
}

/// What the DHCP layer tells of a node ([RFC 4578] options 93 and 97, options 60 and 77, the
/// relay agent of [RFC 2131, section 4.1] and its option 82 ([RFC 3046])).
///
/// [RFC 4578]: https://www.rfc-editor.org/rfc/rfc4578
/// [RFC 2131, section 4.1]: https://www.rfc-editor.org/rfc/rfc2131#section-4.1
/// [RFC 3046]: https://www.rfc-editor.org/rfc/rfc3046
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Client architecture (option 93).
    pub arch: Option<ClientArch>,
    /// Option 97, as the SMBIOS-order UUID.
    pub uuid: Option<String>,
    /// Option 60.
    pub vendor_class: Option<String>,
    /// Option 77.
    pub user_class: Option<String>,
    /// The relay agent it came through.
    pub relay: Option<Ipv4Addr>,
    /// Option 82 circuit id, hex.
    pub circuit_id: Option<String>,
    /// Option 82 remote id, hex.
    pub remote_id: Option<String>,
}

/// The part of a node's inventory the board and the reports show at a glance.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// System serial (SMBIOS type 1).
    pub serial: Option<String>,
    /// System UUID (SMBIOS type 1).
    pub uuid: Option<String>,
    /// The host name the node had.
    pub hostname: Option<String>,
    /// System manufacturer and product.
    pub product: Option<String>,
    /// CPU model.
    pub cpu: Option<String>,
    /// Logical CPUs.
    pub cpus: u32,
    /// Usable memory, octets.
    pub memory_bytes: Option<u64>,
    /// Disks and their total size, octets.
    pub disks: u32,
    /// Total disk size, octets.
    pub disk_bytes: u64,
    /// Physical NICs.
    pub nics: u32,
    /// A BMC answers.
    pub bmc: bool,
}

impl Summary {
    /// From an inventory.
    pub fn of(inv: &inventory::model::Inventory) -> Summary {
        let product = match (&inv.system.manufacturer, &inv.system.product) {
            (Some(m), Some(p)) => Some(format!("{m} {p}")),
            (m, p) => m.clone().or_else(|| p.clone()),
        };
        let disks = &inv.storage.disks;
        Summary {
            serial: inv.system.serial.clone(),
            uuid: inv.system.uuid.clone(),
            hostname: inv.run.hostname.clone(),
            product,
            cpu: inv.cpu.model_name.clone(),
            cpus: inv.cpu.logical_cpus,
            memory_bytes: inv.memory.usable_bytes,
            disks: u32::try_from(disks.len()).unwrap_or(u32::MAX),
            disk_bytes: disks.iter().filter_map(|d| d.size_bytes).sum(),
            nics: u32::try_from(inv.network.iter().filter(|n| !n.virtual_device).count()).unwrap_or(u32::MAX),
            bmc: inv.bmc.present,
        }
    }
}

/// How a node ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum End {
    /// It powered itself off (it has a BMC to power it on again).
    PoweredOff,
    /// It said it is done and stays up (no BMC: someone walks over).
    StaysUp,
    /// It stays up because the master keeps nothing.
    NotKept,
    /// It is the master: its own inventory stored, it serves until the operator finishes.
    Master,
}

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
    /// The steps it has reached, and when (Unix ms).
    pub steps: BTreeMap<Step, u64>,
    /// Its last event, Unix ms.
    pub last_at: u64,
    /// Its last event, in words.
    pub last: String,
    /// Octets of the live image served to it, and the image's size.
    pub image: (u64, u64),
    /// What DHCP told of it.
    pub identity: Identity,
    /// Its inventory at a glance, once stored.
    pub summary: Option<Summary>,
    /// How it ended.
    pub end: Option<End>,
    /// What went wrong, newest last (at most 20).
    pub errors: Vec<String>,
    /// Events its agent posted (the master caps them per node).
    pub agent_events: u64,
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
    /// The boot nodes' events in a few words, newest last: the board's log.
    log: VecDeque<(u64, Mac, String)>,
    /// How long a quiet node may be before it is stuck ([`STUCK_MS`] when not set).
    stuck_ms: Option<u64>,
    /// Each service's counters since the master started (`GET /api/v1/stats`), as it last
    /// published them.
    counters: BTreeMap<&'static str, BTreeMap<&'static str, u64>>,
    /// What the operator must see before anything else (nothing is kept; DHCP stopped because
    /// the segment is not isolated), oldest first, at most [`ALERTS`].
    alerts: VecDeque<(u64, String)>,
}

/// Alerts kept for the board.
pub const ALERTS: usize = 8;

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
        let t = v.get("t").and_then(serde_json::Value::as_u64).unwrap_or(self.last_at);
        self.progress(kind, v, t);
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
        if kind.starts_with("agent-") {
            self.agent_events += 1;
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

impl Node {
    /// What an event tells of the node's progress, identity and trouble.
    fn progress(&mut self, kind: &str, v: &serde_json::Value, t: u64) {
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
        let mut reach = |step: Step| {
            self.steps.entry(step).or_insert(t);
        };
        match kind {
            k if k.starts_with("dhcp-") => {
                if matches!(k, "dhcp-offer" | "dhcp-ack" | "dhcp-proxy-offer" | "dhcp-pxe-ack") {
                    reach(Step::Dhcp);
                }
                let id = &mut self.identity;
                if let Some(a) = v.get("arch").and_then(serde_json::Value::as_u64) {
                    id.arch = u16::try_from(a).ok().map(ClientArch);
                }
                id.uuid = s("uuid").or(id.uuid.take());
                id.vendor_class = s("vendor_class").or(id.vendor_class.take());
                id.user_class = s("user_class").or(id.user_class.take());
                id.relay = s("relay").and_then(|r| r.parse().ok()).or(id.relay);
                id.circuit_id = s("circuit_id").or(id.circuit_id.take());
                id.remote_id = s("remote_id").or(id.remote_id.take());
                if k == "dhcp-nak"
                    && let Some(n) = s("note")
                {
                    self.error(format!("DHCP NAK: {n}"));
                }
            }
            "tftp" => {
                if v.get("status").and_then(serde_json::Value::as_str) == Some("sent") {
                    reach(Step::Tftp);
                } else if let Some(e) = s("error") {
                    self.error(format!("TFTP {}: {e}", s("file").unwrap_or_default()));
                }
            }
            "http" => {
                let status = v.get("status").and_then(serde_json::Value::as_u64).unwrap_or(0);
                let path = s("path").unwrap_or_default();
                match (status, s("role").as_deref()) {
                    (200, _) if path == "/boot.ipxe" => reach(Step::Script),
                    (200 | 206, Some("initrd")) => reach(Step::Kernel),
                    // A range of the image is not the image.
                    (200, Some("image")) => reach(Step::Image),
                    (400..=599, _) => self.error(format!("HTTP {status} for {path}")),
                    _ => {}
                }
            }
            "inventory" => reach(Step::Inventory),
            k if k.starts_with("agent-") => {
                reach(Step::Hello);
                match k {
                    "agent-poweroff" => {
                        reach(Step::Done);
                        self.end = Some(End::PoweredOff);
                    }
                    "agent-done" => {
                        reach(Step::Done);
                        self.end = Some(End::StaysUp);
                    }
                    "agent-not-durable" => {
                        reach(Step::Done);
                        self.end = Some(End::NotKept);
                    }
                    "agent-master" => {
                        reach(Step::Done);
                        self.end = Some(End::Master);
                    }
                    "agent-fetch-retry" | "agent-upload-retry" | "agent-inventory-failed" => {
                        self.error(format!("{}: {}", &k[6..], s("detail").unwrap_or_default()));
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        if t >= self.last_at {
            self.last_at = t;
            self.last = describe(kind, v);
        }
    }

    fn error(&mut self, e: String) {
        if self.errors.len() >= 20 {
            self.errors.remove(0);
        }
        self.errors.push(e);
    }

    /// The furthest step reached.
    pub fn step(&self) -> Option<Step> {
        self.steps.keys().next_back().copied()
    }

    /// The first step not reached, after the furthest one (a fast-path node skips the image).
    pub fn next(&self) -> Option<Step> {
        let at = self.step()?;
        Step::ALL.iter().copied().find(|&s| s > at && !(s == Step::Image && self.steps.contains_key(&Step::Hello)))
    }

    /// Percent of the live image served, while it is being served.
    pub fn image_percent(&self) -> Option<u64> {
        let (sent, size) = self.image;
        (size > 0 && sent > 0).then(|| (sent.min(size) * 100) / size)
    }

    /// Whether it has gone quiet before it was done, at `now` (Unix ms).
    pub fn stuck(&self, now: u64, after: u64) -> bool {
        self.end.is_none() && self.last_at > 0 && now.saturating_sub(self.last_at) >= after
    }

    /// Where it stands, in words: `powered off`, `image 45%`, `stuck after TFTP for 90 s`.
    pub fn status(&self, now: u64, stuck_after: u64) -> String {
        let Some(step) = self.step() else { return "seen".into() };
        let since = now.saturating_sub(self.last_at) / 1000;
        match self.end {
            Some(End::PoweredOff) => return "powered off".into(),
            Some(End::StaysUp) => return "done, stays up".into(),
            Some(End::NotKept) => return "done, NOT KEPT".into(),
            Some(End::Master) => return "the master, serving".into(),
            None => {}
        }
        if self.stuck(now, stuck_after) {
            return format!("stuck after {} for {since} s", step.name());
        }
        if step < Step::Image
            && let Some(p) = self.image_percent()
        {
            return format!("image {p}%");
        }
        match self.next() {
            Some(n) => format!("{} ok, {} next", step.name(), n.name()),
            None => step.name().to_owned(),
        }
    }
}

/// An event in a few words, for the board's log and a node's last event.
pub fn describe(kind: &str, v: &serde_json::Value) -> String {
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or_default();
    let n = |k: &str| v.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
    match kind {
        "http" => format!("HTTP {} {} {}", s("method"), s("path"), n("status")),
        "tftp" => format!("TFTP {} {}", s("file"), s("status")),
        "inventory" => format!("inventory stored ({} octets)", n("bytes")),
        k if k.starts_with("dhcp-") => {
            let ip = s("ip");
            format!("DHCP {}{}{}", &k[5..], if ip.is_empty() { "" } else { " " }, ip)
        }
        k if k.starts_with("agent-") => {
            let d = s("detail");
            if k == "agent-phase" { format!("agent: {}", s("phase")) } else { format!("agent: {} {d}", &k[6..]) }
        }
        k => k.to_owned(),
    }
}

impl Fleet {
    /// No nodes yet.
    pub fn new() -> Fleet {
        Fleet::default()
    }

    /// Sets how long a node may go without an event before it counts as stuck.
    pub fn set_stuck(&mut self, ms: u64) {
        self.stuck_ms = Some(ms);
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
        if self.log.len() >= LOG_LINES {
            self.log.pop_front();
        }
        self.log.push_back((node.last_at, mac, node.last.clone()));
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

    /// Counts octets served to whoever has `ip` (HTTP and TFTP know only the address); of the
    /// live image (of `image` octets), when they are.
    pub fn served(&mut self, ip: Ipv4Addr, bytes: u64, image: Option<u64>) {
        if let Some(mac) = self.by_ip.get(&ip)
            && let Some(n) = self.nodes.get_mut(mac)
        {
            n.bytes_served += bytes;
            if let Some(size) = image {
                n.image = (n.image.0 + bytes, size);
            }
        }
    }

    /// Keeps what a node's stored inventory says at a glance.
    pub fn summarize(&mut self, mac: Mac, summary: Summary) {
        if let Some(n) = self.nodes.get_mut(&mac) {
            n.summary = Some(summary);
        }
    }

    /// Raises an alert for the board (and the fleet view): once per text.
    pub fn alert(&mut self, now: u64, text: String) {
        if self.alerts.iter().any(|(_, t)| *t == text) {
            return;
        }
        if self.alerts.len() >= ALERTS {
            self.alerts.pop_front();
        }
        self.alerts.push_back((now, text));
    }

    /// The board's view at `now` (Unix ms): every node in words, the counts, the log and the
    /// alerts.
    pub fn view(&self, now: u64) -> FleetView {
        let after = self.stuck_ms.unwrap_or(STUCK_MS);
        let mut counts = BTreeMap::new();
        let nodes: Vec<NodeView> = self
            .nodes
            .values()
            .map(|n| {
                let state = match (n.end, n.stuck(now, after), n.step()) {
                    (Some(_), ..) => "done",
                    (None, true, _) => "stuck",
                    (None, false, Some(s)) if s >= Step::Inventory => "inventoried",
                    (None, false, Some(_)) => "booting",
                    (None, false, None) => "seen",
                };
                *counts.entry(state.to_owned()).or_insert(0u32) += 1;
                NodeView {
                    mac: n.mac,
                    ip: n.ip,
                    serial: n.summary.as_ref().and_then(|s| s.serial.clone()),
                    hostname: n.summary.as_ref().and_then(|s| s.hostname.clone()),
                    state: state.to_owned(),
                    step: n.step(),
                    next: n.next(),
                    status: n.status(now, after),
                    image_percent: n.image_percent(),
                    last_at: n.last_at,
                    last: n.last.clone(),
                    errors: n.errors.clone(),
                    end: n.end,
                    identity: n.identity.clone(),
                    summary: n.summary.clone(),
                }
            })
            .collect();
        let log = self.log.iter().map(|(t, m, what)| LogLine { t: *t, mac: *m, what: what.clone() }).collect();
        FleetView { now, counts, nodes, log, alerts: self.alerts.iter().cloned().collect() }
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

/// One node on the board and in the reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeView {
    /// Boot MAC.
    pub mac: Mac,
    /// Its address.
    pub ip: Option<Ipv4Addr>,
    /// Its serial, once its inventory is stored.
    pub serial: Option<String>,
    /// Its host name, likewise.
    pub hostname: Option<String>,
    /// `seen`, `booting`, `inventoried`, `done` or `stuck`.
    pub state: String,
    /// The furthest step reached.
    pub step: Option<Step>,
    /// The first step not reached.
    pub next: Option<Step>,
    /// Where it stands, in words.
    pub status: String,
    /// Percent of the image served, while it is.
    pub image_percent: Option<u64>,
    /// Its last event, Unix ms.
    pub last_at: u64,
    /// Its last event, in words.
    pub last: String,
    /// What went wrong.
    pub errors: Vec<String>,
    /// How it ended.
    pub end: Option<End>,
    /// What DHCP told of it.
    pub identity: Identity,
    /// Its inventory at a glance.
    pub summary: Option<Summary>,
}

/// A line of the board's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// Unix ms.
    pub t: u64,
    /// The node.
    pub mac: Mac,
    /// What happened.
    pub what: String,
}

/// `GET /api/v1/fleet`: what the board shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetView {
    /// The master's clock, Unix ms.
    pub now: u64,
    /// Nodes by state.
    pub counts: BTreeMap<String, u32>,
    /// Every node, by MAC.
    pub nodes: Vec<NodeView>,
    /// The newest events, oldest first.
    pub log: Vec<LogLine>,
    /// What the operator must see first, oldest first: `(Unix ms, text)`.
    #[serde(default)]
    pub alerts: Vec<(u64, String)>,
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
        f.served(Ipv4Addr::new(10, 0, 0, 5), 1000, None);
        f.served(Ipv4Addr::new(10, 0, 0, 6), 1000, None);
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
    fn the_master_itself_is_done_and_never_stuck() {
        let mut f = Fleet::new();
        f.event(mac(7), "agent-phase", 1, serde_json::json!({"phase": "serve"}), true);
        f.event(mac(7), "inventory", 2, serde_json::json!({"bytes": 5}), true);
        f.event(mac(7), "agent-master", 3, serde_json::json!({"detail": "serving"}), true);
        let v = f.view(3 + 10 * STUCK_MS);
        assert_eq!(v.nodes[0].status, "the master, serving");
        assert_eq!(v.nodes[0].state, "done");
        assert_eq!(v.counts.get("stuck"), None);
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
