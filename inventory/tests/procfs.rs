//! The prometheus/procfs fixture tree: a real Dell PowerEdge R6515's `/sys/class/dmi/id`, PCI
//! functions with PCIe links, a NIC, NUMA nodes. It has no SMBIOS table, so identity comes from
//! the kernel's DMI attributes. Also: the whole inventory survives JSON and postcard.

mod common;

use std::process::Command;

use inventory::model::{Inventory, Source};
use inventory::{NoDevices, Options, SysRoot, collect};

fn procfs_tree() -> (tempfile::TempDir, Inventory) {
    let f = common::fixtures("procfs");
    let tmp = tempfile::tempdir().unwrap();
    let st = Command::new("python3")
        .arg(f.join("unttar.py"))
        .arg(f.join("fixtures.ttar"))
        .arg(tmp.path())
        .stdout(std::process::Stdio::null())
        .status()
        .expect("python3");
    assert!(st.success());
    let inv = collect(&SysRoot::new(tmp.path().join("fixtures")), &NoDevices, &Options::default());
    (tmp, inv)
}

#[test]
fn identity_from_dmi_id_pci_and_network() {
    let (_t, inv) = procfs_tree();
    let s = &inv.system;
    assert_eq!(s.source, Some(Source::DmiId));
    assert_eq!(s.manufacturer.as_deref(), Some("Dell Inc."));
    assert_eq!(s.product.as_deref(), Some("PowerEdge R6515"));
    assert_eq!(s.serial.as_deref(), Some("7N62AI2"));
    assert_eq!(s.uuid.as_deref(), Some("83340ca8-cb49-4474-8c29-d2088ca84dd9"));
    assert_eq!(s.baseboard.product.as_deref(), Some("07PXPY"));
    assert_eq!(s.chassis.type_name.as_deref(), Some("Rack Mount Chassis"));
    assert_eq!(inv.firmware.version.as_deref(), Some("2.2.4"));
    assert_eq!(inv.firmware.date.as_deref(), Some("04/12/2021"));

    let addrs: Vec<&str> = inv.pci.iter().map(|p| p.address.as_str()).collect();
    assert_eq!(addrs, ["0000:00:02.1", "0000:01:00.0", "0000:a2:00.0"]);
    let nvme = &inv.pci[1];
    assert_eq!((nvme.vendor_id, nvme.device_id, nvme.class), (Some(0xc0a9), Some(0x540a), Some(0x010802)));
    assert_eq!(nvme.driver.as_deref(), Some("nvme"));
    let link = nvme.link.as_ref().unwrap();
    assert_eq!((link.current_speed_mts, link.current_width, link.max_speed_mts), (Some(8000), Some(4), Some(8000)));
    let ice = &inv.pci[2];
    assert_eq!((ice.driver.as_deref(), ice.numa_node), (Some("ice"), Some(1)));
    assert_eq!(ice.link.as_ref().unwrap().current_speed_mts, Some(16000));
    assert_eq!(inv.pci[0].numa_node, None, "numa_node -1 means none");
    assert!(inv.gpus.is_empty());

    assert_eq!(inv.network.len(), 1);
    let eth = &inv.network[0];
    assert_eq!(eth.mac.as_deref(), Some("01:01:01:01:01:01"));
    assert_eq!((eth.speed_mbps, eth.duplex.as_deref(), eth.mtu), (Some(1000), Some("full"), Some(1500)));
    assert_eq!(eth.pci_address.as_deref(), Some("0000:00:1f.6"));
    assert_eq!(eth.link_type.as_deref(), Some("ethernet"));
    assert!(!eth.virtual_device);
    assert_eq!(inv.memory.usable_bytes, Some(15_666_184 * 1024));
}

/// The tree's `config` files were stored as text and came out with UTF-8 replacement
/// characters in them (82 and 80 octets, a header of nonsense): they degrade the functions'
/// `config` and add an error, nothing else.
#[test]
fn mangled_config_files_degrade_only_the_config() {
    let (_t, inv) = procfs_tree();
    assert_eq!(inv.pci.len(), 3);
    assert!(inv.pci.iter().all(|p| p.vendor_id.is_some() && p.class.is_some()));
    let configs: Vec<_> = inv.pci.iter().map(|p| p.config.as_ref().map(|c| c.octets)).collect();
    assert_eq!(configs, [Some(82), Some(80), None], "0000:a2:00.0 has no config file");
    let pci_errors: Vec<_> = inv.errors.iter().filter(|e| e.collector == "pci").collect();
    assert_eq!(pci_errors.len(), 1, "{pci_errors:?}");
    assert!(pci_errors[0].path.ends_with("0000:00:02.1/config"));
    // The NIC's sysfs flags (0x1303).
    assert_eq!(inv.network[0].flags, ["up", "broadcast", "promisc", "allmulti", "multicast"]);
}

#[test]
fn the_inventory_round_trips_through_json_and_postcard() {
    let (_t, mut inv) = procfs_tree();
    inventory::names::name_pci(&mut inv, &inventory::names::PciDb::Embedded);
    assert!(inv.pci.iter().all(|p| p.names.as_ref().is_some_and(|n| n.vendor.is_some())));
    let json = serde_json::to_string(&inv).unwrap();
    assert_eq!(serde_json::from_str::<Inventory>(&json).unwrap(), inv);
    let pc = postcard::to_stdvec(&inv).unwrap();
    assert_eq!(postcard::from_bytes::<Inventory>(&pc).unwrap(), inv);
    eprintln!("JSON {} bytes, postcard {} bytes", json.len(), pc.len());
    assert!(pc.len() < json.len() / 2);
}
