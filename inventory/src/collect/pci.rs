//! PCI functions from `/sys/bus/pci/devices` (kernel Documentation/ABI/testing/sysfs-bus-pci),
//! physical slots from `/sys/bus/pci/slots` and SMBIOS type 9 System Slots (DSP0134 7.10,
//! segment/bus/device-function at 0x0d-0x10, 2.6+), and the accelerators among them: PCI class
//! 03 (display) and 12 (processing accelerators), with `/proc/driver/nvidia` details where the
//! NVIDIA driver is loaded.
//!
//! The configuration space (sysfs `config`) gives what lshw and `lspci -v` show beyond the ids:
//! bus mastering, the 66 MHz bit, BAR widths, latency timer, and the capability lists, walked as
//! pciutils walks them (pointers masked to dword alignment, a bounded number of hops).

use std::collections::BTreeMap;

use super::Reader;
use crate::model::{Gpu, Inventory, PciConfig, PciDevice, PciLink};
use crate::octets::{self, le16, le32};
use crate::smbios::Structure;

const DEVICES: &str = "/sys/bus/pci/devices";

pub(super) fn collect(r: &mut Reader<'_>, s: &[Structure<'_>], inv: &mut Inventory) {
    let slots = slots(r, s);
    for addr in r.dir(DEVICES) {
        let base = format!("{DEVICES}/{addr}");
        let id16 = |r: &mut Reader<'_>, f: &str| r.req_u64(&format!("{base}/{f}")).and_then(|v| u16::try_from(v).ok());
        let vendor_id = id16(r, "vendor");
        let device_id = id16(r, "device");
        let subsystem_vendor_id = r.opt_u64(&format!("{base}/subsystem_vendor")).and_then(|v| u16::try_from(v).ok());
        let subsystem_device_id = r.opt_u64(&format!("{base}/subsystem_device")).and_then(|v| u16::try_from(v).ok());
        let class = r.req_u64(&format!("{base}/class")).and_then(|v| u32::try_from(v).ok());
        let revision = r.opt_u64(&format!("{base}/revision")).and_then(|v| u8::try_from(v).ok());
        let driver = r.link_name(&format!("{base}/driver"));
        let numa_node = r.opt_i64(&format!("{base}/numa_node")).and_then(|n| i32::try_from(n).ok()).filter(|&n| n >= 0);
        let link = link(r, &base);
        let config = config(r, &base);
        // The slot table names devices by domain:bus:device; every function shares the slot.
        let slot = addr.get(..10).and_then(|bdf| slots.get(bdf).cloned());
        inv.pci.push(PciDevice {
            address: addr.clone(),
            vendor_id,
            device_id,
            subsystem_vendor_id,
            subsystem_device_id,
            class,
            revision,
            driver: driver.clone(),
            numa_node,
            link,
            slot,
            names: None,
            config,
        });
        if class.is_some_and(|c| matches!(c >> 16, 0x03 | 0x12)) {
            let drm_card = r.dir(&format!("{base}/drm")).into_iter().find(|c| c.starts_with("card"));
            let mut gpu =
                Gpu { pci_address: addr.clone(), vendor_id, device_id, class, driver, drm_card, ..Gpu::default() };
            nvidia(r, &addr, &mut gpu);
            inv.gpus.push(gpu);
        }
    }
}

fn link(r: &mut Reader<'_>, base: &str) -> Option<PciLink> {
    let l = PciLink {
        current_speed_mts: r.opt_string(&format!("{base}/current_link_speed")).and_then(|v| parse_speed(&v)),
        current_width: r.opt_u64(&format!("{base}/current_link_width")).and_then(|v| u8::try_from(v).ok()),
        max_speed_mts: r.opt_string(&format!("{base}/max_link_speed")).and_then(|v| parse_speed(&v)),
        max_width: r.opt_u64(&format!("{base}/max_link_width")).and_then(|v| u8::try_from(v).ok()),
    };
    (l != PciLink::default()).then_some(l)
}

/// The configuration space, decoded; what could not be read or walked is in `errors`.
///
/// Read field by field, never whole: every dword of sysfs `config` is a configuration access
/// to the device, 20-100 µs each in a Firecracker guest (256 octets took 1-6 ms a function).
/// BAR widths come from the kernel's copy in sysfs `resource` (no device access), and only
/// where it is missing from the BARs themselves.
fn config(r: &mut Reader<'_>, base: &str) -> Option<PciConfig> {
    let path = format!("{base}/config");
    let opened = r.root().open(&path);
    let file = r.note(opened, false)?;
    // The space's size: 4096 for PCI Express extended configuration space, 256 otherwise.
    let size = file.metadata().map_or(0, |m| m.len());
    let bar64 = r.opt_string(&format!("{base}/resource")).and_then(|t| resource_has_64bit_bar(&t));
    let root = r.root().clone();
    let mut read = |at: usize, len: usize| -> Option<Vec<u8>> {
        let b = root.read_at(&file, &path, at as u64, len).ok()?;
        (b.len() == len).then_some(b)
    };
    let (config, problems) = decode_config(&mut read, size, bar64);
    for p in problems {
        r.problem(&path, p);
    }
    config
}

