//! The fields lshw reports beyond ids, on a tree captured from a Firecracker guest together with
//! what `lshw -json` said about it (tests/fixtures/README.md): recon must report every one of
//! them, with the same value, for the same device.

use std::path::PathBuf;
use std::time::Duration;

use inventory::model::Inventory;
use inventory::{DeviceError, DeviceIo, DriverInfo, Ipv4Entry, LinkSettings, Options, SysRoot, collect};
use serde_json::Value;

/// What the guest's ioctls answered at capture time (tests/fixtures/README.md).
struct Guest;

impl DeviceIo for Guest {
    fn permanent_mac(&self, _: &str) -> Result<Vec<u8>, DeviceError> {
        Err(DeviceError::Unsupported)
    }
    fn driver_info(&self, ifname: &str) -> Result<DriverInfo, DeviceError> {
        match ifname {
            "eth0" => Ok(DriverInfo {
                driver: "virtio_net".into(),
                version: "1.0.0".into(),
                firmware: String::new(),
                bus_info: "virtio2".into(),
            }),
            _ => Err(DeviceError::Unsupported),
        }
    }
    fn ipmi_device(&self) -> Option<String> {
        None
    }
    fn ipmi(&self, _: u8, _: u8, _: &[u8], _: Duration) -> Result<Vec<u8>, DeviceError> {
        Err(DeviceError::Unsupported)
    }
    fn link_settings(&self, ifname: &str) -> Result<LinkSettings, DeviceError> {
        match ifname {
            "eth0" => Ok(LinkSettings { autoneg: false, port: 0xff }),
            _ => Err(DeviceError::Unsupported),
        }
    }
    fn ipv4_addresses(&self) -> Result<Vec<Ipv4Entry>, DeviceError> {
        Ok(vec![
            Ipv4Entry { ifname: "lo".into(), address: [127, 0, 0, 1], netmask: [255, 0, 0, 0] },
            Ipv4Entry { ifname: "eth0".into(), address: [192, 0, 2, 2], netmask: [255, 255, 255, 0] },
        ])
    }
}

fn tree() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/firecracker-vm"))
}

fn inventory() -> Inventory {
    collect(&SysRoot::new(tree()), &Guest, &Options::default())
}

fn lshw() -> Vec<Value> {
    let text = std::fs::read_to_string(tree().join("lshw.json")).expect("lshw.json");
    let root: Value = serde_json::from_str(&text).expect("lshw JSON");
    let mut all = Vec::new();
    let mut todo = vec![root];
    while let Some(n) = todo.pop() {
        if let Some(children) = n.get("children").and_then(Value::as_array) {
            todo.extend(children.iter().cloned());
        }
        all.push(n);
    }
    all
}

fn config<'a>(n: &'a Value, key: &str) -> Option<&'a str> {
    n.get("configuration")?.get(key)?.as_str()
}

fn capabilities(n: &Value) -> Vec<String> {
    n.get("capabilities").and_then(Value::as_object).map(|m| m.keys().cloned().collect()).unwrap_or_default()
}

#[test]
fn pci_functions_have_lshws_width_clock_latency_and_capabilities() {
    let inv = inventory();
    assert!(inv.errors.is_empty(), "{:?}", inv.errors);
    let mut checked = 0;
    for n in lshw() {
        let Some(addr) = n.get("businfo").and_then(Value::as_str).and_then(|b| b.strip_prefix("pci@")) else {
            continue;
        };
        let d = inv.pci.iter().find(|d| d.address == addr).unwrap_or_else(|| panic!("{addr}"));
        let c = d.config.as_ref().unwrap_or_else(|| panic!("{addr}: config"));
        assert_eq!(Some(u64::from(c.address_bits)), n["width"].as_u64(), "{addr}: width");
        assert_eq!(Some(c.bus_clock_hz), n["clock"].as_u64(), "{addr}: clock");
        if let Some(lat) = config(&n, "latency") {
            assert_eq!(lat, c.latency_timer.to_string(), "{addr}: latency");
        }
        for cap in capabilities(&n) {
            let ours = match cap.as_str() {
                "bus_master" => c.bus_master,
                "cap_list" => !c.capabilities.is_empty(),
                // lshw names bridge and storage functions' class as a capability too.
                "storage" => d.class.is_some_and(|k| k >> 16 == 0x01),
                other => c.capabilities.iter().any(|x| x == other),
            };
            assert!(ours, "{addr}: lshw's capability {cap} not in {c:?}");
        }
        checked += 1;
    }
    assert_eq!(checked, 6);
    // Beyond lshw: the vendor-specific capabilities virtio-pci puts its structures in.
    let net = inv.pci.iter().find(|d| d.address == "0000:00:03.0").and_then(|d| d.config.clone()).unwrap();
    assert_eq!(net.capabilities, ["vendor_specific"; 5].iter().chain(&["msix"]).copied().collect::<Vec<_>>());
    assert_eq!((net.octets, net.header_type, net.interrupt_pin), (256, 0, None));
    assert_eq!(inv.pci[0].config.as_ref().map(|c| c.octets), Some(4096), "the host bridge");
}

