//! Reading packet captures: the classic pcap format and pcapng, as tcpdump and Wireshark write
//! them, down to the UDP payloads inside.
//!
//! Formats: pcap as in `draft-ietf-opsawg-pcap` (section 4 file header, section 5 records);
//! pcapng as in `draft-ietf-opsawg-pcapng` (section 4.1 SHB, 4.2 IDB, 4.3 EPB, 4.4 SPB; other
//! blocks are skipped). Link layers: Ethernet II with 802.1Q tags (`LINKTYPE_ETHERNET`),
//! Linux cooked v1 and v2 (`LINKTYPE_LINUX_SLL`, `LINKTYPE_LINUX_SLL2`), raw IPv4
//! (`LINKTYPE_RAW`, `LINKTYPE_IPV4`) and BSD loopback (`LINKTYPE_NULL`); then IPv4
//! ([RFC 791, section 3.1]) and UDP ([RFC 768]).
//!
//! Contract: no function here panics or allocates. A malformed file ends the frame iteration
//! with one [`CaptureError`]; a frame that is not IPv4/UDP, or is a later IP fragment, simply
//! has no [`Frame::udp`].
//!
//! [RFC 791, section 3.1]: https://www.rfc-editor.org/rfc/rfc791#section-3.1
//! [RFC 768]: https://www.rfc-editor.org/rfc/rfc768

use core::fmt;
use core::net::{Ipv4Addr, SocketAddrV4};

/// Why a capture file could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CaptureError {
    /// The first four octets are neither a pcap nor a pcapng magic number.
    UnknownFormat {
        /// The octets found.
        magic: [u8; 4],
    },
    /// The file ends inside a header, record or block.
    Truncated {
        /// Offset of the header, record or block.
        offset: usize,
    },
    /// A pcapng block has a length that is too small, not a multiple of 4, or disagrees with its
    /// trailing copy.
    BadBlock {
        /// Offset of the block.
        offset: usize,
        /// Its length field.
        len: u32,
    },
    /// A pcapng packet refers to an interface no Interface Description Block declared.
    UnknownInterface {
        /// Offset of the block.
        offset: usize,
        /// The interface id.
        id: u32,
    },
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CaptureError::UnknownFormat { magic } => write!(f, "not a pcap or pcapng file (magic {magic:02x?})"),
            CaptureError::Truncated { offset } => write!(f, "file truncated in the record at offset {offset}"),
            CaptureError::BadBlock { offset, len } => write!(f, "bad pcapng block length {len} at offset {offset}"),
            CaptureError::UnknownInterface { offset, id } => {
                write!(f, "pcapng packet at offset {offset} names undeclared interface {id}")
            }
        }
    }
}

impl core::error::Error for CaptureError {}

/// A link-layer header type (the tcpdump.org `LINKTYPE_` registry). Unknown values are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinkType(pub u32);

impl LinkType {
    /// 0, BSD loopback: a 4-octet address family in the writer's byte order.
    pub const NULL: LinkType = LinkType(0);
    /// 1, Ethernet II.
    pub const ETHERNET: LinkType = LinkType(1);
    /// 101, raw IP.
    pub const RAW: LinkType = LinkType(101);
    /// 113, Linux cooked capture v1.
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// 228, raw IPv4.
    pub const IPV4: LinkType = LinkType(228);
    /// 276, Linux cooked capture v2.
    pub const LINUX_SLL2: LinkType = LinkType(276);
}

/// Up to this many pcapng interfaces are remembered (their link types and time resolutions).
const MAX_INTERFACES: usize = 16;

#[derive(Debug, Clone, Copy)]
struct Interface {
    link: LinkType,
    /// Timestamp units per second.
    units: u64,
}

fn take<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at.checked_add(N)?)?.try_into().ok()
}

fn u16_at(bytes: &[u8], at: usize, be: bool) -> Option<u16> {
    let b = take::<2>(bytes, at)?;
    Some(if be { u16::from_be_bytes(b) } else { u16::from_le_bytes(b) })
}

fn u32_at(bytes: &[u8], at: usize, be: bool) -> Option<u32> {
    let b = take::<4>(bytes, at)?;
    Some(if be { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) })
}

