//! Request options and their negotiation: the extension mechanism ([RFC 2347]), `blksize`
//! ([RFC 2348]), `timeout` and `tsize` ([RFC 2349]), `windowsize` ([RFC 7440]).
//!
//! Option names are compared without regard to case, values are decimal ASCII. A server answers
//! only the options it accepts, in an OACK; options it does not know or whose values are out of
//! range are left out, which tells the client they are not in effect ([RFC 2347, section
//! "Negotiation Protocol"]).
//!
//! [RFC 2347]: https://www.rfc-editor.org/rfc/rfc2347
//! [RFC 2348]: https://www.rfc-editor.org/rfc/rfc2348
//! [RFC 2349]: https://www.rfc-editor.org/rfc/rfc2349
//! [RFC 7440]: https://www.rfc-editor.org/rfc/rfc7440
//! [RFC 2347, section "Negotiation Protocol"]: https://www.rfc-editor.org/rfc/rfc2347#page-3

use core::fmt::Write as _;

use super::packet::ParseError;
use super::{BLKSIZE_RANGE, Cursor, DEFAULT_BLKSIZE, ETHERNET_BLKSIZE};

/// The longest `timeout` a server acknowledges, in seconds ([RFC 2349]); a client asking for
/// more gets no `timeout` in the OACK, and the server's own retransmission timer applies.
///
/// Why 5: it is the interval tftp-hpa and atftp retransmit at by default, and far above any LAN
/// round trip. RFC 2349 allows up to 255 s, and the value sets how long a silent client keeps
/// the sender waiting (255 s through the retries is over 8 minutes, a transfer slot held per
/// spoofed request); 5 s keeps a few of the client's own retransmissions inside the server's
/// idle limit.
///
/// [RFC 2349]: https://www.rfc-editor.org/rfc/rfc2349
pub const MAX_TIMEOUT: u8 = 5;

/// A validated list of options: name, NUL, value, NUL, repeated; borrowed from the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OptionList<'a> {
    raw: &'a [u8],
}

/// One option: name and value, as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TftpOption<'a> {
    /// The name (compare with [`TftpOption::is`]).
    pub name: &'a [u8],
    /// The value.
    pub value: &'a [u8],
}

impl TftpOption<'_> {
    /// Whether the name is `name`, ignoring ASCII case.
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name.as_bytes())
    }

    /// The value as a decimal number, or `None`.
    pub fn number(&self) -> Option<u64> {
        if self.value.is_empty() || self.value.len() > 19 {
            return None;
        }
        let mut v = 0u64;
        for &d in self.value {
            let digit = d.wrapping_sub(b'0');
            if digit > 9 {
                return None;
            }
            v = v * 10 + u64::from(digit);
        }
        Some(v)
    }
}

impl<'a> OptionList<'a> {
    /// Checks `raw` (found at `offset` in the packet, for errors). Trailing NUL octets after the
    /// last pair are padding some PXE ROMs add, and are dropped.
    pub(crate) fn parse(raw: &'a [u8], offset: usize) -> Result<OptionList<'a>, ParseError> {
        let mut rest = raw;
        let mut valid = 0;
        while !rest.is_empty() {
            if rest.iter().all(|&b| b == 0) {
                break;
            }
            let at = offset + valid;
            let name_end = rest.iter().position(|&b| b == 0).ok_or(ParseError::BadOptions { offset: at })?;
            let after_name = rest.get(name_end + 1..).unwrap_or(&[]);
            let value_at = at + name_end + 1;
            let value_end =
                after_name.iter().position(|&b| b == 0).ok_or(ParseError::BadOptions { offset: value_at })?;
            let pair = name_end + 1 + value_end + 1;
            valid += pair;
            rest = rest.get(pair..).unwrap_or(&[]);
        }
        Ok(OptionList { raw: raw.get(..valid).unwrap_or(&[]) })
    }

    /// A list from bytes already in wire form (as [`Negotiation::write_oack_options`] writes).
    pub fn from_wire(raw: &'a [u8]) -> Result<OptionList<'a>, ParseError> {
        Self::parse(raw, 0)
    }

    /// The octets on the wire.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }

    /// The options in order.
    pub fn iter(&self) -> OptionIter<'a> {
        OptionIter { rest: self.raw }
    }

    /// The first option named `name` (any case).
    pub fn get(&self, name: &str) -> Option<TftpOption<'a>> {
        self.iter().find(|o| o.is(name))
    }
}

