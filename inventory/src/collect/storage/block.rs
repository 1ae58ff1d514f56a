//! Block devices: which entries of `/sys/block` are disks, where each lives in `/sys/devices`,
//! and the attributes every disk has.

use super::nvme::{NVME, Subsystems, is_controller_name, is_path_name, nvme_namespace};
use super::path::{by_path, transport};
use super::scsi::{Hctl, scsi_identity};
use super::{Kind, Reader, components, opt_bool, opt_u32, sectors_in_bytes};
use crate::collect::pci_address_of;
use crate::model::{Disk, Source};

//--- What is not a disk

/// Kernel names that are never a physical disk.
pub(super) fn skip_by_name(name: &str) -> Option<&'static str> {
    const PREFIXES: [(&str, &str); 10] = [
        ("loop", "loop"),
        ("zram", "zram"),
        ("ram", "ram"),
        ("dm-", "device-mapper"),
        ("md", "md"),
        ("nbd", "network block device"),
        ("drbd", "drbd"),
        ("bcache", "bcache"),
        ("sr", "optical drive"),
        ("fd", "floppy"),
    ];
    if is_path_name(name) {
        return Some("nvme multipath path");
    }
    PREFIXES.iter().find(|(p, _)| name.starts_with(p)).map(|(_, why)| *why)
}

