//! SMBIOS tables: the entry points (SMBIOS 3.x specification, section 5.2: the 2.1 `_SM_`
//! 32-bit and the 3.0 `_SM3_` 64-bit forms) and the structures recon reads, decoded with their
//! raw values kept beside them.
//!
//! Structures (DSP0134 3.x, section 7): 0 BIOS, 1 System, 2 Baseboard, 3 Chassis, 4 Processor,
//! 9 System Slots, 16 Physical Memory Array, 17 Memory Device, 38 IPMI Device, 39 System Power
//! Supply, 41 Onboard Devices Extended.
//!
//! Tables from real firmware are often damaged: a structure shorter than its type needs, a
//! string set without its double NUL, a string index past the set. Every read here is bounded;
//! a field the structure is too short for reads as absent, and a table that breaks off ends the
//! walk with a [`TableError`] after the structures that were whole.

use std::fmt;

use crate::octets::{le16, le32, le64};

/// The version an entry point announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    /// Major version.
    pub major: u8,
    /// Minor version.
    pub minor: u8,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// A decoded entry point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryPoint {
    /// The SMBIOS version.
    pub version: Version,
    /// The table's length (2.1: exact; 3.0: a maximum).
    pub table_len: u64,
    /// The table's physical address (what `dmidecode --dump-bin` files rewrite to 0x20).
    pub table_addr: u64,
}

/// Why an entry point or table could not be read in full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableError {
    /// The entry point has neither anchor, or is too short.
    BadEntryPoint,
    /// The entry point's checksum does not add up to 0.
    BadChecksum,
    /// A structure header claims fewer than 4 octets, or runs past the table.
    BadStructure {
        /// Offset of the structure in the table.
        offset: usize,
    },
    /// A structure's strings run past the table with no double NUL.
    UnterminatedStrings {
        /// Offset of the structure in the table.
        offset: usize,
    },
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TableError::BadEntryPoint => f.write_str("not an SMBIOS entry point"),
            TableError::BadChecksum => f.write_str("entry point checksum mismatch"),
            TableError::BadStructure { offset } => write!(f, "broken structure header at table offset {offset}"),
            TableError::UnterminatedStrings { offset } => {
                write!(f, "strings of the structure at table offset {offset} are not terminated")
            }
        }
    }
}

impl std::error::Error for TableError {}

fn sum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |a, &b| a.wrapping_add(b))
}

impl EntryPoint {
    /// Decodes `/sys/firmware/dmi/tables/smbios_entry_point` (or the start of a
    /// `dmidecode --dump-bin` file).
    pub fn parse(b: &[u8]) -> Result<EntryPoint, TableError> {
        if b.starts_with(b"_SM3_") {
            let len = usize::from(*b.get(6).ok_or(TableError::BadEntryPoint)?);
            let eps = b.get(..len.max(0x18)).ok_or(TableError::BadEntryPoint)?;
            if sum(eps.get(..len).unwrap_or(eps)) != 0 {
                return Err(TableError::BadChecksum);
            }
            Ok(EntryPoint {
                version: Version { major: eps[7], minor: eps[8] },
                table_len: u64::from(le32(eps, 0x0c).ok_or(TableError::BadEntryPoint)?),
                table_addr: le64(eps, 0x10).ok_or(TableError::BadEntryPoint)?,
            })
        } else if b.starts_with(b"_SM_") {
            let len = usize::from(*b.get(5).ok_or(TableError::BadEntryPoint)?);
            let eps = b.get(..len.max(0x1f)).ok_or(TableError::BadEntryPoint)?;
            if sum(eps.get(..len).unwrap_or(eps)) != 0 || eps.get(0x10..0x15) != Some(b"_DMI_") {
                return Err(TableError::BadChecksum);
            }
            Ok(EntryPoint {
                version: Version { major: eps[6], minor: eps[7] },
                table_len: u64::from(le16(eps, 0x16).ok_or(TableError::BadEntryPoint)?),
                table_addr: u64::from(le32(eps, 0x18).ok_or(TableError::BadEntryPoint)?),
            })
        } else if b.starts_with(b"_DMI_") {
            // The legacy DMI entry point alone: version from its BCD revision.
            let bcd = *b.get(0x0e).ok_or(TableError::BadEntryPoint)?;
            Ok(EntryPoint {
                version: Version { major: bcd >> 4, minor: bcd & 0x0f },
                table_len: u64::from(le16(b, 0x06).ok_or(TableError::BadEntryPoint)?),
                table_addr: u64::from(le32(b, 0x08).ok_or(TableError::BadEntryPoint)?),
            })
        } else {
            Err(TableError::BadEntryPoint)
        }
    }
}

