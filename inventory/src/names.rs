//! PCI names, added where reports are made (the master, `recon inventory` on a terminal), never
//! on the peer's upload path: peers send raw ids.
//!
//! Two databases: the snapshot built into the `pci-ids` crate, and the machine's own `pci.ids`
//! (pciutils' `/usr/share/misc/pci.ids`, hwdata's `/usr/share/hwdata/pci.ids`) when its
//! `Version:` header is newer. The file format is pciutils' (see the header of pci.ids): vendor
//! lines `vvvv  name`, device lines with one tab, subsystem lines with two tabs and
//! `ssss dddd  name`, and a class section of `C cc  name` lines with subclasses and programming
//! interfaces below.

use std::collections::HashMap;

use crate::model::{Inventory, PciNames};

/// The date of the snapshot built into pci-ids 0.2.6.
pub const EMBEDDED_VERSION: &str = "2025.07.11";

/// Where names come from.
#[derive(Debug)]
pub enum PciDb {
    /// The pci-ids crate's snapshot (empty without the `builtin-pci-ids` feature).
    Embedded,
    /// A parsed `pci.ids` file.
    File(Box<IdsFile>),
}

/// A parsed `pci.ids`.
#[derive(Debug, Default)]
pub struct IdsFile {
    /// The `Version:` header (`2025.07.11`).
    pub version: String,
    vendors: HashMap<u16, String>,
    devices: HashMap<(u16, u16), String>,
    subsystems: HashMap<(u16, u16, u16, u16), String>,
    classes: HashMap<(u8, Option<u8>, Option<u8>), String>,
}

impl IdsFile {
    /// Parses the text of a `pci.ids`; lines that do not fit the format are skipped.
    pub fn parse(text: &str) -> IdsFile {
        let mut f = IdsFile::default();
        let (mut vendor, mut device, mut class, mut subclass) = (None, None, None::<u8>, None::<u8>);
        let mut in_classes = false;
        for line in text.lines() {
            if let Some(v) = line.strip_prefix("#\tVersion:") {
                f.version = v.trim().to_owned();
                continue;
            }
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let tabs = line.bytes().take_while(|&b| b == b'\t').count();
            let body = &line[tabs..];
            if tabs == 0 {
                if let Some(rest) = body.strip_prefix("C ") {
                    in_classes = true;
                    let (id, name) = split_id(rest);
                    class = id.and_then(|i| u8::from_str_radix(i, 16).ok());
                    subclass = None;
                    if let (Some(c), Some(n)) = (class, name) {
                        f.classes.insert((c, None, None), n.to_owned());
                    }
                } else {
                    in_classes = false;
                    let (id, name) = split_id(body);
                    vendor = id.and_then(|i| u16::from_str_radix(i, 16).ok());
                    device = None;
                    if let (Some(v), Some(n)) = (vendor, name) {
                        f.vendors.insert(v, n.to_owned());
                    }
                }
            } else if in_classes {
                let (id, name) = split_id(body);
                let id = id.and_then(|i| u8::from_str_radix(i, 16).ok());
                match (tabs, class, id, name) {
                    (1, Some(c), Some(s), Some(n)) => {
                        subclass = Some(s);
                        f.classes.insert((c, Some(s), None), n.to_owned());
                    }
                    (2, Some(c), Some(p), Some(n)) if subclass.is_some() => {
                        f.classes.insert((c, subclass, Some(p)), n.to_owned());
                    }
                    _ => {}
                }
            } else if tabs == 1 {
                let (id, name) = split_id(body);
                device = id.and_then(|i| u16::from_str_radix(i, 16).ok());
                if let (Some(v), Some(d), Some(n)) = (vendor, device, name) {
                    f.devices.insert((v, d), n.to_owned());
                }
            } else if tabs == 2 {
                let mut parts = body.splitn(3, ' ');
                let sv = parts.next().and_then(|i| u16::from_str_radix(i, 16).ok());
                let sd = parts.next().and_then(|i| u16::from_str_radix(i, 16).ok());
                let name = parts.next().map(str::trim).filter(|n| !n.is_empty());
                if let (Some(v), Some(d), Some(sv), Some(sd), Some(n)) = (vendor, device, sv, sd, name) {
                    f.subsystems.insert((v, d, sv, sd), n.to_owned());
                }
            }
        }
        f
    }
}

/// `8086  Intel Corporation` -> (`8086`, `Intel Corporation`).
fn split_id(s: &str) -> (Option<&str>, Option<&str>) {
    match s.split_once(' ') {
        Some((id, name)) => (Some(id), Some(name.trim()).filter(|n| !n.is_empty())),
        None => (Some(s), None),
    }
}

