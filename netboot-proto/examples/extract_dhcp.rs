//! Writes the DHCP payloads (UDP ports 67, 68, 4011) of capture files into a directory, one file
//! per datagram: how `fuzz/seeds/dhcpv4/` was made from the repository's `tests/fixtures/pcap/`.
//!
//! `cargo run -p netboot-proto --example extract_dhcp -- OUT_DIR FILE.pcap...`

use std::path::Path;

use netboot_proto::capture::Capture;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args.next().ok_or("usage: extract_dhcp OUT_DIR FILE...")?;
    std::fs::create_dir_all(&out)?;
    let mut written = 0;
    for file in args {
        let bytes = std::fs::read(&file)?;
        let stem = Path::new(&file).file_stem().and_then(|s| s.to_str()).unwrap_or("capture").to_owned();
        for frame in Capture::new(&bytes)?.frames() {
            let frame = frame?;
            let Some(udp) = frame.udp() else { continue };
            if [udp.src.port(), udp.dst.port()].iter().any(|p| matches!(p, 67 | 68 | 4011)) {
                std::fs::write(Path::new(&out).join(format!("{stem}-{}.bin", frame.number)), udp.payload)?;
                written += 1;
            }
        }
    }
    println!("{written} payloads written to {out}");
    Ok(())
}
