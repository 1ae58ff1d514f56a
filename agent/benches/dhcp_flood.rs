//! The DHCP core's cost per DISCOVER after a flood of new clients, as a ratio to the cost on an
//! empty table, both measured side by side in one run (bench/README.md, "dhcp_flood").
//!
//! A server with a /16 pool is fed `CLIENTS` DISCOVERs (65 000 by default), each from a new
//! random client identifier, all in the same second so no offer runs out. Then, in `ROUNDS`
//! interleaved rounds, `BATCH` DISCOVERs from further new clients go to that server and to a
//! server with an empty table; the median time per DISCOVER of each, and their ratio, are
//! printed. Each DISCOVER is parsed and handled as the runtime does (the reply emitted, events
//! made). The defaults keep the loaded pool from running dry with the code before the offer
//! cap, so that build can run this file too.
//!
//!     cargo bench -p agent --bench dhcp_flood
//!     CLIENTS=65000 BATCH=50 ROUNDS=9 cargo bench -p agent --bench dhcp_flood

use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Instant;

use agent::serve::dhcp::leases::Leases;
use agent::serve::dhcp::{Boot, Config, Mode, Server, Subnet};
use netboot_proto::dhcpv4::{self, DhcpOption, MessageType, Packet, Repr};

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 213, 0, 1);

fn config() -> Config {
    Config {
        mode: Mode::Full,
        server: SERVER,
        subnet: Subnet::around(SERVER, 16).expect("a /16"),
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
    }
}

/// splitmix64 of `n`: a client identifier and hardware address per number.
fn mix(n: u64) -> u64 {
    let z = n.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A DISCOVER as a Linux client sends it (option 61, 55, 57), from client number `n`.
fn discover(n: u64) -> Vec<u8> {
    let r = mix(n).to_be_bytes();
    let id = [1, r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]];
    let mut chaddr = [0u8; 16];
    chaddr[..6].copy_from_slice(&r[2..]);
    let mut req = Repr {
        op: dhcpv4::Op::Request,
        htype: dhcpv4::HardwareType::Ethernet,
        hlen: 6,
        hops: 0,
        xid: u32::from_be_bytes([r[0], r[1], r[2], r[3]]),
        secs: 0,
        flags: dhcpv4::Flags(0),
        ciaddr: Ipv4Addr::UNSPECIFIED,
        yiaddr: Ipv4Addr::UNSPECIFIED,
        siaddr: Ipv4Addr::UNSPECIFIED,
        giaddr: Ipv4Addr::UNSPECIFIED,
        chaddr,
        sname: &[],
        file: &[],
        options: dhcpv4::OptionList::new(),
    };
    for o in [
        DhcpOption::MessageType(MessageType::Discover),
        DhcpOption::ClientId(&id),
        DhcpOption::MaxMessageSize(576),
        DhcpOption::ParameterRequestList(&[1, 3, 6, 12, 15, 28, 42]),
    ] {
        req.push(o).expect("room for four options");
    }
    let mut out = vec![0u8; req.buffer_len()];
    let n = req.emit(&mut out).expect("a DISCOVER fits");
    out.truncate(n);
    out
}

/// Handles each datagram as the runtime does; nanoseconds per DISCOVER, and how many got an
/// offer.
fn feed(server: &mut Server, reqs: &[Vec<u8>], now: u64) -> (f64, usize) {
    let mut out = [0u8; 1500];
    let mut offers = 0;
    let from = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68);
    let t = Instant::now();
    for bytes in reqs {
        let packet = Packet::new_checked(bytes.as_slice()).expect("a DHCP packet");
        let mut scratch = vec![0u8; bytes.len()];
        let req = Repr::parse(&packet, &mut scratch).expect("a DISCOVER");
        let o = server.handle(&req, 67, from, now, &mut out);
        offers += usize::from(o.reply.is_some());
        black_box(o);
    }
    (t.elapsed().as_nanos() as f64 / reqs.len().max(1) as f64, offers)
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() {
    // `cargo test --benches` runs this with `--bench` absent: a smoke run only.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let clients = if smoke { 1000 } else { env("CLIENTS", 65_000) };
    let (batch, rounds) = if smoke { (10, 1) } else { (env("BATCH", 50), env("ROUNDS", 9)) };
    let now = 1_000_000;
    let mut loaded = Server::new(config(), Leases::default());
    let flood: Vec<Vec<u8>> = (0..clients as u64).map(discover).collect();
    let t = Instant::now();
    let (_, offered) = feed(&mut loaded, &flood, now);
    let secs = t.elapsed().as_secs_f64();
    println!(
        "dhcp_flood: {clients} new clients in {secs:.2} s ({:.1} us each), {offered} offers, table: {} durable entries",
        secs * 1e6 / clients.max(1) as f64,
        loaded.leases().len()
    );
    let (mut empty, mut full) = (Vec::new(), Vec::new());
    println!("{:>5} {:>12} {:>12}", "round", "empty ns", "loaded ns");
    for r in 0..rounds as u64 {
        // New clients each round, on both sides, numbered apart from the flood's.
        let a: Vec<Vec<u8>> = (0..batch as u64).map(|i| discover(1 << 40 | r << 20 | i)).collect();
        let b: Vec<Vec<u8>> = (0..batch as u64).map(|i| discover(2 << 40 | r << 20 | i)).collect();
        let mut fresh = Server::new(config(), Leases::default());
        // Alternate which side goes first, so neither always runs on a warmer cache.
        let (e, l) = if r % 2 == 0 {
            let e = feed(&mut fresh, &a, now).0;
            (e, feed(&mut loaded, &b, now).0)
        } else {
            let l = feed(&mut loaded, &b, now).0;
            (feed(&mut fresh, &a, now).0, l)
        };
        println!("{r:>5} {e:>12.0} {l:>12.0}");
        empty.push(e);
        full.push(l);
    }
    let (e, l) = (median(empty), median(full));
    println!("median ns per DISCOVER: empty table {e:.0}, after {clients} new clients {l:.0}: ratio {:.2}x", l / e);
}