/// One structure: its formatted area and its strings, borrowed from the table.
#[derive(Clone, Copy)]
pub struct Structure<'a> {
    /// The type.
    pub kind: u8,
    /// The handle.
    pub handle: u16,
    /// The formatted area, header included (offsets in the specification count from here).
    pub data: &'a [u8],
    strings: &'a [u8],
}

impl fmt::Debug for Structure<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Structure")
            .field("kind", &self.kind)
            .field("handle", &self.handle)
            .field("len", &self.data.len())
            .finish()
    }
}

impl<'a> Structure<'a> {
    /// The octet at `offset`, if the structure is long enough.
    pub fn u8(&self, offset: usize) -> Option<u8> {
        self.data.get(offset).copied()
    }

    /// The little-endian word at `offset`.
    pub fn u16(&self, offset: usize) -> Option<u16> {
        le16(self.data, offset)
    }

    /// The little-endian double word at `offset`.
    pub fn u32(&self, offset: usize) -> Option<u32> {
        le32(self.data, offset)
    }

    /// The little-endian quad word at `offset`.
    pub fn u64(&self, offset: usize) -> Option<u64> {
        le64(self.data, offset)
    }

    /// The string the octet at `offset` refers to (1-based; 0 means none), trimmed; `None` for
    /// no string, an index past the set, or only spaces.
    pub fn string(&self, offset: usize) -> Option<String> {
        let index = usize::from(self.u8(offset)?);
        let raw = self.string_at(index)?;
        let text = String::from_utf8_lossy(raw);
        let text = text.trim();
        (!text.is_empty()).then(|| text.to_owned())
    }

    /// The raw octets of string `index` (1-based).
    pub fn string_at(&self, index: usize) -> Option<&'a [u8]> {
        if index == 0 {
            return None;
        }
        self.strings.split(|&b| b == 0).take_while(|s| !s.is_empty()).nth(index - 1)
    }

    /// Every string, in order.
    pub fn strings(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.strings.split(|&b| b == 0).take_while(|s| !s.is_empty())
    }
}

/// Walks a table: the structures up to End-of-Table (type 127) or the table's end, and the error
/// that stopped the walk early, if any.
pub fn structures(table: &[u8]) -> (Vec<Structure<'_>>, Option<TableError>) {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at + 4 <= table.len() {
        let Some(rest) = table.get(at..) else { break };
        let kind = rest[0];
        let len = usize::from(rest[1]);
        let handle = u16::from_le_bytes([rest[2], rest[3]]);
        if len < 4 || len > rest.len() {
            return (out, Some(TableError::BadStructure { offset: at }));
        }
        let (data, after) = rest.split_at(len);
        // The string set ends at the first double NUL (an empty set is two NULs).
        let Some(end) = after.windows(2).position(|w| w == [0, 0]) else {
            return (out, Some(TableError::UnterminatedStrings { offset: at }));
        };
        let strings = &after[..end + 1];
        out.push(Structure { kind, handle, data, strings });
        at += len + end + 2;
        if kind == 127 {
            break;
        }
    }
    (out, None)
}

//--- Decoded structures

