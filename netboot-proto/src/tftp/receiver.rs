//! The client side of a read transfer, with no I/O, for tests and for the agent.
//!
//! Call order: [`Receiver::new`]; [`Receiver::poll_transmit`] until `None` (the first is the
//! read request); pass every datagram from the server to [`Receiver::handle_packet`], which
//! hands back the data in file order; on [`Receiver::poll_timeout`] call
//! [`Receiver::handle_timeout`]; stop when [`Receiver::result`] is `Some`.
//!
//! Acknowledgements follow [RFC 1350] and [RFC 7440]: one ACK per window of in-order blocks, one
//! for the last (short) block, and, when a block is missing or repeated, one ACK for the last
//! block received in order, which tells the sender where to resume. On its own timer the
//! receiver repeats its last ACK (or the request).
//!
//! [RFC 1350]: https://www.rfc-editor.org/rfc/rfc1350
//! [RFC 7440]: https://www.rfc-editor.org/rfc/rfc7440

use core::fmt::Write as _;
use core::time::Duration;

use super::options::OptionList;
use super::packet::{ErrorCode, Mode, Packet, ParseError};
use super::{Cursor, DEFAULT_BLKSIZE};

/// What a [`Receiver`] asks for, and its timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverConfig {
    /// `blksize` to request, or none (512).
    pub blksize: Option<u16>,
    /// `windowsize` to request, or none (1).
    pub windowsize: Option<u16>,
    /// Whether to ask for `tsize`.
    pub tsize: bool,
    /// Time before repeating the request or the last ACK.
    pub timeout: Duration,
    /// Repeats in a row without new data before giving up.
    pub max_retries: u32,
}

impl Default for ReceiverConfig {
    fn default() -> ReceiverConfig {
        ReceiverConfig {
            blksize: None,
            windowsize: None,
            tsize: false,
            timeout: Duration::from_secs(1),
            max_retries: 5,
        }
    }
}

/// What [`Receiver::handle_packet`] hands back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiverEvent<'a> {
    /// The server's OACK: the block size and window in effect, and the size it announced.
    Negotiated {
        /// Block size in effect.
        blksize: u16,
        /// Window in effect.
        windowsize: u16,
        /// `tsize` from the OACK.
        tsize: Option<u64>,
    },
    /// The next data of the file, in order.
    Data {
        /// Where it goes in the file.
        offset: u64,
        /// The octets.
        data: &'a [u8],
    },
}

/// How a transfer ended for the receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiverOutput {
    /// The whole file arrived: this many octets.
    Complete {
        /// The file's size.
        size: u64,
    },
    /// The server sent an ERROR.
    ServerError {
        /// Its code.
        code: ErrorCode,
    },
    /// No answer through this many retries.
    TimedOut,
    /// The server broke the protocol (an OACK with options never asked for, or a bad value).
    Protocol,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    Nothing,
    Request,
    Ack(u64),
}

/// The client side of one read transfer.
#[derive(Debug, Clone)]
pub struct Receiver<'f> {
    filename: &'f [u8],
    cfg: ReceiverConfig,
    started: bool,
    blksize: u64,
    window: u64,
    /// Blocks 1..=got arrived in order.
    got: u64,
    /// The last block acknowledged.
    last_ack: Option<u64>,
    since_ack: u64,
    /// The in-order position a gap was last reported at.
    gap_acked: Option<u64>,
    pending: Pending,
    deadline: Option<Duration>,
    retries: u32,
    result: Option<ReceiverOutput>,
}

impl<'f> Receiver<'f> {
    /// A read of `filename`, starting `now`.
    pub fn new(filename: &'f [u8], cfg: ReceiverConfig, now: Duration) -> Receiver<'f> {
        let _ = now;
        Receiver {
            filename,
            cfg,
            started: false,
            blksize: u64::from(DEFAULT_BLKSIZE),
            window: 1,
            got: 0,
            last_ack: None,
            since_ack: 0,
            gap_acked: None,
            pending: Pending::Request,
            deadline: None,
            retries: 0,
            result: None,
        }
    }

    /// Writes the next datagram to send into `buf` and returns its length, or `None`.
    pub fn poll_transmit(&mut self, buf: &mut [u8], now: Duration) -> Option<Result<usize, ParseError>> {
        let pending = core::mem::replace(&mut self.pending, Pending::Nothing);
        let packet_len = match pending {
            Pending::Nothing => return None,
            Pending::Request => {
                let mut opts = [0u8; 96];
                let mut w = Cursor { buf: &mut opts, len: 0 };
                if let Some(b) = self.cfg.blksize {
                    let _ = write!(w, "blksize\0{b}\0");
                }
                if self.cfg.tsize {
                    let _ = write!(w, "tsize\00\0");
                }
                if let Some(win) = self.cfg.windowsize {
                    let _ = write!(w, "windowsize\0{win}\0");
                }
                let len = w.len;
                let options = match OptionList::from_wire(opts.get(..len).unwrap_or(&[])) {
                    Ok(o) => o,
                    Err(e) => return Some(Err(e)),
                };
                Packet::Rrq { filename: self.filename, mode: Mode(b"octet"), options }.emit(buf)
            }
            Pending::Ack(n) => {
                self.last_ack = Some(n);
                self.since_ack = 0;
                Packet::Ack { block: n as u16 }.emit(buf)
            }
        };
        if self.result.is_none() {
            self.deadline = Some(now + self.cfg.timeout);
        }
        Some(packet_len)
    }

    /// When to call [`Receiver::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Duration> {
        if self.result.is_some() { None } else { self.deadline }
    }

