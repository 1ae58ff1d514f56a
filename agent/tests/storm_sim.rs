//! A storm of PXE clients against the master's sans-IO cores, in one process (issue 17).
//!
//! `STORM_CLIENTS` machines (1,000 by default) power on within a few seconds of each other and
//! boot from one master, on a virtual clock in milliseconds: no sockets, no threads, no sleeping.
//! Each client is, in turn:
//!
//! - a BIOS PXE ROM doing DHCP (DISCOVER with option 60 `PXEClient:Arch:00000:UNDI:002001`,
//!   93 = 0, 94 and 97; OFFER; REQUEST; ACK), which must be offered `undionly.kpxe`;
//! - the same ROM fetching `undionly.kpxe` by TFTP (`tsize` and `blksize` 1432, lock-step: it
//!   acknowledges every block, duplicates included, and sends its last packet again, the RRQ or
//!   the last ACK, on its own timeout), served by the real sender core
//!   (`netboot_proto::tftp::Sender` with the server's deadlines, driven as `runtime::tftp` drives
//!   it: `serve::tftp::decide` on a real root directory, `Slots`, a transfer per client port,
//!   the ERROR on expiry, the end of a transfer on ICMP port unreachable);
//! - iPXE doing DHCP again (user class `iPXE`, client identifier 61), which must be given the
//!   script URL `http://SERVER/boot.ipxe`;
//! - iPXE fetching boot.ipxe (a request head parsed by `serve::http::parse_head`, routed by
//!   `route`, the node found by its address as `runtime::http` does it, through the node
//!   records `serve::fleet` keeps from the DHCP events, the script made by `boot_script`), whose
//!   `${mac:hexhyp}` and `${next-server}` it expands: the script must carry the node's token,
//!   its BOOTIF and the master;
//! - the agent uploading a minimal inventory as it does (postcard of
//!   `inventory::model::Inventory`), checked with the token key and `decode_upload`.
//!
//! Between the clients and the master, the network loses, duplicates and delays (so reorders)
//! the given percentage of datagrams each, independently, in both directions, from a seeded
//! xorshift; an HTTP exchange (TCP) is lost whole, request or response, at half that rate each,
//! and retried whole. Clients retry as real ones do: the ROM's DHCP after 4, 8, 16, 32, 64 s
//! (RFC 2131, section 4.1, with its ±1 s, and the PXE specification), iPXE's after 1, 2, 4, 8,
//! 10 s (its DHCP_MIN_TIMEOUT and DHCP_MAX_TIMEOUT), a REQUEST four times before starting over,
//! TFTP after 1 s of silence, up to 8 times in a row before the ROM gives up and the machine
//! reboots (counted as a restart).
//!
//! Checked, with 0 % and 10 % impairment: every client finishes; its copy of the boot file is
//! byte-identical to the served one; no address is given to two clients, and no Bind record of
//! the server gives one address to two client keys; every client got its own token, the one the
//! master's key mints for its MAC; every inventory landed; no TFTP transfer failed or expired
//! and no machine rebooted; the TFTP senders sent at most 1 + 4 × the percentage times the
//! datagrams a transfer needs (duplicated ACKs must not multiply retransmissions, RFC 1123,
//! section 4.2.3.1); on the clean network, nobody retried anything and no NAK was sent; the same
//! seed gives the same run. Printed: the virtual time until the
//! last client finished, the retries of each kind, the network's, DHCP's, TFTP's and HTTP's
//! counters, and the wall time.
//!
//!     cargo test -p agent --test storm_sim -- --nocapture
//!     STORM_CLIENTS=5000 cargo test -p agent --release --test storm_sim -- --nocapture

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::fs::File;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use agent::serve::dhcp::leases::{Leases, Record};
use agent::serve::dhcp::{Boot, Config, Dest, Mode, Server, Subnet};
use agent::serve::fleet::Fleet;
use agent::serve::http::{
    BootConfig, Route, TokenKey, boot_script, chain_script, decode_upload, parse_head, route, upload_format,
};
use agent::serve::tftp::{Admission, Decision, PER_SOURCE_LIMIT, Root, Slots, decide, with_deadlines};
use inventory::model::{Inventory, SCHEMA};
use netboot_proto::Mac;
use netboot_proto::dhcpv4::{
    self, ArchList, ClientMachineId, ClientNdi, DhcpOption, MessageType, Packet as DhcpPacket, Repr,
};
use netboot_proto::tftp::{
    ErrorCode, Limits, Negotiation, Packet as Tftp, Sender, SenderConfig, SenderError, Transmit, data_header,
};

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 213, 0, 1);
/// Unix time of the simulation's start (the DHCP core counts in seconds).
const EPOCH_SECS: u64 = 1_780_000_000;
/// One-way latency of the segment, ms.
const LATENCY_MS: u64 = 1;
/// Extra delay of a delayed datagram: 1 to this many ms.
const REORDER_MS: u64 = 10;
/// Machines power on over this many ms.
const POWER_ON_SPREAD_MS: u64 = 5_000;
/// From the ROM's last TFTP block to iPXE's first DHCP message.
const IPXE_START_MS: u64 = 500;
/// A machine whose ROM gave up comes back after this long.
const REBOOT_MS: u64 = 30_000;
/// The ROM's TFTP timeout, and how many in a row it takes before giving up.
const TFTP_TIMEOUT_MS: u64 = 1_000;
const TFTP_RETRIES: u32 = 8;
/// A REQUEST sent this many times without an answer: start over with a DISCOVER.
const REQUEST_TRIES: u32 = 4;
/// An HTTP exchange not answered within this long is tried again, whole.
const HTTP_TIMEOUT_MS: u64 = 3_000;
/// The simulation gives up here, or after this many events per client.
const DEADLINE_MS: u64 = 30 * 60 * 1000;
const MAX_EVENTS_PER_CLIENT: usize = 300;
/// The synthetic undionly.kpxe: a few tens of KiB, not a multiple of the block size.
const BOOT_FILE_LEN: usize = 40 * 1024 + 123;
const ROM_VENDOR_CLASS: &[u8] = b"PXEClient:Arch:00000:UNDI:002001";
/// The block size a PXE ROM asks for.
const ROM_BLKSIZE: usize = 1432;

/// xorshift64: the network's and the clients' randomness, seeded.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // splitmix64 of the seed, so that small seeds start well (and never at 0).
        let z = seed.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True `pct` times in a hundred.
    fn chance(&mut self, pct: u32) -> bool {
        pct > 0 && self.below(100) < u64::from(pct)
    }
}

/// Where a datagram goes: a port of the master, or a port of a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum To {
    Server(u16),
    Client(usize, u16),
}

#[derive(Debug, Clone)]
struct Datagram {
    from: SocketAddrV4,
    to: To,
    bytes: Vec<u8>,
}

