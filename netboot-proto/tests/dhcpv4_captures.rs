//! recon's DHCPv4 codec against real captures and against decoders no one here wrote: tcpdump's
//! expected output (its own test suite's, and tcpdump 4.99.3 run on the lab captures), and
//! danderson/netboot's expected decodes.

mod support;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use netboot_proto::dhcpv4::{DhcpOption, Error, MessageType, Packet, Repr};
use support::{Datagram, all_dhcp_datagrams, checks, dhcp_datagrams, fixtures};

//--- tcpdump's decodes

/// One BOOTP/DHCP message as tcpdump printed it.
#[derive(Debug, Default)]
struct Tcpdump {
    header: String,
    truncated: bool,
    bad_cookie: bool,
    length: usize,
    xid: u32,
    hops: u8,
    secs: u16,
    broadcast: bool,
    fields: BTreeMap<String, String>,
    /// (code, length, value text) of each option line, in order.
    options: Vec<(u8, usize, String)>,
}

fn after<'a>(s: &'a str, key: &str) -> Option<&'a str> {
    s.find(key).map(|i| &s[i + key.len()..])
}

fn leading_number(s: &str) -> Option<u64> {
    let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// Splits tcpdump's text into BOOTP records: a line with `BOOTP/DHCP, ` and the tab-indented
/// lines after it.
fn parse_tcpdump(text: &str) -> Vec<Tcpdump> {
    let mut out: Vec<Tcpdump> = Vec::new();
    let mut open = false;
    for line in text.lines() {
        if let Some(rest) = after(line, "BOOTP/DHCP, ") {
            let mut r = Tcpdump { header: line.to_owned(), ..Tcpdump::default() };
            r.truncated = line.contains("[|bootp]");
            r.length = after(rest, "length ").and_then(leading_number).expect("length") as usize;
            r.xid = after(rest, "xid 0x")
                .map(|s| {
                    u32::from_str_radix(&s.chars().take_while(char::is_ascii_hexdigit).collect::<String>(), 16)
                        .expect("xid")
                })
                .unwrap_or(0);
            r.hops = after(rest, "hops ").and_then(leading_number).unwrap_or(0) as u8;
            r.secs = after(rest, "secs ").and_then(leading_number).unwrap_or(0) as u16;
            r.broadcast = rest.contains("Flags [Broadcast]");
            out.push(r);
            open = true;
            continue;
        }
        if !line.starts_with('\t') {
            open = false;
            continue;
        }
        let (true, Some(r)) = (open, out.last_mut()) else { continue };
        let t = line.trim();
        if t.starts_with("Vendor-#") {
            r.bad_cookie = true;
        }
        for key in ["Client-IP", "Your-IP", "Server-IP", "Gateway-IP", "Client-Ethernet-Address"] {
            if let Some(v) = t.strip_prefix(key).and_then(|v| v.strip_prefix(' ')) {
                r.fields.insert(key.to_owned(), v.to_owned());
            }
        }
        // `Name (code), length N[: value]`, where the first parenthesis holds the code.
        if let Some(open_paren) = t.find(" (") {
            let rest = &t[open_paren + 2..];
            if let Some(close) = rest.find("), length ")
                && let Ok(code) = rest[..close].parse::<u8>()
            {
                let tail = &rest[close + "), length ".len()..];
                let len = leading_number(tail).expect("option length") as usize;
                let value = tail.split_once(": ").map(|(_, v)| v.to_owned()).unwrap_or_default();
                if code != 0 && code != 255 {
                    r.options.push((code, len, value));
                }
            }
        }
    }
    out
}

/// tcpdump's `^@`-style control characters back to octets; `None` for text this test cannot
/// map back (tcpdump's `M-` high-bit notation).
fn unescape_tcpdump(quoted: &str) -> Option<Vec<u8>> {
    let inner = quoted.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains("M-") {
        return None;
    }
    let mut out = Vec::new();
    let mut chars = inner.bytes();
    while let Some(c) = chars.next() {
        if c == b'^' {
            let n = chars.next()?;
            out.push(n.checked_sub(b'@')?);
        } else {
            out.push(c);
        }
    }
    Some(out)
}

fn tcpdump_message_type(word: &str) -> MessageType {
    MessageType::from(match word {
        "Discover" => 1,
        "Offer" => 2,
        "Request" => 3,
        "Decline" => 4,
        "ACK" => 5,
        "NACK" => 6,
        "Release" => 7,
        "Inform" => 8,
        "LeaseQuery" => 10,
        "LeaseUnassigned" => 11,
        "LeaseUnknown" => 12,
        "LeaseActive" => 13,
        other => panic!("tcpdump message type {other:?} not in this table"),
    })
}

/// Checks one datagram against tcpdump's record; returns how many option values were compared.
fn compare_with_tcpdump(d: &Datagram, r: &Tcpdump) -> usize {
    let ctx = format!("{} vs tcpdump `{}`", d.name, r.header.trim());
    // tcpdump prints the UDP length field; a capture cut short holds fewer octets.
    assert!(d.payload.len() == r.length || (d.truncated && d.payload.len() < r.length), "{ctx}: length");
    let packet = match Packet::new_checked(&d.payload) {
        Ok(p) => p,
        Err(e) => {
            match e {
                Error::Truncated { .. } => assert!(r.truncated, "{ctx}: we say truncated, tcpdump decoded it"),
                Error::BadCookie { .. } => {
                    assert!(r.bad_cookie, "{ctx}: we say bad cookie, tcpdump saw RFC 1048 options")
                }
                e => panic!("{ctx}: unexpected error {e}"),
            }
            return 0;
        }
    };
    assert!(!r.truncated && !r.bad_cookie, "{ctx}: tcpdump refused what we accepted");
    assert_eq!(packet.xid(), r.xid, "{ctx}: xid");
    assert_eq!(packet.hops(), r.hops, "{ctx}: hops");
    assert_eq!(packet.secs(), r.secs, "{ctx}: secs");
    assert_eq!(packet.flags().broadcast(), r.broadcast, "{ctx}: broadcast flag");
    let field = |k: &str| r.fields.get(k).map(|v| v.parse::<Ipv4Addr>().expect("ip")).unwrap_or(Ipv4Addr::UNSPECIFIED);
    assert_eq!(packet.ciaddr(), field("Client-IP"), "{ctx}: ciaddr");
    assert_eq!(packet.yiaddr(), field("Your-IP"), "{ctx}: yiaddr");
    assert_eq!(packet.siaddr(), field("Server-IP"), "{ctx}: siaddr");
    assert_eq!(packet.giaddr(), field("Gateway-IP"), "{ctx}: giaddr");
    if let Some(mac) = r.fields.get("Client-Ethernet-Address") {
        let ours: Vec<String> = packet.hw_addr().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(&ours.join(":"), mac, "{ctx}: chaddr");
    }

    let raw: Vec<_> = packet.options().map(|o| o.expect("structure tcpdump accepted")).collect();
    let ours: Vec<(u8, usize)> = raw.iter().map(|o| (o.code, o.data.len())).collect();
    let theirs: Vec<(u8, usize)> = r.options.iter().map(|(c, l, _)| (*c, *l)).collect();
    assert_eq!(ours, theirs, "{ctx}: option codes and lengths");

    // Values where tcpdump prints them plainly.
    let mut values = 0;
    for (o, (code, _, text)) in raw.iter().zip(&r.options) {
        let typed = DhcpOption::from_wire(o.code, o.data);
        let ok = match typed {
            DhcpOption::MessageType(t) => t == tcpdump_message_type(text),
            DhcpOption::SubnetMask(a)
            | DhcpOption::ServerId(a)
            | DhcpOption::RequestedIp(a)
            | DhcpOption::BroadcastAddress(a) => text.parse::<Ipv4Addr>() == Ok(a),
            DhcpOption::Router(l) | DhcpOption::DomainNameServer(l) => {
                l.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(",") == *text
            }
            DhcpOption::LeaseTime(v) | DhcpOption::RenewalTime(v) | DhcpOption::RebindingTime(v) => {
                text.parse::<u32>() == Ok(v)
            }
            DhcpOption::MaxMessageSize(v) => text.parse::<u16>() == Ok(v),
            DhcpOption::HostName(b)
            | DhcpOption::DomainName(b)
            | DhcpOption::VendorClass(b)
            | DhcpOption::BootfileName(b) => match unescape_tcpdump(text) {
                Some(t) => t == b,
                None => continue,
            },
            DhcpOption::ClientId(b) if text.starts_with("ether ") => {
                let mac: Vec<String> = b[1..].iter().map(|x| format!("{x:02x}")).collect();
                b[0] == 1 && text == &format!("ether {}", mac.join(":"))
            }
            DhcpOption::UserClass(b) if text.is_empty() => {
                // tcpdump prints RFC 3004 instances on the following lines; checked elsewhere.
                let _ = b;
                continue;
            }
            _ => continue,
        };
        assert!(ok, "{ctx}: option {code} is {typed:?}, tcpdump says {text:?}");
        values += 1;
    }
    values
}

#[test]
fn decodes_agree_with_tcpdump_on_every_capture() {
    let cases = [
        ("tcpdump/dhcp-rfc3004.pcap", "tcpdump/dhcp-rfc3004-v.out"),
        ("tcpdump/dhcp-rfc5859.pcap", "tcpdump/dhcp-rfc5859-v.out"),
        ("tcpdump/dhcp-mud.pcap", "tcpdump/dhcp-mud.out"),
        ("tcpdump/dhcp-option-33.pcap", "tcpdump/dhcp-option-33.out"),
        ("tcpdump/dhcp-option-108.pcapng", "tcpdump/dhcp-option-108.out"),
        ("tcpdump/dhcp-rfc4388.pcap", "tcpdump/dhcp-rfc4388.out"),
        ("tcpdump/bootp_asan.pcap", "tcpdump/bootp_asan.out"),
        ("tcpdump/bootp_asan-2.pcap", "tcpdump/bootp_asan-2.out"),
        ("lab/bios-ipxe.pcap", "lab/bios-ipxe.pcap.txt"),
        ("lab/bios-ipxe-e1000.pcap", "lab/bios-ipxe-e1000.pcap.txt"),
        ("lab/uefi-ipxe-rom.pcap", "lab/uefi-ipxe-rom.pcap.txt"),
        ("lab/uefi-pxe-ipxe.pcap", "lab/uefi-pxe-ipxe.pcap.txt"),
        ("lab/linux-clients.pcap", "lab/linux-clients.pcap.txt"),
    ];
    let (mut messages, mut values) = (0, 0);
    for (pcap, out) in cases {
        let dir = fixtures().join("pcap");
        let text = std::fs::read_to_string(dir.join(out)).expect("tcpdump output");
        let records = parse_tcpdump(&text);
        // tcpdump decodes BOOTP on ports 67 and 68 only.
        let ours: Vec<_> =
            dhcp_datagrams(&dir.join(pcap)).into_iter().filter(|d| d.src_port != 4011 && d.dst_port != 4011).collect();
        assert_eq!(ours.len(), records.len(), "{pcap}: datagram count vs tcpdump's BOOTP records");
        for (d, r) in ours.iter().zip(&records) {
            values += compare_with_tcpdump(d, r);
        }
        messages += records.len();
    }
    // Not vacuous: the files above hold this many messages and plainly printed values.
    eprintln!("tcpdump: {messages} messages, {values} option values compared");
    assert!(messages >= 70, "only {messages} messages compared");
    assert!(values >= 300, "only {values} option values compared");
}

#[test]
fn user_class_instances_match_tcpdump_rfc3004() {
    // tcpdump's dhcp-rfc3004-v.out: instance#1 "subopt1", #2 "subopt2-123456789", #3 "subopt3-12".
    let d = &dhcp_datagrams(&fixtures().join("pcap/tcpdump/dhcp-rfc3004.pcap"))[0];
    let p = Packet::new_checked(&d.payload).unwrap();
    let mut scratch = [0u8; 0];
    let r = Repr::parse(&p, &mut scratch).unwrap();
    let uc = r.user_class().expect("option 77");
    assert!(uc.is_rfc3004());
    let got: Vec<&[u8]> = uc.instances().collect();
    assert_eq!(got, [&b"subopt1"[..], b"subopt2-123456789", b"subopt3-12"]);
    assert!(!r.is_ipxe());
}

//--- danderson/netboot's decodes

/// `[]byte{0x9b, 0x4e, 0x5}` -> bytes.
fn go_bytes(s: &str) -> Vec<u8> {
    let inner = s.trim().strip_prefix("[]byte{").and_then(|s| s.strip_suffix('}')).expect("Go byte slice");
    inner
        .split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| u8::from_str_radix(x.trim_start_matches("0x"), 16).expect("hex byte"))
        .collect()
}

