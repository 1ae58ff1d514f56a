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
//! `by_path` reproduces systemd's `path_id` (udev `ID_PATH`) for these forms only:
//! - `pci-0000:05:00.0-nvme-1`: NVMe namespace on a PCI controller (the namespace's `nsid`);
//! - `pci-0000:00:05.0`: virtio-blk on PCI;
//! - `pci-0000:00:1f.2-ata-1.0` (`ata-<port>.<target>`, `ata-<port>.<pmp>.0` behind a port
//!   multiplier): libata, with the port number from the port's `ata_port/ataN/port_no`, never
//!   guessed from `N`, which counts across controllers;
//! - `pci-0000:00:14.0-usb-0:1:1.0-scsi-0:0:0:0`: USB storage, and `pci-…-scsi-H:C:T:L` for other
//!   SCSI hosts (virtio-scsi, RAID and HBA logical drives), with the host number rebased on the
//!   lowest `hostN` under the same parent as `path_id` does.
//!
//! Not reproduced, so `None`: SAS (`sas-exp…-phy…`), Fibre Channel, iSCSI, Hyper-V, MMC,
//! platform devices, PCI hosts below a non-PCI parent (many ARM SoCs), NVMe over fabrics and
//! NVMe multipath namespaces (udev names neither).
//!
//! Partitions are the entries of a disk's directory that have a `partition` attribute (`start`
//! and `size` in 512-byte sectors); mounts come from `/proc/self/mountinfo` (proc(5)), matched to
//! a disk or partition by `major:minor`, or by the mount source naming its `/dev` node (a
//! multi-device file system such as bcachefs shows `/dev/sdc1:/dev/sdc2` and one device number),
//! as lsblk matches them.
//!
//! NVMe controllers are the entries of `/sys/class/nvme`. A controller's namespaces are its own
//! block devices, the namespaces of its hidden multipath paths, and the namespaces of the
//! subsystem that lists it in `/sys/class/nvme-subsystem`.

use std::fmt;

use super::{Reader, is_pci_address, pci_address_of};
use crate::model::{Disk, Mount, NvmeController, Partition, Skipped, Source, Storage};

const BLOCK: &str = "/sys/block";
const NVME: &str = "/sys/class/nvme";
const NVME_SUBSYSTEMS: &str = "/sys/class/nvme-subsystem";

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

//--- Partitions and mounts

/// A disk's partitions: the entries of its directory named after it with a `partition` file.
fn partitions(r: &mut Reader<'_>, disk: &str, block: &str, mounts: &[(String, Mount)]) -> Vec<Partition> {
    let mut out = Vec::new();
    for name in r.dir(block).into_iter().filter(|n| n.starts_with(disk) && n != disk) {
        let base = format!("{block}/{name}");
        let Some(number) = r.opt_u64(&format!("{base}/partition")) else { continue };
        let sectors = |r: &mut Reader<'_>, f: &str| {
            let path = format!("{base}/{f}");
            let v = r.req_u64(&path)?;
            let bytes = v.checked_mul(512);
            if bytes.is_none() {
                r.problem(&path, "invalid contents");
            }
            bytes
        };
        let dev = r.opt_string(&format!("{base}/dev"));
        out.push(Partition {
            number: u32::try_from(number).ok(),
            start_bytes: sectors(r, "start"),
            size_bytes: sectors(r, "size"),
            read_only: opt_bool(r, &format!("{base}/ro")),
            mounts: mounts_of(mounts, dev.as_deref(), &name),
            dev,
            name,
        });
    }
    out.sort_by(|a, b| (a.number, &a.name).cmp(&(b.number, &b.name)));
    out
}

/// The mounts of the block device `name` (`major:minor` `dev`).
fn mounts_of(mounts: &[(String, Mount)], dev: Option<&str>, name: &str) -> Vec<Mount> {
    let node = format!("/dev/{name}");
    mounts
        .iter()
        .filter(|(d, m)| {
            dev == Some(d.as_str()) || m.source.as_deref().is_some_and(|s| s.split(':').any(|part| part == node))
        })
        .map(|(_, m)| m.clone())
        .collect()
}

/// `/proc/self/mountinfo`: `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root
/// rw,errors=continue` (proc(5)): the device number and the mount. Lines that do not fit are
/// skipped.
pub(crate) fn parse_mountinfo(text: &str) -> Vec<(String, Mount)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        // Optional fields end at a lone `-`, never before the sixth field.
        let Some(dash) = f.iter().skip(6).position(|x| *x == "-").map(|i| i + 6) else { continue };
        let (Some(dev), Some(point), Some(options), Some(fstype)) = (f.get(2), f.get(4), f.get(5), f.get(dash + 1))
        else {
            continue;
        };
        out.push((
            (*dev).to_owned(),
            Mount {
                mount_point: unescape(point),
                fstype: unescape(fstype),
                source: f.get(dash + 2).map(|s| unescape(s)).filter(|s| s != "none"),
                options: (*options).to_owned(),
                super_options: f.get(dash + 3).map(|s| (*s).to_owned()).unwrap_or_default(),
            },
        ));
    }
    out
}

