//! What a boot server reads from a PXE, UEFI or iPXE client, and the encapsulated options it
//! sends back.
//!
//! - Client architectures (option 93): [RFC 4578, section 2.1] and the IANA "Processor
//!   Architecture Types" registry (UEFI HTTP boot adds 15, 16, 18, 19).
//! - The vendor class (option 60) `PXEClient:Arch:xxxxx:UNDI:yyyzzz`: PXE 2.1, section 2.4.1;
//!   `HTTPClient:...` for UEFI HTTP boot: UEFI 2.x, section 24.7.
//! - Vendor-specific sub-options (option 43) for `PXEClient`: PXE 2.1, section 2.4.2, table 2-1.
//! - User class (option 77): [RFC 3004], and iPXE's raw `iPXE` value.
//! - Relay agent information (option 82): [RFC 3046, section 2].
//! - iPXE encapsulated options (175): iPXE `include/ipxe/dhcp.h` and `include/ipxe/features.h`.
//!
//! All views here borrow their input and never panic; malformed sub-option lists end the
//! iteration with an [`Error`](super::Error)-free `None` after what was well formed, and
//! [`Suboptions::is_well_formed`] says whether that was all of it.
//!
//! [RFC 4578, section 2.1]: https://www.rfc-editor.org/rfc/rfc4578#section-2.1
//! [RFC 3004]: https://www.rfc-editor.org/rfc/rfc3004
//! [RFC 3046, section 2]: https://www.rfc-editor.org/rfc/rfc3046#section-2

use core::fmt;

use super::error::Error;

//--- Client architecture (option 93)

/// A client system architecture type (option 93). Every value is valid data; the constants name
/// the registered ones a boot server must tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(transparent))]
pub struct ClientArch(pub u16);

impl ClientArch {
    /// 0: x86 BIOS (the classic PXE ROM).
    pub const X86_BIOS: ClientArch = ClientArch(0);
    /// 6: x86 UEFI (IA32).
    pub const EFI_IA32: ClientArch = ClientArch(6);
    /// 7: x64 UEFI (the registry calls it "EFI BC"; x86-64 firmware sends it).
    pub const EFI_X64_BC: ClientArch = ClientArch(7);
    /// 9: x64 UEFI.
    pub const EFI_X64: ClientArch = ClientArch(9);
    /// 10: ARM 32-bit UEFI.
    pub const EFI_ARM32: ClientArch = ClientArch(10);
    /// 11: ARM 64-bit UEFI.
    pub const EFI_ARM64: ClientArch = ClientArch(11);
    /// 15: x86 UEFI HTTP boot.
    pub const HTTP_IA32: ClientArch = ClientArch(15);
    /// 16: x64 UEFI HTTP boot.
    pub const HTTP_X64: ClientArch = ClientArch(16);
    /// 18: ARM 32-bit UEFI HTTP boot.
    pub const HTTP_ARM32: ClientArch = ClientArch(18);
    /// 19: ARM 64-bit UEFI HTTP boot.
    pub const HTTP_ARM64: ClientArch = ClientArch(19);

    /// Whether the firmware is UEFI (PXE or HTTP boot).
    pub const fn is_uefi(self) -> bool {
        matches!(self.0, 6 | 7 | 9 | 10 | 11 | 15 | 16 | 18 | 19)
    }

    /// Whether this is UEFI HTTP boot: the client wants a URL in `file` and option 60
    /// `HTTPClient` in the reply.
    pub const fn is_http(self) -> bool {
        matches!(self.0, 15 | 16 | 18 | 19)
    }

    /// The registry's name, or `None`.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "x86 BIOS",
            1 => "NEC/PC98",
            2 => "Itanium",
            3 => "DEC Alpha",
            4 => "Arc x86",
            5 => "Intel Lean Client",
            6 => "x86 UEFI",
            7 => "x64 UEFI",
            8 => "EFI Xscale",
            9 => "x64 UEFI",
            10 => "ARM 32-bit UEFI",
            11 => "ARM 64-bit UEFI",
            15 => "x86 UEFI HTTP",
            16 => "x64 UEFI HTTP",
            18 => "ARM 32-bit UEFI HTTP",
            19 => "ARM 64-bit UEFI HTTP",
            _ => return None,
        })
    }
}

impl fmt::Display for ClientArch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n} ({})", self.0),
            None => write!(f, "unknown ({})", self.0),
        }
    }
}

//--- Vendor class (option 60)

