//! `recon serve`'s DHCP against real clients no one here wrote: busybox udhcpc, ISC dhclient and
//! Kea's perfdhcp, and a foreign dnsmasq on the segment. Everything runs in namespaces this
//! test creates.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use recon_tests::{Netns, Proc, foreign_dnsmasq, program, recon_bin, require_root, run, scratch_dir, veth, wait_for};

/// A master in its own namespace, serving on `m0`.
struct Master {
    ns: Netns,
    data: PathBuf,
    boot: PathBuf,
    dir: PathBuf,
    proc: Option<Proc>,
    starts: usize,
}

impl Master {
    fn new(dir: &Path) -> Master {
        let ns = Netns::new("recon-m");
        let data = dir.join("data");
        let boot = dir.join("boot");
        std::fs::create_dir_all(&boot).unwrap();
        std::fs::write(boot.join("undionly.kpxe"), b"not really iPXE").unwrap();
        Master { ns, data, boot, dir: dir.to_owned(), proc: None, starts: 0 }
    }

    /// A master and a client namespace `client` on its segment (the client's end is `cli0`).
    fn with_client(dir: &Path, client: &str) -> (Master, Netns) {
        let m = Master::new(dir);
        let cli = Netns::new(client);
        veth(&m.ns, "m0", &cli, "cli0");
        (m, cli)
    }

