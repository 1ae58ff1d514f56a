//! The server side of a read transfer, with no I/O: the caller passes the time and what arrived,
//! and sends what it is told.
//!
//! Call order: after [`Sender::new`], call [`Sender::poll_transmit`] until it returns `None`,
//! sending each datagram; then wait for a datagram or [`Sender::poll_timeout`], whichever comes
//! first, and pass it to [`Sender::handle_ack`], [`Sender::handle_error`] or
//! [`Sender::handle_timeout`]; repeat until [`Sender::result`] is `Some`.
//!
//! Behaviour, by RFC:
//! - [RFC 2347]: with options accepted, an OACK goes first and data starts after ACK 0.
//! - [RFC 7440]: up to `windowsize` blocks are in flight. An ACK for the last block of the
//!   window moves it on; an ACK for an earlier block says the blocks after it were lost, and
//!   sending starts again after it. With `windowsize` 1 this is RFC 1350's lock-step.
//! - [RFC 1123, section 4.2.3.1]: duplicate ACKs must not each cause a retransmission (the
//!   Sorcerer's Apprentice bug, where every duplicate doubles the traffic). This side's timer
//!   resends the window from the first unacknowledged block; a repeated ACK for that block (the
//!   client timed out, or saw a gap) resends it sooner, but at most once per two round trips
//!   since it was last sent, so a burst of duplicates yields one retransmission.
//! - The timer adapts to the measured round trip as TCP's does ([RFC 6298]; Karn's rule: no
//!   samples from retransmitted blocks), between a floor and the client's `timeout` option (or a
//!   default), doubles on each expiry, and the transfer fails after a number of expiries in a
//!   row with no progress.
//! - Blocks are counted with 64 bits; the number on the wire rolls over from 65535 to 0, as
//!   tftp-hpa, dnsmasq and iPXE expect, so files of any size go through.
//!
//! [RFC 1123, section 4.2.3.1]: https://www.rfc-editor.org/rfc/rfc1123#section-4.2.3.1
//! [RFC 2347]: https://www.rfc-editor.org/rfc/rfc2347
//! [RFC 6298]: https://www.rfc-editor.org/rfc/rfc6298
//! [RFC 7440]: https://www.rfc-editor.org/rfc/rfc7440

use core::fmt;
use core::time::Duration;

use super::options::Negotiation;
use super::packet::ErrorCode;

/// Timer policy of a [`Sender`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderConfig {
    /// The first retransmission timeout, before any round trip is measured.
    pub initial_rto: Duration,
    /// The shortest timeout, however fast the round trips.
    pub min_rto: Duration,
    /// The longest timeout before backoff, when the client sets no `timeout` option.
    pub max_rto: Duration,
    /// The longest timeout backoff reaches.
    pub max_backoff: Duration,
    /// Expiries in a row, without an acknowledgement that moves the transfer on, after which it
    /// fails.
    pub max_retries: u32,
}

impl Default for SenderConfig {
    fn default() -> SenderConfig {
        SenderConfig {
            initial_rto: Duration::from_millis(250),
            // LAN round trips are well under a millisecond; a late retransmission costs only a
            // duplicate, which both ends ignore.
            min_rto: Duration::from_millis(20),
            max_rto: Duration::from_secs(1),
            // Past the 5 s most clients wait before repeating an ACK: atftp, for one, repeats
            // nothing while data keeps coming, even data it already has, so only a pause longer
            // than its timeout brings its ACK back.
            max_backoff: Duration::from_secs(8),
            max_retries: 10,
        }
    }
}

/// One datagram to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transmit {
    /// The option acknowledgement ([`Negotiation::write_oack_options`]).
    Oack,
    /// A data block: `len` octets of the file from `offset`, under wire number `block`.
    Data {
        /// The block number on the wire.
        block: u16,
        /// Where its data starts in the file.
        offset: u64,
        /// How many octets (less than the block size only for the last block; possibly 0).
        len: usize,
    },
}