/// Whether any standard BAR (the first six lines of sysfs `resource`: `start end flags`) is a
/// 64-bit memory BAR (`IORESOURCE_MEM_64`, linux/ioport.h). `None` if the file does not parse.
fn resource_has_64bit_bar(text: &str) -> Option<bool> {
    const IORESOURCE_MEM_64: u64 = 0x0010_0000;
    let mut any = false;
    for line in text.lines().take(6) {
        let flags = line.split_whitespace().nth(2)?;
        let flags = u64::from_str_radix(flags.trim_start_matches("0x"), 16).ok()?;
        any |= flags & IORESOURCE_MEM_64 != 0;
    }
    Some(any)
}

/// A configuration space reader: `(offset, length)` to exactly that many octets, or `None`.
pub(crate) type ConfigRead<'a> = dyn FnMut(usize, usize) -> Option<Vec<u8>> + 'a;

/// Decodes a configuration space of `size` octets (sysfs `config`'s size: 256, or 4096 with
/// the PCI Express extended space) through `read`. `bar64` is the kernel's answer to "is any
/// BAR 64-bit" when known; the BARs are read otherwise. `None` when the header cannot be read;
/// the reasons anything was left out come back as text.
pub(crate) fn decode_config(
    read: &mut ConfigRead<'_>,
    size: u64,
    bar64: Option<bool>,
) -> (Option<PciConfig>, Vec<String>) {
    let mut problems = Vec::new();
    // 0x04 command, 0x06 status; 0x0d latency timer, 0x0e header type; 0x3d interrupt pin,
    // 0x3e min grant, 0x3f max latency (a bridge's 0x3e is its bridge control).
    let (Some(cs), Some(hdr), Some(irq)) = (read(0x04, 4), read(0x0c, 4), read(0x3c, 4)) else {
        return (None, vec!["header unreadable".to_owned()]);
    };
    let (command, status) = (le16(&cs, 0).unwrap_or(0), le16(&cs, 2).unwrap_or(0));
    let header_type = hdr[2] & 0x7f;
    // A bridge's own latency timer governs its primary side; lshw shows the secondary one.
    let latency_timer = match header_type {
        0 => Some(hdr[1]),
        _ => read(0x18, 4).map(|b| b[3]),
    };
    let address_bits = match bar64 {
        Some(wide) => Some(if wide { 64 } else { 32 }),
        None => bar_width(read, header_type),
    };
    let mut c = PciConfig {
        octets: u32::try_from(size).unwrap_or(u32::MAX),
        header_type,
        multifunction: hdr[2] & 0x80 != 0,
        bus_master: command & 0x4 != 0,
        bus_clock_hz: if status & 0x20 != 0 { 66_000_000 } else { 33_000_000 },
        address_bits: address_bits.unwrap_or(32),
        latency_timer: latency_timer.unwrap_or(0),
        min_grant: (header_type == 0).then_some(irq[2]).filter(|&v| v != 0),
        max_latency: (header_type == 0).then_some(irq[3]).filter(|&v| v != 0),
        interrupt_pin: match irq[1] {
            p @ 1..=4 => Some(format!("INT{}", char::from(b'A' + p - 1))),
            _ => None,
        },
        ..PciConfig::default()
    };
    if latency_timer.is_none() || address_bits.is_none() {
        problems.push("header partly unreadable".to_owned());
    }
    // Status bit 4: there is a capability list, its head at 0x34 (0x14 in a CardBus header).
    if status & 0x10 != 0 {
        let head = if header_type == 2 { 0x14 } else { 0x34 };
        match read(head, 1) {
            Some(p) => walk_capabilities(read, usize::from(p[0] & !3), &mut c, &mut problems),
            None => problems.push("capability pointer unreadable".to_owned()),
        }
    }
    if size >= 4096 && c.capabilities.iter().any(|x| x == "pciexpress") {
        walk_extended(read, &mut c, &mut problems);
    }
    (Some(c), problems)
}