    fn start(&mut self, extra: &[&str]) {
        self.starts += 1;
        let log = self.log_path();
        let mut argv = vec![
            recon_bin().to_str().unwrap().to_owned(),
            "serve".into(),
            "--interface".into(),
            "m0".into(),
            "--address".into(),
            "10.78.0.1/24".into(),
            "--boot".into(),
            self.boot.to_str().unwrap().to_owned(),
            "--data".into(),
            self.data.to_str().unwrap().to_owned(),
        ];
        argv.extend(extra.iter().map(|s| (*s).to_owned()));
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        self.proc = Some(self.ns.spawn(&argv, &log));
        assert!(
            wait_for(Duration::from_secs(15), || std::fs::read_to_string(&log)
                .is_ok_and(|l| l.contains("serving port 67"))),
            "recon serve did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join(format!("master-{}.log", self.starts))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// SIGKILL: nothing gets a chance to flush; only what was fsynced survives.
    fn kill(&mut self) {
        if let Some(p) = self.proc.take() {
            run(Command::new("kill").args(["-KILL", &p.pid().to_string()]));
            drop(p);
        }
    }

    /// The global event log (boot nodes also have their own timelines).
    fn events(&self) -> String {
        std::fs::read_to_string(self.data.join("events.jsonl")).unwrap_or_default()
    }
}

fn udhcpc_lease(cli: &Netns, iface: &str) -> String {
    let busybox = program("busybox", "busybox-static");
    let out = cli.exec_ok(&[
        busybox.to_str().unwrap(),
        "udhcpc",
        "-i",
        iface,
        "-n",
        "-q",
        "-f",
        "-t",
        "5",
        "-s",
        "/bin/true",
    ]);
    let text = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    let ip = text
        .lines()
        .find_map(|l| l.split("lease of ").nth(1).and_then(|r| r.split_whitespace().next()))
        .unwrap_or_else(|| panic!("udhcpc got no lease: {text}"));
    ip.to_owned()
}

/// dhclient with its own lease and pid files and a script that only touches the namespace's
/// link (the host's dhclient-script would edit /etc/resolv.conf, which namespaces share).
struct Dhclient {
    bin: PathBuf,
    script: PathBuf,
    lf: PathBuf,
    pf: PathBuf,
}

impl Dhclient {
    fn new(dir: &Path) -> Dhclient {
        let script = dir.join("dhclient-script");
        std::fs::write(
            &script,
            "#!/bin/sh\ncase \"$reason\" in\n  BOUND|RENEW|REBIND|REBOOT) ip addr add \"$new_ip_address/$new_subnet_mask\" dev \"$interface\" ;;\n  RELEASE|STOP|EXPIRE|FAIL|NAK) ip addr flush dev \"$interface\" ;;\nesac\nexit 0\n",
        )
        .unwrap();
        run(Command::new("chmod").arg("755").arg(&script));
        Dhclient {
            bin: program("dhclient", "isc-dhcp-client"),
            script,
            lf: dir.join("dhclient.leases"),
            pf: dir.join("dhclient.pid"),
        }
    }

    fn run(&self, ns: &Netns, extra: &[&str]) {
        let mut argv = vec![self.bin.to_str().unwrap(), "-v", "-sf", self.script.to_str().unwrap()];
        argv.extend_from_slice(&["-lf", self.lf.to_str().unwrap(), "-pf", self.pf.to_str().unwrap()]);
        argv.extend_from_slice(extra);
        argv.push("cli0");
        ns.exec_ok(&argv);
    }

    /// The last lease's fixed-address and server identifier.
    fn lease(&self) -> (String, String) {
        let text = std::fs::read_to_string(&self.lf).unwrap_or_default();
        let last = text.rsplit("lease {").next().unwrap_or("");
        let get = |k: &str| {
            last.lines()
                .find_map(|l| l.trim().strip_prefix(k))
                .map(|v| v.trim().trim_end_matches(';').to_owned())
                .unwrap_or_default()
        };
        (get("fixed-address"), get("option dhcp-server-identifier"))
    }
}

impl Drop for Dhclient {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(&self.pf) {
            let pid = pid.trim();
            if Path::new(&format!("/proc/{pid}")).exists() {
                let _ = Command::new("kill").arg(pid).status();
            }
        }
    }
}

#[test]
fn leases_survive_a_kill_releases_free_and_foreign_requests_are_naked() {
    require_root();
    let dir = scratch_dir("master-dhcp");
    let (mut m, cli) = Master::with_client(&dir, "recon-c");
    m.start(&["--dhcp", "full"]);

    let first = udhcpc_lease(&cli, "cli0");
    assert!(first.starts_with("10.78.0.") && first != "10.78.0.1", "{first}");
    // SIGKILL and restart: the binding was fsynced before the ACK, so it is still there.
    m.kill();
    m.start(&["--dhcp", "full"]);
    assert!(m.log().contains("journal lines replayed"), "{}", m.log());
    assert_eq!(udhcpc_lease(&cli, "cli0"), first, "same client, same address after a restart");
    // The leased node has a name in the master's DNS (node-<mac>, udhcpc sends no host name),
    // asked with dig; other names are refused.
    let mac = String::from_utf8(cli.exec_ok(&["cat", "/sys/class/net/cli0/address"]).stdout).unwrap();
    let name = format!("node-{}", mac.trim().replace(':', ""));
    let dig = |q: &str| {
        let out = cli.exec_ok(&["dig", "@10.78.0.1", "+time=2", "+tries=2", q, "A"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let cidr = format!("{first}/24");
    cli.exec_ok(&["ip", "addr", "add", &cidr, "dev", "cli0"]);
    let answer = dig(&name);
    let refused = dig("example.com");
    cli.exec_ok(&["ip", "addr", "del", &cidr, "dev", "cli0"]);
    assert!(answer.contains("status: NOERROR") && answer.contains(&first), "{name}: {answer}");
    assert!(refused.contains("status: REFUSED"), "{refused}");

    // dhclient: a client back from another network asks for its old address there (INIT-REBOOT
    // with a lease file naming 10.99.0.5): NAK, then it discovers and gets one of ours.
    let dh = Dhclient::new(&dir);
    std::fs::write(
        &dh.lf,
        "lease {\n  interface \"cli0\";\n  fixed-address 10.99.0.5;\n  option subnet-mask 255.255.255.0;\n  option dhcp-server-identifier 10.99.0.1;\n  renew 4 2037/01/01 00:00:00;\n  rebind 4 2037/01/01 00:00:00;\n  expire 4 2037/01/01 00:00:00;\n}\n",
    )
    .unwrap();
    dh.run(&cli, &["-1"]);
    let (ip, server) = dh.lease();
    assert!(ip.starts_with("10.78.0."), "dhclient lease {ip}");
    assert_eq!(server, "10.78.0.1");
    let events = m.events();
    assert!(
        events.contains("\"kind\":\"dhcp-nak\"") && events.contains("address not on this subnet"),
        "no NAK for the foreign request: {events}"
    );
    // RELEASE: journaled, and the address is free for someone else.
    dh.run(&cli, &["-r"]);
    assert!(
        wait_for(Duration::from_secs(10), || std::fs::read_to_string(m.data.join("leases.jsonl"))
            .is_ok_and(|j| j.contains("\"t\":\"release\"") && j.contains(&ip))),
        "no release journaled: {}",
        std::fs::read_to_string(m.data.join("leases.jsonl")).unwrap_or_default()
    );
    m.kill();
}

#[test]
fn perfdhcp_for_ten_seconds_without_errors() {
    require_root();
    let dir = scratch_dir("master-perfdhcp");
    let perfdhcp = program("perfdhcp", "kea-admin");
    let (mut m, cli) = Master::with_client(&dir, "recon-p");
    m.start(&["--dhcp", "full", "--lease", "600"]);
    cli.exec_ok(&["ip", "addr", "add", "10.78.0.2/24", "dev", "cli0"]);
    // 100 exchanges a second from 200 simulated clients for 10 s, bounded by timeout(1).
    let out = cli.exec_ok(&[
        "timeout",
        "40",
        perfdhcp.to_str().unwrap(),
        "-4",
        "-l",
        "cli0",
        "-r",
        "100",
        "-R",
        "200",
        "-p",
        "10",
    ]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let stat = |label: &str| -> Vec<u64> {
        text.lines()
            .filter_map(|l| l.trim().strip_prefix(label))
            .filter_map(|v| v.split_whitespace().next()?.parse().ok())
            .collect()
    };
    let sent = stat("sent packets:");
    let received = stat("received packets:");
    let drops = stat("drops:");
    assert_eq!(sent.len(), 2, "two exchanges (DO and RA): {text}");
    assert!(sent[0] >= 900, "DISCOVERs sent: {text}");
    assert_eq!(sent, received, "every DISCOVER and REQUEST answered: {text}");
    assert!(drops.iter().all(|&d| d == 0), "no drops: {text}");
    m.kill();
}

#[test]
fn auto_mode_defers_to_a_foreign_server_and_gives_no_addresses() {
    require_root();
    let dir = scratch_dir("master-auto");
    // A switch: a bridge in its own namespace, with the master, dnsmasq and the client on it.
    let sw = Netns::new("recon-sw");
    sw.bridge("br0");
    let mut m = Master::new(&dir);
    let other = Netns::new("recon-o");
    let cli = Netns::new("recon-c");
    for (ns, inner, port) in [(&m.ns, "m0", "p0"), (&other, "o0", "p1"), (&cli, "cli0", "p2")] {
        veth(ns, inner, &sw, port);
        sw.exec_ok(&["ip", "link", "set", port, "master", "br0"]);
    }
    other.exec_ok(&["ip", "addr", "add", "10.78.0.250/24", "dev", "o0"]);
    let _foreign = foreign_dnsmasq(&other, "o0", "10.78.0.200,10.78.0.240,255.255.255.0,1h", &dir);
    m.start(&["--dhcp", "auto", "--probe", "3"]);
    assert!(m.log().contains("ANOTHER DHCP SERVER (10.78.0.250)"), "{}", m.log());
    assert!(m.log().contains("DHCP Off") && m.log().contains("serves no DHCP here"), "{}", m.log());
    let dh = Dhclient::new(&dir);
    dh.run(&cli, &["-1"]);
    let (ip, server) = dh.lease();
    assert_eq!(server, "10.78.0.250", "the lease comes from dnsmasq");
    let last: u8 = ip.rsplit('.').next().unwrap().parse().unwrap();
    assert!((200..=240).contains(&last), "{ip}");
    let leases = std::fs::read_to_string(m.data.join("leases.jsonl")).unwrap_or_default();
    assert!(!leases.contains("bind"), "recon bound nothing: {leases}");
    m.kill();
}

/// `GET /api/v1/stats` from the client's namespace, parsed.
fn stats(cli: &Netns) -> serde_json::Value {
    let out = cli.exec_ok(&["curl", "-sS", "--max-time", "5", "http://10.78.0.1/api/v1/stats"]);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stats: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn garbage_is_dropped_counted_and_shown_in_the_stats() {
    require_root();
    let dir = scratch_dir("master-garbage");
    let (mut m, cli) = Master::with_client(&dir, "recon-g");
    m.start(&["--dhcp", "full"]);
    cli.exec_ok(&["ip", "addr", "add", "10.78.0.2/24", "dev", "cli0"]);
    // Datagrams no client would send, by bash's /dev/udp: to DHCP one shorter than a BOOTP
    // header and one of 300 zero octets (no magic cookie); to TFTP an opcode that does not
    // exist (RFC 1350 has 1-5, RFC 2347 6); to DNS three octets, short of a header.
    let send = |port: u16, printf: &str| {
        let script = format!("printf '{printf}' > /dev/udp/10.78.0.1/{port}");
        cli.exec_ok(&["bash", "-c", &script]);
    };
    send(67, "not a DHCP message");
    send(67, &"\\0".repeat(300));
    send(69, "\\0\\11junk\\0octet\\0");
    send(53, "abc");
    // The services still answer real clients afterwards.
    cli.exec_ok(&["ip", "addr", "flush", "dev", "cli0"]);
    let ip = udhcpc_lease(&cli, "cli0");
    cli.exec_ok(&["ip", "addr", "add", &format!("{ip}/24"), "dev", "cli0"]);
    // One request the HTTP server answers 404, counted before any stats request is: the stats
    // show the HTTP server's own counters as of the request, not including it.
    let out = cli.exec_ok(&["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://10.78.0.1/no-such-file"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "404");
    // Published every second; the HTTP server's own counters at once.
    let mut s = serde_json::Value::Null;
    let settled = wait_for(Duration::from_secs(5), || {
        s = stats(&cli);
        s["dhcp"]["replies"].as_u64() >= Some(2)
    });
    assert!(settled, "the lease's OFFER and ACK never showed: {s:#}");
    assert_eq!(s["dhcp"]["malformed"], 2, "{s:#}");
    assert_eq!(s["tftp"]["dropped"], 1, "{s:#}");
    assert_eq!(s["tftp"]["started"], 0, "{s:#}");
    assert_eq!((&s["dns"]["queries"], &s["dns"]["dropped"], &s["dns"]["answered"]), (&1.into(), &1.into(), &0.into()));
    assert!(s["http"]["requests"].as_u64() >= Some(1), "this request's predecessors: {s:#}");
    assert_eq!(s["http"]["client_errors"], 1, "the 404: {s:#}");
    assert_eq!(s["http"]["server_errors"], 0, "{s:#}");
    assert!(!m.log().contains("panicked"), "{}", m.log());
    m.kill();
}
