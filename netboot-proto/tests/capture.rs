//! The capture reader against netboot's expected frames, tcpdump's pcapng file, and hand-built
//! files for the link layers and failures the fixtures lack.

mod support;

use netboot_proto::capture::{Capture, CaptureError, LinkType};
use support::{capture_files, fixtures};

/// Frames of a netboot `.parsed` file: (nanoseconds since the epoch, wire length, bytes).
fn parsed_frames(text: &str) -> Vec<(u128, u32, Vec<u8>)> {
    text.split("Timestamp:")
        .skip(1)
        .map(|rest| format!("Timestamp:{rest}"))
        .map(|block| {
            let field = |name: &str| {
                let start = block.find(name).unwrap_or_else(|| panic!("{name}")) + name.len();
                block[start..].split(',').next().unwrap().trim().to_owned()
            };
            let bytes_start = block.find("[]byte{").unwrap() + "[]byte{".len();
            let bytes_end = block[bytes_start..].find('}').unwrap() + bytes_start;
            let bytes = block[bytes_start..bytes_end]
                .split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(|x| u8::from_str_radix(x.trim_start_matches("0x"), 16).unwrap())
                .collect();
            (field("Timestamp:").parse().unwrap(), field("Length:").parse().unwrap(), bytes)
        })
        .collect()
}

#[test]
fn pcap_usec_and_nsec_match_netboots_expected_frames() {
    for name in ["usec", "nsec"] {
        let dir = fixtures().join("pcap/netboot");
        let bytes = std::fs::read(dir.join(format!("{name}.pcap"))).unwrap();
        let expected = parsed_frames(&std::fs::read_to_string(dir.join(format!("{name}.parsed"))).unwrap());
        assert_eq!(expected.len(), 9, "{name}.parsed");
        let frames: Vec<_> = Capture::new(&bytes).unwrap().frames().map(Result::unwrap).collect();
        assert_eq!(frames.len(), expected.len());
        for (f, (ts, len, data)) in frames.iter().zip(&expected) {
            let ns = u128::from(f.time.0) * 1_000_000_000 + u128::from(f.time.1);
            assert_eq!(ns, *ts, "{name} frame {} timestamp", f.number);
            assert_eq!(f.orig_len, *len);
            assert_eq!(f.data, &data[..]);
            assert_eq!(f.link, LinkType::ETHERNET);
        }
        // Frame 6 is the PXE boot-server REQUEST to port 4011.
        let u = frames[5].udp().unwrap();
        assert_eq!((u.src.port(), u.dst.port()), (4011, 4011));
        assert!(!u.truncated);
    }
}

#[test]
fn pcapng_frames_match_tcpdump() {
    // tcpdump's dhcp-option-108.out: two frames at 2025-03-18 09:43:45.393317 and .399056,
    // UDP lengths 300 and 323.
    let bytes = std::fs::read(fixtures().join("pcap/tcpdump/dhcp-option-108.pcapng")).unwrap();
    let frames: Vec<_> = Capture::new(&bytes).unwrap().frames().map(Result::unwrap).collect();
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[0].time, (1_742_291_025, 393_317_000));
    assert_eq!(frames[1].time.1, 399_056_000);
    let lens: Vec<usize> = frames.iter().map(|f| f.udp().unwrap().payload.len()).collect();
    assert_eq!(lens, [300, 323]);
    assert_eq!(frames[1].udp().unwrap().src.to_string(), "10.56.0.2:67");
}

#[test]
fn every_fixture_capture_reads_to_the_end() {
    for path in capture_files() {
        let bytes = std::fs::read(&path).unwrap();
        let capture = Capture::new(&bytes).unwrap();
        let mut n = 0;
        for f in capture.frames() {
            f.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            n += 1;
        }
        assert!(n > 0, "{}", path.display());
    }
}