/// Which boot class a vendor class identifier names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BootClass {
    /// `PXEClient`: a PXE ROM or UEFI PXE.
    PxeClient,
    /// `HTTPClient`: UEFI HTTP boot.
    HttpClient,
    /// Anything else (`udhcp 1.36.1`, `MSFT 5.0`, ...).
    Other,
}

/// Option 60 read for the boot classes: `PXEClient:Arch:00007:UNDI:003016` is class PXE,
/// architecture 7, UNDI 3.16. The class is found at once; [`VendorClass::arch`] and
/// [`VendorClass::undi`] read their fields when asked, and are `None` when the client left them
/// out or wrote them wrong. Nothing here fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VendorClass<'a> {
    /// The raw value.
    pub raw: &'a [u8],
    /// The boot class named by the prefix.
    pub class: BootClass,
}

impl<'a> VendorClass<'a> {
    /// Reads the class of option 60's value.
    pub fn parse(raw: &'a [u8]) -> VendorClass<'a> {
        let class = if raw.starts_with(b"PXEClient") {
            BootClass::PxeClient
        } else if raw.starts_with(b"HTTPClient") {
            BootClass::HttpClient
        } else {
            BootClass::Other
        };
        VendorClass { raw, class }
    }

    /// The value of the `key` field (`Arch`, `UNDI`) after the class name.
    fn field(&self, key: &[u8]) -> Option<&'a [u8]> {
        if self.class == BootClass::Other {
            return None;
        }
        let mut fields = self.raw.split(|&b| b == b':').skip(1);
        while let Some(k) = fields.next() {
            let value = fields.next()?;
            if k == key {
                return Some(value);
            }
        }
        None
    }

    /// The `Arch:` field: five decimal digits.
    pub fn arch(&self) -> Option<ClientArch> {
        let v = self.field(b"Arch").filter(|v| v.len() == 5)?;
        decimal(v).and_then(|v| u16::try_from(v).ok()).map(ClientArch)
    }

    /// The `UNDI:` field: three digits of major version, three of minor.
    pub fn undi(&self) -> Option<(u16, u16)> {
        let v = self.field(b"UNDI").filter(|v| v.len() == 6)?;
        let (major, minor) = v.split_at_checked(3)?;
        Some((u16::try_from(decimal(major)?).ok()?, u16::try_from(decimal(minor)?).ok()?))
    }
}

/// A short run of decimal digits, or `None`.
fn decimal(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || digits.len() > 9 {
        return None;
    }
    let mut value = 0u32;
    for &d in digits {
        let digit = d.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        value = value * 10 + u32::from(digit);
    }
    Some(value)
}

//--- User class (option 77)

/// Option 77. [RFC 3004] encodes it as length-prefixed instances; iPXE and many others send one
/// raw string instead. [`UserClass::instances`] yields the RFC 3004 instances when the length
/// octets add up exactly, and the whole value as one instance otherwise.
///
/// [RFC 3004]: https://www.rfc-editor.org/rfc/rfc3004
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserClass<'a>(&'a [u8]);

impl<'a> UserClass<'a> {
    /// Views the value of option 77.
    pub fn new(raw: &'a [u8]) -> UserClass<'a> {
        UserClass(raw)
    }

    /// The raw value.
    pub fn raw(&self) -> &'a [u8] {
        self.0
    }

    /// Whether the value is a well-formed RFC 3004 instance list (each length octet non-zero,
    /// the instances filling the value exactly).
    pub fn is_rfc3004(&self) -> bool {
        let mut rest = self.0;
        while let Some((&len, tail)) = rest.split_first() {
            if len == 0 || tail.len() < usize::from(len) {
                return false;
            }
            rest = tail.get(usize::from(len)..).unwrap_or(&[]);
        }
        !self.0.is_empty()
    }

    /// The user class instances.
    pub fn instances(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let rfc = self.is_rfc3004();
        let mut rest = self.0;
        let mut raw_done = false;
        core::iter::from_fn(move || {
            if !rfc {
                if raw_done {
                    return None;
                }
                raw_done = true;
                return Some(rest);
            }
            let (&len, tail) = rest.split_first()?;
            let (item, after) = tail.split_at_checked(usize::from(len))?;
            rest = after;
            Some(item)
        })
    }

    /// Whether one instance equals `class`.
    pub fn contains(&self, class: &[u8]) -> bool {
        self.instances().any(|i| i == class)
    }
}

//--- Encapsulated sub-options (43, 82, 175)

