//! Turns the pci-ids crate's snapshot into tables without pointers for `names.rs`.
//!
//! The pci-ids crate keeps its database as `static` structs of `&str` and slices: about 47 000
//! pointers that the dynamic loader relocates at every start of a PIE binary, which reads
//! 1.1 MB of relocation records and dirties 1.3 MB of `.data.rel.ro` before `main`, whatever
//! command runs. Here the same data becomes plain octets (`include_bytes!`): one text of names
//! and, per kind, records sorted by key that a lookup binary-searches, touching a few pages.
//!
//! Files written to `OUT_DIR` (all integers little-endian; without the `builtin-pci-ids`
//! feature every file is empty):
//! - `pci_names.txt`: the names, back to back, each written once;
//! - `pci_vendors.bin`, `pci_devices.bin`, `pci_subsystems.bin`, `pci_classes.bin`: 16-octet
//!   records `key: u64, offset: u32, length: u32` (a name in `pci_names.txt`), sorted by key.
//!   Keys: vendor `v`; device `v << 16 | d`; subsystem `v << 48 | d << 32 | sv << 16 | sd`;
//!   class `1 << 24 | c << 16`, subclass `2 << 24 | c << 16 | s << 8`, programming interface
//!   `3 << 24 | c << 16 | s << 8 | p`.

use std::collections::HashMap;
use std::path::Path;

#[derive(Default)]
struct Tables {
    names: String,
    offsets: HashMap<String, (u32, u32)>,
    vendors: Vec<(u64, u32, u32)>,
    devices: Vec<(u64, u32, u32)>,
    subsystems: Vec<(u64, u32, u32)>,
    classes: Vec<(u64, u32, u32)>,
}

impl Tables {
    #[cfg_attr(not(feature = "builtin-pci-ids"), allow(dead_code))]
    fn name(&mut self, name: &str) -> (u32, u32) {
        if let Some(&at) = self.offsets.get(name) {
            return at;
        }
        let at = (
            u32::try_from(self.names.len()).expect("names fit u32"),
            u32::try_from(name.len()).expect("name fits u32"),
        );
        self.names.push_str(name);
        self.offsets.insert(name.to_owned(), at);
        at
    }
}

#[cfg(feature = "builtin-pci-ids")]
fn fill(t: &mut Tables) {
    for v in pci_ids::Vendors::iter() {
        let (off, len) = t.name(v.name());
        t.vendors.push((u64::from(v.id()), off, len));
        for d in v.devices() {
            let (off, len) = t.name(d.name());
            let vd = u64::from(v.id()) << 16 | u64::from(d.id());
            t.devices.push((vd, off, len));
            for s in d.subsystems() {
                let (off, len) = t.name(s.name());
                let key = vd << 32 | u64::from(s.subvendor()) << 16 | u64::from(s.subdevice());
                t.subsystems.push((key, off, len));
            }
        }
    }
    for c in pci_ids::Classes::iter() {
        let (off, len) = t.name(c.name());
        let ck = u64::from(c.id()) << 16;
        t.classes.push((1 << 24 | ck, off, len));
        for s in c.subclasses() {
            let (off, len) = t.name(s.name());
            let sk = ck | u64::from(s.id()) << 8;
            t.classes.push((2 << 24 | sk, off, len));
            for p in s.prog_ifs() {
                let (off, len) = t.name(p.name());
                t.classes.push((3 << 24 | sk | u64::from(p.id()), off, len));
            }
        }
    }
}

#[cfg(not(feature = "builtin-pci-ids"))]
fn fill(_: &mut Tables) {}

fn write(dir: &Path, file: &str, mut records: Vec<(u64, u32, u32)>) {
    records.sort_unstable();
    // A key listed twice would make the binary search's answer depend on the sort.
    records.dedup_by_key(|r| r.0);
    let mut out = Vec::with_capacity(records.len() * 16);
    for (key, off, len) in records {
        out.extend_from_slice(&key.to_le_bytes());
        out.extend_from_slice(&off.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
    }
    std::fs::write(dir.join(file), out).expect("write table");
}

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let dir = std::env::var_os("OUT_DIR").expect("OUT_DIR");
    let dir = Path::new(&dir);
    let mut t = Tables::default();
    fill(&mut t);
    std::fs::write(dir.join("pci_names.txt"), &t.names).expect("write names");
    write(dir, "pci_vendors.bin", t.vendors);
    write(dir, "pci_devices.bin", t.devices);
    write(dir, "pci_subsystems.bin", t.subsystems);
    write(dir, "pci_classes.bin", t.classes);
}