/// The kernel's `\ooo` escapes (space, tab, newline, backslash) undone.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)))
            .and_then(|d| u8::try_from(d.iter().fold(0u32, |v, c| v * 8 + u32::from(c - b'0'))).ok());
        match (b[i], oct) {
            (b'\\', Some(v)) => {
                out.push(v);
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

//--- What is not a disk

/// Kernel names that are never a physical disk.
fn skip_by_name(name: &str) -> Option<&'static str> {
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
fn skip_by_attributes(r: &mut Reader<'_>, devpath: &str, device: &str) -> Option<&'static str> {
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
fn device_path(r: &mut Reader<'_>, block: &str) -> Option<String> {
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
fn device_of(r: &Reader<'_>, devpath: &str) -> String {
    let link = format!("{devpath}/device");
    r.root().read_link(&link).ok().filter(|t| r.exists(t)).unwrap_or(link)
}

//--- Disks

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

/// A SCSI address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hctl {
    host: u32,
    channel: u32,
    target: u32,
    lun: u64,
}

impl Hctl {
    fn parse(s: &str) -> Option<Hctl> {
        let mut it = s.split(':');
        let hctl = Hctl {
            host: it.next()?.parse().ok()?,
            channel: it.next()?.parse().ok()?,
            target: it.next()?.parse().ok()?,
            lun: it.next()?.parse().ok()?,
        };
        it.next().is_none().then_some(hctl)
    }
}

impl fmt::Display for Hctl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}:{}", self.host, self.channel, self.target, self.lun)
    }
}

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
fn disk(r: &mut Reader<'_>, name: &str, block: &str, device: &str, subsystems: &Subsystems) -> Disk {
    let mut d = Disk { name: name.to_owned(), ..Disk::default() };
    d.dev = r.opt_string(&format!("{block}/dev"));
    let size_path = format!("{block}/size");
    d.size_bytes = r.req_u64(&size_path).and_then(|sectors| {
        // The kernel counts `size` in 512-byte sectors whatever the device's block size.
        let bytes = sectors.checked_mul(512);
        if bytes.is_none() {
            r.problem(&size_path, "invalid contents");
        }
        bytes
    });
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

/// NVMe: identity from the controller (or subsystem), ids from the namespace.
fn nvme_namespace(r: &mut Reader<'_>, block: &str, device: &str, d: &mut Disk) {
    d.model = r.opt_string(&format!("{device}/model"));
    d.firmware = r.opt_string(&format!("{device}/firmware_rev"));
    set_sysfs_serial(r, &format!("{device}/serial"), d);
    d.wwn = r.opt_string(&format!("{block}/wwid"));
    let eui_path = format!("{block}/eui");
    d.eui = r.opt_string(&eui_path).and_then(|s| hex_id(r, &eui_path, &s, 8));
    let nguid_path = format!("{block}/nguid");
    d.nguid = r.opt_string(&nguid_path).and_then(|s| hex_id(r, &nguid_path, &s, 16));
    let uuid_path = format!("{block}/uuid");
    d.uuid = r.opt_string(&uuid_path).and_then(|s| {
        let hex = hex_id(r, &uuid_path, &s, 16)?;
        // With no UUID the kernel shows the NGUID here instead (nvme `uuid_show`).
        (d.nguid.as_deref() != Some(hex.as_str())).then(|| s.to_ascii_lowercase())
    });
}

/// An identifier the kernel prints as hex bytes with separators (`00 26 b7 …`, or UUID
/// dashes): contiguous lower-case hex, `None` when all zero (the namespace has none).
fn hex_id(r: &mut Reader<'_>, path: &str, s: &str, len: usize) -> Option<String> {
    let hex: String = s.chars().filter(|c| *c != ' ' && *c != '-').collect::<String>().to_ascii_lowercase();
    if hex.len() != len * 2 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        r.problem(path, "invalid contents");
        return None;
    }
    hex.bytes().any(|b| b != b'0').then_some(hex)
}

fn set_sysfs_serial(r: &mut Reader<'_>, path: &str, d: &mut Disk) {
    if let Some(serial) = r.opt_string(path) {
        d.serial = Some(serial);
        d.serial_source = Some(Source::Sysfs);
    }
}

/// SCSI: INQUIRY strings, ATA IDENTIFY strings, unit serial number, WWN.
fn scsi_identity(r: &mut Reader<'_>, dev: &str, d: &mut Disk) {
    d.vendor = r.opt_string(&format!("{dev}/vendor"));
    d.model = r.opt_string(&format!("{dev}/model"));
    d.firmware = r.opt_string(&format!("{dev}/rev"));

    // Only for what says it is ATA (SAT's vendor), as udev's rule for `ata_id` does: other
    // devices may publish the page too (scsi_debug emulates one for a disk it is not).
    let pg89 = format!("{dev}/vpd_pg89");
    let page = if d.vendor.as_deref() == Some("ATA") { r.opt_bytes(&pg89) } else { None };
    if let Some(page) = page {
        match AtaIdentity::from_vpd(&page) {
            Ok(ata) => {
                d.model = ata.model.or(d.model.take());
                d.firmware = ata.firmware.or(d.firmware.take());
            }
            Err(e) => r.problem(&pg89, e),
        }
    }

    let pg80 = format!("{dev}/vpd_pg80");
    if let Some(page) = r.opt_bytes(&pg80) {
        match unit_serial(&page) {
            Ok(Some(serial)) => {
                d.serial = Some(serial);
                d.serial_source = Some(Source::VpdPg80);
            }
            Ok(None) => {}
            Err(e) => r.problem(&pg80, e),
        }
    }
    if d.serial.is_none() {
        set_sysfs_serial(r, &format!("{dev}/serial"), d);
    }

    let wwid = format!("{dev}/wwid");
    if let Some(id) = r.opt_string(&wwid) {
        match scsi_wwn(&id) {
            Ok(wwn) => d.wwn = wwn,
            Err(e) => r.problem(&wwid, e),
        }
    } else {
        let pg83 = format!("{dev}/vpd_pg83");
        if let Some(page) = r.opt_bytes(&pg83) {
            match naa_designator(&page) {
                Ok(wwn) => d.wwn = wwn,
                Err(e) => r.problem(&pg83, e),
            }
        }
    }
}

/// The kernel's `wwid` as lsblk shows a WWN.
fn scsi_wwn(wwid: &str) -> Result<Option<String>, PageError> {
    let hex_ok = |h: &str| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit());
    if let Some(hex) = wwid.strip_prefix("naa.") {
        return if hex_ok(hex) { Ok(Some(format!("0x{}", hex.to_ascii_lowercase()))) } else { Err(PageError::NotHex) };
    }
    if let Some(hex) = wwid.strip_prefix("eui.") {
        return if hex_ok(hex) {
            Ok(Some(format!("eui.{}", hex.to_ascii_lowercase())))
        } else {
            Err(PageError::NotHex)
        };
    }
    Ok(None)
}