/// Whether a string is firmware filler rather than a value: what board vendors ship when the
/// system integrator never filled the field in. Kept in the inventory as read (dmidecode and
/// lshw show them too), but never used as an identity.
pub fn is_placeholder(s: &str) -> bool {
    const FILLERS: &[&str] = &[
        "to be filled by o.e.m.",
        "to be filled by oem",
        "default string",
        "not specified",
        "not applicable",
        "not available",
        "system serial number",
        "system product name",
        "system manufacturer",
        "system version",
        "base board serial number",
        "chassis serial number",
        "0123456789",
        "1234567890",
        "none",
        "n/a",
        "na",
        "unknown",
        "oem",
        "o.e.m.",
        "empty",
        "xxxxxxxxxx",
    ];
    let t = s.trim().to_ascii_lowercase();
    t.is_empty() || FILLERS.contains(&t.as_str()) || t.bytes().all(|b| b == b'0' || b == b'f' || b == b'-' || b == b' ')
}

/// The UUID of type 1, as dmidecode prints it: SMBIOS 2.6 and later store the first three
/// fields little-endian (section 7.2.1); earlier versions are printed as stored. All-zero and
/// all-ones mean "not present" / "not settable".
pub fn uuid(bytes: &[u8], version: Version) -> Option<String> {
    let b: [u8; 16] = bytes.try_into().ok()?;
    let order: [usize; 16] = if version >= (Version { major: 2, minor: 6 }) {
        [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15]
    } else {
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]
    };
    crate::octets::uuid(&order.map(|at| b[at]))
}

/// Type 17's size in bytes: the 16-bit field (bit 15 set: kilobytes, else megabytes), or the
/// 32-bit extended size in megabytes when the field is 0x7fff (section 7.18.5). `None` when
/// unknown (0xffff) or empty (0).
pub fn dimm_size(s: &Structure<'_>) -> Option<u64> {
    match s.u16(0x0c)? {
        0 | 0xffff => None,
        0x7fff => s.u32(0x1c).map(|mb| u64::from(mb & 0x7fff_ffff) << 20).filter(|&b| b > 0),
        v if v & 0x8000 != 0 => Some(u64::from(v & 0x7fff) << 10),
        v => Some(u64::from(v) << 20),
    }
}

/// Type 17's memory type (section 7.18.2), by name.
pub fn memory_type_name(t: u8) -> &'static str {
    match t {
        0x01 => "Other",
        0x02 => "Unknown",
        0x03 => "DRAM",
        0x04 => "EDRAM",
        0x05 => "VRAM",
        0x06 => "SRAM",
        0x07 => "RAM",
        0x08 => "ROM",
        0x09 => "Flash",
        0x0a => "EEPROM",
        0x0b => "FEPROM",
        0x0c => "EPROM",
        0x0d => "CDRAM",
        0x0e => "3DRAM",
        0x0f => "SDRAM",
        0x10 => "SGRAM",
        0x11 => "RDRAM",
        0x12 => "DDR",
        0x13 => "DDR2",
        0x14 => "DDR2 FB-DIMM",
        0x18 => "DDR3",
        0x19 => "FBD2",
        0x1a => "DDR4",
        0x1b => "LPDDR",
        0x1c => "LPDDR2",
        0x1d => "LPDDR3",
        0x1e => "LPDDR4",
        0x1f => "Logical non-volatile device",
        0x20 => "HBM",
        0x21 => "HBM2",
        0x22 => "DDR5",
        0x23 => "LPDDR5",
        0x24 => "HBM3",
        _ => "Unknown",
    }
}

/// Type 3's chassis type (section 7.4.1), by name; bit 7 is the lock flag.
pub fn chassis_type_name(t: u8) -> &'static str {
    match t & 0x7f {
        0x01 => "Other",
        0x03 => "Desktop",
        0x04 => "Low Profile Desktop",
        0x05 => "Pizza Box",
        0x06 => "Mini Tower",
        0x07 => "Tower",
        0x08 => "Portable",
        0x09 => "Laptop",
        0x0a => "Notebook",
        0x0b => "Hand Held",
        0x0c => "Docking Station",
        0x0d => "All in One",
        0x0e => "Sub Notebook",
        0x0f => "Space-saving",
        0x10 => "Lunch Box",
        0x11 => "Main Server Chassis",
        0x12 => "Expansion Chassis",
        0x13 => "SubChassis",
        0x14 => "Bus Expansion Chassis",
        0x15 => "Peripheral Chassis",
        0x16 => "RAID Chassis",
        0x17 => "Rack Mount Chassis",
        0x18 => "Sealed-case PC",
        0x19 => "Multi-system chassis",
        0x1a => "Compact PCI",
        0x1b => "Advanced TCA",
        0x1c => "Blade",
        0x1d => "Blade Enclosure",
        0x1e => "Tablet",
        0x1f => "Convertible",
        0x20 => "Detachable",
        0x21 => "IoT Gateway",
        0x22 => "Embedded PC",
        0x23 => "Mini PC",
        0x24 => "Stick PC",
        _ => "Unknown",
    }
}