/// 64 if any memory BAR is 64-bit (type 10b; the next BAR is then its upper half), else 32:
/// six BARs in a device header, two in a PCI bridge's, none in a CardBus one.
fn bar_width(read: &mut ConfigRead<'_>, header_type: u8) -> Option<u8> {
    let bars = match header_type {
        0 => 6,
        1 => 2,
        _ => 0,
    };
    let mut i = 0;
    while i < bars {
        let bar = read(0x10 + 4 * i, 4).and_then(|b| le32(&b, 0))?;
        if bar != 0xffff_ffff && bar & 1 == 0 && (bar >> 1) & 3 == 2 {
            return Some(64);
        }
        i += 1;
    }
    Some(32)
}

fn walk_capabilities(read: &mut ConfigRead<'_>, mut at: usize, c: &mut PciConfig, problems: &mut Vec<String>) {
    // 48 hops: (256 - 64) / 4, as pciutils' and the kernel's PCI_FIND_CAP_TTL.
    for _ in 0..48 {
        if at == 0 {
            return;
        }
        if !(0x40..0xff).contains(&at) {
            problems.push(format!("capability pointer 0x{at:02x} outside 0x40-0xfe"));
            return;
        }
        // Past the first 64 octets without root: sysfs ends the file there.
        let Some(cap) = read(at, 2) else {
            problems.push(format!("capability at 0x{at:02x} past what could be read (64 octets without root)"));
            return;
        };
        if cap[0] == 0xff {
            problems.push(format!("capability at 0x{at:02x} reads 0xff"));
            return;
        }
        c.capabilities.push(capability_name(cap[0]));
        at = usize::from(cap[1] & !3);
    }
    problems.push("capability list does not end within 48 entries".to_owned());
}

fn walk_extended(read: &mut ConfigRead<'_>, c: &mut PciConfig, problems: &mut Vec<String>) {
    let mut at = 0x100;
    // (4096 - 256) / 8 entries at most, as the kernel bounds pci_find_next_ext_capability.
    for _ in 0..480 {
        let Some(h) = read(at, 4).and_then(|b| le32(&b, 0)) else {
            problems.push(format!("extended capability at 0x{at:03x} unreadable"));
            return;
        };
        // All zeros: no extended capabilities; all ones: the space is not there.
        if h == 0 || h == 0xffff_ffff {
            return;
        }
        let id = (h & 0xffff) as u16;
        c.extended_capabilities.push(extended_name(id));
        if id == 0x03
            && let Some(dsn) = read(at + 4, 8)
            && let (Some(lo), Some(hi)) = (le32(&dsn, 0), le32(&dsn, 4))
        {
            // lspci's order: the upper dword's octets first, most significant first.
            let octets: Vec<u8> = hi.to_be_bytes().into_iter().chain(lo.to_be_bytes()).collect();
            c.serial_number = Some(octets::hex(&octets, "-"));
        }
        let next = ((h >> 20) & 0xffc) as usize;
        if next == 0 {
            return;
        }
        if !(0x100..0x1000).contains(&next) {
            problems.push(format!("extended capability pointer 0x{next:03x} outside 0x100-0xffc"));
            return;
        }
        at = next;
    }
    problems.push("extended capability list does not end within 480 entries".to_owned());
}

/// Capability ids (PCI Code and ID Assignment, section 2) by lshw's names where it has one.
fn capability_name(id: u8) -> String {
    match id {
        0x01 => "pm",
        0x02 => "agp",
        0x03 => "vpd",
        0x04 => "slotid",
        0x05 => "msi",
        0x06 => "hotswap",
        0x07 => "pcix",
        0x08 => "ht",
        0x09 => "vendor_specific",
        0x0a => "debug",
        0x0b => "ccrc",
        0x0c => "shpc",
        0x0d => "ssvid",
        0x0e => "agp8x",
        0x0f => "secure",
        0x10 => "pciexpress",
        0x11 => "msix",
        0x12 => "sata",
        0x13 => "af",
        0x14 => "ea",
        0x15 => "fpb",
        _ => return format!("cap_0x{id:02x}"),
    }
    .to_owned()
}

