//! PCI names, added where reports are made (the master, `recon inventory` on a terminal), never
//! on the peer's upload path: peers send raw ids.
//!
//! Two databases: the `pci-ids` crate's snapshot, built in as pointer-free tables (build.rs), and
//! the machine's own `pci.ids` (pciutils' `/usr/share/misc/pci.ids`, hwdata's
//! `/usr/share/hwdata/pci.ids`) when its `Version:` header is newer. Choosing reads only that
//! header; a system file is then read in one pass that keeps the names of the ids the inventory
//! has, never a map of the whole file (18 ms and 5 MiB for pciutils' 1.3 MB). The file format is pciutils' (see the header of pci.ids): vendor
//! lines `vvvv  name`, device lines with one tab, subsystem lines with two tabs and
//! `ssss dddd  name`, and a class section of `C cc  name` lines with subclasses and programming
//! interfaces below.

use std::collections::{HashMap, HashSet};
use std::io::BufRead;
use std::path::{Path, PathBuf};

use crate::model::{Inventory, PciNames};

/// The date of the snapshot built in (pci-ids 0.2.6's), or `None` in a build without it.
pub const EMBEDDED_VERSION: Option<&str> = if cfg!(feature = "builtin-pci-ids") { Some("2025.07.11") } else { None };

/// Where the system keeps `pci.ids`: hwdata's, pciutils', an old pciutils'.
pub const SYSTEM_PATHS: [&str; 3] = ["/usr/share/hwdata/pci.ids", "/usr/share/misc/pci.ids", "/usr/share/pci.ids"];

/// Where names come from.
#[derive(Debug)]
pub enum PciDb {
    /// The snapshot built in (no names in a build without the `builtin-pci-ids` feature).
    Embedded,
    /// A parsed `pci.ids` file.
    File(Box<IdsFile>),
    /// A `pci.ids` file found newer than the snapshot by its header, not read yet:
    /// [`name_pci`] reads it once and keeps only the names the inventory needs.
    System {
        /// Where it is.
        path: PathBuf,
        /// Its `Version:` header.
        version: String,
    },
}

/// A parsed `pci.ids`, whole or only the entries asked for.
#[derive(Debug, Default)]
pub struct IdsFile {
    /// The `Version:` header (`2025.07.11`).
    pub version: String,
    vendors: HashMap<u16, String>,
    devices: HashMap<(u16, u16), String>,
    subsystems: HashMap<(u16, u16, u16, u16), String>,
    classes: HashMap<(u8, Option<u8>, Option<u8>), String>,
}

/// The ids an inventory needs names for: a parse that is given them keeps nothing else.
#[derive(Debug, Default)]
pub struct Wanted {
    vendors: HashSet<u16>,
    devices: HashSet<(u16, u16)>,
    subsystems: HashSet<(u16, u16, u16, u16)>,
    classes: HashSet<u8>,
}

impl Wanted {
    /// What the PCI functions of `inv` need: vendor, device, subsystem and class names.
    pub fn of(inv: &Inventory) -> Wanted {
        let mut w = Wanted::default();
        for d in &inv.pci {
            if let (Some(v), Some(id)) = (d.vendor_id, d.device_id) {
                w.vendors.insert(v);
                w.devices.insert((v, id));
                if let (Some(sv), Some(sd)) = (d.subsystem_vendor_id, d.subsystem_device_id) {
                    w.subsystems.insert((v, id, sv, sd));
                }
                if let Some(c) = d.class {
                    w.classes.insert(((c >> 16) & 0xff) as u8);
                }
            }
        }
        w
    }
}

impl IdsFile {
    /// Parses the text of a `pci.ids`; lines that do not fit the format are skipped.
    pub fn parse(text: &str) -> IdsFile {
        let mut f = IdsFile::default();
        f.scan(text.as_bytes(), None);
        f
    }

    /// Reads a `pci.ids` in one pass, keeping only the entries `want` names: no map of the
    /// whole file, and the lines of vendors no device has are skipped unparsed.
    pub fn read_wanted(path: &Path, want: &Wanted) -> std::io::Result<IdsFile> {
        let file = std::fs::File::open(path)?;
        let mut f = IdsFile::default();
        f.scan(std::io::BufReader::with_capacity(64 * 1024, file), Some(want));
        Ok(f)
    }

