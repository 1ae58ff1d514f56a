//! A starved pool won back (issue 17): a flood of REQUESTs from made-up clients binds every
//! address of `recon serve`'s pool and DECLINEs some, then a real client (busybox udhcpc) asks.
//! The master ARP-probes the holders (RFC 5227 section 2.1.1), frees the addresses nobody
//! answers for and keeps the one a host on the segment really uses. Everything runs in
//! namespaces this test creates, on a bridge of its own, with private addresses.

use std::path::Path;
use std::time::{Duration, Instant};

use recon_tests::{Netns, Proc, program, recon_bin, require_root, scratch_dir, veth, wait_for};

/// The flood: for each of `count` addresses from `first`, a REQUEST in INIT-REBOOT form (no
/// server identifier: this master grants a free address to anyone who asks) from a made-up
/// client (client identifier and chaddr, the broadcast flag set), waiting for the ACK; then a
/// DECLINE of the last `declines` addresses by their clients. Prints the addresses ACKed.
const FLOOD: &str = r#"
import json, socket, struct, sys, time
iface, server, first, count, declines = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
s.bind(("0.0.0.0", 68))
s.settimeout(0.5)

def msg(kind, xid, mac, ip, server_id=None):
    head = struct.pack("!BBBBIHHIIII", 1, 1, 6, 0, xid, 0, 0x8000, 0, 0, 0, 0) + mac + bytes(10) + bytes(192)
    opts = bytes([53, 1, kind, 50, 4]) + socket.inet_aton(ip) + bytes([61, 7, 1]) + mac
    if server_id:
        opts += bytes([54, 4]) + socket.inet_aton(server_id)
    m = head + b"\x63\x82\x53\x63" + opts + b"\xff"
    return m + bytes(max(0, 300 - len(m)))

def kind_of(d):
    i = 240
    while i + 1 < len(d) and d[i] != 255:
        if d[i] == 0:
            i += 1
            continue
        if d[i] == 53:
            return d[i + 2]
        i += 2 + d[i + 1]
    return None

base = struct.unpack("!I", socket.inet_aton(first))[0]
acked, clients = [], []
for n in range(count):
    ip = socket.inet_ntoa(struct.pack("!I", base + n))
    mac = bytes([0x02, 0x00, 0x5E, 0x17, 0x00, n])
    xid = 0x5EED0000 + n
    clients.append((mac, ip))
    for attempt in range(6):
        s.sendto(msg(3, xid, mac, ip), ("255.255.255.255", 67))
        end = time.time() + 0.5
        got = None
        while time.time() < end and got is None:
            try:
                d, _ = s.recvfrom(1500)
            except socket.timeout:
                break
            if len(d) > 240 and d[0] == 2 and struct.unpack("!I", d[4:8])[0] == xid:
                got = (kind_of(d), socket.inet_ntoa(d[16:20]))
        if got is not None:
            if got[0] == 5:
                acked.append(got[1])
            break
for mac, ip in clients[count - declines:]:
    s.sendto(msg(4, 0x5EED1000, mac, ip, server), ("255.255.255.255", 67))
print(json.dumps({"acked": acked, "declined": [ip for _, ip in clients[count - declines:]]}))
"#;

/// Meanwhile, the holder asks for its configuration (DHCPINFORM, RFC 2131 section 3.4) every
/// 100 ms for `secs` and times each ACK: the DHCP loop must go on answering while a reclaim
/// round waits a second for ARP answers.
const INFORM: &str = r#"
import json, socket, struct, sys, time
iface, me, server, secs = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
s.bind(("0.0.0.0", 68))
s.settimeout(0.05)
mac = bytes.fromhex(open("/sys/class/net/%s/address" % iface).read().strip().replace(":", ""))
ciaddr = struct.unpack("!I", socket.inet_aton(me))[0]
took, n, end = [], 0, time.time() + secs
while time.time() < end:
    xid = 0x1F000000 + n
    n += 1
    head = struct.pack("!BBBBIHHIIII", 1, 1, 6, 0, xid, 0, 0, ciaddr, 0, 0, 0) + mac + bytes(10) + bytes(192)
    m = head + b"\x63\x82\x53\x63" + bytes([53, 1, 8, 255])
    start = time.time()
    s.sendto(m + bytes(300 - len(m)), (server, 67))
    while time.time() - start < 2:
        try:
            d, _ = s.recvfrom(1500)
        except socket.timeout:
            continue
        if len(d) > 240 and d[0] == 2 and struct.unpack("!I", d[4:8])[0] == xid:
            took.append(time.time() - start)
            break
    time.sleep(0.1)