/// Encapsulated sub-options (code, length, value), as options 43, 82 and 175 carry them
/// ([RFC 2132, section 8.4]). Pad (0) is skipped and End (255) stops the list, as PXE 2.1 and
/// iPXE use them; the iteration also stops at the first sub-option that runs past the end.
///
/// [RFC 2132, section 8.4]: https://www.rfc-editor.org/rfc/rfc2132#section-8.4
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suboptions<'a> {
    rest: &'a [u8],
    pad_end: bool,
}

impl<'a> Suboptions<'a> {
    /// Sub-options with Pad and End (options 43 and 175).
    pub fn new(data: &'a [u8]) -> Suboptions<'a> {
        Suboptions { rest: data, pad_end: true }
    }

    /// Sub-options where 0 and 255 are ordinary codes (option 82, [RFC 3046]).
    ///
    /// [RFC 3046]: https://www.rfc-editor.org/rfc/rfc3046
    pub fn without_pad_end(data: &'a [u8]) -> Suboptions<'a> {
        Suboptions { rest: data, pad_end: false }
    }

    /// Whether every octet belongs to a whole sub-option (or to padding, or follows End).
    pub fn is_well_formed(&self) -> bool {
        let mut it = *self;
        for _ in it.by_ref() {}
        it.rest.is_empty()
    }

    /// The value of the first sub-option with `code`.
    pub fn find(&self, code: u8) -> Option<&'a [u8]> {
        let mut it = *self;
        it.find_map(|(c, v)| (c == code).then_some(v))
    }
}

impl<'a> Iterator for Suboptions<'a> {
    type Item = (u8, &'a [u8]);

    fn next(&mut self) -> Option<(u8, &'a [u8])> {
        loop {
            let (&code, tail) = self.rest.split_first()?;
            if self.pad_end && code == 0 {
                self.rest = tail;
                continue;
            }
            if self.pad_end && code == 255 {
                self.rest = &[];
                return None;
            }
            let (&len, tail) = tail.split_first()?;
            let (value, after) = tail.split_at_checked(usize::from(len))?;
            self.rest = after;
            return Some((code, value));
        }
    }
}

/// Writes encapsulated sub-options into a caller's buffer, for the value of option 43 or 175.
pub struct SuboptionWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> SuboptionWriter<'b> {
    /// Starts writing at the beginning of `buf`.
    pub fn new(buf: &'b mut [u8]) -> SuboptionWriter<'b> {
        SuboptionWriter { buf, len: 0 }
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let end = self.len + bytes.len();
        let have = self.buf.len();
        self.buf.get_mut(self.len..end).ok_or(Error::BufferTooSmall { need: end, have })?.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    /// Appends one sub-option; a value longer than 255 octets is [`Error::TooLong`].
    pub fn push(&mut self, code: u8, value: &[u8]) -> Result<&mut Self, Error> {
        let len = u8::try_from(value.len()).map_err(|_| Error::TooLong { need: value.len(), max: 255 })?;
        self.put(&[code, len])?;
        self.put(value)?;
        Ok(self)
    }

    /// Appends End (255) and returns the written octets.
    pub fn finish(mut self) -> Result<&'b [u8], Error> {
        self.put(&[255])?;
        let SuboptionWriter { buf, len } = self;
        Ok(buf.get(..len).unwrap_or(&[]))
    }
}

/// PXE 2.1 vendor options in option 43 (section 2.4.2, table 2-1).
pub mod vendor {
    /// 6, PXE_DISCOVERY_CONTROL: bit 3 set means "boot the file in `file` at once, skip boot
    /// server discovery", which is what a boot server answering with a boot file wants.
    pub const DISCOVERY_CONTROL: u8 = 6;
    /// Discovery control bits: 0 no broadcast, 1 no multicast, 2 only listed servers, 3 use the
    /// boot file name.
    pub const DISCOVERY_USE_BOOTFILE: u8 = 1 << 3;
    /// 8, PXE_BOOT_SERVERS.
    pub const BOOT_SERVERS: u8 = 8;
    /// 9, PXE_BOOT_MENU.
    pub const BOOT_MENU: u8 = 9;
    /// 10, PXE_MENU_PROMPT.
    pub const MENU_PROMPT: u8 = 10;
    /// 71, PXE_BOOT_ITEM.
    pub const BOOT_ITEM: u8 = 71;
}

//--- Relay agent information (option 82)

/// Option 82 ([RFC 3046, section 2]): sub-options 1 (circuit id) and 2 (remote id), and any
/// others, in order. A server echoes the whole option in its reply.
///
/// [RFC 3046, section 2]: https://www.rfc-editor.org/rfc/rfc3046#section-2
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayAgentInfo<'a>(&'a [u8]);

impl<'a> RelayAgentInfo<'a> {
    /// Views the value of option 82.
    pub fn new(raw: &'a [u8]) -> RelayAgentInfo<'a> {
        RelayAgentInfo(raw)
    }

    /// The raw value, to echo.
    pub fn raw(&self) -> &'a [u8] {
        self.0
    }