    /// The format is pciutils' (see the header of pci.ids); a line that is not UTF-8 or does
    /// not fit is skipped. Reading stops at the first I/O error with what was read so far.
    fn scan(&mut self, input: impl BufRead, want: Option<&Wanted>) {
        let (mut vendor, mut device, mut class, mut subclass) = (None, None, None::<u8>, None::<u8>);
        let mut in_classes = false;
        // Whether the lines below the current vendor or class, and below the current device,
        // are needed.
        let (mut keep, mut keep_device) = (true, true);
        for_each_line(input, |buf| {
            let tabs = buf.iter().take_while(|&&b| b == b'\t').count();
            if tabs > 0 && !keep {
                return;
            }
            // Most lines of a wanted vendor (Intel's thousands) are other devices: their id is
            // enough to pass them by.
            if let (Some(w), Some(v), false) = (want, vendor, in_classes) {
                if tabs == 1 {
                    let id = buf.get(1..5).and_then(|h| std::str::from_utf8(h).ok());
                    keep_device =
                        id.and_then(|h| u16::from_str_radix(h, 16).ok()).is_some_and(|d| w.devices.contains(&(v, d)));
                }
                if tabs >= 1 && !keep_device {
                    return;
                }
            }
            let Ok(line) = std::str::from_utf8(buf) else { return };
            let line = line.trim_end_matches('\r');
            if let Some(v) = line.strip_prefix("#\tVersion:") {
                self.version = v.trim().to_owned();
                return;
            }
            if line.starts_with('#') || line.trim().is_empty() {
                return;
            }
            let body = &line[tabs..];
            if tabs == 0 {
                if let Some(rest) = body.strip_prefix("C ") {
                    in_classes = true;
                    let (id, name) = split_id(rest);
                    class = id.and_then(|i| u8::from_str_radix(i, 16).ok());
                    subclass = None;
                    keep = want.is_none_or(|w| class.is_some_and(|c| w.classes.contains(&c)));
                    if let (true, Some(c), Some(n)) = (keep, class, name) {
                        self.classes.insert((c, None, None), n.to_owned());
                    }
                } else {
                    in_classes = false;
                    let (id, name) = split_id(body);
                    vendor = id.and_then(|i| u16::from_str_radix(i, 16).ok());
                    device = None;
                    keep = want.is_none_or(|w| vendor.is_some_and(|v| w.vendors.contains(&v)));
                    if let (true, Some(v), Some(n)) = (keep, vendor, name) {
                        self.vendors.insert(v, n.to_owned());
                    }
                }
            } else if in_classes {
                let (id, name) = split_id(body);
                let id = id.and_then(|i| u8::from_str_radix(i, 16).ok());
                match (tabs, class, id, name) {
                    (1, Some(c), Some(s), Some(n)) => {
                        subclass = Some(s);
                        self.classes.insert((c, Some(s), None), n.to_owned());
                    }
                    (2, Some(c), Some(p), Some(n)) if subclass.is_some() => {
                        self.classes.insert((c, subclass, Some(p)), n.to_owned());
                    }
                    _ => {}
                }
            } else if tabs == 1 {
                let (id, name) = split_id(body);
                device = id.and_then(|i| u16::from_str_radix(i, 16).ok());
                if let (Some(v), Some(d), Some(n)) = (vendor, device, name)
                    && want.is_none_or(|w| w.devices.contains(&(v, d)))
                {
                    self.devices.insert((v, d), n.to_owned());
                }
            } else if tabs == 2 {
                let mut parts = body.splitn(3, ' ');
                let sv = parts.next().and_then(|i| u16::from_str_radix(i, 16).ok());
                let sd = parts.next().and_then(|i| u16::from_str_radix(i, 16).ok());
                let name = parts.next().map(str::trim).filter(|n| !n.is_empty());
                if let (Some(v), Some(d), Some(sv), Some(sd), Some(n)) = (vendor, device, sv, sd, name)
                    && want.is_none_or(|w| w.subsystems.contains(&(v, d, sv, sd)))
                {
                    self.subsystems.insert((v, d, sv, sd), n.to_owned());
                }
            }
        });
    }
}

