//! Errors: small `Copy` values carrying the offsets, codes and lengths a triager needs.

use core::fmt;

/// Where in a message an option was found ([RFC 2131, section 4.1]: the option area first, then
/// `file`, then `sname`, when option 52 overloads them).
///
/// [RFC 2131, section 4.1]: https://www.rfc-editor.org/rfc/rfc2131#section-4.1
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Region {
    /// The variable-length option area after the magic cookie.
    Options,
    /// The 128-octet `file` field, carrying options (overload 1 or 3).
    File,
    /// The 64-octet `sname` field, carrying options (overload 2 or 3).
    Sname,
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Region::Options => "options",
            Region::File => "file",
            Region::Sname => "sname",
        })
    }
}

/// A fixed header field that can be too long for its place on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// `sname`, 64 octets.
    Sname,
    /// `file`, 128 octets.
    File,
}

/// Why a DHCPv4 message could not be parsed or emitted.
///
/// Offsets are from the first octet of the BOOTP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// Fewer octets than the fixed header and the magic cookie need.
    Truncated {
        /// Octets present.
        len: usize,
        /// Octets needed.
        need: usize,
    },
    /// The four octets after the header are not 99.130.83.99 ([RFC 2131, section 3]); this is a
    /// BOOTP message or not DHCP at all.
    ///
    /// [RFC 2131, section 3]: https://www.rfc-editor.org/rfc/rfc2131#section-3
    BadCookie {
        /// The octets found.
        found: [u8; 4],
    },
    /// `hlen` exceeds the 16 octets of `chaddr`.
    BadHardwareLength {
        /// The `hlen` field.
        hlen: u8,
    },
    /// An option's length octet runs past the end of its region.
    TruncatedOption {
        /// The region holding the option.
        region: Region,
        /// Offset of the option's code octet.
        offset: usize,
        /// The option code.
        code: u8,
        /// The length the option claims.
        len: u8,
        /// Octets left in the region after the length octet.
        available: usize,
    },
    /// An option code octet is the last octet of its region, with no length octet.
    MissingLength {
        /// The region holding the option.
        region: Region,
        /// Offset of the code octet.
        offset: usize,
        /// The option code.
        code: u8,
    },
    /// Option 52 (overload) has a length other than 1 or a value other than 1, 2 or 3
    /// ([RFC 2132, section 9.3]).
    ///
    /// [RFC 2132, section 9.3]: https://www.rfc-editor.org/rfc/rfc2132#section-9.3
    BadOverload {
        /// The option's length.
        len: u8,
        /// Its first value octet, or 0 when it has none.
        value: u8,
    },
    /// More distinct option codes than a [`Repr`](super::Repr) holds.
    TooManyOptions {
        /// The capacity, [`MAX_OPTIONS`](super::MAX_OPTIONS).
        max: usize,
    },
    /// The scratch buffer given to [`Repr::parse`](super::Repr::parse) cannot hold the joined
    /// values of the options split over several instances.
    ScratchTooSmall {
        /// Octets needed in all.
        need: usize,
        /// Octets given.
        have: usize,
    },
    /// The output buffer is shorter than the message.
    BufferTooSmall {
        /// Octets needed.
        need: usize,
        /// Octets given.
        have: usize,
    },
    /// The options do not fit the maximum message length, even with `file` and `sname` overloaded.
    TooLong {
        /// Octets the message would need (without overload).
        need: usize,
        /// The limit.
        max: usize,
    },
    /// Pad (0), End (255) and Overload (52) are structure, not options a `Repr` may carry.
    ReservedCode {
        /// The code.
        code: u8,
    },
    /// A fixed field's value is longer than its place on the wire.
    FieldTooLong {
        /// The field.
        field: Field,
        /// The value's length.
        len: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::Truncated { len, need } => {
                write!(f, "message truncated: {len} octets, the header and cookie need {need}")
            }
            Error::BadCookie { found: [a, b, c, d] } => {
                write!(f, "bad magic cookie {a}.{b}.{c}.{d} (want 99.130.83.99)")
            }
            Error::BadHardwareLength { hlen } => {
                write!(f, "hardware address length {hlen} exceeds the 16 octets of chaddr")
            }
            Error::TruncatedOption { region, offset, code, len, available } => {
                write!(f, "option {code} at offset {offset} ({region} region) claims {len} octets, {available} remain")
            }
            Error::MissingLength { region, offset, code } => {
                write!(f, "option {code} at offset {offset} ({region} region) has no length octet")
            }
            Error::BadOverload { len, value } => {
                write!(f, "option 52 (overload) has length {len} and value {value}; want length 1, value 1-3")
            }
            Error::TooManyOptions { max } => write!(f, "more than {max} distinct options"),
            Error::ScratchTooSmall { need, have } => {
                write!(f, "joining split options needs {need} octets of scratch, {have} given")
            }
            Error::BufferTooSmall { need, have } => {
                write!(f, "buffer of {have} octets, the message needs {need}")
            }
            Error::TooLong { need, max } => {
                write!(f, "message needs {need} octets, more than the limit of {max} even with overload")
            }
            Error::ReservedCode { code } => {
                write!(f, "option code {code} is structure and cannot be emitted as an option")
            }
            Error::FieldTooLong { field, len } => {
                let (name, cap) = match field {
                    Field::Sname => ("sname", 64),
                    Field::File => ("file", 128),
                };
                write!(f, "{name} value of {len} octets exceeds the field's {cap}")
            }
        }
    }
}

impl core::error::Error for Error {}
