//! Where recon's DHCPv4 codec deliberately differs from dhcproto 0.15, the differential oracle:
//! one test per difference, stating both behaviours and why recon's is the one a boot server
//! needs. If dhcproto changes, these tests say so.

mod support;

use dhcproto::{Decodable, Decoder, v4};
use netboot_proto::dhcpv4::{DhcpOption, Error, Packet, Region, Repr};

/// A request from MAC 52:54:00:12:34:56 with `options` after the cookie.
fn message(options: &[u8]) -> Vec<u8> {
    let mut m = vec![0u8; 240];
    m[0] = 1;
    m[1] = 1;
    m[2] = 6;
    m[4..8].copy_from_slice(&0xcafe_f00du32.to_be_bytes());
    m[28..34].copy_from_slice(&[0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    m[236..240].copy_from_slice(&[99, 130, 83, 99]);
    m.extend_from_slice(options);
    m
}

fn theirs(bytes: &[u8]) -> Result<v4::Message, dhcproto::error::DecodeError> {
    v4::Message::decode(&mut Decoder::new(bytes))
}

fn with_ours<T>(bytes: &[u8], f: impl FnOnce(Result<Repr<'_>, Error>) -> T) -> T {
    let mut scratch = vec![0u8; bytes.len()];
    match Packet::new_checked(bytes) {
        Ok(p) => f(Repr::parse(&p, &mut scratch)),
        Err(e) => f(Err(e)),
    }
}

#[test]
fn bad_cookie_is_refused() {
    // Without 99.130.83.99 the area is BOOTP vendor data (RFC 951) or garbage: not DHCP options.
    // dhcproto does not check the cookie ("TODO: check magic bytes") and reads options anyway.
    let mut m = message(&[53, 1, 1, 255]);
    m[236..240].copy_from_slice(&[1, 2, 3, 4]);
    with_ours(&m, |r| assert_eq!(r.unwrap_err(), Error::BadCookie { found: [1, 2, 3, 4] }));
    let t = theirs(&m).expect("dhcproto accepts a bad cookie");
    assert_eq!(t.opts().msg_type(), Some(v4::MessageType::Discover));
}

#[test]
fn truncated_option_is_an_error() {
    // An option whose length runs past the packet means the packet is damaged; a server must not
    // act on half of it. dhcproto stops reading options there and returns what came before.
    let m = message(&[53, 1, 1, 12, 10, b'n', b'o']);
    with_ours(&m, |r| {
        assert_eq!(
            r.unwrap_err(),
            Error::TruncatedOption { region: Region::Options, offset: 243, code: 12, len: 10, available: 2 }
        )
    });
    let t = theirs(&m).expect("dhcproto accepts a truncated option");
    assert_eq!(t.opts().msg_type(), Some(v4::MessageType::Discover));
    assert!(t.opts().get(v4::OptionCode::Hostname).is_none());
}

#[test]
fn sname_and_file_without_nul() {
    // A field filled to its last octet has no NUL: recon keeps all 64 (or 128) octets, the only
    // reading that loses nothing. dhcproto returns None, as if the field were empty; with a NUL it
    // keeps the NUL in the value.
    let mut m = message(&[53, 1, 1, 255]);
    m[44..108].fill(b's');
    m[108..112].copy_from_slice(b"boot");
    with_ours(&m, |r| {
        let r = r.unwrap();
        assert_eq!(r.sname, &[b's'; 64][..]);
        assert_eq!(r.file, b"boot");
    });
    let t = theirs(&m).unwrap();
    assert_eq!(t.sname(), None);
    assert_eq!(t.fname(), Some(&b"boot\0"[..]));
}

#[test]
fn repeated_codes_are_joined() {
    // RFC 3396, section 7: all instances of a code are concatenated in order, adjacent or not.
    // dhcproto keeps the last run of a non-adjacent code, and joins adjacent instances only
    // sometimes (the fuzz-found message at the end of this test keeps only the last).
    let m = message(&[12, 3, b'n', b'o', b'd', 53, 1, 1, 12, 2, b'e', b'1', 255]);
    with_ours(&m, |r| assert_eq!(r.unwrap().host_name(), Some(&b"node1"[..])));
    let t = theirs(&m).unwrap();
    assert_eq!(t.opts().get(v4::OptionCode::Hostname), Some(&v4::DhcpOption::Hostname("e1".into())));
    // Adjacent instances: both join.
    let m = message(&[12, 3, b'n', b'o', b'd', 12, 2, b'e', b'1', 53, 1, 1, 255]);
    with_ours(&m, |r| assert_eq!(r.unwrap().host_name(), Some(&b"node1"[..])));
    assert_eq!(
        theirs(&m).unwrap().opts().get(v4::OptionCode::Hostname),
        Some(&v4::DhcpOption::Hostname("node1".into()))
    );
}

#[test]
fn overloaded_fields_carry_options() {
    // Option 52 (RFC 2132, section 9.3) moves options into file and sname; a server that misses
    // them misses the client's data. dhcproto does not read them and reports the fields' bytes
    // as names.
    let mut m = message(&[52, 1, 1, 53, 1, 3, 255]);
    m[108..115].copy_from_slice(&[50, 4, 10, 0, 0, 20, 255]);
    with_ours(&m, |r| {
        let r = r.unwrap();
        assert_eq!(r.requested_ip(), Some(std::net::Ipv4Addr::new(10, 0, 0, 20)));
        assert_eq!(r.file, b"");
    });
    let t = theirs(&m).unwrap();
    assert!(t.opts().get(v4::OptionCode::RequestedIpAddress).is_none());
    assert!(t.fname().is_some_and(|f| f.starts_with(&[50, 4])));
}

#[test]
fn wrong_length_values_are_kept_whole() {
    // Option 57 must be two octets. recon keeps a four-octet value whole as `Other`, so the
    // server treats it as absent and the bytes still round-trip. dhcproto reads the first two
    // octets as the size and drops the rest.
    let m = message(&[53, 1, 1, 57, 4, 0x05, 0xdc, 0xff, 0xff, 255]);
    with_ours(&m, |r| {
        let r = r.unwrap();
        assert_eq!(r.max_message_size(), None);
        assert_eq!(r.options[1], DhcpOption::Other { code: 57, data: &[0x05, 0xdc, 0xff, 0xff] });
    });
    let t = theirs(&m).unwrap();
    assert_eq!(t.opts().get(v4::OptionCode::MaxMessageSize), Some(&v4::DhcpOption::MaxMessageSize(1500)));
}

#[test]
fn dhcproto_stops_at_an_option_it_cannot_decode() {
    // A host name that is not UTF-8 (firmware sends such bytes) is still a host name to recon.
    // dhcproto's typed decoder refuses it and silently stops reading options, losing the
    // message type that follows.
    let m = message(&[12, 2, 0xff, 0xfe, 53, 1, 1, 255]);
    with_ours(&m, |r| {
        let r = r.unwrap();
        assert_eq!(r.host_name(), Some(&[0xff, 0xfe][..]));
        assert!(r.message_type().is_some());
    });
    let t = theirs(&m).unwrap();
    assert_eq!(t.opts().msg_type(), None);
    // The differential check skips such options rather than failing.
    let c = support::checks::differential(&m);
    assert!(c.both_accepted);
}

#[test]
fn dhcproto_panics_on_some_malformed_lengths() {
    // dhcproto checks these option lengths with `debug_assert!`: a client sending them crashes a
    // debug build (a release build reads past or short of the value instead). recon reads each as `Other` and
    // goes on. The differential check keeps such inputs away from the oracle.
    use support::checks::{DHCPROTO_PANICS, dhcproto_would_panic};
    let cases: [(u8, &[u8]); 7] =
        [(80, &[1]), (81, &[0, 0]), (94, &[1, 2]), (152, &[1]), (153, &[1]), (154, &[1]), (155, &[1])];
    assert_eq!(cases.len(), DHCPROTO_PANICS.len());
    for (code, value) in cases {
        let mut opts = vec![53, 1, 1, code, value.len() as u8];
        opts.extend_from_slice(value);
        opts.push(255);
        let m = message(&opts);
        with_ours(&m, |r| {
            let r = r.unwrap();
            assert!(matches!(r.options[1], DhcpOption::Other { code: c, .. } if c == code), "{code}");
        });
        assert!(dhcproto_would_panic(&Packet::new_checked(&m).unwrap()));
        let panicked = std::panic::catch_unwind(|| theirs(&m)).is_err();
        assert!(panicked, "dhcproto no longer panics on option {code} {value:?}: drop it from DHCPROTO_PANICS");
    }
}

#[test]
fn dhcproto_normalises_what_it_types() {
    // RFC 2132 boolean options (19, 20, 27, ...) should hold 0 or 1. recon carries the octet it
    // received; dhcproto decodes it to a bool and re-encodes 0 for anything but 1.
    let m = message(&[53, 1, 2, 27, 1, 145, 255]);
    with_ours(&m, |r| assert_eq!(r.unwrap().options[1], DhcpOption::Other { code: 27, data: &[145] }));
    let t = theirs(&m).unwrap();
    assert_eq!(t.opts().get(v4::OptionCode::AllSubnetsLocal), Some(&v4::DhcpOption::AllSubnetsLocal(false)));
}

#[test]
fn client_arch_is_a_list() {
    // RFC 4578, section 2.1: option 93 is a list of architectures, the first the one the client
    // boots as. recon keeps the list; dhcproto decodes one u16 and drops the rest.
    let m = message(&[53, 1, 1, 93, 4, 0, 7, 0, 16, 255]);
    with_ours(&m, |r| {
        let archs: Vec<u16> = r.unwrap().client_arch().unwrap().iter().map(|a| a.0).collect();
        assert_eq!(archs, [7, 16]);
    });
    let t = theirs(&m).unwrap();
    assert_eq!(
        t.opts().get(v4::OptionCode::ClientSystemArchitecture),
        Some(&v4::DhcpOption::ClientSystemArchitecture(v4::Architecture::from(7)))
    );
}

#[test]
fn relay_sub_options_keep_order_and_repeats() {
    // RFC 3046 sub-options are a sequence and a server echoes option 82 as it came (section
    // 2.2). recon keeps the octets; dhcproto decodes into a map, so a repeated sub-option code
    // keeps one value and the order becomes code order.
    let m = message(&[53, 1, 1, 82, 10, 2, 2, b'r', b'1', 1, 2, b'c', b'1', 1, 0, 255]);
    with_ours(&m, |r| {
        let r = r.unwrap();
        let info = r.relay_agent_info().unwrap();
        assert_eq!(info.raw(), &[2, 2, b'r', b'1', 1, 2, b'c', b'1', 1, 0]);
        assert_eq!(info.circuit_id(), Some(&b"c1"[..]));
    });
    let t = theirs(&m).unwrap();
    let mut enc = Vec::new();
    use dhcproto::{Encodable, Encoder};
    t.opts().get(v4::OptionCode::RelayAgentInformation).unwrap().encode(&mut Encoder::new(&mut enc)).unwrap();
    assert_ne!(&enc[2..], &[2, 2, b'r', b'1', 1, 2, b'c', b'1', 1, 0], "dhcproto now keeps relay sub-options as sent");
}
