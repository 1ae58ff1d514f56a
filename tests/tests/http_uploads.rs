//! Inventory uploads to `recon httpd` and the boot scripts that hand out their tokens, with
//! curl and raw requests in network namespaces this test makes: JSON and postcard (201, and the
//! file on disk is the inventory sent), a bad or missing token (401), a body over the limit
//! (413, answered before the body is read), garbage (400), a wrong media type (415), a second
//! upload replacing the first, boot.ipxe by `mac`, by the client's leased address and for a
//! stranger, and a SIGKILL and restart on the same data directory.

mod http_common;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use http_common::{CLIENT, Lab, SERVER, seed_lease, token_of};
use inventory::model::{Inventory, SCHEMA};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn inventory_of(mac: &str, host: &str) -> Inventory {
    let mut inv = Inventory { schema: SCHEMA, ..Inventory::default() };
    inv.run.hostname = Some(host.into());
    inv.run.boot_mac = Some(mac.into());
    inv.run.agent_version = "test".into();
    inv.system.serial = Some(format!("SN-{host}"));
    inv.errors.push(inventory::model::Problem {
        collector: "bmc".into(),
        path: "/dev/ipmi0".into(),
        reason: "missing".into(),
    });
    inv
}

fn stored(lab: &Lab, mac: &str) -> Inventory {
    let p = lab.data.join("nodes").join(mac.replace(':', "-")).join("inventory.json");
    let text = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_slice(&text).unwrap()
}

/// POSTs `body` (a file in the lab dir) with the given headers; the response.
fn post(lab: &Lab, mac: &str, body: &[u8], headers: &[&str]) -> http_common::Response {
    let f = lab.dir.join(format!("body-{}", body.len()));
    std::fs::write(&f, body).unwrap();
    let at = format!("@{}", f.display());
    let url = format!("/api/v1/nodes/{mac}/inventory");
    let mut args = vec!["--data-binary", at.as_str()];
    for h in headers {
        args.extend(["-H", h]);
    }
    args.push(&url);
    lab.curl(&args)
}

fn events(lab: &Lab, mac: &str, kind: &str) -> Vec<serde_json::Value> {
    let r = lab.curl(&["/api/v1/nodes"]);
    assert_eq!(r.status, 200);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["mac"] == mac)
        .flat_map(|n| n["events"].as_array().unwrap().clone())
        .filter(|e| e["kind"] == kind)
        .collect()
}