/// The iterator of [`OptionList::iter`].
#[derive(Debug, Clone)]
pub struct OptionIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for OptionIter<'a> {
    type Item = TftpOption<'a>;

    fn next(&mut self) -> Option<TftpOption<'a>> {
        let n = self.rest.iter().position(|&b| b == 0)?;
        let (name, after) = self.rest.split_at(n);
        let after = after.get(1..)?;
        let v = after.iter().position(|&b| b == 0)?;
        let (value, after) = after.split_at(v);
        self.rest = after.get(1..).unwrap_or(&[]);
        Some(TftpOption { name, value })
    }
}

/// What a server allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest block: what fits the path MTU ([`super::blksize_for_mtu`]); 1468 on Ethernet.
    pub max_blksize: u16,
    /// The largest window ([RFC 7440]); a client's larger request is answered with this.
    ///
    /// [RFC 7440]: https://www.rfc-editor.org/rfc/rfc7440
    pub max_windowsize: u16,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_blksize: ETHERNET_BLKSIZE, max_windowsize: 64 }
    }
}

/// The outcome of negotiating a read request's options: the values in effect, and which ones
/// go into the OACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiation {
    /// The block size in effect.
    pub blksize: u16,
    /// The window size in effect (1 = lock-step, RFC 1350).
    pub windowsize: u16,
    /// The retransmission timeout the client asked for, in seconds, if accepted.
    pub timeout: Option<u8>,
    /// The file size, when the client asked for `tsize`.
    pub tsize: Option<u64>,
    /// Whether `blksize` and `windowsize` were accepted (and go into the OACK).
    blksize_acked: bool,
    windowsize_acked: bool,
}

impl Negotiation {
    /// Negotiates `options` of a read request for a file of `file_size` octets.
    ///
    /// `blksize` outside 8-65464 is ignored (RFC 2348); `timeout` outside 1-[`MAX_TIMEOUT`] is
    /// ignored (see below); a larger `blksize` or `windowsize` than the limits is answered with
    /// the limit; `tsize` is answered with the real size. Unknown options are ignored.
    pub fn for_read(options: OptionList<'_>, file_size: u64, limits: &Limits) -> Negotiation {
        let mut n = Negotiation {
            blksize: DEFAULT_BLKSIZE,
            windowsize: 1,
            timeout: None,
            tsize: None,
            blksize_acked: false,
            windowsize_acked: false,
        };
        let (mut seen_blk, mut seen_win, mut seen_to, mut seen_ts) = (false, false, false, false);
        for o in options.iter() {
            if o.is("blksize") && !core::mem::replace(&mut seen_blk, true) {
                if let Some(v) = o.number().and_then(|v| u16::try_from(v).ok()).filter(|v| BLKSIZE_RANGE.contains(v)) {
                    n.blksize = v.min(limits.max_blksize.max(*BLKSIZE_RANGE.start()));
                    n.blksize_acked = true;
                }
            } else if o.is("windowsize") && !core::mem::replace(&mut seen_win, true) {
                if let Some(v) = o.number().and_then(|v| u16::try_from(v).ok()).filter(|&v| v >= 1) {
                    n.windowsize = v.min(limits.max_windowsize.max(1));
                    n.windowsize_acked = true;
                }
            } else if o.is("timeout") && !core::mem::replace(&mut seen_to, true) {
                // RFC 2349, "Timeout Interval Option": the OACK must carry the client's value
                // unchanged, so a value cannot be lowered, only refused; one above the server's
                // maximum is left out of the OACK, which says it is not in effect (RFC 2347,
                // "Negotiation Protocol"), and the server's own timer policy applies.
                n.timeout = o.number().and_then(|v| u8::try_from(v).ok()).filter(|v| (1..=MAX_TIMEOUT).contains(v));
            } else if o.is("tsize") && !core::mem::replace(&mut seen_ts, true) {
                // A reader sends 0; answer with the real size whatever it sent.
                n.tsize = o.number().map(|_| file_size);
            }
        }
        n
    }

    /// Whether the reply starts with an OACK (some option was accepted) rather than data.
    pub fn has_oack(&self) -> bool {
        self.blksize_acked || self.windowsize_acked || self.timeout.is_some() || self.tsize.is_some()
    }

