//! Hostile HTTP clients against `recon httpd`, in network namespaces this test makes: one address
//! holding connections open cannot take the slots other nodes need (`--max-per-source`), and
//! stalled uploads cannot hold more memory than the body budget (`--body-budget`): a body that
//! would go over it is told 503 with Retry-After, and lands once the budget is free again.
//! What nginx's `limit_conn` and Kea's per-client limits do for the same attacks.

mod http_common;

use std::sync::Mutex;
use std::time::Duration;

use http_common::{Lab, SERVER};
use inventory::model::{Inventory, SCHEMA};

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

#[test]
fn stalled_uploads_hold_no_more_than_the_body_budget() {
    let _s = serial();
    // Room for one body of up to 150,000 octets at a time.
    let lab = Lab::new("http-budget", &["--max-body", "150000", "--body-budget", "200000"], false);
    let (a, b) = ("52:54:00:00:00:72", "52:54:00:00:00:73");
    let (token_a, token_b) = (lab.token(a), lab.token(b));
    // B's inventory, padded with JSON whitespace to 150,000 octets.
    let mut inv = Inventory { schema: SCHEMA, ..Inventory::default() };
    inv.run.agent_version = "test".into();
    inv.system.serial = Some("SN-BUDGET".into());
    let mut body = serde_json::to_vec(&inv).unwrap();
    body.resize(150_000, b' ');
    std::fs::write(lab.dir.join("b.json"), &body).unwrap();
    let out = lab.python(
        &format!(
            r#"
import socket, time
def head(mac, token, n):
    return ("POST /api/v1/nodes/%s/inventory HTTP/1.1\r\nHost: m\r\nContent-Type: application/json\r\n"
            "Authorization: Bearer %s\r\nContent-Length: %d\r\n\r\n" % (mac, token, n)).encode()
def answer(s):
    data = b""
    while b"\r\n\r\n" not in data:
        d = s.recv(65536)
        if not d:
            break
        data += d
    return data.split(b"\r\n\r\n")[0].decode()
# A: a stalled upload, 1,000 of its 150,000 octets sent.
stalled = socket.create_connection(("{SERVER}", 80), timeout=10, source_address=("10.81.0.100", 0))
stalled.sendall(head("{a}", "{token_a}", 150000) + b"{{" + b" " * 999)
time.sleep(0.5)
body = open("b.json", "rb").read()
def upload_b():
    s = socket.create_connection(("{SERVER}", 80), timeout=10, source_address=("10.81.0.101", 0))
    s.sendall(head("{b}", "{token_b}", len(body)))
    try:
        s.sendall(body)
    except OSError:
        pass
    r = answer(s)
    s.close()
    return r.replace("\r\n", " | ")
print("while-stalled:", upload_b())
stalled.close()
time.sleep(1)
print("after:", upload_b())
"#
        ),
        Duration::from_secs(40),
    );
    let line = |k: &str| line(&out, k);
    let during = line("while-stalled:");
    assert!(during.contains(" 503 "), "{out}\n{}", lab.log());
    assert!(during.to_ascii_lowercase().contains("retry-after: 2"), "{out}");
    assert!(line("after:").contains(" 201 "), "lands once the budget is free: {out}\n{}", lab.log());
    let stored = lab.data.join("nodes/52-54-00-00-00-73/inventory.json");
    let got: Inventory = serde_json::from_slice(&std::fs::read(&stored).unwrap()).unwrap();
    assert_eq!(got.system.serial.as_deref(), Some("SN-BUDGET"));
    assert!(!lab.data.join("nodes/52-54-00-00-00-72/inventory.json").exists(), "the stalled one stored nothing");
    assert_eq!(stats(&lab)["refused_budget"].as_u64(), Some(1));
}
