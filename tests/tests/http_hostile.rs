//! Hostile HTTP clients against `recon httpd`, in network namespaces this test makes: one address
//! holding connections open cannot take the slots other nodes need (`--max-per-source`), as
//! nginx's `limit_conn` and Kea's per-client limits do for the same attack; stalled uploads hold
//! files under `<data>/incoming/`, not the master's memory, and keep no other node's upload out
//! (the body budget, `--body-budget`, is taken only to decode a body that has arrived whole);
//! and a body cut off mid-way, or left by a killed master, leaves nothing behind.

mod http_common;

use std::sync::Mutex;
use std::time::Duration;

use http_common::{Lab, SERVER};
use inventory::model::{Inventory, SCHEMA};
use recon_tests::wait_for;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn stats(lab: &Lab) -> serde_json::Value {
    let r = lab.curl(&["/api/v1/stats"]);
    assert_eq!(r.status, 200);
    serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["http"].clone()
}

/// The script's line that starts with `k`.
fn line(out: &str, k: &str) -> String {
    out.lines().find(|l| l.starts_with(k)).unwrap_or_else(|| panic!("{k} in {out}")).to_owned()
}

#[test]
fn one_address_holding_connections_leaves_the_others_theirs() {
    let _s = serial();
    let lab = Lab::new("http-source", &["--max-per-source", "4", "--max-connections", "16"], false);
    lab.file("ipxe.efi", 4096);
    // Another node's own address, 10.81.0.100 (a macvlan with its MAC in the client namespace).
    lab.node("52:54:00:00:00:71");
    let out = lab.python(
        &format!(
            r#"
import socket, time
def get(src=None):
    s = socket.create_connection(("{SERVER}", 80), timeout=10, source_address=(src, 0) if src else None)
    s.sendall(b"GET /ipxe.efi HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
    s.close()
    return data.split(b"\r\n")[0].decode() + " | " + data.split(b"\r\n\r\n", 1)[-1][:80].decode(errors="replace").strip()
held = [socket.create_connection(("{SERVER}", 80), timeout=10) for _ in range(4)]
time.sleep(0.5)
print("fifth:", get())
print("other:", get("10.81.0.100"))
for s in held:
    s.close()
time.sleep(1)
print("after:", get())
"#
        ),
        Duration::from_secs(40),
    );
    let line = |k: &str| line(&out, k);
    let fifth = line("fifth:");
    assert!(fifth.contains(" 503 "), "{out}\n{}", lab.log());
    assert!(fifth.contains("too many connections from this address"), "{out}");
    assert!(line("other:").contains(" 200 "), "another address is served: {out}\n{}", lab.log());
    assert!(line("after:").contains(" 200 "), "the address is served again once it closes: {out}");
    assert!(stats(&lab)["refused_source"].as_u64().unwrap() >= 1);
}

/// An inventory from `mac` of exactly `len` octets (JSON padded with whitespace).
fn padded_inventory(mac: &str, serial: &str, len: usize) -> Vec<u8> {
    let mut inv = Inventory { schema: SCHEMA, ..Inventory::default() };
    inv.run.agent_version = "test".into();
    inv.run.boot_mac = Some(mac.into());
    inv.system.serial = Some(serial.into());
    let mut body = serde_json::to_vec(&inv).unwrap();
    assert!(body.len() < len);
    body.resize(len, b' ');
    body
}

/// The files in `<data>/incoming/` and their sizes.
fn incoming(lab: &Lab) -> Vec<(String, u64)> {
    std::fs::read_dir(lab.data.join("incoming"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.metadata().map_or(0, |m| m.len())))
        .collect()
}

/// The master's resident memory, octets (VmRSS in /proc/PID/status).
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = line(&status, "VmRSS:").split_whitespace().nth(1).unwrap().parse().unwrap();
    kib << 10
}

fn stored_serial(lab: &Lab, mac: &str) -> Option<String> {
    let p = lab.data.join("nodes").join(mac.replace(':', "-")).join("inventory.json");
    let text = std::fs::read(p).ok()?;
    serde_json::from_slice::<Inventory>(&text).unwrap().system.serial
}

/// The Python helpers the upload scripts share: a request head and the response's head.
const PY_HTTP: &str = r#"
import os, socket, time
def head(mac, token, n=None, chunked=False):
    framing = "Transfer-Encoding: chunked" if chunked else "Content-Length: %d" % n
    return ("POST /api/v1/nodes/%s/inventory HTTP/1.1\r\nHost: m\r\nContent-Type: application/json\r\n"
            "Authorization: Bearer %s\r\n%s\r\n\r\n" % (mac, token, framing)).encode()
