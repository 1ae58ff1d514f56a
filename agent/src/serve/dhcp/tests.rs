//! The DHCP core against real client requests (a BIOS PXE ROM, iPXE in BIOS and UEFI, UEFI
//! PXE, udhcpc and dhclient from the lab captures, a relayed request from netboot's capture),
//! with every reply decoded by dhcproto, a parser no one here wrote.

use std::net::{Ipv4Addr, SocketAddrV4};

use dhcproto::v4::{self, Decodable, Decoder, DhcpOption as DOpt, OptionCode as DCode};
use netboot_proto::capture::Capture;
use netboot_proto::dhcpv4::{MessageType, Packet, Repr};

use super::leases::{Leases, MAX_OFFERS, Record};
use super::*;

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 213, 9, 1);

fn config(mode: Mode) -> Config {
    let mut subnet = Subnet::around(SERVER, 24).unwrap();
    subnet.router = Some(SERVER);
    Config {
        mode,
        server: SERVER,
        subnet,
        relays: vec![Subnet {
            network: Ipv4Addr::new(192, 168, 40, 0),
            prefix: 24,
            pool: (Ipv4Addr::new(192, 168, 40, 2), Ipv4Addr::new(192, 168, 40, 250)),
            router: Some(Ipv4Addr::new(192, 168, 40, 1)),
        }],
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

/// The client-to-server DHCP payloads of a capture, in order.
fn requests(capture: &[u8]) -> Vec<Vec<u8>> {
    let cap = Capture::new(capture).unwrap();
    cap.frames()
        .filter_map(|f| f.ok()?.udp())
        .filter(|u| u.dst.port() == 67 && u.src.port() == 68)
        .map(|u| u.payload.to_vec())
        .collect()
}

const BIOS_IPXE: &[u8] = include_bytes!("../../../../tests/fixtures/pcap/lab/bios-ipxe.pcap");
const UEFI_PXE: &[u8] = include_bytes!("../../../../tests/fixtures/pcap/lab/uefi-pxe-ipxe.pcap");
const LINUX: &[u8] = include_bytes!("../../../../tests/fixtures/pcap/lab/linux-clients.pcap");
const NETBOOT: &[u8] = include_bytes!("../../../../tests/fixtures/pcap/netboot/dhcp.pcap");

struct Run {
    server: Server,
    now: u64,
    journal: Vec<Record>,
}

impl Run {
    fn new(mode: Mode) -> Run {
        Run { server: Server::new(config(mode), Leases::default()), now: 1_000_000, journal: Vec::new() }
    }

    /// Feeds one request; returns the reply decoded by dhcproto and its destination.
    fn feed(&mut self, bytes: &[u8], port: u16) -> (Option<(v4::Message, Dest)>, Outcome) {
        let p = Packet::new_checked(bytes).unwrap();
        let mut scratch = vec![0u8; bytes.len()];
        let req = Repr::parse(&p, &mut scratch).unwrap();
        let mut out = vec![0u8; 1500];
        let from = SocketAddrV4::new(if req.ciaddr.is_unspecified() { Ipv4Addr::UNSPECIFIED } else { req.ciaddr }, 68);
        let o = self.server.handle(&req, port, from, self.now, &mut out);
        if let Some(r) = &o.record {
            self.journal.push(r.clone());
        }
        let reply = o.reply.map(|(len, dest)| (v4::Message::decode(&mut Decoder::new(&out[..len])).unwrap(), dest));
        (reply, o)
    }
}

fn msg_type(m: &v4::Message) -> v4::MessageType {
    m.opts().msg_type().unwrap()
}

fn file(m: &v4::Message) -> String {
    String::from_utf8_lossy(m.fname().unwrap_or_default()).trim_end_matches('\0').to_owned()
}

/// A REQUEST in INIT-REBOOT form (no server identifier, option 50) made from a client's
/// DISCOVER: what a client rebooting with a remembered address sends.
fn init_reboot(discover: &[u8], ip: Ipv4Addr) -> Vec<u8> {
    let p = Packet::new_checked(discover).unwrap();
    let mut s = vec![0u8; discover.len()];
    let mut r = Repr::parse(&p, &mut s).unwrap();
    for o in r.options.iter_mut() {
        if let DhcpOption::MessageType(t) = o {
            *t = MessageType::Request;
        }
    }
    r.push(DhcpOption::RequestedIp(ip)).unwrap();
    let mut out = vec![0u8; r.buffer_len()];
    r.emit(&mut out).unwrap();
    out
}

#[test]
fn a_bios_pxe_rom_gets_undionly_and_ipxe_gets_the_script() {
    // netboot's capture: a real BIOS PXE ROM (arch 0, PXEClient, UNDI 2.1, not iPXE).
    let mut run = Run::new(Mode::Full);
    let (reply, o) = run.feed(&requests(NETBOOT)[0], 67);
    let (offer, dest) = reply.unwrap();
    assert_eq!(msg_type(&offer), v4::MessageType::Offer);
    let ip = offer.yiaddr();
    assert!(config(Mode::Full).subnet.contains(ip) && ip != SERVER);
    assert_eq!(file(&offer), "undionly.kpxe");
    assert_eq!(offer.siaddr(), SERVER);
    assert!(offer.opts().get(DCode::ClientMachineIdentifier).is_some(), "option 97 echoed");
    assert!(offer.opts().get(DCode::ClassIdentifier).is_none(), "no option 60 in a plain offer");
    assert_eq!(offer.opts().get(DCode::ServerIdentifier), Some(&DOpt::ServerIdentifier(SERVER)));
    assert_eq!(offer.opts().get(DCode::AddressLeaseTime), Some(&DOpt::AddressLeaseTime(3600)));
    // No broadcast flag: unicast to the hardware address (RFC 2131 section 4.1).
    assert_eq!(dest, Dest::Broadcast { port: 68 }, "this ROM sets the broadcast flag");
    assert!(o.record.is_none(), "offers are not journaled");
    // QEMU's ROM is iPXE itself (user class "iPXE"): it gets the script URL at once, unicast
    // to its hardware address since it does not ask for broadcast (RFC 2131 section 4.1).
    let reqs = requests(BIOS_IPXE);
    let (reply, _) = run.feed(&reqs[0], 67);
    let (offer, dest) = reply.unwrap();
    assert_eq!(file(&offer), format!("http://{SERVER}/boot.ipxe"));
    assert!(matches!(dest, Dest::Hardware { ip: i, .. } if i == offer.yiaddr()), "{dest:?}");
    // The REQUEST (frame 7) for that offer: ACK, journaled.
    let request = reqs.iter().find(|r| parse_type(r) == MessageType::Request).unwrap();
    let req_ip = requested(request);
    let mut run2 = Run::new(Mode::Full);
    run2.server.leases.offer(req_ip, &key_of(request), None, run2.now + 30);
    let (reply, o) = run2.feed(request, 67);
    let (ack, _) = reply.unwrap();
    assert_eq!(msg_type(&ack), v4::MessageType::Ack);
    assert_eq!(ack.yiaddr(), req_ip);
    assert!(matches!(o.record, Some(Record::Bind { ip, .. }) if ip == req_ip));
    // The same client asking again gets the same address.
    let (reply, _) = run2.feed(&reqs[0], 67);
    assert_eq!(reply.unwrap().0.yiaddr(), req_ip, "same client, same address");
}

fn parse_type(b: &[u8]) -> MessageType {
    let p = Packet::new_checked(b).unwrap();
    let mut s = vec![0u8; b.len()];
    Repr::parse(&p, &mut s).unwrap().message_type().unwrap()
}

fn requested(b: &[u8]) -> Ipv4Addr {
    let p = Packet::new_checked(b).unwrap();
    let mut s = vec![0u8; b.len()];
    Repr::parse(&p, &mut s).unwrap().requested_ip().unwrap()
}

fn key_of(b: &[u8]) -> String {
    let p = Packet::new_checked(b).unwrap();
    let mut s = vec![0u8; b.len()];
    Server::client(&Repr::parse(&p, &mut s).unwrap()).key
}

#[test]
fn uefi_pxe_gets_ipxe_efi_broadcast_when_asked() {
    let reqs = requests(UEFI_PXE);
    let mut run = Run::new(Mode::Full);
    let (reply, _) = run.feed(&reqs[0], 67);
    let (offer, dest) = reply.unwrap();
    assert_eq!(file(&offer), "ipxe.efi");
    assert_eq!(dest, Dest::Broadcast { port: 68 }, "UEFI sets the broadcast flag");
}

#[test]
fn linux_clients_get_plain_leases_and_release_them() {
    let reqs = requests(LINUX);
    let mut run = Run::new(Mode::Full);
    let (reply, _) = run.feed(&reqs[0], 67);
    let (offer, _) = reply.unwrap();
    assert_eq!(offer.fname().unwrap_or_default(), b"", "no boot file for udhcpc");
    assert_eq!(offer.siaddr(), Ipv4Addr::UNSPECIFIED);
    assert_eq!(offer.opts().get(DCode::Router), Some(&DOpt::Router(vec![SERVER])));
    assert_eq!(offer.opts().get(DCode::DomainName), Some(&DOpt::DomainName("rack".into())));
    // A RELEASE for an address it holds frees it, journaled.
    let release = reqs.iter().find(|r| parse_type(r) == MessageType::Release).unwrap();
    let p = Packet::new_checked(release).unwrap();
    let mut s = vec![0u8; release.len()];
    let rel = Repr::parse(&p, &mut s).unwrap();
    run.server.leases.apply(&Record::Bind {
        key: Server::client(&rel).key,
        mac: None,
        ip: rel.ciaddr,
        expires: run.now + 100,
        host: None,
    });
    let (reply, o) = run.feed(release, 67);
    assert!(reply.is_none());
    assert!(matches!(o.record, Some(Record::Release { ip, .. }) if ip == rel.ciaddr));
    assert!(run.server.leases.available(rel.ciaddr, "someone-else", run.now));
}

#[test]
fn requests_for_other_subnets_or_taken_addresses_are_naked() {
    let reqs = requests(LINUX);
    // A client back from another network asks for its old address there.
    let request = init_reboot(&reqs[0], Ipv4Addr::new(10, 213, 9, 44));
    let mut run = Run::new(Mode::Full);
    let mut foreign = Run::new(Mode::Full);
    foreign.server.cfg.subnet = Subnet::around(Ipv4Addr::new(172, 16, 0, 1), 16).unwrap();
    foreign.server.cfg.server = Ipv4Addr::new(172, 16, 0, 1);
    let (reply, o) = foreign.feed(&request, 67);
    let (nak, dest) = reply.unwrap();
    assert_eq!(msg_type(&nak), v4::MessageType::Nak);
    assert_eq!(dest, Dest::Broadcast { port: 68 });
    assert!(o.record.is_none());
    assert_eq!(foreign.server.stats.naks, 1);
    // Taken by another client.
    let ip = requested(&request);
    run.server.leases.apply(&Record::Bind {
        key: "id:other".into(),
        mac: None,
        ip,
        expires: run.now + 100,
        host: None,
    });
    let (reply, _) = run.feed(&request, 67);
    assert_eq!(msg_type(&reply.unwrap().0), v4::MessageType::Nak);
}

#[test]
fn a_restart_replays_the_journal_into_the_same_bindings() {
    let reqs = requests(LINUX);
    let mut run = Run::new(Mode::Full);
    let discover = reqs.iter().find(|r| parse_type(r) == MessageType::Discover).unwrap();
    let (reply, _) = run.feed(discover, 67);
    let ip = reply.unwrap().0.yiaddr();
    // A REQUEST in INIT-REBOOT form for that address binds it.
    let bind = Record::Bind { key: key_of(discover), mac: None, ip, expires: run.now + 3600, host: None };
    run.server.leases.apply(&bind);
    run.journal.push(bind.clone());
    let mut restarted = Leases::default();
    for r in &run.journal {
        let line = serde_json::to_string(r).unwrap();
        restarted.apply(&serde_json::from_str(&line).unwrap());
    }
    let mut after = Run { server: Server::new(config(Mode::Full), restarted), now: run.now + 60, journal: vec![] };
    let (reply, _) = after.feed(discover, 67);
    assert_eq!(reply.unwrap().0.yiaddr(), ip);
}

#[test]
fn selecting_another_server_withdraws_our_offer_silently() {
    let reqs = requests(BIOS_IPXE);
    let mut run = Run::new(Mode::Full);
    let (reply, _) = run.feed(&reqs[0], 67);
    let ip = reply.unwrap().0.yiaddr();
    // The captured REQUEST selects 10.213.9.1 (dnsmasq in the lab); pretend we are another.
    let request = reqs.iter().find(|r| parse_type(r) == MessageType::Request).unwrap();
    run.server.cfg.server = Ipv4Addr::new(10, 213, 9, 2);
    let (reply, o) = run.feed(request, 67);
    assert!(reply.is_none());
    assert!(o.record.is_none());
    assert!(run.server.leases.available(ip, "someone-else", run.now));
}

#[test]
fn relayed_requests_use_the_relays_subnet_and_go_back_to_the_relay() {
    let reqs: Vec<Vec<u8>> = Capture::new(NETBOOT)
        .unwrap()
        .frames()
        .filter_map(|f| f.ok()?.udp())
        .filter(|u| u.dst.port() == 67 && u.src.port() == 67)
        .map(|u| u.payload.to_vec())
        .collect();
    assert_eq!(reqs.len(), 1, "netboot's capture has one relayed REQUEST");
    let mut run = Run::new(Mode::Full);
    let (reply, o) = run.feed(&reqs[0], 67);
    let (ack, dest) = reply.unwrap();
    assert_eq!(msg_type(&ack), v4::MessageType::Ack, "{:?}", o.events);
    assert_eq!(ack.yiaddr(), Ipv4Addr::new(192, 168, 40, 4));
    assert_eq!(ack.giaddr(), Ipv4Addr::new(192, 168, 40, 1));
    assert_eq!(dest, Dest::Unicast(SocketAddrV4::new(Ipv4Addr::new(192, 168, 40, 1), 67)));
    assert_eq!(ack.opts().get(DCode::Router), Some(&DOpt::Router(vec![Ipv4Addr::new(192, 168, 40, 1)])));
    // Without a subnet for that relay: silence, counted.
    let mut run = Run::new(Mode::Full);
    run.server.cfg.relays.clear();
    let (reply, _) = run.feed(&reqs[0], 67);
    assert!(reply.is_none());
    assert_eq!(run.server.stats.unknown_relay, 1);
}

#[test]
fn proxy_mode_answers_only_pxe_clients_with_a_boot_server_offer() {
    let mut run = Run::new(Mode::Proxy);
    let reqs = requests(NETBOOT);
    let (reply, _) = run.feed(&reqs[0], 67);
    let (offer, _) = reply.unwrap();
    assert_eq!(offer.yiaddr(), Ipv4Addr::UNSPECIFIED, "proxy offers carry no address");
    assert_eq!(offer.opts().get(DCode::ClassIdentifier), Some(&DOpt::ClassIdentifier(b"PXEClient".to_vec())));
    let Some(DOpt::VendorExtensions(v)) = offer.opts().get(DCode::VendorExtensions) else { panic!("no option 43") };
    assert_eq!(&v[..3], &[6, 1, 3], "discovery control: use the boot server list");
    assert_eq!(&v[3..12], &[8, 7, 0x80, 0, 1, 10, 213, 9, 1]);
    assert!(offer.opts().get(DCode::ClientMachineIdentifier).is_some());
    // udhcpc is not a PXE client: nothing.
    let linux = requests(LINUX);
    let (reply, _) = run.feed(&linux[0], 67);
    assert!(reply.is_none());
    // The ROM's REQUEST to the boot server on 4011 gets the file, unicast back.
    let mut req4011 = reqs[0].clone();
    req4011[242] = 3; // option 53 -> REQUEST (first option in this capture)
    let (reply, _) = run.feed(&req4011, 4011);
    let (ack, dest) = reply.unwrap();
    assert_eq!(msg_type(&ack), v4::MessageType::Ack);
    assert_eq!(file(&ack), "undionly.kpxe");
    assert!(matches!(dest, Dest::Unicast(_)));
}

#[test]
fn proxy_mode_gives_ipxe_its_script_in_the_offer_without_a_menu() {
    for cap in [BIOS_IPXE, UEFI_PXE] {
        let mut run = Run::new(Mode::Proxy);
        // The capture's first iPXE DISCOVER (option 175 or user class "iPXE").
        let ipxe = requests(cap)
            .into_iter()
            .find(|r| {
                let m = v4::Message::decode(&mut v4::Decoder::new(r)).unwrap();
                m.opts().get(DCode::Unknown(175)).is_some() || m.opts().get(DCode::UserClass).is_some()
            })
            .expect("an iPXE request in the capture");
        let (reply, _) = run.feed(&ipxe, 67);
        let (offer, _) = reply.expect("an offer for iPXE");
        assert_eq!(offer.yiaddr(), Ipv4Addr::UNSPECIFIED);
        assert_eq!(offer.siaddr(), SERVER, "next-server: iPXE takes a proxy offer with it and a filename as is");
        assert_eq!(offer.opts().get(DCode::ClassIdentifier), Some(&DOpt::ClassIdentifier(b"PXEClient".to_vec())));
        assert!(offer.opts().get(DCode::VendorExtensions).is_none(), "no PXE menu: iPXE would boot the menu");
        let Some(DOpt::BootfileName(f)) = offer.opts().get(DCode::BootfileName) else { panic!("no option 67") };
        assert!(f.ends_with(b"/boot.ipxe"), "{}", String::from_utf8_lossy(f));
    }
}

#[test]
fn off_mode_and_replies_are_ignored() {
    let reqs = requests(LINUX);
    let mut run = Run::new(Mode::Off);
    assert!(run.feed(&reqs[0], 67).0.is_none());
    // A server's reply fed back (our own broadcast looping) is not a request.
    let cap = Capture::new(LINUX).unwrap();
    let offer = cap.frames().filter_map(|f| f.ok()?.udp()).find(|u| u.src.port() == 67).unwrap().payload.to_vec();
    let mut run = Run::new(Mode::Full);
    assert!(run.feed(&offer, 67).0.is_none());
    assert_eq!(run.server.stats.not_for_us, 1);
}

/// splitmix64: client identifiers that are the same from run to run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let z = (self.0 ^ (self.0 >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// `n` DISCOVERs, each from a client never seen before (udhcpc's DISCOVER with a random client
/// identifier and hardware address), at `now`, straight into the core. The addresses offered.
fn flood(server: &mut Server, n: usize, now: u64, rng: &mut Rng) -> Vec<Ipv4Addr> {
    let template = requests(LINUX).into_iter().find(|r| parse_type(r) == MessageType::Discover).unwrap();
    let mut offered = Vec::new();
    let mut out = vec![0u8; 1500];
    for _ in 0..n {
        let r = rng.next().to_be_bytes();
        let id = [1, r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]];
        let p = Packet::new_checked(&template).unwrap();
        let mut s = vec![0u8; template.len()];
        let mut req = Repr::parse(&p, &mut s).unwrap();
        req.options.retain(|o| !matches!(o, DhcpOption::ClientId(_)));
        req.push(DhcpOption::ClientId(&id)).unwrap();
        req.chaddr[..6].copy_from_slice(&r[2..]);
        let o = server.handle(&req, 67, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68), now, &mut out);
        if let Some((len, _)) = o.reply {
            let p = Packet::new_checked(&out[..len]).unwrap();
            let mut s = vec![0u8; len];
            offered.push(Repr::parse(&p, &mut s).unwrap().yiaddr);
        }
    }
    offered
}