    /// Writes the OACK's option list into `buf` and returns it.
    pub fn write_oack_options<'b>(&self, buf: &'b mut [u8]) -> Result<OptionList<'b>, ParseError> {
        let have = buf.len();
        let mut w = Cursor { buf, len: 0 };
        let short = ParseError::BufferTooSmall { need: have + 1, have };
        if self.blksize_acked {
            write!(w, "blksize\0{}\0", self.blksize).map_err(|_| short)?;
        }
        if let Some(t) = self.timeout {
            write!(w, "timeout\0{t}\0").map_err(|_| short)?;
        }
        if let Some(s) = self.tsize {
            write!(w, "tsize\0{s}\0").map_err(|_| short)?;
        }
        if self.windowsize_acked {
            write!(w, "windowsize\0{}\0", self.windowsize).map_err(|_| short)?;
        }
        let Cursor { buf, len } = w;
        OptionList::from_wire(buf.get(..len).unwrap_or(&[]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(raw: &[u8]) -> OptionList<'_> {
        OptionList::from_wire(raw).unwrap()
    }

    #[test]
    fn names_are_case_insensitive_and_first_wins() {
        let l = list(b"BlkSize\x001024\x00blksize\x00512\x00");
        assert_eq!(l.get("blksize").and_then(|o| o.number()), Some(1024));
        let n = Negotiation::for_read(l, 10, &Limits::default());
        assert_eq!(n.blksize, 1024);
    }

    #[test]
    fn negotiation_clamps_and_answers_tsize() {
        let l = list(b"blksize\x0065464\x00tsize\x000\x00timeout\x005\x00windowsize\x00100\x00x-unknown\x001\x00");
        let n = Negotiation::for_read(l, 850_528, &Limits { max_blksize: 1468, max_windowsize: 16 });
        assert_eq!((n.blksize, n.windowsize, n.timeout, n.tsize), (1468, 16, Some(5), Some(850_528)));
        let mut buf = [0u8; 128];
        let oack = n.write_oack_options(&mut buf).unwrap();
        assert_eq!(oack.as_bytes(), b"blksize\x001468\x00timeout\x005\x00tsize\x00850528\x00windowsize\x0016\x00");
    }

    #[test]
    fn out_of_range_values_are_left_out() {
        let l = list(b"blksize\x007\x00timeout\x000\x00windowsize\x000\x00tsize\x00x\x00");
        let n = Negotiation::for_read(l, 1, &Limits::default());
        assert_eq!((n.blksize, n.windowsize, n.timeout, n.tsize), (512, 1, None, None));
        assert!(!n.has_oack());
        let l = list(b"blksize\x0065465\x00timeout\x00256\x00");
        assert!(!Negotiation::for_read(l, 1, &Limits::default()).has_oack());
    }

    #[test]
    fn a_timeout_above_the_maximum_is_left_out_of_the_oack() {
        // A hostile client's timeout=255 would hold a transfer slot for minutes: not
        // acknowledged, and the other options are still negotiated as before.
        for asked in [6u64, 30, 255] {
            let raw = std::format!("timeout\0{asked}\0tsize\x000\0blksize\x001468\0");
            let n = Negotiation::for_read(list(raw.as_bytes()), 70_000, &Limits::default());
            assert_eq!((n.timeout, n.tsize, n.blksize), (None, Some(70_000), 1468), "timeout={asked}");
            let mut buf = [0u8; 128];
            let oack = n.write_oack_options(&mut buf).unwrap();
            assert_eq!(oack.as_bytes(), b"blksize\x001468\x00tsize\x0070000\x00", "timeout={asked}");
            assert!(oack.get("timeout").is_none());
        }
        // Alone, it leaves no OACK at all: the transfer starts with data, as RFC 1350's.
        assert!(!Negotiation::for_read(list(b"timeout\x00255\x00"), 1, &Limits::default()).has_oack());
        // Up to the maximum, the client's value is echoed unchanged (RFC 2349).
        for asked in 1..=MAX_TIMEOUT {
            let raw = std::format!("timeout\0{asked}\0");
            let n = Negotiation::for_read(list(raw.as_bytes()), 1, &Limits::default());
            assert_eq!(n.timeout, Some(asked));
            let mut buf = [0u8; 32];
            assert_eq!(n.write_oack_options(&mut buf).unwrap().as_bytes(), raw.as_bytes());
        }
    }

    #[test]
    fn a_small_buffer_is_an_error() {
        let n = Negotiation::for_read(list(b"tsize\x000\x00"), 123_456_789, &Limits::default());
        let mut buf = [0u8; 8];
        assert!(n.write_oack_options(&mut buf).is_err());
    }
}
