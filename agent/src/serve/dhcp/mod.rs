//! The DHCP server's decisions, without sockets or clocks: a request and the time go in; a reply
//! (octets and destination), the journal record that must be durable before it is sent, and an
//! event come out.
//!
//! - Server behaviour: RFC 2131 section 4.3 (DISCOVER 4.3.1, REQUEST 4.3.2 in its SELECTING,
//!   INIT-REBOOT, RENEWING and REBINDING forms, DECLINE 4.3.3, RELEASE 4.3.4, INFORM 4.3.5) and
//!   the reply destination rules of section 4.1.
//! - Relay agents: giaddr (RFC 2131 section 4.1) and option 82 copied into replies (RFC 3046
//!   section 2.2).
//! - PXE: the boot file by client architecture (option 93, RFC 4578 section 2.1), the client
//!   machine identifier echoed (option 97, RFC 4578 section 2.3), and in proxy mode the PXE
//!   2.1 specification's ProxyDHCP offer (option 60 `PXEClient`, option 43 with discovery control,
//!   a boot server and a menu; section 2.2.5) followed by the boot server exchange on port 4011.
//!   UEFI HTTP boot (architecture 16) gets a URL and option 60 `HTTPClient` (UEFI 2.10,
//!   section 24.7.2). iPXE, recognised by option 77 or 175, gets the script URL, which ends the
//!   chain-loading loop.
//!
//! Reclaim: a REQUEST for a free address is granted without a record of the client (see
//! `request`), so a host inventing client identifiers can bind the whole pool with DISCOVERs
//! or bare REQUESTs, then quarantine it with DECLINEs (section 4.3.3), for the lease time
//! (dhcpstarv, yersinia). Kea and dnsmasq leave this to switch DHCP snooping; dnsmasq pings an
//! address before offering it. Here, when a DISCOVER finds no address to offer (section 4.3.1;
//! offers reserve nothing, section 3.1, so the pool is full of bindings and quarantines), the
//! server names a few addresses whose holders may be gone (bound, renewed or declined at least
//! the minimum age ago, oldest first, [`RECLAIM_BATCH`] at a time, one round at once) in
//! [`Outcome::probe`]; the runtime ARP-probes them (RFC 5227 section 2.1.1: sender address
//! 0.0.0.0, so no cache learns a binding from the probe) without holding up other requests, and
//! hands back which ones a host answered for ([`Server::reclaim_result`]). An address nobody
//! answers for becomes free through a [`Record::Reclaim`], journaled like the others; one that
//! answers is kept (for a declined address: the decline was true). The PXE client that found
//! the pool full sends its DISCOVER again by itself (section 4.1: ROMs retry after 4, 8, 16 s)
//! and gets one.
//!
//! Modes: `Full` hands out addresses; `Proxy` answers only PXE clients, with boot options and
//! no address, for a segment that already has a DHCP server; `Off` answers nobody.

pub mod leases;

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};

use netboot_proto::Mac;
use netboot_proto::dhcpv4::ClientMachineId;
use netboot_proto::dhcpv4::pxe::{BootClass, ClientArch, SuboptionWriter, vendor};
use netboot_proto::dhcpv4::{CLIENT_PORT, DhcpOption, Ipv4List, MessageType, PXE_PORT, Repr, SERVER_PORT, max_len_for};

use leases::{ClientKey, Leases, Record, State};

/// Addresses ARP-probed in one reclaim round at most: a few, so a round ends in about the
/// probe's wait, and an exhausted pool is won back a round at a time, not probed at once.
pub const RECLAIM_BATCH: usize = 8;

/// A round the runtime has not answered within this many seconds is given up (the probe takes
/// about one): a lost answer must not stop reclaiming for good.
const RECLAIM_ROUND_SECS: u64 = 30;

/// The minimum age by default: an address bound, renewed or declined less than a minute ago is
/// not probed (its holder has just shown up).
pub const RECLAIM_AFTER_SECS: u32 = 60;

/// How the server takes part on its segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Addresses and boot options.
    Full,
    /// Boot options only, to PXE clients (another server gives addresses).
    Proxy,
    /// Nothing.
    Off,
}

/// A subnet with its pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subnet {
    /// Network address.
    pub network: Ipv4Addr,
    /// Prefix length.
    pub prefix: u8,
    /// First and last address handed out.
    pub pool: (Ipv4Addr, Ipv4Addr),
    /// Default gateway for clients, if any.
    pub router: Option<Ipv4Addr>,
}

