//! `recon dump` as an operator runs it, on real captures.

use std::path::PathBuf;
use std::process::Command;

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/pcap").join(rel)
}

fn recon(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_recon")).args(args).output().expect("run recon");
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn decodes_a_real_bios_pxe_boot() {
    let (code, out, err) = recon(&["dump".as_ref(), fixture("netboot/usec.pcap").as_os_str()]);
    assert_eq!(code, 0, "{err}");
    // The PXE ROM's DISCOVER, as netboot's expected decode and tcpdump describe it.
    assert!(out.contains("DHCP DISCOVER (request), length 548, xid 0x9b4e0557, secs 8, flags [broadcast]"), "{out}");
    assert!(out.contains(
        "Vendor-Class (60), length 32: \"PXEClient:Arch:00000:UNDI:002001\" (PXE, arch x86 BIOS (0), UNDI 2.1)"
    ));
    assert!(out.contains("Client-Arch (93), length 2: x86 BIOS (0)"));
    // The boot-server exchange on port 4011 is DHCP too; the TFTP requests are not.
    assert!(out.contains("192.168.16.12:4011 > 192.168.16.10:4011: DHCP REQUEST"));
    assert!(out.trim_end().ends_with("9 frames: 7 DHCP, 0 malformed DHCP, 2 other"), "{out}");
}

#[test]
fn decodes_real_ipxe_and_uefi_clients() {
    let (code, out, err) = recon(&["dump".as_ref(), fixture("lab/uefi-pxe-ipxe.pcap").as_os_str()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"PXEClient:Arch:00007:UNDI:003000\" (PXE, arch x64 UEFI (7), UNDI 3.0)"), "{out}");
    assert!(out.contains("User-Class (77), length 4: \"iPXE\" (raw)"));
    assert!(out.contains("iPXE (175)") && out.contains("(iPXE 1.0.0)"));
}

#[test]
fn malformed_dhcp_is_shown_and_counted_not_fatal() {
    let (code, out, _) = recon(&["dump".as_ref(), fixture("tcpdump/bootp_asan.pcap").as_os_str()]);
    assert_eq!(code, 0);
    assert!(out.contains("DHCP malformed, length 48 (truncated capture): message truncated: 48 octets, the header and cookie need 240"), "{out}");
    assert!(out.trim_end().ends_with("1 frames: 0 DHCP, 1 malformed DHCP, 0 other"));
    let (_, out, _) = recon(&["dump".as_ref(), fixture("tcpdump/dhcp-rfc4388.pcap").as_os_str()]);
    assert!(out.contains("bad magic cookie 83.99.53.1 (want 99.130.83.99)"), "{out}");
}

#[test]
fn reads_pcapng() {
    let (code, out, _) = recon(&["dump".as_ref(), fixture("tcpdump/dhcp-option-108.pcapng").as_os_str()]);
    assert_eq!(code, 0);
    assert!(out.contains("2025-03-18 09:43:45.393317 0.0.0.0:68 > 255.255.255.255:67: DHCP DISCOVER"), "{out}");
    assert!(out.contains("Domain-Name-Server (6), length 8: 31.130.229.6,31.130.229.7"));
}

#[test]
fn bad_files_are_clear_errors() {
    let (code, _, err) = recon(&["dump".as_ref(), "/nonexistent.pcap".as_ref()]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent.pcap: No such file or directory"), "{err}");
    let (code, _, err) =
        recon(&["dump".as_ref(), PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml").as_os_str()]);
    assert_eq!(code, 2);
    assert!(err.contains("not a pcap or pcapng file"), "{err}");
    let (code, _, err) = recon(&["dump".as_ref()]);
    assert_eq!(code, 2);
    assert!(err.contains("no capture files given"), "{err}");
    let (code, _, err) = recon(&["frobnicate".as_ref()]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown command \"frobnicate\""), "{err}");
}