/// A REQUEST in SELECTING form (option 54 ours, option 50 the offered address) made from a
/// client's DISCOVER.
fn select(discover: &[u8], ip: Ipv4Addr) -> Vec<u8> {
    to_kind(discover, MessageType::Request, ip)
}

fn to_kind(discover: &[u8], kind: MessageType, ip: Ipv4Addr) -> Vec<u8> {
    let p = Packet::new_checked(discover).unwrap();
    let mut s = vec![0u8; discover.len()];
    let mut r = Repr::parse(&p, &mut s).unwrap();
    for o in r.options.iter_mut() {
        if let DhcpOption::MessageType(t) = o {
            *t = kind;
        }
    }
    r.options.retain(|o| !matches!(o, DhcpOption::RequestedIp(_) | DhcpOption::ServerId(_)));
    r.push(DhcpOption::RequestedIp(ip)).unwrap();
    r.push(DhcpOption::ServerId(SERVER)).unwrap();
    let mut out = vec![0u8; r.buffer_len()];
    r.emit(&mut out).unwrap();
    out
}

/// A server whose pool is a /16: 65 533 addresses, more than the offer cap.
fn wide_run() -> Run {
    let mut run = Run::new(Mode::Full);
    run.server.cfg.subnet = Subnet::around(SERVER, 16).unwrap();
    run
}

