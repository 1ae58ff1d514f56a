//! Devices on the buses lshw lists beside PCI and USB: virtio devices
//! (`/sys/bus/virtio/devices`, the device types of the virtio 1.x specification, section 5),
//! Plug and Play devices the firmware describes (`/sys/bus/pnp/devices`, kernel
//! Documentation/admin-guide/pnp.rst) and input devices (`/sys/class/input`, kernel
//! Documentation/ABI/testing/sysfs-class-input; bus types from linux/input.h).

use super::{Reader, is_number, pci_address_of};
use crate::model::{InputDevice, PnpDevice, VirtioDevice};

const VIRTIO: &str = "/sys/bus/virtio/devices";
const PNP: &str = "/sys/bus/pnp/devices";
const INPUT: &str = "/sys/class/input";

pub(super) fn virtio(r: &mut Reader<'_>) -> Vec<VirtioDevice> {
    let mut out = Vec::new();
    for name in r.dir(VIRTIO) {
        let base = format!("{VIRTIO}/{name}");
        let device_id = r.req_u64(&format!("{base}/device")).and_then(|v| u32::try_from(v).ok());
        out.push(VirtioDevice {
            kind: device_id.and_then(virtio_kind).map(str::to_owned),
            device_id,
            vendor_id: r.opt_u64(&format!("{base}/vendor")).and_then(|v| u32::try_from(v).ok()),
            driver: r.link_name(&format!("{base}/driver")),
            pci_address: r.link(&base).and_then(|p| pci_address_of(&p)),
            name,
        });
    }
    out
}

/// Device types of the virtio specification (1.3, section 5).
fn virtio_kind(id: u32) -> Option<&'static str> {
    Some(match id {
        1 => "network",
        2 => "block",
        3 => "console",
        4 => "entropy",
        5 => "balloon",
        8 => "scsi",
        9 => "9p",
        16 => "gpu",
        18 => "input",
        19 => "vsock",
        20 => "crypto",
        23 => "iommu",
        24 => "memory",
        25 => "sound",
        26 => "fs",
        27 => "pmem",
        _ => return None,
    })
}

pub(super) fn pnp(r: &mut Reader<'_>) -> Vec<PnpDevice> {
    let mut out = Vec::new();
    for name in r.dir(PNP) {
        let base = format!("{PNP}/{name}");
        // One id per line: the device's, then compatible ones.
        let ids = r.req_string(&format!("{base}/id")).map(|t| t.split_whitespace().map(str::to_owned).collect());
        out.push(PnpDevice { ids: ids.unwrap_or_default(), driver: r.link_name(&format!("{base}/driver")), name });
    }
    out
}

pub(super) fn input(r: &mut Reader<'_>) -> Vec<InputDevice> {
    let mut out = Vec::new();
    for name in r.dir(INPUT).into_iter().filter(|n| n.strip_prefix("input").is_some_and(is_number)) {
        let base = format!("{INPUT}/{name}");
        // `id/*` are four hex digits without `0x`.
        let id = |r: &mut Reader<'_>, f: &str| {
            let path = format!("{base}/id/{f}");
            let text = r.opt_string(&path)?;
            let v = u16::from_str_radix(&text, 16).ok();
            if v.is_none() {
                r.problem(&path, "not a hex number");
            }
            v
        };
        // Handlers are the class devices below it: event0, mouse0, js0.
        let handlers = r
            .dir(&base)
            .into_iter()
            .filter(|n| ["event", "mouse", "js", "ts"].iter().any(|p| n.strip_prefix(p).is_some_and(is_number)))
            .collect();
        out.push(InputDevice {
            product: r.opt_string(&format!("{base}/name")),
            phys: r.opt_string(&format!("{base}/phys")),
            uniq: r.opt_string(&format!("{base}/uniq")),
            bus_type: id(r, "bustype"),
            vendor_id: id(r, "vendor"),
            product_id: id(r, "product"),
            version: id(r, "version"),
            handlers,
            name,
        });
    }
    out.sort_by_key(|d| d.name.strip_prefix("input").and_then(|n| n.parse::<u32>().ok()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SysRoot;
    use std::fs;
    use std::os::unix::fs::symlink;

    /// Written by hand after the layout of Documentation/ABI/testing/sysfs-class-input, with the
    /// values Linux shows for QEMU's i8042 keyboard (`AT Translated Set 2 keyboard`, bus 0x11,
    /// 0001:0001 version 0xab41): this machine, the only one captured (tests/fixtures), has no
    /// input devices. Plus a PnP device with two ids and one whose `id` is not UTF-8.
    #[test]
    fn input_and_pnp_devices() {
        let d = tempfile::tempdir().unwrap();
        let dev = d.path().join("sys/devices/platform/i8042/serio0/input/input1");
        fs::create_dir_all(dev.join("id")).unwrap();
        fs::create_dir_all(dev.join("event1")).unwrap();
        fs::create_dir_all(dev.join("capabilities")).unwrap();
        fs::write(dev.join("name"), "AT Translated Set 2 keyboard\n").unwrap();
        fs::write(dev.join("phys"), "isa0060/serio0/input0\n").unwrap();
        fs::write(dev.join("uniq"), "\n").unwrap();
        for (f, v) in [("bustype", "0011"), ("vendor", "0001"), ("product", "0001"), ("version", "zz41")] {
            fs::write(dev.join("id").join(f), format!("{v}\n")).unwrap();
        }
        fs::create_dir_all(d.path().join("sys/class/input")).unwrap();
        symlink("../../devices/platform/i8042/serio0/input/input1", d.path().join("sys/class/input/input1")).unwrap();
        // The class directory also lists the handlers themselves: not devices.
        fs::create_dir_all(d.path().join("sys/class/input/event1")).unwrap();
        for (name, id) in [("00:03", &b"PNP0c02\nPNP0c01\n"[..]), ("00:04", &b"\xff\xfe\n"[..])] {
            let p = d.path().join("sys/bus/pnp/devices").join(name);
            fs::create_dir_all(&p).unwrap();
            fs::write(p.join("id"), id).unwrap();
        }
        let root = SysRoot::new(d.path());
        let mut errors = Vec::new();
        let mut r = Reader { root: &root, collector: "buses", errors: &mut errors };
        let input = input(&mut r);
        let pnp = pnp(&mut r);
        assert!(virtio(&mut r).is_empty(), "no virtio bus: no devices, no error");
        assert_eq!(input.len(), 1);
        let k = &input[0];
        assert_eq!((k.name.as_str(), k.product.as_deref()), ("input1", Some("AT Translated Set 2 keyboard")));
        assert_eq!((k.bus_type, k.vendor_id, k.product_id, k.version), (Some(0x11), Some(1), Some(1), None));
        assert_eq!((k.uniq.as_deref(), k.handlers.as_slice()), (None, &["event1".to_owned()][..]));
        assert_eq!(pnp[0].ids, ["PNP0c02", "PNP0c01"]);
        assert!(pnp[1].ids.is_empty());
        let reasons: Vec<_> = errors.iter().map(|e| format!("{} {}", e.path, e.reason)).collect();
        assert_eq!(
            reasons,
            ["/sys/class/input/input1/id/version not a hex number", "/sys/bus/pnp/devices/00:04/id invalid contents",]
        );
    }
}