fn as_usize(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// A capture file in memory.
#[derive(Debug, Clone, Copy)]
pub struct Capture<'a> {
    bytes: &'a [u8],
    format: Format,
}

#[derive(Debug, Clone, Copy)]
enum Format {
    Pcap { be: bool, units: u64, link: LinkType },
    PcapNg,
}

const PCAP_MAGIC: u32 = 0xa1b2_c3d4;
const PCAP_NSEC_MAGIC: u32 = 0xa1b2_3c4d;
const PCAPNG_SHB: u32 = 0x0a0d_0d0a;
const PCAPNG_BYTE_ORDER: u32 = 0x1a2b_3c4d;

impl<'a> Capture<'a> {
    /// Recognises the format from the file's first octets.
    pub fn new(bytes: &'a [u8]) -> Result<Capture<'a>, CaptureError> {
        let magic = take::<4>(bytes, 0).ok_or(CaptureError::Truncated { offset: 0 })?;
        let format = match (u32::from_le_bytes(magic), u32::from_be_bytes(magic)) {
            (PCAP_MAGIC, _) | (_, PCAP_MAGIC) | (PCAP_NSEC_MAGIC, _) | (_, PCAP_NSEC_MAGIC) => {
                let be = matches!(u32::from_be_bytes(magic), PCAP_MAGIC | PCAP_NSEC_MAGIC);
                let nsec = u32_at(bytes, 0, be) == Some(PCAP_NSEC_MAGIC);
                // The link type is the low 16 bits of the last header field (the upper ones carry
                // FCS flags in newer files).
                let link = u32_at(bytes, 20, be).ok_or(CaptureError::Truncated { offset: 0 })?;
                Format::Pcap { be, units: if nsec { 1_000_000_000 } else { 1_000_000 }, link: LinkType(link & 0xffff) }
            }
            (PCAPNG_SHB, _) => Format::PcapNg,
            _ => return Err(CaptureError::UnknownFormat { magic }),
        };
        Ok(Capture { bytes, format })
    }

    /// The frames, in file order.
    pub fn frames(&self) -> Frames<'a> {
        let (pos, be) = match self.format {
            Format::Pcap { be, .. } => (24, be),
            Format::PcapNg => (0, false),
        };
        Frames {
            bytes: self.bytes,
            format: self.format,
            pos,
            be,
            index: 0,
            interfaces: heapless::Vec::new(),
            done: false,
        }
    }
}

/// One captured frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Position in the file, from 1, as tcpdump numbers frames.
    pub number: usize,
    /// Capture time: seconds and nanoseconds since the Unix epoch.
    pub time: (u64, u32),
    /// The link layer of `data`.
    pub link: LinkType,
    /// The captured octets (possibly fewer than `orig_len`).
    pub data: &'a [u8],
    /// The frame's length on the wire.
    pub orig_len: u32,
}

/// A UDP datagram found in a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Udp<'a> {
    /// Source address and port.
    pub src: SocketAddrV4,
    /// Destination address and port.
    pub dst: SocketAddrV4,
    /// The payload: what the UDP length field says, or less when the capture was cut short.
    pub payload: &'a [u8],
    /// Whether the payload is shorter than the UDP length field says (snap length, or a first IP
    /// fragment).
    pub truncated: bool,
}

