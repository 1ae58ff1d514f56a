//! ATA IDENTIFY data, as SAT puts it in VPD page 0x89: the full model and firmware strings.

use super::vpd::{PageError, ascii_field, vpd_payload};

/// Model and firmware from the ATA IDENTIFY (PACKET) DEVICE data that SAT puts in VPD page
/// 0x89, ATA Information (SAT-3, 12.4.2): 56 bytes of SAT header, then 512 bytes of IDENTIFY.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct AtaIdentity {
    pub(super) model: Option<String>,
    pub(super) firmware: Option<String>,
}

impl AtaIdentity {
    pub(super) fn from_vpd(page: &[u8]) -> Result<AtaIdentity, PageError> {
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
    use crate::collect::storage::tree::pg89;

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
}
