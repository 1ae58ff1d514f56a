//! The production interlock (agent/src/runtime/guard.rs): `recon serve --dhcp auto` that found
//! no other DHCP server at start, and so serves full DHCP, stops answering DHCP at the first sign
//! that the segment is not an isolated rack, and says so on its console, log and board:
//! - a foreign DHCP server (dnsmasq) that appears 30 s after the master started;
//! - a foreign server that answers only the clients it knows (so ignores every probe), seen when
//!   a known client is answered;
//! - an IPv6 router advertisement.
//!
//! `--dhcp full` (the operator's explicit choice) goes on serving and only warns.
//!
//! Network: one switch namespace (a bridge with no address) joining namespaces made here for the
//! master, the foreign server and the clients; private addresses only.

use std::path::Path;
use std::time::Duration;

use recon_tests::{Netns, Proc, program, recon_bin, require_root, scratch_dir, wait_for};

const MASTER: &str = "10.241.0.1";

/// The segment: a switch, the master on it, and further namespaces plugged in on demand.
struct Segment {
    switch: Netns,
    master: Netns,
}

impl Segment {
    fn new() -> Segment {
        let switch = Netns::new("il-sw");
        switch.bridge("br0");
        let master = Netns::new("il-m");
        let s = Segment { switch, master };
        s.plug_ns(s.master.name(), "m0");
        s
    }

    /// Plugs interface `iface` of namespace `ns` into the switch.
    fn plug_ns(&self, ns: &str, iface: &str) {
        static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let port = format!("p{n}");
        let tmp = format!("il{}x{n}", std::process::id() % 100_000);
        let run = |args: &[&str]| recon_tests::run(std::process::Command::new("ip").args(args));
        run(&["link", "add", &tmp, "type", "veth", "peer", "name", &format!("{tmp}p")]);
        run(&["link", "set", &tmp, "netns", ns, "name", iface]);
        run(&["link", "set", &format!("{tmp}p"), "netns", self.switch.name(), "name", &port]);
        self.switch.exec_ok(&["ip", "link", "set", &port, "master", "br0", "up"]);
        recon_tests::run(std::process::Command::new("ip").args(["-n", ns, "link", "set", iface, "up"]));
    }

    fn plug(&self, prefix: &str, iface: &str) -> Netns {
        let ns = Netns::new(prefix);
        self.plug_ns(ns.name(), iface);
        ns
    }
}