#[test]
fn uploads_are_stored_only_with_the_right_token_and_a_valid_body() {
    let _s = serial();
    let lab = Lab::new("http-uploads", &["--max-body", "1000000"], false);
    let (m1, m2) = ("52:54:00:00:00:01", "52:54:00:00:00:02");
    let t1 = lab.token(m1);
    let t2 = lab.token("52-54-00-00-00-02");
    assert_ne!(t1, t2);
    let json_ct = "Content-Type: application/json";
    let pc_ct = "Content-Type: application/postcard";
    let bearer = |t: &str| format!("Authorization: Bearer {t}");

    // JSON with the token as a bearer.
    let inv1 = inventory_of(m1, "n1");
    let r = post(&lab, m1, &serde_json::to_vec(&inv1).unwrap(), &[json_ct, &bearer(&t1)]);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.header("Location").as_deref(), Some(&*format!("/api/v1/nodes/{m1}/inventory")));
    assert_eq!(stored(&lab, m1), inv1, "the file on disk is the inventory sent");
    // Postcard with X-Recon-Token.
    let inv2 = inventory_of(m2, "n2");
    let r = post(&lab, m2, &postcard::to_stdvec(&inv2).unwrap(), &[pc_ct, &format!("X-Recon-Token: {t2}")]);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(stored(&lab, m2), inv2);
    // And back over HTTP.
    let r = lab.curl(&[&format!("/api/v1/nodes/{m2}/inventory")]);
    assert_eq!(r.status, 200);
    assert_eq!(serde_json::from_slice::<Inventory>(&r.body).unwrap(), inv2);

    // Tokens: none, another node's, a guess. Nothing is written.
    let other = inventory_of(m1, "intruder");
    let body = serde_json::to_vec(&other).unwrap();
    for (headers, why) in [
        (vec![json_ct.to_owned()], "no token"),
        (vec![json_ct.to_owned(), bearer(&t2)], "another node's token"),
        (vec![json_ct.to_owned(), bearer(&"0".repeat(32))], "a guess"),
        (vec![json_ct.to_owned(), format!("Authorization: Basic {t1}")], "not a bearer token"),
    ] {
        let h: Vec<&str> = headers.iter().map(String::as_str).collect();
        let r = post(&lab, m1, &body, &h);
        assert_eq!(r.status, 401, "{why}: {}", r.text());
        assert!(r.header("WWW-Authenticate").is_some_and(|v| v.starts_with("Bearer")), "{why}");
        assert!(r.text().starts_with("401 Unauthorized: "), "{why}: a one-line reason: {}", r.text());
    }
    assert_eq!(stored(&lab, m1), inv1, "refused uploads changed nothing");

    // Garbage, a wrong schema, another node's inventory, trailing octets: 400 with a reason.
    let mut newer = inv1.clone();
    newer.schema = SCHEMA + 1;
    let mut pc_long = postcard::to_stdvec(&inv1).unwrap();
    pc_long.extend_from_slice(b"xx");
    let auth = bearer(&t1);
    let newer_reason = format!("inventory schema {}", SCHEMA + 1);
    for (body, ct, expect) in [
        (b"{\"schema\": 1, \"run\": ".to_vec(), json_ct, "not an inventory in JSON"),
        (b"\xff\xfe\x00garbage".to_vec(), pc_ct, "not an inventory in postcard"),
        (serde_json::to_vec(&newer).unwrap(), json_ct, newer_reason.as_str()),
        (serde_json::to_vec(&inv2).unwrap(), json_ct, "run.boot_mac 52:54:00:00:00:02"),
        (pc_long, pc_ct, "2 octets after the inventory"),
    ] {
        let r = post(&lab, m1, &body, &[ct, &auth]);
        assert_eq!(r.status, 400, "{expect}: {}", r.text());
        assert!(r.text().contains(expect), "{expect}: {}", r.text());
        assert_eq!(r.text().lines().count(), 1, "one line: {}", r.text());
    }
    let r = post(&lab, m1, b"{}", &["Content-Type: text/plain", &auth]);
    assert_eq!(r.status, 415, "{}", r.text());

    // Over the limit (1 MB here): 413 from curl's Expect: 100-continue upload, and from a raw
    // request that announces 100 MB and sends none of it: the answer comes without the body.
    let big = vec![b' '; 1_500_000];
    let r = post(&lab, m1, &big, &[json_ct, &auth]);
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(r.text().contains("over the 1000000-octet limit"), "{}", r.text());
    let script = format!(
        r#"
import socket, time
s = socket.create_connection(("{SERVER}", 80), timeout=10)
t0 = time.time()
s.sendall(b"POST /api/v1/nodes/{m1}/inventory HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer {t1}\r\nContent-Length: 100000000\r\n\r\n")
print(s.recv(4096).decode().split("\r\n")[0], round(time.time() - t0, 2))
"#
    );
    let out = lab.python(&script, Duration::from_secs(20));
    assert!(out.starts_with("HTTP/1.1 413 Content Too Large "), "{out}");
    // A chunked body over the limit is cut off as it arrives.
    let script = format!(
        r#"
import socket
s = socket.create_connection(("{SERVER}", 80), timeout=10)
s.sendall(b"POST /api/v1/nodes/{m1}/inventory HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer {t1}\r\nTransfer-Encoding: chunked\r\n\r\n")
try:
    for i in range(20):
        s.sendall(b"10000\r\n" + b" " * 0x10000 + b"\r\n")
except OSError:
    pass
print(s.recv(4096).decode().split("\r\n")[0])
"#
    );
    let out = lab.python(&script, Duration::from_secs(20));
    assert_eq!(out.trim(), "HTTP/1.1 413 Content Too Large");
    // A chunked body within it is stored.
    let script = format!(
        r#"
import socket, sys
body = open("body.json", "rb").read()
s = socket.create_connection(("{SERVER}", 80), timeout=10)
s.sendall(b"POST /api/v1/nodes/{m1}/inventory HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer {t1}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
for i in range(0, len(body), 100):
    part = body[i:i + 100]
    s.sendall(b"%x\r\n" % len(part) + part + b"\r\n")
s.sendall(b"0\r\n\r\n")
print(s.recv(4096).decode().split("\r\n")[0])
"#
    );
    let mut inv1b = inv1.clone();
    inv1b.run.hostname = Some("n1-chunked".into());
    std::fs::write(lab.dir.join("body.json"), serde_json::to_vec(&inv1b).unwrap()).unwrap();
    let out = lab.python(&script, Duration::from_secs(20));
    assert_eq!(out.trim(), "HTTP/1.1 201 Created");
    assert_eq!(stored(&lab, m1), inv1b);

    // A later upload replaces the earlier one; each is an event.
    let mut inv1c = inv1.clone();
    inv1c.run.hostname = Some("n1-again".into());
    let r = post(&lab, m1, &postcard::to_stdvec(&inv1c).unwrap(), &[pc_ct, &auth]);
    assert_eq!(r.status, 201);
    assert!(r.text().contains("\"replaced\":true"), "{}", r.text());
    assert_eq!(stored(&lab, m1), inv1c, "the later upload wins");
    let ev = events(&lab, m1, "inventory");
    assert_eq!(ev.len(), 3, "three accepted uploads of m1 (JSON, chunked, postcard): {ev:?}");
    assert_eq!(ev.iter().filter(|e| e["replaced"] == true).count(), 2);
    assert_eq!(events(&lab, m2, "inventory").len(), 1);
    let left: Vec<_> = std::fs::read_dir(lab.data.join("nodes/52-54-00-00-00-01"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.iter().all(|n| !n.contains(".tmp")), "temporary files left: {left:?}");
    let secret = std::fs::metadata(lab.data.join("secret")).unwrap();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&secret.permissions()) & 0o777, 0o600);
}

