//! Shared by the integration tests: the capture fixtures and the checks the fuzz targets run.
// Each test binary uses a different part of this module.
#![allow(dead_code, unreachable_pub)]

pub mod checks;
pub mod tftp_checks;
pub mod tftp_sim;

use std::path::{Path, PathBuf};

use netboot_proto::capture::{Capture, Udp};

/// The repository's `tests/fixtures/` (its README says where each file came from).
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

/// Every capture file under `tests/fixtures/pcap`, sorted.
pub fn capture_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> =
            std::fs::read_dir(dir).expect("fixture dir").map(|e| e.expect("entry").path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out);
            } else if matches!(p.extension().and_then(|e| e.to_str()), Some("pcap" | "pcapng")) {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&fixtures().join("pcap"), &mut out);
    assert!(out.len() >= 15, "fixture captures missing: {out:?}");
    out
}

/// A UDP payload from a capture, with where it came from.
#[derive(Debug, Clone)]
pub struct Datagram {
    /// `dir/file.pcap#frame`.
    pub name: String,
    pub src_port: u16,
    pub dst_port: u16,
    pub payload: Vec<u8>,
    pub truncated: bool,
}

fn is_dhcp(u: &Udp<'_>) -> bool {
    [u.src.port(), u.dst.port()].iter().any(|p| matches!(p, 67 | 68 | 4011))
}

/// The DHCP datagrams (ports 67, 68, 4011) of one capture, in file order.
pub fn dhcp_datagrams(path: &Path) -> Vec<Datagram> {
    let bytes = std::fs::read(path).expect("read capture");
    let capture = Capture::new(&bytes).expect("capture format");
    let rel = path.strip_prefix(fixtures().join("pcap")).unwrap_or(path).display().to_string();
    let mut out = Vec::new();
    for frame in capture.frames() {
        let frame = frame.expect("capture frame");
        if let Some(u) = frame.udp().filter(is_dhcp) {
            out.push(Datagram {
                name: format!("{rel}#{}", frame.number),
                src_port: u.src.port(),
                dst_port: u.dst.port(),
                payload: u.payload.to_vec(),
                truncated: u.truncated,
            });
        }
    }
    out
}

/// Every DHCP datagram of every fixture capture.
pub fn all_dhcp_datagrams() -> Vec<Datagram> {
    capture_files().iter().flat_map(|p| dhcp_datagrams(p)).collect()
}