#[test]
fn a_flood_of_new_clients_stays_within_the_cap_and_a_real_client_is_still_served() {
    let mut run = wide_run();
    let offered = flood(&mut run.server, 100_000, run.now, &mut Rng(1));
    assert_eq!(offered.len(), 100_000, "every DISCOVER got an offer: the pool never ran dry");
    let l = run.server.leases();
    l.check().unwrap();
    assert_eq!((l.offers(), l.clients()), (MAX_OFFERS, MAX_OFFERS), "the table holds no more than the cap");
    assert_eq!(l.evicted(), (100_000 - MAX_OFFERS) as u64, "the oldest offers made room");
    assert!(l.is_empty(), "nothing durable came of offers");
    // QEMU's iPXE: an offer from the pool, then an ACK for it.
    let ipxe = requests(BIOS_IPXE).swap_remove(0);
    let (reply, _) = run.feed(&ipxe, 67);
    let ip = reply.expect("an offer for a real client").0.yiaddr();
    let pool = run.server.cfg.subnet.pool;
    assert!(ip >= pool.0 && ip <= pool.1 && ip != SERVER);
    let (reply, o) = run.feed(&select(&ipxe, ip), 67);
    assert_eq!(msg_type(&reply.unwrap().0), v4::MessageType::Ack);
    assert!(matches!(o.record, Some(Record::Bind { ip: i, .. }) if i == ip));
}

