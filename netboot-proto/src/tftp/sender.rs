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
//! - Deadlines a client cannot move ([`SenderConfig::idle_limit`], [`SenderConfig::time_limit`]):
//!   RFC 1350 (section 2) ends a transfer on timeout but leaves how long to the implementation,
//!   and with a client's `timeout` ([RFC 2349]) and backoff the retries alone can keep a silent
//!   transfer for minutes. The idle limit counts from the last acknowledgement that moved the
//!   transfer on, the time limit from the start; neither is pushed back by retransmissions,
//!   duplicate ACKs, stray datagrams or how often the caller wakes the sender.
//! - Blocks are counted with 64 bits; the number on the wire rolls over from 65535 to 0, as
//!   tftp-hpa, dnsmasq and iPXE expect, so files of any size go through.
//!
//! [RFC 1123, section 4.2.3.1]: https://www.rfc-editor.org/rfc/rfc1123#section-4.2.3.1
//! [RFC 2347]: https://www.rfc-editor.org/rfc/rfc2347
//! [RFC 2349]: https://www.rfc-editor.org/rfc/rfc2349
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
    /// How long the transfer may go without an acknowledgement that moves it on (the OACK's or
    /// a new block's), counted from the start and then from the last one, before it fails with
    /// [`SenderError::Idle`], whatever the retransmission timer and `max_retries` say. `None`
    /// (the default): only the retries end a silent transfer.
    pub idle_limit: Option<Duration>,
    /// The longest a whole transfer may take: this allowance plus a second per `min_rate` octets
    /// of the file, counted from the start; past it the transfer fails with
    /// [`SenderError::Overdue`], however steadily it moves. `None` (the default): no limit.
    pub time_limit: Option<Duration>,
    /// Octets per second the time limit grants on top of its allowance (0: none).
    pub min_rate: u64,
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
            // A server sets these (recon's does, agent/src/serve/tftp.rs); the sender alone
            // keeps RFC 1350's retry-only behaviour.
            idle_limit: None,
            time_limit: None,
            min_rate: 64 * 1024,
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
    /// No acknowledgement moved the transfer on for [`SenderConfig::idle_limit`].
    Idle {
        /// The limit.
        limit: Duration,
    },
    /// The transfer had not ended by its time limit ([`SenderConfig::time_limit`]).
    Overdue {
        /// The whole limit, the allowance for the file's size included.
        limit: Duration,
    },
}