impl Subnet {
    /// The netmask.
    pub fn mask(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0))
    }

    /// Whether `ip` is on the subnet.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & u32::from(self.mask()) == u32::from(self.network)
    }

    fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) | !u32::from(self.mask()))
    }

    /// The subnet of `addr/prefix`, with a pool of everything but the first address, the
    /// broadcast address and `addr` itself (the server) when it sits at either end.
    pub fn around(addr: Ipv4Addr, prefix: u8) -> Option<Subnet> {
        if !(8..=30).contains(&prefix) {
            return None;
        }
        let mask = u32::MAX << (32 - u32::from(prefix));
        let net = u32::from(addr) & mask;
        let bcast = net | !mask;
        let (mut lo, mut hi) = (net + 1, bcast - 1);
        if u32::from(addr) == lo {
            lo += 1;
        } else if u32::from(addr) == hi {
            hi -= 1;
        }
        Some(Subnet {
            network: Ipv4Addr::from(net),
            prefix,
            pool: (Ipv4Addr::from(lo), Ipv4Addr::from(hi)),
            router: None,
        })
    }
}

/// Boot files by client type (paths under the TFTP root, or URLs).
#[derive(Debug, Clone)]
pub struct Boot {
    /// Legacy BIOS PXE ROMs (architecture 0).
    pub bios: String,
    /// x86-64 UEFI PXE (7, 9).
    pub efi_x64: String,
    /// IA-32 UEFI (6), when there is a binary for it.
    pub efi_ia32: Option<String>,
    /// ARM64 UEFI (11), when there is a binary for it.
    pub efi_arm64: Option<String>,
    /// The iPXE script URL (`http://<server>/boot.ipxe`).
    pub script_url: String,
    /// Base URL for UEFI HTTP boot (`http://<server>/`).
    pub http_base: String,
}

/// Server configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Participation.
    pub mode: Mode,
    /// The server's address on the segment: server identifier, next server, DNS.
    pub server: Ipv4Addr,
    /// The directly attached subnet.
    pub subnet: Subnet,
    /// Subnets behind relay agents, chosen by giaddr.
    pub relays: Vec<Subnet>,
    /// DNS domain given to clients.
    pub domain: Option<String>,
    /// Lease time, seconds.
    pub lease_secs: u32,
    /// How long an offer holds its address, seconds.
    pub offer_secs: u32,
    /// How long a declined address stays out of use, seconds.
    pub decline_secs: u32,
    /// Boot files.
    pub boot: Boot,
}

/// Where a reply goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    /// 255.255.255.255 on the interface, to `port`.
    Broadcast {
        /// 68, or 4011's client port.
        port: u16,
    },
    /// An address that can already receive unicast (ciaddr, a relay, a port 4011 client).
    Unicast(SocketAddrV4),
    /// A client without an address yet: unicast to `ip` at hardware address `mac` (RFC 2131
    /// section 4.1); a runtime that cannot add the neighbour entry broadcasts instead.
    Hardware {
        /// The address given.
        ip: Ipv4Addr,
        /// The client's hardware address.
        mac: [u8; 6],
    },
}

/// What happened, for the per-MAC timeline, with what the DHCP layer tells of the client: its
/// architecture, machine UUID, vendor and user classes, and the relay it came through.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Event {
    /// The client's MAC (an Ethernet client; other hardware types have none).
    pub mac: Option<Mac>,
    /// `discover`, `offer`, `request`, `ack`, `nak`, `release`, `decline`, `inform`,
    /// `proxy-offer`, `pxe-ack`.
    pub kind: &'static str,
    /// The address involved.
    pub ip: Option<Ipv4Addr>,
    /// Client architecture (option 93, else from a PXE vendor class).
    pub arch: Option<ClientArch>,
    /// Option 60.
    pub vendor_class: Option<String>,
    /// Option 77, each RFC 3004 instance (or iPXE's bare value) as text, joined by `,`.
    pub user_class: Option<String>,
    /// Option 97 as a UUID, in SMBIOS byte order.
    pub uuid: Option<String>,
    /// The client is iPXE.
    pub ipxe: bool,
    /// The boot file or URL given.
    pub boot: Option<String>,
    /// The relay agent (giaddr) a relayed request came through.
    pub relay: Option<Ipv4Addr>,
    /// Option 82's circuit id (RFC 3046, section 3.1), hex.
    pub circuit_id: Option<String>,
    /// Option 82's remote id (RFC 3046, section 3.2), hex.
    pub remote_id: Option<String>,
    /// Why, for a NAK or a silent drop.
    pub note: Option<&'static str>,
}

/// The result of one request.
#[derive(Debug)]
pub struct Outcome {
    /// A reply of `len` octets in the caller's buffer, and where to send it.
    pub reply: Option<(usize, Dest)>,
    /// What must be on disk before the reply leaves.
    pub record: Option<Record>,
    /// For the timeline.
    pub events: Vec<Event>,
    /// A reclaim round: addresses to ARP-probe on the server's interface, the answer going to
    /// [`Server::reclaim_result`] (or [`Server::reclaim_abandoned`]). Empty mostly.
    pub probe: Vec<Ipv4Addr>,
}