    /// The timer fired: repeat the request or the last ACK, or give up.
    pub fn handle_timeout(&mut self, now: Duration) {
        let Some(deadline) = self.deadline else { return };
        if self.result.is_some() || now < deadline {
            return;
        }
        self.retries += 1;
        self.deadline = None;
        if self.retries > self.cfg.max_retries {
            self.result = Some(ReceiverOutput::TimedOut);
            return;
        }
        // Repeat the request, or acknowledge the last block received in order (RFC 7440:
        // that tells a windowed sender where to resume).
        self.pending = if self.started { Pending::Ack(self.got) } else { Pending::Request };
    }

    /// A datagram from the server.
    pub fn handle_packet<'p>(&mut self, bytes: &'p [u8], now: Duration) -> Option<ReceiverEvent<'p>> {
        let _ = now;
        let packet = Packet::parse(bytes).ok()?;
        match packet {
            Packet::Error { code, .. } => {
                if self.result.is_none() {
                    self.result = Some(ReceiverOutput::ServerError { code });
                }
                None
            }
            Packet::Oack { options } if !self.started => {
                self.started = true;
                self.retries = 0;
                let mut tsize = None;
                for o in options.iter() {
                    let v = o.number();
                    if o.is("blksize") && self.cfg.blksize.is_some() {
                        self.blksize = v.filter(|&v| (8..=65464).contains(&v)).unwrap_or(0);
                    } else if o.is("windowsize") && self.cfg.windowsize.is_some() {
                        self.window = v.filter(|&v| (1..=65535).contains(&v)).unwrap_or(0);
                    } else if o.is("tsize") && self.cfg.tsize {
                        tsize = v;
                    } else if !o.is("timeout") {
                        self.blksize = 0;
                    }
                }
                if self.blksize == 0 || self.window == 0 {
                    self.result = Some(ReceiverOutput::Protocol);
                    return None;
                }
                self.pending = Pending::Ack(0);
                Some(ReceiverEvent::Negotiated { blksize: self.blksize as u16, windowsize: self.window as u16, tsize })
            }
            Packet::Oack { .. } if self.got == 0 && self.result.is_none() => {
                // The OACK again: the server did not see our ACK 0.
                self.pending = Pending::Ack(0);
                None
            }
            Packet::Data { block, data } => self.data(block, data),
            _ => None,
        }
    }

    fn data<'p>(&mut self, block: u16, data: &'p [u8]) -> Option<ReceiverEvent<'p>> {
        if !self.started {
            // No OACK: the server ignored every option and started with block 1.
            self.started = true;
            self.blksize = u64::from(DEFAULT_BLKSIZE);
            self.window = 1;
        }
        if self.result.is_some() {
            // Dallying: the server did not see the final ACK and sent the last block again.
            if let Some(ReceiverOutput::Complete { .. }) = self.result
                && block == self.got as u16
            {
                self.pending = Pending::Ack(self.got);
            }
            return None;
        }
        let expected = self.got + 1;
        if data.len() as u64 > self.blksize {
            return None;
        }
        if block == self.got as u16 && self.got > 0 {
            // The last block again after we acknowledged it: the server did not see our ACK.
            // Repeat it. (A repeat inside a window, before our ACK, is the network's duplicate.)
            if self.last_ack == Some(self.got) {
                self.pending = Pending::Ack(self.got);
            }
            return None;
        }
        if block != expected as u16 {
            // A gap (a block was lost): say once where we are, so the sender resumes there
            // (RFC 7440). Older repeats are ignored.
            let ahead = block.wrapping_sub(expected as u16) < 0x8000;
            if ahead && self.gap_acked != Some(self.got) {
                self.gap_acked = Some(self.got);
                self.pending = Pending::Ack(self.got);
            }
            return None;
        }
        self.got = expected;
        self.retries = 0;
        self.since_ack += 1;
        let offset = (expected - 1) * self.blksize;
        if (data.len() as u64) < self.blksize {
            self.result = Some(ReceiverOutput::Complete { size: offset + data.len() as u64 });
            self.pending = Pending::Ack(self.got);
            self.deadline = None;
        } else if self.since_ack >= self.window {
            self.pending = Pending::Ack(self.got);
        }
        Some(ReceiverEvent::Data { offset, data })
    }

    /// `Some` once the transfer has ended.
    pub fn result(&self) -> Option<ReceiverOutput> {
        self.result
    }

    /// Octets received in order so far.
    pub fn received(&self) -> u64 {
        self.got * self.blksize
    }
}
