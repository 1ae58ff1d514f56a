//! `recon agent`: the state machine (`crate::machine`) driven by real sockets, timers and
//! threads. The machine decides; this file does what it asks and feeds back what happened:
//! beacons on UDP 47391, the DHCP probe and client, the master's services (on their own thread
//! and executor), the manifest and upload over HTTP, the inventory on a blocking thread, and
//! the power-off.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::Context;
use smol::Async;

use netboot_proto::Mac;

use super::clock::unix_ms;
use super::udp::{UdpOptions, bind_udp};
use super::{dhcp_client, http_client};
use crate::machine::{Action, Agent, BEACON_PORT, Cmdline, DhcpPolicy, Event, Facts, Failure, Input, Manifest, Output};
use crate::master::{DhcpChoice, ServeArgs, Started};
use crate::serve::dhcp::Mode;

/// `recon agent` options (the rest comes from the kernel command line).
#[derive(Debug, Clone)]
pub(crate) struct AgentOpts {
    /// Read instead of /proc/cmdline (labs, tests).
    pub(crate) cmdline: Option<String>,
    /// The master's boot files, when this node becomes the master.
    pub(crate) boot: PathBuf,
    /// The master's data directory.
    pub(crate) data: PathBuf,
    /// Only act on this interface.
    pub(crate) interface: Option<String>,
    /// Inventory a sysfs/procfs tree instead of this machine (labs, tests). Such a run never
    /// powers the machine off: the tree is not the machine it runs on.
    pub(crate) root: Option<PathBuf>,
    /// Where to append a line per event for the board on this machine's console.
    pub(crate) status: Option<PathBuf>,
}

/// Physical interfaces (a `device` link) with their MACs and carrier, sorted by MAC; also
/// `only`, the interface named on the command line, whatever it is (a veth in a lab).
fn links(only: Option<&str>) -> Vec<(String, Mac, bool)> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/sys/class/net") else { return out };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let base = e.path();
        if !base.join("device").exists() && only != Some(name.as_str()) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(base.join("address")) else { continue };
        let Some(mac) = Mac::parse(text.trim()) else { continue };
        let carrier = std::fs::read_to_string(base.join("carrier")).is_ok_and(|c| c.trim() == "1");
        out.push((name, mac, carrier));
    }
    out.sort_by_key(|l| l.1);
    out
}

