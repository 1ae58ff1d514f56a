//! Three nodes booted from their own media (no BOOTIF, no pxeaddr) on one segment, each a real
//! `recon agent` process in a network namespace of its own, joined by a bridge: they probe,
//! beacon, elect the lowest MAC, and that node serves (DHCP, HTTP) while the other two lease an
//! address from it, fetch its manifest and upload their inventories. The master inventories
//! itself too. Each node inventories a small tree of its own (`--root`: distinct DMI serials), so
//! the master's store shows whose upload landed where; `--root` also keeps the agents from ever
//! powering this machine off.

use std::path::{Path, PathBuf};
use std::time::Duration;

use recon_tests::{Netns, Proc, recon_bin, require_root, scratch_dir, veth, wait_for};

const NODES: u8 = 3;

fn mac(k: u8) -> String {
    format!("02:00:00:e1:ec:{k:02x}")
}

fn serial(k: u8) -> String {
    format!("ELECT-SN-{k:03}")
}

/// A sysfs tree holding only the DMI identity: every other collector degrades to "absent".
fn tree(dir: &Path, k: u8) -> PathBuf {
    let root = dir.join(format!("root{k}"));
    let id = root.join("sys/class/dmi/id");
    std::fs::create_dir_all(&id).unwrap();
    for (f, v) in [
        ("sys_vendor", "recon lab".to_owned()),
        ("product_name", "election node".to_owned()),
        ("product_serial", serial(k)),
        ("product_uuid", format!("e1ec0000-0000-4000-8000-0000000000{k:02x}")),
    ] {
        std::fs::write(id.join(f), format!("{v}\n")).unwrap();
    }
    root
}

/// `recon agent` on the namespace's eth0, booted from its own media (no BOOTIF), inventorying
/// `root`.
fn agent(ns: &Netns, boot: &Path, data: &Path, root: &Path, cmdline: &str, log: &Path) -> Proc {
    let recon = recon_bin();
    let path = |p: &Path| p.to_str().unwrap().to_owned();
    let (recon, boot, data, root) = (path(&recon), path(boot), path(data), path(root));
    ns.spawn(
        &[
            &recon,
            "agent",
            "--interface",
            "eth0",
            "--boot",
            &boot,
            "--data",
            &data,
            "--root",
            &root,
            "--cmdline",
            cmdline,
        ],
        log,
    )
}

fn stored_serial(data: &Path, k: u8) -> Option<String> {
    let p = data.join("nodes").join(mac(k).replace(':', "-")).join("inventory.json");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).ok()?).ok()?;
    v["system"]["serial"].as_str().map(str::to_owned)
}

fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.split_whitespace().next()?.parse().ok()
}

