//! Arbitrary sequences of datagrams to the master's DHCP server core (`agent::serve::dhcp::Server`,
//! the handler with its lease table, not only the codec), in Full, Proxy or Off mode, with the
//! clock moving forward. Checked after every datagram:
//!
//! - no reply and no record for the server's own traffic, and no reply sent to its own address
//!   or hardware address;
//! - Off mode answers nothing; Proxy mode and the boot server on 4011 never carry an address
//!   (yiaddr) and never journal;
//! - every address offered or acknowledged is in a pool, never the server's, never one bound to
//!   another client or in quarantine (a model built from the journal records);
//! - an ACK with an address comes with its Bind record, and no two clients are ever bound to one
//!   address at once;
//! - the lease table's indexes agree with its entries, and the offers stay within the cap.
//!
//! Input: one mode octet (Full, Proxy, Off by value % 3), then steps of 8 octets
//! `[kind, client, requested, ciaddr, server id, vendor, seconds, extra]` (see `step`); a raw
//! step carries `ciaddr << 8 | extra` octets of datagram after it. The seeds in
//! fuzz/seeds/dhcp_server/ are written by this Python (run in fuzz/):
//!
//! ```text
//! import os
//! def st(kind, client=1, req=0, ci=0, sid=0, vendor=0, dt=0, extra=0):
//!     return bytes([kind, client, req, ci, sid, vendor, dt, extra])
//! D, R, DEC, REL, INF = 0, 1, 2, 3, 4
//! seeds = {
//!   "dora": b"\0" + st(D, 1, vendor=1) + st(R, 1, req=255, sid=1) + st(D, 1, vendor=3)
//!           + st(REL, 1, ci=255, sid=1, dt=5) + st(D, 2, req=20, vendor=2) + st(R, 2, req=255, ci=0),
//!   "decline": b"\0" + st(D, 2) + st(R, 2, req=255, sid=1) + st(DEC, 2, req=255, sid=1)
//!              + st(D, 3, req=255) + st(D, 2, dt=61) + st(INF, 4, ci=77),
//!   "flood": b"\0" + b"".join(st(D, c, vendor=c % 4) for c in range(16)) + st(D, 5, dt=31)
//!            + b"".join(st(R, c, req=255, sid=1) for c in range(16)),
//!   "relay": b"\0" + st(D | 0x40, 6) + st(R | 0x40, 6, req=255, sid=1) + st(D | 0x80, 7)
//!            + st(D, 8, extra=1) + st(D, 255),
//!   "proxy": b"\1" + st(D, 9, vendor=1) + st(R | 0x08, 9, ci=50, vendor=1) + st(D, 10, vendor=3)
//!            + st(D, 11) + st(R, 9, req=30, sid=1),
//!   "off": b"\2" + st(D, 1, vendor=1) + st(R, 1, req=12, sid=1),
//! }
//! raw = open("seeds/dhcpv4/bios-ipxe-1.bin", "rb").read()
//! seeds["raw"] = b"\0" + st(6, ci=len(raw) >> 8, extra=len(raw) & 255) + raw + st(R, 1, req=255, sid=1)
//! os.makedirs("seeds/dhcp_server", exist_ok=True)
//! for name, data in seeds.items():
//!     open(f"seeds/dhcp_server/{name}", "wb").write(data)
//! ```
#![no_main]

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};

use agent::serve::dhcp::leases::{Leases, Record};
use agent::serve::dhcp::{Boot, Config, Dest, Mode, Server, Subnet};
use libfuzzer_sys::fuzz_target;
use netboot_proto::dhcpv4::{self, DhcpOption, MessageType, Packet, Repr};

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 213, 9, 1);
const OWN_MAC: [u8; 6] = [0x52, 0x54, 0, 0, 0, 0xfe];
const RELAY: Ipv4Addr = Ipv4Addr::new(192, 168, 40, 1);
/// A small cap, so eviction happens in short inputs.
const CAP: usize = 8;