/// Why a request got nothing back, counted.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams decided.
    pub requests: u64,
    /// Replies sent.
    pub replies: u64,
    /// NAKs among them.
    pub naks: u64,
    /// Not a DHCP request (a reply, BOOTP without option 53, ...).
    pub not_for_us: u64,
    /// Another server's business (SELECTING another server, INFORM in proxy mode...).
    pub ignored: u64,
    /// No address left.
    pub pool_exhausted: u64,
    /// From a relay with no configured subnet.
    pub unknown_relay: u64,
    /// The reply did not fit the client's maximum message size.
    pub emit_failed: u64,
    /// Addresses ARP-probed to reclaim them from a full pool.
    pub reclaim_probed: u64,
    /// Probed addresses nobody answered for, made free.
    pub reclaimed: u64,
    /// Probed addresses a host answered for, kept.
    pub reclaim_kept: u64,
}

/// The reclaim rounds' state (none of it journaled: a restart starts with no round).
#[derive(Debug)]
struct Reclaim {
    /// The minimum age, seconds.
    after: u64,
    /// The round in flight: each address with the holder and end it had when probed, so an
    /// entry that changed meanwhile (renewed, released, rebound) is left alone.
    round: Vec<(Ipv4Addr, ClientKey, u64)>,
    /// When the round in flight started.
    started: u64,
    /// Addresses a host answered for, and when: not probed again before the minimum age.
    /// At most one per address of the pool.
    kept: HashMap<Ipv4Addr, u64>,
    /// A search that found nothing is not repeated before this (a flood of DISCOVERs on a
    /// full pool searches once a second, not once a request).
    idle_until: u64,
}

/// The server.
pub struct Server {
    cfg: Config,
    leases: Leases,
    /// The hardware address of the server's own interface, when the runtime knows it.
    own_mac: Option<[u8; 6]>,
    /// What it decided, counted.
    pub stats: Stats,
    reclaim: Reclaim,
}