/// Type 38's interface type (section 7.39.1).
pub fn ipmi_interface_name(t: u8) -> &'static str {
    match t {
        1 => "KCS",
        2 => "SMIC",
        3 => "BT",
        4 => "SSIF",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_points_of_both_kinds() {
        let mut e3 = vec![0u8; 0x18];
        e3[..5].copy_from_slice(b"_SM3_");
        e3[6] = 0x18;
        e3[7] = 3;
        e3[8] = 2;
        e3[0x0c..0x10].copy_from_slice(&5000u32.to_le_bytes());
        e3[0x10..0x18].copy_from_slice(&0x7fff_0000u64.to_le_bytes());
        e3[5] = 0u8.wrapping_sub(sum(&e3));
        let ep = EntryPoint::parse(&e3).unwrap();
        assert_eq!((ep.version, ep.table_len, ep.table_addr), (Version { major: 3, minor: 2 }, 5000, 0x7fff_0000));
        e3[9] ^= 1;
        assert_eq!(EntryPoint::parse(&e3), Err(TableError::BadChecksum));
        assert_eq!(EntryPoint::parse(b"garbage"), Err(TableError::BadEntryPoint));
        assert_eq!(EntryPoint::parse(b"_SM3_"), Err(TableError::BadEntryPoint));
    }

    #[test]
    fn structures_and_strings_with_damage() {
        // Type 1 with two strings, then type 127.
        let mut t = vec![1u8, 8, 0x34, 0x12, 1, 2, 0, 9];
        t.extend_from_slice(b"Acme\0Rack1\0\0");
        t.extend_from_slice(&[127, 4, 0xff, 0xff, 0, 0]);
        let (s, err) = structures(&t);
        assert_eq!(err, None);
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].kind, s[0].handle), (1, 0x1234));
        assert_eq!(s[0].string(4).as_deref(), Some("Acme"));
        assert_eq!(s[0].string(5).as_deref(), Some("Rack1"));
        assert_eq!(s[0].string(6), None, "index 0: no string");
        assert_eq!(s[0].string(7), None, "index 9: past the set");
        assert_eq!(s[0].u32(5), None, "past the formatted area");
        // Strings without the double NUL: the walk stops with an error after what was whole.
        let (s, err) = structures(&t[..15]);
        assert!(s.is_empty());
        assert_eq!(err, Some(TableError::UnterminatedStrings { offset: 0 }));
        // A length below 4.
        let (_, err) = structures(&[1, 2, 0, 0, 0, 0]);
        assert_eq!(err, Some(TableError::BadStructure { offset: 0 }));
    }

    #[test]
    fn placeholders() {
        assert!(is_placeholder("To Be Filled By O.E.M."));
        assert!(is_placeholder(" Default string "));
        assert!(is_placeholder("00000000"));
        assert!(is_placeholder("FFFFFFFF-FFFF"));
        assert!(!is_placeholder("790H8D2"));
        assert!(!is_placeholder("0123456788"));
    }

    #[test]
    fn uuid_byte_order_follows_the_version() {
        let b = [0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff];
        assert_eq!(uuid(&b, Version { major: 2, minor: 6 }).unwrap(), "00112233-4455-6677-8899-aabbccddeeff");
        assert_eq!(uuid(&b, Version { major: 2, minor: 5 }).unwrap(), "33221100-5544-7766-8899-aabbccddeeff");
        assert_eq!(uuid(&[0; 16], Version { major: 3, minor: 0 }), None);
        assert_eq!(uuid(&[0xff; 16], Version { major: 3, minor: 0 }), None);
    }
}
