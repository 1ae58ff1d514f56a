//! The master's DNS answer (RFC 1035) to any datagram: no panic; an answer fits the buffer,
//! carries the query's id and is a response.
#![no_main]

use std::net::Ipv4Addr;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut out = [0u8; 512];
    let lookup = |name: &str| (name == "recon" || name == "bang").then_some(Ipv4Addr::new(10, 0, 0, 1));
    if let Ok(n) = agent::serve::dns::answer(data, lookup, &mut out) {
        assert!(n >= 12 && n <= out.len());
        assert_eq!(out[..2], data[..2], "the query's id");
        assert!(out[2] & 0x80 != 0, "QR set");
    }
});