/// What a request is, read once.
struct Client<'r> {
    key: ClientKey,
    mac: Option<[u8; 6]>,
    arch: Option<ClientArch>,
    class: Option<BootClass>,
    ipxe: bool,
    uuid: Option<[u8; 16]>,
    vendor_class: Option<&'r [u8]>,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Server {
    /// A server with this configuration and the leases replayed from the journal.
    pub fn new(cfg: Config, leases: Leases) -> Server {
        let reclaim = Reclaim {
            after: u64::from(RECLAIM_AFTER_SECS),
            round: Vec::new(),
            started: 0,
            kept: HashMap::new(),
            idle_until: 0,
        };
        Server { cfg, leases, own_mac: None, stats: Stats::default(), reclaim }
    }

    /// Sets the minimum age, seconds since an address was bound, renewed or declined, before a
    /// full pool's reclaim round may probe it (default [`RECLAIM_AFTER_SECS`]).
    pub fn set_reclaim_after(&mut self, secs: u32) {
        self.reclaim.after = u64::from(secs);
    }

    /// Starts a reclaim round for the directly attached pool, unless one is in flight or a
    /// search found nothing this second: the addresses to probe, oldest first.
    fn start_reclaim(&mut self, now: u64) -> Vec<Ipv4Addr> {
        let r = &mut self.reclaim;
        if (!r.round.is_empty() && now < r.started + RECLAIM_ROUND_SECS) || now < r.idle_until {
            return Vec::new();
        }
        r.round.clear();
        let after = r.after;
        // A binding that ends by `bound_by` was made (or renewed) `after` seconds ago or more;
        // likewise a quarantine ending by `declined_by`.
        let bound_by = (now + u64::from(self.cfg.lease_secs)).saturating_sub(after);
        let declined_by = (now + u64::from(self.cfg.decline_secs)).saturating_sub(after);
        let kept = &r.kept;
        let server = self.cfg.server;
        let ips = self.leases.reclaimable(self.cfg.subnet.pool, bound_by, declined_by, RECLAIM_BATCH, |ip| {
            ip == server || kept.get(&ip).is_some_and(|&at| now < at + after)
        });
        if ips.is_empty() {
            r.idle_until = now + 1;
            return ips;
        }
        r.round = ips.iter().filter_map(|&ip| self.leases.get(ip).map(|l| (ip, l.key.clone(), l.expires))).collect();
        r.started = now;
        self.stats.reclaim_probed += ips.len() as u64;
        ips
    }

    /// The answer to the round in [`Outcome::probe`]: `probed` are the addresses the runtime
    /// probed, `answered` those a host answered ARP for. Every other probed address of the
    /// round, still held as it was when probed, is freed; the records must be journaled like a
    /// reply's. An address of the round that was not probed (a late answer to a round given up,
    /// while a newer one is out) is never freed: the round ends deciding nothing for it.
    pub fn reclaim_result(&mut self, probed: &[Ipv4Addr], answered: &[Ipv4Addr], now: u64) -> Vec<Record> {
        let mut records = Vec::new();
        for (ip, key, expires) in std::mem::take(&mut self.reclaim.round) {
            if !probed.contains(&ip) {
                continue;
            }
            if answered.contains(&ip) {
                // A host has it: a real one (for a declined address, the decline was true).
                self.stats.reclaim_kept += 1;
                self.reclaim.kept.insert(ip, now);
                continue;
            }
            let unchanged = self.leases.get(ip).is_some_and(|l| {
                l.key == key && l.expires == expires && matches!(l.state, State::Bound | State::Declined)
            });
            if unchanged {
                let rec = Record::Reclaim { ip };
                self.leases.apply(&rec);
                self.stats.reclaimed += 1;
                records.push(rec);
            }
        }
        records
    }

    /// The runtime could not probe (no packet socket): the round ends deciding nothing, and
    /// the next full-pool DISCOVER may start another.
    pub fn reclaim_abandoned(&mut self) {
        self.reclaim.round.clear();
    }

    /// Tells the server its own interface's hardware address: requests that carry it (its own
    /// traffic looped back, or a forgery) get no answer, so nothing is ever sent to itself.
    pub fn set_own_mac(&mut self, mac: [u8; 6]) {
        self.own_mac = Some(mac);
    }

    /// Whether a reply to this request could reach the server itself: from, through (giaddr)
    /// or for (ciaddr) its own address, or from its own hardware address.
    fn is_from_self(&self, req: &Repr<'_>, from: SocketAddrV4) -> bool {
        let me = self.cfg.server;
        *from.ip() == me
            || req.giaddr == me
            || req.ciaddr == me
            || (self.own_mac.is_some() && req.mac() == self.own_mac)
    }

    /// The lease table.
    pub fn leases(&self) -> &Leases {
        &self.leases
    }

    fn client<'r>(req: &'r Repr<'r>) -> Client<'r> {
        // RFC 2131 section 4.2: option 61 if present, else chaddr with its type.
        let key = match req.client_id() {
            Some(id) => format!("id:{}", hex(id)),
            None => format!("hw:{:02x}:{}", u8::from(req.htype), hex(req.hw_addr())),
        };
        let vc = req.vendor_class();
        Client {
            key,
            mac: req.mac(),
            arch: req.client_arch().and_then(|l| l.first()).or_else(|| vc.and_then(|v| v.arch())),
            class: vc.map(|v| v.class),
            ipxe: req.is_ipxe(),
            uuid: req.client_machine_id().map(|m| m.guid),
            vendor_class: vc.map(|v| v.raw),
        }
    }

    fn event(&self, c: &Client<'_>, req: &Repr<'_>, kind: &'static str) -> Event {
        let info = req.relay_agent_info();
        let user_class = req.user_class().map(|u| {
            let parts: Vec<String> = if u.is_rfc3004() {
                u.instances().map(|i| String::from_utf8_lossy(i).into_owned()).collect()
            } else {
                vec![String::from_utf8_lossy(u.raw()).into_owned()]
            };
            parts.join(",")
        });
        Event {
            mac: c.mac.map(Mac),
            kind,
            ip: None,
            arch: c.arch,
            vendor_class: c.vendor_class.map(|v| String::from_utf8_lossy(v).into_owned()),
            user_class,
            uuid: c.uuid.map(|guid| ClientMachineId { guid }.uuid_le().to_string()),
            ipxe: c.ipxe,
            boot: None,
            relay: (!req.giaddr.is_unspecified()).then_some(req.giaddr),
            circuit_id: info.and_then(|i| i.circuit_id()).map(hex),
            remote_id: info.and_then(|i| i.remote_id()).map(hex),
            note: None,
        }
    }

    /// The boot file for a client, if it is one that boots from us.
    fn boot_file(&self, c: &Client<'_>) -> Option<(String, bool)> {
        let b = &self.cfg.boot;
        if c.ipxe {
            return Some((b.script_url.clone(), false));
        }
        let arch = match c.class? {
            BootClass::PxeClient | BootClass::HttpClient => c.arch.unwrap_or(ClientArch::X86_BIOS),
            BootClass::Other => return None,
        };
        match arch.0 {
            0 => Some((b.bios.clone(), false)),
            7 | 9 => Some((b.efi_x64.clone(), false)),
            6 => b.efi_ia32.clone().map(|f| (f, false)),
            11 => b.efi_arm64.clone().map(|f| (f, false)),
            16 => Some((format!("{}{}", b.http_base, b.efi_x64), true)),
            19 => b.efi_arm64.as_ref().map(|f| (format!("{}{f}", b.http_base), true)),
            _ => None,
        }
    }

    /// Handles one datagram that arrived on `port` (67 or 4011) from `from`, at `now` (Unix
    /// seconds). The reply, if any, is written to `out`.
    pub fn handle(&mut self, req: &Repr<'_>, port: u16, from: SocketAddrV4, now: u64, out: &mut [u8]) -> Outcome {
        self.stats.requests += 1;
        let mut outcome = Outcome { reply: None, record: None, events: Vec::new(), probe: Vec::new() };
        let Some(kind) = req.message_type().filter(|_| req.op == netboot_proto::dhcpv4::Op::Request) else {
            self.stats.not_for_us += 1;
            return outcome;
        };
        if self.cfg.mode == Mode::Off || self.is_from_self(req, from) {
            self.stats.ignored += 1;
            return outcome;
        }
        // Offers that got no REQUEST within the offer time, and leases and quarantines that ran
        // out, end here: the cost is paid once per entry, not per request.
        self.leases.expire(now);
        let c = Self::client(req);
        if port == PXE_PORT {
            self.pxe_boot_server(req, &c, kind, from, out, &mut outcome);
            return outcome;
        }
        let mut ev = self.event(&c, req, kind_name(kind));
        if self.cfg.mode == Mode::Proxy {
            if kind == MessageType::Discover && c.class == Some(BootClass::PxeClient) {
                outcome.events.push(ev);
                self.proxy_offer(req, &c, out, &mut outcome);
            } else {
                self.stats.ignored += 1;
            }
            return outcome;
        }

        // Full mode. The subnet: ours for direct clients and for a relay on our own segment
        // (perfdhcp, and relays that serve the master's subnet, set giaddr there), else the
        // relay's by giaddr.
        let subnet = if req.giaddr.is_unspecified() || self.cfg.subnet.contains(req.giaddr) {
            self.cfg.subnet.clone()
        } else {
            match self.cfg.relays.iter().find(|s| s.contains(req.giaddr)) {
                Some(s) => s.clone(),
                None => {
                    self.stats.unknown_relay += 1;
                    ev.note = Some("relay with no configured subnet");
                    outcome.events.push(ev);
                    return outcome;
                }
            }
        };
        match kind {
            MessageType::Discover => {
                // Section 4.3.1: the client's current or previous address, the one it asks for,
                // else a free one. A client that DISCOVERs again gets its outstanding offer again
                // (one offer per client), so repeating costs no address.
                let exclude = [self.cfg.server];
                let Some(ip) = self.leases.choose(&c.key, req.requested_ip(), subnet.pool, &exclude, now) else {
                    self.stats.pool_exhausted += 1;
                    ev.note = Some("no free address");
                    outcome.events.push(ev);
                    // Only the directly attached pool: ARP reaches only this segment, and a
                    // relay's subnet is off-link (an unanswered probe there proves nothing).
                    if subnet.pool == self.cfg.subnet.pool {
                        outcome.probe = self.start_reclaim(now);
                    }
                    return outcome;
                };
                // Held for the offer time only (RFC 2131 sections 3.1 and 4.4.1: a client that
                // gets no ACK starts over); a REQUEST after that is still granted while the
                // address is free (see `request`).
                self.leases.offer(ip, &c.key, c.mac, now + u64::from(self.cfg.offer_secs));
                outcome.events.push(ev);
                let data = self.reply_data(req, &c, &subnet, true);
                let mut reply = Repr::reply_to(req, MessageType::Offer);
                reply.yiaddr = ip;
                data.apply(&mut reply, req);
                let mut e = self.event(&c, req, "offer");
                e.ip = Some(ip);
                e.boot = data.boot.as_ref().map(|b| b.0.clone());
                outcome.events.push(e);
                let dest = destination(req, &reply, MessageType::Offer);
                self.send(&reply, req, dest, out, &mut outcome);
            }
            MessageType::Request => {
                outcome.events.push(ev);
                self.request(req, &c, &subnet, now, out, &mut outcome);
            }
            MessageType::Decline => {
                outcome.events.push(ev);
                if req.server_id() != Some(self.cfg.server) {
                    self.stats.ignored += 1;
                    return outcome;
                }
                if let Some(ip) = req.requested_ip().filter(|&ip| self.leases.get(ip).is_some_and(|l| l.key == c.key)) {
                    let rec =
                        Record::Decline { key: c.key.clone(), ip, expires: now + u64::from(self.cfg.decline_secs) };
                    self.leases.apply(&rec);
                    outcome.record = Some(rec);
                }
            }
            MessageType::Release => {
                outcome.events.push(ev);
                let ip = req.ciaddr;
                if req.server_id().is_some_and(|s| s != self.cfg.server) {
                    self.stats.ignored += 1;
                    return outcome;
                }
                if self.leases.get(ip).is_some_and(|l| l.key == c.key && l.state == State::Bound) {
                    let rec = Record::Release { key: c.key.clone(), ip };
                    self.leases.apply(&rec);
                    outcome.record = Some(rec);
                }
            }
            MessageType::Inform => {
                outcome.events.push(ev);
                // Section 4.3.5: configuration only; no lease time, no yiaddr; to ciaddr.
                let mut data = self.reply_data(req, &c, &subnet, false);
                data.host = None;
                data.boot = None;
                let mut reply = Repr::reply_to(req, MessageType::Ack);
                reply.ciaddr = req.ciaddr;
                data.apply(&mut reply, req);
                let dest = destination(req, &reply, MessageType::Ack);
                self.send(&reply, req, dest, out, &mut outcome);
            }
            _ => self.stats.not_for_us += 1,
        }
        outcome
    }

    /// REQUEST, section 4.3.2. This master is authoritative on its segment: a request for an
    /// address it can give is granted even if it has no record of the client (a restart with a
    /// lost journal, a client moved from a dead master), and one it cannot give is NAKed.
    fn request(
        &mut self,
        req: &Repr<'_>,
        c: &Client<'_>,
        subnet: &Subnet,
        now: u64,
        out: &mut [u8],
        outcome: &mut Outcome,
    ) {
        let selecting = req.server_id();
        if let Some(sid) = selecting
            && sid != self.cfg.server
        {
            // The client chose another server's offer: ours is free again.
            self.leases.withdraw_offer(&c.key);
            self.stats.ignored += 1;
            return;
        }
        let wanted = match (selecting, req.requested_ip(), req.ciaddr.is_unspecified()) {
            (Some(_), Some(ip), _) => ip,
            (None, Some(ip), true) => ip,
            (_, None, false) => req.ciaddr,
            (Some(_), None, true) | (None, None, true) => {
                self.stats.ignored += 1;
                return;
            }
            (None, Some(ip), false) => ip,
        };
        let ok = subnet.contains(wanted)
            && u32::from(wanted) >= u32::from(subnet.pool.0)
            && u32::from(wanted) <= u32::from(subnet.pool.1)
            && wanted != self.cfg.server
            && self.leases.available(wanted, &c.key, now);
        if !ok {
            // A REQUEST in RENEWING state (unicast, ciaddr set) for an address we do not hold
            // for this client, or any request off our subnet or taken by another: NAK.
            let mut nak = Repr::reply_to(req, MessageType::Nak);
            let _ = nak.push(DhcpOption::ServerId(self.cfg.server));
            let mut e = self.event(c, req, "nak");
            e.ip = Some(wanted);
            e.note =
                Some(if !subnet.contains(wanted) { "address not on this subnet" } else { "address not available" });
            outcome.events.push(e);
            self.stats.naks += 1;
            let dest = destination(req, &nak, MessageType::Nak);
            self.send(&nak, req, dest, out, outcome);
            return;
        }
        let data = self.reply_data(req, c, subnet, true);
        let host = data.host.clone().or_else(|| Self::host_name(req, c));
        let rec = Record::Bind {
            key: c.key.clone(),
            mac: c.mac.map(|m| Mac(m).to_string()),
            ip: wanted,
            expires: now + u64::from(self.cfg.lease_secs),
            host: host.clone(),
        };
        self.leases.apply(&rec);
        outcome.record = Some(rec);
        let mut ack = Repr::reply_to(req, MessageType::Ack);
        ack.yiaddr = wanted;
        ack.ciaddr = req.ciaddr;
        data.apply(&mut ack, req);
        let mut e = self.event(c, req, "ack");
        e.ip = Some(wanted);
        e.boot = data.boot.as_ref().map(|b| b.0.clone());
        outcome.events.push(e);
        let dest = destination(req, &ack, MessageType::Ack);
        self.send(&ack, req, dest, out, outcome);
    }

    /// The name a client gets: its own (option 12), else `node-<mac>`.
    fn host_name(req: &Repr<'_>, c: &Client<'_>) -> Option<String> {
        if let Some(h) = req.host_name() {
            let clean: String =
                String::from_utf8_lossy(h).chars().filter(|ch| ch.is_ascii_alphanumeric() || *ch == '-').collect();
            if !clean.is_empty() {
                return Some(clean.to_ascii_lowercase());
            }
        }
        c.mac.map(|m| format!("node-{}", hex(&m)))
    }

    /// What an OFFER or ACK carries beyond the header, owned, so the reply can borrow it.
    fn reply_data(&self, req: &Repr<'_>, c: &Client<'_>, subnet: &Subnet, lease: bool) -> ReplyData {
        let boot = self.boot_file(c);
        ReplyData {
            server: self.cfg.server,
            mask: subnet.mask(),
            broadcast: subnet.broadcast(),
            router: subnet.router.map(|r| [r.octets()]),
            dns: [self.cfg.server.octets()],
            lease: lease.then_some(self.cfg.lease_secs),
            domain: self.cfg.domain.clone(),
            host: if req.host_name().is_none() { Self::host_name(req, c) } else { None },
            relay: req.relay_agent_info().map(|i| i.raw().to_vec()),
            boot,
        }
    }

    /// The ProxyDHCP offer's option 43 (PXE 2.1, section 2.2.5), as pixiecore sends it:
    /// discovery control 3 (no broadcast or multicast discovery: use the listed boot server),
    /// one boot server (type 0x8000 at our address), a one-item menu and a zero-second prompt.
    /// The client then asks us on port 4011.
    fn proxy_vendor_options(&self) -> Option<Vec<u8>> {
        let mut buf = [0u8; 64];
        let mut w = SuboptionWriter::new(&mut buf);
        let s = self.cfg.server.octets();
        w.push(vendor::DISCOVERY_CONTROL, &[0x03]).ok()?;
        w.push(vendor::BOOT_SERVERS, &[0x80, 0x00, 1, s[0], s[1], s[2], s[3]]).ok()?;
        w.push(vendor::BOOT_MENU, b"\x80\x00\x05recon").ok()?;
        w.push(vendor::MENU_PROMPT, b"\x00recon").ok()?;
        Some(w.finish().ok()?.to_vec())
    }

    /// The ProxyDHCP offer. Firmware PXE clients get the boot server and menu of
    /// [`Self::proxy_vendor_options`] and ask again on 4011. iPXE gets its script URL in the
    /// offer itself, with siaddr and no menu: iPXE registers a proxy offer that has next-server
    /// and filename as it is (src/net/udp/dhcp.c, dhcp_has_pxeopts), whereas one with a menu
    /// sends it into PXE menu boot, which Debian's iPXE 1.0.0+git-20190125 ends with "No more
    /// network devices".
    fn proxy_offer(&mut self, req: &Repr<'_>, c: &Client<'_>, out: &mut [u8], outcome: &mut Outcome) {
        let Some((file, _)) = self.boot_file(c) else {
            self.stats.ignored += 1;
            return;
        };
        let opts = if c.ipxe {
            None
        } else {
            let Some(o) = self.proxy_vendor_options() else { return };
            Some(o)
        };
        let mut reply = Repr::reply_to(req, MessageType::Offer);
        let _ = reply.push(DhcpOption::ServerId(self.cfg.server));
        let _ = reply.push(DhcpOption::VendorClass(b"PXEClient"));
        if let Some(id) = req.client_machine_id() {
            let _ = reply.push(DhcpOption::ClientMachineId(id));
        }
        match &opts {
            Some(o) => {
                let _ = reply.push(DhcpOption::VendorSpecific(o));
            }
            None => {
                reply.siaddr = self.cfg.server;
                let _ = reply.push(DhcpOption::BootfileName(file.as_bytes()));
            }
        }
        let mut e = self.event(c, req, "proxy-offer");
        e.boot = Some(match opts {
            Some(_) => format!("boot server {}:{PXE_PORT}", self.cfg.server),
            None => file.clone(),
        });
        outcome.events.push(e);
        let dest = destination(req, &reply, MessageType::Offer);
        self.send(&reply, req, dest, out, outcome);
    }

    /// The boot server exchange on port 4011 (PXE 2.1, section 2.2.6): a REQUEST answered with
    /// an ACK naming the boot file, unicast back to the client, which has an address by now.
    fn pxe_boot_server(
        &mut self,
        req: &Repr<'_>,
        c: &Client<'_>,
        kind: MessageType,
        from: SocketAddrV4,
        out: &mut [u8],
        outcome: &mut Outcome,
    ) {
        if kind != MessageType::Request && kind != MessageType::Inform {
            self.stats.ignored += 1;
            return;
        }
        let Some((file, _)) = self.boot_file(c) else {
            self.stats.ignored += 1;
            return;
        };
        outcome.events.push(self.event(c, req, "pxe-request"));
        // Boot item 0x8000 layer 0: the item the client picked from our menu.
        let item = [vendor::BOOT_ITEM, 4, 0x80, 0x00, 0x00, 0x00, 0xff];
        let mut ack = Repr::reply_to(req, MessageType::Ack);
        ack.ciaddr = req.ciaddr;
        ack.siaddr = self.cfg.server;
        if file.len() <= 128 {
            ack.file = file.as_bytes();
        }
        let _ = ack.push(DhcpOption::ServerId(self.cfg.server));
        let _ = ack.push(DhcpOption::VendorClass(b"PXEClient"));
        let _ = ack.push(DhcpOption::BootfileName(file.as_bytes()));
        if let Some(id) = req.client_machine_id() {
            let _ = ack.push(DhcpOption::ClientMachineId(id));
        }
        let _ = ack.push(DhcpOption::VendorSpecific(&item));
        let mut e = self.event(c, req, "pxe-ack");
        e.boot = Some(file.clone());
        outcome.events.push(e);
        self.send(&ack, req, Dest::Unicast(from), out, outcome);
    }

    fn send(&mut self, reply: &Repr<'_>, req: &Repr<'_>, dest: Dest, out: &mut [u8], outcome: &mut Outcome) {
        let max = max_len_for(req.max_message_size()).min(out.len());
        match reply.emit_within(max, out) {
            Ok(len) => {
                self.stats.replies += 1;
                outcome.reply = Some((len, dest));
            }
            Err(_) => self.stats.emit_failed += 1,
        }
    }
}