#[test]
fn boot_scripts_by_mac_by_leased_address_and_for_strangers() {
    let _s = serial();
    let mut lab = Lab::new("http-bootipxe", &["--append", "panic=5"], false);
    // A stranger: iPXE is told to ask again with its MAC.
    let r = lab.curl(&["/boot.ipxe"]);
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), format!("#!ipxe\nchain http://{SERVER}/boot.ipxe?mac=${{mac:hexhyp}}\n"));
    // By the MAC iPXE supplies.
    let r = lab.curl(&["--interface", &lab.node("52:54:00:12:34:56"), "/boot.ipxe?mac=52-54-00-12-34-56"]);
    let script = r.text();
    let token = token_of(&script);
    assert_eq!(
        script,
        format!(
            "#!ipxe\nkernel http://{SERVER}/vmlinuz initrd=initrd.img root=live:http://{SERVER}/recon.iso rd.live.ram=1 \
             rd.live.image rd.live.overlay.overlayfs=1 rd.neednet=1 ip=dhcp nomodeset noquiet splash=off console=tty0 \
             console=ttyS1,115200n8 console=ttyS0,115200n8 earlyprintk=serial,ttyS0,115200 iomem=relaxed ksdevice=bootif \
             extra panic=5 BOOTIF=01-${{mac:hexhyp}} pxeaddr=${{next-server}} \
             postaction=liveboot recon.token={token} recon.master={SERVER}\ninitrd http://{SERVER}/initrd.img\nboot\n"
        )
    );
    assert_eq!(r.header("Cache-Control").as_deref(), Some("no-store"));
    assert_eq!(lab.curl(&["/boot.ipxe?mac=not-a-mac"]).status, 400);
    // The token in the script is the one uploads need.
    let inv = inventory_of("52:54:00:12:34:56", "booted");
    let r = post(
        &lab,
        "52-54-00-12-34-56",
        &serde_json::to_vec(&inv).unwrap(),
        &["Content-Type: application/json", &format!("Authorization: Bearer {token}")],
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let ev = events(&lab, "52:54:00:12:34:56", "http");
    assert!(ev.iter().any(|e| e["path"] == "/boot.ipxe" && e["status"] == 200), "{ev:?}");
    // A stored upload is its own event on the timeline, not an HTTP line besides.
    assert!(!ev.iter().any(|e| e["path"] == "/api/v1/nodes/52-54-00-12-34-56/inventory"), "{ev:?}");
    assert_eq!(events(&lab, "52:54:00:12:34:56", "inventory").len(), 1);

    // By the client's address, once DHCP has leased it (a restart reads the lease back).
    seed_lease(&lab.data, "52:54:00:aa:bb:cc", CLIENT);
    lab.kill();
    lab.start();
    let script = lab.curl(&["/boot.ipxe"]).text();
    assert!(script.contains("kernel http://10.81.0.1/vmlinuz"), "{script}");
    let by_ip = token_of(&script);
    assert_eq!(by_ip, lab.token("52:54:00:aa:bb:cc"), "the script is the leased node's");
    assert_ne!(by_ip, token);
    // Every request from that address is now in that node's timeline.
    assert_eq!(lab.curl(&["/nope"]).status, 404);
    let ev = events(&lab, "52:54:00:aa:bb:cc", "http");
    assert!(ev.iter().any(|e| e["path"] == "/nope" && e["status"] == 404), "{ev:?}");
}

