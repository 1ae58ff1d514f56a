//! DHCPv4 messages: the fixed BOOTP header, the option area, and the PXE and iPXE extensions.
//!
//! What is implemented, and where it is specified:
//! - the message layout and its fields: [RFC 2131, section 2] (with BOOTP's [RFC 951]);
//! - options, their encoding and their meanings: [RFC 2132] (section 2 for the format,
//!   section 9.3 for option overload, 9.10 for the maximum message size);
//! - long options split over several instances and joined in order: [RFC 3396];
//! - the PXE client options 93, 94 and 97: [RFC 4578, section 2]; the `PXEClient` vendor class
//!   and the option 43 sub-options: PXE 2.1 (Intel, 1999), section 2.4;
//! - the user class (77) format: [RFC 3004]; relay agent information (82): [RFC 3046];
//! - the iPXE encapsulated options (175): iPXE's `include/ipxe/dhcp.h`.
//!
//! # Two levels
//!
//! [`Packet`] is a checked view over a byte slice: the fixed fields and the raw options, found in
//! the option area and, when option 52 says so, in the `file` and `sname` fields. [`Repr`] is the
//! parsed meaning: header fields plus an ordered list of [`DhcpOption`]s, typed where recon needs
//! the meaning and kept as [`DhcpOption::Other`] otherwise. `Repr` also builds replies:
//! [`Repr::buffer_len`] says how many bytes [`Repr::emit`] will write.
//!
//! # The no-panic contract
//!
//! This holds for every type in this module, and every change must keep it:
//! - [`Packet::new_checked`] succeeds only if the bytes hold the 236-octet header, the magic cookie
//!   and a hardware address length of at most 16. After that no accessor panics, whatever the
//!   other bytes are; iterating the options yields an [`Error`] for malformed structure, never a
//!   panic.
//! - [`Repr::parse`] never panics, on any input.
//! - [`Repr::emit`] never panics. Given a buffer of at least [`Repr::buffer_len`] bytes it writes
//!   exactly that many, every one of them, and succeeds unless the `Repr` itself is unencodable
//!   (a reserved option code, an oversized `sname`); a shorter buffer is an [`Error`], not a panic.
//! - Nothing here allocates. Bounded lists are `heapless` vectors of stated capacity, and joining a
//!   split option copies into a scratch buffer the caller provides.
//!
//! Unknown option codes, unknown message types and unknown architectures are data, not errors: they
//! are kept and emitted again unchanged. A known option whose value does not have the length its RFC
//! gives is kept the same way, as [`DhcpOption::Other`], so a packet is rejected only for its
//! structure, never for one option's content.
//!
//! [RFC 951]: https://www.rfc-editor.org/rfc/rfc951
//! [RFC 2131, section 2]: https://www.rfc-editor.org/rfc/rfc2131#section-2
//! [RFC 2132]: https://www.rfc-editor.org/rfc/rfc2132
//! [RFC 3004]: https://www.rfc-editor.org/rfc/rfc3004
//! [RFC 3046]: https://www.rfc-editor.org/rfc/rfc3046
//! [RFC 3396]: https://www.rfc-editor.org/rfc/rfc3396
//! [RFC 4578, section 2]: https://www.rfc-editor.org/rfc/rfc4578#section-2

mod error;
mod header;
mod option;
mod packet;
pub mod pxe;
mod repr;
mod writer;

pub use error::{Error, Field, Region};
pub use header::{Flags, HardwareType, Header, MAGIC_COOKIE, OPTIONS_OFFSET, Op};
pub use option::{ArchList, ClientMachineId, ClientNdi, DhcpOption, Ipv4List, MessageType, OptionCode, WireData};
pub use packet::{Options, Packet, RawOption};
pub use repr::{MAX_OPTIONS, OptionList, Repr};
pub use writer::{MIN_LEN, MIN_MAX_LEN, max_len_for};

/// The UDP port DHCP servers listen on ([RFC 2131, section 4.1]).
///
/// [RFC 2131, section 4.1]: https://www.rfc-editor.org/rfc/rfc2131#section-4.1
pub const SERVER_PORT: u16 = 67;
/// The UDP port DHCP clients listen on ([RFC 2131, section 4.1]).
///
/// [RFC 2131, section 4.1]: https://www.rfc-editor.org/rfc/rfc2131#section-4.1
pub const CLIENT_PORT: u16 = 68;
/// The UDP port of a PXE boot server (PXE 2.1, section 2.2.1): UEFI firmware sends its boot-server
/// REQUEST here after a proxyDHCP offer.
pub const PXE_PORT: u16 = 4011;
