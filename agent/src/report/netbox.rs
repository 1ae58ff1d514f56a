//! NetBox bulk-import files (Organization/Devices → Import, "CSV data"), for NetBox 4.2 and
//! newer. The headers are the import forms' field names, as NetBox 4.6.8 declares them
//! (netbox-community/netbox `netbox/dcim/forms/bulk_import.py`: `DeviceImportForm`,
//! `InterfaceImportForm`, `MACAddressImportForm`, `InventoryItemImportForm`, their `Meta.fields`;
//! choice values from `netbox/dcim/choices.py`):
//!
//! - `devices.csv`: one device per node; `role`, `manufacturer`, `device_type`, `status` and `site`
//!   are required and looked up by name (`device_type` by its model, within the manufacturer);
//! - `interfaces.csv`: its physical NICs, `type` from the speed and the port (NetBox's interface
//!   types), `speed` in Kbps;
//! - `mac-addresses.csv`: since 4.2 a MAC address is an object of its own, imported after the
//!   interfaces;
//! - `inventory-items.csv`: CPUs, DIMMs, disks and power supplies with their serials.
//!
//! NetBox creates nothing it is referred to: README.txt lists the site, role, manufacturers and
//! device types to create first, in order.

use std::collections::BTreeSet;

use inventory::model::Inventory;

use super::Record;
use super::csv::write;

/// The site every device is filed under until the operator moves it.
pub const SITE: &str = "recon-staging";
/// The device role.
pub const ROLE: &str = "server";
/// Device status: hardware that is not deployed yet (`DeviceStatusChoices.STATUS_INVENTORY`).
pub const STATUS: &str = "inventory";

/// `devices.csv` header.
pub const DEVICE_COLUMNS: [&str; 8] =
    ["name", "role", "manufacturer", "device_type", "status", "site", "serial", "description"];
/// `interfaces.csv` header.
pub const INTERFACE_COLUMNS: [&str; 8] =
    ["device", "name", "type", "speed", "mtu", "mgmt_only", "enabled", "description"];
/// `mac-addresses.csv` header.
pub const MAC_COLUMNS: [&str; 4] = ["device", "interface", "mac_address", "is_primary"];
/// `inventory-items.csv` header.
pub const ITEM_COLUMNS: [&str; 8] =
    ["device", "name", "status", "part_id", "serial", "discovered", "label", "description"];

/// NetBox's name for a node: its host name when it has a real one, else `recon-` and its serial,
/// else its MAC. Unique, since interfaces and items refer to devices by name.
pub fn device_name(r: &Record) -> String {
    let inv = r.inventory.as_ref();
    let host = inv
        .and_then(|i| i.run.hostname.clone())
        .filter(|h| !matches!(h.as_str(), "" | "localhost" | "(none)" | "debian"));
    let serial = inv.and_then(|i| i.system.serial.clone()).filter(|s| real(s));
    host.or_else(|| serial.map(|s| format!("recon-{s}"))).unwrap_or_else(|| format!("recon-{}", r.view.mac.dashed()))
}

/// Not a firmware placeholder.
fn real(s: &str) -> bool {
    let l = s.trim().to_ascii_lowercase();
    !(l.is_empty()
        || l.contains("not specified")
        || l.contains("to be filled")
        || l == "default string"
        || l == "none"
        || l.chars().all(|c| c == '0' || c == 'f' || c == '-'))
}

fn cut(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// The interface type for a port of `mbps` and ethtool's `port` (`tp`, `fibre`, `da`).
pub fn interface_type(mbps: Option<u32>, port: Option<&str>) -> &'static str {
    let copper = matches!(port, Some("tp" | "mii"));
    match (mbps, copper) {
        (Some(1000), true) => "1000base-t",
        (Some(10_000), true) => "10gbase-t",
        (Some(1000), false) => "1000base-x-sfp",
        (Some(10_000), false) => "10gbase-x-sfpp",
        (Some(25_000), _) => "25gbase-x-sfp28",
        (Some(40_000), _) => "40gbase-x-qsfpp",
        (Some(100_000), _) => "100gbase-x-qsfp28",
        _ => "other",
    }
}

fn manufacturer(i: &Inventory) -> String {
    i.system.manufacturer.clone().filter(|m| real(m)).unwrap_or_else(|| "Unknown".into())
}

fn device_type(i: &Inventory) -> String {
    i.system.product.clone().filter(|m| real(m)).unwrap_or_else(|| "Generic server".into())
}

