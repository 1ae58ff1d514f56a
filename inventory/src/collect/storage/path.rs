//! Transport and by-path: what the resolved device path says about the bus a disk hangs off.
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

use super::scsi::Hctl;
use super::{Kind, Reader, components};
use crate::collect::{is_number, is_pci_address};

/// Where in the path the SCSI host sits (`host3`).
fn host_index(comps: &[&str]) -> Option<usize> {
    comps.iter().position(|c| c.strip_prefix("host").is_some_and(is_number))
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

pub(super) fn transport(r: &mut Reader<'_>, devpath: &str, scsi_dev: &str, kind: &Kind) -> Option<String> {
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

pub(super) fn by_path(r: &mut Reader<'_>, block: &str, kind: &Kind) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use crate::collect::storage::tree::{Tree, page, pg89};
    use crate::model::Source;

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
    fn virtio_scsi_host_is_rebased_on_its_parent() {
        let t = Tree::new();
        let parent = "/sys/devices/pci0000:00/0000:00:04.0/virtio1";
        t.mkdir(&format!("{parent}/host2"));
        t.disk("sdb", &format!("{parent}/host3/target3:0:1/3:0:1:0"), 100);
        let (s, _) = t.collect();
        assert_eq!(s.disks[0].by_path.as_deref(), Some("pci-0000:00:04.0-scsi-1:0:1:0"));
        assert_eq!(s.disks[0].transport.as_deref(), Some("scsi"));
    }
}