fn config(mode: Mode) -> Config {
    Config {
        mode,
        server: SERVER,
        // A pool of 31 addresses that 16 clients and the cap can exhaust.
        subnet: Subnet {
            network: Ipv4Addr::new(10, 213, 9, 0),
            prefix: 24,
            pool: (Ipv4Addr::new(10, 213, 9, 10), Ipv4Addr::new(10, 213, 9, 40)),
            router: Some(SERVER),
        },
        relays: vec![Subnet {
            network: Ipv4Addr::new(192, 168, 40, 0),
            prefix: 24,
            pool: (Ipv4Addr::new(192, 168, 40, 2), Ipv4Addr::new(192, 168, 40, 12)),
            router: Some(RELAY),
        }],
        domain: Some("rack".into()),
        lease_secs: 120,
        offer_secs: 30,
        decline_secs: 60,
        boot: Boot {
            bios: "undionly.kpxe".into(),
            efi_x64: "ipxe.efi".into(),
            efi_ia32: None,
            efi_arm64: Some("ipxe-arm64.efi".into()),
            script_url: format!("http://{SERVER}/boot.ipxe"),
            http_base: format!("http://{SERVER}/"),
        },
    }
}

fn in_pool(cfg: &Config, ip: Ipv4Addr) -> bool {
    std::iter::once(&cfg.subnet).chain(&cfg.relays).any(|s| ip >= s.pool.0 && ip <= s.pool.1)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The client's key as the core makes it (RFC 2131 section 4.2).
fn key(req: &Repr<'_>) -> String {
    match req.client_id() {
        Some(id) => format!("id:{}", hex(id)),
        None => format!("hw:{:02x}:{}", u8::from(req.htype), hex(req.hw_addr())),
    }
}

/// What the journal says: who holds which address until when, and which are in quarantine.
#[derive(Default)]
struct Model {
    bound: HashMap<Ipv4Addr, (String, u64)>,
    quarantine: HashMap<Ipv4Addr, u64>,
}

impl Model {
    /// Whether `key` may be given `ip` at `now`.
    fn free_for(&self, ip: Ipv4Addr, key: &str, now: u64) -> bool {
        self.bound.get(&ip).is_none_or(|(k, until)| k == key || *until <= now)
            && self.quarantine.get(&ip).is_none_or(|&until| until <= now)
    }

    fn apply(&mut self, r: &Record, now: u64) {
        match r {
            Record::Bind { key, ip, expires, .. } => {
                assert!(
                    self.free_for(*ip, key, now),
                    "{ip} bound to {key} while another holds it: {:?}",
                    self.bound.get(ip)
                );
                // A client moving to an address lets go of the one it had.
                self.bound.retain(|_, (k, _)| k != key);
                self.bound.insert(*ip, (key.clone(), *expires));
            }
            Record::Release { key, ip } => {
                if self.bound.get(ip).is_some_and(|(k, _)| k == key) {
                    self.bound.remove(ip);
                }
            }
            Record::Decline { ip, expires, .. } => {
                self.bound.remove(ip);
                self.quarantine.insert(*ip, *expires);
            }
            // A reclaim round's verdict (the runtime's ARP probe found nobody): free again.
            Record::Reclaim { ip } => {
                self.bound.remove(ip);
                self.quarantine.remove(ip);
            }
        }
    }
}

const VENDORS: [&[u8]; 5] = [
    b"PXEClient:Arch:00000:UNDI:002001",
    b"PXEClient:Arch:00007:UNDI:003016",
    b"PXEClient:Arch:00000:UNDI:002001",
    b"HTTPClient:Arch:00016:UNDI:003001",
    b"PXEClient:Arch:00011:UNDI:003000",
];

fn addr(b: u8, last: Option<Ipv4Addr>) -> Ipv4Addr {
    match b {
        0 => Ipv4Addr::UNSPECIFIED,
        255 => last.unwrap_or(Ipv4Addr::UNSPECIFIED),
        254 => SERVER,
        b if b < 0x80 => Ipv4Addr::new(10, 213, 9, b),
        b => Ipv4Addr::new(192, 168, 40, b & 0x7f),
    }
}

/// One datagram to the server and every check on what came out.
struct Harness {
    server: Server,
    cfg: Config,
    model: Model,
    now: u64,
    /// The last address each client was offered or given, for its next REQUEST.
    last: HashMap<u8, Ipv4Addr>,
}

impl Harness {
    fn feed(&mut self, req: &Repr<'_>, port: u16, from: SocketAddrV4, client: Option<u8>) {
        let mut out = [0u8; 1500];
        let o = self.server.handle(req, port, from, self.now, &mut out);
        let mode = self.cfg.mode;
        let own = req.mac() == Some(OWN_MAC) || *from.ip() == SERVER || req.giaddr == SERVER || req.ciaddr == SERVER;
        if mode == Mode::Off || own {
            assert!(o.reply.is_none() && o.record.is_none(), "answered in Off mode or to itself");
        }
        if mode != Mode::Full || port != dhcpv4::SERVER_PORT {
            assert!(o.record.is_none(), "journaled outside Full mode's port 67");
        }
        if let Some(r) = &o.record {
            self.model.apply(r, self.now);
        }
        let Some((len, dest)) = o.reply else { return };
        match dest {
            Dest::Unicast(a) => assert_ne!(*a.ip(), SERVER, "a reply to the server's own address"),
            Dest::Hardware { ip, mac } => {
                assert_ne!(ip, SERVER, "a reply to the server's own address");
                assert_ne!(mac, OWN_MAC, "a reply to the server's own hardware address");
            }
            Dest::Broadcast { .. } => {}
        }
        let bytes = out.get(..len).expect("the reply fits its buffer");
        let packet = Packet::new_checked(bytes).expect("the reply is a DHCP packet");
        let mut scratch = vec![0u8; len];
        let reply = Repr::parse(&packet, &mut scratch).expect("the reply parses");
        assert_eq!(reply.op, dhcpv4::Op::Reply);
        let kind = reply.message_type().expect("the reply has a message type");
        let yiaddr = reply.yiaddr;
        if mode != Mode::Full || port != dhcpv4::SERVER_PORT {
            assert!(yiaddr.is_unspecified(), "{kind:?} with yiaddr {yiaddr} in {mode:?} mode, port {port}");
        }
        if !yiaddr.is_unspecified() {
            assert!(matches!(kind, MessageType::Offer | MessageType::Ack), "{kind:?} with an address");
            assert!(in_pool(&self.cfg, yiaddr) && yiaddr != SERVER, "{yiaddr} is not in a pool");
            assert!(
                self.model.free_for(yiaddr, &key(req), self.now),
                "{kind:?} of {yiaddr}, held by {:?} or in quarantine",
                self.model.bound.get(&yiaddr)
            );
            if kind == MessageType::Ack {
                assert!(
                    matches!(&o.record, Some(Record::Bind { ip, .. }) if *ip == yiaddr),
                    "an ACK without its Bind record"
                );
            }
            if let Some(c) = client {
                self.last.insert(c, yiaddr);
            }
        }
    }

    fn check(&self) {
        let l: &Leases = self.server.leases();
        if let Err(e) = l.check() {
            panic!("lease table out of step: {e}");
        }
        assert!(l.offers() <= CAP);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&m, mut rest)) = data.split_first() else { return };
    let mode = [Mode::Full, Mode::Proxy, Mode::Off][usize::from(m % 3)];
    let cfg = config(mode);
    let mut server = Server::new(cfg.clone(), Leases::with_offer_cap(CAP));
    server.set_own_mac(OWN_MAC);
    let mut h = Harness { server, cfg, model: Model::default(), now: 1_000_000, last: HashMap::new() };
    while let Some((step, tail)) = rest.split_first_chunk::<8>() {
        rest = tail;
        let [kind, client, requested, ci, sid, vendor, dt, extra] = *step;
        h.now += if dt == 255 { 1000 } else { u64::from(dt) };
        let port = if kind & 0x08 != 0 { dhcpv4::PXE_PORT } else { dhcpv4::SERVER_PORT };
        if kind & 7 == 6 {
            // A raw datagram: whatever the codec accepts goes to the server.
            let n = usize::from(u16::from_be_bytes([ci, extra])).min(rest.len());
            let (raw, tail) = rest.split_at(n);
            rest = tail;
            let Ok(packet) = Packet::new_checked(raw) else { continue };
            let mut scratch = vec![0u8; raw.len()];
            let Ok(req) = Repr::parse(&packet, &mut scratch) else { continue };
            let from = SocketAddrV4::new(if extra & 1 == 1 { SERVER } else { req.ciaddr }, 68);
            h.feed(&req, port, from, None);
            h.check();
            continue;
        }
        let mac = if client == 255 { OWN_MAC } else { [0x02, 0, 0, 0, 0, client & 0x0f] };
        let idx = if client == 255 { 255 } else { client & 0x0f };
        let id = [1, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]];
        let last = h.last.get(&idx).copied();
        let msg = match kind & 7 {
            0 => MessageType::Discover,
            1 => MessageType::Request,
            2 => MessageType::Decline,
            3 => MessageType::Release,
            4 => MessageType::Inform,
            _ => MessageType::Offer,
        };
        let mut chaddr = [0u8; 16];
        chaddr[..6].copy_from_slice(&mac);
        let giaddr = match kind >> 6 {
            0 => Ipv4Addr::UNSPECIFIED,
            1 => RELAY,
            2 => SERVER,
            _ => Ipv4Addr::new(10, 213, 9, 200),
        };
        let ciaddr = addr(ci, last);
        let mut req = Repr {
            // Kind 7: a server's reply looped back (our own broadcast, or another server's).
            op: if kind & 7 == 7 { dhcpv4::Op::Reply } else { dhcpv4::Op::Request },
            htype: dhcpv4::HardwareType::Ethernet,
            hlen: 6,
            hops: 0,
            xid: u32::from(client) << 8 | u32::from(dt),
            secs: 0,
            flags: if kind & 0x10 != 0 { dhcpv4::Flags::BROADCAST } else { dhcpv4::Flags(0) },
            ciaddr,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            siaddr: Ipv4Addr::UNSPECIFIED,
            giaddr,
            chaddr,
            sname: &[],
            file: &[],
            options: dhcpv4::OptionList::new(),
        };
        let _ = req.push(DhcpOption::MessageType(msg));
        if kind & 0x20 == 0 {
            let _ = req.push(DhcpOption::ClientId(&id));
        }
        let wanted = addr(requested, last);
        if !wanted.is_unspecified() {
            let _ = req.push(DhcpOption::RequestedIp(wanted));
        }
        match sid {
            0 => {}
            1 => {
                let _ = req.push(DhcpOption::ServerId(SERVER));
            }
            s => {
                let _ = req.push(DhcpOption::ServerId(Ipv4Addr::new(10, 213, 9, s)));
            }
        }
        if let Some(v) = VENDORS.get(usize::from(vendor).wrapping_sub(1)) {
            let _ = req.push(DhcpOption::VendorClass(v));
        }
        if vendor == 3 {
            let _ = req.push(DhcpOption::UserClass(b"iPXE"));
        }
        if extra & 2 != 0 {
            let _ = req.push(DhcpOption::HostName(b"node-x"));
        }
        if extra & 4 != 0 {
            let _ = req.push(DhcpOption::MaxMessageSize(576));
        }
        let src = if extra & 1 == 1 {
            SERVER
        } else if !giaddr.is_unspecified() {
            giaddr
        } else {
            ciaddr
        };
        let from = SocketAddrV4::new(src, if port == dhcpv4::PXE_PORT { 4011 } else { 68 });
        h.feed(&req, port, from, Some(idx));
        h.check();
    }
});