/// Why a transfer failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SenderError {
    /// No acknowledgement moved the transfer on through this many timeouts.
    TimedOut {
        /// Expiries in a row.
        retries: u32,
    },
    /// The client sent an ERROR.
    Aborted {
        /// Its code.
        code: ErrorCode,
    },
}

impl fmt::Display for SenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SenderError::TimedOut { retries } => write!(f, "no acknowledgement after {retries} retransmissions"),
            SenderError::Aborted { code } => write!(f, "client aborted the transfer (error {})", code.0),
        }
    }
}

impl core::error::Error for SenderError {}

/// The server side of one read transfer.
#[derive(Debug, Clone)]
pub struct Sender {
    cfg: SenderConfig,
    blksize: u64,
    window: u64,
    file_size: u64,
    /// Data blocks in the file: the last one is short, possibly empty.
    total: u64,
    /// Whether the OACK that opens the transfer (if any) has been acknowledged, and whether it
    /// is due to be sent.
    oack_acked: bool,
    oack_due: bool,
    /// Blocks 1..=acked are acknowledged.
    acked: u64,
    /// The next block to send.
    next: u64,
    /// The highest block sent so far.
    sent_max: u64,
    deadline: Option<Duration>,
    rto: Duration,
    ceiling: Duration,
    srtt: Option<(Duration, Duration)>,
    /// The block being timed for a round-trip sample (0: the OACK), and when it was sent.
    timing: Option<(u64, Duration)>,
    retries: u32,
    result: Option<Result<(), SenderError>>,
    retransmitted: u64,
    /// When block `acked + 1` was last sent, for the duplicate-ACK guard.
    head_sent: Option<Duration>,
    /// When sending last started again from an acknowledged block.
    last_rewind: Option<Duration>,
    /// The timeout the round-trip estimate gives, before any backoff.
    estimate: Duration,
}

/// Largest window for which a 16-bit wire number maps back to one block unambiguously.
const MAX_WINDOW: u64 = 32_767;

impl Sender {
    /// A transfer of a file of `file_size` octets with the negotiated options, starting `now`.
    pub fn new(negotiation: &Negotiation, file_size: u64, cfg: SenderConfig, now: Duration) -> Sender {
        let blksize = u64::from(negotiation.blksize.max(1));
        let ceiling = match negotiation.timeout {
            Some(t) => Duration::from_secs(u64::from(t)),
            None => cfg.max_rto,
        }
        .max(cfg.min_rto);
        let oack = negotiation.has_oack();
        // The clock starts with the first transmission; `now` is taken for symmetry with the
        // other calls and future use.
        let _ = now;
        Sender {
            cfg,
            blksize,
            window: u64::from(negotiation.windowsize).clamp(1, MAX_WINDOW),
            file_size,
            total: file_size / blksize + 1,
            oack_acked: !oack,
            oack_due: oack,
            acked: 0,
            next: 1,
            sent_max: 0,
            deadline: None,
            rto: cfg.initial_rto.clamp(cfg.min_rto, ceiling),
            ceiling,
            srtt: None,
            timing: None,
            retries: 0,
            result: None,
            retransmitted: 0,
            head_sent: None,
            last_rewind: None,
            estimate: cfg.initial_rto.clamp(cfg.min_rto, ceiling),
        }
    }

    /// The next datagram to send now, or `None` until something arrives or the timer fires.
    pub fn poll_transmit(&mut self, now: Duration) -> Option<Transmit> {
        if self.result.is_some() {
            return None;
        }
        if !self.oack_acked {
            if !self.oack_due {
                return None;
            }
            self.oack_due = false;
            self.arm(now);
            if self.timing.is_none() && self.retries == 0 {
                self.timing = Some((0, now));
            }
            return Some(Transmit::Oack);
        }
        if self.next > self.total || self.next > self.acked + self.window {
            return None;
        }
        let block = self.next;
        self.next += 1;
        if block == self.acked + 1 {
            self.head_sent = Some(now);
        }
        if block <= self.sent_max {
            self.retransmitted += 1;
        } else {
            self.sent_max = block;
            if self.timing.is_none() {
                self.timing = Some((block, now));
            }
        }
        self.arm(now);
        let offset = (block - 1) * self.blksize;
        let len = self.file_size.saturating_sub(offset).min(self.blksize);
        Some(Transmit::Data { block: block as u16, offset, len: len as usize })
    }

