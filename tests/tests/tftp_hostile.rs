//! `recon tftpd` against hostile clients, in network namespaces this test makes: a flood of
//! read requests asking for `timeout=255` from many addresses and ports, clients that ask and
//! never acknowledge, and one address asking for more than its share of the transfer slots. Each
//! time a real client (tftp-hpa) must still get undionly.kpxe.
//!
//! The hostile client is a small Python script with plain UDP sockets, bound to addresses added
//! to the client namespace's link (10.235.1.0/24, standing in for spoofed sources); it keeps its
//! sockets open and unread, so the server gets no ICMP port unreachable that would end its
//! transfers early. Waits are bounded and generous; nothing here asserts a speed.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use recon_tests::{Netns, Proc, program, recon_bin, require_root, scratch_dir, veth, wait_for};

/// One lab at a time: the tests share two cores.
static SERIAL: Mutex<()> = Mutex::new(());

const SERVER: &str = "10.235.0.1";
const CLIENT: &str = "10.235.0.2";
/// The size of Debian's undionly.kpxe.
const FILE_LEN: usize = 74_213;
/// The server's idle limit and per-address cap (agent/src/serve/tftp.rs).
const IDLE_LIMIT_SECS: f64 = 15.0;
const PER_SOURCE_LIMIT: usize = 8;

/// Sends one RRQ from each of COUNT sockets bound to ADDR (for every ADDR:COUNT), reads the
/// first reply on each for LISTEN seconds, prints what came back, then holds the sockets open
/// (never acknowledging) for HOLD seconds.
const HOSTILE: &str = r#"
import json, select, socket, sys, time
server, name, opts, spec, listen, hold = sys.argv[1:7]
rrq = b"\x00\x01" + name.encode() + b"\x00octet\x00"
for pair in filter(None, opts.split(",")):
    k, v = pair.split("=")
    rrq += k.encode() + b"\x00" + v.encode() + b"\x00"
socks = {}
for item in spec.split(","):
    addr, n = item.split(":")
    for _ in range(int(n)):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((addr, 0))
        socks[s.fileno()] = s
for s in socks.values():
    s.sendto(rrq, (server, 69))
poll = select.poll()
for fd in socks:
    poll.register(fd, select.POLLIN)
first = {}
end = time.time() + float(listen)
while len(first) < len(socks) and time.time() < end:
    for fd, _ in poll.poll(max(1, int((end - time.time()) * 1000))):
        if fd not in first:
            first[fd] = socks[fd].recv(65536)
            poll.unregister(fd)
report = {"sent": len(socks), "answered": len(first), "oack": 0, "oack_timeout": 0, "data": 0, "error": 0}
for p in first.values():
    if p[:2] == b"\x00\x06":
        report["oack"] += 1
        names = p[2:].split(b"\x00")[0::2]
        report["oack_timeout"] += any(n.lower() == b"timeout" for n in names)
    elif p[:2] == b"\x00\x03":
        report["data"] += 1
    elif p[:2] == b"\x00\x05":
        report["error"] += 1
print("hostile: " + json.dumps(report), flush=True)
time.sleep(float(hold))
"#;

struct Lab {
    // Processes first: they are killed before the namespaces go.
    hostile: Vec<Proc>,
    _server: Proc,
    dir: PathBuf,
    file: Vec<u8>,
    cli: Netns,
    _srv: Netns,
}