//--- Transport and by-path

fn components(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|c| !c.is_empty())
}

/// Where in the path the SCSI host sits (`host3`).
fn host_index(comps: &[&str]) -> Option<usize> {
    comps.iter().position(|c| c.strip_prefix("host").is_some_and(is_number))
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_ata_port(c: &str) -> bool {
    c.strip_prefix("ata").is_some_and(is_number)
}

fn is_usb_root(c: &str) -> bool {
    c.strip_prefix("usb").is_some_and(is_number)
}

/// A USB device (`2-1.3`) or interface (`2-1.3:1.0`).
fn is_usb_node(c: &str) -> bool {
    c.split_once('-')
        .is_some_and(|(bus, port)| is_number(bus) && port.bytes().next().is_some_and(|b| b.is_ascii_digit()))
}

fn transport(r: &mut Reader<'_>, devpath: &str, scsi_dev: &str, kind: &Kind) -> Option<String> {
    match kind {
        Kind::Nvme | Kind::NvmeHead(_) => return Some("nvme".into()),
        Kind::Virtio => return Some("virtio".into()),
        Kind::Mmc => return Some("mmc".into()),
        Kind::Scsi(_) => {}
        Kind::Other => return None,
    }
    let comps: Vec<&str> = components(devpath).collect();
    let hi = host_index(&comps)?;
    let host = comps.get(hi)?;
    let hostdir = format!("/{}", comps.get(..=hi)?.join("/"));
    let has = |r: &Reader<'_>, class: &str| r.exists(&format!("{hostdir}/{class}/{host}"));
    let t = if has(r, "spi_host") {
        "spi"
    } else if has(r, "fc_host") {
        let symbolic = r.opt_string(&format!("{hostdir}/fc_host/{host}/symbolic_name")).unwrap_or_default();
        if symbolic.contains(" over ") { "fcoe" } else { "fc" }
    } else if has(r, "sas_host")
        || r.exists(&format!("{scsi_dev}/sas_device"))
        || comps.iter().any(|c| c.starts_with("end_device-"))
    {
        "sas"
    } else if r.exists(&format!("{scsi_dev}/ieee1394_id")) {
        "sbp"
    } else if has(r, "iscsi_host") {
        "iscsi"
    } else if comps.iter().any(|c| is_usb_root(c)) {
        "usb"
    } else {
        match r.opt_string(&format!("{hostdir}/scsi_host/{host}/proc_name")) {
            Some(p) if p.starts_with("ahci") || p.starts_with("sata") => "sata",
            Some(p) if p.contains("ata") => "ata",
            _ if comps.iter().any(|c| is_ata_port(c)) => "ata",
            _ => "scsi",
        }
    };
    Some(t.into())
}

/// Everything above `pci` (the nearest PCI function) is PCI too: only then is udev's path the
/// `pci-<address>` we build (a platform parent adds its own parts).
fn pci_root_only(comps: &[&str]) -> bool {
    comps.iter().enumerate().all(|(i, c)| match i {
        0 => *c == "sys",
        1 => *c == "devices",
        _ => is_pci_address(c) || (c.starts_with("pci") && c.len() > 3),
    })
}

/// `pci-<address>` when `comps[i]` is a PCI function under PCI alone.
fn pci_part(comps: &[&str], i: usize) -> Option<String> {
    let c = comps.get(i)?;
    (is_pci_address(c) && pci_root_only(comps.get(..i)?)).then(|| format!("pci-{c}"))
}

fn by_path(r: &mut Reader<'_>, block: &str, kind: &Kind) -> Option<String> {
    let comps: Vec<&str> = components(block).collect();
    match kind {
        Kind::Nvme => {
            // …/<pci>/nvme/nvme0/nvme0n1
            let i = comps.iter().position(|c| *c == "nvme")?;
            let pci = pci_part(&comps, i.checked_sub(1)?)?;
            let nsid = r.opt_u64(&format!("{block}/nsid"))?;
            Some(format!("{pci}-nvme-{nsid}"))
        }
        Kind::Virtio => {
            // …/<pci>/virtio2/block/vda
            let i = comps.iter().position(|c| c.strip_prefix("virtio").is_some_and(is_number))?;
            pci_part(&comps, i.checked_sub(1)?)
        }
        Kind::Scsi(hctl) => scsi_path(r, &comps, *hctl),
        Kind::NvmeHead(_) | Kind::Mmc | Kind::Other => None,
    }
}

fn scsi_path(r: &mut Reader<'_>, comps: &[&str], hctl: Hctl) -> Option<String> {
    // Transports path_id names by their own addresses, which are not reproduced here.
    if comps.iter().any(|c| {
        c.starts_with("rport-")
            || c.starts_with("end_device-")
            || c.starts_with("session")
            || c.starts_with("vmbus_")
            || c.starts_with("VMBUS")
    }) {
        return None;
    }
    let hi = host_index(comps)?;
    if let Some(ai) = comps.get(..hi)?.iter().rposition(|c| is_ata_port(c)) {
        let ata = comps.get(ai)?;
        let port_dir = format!("/{}", comps.get(..=ai)?.join("/"));
        let port = r.opt_u64(&format!("{port_dir}/ata_port/{ata}/port_no"))?;
        let pci = pci_part(comps, ai.checked_sub(1)?)?;
        return Some(if hctl.channel == 0 {
            format!("{pci}-ata-{port}.{}", hctl.target)
        } else {
            format!("{pci}-ata-{port}.{}.0", hctl.channel)
        });
    }

    // path_id's handle_scsi_default: the host number counted from the lowest host under the
    // same parent, so it does not depend on probe order across controllers.
    let parent = format!("/{}", comps.get(..hi)?.join("/"));
    let base = r.dir(&parent).iter().filter_map(|e| e.strip_prefix("host")?.parse::<u32>().ok()).min()?;
    let scsi = format!("scsi-{}:{}:{}:{}", hctl.host.checked_sub(base)?, hctl.channel, hctl.target, hctl.lun);

    let above = hi.checked_sub(1)?;
    let c = comps.get(above)?;
    if is_pci_address(c) {
        return Some(format!("{}-{scsi}", pci_part(comps, above)?));
    }
    if c.strip_prefix("virtio").is_some_and(is_number) {
        return Some(format!("{}-{scsi}", pci_part(comps, above.checked_sub(1)?)?));
    }
    if is_usb_node(c) {
        // The interface (`2-1.3:1.0`) names the port; the hubs above it and the root hub add
        // nothing, and the host controller is the PCI function above the root hub.
        let (_, port) = c.split_once('-')?;
        let root = comps.get(..above)?.iter().rposition(|c| is_usb_root(c))?;
        if !comps.get(root + 1..above)?.iter().all(|c| is_usb_node(c)) {
            return None;
        }
        return Some(format!("{}-usb-0:{port}-{scsi}", pci_part(comps, root.checked_sub(1)?)?));
    }
    None
}

//--- NVMe controllers

/// `/sys/class/nvme-subsystem`: which controllers and namespaces each subsystem has.
struct Subsystems {
    list: Vec<Subsystem>,
}

struct Subsystem {
    name: String,
    controllers: Vec<String>,
    namespaces: Vec<String>,
}

impl Subsystems {
    fn read(r: &mut Reader<'_>) -> Subsystems {
        let mut list = Vec::new();
        for name in r.dir(NVME_SUBSYSTEMS) {
            let entries = r.dir(&format!("{NVME_SUBSYSTEMS}/{name}"));
            let mut controllers: Vec<String> = entries.iter().filter(|e| is_controller_name(e)).cloned().collect();
            controllers.sort_by_key(|c| instance(c));
            let namespaces = entries.into_iter().filter(|e| is_namespace_name(e)).collect();
            list.push(Subsystem { name, controllers, namespaces });
        }
        Subsystems { list }
    }

    fn first_controller(&self, subsys: &str) -> Option<String> {
        self.list.iter().find(|s| s.name == subsys)?.controllers.first().cloned()
    }

    fn of_controller(&self, ctrl: &str) -> Option<&Subsystem> {
        self.list.iter().find(|s| s.controllers.iter().any(|c| c == ctrl))
    }
}

/// The number in `nvme12`, for ordering.
fn instance(ctrl: &str) -> u32 {
    ctrl.strip_prefix("nvme").and_then(|n| n.parse().ok()).unwrap_or(u32::MAX)
}

/// `nvme0`.
fn is_controller_name(s: &str) -> bool {
    s.strip_prefix("nvme").is_some_and(is_number)
}

/// `nvme0n1`.
fn is_namespace_name(s: &str) -> bool {
    s.strip_prefix("nvme").and_then(|s| s.split_once('n')).is_some_and(|(c, n)| is_number(c) && is_number(n))
}

/// `nvme0c1n1`: one controller's path to a multipath namespace.
fn is_path_name(s: &str) -> bool {
    path_head(s).is_some()
}

/// The namespace a path device belongs to: `nvme0c1n1` -> `nvme0n1`.
fn path_head(s: &str) -> Option<String> {
    let rest = s.strip_prefix("nvme")?;
    let (subsys, rest) = rest.split_once('c')?;
    let (ctrl, ns) = rest.split_once('n')?;
    (is_number(subsys) && is_number(ctrl) && is_number(ns)).then(|| format!("nvme{subsys}n{ns}"))
}

fn controller(r: &mut Reader<'_>, name: &str, subsystems: &Subsystems) -> NvmeController {
    let base = format!("{NVME}/{name}");
    let mut c = NvmeController { name: name.to_owned(), ..NvmeController::default() };
    c.model = r.opt_string(&format!("{base}/model"));
    c.serial = r.opt_string(&format!("{base}/serial"));
    c.firmware = r.opt_string(&format!("{base}/firmware_rev"));
    c.transport = r.opt_string(&format!("{base}/transport"));
    let cntlid = format!("{base}/cntlid");
    c.cntlid = r.opt_u64(&cntlid).and_then(|v| fit(r, &cntlid, v));
    let subsystem = subsystems.of_controller(name);
    c.nqn = r.opt_string(&format!("{base}/subsysnqn"));
    if c.nqn.is_none() {
        c.nqn = subsystem.and_then(|s| r.opt_string(&format!("{NVME_SUBSYSTEMS}/{}/subsysnqn", s.name)));
    }
    c.pci_address = r.root().read_link(&base).ok().and_then(|p| pci_address_of(&p));
    if c.pci_address.is_none() && c.transport.as_deref() == Some("pcie") {
        c.pci_address = r.opt_string(&format!("{base}/address")).filter(|a| is_pci_address(a));
    }
    let mut namespaces = Vec::new();
    for e in r.dir(&base) {
        if is_namespace_name(&e) {
            namespaces.push(e);
        } else if let Some(head) = path_head(&e) {
            namespaces.push(head);
        }
    }
    if let Some(s) = subsystem {
        namespaces.extend(s.namespaces.iter().cloned());
    }
    namespaces.sort();
    namespaces.dedup();
    c.namespaces = namespaces;
    c
}

//--- Attribute helpers

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

//--- VPD pages and ATA IDENTIFY

/// Why a VPD page was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PageError {
    /// Shorter than the 4-byte header.
    Short,
    /// The page code is not the one asked for.
    WrongPage { expected: u8, found: u8 },
    /// The header announces more than the file holds.
    Truncated { declared: usize, present: usize },
    /// A text field with bytes that are not printable ASCII.
    NotText,
    /// An identifier that is not hexadecimal.
    NotHex,
    /// ATA IDENTIFY data whose checksum (word 255) does not add up.
    Checksum,
}

