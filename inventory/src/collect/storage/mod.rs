//! Block devices and NVMe controllers, from sysfs.
//!
//! Disks are the entries of `/sys/block`. Each is a symlink into `/sys/devices/...`; the resolved
//! path gives the transport, the SCSI address, the PCI function and the udev-style by-path name.
//! Attributes come from the block device (`size` in 512-byte sectors whatever the logical block
//! size, `queue/*`, `removable`, `ro`, `dev`, NVMe `wwid`/`eui`/`nguid`/`uuid`/`nsid`) and from
//! its `device` (SCSI `vendor`/`model`/`rev`/`wwid`/`vpd_pg80`/`vpd_pg83`/`vpd_pg89`, or the NVMe
//! controller's `model`/`serial`/`firmware_rev`).
//!
//! Left out of `disks`, and listed in `skipped` with the reason: `loop`, `ram`, `zram`, `dm-`,
//! `md`, `nbd`, `drbd`, `bcache`, floppies (`fd`), anything else under
//! `/sys/devices/virtual/block`, hidden devices (the kernel hides the per-path devices
//! `nvmeXcYnZ` of a multipath namespace; the namespace itself is listed), and optical drives
//! (`sr`, or SCSI type 5): their size is the inserted medium's, not a property of the machine,
//! and lsblk types them `rom`, not `disk`.
//!
//! Choices that match lsblk (util-linux) and udev, so the same disk reads the same in both:
//! - WWN: a SCSI `wwid` of `naa.X` becomes `0xX`, as udev's `ID_WWN` and lsblk print it; `eui.X`
//!   is kept as written; `t10.` (vendor, model and serial run together) and SCSI name strings are
//!   not world wide names and give none. Without `wwid` (old kernels) the best NAA designator of
//!   VPD page 0x83 is used. NVMe namespaces keep `wwid` as the kernel writes it, as udev does.
//! - ATA disks (SCSI vendor `ATA`): sysfs `model` and `rev` are the 16- and 4-character SCSI
//!   INQUIRY fields libata makes up; the full model (40) and firmware (8) are read from the ATA
//!   IDENTIFY data in VPD page 0x89 when the kernel exports it, which is what udev's `ata_id`
//!   reports.
//! - Serial: VPD page 0x80 (the SCSI unit serial number; libata puts the ATA serial there), else
//!   the sysfs `serial` of the block device (virtio) or of its device (NVMe, MMC).
//! - Transport, in lsblk's order: `spi`, `fc`/`fcoe`, `sas`, `sbp`, `iscsi`, `usb` (a `usbN`
//!   component), `sata` or `ata` (the SCSI host's `proc_name`: `ahci*`/`sata*` or containing
//!   `ata`; `ata` when it is unreadable but the path has an `ataN` port), then `scsi` for any
//!   other SCSI disk (lsblk leaves those blank), and by name `nvme`, `virtio` (`vd*`), `mmc`.
//!
//! One file per concern:
//! - `block`: which `/sys/block` entries are disks, and the attributes every disk has;
//! - `scsi`, `vpd`, `ata`: a SCSI disk's identity from sysfs, its VPD pages and the ATA IDENTIFY
//!   data SAT puts in one;
//! - `nvme`: a namespace's identifiers, and the controllers of `/sys/class/nvme`;
//! - `path`: the transport and udev's by-path name, from where the device sits in `/sys/devices`;
//! - `mounts`: partitions, and the mounts of `/proc/self/mountinfo`.

mod ata;
mod block;
mod mounts;
mod nvme;
mod path;
mod scsi;
#[cfg(test)]
mod tree;
mod vpd;

use super::Reader;
use crate::model::{Skipped, Storage};
use block::{device_of, device_path, disk, skip_by_attributes, skip_by_name};
use mounts::{mounts_of, parse_mountinfo, partitions};
use nvme::{NVME, Subsystems, controller, is_controller_name};
use scsi::Hctl;

const BLOCK: &str = "/sys/block";

pub(super) fn collect(r: &mut Reader<'_>, out: &mut Storage) {
    let subsystems = Subsystems::read(r);
    let mounts = r.opt_string("/proc/self/mountinfo").map(|t| parse_mountinfo(&t)).unwrap_or_default();
    for name in r.dir(BLOCK) {
        if let Some(why) = skip_by_name(&name) {
            out.skipped.push(Skipped { name, why: why.to_owned() });
            continue;
        }
        let Some(devpath) = device_path(r, &format!("{BLOCK}/{name}")) else { continue };
        // Attributes are read below the resolved paths, so even a tree with absolute links
        // never leads a read out of the root.
        let device = device_of(r, &devpath);
        if let Some(why) = skip_by_attributes(r, &devpath, &device) {
            out.skipped.push(Skipped { name, why: why.to_owned() });
            continue;
        }
        let mut d = disk(r, &name, &devpath, &device, &subsystems);
        d.partitions = partitions(r, &name, &devpath, &mounts);
        d.mounts = mounts_of(&mounts, d.dev.as_deref(), &name);
        out.disks.push(d);
    }
    for name in r.dir(NVME) {
        if is_controller_name(&name) {
            out.nvme_controllers.push(controller(r, &name, &subsystems));
        }
    }
}

/// How the block device hangs off its bus, which decides where identity comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// A namespace of one NVMe controller; `device` is the controller.
    Nvme,
    /// A multipath namespace under `/sys/devices/virtual/nvme-subsystem/<subsystem>`.
    NvmeHead(String),
    /// A SCSI device (`device` is `H:C:T:L`): SATA, SAS, USB, virtio-scsi, RAID.
    Scsi(Hctl),
    /// virtio-blk.
    Virtio,
    /// An MMC/SD card.
    Mmc,
    /// Anything else (xen, pmem, a flattened tree).
    Other,
}

/// A path's components, without the empty ones a leading or doubled `/` makes.
fn components(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|c| !c.is_empty())
}

//--- Attribute helpers

/// A required size or offset in bytes, from the kernel's count of 512-byte sectors (whatever
/// the device's block size); one that overflows is recorded as invalid.
fn sectors_in_bytes(r: &mut Reader<'_>, path: &str) -> Option<u64> {
    let bytes = r.req_u64(path)?.checked_mul(512);
    if bytes.is_none() {
        r.problem(path, "invalid contents");
    }
    bytes
}

/// A `0`/`1` attribute; anything else is recorded as invalid.
fn opt_bool(r: &mut Reader<'_>, path: &str) -> Option<bool> {
    match r.opt_u64(path)? {
        0 => Some(false),
        1 => Some(true),
        _ => {
            r.problem(path, "invalid contents");
            None
        }
    }
}

fn opt_u32(r: &mut Reader<'_>, path: &str) -> Option<u32> {
    let v = r.opt_u64(path)?;
    fit(r, path, v)
}

/// A number narrowed to the field's type; one that does not fit is recorded as invalid.
fn fit<T: TryFrom<u64>>(r: &mut Reader<'_>, path: &str, v: u64) -> Option<T> {
    let narrowed = T::try_from(v).ok();
    if narrowed.is_none() {
        r.problem(path, "invalid contents");
    }
    narrowed
}