/// The owned values an OFFER or ACK borrows.
struct ReplyData {
    server: Ipv4Addr,
    mask: Ipv4Addr,
    broadcast: Ipv4Addr,
    router: Option<[[u8; 4]; 1]>,
    dns: [[u8; 4]; 1],
    lease: Option<u32>,
    domain: Option<String>,
    host: Option<String>,
    relay: Option<Vec<u8>>,
    boot: Option<(String, bool)>,
}

impl ReplyData {
    /// Adds the options to `r`: server id, mask, broadcast, router, DNS, lease times, domain,
    /// host name, option 82 echoed, and the boot file as dnsmasq's dhcp-boot gives it (next
    /// server and file in the header, option 67 for clients that read only options). No option
    /// 43 in a plain offer: a PXE ROM that sees option 60 PXEClient there waits for a boot
    /// server (PXE-E55).
    fn apply<'s>(&'s self, r: &mut Repr<'s>, req: &Repr<'s>) {
        let _ = r.push(DhcpOption::ServerId(self.server));
        if let Some(t) = self.lease {
            let _ = r.push(DhcpOption::LeaseTime(t));
            let _ = r.push(DhcpOption::RenewalTime(t / 2));
            let _ = r.push(DhcpOption::RebindingTime(t / 8 * 7));
        }
        let _ = r.push(DhcpOption::SubnetMask(self.mask));
        let _ = r.push(DhcpOption::BroadcastAddress(self.broadcast));
        if let Some(router) = &self.router {
            let _ = r.push(DhcpOption::Router(Ipv4List::new(router)));
        }
        let _ = r.push(DhcpOption::DomainNameServer(Ipv4List::new(&self.dns)));
        if let Some(d) = &self.domain {
            let _ = r.push(DhcpOption::DomainName(d.as_bytes()));
        }
        if let Some(h) = &self.host {
            let _ = r.push(DhcpOption::HostName(h.as_bytes()));
        }
        if let Some((file, http)) = &self.boot {
            r.siaddr = self.server;
            if file.len() <= 128 {
                r.file = file.as_bytes();
            }
            let _ = r.push(DhcpOption::BootfileName(file.as_bytes()));
            if *http {
                let _ = r.push(DhcpOption::VendorClass(b"HTTPClient"));
            }
            if let Some(id) = req.client_machine_id() {
                let _ = r.push(DhcpOption::ClientMachineId(id));
            }
        }
        // RFC 3046 section 2.2: option 82 goes back last, as received.
        if let Some(relay) = &self.relay {
            let _ = r.push(DhcpOption::RelayAgentInfo(relay));
        }
    }
}