impl Lab {
    /// `recon tftpd` with `extra` arguments in one namespace, the clients in another, and
    /// `hostile` addresses (10.235.1.10 and up) on the client's link.
    fn new(name: &str, extra: &[&str], hostile: usize) -> Lab {
        require_root();
        let dir = scratch_dir(name);
        let root = dir.join("root");
        std::fs::create_dir_all(&root).unwrap();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let file: Vec<u8> = (0..FILE_LEN)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        std::fs::write(root.join("undionly.kpxe"), &file).unwrap();
        let srv = Netns::new("recon-hsrv");
        let cli = Netns::new("recon-hcli");
        veth(&srv, "srv0", &cli, "cli0");
        srv.exec_ok(&["ip", "addr", "add", &format!("{SERVER}/24"), "dev", "srv0"]);
        cli.exec_ok(&["ip", "addr", "add", &format!("{CLIENT}/24"), "dev", "cli0"]);
        // The hostile addresses as /32s: the real client's source stays 10.235.0.2.
        let batch: String = (0..hostile).map(|i| format!("addr add 10.235.1.{}/32 dev cli0\n", 10 + i)).collect();
        let batch_file = dir.join("hostile.batch");
        std::fs::write(&batch_file, batch).unwrap();
        cli.exec_ok(&["ip", "-batch", batch_file.to_str().unwrap()]);
        srv.exec_ok(&["ip", "route", "add", "10.235.1.0/24", "dev", "srv0"]);
        let bin = recon_bin();
        let mut argv = vec![bin.to_str().unwrap(), "tftpd", "--root", root.to_str().unwrap(), "--listen", SERVER];
        argv.extend_from_slice(extra);
        let log = dir.join("recon.log");
        let server = srv.spawn(&argv, &log);
        assert!(
            wait_for(Duration::from_secs(10), || std::fs::read_to_string(&log).is_ok_and(|l| l.contains("serving"))),
            "recon tftpd did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        Lab { hostile: Vec::new(), _server: server, dir, file, cli, _srv: srv }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("recon.log")).unwrap_or_default()
    }

    /// Starts the hostile script: `spec` is "ADDR:COUNT,..."; `opts` "name=value,...". Returns
    /// its report, once it has listened `listen` seconds for the first replies.
    fn hostile(&mut self, spec: &str, opts: &str, listen: u32) -> serde_json::Value {
        let py = program("python3", "python3").display().to_string();
        let n = self.hostile.len();
        let log = self.dir.join(format!("hostile{n}.log"));
        let listen = listen.to_string();
        let argv = [py.as_str(), "-c", HOSTILE, SERVER, "undionly.kpxe", opts, spec, &listen, "300"];
        self.hostile.push(self.cli.spawn(&argv, &log));
        let read = || std::fs::read_to_string(&log).unwrap_or_default();
        assert!(wait_for(Duration::from_secs(60), || read().contains("hostile: ")), "hostile client: {}", read());
        let text = read();
        let line = text.lines().find_map(|l| l.strip_prefix("hostile: ")).unwrap();
        serde_json::from_str(line).unwrap()
    }

    /// tftp-hpa fetches undionly.kpxe, trying again until it has the file intact or `limit`
    /// passes; returns whether it got it, and how many tries it took.
    fn fetch(&self, limit: Duration) -> (bool, u32) {
        let tftp = program("tftp", "tftp-hpa").display().to_string();
        let out = self.dir.join("got.kpxe");
        let start = Instant::now();
        let mut tries = 0;
        while start.elapsed() < limit {
            tries += 1;
            let _ = std::fs::remove_file(&out);
            let _ = self
                .cli
                .command(&["timeout", "30", &tftp, "-m", "binary", SERVER, "-c", "get", "undionly.kpxe"])
                .arg(&out)
                .output()
                .expect("tftp runs");
            if std::fs::read(&out).is_ok_and(|d| d == self.file) {
                return (true, tries);
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        (false, tries)
    }
}

/// The server's "expired" lines: the transfers dropped at a limit, with how long each ran.
fn expired(log: &str) -> Vec<(String, f64)> {
    log.lines()
        .filter_map(|l| {
            let (head, rest) = l.split_once(": expired after ")?;
            let peer = head.rsplit("tftp: ").next()?.split_whitespace().next()?.to_owned();
            let secs = rest.split_whitespace().next()?.parse().ok()?;
            Some((peer, secs))
        })
        .collect()
}

#[test]
fn a_flood_asking_for_timeout_255_does_not_lock_out_a_real_client() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // The default cap (256 transfers); 300 requests from 50 addresses, 6 ports each (under the
    // per-address cap, so only the timeout clamp and the idle limit free the slots).
    let mut lab = Lab::new("tftp-flood", &[], 50);
    let spec: Vec<String> = (0..50).map(|i| format!("10.235.1.{}:6", 10 + i)).collect();
    let report = lab.hostile(&spec.join(","), "timeout=255,tsize=0", 5);
    eprintln!("hostile: {report}");
    assert_eq!(report["sent"], 300);
    let answered = report["answered"].as_u64().unwrap();
    assert!(answered >= 200, "the flood did not fill the slots: {report}");
    assert_eq!(report["oack"].as_u64(), Some(answered), "{report}");
    assert_eq!(report["oack_timeout"], 0, "timeout=255 was acknowledged: {report}");
    // Every slot is taken: the real client waits, then is served once the flood's transfers
    // reach their idle limit (with timeout=255 honoured they would hold for over 8 minutes).
    let (got, tries) = lab.fetch(Duration::from_secs(90));
    let log = lab.log();
    assert!(got, "tftp-hpa did not get undionly.kpxe within 90 s of the flood:\n{log}");
    eprintln!("served after {tries} tries");
    assert!(log.contains(&format!("dropping a request from {CLIENT}:")), "the slots were never full: {log}");
    assert!(log.contains(&format!("tftp: {CLIENT}:")) && log.contains(&format!("{FILE_LEN} B in")), "{log}");
    // Every flood transfer ends at the idle limit, none earlier. A transfer sends its OACK as
    // it starts, so the OACKs count them (the requests past the cap were dropped by the server
    // or, in a burst this size, by the kernel when the request socket's buffer was full).
    let started = usize::try_from(answered).unwrap();
    assert!(wait_for(Duration::from_secs(60), || expired(&lab.log()).len() == started), "{}", lab.log());
    let log = lab.log();
    assert!(expired(&log).iter().all(|(p, s)| p.starts_with("10.235.1.") && *s >= IDLE_LIMIT_SECS - 0.1), "{log}");
    assert!(!log.contains("failed after"), "{log}");
}

#[test]
fn clients_that_never_acknowledge_free_their_slots_at_the_idle_limit() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // Four slots, and retries that alone would hold a silent transfer for about 13 minutes.
    let mut lab = Lab::new("tftp-silent", &["--max-transfers", "4", "--retries", "100"], 1);
    let report = lab.hostile("10.235.1.10:4", "", 3);
    eprintln!("hostile: {report}");
    assert_eq!((report["answered"].as_u64(), report["data"].as_u64()), (Some(4), Some(4)), "{report}");
    let (got, tries) = lab.fetch(Duration::from_secs(60));
    let log = lab.log();
    assert!(got, "the silent clients kept every slot for 60 s:\n{log}");
    eprintln!("served after {tries} tries");
    assert!(log.contains(&format!("4 transfers running, dropping a request from {CLIENT}:")), "{log}");
    let gone = expired(&log);
    assert_eq!(gone.len(), 4, "{log}");
    assert!(gone.iter().all(|(p, s)| p.starts_with("10.235.1.10:") && *s >= IDLE_LIMIT_SECS - 0.1), "{log}");
    assert_eq!(
        log.matches("slot freed: no acknowledgement moved the transfer on for 15 s").count(),
        4,
        "the reason is not in the log: {log}"
    );
}

#[test]
fn one_address_cannot_take_more_than_its_share() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // Ten slots; one address asks for twenty transfers and acknowledges none.
    let mut lab = Lab::new("tftp-share", &["--max-transfers", "10"], 1);
    let report = lab.hostile("10.235.1.10:20", "", 3);
    eprintln!("hostile: {report}");
    assert_eq!(report["sent"], 20);
    assert_eq!(report["answered"].as_u64(), Some(PER_SOURCE_LIMIT as u64), "{report}");
    assert_eq!(report["error"], 0, "requests over the cap are dropped, not refused: {report}");
    // Another address gets its file while those eight still run (they would expire after 15 s).
    let (got, tries) = lab.fetch(Duration::from_secs(60));
    let log = lab.log();
    assert!(got, "{log}");
    eprintln!("served after {tries} tries");
    let limited = format!("10.235.1.10 has {PER_SOURCE_LIMIT} transfers running, dropping a request");
    assert_eq!(log.matches(&limited).count(), 20 - PER_SOURCE_LIMIT, "{log}");
    assert!(!log.contains("transfers running, dropping a request from 10.235.0.2"), "{log}");
}