/// Extended capability ids (PCI Code and ID Assignment, section 3; linux/pci_regs.h).
fn extended_name(id: u16) -> String {
    match id {
        0x01 => "aer",
        0x02 => "vc",
        0x03 => "dsn",
        0x04 => "power_budget",
        0x05 => "rclink",
        0x06 => "rcilink",
        0x07 => "rcec",
        0x08 => "mfvc",
        0x09 => "vc9",
        0x0a => "rcrb",
        0x0b => "vendor_specific",
        0x0c => "cac",
        0x0d => "acs",
        0x0e => "ari",
        0x0f => "ats",
        0x10 => "sriov",
        0x11 => "mriov",
        0x12 => "multicast",
        0x13 => "pri",
        0x15 => "rebar",
        0x16 => "dpa",
        0x17 => "tph",
        0x18 => "ltr",
        0x19 => "secondary_pcie",
        0x1a => "pmux",
        0x1b => "pasid",
        0x1c => "lnr",
        0x1d => "dpc",
        0x1e => "l1ss",
        0x1f => "ptm",
        0x23 => "dvsec",
        0x25 => "dlf",
        0x26 => "pl_16gt",
        0x2a => "pl_32gt",
        0x2e => "doe",
        _ => return format!("ecap_0x{id:04x}"),
    }
    .to_owned()
}

/// `8.0 GT/s PCIe`, `2.5 GT/s`, `16 GT/s` -> MT/s. `Unknown` and anything else -> `None`.
pub(crate) fn parse_speed(s: &str) -> Option<u32> {
    let num = s.split_whitespace().next()?;
    if s.split_whitespace().nth(1) != Some("GT/s") {
        return None;
    }
    let (int, frac) = num.split_once('.').unwrap_or((num, "0"));
    let int: u32 = int.parse().ok()?;
    let frac: u32 = frac.get(..1)?.parse().ok()?;
    int.checked_mul(1000)?.checked_add(frac * 100)
}

/// Slot names by `dddd:bb:dd`: the kernel's slots first (ACPI/hotplug), SMBIOS where it has none.
fn slots(r: &mut Reader<'_>, s: &[Structure<'_>]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for t9 in s.iter().filter(|x| x.kind == 9) {
        let (Some(name), Some(seg), Some(bus), Some(devfn)) = (t9.string(0x04), t9.u16(0x0d), t9.u8(0x0f), t9.u8(0x10))
        else {
            continue;
        };
        // All ones: the slot has no device address (empty, or the firmware does not say).
        if seg == 0xffff || bus == 0xff || devfn == 0xff {
            continue;
        }
        out.insert(format!("{seg:04x}:{bus:02x}:{:02x}", devfn >> 3), name);
    }
    for name in r.dir("/sys/bus/pci/slots") {
        if let Some(addr) = r.opt_string(&format!("/sys/bus/pci/slots/{name}/address")) {
            // `0000:3b:00`; some drivers leave out the device number.
            if addr.len() == 10 {
                out.insert(addr, name);
            }
        }
    }
    out
}