/// Calls `f` with every line of `input`, without its `\n`, copying only the lines that straddle
/// two reads. Reading stops at the first I/O error.
fn for_each_line(mut input: impl BufRead, mut f: impl FnMut(&[u8])) {
    let mut carry = Vec::new();
    loop {
        let buf = match input.fill_buf() {
            Ok(b) if !b.is_empty() => b,
            _ => break,
        };
        let mut rest = buf;
        while let Some(i) = memchr::memchr(b'\n', rest) {
            if carry.is_empty() {
                f(&rest[..i]);
            } else {
                carry.extend_from_slice(&rest[..i]);
                f(&carry);
                carry.clear();
            }
            rest = &rest[i + 1..];
        }
        carry.extend_from_slice(rest);
        let n = buf.len();
        input.consume(n);
    }
    if !carry.is_empty() {
        f(&carry);
    }
}

/// `8086  Intel Corporation` -> (`8086`, `Intel Corporation`).
fn split_id(s: &str) -> (Option<&str>, Option<&str>) {
    match s.split_once(' ') {
        Some((id, name)) => (Some(id), Some(name.trim()).filter(|n| !n.is_empty())),
        None => (Some(s), None),
    }
}

/// The `Version:` of a `pci.ids` from its header comments alone (the first lines), or `None`
/// when it has none before its first entry.
pub fn header_version(input: impl BufRead) -> Option<String> {
    for line in input.lines() {
        let line = line.ok()?;
        if let Some(v) = line.strip_prefix("#\tVersion:") {
            return Some(v.trim().to_owned());
        }
        if !line.starts_with('#') && !line.trim().is_empty() {
            return None;
        }
    }
    None
}

/// The newer of the system's `pci.ids` and the built-in snapshot, judged by the header alone:
/// nothing is parsed here. Without a built-in snapshot, the first system file there is.
pub fn best_db() -> PciDb {
    best_db_of(&SYSTEM_PATHS)
}

fn best_db_of(paths: &[&str]) -> PciDb {
    for path in paths {
        let Ok(file) = std::fs::File::open(path) else { continue };
        let version = header_version(std::io::BufReader::with_capacity(4096, file)).unwrap_or_default();
        // `YYYY.MM.DD` compares as text.
        if EMBEDDED_VERSION.is_none_or(|e| version.as_str() > e) {
            return PciDb::System { path: PathBuf::from(path), version };
        }
    }
    PciDb::Embedded
}

/// The snapshot built in, as pointer-free tables from build.rs (its doc gives the layout).
mod builtin {
    static NAMES: &str = include_str!(concat!(env!("OUT_DIR"), "/pci_names.txt"));
    pub(super) static VENDORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/pci_vendors.bin"));
    pub(super) static DEVICES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/pci_devices.bin"));
    pub(super) static SUBSYSTEMS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/pci_subsystems.bin"));
    pub(super) static CLASSES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/pci_classes.bin"));

    /// The name recorded under `key`: a binary search over 16-octet records.
    pub(super) fn find(table: &'static [u8], key: u64) -> Option<String> {
        let at = |i: usize| -> Option<(u64, usize, usize)> {
            let r = table.get(i * 16..i * 16 + 16)?;
            let k = u64::from_le_bytes(r[..8].try_into().ok()?);
            let off = u32::from_le_bytes(r[8..12].try_into().ok()?);
            let len = u32::from_le_bytes(r[12..16].try_into().ok()?);
            Some((k, usize::try_from(off).ok()?, usize::try_from(len).ok()?))
        };
        let (mut lo, mut hi) = (0, table.len() / 16);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let (k, off, len) = at(mid)?;
            match k.cmp(&key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return NAMES.get(off..off.checked_add(len)?).map(str::to_owned),
            }
        }
        None
    }
}