impl fmt::Display for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PageError::Short => f.write_str("invalid contents: shorter than a VPD header"),
            PageError::WrongPage { expected, found } => {
                write!(f, "invalid contents: page code {found:#04x}, expected {expected:#04x}")
            }
            PageError::Truncated { declared, present } => {
                write!(f, "invalid contents: truncated ({present} of {declared} bytes)")
            }
            PageError::NotText => f.write_str("invalid contents: not printable ASCII"),
            PageError::NotHex => f.write_str("invalid contents: not hexadecimal"),
            PageError::Checksum => f.write_str("invalid contents: IDENTIFY checksum mismatch"),
        }
    }
}

/// The payload of a VPD page: byte 1 is the page code, bytes 2-3 the payload length (SPC-4,
/// 7.8.1).
fn vpd_payload(page: &[u8], code: u8) -> Result<&[u8], PageError> {
    let [_, found, hi, lo, rest @ ..] = page else { return Err(PageError::Short) };
    if *found != code {
        return Err(PageError::WrongPage { expected: code, found: *found });
    }
    let declared = usize::from(u16::from_be_bytes([*hi, *lo]));
    rest.get(..declared).ok_or(PageError::Truncated { declared, present: rest.len() })
}

/// Printable ASCII with the space and NUL padding removed; `None` when nothing is left.
fn ascii_field(bytes: &[u8]) -> Result<Option<String>, PageError> {
    let pad = |b: &u8| *b == b' ' || *b == 0;
    let start = bytes.iter().position(|b| !pad(b)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !pad(b)).map_or(start, |i| i + 1);
    let field = bytes.get(start..end).unwrap_or_default();
    if !field.iter().all(|b| (0x20..0x7f).contains(b)) {
        return Err(PageError::NotText);
    }
    Ok((!field.is_empty()).then(|| field.iter().map(|&b| char::from(b)).collect()))
}

