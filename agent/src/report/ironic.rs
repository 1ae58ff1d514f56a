//! Each node as OpenStack's Ironic Python Agent (IPA) posts its introspection data to
//! ironic-inspector's `/v1/continue` or Ironic's `/v1/continue_inspection`: `inventory`,
//! `root_disk`, `boot_interface`, `configuration`, `error`. The keys and units are IPA's
//! (openstack/ironic-python-agent `ironic_python_agent/hardware.py`, the `serializable_fields` of
//! NetworkInterface, CPU, BlockDevice, Memory, SystemVendorInfo, SystemFirmware and BootInfo;
//! `inspector.py` `collect_default`): memory `total` in octets and `physical_mb` in MiB, disk
//! `size` in octets, CPU `frequency` a string in MHz, `count` the logical CPUs, `speed_mbps` in
//! Mbit/s. Where recon knows nothing, IPA's own empty values: null, or `''` for the vendor strings.

use serde_json::{Value, json};

use super::Record;

/// IPA's smallest root disk (`utils.guess_root_disk`: the smallest disk of at least 4 GiB).
const MIN_ROOT: u64 = 4 << 30;

/// The introspection data of a node whose inventory is stored.
pub fn inspection(r: &Record) -> Option<Value> {
    let inv = r.inventory.as_ref()?;
    let pci = |addr: &Option<String>| addr.as_ref().and_then(|a| inv.pci.iter().find(|p| &p.address == a));
    let interfaces: Vec<Value> = inv
        .network
        .iter()
        .filter(|n| !n.virtual_device)
        .map(|n| {
            let dev = pci(&n.pci_address);
            json!({
                "name": n.name,
                "mac_address": n.permanent_mac.as_ref().or(n.mac.as_ref()),
                "ipv4_address": n.ipv4.first().map(|a| a.address.clone()),
                "ipv6_address": n.ipv6.first().map(|a| a.address.clone()),
                "has_carrier": n.carrier.unwrap_or(false),
                "lldp": null,
                "vendor": dev.and_then(|d| d.vendor_id).map(|v| format!("0x{v:04x}")),
                "product": dev.and_then(|d| d.device_id).map(|v| format!("0x{v:04x}")),
                "client_id": n.ib_node_guid,
                "biosdevname": null,
                "speed_mbps": n.speed_mbps,
                "pci_address": n.pci_address,
                "driver": n.driver,
            })
        })
        .collect();
    let disk = |d: &inventory::model::Disk| {
        json!({
            "name": format!("/dev/{}", d.name),
            "model": d.model.clone().unwrap_or_default(),
            "size": d.size_bytes.unwrap_or(0),
            "rotational": d.rotational.unwrap_or(false),
            "wwn": d.wwn,
            "serial": d.serial,
            "vendor": d.vendor,
            "wwn_with_extension": d.wwn,
            "wwn_vendor_extension": null,
            "hctl": d.hctl,
            "by_path": d.by_path.as_ref().map(|p| format!("/dev/disk/by-path/{p}")),
            "logical_sectors": d.logical_block_bytes,
            "physical_sectors": d.physical_block_bytes,
            "tran": d.transport,
        })
    };
    let disks: Vec<Value> = inv.storage.disks.iter().map(disk).collect();
    let root = inv
        .storage
        .disks
        .iter()
        .filter(|d| d.size_bytes.is_some_and(|s| s >= MIN_ROOT) && !d.removable.unwrap_or(false))
        .min_by_key(|d| d.size_bytes)
        .map(disk);
    let lan = inv.bmc.lan.iter().find(|l| l.ipv4.as_deref().is_some_and(|a| a != "0.0.0.0"));
    let boot_mac = inv.run.boot_mac.clone();
    let mut inventory = json!({
        "interfaces": interfaces,
        "cpu": {
            "model_name": inv.cpu.model_name.clone().unwrap_or_default(),
            "frequency": inv.cpu.max_hz.map_or(String::new(), |hz| format!("{:.4}", hz as f64 / 1e6)),
            "count": inv.cpu.logical_cpus,
            "architecture": inv.cpu.architecture.clone().unwrap_or_default(),
            "flags": inv.cpu.flags,
            "socket_count": inv.cpu.sockets,
        },
        "disks": disks,
        "memory": {
            "total": inv.memory.usable_bytes,
            "physical_mb": inv.memory.installed_bytes.map(|b| b >> 20),
        },
        "bmc_address": if inv.bmc.present { Some(lan.and_then(|l| l.ipv4.clone()).unwrap_or_else(|| "0.0.0.0".into())) } else { None },
        "bmc_v6address": null,
        "system_vendor": {
            "product_name": inv.system.product.clone().unwrap_or_default(),
            "serial_number": inv.system.serial.clone().unwrap_or_default(),
            "manufacturer": inv.system.manufacturer.clone().unwrap_or_default(),
            "firmware": {
                "vendor": inv.firmware.vendor.clone().unwrap_or_default(),
                "version": inv.firmware.version.clone().unwrap_or_default(),
                "build_date": inv.firmware.date.clone().unwrap_or_default(),
            },
        },
        "boot": {
            "current_boot_mode": match inv.firmware.boot_mode {
                Some(inventory::model::BootMode::Uefi) => "uefi",
                _ => "bios",
            },
            "pxe_interface": boot_mac,
        },
        "hostname": inv.run.hostname.clone().unwrap_or_default(),
    });
    // IPA leaves bmc_mac out, rather than null, when it found none.
    if let (Some(map), Some(mac)) = (inventory.as_object_mut(), lan.and_then(|l| l.mac.clone())) {
        map.insert("bmc_mac".into(), json!(mac));
    }
    let mut doc = json!({
        "inventory": inventory,
        "boot_interface": inv.run.boot_mac,
        "configuration": {
            "collectors": ["recon"],
            "managers": [{ "name": "recon", "version": inv.run.agent_version }],
        },
        "error": if inv.errors.is_empty() { Value::Null } else {
            Value::String(format!("The following errors were encountered:\n{}", inv.errors.iter().map(|p| format!("* {} {}: {}", p.collector, p.path, p.reason)).collect::<Vec<_>>().join("\n")))
        },
    });
    if let (Some(map), Some(root)) = (doc.as_object_mut(), root) {
        map.insert("root_disk".into(), root);
    }
    Some(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::fleet::Fleet;
    use netboot_proto::Mac;

    /// IPA's keys (openstack/ironic-python-agent @ a9e64be, `ironic_python_agent/hardware.py`:
    /// `serializable_fields` of NetworkInterface, CPU, BlockDevice, Memory, SystemVendorInfo,
    /// SystemFirmware, BootInfo; `list_hardware_info` for the inventory's keys; `inspector.py`
    /// `collect_default` for the top level).
    const TOP: &[&str] = &["inventory", "root_disk", "boot_interface", "configuration", "error"];
    const INVENTORY: &[&str] =
        &["interfaces", "cpu", "disks", "memory", "bmc_address", "bmc_v6address", "system_vendor", "boot", "hostname"];
    const INTERFACE: &[&str] = &[
        "name",
        "mac_address",
        "ipv4_address",
        "ipv6_address",
        "has_carrier",
        "lldp",
        "vendor",
        "product",
        "client_id",
        "biosdevname",
        "speed_mbps",
        "pci_address",
        "driver",
    ];
    const CPU: &[&str] = &["model_name", "frequency", "count", "architecture", "flags", "socket_count"];
    const DISK: &[&str] = &[
        "name",
        "model",
        "size",
        "rotational",
        "wwn",
        "serial",
        "vendor",
        "wwn_with_extension",
        "wwn_vendor_extension",
        "hctl",
        "by_path",
        "logical_sectors",
        "physical_sectors",
        "tran",
    ];
    const MEMORY: &[&str] = &["total", "physical_mb"];
    const VENDOR: &[&str] = &["product_name", "serial_number", "manufacturer", "firmware"];
    const FIRMWARE: &[&str] = &["vendor", "version", "build_date"];
    const BOOT: &[&str] = &["current_boot_mode", "pxe_interface"];

    fn keys(v: &Value) -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    }

    fn same(v: &Value, want: &[&str]) {
        let mut w: Vec<String> = want.iter().map(|s| (*s).to_owned()).collect();
        w.sort();
        assert_eq!(keys(v), w);
    }

    #[test]
    fn the_document_has_ipas_keys_and_units() {
        let mut inv = inventory::model::Inventory::default();
        inv.system.serial = Some("SN-1".into());
        inv.cpu.logical_cpus = 8;
        inv.cpu.max_hz = Some(2_400_000_000);
        inv.memory.usable_bytes = Some(8 << 30);
        inv.memory.installed_bytes = Some(8 << 30);
        inv.run.boot_mac = Some("52:54:00:00:00:01".into());
        inv.storage.disks.push(inventory::model::Disk {
            name: "sda".into(),
            size_bytes: Some(64 << 30),
            ..Default::default()
        });
        inv.storage.disks.push(inventory::model::Disk {
            name: "sdb".into(),
            size_bytes: Some(1 << 30),
            ..Default::default()
        });
        inv.network.push(inventory::model::Nic {
            name: "eth0".into(),
            mac: Some("52:54:00:00:00:01".into()),
            ..Default::default()
        });
        let mut f = Fleet::new();
        f.event(Mac([0x52, 0x54, 0, 0, 0, 1]), "inventory", 1, serde_json::json!({}), true);
        let view = f.view(2).nodes[0].clone();
        let doc = inspection(&Record { view, inventory: Some(inv) }).unwrap();
        same(&doc, TOP);
        same(&doc["inventory"], INVENTORY);
        same(&doc["inventory"]["interfaces"][0], INTERFACE);
        same(&doc["inventory"]["cpu"], CPU);
        same(&doc["inventory"]["disks"][0], DISK);
        same(&doc["inventory"]["memory"], MEMORY);
        same(&doc["inventory"]["system_vendor"], VENDOR);
        same(&doc["inventory"]["system_vendor"]["firmware"], FIRMWARE);
        same(&doc["inventory"]["boot"], BOOT);
        assert_eq!(doc["inventory"]["cpu"]["frequency"], "2400.0000", "a string, MHz");
        assert_eq!(doc["inventory"]["memory"]["physical_mb"], 8192, "MiB");
        assert_eq!(doc["inventory"]["memory"]["total"], 8u64 << 30, "octets");
        assert_eq!(doc["root_disk"]["name"], "/dev/sda", "the smallest disk of at least 4 GiB");
        assert_eq!(doc["inventory"]["bmc_address"], Value::Null, "no BMC");
        assert!(doc["inventory"].get("bmc_mac").is_none(), "left out, as IPA does, when none");
    }
}
