//! Octets, in one place for the whole crate: as hex text (MACs, PCIe serial numbers, WWNs,
//! UUIDs), and little-endian numbers read out of them (SMBIOS, PCI configuration space).

/// Lower-case hex, two digits an octet, `sep` between octets: `52:54:00:12:34:56` with `":"`,
/// `50026b724b09a1ff` with `""`.
pub(crate) fn hex(b: &[u8], sep: &str) -> String {
    let mut s = String::with_capacity(b.len() * (2 + sep.len()));
    for (i, x) in b.iter().enumerate() {
        if i > 0 {
            s.push_str(sep);
        }
        s.push_str(&format!("{x:02x}"));
    }
    s
}

/// The canonical text of a UUID, `8-4-4-4-12` hex digits (RFC 9562, section 4), of 16 octets
/// already in that order: callers undo their source's byte order first. `None` for all zeros
/// and all ones, which mean no UUID (SMBIOS section 7.2.1: not present, not settable; a BMC's
/// GUID the same).
pub(crate) fn uuid(b: &[u8; 16]) -> Option<String> {
    if b.iter().all(|&x| x == 0) || b.iter().all(|&x| x == 0xff) {
        return None;
    }
    let (time_low, rest) = b.split_at(4);
    let (time_mid, rest) = rest.split_at(2);
    let (time_hi, rest) = rest.split_at(2);
    let (clock_seq, node) = rest.split_at(2);
    Some([time_low, time_mid, time_hi, clock_seq, node].map(|f| hex(f, "")).join("-"))
}

/// The little-endian `u16` at `at`, `None` past the end.
pub(crate) fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// The little-endian `u32` at `at`, `None` past the end.
pub(crate) fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The little-endian `u64` at `at`, `None` past the end.
pub(crate) fn le64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_with_and_without_a_separator() {
        assert_eq!(hex(&[0x52, 0x54, 0x00, 0x0a], ":"), "52:54:00:0a");
        assert_eq!(hex(&[0x50, 0x02, 0x6b], ""), "50026b");
        assert_eq!(hex(&[], ":"), "");
    }

    #[test]
    fn uuid_is_grouped_8_4_4_4_12_and_all_zeros_or_ones_are_none() {
        let b: [u8; 16] = std::array::from_fn(|i| u8::try_from(i).expect("under 16") * 0x11);
        assert_eq!(uuid(&b).as_deref(), Some("00112233-4455-6677-8899-aabbccddeeff"));
        assert_eq!(uuid(&[0; 16]), None);
        assert_eq!(uuid(&[0xff; 16]), None);
    }
}
