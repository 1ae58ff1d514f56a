//! SCSI disks (SATA behind libata, SAS, USB, virtio-scsi, RAID): the `H:C:T:L` address and
//! the identity: INQUIRY strings, ATA IDENTIFY strings, unit serial number, WWN.

use std::fmt;

use super::Reader;
use super::ata::AtaIdentity;
use super::block::set_sysfs_serial;
use super::vpd::{PageError, naa_designator, unit_serial};
use crate::model::{Disk, Source};

/// A SCSI address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Hctl {
    pub(super) host: u32,
    pub(super) channel: u32,
    pub(super) target: u32,
    pub(super) lun: u64,
}

impl Hctl {
    pub(super) fn parse(s: &str) -> Option<Hctl> {
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

/// SCSI: INQUIRY strings, ATA IDENTIFY strings, unit serial number, WWN.
pub(super) fn scsi_identity(r: &mut Reader<'_>, dev: &str, d: &mut Disk) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wwid_forms() {
        assert_eq!(scsi_wwn("naa.50026B724B09A1FF"), Ok(Some("0x50026b724b09a1ff".into())));
        assert_eq!(scsi_wwn("eui.0025385b71b0e3a1"), Ok(Some("eui.0025385b71b0e3a1".into())));
        assert_eq!(scsi_wwn("t10.ATA     WDC WD800JD-00MSA1      WD-WMAM9XE78956"), Ok(None));
        assert_eq!(scsi_wwn("naa.xyz"), Err(PageError::NotHex));
    }
}