/// A little-endian microsecond pcap with the given link type and frames.
fn pcap(link: u32, frames: &[&[u8]]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    f.extend_from_slice(&[2, 0, 4, 0]);
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&65535u32.to_le_bytes());
    f.extend_from_slice(&link.to_le_bytes());
    for (i, data) in frames.iter().enumerate() {
        f.extend_from_slice(&(i as u32).to_le_bytes());
        f.extend_from_slice(&500_000u32.to_le_bytes());
        f.extend_from_slice(&(data.len() as u32).to_le_bytes());
        f.extend_from_slice(&(data.len() as u32).to_le_bytes());
        f.extend_from_slice(data);
    }
    f
}

/// IPv4 + UDP 10.0.0.1:68 -> 10.0.0.2:67 carrying `payload`.
fn ipv4_udp(payload: &[u8]) -> Vec<u8> {
    let total = 28 + payload.len();
    let mut p = vec![0x45, 0, (total >> 8) as u8, total as u8, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
    let ulen = 8 + payload.len();
    p.extend_from_slice(&[0, 68, 0, 67, (ulen >> 8) as u8, ulen as u8, 0, 0]);
    p.extend_from_slice(payload);
    p
}

#[test]
fn link_layers_lead_to_the_same_udp_payload() {
    let ip = ipv4_udp(b"hello");
    let mut vlan = vec![0xff; 12];
    vlan.extend_from_slice(&[0x81, 0x00, 0x00, 0x0a, 0x08, 0x00]);
    vlan.extend_from_slice(&ip);
    let mut sll = vec![0; 14];
    sll.extend_from_slice(&[0x08, 0x00]);
    sll.extend_from_slice(&ip);
    let mut sll2 = vec![0x08, 0x00];
    sll2.extend_from_slice(&[0; 18]);
    sll2.extend_from_slice(&ip);
    let mut null = 2u32.to_le_bytes().to_vec();
    null.extend_from_slice(&ip);
    for (link, frame) in [(1, &vlan), (113, &sll), (276, &sll2), (101, &ip), (0, &null)] {
        let file = pcap(link, &[frame]);
        let f = Capture::new(&file).unwrap().frames().next().unwrap().unwrap();
        let u = f.udp().unwrap_or_else(|| panic!("link type {link}"));
        assert_eq!(u.payload, b"hello", "link type {link}");
        assert_eq!(u.dst.port(), 67);
        assert_eq!(f.time, (0, 500_000_000));
    }
}

#[test]
fn ethernet_padding_and_short_captures_are_told_apart() {
    let mut padded = vec![0xff; 12];
    padded.extend_from_slice(&[0x08, 0x00]);
    padded.extend_from_slice(&ipv4_udp(b"x"));
    padded.extend_from_slice(&[0; 20]);
    let file = pcap(1, &[&padded]);
    let u = Capture::new(&file).unwrap().frames().next().unwrap().unwrap().udp().unwrap();
    assert_eq!((u.payload, u.truncated), (&b"x"[..], false));
    let mut short = vec![0xff; 12];
    short.extend_from_slice(&[0x08, 0x00]);
    short.extend_from_slice(&ipv4_udp(b"longer payload"));
    short.truncate(short.len() - 4);
    let file = pcap(1, &[&short]);
    let u = Capture::new(&file).unwrap().frames().next().unwrap().unwrap().udp().unwrap();
    assert_eq!((u.payload, u.truncated), (&b"longer pay"[..], true));
}

#[test]
fn broken_files_are_errors_not_panics() {
    assert_eq!(Capture::new(b"GIF8").unwrap_err(), CaptureError::UnknownFormat { magic: *b"GIF8" });
    assert_eq!(Capture::new(b"").unwrap_err(), CaptureError::Truncated { offset: 0 });
    let mut file = pcap(1, &[&[1, 2, 3, 4]]);
    file.truncate(file.len() - 2);
    let frames: Vec<_> = Capture::new(&file).unwrap().frames().collect();
    assert_eq!(frames, [Err(CaptureError::Truncated { offset: 24 })]);
    // Every truncation of every fixture ends in a clean error or a clean end.
    for path in capture_files() {
        let bytes = std::fs::read(&path).unwrap();
        for n in (0..bytes.len()).step_by((bytes.len() / 400).max(7)) {
            if let Ok(c) = Capture::new(&bytes[..n]) {
                for f in c.frames().flatten() {
                    let _ = f.udp();
                }
            }
        }
    }
}