impl PciDb {
    /// Names for one function's ids. An unread [`PciDb::System`] reads its file for this one
    /// function: [`name_pci`] is the way to name a whole inventory.
    pub fn names(&self, vendor: u16, device: u16, subsystem: Option<(u16, u16)>, class: Option<u32>) -> PciNames {
        let cls = class.map(|c| (((c >> 16) & 0xff) as u8, ((c >> 8) & 0xff) as u8, (c & 0xff) as u8));
        match self {
            PciDb::Embedded => {
                use builtin::{CLASSES, DEVICES, SUBSYSTEMS, VENDORS, find};
                let (v, d) = (u64::from(vendor), u64::from(device));
                let vd = v << 16 | d;
                PciNames {
                    vendor: find(VENDORS, v),
                    device: find(DEVICES, vd),
                    subsystem: subsystem
                        .and_then(|(sv, sd)| find(SUBSYSTEMS, vd << 32 | u64::from(sv) << 16 | u64::from(sd))),
                    class: cls.and_then(|(c, s, p)| {
                        let (c, s, p) = (u64::from(c) << 16, u64::from(s) << 8, u64::from(p));
                        find(CLASSES, 3 << 24 | c | s | p)
                            .or_else(|| find(CLASSES, 2 << 24 | c | s))
                            .or_else(|| find(CLASSES, 1 << 24 | c))
                    }),
                }
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
            PciDb::System { path, .. } => {
                let mut w = Wanted::default();
                w.vendors.insert(vendor);
                w.devices.insert((vendor, device));
                if let Some((sv, sd)) = subsystem {
                    w.subsystems.insert((vendor, device, sv, sd));
                }
                if let Some((c, _, _)) = cls {
                    w.classes.insert(c);
                }
                read_system(path, &w).names(vendor, device, subsystem, class)
            }
        }
    }
}

/// A system `pci.ids` read for `want`: only those entries. If the file cannot be read after all
/// (gone since [`best_db`] looked), the built-in snapshot.
fn read_system(path: &Path, want: &Wanted) -> PciDb {
    match IdsFile::read_wanted(path, want) {
        Ok(f) => PciDb::File(Box::new(f)),
        Err(_) => PciDb::Embedded,
    }
}

/// Adds names to every PCI function of an inventory; a [`PciDb::System`] file is read once,
/// for the ids the inventory has.
pub fn name_pci(inv: &mut Inventory, db: &PciDb) {
    let loaded;
    let db = match db {
        PciDb::System { path, .. } => {
            loaded = read_system(path, &Wanted::of(inv));
            &loaded
        }
        other => other,
    };
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

    #[test]
    fn lines_across_reads() {
        let mut lines = Vec::new();
        let input = std::io::BufReader::with_capacity(3, &b"ab\ncdefgh\n\ni"[..]);
        for_each_line(input, |l| lines.push(String::from_utf8(l.to_vec()).unwrap()));
        assert_eq!(lines, ["ab", "cdefgh", "", "i"]);
        // A file parsed through a small buffer reads as it does whole.
        let mut f = IdsFile::default();
        f.scan(std::io::BufReader::with_capacity(7, SAMPLE.as_bytes()), None);
        let whole = IdsFile::parse(SAMPLE);
        assert_eq!(
            (f.vendors, f.devices, f.subsystems, f.classes),
            (whole.vendors, whole.devices, whole.subsystems, whole.classes)
        );
    }

    #[test]
    fn a_filtered_read_keeps_only_what_is_wanted() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("pci.ids");
        std::fs::write(&path, SAMPLE).unwrap();
        let mut inv = Inventory::default();
        inv.pci.push(crate::model::PciDevice {
            address: "0000:00:03.0".into(),
            vendor_id: Some(0x8086),
            device_id: Some(0x100e),
            subsystem_vendor_id: Some(0x1af4),
            subsystem_device_id: Some(0x1100),
            class: Some(0x020000),
            ..Default::default()
        });
        let f = IdsFile::read_wanted(&path, &Wanted::of(&inv)).unwrap();
        assert_eq!(f.version, "2099.01.02");
        assert_eq!(f.vendors.keys().collect::<Vec<_>>(), [&0x8086], "Red Hat is not wanted");
        assert_eq!(f.subsystems.len(), 1);
        assert!(f.classes.keys().all(|k| k.0 == 0x02), "only class 02: {:?}", f.classes);
        // The same names as a whole parse gives, through name_pci and a System database.
        let db = PciDb::System { path, version: "2099.01.02".into() };
        name_pci(&mut inv, &db);
        let whole = PciDb::File(Box::new(IdsFile::parse(SAMPLE)));
        assert_eq!(inv.pci[0].names, Some(whole.names(0x8086, 0x100e, Some((0x1af4, 0x1100)), Some(0x020000))));
        assert_eq!(db.names(0x8086, 0x100e, None, None).vendor.as_deref(), Some("Intel Corporation"));
    }