    fn arm(&mut self, now: Duration) {
        if self.deadline.is_none() {
            self.deadline = Some(now + self.rto);
        }
    }

    /// When to call [`Sender::handle_timeout`], if anything is outstanding.
    pub fn poll_timeout(&self) -> Option<Duration> {
        if self.result.is_some() { None } else { self.deadline }
    }

    /// An ACK with wire block number `block` arrived.
    pub fn handle_ack(&mut self, block: u16, now: Duration) {
        if self.result.is_some() {
            return;
        }
        if !self.oack_acked {
            if block == 0 {
                self.oack_acked = true;
                self.progress(0, now);
            }
            return;
        }
        // Map the 16-bit number onto the blocks sent but not yet acknowledged.
        let d = u64::from(block.wrapping_sub(self.acked as u16));
        if d == 0 && self.next > self.acked + 1 {
            // The client repeats its last ACK: it timed out waiting for the next block, or (in
            // a window) saw a gap after it. Resend from there, but at most once per two round
            // trips since that block was last sent: a burst of duplicates then yields one
            // retransmission, so they cannot multiply (the Sorcerer's Apprentice bug of RFC 1123,
            // section 4.2.3.1, needs every duplicate to trigger a send).
            if self.head_sent.is_some_and(|t| now.saturating_sub(t) >= self.guard()) && self.may_rewind(now) {
                self.rewind(self.acked, now);
            }
            return;
        }
        if d == 0 || d > self.sent_max - self.acked {
            // An old ACK, or one for a block never sent: ignored.
            return;
        }
        let n = self.acked + d;
        self.acked = n;
        self.progress(n, now);
        if n >= self.total {
            self.result = Some(Ok(()));
            self.deadline = None;
            return;
        }
        if n + 1 < self.next && self.may_rewind(now) {
            // An ACK inside the window: the client lost the blocks after it (RFC 7440,
            // section 4); send again from there, at most once per guard interval so that
            // duplicated or per-block ACKs cannot multiply the traffic.
            self.rewind(n, now);
        }
    }

    fn progress(&mut self, acked_block: u64, now: Duration) {
        self.retries = 0;
        if let Some((timed, sent)) = self.timing
            && timed <= acked_block
        {
            self.sample(now.saturating_sub(sent));
            self.timing = None;
        }
        // The path works again: drop any backoff (a TFTP peer on a LAN needs no more patience
        // once it answers).
        self.rto = self.estimate;
        self.head_sent = None;
        self.deadline = None;
        if self.oack_acked && self.next > self.acked + 1 {
            // Blocks are still outstanding: keep a timer running for them.
            self.deadline = Some(now + self.rto);
        }
    }

    /// Two round trips (or half the floor before any is measured): how long a block must have
    /// been on its way before a repeated ACK may count it as lost.
    fn guard(&self) -> Duration {
        self.srtt.map_or(self.estimate, |(srtt, _)| (srtt * 2).max(self.cfg.min_rto / 2))
    }

    fn may_rewind(&self, now: Duration) -> bool {
        self.last_rewind.is_none_or(|t| now.saturating_sub(t) >= self.guard())
    }

    /// Sends again from the block after `n`. A block being timed may be resent: no sample.
    fn rewind(&mut self, n: u64, now: Duration) {
        self.next = n + 1;
        self.last_rewind = Some(now);
        if self.timing.is_some_and(|(t, _)| t > n) {
            self.timing = None;
        }
    }

