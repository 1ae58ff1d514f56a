//! `inventory.csv`: a row per node, the columns an operator sorts by, in CSV as
//! [RFC 4180] writes it (CRLF line ends, fields with a comma, quote or line break quoted, quotes
//! doubled).
//!
//! [RFC 4180]: https://www.rfc-editor.org/rfc/rfc4180

use super::Record;

/// One CSV field, quoted when it must be (RFC 4180, section 2, rules 6 and 7).
pub fn field(s: &str) -> String {
    if s.contains([',', '"', '\r', '\n']) || s.starts_with(' ') || s.ends_with(' ') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// Rows to CSV text.
pub fn write(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = header.iter().map(|h| field(h)).collect::<Vec<_>>().join(",");
    out.push_str("\r\n");
    for r in rows {
        out.push_str(&r.iter().map(|f| field(f)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

/// The columns of inventory.csv.
pub const INVENTORY_COLUMNS: [&str; 24] = [
    "mac",
    "ip",
    "state",
    "status",
    "serial",
    "uuid",
    "hostname",
    "manufacturer",
    "product",
    "cpu_model",
    "sockets",
    "cores",
    "logical_cpus",
    "memory_bytes",
    "disks",
    "disk_bytes",
    "disk_serials",
    "nics",
    "nic_macs",
    "nic_speeds_mbps",
    "bmc",
    "bmc_ip",
    "boot_mode",
    "uuid_mismatch",
];

/// inventory.csv.
pub fn inventory(records: &[Record]) -> String {
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            let v = &r.view;
            let o = |x: Option<&String>| x.cloned().unwrap_or_default();
            let n = |x: u64| if x == 0 { String::new() } else { x.to_string() };
            let Some(i) = &r.inventory else {
                let mut row = vec![v.mac.to_string(), v.ip.map(|a| a.to_string()).unwrap_or_default()];
                row.extend([v.state.clone(), v.status.clone()]);
                row.resize(INVENTORY_COLUMNS.len(), String::new());
                return row;
            };
            let nics: Vec<_> = i.network.iter().filter(|x| !x.virtual_device).collect();
            vec![
                v.mac.to_string(),
                v.ip.map(|a| a.to_string()).unwrap_or_default(),
                v.state.clone(),
                v.status.clone(),
                o(i.system.serial.as_ref()),
                o(i.system.uuid.as_ref()),
                o(i.run.hostname.as_ref()),
                o(i.system.manufacturer.as_ref()),
                o(i.system.product.as_ref()),
                o(i.cpu.model_name.as_ref()),
                n(u64::from(i.cpu.sockets)),
                n(u64::from(i.cpu.cores)),
                n(u64::from(i.cpu.logical_cpus)),
                i.memory.usable_bytes.map(|b| b.to_string()).unwrap_or_default(),
                i.storage.disks.len().to_string(),
                i.storage.disks.iter().filter_map(|d| d.size_bytes).sum::<u64>().to_string(),
                i.storage.disks.iter().filter_map(|d| d.serial.as_deref()).collect::<Vec<_>>().join(" "),
                nics.len().to_string(),
                nics.iter()
                    .filter_map(|x| x.permanent_mac.as_deref().or(x.mac.as_deref()))
                    .collect::<Vec<_>>()
                    .join(" "),
                nics.iter().map(|x| x.speed_mbps.map_or("-".into(), |s| s.to_string())).collect::<Vec<_>>().join(" "),
                if i.bmc.present { "yes" } else { "no" }.into(),
                i.bmc.lan.iter().find_map(|l| l.ipv4.clone()).unwrap_or_default(),
                match i.firmware.boot_mode {
                    Some(inventory::model::BootMode::Uefi) => "uefi".into(),
                    Some(inventory::model::BootMode::Bios) => "bios".into(),
                    None => String::new(),
                },
                super::uuid_mismatch(r).map(|(d, s)| format!("dhcp {d} smbios {s}")).unwrap_or_default(),
            ]
        })
        .collect();
    write(&INVENTORY_COLUMNS, &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_as_rfc_4180_says() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(write(&["a", "b"], &[vec!["1".into(), "x,y".into()]]), "a,b\r\n1,\"x,y\"\r\n");
    }
}