    /// Every sub-option.
    pub fn suboptions(&self) -> Suboptions<'a> {
        Suboptions::without_pad_end(self.0)
    }

    /// Sub-option 1, the agent circuit id (often the switch port).
    pub fn circuit_id(&self) -> Option<&'a [u8]> {
        self.suboptions().find(1)
    }

    /// Sub-option 2, the agent remote id.
    pub fn remote_id(&self) -> Option<&'a [u8]> {
        self.suboptions().find(2)
    }
}

//--- iPXE (option 175)

/// iPXE's encapsulated options (175): mostly feature flags, one sub-option per built-in
/// feature, plus version and bus id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpxeOptions<'a>(&'a [u8]);

impl<'a> IpxeOptions<'a> {
    /// Views the value of option 175.
    pub fn new(raw: &'a [u8]) -> IpxeOptions<'a> {
        IpxeOptions(raw)
    }

    /// Every sub-option.
    pub fn suboptions(&self) -> Suboptions<'a> {
        Suboptions::new(self.0)
    }

    /// Whether iPXE reports the feature `code` (one of [`ipxe`] constants).
    pub fn has(&self, code: u8) -> bool {
        self.suboptions().any(|(c, v)| c == code && v.first().is_some_and(|&b| b != 0))
    }

    /// The version sub-option (235): major, minor, patch.
    pub fn version(&self) -> Option<(u8, u8, u8)> {
        match self.suboptions().find(ipxe::VERSION)? {
            [a, b, c, ..] => Some((*a, *b, *c)),
            _ => None,
        }
    }
}

/// iPXE sub-option codes in option 175 (`include/ipxe/dhcp.h`, `include/ipxe/features.h`).
pub mod ipxe {
    /// 1, boot priority.
    pub const PRIORITY: u8 = 0x01;
    /// 8, keep the SAN device after boot.
    pub const KEEP_SAN: u8 = 0x08;
    /// 16, PXE API extensions.
    pub const FEATURE_PXE_EXT: u8 = 0x10;
    /// 17, iSCSI.
    pub const FEATURE_ISCSI: u8 = 0x11;
    /// 18, AoE.
    pub const FEATURE_AOE: u8 = 0x12;
    /// 19, HTTP.
    pub const FEATURE_HTTP: u8 = 0x13;
    /// 20, HTTPS.
    pub const FEATURE_HTTPS: u8 = 0x14;
    /// 21, TFTP.
    pub const FEATURE_TFTP: u8 = 0x15;
    /// 22, FTP.
    pub const FEATURE_FTP: u8 = 0x16;
    /// 23, DNS.
    pub const FEATURE_DNS: u8 = 0x17;
    /// 24, bzImage (Linux kernels).
    pub const FEATURE_BZIMAGE: u8 = 0x18;
    /// 25, Multiboot.
    pub const FEATURE_MULTIBOOT: u8 = 0x19;
    /// 33, PXE images.
    pub const FEATURE_PXE: u8 = 0x21;
    /// 34, ELF images.
    pub const FEATURE_ELF: u8 = 0x22;
    /// 36, EFI images.
    pub const FEATURE_EFI: u8 = 0x24;
    /// 38, VLAN.
    pub const FEATURE_VLAN: u8 = 0x26;
    /// 39, menus.
    pub const FEATURE_MENU: u8 = 0x27;
    /// 177, bus id of the boot NIC.
    pub const BUS_ID: u8 = 0xb1;
    /// 235, iPXE version: major, minor, patch.
    pub const VERSION: u8 = 0xeb;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;
    use std::vec::Vec;