/// The newer of the system's `pci.ids` and the built-in snapshot.
pub fn best_db() -> PciDb {
    for path in ["/usr/share/hwdata/pci.ids", "/usr/share/misc/pci.ids", "/usr/share/pci.ids"] {
        if let Ok(text) = std::fs::read_to_string(path) {
            let file = IdsFile::parse(&text);
            // `YYYY.MM.DD` compares as text.
            if file.version.as_str() > EMBEDDED_VERSION {
                return PciDb::File(Box::new(file));
            }
        }
    }
    PciDb::Embedded
}

impl PciDb {
    /// Names for one function's ids.
    pub fn names(&self, vendor: u16, device: u16, subsystem: Option<(u16, u16)>, class: Option<u32>) -> PciNames {
        let cls = class.map(|c| (((c >> 16) & 0xff) as u8, ((c >> 8) & 0xff) as u8, (c & 0xff) as u8));
        match self {
            #[cfg(not(feature = "builtin-pci-ids"))]
            PciDb::Embedded => {
                let _ = (vendor, device, subsystem, cls);
                PciNames::default()
            }
            #[cfg(feature = "builtin-pci-ids")]
            PciDb::Embedded => {
                let dev = pci_ids::Device::from_vid_pid(vendor, device);
                let vendor_name = pci_ids::Vendors::iter().find(|v| v.id() == vendor).map(|v| v.name().to_owned());
                let subsystem = subsystem.and_then(|(sv, sd)| {
                    dev?.subsystems().find(|s| s.subvendor() == sv && s.subdevice() == sd).map(|s| s.name().to_owned())
                });
                let class = cls.and_then(|(c, s, p)| {
                    let sub = pci_ids::Subclass::from_cid_sid(c, s);
                    let prog = sub.and_then(|sub| sub.prog_ifs().find(|x| x.id() == p)).map(|x| x.name().to_owned());
                    prog.or_else(|| sub.map(|x| x.name().to_owned()))
                        .or_else(|| pci_ids::Classes::iter().find(|x| x.id() == c).map(|x| x.name().to_owned()))
                });
                PciNames { vendor: vendor_name, device: dev.map(|d| d.name().to_owned()), subsystem, class }
            }
            PciDb::File(f) => PciNames {
                vendor: f.vendors.get(&vendor).cloned(),
                device: f.devices.get(&(vendor, device)).cloned(),
                subsystem: subsystem.and_then(|(sv, sd)| f.subsystems.get(&(vendor, device, sv, sd)).cloned()),
                class: cls.and_then(|(c, s, p)| {
                    f.classes
                        .get(&(c, Some(s), Some(p)))
                        .or_else(|| f.classes.get(&(c, Some(s), None)))
                        .or_else(|| f.classes.get(&(c, None, None)))
                        .cloned()
                }),
            },
        }
    }
}

/// Adds names to every PCI function of an inventory.
pub fn name_pci(inv: &mut Inventory, db: &PciDb) {
    for d in &mut inv.pci {
        if let (Some(v), Some(id)) = (d.vendor_id, d.device_id) {
            let sub = d.subsystem_vendor_id.zip(d.subsystem_device_id);
            d.names = Some(db.names(v, id, sub, d.class));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "#\tVersion: 2099.01.02\n\
8086  Intel Corporation\n\
\t100e  82540EM Gigabit Ethernet Controller\n\
\t\t1af4 1100  QEMU Virtual Machine\n\
1af4  Red Hat, Inc.\n\
C 02  Network controller\n\
\t00  Ethernet controller\n\
C 01  Mass storage controller\n\
\t08  Non-Volatile memory controller\n\
\t\t02  NVM Express\n";

    #[test]
    fn a_pci_ids_file() {
        let db = PciDb::File(Box::new(IdsFile::parse(SAMPLE)));
        let n = db.names(0x8086, 0x100e, Some((0x1af4, 0x1100)), Some(0x020000));
        assert_eq!(n.vendor.as_deref(), Some("Intel Corporation"));
        assert_eq!(n.device.as_deref(), Some("82540EM Gigabit Ethernet Controller"));
        assert_eq!(n.subsystem.as_deref(), Some("QEMU Virtual Machine"));
        assert_eq!(n.class.as_deref(), Some("Ethernet controller"));
        assert_eq!(db.names(0x1b36, 0x0010, None, Some(0x010802)).class.as_deref(), Some("NVM Express"));
        assert_eq!(db.names(0x1b36, 0x0010, None, None).vendor, None);
        if let PciDb::File(f) = &db {
            assert_eq!(f.version, "2099.01.02");
        }
    }

    #[cfg(feature = "builtin-pci-ids")]
    #[test]
    fn the_embedded_snapshot() {
        let n = PciDb::Embedded.names(0x8086, 0x100e, None, Some(0x020000));
        assert_eq!(n.vendor.as_deref(), Some("Intel Corporation"));
        assert_eq!(n.device.as_deref(), Some("82540EM Gigabit Ethernet Controller"));
        assert_eq!(n.class.as_deref(), Some("Ethernet controller"));
    }
}
