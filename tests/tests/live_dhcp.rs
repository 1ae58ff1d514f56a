//! Live DHCP from real clients no one here wrote: busybox udhcpc and ISC dhclient get leases
//! from dnsmasq inside namespaces this test makes; tcpdump captures the exchange; recon's codec
//! and `recon dump` must read every message of it.

use std::time::Duration;

use netboot_proto::capture::Capture;
use netboot_proto::dhcpv4::{MessageType, Packet, Repr};
use recon_tests::{Netns, program, recon_bin, require_root, run, scratch_dir, veth, wait_for};

/// Stops the process named by a pid file, if it still runs, when dropped.
struct PidFile(std::path::PathBuf);

impl Drop for PidFile {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(&self.0) {
            let pid = pid.trim();
            if std::path::Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::process::Command::new("kill").arg(pid).status();
            }
        }
    }
}

#[test]
fn udhcpc_and_dhclient_exchanges_decode_and_round_trip() {
    require_root();
    let dir = scratch_dir("live-dhcp");
    let dnsmasq = program("dnsmasq", "dnsmasq-base");
    let tcpdump = program("tcpdump", "tcpdump");
    let udhcpc = program("busybox", "busybox-static");
    let dhclient = program("dhclient", "isc-dhcp-client");

    let srv = Netns::new("recon-srv");
    let cli = Netns::new("recon-cli");
    veth(&srv, "srv0", &cli, "cli0");
    srv.exec_ok(&["ip", "addr", "add", "10.77.0.1/24", "dev", "srv0"]);

    let cap = dir.join("live.pcap");
    let dump_log = dir.join("tcpdump.log");
    let capture = srv.spawn(
        &[
            tcpdump.to_str().unwrap(),
            "-i",
            "srv0",
            "-U",
            "--immediate-mode",
            "-n",
            "-w",
            cap.to_str().unwrap(),
            "udp port 67 or udp port 68",
        ],
        &dump_log,
    );
    assert!(
        wait_for(Duration::from_secs(10), || std::fs::read_to_string(&dump_log)
            .is_ok_and(|l| l.contains("listening on"))),
        "tcpdump did not start"
    );
    let leases = dir.join("dnsmasq.leases");
    let server = srv.spawn(
        &[
            dnsmasq.to_str().unwrap(),
            "--no-daemon",
            "--conf-file=/dev/null",
            "--port=0",
            "--interface=srv0",
            "--bind-interfaces",
            "--dhcp-range=10.77.0.50,10.77.0.99,255.255.255.0,1h",
            "--dhcp-authoritative",
            "--no-ping",
            &format!("--dhcp-leasefile={}", leases.display()),
            "--log-dhcp",
            "--log-facility=-",
        ],
        &dir.join("dnsmasq.log"),
    );
    std::thread::sleep(Duration::from_millis(300));

    // busybox udhcpc: one lease, then quit without releasing; -s /bin/true leaves the link alone.
    cli.exec_ok(&[udhcpc.to_str().unwrap(), "udhcpc", "-i", "cli0", "-n", "-q", "-f", "-t", "5", "-s", "/bin/true"]);
    // dhclient: a lease, then a release, with its own files and a script that only sets the
    // address on the namespace's link (the host's dhclient-script would edit /etc/resolv.conf,
    // which namespaces share).
    let lf = dir.join("dhclient.leases");
    let pf = dir.join("dhclient.pid");
    let script = dir.join("dhclient-script");
    std::fs::write(
        &script,
        "#!/bin/sh\ncase \"$reason\" in\n  BOUND|RENEW|REBIND|REBOOT) ip addr add \"$new_ip_address/$new_subnet_mask\" dev \"$interface\" ;;\n  RELEASE|STOP|EXPIRE|FAIL) ip addr flush dev \"$interface\" ;;\nesac\nexit 0\n",
    )
    .unwrap();
    run(std::process::Command::new("chmod").arg("755").arg(&script));
    let dh = |extra: &[&str]| {
        let mut argv = vec![dhclient.to_str().unwrap(), "-v", "-sf", script.to_str().unwrap()];
        argv.extend_from_slice(&["-lf", lf.to_str().unwrap(), "-pf", pf.to_str().unwrap()]);
        argv.extend_from_slice(extra);
        argv.push("cli0");
        argv.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    // -1: one attempt; on success dhclient goes to the background and writes its pid file, which
    // the guard uses to stop it if the test ends early.
    let _daemon = PidFile(pf.clone());
    let get = dh(&["-1"]);
    cli.exec_ok(&get.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(std::fs::read_to_string(&lf).is_ok_and(|l| l.contains("fixed-address")), "dhclient got no lease");
    // -r: release the lease and stop the running client (found by its pid file).
    let rel = dh(&["-r"]);
    cli.exec_ok(&rel.iter().map(String::as_str).collect::<Vec<_>>());
    let dnsmasq_log = dir.join("dnsmasq.log");
    assert!(
        wait_for(Duration::from_secs(10), || std::fs::read_to_string(&dnsmasq_log)
            .is_ok_and(|l| l.contains("DHCPRELEASE"))),
        "dnsmasq saw no release"
    );
    // tcpdump hands each packet over at once (--immediate-mode) and writes it (-U); a moment
    // for the last one to reach the file.
    std::thread::sleep(Duration::from_millis(500));
    capture.interrupt(Duration::from_secs(10)).expect("tcpdump stops");
    drop(server);

    let bytes = std::fs::read(&cap).expect("capture file");
    let mut seen = Vec::new();
    let mut vendor = Vec::new();
    for frame in Capture::new(&bytes).expect("pcap").frames() {
        let frame = frame.expect("frame");
        let Some(udp) = frame.udp() else { continue };
        let packet = Packet::new_checked(udp.payload).unwrap_or_else(|e| panic!("frame {}: {e}", frame.number));
        let mut scratch = vec![0u8; udp.payload.len()];
        let repr = Repr::parse(&packet, &mut scratch).unwrap_or_else(|e| panic!("frame {}: {e}", frame.number));
        // Round trip: what recon emits parses back to the same message.
        let mut out = vec![0u8; repr.buffer_len()];
        repr.emit(&mut out).expect("emit");
        let p2 = Packet::new_checked(&out).expect("emitted packet");
        let mut scratch2 = vec![0u8; out.len()];
        assert_eq!(Repr::parse(&p2, &mut scratch2).expect("parse emitted"), repr, "frame {}", frame.number);
        seen.push(repr.message_type().expect("message type"));
        if let Some(v) = repr.vendor_class() {
            vendor.push(String::from_utf8_lossy(v.raw).into_owned());
        }
        if repr.message_type() == Some(MessageType::Ack) {
            assert!(repr.yiaddr.octets()[..3] == [10, 77, 0] && (50..=99).contains(&repr.yiaddr.octets()[3]));
        }
    }
    let count = |t: MessageType| seen.iter().filter(|&&s| s == t).count();
    // Two clients: two DISCOVER/OFFER/REQUEST/ACK rounds, and dhclient's RELEASE.
    assert!(count(MessageType::Discover) >= 2 && count(MessageType::Offer) >= 2, "{seen:?}");
    assert!(count(MessageType::Request) >= 2 && count(MessageType::Ack) >= 2, "{seen:?}");
    assert_eq!(count(MessageType::Release), 1, "{seen:?}");
    assert!(vendor.iter().any(|v| v.starts_with("udhcp ")), "udhcpc's vendor class: {vendor:?}");

    // The binary decodes the same file, one block per message.
    let out = run(std::process::Command::new(recon_bin()).arg("dump").arg(&cap));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert_eq!(text.matches("DHCP ACK (reply)").count(), count(MessageType::Ack), "{text}");
    assert_eq!(text.matches("DHCP RELEASE (request)").count(), 1, "{text}");
    assert!(text.contains("Vendor-Class (60)") && text.contains("\"udhcp "), "{text}");
    assert!(
        text.trim_end().ends_with(&format!("{} frames: {} DHCP, 0 malformed DHCP, 0 other", seen.len(), seen.len())),
        "{text}"
    );
}