impl fmt::Display for SenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SenderError::TimedOut { retries } => write!(f, "no acknowledgement after {retries} retransmissions"),
            SenderError::Aborted { code } => write!(f, "client aborted the transfer (error {})", code.0),
            SenderError::Idle { limit } => {
                write!(f, "no acknowledgement moved the transfer on for {} s", limit.as_secs_f64())
            }
            SenderError::Overdue { limit } => {
                write!(f, "not finished within its time limit of {} s", limit.as_secs_f64())
            }
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
    /// When the last acknowledgement moved the transfer on (at first, when it started).
    last_progress: Duration,
    /// When the transfer fails however it moves, and the limit that gave this time.
    give_up: Option<(Duration, Duration)>,
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
        // The retransmission clock starts with the first transmission; the deadlines start now.
        let give_up = cfg.time_limit.map(|base| {
            let per_size = file_size.checked_div(cfg.min_rate).unwrap_or(0);
            let limit = base.saturating_add(Duration::from_secs(per_size));
            (now.saturating_add(limit), limit)
        });
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
            last_progress: now,
            give_up,
        }
    }

    /// When the idle limit runs out, if there is one.
    fn idle_deadline(&self) -> Option<Duration> {
        self.cfg.idle_limit.map(|l| self.last_progress.saturating_add(l))
    }

    /// Ends the transfer if `now` is past the time limit or the idle limit; true if it has ended.
    fn expire(&mut self, now: Duration) -> bool {
        if self.result.is_some() {
            return true;
        }
        let err = match (self.give_up, self.cfg.idle_limit) {
            (Some((at, limit)), _) if now >= at => SenderError::Overdue { limit },
            (_, Some(limit)) if self.idle_deadline().is_some_and(|at| now >= at) => SenderError::Idle { limit },
            _ => return false,
        };
        self.result = Some(Err(err));
        self.deadline = None;
        true
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

    /// When to call [`Sender::handle_timeout`]: the retransmission timer or a limit, whichever
    /// comes first; `None` once the transfer has ended (or with nothing outstanding and no
    /// limits).
    pub fn poll_timeout(&self) -> Option<Duration> {
        if self.result.is_some() {
            return None;
        }
        [self.deadline, self.idle_deadline(), self.give_up.map(|(at, _)| at)].into_iter().flatten().min()
    }

    /// An ACK with wire block number `block` arrived.
    pub fn handle_ack(&mut self, block: u16, now: Duration) {
        // An ACK that comes after a deadline does not bring the transfer back.
        if self.expire(now) {
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
        self.last_progress = now;
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
        if self.expire(now) || !self.may_rewind(now) {
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

    /// The time is `now`: past the time limit or the idle limit, the transfer fails; if the
    /// timer has expired, resend from the first unacknowledged block (or the OACK) with a
    /// doubled timeout, or fail after too many expiries in a row. Harmless to call at any time,
    /// so a caller may call it after every wake-up.
    pub fn handle_timeout(&mut self, now: Duration) {
        if self.expire(now) {
            return;
        }
        let Some(deadline) = self.deadline else { return };
        if now < deadline {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tftp::{Limits, OptionList};

    const S: Duration = Duration::from_secs(1);

    fn limited(idle: Option<Duration>, time: Option<Duration>) -> SenderConfig {
        // Retries that alone would keep a silent client for about 13 minutes.
        SenderConfig { max_retries: 100, idle_limit: idle, time_limit: time, ..SenderConfig::default() }
    }

    fn sender(opts: &[u8], size: u64, cfg: SenderConfig) -> Sender {
        let neg = Negotiation::for_read(OptionList::from_wire(opts).unwrap(), size, &Limits::default());
        Sender::new(&neg, size, cfg, Duration::ZERO)
    }

    /// Sends whatever is due and fires timers until the transfer ends or `until` passes; the
    /// client answers nothing. Returns when it ended.
    fn run_silent(s: &mut Sender, mut now: Duration, until: Duration) -> Duration {
        while s.result().is_none() && now <= until {
            while s.poll_transmit(now).is_some() {}
            let Some(at) = s.poll_timeout() else { break };
            now = at.max(now);
            s.handle_timeout(now);
        }
        now
    }

    #[test]
    fn a_silent_client_is_dropped_at_the_idle_limit_whatever_the_retries() {
        // timeout=255 from the client and 100 retries: without the limit the transfer would
        // wait minutes; with it, it ends 15 s after it started, having made no progress.
        let opts = b"tsize\x000\x00timeout\x00255\x00";
        let mut s = sender(opts, 70_000, limited(Some(15 * S), None));
        let ended = run_silent(&mut s, Duration::ZERO, 600 * S);
        assert_eq!(s.result(), Some(Err(SenderError::Idle { limit: 15 * S })));
        assert_eq!(ended, 15 * S);
        assert_eq!((s.poll_timeout(), s.poll_transmit(ended)), (None, None));
    }

    #[test]
    fn duplicates_and_stray_acks_do_not_push_the_idle_deadline_back() {
        let mut s = sender(b"", 512 * 100, limited(Some(15 * S), None));
        assert!(matches!(s.poll_transmit(Duration::ZERO), Some(Transmit::Data { block: 1, .. })));
        s.handle_ack(1, S);
        // From here on the client only repeats ACK 1 and sends ACKs for blocks never sent,
        // ten a second, and the caller wakes the sender for each.
        let mut now = S;
        while s.result().is_none() && now < 60 * S {
            now += Duration::from_millis(100);
            while s.poll_transmit(now).is_some() {}
            s.handle_ack(if now.as_millis().is_multiple_of(200) { 1 } else { 77 }, now);
            s.handle_timeout(now);
            assert!(s.poll_timeout().is_none_or(|t| t <= 16 * S), "the deadline moved: {:?}", s.poll_timeout());
        }
        assert_eq!(s.result(), Some(Err(SenderError::Idle { limit: 15 * S })));
        assert_eq!(now, 16 * S, "15 s after the last new ACK, at 1 s");
        assert_eq!(s.acked_blocks(), 1);
    }

    #[test]
    fn progress_restarts_the_idle_limit_and_a_late_ack_does_not_revive() {
        let mut s = sender(b"", 512 * 10, limited(Some(15 * S), None));
        let mut now = Duration::ZERO;
        // A new block acknowledged every 14 s keeps the transfer alive past the idle limit.
        for b in 1..=5u16 {
            assert!(matches!(s.poll_transmit(now), Some(Transmit::Data { .. })));
            now += 14 * S;
            s.handle_timeout(now);
            while s.poll_transmit(now).is_some() {}
            s.handle_ack(b, now);
            assert_eq!(s.result(), None, "after block {b}");
        }
        while s.poll_transmit(now).is_some() {}
        // Then 15 s without one: over, and an ACK that arrives later changes nothing.
        now += 15 * S;
        s.handle_ack(6, now);
        assert_eq!(s.result(), Some(Err(SenderError::Idle { limit: 15 * S })));
        assert_eq!(s.acked_blocks(), 5);
    }

    #[test]
    fn a_slow_reader_is_dropped_at_the_time_limit() {
        // 8-octet blocks, each acknowledged 10 s after it was sent: always under the idle limit,
        // so only the time limit ends it: 60 s, plus 1 s for the 70,000 octets at 64 KiB/s.
        let cfg = limited(Some(15 * S), Some(60 * S));
        let mut s = sender(b"blksize\x008\x00", 70_000, cfg);
        let mut now = Duration::ZERO;
        assert_eq!(s.poll_transmit(now), Some(Transmit::Oack));
        let mut block = 0u16;
        while s.result().is_none() && now < 3600 * S {
            now += 10 * S;
            s.handle_timeout(now);
            s.handle_ack(block, now);
            block += 1;
            while s.poll_transmit(now).is_some() {}
        }
        assert_eq!(s.result(), Some(Err(SenderError::Overdue { limit: 61 * S })));
        assert_eq!(now, 70 * S, "the first wake-up past 61 s");
        assert!(s.acked_blocks() < s.total_blocks());
    }

    #[test]
    fn without_limits_the_retries_alone_end_a_silent_transfer() {
        let mut s = sender(b"", 5000, SenderConfig::default());
        let ended = run_silent(&mut s, Duration::ZERO, 3600 * S);
        assert_eq!(s.result(), Some(Err(SenderError::TimedOut { retries: 10 })));
        assert!(ended > 15 * S, "{ended:?}");
    }
}