impl<'a> Frame<'a> {
    /// The IPv4 packet inside the frame, by its link layer.
    pub fn ipv4(&self) -> Option<&'a [u8]> {
        let d = self.data;
        let (ethertype, rest) = match self.link {
            LinkType::ETHERNET => {
                let mut at = 12;
                let mut ethertype = u16_at(d, at, true)?;
                // 802.1Q and 802.1ad tags: skip the tag, read the inner type.
                while matches!(ethertype, 0x8100 | 0x88a8) {
                    at += 4;
                    ethertype = u16_at(d, at, true)?;
                }
                (ethertype, d.get(at + 2..)?)
            }
            LinkType::LINUX_SLL => (u16_at(d, 14, true)?, d.get(16..)?),
            LinkType::LINUX_SLL2 => (u16_at(d, 0, true)?, d.get(20..)?),
            LinkType::RAW | LinkType::IPV4 => (0x0800, d),
            LinkType::NULL => {
                let family = take::<4>(d, 0)?;
                // AF_INET is 2 in either byte order.
                let inet = u32::from_le_bytes(family) == 2 || u32::from_be_bytes(family) == 2;
                (if inet { 0x0800 } else { 0 }, d.get(4..)?)
            }
            _ => return None,
        };
        (ethertype == 0x0800 && rest.first().is_some_and(|v| v >> 4 == 4)).then_some(rest)
    }

    /// The UDP datagram inside the frame, if it carries IPv4 and UDP and is not a later IP
    /// fragment.
    pub fn udp(&self) -> Option<Udp<'a>> {
        let ip = self.ipv4()?;
        let ihl = usize::from(ip.first()? & 0x0f) * 4;
        let total = usize::from(u16_at(ip, 2, true)?);
        let frag = u16_at(ip, 6, true)?;
        let more_fragments = frag & 0x2000 != 0;
        if ihl < 20 || frag & 0x1fff != 0 || *ip.get(9)? != 17 {
            return None;
        }
        let src = Ipv4Addr::from(take::<4>(ip, 12)?);
        let dst = Ipv4Addr::from(take::<4>(ip, 16)?);
        // Ethernet pads short frames: trust the IP total length over the frame length.
        let ip = ip.get(..total.min(ip.len()))?;
        let udp = ip.get(ihl..)?;
        let sport = u16_at(udp, 0, true)?;
        let dport = u16_at(udp, 2, true)?;
        let ulen = usize::from(u16_at(udp, 4, true)?);
        let body = udp.get(8..)?;
        let want = ulen.saturating_sub(8);
        let payload = body.get(..want.min(body.len()))?;
        Some(Udp {
            src: SocketAddrV4::new(src, sport),
            dst: SocketAddrV4::new(dst, dport),
            payload,
            truncated: payload.len() < want || more_fragments,
        })
    }
}

/// The iterator returned by [`Capture::frames`].
#[derive(Debug, Clone)]
pub struct Frames<'a> {
    bytes: &'a [u8],
    format: Format,
    pos: usize,
    be: bool,
    index: usize,
    interfaces: heapless::Vec<Interface, MAX_INTERFACES>,
    done: bool,
}

