//! TFTP packets: real captures no one here wrote (tcpdump's and zeek/spicy-tftp's traces, and
//! tftp-hpa, atftp, curl and OVMF against dnsmasq in our lab), round trips, and arbitrary bytes.

mod support;

use netboot_proto::capture::Capture;
use netboot_proto::tftp::{ErrorCode, Packet};
use proptest::prelude::*;
use support::{fixtures, tftp_checks};

/// Every UDP payload of a capture that is TFTP: the requests to port 69 and everything on the
/// transfer ports that follow them.
fn tftp_payloads(rel: &str) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(fixtures().join("pcap").join(rel)).unwrap();
    let mut ports = std::collections::HashSet::new();
    let mut out = Vec::new();
    for f in Capture::new(&bytes).unwrap().frames() {
        let f = f.unwrap();
        let Some(u) = f.udp() else { continue };
        let (s, d) = (u.src.port(), u.dst.port());
        if d == 69 {
            ports.insert(s);
        }
        if d == 69 || ports.contains(&s) || ports.contains(&d) {
            out.push(u.payload.to_vec());
        }
    }
    out
}

#[test]
fn real_transfers_parse_and_round_trip() {
    let mut kinds = std::collections::BTreeMap::new();
    for rel in [
        "tftp/tftp.pcap",
        "tftp/tftp_oack.pcap",
        "tftp/tftp_rrq.pcap",
        "tftp/tftp_wrq.pcap",
        "lab/tftp-clients.pcap",
        "lab/uefi-pxe-ipxe.pcap",
        "netboot/usec.pcap",
    ] {
        let payloads = tftp_payloads(rel);
        assert!(!payloads.is_empty(), "{rel}");
        for p in &payloads {
            let packet = Packet::parse(p).unwrap_or_else(|e| panic!("{rel}: {e}: {p:02x?}"));
            *kinds.entry(format!("{:?}", packet.opcode())).or_insert(0) += 1;
            tftp_checks::parse(p);
            tftp_checks::roundtrip(p);
        }
    }
    eprintln!("{kinds:?}");
    for k in ["Rrq", "Wrq", "Data", "Ack", "Oack", "Error"] {
        assert!(kinds.get(k).copied().unwrap_or(0) > 0, "no {k} in the captures: {kinds:?}");
    }
}

#[test]
fn what_real_clients_ask_for() {
    // OVMF's first read asks for tsize, blksize 1468 and windowsize 4; dnsmasq answers without
    // windowsize; OVMF then aborts with error 8 and asks again without tsize (lab capture).
    let p = tftp_payloads("lab/uefi-pxe-ipxe.pcap");
    let Packet::Rrq { filename, mode, options } = Packet::parse(&p[0]).unwrap() else {
        panic!("{:?}", Packet::parse(&p[0]))
    };
    assert_eq!(filename, b"ipxe.efi");
    assert!(mode.is_octet());
    let names: Vec<String> = options.iter().map(|o| String::from_utf8_lossy(o.name).into_owned()).collect();
    assert_eq!(names, ["tsize", "blksize", "windowsize"]);
    assert_eq!(options.get("windowsize").and_then(|o| o.number()), Some(4));
    let errors: Vec<ErrorCode> = p
        .iter()
        .filter_map(|b| match Packet::parse(b) {
            Ok(Packet::Error { code, .. }) => Some(code),
            _ => None,
        })
        .collect();
    assert_eq!(errors, [ErrorCode::OPTION_REFUSED]);
    // netboot's real BIOS PXE ROM: "boot" with tsize 0, then with blksize 1456.
    let p = tftp_payloads("netboot/usec.pcap");
    let Packet::Rrq { options, .. } = Packet::parse(&p[0]).unwrap() else { panic!() };
    assert_eq!(options.get("tsize").and_then(|o| o.number()), Some(0));
    let Packet::Rrq { options, .. } = Packet::parse(&p[1]).unwrap() else { panic!() };
    assert_eq!(options.get("blksize").and_then(|o| o.number()), Some(1456));
}