/// What the attributes say: hidden (multipath paths), virtual, optical.
pub(super) fn skip_by_attributes(r: &mut Reader<'_>, devpath: &str, device: &str) -> Option<&'static str> {
    if r.opt_u64(&format!("{devpath}/hidden")) == Some(1) {
        return Some("hidden (nvme multipath path)");
    }
    // NVMe multipath and fabrics namespaces live under /sys/devices/virtual too, but not here.
    if devpath.starts_with("/sys/devices/virtual/block/") {
        return Some("virtual");
    }
    // SCSI peripheral type 5: CD/DVD (SPC-4, table 49).
    if r.opt_u64(&format!("{device}/type")) == Some(5) {
        return Some("optical drive");
    }
    None
}

/// The live device path of a `/sys/block` entry.
pub(super) fn device_path(r: &mut Reader<'_>, block: &str) -> Option<String> {
    match r.root().read_link(block) {
        Ok(target) if r.exists(&target) => Some(target),
        Ok(_) => {
            r.problem(block, "link target missing");
            None
        }
        // Not a symlink but there (sysfs built with SYSFS_DEPRECATED, or a flattened fixture):
        // the attributes are readable, the topology is not.
        Err(_) if r.exists(block) => Some(block.to_owned()),
        // Listed a moment ago and gone now: the device went away.
        Err(_) => None,
    }
}

/// The live path of a block device's `device`: resolved when it is a link, as named when not
/// (a flattened tree), absent for devices that have none (the reads then find nothing).
pub(super) fn device_of(r: &Reader<'_>, devpath: &str) -> String {
    let link = format!("{devpath}/device");
    r.root().read_link(&link).ok().filter(|t| r.exists(t)).unwrap_or(link)
}

//--- Disks

fn kind(name: &str, devpath: &str, device: &str) -> Kind {
    if name.starts_with("nvme") {
        let mut comps = components(devpath).skip_while(|c| *c != "nvme-subsystem");
        return match (comps.next(), comps.next()) {
            (Some(_), Some(subsys)) => Kind::NvmeHead(subsys.to_owned()),
            _ => Kind::Nvme,
        };
    }
    if let Some(hctl) = device.rsplit('/').next().and_then(Hctl::parse) {
        return Kind::Scsi(hctl);
    }
    if name.starts_with("vd") {
        return Kind::Virtio;
    }
    if name.starts_with("mmcblk") {
        return Kind::Mmc;
    }
    Kind::Other
}

/// One disk; `block` and `device` are the resolved live paths of the block device and of its
/// `device`.
pub(super) fn disk(r: &mut Reader<'_>, name: &str, block: &str, device: &str, subsystems: &Subsystems) -> Disk {
    let mut d = Disk { name: name.to_owned(), ..Disk::default() };
    d.dev = r.opt_string(&format!("{block}/dev"));
    d.size_bytes = sectors_in_bytes(r, &format!("{block}/size"));
    d.logical_block_bytes = opt_u32(r, &format!("{block}/queue/logical_block_size"));
    d.physical_block_bytes = opt_u32(r, &format!("{block}/queue/physical_block_size"));
    d.rotational = opt_bool(r, &format!("{block}/queue/rotational"));
    d.removable = opt_bool(r, &format!("{block}/removable"));
    d.read_only = opt_bool(r, &format!("{block}/ro"));

    let kind = kind(name, block, device);
    d.transport = transport(r, block, device, &kind);
    d.pci_address = pci_address_of(block);
    match &kind {
        Kind::Nvme => {
            nvme_namespace(r, block, device, &mut d);
            d.nvme_controller = device.rsplit('/').next().filter(|c| is_controller_name(c)).map(str::to_owned);
        }
        Kind::NvmeHead(subsys) => {
            nvme_namespace(r, block, device, &mut d);
            // A multipath namespace hangs off the subsystem; name the first controller that
            // reaches it, and its PCI function.
            d.nvme_controller = subsystems.first_controller(subsys);
            d.pci_address = d
                .nvme_controller
                .as_ref()
                .and_then(|c| r.root().read_link(&format!("{NVME}/{c}")).ok())
                .and_then(|p| pci_address_of(&p));
        }
        Kind::Scsi(hctl) => {
            d.hctl = Some(hctl.to_string());
            scsi_identity(r, device, &mut d);
        }
        Kind::Virtio => set_sysfs_serial(r, &format!("{block}/serial"), &mut d),
        Kind::Mmc => {
            d.model = r.opt_string(&format!("{device}/name"));
            set_sysfs_serial(r, &format!("{device}/serial"), &mut d);
        }
        Kind::Other => {}
    }
    d.by_path = by_path(r, block, &kind);
    d
}

pub(super) fn set_sysfs_serial(r: &mut Reader<'_>, path: &str, d: &mut Disk) {
    if let Some(serial) = r.opt_string(path) {
        d.serial = Some(serial);
        d.serial_source = Some(Source::Sysfs);
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use crate::collect::storage::tree::Tree;
    use crate::model::{Problem, Source};

    #[test]
    fn virtio_blk_disk() {
        let t = Tree::new();
        let block = t.disk("vda", "/sys/devices/pci0000:00/0000:00:05.0/virtio2", 41_943_040);
        t.file(&format!("{block}/serial"), "disk-7f3a\n");
        let (s, errors) = t.collect();
        assert_eq!(errors, vec![]);
        let d = &s.disks[0];
        assert_eq!(d.transport.as_deref(), Some("virtio"));
        assert_eq!(d.by_path.as_deref(), Some("pci-0000:00:05.0"));
        assert_eq!((d.serial.as_deref(), d.serial_source), (Some("disk-7f3a"), Some(Source::Sysfs)));
        assert_eq!(d.hctl, None);
    }

    #[test]
    fn a_broken_symlink_is_recorded_and_the_next_disk_still_read() {
        let t = Tree::new();
        t.link("/sys/block/sda", "../devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda");
        t.disk("sdb", "/sys/devices/pci0000:00/0000:00:1f.2/ata2/host1/target1:0:0/1:0:0:0", 10);
        let (s, errors) = t.collect();
        assert_eq!(
            errors,
            vec![Problem {
                collector: "storage".into(),
                path: "/sys/block/sda".into(),
                reason: "link target missing".into()
            }]
        );
        assert_eq!(s.disks.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), vec!["sdb"]);
    }

    #[test]
    fn unreadable_and_odd_attributes_are_recorded_not_fatal() {
        let t = Tree::new();
        let dev = "/sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0";
        let block = t.disk("sda", dev, 1);
        // `size` a directory: the read fails with an I/O error; `rotational` not a number.
        fs::remove_file(t.path().join(format!("{block}/size").trim_start_matches('/'))).expect("rm");
        t.mkdir(&format!("{block}/size"));
        t.file(&format!("{block}/queue/rotational"), "spinning\n");
        t.file(&format!("{block}/removable"), "7\n");
        t.file(&format!("{dev}/vpd_pg80"), [0u8, 0x80, 0, 40, b'X']);
        let (s, errors) = t.collect();
        let got: Vec<(&str, &str)> = errors.iter().map(|p| (p.path.as_str(), p.reason.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (format!("{block}/size").as_str(), "I/O error"),
                (format!("{block}/queue/rotational").as_str(), "invalid contents"),
                (format!("{block}/removable").as_str(), "invalid contents"),
                (format!("{dev}/vpd_pg80").as_str(), "invalid contents: truncated (1 of 40 bytes)"),
            ]
        );
        let d = &s.disks[0];
        assert_eq!((d.size_bytes, d.rotational, d.removable, d.serial.as_deref()), (None, None, None, None));
        // What could be read still is.
        assert_eq!((d.logical_block_bytes, d.read_only), (Some(512), Some(false)));
    }

    #[test]
    fn virtual_and_optical_devices_are_skipped_with_a_reason() {
        let t = Tree::new();
        t.file("/sys/devices/virtual/block/loop0/size", "0\n");
        t.link("/sys/block/loop0", "../devices/virtual/block/loop0");
        t.file("/sys/devices/virtual/block/zd0/size", "8\n");
        t.link("/sys/block/zd0", "../devices/virtual/block/zd0");
        let cd = "/sys/devices/pci0000:00/0000:00:1f.2/ata4/host3/target3:0:0/3:0:0:0";
        t.disk("sr0", cd, 2_097_151);
        t.disk("cd1", "/sys/devices/pci0000:00/0000:00:1f.2/ata5/host4/target4:0:0/4:0:0:0", 1);
        t.file("/sys/devices/pci0000:00/0000:00:1f.2/ata5/host4/target4:0:0/4:0:0:0/type", "5\n");
        let (s, errors) = t.collect();
        assert_eq!(errors, vec![]);
        assert!(s.disks.is_empty());
        let why: Vec<(&str, &str)> = s.skipped.iter().map(|k| (k.name.as_str(), k.why.as_str())).collect();
        assert_eq!(
            why,
            vec![("cd1", "optical drive"), ("loop0", "loop"), ("sr0", "optical drive"), ("zd0", "virtual")]
        );
    }
}