#[test]
fn a_pool_flooded_with_offers_still_serves_a_new_client_at_once() {
    // A small pool (a /24) and four times as many made-up clients: offers reserve nothing, so
    // the oldest gives way and the pool never runs dry for the next DISCOVER (before, a real
    // client went unanswered until the flood's offers ran out, and a steady flood starved it).
    let mut run = Run::new(Mode::Full);
    let pool = run.server.cfg.subnet.pool;
    let size = (u32::from(pool.1) - u32::from(pool.0) + 1) as usize;
    let offered = flood(&mut run.server, 1000, run.now, &mut Rng(2));
    assert_eq!(offered.len(), 1000, "every DISCOVER got an offer");
    assert_eq!(run.server.stats.pool_exhausted, 0);
    let l = run.server.leases();
    assert!(l.offers() <= size, "{} offers for {size} addresses", l.offers());
    assert_eq!(l.evicted() as usize, 1000 - l.offers());
    let ipxe = requests(BIOS_IPXE).swap_remove(0);
    let (reply, _) = run.feed(&ipxe, 67);
    let ip = reply.expect("an address in the middle of the flood").0.yiaddr();
    assert!(ip >= pool.0 && ip <= pool.1);
    let (reply, o) = run.feed(&select(&ipxe, ip), 67);
    assert_eq!(msg_type(&reply.unwrap().0), v4::MessageType::Ack);
    assert!(matches!(o.record, Some(Record::Bind { ip: i, .. }) if i == ip));
    // The bound address never gives way to the flood that follows.
    let after = flood(&mut run.server, 1000, run.now, &mut Rng(3));
    assert!(!after.contains(&ip));
    assert_eq!(run.server.leases().bound(run.now).count(), 1);
    run.server.leases().check().unwrap();
}