#[derive(Debug)]
enum Ev {
    /// A machine powers on.
    Boot(usize),
    Deliver(Datagram),
    /// A client's timer, by generation (a later arming makes earlier ones stale).
    ClientTimer(usize, u64),
    /// A TFTP transfer's timer: the transfer's port and the time it was armed for.
    TftpTimer(u16, u64),
    /// ICMP port unreachable for the transfer on this server port, from this client port.
    Unreachable {
        tid: u16,
        peer: SocketAddrV4,
    },
    /// An HTTP request reaches the master; `lose_reply`: its response will be lost.
    HttpRequest {
        client: usize,
        from: Ipv4Addr,
        bytes: Vec<u8>,
        lose_reply: bool,
        tag: u64,
    },
    HttpResponse {
        client: usize,
        status: u16,
        body: String,
        tag: u64,
    },
}

struct Item {
    at: u64,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Item {
    fn eq(&self, other: &Item) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Item {}

impl PartialOrd for Item {
    fn partial_cmp(&self, other: &Item) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Item {
    /// Earliest first (BinaryHeap is a max-heap); ties in the order scheduled.
    fn cmp(&self, other: &Item) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

#[derive(Debug, Default)]
struct NetStats {
    sent: u64,
    lost: u64,
    duplicated: u64,
    delayed: u64,
    /// Datagrams to an address no client has.
    unroutable: u64,
    /// ICMP port unreachable sent back to the master.
    unreachable: u64,
    http_lost_requests: u64,
    http_lost_responses: u64,
}

/// The segment and the clock: the event queue, the impairment and who has which address.
struct Net {
    now: u64,
    seq: u64,
    queue: BinaryHeap<Item>,
    /// The impairment's randomness.
    rng: Rng,
    /// The clients' own choices (xids, ports, jitter), apart from the impairment's.
    crng: Rng,
    pct: u32,
    stats: NetStats,
    /// The neighbour table: which client has an address.
    by_ip: HashMap<Ipv4Addr, usize>,
    /// The switch's table: which client has a MAC.
    by_mac: HashMap<[u8; 6], usize>,
}

impl Net {
    fn at(&mut self, at: u64, ev: Ev) {
        self.seq += 1;
        self.queue.push(Item { at, seq: self.seq, ev });
    }

    /// Sends a datagram through the impairment: lost, or delivered once or twice, each copy
    /// maybe delayed past datagrams sent after it.
    fn send(&mut self, d: Datagram) {
        self.stats.sent += 1;
        if self.rng.chance(self.pct) {
            self.stats.lost += 1;
            return;
        }
        let copies = if self.rng.chance(self.pct) {
            self.stats.duplicated += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            let mut delay = LATENCY_MS;
            if self.rng.chance(self.pct) {
                self.stats.delayed += 1;
                delay += 1 + self.rng.below(REORDER_MS);
            }
            self.at(self.now + delay, Ev::Deliver(d.clone()));
        }
    }

    /// To the client that has `ip`, if any.
    fn send_to_ip(&mut self, from: SocketAddrV4, to: SocketAddrV4, bytes: Vec<u8>) {
        match self.by_ip.get(to.ip()) {
            Some(&c) => self.send(Datagram { from, to: To::Client(c, to.port()), bytes }),
            None => self.stats.unroutable += 1,
        }
    }
}

fn dur(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

fn ms_ceil(d: Duration) -> u64 {
    d.as_micros().div_ceil(1000) as u64
}

/// The runtime's TFTP counters (runtime::tftp::Stats), kept here.
#[derive(Debug, Default)]
struct TftpStats {
    requests: u64,
    started: u64,
    completed: u64,
    /// Completed with the last ACK lost: the client closed its port after the last block.
    unconfirmed: u64,
    failed: u64,
    refused: u64,
    dropped: u64,
    busy: u64,
    limited: u64,
    expired: u64,
    octets: u64,
    /// Blocks the senders sent again.
    retransmitted: u64,
    /// OACKs and DATA the senders sent, first copies and retransmissions.
    datagrams: u64,
    /// What a transfer needs at the least: its OACK and each block once.
    needed: u64,
}

#[derive(Debug, Default)]
struct HttpStats {
    requests: u64,
    by_status: BTreeMap<u16, u64>,
    chained: u64,
    uploads: u64,
    replaced: u64,
}

/// One read transfer: the runtime's `transfer` thread, as state.
struct Transfer {
    peer: SocketAddrV4,
    sender: Sender,
    negotiation: Negotiation,
    file: File,
    size: u64,
    /// The time a timer event is queued for.
    timer: Option<u64>,
}

/// The master: the DHCP core, the TFTP decisions and senders, the HTTP decisions, and the node
/// records the runtime keeps from their events.
struct Master {
    dhcp: Server,
    /// Every Bind record: address to client key, and the addresses bound to a second key.
    binds: HashMap<Ipv4Addr, String>,
    double_binds: Vec<String>,
    fleet: Fleet,
    key: TokenKey,
    boot: BootConfig,
    root: Root,
    limits: Limits,
    slots: Slots,
    transfers: HashMap<u16, Transfer>,
    next_tid: u16,
    tftp: TftpStats,
    http: HttpStats,
    inventories: HashMap<Mac, Vec<u8>>,
    dhcp_malformed: u64,
}

impl Master {
    fn new(root: Root) -> Master {
        let cfg = Config {
            mode: Mode::Full,
            server: SERVER,
            subnet: Subnet::around(SERVER, 20).expect("a /20"),
            relays: Vec::new(),
            domain: Some("rack".into()),
            lease_secs: 3600,
            offer_secs: 30,
            decline_secs: 600,
            boot: Boot {
                bios: "undionly.kpxe".into(),
                efi_x64: "ipxe.efi".into(),
                efi_ia32: None,
                efi_arm64: None,
                script_url: format!("http://{SERVER}/boot.ipxe"),
                http_base: format!("http://{SERVER}/"),
            },
        };
        Master {
            dhcp: Server::new(cfg, Leases::default()),
            binds: HashMap::new(),
            double_binds: Vec::new(),
            fleet: Fleet::new(),
            key: TokenKey::new([0x5a; 32]),
            boot: BootConfig::default(),
            root,
            // What master.rs configures: 256 transfers, windows up to 64, Ethernet blocks.
            limits: Limits { max_blksize: 1468, max_windowsize: 64 },
            slots: Slots::new(256, PER_SOURCE_LIMIT),
            transfers: HashMap::new(),
            next_tid: 1024,
            tftp: TftpStats::default(),
            http: HttpStats::default(),
            inventories: HashMap::new(),
            dhcp_malformed: 0,
        }
    }

    /// A datagram to port 67, handled as runtime::dhcp does (records, replies, events).
    fn dhcp(&mut self, net: &mut Net, d: &Datagram) {
        let Ok(packet) = DhcpPacket::new_checked(d.bytes.as_slice()) else {
            self.dhcp_malformed += 1;
            return;
        };
        let mut scratch = vec![0u8; d.bytes.len()];
        let Ok(req) = Repr::parse(&packet, &mut scratch) else {
            self.dhcp_malformed += 1;
            return;
        };
        let mut out = [0u8; 1500];
        let o = self.dhcp.handle(&req, dhcpv4::SERVER_PORT, d.from, EPOCH_SECS + net.now / 1000, &mut out);
        if let Some(Record::Bind { key, ip, .. }) = &o.record
            && let Some(old) = self.binds.insert(*ip, key.clone())
            && old != *key
        {
            self.double_binds.push(format!("{ip} bound to {old}, then to {key}"));
        }
        for e in &o.events {
            let Some(mac) = e.mac else { continue };
            let boot =
                e.vendor_class.as_deref().is_some_and(|v| v.starts_with("PXEClient") || v.starts_with("HTTPClient"))
                    || e.ipxe;
            let fields = serde_json::to_value(e).expect("an event as JSON");
            self.fleet.event(mac, &format!("dhcp-{}", e.kind), net.now, fields, boot);
        }
        if let Some((len, dest)) = o.reply {
            let port = match dest {
                Dest::Broadcast { port } => port,
                Dest::Hardware { .. } => dhcpv4::CLIENT_PORT,
                Dest::Unicast(a) => a.port(),
            };
            // Broadcast or to the hardware address: every client sees a broadcast and keeps the
            // replies to its own chaddr; the switch does that filtering here.
            match req.mac().and_then(|m| net.by_mac.get(&m).copied()) {
                Some(c) => net.send(Datagram {
                    from: SocketAddrV4::new(SERVER, dhcpv4::SERVER_PORT),
                    to: To::Client(c, port),
                    bytes: out[..len].to_vec(),
                }),
                None => net.stats.unroutable += 1,
            }
        }
    }

    /// A datagram to port 69, as runtime::tftp's `serve` loop takes it.
    fn tftp_request(&mut self, net: &mut Net, d: &Datagram) {
        self.tftp.requests += 1;
        if self.slots.is_running(d.from) {
            self.tftp.dropped += 1;
            return;
        }
        match decide(&d.bytes, &self.root, &self.limits) {
            Decision::Read { file, size, negotiation, .. } => {
                match self.slots.admit(d.from) {
                    Admission::Start => {}
                    Admission::Running => {
                        self.tftp.dropped += 1;
                        return;
                    }
                    Admission::Full => {
                        self.tftp.busy += 1;
                        return;
                    }
                    Admission::SourceFull => {
                        self.tftp.limited += 1;
                        return;
                    }
                }
                self.tftp.started += 1;
                let mut tid = self.next_tid;
                while self.transfers.contains_key(&tid) {
                    tid = tid.checked_add(1).unwrap_or(1024);
                }
                self.next_tid = tid.checked_add(1).unwrap_or(1024);
                let sender = Sender::new(&negotiation, size, with_deadlines(SenderConfig::default()), dur(net.now));
                self.tftp.needed += u64::from(negotiation.has_oack()) + sender.total_blocks();
                self.transfers.insert(tid, Transfer { peer: d.from, sender, negotiation, file, size, timer: None });
                self.drive(net, tid);
            }
            Decision::Refuse { code, message } => {
                self.tftp.refused += 1;
                let err = error_packet(code, &message);
                net.send_to_ip(SocketAddrV4::new(SERVER, 69), d.from, err);
            }
            Decision::Drop { .. } => self.tftp.dropped += 1,
        }
    }

    /// A datagram to a transfer's port: its socket is connected to the client, so the kernel
    /// drops any other sender's.
    fn tftp_datagram(&mut self, net: &mut Net, tid: u16, d: &Datagram) {
        let Some(t) = self.transfers.get_mut(&tid) else { return };
        if d.from != t.peer {
            return;
        }
        let now = dur(net.now);
        match Tftp::parse(&d.bytes) {
            Ok(Tftp::Ack { block }) => t.sender.handle_ack(block, now),
            Ok(Tftp::Error { code, .. }) => t.sender.handle_error(code),
            _ => {}
        }
        // As the runtime: whatever woke the transfer, its timer and limits are checked.
        t.sender.handle_timeout(now);
        self.drive(net, tid);
    }

    fn tftp_timer(&mut self, net: &mut Net, tid: u16, at: u64) {
        let Some(t) = self.transfers.get_mut(&tid) else { return };
        if t.timer != Some(at) {
            return;
        }
        t.timer = None;
        t.sender.handle_timeout(dur(net.now));
        self.drive(net, tid);
    }

    /// The client's port is closed: after the last block, delivered but unconfirmed; before,
    /// the client is gone.
    fn tftp_unreachable(&mut self, tid: u16, peer: SocketAddrV4) {
        let Some(t) = self.transfers.get(&tid) else { return };
        if t.peer != peer {
            return;
        }
        if t.sender.all_sent() {
            self.tftp.completed += 1;
            self.tftp.unconfirmed += 1;
            self.tftp.octets += t.size;
        } else {
            self.tftp.failed += 1;
        }
        self.end(tid);
    }

    fn end(&mut self, tid: u16) {
        if let Some(t) = self.transfers.remove(&tid) {
            self.tftp.retransmitted += t.sender.retransmitted();
            self.slots.release(t.peer);
        }
    }

    /// Sends what the sender says, then ends the transfer or arms its timer.
    fn drive(&mut self, net: &mut Net, tid: u16) {
        let Some(t) = self.transfers.get_mut(&tid) else { return };
        let now = dur(net.now);
        let from = SocketAddrV4::new(SERVER, tid);
        while let Some(x) = t.sender.poll_transmit(now) {
            let bytes = match x {
                Transmit::Oack => {
                    let mut opts = [0u8; 128];
                    let options = t.negotiation.write_oack_options(&mut opts).expect("OACK options fit");
                    emit(Tftp::Oack { options })
                }
                Transmit::Data { block, offset, len } => {
                    let mut b = data_header(block).to_vec();
                    b.resize(4 + len, 0);
                    t.file.read_exact_at(&mut b[4..], offset).expect("the boot file reads");
                    b
                }
            };
            self.tftp.datagrams += 1;
            net.send_to_ip(from, t.peer, bytes);
        }
        match t.sender.result() {
            Some(Ok(())) => {
                self.tftp.completed += 1;
                self.tftp.octets += t.size;
                self.end(tid);
            }
            Some(Err(e)) => {
                if !matches!(e, SenderError::Aborted { .. }) {
                    let err = error_packet(ErrorCode::NOT_DEFINED, &e.to_string());
                    net.send_to_ip(from, t.peer, err);
                }
                match e {
                    SenderError::Idle { .. } | SenderError::Overdue { .. } => self.tftp.expired += 1,
                    _ => self.tftp.failed += 1,
                }
                self.end(tid);
            }
            None => {
                if let Some(at) = t.sender.poll_timeout().map(ms_ceil)
                    && t.timer != Some(at)
                {
                    t.timer = Some(at);
                    net.at(at, Ev::TftpTimer(tid, at));
                }
            }
        }
    }

    /// One HTTP request, as runtime::http answers the two routes a booting node uses.
    fn http(&mut self, now: u64, peer: Ipv4Addr, bytes: &[u8]) -> (u16, String) {
        self.http.requests += 1;
        let (status, body) = self.answer(now, peer, bytes);
        *self.http.by_status.entry(status).or_default() += 1;
        (status, body)
    }

    fn answer(&mut self, now: u64, peer: Ipv4Addr, bytes: &[u8]) -> (u16, String) {
        let req = match parse_head(bytes) {
            Ok(Some(r)) => r,
            Ok(None) => return (400, "incomplete request head".into()),
            Err(rej) => return (rej.status, rej.reason),
        };
        let master = SERVER.to_string();
        match route(&req) {
            Err(rej) => (rej.status, rej.reason),
            Ok(Route::BootScript { mac }) => {
                let mac = mac.map_or_else(|| self.fleet.mac_of(peer).map(|m| (m, false)), |m| Some((m, true)));
                // A script names a MAC (and carries its token) only for that node's address.
                if let Some((m, true)) = mac
                    && self.fleet.mac_of(peer) != Some(m)
                {
                    return (403, format!("{peer} is not {m}'s address"));
                }
                match mac {
                    Some((m, _)) => (200, boot_script(&self.boot, &master, m, &self.key.mint(m))),
                    None => {
                        self.http.chained += 1;
                        (200, chain_script(&master))
                    }
                }
            }
            Ok(Route::Upload { mac }) => {
                match req.token.as_deref() {
                    None => return (401, "no token".into()),
                    Some(t) if !self.key.check(mac, t) => return (401, format!("the token is not {mac}'s")),
                    Some(_) => {}
                }
                let format = match upload_format(req.content_type.as_deref()) {
                    Ok(f) => f,
                    Err(rej) => return (rej.status, rej.reason),
                };
                let body = bytes.get(req.head_len..).unwrap_or_default();
                if req.content_length != Some(body.len() as u64) {
                    return (400, format!("Content-Length {:?} but {} octets", req.content_length, body.len()));
                }
                match decode_upload(format, body, mac) {
                    Ok(d) => {
                        self.http.uploads += 1;
                        if self.inventories.insert(mac, d.json).is_some() {
                            self.http.replaced += 1;
                        }
                        self.fleet.summarize(mac, d.summary);
                        self.fleet.event(mac, "inventory", now, serde_json::json!({ "bytes": body.len() }), true);
                        (201, format!("{{\"mac\":\"{mac}\"}}"))
                    }
                    Err(rej) => (rej.status, rej.reason),
                }
            }
            Ok(other) => (404, format!("not simulated: {other:?}")),
        }
    }
}

fn emit(p: Tftp<'_>) -> Vec<u8> {
    let mut b = vec![0u8; p.buffer_len()];
    let n = p.emit(&mut b).expect("a TFTP packet emits");
    b.truncate(n);
    b
}

fn error_packet(code: ErrorCode, message: &str) -> Vec<u8> {
    emit(Tftp::Error { code, message: message.as_bytes() })
}

/// What a client is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Powered off, or rebooting.
    Off,
    Discover,
    Request,
    Tftp,
    /// undionly.kpxe is starting iPXE.
    Loading,
    Script,
    Upload,
    Done,
    Failed,
}

#[derive(Debug, Default, Clone, Copy)]
struct Retries {
    /// DHCP messages sent again (DISCOVER or REQUEST on timeout), and NAKs that sent a client
    /// back to DISCOVER.
    dhcp: u64,
    naks: u64,
    /// RRQs and ACKs sent again on the client's timeout.
    tftp: u64,
    /// ACKs sent for a block already received (RFC 1350: a duplicate is acknowledged again).
    tftp_dup_acks: u64,
    /// HTTP exchanges tried again.
    http: u64,
    /// Reboots after the ROM gave up (TFTP timeouts or an ERROR).
    restarts: u64,
}

impl Retries {
    fn add(&mut self, o: &Retries) {
        self.dhcp += o.dhcp;
        self.naks += o.naks;
        self.tftp += o.tftp;
        self.tftp_dup_acks += o.tftp_dup_acks;
        self.http += o.http;
        self.restarts += o.restarts;
    }
}

/// One machine: its PXE ROM, then iPXE, then the agent's upload.
struct Client {
    idx: usize,
    mac: Mac,
    guid: [u8; 16],
    /// iPXE is running (else the ROM).
    ipxe: bool,
    phase: Phase,
    /// The generation of the armed timer.
    timer: u64,
    xid: u32,
    tries: u32,
    /// The offer taken: address and server identifier.
    offer: Option<(Ipv4Addr, Ipv4Addr)>,
    ip: Option<Ipv4Addr>,
    next_server: Ipv4Addr,
    /// Every address it was given, ROM's and iPXE's.
    addresses: Vec<Ipv4Addr>,
    // TFTP.
    port: u16,
    tid: Option<u16>,
    blksize: usize,
    tsize: Option<u64>,
    next_block: u16,
    file: Vec<u8>,
    last: Vec<u8>,
    // HTTP.
    http_tag: u64,
    path: String,
    upload: Option<Vec<u8>>,
    token: Option<String>,
    bootif: Option<Mac>,
    done_at: Option<u64>,
    retries: Retries,
    failure: Option<String>,
    /// Counted among the finished.
    counted: bool,
}

impl Client {
    fn new(idx: usize) -> Client {
        let n = idx as u32;
        let mac = Mac([0x52, 0x54, 0x00, (n >> 16) as u8, (n >> 8) as u8, n as u8]);
        let mut guid = [0u8; 16];
        guid[..4].copy_from_slice(&n.to_le_bytes());
        guid[8..14].copy_from_slice(&mac.0);
        Client {
            idx,
            mac,
            guid,
            ipxe: false,
            phase: Phase::Off,
            timer: 0,
            xid: 0,
            tries: 0,
            offer: None,
            ip: None,
            next_server: Ipv4Addr::UNSPECIFIED,
            addresses: Vec::new(),
            port: 0,
            tid: None,
            blksize: 512,
            tsize: None,
            next_block: 1,
            file: Vec::new(),
            last: Vec::new(),
            http_tag: 0,
            path: String::new(),
            upload: None,
            token: None,
            bootif: None,
            done_at: None,
            retries: Retries::default(),
            failure: None,
            counted: false,
        }
    }

    fn finished(&self) -> bool {
        matches!(self.phase, Phase::Done | Phase::Failed)
    }

    fn fail(&mut self, why: String) {
        if self.failure.is_none() {
            self.failure = Some(why);
        }
        self.phase = Phase::Failed;
        self.timer += 1;
    }

    fn arm(&mut self, net: &mut Net, ms: u64) {
        self.timer += 1;
        net.at(net.now + ms, Ev::ClientTimer(self.idx, self.timer));
    }

    fn cancel(&mut self) {
        self.timer += 1;
    }

    /// Power on (or reboot): the ROM starts DHCP.
    fn boot(&mut self, net: &mut Net) {
        self.ipxe = false;
        self.ip = None;
        self.start_dhcp(net);
    }

    /// The wait before DHCP try `tries`: the ROM's 4, 8, 16, 32, 64 s with ±1 s (RFC 2131,
    /// section 4.1), iPXE's 1, 2, 4, 8, 10 s.
    fn backoff(&self, net: &mut Net) -> u64 {
        let t = self.tries.min(6);
        if self.ipxe { (1000u64 << t).min(10_000) } else { (4000u64 << t).min(64_000) - 1000 + net.crng.below(2001) }
    }

    fn start_dhcp(&mut self, net: &mut Net) {
        self.xid = net.crng.next() as u32;
        self.tries = 0;
        self.offer = None;
        self.phase = Phase::Discover;
        self.send_dhcp(net, MessageType::Discover);
        let wait = self.backoff(net);
        self.arm(net, wait);
    }

    fn send_dhcp(&self, net: &mut Net, kind: MessageType) {
        let mut chaddr = [0u8; 16];
        chaddr[..6].copy_from_slice(&self.mac.0);
        let m = self.mac.0;
        let client_id = [1, m[0], m[1], m[2], m[3], m[4], m[5]];
        let arch = [0u8, 0];
        let mut r = Repr {
            op: dhcpv4::Op::Request,
            htype: dhcpv4::HardwareType::Ethernet,
            hlen: 6,
            hops: 0,
            xid: self.xid,
            secs: 0,
            flags: dhcpv4::Flags::BROADCAST,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            siaddr: Ipv4Addr::UNSPECIFIED,
            giaddr: Ipv4Addr::UNSPECIFIED,
            chaddr,
            sname: &[],
            file: &[],
            options: dhcpv4::OptionList::new(),
        };
        let mut opts = vec![DhcpOption::MessageType(kind)];
        if kind == MessageType::Request
            && let Some((ip, sid)) = self.offer
        {
            opts.push(DhcpOption::RequestedIp(ip));
            opts.push(DhcpOption::ServerId(sid));
        }
        opts.push(DhcpOption::MaxMessageSize(1472));
        if self.ipxe {
            // iPXE says who it is (user class, raw) and sends a client identifier.
            opts.push(DhcpOption::ClientId(&client_id));
            opts.push(DhcpOption::UserClass(b"iPXE"));
        }
        opts.extend([
            DhcpOption::ParameterRequestList(&[1, 2, 3, 4, 5, 6, 12, 13, 15, 17, 18, 43, 54, 60, 66, 67, 97, 128]),
            DhcpOption::VendorClass(ROM_VENDOR_CLASS),
            DhcpOption::ClientArch(ArchList::from_wire(&arch).expect("one architecture")),
            DhcpOption::ClientNdi(ClientNdi { kind: 1, major: 2, minor: 1 }),
            DhcpOption::ClientMachineId(ClientMachineId { guid: self.guid }),
        ]);
        for o in opts {
            r.push(o).expect("room for the options");
        }
        let mut out = vec![0u8; r.buffer_len()];
        let n = r.emit(&mut out).expect("a DHCP request emits");
        out.truncate(n);
        net.send(Datagram {
            from: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, dhcpv4::CLIENT_PORT),
            to: To::Server(dhcpv4::SERVER_PORT),
            bytes: out,
        });
    }

    /// The boot file a reply names: option 67, else the header's file field.
    fn boot_file(r: &Repr<'_>) -> String {
        let opt = r.options.iter().find_map(|o| match o {
            DhcpOption::BootfileName(f) => Some(*f),
            _ => None,
        });
        String::from_utf8_lossy(opt.unwrap_or(r.file)).into_owned()
    }

    fn on_dhcp(&mut self, net: &mut Net, bytes: &[u8]) {
        let Ok(p) = DhcpPacket::new_checked(bytes) else { return };
        let mut scratch = vec![0u8; bytes.len()];
        let Ok(r) = Repr::parse(&p, &mut scratch) else { return };
        if r.op != dhcpv4::Op::Reply || r.xid != self.xid || r.mac() != Some(self.mac.0) {
            return;
        }
        let want = if self.ipxe { format!("http://{SERVER}/boot.ipxe") } else { "undionly.kpxe".to_owned() };
        match (self.phase, r.message_type()) {
            (Phase::Discover, Some(MessageType::Offer)) => {
                let Some(sid) = r.server_id() else { return self.fail("an OFFER without a server id".into()) };
                let file = Self::boot_file(&r);
                if file != want || r.siaddr != SERVER {
                    return self.fail(format!(
                        "offered boot file {file:?} from {} (ipxe: {}), not {want:?} from {SERVER}",
                        r.siaddr, self.ipxe
                    ));
                }
                self.offer = Some((r.yiaddr, sid));
                self.phase = Phase::Request;
                self.tries = 0;
                self.send_dhcp(net, MessageType::Request);
                let wait = self.backoff(net);
                self.arm(net, wait);
            }
            (Phase::Request, Some(MessageType::Ack)) => {
                let Some((ip, _)) = self.offer else { return };
                let file = Self::boot_file(&r);
                if r.yiaddr != ip || file != want {
                    return self.fail(format!("ACK of {} with {file:?} after an offer of {ip}", r.yiaddr));
                }
                self.cancel();
                self.ip = Some(ip);
                self.next_server = r.siaddr;
                if !self.addresses.contains(&ip) {
                    self.addresses.push(ip);
                }
                net.by_ip.insert(ip, self.idx);
                if self.ipxe {
                    self.path = "/boot.ipxe".into();
                    self.phase = Phase::Script;
                    self.http_send(net);
                } else {
                    self.start_tftp(net);
                }
            }
            (Phase::Request, Some(MessageType::Nak)) => {
                // Start over (RFC 2131, section 3.1, step 5), after the first wait rather than
                // at once, as a ROM would.
                self.retries.naks += 1;
                self.xid = net.crng.next() as u32;
                self.tries = 0;
                self.offer = None;
                self.phase = Phase::Discover;
                let wait = self.backoff(net);
                self.arm(net, wait);
            }
            // Late and duplicated replies.
            _ => {}
        }
    }

    fn start_tftp(&mut self, net: &mut Net) {
        self.phase = Phase::Tftp;
        self.port = 1024 + net.crng.below(60_000) as u16;
        self.tid = None;
        self.blksize = 512;
        self.tsize = None;
        self.next_block = 1;
        self.file.clear();
        self.tries = 0;
        self.last = emit(Tftp::Rrq {
            filename: b"undionly.kpxe",
            mode: netboot_proto::tftp::Mode(b"octet"),
            options: netboot_proto::tftp::OptionList::from_wire(b"tsize\x000\x00blksize\x001432\x00").expect("options"),
        });
        self.send_last(net, 69);
        self.arm(net, TFTP_TIMEOUT_MS);
    }

    fn send_last(&self, net: &mut Net, port: u16) {
        let ip = self.ip.expect("an address before TFTP");
        net.send(Datagram { from: SocketAddrV4::new(ip, self.port), to: To::Server(port), bytes: self.last.clone() });
    }

    fn ack(&mut self, net: &mut Net, block: u16) {
        self.last = emit(Tftp::Ack { block });
        let tid = self.tid.expect("a transfer ID");
        self.send_last(net, tid);
    }

    /// A datagram to one of the client's UDP ports other than 68; false if the port is closed.
    fn on_udp(&mut self, net: &mut Net, from: SocketAddrV4, port: u16, bytes: &[u8], served: &[u8]) -> bool {
        if self.phase != Phase::Tftp || port != self.port {
            return false;
        }
        if *from.ip() != SERVER || self.tid.is_some_and(|t| t != from.port()) || from.port() == 69 {
            // Another transfer ID (RFC 1350 would answer ERROR 5), or an ERROR from port 69.
            if from.port() == 69 && matches!(Tftp::parse(bytes), Ok(Tftp::Error { .. })) {
                self.fail(format!("TFTP refused: {:?}", Tftp::parse(bytes)));
            }
            return true;
        }
        match Tftp::parse(bytes) {
            Ok(Tftp::Oack { options }) => {
                if self.next_block != 1 {
                    return true;
                }
                self.tid = Some(from.port());
                if let Some(b) = options.get("blksize").and_then(|o| o.number()) {
                    self.blksize = b as usize;
                }
                self.tsize = options.get("tsize").and_then(|o| o.number());
                if self.blksize != ROM_BLKSIZE {
                    self.fail(format!("blksize {} in the OACK, asked {ROM_BLKSIZE}", self.blksize));
                    return true;
                }
                self.ack(net, 0);
                self.tries = 0;
                self.arm(net, TFTP_TIMEOUT_MS);
            }
            Ok(Tftp::Data { block, data }) => {
                if self.tid.is_none() {
                    if block != 1 {
                        return true;
                    }
                    // No OACK: the options were not taken.
                    self.tid = Some(from.port());
                }
                if block == self.next_block {
                    self.file.extend_from_slice(data);
                    self.ack(net, block);
                    self.next_block = self.next_block.wrapping_add(1);
                    self.tries = 0;
                    if data.len() < self.blksize {
                        self.tftp_done(net, served);
                    } else {
                        self.arm(net, TFTP_TIMEOUT_MS);
                    }
                } else if block == self.next_block.wrapping_sub(1) {
                    self.retries.tftp_dup_acks += 1;
                    self.ack(net, block);
                }
            }
            Ok(Tftp::Error { code, message }) => {
                // The ROM's boot fails; the machine reboots and tries again.
                let _ = (code, message);
                self.reboot(net);
            }
            _ => {}
        }
        true
    }

    fn tftp_done(&mut self, net: &mut Net, served: &[u8]) {
        if self.file != served {
            return self.fail(format!("TFTP copy differs: {} octets, served {}", self.file.len(), served.len()));
        }
        if self.tsize != Some(served.len() as u64) {
            return self.fail(format!("tsize {:?}, file {}", self.tsize, served.len()));
        }
        // The port closes; undionly.kpxe starts iPXE.
        self.phase = Phase::Loading;
        self.arm(net, IPXE_START_MS);
    }

    fn reboot(&mut self, net: &mut Net) {
        self.retries.restarts += 1;
        self.phase = Phase::Off;
        self.arm(net, REBOOT_MS);
    }

    fn on_timer(&mut self, net: &mut Net, tag: u64) {
        if tag != self.timer {
            return;
        }
        match self.phase {
            Phase::Off => self.boot(net),
            Phase::Discover => {
                self.tries += 1;
                self.retries.dhcp += 1;
                self.send_dhcp(net, MessageType::Discover);
                let wait = self.backoff(net);
                self.arm(net, wait);
            }
            Phase::Request => {
                self.tries += 1;
                self.retries.dhcp += 1;
                if self.tries >= REQUEST_TRIES {
                    self.start_dhcp(net);
                } else {
                    self.send_dhcp(net, MessageType::Request);
                    let wait = self.backoff(net);
                    self.arm(net, wait);
                }
            }
            Phase::Tftp => {
                self.tries += 1;
                if self.tries > TFTP_RETRIES {
                    return self.reboot(net);
                }
                self.retries.tftp += 1;
                let to = self.tid.unwrap_or(69);
                self.send_last(net, to);
                self.arm(net, TFTP_TIMEOUT_MS);
            }
            Phase::Loading => {
                self.ipxe = true;
                self.start_dhcp(net);
            }
            Phase::Script | Phase::Upload => {
                self.retries.http += 1;
                self.http_send(net);
            }
            Phase::Done | Phase::Failed => {}
        }
    }

    fn http_request(&self) -> Vec<u8> {
        match (&self.upload, &self.token) {
            (Some(body), Some(token)) => {
                let mut b = format!(
                    "POST /api/v1/nodes/{}/inventory HTTP/1.1\r\nHost: {SERVER}\r\nUser-Agent: recon-agent\r\n\
                     Authorization: Bearer {token}\r\nContent-Type: application/postcard\r\n\
                     Content-Length: {}\r\n\r\n",
                    self.mac,
                    body.len()
                )
                .into_bytes();
                b.extend_from_slice(body);
                b
            }
            _ => format!(
                "GET {} HTTP/1.1\r\nConnection: keep-alive\r\nHost: {SERVER}\r\nUser-Agent: iPXE/1.21.1+\r\n\r\n",
                self.path
            )
            .into_bytes(),
        }
    }

    /// One HTTP exchange (a TCP connection): the request or the response may be lost whole.
    fn http_send(&mut self, net: &mut Net) {
        self.http_tag += 1;
        self.arm(net, HTTP_TIMEOUT_MS);
        let half = net.pct / 2;
        if net.rng.chance(half) {
            net.stats.http_lost_requests += 1;
            return;
        }
        let lose_reply = net.rng.chance(half);
        let bytes = self.http_request();
        let from = self.ip.expect("an address before HTTP");
        net.at(net.now + LATENCY_MS, Ev::HttpRequest { client: self.idx, from, bytes, lose_reply, tag: self.http_tag });
    }

    fn on_http(&mut self, net: &mut Net, status: u16, body: &str, tag: u64) {
        if tag != self.http_tag || !matches!(self.phase, Phase::Script | Phase::Upload) {
            return;
        }
        self.cancel();
        if self.phase == Phase::Upload {
            if status != 201 {
                return self.fail(format!("upload: {status} {body}"));
            }
            self.phase = Phase::Done;
            self.done_at = Some(net.now);
            return;
        }
        if status != 200 || !body.starts_with("#!ipxe\n") {
            return self.fail(format!("{}: {status} {body}", self.path));
        }
        let hexhyp = self.mac.to_string().replace(':', "-");
        let script = body.replace("${mac:hexhyp}", &hexhyp).replace("${next-server}", &self.next_server.to_string());
        if let Some(url) = script.lines().find_map(|l| l.strip_prefix("chain ")) {
            let Some(path) = url.strip_prefix(&format!("http://{SERVER}")) else {
                return self.fail(format!("chain to {url}"));
            };
            self.path = path.to_owned();
            return self.http_send(net);
        }
        let Some(kernel) = script.lines().find(|l| l.starts_with("kernel ")) else {
            return self.fail(format!("no kernel line in {script}"));
        };
        let arg = |name: &str| kernel.split(' ').find_map(|w| w.strip_prefix(name)).map(str::to_owned);
        let (Some(token), Some(bootif), Some(master), Some(pxeaddr)) =
            (arg("recon.token="), arg("BOOTIF=01-"), arg("recon.master="), arg("pxeaddr="))
        else {
            return self.fail(format!("the kernel line lacks token, BOOTIF, master or pxeaddr: {kernel}"));
        };
        let bootif = Mac::parse(&bootif);
        if bootif != Some(self.mac) || master != SERVER.to_string() || pxeaddr != SERVER.to_string() {
            return self.fail(format!("BOOTIF {bootif:?}, master {master}, pxeaddr {pxeaddr} for {}", self.mac));
        }
        // The agent's upload: the inventory it collects, encoded as `collect` does.
        let mut inv = Inventory { schema: SCHEMA, ..Inventory::default() };
        inv.run.agent_version = "storm-sim".into();
        inv.run.hostname = Some(format!("node-{}", self.idx));
        inv.run.boot_mac = bootif.map(|m| m.to_string());
        inv.run.cmdline = Some(kernel.to_owned());
        self.upload = Some(postcard::to_stdvec(&inv).expect("postcard"));
        self.token = Some(token);
        self.bootif = bootif;
        self.phase = Phase::Upload;
        self.http_send(net);
    }
}

/// What a run ended with.
struct Outcome {
    clients: Vec<Client>,
    master: Master,
    net: NetStats,
    /// Virtual ms until the last client finished.
    all_done_ms: Option<u64>,
    wall: Duration,
    pct: u32,
}

/// Runs `n` clients with `pct` % loss, duplication and delay, seeded.
fn run(n: usize, pct: u32, seed: u64) -> Outcome {
    let wall = Instant::now();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut fill = Rng::new(seed ^ 0xf11e);
    let served: Vec<u8> = (0..BOOT_FILE_LEN).map(|_| fill.next() as u8).collect();
    std::fs::write(dir.path().join("undionly.kpxe"), &served).expect("the boot file");
    let mut master = Master::new(Root::open(dir.path()).expect("the TFTP root"));
    let mut net = Net {
        now: 0,
        seq: 0,
        queue: BinaryHeap::new(),
        rng: Rng::new(seed),
        crng: Rng::new(seed.rotate_left(32) ^ 0xc11e),
        pct,
        stats: NetStats::default(),
        by_ip: HashMap::new(),
        by_mac: HashMap::new(),
    };
    let mut clients: Vec<Client> = (0..n).map(Client::new).collect();
    for c in &clients {
        net.by_mac.insert(c.mac.0, c.idx);
        let at = net.crng.below(POWER_ON_SPREAD_MS);
        net.at(at, Ev::Boot(c.idx));
    }
    let mut finished = 0;
    let mut events = 0usize;
    while finished < n {
        let Some(item) = net.queue.pop() else { break };
        // A broken core can keep clients busy for ever: a few hundred events per client is
        // many times what a boot takes, even at 10 % impairment.
        events += 1;
        if item.at > DEADLINE_MS || events > MAX_EVENTS_PER_CLIENT * n {
            break;
        }
        net.now = item.at;
        let touched = match item.ev {
            Ev::Boot(i) => {
                clients[i].boot(&mut net);
                Some(i)
            }
            Ev::ClientTimer(i, tag) => {
                clients[i].on_timer(&mut net, tag);
                Some(i)
            }
            Ev::TftpTimer(tid, at) => {
                master.tftp_timer(&mut net, tid, at);
                None
            }
            Ev::Unreachable { tid, peer } => {
                master.tftp_unreachable(tid, peer);
                None
            }
            Ev::HttpRequest { client, from, bytes, lose_reply, tag } => {
                let (status, body) = master.http(net.now, from, &bytes);
                if lose_reply {
                    net.stats.http_lost_responses += 1;
                } else {
                    net.at(net.now + LATENCY_MS, Ev::HttpResponse { client, status, body, tag });
                }
                None
            }
            Ev::HttpResponse { client, status, body, tag } => {
                clients[client].on_http(&mut net, status, &body, tag);
                Some(client)
            }
            Ev::Deliver(d) => match d.to {
                To::Server(dhcpv4::SERVER_PORT) => {
                    master.dhcp(&mut net, &d);
                    None
                }
                To::Server(69) => {
                    master.tftp_request(&mut net, &d);
                    None
                }
                To::Server(tid) => {
                    master.tftp_datagram(&mut net, tid, &d);
                    None
                }
                To::Client(i, dhcpv4::CLIENT_PORT) => {
                    clients[i].on_dhcp(&mut net, &d.bytes);
                    Some(i)
                }
                To::Client(i, port) => {
                    if !clients[i].on_udp(&mut net, d.from, port, &d.bytes, &served) && *d.from.ip() == SERVER {
                        // A closed port: the client's kernel (here, its ROM) answers ICMP port
                        // unreachable, which the transfer's connected socket reports.
                        net.stats.unreachable += 1;
                        let peer = SocketAddrV4::new(clients[i].ip.unwrap_or(Ipv4Addr::UNSPECIFIED), port);
                        net.at(net.now + LATENCY_MS, Ev::Unreachable { tid: d.from.port(), peer });
                    }
                    Some(i)
                }
            },
        };
        // A client's phase only becomes final in its own handlers: count it once there.
        if let Some(i) = touched
            && clients[i].finished()
            && !std::mem::replace(&mut clients[i].counted, true)
        {
            finished += 1;
        }
    }
    let all_done_ms =
        clients.iter().map(|c| c.done_at).collect::<Option<Vec<_>>>().map(|v| v.into_iter().max().unwrap_or(0));
    Outcome { clients, master, net: net.stats, all_done_ms, wall: wall.elapsed(), pct }
}

impl Outcome {
    fn retries(&self) -> Retries {
        let mut r = Retries::default();
        for c in &self.clients {
            r.add(&c.retries);
        }
        r
    }

    /// Everything counted, for comparing two runs.
    fn fingerprint(&self) -> String {
        let addresses: Vec<&Vec<Ipv4Addr>> = self.clients.iter().map(|c| &c.addresses).collect();
        format!(
            "{:?} {:?} {:?} {:?} {:?} {:?} {addresses:?}",
            self.all_done_ms,
            self.retries(),
            self.net,
            self.master.dhcp.stats,
            self.master.tftp,
            self.master.http
        )
    }
}

fn clients_from_env() -> usize {
    std::env::var("STORM_CLIENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000)
}

/// Prints the figures and checks every property; panics with the first that does not hold.
fn check(label: &str, o: &Outcome, n: usize) {
    let retries = o.retries();
    let phases = o.clients.iter().fold(BTreeMap::<String, usize>::new(), |mut m, c| {
        *m.entry(format!("{:?}", c.phase)).or_default() += 1;
        m
    });
    eprintln!("storm_sim [{label}]: {n} clients, wall {:.2} s", o.wall.as_secs_f64());
    eprintln!(
        "  virtual time until all finished: {}",
        o.all_done_ms.map_or("never".to_owned(), |ms| format!("{:.3} s", ms as f64 / 1000.0))
    );
    eprintln!("  phases: {phases:?}");
    eprintln!("  client retries: {retries:?}");
    eprintln!("  network: {:?}", o.net);
    eprintln!("  dhcp: {:?} (malformed {})", o.master.dhcp.stats, o.master.dhcp_malformed);
    eprintln!("  tftp: {:?}, transfers still open {}", o.master.tftp, o.master.transfers.len());
    eprintln!("  http: {:?}", o.master.http);

    let failures: Vec<String> = o
        .clients
        .iter()
        .filter(|c| c.phase != Phase::Done)
        .take(5)
        .map(|c| format!("client {} ({}) in {:?}: {:?}", c.idx, c.mac, c.phase, c.failure))
        .collect();
    assert!(failures.is_empty(), "[{label}] clients that did not finish:\n{}", failures.join("\n"));
    assert!(o.all_done_ms.is_some());

    // No address given to two clients, and none bound to two client keys by the server.
    let mut owner: HashMap<Ipv4Addr, usize> = HashMap::new();
    for c in &o.clients {
        for &ip in &c.addresses {
            if let Some(other) = owner.insert(ip, c.idx) {
                panic!("[{label}] {ip} was given to client {other} and to client {}", c.idx);
            }
        }
    }
    assert!(o.master.double_binds.is_empty(), "[{label}] {:?}", o.master.double_binds);
    o.master.dhcp.leases().check().unwrap_or_else(|e| panic!("[{label}] the lease table: {e}"));

    // Every client its own token, the one the master's key mints for its MAC.
    let mut tokens = HashSet::new();
    for c in &o.clients {
        let token = c.token.as_deref().expect("a token");
        assert_eq!(token, o.master.key.mint(c.mac), "[{label}] client {}'s token", c.idx);
        assert!(tokens.insert(token.to_owned()), "[{label}] client {} has another's token", c.idx);
        assert_eq!(c.bootif, Some(c.mac));
        let stored = o.master.inventories.get(&c.mac).unwrap_or_else(|| panic!("[{label}] no inventory for {}", c.mac));
        let inv: Inventory = serde_json::from_slice(stored).expect("a stored inventory");
        assert_eq!(inv.run.boot_mac, Some(c.mac.to_string()));
        assert_eq!(inv.run.hostname, Some(format!("node-{}", c.idx)));
    }
    assert_eq!(tokens.len(), n);
    assert_eq!(o.master.inventories.len(), n);
    // Nine silent round trips in a row (the ROM's timeouts) or fifteen silent seconds (the
    // sender's idle limit) do not happen at 10 % per datagram: no transfer may end that way.
    let t = &o.master.tftp;
    assert_eq!((t.failed, t.expired, retries.restarts), (0, 0, 0), "[{label}] failed or expired TFTP transfers");
    // The senders' retransmissions stay in proportion to what the network did: with `pct` %
    // of DATA and of ACKs lost, about 2 `pct` % of the blocks go again; duplicated ACKs must
    // not multiply them (RFC 1123, section 4.2.3.1).
    assert!(
        t.datagrams * 100 <= t.needed * (100 + 4 * u64::from(o.pct)),
        "[{label}] the TFTP senders sent {} datagrams for {} needed",
        t.datagrams,
        t.needed
    );
}

#[test]
fn a_thousand_pxe_clients_boot_on_a_clean_network() {
    let n = clients_from_env();
    let o = run(n, 0, 17);
    check("0 %", &o, n);
    // Nothing lost: nobody had to ask twice, and the server sent every block once.
    let r = o.retries();
    assert_eq!((r.dhcp, r.naks, r.tftp, r.tftp_dup_acks, r.http, r.restarts), (0, 0, 0, 0, 0, 0), "{r:?}");
    let t = &o.master.tftp;
    assert_eq!((t.retransmitted, t.unconfirmed, t.dropped), (0, 0, 0), "{t:?}");
    assert_eq!((t.completed, t.datagrams), (n as u64, t.needed));
    assert_eq!(o.master.dhcp.stats.requests, 4 * n as u64, "DISCOVER and REQUEST, from the ROM and iPXE");
}

#[test]
fn a_thousand_pxe_clients_boot_through_loss_duplication_and_reordering() {
    let n = clients_from_env();
    let o = run(n, 10, 1017);
    check("10 % loss + dup + reorder", &o, n);
    // The impairment did happen, and was recovered from by retries on both sides.
    assert!(o.net.lost > 0 && o.net.duplicated > 0 && o.net.delayed > 0, "{:?}", o.net);
    let r = o.retries();
    assert!(r.dhcp > 0 && r.tftp > 0 && r.http > 0, "{r:?}");
    assert!(o.master.tftp.retransmitted > 0);
}

#[test]
fn the_same_seed_gives_the_same_storm() {
    let a = run(200, 10, 4242);
    let b = run(200, 10, 4242);
    check("200 clients, 10 %, first run", &a, 200);
    assert_eq!(a.fingerprint(), b.fingerprint());
    assert_ne!(a.fingerprint(), run(200, 10, 4243).fingerprint(), "another seed, another storm");
}
