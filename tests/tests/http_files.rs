//! `recon httpd` serving files to curl and to hand-written raw requests, in network namespaces
//! this test makes: GET and HEAD, byte ranges (first, open-ended, suffix, several, 416),
//! If-Modified-Since, keep-alive reuse and its absence for HTTP/1.0 and `Connection: close`,
//! pipelining, path traversal, the head and idle timeouts, the connection cap, and fifty
//! parallel downloads of a 300 MB file checked by CRC-32 and length.

mod http_common;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use http_common::{CLIENT, Lab, SERVER, seed_lease};
use recon_tests::program;

/// One lab at a time: the tests share two cores.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn get_head_ranges_and_conditionals_with_curl() {
    let _s = serial();
    let lab = Lab::new("http-ranges", &[], false);
    let data = lab.file("vmlinuz", 1_000_003);
    let len = data.len();

    let r = lab.curl(&["/vmlinuz"]);
    assert_eq!(r.status, 200);
    assert!(r.body == data, "GET: the body differs from the file");
    assert_eq!(r.header("Content-Length").as_deref(), Some("1000003"));
    assert_eq!(r.header("Accept-Ranges").as_deref(), Some("bytes"));
    let last_modified = r.header("Last-Modified").expect("Last-Modified");

    let r = lab.curl(&["-I", "/vmlinuz"]);
    // curl -I writes the head where the body would go; nothing follows it.
    assert_eq!(r.status, 200);
    assert!(r.body.starts_with(b"HTTP/1.1 200 OK\r\n") && r.body.ends_with(b"\r\n\r\n") && r.body.len() < 1024);
    assert_eq!(r.header("Content-Length").as_deref(), Some("1000003"));

    // First octets, an open-ended range, a suffix.
    let r = lab.curl(&["-r", "0-99", "/vmlinuz"]);
    assert_eq!((r.status, r.body.as_slice()), (206, &data[..100]));
    assert_eq!(r.header("Content-Range").as_deref(), Some("bytes 0-99/1000003"));
    let r = lab.curl(&["-r", "999000-", "/vmlinuz"]);
    assert_eq!((r.status, r.body.as_slice()), (206, &data[999_000..]));
    assert_eq!(r.header("Content-Range").as_deref(), Some("bytes 999000-1000002/1000003"));
    let r = lab.curl(&["-r", "-500", "/vmlinuz"]);
    assert_eq!((r.status, r.body.as_slice()), (206, &data[len - 500..]));
    assert_eq!(r.header("Content-Range").as_deref(), Some("bytes 999503-1000002/1000003"));
    let r = lab.curl(&["-r", "500000-500000", "/vmlinuz"]);
    assert_eq!((r.status, r.body.as_slice()), (206, &data[500_000..500_001]));
    // Past the end: 416 with the length.
    let r = lab.curl(&["-r", "1000003-", "/vmlinuz"]);
    assert_eq!(r.status, 416);
    assert_eq!(r.header("Content-Range").as_deref(), Some("bytes */1000003"));
    // Several ranges: the whole file with 200 (allowed by RFC 9110, section 14.2).
    let r = lab.curl(&["-r", "0-9,20-29", "/vmlinuz"]);
    assert_eq!(r.status, 200);
    assert!(r.body == data);
    // HEAD ignores Range.
    let r = lab.curl(&["-I", "-r", "0-9", "/vmlinuz"]);
    assert_eq!(r.status, 200);

    // If-Modified-Since with the file's own date: 304; with an older one: the file.
    let r = lab.curl(&["-H", &format!("If-Modified-Since: {last_modified}"), "/vmlinuz"]);
    assert_eq!((r.status, r.body.len()), (304, 0));
    let r = lab.curl(&["-H", "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT", "/vmlinuz"]);
    assert_eq!(r.status, 200);

    // Missing files, directories, other methods.
    let r = lab.curl(&["/nope.efi"]);
    assert_eq!(r.status, 404);
    assert!(r.text().contains("no such file: /nope.efi"), "{}", r.text());
    std::fs::create_dir(lab.boot.join("dir")).unwrap();
    assert_eq!(lab.curl(&["/dir"]).status, 404);
    let r = lab.curl(&["-X", "DELETE", "/vmlinuz"]);
    assert_eq!((r.status, r.header("Allow").as_deref()), (405, Some("GET, HEAD")));
    assert!(lab.boot.join("vmlinuz").exists());
}