#[test]
fn offers_followed_by_a_request_are_honoured_through_a_flood() {
    let mut run = wide_run();
    let mut rng = Rng(3);
    let ipxe = requests(BIOS_IPXE).swap_remove(0);
    let (reply, _) = run.feed(&ipxe, 67);
    let ip = reply.unwrap().0.yiaddr();
    // Asking again and again takes no further address.
    for _ in 0..5 {
        assert_eq!(run.feed(&ipxe, 67).0.unwrap().0.yiaddr(), ip, "same client, same offer");
    }
    assert_eq!(run.server.leases().offers(), 1);
    flood(&mut run.server, 1000, run.now, &mut rng);
    let (reply, o) = run.feed(&select(&ipxe, ip), 67);
    assert_eq!(msg_type(&reply.unwrap().0), v4::MessageType::Ack);
    assert!(o.record.is_some());
    // A second client's offer is evicted by the flood; its REQUEST still gets the address,
    // which nobody took since (section 4.3.2: this server is authoritative on its segment).
    let uefi = requests(UEFI_PXE).swap_remove(0);
    let (reply, _) = run.feed(&uefi, 67);
    let ip2 = reply.unwrap().0.yiaddr();
    let key2 = key_of(&uefi);
    while run.server.leases().address_of(&key2).is_some() {
        flood(&mut run.server, 1, run.now, &mut rng);
    }
    let (reply, _) = run.feed(&select(&uefi, ip2), 67);
    assert_eq!(reply.unwrap().0.yiaddr(), ip2);
    // The bound lease outlives any number of evictions and offers running out.
    flood(&mut run.server, 2 * MAX_OFFERS, run.now, &mut rng);
    run.now += 60;
    flood(&mut run.server, 10, run.now, &mut rng);
    let bound: Vec<Ipv4Addr> = run.server.leases().bound(run.now).map(|(ip, _)| ip).collect();
    assert_eq!(bound, {
        let mut b = vec![ip, ip2];
        b.sort();
        b
    });
    assert_eq!(run.feed(&ipxe, 67).0.unwrap().0.yiaddr(), ip, "its address again");
    run.server.leases().check().unwrap();
}