#[test]
fn decodes_agree_with_netboot_dhcp_parsed() {
    let dir = fixtures().join("pcap/netboot");
    let text = std::fs::read_to_string(dir.join("dhcp.parsed")).unwrap();
    let expected: Vec<&str> = text.split("======").map(str::trim).filter(|s| !s.is_empty()).collect();
    let ours = dhcp_datagrams(&dir.join("dhcp.pcap"));
    assert_eq!(ours.len(), expected.len());
    assert_eq!(ours.len(), 4);
    for (d, exp) in ours.iter().zip(expected) {
        let p = Packet::new_checked(&d.payload).unwrap();
        let mut scratch = vec![0u8; d.payload.len()];
        let r = Repr::parse(&p, &mut scratch).unwrap();
        let mut lines = exp.lines().map(str::trim);
        let kind = lines.next().unwrap();
        assert_eq!(format!("DHCP{}", r.message_type().unwrap()), kind, "{}", d.name);
        assert_eq!(r.xid.to_be_bytes().to_vec(), go_bytes(lines.next().unwrap()), "{}", d.name);
        let cast = lines.next().unwrap();
        assert_eq!(r.flags.broadcast(), cast == "Broadcast", "{}", d.name);
        let mut options = BTreeMap::new();
        let mut in_options = false;
        for line in lines {
            if let Some(mac) = line.strip_prefix("MAC: ") {
                let ours: Vec<String> = r.hw_addr().iter().map(|b| format!("{b:02x}")).collect();
                assert_eq!(ours.join(":"), mac);
            }
            for (key, ours) in
                [("ClientIP: ", r.ciaddr), ("YourIP: ", r.yiaddr), ("ServerIP: ", r.siaddr), ("RelayIP: ", r.giaddr)]
            {
                if let Some(v) = line.strip_prefix(key) {
                    assert_eq!(v.parse::<Ipv4Addr>().unwrap(), ours, "{} {key}", d.name);
                }
            }
            if let Some(v) = line.strip_prefix("BootServerName:") {
                assert_eq!(r.sname, v.trim().as_bytes());
            }
            if let Some(v) = line.strip_prefix("BootFilename:") {
                assert_eq!(r.file, v.trim().as_bytes());
            }
            if line == "Options:" {
                in_options = true;
            } else if in_options && let Some((code, bytes)) = line.split_once(": ") {
                options.insert(code.parse::<u8>().unwrap(), go_bytes(bytes));
            }
        }
        // netboot lists every option but 53 (shown as the message type), sorted by code.
        let ours: BTreeMap<u8, Vec<u8>> = r
            .options
            .iter()
            .filter(|o| o.code().0 != 53)
            .map(|o| (o.code().0, o.wire_data().as_slice().to_vec()))
            .collect();
        assert_eq!(ours, options, "{}", d.name);
    }
}