#[test]
fn keep_alive_reuses_connections_and_pipelining_keeps_order() {
    let _s = serial();
    let lab = Lab::new("http-keepalive", &[], false);
    let a = lab.file("a", 300_000);
    let b = lab.file("b", 7);
    let curl = program("curl", "curl").display().to_string();
    let urls = [format!("http://{SERVER}/a"), format!("http://{SERVER}/b"), format!("http://{SERVER}/a")];
    let connects = |extra: &[&str]| -> Vec<String> {
        let mut argv = vec![curl.as_str(), "-sS", "-w", "%{num_connects}\\n"];
        argv.extend_from_slice(extra);
        for u in &urls {
            argv.extend(["-o", "/dev/null", u.as_str()]);
        }
        let o = lab.client(&argv, Duration::from_secs(30));
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).lines().map(str::to_owned).collect()
    };
    assert_eq!(connects(&[]), ["1", "0", "0"], "HTTP/1.1: three requests on one connection");
    assert_eq!(connects(&["--http1.0"]), ["1", "1", "1"], "HTTP/1.0 closes after each response");
    assert_eq!(connects(&["-H", "Connection: close"]), ["1", "1", "1"], "Connection: close is honoured");
    assert_eq!(
        connects(&["--http1.0", "-H", "Connection: keep-alive"]),
        ["1", "0", "0"],
        "HTTP/1.0 with keep-alive stays open"
    );

    // Three requests in one write, the last asking to close: three answers in order, then EOF.
    let script = format!(
        r#"
import socket, sys
s = socket.create_connection(("{SERVER}", 80), timeout=10)
s.sendall(b"GET /b HTTP/1.1\r\nHost: x\r\n\r\nHEAD /a HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\nRange: bytes=10-19\r\nConnection: close\r\n\r\n")
data = b""
while True:
    d = s.recv(65536)
    if not d: break
    data += d
sys.stdout.write(data.decode("latin-1"))
"#
    );
    let out = lab.python(&script, Duration::from_secs(20));
    let parts: Vec<&str> = out.split("HTTP/1.1 ").skip(1).collect();
    assert_eq!(parts.len(), 3, "{out}");
    let latin1 = |b: &[u8]| -> String { b.iter().map(|&c| c as char).collect() };
    assert!(parts[0].starts_with("200") && parts[0].ends_with(&latin1(&b)), "{}", parts[0]);
    assert!(parts[1].starts_with("200") && parts[1].contains("Content-Length: 300000\r\n"), "{}", parts[1]);
    assert!(parts[1].ends_with("\r\n\r\n"), "HEAD sent a body: {}", parts[1]);
    let expected = latin1(&a[10..20]);
    assert!(parts[2].starts_with("206") && parts[2].contains("Connection: close\r\n"), "{}", parts[2]);
    assert!(parts[2].ends_with(&expected), "the pipelined range is not a[10..20]");
}