#[test]
fn a_declined_address_stays_out_of_use_through_a_flood() {
    let mut run = Run::new(Mode::Full);
    let mut rng = Rng(4);
    let ipxe = requests(BIOS_IPXE).swap_remove(0);
    let ip = run.feed(&ipxe, 67).0.unwrap().0.yiaddr();
    run.feed(&select(&ipxe, ip), 67);
    let (_, o) = run.feed(&to_kind(&ipxe, MessageType::Decline, ip), 67);
    assert!(matches!(o.record, Some(Record::Decline { ip: i, .. }) if i == ip));
    for step in 0..19 {
        // Quarantine is 600 s; offers last 30 s, so each round finds the pool free again.
        run.now += 31;
        let offered = flood(&mut run.server, 300, run.now, &mut rng);
        assert!(!offered.contains(&ip), "offered {ip} {} s into its quarantine", 31 * (step + 1));
        let distinct: std::collections::BTreeSet<_> = offered.iter().collect();
        assert_eq!((offered.len(), distinct.len()), (300, 252), "the rest of the pool, offers giving way");
    }
    run.now += 31;
    assert!(flood(&mut run.server, 300, run.now, &mut rng).contains(&ip), "back in use after the quarantine");
}

#[test]
fn nothing_is_sent_to_the_servers_own_address_or_hardware_address() {
    let discover = requests(NETBOOT).swap_remove(0);
    let p = Packet::new_checked(&discover).unwrap();
    let mut s = vec![0u8; discover.len()];
    let req = Repr::parse(&p, &mut s).unwrap();
    let mut out = vec![0u8; 1500];
    let anyone = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68);
    let mut server = Server::new(config(Mode::Full), Leases::default());
    // Through a "relay" at our own address, or from it (to the boot server on 4011).
    let mut relayed = req.clone();
    relayed.giaddr = SERVER;
    assert!(server.handle(&relayed, 67, anyone, 0, &mut out).reply.is_none());
    let mut to_4011 = req.clone();
    to_4011.options.iter_mut().for_each(|o| {
        if let DhcpOption::MessageType(t) = o {
            *t = MessageType::Request;
        }
    });
    assert!(server.handle(&to_4011, 4011, SocketAddrV4::new(SERVER, 4011), 0, &mut out).reply.is_none());
    assert!(
        server
            .handle(&to_4011, 4011, SocketAddrV4::new(Ipv4Addr::new(10, 213, 9, 7), 4011), 0, &mut out)
            .reply
            .is_some()
    );
    // Our own hardware address, once the runtime has told it.
    assert!(server.handle(&req, 67, anyone, 0, &mut out).reply.is_some());
    server.set_own_mac(req.mac().unwrap());
    assert!(server.handle(&req, 67, anyone, 0, &mut out).reply.is_none());
    assert_eq!(server.stats.ignored, 3);
}