fn serve(seg: &Segment, dir: &Path, extra: &[&str]) -> Proc {
    let boot = dir.join("boot");
    std::fs::create_dir_all(&boot).unwrap();
    for f in ["undionly.kpxe", "ipxe.efi"] {
        std::fs::write(boot.join(f), b"not really iPXE").unwrap();
    }
    let log = dir.join("serve.log");
    let bin = recon_bin();
    let data = dir.join("data");
    let mut argv = vec![
        bin.to_str().unwrap(),
        "serve",
        "--interface",
        "m0",
        "--address",
        "10.241.0.1/24",
        "--boot",
        boot.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--no-board",
    ];
    argv.extend_from_slice(extra);
    let p = seg.master.spawn(&argv, &log);
    assert!(
        wait_for(Duration::from_secs(30), || read(&log).contains("serving port 67")),
        "recon serve did not start: {}",
        read(&log)
    );
    p
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// busybox udhcpc on `iface` in `ns`: the server that gave the lease (its option 54), if any.
fn udhcpc(ns: &Netns, iface: &str, broadcast: bool, dir: &Path) -> Option<String> {
    let busybox = program("busybox", "busybox-static");
    // The script says what it was given and touches nothing.
    let script = dir.join("udhcpc.sh");
    std::fs::write(&script, "#!/bin/sh\n[ \"$1\" = bound ] && echo \"server=$serverid ip=$ip\"\nexit 0\n").unwrap();
    recon_tests::run(std::process::Command::new("chmod").arg("+x").arg(&script));
    let mut argv = vec![busybox.to_str().unwrap(), "udhcpc", "-i", iface, "-n", "-q", "-f", "-t", "4", "-T", "1"];
    if broadcast {
        argv.push("-B");
    }
    argv.extend(["-s", script.to_str().unwrap()]);
    let out = ns.command(&argv).output().expect("udhcpc");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines().find_map(|l| l.strip_prefix("server=").map(|r| r.split_whitespace().next().unwrap_or("").to_owned()))
}

fn dnsmasq(ns: &Netns, iface: &str, dir: &Path, extra: &[&str]) -> Proc {
    let dnsmasq = program("dnsmasq", "dnsmasq-base");
    let mut argv = vec![
        dnsmasq.to_str().unwrap().to_owned(),
        "--no-daemon".into(),
        "--conf-file=/dev/null".into(),
        "--port=0".into(),
        format!("--interface={iface}"),
        "--bind-interfaces".into(),
        "--dhcp-range=10.241.0.200,10.241.0.240,255.255.255.0,1h".into(),
        "--no-ping".into(),
        format!("--dhcp-leasefile={}", dir.join("dnsmasq.leases").display()),
        "--log-dhcp".into(),
        "--log-facility=-".into(),
    ];
    argv.extend(extra.iter().map(|s| (*s).to_owned()));
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    ns.spawn(&argv, &dir.join("dnsmasq.log"))
}

const STOPPED: &str = "DHCP STOPPED on m0";

/// The master's fleet view, from its API, as the board reads it (from an address of the client's
/// own: DHCP clients here configure nothing).
fn alerts(client: &Netns) -> String {
    client.exec_ok(&["ip", "addr", "replace", "10.241.0.50/24", "dev", "c0"]);
    let out = client.command(&["curl", "-sS", "--max-time", "5", &format!("http://{MASTER}/api/v1/fleet")]).output();
    out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default()
}

#[test]
fn a_dhcp_server_that_appears_later_stops_recons_dhcp() {
    require_root();
    let dir = scratch_dir("interlock-later");
    let seg = Segment::new();
    let client = seg.plug("il-c", "c0");
    let foreign = seg.plug("il-f", "f0");
    foreign.exec_ok(&["ip", "addr", "add", "10.241.0.254/24", "dev", "f0"]);
    let _serve = serve(&seg, &dir, &["--reprobe", "10"]);
    let log = dir.join("serve.log");
    assert!(read(&log).contains("full mode"), "{}", read(&log));
    // An isolated segment: recon leases.
    assert_eq!(udhcpc(&client, "c0", false, &dir).as_deref(), Some(MASTER), "{}", read(&log));
    // 30 s later another DHCP server comes up.
    std::thread::sleep(Duration::from_secs(30));
    assert!(!read(&log).contains(STOPPED), "stopped before any other server was there: {}", read(&log));
    let _dnsmasq = dnsmasq(&foreign, "f0", &dir, &[]);
    assert!(
        wait_for(Duration::from_secs(40), || read(&log).contains(STOPPED)),
        "recon kept serving beside another DHCP server: {}",
        read(&log)
    );
    assert!(read(&log).contains("10.241.0.254"), "names the other server: {}", read(&log));
    // From now on only the other server answers.
    client.exec_ok(&["ip", "link", "set", "c0", "address", "02:00:00:41:00:02"]);
    assert_eq!(udhcpc(&client, "c0", false, &dir).as_deref(), Some("10.241.0.254"));
    let leases = read(&dir.join("data/leases.jsonl"));
    assert!(!leases.contains("02:00:00:41:00:02"), "recon leased after it stopped: {leases}");
    let fleet = alerts(&client);
    assert!(fleet.contains(STOPPED), "the board's alerts: {fleet}");
}

#[test]
fn a_server_that_answers_only_known_clients_is_seen_when_it_answers_one() {
    require_root();
    let dir = scratch_dir("interlock-known");
    let seg = Segment::new();
    let client = seg.plug("il-c", "c0");
    let foreign = seg.plug("il-f", "f0");
    foreign.exec_ok(&["ip", "addr", "add", "10.241.0.254/24", "dev", "f0"]);
    let known = "02:00:00:41:00:0a";
    client.exec_ok(&["ip", "link", "set", "c0", "address", known]);
    // Kea's and dnsmasq's "reservations only": unknown clients (every probe) get nothing.
    let _dnsmasq =
        dnsmasq(&foreign, "f0", &dir, &[&format!("--dhcp-host={known},10.241.0.210"), "--dhcp-ignore=tag:!known"]);
    let _serve = serve(&seg, &dir, &["--reprobe", "5"]);
    let log = dir.join("serve.log");
    assert!(read(&log).contains("full mode"), "the probe should not see it: {}", read(&log));
    // The known client asks (with the BROADCAST flag, as PXE ROMs do): the other server's answer
    // gives it away, whichever offer the client takes.
    let _ = udhcpc(&client, "c0", true, &dir);
    assert!(
        wait_for(Duration::from_secs(20), || read(&log).contains(STOPPED)),
        "recon did not notice the other server: {}",
        read(&log)
    );
}

#[test]
fn a_router_advertisement_stops_recons_dhcp_and_full_only_warns() {
    require_root();
    let py = program("python3", "python3");
    for (extra, stops) in [(&[][..], true), (&["--dhcp", "full"][..], false)] {
        let dir = scratch_dir("interlock-ra");
        let seg = Segment::new();
        let router = seg.plug("il-r", "r0");
        let client = seg.plug("il-c", "c0");
        let mut argv = vec!["--reprobe", "600"];
        argv.extend_from_slice(extra);
        let _serve = serve(&seg, &dir, &argv);
        let log = dir.join("serve.log");
        // An RA (RFC 4861, section 4.2) to all nodes, once a second for at most 20 s (the
        // link-local address needs DAD first).
        let ra = "import socket,struct,time\n\
                  s=socket.socket(socket.AF_INET6,socket.SOCK_RAW,socket.IPPROTO_ICMPV6)\n\
                  s.setsockopt(socket.IPPROTO_IPV6,socket.IPV6_MULTICAST_HOPS,255)\n\
                  i=socket.if_nametoindex('r0')\n\
                  s.setsockopt(socket.IPPROTO_IPV6,socket.IPV6_MULTICAST_IF,i)\n\
                  ra=struct.pack('!BBHBBHII',134,0,0,64,0,1800,0,0)\n\
                  for _ in range(20):\n\
                  \x20   try: s.sendto(ra,('ff02::1',0,0,i))\n\
                  \x20   except OSError: pass\n\
                  \x20   time.sleep(1)\n";
        let sender = router.spawn(&[py.to_str().unwrap(), "-c", ra], &dir.join("ra.log"));
        let want = if stops { STOPPED } else { "NOT ALONE on m0" };
        assert!(
            wait_for(Duration::from_secs(25), || read(&log).contains(want)),
            "no {want:?} after router advertisements: {}",
            read(&log)
        );
        assert!(read(&log).contains("a router advertises itself"), "{}", read(&log));
        drop(sender);
        let got = udhcpc(&client, "c0", false, &dir);
        if stops {
            assert_eq!(got, None, "recon still leases after a router advertised itself");
        } else {
            assert_eq!(got.as_deref(), Some(MASTER), "--dhcp full goes on serving");
        }
    }
}

/// An address someone on the segment already has is not taken (ARP probes, RFC 5227): `recon
/// serve --address` refuses to start and names who has it; a media-booted master whose default
/// address is taken serves from the next one.
#[test]
fn an_address_already_in_use_is_not_taken() {
    require_root();
    let dir = scratch_dir("interlock-arp");
    let seg = Segment::new();
    let host = seg.plug("il-h", "h0");
    host.exec_ok(&["ip", "addr", "add", "10.241.0.1/24", "dev", "h0"]);
    host.exec_ok(&["ip", "addr", "add", "10.213.0.1/16", "dev", "h0"]);
    let host_mac =
        String::from_utf8_lossy(&host.exec_ok(&["cat", "/sys/class/net/h0/address"]).stdout).trim().to_owned();

    // recon serve --address 10.241.0.1/24: refused.
    let boot = dir.join("boot");
    std::fs::create_dir_all(&boot).unwrap();
    std::fs::write(boot.join("undionly.kpxe"), b"x").unwrap();
    let bin = recon_bin();
    let out = seg
        .master
        .command(&[
            bin.to_str().unwrap(),
            "serve",
            "--interface",
            "m0",
            "--address",
            "10.241.0.1/24",
            "--boot",
            boot.to_str().unwrap(),
            "--data",
            dir.join("data").to_str().unwrap(),
            "--no-board",
        ])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "recon serve took an address in use: {said}");
    assert!(said.contains("10.241.0.1 IS ALREADY IN USE on m0 by") && said.contains(&host_mac), "{said}");
    let addrs = String::from_utf8_lossy(&seg.master.exec_ok(&["ip", "-4", "addr", "show", "m0"]).stdout).into_owned();
    assert!(!addrs.contains("10.241.0.1"), "{addrs}");

    // A media-booted master (recon agent, full DHCP): 10.213.0.1 is taken, it serves as .2.
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("sys/class/dmi/id")).unwrap();
    let log = dir.join("agent.log");
    let _agent = seg.master.spawn(
        &[
            bin.to_str().unwrap(),
            "agent",
            "--interface",
            "m0",
            "--boot",
            boot.to_str().unwrap(),
            "--data",
            dir.join("agent-data").to_str().unwrap(),
            "--root",
            root.to_str().unwrap(),
            "--cmdline",
            "recon.role=master recon.dhcp=full recon.poweroff=never",
        ],
        &log,
    );
    assert!(
        wait_for(Duration::from_secs(60), || read(&log).contains("serving port 67")),
        "the agent did not serve: {}",
        read(&log)
    );
    let t = read(&log);
    assert!(t.contains("10.213.0.1 IS ALREADY IN USE on m0"), "{t}");
    assert!(t.contains("serving as 10.213.0.2/16"), "{t}");
    let addrs = String::from_utf8_lossy(&seg.master.exec_ok(&["ip", "-4", "addr", "show", "m0"]).stdout).into_owned();
    assert!(addrs.contains("10.213.0.2/16") && !addrs.contains("10.213.0.1/"), "{addrs}");
}