#[test]
fn traversal_and_escaping_symlinks_are_refused() {
    let _s = serial();
    let lab = Lab::new("http-traversal", &[], false);
    lab.file("ok", 10);
    std::fs::write(lab.dir.join("outside"), b"secret").unwrap();
    std::os::unix::fs::symlink("../outside", lab.boot.join("escape")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", lab.boot.join("passwd")).unwrap();
    std::os::unix::fs::symlink("ok", lab.boot.join("inside")).unwrap();
    for path in ["/../outside", "/%2e%2e/outside", "/a/../../outside", "/..%2f..%2fetc/passwd", "/escape", "/passwd"] {
        let r = lab.curl(&["--path-as-is", path]);
        assert_eq!(r.status, 403, "{path}: {}", r.text());
        assert!(!r.text().contains("secret") && !r.text().contains("root:"), "{path} leaked");
    }
    // An absolute path is under the root: the host's /etc/passwd is not served.
    assert_eq!(lab.curl(&["/etc/passwd"]).status, 404);
    assert_eq!(lab.curl(&["http://10.81.0.1/inside"]).body.len(), 10, "a symlink inside the root is fine");
    // Absolute-form targets (RFC 9112, section 3.2.2) are confined the same way.
    let out = lab.python(
        &format!(
            r#"
import socket
s = socket.create_connection(("{SERVER}", 80), timeout=10)
s.sendall(b"GET http://x/../outside HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
print(s.recv(4096).decode().split("\r\n")[0])
"#
        ),
        Duration::from_secs(20),
    );
    assert_eq!(out.trim(), "HTTP/1.1 403 Forbidden");
}

#[test]
fn slow_heads_idle_connections_and_the_connection_cap() {
    let _s = serial();
    let lab = Lab::new(
        "http-timeouts",
        &["--head-timeout", "1", "--idle-timeout", "2", "--max-connections", "3", "--workers", "1"],
        false,
    );
    lab.file("f", 100);
    // Each connection reports how long until the server closed it and what it said.
    let script = format!(
        r#"
import socket, time, threading
def until_closed(s, t0):
    data = b""
    while True:
        d = s.recv(65536)
        if not d: break
        data += d
    return time.time() - t0, data.decode("latin-1")
res = {{}}
def slow():      # half a head, never finished
    s = socket.create_connection(("{SERVER}", 80), timeout=20); t0 = time.time()
    s.sendall(b"GET /f HTTP/1.1\r\nHost:")
    res["slow"] = until_closed(s, t0)
def silent():    # connects, says nothing
    s = socket.create_connection(("{SERVER}", 80), timeout=20); t0 = time.time()
    res["silent"] = until_closed(s, t0)
def idle():      # one request, then keeps the connection without using it
    s = socket.create_connection(("{SERVER}", 80), timeout=20)
    s.sendall(b"GET /f HTTP/1.1\r\nHost: x\r\n\r\n")
    first = s.recv(65536); t0 = time.time()
    res["idle"] = until_closed(s, t0)
ts = [threading.Thread(target=f) for f in (slow, silent, idle)]
for t in ts: t.start()
time.sleep(0.5)
# All three slots are taken now: a fourth connection is refused with 503.
s = socket.create_connection(("{SERVER}", 80), timeout=20)
s.sendall(b"GET /f HTTP/1.1\r\nHost: x\r\n\r\n")
res["fourth"] = until_closed(s, time.time())
for t in ts: t.join()
time.sleep(0.3)
# The slots are free again.
s = socket.create_connection(("{SERVER}", 80), timeout=20)
s.sendall(b"GET /f HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
res["after"] = until_closed(s, time.time())
for k, (t, d) in sorted(res.items()):
    print(k, round(t, 2), (d.split("\r\n")[0] or "EOF"))
"#
    );
    let out = lab.python(&script, Duration::from_secs(30));
    let line = |k: &str| -> (f64, String) {
        let l = out.lines().find(|l| l.starts_with(&format!("{k} "))).unwrap_or_else(|| panic!("{k}: {out}"));
        let mut it = l.splitn(3, ' ').skip(1);
        (it.next().unwrap().parse().unwrap(), it.next().unwrap().to_owned())
    };
    let (t, what) = line("slow");
    assert_eq!(what, "HTTP/1.1 408 Request Timeout", "{out}");
    assert!((0.8..4.0).contains(&t), "a slow head is cut off after 1 s, not {t} s");
    let (t, what) = line("silent");
    assert_eq!(what, "EOF", "{out}");
    assert!((0.8..4.0).contains(&t), "a silent connection is closed after 1 s, not {t} s");
    let (t, what) = line("idle");
    assert_eq!(what, "EOF", "{out}");
    assert!((1.8..5.0).contains(&t), "an idle keep-alive connection is closed after 2 s, not {t} s");
    let (_, what) = line("fourth");
    assert_eq!(what, "HTTP/1.1 503 Service Unavailable", "{out}");
    let (_, what) = line("after");
    assert_eq!(what, "HTTP/1.1 200 OK", "{out}");
    assert!(lab.log().contains("3 connections open, refusing"), "{}", lab.log());
}

#[test]
fn fifty_parallel_downloads_of_300_mb_arrive_intact() {
    let _s = serial();
    let mut lab = Lab::new("http-fifty", &[], true);
    let size = 300_000_000usize;
    lab.file("recon.iso", size);
    // The client's address is a node's lease: its downloads are counted in the store.
    seed_lease(&lab.data, "52:54:00:00:50:50", CLIENT);
    lab.kill();
    lab.start();
    // cksum (CRC-32 and length) is fast enough not to be the bottleneck (coreutils' sha256sum
    // does about 240 MB/s here): it catches any octet lost, changed or out of order.
    let cksum = program("cksum", "coreutils").display().to_string();
    let file = lab.boot.join("recon.iso");
    let out = recon_tests::run(std::process::Command::new(&cksum).arg(&file));
    let want: Vec<String> =
        String::from_utf8_lossy(&out.stdout).split_whitespace().take(2).map(str::to_owned).collect();
    let n = 50;
    let script = format!(
        "for i in $(seq {n}); do (curl -sS --max-time 280 http://{SERVER}/recon.iso | {cksum} > sum.$i) & done; wait"
    );
    let t = Instant::now();
    let o = lab.client(&["sh", "-c", &script], Duration::from_secs(300));
    let took = t.elapsed().as_secs_f64();
    assert!(o.status.success(), "{}{}", String::from_utf8_lossy(&o.stderr), lab.log());
    for i in 1..=n {
        let got = std::fs::read_to_string(lab.dir.join(format!("sum.{i}"))).unwrap_or_default();
        let got: Vec<&str> = got.split_whitespace().collect();
        assert_eq!(got, want, "download {i} differs (CRC, length)");
    }
    let mb = (n * size) as f64 / 1e6;
    eprintln!("{n} x 300 MB: {mb:.0} MB in {took:.1} s = {:.0} MB/s aggregate", mb / took);
    let log = lab.log();
    assert_eq!(log.matches(" GET /recon.iso 200 300000000 B ").count(), n, "{log}");
    // Bytes served reached the node's record.
    let nodes = lab.curl(&["/api/v1/nodes"]);
    let v: serde_json::Value = serde_json::from_slice(&nodes.body).unwrap();
    let node = v["nodes"].as_array().unwrap().iter().find(|x| x["mac"] == "52:54:00:00:50:50").unwrap();
    assert_eq!(node["bytes_served"].as_u64(), Some((n * size) as u64), "{node}");
    let events = node["events"].as_array().unwrap();
    assert_eq!(events.iter().filter(|e| e["kind"] == "http" && e["bytes"] == 300_000_000).count(), n);
}