/// udhcpc's DISCOVER from made-up client `n` (client identifier and hardware address), through
/// relay `giaddr` when not 0.0.0.0: a starvation tool's client.
fn made_up(n: u8, giaddr: Ipv4Addr) -> Vec<u8> {
    let template = requests(LINUX).into_iter().find(|r| parse_type(r) == MessageType::Discover).unwrap();
    let id = [1, 0x02, 0, 0, 0, 0x5f, n];
    let p = Packet::new_checked(&template).unwrap();
    let mut s = vec![0u8; template.len()];
    let mut req = Repr::parse(&p, &mut s).unwrap();
    req.options.retain(|o| !matches!(o, DhcpOption::ClientId(_)));
    req.push(DhcpOption::ClientId(&id)).unwrap();
    req.chaddr[..6].copy_from_slice(&id[1..]);
    req.giaddr = giaddr;
    let mut out = vec![0u8; req.buffer_len()];
    req.emit(&mut out).unwrap();
    out
}

#[test]
fn a_full_pool_probes_its_oldest_holders_and_frees_the_silent_ones() {
    let mut run = Run::new(Mode::Full);
    let ip = |d: u8| Ipv4Addr::new(10, 213, 9, d);
    run.server.cfg.subnet.pool = (ip(10), ip(15));
    let start = run.now;
    // A starvation tool binds every address with made-up clients, one a second, without
    // DISCOVERs (this server grants a REQUEST for a free address), then declines two.
    let flood: Vec<Vec<u8>> = (0..6).map(|n| made_up(n, Ipv4Addr::UNSPECIFIED)).collect();
    for (n, f) in (10..).zip(&flood) {
        let (reply, _) = run.feed(&select(f, ip(n)), 67);
        assert_eq!(msg_type(&reply.unwrap().0), v4::MessageType::Ack);
        run.now += 1;
    }
    for n in [1, 4] {
        let (_, o) = run.feed(&to_kind(&flood[n], MessageType::Decline, ip(10 + n as u8)), 67);
        assert!(matches!(o.record, Some(Record::Decline { .. })));
    }
    let (ipxe, uefi) = (requests(BIOS_IPXE).swap_remove(0), requests(UEFI_PXE).swap_remove(0));
    // Younger than the minimum age (60 s): the pool is full and nothing is probed.
    run.now = start + 50;
    let (reply, o) = run.feed(&ipxe, 67);
    assert!(reply.is_none() && o.probe.is_empty(), "{:?}", o.probe);
    assert_eq!(run.server.stats.pool_exhausted, 1);
    // At 64 s, those bound by 4 s are old enough, oldest first; the declines (at 6 s) and the
    // last binding (5 s) are not.
    run.now = start + 64;
    let (reply, o) = run.feed(&ipxe, 67);
    assert!(reply.is_none());
    assert_eq!(o.probe, [ip(10), ip(12), ip(13)]);
    // One round at a time.
    assert!(run.feed(&uefi, 67).1.probe.is_empty());
    // While it is probed, 12's holder renews: that proves it present, the round leaves it be.
    run.feed(&select(&flood[2], ip(12)), 67);
    // A host answers ARP for 13: kept. Nobody answers for 10: reclaimed.
    let records = run.server.reclaim_result(&o.probe, &[ip(13)], run.now);
    assert_eq!(records, [Record::Reclaim { ip: ip(10) }]);
    run.journal.extend(records);
    let s = &run.server.stats;
    assert_eq!((s.reclaim_probed, s.reclaimed, s.reclaim_kept), (3, 1, 1));
    // The PXE client's next DISCOVER gets the reclaimed address, and binds it.
    let (reply, _) = run.feed(&ipxe, 67);
    assert_eq!(reply.unwrap().0.yiaddr(), ip(10));
    let (reply, _) = run.feed(&select(&ipxe, ip(10)), 67);
    assert_eq!(msg_type(&reply.unwrap().0), v4::MessageType::Ack);
    // Later the quarantined addresses are candidates too, oldest first; the kept address is
    // not probed again within the minimum age, the renewed and new leases are young.
    run.now = start + 70;
    let (reply, o) = run.feed(&uefi, 67);
    assert!(reply.is_none());
    assert_eq!(o.probe, [ip(15), ip(11), ip(14)]);
    // An answer that leaves an address of the round out (a late answer to an older round)
    // decides nothing for it: 14 stays quarantined.
    let records = run.server.reclaim_result(&[ip(15), ip(11)], &[], run.now);
    assert_eq!(records, [Record::Reclaim { ip: ip(15) }, Record::Reclaim { ip: ip(11) }]);
    run.journal.extend(records);
    assert!(!run.server.leases().available(ip(14), "x", run.now));
    let (reply, _) = run.feed(&uefi, 67);
    assert!([ip(11), ip(15)].contains(&reply.unwrap().0.yiaddr()));
    let s = &run.server.stats;
    assert_eq!((s.reclaim_probed, s.reclaimed, s.reclaim_kept), (6, 3, 1));
    // The journal, replayed at a restart, gives the same table.
    let mut replayed = Leases::default();
    for r in &run.journal {
        replayed.apply(&serde_json::from_str(&serde_json::to_string(r).unwrap()).unwrap());
    }
    assert_eq!(replayed.snapshot(), run.server.leases().snapshot());
    run.server.leases().check().unwrap();
}

