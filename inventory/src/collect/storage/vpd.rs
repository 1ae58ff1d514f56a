//! SCSI Vital Product Data pages: unit serial number (0x80) and device identification (0x83),
//! and the header every page shares.

use std::fmt;

use crate::octets;

/// Why a VPD page was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PageError {
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
pub(super) fn vpd_payload(page: &[u8], code: u8) -> Result<&[u8], PageError> {
    let [_, found, hi, lo, rest @ ..] = page else { return Err(PageError::Short) };
    if *found != code {
        return Err(PageError::WrongPage { expected: code, found: *found });
    }
    let declared = usize::from(u16::from_be_bytes([*hi, *lo]));
    rest.get(..declared).ok_or(PageError::Truncated { declared, present: rest.len() })
}

/// Printable ASCII with the space and NUL padding removed; `None` when nothing is left.
pub(super) fn ascii_field(bytes: &[u8]) -> Result<Option<String>, PageError> {
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
pub(super) fn unit_serial(page: &[u8]) -> Result<Option<String>, PageError> {
    ascii_field(vpd_payload(page, 0x80)?)
}

/// The preferred NAA designator with LUN association from VPD page 0x83, Device Identification
/// (SPC-4, 7.8.6), as udev and lsblk print a WWN (`0x5000c500a1b2c3d4`). Preference follows the
/// kernel's `scsi_vpd_lun_id`: IEEE Registered Extended (6), Registered (5), Extended (2), then
/// locally assigned (3).
pub(super) fn naa_designator(page: &[u8]) -> Result<Option<String>, PageError> {
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
    Ok(best.map(|(_, id)| format!("0x{}", octets::hex(id, ""))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::storage::tree::page;

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
}
