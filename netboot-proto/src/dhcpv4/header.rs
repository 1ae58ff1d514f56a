//! The fixed BOOTP/DHCP header ([RFC 2131, section 2], figure 1).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +---------------+---------------+---------------+---------------+
//! |     op (1)    |   htype (1)   |   hlen (1)    |   hops (1)    |
//! +---------------+---------------+---------------+---------------+
//! |                            xid (4)                            |
//! +-------------------------------+-------------------------------+
//! |           secs (2)            |           flags (2)           |
//! +-------------------------------+-------------------------------+
//! |                          ciaddr  (4)                          |
//! |                          yiaddr  (4)                          |
//! |                          siaddr  (4)                          |
//! |                          giaddr  (4)                          |
//! |                          chaddr  (16)                         |
//! |                          sname   (64)                         |
//! |                          file    (128)                        |
//! +---------------------------------------------------------------+
//! |                 magic cookie 99.130.83.99 (4)                 |
//! |                          options (variable)                   |
//! +---------------------------------------------------------------+
//! ```
//!
//! [RFC 2131, section 2]: https://www.rfc-editor.org/rfc/rfc2131#section-2

use core::fmt;
use zerocopy::network_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// The magic cookie that starts the option area ([RFC 2131, section 3]).
///
/// [RFC 2131, section 3]: https://www.rfc-editor.org/rfc/rfc2131#section-3
pub const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];

/// Offset of the first option: the header plus the cookie.
pub const OPTIONS_OFFSET: usize = size_of::<Header>() + MAGIC_COOKIE.len();

/// The 236 fixed octets of every BOOTP and DHCP message, viewed in place.
///
/// Fields are network-endian and the struct has alignment 1, so it can be viewed at any offset of
/// any buffer (`Header::ref_from_prefix`). Field meanings: [RFC 2131, section 2], table 1.
///
/// [RFC 2131, section 2]: https://www.rfc-editor.org/rfc/rfc2131#section-2
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Header {
    /// Message op code: 1 BOOTREQUEST, 2 BOOTREPLY.
    pub op: u8,
    /// Hardware address type, as in ARP (1 = Ethernet).
    pub htype: u8,
    /// Hardware address length (6 for Ethernet).
    pub hlen: u8,
    /// Relay agent hops.
    pub hops: u8,
    /// Transaction id, chosen by the client.
    pub xid: U32,
    /// Seconds since the client began acquisition or renewal.
    pub secs: U16,
    /// Flags; the top bit is BROADCAST ([RFC 2131, section 2], figure 2).
    ///
    /// [RFC 2131, section 2]: https://www.rfc-editor.org/rfc/rfc2131#section-2
    pub flags: U16,
    /// Client IP address, when the client is BOUND, RENEWING or REBINDING.
    pub ciaddr: [u8; 4],
    /// "Your" (client) address, from the server.
    pub yiaddr: [u8; 4],
    /// Next server to use in bootstrap (TFTP), from the server.
    pub siaddr: [u8; 4],
    /// Relay agent address.
    pub giaddr: [u8; 4],
    /// Client hardware address, `hlen` octets, zero-padded.
    pub chaddr: [u8; 16],
    /// Server host name, NUL-terminated, or options when overloaded.
    pub sname: [u8; 64],
    /// Boot file name, NUL-terminated, or options when overloaded.
    pub file: [u8; 128],
}

const _: () = assert!(size_of::<Header>() == 236);
const _: () = assert!(OPTIONS_OFFSET == 240);

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Header")
            .field("op", &self.op)
            .field("htype", &self.htype)
            .field("hlen", &self.hlen)
            .field("hops", &self.hops)
            .field("xid", &format_args!("{:#010x}", self.xid.get()))
            .field("secs", &self.secs.get())
            .field("flags", &format_args!("{:#06x}", self.flags.get()))
            .field("ciaddr", &self.ciaddr)
            .field("yiaddr", &self.yiaddr)
            .field("siaddr", &self.siaddr)
            .field("giaddr", &self.giaddr)
            .field("chaddr", &self.chaddr)
            .finish_non_exhaustive()
    }
}

/// The `op` field ([RFC 951, section 3]). Unknown values are kept.
///
/// [RFC 951, section 3]: https://www.rfc-editor.org/rfc/rfc951#section-3
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// 1: from a client (or a relay) to a server.
    Request,
    /// 2: from a server.
    Reply,
    /// Anything else.
    Unknown(u8),
}

impl From<u8> for Op {
    fn from(v: u8) -> Op {
        match v {
            1 => Op::Request,
            2 => Op::Reply,
            v => Op::Unknown(v),
        }
    }
}

impl From<Op> for u8 {
    fn from(op: Op) -> u8 {
        match op {
            Op::Request => 1,
            Op::Reply => 2,
            Op::Unknown(v) => v,
        }
    }
}

/// The `htype` field: ARP hardware types ([RFC 1700]; IANA "Hardware Types"). Unknown values are
/// kept.
///
/// [RFC 1700]: https://www.rfc-editor.org/rfc/rfc1700
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HardwareType {
    /// 1: Ethernet (10 Mb and up).
    Ethernet,
    /// 6: IEEE 802 networks.
    Ieee802,
    /// 32: InfiniBand ([RFC 4390]).
    ///
    /// [RFC 4390]: https://www.rfc-editor.org/rfc/rfc4390
    InfiniBand,
    /// Anything else.
    Unknown(u8),
}

impl From<u8> for HardwareType {
    fn from(v: u8) -> HardwareType {
        match v {
            1 => HardwareType::Ethernet,
            6 => HardwareType::Ieee802,
            32 => HardwareType::InfiniBand,
            v => HardwareType::Unknown(v),
        }
    }
}

impl From<HardwareType> for u8 {
    fn from(t: HardwareType) -> u8 {
        match t {
            HardwareType::Ethernet => 1,
            HardwareType::Ieee802 => 6,
            HardwareType::InfiniBand => 32,
            HardwareType::Unknown(v) => v,
        }
    }
}

/// The `flags` field ([RFC 2131, section 2], figure 2): only the top bit, BROADCAST, is defined;
/// the others must be zero but are kept as received.
///
/// [RFC 2131, section 2]: https://www.rfc-editor.org/rfc/rfc2131#section-2
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(pub u16);

impl Flags {
    /// The BROADCAST bit.
    pub const BROADCAST: Flags = Flags(0x8000);

    /// Whether the client asked for broadcast replies (it cannot receive unicast before it has an
    /// address, [RFC 2131, section 4.1]).
    ///
    /// [RFC 2131, section 4.1]: https://www.rfc-editor.org/rfc/rfc2131#section-4.1
    pub const fn broadcast(self) -> bool {
        self.0 & Flags::BROADCAST.0 != 0
    }
}