#[test]
fn tcpdumps_malformed_tftp_is_an_error_not_a_panic() {
    // tcpdump's tftp-heapoverflow.pcap: RRQ "00" and no mode (tcpdump prints [|tftp]).
    let bytes = std::fs::read(fixtures().join("pcap/tftp/tftp-heapoverflow.pcap")).unwrap();
    let f = Capture::new(&bytes).unwrap().frames().next().unwrap().unwrap();
    let u = f.udp().expect("udp");
    assert!(Packet::parse(u.payload).is_err(), "{:?}", Packet::parse(u.payload));
    tftp_checks::parse(u.payload);
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1024),
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::Direct(
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/proptest-regressions/tftp_codec.txt"),
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        tftp_checks::parse(&bytes);
        tftp_checks::roundtrip(&bytes);
        tftp_checks::transfer(&bytes);
    }

    #[test]
    fn shaped_requests_round_trip(
        op in 1u8..=6,
        name in proptest::collection::vec(1u8..=255, 0..40),
        mode in prop_oneof![Just(b"octet".to_vec()), Just(b"NETASCII".to_vec()), proptest::collection::vec(1u8..=255, 0..8)],
        opts in proptest::collection::vec((proptest::collection::vec(1u8..=255, 1..10), proptest::collection::vec(b'0'..=b'9', 0..6)), 0..6),
    ) {
        let mut b = vec![0, op];
        b.extend_from_slice(&name);
        b.push(0);
        b.extend_from_slice(&mode);
        b.push(0);
        for (k, v) in &opts {
            b.extend_from_slice(k);
            b.push(0);
            b.extend_from_slice(v);
            b.push(0);
        }
        tftp_checks::parse(&b);
        tftp_checks::roundtrip(&b);
    }

    #[test]
    fn sender_op_sequences_keep_their_invariants(bytes in proptest::collection::vec(any::<u8>(), 4..3000)) {
        tftp_checks::transfer(&bytes);
    }
}

/// tcpdump's TFTP lines: `TFTP, length N, RRQ "file" mode opt val ...` or `DATA block N`.
fn tcpdump_tftp_lines(rel: &str) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(fixtures().join("pcap").join(rel)).unwrap();
    text.lines()
        .filter_map(|l| l.split_once("TFTP, length ").map(|(_, rest)| rest))
        .map(|rest| {
            let (len, what) = rest.split_once(", ").expect("length, what");
            (len.parse().expect("length"), what.trim().to_owned())
        })
        .collect()
}

/// Our decode in tcpdump's words.
fn as_tcpdump(p: &Packet<'_>) -> String {
    let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match p {
        Packet::Rrq { filename, mode, options } | Packet::Wrq { filename, mode, options } => {
            let op = if matches!(p, Packet::Rrq { .. }) { "RRQ" } else { "WRQ" };
            let mut out = format!("{op} \"{}\" {}", s(filename), s(mode.0));
            for o in options.iter() {
                out.push_str(&format!(" {} {}", s(o.name), s(o.value)));
            }
            out
        }
        Packet::Data { block, .. } => format!("DATA block {block}"),
        Packet::Ack { block } => format!("ACK block {block}"),
        other => format!("{other:?}"),
    }
}

#[test]
fn decodes_agree_with_tcpdump() {
    // tcpdump -T tftp decodes every packet of tcpdump's own capture.
    let ours: Vec<(usize, String)> =
        tftp_payloads("tftp/tftp.pcap").iter().map(|b| (b.len(), as_tcpdump(&Packet::parse(b).unwrap()))).collect();
    assert_eq!(ours, tcpdump_tftp_lines("tftp/tftp-T.out"));
    // tcpdump 4.99.3 on our lab capture recognises the requests to port 69: tftp-hpa, atftp, curl.
    let ours: Vec<(usize, String)> = tftp_payloads("lab/tftp-clients.pcap")
        .iter()
        .filter_map(|b| match Packet::parse(b).unwrap() {
            p @ Packet::Rrq { .. } => Some((b.len(), as_tcpdump(&p))),
            _ => None,
        })
        .collect();
    let theirs: Vec<(usize, String)> =
        tcpdump_tftp_lines("lab/tftp-clients.pcap.txt").into_iter().filter(|(_, w)| w.starts_with("RRQ")).collect();
    assert_eq!(ours, theirs);
    assert_eq!(ours.len(), 3);
}