#[test]
fn three_media_booted_agents_elect_one_master_and_the_others_upload_to_it() {
    require_root();
    let dir = scratch_dir("election");
    let hub = Netns::new("recon-elect-hub");
    hub.bridge("br0");
    let boot = dir.join("boot");
    std::fs::create_dir_all(&boot).unwrap();
    let mut nodes: Vec<(Netns, PathBuf, PathBuf, Proc)> = Vec::new();
    // Started in reverse MAC order: the winner is not simply the first to speak.
    for k in (1..=NODES).rev() {
        let ns = Netns::new(&format!("recon-elect-n{k}"));
        veth(&ns, "eth0", &hub, &format!("p{k}"));
        hub.exec_ok(&["ip", "link", "set", &format!("p{k}"), "master", "br0"]);
        ns.exec_ok(&["ip", "link", "set", "eth0", "address", &mac(k)]);
        let data = dir.join(format!("data{k}"));
        let root = tree(&dir, k);
        let log = dir.join(format!("node{k}.log"));
        let p = agent(&ns, &boot, &data, &root, "recon.poweroff=always recon.address=10.213.9.1/24", &log);
        nodes.push((ns, data, log, p));
        std::thread::sleep(Duration::from_millis(300));
    }
    nodes.reverse();
    let logs_at: Vec<PathBuf> = nodes.iter().map(|n| n.2.clone()).collect();
    let log = |k: u8| std::fs::read_to_string(&logs_at[usize::from(k - 1)]).unwrap_or_default();
    let master_data = nodes[0].1.clone();

    // The peers exit once their upload is acknowledged (`always` would power off; --root only
    // says so); the master stays.
    let done = wait_for(Duration::from_secs(120), || {
        (2..=NODES).all(|k| stored_serial(&master_data, k).is_some()) && stored_serial(&master_data, 1).is_some()
    });
    let logs: String = (1..=NODES).map(|k| format!("--- node{k}\n{}", log(k))).collect();
    assert!(done, "not every inventory reached the master's store:\n{logs}");
    for k in 1..=NODES {
        assert_eq!(stored_serial(&master_data, k), Some(serial(k)), "node{k}'s upload under its MAC\n{logs}");
    }
    assert!(log(1).contains("phase serve"), "the lowest MAC serves\n{logs}");
    for k in 2..=NODES {
        let exited = wait_for(Duration::from_secs(20), || nodes[usize::from(k - 1)].3.try_wait().is_some());
        let l = log(k);
        assert!(exited, "node{k} did not finish\n{logs}");
        assert!(!l.contains("phase serve"), "node{k} served too\n{logs}");
        assert!(l.contains("phase upload") && l.contains("would power off"), "node{k}\n{logs}");
        assert!(!nodes[usize::from(k - 1)].1.join("nodes").exists(), "node{k} stored nodes: it was not the master");
    }
    assert!(nodes[0].3.try_wait().is_none(), "the master stays up\n{logs}");
    // Every peer's timeline at the master holds each of its agent's phases once, in order, also
    // those it went through before it knew the master.
    for k in 2..=NODES {
        let p = master_data.join("nodes").join(mac(k).replace(':', "-")).join("events.jsonl");
        let t = std::fs::read_to_string(&p).unwrap_or_default();
        let phases: Vec<String> = t
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|e| e["kind"] == "agent-phase")
            .filter_map(|e| e["phase"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(phases, ["probe", "elect", "fetch", "inventory", "upload", "poweroff"], "node{k}'s timeline:\n{t}");
    }
    eprintln!("election: master peak RSS {:?} KiB", vm_hwm_kb(nodes[0].3.pid()));
    for (k, line) in
        (1..=NODES).filter_map(|k| log(k).lines().find(|l| l.contains("peak RSS")).map(|l| (k, l.to_owned())))
    {
        eprintln!("election: node{k}: {line}");
    }
}

/// A node booted from the stick before its cable is in: the agent waits for carrier, says so on
/// the console, and goes on (here: alone on the segment, it becomes the master) once the link
/// comes up, without exiting. (It used to give up after 10 s and rely on systemd's restarts.)
#[test]
fn a_node_without_carrier_waits_for_its_link_and_then_goes_on() {
    require_root();
    let dir = scratch_dir("election-link");
    let hub = Netns::new("recon-link-hub");
    let ns = Netns::new("recon-link-n1");
    veth(&ns, "eth0", &hub, "p1");
    // The far end down: eth0 is up but has no carrier, as with no cable.
    hub.exec_ok(&["ip", "link", "set", "p1", "down"]);
    ns.exec_ok(&["ip", "link", "set", "eth0", "address", &mac(1)]);
    let data = dir.join("data");
    let boot = dir.join("boot");
    std::fs::create_dir_all(&boot).unwrap();
    let root = tree(&dir, 1);
    let log_path = dir.join("node.log");
    let mut p = agent(&ns, &boot, &data, &root, "recon.poweroff=never recon.address=10.213.10.1/24", &log_path);
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    // Past the 10 s the old code waited before it exited.
    std::thread::sleep(Duration::from_secs(12));
    assert!(p.try_wait().is_none(), "the agent exited without a link:\n{}", log());
    assert!(
        log().contains("waiting for carrier on eth0 (eth0 no carrier)"),
        "no word of what it waits for:\n{}",
        log()
    );
    assert!(!log().contains("phase probe"), "it went on without a link:\n{}", log());
    hub.exec_ok(&["ip", "link", "set", "p1", "up"]);
    let served = wait_for(Duration::from_secs(60), || log().contains("phase serve"));
    let l = log();
    assert!(served, "no master after the link came up:\n{l}");
    assert!(l.contains("eth0 has a link after"), "{l}");
    assert!(p.try_wait().is_none(), "the master stays up:\n{l}");
}

/// Two halves of a segment, each with a node booted from its own medium that became a master
/// alone, joined while both serve (a partition that heals): the higher MAC checks the lower
/// one's claim, stands down (its store closed, its address given up), leases an address from the
/// lower one and uploads its inventory there; the lower serves on, its DHCP never stopped by
/// the other's replies. `same` gives both the same address (two masters that each took the
/// default alone): the claim is then checked by ARP, not HTTP.
fn two_masters_meet(name: &str, addr1: &str, addr2: &str) {
    require_root();
    let dir = scratch_dir(name);
    let boot = dir.join("boot");
    std::fs::create_dir_all(&boot).unwrap();
    let hubs = [Netns::new("recon-meet-a"), Netns::new("recon-meet-b")];
    let mut nodes = Vec::new();
    for (k, addr) in [(1u8, addr1), (2, addr2)] {
        let hub = &hubs[usize::from(k - 1)];
        hub.bridge("br0");
        let ns = Netns::new(&format!("recon-meet-n{k}"));
        veth(&ns, "eth0", hub, "p0");
        hub.exec_ok(&["ip", "link", "set", "p0", "master", "br0"]);
        ns.exec_ok(&["ip", "link", "set", "eth0", "address", &mac(k)]);
        let data = dir.join(format!("data{k}"));
        let root = tree(&dir, k);
        let log = dir.join(format!("node{k}.log"));
        // Each master's interlock probes every 30 s: joined, each hears the other's DHCP.
        let p = agent(&ns, &boot, &data, &root, &format!("recon.poweroff=always recon.address={addr}"), &log);
        nodes.push((ns, data, log, p));
    }
    let paths: Vec<(PathBuf, PathBuf)> = nodes.iter().map(|n| (n.1.clone(), n.2.clone())).collect();
    let log = |k: u8| std::fs::read_to_string(&paths[usize::from(k - 1)].1).unwrap_or_default();
    let logs = || (1..=2).map(|k| format!("--- node{k}\n{}", log(k))).collect::<String>();
    let data = |k: u8| paths[usize::from(k - 1)].0.clone();
    let both = wait_for(Duration::from_secs(90), || (1..=2).all(|k| stored_serial(&data(k), k).is_some()));
    assert!(both, "each half did not get a master of its own:\n{}", logs());
    // The halves meet.
    veth(&hubs[0], "j0", &hubs[1], "j1");
    hubs[0].exec_ok(&["ip", "link", "set", "j0", "master", "br0"]);
    hubs[1].exec_ok(&["ip", "link", "set", "j1", "master", "br0"]);
    let joined = wait_for(Duration::from_secs(120), || stored_serial(&data(1), 2).is_some());
    assert!(joined, "the higher master's inventory did not reach the lower one:\n{}", logs());
    assert_eq!(stored_serial(&data(1), 2), Some(serial(2)));
    let exited = wait_for(Duration::from_secs(30), || nodes[1].3.try_wait().is_some());
    let (l1, l2) = (log(1), log(2));
    assert!(exited, "node2 did not finish as a node:\n{}", logs());
    assert!(l2.contains("STOOD DOWN for 02:00:00:e1:ec:01"), "{}", logs());
    assert!(l2.contains("given up") && l2.contains("phase upload"), "{}", logs());
    assert!(!l1.contains("DHCP STOPPED") && !l1.contains("stood-down"), "the lower master stopped:\n{}", logs());
    assert!(nodes[0].3.try_wait().is_none(), "the lower master serves on:\n{}", logs());
    // What node2 stored while it served stays in its own data directory.
    assert_eq!(stored_serial(&data(2), 2), Some(serial(2)));
}

#[test]
fn two_masters_that_meet_resolve_to_the_lower_mac() {
    two_masters_meet("meet", "10.213.12.1/24", "10.213.12.2/24");
}

#[test]
fn two_masters_on_the_same_address_resolve_to_the_lower_mac() {
    two_masters_meet("meet-same", "10.213.13.1/24", "10.213.13.1/24");
}

/// A stick booted on a segment where a host already has an address (somebody's network: the
/// nodes of an isolated rack are off or PXE-booting, none has one) serves no DHCP and says why,
/// unless the operator boots it with `recon.dhcp=full`.
#[test]
fn a_host_with_an_address_keeps_a_stick_from_serving_dhcp_unless_told_full() {
    require_root();
    let py = recon_tests::program("python3", "python3");
    for (k, (line, want)) in [("", "DHCP Off"), ("recon.dhcp=full", "DHCP Full")].into_iter().enumerate() {
        let dir = scratch_dir(&format!("election-host{k}"));
        let hub = Netns::new("recon-host-hub");
        hub.bridge("br0");
        let (node, host) = (Netns::new("recon-host-n"), Netns::new("recon-host-h"));
        for (ns, port) in [(&node, "p0"), (&host, "p1")] {
            veth(ns, "eth0", &hub, port);
            hub.exec_ok(&["ip", "link", "set", port, "master", "br0"]);
        }
        node.exec_ok(&["ip", "link", "set", "eth0", "address", &mac(1)]);
        host.exec_ok(&["ip", "addr", "add", "10.213.14.50/24", "dev", "eth0"]);
        // The host talks to a neighbour that is not there: its kernel asks ARP for it, from its
        // address, for at most 60 s.
        let talk = "import socket,time\n\
                    s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
                    for _ in range(120):\n\
                    \x20   s.sendto(b'x',('10.213.14.99',9))\n\
                    \x20   time.sleep(0.5)\n";
        let _talker = host.spawn(&[py.to_str().unwrap(), "-c", talk], &dir.join("talk.log"));
        let boot = dir.join("boot");
        std::fs::create_dir_all(&boot).unwrap();
        let root = tree(&dir, 1);
        let log_path = dir.join("node.log");
        let _agent = agent(
            &node,
            &boot,
            &dir.join("data"),
            &root,
            &format!("recon.poweroff=never recon.address=10.213.14.1/24 {line}"),
            &log_path,
        );
        let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
        assert!(wait_for(Duration::from_secs(60), || log().contains("master 10.213.14.1/24 on eth0")), "{}", log());
        let l = log();
        assert!(l.contains("host-seen") && l.contains("10.213.14.50"), "the host was not heard:\n{l}");
        assert!(l.contains(want), "{line:?}: not {want}:\n{l}");
        if want == "DHCP Off" {
            assert!(l.contains("A HOST WITH AN ADDRESS (10.213.14.50") && l.contains("serves no DHCP here"), "{l}");
        }
    }
}
