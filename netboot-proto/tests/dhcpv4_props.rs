//! Property tests: arbitrary `Repr`s round-trip through emit and parse; arbitrary bytes, shaped
//! bytes and mutated real captures never make the codec panic, and the differential check
//! holds on them.

mod support;

use std::net::Ipv4Addr;

use netboot_proto::dhcpv4::{DhcpOption, Error, Flags, HardwareType, MIN_MAX_LEN, Op, OptionList, Packet, Repr};
use proptest::prelude::*;
use support::{all_dhcp_datagrams, checks};

/// Raw material for a `Repr`: the option values are owned here and borrowed by the `Repr`.
#[derive(Debug, Clone)]
struct Material {
    op: u8,
    htype: u8,
    hlen: u8,
    hops: u8,
    xid: u32,
    secs: u16,
    flags: u16,
    addrs: [[u8; 4]; 4],
    chaddr: [u8; 16],
    sname: Vec<u8>,
    file: Vec<u8>,
    options: Vec<(u8, Vec<u8>)>,
}

impl Material {
    fn repr(&self) -> Repr<'_> {
        let mut options = OptionList::new();
        for (code, data) in &self.options {
            options.push(DhcpOption::from_wire(*code, data)).expect("capacity");
        }
        Repr {
            op: Op::from(self.op),
            htype: HardwareType::from(self.htype),
            hlen: self.hlen,
            hops: self.hops,
            xid: self.xid,
            secs: self.secs,
            flags: Flags(self.flags),
            ciaddr: Ipv4Addr::from(self.addrs[0]),
            yiaddr: Ipv4Addr::from(self.addrs[1]),
            siaddr: Ipv4Addr::from(self.addrs[2]),
            giaddr: Ipv4Addr::from(self.addrs[3]),
            chaddr: self.chaddr,
            sname: &self.sname,
            file: &self.file,
            options,
        }
    }
}

/// Option values that are often well formed for their code: typed variants get exercised, not
/// only `Other`.
fn option_value(code: u8) -> BoxedStrategy<Vec<u8>> {
    let fixed = |n: usize| proptest::collection::vec(any::<u8>(), n).boxed();
    match code {
        1 | 28 | 50 | 51 | 54 | 58 | 59 => prop_oneof![3 => fixed(4), 1 => proptest::collection::vec(any::<u8>(), 0..8)].boxed(),
        53 => prop_oneof![3 => fixed(1), 1 => fixed(2)].boxed(),
        57 => prop_oneof![3 => fixed(2), 1 => fixed(3)].boxed(),
        3 | 6 => (1usize..6).prop_flat_map(|n| proptest::collection::vec(any::<u8>(), n * 4)).boxed(),
        93 => (1usize..4).prop_flat_map(|n| proptest::collection::vec(any::<u8>(), n * 2)).boxed(),
        94 => fixed(3),
        97 => prop_oneof![(fixed(16)).prop_map(|g| [vec![0], g].concat()), fixed(17)].boxed(),
        _ => prop_oneof![8 => proptest::collection::vec(any::<u8>(), 0..40), 1 => proptest::collection::vec(any::<u8>(), 200..600)]
            .boxed(),
    }
}

fn material() -> impl Strategy<Value = Material> {
    let codes =
        proptest::sample::subsequence((1u8..=254).filter(|c| *c != 52).collect::<Vec<_>>(), 0..24).prop_shuffle();
    let options = codes.prop_flat_map(|codes| {
        codes.into_iter().map(|c| option_value(c).prop_map(move |v| (c, v))).collect::<Vec<_>>()
    });
    let name = |max: usize| prop_oneof![3 => Just(Vec::new()), 1 => proptest::collection::vec(1u8..=255, 0..=max)];
    (
        (any::<u8>(), any::<u8>(), 0u8..=16, any::<u8>(), any::<u32>(), any::<u16>(), any::<u16>()),
        any::<[[u8; 4]; 4]>(),
        any::<[u8; 16]>(),
        name(64),
        name(128),
        options,
    )
        .prop_map(|((op, htype, hlen, hops, xid, secs, flags), addrs, chaddr, sname, file, options)| Material {
            op,
            htype,
            hlen,
            hops,
            xid,
            secs,
            flags,
            addrs,
            chaddr,
            sname,
            file,
            options,
        })
}

