//! What the operator reads and takes away, made from the node records with no I/O: the fleet
//! table (the board, the rack, the report) and the report files, which `runtime::report`
//! writes into the data directory, atomically, as nodes complete and when the master finishes:
//!
//! ```text
//! report.html                      one self-contained page: the fleet, then a section per node
//! inventory.csv                    a row per node, the columns an operator sorts by
//! netbox/*.csv, netbox/README.txt  NetBox bulk-import files: devices, interfaces, MAC addresses,
//!                                  inventory items (netbox.rs says which NetBox and why)
//! ironic/<mac>.json                each node as the Ironic Python Agent posts its inspection data
//! ```

pub mod csv;
pub mod html;
pub mod ironic;
pub mod netbox;
pub mod table;

use std::collections::BTreeMap;

use inventory::model::Inventory;

use crate::serve::fleet::{FleetView, NodeView};

/// One node as the reports see it: where it got to, and its inventory if stored.
#[derive(Debug, Clone)]
pub struct Record {
    /// Where it got to, its DHCP identity, its summary.
    pub view: NodeView,
    /// The stored inventory, PCI names resolved.
    pub inventory: Option<Inventory>,
}

/// Every file of the report, by its path under the data directory.
pub fn files(fleet: &FleetView, records: &[Record], generated: &str) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    out.insert("report.html".to_owned(), html::page(fleet, records, generated).into_bytes());
    out.insert("inventory.csv".to_owned(), csv::inventory(records).into_bytes());
    for (name, text) in netbox::files(records, generated) {
        out.insert(format!("netbox/{name}"), text.into_bytes());
    }
    for r in records {
        if let Some(doc) = ironic::inspection(r) {
            let text = serde_json::to_vec_pretty(&doc).unwrap_or_default();
            out.insert(format!("ironic/{}.json", r.view.mac.dashed()), text);
        }
    }
    out
}

/// Whether option 97's machine UUID (what the firmware said at PXE) and the SMBIOS UUID (what
/// the inventory read) disagree: `Some((dhcp, smbios))` when both are known and differ.
pub fn uuid_mismatch(r: &Record) -> Option<(String, String)> {
    let dhcp = r.view.identity.uuid.as_deref()?;
    let smbios = r.inventory.as_ref().and_then(|i| i.system.uuid.as_deref())?;
    (!dhcp.eq_ignore_ascii_case(smbios)).then(|| (dhcp.to_owned(), smbios.to_owned()))
}

/// PCI functions with no kernel driver bound, bridges and host bridges left out (they never
/// have one): what a node may need a driver (or a newer kernel) for.
pub fn driverless(inv: &Inventory) -> Vec<String> {
    inv.pci
        .iter()
        .filter(|d| d.driver.is_none())
        .filter(|d| d.class.is_none_or(|c| c >> 16 != 0x06))
        .map(|d| {
            let name = d.names.as_ref().map(|n| {
                [n.vendor.as_deref(), n.device.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ")
            });
            match (name.filter(|n| !n.is_empty()), d.vendor_id, d.device_id) {
                (Some(n), ..) => format!("{} {n}", d.address),
                (None, Some(v), Some(p)) => format!("{} [{v:04x}:{p:04x}]", d.address),
                _ => d.address.clone(),
            }
        })
        .collect()
}

/// Octets as GiB or TB the way a data sheet says them: `15.6 GiB` of memory, `1.92 TB` of disk.
pub fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}

/// Disk sizes in decimal units, as drives are sold.
pub fn disk_size(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e12 { format!("{:.2} TB", b / 1e12) } else { format!("{:.0} GB", b / 1e9) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::fleet::Fleet;
    use netboot_proto::Mac;

    #[test]
    fn the_dhcp_identity_is_kept_and_a_uuid_mismatch_is_flagged() {
        let m = Mac([0x52, 0x54, 0, 0, 0, 7]);
        let mut f = Fleet::new();
        let ack = serde_json::json!({
            "ip": "10.0.0.7", "arch": 7, "uuid": "11111111-2222-3333-4444-555555555555",
            "vendor_class": "PXEClient:Arch:00007:UNDI:003016", "user_class": "iPXE",
            "relay": "10.9.0.1", "circuit_id": "0102", "remote_id": "aabb",
        });
        f.event(m, "dhcp-ack", 1, ack, true);
        let view = f.view(2).nodes[0].clone();
        let id = &view.identity;
        assert_eq!(id.arch.map(|a| a.0), Some(7));
        assert_eq!((id.relay, id.circuit_id.as_deref()), (Some("10.9.0.1".parse().unwrap()), Some("0102")));
        let mut inv = Inventory::default();
        inv.system.uuid = Some("99999999-2222-3333-4444-555555555555".into());
        inv.system.serial = Some("SN-7".into());
        let r = Record { view: view.clone(), inventory: Some(inv.clone()) };
        assert!(uuid_mismatch(&r).is_some());
        let html = html::page(&f.view(2), std::slice::from_ref(&r), "now");
        assert!(
            html.contains("differs from SMBIOS")
                && html.contains("x64 UEFI (7)")
                && html.contains("PXEClient:Arch:00007"),
            "{html}"
        );
        assert!(
            csv::inventory(std::slice::from_ref(&r)).contains("dhcp 11111111-2222-3333-4444-555555555555 smbios 9999")
        );
        // The same UUID in another case is a match.
        inv.system.uuid = Some("11111111-2222-3333-4444-555555555555".to_uppercase());
        assert!(uuid_mismatch(&Record { view, inventory: Some(inv) }).is_none());
    }

    #[test]
    fn the_page_is_self_contained_and_escapes_what_nodes_say() {
        let m = Mac([0x52, 0x54, 0, 0, 0, 8]);
        let mut f = Fleet::new();
        f.event(m, "inventory", 1, serde_json::json!({}), true);
        let mut inv = Inventory::default();
        inv.system.serial = Some("<script>alert(1)</script>".into());
        let r = Record { view: f.view(2).nodes[0].clone(), inventory: Some(inv) };
        let html = html::page(&f.view(2), &[r], "now");
        assert!(!html.contains("<script"), "a node's strings are escaped");
        assert!(html.contains("&lt;script&gt;"));
        for external in ["http://", "https://", " src=", "<link", "@import"] {
            assert!(!html.contains(external), "{external} in the page");
        }
    }

    #[test]
    fn what_a_node_did_not_report_is_not_printed_as_zero() {
        let m = Mac([0x52, 0x54, 0, 0, 0, 9]);
        let mut f = Fleet::new();
        f.event(m, "inventory", 1, serde_json::json!({}), true);
        let mut inv = Inventory::default();
        inv.cpu.model_name = Some("Xeon".into());
        inv.cpu.logical_cpus = 8;
        let r = Record { view: f.view(2).nodes[0].clone(), inventory: Some(inv) };
        let html = html::page(&f.view(2), &[r], "now");
        assert!(html.contains("Xeon (8 logical CPUs)"), "{html}");
        assert!(!html.contains("0 sockets"));
        // No disks anywhere: said in words, not an empty table.
        assert!(html.contains("<h3>Disks (drives)</h3><p class=muted>none reported</p>"), "{html}");
    }
}