    #[test]
    fn vendor_class_reads_pxe_and_http_clients() {
        let v = VendorClass::parse(b"PXEClient:Arch:00007:UNDI:003016");
        assert_eq!((v.class, v.arch(), v.undi()), (BootClass::PxeClient, Some(ClientArch::EFI_X64_BC), Some((3, 16))));
        let v = VendorClass::parse(b"HTTPClient:Arch:00016:UNDI:003001");
        assert_eq!((v.class, v.arch()), (BootClass::HttpClient, Some(ClientArch::HTTP_X64)));
        assert!(v.arch().unwrap().is_http());
        // Pixiecore's and dnsmasq's replies carry the bare class.
        let v = VendorClass::parse(b"PXEClient");
        assert_eq!((v.class, v.arch(), v.undi()), (BootClass::PxeClient, None, None));
        // Malformed fields are left out, never an error.
        let v = VendorClass::parse(b"PXEClient:Arch:7:UNDI:00x016:extra");
        assert_eq!((v.arch(), v.undi()), (None, None));
        assert_eq!(VendorClass::parse(b"udhcp 1.35.0").class, BootClass::Other);
    }

    #[test]
    fn user_class_is_rfc_3004_only_when_lengths_add_up() {
        let rfc = UserClass::new(b"\x04iPXE\x03abc");
        assert!(rfc.is_rfc3004());
        assert_eq!(rfc.instances().collect::<Vec<_>>(), [&b"iPXE"[..], b"abc"]);
        assert!(rfc.contains(b"iPXE"));
        // iPXE itself sends the raw string.
        let raw = UserClass::new(b"iPXE");
        assert!(!raw.is_rfc3004());
        assert_eq!(raw.instances().collect::<Vec<_>>(), [&b"iPXE"[..]]);
        assert!(!UserClass::new(b"\x05iPXE").is_rfc3004());
        assert!(!UserClass::new(b"\x00").is_rfc3004());
    }

    #[test]
    fn suboptions_skip_pad_stop_at_end_and_at_truncation() {
        let s = Suboptions::new(&[0, 6, 1, 8, 0, 71, 4, 0x80, 0, 0, 0, 255, 9, 9]);
        assert_eq!(s.collect::<Vec<_>>(), [(6, &[8][..]), (71, &[0x80, 0, 0, 0][..])]);
        assert!(s.is_well_formed());
        let bad = Suboptions::new(&[6, 1, 8, 9, 5, 1]);
        assert_eq!(bad.collect::<Vec<_>>(), [(6, &[8][..])]);
        assert!(!bad.is_well_formed());
        // Option 82 has no Pad or End: 0 and 255 are codes there.
        let r = RelayAgentInfo::new(&[1, 2, b'p', b'1', 2, 3, 0xaa, 0xbb, 0xcc, 255, 0]);
        assert_eq!(r.circuit_id(), Some(&b"p1"[..]));
        assert_eq!(r.remote_id(), Some(&[0xaa, 0xbb, 0xcc][..]));
        assert_eq!(r.suboptions().count(), 3);
    }

    #[test]
    fn ipxe_features_and_version() {
        let x = IpxeOptions::new(&[ipxe::VERSION, 3, 1, 21, 1, ipxe::FEATURE_HTTP, 1, 1, ipxe::FEATURE_HTTPS, 1, 0]);
        assert_eq!(x.version(), Some((1, 21, 1)));
        assert!(x.has(ipxe::FEATURE_HTTP));
        assert!(!x.has(ipxe::FEATURE_HTTPS));
        assert!(!x.has(ipxe::FEATURE_ISCSI));
    }

    #[test]
    fn suboption_writer_builds_pxe_vendor_options() {
        let mut buf = [0u8; 8];
        let mut w = SuboptionWriter::new(&mut buf);
        w.push(vendor::DISCOVERY_CONTROL, &[vendor::DISCOVERY_USE_BOOTFILE]).unwrap();
        assert_eq!(w.finish().unwrap(), &[6, 1, 8, 255]);
        let mut tiny = [0u8; 3];
        let mut w = SuboptionWriter::new(&mut tiny);
        assert!(w.push(6, &[8]).is_ok());
        assert_eq!(w.finish().err(), Some(Error::BufferTooSmall { need: 4, have: 3 }));
    }

    #[test]
    fn arch_classes() {
        assert!(!ClientArch::X86_BIOS.is_uefi());
        for a in [6, 7, 9, 10, 11] {
            assert!(ClientArch(a).is_uefi() && !ClientArch(a).is_http());
        }
        for a in [15, 16, 18, 19] {
            assert!(ClientArch(a).is_uefi() && ClientArch(a).is_http());
        }
        assert_eq!(ClientArch(99).to_string(), "unknown (99)");
    }
}
