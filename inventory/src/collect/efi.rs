//! Boot mode and the UEFI variables that say how this boot happened.
//!
//! efivarfs files are the variable's 4-octet attributes followed by its data (kernel
//! Documentation/filesystems/efivarfs.rst). Variables read, all in the EFI global variable
//! namespace (UEFI 2.10, section 3.3): `SecureBoot` and `SetupMode` (one octet each),
//! `BootCurrent` (UINT16), `BootOrder` (UINT16 array), and `Boot####` (an EFI_LOAD_OPTION, 3.1.3:
//! attributes UINT32, path list length UINT16, then the NUL-terminated UCS-2 description).

use super::Reader;
use crate::model::{BootMode, Firmware};

const GLOBAL: &str = "8be4df61-93ca-11d2-aa0d-00e098032b8c";
const VARS: &str = "/sys/firmware/efi/efivars";

pub(super) fn collect(r: &mut Reader<'_>, fw: &mut Firmware) {
    if r.exists("/sys/firmware/efi") {
        fw.boot_mode = Some(BootMode::Uefi);
    } else if r.exists("/sys/firmware") {
        fw.boot_mode = Some(BootMode::Bios);
        return;
    } else {
        // A tree without /sys/firmware says nothing either way.
        return;
    }
    fw.secure_boot = var(r, "SecureBoot").and_then(|d| d.first().map(|&b| b == 1));
    fw.setup_mode = var(r, "SetupMode").and_then(|d| d.first().map(|&b| b == 1));
    fw.boot_current = var(r, "BootCurrent").and_then(|d| le16s(&d).first().copied());
    fw.boot_order = var(r, "BootOrder").map(|d| le16s(&d)).unwrap_or_default();
    if let Some(n) = fw.boot_current {
        fw.boot_current_name = var(r, &format!("Boot{n:04X}")).and_then(|d| load_option_description(&d));
    }
}

/// A variable's data, attributes stripped.
fn var(r: &mut Reader<'_>, name: &str) -> Option<Vec<u8>> {
    let path = format!("{VARS}/{name}-{GLOBAL}");
    let raw = r.opt_bytes(&path)?;
    match raw.get(4..) {
        Some(d) => Some(d.to_vec()),
        None => {
            r.problem(&path, "shorter than its attributes");
            None
        }
    }
}

fn le16s(d: &[u8]) -> Vec<u16> {
    d.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect()
}

/// The description of an EFI_LOAD_OPTION: UCS-2 from offset 6 up to a NUL character.
pub(crate) fn load_option_description(d: &[u8]) -> Option<String> {
    let units: Vec<u16> = le16s(d.get(6..)?).into_iter().take_while(|&u| u != 0).collect();
    let text = String::from_utf16_lossy(&units);
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_option_descriptions() {
        let mut d = vec![1, 0, 0, 0, 0x2c, 0];
        for u in "UEFI PXEv4 (MAC:525400123456)".encode_utf16() {
            d.extend_from_slice(&u.to_le_bytes());
        }
        d.extend_from_slice(&[0, 0, 0x02, 0x01, 0x0c, 0x00]);
        assert_eq!(load_option_description(&d).as_deref(), Some("UEFI PXEv4 (MAC:525400123456)"));
        assert_eq!(load_option_description(&d[..5]), None);
        assert_eq!(load_option_description(&[0, 0, 0, 0, 0, 0, 0, 0]), None);
    }
}