#[test]
fn virtio_devices_pnp_devices_and_the_system_as_lshw_lists_them() {
    let inv = inventory();
    let (mut virtio, mut pnp) = (0, 0);
    for n in lshw() {
        if let Some(i) = n.get("businfo").and_then(Value::as_str).and_then(|b| b.strip_prefix("virtio@")) {
            let v = inv.virtio.iter().find(|v| v.name == format!("virtio{i}")).expect("virtio device");
            assert_eq!(v.driver.as_deref(), config(&n, "driver"), "virtio{i}");
            virtio += 1;
        }
        if let Some(name) = n["id"].as_str().and_then(|id| id.strip_prefix("pnp")) {
            let p = inv.pnp.iter().find(|p| p.name == name).expect("PnP device");
            assert_eq!(n["product"].as_str(), Some(format!("PnP device {}", p.ids[0]).as_str()));
            assert_eq!(p.driver.as_deref(), config(&n, "driver"), "pnp {name}");
            pnp += 1;
        }
        if n["class"] == "system" {
            for cap in capabilities(&n) {
                match cap.as_str() {
                    "smp" => assert!(inv.cpu.online_cpus > 1, "smp"),
                    abi => assert!(inv.run.kernel_abi.iter().any(|a| a == abi), "{abi}"),
                }
            }
        }
    }
    assert_eq!((virtio, pnp), (5, 2));
    let kinds: Vec<_> = inv.virtio.iter().map(|v| (v.kind.as_deref(), v.pci_address.as_deref())).collect();
    assert_eq!(
        kinds,
        [
            (Some("balloon"), Some("0000:00:01.0")),
            (Some("block"), Some("0000:00:02.0")),
            (Some("network"), Some("0000:00:03.0")),
            (Some("vsock"), Some("0000:00:04.0")),
            (Some("entropy"), Some("0000:00:05.0")),
        ]
    );
}

#[test]
fn the_nic_has_lshws_address_flags_and_autonegotiation() {
    let inv = inventory();
    let n = lshw().into_iter().find(|n| n["logicalname"] == "eth0").expect("lshw's eth0");
    let eth0 = inv.network.iter().find(|x| x.name == "eth0").expect("eth0");
    assert_eq!(eth0.ipv4.iter().map(|a| a.address.as_str()).collect::<Vec<_>>(), [config(&n, "ip").unwrap()]);
    assert_eq!(eth0.ipv4[0].prefix_len, 24);
    let flag = |f: &str| if eth0.flags.iter().any(|x| x == f) { "yes" } else { "no" };
    assert_eq!(Some(flag("broadcast")), config(&n, "broadcast"));
    assert_eq!(Some(flag("multicast")), config(&n, "multicast"));
    let autoneg = eth0.autonegotiation.map(|a| if a { "on" } else { "off" });
    assert_eq!(autoneg, config(&n, "autonegotiation"));
    assert_eq!(eth0.driver_version.as_deref(), config(&n, "driverversion"));
    assert_eq!(eth0.mac.as_deref(), n["serial"].as_str());
    // Beyond lshw: IPv6, from /proc/net/if_inet6.
    let v6: Vec<_> = eth0.ipv6.iter().map(|a| format!("{}/{}", a.address, a.prefix_len)).collect();
    assert_eq!(v6, ["fd00::2/64", "fe80::fc:ff:fe00:1/64"]);
    assert_eq!(eth0.port.as_deref(), Some("other"));
}

#[test]
fn the_disk_has_lshws_mounts() {
    let inv = inventory();
    let n = lshw().into_iter().find(|n| n["businfo"] == "virtio@1").expect("lshw's vda");
    let vda = inv.storage.disks.iter().find(|d| d.name == "vda").expect("vda");
    assert!(vda.partitions.is_empty());
    let names: Vec<&str> = n["logicalname"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    let ours: Vec<&str> = vda.mounts.iter().map(|m| m.mount_point.as_str()).collect();
    assert_eq!(names, [&["/dev/vda"][..], &ours].concat(), "logical names: the node, then mount points");
    assert_eq!(config(&n, "state"), Some(if vda.mounts.is_empty() { "unmounted" } else { "mounted" }));
    let root = &vda.mounts[0];
    assert_eq!(Some(root.fstype.as_str()), config(&n, "mount.fstype"));
    // lshw shows /proc/mounts' options: the mount's, then the superblock's not already there.
    let mut opts: Vec<&str> = root.options.split(',').collect();
    opts.extend(root.super_options.split(',').filter(|o| !root.options.split(',').any(|x| x == *o)));
    assert_eq!(Some(opts.join(",").as_str()), config(&n, "mount.options"));
    assert_eq!(root.source.as_deref(), Some("/dev/vda"));
}