    #[test]
    fn the_version_comes_from_the_header_alone() {
        let header = |t: &str| header_version(t.as_bytes());
        assert_eq!(
            header("#\n# List of PCI ID's\n#\n#\tVersion: 2023.04.10\n#\tDate: x\n").as_deref(),
            Some("2023.04.10")
        );
        assert_eq!(header("8086  Intel Corporation\n#\tVersion: 2023.04.10\n"), None, "not after the first entry");
        assert_eq!(header(""), None);

        let d = tempfile::tempdir().unwrap();
        let (new, old) = (d.path().join("new.ids"), d.path().join("old.ids"));
        std::fs::write(&new, SAMPLE).unwrap();
        std::fs::write(&old, SAMPLE.replace("2099.01.02", "2000.01.01")).unwrap();
        let (new, old) = (new.to_str().unwrap(), old.to_str().unwrap());
        assert!(
            matches!(best_db_of(&["/nonexistent/pci.ids", new]), PciDb::System { version, .. } if version == "2099.01.02")
        );
        match best_db_of(&[old]) {
            PciDb::Embedded => assert!(EMBEDDED_VERSION.is_some(), "an older file loses to the snapshot"),
            PciDb::System { .. } => assert!(EMBEDDED_VERSION.is_none(), "without a snapshot any file wins"),
            PciDb::File(_) => panic!("best_db parses nothing"),
        }
    }

    #[cfg(feature = "builtin-pci-ids")]
    #[test]
    fn the_embedded_snapshot() {
        let n = PciDb::Embedded.names(0x8086, 0x100e, Some((0x1014, 0x0265)), Some(0x020000));
        assert_eq!(n.vendor.as_deref(), Some("Intel Corporation"));
        assert_eq!(n.device.as_deref(), Some("82540EM Gigabit Ethernet Controller"));
        assert_eq!(n.subsystem.as_deref(), Some("PRO/1000 MT Network Connection"));
        assert_eq!(n.class.as_deref(), Some("Ethernet controller"));
        // Programming interface first, then subclass, then class.
        assert_eq!(PciDb::Embedded.names(0x1b36, 0x0010, None, Some(0x010802)).class.as_deref(), Some("NVM Express"));
        assert_eq!(
            PciDb::Embedded.names(0x1b36, 0x0010, None, Some(0x0108ee)).class.as_deref(),
            Some("Non-Volatile memory controller")
        );
        assert_eq!(PciDb::Embedded.names(0x0002, 0x0002, Some((0, 0)), Some(0xfe0000)), PciNames::default());
    }

    /// Every record of the built-in tables is found by the binary search (they are sorted),
    /// and they hold the whole snapshot, not a few entries.
    #[cfg(feature = "builtin-pci-ids")]
    #[test]
    fn the_builtin_tables_hold_the_whole_snapshot() {
        let (mut vendors, mut devices) = (0, 0);
        for rec in builtin::VENDORS.chunks(16) {
            vendors += 1;
            assert!(builtin::find(builtin::VENDORS, u64::from_le_bytes(rec[..8].try_into().unwrap())).is_some());
        }
        for rec in builtin::DEVICES.chunks(16) {
            devices += 1;
            assert!(builtin::find(builtin::DEVICES, u64::from_le_bytes(rec[..8].try_into().unwrap())).is_some());
        }
        assert!(vendors > 2000 && devices > 15000, "{vendors} vendors, {devices} devices");
        assert!(builtin::SUBSYSTEMS.len() / 16 > 10000 && builtin::CLASSES.len() / 16 > 100);
    }
}