def answer(s):
    data = b""
    while b"\r\n\r\n" not in data:
        d = s.recv(65536)
        if not d:
            break
        data += d
    return data.split(b"\r\n\r\n")[0].decode().replace("\r\n", " | ")
"#;

#[test]
fn stalled_uploads_hold_disk_not_memory_and_keep_no_other_upload_out() {
    let _s = serial();
    // Each stalled upload sent 3,900,000 of its 4,000,000 octets: eight of them, one for each of
    // eight nodes, hold 31.2 MB, almost eight times the budget, which is just room for one body.
    // A second upload for a node whose first is still arriving is told 503 at once.
    const N: usize = 8;
    const LEN: usize = 4_000_000;
    const SENT: usize = 3_900_000;
    let lab = Lab::new("http-stall", &["--max-body", "4000000", "--body-budget", "4000000"], false);
    let (a, b) = ("52:54:00:00:00:72", "52:54:00:00:00:73");
    let (token_a, token_b) = (lab.token(a), lab.token(b));
    // Nodes A and seven more, each with its token.
    let stalled: Vec<(String, String)> = std::iter::once((a.to_owned(), token_a.clone()))
        .chain((1..N).map(|k| {
            let m = format!("52:54:00:00:01:{k:02x}");
            let t = lab.token(&m);
            (m, t)
        }))
        .collect();
    let nodes_py: String = stalled.iter().map(|(m, t)| format!("(\"{m}\", \"{t}\"), ")).collect();
    let from_b = lab.node(b);
    std::fs::write(lab.dir.join("a.json"), padded_inventory(a, "SN-STALLED", LEN)).unwrap();
    std::fs::write(lab.dir.join("b.json"), padded_inventory(b, "SN-OTHER", 100_000)).unwrap();
    let pid = lab.server.as_ref().unwrap().pid();
    assert_eq!(std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap().trim(), "recon");
    let before = rss(pid);
    let dir = lab.dir.display();
    // The stalled uploads come from node A's address; they wait for the test's word (a file),
    // then the first sends the rest of its body and the others close mid-body.
    let script = format!(
        r#"{PY_HTTP}
body = open("{dir}/a.json", "rb").read()
socks = []
for mac, token in [{nodes_py}]:
    s = socket.create_connection(("{SERVER}", 80), timeout=30, source_address=("10.81.0.100", 0))
    s.sendall(head(mac, token, len(body)) + body[:{SENT}])
    socks.append(s)
time.sleep(1)
again = socket.create_connection(("{SERVER}", 80), timeout=30, source_address=("10.81.0.100", 0))
again.sendall(head("{a}", "{token_a}", len(body)))
print("again:", answer(again), flush=True)
again.close()
print("sent", flush=True)
for _ in range(600):
    if os.path.exists("{dir}/release"):
        break
    time.sleep(0.1)
socks[0].sendall(body[{SENT}:])
print("first:", answer(socks[0]), flush=True)
for s in socks:
    s.close()
print("done", flush=True)
"#
    );
    let py = recon_tests::program("python3", "python3").display().to_string();
    let log = lab.dir.join("stalled.log");
    let mut client = lab.cli.spawn(&["timeout", "90", &py, "-c", &script], &log);
    let said = |k: &str| std::fs::read_to_string(&log).unwrap_or_default().lines().any(|l| l.starts_with(k));
    assert!(
        wait_for(Duration::from_secs(60), || said("sent") || client.try_wait().is_some()) && said("sent"),
        "the stalled uploads were not all taken: {}\n{}",
        std::fs::read_to_string(&log).unwrap_or_default(),
        lab.log()
    );
    // Every stalled body is in a file of its own, all but the last flush's worth.
    let on_disk = || incoming(&lab).iter().filter(|(_, n)| *n as usize >= SENT - 100_000).count();
    assert!(wait_for(Duration::from_secs(20), || on_disk() == N), "incoming/: {:?}\n{}", incoming(&lab), lab.log());
    let held: u64 = incoming(&lab).iter().map(|(_, n)| n).sum();
    let during = rss(pid);
    eprintln!(
        "{N} stalled uploads, {held} octets in incoming/; master RSS {} KiB before, {} KiB with them",
        before >> 10,
        during >> 10
    );
    // Generous: the stalled bodies in memory would be 31 MB more; a connection's buffers are
    // well under 200 KiB.
    assert!(
        during < before + (N * SENT / 4) as u64,
        "RSS grew by {} KiB with {N} stalled uploads of {SENT} octets",
        (during - before.min(during)) >> 10
    );
    // Meanwhile another node's upload lands.
    let at = format!("@{}", lab.dir.join("b.json").display());
    let url = format!("/api/v1/nodes/{b}/inventory");
    let auth = format!("Authorization: Bearer {token_b}");
    let r = lab.curl(&[
        "--interface",
        &from_b,
        "--data-binary",
        &at,
        "-H",
        "Content-Type: application/json",
        "-H",
        &auth,
        &url,
    ]);
    assert_eq!(r.status, 201, "{}\n{}", r.text(), lab.log());
    assert_eq!(stored_serial(&lab, b).as_deref(), Some("SN-OTHER"));
    assert_eq!(stats(&lab)["refused_budget"].as_u64(), Some(0));
    let again = line(&std::fs::read_to_string(&log).unwrap(), "again:");
    assert!(
        again.contains(" 503 ") && again.contains("Retry-After: 2"),
        "a second body for A while its first arrives: {again}"
    );
    // The first stalled upload completes and is stored; the others close mid-body, and their
    // files go.
    std::fs::write(lab.dir.join("release"), b"").unwrap();
    assert!(wait_for(Duration::from_secs(30), || client.try_wait().is_some()), "the client did not finish");
    let out = std::fs::read_to_string(&log).unwrap();
    assert!(line(&out, "first:").contains(" 201 "), "{out}\n{}", lab.log());
    assert!(said("done"), "{out}");
    assert_eq!(stored_serial(&lab, a).as_deref(), Some("SN-STALLED"));
    assert!(wait_for(Duration::from_secs(10), || incoming(&lab).is_empty()), "left: {:?}", incoming(&lab));
    // Seven closed mid-body, and the second one for A refused.
    assert_eq!(stats(&lab)["uploads_incomplete"].as_u64(), Some(N as u64));
}