//--- Round trips over every fixture

/// Why `bytes` is not in the canonical form recon emits, or `None` if it is: options in the
/// option area only, no Pad, each code once and at most 255 octets, End, then zeros up to 300
/// octets and no further; `sname` and `file` zero after their first NUL.
fn non_canonical(bytes: &[u8]) -> Option<&'static str> {
    let p = Packet::new_checked(bytes).ok()?;
    let h = p.header();
    for field in [&h.sname[..], &h.file[..]] {
        if let Some(nul) = field.iter().position(|&b| b == 0)
            && field[nul..].iter().any(|&b| b != 0)
        {
            return Some("bytes after the NUL in sname or file");
        }
    }
    let area = p.options_area();
    let mut at = 0;
    let mut seen = [false; 256];
    loop {
        match area.get(at) {
            None => return Some("no End option"),
            Some(0) => return Some("Pad options"),
            Some(255) => break,
            Some(&code) => {
                if code == 52 {
                    return Some("option overload");
                }
                if std::mem::replace(&mut seen[usize::from(code)], true) {
                    return Some("a code repeated (split or duplicated option)");
                }
                at += 2 + usize::from(*area.get(at + 1)?);
            }
        }
    }
    let end = 240 + at + 1;
    if bytes[end..].iter().any(|&b| b != 0) {
        return Some("non-zero bytes after End");
    }
    if bytes.len() != end.max(300) {
        return Some("padding to a length other than 300");
    }
    None
}