/// A valid header and cookie followed by option-shaped bytes: pads, ends, overloads, lengths
/// that run past the end.
fn shaped_packet() -> impl Strategy<Value = Vec<u8>> {
    let option = prop_oneof![
        Just(vec![0u8]),
        Just(vec![255u8]),
        (1u8..=3).prop_map(|v| vec![52, 1, v]),
        (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..20)).prop_map(|(c, d)| {
            let mut o = vec![c, d.len() as u8];
            o.extend(d);
            o
        }),
        (any::<u8>(), any::<u8>()).prop_map(|(c, l)| vec![c, l]),
    ];
    (proptest::collection::vec(any::<u8>(), 236), 0u8..=16, proptest::collection::vec(option, 0..30)).prop_map(
        |(mut header, hlen, opts)| {
            header[2] = hlen;
            header.extend_from_slice(&[99, 130, 83, 99]);
            header.extend(opts.concat());
            header
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512),
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::Direct(
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/proptest-regressions/dhcpv4_props.txt"),
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_reprs_round_trip(m in material()) {
        let repr = m.repr();
        let len = repr.buffer_len();
        let mut buf = vec![0xa5u8; len + 4];
        prop_assert_eq!(repr.emit(&mut buf), Ok(len));
        prop_assert!(buf[len..].iter().all(|&b| b == 0xa5));
        let p = Packet::new_checked(&buf[..len]).unwrap();
        let mut scratch = vec![0u8; len];
        let back = Repr::parse(&p, &mut scratch).unwrap();
        prop_assert_eq!(&back, &repr);
        // And again through the bytes-level checks, limits included.
        checks::roundtrip(&buf[..len]);
    }

    #[test]
    fn arbitrary_reprs_fit_the_smallest_limit_or_say_so(m in material()) {
        let repr = m.repr();
        match repr.buffer_len_within(MIN_MAX_LEN) {
            Ok(len) => {
                prop_assert!(len <= MIN_MAX_LEN);
                let mut buf = vec![0u8; len];
                prop_assert_eq!(repr.emit_within(MIN_MAX_LEN, &mut buf), Ok(len));
                let p = Packet::new_checked(&buf).unwrap();
                let mut scratch = vec![0u8; len];
                prop_assert_eq!(Repr::parse(&p, &mut scratch).unwrap(), repr);
            }
            Err(Error::TooLong { need, .. }) => prop_assert!(need > MIN_MAX_LEN),
            Err(e) => prop_assert!(false, "unexpected {}", e),
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1500)) {
        checks::parse(&bytes);
        checks::roundtrip(&bytes);
        checks::differential(&bytes);
    }

    #[test]
    fn shaped_bytes_never_panic_and_round_trip(bytes in shaped_packet()) {
        checks::parse(&bytes);
        checks::roundtrip(&bytes);
        checks::differential(&bytes);
    }
}

#[test]
fn mutated_captures_never_panic_and_round_trip() {
    // Every real datagram, each octet flipped in turn to three values: deterministic, and it
    // reaches every field and option boundary of every capture.
    let mut runs = 0;
    for d in all_dhcp_datagrams() {
        let mut bytes = d.payload.clone();
        for i in 0..bytes.len() {
            let orig = bytes[i];
            for v in [0u8, 0xff, orig.wrapping_add(1)] {
                bytes[i] = v;
                checks::parse(&bytes);
                checks::roundtrip(&bytes);
                checks::differential(&bytes);
                runs += 1;
            }
            bytes[i] = orig;
        }
        // And every truncation.
        for n in 0..bytes.len() {
            checks::parse(&bytes[..n]);
            checks::roundtrip(&bytes[..n]);
        }
    }
    assert!(runs > 100_000, "{runs}");
}
