//! The Ethernet address (EUI-48, [IEEE 802] section 8): the one type every part of recon parses
//! and prints MACs with.
//!
//! Printed in lower case with colons (`52:54:00:12:34:56`, as `ip link` and the kernel's
//! `/sys/class/net/*/address` write it), or with dashes ([`Mac::dashed`], as pxelinux's and
//! iPXE's `BOOTIF=01-52-54-00-12-34-56` and recon's node directories write it). Parsing takes
//! either separator in either case, and nothing else: six groups of exactly two hex digits.
//!
//! [IEEE 802]: https://standards.ieee.org/ieee/802/993/

use core::fmt;
use core::str::FromStr;

/// An Ethernet (EUI-48) address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Mac(pub [u8; 6]);

/// Why a text is not a MAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacParseError;

impl fmt::Display for MacParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a MAC address (six two-digit hex groups separated by ':' or '-')")
    }
}

impl Mac {
    /// The six octets.
    pub const fn octets(self) -> [u8; 6] {
        self.0
    }

    /// Parses `aa:bb:cc:dd:ee:ff` or `aa-bb-cc-dd-ee-ff`, any case; one separator throughout.
    pub fn parse(s: &str) -> Option<Mac> {
        let b = s.as_bytes();
        if b.len() != 17 {
            return None;
        }
        let sep = *b.get(2)?;
        if sep != b':' && sep != b'-' {
            return None;
        }
        let mut out = [0u8; 6];
        for (i, o) in out.iter_mut().enumerate() {
            let at = 3 * i;
            if i > 0 && b.get(at - 1) != Some(&sep) {
                return None;
            }
            *o = hex_digit(*b.get(at)?)? << 4 | hex_digit(*b.get(at + 1)?)?;
        }
        Some(Mac(out))
    }

    /// The address with dashes: `52-54-00-12-34-56`.
    pub const fn dashed(self) -> Dashed {
        Dashed(self)
    }

    /// Whether the group bit is set (a multicast or broadcast address, never a NIC's own).
    pub const fn is_multicast(self) -> bool {
        self.0[0] & 1 == 1
    }

    /// All zeros or all ones: no station's address.
    pub fn is_unset(self) -> bool {
        self.0 == [0; 6] || self.0 == [0xff; 6]
    }

    fn write(self, f: &mut fmt::Formatter<'_>, sep: char) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                fmt::Write::write_char(f, sep)?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl From<[u8; 6]> for Mac {
    fn from(b: [u8; 6]) -> Mac {
        Mac(b)
    }
}

impl FromStr for Mac {
    type Err = MacParseError;

    fn from_str(s: &str) -> Result<Mac, MacParseError> {
        Mac::parse(s).ok_or(MacParseError)
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, ':')
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, ':')
    }
}

/// [`Mac::dashed`]'s display.
#[derive(Clone, Copy)]
pub struct Dashed(Mac);

impl fmt::Display for Dashed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.write(f, '-')
    }
}

#[cfg(feature = "serde")]
mod serde_impl {
    use super::Mac;
    use core::fmt;

    impl serde::Serialize for Mac {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_str(self)
        }
    }

    impl<'de> serde::Deserialize<'de> for Mac {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Mac, D::Error> {
            struct V;
            impl serde::de::Visitor<'_> for V {
                type Value = Mac;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a MAC address like 52:54:00:12:34:56")
                }
                fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Mac, E> {
                    Mac::parse(v).ok_or_else(|| E::invalid_value(serde::de::Unexpected::Str(v), &self))
                }
            }
            d.deserialize_str(V)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;
    use std::string::ToString;

    #[test]
    fn parses_both_separators_in_any_case_and_prints_lower_case() {
        let m = Mac([0x52, 0x54, 0x00, 0xab, 0xcd, 0x01]);
        assert_eq!(Mac::parse("52:54:00:AB:cd:01"), Some(m));
        assert_eq!(Mac::parse("52-54-00-ab-CD-01"), Some(m));
        assert_eq!(m.to_string(), "52:54:00:ab:cd:01");
        assert_eq!(m.dashed().to_string(), "52-54-00-ab-cd-01");
        assert_eq!(format!("{m:?}"), "52:54:00:ab:cd:01");
        assert_eq!("52:54:00:ab:cd:01".parse::<Mac>(), Ok(m));
    }

    #[test]
    fn refuses_what_is_not_six_two_digit_groups() {
        for bad in [
            "",
            "52:54:00:ab:cd",
            "52:54:00:ab:cd:01:02",
            "52:54-00:ab:cd:01",
            "5:54:00:ab:cd:011",
            "52:54:00:ab:cd:0g",
            "525400abcd01",
            "../../etc/passwd",
            "52 54 00 ab cd 01",
            "+2:54:00:ab:cd:01",
        ] {
            assert_eq!(Mac::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn group_and_unset_addresses() {
        assert!(Mac([0xff; 6]).is_multicast() && Mac([0xff; 6]).is_unset());
        assert!(Mac([0; 6]).is_unset());
        assert!(!Mac([0x52, 0x54, 0, 0, 0, 1]).is_multicast());
    }
}
