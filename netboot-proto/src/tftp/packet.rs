//! TFTP packets ([RFC 1350, section 5]) and the option acknowledgement ([RFC 2347]).
//!
//! ```text
//!  RRQ/WRQ | 01/02 | filename | 0 | mode | 0 | opt1 | 0 | value1 | 0 | ...
//!  DATA    | 03    | block #  | data (0 to blksize octets)
//!  ACK     | 04    | block #
//!  ERROR   | 05    | code     | message | 0
//!  OACK    | 06    | opt1 | 0 | value1 | 0 | ...
//! ```
//!
//! [RFC 1350, section 5]: https://www.rfc-editor.org/rfc/rfc1350#section-5
//! [RFC 2347]: https://www.rfc-editor.org/rfc/rfc2347

use core::fmt;

use super::options::OptionList;

/// The opcode, the first two octets of every packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Opcode {
    /// 1, read request.
    Rrq,
    /// 2, write request.
    Wrq,
    /// 3, data.
    Data,
    /// 4, acknowledgement.
    Ack,
    /// 5, error.
    Error,
    /// 6, option acknowledgement ([RFC 2347](https://www.rfc-editor.org/rfc/rfc2347)).
    Oack,
}

impl Opcode {
    fn from_u16(v: u16) -> Option<Opcode> {
        Some(match v {
            1 => Opcode::Rrq,
            2 => Opcode::Wrq,
            3 => Opcode::Data,
            4 => Opcode::Ack,
            5 => Opcode::Error,
            6 => Opcode::Oack,
            _ => return None,
        })
    }

    fn to_u16(self) -> u16 {
        match self {
            Opcode::Rrq => 1,
            Opcode::Wrq => 2,
            Opcode::Data => 3,
            Opcode::Ack => 4,
            Opcode::Error => 5,
            Opcode::Oack => 6,
        }
    }
}

/// An error code ([RFC 1350, appendix]; 8 from [RFC 2347]). Every value is data; the constants
/// name the defined ones.
///
/// [RFC 1350, appendix]: https://www.rfc-editor.org/rfc/rfc1350#appendix-I
/// [RFC 2347]: https://www.rfc-editor.org/rfc/rfc2347
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorCode(pub u16);

impl ErrorCode {
    /// 0: not defined, see the message.
    pub const NOT_DEFINED: ErrorCode = ErrorCode(0);
    /// 1: file not found.
    pub const FILE_NOT_FOUND: ErrorCode = ErrorCode(1);
    /// 2: access violation.
    pub const ACCESS_VIOLATION: ErrorCode = ErrorCode(2);
    /// 3: disk full or allocation exceeded.
    pub const DISK_FULL: ErrorCode = ErrorCode(3);
    /// 4: illegal TFTP operation.
    pub const ILLEGAL_OPERATION: ErrorCode = ErrorCode(4);
    /// 5: unknown transfer ID.
    pub const UNKNOWN_TID: ErrorCode = ErrorCode(5);
    /// 6: file already exists.
    pub const FILE_EXISTS: ErrorCode = ErrorCode(6);
    /// 7: no such user.
    pub const NO_SUCH_USER: ErrorCode = ErrorCode(7);
    /// 8: option negotiation refused ([RFC 2347](https://www.rfc-editor.org/rfc/rfc2347)).
    pub const OPTION_REFUSED: ErrorCode = ErrorCode(8);
}

/// The transfer mode of a request, as sent; compared without regard to case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mode<'a>(pub &'a [u8]);

impl Mode<'_> {
    /// `octet`: bytes as they are.
    pub fn is_octet(&self) -> bool {
        self.0.eq_ignore_ascii_case(b"octet")
    }

    /// `netascii`: 8-bit ASCII with CR LF line ends ([RFC 764]).
    ///
    /// [RFC 764]: https://www.rfc-editor.org/rfc/rfc764
    pub fn is_netascii(&self) -> bool {
        self.0.eq_ignore_ascii_case(b"netascii")
    }
}

/// Why bytes are not a TFTP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseError {
    /// Shorter than the opcode and fixed fields need.
    TooShort {
        /// Octets present.
        len: usize,
        /// Octets needed.
        need: usize,
    },
    /// An opcode outside 1-6.
    UnknownOpcode {
        /// The opcode.
        opcode: u16,
    },
    /// A request's file name or mode has no terminating NUL.
    Unterminated {
        /// Offset where the unterminated string starts.
        offset: usize,
    },
    /// An option list has a name without a value, or a string without its NUL.
    BadOptions {
        /// Offset of the first octet that does not fit.
        offset: usize,
    },
    /// The output buffer is shorter than the packet.
    BufferTooSmall {
        /// Octets needed.
        need: usize,
        /// Octets given.
        have: usize,
    },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ParseError::TooShort { len, need } => write!(f, "TFTP packet of {len} octets, at least {need} needed"),
            ParseError::UnknownOpcode { opcode } => write!(f, "unknown TFTP opcode {opcode}"),
            ParseError::Unterminated { offset } => write!(f, "string at offset {offset} has no terminating NUL"),
            ParseError::BadOptions { offset } => write!(f, "malformed option list at offset {offset}"),
            ParseError::BufferTooSmall { need, have } => write!(f, "buffer of {have} octets, the packet needs {need}"),
        }
    }
}