#[test]
fn a_round_given_up_decides_nothing_and_a_relays_full_pool_is_never_probed() {
    let mut run = Run::new(Mode::Full);
    let ip = |d: u8| Ipv4Addr::new(10, 213, 9, d);
    run.server.cfg.subnet.pool = (ip(10), ip(10));
    run.server.set_reclaim_after(5);
    let start = run.now;
    run.feed(&select(&made_up(1, Ipv4Addr::UNSPECIFIED), ip(10)), 67);
    run.now = start + 5;
    let ipxe = requests(BIOS_IPXE).swap_remove(0);
    assert_eq!(run.feed(&ipxe, 67).1.probe, [ip(10)], "a minimum age of 5 s");
    run.server.reclaim_abandoned();
    assert!(run.server.reclaim_result(&[ip(10)], &[], run.now).is_empty(), "no round left to decide");
    assert_eq!(run.server.leases().bound(run.now).count(), 1);
    assert_eq!(run.feed(&ipxe, 67).1.probe, [ip(10)], "the next DISCOVER starts another");

    // Off-link: an address behind a relay cannot be probed by ARP, so it is never reclaimed.
    let mut run = Run::new(Mode::Full);
    let relay = Ipv4Addr::new(192, 168, 40, 1);
    run.server.cfg.relays[0].pool = (Ipv4Addr::new(192, 168, 40, 2), Ipv4Addr::new(192, 168, 40, 2));
    let (reply, _) = run.feed(&select(&made_up(1, relay), Ipv4Addr::new(192, 168, 40, 2)), 67);
    assert_eq!(msg_type(&reply.unwrap().0), v4::MessageType::Ack);
    run.now += 3600 - 1;
    let (reply, o) = run.feed(&made_up(2, relay), 67);
    assert!(reply.is_none() && o.probe.is_empty(), "{:?}", o.probe);
    assert_eq!((run.server.stats.pool_exhausted, run.server.stats.reclaim_probed), (1, 0));
}
