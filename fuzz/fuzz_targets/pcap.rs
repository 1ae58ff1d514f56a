//! The pcap and pcapng reader on any file: no panic, frames and their UDP payloads lie within it.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(c) = netboot_proto::capture::Capture::new(data) else { return };
    for f in c.frames().take(10_000) {
        let Ok(f) = f else { break };
        if let Some(u) = f.udp() {
            assert!(u.payload.len() <= f.data.len());
            let _ = (u.src, u.dst, u.truncated);
        }
        if let Some(ip) = f.ipv4() {
            assert!(ip.len() <= f.data.len());
        }
    }
});