/// `/proc/driver/nvidia/gpus/<address>/information`: `Model:`, `GPU UUID:`, `Video BIOS:`.
fn nvidia(r: &mut Reader<'_>, addr: &str, gpu: &mut Gpu) {
    let Some(text) = r.opt_string(&format!("/proc/driver/nvidia/gpus/{addr}/information")) else { return };
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else { continue };
        let v = Some(v.trim().to_owned()).filter(|v| !v.is_empty() && v != "N/A");
        match k.trim() {
            "Model" => gpu.model = v,
            "GPU UUID" => gpu.uuid = v,
            "Video BIOS" => gpu.vbios = v,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PCI Express endpoint laid out by hand from the PCI Local Bus 3.0 header (6.1) and the
    /// PCI Express Base capability formats: PM at 0x40, MSI at 0x50, MSI-X at 0x70, Express
    /// at 0xa0; AER at 0x100, Device Serial Number at 0x140, SR-IOV at 0x1a0.
    fn endpoint() -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        let mut put = |at: usize, v: &[u8]| b[at..at + v.len()].copy_from_slice(v);
        put(0x00, &[0x86, 0x80, 0x33, 0x15]);
        put(0x04, &[0x07, 0x04, 0x10, 0x00]); // command: I/O, memory, bus master; status: cap list
        put(0x08, &[0x03, 0x00, 0x00, 0x02]); // revision 3, class 020000
        put(0x0c, &[0x10, 0x00, 0x00, 0x00]); // latency 0, header type 0
        put(0x10, &[0x04, 0x00, 0xc0, 0xf7]); // BAR0: memory, 64-bit
        put(0x34, &[0x40]);
        put(0x3c, &[0x0b, 0x01, 0x00, 0x00]); // INTA
        put(0x40, &[0x01, 0x50, 0x23, 0xc8]);
        put(0x50, &[0x05, 0x70, 0x80, 0x01]);
        put(0x70, &[0x11, 0xa0, 0x04, 0x00]);
        put(0xa0, &[0x10, 0x00, 0x02, 0x00]);
        put(0x100, &[0x01, 0x00, 0x01, 0x14]); // AER, version 1, next 0x140
        put(0x140, &[0x03, 0x00, 0x01, 0x1a]); // DSN, next 0x1a0
        put(0x144, &[0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]);
        put(0x1a0, &[0x10, 0x00, 0x01, 0x00]); // SR-IOV, last
        b
    }

    fn decode(b: &[u8], size: u64, bar64: Option<bool>) -> (Option<PciConfig>, Vec<String>) {
        let mut read = |at: usize, len: usize| b.get(at..at + len).map(<[u8]>::to_vec);
        decode_config(&mut read, size, bar64)
    }

    #[test]
    fn a_pci_express_endpoint() {
        let (c, problems) = decode(&endpoint(), 4096, None);
        let c = c.unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(c.capabilities, ["pm", "msi", "msix", "pciexpress"]);
        assert_eq!(c.extended_capabilities, ["aer", "dsn", "sriov"]);
        // lspci: "Device Serial Number 88-77-66-55-44-33-22-11".
        assert_eq!(c.serial_number.as_deref(), Some("88-77-66-55-44-33-22-11"));
        assert_eq!((c.bus_master, c.bus_clock_hz, c.address_bits, c.latency_timer), (true, 33_000_000, 64, 0));
        assert_eq!(
            (c.interrupt_pin.as_deref(), c.header_type, c.multifunction, c.octets),
            (Some("INTA"), 0, false, 4096)
        );
        // The kernel's BAR flags, when sysfs has them, are taken over the BARs.
        assert_eq!(decode(&endpoint(), 4096, Some(false)).0.unwrap().address_bits, 32);
        // A 256-octet space has no extended capabilities to read.
        assert!(decode(&endpoint(), 256, None).0.unwrap().extended_capabilities.is_empty());
    }

    #[test]
    fn what_cannot_be_read_degrades_the_capabilities_only() {
        // Without root sysfs ends `config` at 64 octets.
        let (c, problems) = decode(&endpoint()[..64], 4096, None);
        let c = c.unwrap();
        assert!(c.capabilities.is_empty() && c.bus_master);
        assert_eq!(problems, ["capability at 0x40 past what could be read (64 octets without root)"]);
        // Shorter than the header.
        assert_eq!(decode(&endpoint()[..8], 4096, None).0, None);
        // A list that loops, a pointer into the header, an extended list that loops back.
        let mut looped = endpoint();
        looped[0x41] = 0x40;
        let (c, problems) = decode(&looped, 256, None);
        assert_eq!((c.unwrap().capabilities.len(), problems.len()), (48, 1));
        let mut low = endpoint();
        low[0x34] = 0x10;
        assert_eq!(decode(&low, 256, None).1, ["capability pointer 0x10 outside 0x40-0xfe"]);
        let mut ext = endpoint();
        ext[0x1a2..0x1a4].copy_from_slice(&[0x01, 0x10]); // next: 0x100
        let (c, problems) = decode(&ext, 4096, None);
        assert_eq!((c.unwrap().extended_capabilities.len(), problems.len()), (480, 1));
        // All ones (a function that went away): no panic, nothing invented.
        let (c, _) = decode(&[0xff; 256], 256, None);
        assert_eq!(c.map(|c| c.capabilities.len()), Some(0));
    }

    #[test]
    fn a_bridge_shows_its_secondary_latency_timer() {
        let mut b = vec![0u8; 256];
        b[0x0e] = 0x81; // PCI bridge, multi-function
        b[0x0d] = 0x20;
        b[0x1b] = 0x40;
        let c = decode(&b, 256, None).0.unwrap();
        assert_eq!((c.header_type, c.multifunction, c.latency_timer, c.min_grant), (1, true, 0x40, None));
    }

    #[test]
    fn bar_flags_from_sysfs_resource() {
        // A virtio-pci function of the Firecracker guest (tests/fixtures): BAR0 64-bit memory.
        let text = "0x0000004000100000 0x000000400017ffff 0x0000000000140204\n\
                    0x0000000000000000 0x0000000000000000 0x0000000000000000\n";
        assert_eq!(resource_has_64bit_bar(text), Some(true));
        assert_eq!(resource_has_64bit_bar("0x0 0x0 0x00000101\n"), Some(false));
        assert_eq!(resource_has_64bit_bar("garbage\n"), None);
    }

    #[test]
    fn link_speeds() {
        assert_eq!(parse_speed("8.0 GT/s PCIe"), Some(8000));
        assert_eq!(parse_speed("2.5 GT/s"), Some(2500));
        assert_eq!(parse_speed("16 GT/s"), Some(16000));
        assert_eq!(parse_speed("Unknown"), None);
        assert_eq!(parse_speed("Unknown speed"), None);
    }
}