/// The boot link: BOOTIF's, else the lowest MAC with carrier, after bringing every link up.
/// Waits for one as long as it takes: a node booted from the stick before its cable is in (or
/// its switch port up) becomes the master once it is, without a restart loop on the console.
fn boot_link(cmdline: &Cmdline, only: Option<&str>) -> (String, Mac) {
    let pick = |ls: &[(String, Mac, bool)]| {
        let ls: Vec<_> = ls.iter().filter(|l| only.is_none_or(|o| o == l.0)).collect();
        if let Some(m) = cmdline.boot_mac
            && let Some(l) = ls.iter().find(|l| l.1 == m)
        {
            return Some((l.0.clone(), l.1));
        }
        ls.iter().find(|l| l.2).map(|l| (l.0.clone(), l.1))
    };
    let start = Instant::now();
    let mut told = None::<Instant>;
    let mut raised = None::<Instant>;
    loop {
        let ls = links(only);
        if let Some(p) = pick(&ls) {
            if told.is_some() {
                log::info!("agent: {} has a link after {} s", p.0, start.elapsed().as_secs());
            }
            return p;
        }
        // Up every link, again now and then: a NIC whose driver loads late appears down.
        if raised.is_none_or(|t| t.elapsed() >= Duration::from_secs(5)) {
            if let Ok(mut rtnl) = super::netlink::Rtnl::open() {
                for (name, ..) in &ls {
                    if let Ok(i) = nix::net::if_::if_nametoindex(name.as_str()) {
                        let _ = rtnl.set_up(i);
                    }
                }
            }
            raised = Some(Instant::now());
        }
        // Said after 10 s (a link coming up takes a few) and then once a minute.
        let due = match told {
            None => start.elapsed() >= Duration::from_secs(10),
            Some(t) => t.elapsed() >= Duration::from_secs(60),
        };
        if due {
            let seen: Vec<String> =
                ls.iter().map(|l| format!("{} {}", l.0, if l.2 { "up" } else { "no carrier" })).collect();
            // BOOTIF's link is taken with or without carrier: missing, it is a NIC not (yet) seen.
            let (what, hint) = match (cmdline.boot_mac, only) {
                (Some(m), _) => (format!("the BOOTIF link {m}"), "is its NIC's driver loaded?"),
                (None, Some(o)) => (format!("carrier on {o}"), "plug a cable or enable the switch port"),
                (None, None) => ("a network link with carrier".to_owned(), "plug a cable or enable the switch port"),
            };
            log::warn!(
                "agent: waiting for {what} ({}); {hint}",
                if seen.is_empty() { "no network links".to_owned() } else { seen.join(", ") }
            );
            told = Some(Instant::now());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn ipmi_present(root: Option<&Path>) -> bool {
    let root = root.unwrap_or(Path::new("/"));
    ["dev/ipmi0", "dev/ipmi/0", "dev/ipmidev/0", "sys/firmware/dmi/entries/38-0"].iter().any(|p| root.join(p).exists())
}

/// The interface's IPv4 address, or a DHCP lease put on it.
async fn ensure_address(iface: &str, mac: Mac) -> Result<(Ipv4Addr, Option<Ipv4Addr>), Failure> {
    if let Some((ip, _)) = crate::master::interface_v4(iface) {
        return Ok((ip, None));
    }
    let (ip, prefix, server) = dhcp_client::lease(iface, mac, Duration::from_secs(10))
        .await
        .map_err(|e| Failure::Network(format!("DHCP on {iface}: {e}")))?
        .ok_or_else(|| Failure::NoAddress(format!("no DHCP server answered on {iface}")))?;
    let local = |e: std::io::Error| Failure::Local(format!("adding {ip}/{prefix} to {iface}: {e}"));
    let index = nix::net::if_::if_nametoindex(iface).map_err(|e| local(e.into()))?;
    super::netlink::Rtnl::open().and_then(|mut r| r.add_address(index, ip, prefix)).map_err(local)?;
    log::info!("agent: {iface} leased {ip}/{prefix} from {server}");
    Ok((ip, Some(server)))
}

async fn fetch_manifest(iface: &str, mac: Mac, hint: Option<Ipv4Addr>) -> Result<(Ipv4Addr, Manifest), Failure> {
    let (_, server) = ensure_address(iface, mac).await?;
    let master = hint.or(server).ok_or(Failure::NoMaster)?;
    let m = get_manifest(&format!("http://{master}/api/v1/manifest?mac={mac}"), Duration::from_secs(10)).await?;
    Ok((master, m))
}

async fn get_manifest(url: &str, limit: Duration) -> Result<Manifest, Failure> {
    let r = http_client::request("GET", url, &[], &[], limit).await.map_err(|e| Failure::Network(e.to_string()))?;
    if r.status != 200 {
        return Err(Failure::Status(r.status));
    }
    serde_json::from_slice(&r.body).map_err(|e| Failure::Invalid(format!("manifest: {e}")))
}

/// The inventory of this machine, as the upload carries it (postcard).
async fn collect(root: Option<PathBuf>) -> Result<Vec<u8>, Failure> {
    smol::unblock(move || {
        let started_unix_ms = unix_ms();
        let opts = inventory::Options {
            agent_version: env!("CARGO_PKG_VERSION").to_owned(),
            started_unix_ms,
            live: root.is_none(),
            ..inventory::Options::default()
        };
        let inv = match root {
            None => inventory::collect(&inventory::SysRoot::host(), &inventory::live::Host, &opts),
            Some(r) => inventory::collect(&inventory::SysRoot::new(r), &inventory::NoDevices, &opts),
        };
        postcard::to_stdvec(&inv).map_err(|e| Failure::Local(format!("encoding the inventory: {e}")))
    })
    .await
}

/// This process's peak resident set (VmHWM), KiB.
fn peak_rss_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Appends a line to the agent's status file (`--status`, `board::AGENT_STATUS_FILE` in the
/// image), which the board on this machine's tty1 shows on a peer. Best effort.
fn status_line(path: &Path, line: &str) {
    use std::io::Write;
    let _ = std::fs::create_dir_all(path.parent().unwrap_or(Path::new("/run")));
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        let t = crate::serve::time::utc_datetime(unix_ms() / 1000, None);
        let _ = writeln!(f, "{} {}", t.get(11..).unwrap_or(&t), line.trim_end());
    }
}

/// The "done, safe to power off" line, on stdout and the console.
fn announce(msg: &str, console: bool, status: Option<&Path>) {
    log::info!("agent: peak RSS {} KiB", peak_rss_kb().unwrap_or(0));
    if let Some(f) = status {
        status_line(f, msg);
    }
    println!("{msg}");
    if console && let Ok(mut c) = std::fs::OpenOptions::new().write(true).open("/dev/console") {
        use std::io::Write;
        let _ = writeln!(c, "\n{msg}\n");
    }
}

/// The node's timeline on the master: the machine's events, posted one at a time and in order,
/// each retried until the master takes it, so a master that is slow or not yet reachable (the
/// first seconds of a live root, a TCG guest under load) misses none. Events wait here until
/// the master is known. A post that timed out may still have landed: `run` (this agent's start,
/// unix ms) and `seq` name each event once, and the master drops a copy it already holds.
struct Outbox {
    mac: Mac,
    run: u64,
    seq: Cell<u64>,
    master: Cell<Option<Ipv4Addr>>,
    /// The node's upload token, when it has one: the master takes events only with it, so they
    /// wait here until it is known (a node booted from its own medium learns it from the
    /// manifest).
    token: RefCell<Option<String>>,
    queue: RefCell<VecDeque<Vec<u8>>>,
    /// Rung when there is something new to send or somewhere to send it.
    bell: (smol::channel::Sender<()>, smol::channel::Receiver<()>),
}

/// Events held at most; past this new ones are dropped (and logged): a master that never
/// answers must not grow the agent without bound.
const OUTBOX_MAX: usize = 512;

#[derive(serde::Serialize)]
struct Posted<'a> {
    #[serde(flatten)]
    event: &'a Event,
    run: u64,
    seq: u64,
}

impl Outbox {
    fn new(mac: Mac, run: u64, master: Option<Ipv4Addr>, token: Option<String>) -> Outbox {
        Outbox {
            mac,
            run,
            seq: Cell::new(0),
            master: Cell::new(master),
            token: RefCell::new(token),
            queue: RefCell::new(VecDeque::new()),
            bell: smol::channel::bounded(1),
        }
    }

    fn push(&self, e: &Event) {
        let seq = self.seq.get() + 1;
        self.seq.set(seq);
        let body = serde_json::to_vec(&Posted { event: e, run: self.run, seq }).unwrap_or_default();
        let mut q = self.queue.borrow_mut();
        if q.len() >= OUTBOX_MAX {
            log::warn!("agent: {} events wait for the master; dropping {} {}", q.len(), e.kind, e.phase);
            return;
        }
        q.push_back(body);
        drop(q);
        let _ = self.bell.0.try_send(());
    }

    fn set_token(&self, t: String) {
        if self.token.replace(Some(t)).is_none() {
            let _ = self.bell.0.try_send(());
        }
    }

    fn set_master(&self, m: Ipv4Addr) {
        if self.master.replace(Some(m)) != Some(m) {
            let _ = self.bell.0.try_send(());
        }
    }

    /// Forgets what waits: this node became the master, whose timeline is its own log.
    fn clear(&self) {
        self.queue.borrow_mut().clear();
    }

    /// Posts the queue's head until it is taken, forever (the task is dropped with the agent).
    async fn deliver(self: Rc<Self>) {
        let mut backoff = Duration::from_millis(250);
        loop {
            let head = self.queue.borrow().front().cloned();
            let token = self.token.borrow().clone();
            let (Some(m), Some(body), Some(token)) = (self.master.get(), head, token) else {
                let _ = self.bell.1.recv().await;
                continue;
            };
            let url = format!("http://{m}/api/v1/nodes/{}/events", self.mac);
            let r = post(&url, "application/json", Some(&token), &body, Duration::from_secs(10)).await;
            match r {
                Ok(r) if r.status < 300 || (400..500).contains(&r.status) => {
                    if r.status >= 300 {
                        // The master refuses this event; sending it again would not change that.
                        log::warn!("agent: the master refused an event: HTTP {}", r.status);
                    }
                    self.queue.borrow_mut().pop_front();
                    backoff = Duration::from_millis(250);
                }
                other => {
                    let why = other.map_or_else(|e| e.to_string(), |r| format!("HTTP {}", r.status));
                    log::info!("agent: posting an event to {m}: {why}; again in {backoff:?}");
                    smol::Timer::after(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    /// Waits until every event is delivered, at most `limit`: a master that is gone must not
    /// keep a node from powering off.
    async fn flush(&self, limit: Duration) {
        let end = Instant::now() + limit;
        while Instant::now() < end
            && self.master.get().is_some()
            && self.token.borrow().is_some()
            && !self.queue.borrow().is_empty()
        {
            smol::Timer::after(Duration::from_millis(50)).await;
        }
        let left = self.queue.borrow().len();
        if left > 0 {
            log::warn!("agent: {left} events not delivered to the master");
        }
    }
}

/// How long a node booted from its medium listens for hosts with addresses: past Probe (up to
/// 8 s) and Elect (10 s).
const HOST_WATCH: Duration = Duration::from_secs(30);

/// How long the last events may take to reach the master before the node powers off or says it
/// is done: long enough for one retry after a timed-out post.
const FLUSH_LIMIT: Duration = Duration::from_secs(15);

fn power_off() {
    log::info!("agent: peak RSS {} KiB", peak_rss_kb().unwrap_or(0));
    nix::unistd::sync();
    log::warn!("agent: powering off");
    // reboot(2) returns only on failure.
    let Err(e) = nix::sys::reboot::reboot(nix::sys::reboot::RebootMode::RB_POWER_OFF);
    log::error!("agent: reboot(RB_POWER_OFF) failed ({e}); asking the BMC (IPMI chassis power down)");
    use inventory::DeviceIo;
    let r = inventory::live::Host.ipmi(0x00, 0x02, &[0x00], Duration::from_secs(5));
    log::error!("agent: IPMI chassis control: {r:?}");
}

pub(crate) fn run(opts: AgentOpts) -> anyhow::Result<()> {
    let text = match &opts.cmdline {
        Some(c) => c.clone(),
        None => std::fs::read_to_string("/proc/cmdline").context("reading /proc/cmdline")?,
    };
    let cmdline = Cmdline::parse(&text);
    if !cmdline.unknown.is_empty() {
        log::warn!("agent: ignoring unknown options {:?}", cmdline.unknown);
    }
    let (iface, mac) = boot_link(&cmdline, opts.interface.as_deref());
    let facts = Facts {
        cmdline: cmdline.clone(),
        mac,
        ipmi: ipmi_present(opts.root.as_deref()),
        boot_unix_ms: unix_ms(),
        version: 1,
    };
    log::info!(
        "agent: {} on {iface} ({mac}), BMC {}",
        env!("CARGO_PKG_VERSION"),
        if facts.ipmi { "present" } else { "absent" }
    );
    let ex = Rc::new(smol::LocalExecutor::new());
    smol::block_on(ex.run(drive(ex.clone(), facts, iface, opts)))
}

async fn drive(
    ex: Rc<smol::LocalExecutor<'static>>,
    facts: Facts,
    iface: String,
    opts: AgentOpts,
) -> anyhow::Result<()> {
    let start = Instant::now();
    let now = move || u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    let mac = facts.mac;
    let hint = facts.cmdline.master_addr();
    let beacon_opts =
        UdpOptions { device: Some(iface.clone()), broadcast: true, pktinfo: false, reuse_addr: true, rcvbuf: None };
    let beacons: Rc<Async<UdpSocket>> = Rc::new(
        bind_udp(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, BEACON_PORT), &beacon_opts).context("beacon socket")?,
    );
    let (tx, rx) = smol::channel::unbounded::<Input>();
    {
        let (b, tx) = (beacons.clone(), tx.clone());
        ex.spawn(async move {
            let mut buf = [0u8; 512];
            while let Ok((n, from)) = b.recv_from(&mut buf).await {
                if let std::net::SocketAddr::V4(f) = from {
                    let _ = tx.send(Input::Beacon { from: *f.ip(), data: buf[..n].to_vec() }).await;
                }
            }
        })
        .detach();
    }
    if facts.cmdline.role == crate::machine::Role::Auto && !facts.cmdline.pxe_booted() {
        // A node booted from its own medium listens while it probes and elects for a host that
        // has an address: an isolated rack has none (its nodes are off or PXE-booting).
        let (tx, iface) = (tx.clone(), iface.clone());
        ex.spawn(async move {
            match super::arp::first_host(&iface, mac, HOST_WATCH).await {
                Ok(Some((ip, mac))) => {
                    let _ = tx.send(Input::HostSeen { ip, mac }).await;
                }
                Ok(None) => {}
                Err(e) => log::warn!("agent: cannot listen for hosts on {iface}: {e}"),
            }
        })
        .detach();
    }
    let outbox = Rc::new(Outbox::new(mac, facts.boot_unix_ms, hint, facts.cmdline.token.clone()));
    let mut agent = Agent::new(facts, now());
    // The master this agent starts, when it does.
    let master: Rc<RefCell<Option<Started>>> = Rc::default();
    ex.spawn(outbox.clone().deliver()).detach();
    loop {
        while let Some(o) = agent.poll_output() {
            match o {
                Output::Broadcast(d) => {
                    let _ = beacons.send_to(&d, SocketAddrV4::new(Ipv4Addr::BROADCAST, BEACON_PORT)).await;
                    if crate::machine::beacon::Beacon::decode(&d).is_some_and(|b| b.serving) {
                        // Again from 0.0.0.0: another master on this node's own address would
                        // drop the first copy as a martian (its source is local there).
                        if let Err(e) = beacon_from_nowhere(&iface, mac, &d).await {
                            log::debug!("agent: a beacon from 0.0.0.0 on {iface}: {e}");
                        }
                    }
                }
                Output::Event(e) => {
                    log::info!("agent: {} {} {}", e.kind, e.phase, e.detail);
                    if let Some(f) = &opts.status {
                        status_line(f, &format!("{} {} {}", e.phase, e.kind, e.detail));
                    }
                    if agent.phase() == "serve" {
                        outbox.clear();
                    } else {
                        outbox.push(&e);
                    }
                }
                Output::Action(a) => {
                    if let Action::Upload { master: m, .. } | Action::FetchManifest { hint: Some(m) } = &a {
                        outbox.set_master(*m);
                    }
                    if matches!(a, Action::PowerOff) {
                        // The master's timeline gets the last events before the node goes dark.
                        outbox.flush(FLUSH_LIMIT).await;
                        if opts.root.is_some() {
                            log::info!("agent: peak RSS {} KiB", peak_rss_kb().unwrap_or(0));
                            log::warn!("agent: would power off now; not with --root (a lab run)");
                            return Ok(());
                        }
                        power_off();
                        return Ok(());
                    }
                    if let Action::Announce(msg) = &a {
                        // After the events: whoever waits for this line finds the timeline whole.
                        outbox.flush(FLUSH_LIMIT).await;
                        announce(msg, opts.root.is_none(), opts.status.as_deref());
                        continue;
                    }
                    let tx = tx.clone();
                    let iface = iface.clone();
                    let opts = opts.clone();
                    let master = master.clone();
                    ex.spawn(async move {
                        if let Some(input) = perform(a, &iface, mac, &opts, &master).await {
                            let _ = tx.send(input).await;
                        }
                    })
                    .detach();
                }
            }
        }
        if agent.phase() == "done" {
            outbox.flush(FLUSH_LIMIT).await;
            return Ok(());
        }
        let deadline = agent.next_deadline();
        let wait = async {
            match deadline {
                Some(t) => smol::Timer::after(Duration::from_millis(t.saturating_sub(now()))).await,
                None => smol::Timer::never().await,
            };
            None
        };
        match smol::future::or(async { rx.recv().await.ok() }, wait).await {
            Some(input) => {
                // A peer booted from its own medium learns the master and its token from the
                // manifest (whose token wins, as in the upload).
                if let Input::Manifest(Ok((m, manifest))) = &input {
                    if let Some(t) = &manifest.token {
                        outbox.set_token(t.clone());
                    }
                    outbox.set_master(*m);
                }
                agent.handle_input(now(), input)
            }
            None => agent.handle_timeout(now()),
        }
    }
}

/// A UDP broadcast to the beacon port from 0.0.0.0 (RFC 768; RFC 791 section 3.1), as a
/// whole Ethernet frame: a UDP socket sends from the interface's address, and a host that holds
/// the same address (two masters that each took the default while apart) drops a datagram whose
/// source is one of its own addresses (RFC 1812 section 5.3.7). One from 0.0.0.0 it takes, as it
/// takes a DHCPDISCOVER (RFC 2131 section 4.1), so the two meet and resolve to one.
fn nowhere_frame(mac: Mac, payload: &[u8]) -> Vec<u8> {
    let udp_len = 8 + payload.len();
    let total = u16::try_from(20 + udp_len).unwrap_or(u16::MAX);
    let mut f = Vec::with_capacity(14 + 20 + udp_len);
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&mac.0);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    let ip_at = f.len();
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 0, 64, 17, 0, 0]);
    f.extend_from_slice(&[0, 0, 0, 0]);
    f.extend_from_slice(&Ipv4Addr::BROADCAST.octets());
    let sum = ip_checksum(&f[ip_at..ip_at + 20]);
    f[ip_at + 10..ip_at + 12].copy_from_slice(&sum.to_be_bytes());
    f.extend_from_slice(&BEACON_PORT.to_be_bytes());
    f.extend_from_slice(&BEACON_PORT.to_be_bytes());
    f.extend_from_slice(&u16::try_from(udp_len).unwrap_or(u16::MAX).to_be_bytes());
    // No UDP checksum: optional over IPv4 (RFC 768), and a beacon checks its own form.
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    f
}

/// The Internet checksum of an IPv4 header (RFC 1071).
fn ip_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Opened for each beacon (one every 2 s) and closed again: a packet socket kept open would be
/// handed a copy of every frame on the link, the master's downloads included, to no reader.
async fn beacon_from_nowhere(iface: &str, mac: Mac, payload: &[u8]) -> std::io::Result<()> {
    let sock = super::arp::open(iface)?;
    super::arp::send_frame(&sock, &nowhere_frame(mac, payload)).await
}

/// POSTs `body` to the master, with the node's token (`Authorization: Bearer`) when it has one.
async fn post(
    url: &str,
    content_type: &str,
    token: Option<&str>,
    body: &[u8],
    limit: Duration,
) -> std::io::Result<http_client::Response> {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", content_type)];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    http_client::request("POST", url, &headers, body, limit).await
}

/// Does one action; the input it produces, if any. `master` holds the master this agent
/// started, once it has.
async fn perform(
    a: Action,
    iface: &str,
    mac: Mac,
    opts: &AgentOpts,
    master: &RefCell<Option<Started>>,
) -> Option<Input> {
    match a {
        Action::ProbeDhcp => {
            let r = dhcp_client::probe(iface, mac, Duration::from_secs(4), None).await;
            Some(Input::ProbeResult { foreign_dhcp: r.ok().flatten() })
        }
        Action::StartMaster { dhcp: policy, address, poweroff_on_finish, not_alone } => {
            let r =
                start_master(iface, mac, policy, address, poweroff_on_finish, not_alone, opts).await.map(|started| {
                    let ip = started.server;
                    master.replace(Some(started));
                    ip
                });
            Some(Input::ServeStarted(r))
        }
        Action::FetchManifest { hint } => Some(Input::Manifest(fetch_manifest(iface, mac, hint).await)),
        Action::CollectInventory => Some(Input::InventoryDone(collect(opts.root.clone()).await)),
        Action::StoreOwnInventory(body) => {
            let store = master.borrow().as_ref().map(|m| m.store.clone());
            let json =
                postcard::from_bytes::<inventory::model::Inventory>(&body).map_err(|e| e.to_string()).and_then(|inv| {
                    let summary = crate::serve::fleet::Summary::of(&inv);
                    serde_json::to_vec_pretty(&inv).map(|j| (j, summary)).map_err(|e| e.to_string())
                });
            let r = match (json, store) {
                (Ok((json, summary)), Some(store)) => {
                    // The master's own record, as if it had booted from itself.
                    store.event(mac, "agent-phase", serde_json::json!({ "phase": "serve" }), true);
                    let r = store.put_inventory(mac, json, Some(summary)).await.map(|_| ()).map_err(|e| e.to_string());
                    if r.is_ok() {
                        // Done as a node; the board shows it as the master, never stuck.
                        store.event(mac, "agent-master", serde_json::json!({ "detail": "serving" }), true);
                    }
                    r
                }
                (Err(e), _) => Err(e),
                (_, None) => Err("no master store".into()),
            };
            match r {
                Ok(()) => log::info!("agent: the master's own inventory is stored"),
                Err(e) => log::error!("agent: storing the master's own inventory: {e}"),
            }
            None
        }
        Action::Upload { url, token, body, .. } => {
            let r = post(&url, "application/postcard", token.as_deref(), &body, Duration::from_secs(30)).await;
            Some(Input::UploadResult(r.map(|r| r.status).map_err(|e| Failure::Network(e.to_string()))))
        }
        Action::CheckMaster { addr, mac: theirs } => {
            Some(Input::MasterChecked(check_master(iface, mac, addr, theirs).await))
        }
        Action::StopMaster { to, addr } => {
            let stop = master.borrow().as_ref().map(|m| m.stop.clone());
            let Some(stop) = stop else {
                return Some(Input::MasterStopped(Err(Failure::Local("no master runs here".into()))));
            };
            let (tx, rx) = smol::channel::bounded(1);
            let r = match stop.send((format!("{to} at {addr}"), tx)).await {
                Ok(()) => rx.recv().await.unwrap_or_else(|_| Err("the master ended without a word".into())),
                Err(_) => Err("the master had already ended".into()),
            };
            Some(Input::MasterStopped(r.map_err(Failure::Local)))
        }
        Action::RivalMaster { addr } => {
            if let Some(m) = master.borrow().as_ref() {
                m.rivals.add(addr);
            }
            None
        }
        // The drive loop does these itself, after flushing the events.
        Action::Announce(_) | Action::PowerOff => None,
    }
}

/// Whether `mac` serves at `addr` as its beacon says: its manifest there names it. When `addr`
/// is this node's own (two masters that chose the default address apart), HTTP would ask this
/// node itself: the other must answer an ARP probe for it instead (RFC 5227 section 2.1.1).
async fn check_master(iface: &str, ours: Mac, addr: Ipv4Addr, mac: Mac) -> Result<(), Failure> {
    if crate::master::interface_v4(iface).is_some_and(|(ip, _)| ip == addr) {
        return match super::arp::probe(iface, ours, addr).await {
            Ok(Some(m)) if m == mac => Ok(()),
            Ok(Some(m)) => Err(Failure::Invalid(format!("{m} answers ARP for {addr}, not {mac}"))),
            Ok(None) => Err(Failure::Invalid(format!("nobody else answers ARP for {addr}"))),
            Err(e) => Err(Failure::Local(format!("ARP probe of {addr}: {e}"))),
        };
    }
    let m = get_manifest(&format!("http://{addr}/api/v1/manifest"), Duration::from_secs(5)).await?;
    match m.master.as_deref().map(Mac::parse) {
        Some(Some(named)) if named != mac => Err(Failure::Invalid(format!("its manifest names {named}"))),
        Some(None) => Err(Failure::Invalid("its manifest names no MAC".into())),
        _ => Ok(()),
    }
}

/// Starts `recon serve` on its own thread; reports the master once it serves.
async fn start_master(
    iface: &str,
    mac: Mac,
    policy: DhcpPolicy,
    address: Option<(Ipv4Addr, u8)>,
    poweroff_on_finish: bool,
    not_alone: Option<String>,
    opts: &AgentOpts,
) -> Result<Started, Failure> {
    let have = crate::master::interface_v4(iface);
    let chosen = address.is_some();
    let address = match (have, policy) {
        (Some(_), _) => None,
        // Behind a foreign DHCP server, take an address from it rather than invent one.
        (None, DhcpPolicy::Proxy) => {
            ensure_address(iface, mac).await?;
            None
        }
        // No DHCP (asked for, or `auto` on a segment that is not an isolated rack): a lease if a
        // server gives one, else the chosen address or recon's default, probed first (RFC
        // 5227), so the board and the API still say why.
        (None, DhcpPolicy::Off) => match ensure_address(iface, mac).await {
            Ok(_) => None,
            Err(_) => Some(address.unwrap_or((Ipv4Addr::new(10, 213, 0, 1), 16))),
        },
        (None, _) => Some(address.unwrap_or((Ipv4Addr::new(10, 213, 0, 1), 16))),
    };
    let dhcp = match policy {
        DhcpPolicy::Auto => DhcpChoice::Auto,
        DhcpPolicy::Full => DhcpChoice::Fixed(Mode::Full),
        DhcpPolicy::Proxy => DhcpChoice::Fixed(Mode::Proxy),
        DhcpPolicy::Off => DhcpChoice::Fixed(Mode::Off),
    };
    // The stick's RECONDATA on the data directory before anything is served or acknowledged,
    // and the ISO this node booted from served as it is.
    let mounted = super::medium::prepare_data(&opts.data);
    let mut args = ServeArgs::new();
    args.unmount_on_finish = mounted.is_some();
    // Booted from its own medium (a stick, a CD), not a lab run on a tree.
    args.on_stick = opts.root.is_none() && super::medium::boot_medium().is_some();
    args.poweroff_on_finish = args.on_stick && poweroff_on_finish;
    if let Some(m) = super::medium::boot_medium()
        && let Some(len) = m.iso
    {
        args.extents.push(("recon.iso".into(), m.disk, len));
    }
    args.interface = iface.to_owned();
    args.address = address;
    if !chosen {
        // recon's own default is in use on this segment (RFC 5227 probe): the next ones.
        args.spare_addresses = (2..=4).map(|k| (Ipv4Addr::new(10, 213, 0, k), 16)).collect();
    }
    args.boot = opts.boot.clone();
    args.data = opts.data.clone();
    args.dhcp = dhcp;
    args.not_alone = not_alone;
    args.names = vec!["bang".into(), "recon".into()];
    args.probe = Duration::from_secs(3);
    let (tx, rx) = smol::channel::bounded(1);
    std::thread::Builder::new()
        .name("master".into())
        .spawn(move || {
            if let Err(e) = crate::master::run_with(args, Some(tx.clone())) {
                log::error!("master: {e:#}");
                let _ = tx.send_blocking(Err(format!("{e:#}")));
            }
        })
        .map_err(|e| Failure::Local(format!("starting the master's thread: {e}")))?;
    rx.recv().await.map_err(|_| Failure::Local("the master stopped before it served".into()))?.map_err(Failure::Local)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_beacon_from_nowhere_is_a_well_formed_broadcast() {
        let b = crate::machine::beacon::Beacon {
            mac: Mac([2, 0, 0, 0, 0, 1]),
            serving: true,
            candidate: false,
            boot_unix_ms: 1,
            addr: Ipv4Addr::new(10, 213, 0, 1),
        }
        .encode();
        let f = nowhere_frame(Mac([2, 0, 0, 0, 0, 1]), &b);
        assert_eq!(&f[..6], &[0xff; 6]);
        assert_eq!(&f[12..14], &[8, 0]);
        let ip = &f[14..34];
        assert_eq!(ip_checksum(ip), 0, "a header with its checksum sums to zero");
        assert_eq!(usize::from(u16::from_be_bytes([ip[2], ip[3]])), f.len() - 14);
        assert_eq!(&ip[12..16], &[0, 0, 0, 0]);
        assert_eq!(&f[36..38], &BEACON_PORT.to_be_bytes(), "to the beacon port");
        assert_eq!(
            crate::machine::beacon::Beacon::decode(&f[42..]).map(|b| b.addr),
            Some(Ipv4Addr::new(10, 213, 0, 1))
        );
        // RFC 1071, section 3: 0001 f203 f4f5 f6f7 fold to ddf2; the checksum is its complement.
        assert_eq!(ip_checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), 0x220d);
    }
}
