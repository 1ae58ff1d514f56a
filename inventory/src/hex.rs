//! Octets as hex text, in one place for the whole crate: MACs, PCIe serial numbers, WWNs, UUIDs.

/// Lower-case hex, two digits an octet, `sep` between octets: `52:54:00:12:34:56` with `":"`,
/// `50026b724b09a1ff` with `""`.
pub(crate) fn octets(b: &[u8], sep: &str) -> String {
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
    Some([time_low, time_mid, time_hi, clock_seq, node].map(|f| octets(f, "")).join("-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octets_with_and_without_a_separator() {
        assert_eq!(octets(&[0x52, 0x54, 0x00, 0x0a], ":"), "52:54:00:0a");
        assert_eq!(octets(&[0x50, 0x02, 0x6b], ""), "50026b");
        assert_eq!(octets(&[], ":"), "");
    }

    #[test]
    fn uuid_is_grouped_8_4_4_4_12_and_all_zeros_or_ones_are_none() {
        let b: [u8; 16] = std::array::from_fn(|i| u8::try_from(i).expect("under 16") * 0x11);
        assert_eq!(uuid(&b).as_deref(), Some("00112233-4455-6677-8899-aabbccddeeff"));
        assert_eq!(uuid(&[0; 16]), None);
        assert_eq!(uuid(&[0xff; 16]), None);
    }
}
