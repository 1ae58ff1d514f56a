//! PCI functions from `/sys/bus/pci/devices` (kernel Documentation/ABI/testing/sysfs-bus-pci),
//! physical slots from `/sys/bus/pci/slots` and SMBIOS type 9 System Slots (DSP0134 7.10,
//! segment/bus/device-function at 0x0d-0x10, 2.6+), and the accelerators among them: PCI class
//! 03 (display) and 12 (processing accelerators), with `/proc/driver/nvidia` details where the
//! NVIDIA driver is loaded.

use std::collections::BTreeMap;

use super::Reader;
use crate::model::{Gpu, Inventory, PciDevice, PciLink};
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

    #[test]
    fn link_speeds() {
        assert_eq!(parse_speed("8.0 GT/s PCIe"), Some(8000));
        assert_eq!(parse_speed("2.5 GT/s"), Some(2500));
        assert_eq!(parse_speed("16 GT/s"), Some(16000));
        assert_eq!(parse_speed("Unknown"), None);
        assert_eq!(parse_speed("Unknown speed"), None);
    }
}
