//! TFTP: the packets ([RFC 1350]), option negotiation ([RFC 2347]) with block size
//! ([RFC 2348]), timeout and transfer size ([RFC 2349]) and window size ([RFC 7440]), and the
//! two ends of a read transfer as sans-IO state machines.
//!
//! - [`Packet`] parses any TFTP datagram, borrowing file names, option strings and data from
//!   it, and emits it again ([`Packet::buffer_len`], [`Packet::emit`]).
//! - [`Negotiation`] turns a read request's options into what a server accepts and answers in
//!   its OACK.
//! - [`Sender`] is the server side of a read (the only direction recon serves): it is told the
//!   time and what arrived, and says which blocks to send and when to wake it next. It sends a
//!   window of blocks ([RFC 7440]), retransmits on its own timer with backoff and a retry limit,
//!   ignores duplicate acknowledgements (so the Sorcerer's Apprentice bug of [RFC 1123, section
//!   4.2.3.1] cannot happen), and counts blocks past 65535 by rolling the wire number over to 0.
//! - [`Receiver`] is the client side, for tests and for the agent.
//!
//! Modes: only `octet` is served. A read in `netascii` is refused with a clear error rather than
//! translated: recon's TFTP carries boot binaries only, a netascii request for them is always a
//! misconfigured client (tftp-hpa's default), and translating would change the file's length and
//! break `tsize`.
//!
//! # The no-panic contract
//!
//! [`Packet::parse`] never panics and does not allocate, on any input. [`Packet::emit`] never
//! panics; it writes exactly [`Packet::buffer_len`] bytes into a buffer at least that long and
//! fails with an error otherwise. [`Sender`] and [`Receiver`] never panic on any sequence of
//! inputs and times; [`Sender`] never asks to send a block beyond its window or the file.
//!
//! [RFC 1350]: https://www.rfc-editor.org/rfc/rfc1350
//! [RFC 1123, section 4.2.3.1]: https://www.rfc-editor.org/rfc/rfc1123#section-4.2.3.1
//! [RFC 2347]: https://www.rfc-editor.org/rfc/rfc2347
//! [RFC 2348]: https://www.rfc-editor.org/rfc/rfc2348
//! [RFC 2349]: https://www.rfc-editor.org/rfc/rfc2349
//! [RFC 7440]: https://www.rfc-editor.org/rfc/rfc7440

mod options;
mod packet;
mod receiver;
mod sender;

pub use options::{Limits, MAX_TIMEOUT, Negotiation, OptionIter, OptionList, TftpOption};
pub use packet::{ErrorCode, Mode, Opcode, Packet, ParseError, data_header};
pub use receiver::{Receiver, ReceiverConfig, ReceiverEvent, ReceiverOutput};
pub use sender::{Sender, SenderConfig, SenderError, Transmit};

/// The TFTP server port ([RFC 1350, section 4]).
///
/// [RFC 1350, section 4]: https://www.rfc-editor.org/rfc/rfc1350#section-4
pub const SERVER_PORT: u16 = 69;

/// The block size without the `blksize` option ([RFC 1350, section 2]).
///
/// [RFC 1350, section 2]: https://www.rfc-editor.org/rfc/rfc1350#section-2
pub const DEFAULT_BLKSIZE: u16 = 512;

/// The largest block that fits an Ethernet frame: 1500 less the IPv4 (20), UDP (8) and TFTP (4)
/// headers ([RFC 2348]).
///
/// [RFC 2348]: https://www.rfc-editor.org/rfc/rfc2348
pub const ETHERNET_BLKSIZE: u16 = 1468;

/// Valid `blksize` values ([RFC 2348]).
///
/// [RFC 2348]: https://www.rfc-editor.org/rfc/rfc2348
pub const BLKSIZE_RANGE: core::ops::RangeInclusive<u16> = 8..=65464;

/// The block size that fits a path MTU: the MTU less the IPv4, UDP and TFTP headers, within
/// [`BLKSIZE_RANGE`].
pub fn blksize_for_mtu(mtu: u32) -> u16 {
    let fit = mtu.saturating_sub(20 + 8 + 4);
    u16::try_from(fit).unwrap_or(u16::MAX).clamp(*BLKSIZE_RANGE.start(), *BLKSIZE_RANGE.end())
}

/// Formats into a caller's buffer; running past its end is an error.
struct Cursor<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl core::fmt::Write for Cursor<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(core::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}