impl core::error::Error for ParseError {}

/// One TFTP packet, borrowing its strings and data from the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packet<'a> {
    /// Read request.
    Rrq {
        /// The file name, as sent (not necessarily UTF-8).
        filename: &'a [u8],
        /// The mode.
        mode: Mode<'a>,
        /// Options ([RFC 2347](https://www.rfc-editor.org/rfc/rfc2347)).
        options: OptionList<'a>,
    },
    /// Write request.
    Wrq {
        /// The file name.
        filename: &'a [u8],
        /// The mode.
        mode: Mode<'a>,
        /// Options.
        options: OptionList<'a>,
    },
    /// A data block.
    Data {
        /// The block number (wraps after 65535).
        block: u16,
        /// The data; shorter than the block size only in the last block.
        data: &'a [u8],
    },
    /// An acknowledgement.
    Ack {
        /// The block acknowledged; 0 acknowledges an OACK.
        block: u16,
    },
    /// An error, ending the transfer.
    Error {
        /// The code.
        code: ErrorCode,
        /// The message (without its NUL; a missing NUL is tolerated).
        message: &'a [u8],
    },
    /// An option acknowledgement.
    Oack {
        /// The options the server accepted, with the values it uses.
        options: OptionList<'a>,
    },
}

/// Splits `bytes` at its first NUL: (the string, the rest after the NUL).
fn cstr(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let nul = bytes.iter().position(|&b| b == 0)?;
    let (s, rest) = bytes.split_at(nul);
    Some((s, rest.get(1..).unwrap_or(&[])))
}

impl<'a> Packet<'a> {
    /// Parses one datagram.
    pub fn parse(bytes: &'a [u8]) -> Result<Packet<'a>, ParseError> {
        let [a, b, rest @ ..] = bytes else {
            return Err(ParseError::TooShort { len: bytes.len(), need: 2 });
        };
        let raw = u16::from_be_bytes([*a, *b]);
        let opcode = Opcode::from_u16(raw).ok_or(ParseError::UnknownOpcode { opcode: raw })?;
        let fixed = |rest: &'a [u8]| match rest {
            [x, y, tail @ ..] => Ok((u16::from_be_bytes([*x, *y]), tail)),
            _ => Err(ParseError::TooShort { len: bytes.len(), need: 4 }),
        };
        Ok(match opcode {
            Opcode::Rrq | Opcode::Wrq => {
                let (filename, after) = cstr(rest).ok_or(ParseError::Unterminated { offset: 2 })?;
                let mode_at = bytes.len() - after.len();
                let (mode, after) = cstr(after).ok_or(ParseError::Unterminated { offset: mode_at })?;
                let options_at = bytes.len() - after.len();
                let options = OptionList::parse(after, options_at)?;
                let mode = Mode(mode);
                if opcode == Opcode::Rrq {
                    Packet::Rrq { filename, mode, options }
                } else {
                    Packet::Wrq { filename, mode, options }
                }
            }
            Opcode::Data => {
                let (block, data) = fixed(rest)?;
                Packet::Data { block, data }
            }
            Opcode::Ack => Packet::Ack { block: fixed(rest)?.0 },
            Opcode::Error => {
                let (code, msg) = fixed(rest)?;
                let message = cstr(msg).map_or(msg, |(m, _)| m);
                Packet::Error { code: ErrorCode(code), message }
            }
            Opcode::Oack => Packet::Oack { options: OptionList::parse(rest, 2)? },
        })
    }

    /// The opcode.
    pub fn opcode(&self) -> Opcode {
        match self {
            Packet::Rrq { .. } => Opcode::Rrq,
            Packet::Wrq { .. } => Opcode::Wrq,
            Packet::Data { .. } => Opcode::Data,
            Packet::Ack { .. } => Opcode::Ack,
            Packet::Error { .. } => Opcode::Error,
            Packet::Oack { .. } => Opcode::Oack,
        }
    }

    /// The exact number of octets [`Packet::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        match self {
            Packet::Rrq { filename, mode, options } | Packet::Wrq { filename, mode, options } => {
                2 + filename.len() + 1 + mode.0.len() + 1 + options.as_bytes().len()
            }
            Packet::Data { data, .. } => 4 + data.len(),
            Packet::Ack { .. } => 4,
            Packet::Error { message, .. } => 4 + message.len() + 1,
            Packet::Oack { options } => 2 + options.as_bytes().len(),
        }
    }

    /// Writes the packet into the start of `buf` and returns its length.
    ///
    /// A file name, mode or error message holding a NUL cannot be represented: the receiver will
    /// read up to the NUL.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, ParseError> {
        let len = self.buffer_len();
        let have = buf.len();
        let out = buf.get_mut(..len).ok_or(ParseError::BufferTooSmall { need: len, have })?;
        let (op, body) = out.split_at_mut(2);
        op.copy_from_slice(&self.opcode().to_u16().to_be_bytes());
        let mut w = Writer(body);
        match self {
            Packet::Rrq { filename, mode, options } | Packet::Wrq { filename, mode, options } => {
                w.put(filename);
                w.put(&[0]);
                w.put(mode.0);
                w.put(&[0]);
                w.put(options.as_bytes());
            }
            Packet::Data { block, data } => {
                w.put(&block.to_be_bytes());
                w.put(data);
            }
            Packet::Ack { block } => w.put(&block.to_be_bytes()),
            Packet::Error { code, message } => {
                w.put(&code.0.to_be_bytes());
                w.put(message);
                w.put(&[0]);
            }
            Packet::Oack { options } => w.put(options.as_bytes()),
        }
        Ok(len)
    }
}