impl<'a> Frames<'a> {
    fn fail(&mut self, e: CaptureError) -> Option<Result<Frame<'a>, CaptureError>> {
        self.done = true;
        Some(Err(e))
    }

    fn time(raw: u64, units: u64) -> (u64, u32) {
        let units = units.max(1);
        let secs = raw / units;
        let frac = raw % units;
        let nanos = u128::from(frac) * 1_000_000_000 / u128::from(units);
        (secs, u32::try_from(nanos).unwrap_or(0))
    }

    fn next_pcap(&mut self, be: bool, units: u64, link: LinkType) -> Option<Result<Frame<'a>, CaptureError>> {
        let at = self.pos;
        if at >= self.bytes.len() {
            self.done = true;
            return None;
        }
        let truncated = CaptureError::Truncated { offset: at };
        let (Some(sec), Some(frac), Some(incl), Some(orig)) = (
            u32_at(self.bytes, at, be),
            u32_at(self.bytes, at + 4, be),
            u32_at(self.bytes, at + 8, be),
            u32_at(self.bytes, at + 12, be),
        ) else {
            return self.fail(truncated);
        };
        let start = at + 16;
        let Some(data) = start.checked_add(as_usize(incl)).and_then(|end| self.bytes.get(start..end)) else {
            return self.fail(truncated);
        };
        self.pos = start + data.len();
        self.index += 1;
        let (_, nanos) = Self::time(u64::from(frac), units);
        Some(Ok(Frame { number: self.index, time: (u64::from(sec), nanos), link, data, orig_len: orig }))
    }

    fn next_pcapng(&mut self) -> Option<Result<Frame<'a>, CaptureError>> {
        loop {
            let at = self.pos;
            if at >= self.bytes.len() {
                self.done = true;
                return None;
            }
            let truncated = CaptureError::Truncated { offset: at };
            let Some(kind_raw) = take::<4>(self.bytes, at) else {
                return self.fail(truncated);
            };
            if u32::from_le_bytes(kind_raw) == PCAPNG_SHB {
                // A section header sets the byte order for the blocks that follow.
                match u32_at(self.bytes, at + 8, false) {
                    Some(PCAPNG_BYTE_ORDER) => self.be = false,
                    Some(v) if v.swap_bytes() == PCAPNG_BYTE_ORDER => self.be = true,
                    Some(_) => return self.fail(CaptureError::BadBlock { offset: at, len: 0 }),
                    None => return self.fail(truncated),
                }
                self.interfaces.clear();
            }
            let be = self.be;
            let (Some(kind), Some(len)) = (u32_at(self.bytes, at, be), u32_at(self.bytes, at + 4, be)) else {
                return self.fail(truncated);
            };
            let block_len = as_usize(len);
            if block_len < 12 || !block_len.is_multiple_of(4) {
                return self.fail(CaptureError::BadBlock { offset: at, len });
            }
            let Some(block) = at.checked_add(block_len).and_then(|end| self.bytes.get(at..end)) else {
                return self.fail(truncated);
            };
            if u32_at(block, block_len - 4, be) != Some(len) {
                return self.fail(CaptureError::BadBlock { offset: at, len });
            }
            self.pos = at + block_len;
            let body = block.get(8..block_len - 4).unwrap_or(&[]);
            match kind {
                // Interface Description Block: link type, then options (if_tsresol is code 9).
                1 => {
                    let Some(link) = u16_at(body, 0, be) else { return self.fail(truncated) };
                    let mut units = 1_000_000u64;
                    let mut opts = body.get(8..).unwrap_or(&[]);
                    while let (Some(code), Some(olen)) = (u16_at(opts, 0, be), u16_at(opts, 2, be)) {
                        if code == 0 {
                            break;
                        }
                        let olen = usize::from(olen);
                        if code == 9
                            && let Some(&res) = opts.get(4)
                        {
                            let exp = u32::from(res & 0x7f);
                            units = if res & 0x80 != 0 { 2u64.checked_pow(exp) } else { 10u64.checked_pow(exp) }
                                .unwrap_or(1_000_000);
                        }
                        opts = opts.get(4 + olen.div_ceil(4) * 4..).unwrap_or(&[]);
                    }
                    // Interfaces beyond the capacity are not remembered; their packets fail below.
                    let _ = self.interfaces.push(Interface { link: LinkType(u32::from(link)), units });
                }
                // Enhanced Packet Block.
                6 => {
                    let (Some(id), Some(hi), Some(lo), Some(cap), Some(orig)) = (
                        u32_at(body, 0, be),
                        u32_at(body, 4, be),
                        u32_at(body, 8, be),
                        u32_at(body, 12, be),
                        u32_at(body, 16, be),
                    ) else {
                        return self.fail(truncated);
                    };
                    let Some(iface) = self.interfaces.get(as_usize(id)).copied() else {
                        return self.fail(CaptureError::UnknownInterface { offset: at, id });
                    };
                    let Some(data) = 20usize.checked_add(as_usize(cap)).and_then(|end| body.get(20..end)) else {
                        return self.fail(truncated);
                    };
                    self.index += 1;
                    let raw = (u64::from(hi) << 32) | u64::from(lo);
                    let time = Self::time(raw, iface.units);
                    return Some(Ok(Frame { number: self.index, time, link: iface.link, data, orig_len: orig }));
                }
                // Simple Packet Block: interface 0, no timestamp.
                3 => {
                    let Some(orig) = u32_at(body, 0, be) else { return self.fail(truncated) };
                    let Some(iface) = self.interfaces.first().copied() else {
                        return self.fail(CaptureError::UnknownInterface { offset: at, id: 0 });
                    };
                    let data = body.get(4..).unwrap_or(&[]);
                    let data = data.get(..data.len().min(as_usize(orig))).unwrap_or(data);
                    self.index += 1;
                    return Some(Ok(Frame {
                        number: self.index,
                        time: (0, 0),
                        link: iface.link,
                        data,
                        orig_len: orig,
                    }));
                }
                _ => {}
            }
        }
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = Result<Frame<'a>, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.format {
            Format::Pcap { be, units, link } => self.next_pcap(be, units, link),
            Format::PcapNg => self.next_pcapng(),
        }
    }
}

impl core::iter::FusedIterator for Frames<'_> {}