/// RFC 2131 section 4.1: to the relay if there is one; NAKs broadcast; to ciaddr when the
/// client has one; broadcast when the client asks; else unicast to the new address.
fn destination(req: &Repr<'_>, reply: &Repr<'_>, kind: MessageType) -> Dest {
    if !req.giaddr.is_unspecified() {
        return Dest::Unicast(SocketAddrV4::new(req.giaddr, SERVER_PORT));
    }
    if kind == MessageType::Nak {
        return Dest::Broadcast { port: CLIENT_PORT };
    }
    if !req.ciaddr.is_unspecified() {
        return Dest::Unicast(SocketAddrV4::new(req.ciaddr, CLIENT_PORT));
    }
    match (req.flags.broadcast(), req.mac()) {
        (false, Some(mac)) if !reply.yiaddr.is_unspecified() => Dest::Hardware { ip: reply.yiaddr, mac },
        _ => Dest::Broadcast { port: CLIENT_PORT },
    }
}

fn kind_name(k: MessageType) -> &'static str {
    match k {
        MessageType::Discover => "discover",
        MessageType::Request => "request",
        MessageType::Decline => "decline",
        MessageType::Release => "release",
        MessageType::Inform => "inform",
        _ => "other",
    }
}

#[cfg(test)]
mod tests;