    fn sample(&mut self, rtt: Duration) {
        // In lock-step the client repeats a lost ACK on its own timer, and that later copy looks
        // like a very long round trip. Such samples would hold the timer near the client's
        // timeout, so one far above the estimate is dropped; a real slowdown still shows through
        // the backoff, which keeps the doubled timeout until a sample fits.
        if let Some((srtt, _)) = self.srtt
            && rtt > (srtt * 4).max(self.cfg.min_rto)
        {
            return;
        }
        let (srtt, var) = match self.srtt {
            None => (rtt, rtt / 2),
            Some((srtt, var)) => {
                let diff = srtt.abs_diff(rtt);
                ((srtt * 7 + rtt) / 8, (var * 3 + diff) / 4)
            }
        };
        self.srtt = Some((srtt, var));
        let rto = srtt + (var * 4).max(Duration::from_millis(1));
        self.estimate = rto.clamp(self.cfg.min_rto, self.ceiling);
    }

    /// The client sent its read request again before acknowledging anything: it did not get
    /// the OACK or the first block. Send it again now rather than at the timer (at most once
    /// per guard interval), as the client's own retry says it is waiting.
    pub fn handle_repeated_request(&mut self, now: Duration) {
        if self.result.is_some() || !self.may_rewind(now) {
            return;
        }
        if !self.oack_acked {
            self.oack_due = true;
            self.last_rewind = Some(now);
        } else if self.acked == 0 && self.sent_max > 0 {
            self.rewind(0, now);
        }
    }

    /// An ERROR arrived from the client: the transfer ends.
    pub fn handle_error(&mut self, code: ErrorCode) {
        if self.result.is_none() {
            self.result = Some(Err(SenderError::Aborted { code }));
            self.deadline = None;
        }
    }

    /// The time is `now`; if the timer has expired, resend from the first unacknowledged block
    /// (or the OACK) with a doubled timeout, or fail after too many expiries in a row.
    pub fn handle_timeout(&mut self, now: Duration) {
        let Some(deadline) = self.deadline else { return };
        if self.result.is_some() || now < deadline {
            return;
        }
        self.retries += 1;
        if self.retries > self.cfg.max_retries {
            self.result = Some(Err(SenderError::TimedOut { retries: self.retries - 1 }));
            self.deadline = None;
            return;
        }
        self.rto = (self.rto * 2).min(self.cfg.max_backoff.max(self.ceiling));
        self.timing = None;
        self.deadline = None;
        if self.oack_acked {
            self.next = self.acked + 1;
        } else {
            self.oack_due = true;
        }
    }

    /// `Some` once the transfer has ended: `Ok` when the last block was acknowledged.
    pub fn result(&self) -> Option<Result<(), SenderError>> {
        self.result
    }

    /// Octets the client has acknowledged.
    pub fn acked_bytes(&self) -> u64 {
        (self.acked * self.blksize).min(self.file_size)
    }

    /// Blocks sent more than once.
    pub fn retransmitted(&self) -> u64 {
        self.retransmitted
    }

    /// The block size and window in effect.
    pub fn blksize(&self) -> u64 {
        self.blksize
    }

    /// The window in effect.
    pub fn window(&self) -> u64 {
        self.window
    }

    /// The current retransmission timeout.
    pub fn rto(&self) -> Duration {
        self.rto
    }

    /// The number of data blocks in the transfer, the last one short.
    pub fn total_blocks(&self) -> u64 {
        self.total
    }

    /// The highest block sent so far; never above `acked + window` nor the last block.
    pub fn highest_sent(&self) -> u64 {
        self.sent_max
    }

    /// Whether every block, the last one included, has been sent at least once.
    pub fn all_sent(&self) -> bool {
        self.sent_max >= self.total
    }

    /// Blocks acknowledged so far.
    pub fn acked_blocks(&self) -> u64 {
        self.acked
    }
}