/// Writes consecutive slices into a buffer sized by `buffer_len` beforehand.
struct Writer<'b>(&'b mut [u8]);

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let buf = core::mem::take(&mut self.0);
        if let Some((dst, rest)) = buf.split_at_mut_checked(bytes.len()) {
            dst.copy_from_slice(bytes);
            self.0 = rest;
        }
    }
}

/// Writes the 4-octet header of a DATA packet; the caller reads the block's data into the
/// octets after it (straight from the file, with no copy in between).
pub fn data_header(block: u16) -> [u8; 4] {
    let [hi, lo] = block.to_be_bytes();
    [0, 3, hi, lo]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(bytes: &[u8]) -> Packet<'_> {
        let p = Packet::parse(bytes).unwrap();
        let mut out = [0xa5u8; 600];
        let n = p.emit(&mut out).unwrap();
        assert_eq!(n, p.buffer_len());
        assert_eq!(&out[..n], bytes, "{p:?} is not byte-exact");
        p
    }

    #[test]
    fn parses_and_emits_every_opcode() {
        let rrq = round(b"\x00\x01undionly.kpxe\x00octet\x00blksize\x001468\x00tsize\x000\x00");
        let Packet::Rrq { filename, mode, options } = rrq else { panic!() };
        assert_eq!(filename, b"undionly.kpxe");
        assert!(mode.is_octet());
        assert_eq!(options.iter().count(), 2);
        assert!(matches!(round(b"\x00\x02up\x00NetASCII\x00"), Packet::Wrq { mode, .. } if mode.is_netascii()));
        assert_eq!(round(b"\x00\x03\x00\x07abc"), Packet::Data { block: 7, data: b"abc" });
        assert_eq!(round(b"\x00\x03\xff\xff"), Packet::Data { block: 65535, data: b"" });
        assert_eq!(round(b"\x00\x04\x00\x00"), Packet::Ack { block: 0 });
        assert_eq!(
            round(b"\x00\x05\x00\x01no such file\x00"),
            Packet::Error { code: ErrorCode::FILE_NOT_FOUND, message: b"no such file" }
        );
        assert!(matches!(round(b"\x00\x06blksize\x001468\x00"), Packet::Oack { .. }));
        assert!(matches!(round(b"\x00\x06"), Packet::Oack { options } if options.iter().count() == 0));
    }

    #[test]
    fn malformed_packets_are_errors() {
        assert_eq!(Packet::parse(b""), Err(ParseError::TooShort { len: 0, need: 2 }));
        assert_eq!(Packet::parse(b"\x00\x09"), Err(ParseError::UnknownOpcode { opcode: 9 }));
        assert_eq!(Packet::parse(b"\x00\x04\x00"), Err(ParseError::TooShort { len: 3, need: 4 }));
        assert_eq!(Packet::parse(b"\x00\x01file"), Err(ParseError::Unterminated { offset: 2 }));
        assert_eq!(Packet::parse(b"\x00\x01file\x00octet"), Err(ParseError::Unterminated { offset: 7 }));
        assert_eq!(Packet::parse(b"\x00\x01f\x00octet\x00blksize\x00"), Err(ParseError::BadOptions { offset: 18 }));
        assert_eq!(Packet::parse(b"\x00\x01f\x00octet\x00blksize\x00512"), Err(ParseError::BadOptions { offset: 18 }));
    }

    #[test]
    fn error_messages_without_nul_are_tolerated() {
        let p = Packet::parse(b"\x00\x05\x00\x00busy").unwrap();
        assert_eq!(p, Packet::Error { code: ErrorCode::NOT_DEFINED, message: b"busy" });
    }

    #[test]
    fn nul_padding_after_the_options_is_tolerated() {
        // Some PXE ROMs pad requests with zeros.
        let p = Packet::parse(b"\x00\x01f\x00octet\x00tsize\x000\x00\x00\x00\x00").unwrap();
        let Packet::Rrq { options, .. } = p else { panic!() };
        assert_eq!(options.as_bytes(), b"tsize\x000\x00");
    }

    #[test]
    fn emit_refuses_short_buffers() {
        let mut out = [0u8; 3];
        assert_eq!(Packet::Ack { block: 1 }.emit(&mut out), Err(ParseError::BufferTooSmall { need: 4, have: 3 }));
        assert_eq!(data_header(0x1234), [0, 3, 0x12, 0x34]);
    }
}