#[test]
fn a_killed_server_restarts_with_its_inventories_and_tokens() {
    let _s = serial();
    let mut lab = Lab::new("http-restart", &[], false);
    let mac = "52:54:00:00:00:09";
    let token = lab.token(mac);
    let inv = inventory_of(mac, "before");
    let auth = format!("Authorization: Bearer {token}");
    let r = post(&lab, mac, &serde_json::to_vec(&inv).unwrap(), &["Content-Type: application/json", &auth]);
    assert_eq!(r.status, 201);
    // SIGKILL right after the 201: nothing gets a chance to flush.
    lab.kill();
    let t = Instant::now();
    lab.start();
    eprintln!("restarted in {:?}", t.elapsed());
    let r = lab.curl(&[&format!("/api/v1/nodes/{mac}/inventory")]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(serde_json::from_slice::<Inventory>(&r.body).unwrap(), inv);
    // The key survived: the token a booted node holds still works, and is still the one minted.
    assert_eq!(lab.token(mac), token);
    let inv2 = inventory_of(mac, "after");
    let r = post(&lab, mac, &serde_json::to_vec(&inv2).unwrap(), &["Content-Type: application/json", &auth]);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(stored(&lab, mac), inv2);
    assert_eq!(events(&lab, mac, "inventory").len(), 2, "the first upload's event survived the kill too");
}

/// A real `recon agent` (PXE-booted: BOOTIF, pxeaddr, token) starts while its master is down:
/// its timeline events wait and are posted again until the master is back, and each lands
/// once, in the order the agent had them.
#[test]
fn an_agent_loses_no_timeline_event_while_its_master_is_down() {
    let _s = serial();
    let mut lab = Lab::new("agent-events", &[], false);
    let mac = "52:54:00:00:00:0a";
    // The boot script names the node (so the master keeps its timeline) and mints its token.
    let token = lab.token(mac);
    lab.kill();
    // The agent runs on the node's own interface (its MAC), as a booted node's does.
    let iface = lab.node(mac).trim_start_matches("if!").to_owned();
    let root = lab.dir.join("root");
    let id = root.join("sys/class/dmi/id");
    std::fs::create_dir_all(&id).unwrap();
    std::fs::write(id.join("product_serial"), "EVENTS-SN\n").unwrap();
    let (agent_data, agent_log) = (lab.dir.join("agent-data"), lab.dir.join("agent.log"));
    let cmdline =
        format!("BOOTIF=01-{} pxeaddr={SERVER} recon.token={token} recon.poweroff=always", mac.replace(':', "-"));
    let mut agent = lab.cli.spawn(
        &[
            recon_tests::recon_bin().to_str().unwrap(),
            "agent",
            "--interface",
            &iface,
            "--boot",
            lab.boot.to_str().unwrap(),
            "--data",
            agent_data.to_str().unwrap(),
            "--root",
            root.to_str().unwrap(),
            "--cmdline",
            &cmdline,
        ],
        &agent_log,
    );
    let log = || std::fs::read_to_string(&agent_log).unwrap_or_default();
    assert!(
        recon_tests::wait_for(Duration::from_secs(20), || log().matches("posting an event").count() >= 2),
        "the agent did not try (twice) to post to a master that is down:\n{}",
        log()
    );
    lab.start();
    assert!(
        recon_tests::wait_for(Duration::from_secs(60), || agent.try_wait().is_some()),
        "the agent did not finish once the master was back:\n{}",
        log()
    );
    assert!(log().contains("would power off"), "{}", log());
    assert_eq!(stored(&lab, mac).system.serial.as_deref(), Some("EVENTS-SN"));
    let phases: Vec<(String, u64)> = events(&lab, mac, "agent-phase")
        .iter()
        .map(|e| (e["phase"].as_str().unwrap_or("?").to_owned(), e["seq"].as_u64().unwrap_or(0)))
        .collect();
    let names: Vec<&str> = phases.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(names, ["probe", "fetch", "inventory", "upload", "poweroff"], "{phases:?}\n{}", log());
    assert!(phases.windows(2).all(|w| w[0].1 < w[1].1), "in the agent's order: {phases:?}");
    assert_eq!(events(&lab, mac, "agent-poweroff").len(), 1, "{}", log());
}

/// A host on the segment cannot get another node's token: boot.ipxe and the manifest hand a
/// MAC's token only to that MAC's address (leased by the master, or in its neighbour table);
/// a stranger's `?mac=` makes no node; events need the node's token and are capped per node.
#[test]
fn tokens_go_only_to_the_nodes_own_address_and_events_need_them() {
    let _s = serial();
    let lab = Lab::new("http-tokens", &[], false);
    let victim = "52:54:00:00:00:77";
    // The client's own link has another MAC: it asks for the victim's script and token.
    let r = lab.curl(&[&format!("/boot.ipxe?mac={victim}")]);
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("is not 52:54:00:00:00:77's address"), "{}", r.text());
    assert!(!r.text().contains("recon.token="));
    let m: serde_json::Value =
        serde_json::from_slice(&lab.curl(&[&format!("/api/v1/manifest?mac={victim}")]).body).unwrap();
    assert_eq!(m["token"], serde_json::Value::Null, "{m}");
    let nodes: serde_json::Value = serde_json::from_slice(&lab.curl(&["/api/v1/nodes"]).body).unwrap();
    assert_eq!(nodes["nodes"].as_array().map(Vec::len), Some(0), "a stranger's ?mac= made a node: {nodes}");

    // From the victim's own address (its MAC on the wire), it gets its token.
    let token = lab.token(victim);
    let from = lab.node(victim);
    let m: serde_json::Value =
        serde_json::from_slice(&lab.curl(&["--interface", &from, &format!("/api/v1/manifest?mac={victim}")]).body)
            .unwrap();
    assert_eq!(m["token"].as_str(), Some(token.as_str()));

    // Events: none without the token, none with another node's.
    let other = lab.token("52:54:00:00:00:78");
    let event = |auth: Option<&str>| {
        let mut args = vec!["-H", "Content-Type: application/json", "--data-binary", r#"{"kind":"phase","phase":"x"}"#];
        let h;
        if let Some(t) = auth {
            h = format!("Authorization: Bearer {t}");
            args.extend(["-H", h.as_str()]);
        }
        let url = format!("/api/v1/nodes/{victim}/events");
        args.push(&url);
        lab.curl(&args).status
    };
    assert_eq!(event(None), 401);
    assert_eq!(event(Some(&other)), 401);
    assert_eq!(event(Some(&token)), 202);

    // A node's agent posting without end is cut off at the cap; nothing else is slowed.
    let script = format!(
        r#"
import http.client
c = http.client.HTTPConnection("{SERVER}", 80, timeout=10)
codes = {{}}
for i in range(4200):
    c.request("POST", "/api/v1/nodes/{victim}/events", body='{{"kind":"flood","run":1,"seq":%d}}' % i,
              headers={{"Content-Type": "application/json", "Authorization": "Bearer {token}"}})
    r = c.getresponse(); r.read()
    codes[r.status] = codes.get(r.status, 0) + 1
    if r.getheader("Connection") == "close":
        c.close(); c = http.client.HTTPConnection("{SERVER}", 80, timeout=10)
print(codes.get(202, 0), codes.get(429, 0))
"#
    );
    let out = lab.python(&script, Duration::from_secs(300));
    let (ok, capped): (u64, u64) = {
        let v: Vec<u64> = out.split_whitespace().map(|n| n.parse().unwrap()).collect();
        (v[0], v[1])
    };
    assert_eq!(ok + 1, 4096, "the first 4096 events are kept (one was posted above): {out}");
    assert_eq!(capped, 4200 - ok, "the rest refused with 429: {out}");
    assert_eq!(lab.curl(&["/boot.ipxe"]).status, 200, "the master still answers");
}

/// A tmpfs mounted on a directory for a test, unmounted when dropped (also on failure).
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &std::path::Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        recon_tests::run(
            std::process::Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={size}"), "recon-test"])
                .arg(dir),
        );
        Tmpfs(dir.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A data disk that fills up: uploads get 507 (RFC 4918, section 11.5) before the disk is so
/// full that the lease journal could not append (also while a body streams in), nothing
/// half-written is left, and the same upload lands once there is room again.
#[test]
fn a_full_data_disk_answers_507_and_recovers_when_space_returns() {
    let _s = serial();
    let mut lab = Lab::new("http-full", &[], false);
    lab.kill();
    let _disk = Tmpfs::mount(&lab.data, "16m");
    lab.start();
    let mac = "52:54:00:00:00:5a";
    let token = lab.token(mac);
    let auth = format!("Authorization: Bearer {token}");
    let body = serde_json::to_vec(&inventory_of(mac, "full")).unwrap();
    // Fill the disk to a few MiB short of the master's reserve.
    let filler = lab.data.join("filler");
    let statvfs = |p: &std::path::Path| {
        let o = recon_tests::run(std::process::Command::new("stat").args(["-f", "-c", "%a %S"]).arg(p));
        let t = String::from_utf8_lossy(&o.stdout).into_owned();
        let v: Vec<u64> = t.split_whitespace().map(|n| n.parse().unwrap()).collect();
        v[0] * v[1]
    };
    let free = statvfs(&lab.data);
    std::fs::write(&filler, vec![0u8; usize::try_from(free - (6 << 20)).unwrap()]).unwrap();
    let r = post(&lab, mac, &body, &["Content-Type: application/json", &auth]);
    assert_eq!(r.status, 507, "{}", r.text());
    assert!(r.text().contains("the data disk is full"), "{}", r.text());
    let node = lab.data.join("nodes/52-54-00-00-00-5a");
    assert!(!node.join("inventory.json").exists(), "nothing stored");
    let leftovers: Vec<String> = std::fs::read_dir(&node)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp."))
        .collect();
    assert!(leftovers.is_empty(), "half-written files left: {leftovers:?}");
    // Room again: the same upload lands.
    std::fs::remove_file(&filler).unwrap();
    let r = post(&lab, mac, &body, &["Content-Type: application/json", &auth]);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(stored(&lab, mac), inventory_of(mac, "full"));
    // A chunked body, whose length nobody knows beforehand, fills the disk as it arrives: 1 MiB
    // of room beyond the reserve, 3 MiB sent. 507, and its incoming file is gone.
    std::fs::write(&filler, vec![0u8; usize::try_from(statvfs(&lab.data) - (9 << 20)).unwrap()]).unwrap();
    let script = format!(
        r#"
import socket
s = socket.create_connection(("{SERVER}", 80), timeout=10)
s.sendall(b"POST /api/v1/nodes/{mac}/inventory HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\n\r\n")
try:
    for i in range(48):
        s.sendall(b"10000\r\n" + b" " * 0x10000 + b"\r\n")
except OSError:
    pass
print(s.recv(4096).decode().split("\r\n\r\n")[-1])
"#
    );
    let out = lab.python(&script, Duration::from_secs(20));
    assert!(out.starts_with("507 Insufficient Storage: "), "{out}\n{}", lab.log());
    assert!(out.contains("the data disk is full"), "{out}");
    let incoming: Vec<_> = std::fs::read_dir(lab.data.join("incoming")).unwrap().collect();
    assert!(incoming.is_empty(), "the refused body's file is left: {incoming:?}");
    assert_eq!(stored(&lab, mac), inventory_of(mac, "full"), "the stored inventory is untouched");
    lab.kill();
}