#[test]
fn a_body_cut_off_midway_leaves_nothing_and_a_restart_clears_leftovers() {
    let _s = serial();
    let mut lab = Lab::new("http-cut", &["--max-body", "1000000"], false);
    // What a master killed mid-upload leaves: removed when the store opens again.
    lab.kill();
    let leftover = lab.data.join("incoming/52-54-00-00-00-74-1-0");
    std::fs::write(&leftover, vec![b' '; 300_000]).unwrap();
    lab.start();
    assert!(!leftover.exists(), "a leftover body survived the restart: {:?}", incoming(&lab));
    let mac = "52:54:00:00:00:74";
    let token = lab.token(mac);
    let data = lab.data.display();
    // Each body is cut off once the master has written 200,000 of its octets to its file: by
    // Content-Length and chunked.
    let script = format!(
        r#"{PY_HTTP}
def cut(framing, sent):
    s = socket.create_connection(("{SERVER}", 80), timeout=10, source_address=("10.81.0.100", 0))
    s.sendall(framing + sent)
    seen = []
    for _ in range(100):
        seen = [os.path.getsize("{data}/incoming/" + f) for f in os.listdir("{data}/incoming")]
        if any(n >= 200000 for n in seen):
            break
        time.sleep(0.1)
    s.close()
    return seen
print("length:", cut(head("{mac}", "{token}", 1000000), b" " * 300000))
chunk = b" " * 0x10000
print("chunked:", cut(head("{mac}", "{token}", chunked=True), (b"10000\r\n" + chunk + b"\r\n") * 5))
"#
    );
    let out = lab.python(&script, Duration::from_secs(40));
    for k in ["length:", "chunked:"] {
        let seen = line(&out, k);
        assert!(
            seen.trim_start_matches(k)
                .trim()
                .trim_matches(['[', ']'])
                .split(',')
                .any(|n| n.trim().parse::<u64>().is_ok_and(|n| n >= 200_000)),
            "the body was not written to incoming/ as it arrived: {out}\n{}",
            lab.log()
        );
    }
    assert!(wait_for(Duration::from_secs(10), || incoming(&lab).is_empty()), "left: {:?}", incoming(&lab));
    assert_eq!(stored_serial(&lab, mac), None, "nothing stored");
    assert_eq!(stats(&lab)["uploads_incomplete"].as_u64(), Some(2));
}