print(json.dumps({"sent": n, "answered": len(took), "slowest": max(took, default=None)}))
"#;

/// busybox udhcpc on `iface`: at most `tries` DISCOVERs 2 s apart (bounded by timeout(1)); the
/// address leased, or what it said. Not exec_ok: udhcpc -n exits 1 with no lease, which the
/// callers report.
fn udhcpc(ns: &Netns, iface: &str, tries: u32, busybox: &std::path::Path) -> Result<String, String> {
    let (tries, limit) = (tries.to_string(), (3 * tries).max(60).to_string());
    let out = ns
        .command(&[
            "timeout",
            &limit,
            busybox.to_str().unwrap(),
            "udhcpc",
            "-i",
            iface,
            "-n",
            "-q",
            "-f",
            "-t",
            &tries,
            "-T",
            "2",
            "-s",
            "/bin/true",
        ])
        .output()
        .expect("udhcpc");
    let text = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.split("lease of ").nth(1).and_then(|r| r.split_whitespace().next()))
        .map(str::to_owned)
        .ok_or(text.clone())
}

fn stats(ns: &Netns) -> serde_json::Value {
    let out = ns.exec_ok(&["curl", "-sS", "--max-time", "5", "http://10.79.0.1/api/v1/stats"]);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stats: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// `recon serve` in `ns`, logging to `dir/<log>`.
fn start_master(ns: &Netns, dir: &Path, log: &str) -> Proc {
    let (boot, data, log) = (dir.join("boot"), dir.join("data"), dir.join(log));
    std::fs::create_dir_all(&boot).unwrap();
    std::fs::write(boot.join("undionly.kpxe"), b"not really iPXE").unwrap();
    let bin = recon_bin();
    let argv = [
        bin.to_str().unwrap(),
        "serve",
        "--interface",
        "m0",
        // A /29: the pool is 10.79.0.2-10.79.0.6, five addresses.
        "--address",
        "10.79.0.1/29",
        "--dhcp",
        "full",
        "--reclaim-after",
        "3",
        "--boot",
        boot.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ];
    let p = ns.spawn(&argv, &log);
    assert!(
        wait_for(Duration::from_secs(20), || std::fs::read_to_string(&log)
            .is_ok_and(|l| l.contains("serving port 67"))),
        "recon serve did not start: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    p
}

#[test]
fn a_pool_bound_and_declined_by_a_flood_is_reclaimed_for_a_real_client_but_a_live_holder_keeps_its_address() {
    require_root();
    let busybox = program("busybox", "busybox-static");
    let python = program("python3", "python3");
    let dir = scratch_dir("dhcp-reclaim");
    // A switch: the master, the flood, a host that really holds an address, the real client.
    let sw = Netns::new("recon-rsw");
    sw.bridge("br0");
    let (m, flood, holder, cli) =
        (Netns::new("recon-rm"), Netns::new("recon-rf"), Netns::new("recon-rh"), Netns::new("recon-rc"));
    for (ns, inner, port) in [(&m, "m0", "p0"), (&flood, "f0", "p1"), (&holder, "h0", "p2"), (&cli, "cli0", "p3")] {
        veth(ns, inner, &sw, port);
        sw.exec_ok(&["ip", "link", "set", port, "master", "br0"]);
    }
    let master = start_master(&m, &dir, "master.log");
    let log = || std::fs::read_to_string(dir.join("master.log")).unwrap_or_default();
    let journal = || std::fs::read_to_string(dir.join("data/leases.jsonl")).unwrap_or_default();

    // The flood binds all five addresses and declines two of them (quarantined for 600 s).
    let script = dir.join("flood.py");
    std::fs::write(&script, FLOOD).unwrap();
    let out = flood.exec_ok(&[
        "timeout",
        "60",
        python.to_str().unwrap(),
        script.to_str().unwrap(),
        "f0",
        "10.79.0.1",
        "10.79.0.2",
        "5",
        "2",
    ]);
    let flooded: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("flood: {e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(flooded["acked"], serde_json::json!(["10.79.0.2", "10.79.0.3", "10.79.0.4", "10.79.0.5", "10.79.0.6"]));
    assert!(
        wait_for(Duration::from_secs(5), || journal().matches("\"t\":\"decline\"").count() == 2),
        "the declines were not journaled: {}",
        journal()
    );
    // 10.79.0.2 is really in use: a host on the segment has it and answers ARP for it.
    holder.exec_ok(&["ip", "addr", "add", "10.79.0.2/29", "dev", "h0"]);
    // Past the minimum age (3 s) of every binding and decline.
    std::thread::sleep(Duration::from_secs(4));
    let inform = dir.join("inform.py");
    std::fs::write(&inform, INFORM).unwrap();
    let mut informs = holder.spawn(
        &["timeout", "30", python.to_str().unwrap(), inform.to_str().unwrap(), "h0", "10.79.0.2", "10.79.0.1", "3"],
        &dir.join("inform.log"),
    );

    // The real client: udhcpc, a DISCOVER every 2 s, at most 30 (60 s), bounded by timeout(1).
    let asked = Instant::now();
    let lease = udhcpc(&cli, "cli0", 30, &busybox);
    let took = asked.elapsed();
    let ip = lease.unwrap_or_else(|text| panic!("udhcpc got no lease: {text}\n{}", log()));
    eprintln!("the real client had {ip} {:.1} s after it first asked", took.as_secs_f64());
    assert!(took < Duration::from_secs(60), "{took:?}");
    // The holder's INFORMs, sent all through the round, were each answered at once.
    assert!(wait_for(Duration::from_secs(10), || informs.try_wait().is_some()), "inform.py did not end");
    let text = std::fs::read_to_string(dir.join("inform.log")).unwrap_or_default();
    let informed: serde_json::Value =
        serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("inform.py: {e}: {text}"));
    eprintln!("INFORMs through the reclaim round: {informed}");
    assert!(informed["sent"].as_u64() >= Some(10) && informed["answered"] == informed["sent"], "{informed}");
    assert!(informed["slowest"].as_f64() < Some(0.75), "the loop waited on the ARP probe: {informed}");
    assert!(["10.79.0.3", "10.79.0.4", "10.79.0.5", "10.79.0.6"].contains(&ip.as_str()), "{ip}");
    // It came of a reclaim, journaled (and fsynced) before the ACK that gave it out.
    let j = journal();
    let reclaimed = |a: &str| j.contains(&format!("{{\"t\":\"reclaim\",\"ip\":\"{a}\"}}"));
    assert!(reclaimed(&ip), "no reclaim of {ip}: {j}");
    let bind_after = j.rfind(&format!("\"ip\":\"{ip}\",\"expires\""));
    assert!(bind_after > j.find(&format!("{{\"t\":\"reclaim\",\"ip\":\"{ip}\"}}")), "{j}");
    // The holder that answered keeps its address; the silent ones, declined or not, were freed.
    assert!(!reclaimed("10.79.0.2"), "the live holder's address was reclaimed: {j}");
    for a in ["10.79.0.3", "10.79.0.4", "10.79.0.5", "10.79.0.6"] {
        assert!(reclaimed(a), "{a} not reclaimed: {j}");
    }
    let mut s = serde_json::Value::Null;
    let counted = wait_for(Duration::from_secs(5), || {
        s = stats(&m);
        s["dhcp"]["reclaimed"] == 4
    });
    assert!(counted, "{:#}", s["dhcp"]);
    assert_eq!((&s["dhcp"]["reclaim_probed"], &s["dhcp"]["reclaim_kept"]), (&5.into(), &1.into()), "{:#}", s["dhcp"]);
    assert!(s["dhcp"]["pool_exhausted"].as_u64() >= Some(1), "{:#}", s["dhcp"]);
    assert!(log().contains("reclaimed 4 nobody answered for"), "{}", log());
    assert!(!log().contains("panicked"), "{}", log());

    // A restart (SIGKILL: only what was fsynced counts) replays the reclaims: the three
    // addresses still free are free at once for a new client (the flood's namespace, with its
    // own MAC), with no full pool and no probe.
    drop(master);
    let _master = start_master(&m, &dir, "master-2.log");
    let log2 = std::fs::read_to_string(dir.join("master-2.log")).unwrap_or_default();
    assert!(log2.contains("12 journal lines replayed, 5 addresses known"), "{log2}");
    let second = udhcpc(&flood, "f0", 3, &busybox)
        .unwrap_or_else(|text| panic!("udhcpc got no lease after the restart: {text}"));
    assert!(
        ["10.79.0.3", "10.79.0.4", "10.79.0.5", "10.79.0.6"].contains(&second.as_str()) && second != ip,
        "{second}"
    );
    // Published every second: the OFFER and ACK show once they are.
    let mut s = serde_json::Value::Null;
    assert!(wait_for(Duration::from_secs(5), || {
        s = stats(&m);
        s["dhcp"]["replies"].as_u64() >= Some(2)
    }));
    assert_eq!(
        (&s["dhcp"]["journal_lines_skipped"], &s["dhcp"]["pool_exhausted"], &s["dhcp"]["reclaim_probed"]),
        (&0.into(), &0.into(), &0.into()),
        "{:#}",
        s["dhcp"]
    );
}