/// VPD page 0x80, Unit Serial Number (SPC-4, 7.8.15).
fn unit_serial(page: &[u8]) -> Result<Option<String>, PageError> {
    ascii_field(vpd_payload(page, 0x80)?)
}

/// The preferred NAA designator with LUN association from VPD page 0x83, Device Identification
/// (SPC-4, 7.8.6), as udev and lsblk print a WWN (`0x5000c500a1b2c3d4`). Preference follows the
/// kernel's `scsi_vpd_lun_id`: IEEE Registered Extended (6), Registered (5), Extended (2), then
/// locally assigned (3).
fn naa_designator(page: &[u8]) -> Result<Option<String>, PageError> {
    let rank = |naa: u8| match naa {
        6 => 4,
        5 => 3,
        2 => 2,
        3 => 1,
        _ => 0,
    };
    let mut rest = vpd_payload(page, 0x83)?;
    let mut best: Option<(u8, &[u8])> = None;
    while let [_, kind, _, len, tail @ ..] = rest {
        let len = usize::from(*len);
        let Some((id, next)) = tail.split_at_checked(len) else {
            return Err(PageError::Truncated { declared: len, present: tail.len() });
        };
        let association = (kind >> 4) & 0x3;
        let designator_type = kind & 0xf;
        if let (0, 3, Some(first)) = (association, designator_type, id.first()) {
            let r = rank(first >> 4);
            if r > 0 && best.is_none_or(|(b, _)| r > b) {
                best = Some((r, id));
            }
        }
        rest = next;
    }
    Ok(best.map(|(_, id)| {
        let mut s = String::from("0x");
        for b in id {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }))
}

/// Model and firmware from the ATA IDENTIFY (PACKET) DEVICE data that SAT puts in VPD page
/// 0x89, ATA Information (SAT-3, 12.4.2): 56 bytes of SAT header, then 512 bytes of IDENTIFY.
#[derive(Debug, Default, PartialEq, Eq)]
struct AtaIdentity {
    model: Option<String>,
    firmware: Option<String>,
}

impl AtaIdentity {
    fn from_vpd(page: &[u8]) -> Result<AtaIdentity, PageError> {
        let payload = vpd_payload(page, 0x89)?;
        let command = payload.get(52).copied().unwrap_or(0);
        // 0xec IDENTIFY DEVICE, 0xa1 IDENTIFY PACKET DEVICE; anything else: no data captured.
        if command != 0xec && command != 0xa1 {
            return Ok(AtaIdentity::default());
        }
        let ident = payload.get(56..568).ok_or(PageError::Truncated { declared: 568, present: payload.len() })?;
        // ACS-3 7.12.7.91: word 255 is 0xa5 then a checksum making all 512 bytes sum to zero.
        if ident.get(510) == Some(&0xa5) && ident.iter().fold(0u8, |s, b| s.wrapping_add(*b)) != 0 {
            return Err(PageError::Checksum);
        }
        Ok(AtaIdentity { model: ata_string(ident, 27, 47)?, firmware: ata_string(ident, 23, 27)? })
    }
}

/// IDENTIFY words `from..to` as text: each little-endian word carries two characters, the
/// first in its high byte (ACS-3, 3.4.9).
fn ata_string(ident: &[u8], from: usize, to: usize) -> Result<Option<String>, PageError> {
    let words = ident.get(from * 2..to * 2).ok_or(PageError::Short)?;
    let swapped: Vec<u8> = words.chunks_exact(2).flat_map(|w| w.iter().rev().copied()).collect();
    ascii_field(&swapped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_lines_and_escapes() {
        let text = "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard\n\
                    42 27 254:0 /run/netns /run/netns rw,relatime shared:1 - ext4 /dev/vda rw,discard\n\
                    61 49 8:1 / /mnt/my\\040disk\\134x rw - vfat /dev/sda1 rw,fmask=0077\n\
                    43 23 0:13 / /sys/kernel/tracing rw,relatime - tracefs none rw\n\
                    1 2 3 4 5 6 7\n\
                    9 9 8:2 / /x rw \\999 - ext4\n";
        let m = parse_mountinfo(text);
        let shown: Vec<_> =
            m.iter().map(|(d, m)| format!("{d} {} {} {:?}", m.mount_point, m.fstype, m.source)).collect();
        assert_eq!(
            shown,
            [
                "254:0 / ext4 Some(\"/dev/vda\")",
                "254:0 /run/netns ext4 Some(\"/dev/vda\")",
                "8:1 /mnt/my disk\\x vfat Some(\"/dev/sda1\")",
                "0:13 /sys/kernel/tracing tracefs None",
                "8:2 /x ext4 None",
            ]
        );
        assert_eq!((m[0].1.options.as_str(), m[0].1.super_options.as_str()), ("rw,relatime", "rw,discard"));
        assert_eq!(unescape("a\\400b\\12"), "a\\400b\\12", "not an octet, cut short: kept");
        // A bcachefs mount names both its devices; either one finds it.
        let bc = parse_mountinfo("861 79 8:33 / /mnt/test rw - bcachefs /dev/sdc1:/dev/sdc2 rw\n");
        assert_eq!(mounts_of(&bc, Some("8:34"), "sdc2").len(), 1);
        assert_eq!(mounts_of(&bc, Some("8:35"), "sdc3").len(), 0);
    }
    use crate::model::Problem;
    use crate::sysroot::SysRoot;
    use std::fs;
    use std::os::unix::fs::symlink;
    use std::path::Path;

    /// A sysfs tree under a temporary root.
    struct Tree {
        dir: tempfile::TempDir,
    }

    impl Tree {
        fn new() -> Tree {
            Tree { dir: tempfile::tempdir().expect("tempdir") }
        }

        fn file(&self, live: &str, contents: impl AsRef<[u8]>) -> &Tree {
            let p = self.dir.path().join(live.trim_start_matches('/'));
            fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            fs::write(p, contents).expect("write");
            self
        }

        fn mkdir(&self, live: &str) -> &Tree {
            fs::create_dir_all(self.dir.path().join(live.trim_start_matches('/'))).expect("mkdir");
            self
        }

        /// A symlink; an absolute (live) target is made relative, as sysfs's links are, so the
        /// link resolves inside the tree and not on the host.
        fn link(&self, live: &str, target: &str) -> &Tree {
            let p = self.dir.path().join(live.trim_start_matches('/'));
            fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            let target = match target.strip_prefix('/') {
                Some(abs) => {
                    let depth = live.trim_start_matches('/').matches('/').count();
                    format!("{}{abs}", "../".repeat(depth))
                }
                None => target.to_owned(),
            };
            symlink(target, p).expect("symlink");
            self
        }

        /// A whole disk at `devdir/block/<name>`, linked from `/sys/block` and with its `device`
        /// link, as the kernel lays it out.
        fn disk(&self, name: &str, devdir: &str, sectors: u64) -> String {
            let block = format!("{devdir}/block/{name}");
            self.file(&format!("{block}/size"), format!("{sectors}\n"));
            self.file(&format!("{block}/queue/logical_block_size"), "512\n");
            self.file(&format!("{block}/queue/physical_block_size"), "4096\n");
            self.file(&format!("{block}/queue/rotational"), "1\n");
            self.file(&format!("{block}/removable"), "0\n");
            self.file(&format!("{block}/ro"), "0\n");
            self.file(&format!("{block}/dev"), "8:0\n");
            self.link(&format!("{block}/device"), devdir);
            self.link(&format!("/sys/block/{name}"), &block);
            block
        }

        fn collect(&self) -> (Storage, Vec<Problem>) {
            let root = SysRoot::new(self.dir.path());
            let mut errors = Vec::new();
            let mut r = Reader { root: &root, collector: "storage", errors: &mut errors };
            let mut out = Storage::default();
            collect(&mut r, &mut out);
            (out, errors)
        }

        fn path(&self) -> &Path {
            self.dir.path()
        }
    }

    fn page(code: u8, payload: &[u8]) -> Vec<u8> {
        let len = u16::try_from(payload.len()).expect("short payload").to_be_bytes();
        [&[0, code, len[0], len[1]][..], payload].concat()
    }

    /// A VPD page 0x89 with IDENTIFY data carrying these strings, checksummed.
    fn pg89(serial: &str, firmware: &str, model: &str) -> Vec<u8> {
        let mut ident = [0u8; 512];
        for (word, text, width) in [(10, serial, 20), (23, firmware, 8), (27, model, 40)] {
            let padded = format!("{text:<width$}");
            for (i, pair) in padded.as_bytes().chunks(2).enumerate() {
                ident[(word + i) * 2] = pair[1];
                ident[(word + i) * 2 + 1] = pair[0];
            }
        }
        ident[510] = 0xa5;
        let sum = ident.iter().fold(0u8, |s, b| s.wrapping_add(*b));
        ident[511] = 0u8.wrapping_sub(sum);
        let mut payload = vec![0u8; 56];
        payload[52] = 0xec;
        payload.extend_from_slice(&ident);
        page(0x89, &payload)
    }

    #[test]
    fn unit_serial_is_the_payload_without_padding() {
        assert_eq!(unit_serial(&page(0x80, b"     WD-WMAM9XE78956")), Ok(Some("WD-WMAM9XE78956".into())));
        assert_eq!(unit_serial(&page(0x80, b"50026B724B09A1FF    ")), Ok(Some("50026B724B09A1FF".into())));
        // Only the declared length counts; what follows is not serial.
        let mut longer = page(0x80, b"14000");
        longer.extend_from_slice(b"junk");
        assert_eq!(unit_serial(&longer), Ok(Some("14000".into())));
        assert_eq!(unit_serial(&page(0x80, b"        ")), Ok(None));
    }

    #[test]
    fn a_truncated_or_foreign_vpd_page_is_refused() {
        let mut cut = page(0x80, b"VJGRBU1X        ");
        cut.truncate(10);
        assert_eq!(unit_serial(&cut), Err(PageError::Truncated { declared: 16, present: 6 }));
        assert_eq!(unit_serial(&[0, 0x80]), Err(PageError::Short));
        assert_eq!(unit_serial(&page(0x83, b"x")), Err(PageError::WrongPage { expected: 0x80, found: 0x83 }));
        // What prometheus/procfs's text archive made of a real page: 0x80 became U+FFFD.
        let mangled = [&[0u8, 0xef, 0xbf, 0xbd, 0, 0x10][..], b"VJGRBU1X        "].concat();
        assert_eq!(unit_serial(&mangled), Err(PageError::WrongPage { expected: 0x80, found: 0xef }));
        assert_eq!(unit_serial(&page(0x80, b"AB\x01CD")), Err(PageError::NotText));
    }

    #[test]
    fn naa_designator_prefers_registered_extended_and_lun_association() {
        // T10 vendor id (type 1), then an NAA 5 for the target port (association 1), then NAA 5
        // and NAA 6 for the LUN.
        let mut payload = vec![0x02, 0x01, 0x00, 0x08];
        payload.extend_from_slice(b"ATA     ");
        payload.extend_from_slice(&[0x01, 0x13, 0x00, 0x08, 0x51, 1, 2, 3, 4, 5, 6, 7]);
        payload.extend_from_slice(&[0x01, 0x03, 0x00, 0x08, 0x50, 0x02, 0x6b, 0x72, 0x4b, 0x09, 0xa1, 0xff]);
        assert_eq!(naa_designator(&page(0x83, &payload)), Ok(Some("0x50026b724b09a1ff".into())));
        let mut naa6 = vec![0x01, 0x03, 0x00, 0x10, 0x60];
        naa6.extend_from_slice(&[0x11; 15]);
        payload.extend_from_slice(&naa6);
        assert_eq!(naa_designator(&page(0x83, &payload)), Ok(Some(format!("0x60{}", "11".repeat(15)))));
        // A descriptor running past the page.
        assert!(matches!(
            naa_designator(&page(0x83, &[0x01, 0x03, 0x00, 0x08, 0x50])),
            Err(PageError::Truncated { .. })
        ));
    }

    #[test]
    fn ata_identify_strings_are_byte_swapped_words() {
        let id = AtaIdentity::from_vpd(&pg89("50026B724B09A1FF", "580ABBF0", "KINGSTON SH103S3240G")).expect("valid");
        assert_eq!(id.model.as_deref(), Some("KINGSTON SH103S3240G"));
        assert_eq!(id.firmware.as_deref(), Some("580ABBF0"));
    }

    #[test]
    fn ata_identify_with_a_bad_checksum_is_refused() {
        let mut p = pg89("S", "F", "M");
        let last = p.len() - 1;
        p[last] = p[last].wrapping_add(1);
        assert_eq!(AtaIdentity::from_vpd(&p), Err(PageError::Checksum));
        let mut short = pg89("S", "F", "M");
        short.truncate(300);
        assert!(matches!(AtaIdentity::from_vpd(&short), Err(PageError::Truncated { .. })));
    }

    #[test]
    fn wwid_forms() {
        assert_eq!(scsi_wwn("naa.50026B724B09A1FF"), Ok(Some("0x50026b724b09a1ff".into())));
        assert_eq!(scsi_wwn("eui.0025385b71b0e3a1"), Ok(Some("eui.0025385b71b0e3a1".into())));
        assert_eq!(scsi_wwn("t10.ATA     WDC WD800JD-00MSA1      WD-WMAM9XE78956"), Ok(None));
        assert_eq!(scsi_wwn("naa.xyz"), Err(PageError::NotHex));
    }

    #[test]
    fn nvme_names() {
        assert!(is_controller_name("nvme12"));
        assert!(!is_controller_name("nvme-subsys0"));
        assert!(is_namespace_name("nvme0n1") && !is_namespace_name("nvme0c1n1") && !is_namespace_name("nvme0"));
        assert_eq!(path_head("nvme0c1n2").as_deref(), Some("nvme0n2"));
        assert_eq!(path_head("nvme0n1"), None);
    }

    #[test]
    fn usb_disk_transport_and_by_path() {
        let t = Tree::new();
        let dev = "/sys/devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1.4/2-1.4:1.0/host6/target6:0:0/6:0:0:0";
        t.disk("sdb", dev, 62_521_344);
        t.file(&format!("{dev}/vendor"), "SanDisk \n").file(&format!("{dev}/model"), "Ultra Fit       \n");
        t.file(&format!("{dev}/rev"), "1.00\n");
        t.file(&format!("{dev}/vpd_pg80"), page(0x80, b"4C530001230817115094"));
        let (s, errors) = t.collect();
        assert_eq!(errors, vec![]);
        let d = &s.disks[0];
        assert_eq!(d.transport.as_deref(), Some("usb"));
        assert_eq!(d.by_path.as_deref(), Some("pci-0000:00:14.0-usb-0:1.4:1.0-scsi-0:0:0:0"));
        assert_eq!(d.hctl.as_deref(), Some("6:0:0:0"));
        assert_eq!(d.pci_address.as_deref(), Some("0000:00:14.0"));
        assert_eq!((d.vendor.as_deref(), d.model.as_deref()), (Some("SanDisk"), Some("Ultra Fit")));
        assert_eq!((d.serial.as_deref(), d.serial_source), (Some("4C530001230817115094"), Some(Source::VpdPg80)));
        assert_eq!(d.size_bytes, Some(62_521_344 * 512));
        assert_eq!((d.logical_block_bytes, d.physical_block_bytes), (Some(512), Some(4096)));
        assert_eq!((d.rotational, d.removable, d.read_only), (Some(true), Some(false), Some(false)));
    }

    #[test]
    fn sata_disk_by_path_uses_the_port_number_not_the_ata_index() {
        let t = Tree::new();
        // The second AHCI controller's first port: ata7, port_no 1.
        let pci = "/sys/devices/pci0000:00/0000:00:1c.0/0000:02:00.0";
        let dev = format!("{pci}/ata7/host6/target6:0:0/6:0:0:0");
        t.disk("sdc", &dev, 1000);
        t.file(&format!("{pci}/ata7/ata_port/ata7/port_no"), "1\n");
        t.file(&format!("{pci}/ata7/host6/scsi_host/host6/proc_name"), "ahci\n");
        t.file(&format!("{dev}/vendor"), "ATA     \n").file(&format!("{dev}/model"), "KINGSTON SH103S3\n");
        t.file(&format!("{dev}/rev"), "BBF0\n").file(&format!("{dev}/wwid"), "naa.50026b724b09a1ff\n");
        t.file(&format!("{dev}/vpd_pg89"), pg89("50026B724B09A1FF", "580ABBF0", "KINGSTON SH103S3240G"));
        let (s, errors) = t.collect();
        assert_eq!(errors, vec![]);
        let d = &s.disks[0];
        assert_eq!(d.by_path.as_deref(), Some("pci-0000:02:00.0-ata-1.0"));
        assert_eq!(d.transport.as_deref(), Some("sata"));
        assert_eq!(d.model.as_deref(), Some("KINGSTON SH103S3240G"));
        assert_eq!(d.firmware.as_deref(), Some("580ABBF0"));
        assert_eq!(d.vendor.as_deref(), Some("ATA"));
        assert_eq!(d.wwn.as_deref(), Some("0x50026b724b09a1ff"));
    }

    #[test]
    fn ata_port_number_unknown_means_no_by_path() {
        let t = Tree::new();
        t.disk("sda", "/sys/devices/pci0000:00/0000:00:1f.2/ata3/host2/target2:0:0/2:0:0:0", 1000);
        let (s, _) = t.collect();
        assert_eq!(s.disks[0].by_path, None);
        // proc_name unreadable too: libata, but SATA or PATA is not known.
        assert_eq!(s.disks[0].transport.as_deref(), Some("ata"));
    }

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
    fn virtio_scsi_host_is_rebased_on_its_parent() {
        let t = Tree::new();
        let parent = "/sys/devices/pci0000:00/0000:00:04.0/virtio1";
        t.mkdir(&format!("{parent}/host2"));
        t.disk("sdb", &format!("{parent}/host3/target3:0:1/3:0:1:0"), 100);
        let (s, _) = t.collect();
        assert_eq!(s.disks[0].by_path.as_deref(), Some("pci-0000:00:04.0-scsi-1:0:1:0"));
        assert_eq!(s.disks[0].transport.as_deref(), Some("scsi"));
    }

    #[test]
    fn nvme_multipath_namespace_and_its_hidden_paths() {
        let t = Tree::new();
        let ctrl = "/sys/devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0";
        let subsys = "/sys/devices/virtual/nvme-subsystem/nvme-subsys0";
        t.file(&format!("{ctrl}/model"), "Dual Port SSD   \n").file(&format!("{ctrl}/serial"), "S1\n");
        t.file(&format!("{ctrl}/transport"), "pcie\n").file(&format!("{ctrl}/cntlid"), "65\n");
        t.file(&format!("{ctrl}/subsysnqn"), "nqn.2014-08.org.example:ssd\n");
        t.link("/sys/class/nvme/nvme0", ctrl);
        // The path device: hidden, under the controller.
        t.file(&format!("{ctrl}/nvme0c0n1/hidden"), "1\n").file(&format!("{ctrl}/nvme0c0n1/size"), "8\n");
        t.link("/sys/block/nvme0c0n1", &format!("{ctrl}/nvme0c0n1"));
        // The namespace: under the subsystem, which links the controller.
        for (f, v) in [("model", "Dual Port SSD"), ("serial", "S1"), ("firmware_rev", "1.0")] {
            t.file(&format!("{subsys}/{f}"), format!("{v}\n"));
        }
        t.link(&format!("{subsys}/nvme0"), ctrl);
        let head = format!("{subsys}/nvme0n1");
        t.file(&format!("{head}/size"), "2048\n").file(&format!("{head}/nsid"), "1\n");
        t.file(&format!("{head}/wwid"), "eui.36344630526001090025384700000001\n");
        t.file(&format!("{head}/nguid"), "36344630-5260-0109-0025-384700000001\n");
        t.file(&format!("{head}/uuid"), "36344630-5260-0109-0025-384700000001\n");
        t.link(&format!("{head}/device"), subsys);
        t.link("/sys/block/nvme0n1", &head);
        t.link("/sys/class/nvme-subsystem/nvme-subsys0", subsys);

        let (s, errors) = t.collect();
        assert_eq!(errors, vec![]);
        assert_eq!(s.skipped, vec![Skipped { name: "nvme0c0n1".into(), why: "nvme multipath path".into() }]);
        let d = &s.disks[0];
        assert_eq!(d.name, "nvme0n1");
        assert_eq!(d.nvme_controller.as_deref(), Some("nvme0"));
        assert_eq!(d.pci_address.as_deref(), Some("0000:3d:00.0"));
        assert_eq!(d.serial.as_deref(), Some("S1"));
        assert_eq!(d.nguid.as_deref(), Some("36344630526001090025384700000001"));
        // The kernel echoes the NGUID as `uuid` when there is none.
        assert_eq!(d.uuid, None);
        assert_eq!(d.by_path, None);
        let c = &s.nvme_controllers[0];
        assert_eq!(c.namespaces, vec!["nvme0n1".to_owned()]);
        assert_eq!((c.cntlid, c.pci_address.as_deref()), (Some(65), Some("0000:3d:00.0")));
        assert_eq!(c.model.as_deref(), Some("Dual Port SSD"));
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