#[test]
fn every_fixture_round_trips_and_canonical_ones_byte_exact() {
    let mut canonical = Vec::new();
    let mut other = BTreeMap::<&str, usize>::new();
    for d in all_dhcp_datagrams() {
        checks::parse(&d.payload);
        checks::roundtrip(&d.payload);
        let Ok(p) = Packet::new_checked(&d.payload) else { continue };
        let mut scratch = vec![0u8; d.payload.len()];
        let r = Repr::parse(&p, &mut scratch).unwrap_or_else(|e| panic!("{}: {e}", d.name));
        match non_canonical(&d.payload) {
            None => {
                let mut out = vec![0u8; r.buffer_len()];
                r.emit(&mut out).unwrap();
                assert_eq!(out, d.payload, "{}: canonical input not reproduced byte for byte", d.name);
                canonical.push(d.name);
            }
            Some(why) => *other.entry(why).or_default() += 1,
        }
    }
    eprintln!("byte-exact: {} datagrams; not canonical: {other:?}", canonical.len());
    // dnsmasq's replies and iPXE's requests are canonical; keep the test from going vacuous.
    assert!(canonical.len() >= 40, "only {} canonical fixtures: {canonical:?}", canonical.len());
    assert!(canonical.iter().any(|n| n.starts_with("lab/bios-ipxe.pcap")));
}