/// Every NetBox file, by name.
pub fn files(records: &[Record], generated: &str) -> Vec<(String, String)> {
    let mut devices = Vec::new();
    let mut interfaces = Vec::new();
    let mut macs = Vec::new();
    let mut items = Vec::new();
    let mut types: BTreeSet<(String, String)> = BTreeSet::new();
    for r in records {
        let Some(i) = &r.inventory else { continue };
        let name = device_name(r);
        types.insert((manufacturer(i), device_type(i)));
        devices.push(vec![
            cut(&name, 64),
            ROLE.into(),
            manufacturer(i),
            device_type(i),
            STATUS.into(),
            SITE.into(),
            cut(&i.system.serial.clone().filter(|s| real(s)).unwrap_or_default(), 50),
            format!(
                "recon inventory {generated}; boot MAC {}; UUID {}",
                r.view.mac,
                i.system.uuid.clone().unwrap_or_default()
            ),
        ]);
        for n in i.network.iter().filter(|n| !n.virtual_device) {
            interfaces.push(vec![
                name.clone(),
                cut(&n.name, 64),
                interface_type(n.speed_mbps, n.port.as_deref()).into(),
                n.speed_mbps.map(|s| (u64::from(s) * 1000).to_string()).unwrap_or_default(),
                n.mtu.map(|m| m.to_string()).unwrap_or_default(),
                "false".into(),
                "true".into(),
                [n.driver.as_deref(), n.pci_address.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" "),
            ]);
            if let Some(mac) = n.permanent_mac.as_ref().or(n.mac.as_ref()) {
                macs.push(vec![
                    name.clone(),
                    cut(&n.name, 64),
                    mac.clone(),
                    if n.boot { "true" } else { "false" }.into(),
                ]);
            }
        }
        if let Some(lan) = i.bmc.lan.iter().find(|l| l.mac.is_some()) {
            interfaces.push(vec![
                name.clone(),
                "bmc".into(),
                "1000base-t".into(),
                String::new(),
                String::new(),
                "true".into(),
                "true".into(),
                format!("BMC, IPMI channel {}, {}", lan.channel, lan.ipv4.clone().unwrap_or_default()),
            ]);
            macs.push(vec![name.clone(), "bmc".into(), lan.mac.clone().unwrap_or_default(), "true".into()]);
        }
        let mut item = |label: &str, part: Option<&String>, serial: Option<&String>, desc: String| {
            let n = items
                .iter()
                .filter(|r: &&Vec<String>| r.first() == Some(&name) && r.get(6).is_some_and(|l| l == label))
                .count();
            items.push(vec![
                name.clone(),
                cut(&format!("{label} {n}"), 64),
                "active".into(),
                cut(part.map(String::as_str).unwrap_or_default(), 50),
                cut(serial.filter(|s| real(s)).map(String::as_str).unwrap_or_default(), 50),
                "true".into(),
                label.into(),
                desc,
            ]);
        };
        for p in i.cpu.packages.iter().filter(|p| p.populated) {
            item("CPU", p.version.as_ref(), p.serial.as_ref(), p.socket.clone().unwrap_or_default());
        }
        for d in i.memory.dimms.iter().filter(|d| d.size_bytes.is_some()) {
            let desc = format!(
                "{} {}",
                d.locator.clone().unwrap_or_default(),
                d.size_bytes.map(super::gib).unwrap_or_default()
            );
            item("DIMM", d.part_number.as_ref(), d.serial.as_ref(), desc);
        }
        for d in &i.storage.disks {
            let desc = format!(
                "/dev/{} {} {}",
                d.name,
                d.size_bytes.map(super::disk_size).unwrap_or_default(),
                d.wwn.clone().unwrap_or_default()
            );
            item("Disk", d.model.as_ref(), d.serial.as_ref(), desc.trim().to_owned());
        }
        for p in &i.power_supplies {
            item("PSU", p.part_number.as_ref(), p.serial.as_ref(), p.location.clone().unwrap_or_default());
        }
    }
    let manufacturers: BTreeSet<&String> = types.iter().map(|(m, _)| m).collect();
    let readme = format!(
        "NetBox bulk import of the fleet recon inventoried ({generated}), for NetBox 4.2 and newer.\r\n\
         \r\n\
         NetBox looks up what these files refer to by name and creates none of it. Create first:\r\n\
         1. the site {SITE:?} (Organization > Sites; or change the site column to yours);\r\n\
         2. the device role {ROLE:?} (Devices > Device Roles);\r\n\
         3. the manufacturers: {};\r\n\
         4. the device types (Devices > Device Types > Import, YAML only), each `manufacturer`, `model`,\r\n\
            `slug`: {}.\r\n\
         Keep their interface templates empty, or the interfaces below clash with them.\r\n\
         \r\n\
         Then import, in this order: devices.csv (Devices), interfaces.csv (Interfaces),\r\n\
         mac-addresses.csv (MAC Addresses), inventory-items.csv (Inventory Items, deprecated since 4.3\r\n\
         but still accepted). Interface speeds are in Kbps; interface types are guessed from the\r\n\
         speed and the port (copper or not), `other` where recon could not tell.\r\n",
        manufacturers.iter().map(|m| format!("{m:?}")).collect::<Vec<_>>().join(", "),
        types.iter().map(|(m, t)| format!("{t:?} by {m:?}")).collect::<Vec<_>>().join(", ")
    );
    vec![
        ("README.txt".into(), readme),
        ("devices.csv".into(), write(&DEVICE_COLUMNS, &devices)),
        ("interfaces.csv".into(), write(&INTERFACE_COLUMNS, &interfaces)),
        ("mac-addresses.csv".into(), write(&MAC_COLUMNS, &macs)),
        ("inventory-items.csv".into(), write(&ITEM_COLUMNS, &items)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The field names NetBox 4.6.8's import forms accept (netbox-community/netbox, tag v4.6.8,
    /// `netbox/dcim/forms/bulk_import.py`: `DeviceImportForm.Meta.fields`,
    /// `InterfaceImportForm.Meta.fields`, `MACAddressImportForm.Meta.fields`,
    /// `InventoryItemImportForm.Meta.fields`), and which of them the forms require. An unknown
    /// header fails the whole import ("Unrecognized header", `CSVModelForm.clean`).
    const DEVICE_FIELDS: &[&str] = &[
        "name",
        "role",
        "tenant",
        "manufacturer",
        "device_type",
        "platform",
        "serial",
        "asset_tag",
        "status",
        "site",
        "location",
        "rack",
        "position",
        "face",
        "latitude",
        "longitude",
        "parent",
        "device_bay",
        "airflow",
        "virtual_chassis",
        "vc_position",
        "vc_priority",
        "cluster",
        "description",
        "config_template",
        "owner",
        "comments",
        "tags",
    ];
    const DEVICE_REQUIRED: &[&str] = &["role", "manufacturer", "device_type", "status", "site"];
    const INTERFACE_FIELDS: &[&str] = &[
        "device",
        "name",
        "label",
        "parent",
        "bridge",
        "lag",
        "type",
        "speed",
        "duplex",
        "enabled",
        "mark_connected",
        "wwn",
        "vdcs",
        "mtu",
        "mgmt_only",
        "description",
        "poe_mode",
        "poe_type",
        "mode",
        "vlan_group",
        "untagged_vlan",
        "tagged_vlans",
        "qinq_svlan",
        "vrf",
        "rf_role",
        "rf_channel",
        "rf_channel_frequency",
        "rf_channel_width",
        "tx_power",
        "owner",
        "tags",
    ];
    const INTERFACE_REQUIRED: &[&str] = &["device", "name", "type"];
    const MAC_FIELDS: &[&str] = &[
        "mac_address",
        "device",
        "virtual_machine",
        "interface",
        "is_primary",
        "description",
        "owner",
        "comments",
        "tags",
    ];
    const ITEM_FIELDS: &[&str] = &[
        "device",
        "name",
        "label",
        "status",
        "role",
        "manufacturer",
        "parent",
        "part_id",
        "serial",
        "asset_tag",
        "discovered",
        "description",
        "owner",
        "tags",
        "component_type",
        "component_name",
    ];
    const ITEM_REQUIRED: &[&str] = &["device", "name", "status"];
    /// `InterfaceTypeChoices` values present from NetBox 3.7.8 to 4.6.8 (`netbox/dcim/choices.py`).
    const INTERFACE_TYPES: &[&str] = &[
        "1000base-t",
        "10gbase-t",
        "1000base-x-sfp",
        "10gbase-x-sfpp",
        "25gbase-x-sfp28",
        "40gbase-x-qsfpp",
        "100gbase-x-qsfp28",
        "other",
    ];

    fn fits(ours: &[&str], theirs: &[&str], required: &[&str]) {
        for h in ours {
            assert!(theirs.contains(h), "{h:?} is not a field of NetBox's import form");
        }
        for r in required {
            assert!(ours.contains(r), "NetBox requires {r:?}");
        }
    }

    #[test]
    fn headers_are_netbox_import_fields_with_every_required_one() {
        fits(&DEVICE_COLUMNS, DEVICE_FIELDS, DEVICE_REQUIRED);
        fits(&INTERFACE_COLUMNS, INTERFACE_FIELDS, INTERFACE_REQUIRED);
        fits(&MAC_COLUMNS, MAC_FIELDS, &["mac_address", "device", "interface"]);
        fits(&ITEM_COLUMNS, ITEM_FIELDS, ITEM_REQUIRED);
    }

    #[test]
    fn interface_types_are_netbox_choices() {
        for (mbps, port) in [
            (Some(1000), Some("tp")),
            (Some(10_000), Some("fibre")),
            (Some(25_000), None),
            (None, None),
            (Some(100), Some("tp")),
        ] {
            let t = interface_type(mbps, port);
            assert!(INTERFACE_TYPES.contains(&t), "{mbps:?} {port:?}: {t}");
        }
        assert_eq!(interface_type(Some(1000), Some("tp")), "1000base-t");
        assert_eq!(interface_type(Some(10_000), Some("da")), "10gbase-x-sfpp");
    }

    #[test]
    fn placeholders_are_not_serials() {
        for p in ["", "Not Specified", "To Be Filled By O.E.M.", "Default string", "0000000000", "None"] {
            assert!(!real(p), "{p:?}");
        }
        assert!(real("RACK-SN-001"));
    }
}