#[test]
fn every_fixture_agrees_with_dhcproto() {
    let (mut both, mut values) = (0, 0);
    for d in all_dhcp_datagrams() {
        let c = checks::differential(&d.payload);
        both += usize::from(c.both_accepted);
        values += c.options;
    }
    eprintln!("dhcproto: both accepted {both} datagrams, {values} option values compared");
    assert!(both >= 70, "both decoders accepted only {both} fixtures");
    assert!(values >= 500, "only {values} option values compared with dhcproto");
}

//--- What recon reads from real PXE, UEFI and iPXE clients

fn repr_of(d: &Datagram, scratch: &mut Vec<u8>) -> Repr<'static> {
    let bytes: &'static [u8] = Box::leak(d.payload.clone().into_boxed_slice());
    *scratch = vec![0u8; bytes.len()];
    let scratch: &'static mut [u8] = Box::leak(std::mem::take(scratch).into_boxed_slice());
    let p = Packet::new_checked(bytes).unwrap();
    Repr::parse(&p, scratch).unwrap()
}

#[test]
fn pxe_clients_are_recognised_as_captured() {
    use netboot_proto::dhcpv4::pxe::{BootClass, ClientArch};
    let dir = fixtures().join("pcap");
    let mut scratch = Vec::new();
    // Real BIOS PXE ROM (netboot's usec.pcap): PXEClient arch 0, UNDI 2.1, not iPXE.
    let bios = repr_of(&dhcp_datagrams(&dir.join("netboot/usec.pcap"))[0], &mut scratch);
    let vc = bios.vendor_class().unwrap();
    assert_eq!((vc.class, vc.arch(), vc.undi()), (BootClass::PxeClient, Some(ClientArch::X86_BIOS), Some((2, 1))));
    assert_eq!(bios.client_arch().unwrap().first(), Some(ClientArch::X86_BIOS));
    assert_eq!(bios.client_ndi().map(|n| (n.kind, n.major, n.minor)), Some((1, 2, 1)));
    assert_eq!(bios.max_message_size(), Some(1260));
    assert!(!bios.is_ipxe());
    assert!(bios.flags.broadcast());

    // The same ROM's boot-server REQUEST on port 4011 carries option 43 with sub-option 71.
    let boot = repr_of(&dhcp_datagrams(&dir.join("netboot/usec.pcap"))[5], &mut scratch);
    assert_eq!(boot.vendor_specific().unwrap().find(71), Some(&[0x80, 0, 0, 0][..]));

    // iPXE BIOS ROM (lab): raw user class "iPXE", option 175 with its features.
    let ipxe = repr_of(&dhcp_datagrams(&dir.join("lab/bios-ipxe.pcap"))[0], &mut scratch);
    assert!(ipxe.is_ipxe());
    assert!(!ipxe.user_class().unwrap().is_rfc3004());
    let x = ipxe.ipxe().unwrap();
    assert!(x.has(netboot_proto::dhcpv4::pxe::ipxe::FEATURE_HTTP));
    assert!(x.has(netboot_proto::dhcpv4::pxe::ipxe::FEATURE_BZIMAGE));
    assert_eq!(x.version(), Some((1, 0, 0)));
    assert_eq!(ipxe.client_arch().unwrap().first(), Some(ClientArch::X86_BIOS));

    // iPXE EFI ROM (lab): arch 7, UNDI 3.10.
    let efi = repr_of(&dhcp_datagrams(&dir.join("lab/uefi-ipxe-rom.pcap"))[0], &mut scratch);
    assert!(efi.is_ipxe());
    assert_eq!(efi.client_arch().unwrap().first(), Some(ClientArch::EFI_X64_BC));
    assert!(efi.client_arch().unwrap().first().unwrap().is_uefi());
    assert_eq!(efi.vendor_class().unwrap().undi(), Some((3, 10)));

    // OVMF's own PXE client (lab): arch 7, broadcast flag set, no user class: not iPXE.
    let ovmf = repr_of(&dhcp_datagrams(&dir.join("lab/uefi-pxe-ipxe.pcap"))[0], &mut scratch);
    assert!(!ovmf.is_ipxe());
    assert!(ovmf.flags.broadcast());
    assert_eq!(ovmf.message_type(), Some(MessageType::Discover));
    assert_eq!(ovmf.vendor_class().unwrap().arch(), Some(ClientArch::EFI_X64_BC));
    assert!(ovmf.client_machine_id().is_some());
}
