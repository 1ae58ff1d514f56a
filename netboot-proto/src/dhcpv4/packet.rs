//! The checked view over a received message, and the raw option iterator.
//!
//! Option format and the Pad and End options: [RFC 2132, section 2] and 3.1/3.2; which regions
//! hold options and in what order: [RFC 2131, section 4.1] and [RFC 2132, section 9.3] (overload).
//!
//! [RFC 2132, section 2]: https://www.rfc-editor.org/rfc/rfc2132#section-2
//! [RFC 2131, section 4.1]: https://www.rfc-editor.org/rfc/rfc2131#section-4.1
//! [RFC 2132, section 9.3]: https://www.rfc-editor.org/rfc/rfc2132#section-9.3

use core::net::Ipv4Addr;
use zerocopy::FromBytes;

use super::error::{Error, Region};
use super::header::{Flags, HardwareType, Header, MAGIC_COOKIE, OPTIONS_OFFSET, Op};
use super::option::OptionCode;

/// Offset of `sname` and `file` in the header, for the offsets in errors.
const SNAME_OFFSET: usize = 44;
const FILE_OFFSET: usize = 108;

/// A checked view over the octets of one DHCPv4 message.
///
/// Made only by [`Packet::new_checked`]; see the module documentation for the contract.
#[derive(Clone, Copy)]
pub struct Packet<'a> {
    header: &'a Header,
    options: &'a [u8],
    len: usize,
}

impl<'a> Packet<'a> {
    /// Checks that `bytes` hold a DHCP message: the fixed header, the magic cookie and a
    /// hardware address length that fits `chaddr`. The options are checked as they are read.
    pub fn new_checked(bytes: &'a [u8]) -> Result<Packet<'a>, Error> {
        let truncated = Error::Truncated { len: bytes.len(), need: OPTIONS_OFFSET };
        let (header, rest) = Header::ref_from_prefix(bytes).map_err(|_| truncated)?;
        let (cookie, options) = <[u8; 4]>::ref_from_prefix(rest).map_err(|_| truncated)?;
        if *cookie != MAGIC_COOKIE {
            return Err(Error::BadCookie { found: *cookie });
        }
        if usize::from(header.hlen) > header.chaddr.len() {
            return Err(Error::BadHardwareLength { hlen: header.hlen });
        }
        Ok(Packet { header, options, len: bytes.len() })
    }

    /// The fixed header, as on the wire.
    pub fn header(&self) -> &'a Header {
        self.header
    }

    /// Length of the whole message in octets.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a checked packet holds at least the header and cookie.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// `op`: request or reply.
    pub fn op(&self) -> Op {
        self.header.op.into()
    }

    /// `htype`: the hardware address type.
    pub fn htype(&self) -> HardwareType {
        self.header.htype.into()
    }

    /// `hops`: relay hops so far.
    pub fn hops(&self) -> u8 {
        self.header.hops
    }

    /// `xid`: the transaction id.
    pub fn xid(&self) -> u32 {
        self.header.xid.get()
    }

    /// `secs`: seconds since the client started.
    pub fn secs(&self) -> u16 {
        self.header.secs.get()
    }

    /// `flags`.
    pub fn flags(&self) -> Flags {
        Flags(self.header.flags.get())
    }

    /// `ciaddr`: the client's address when it has one.
    pub fn ciaddr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.header.ciaddr)
    }

    /// `yiaddr`: the address the server gives.
    pub fn yiaddr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.header.yiaddr)
    }

    /// `siaddr`: the next server (TFTP).
    pub fn siaddr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.header.siaddr)
    }

    /// `giaddr`: the relay agent.
    pub fn giaddr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.header.giaddr)
    }

    /// The client hardware address: the first `hlen` octets of `chaddr`.
    pub fn hw_addr(&self) -> &'a [u8] {
        let hlen = usize::from(self.header.hlen);
        self.header.chaddr.get(..hlen).unwrap_or(&self.header.chaddr)
    }

    /// The client's MAC address, when `htype` is Ethernet and `hlen` is 6.
    pub fn mac(&self) -> Option<[u8; 6]> {
        if self.htype() != HardwareType::Ethernet {
            return None;
        }
        self.hw_addr().try_into().ok()
    }

    /// The octets after the magic cookie.
    pub fn options_area(&self) -> &'a [u8] {
        self.options
    }

    /// Every option instance on the wire, in the order [RFC 2131, section 4.1] gives: the option
    /// area, then `file` and `sname` if option 52 overloads them. Pad is skipped; End closes a
    /// region. Repeated and split codes come out once per instance (see [`Packet::option`] for
    /// the joined value).
    ///
    /// [RFC 2131, section 4.1]: https://www.rfc-editor.org/rfc/rfc2131#section-4.1
    pub fn options(&self) -> Options<'a> {
        Options {
            header: self.header,
            region: Region::Options,
            rest: self.options,
            end: OPTIONS_OFFSET + self.options.len(),
            overload: 0,
            done: false,
        }
    }

    /// The overload value of option 52 (1: `file` holds options, 2: `sname`, 3: both), or 0.
    pub fn overload(&self) -> Result<u8, Error> {
        let mut it = self.options();
        // `by_ref()` would hold the iterator borrowed across the region check.
        #[allow(clippy::while_let_on_iterator)]
        while let Some(opt) = it.next() {
            opt?;
            if it.region != Region::Options {
                break;
            }
        }
        Ok(it.overload)
    }

    /// The value of option `code`, with the instances of a split option joined in order
    /// ([RFC 3396, section 7]).
    ///
    /// One instance is returned as it lies in the packet; several are copied, one after the other,
    /// into `scratch`, which must be large enough ([`Error::ScratchTooSmall`] otherwise).
    ///
    /// [RFC 3396, section 7]: https://www.rfc-editor.org/rfc/rfc3396#section-7
    pub fn option<'s>(&self, code: OptionCode, scratch: &'s mut [u8]) -> Result<Option<&'s [u8]>, Error>
    where
        'a: 's,
    {
        let mut first: Option<&'a [u8]> = None;
        let mut count = 0usize;
        let mut need = 0usize;
        for opt in self.options() {
            let opt = opt?;
            if opt.code == code.0 {
                count += 1;
                need += opt.data.len();
                first.get_or_insert(opt.data);
            }
        }
        match (first, count) {
            (None, _) => Ok(None),
            (Some(data), 1) => Ok(Some(data)),
            (Some(_), _) => {
                let have = scratch.len();
                let out = scratch.get_mut(..need).ok_or(Error::ScratchTooSmall { need, have })?;
                let mut at = 0;
                for opt in self.options().flatten().filter(|o| o.code == code.0) {
                    let end = at + opt.data.len();
                    if let Some(dst) = out.get_mut(at..end) {
                        dst.copy_from_slice(opt.data);
                    }
                    at = end;
                }
                Ok(Some(out))
            }
        }
    }
}

impl core::fmt::Debug for Packet<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Packet").field("len", &self.len).field("header", self.header).finish_non_exhaustive()
    }
}

/// One option instance as it lies on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawOption<'a> {
    /// The code octet.
    pub code: u8,
    /// The value: `len` octets after the length octet.
    pub data: &'a [u8],
    /// The region it was found in.
    pub region: Region,
    /// Offset of the code octet from the start of the message.
    pub offset: usize,
}

/// The iterator returned by [`Packet::options`].
///
/// It yields each option instance, or one [`Error`] for malformed structure and then nothing.
#[derive(Debug, Clone)]
pub struct Options<'a> {
    header: &'a Header,
    region: Region,
    /// The unread rest of the current region.
    rest: &'a [u8],
    /// Offset of the current region's end from the start of the message, for error offsets.
    end: usize,
    overload: u8,
    done: bool,
}

impl<'a> Options<'a> {
    /// Moves to the next region that holds options, or ends the iteration.
    fn next_region(&mut self) {
        let next = match self.region {
            Region::Options if self.overload & 1 != 0 => Some((Region::File, self.header.file.as_slice(), FILE_OFFSET)),
            Region::Options | Region::File if self.overload & 2 != 0 => {
                Some((Region::Sname, self.header.sname.as_slice(), SNAME_OFFSET))
            }
            _ => None,
        };
        match next {
            Some((region, bytes, base)) => {
                self.region = region;
                self.rest = bytes;
                self.end = base + bytes.len();
            }
            None => self.done = true,
        }
    }

    fn fail(&mut self, e: Error) -> Option<Result<RawOption<'a>, Error>> {
        self.done = true;
        Some(Err(e))
    }
}

impl<'a> Iterator for Options<'a> {
    type Item = Result<RawOption<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let Some((&code, tail)) = self.rest.split_first() else {
                // The region ended without an End option: RFC 2131 asks for one, but the region's
                // end is unambiguous and many clients pad with zeros instead, so accept it.
                self.next_region();
                continue;
            };
            if code == 0 {
                self.rest = tail;
                continue;
            }
            if code == 255 {
                self.next_region();
                continue;
            }
            let region = self.region;
            let offset = self.end - self.rest.len();
            let Some((&len, tail)) = tail.split_first() else {
                return self.fail(Error::MissingLength { region, offset, code });
            };
            let Some((data, after)) = tail.split_at_checked(usize::from(len)) else {
                let available = tail.len();
                return self.fail(Error::TruncatedOption { region, offset, code, len, available });
            };
            self.rest = after;
            if code == OptionCode::OVERLOAD.0 && region == Region::Options {
                match data {
                    [v @ 1..=3] => self.overload |= v,
                    _ => {
                        let value = data.first().copied().unwrap_or(0);
                        return self.fail(Error::BadOverload { len, value });
                    }
                }
            }
            return Some(Ok(RawOption { code, data, region, offset }));
        }
        None
    }
}

impl core::iter::FusedIterator for Options<'_> {}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A DISCOVER-shaped message: header for MAC 52:54:00:12:34:56, cookie, then `options`.
    pub(crate) fn message(options: &[u8]) -> std::vec::Vec<u8> {
        let mut m = std::vec![0u8; 240];
        m[0] = 1;
        m[1] = 1;
        m[2] = 6;
        m[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
        m[10] = 0x80;
        m[28..34].copy_from_slice(&[0x52, 0x54, 0, 0x12, 0x34, 0x56]);
        m[236..240].copy_from_slice(&MAGIC_COOKIE);
        m.extend_from_slice(options);
        m
    }

    fn codes(p: &Packet<'_>) -> std::vec::Vec<(u8, usize, Region)> {
        p.options().map(|o| o.map(|o| (o.code, o.data.len(), o.region)).unwrap()).collect()
    }

    #[test]
    fn new_checked_refuses_short_bad_cookie_and_long_hlen() {
        assert_eq!(Packet::new_checked(&[0; 239]).unwrap_err(), Error::Truncated { len: 239, need: 240 });
        let mut m = message(&[255]);
        m[236] = 0;
        assert_eq!(Packet::new_checked(&m).unwrap_err(), Error::BadCookie { found: [0, 130, 83, 99] });
        let mut m = message(&[255]);
        m[2] = 17;
        assert_eq!(Packet::new_checked(&m).unwrap_err(), Error::BadHardwareLength { hlen: 17 });
        m[2] = 16;
        assert_eq!(Packet::new_checked(&m).unwrap().hw_addr().len(), 16);
    }

    #[test]
    fn header_accessors_read_network_order() {
        let m = message(&[255]);
        let p = Packet::new_checked(&m).unwrap();
        assert_eq!(p.op(), Op::Request);
        assert_eq!(p.htype(), HardwareType::Ethernet);
        assert_eq!(p.xid(), 0x1234_5678);
        assert!(p.flags().broadcast());
        assert_eq!(p.mac(), Some([0x52, 0x54, 0, 0x12, 0x34, 0x56]));
        assert_eq!(p.len(), 241);
    }

    #[test]
    fn pad_is_skipped_and_end_stops_the_area() {
        let m = message(&[0, 0, 53, 1, 1, 0, 12, 2, b'h', b'i', 255, 53, 1, 3]);
        let p = Packet::new_checked(&m).unwrap();
        assert_eq!(codes(&p), [(53, 1, Region::Options), (12, 2, Region::Options)]);
    }

    #[test]
    fn a_missing_end_is_accepted() {
        let m = message(&[53, 1, 1]);
        assert_eq!(codes(&Packet::new_checked(&m).unwrap()), [(53, 1, Region::Options)]);
    }

    #[test]
    fn truncated_options_are_errors_with_their_offset() {
        let m = message(&[53, 1, 1, 12, 5, b'a']);
        let p = Packet::new_checked(&m).unwrap();
        let all: std::vec::Vec<_> = p.options().collect();
        assert_eq!(all.len(), 2);
        assert_eq!(
            all[1],
            Err(Error::TruncatedOption { region: Region::Options, offset: 243, code: 12, len: 5, available: 1 })
        );
        let m = message(&[53]);
        let p = Packet::new_checked(&m).unwrap();
        assert_eq!(
            p.options().next(),
            Some(Err(Error::MissingLength { region: Region::Options, offset: 240, code: 53 }))
        );
    }

    #[test]
    fn overload_reads_file_then_sname() {
        let mut m = message(&[52, 1, 3, 53, 1, 1, 255]);
        // file (offset 108): option 66; sname (offset 44): option 67.
        m[108..114].copy_from_slice(&[66, 3, b's', b'r', b'v', 255]);
        m[44..50].copy_from_slice(&[67, 3, b'a', b'b', b'c', 255]);
        let p = Packet::new_checked(&m).unwrap();
        assert_eq!(p.overload(), Ok(3));
        assert_eq!(
            codes(&p),
            [(52, 1, Region::Options), (53, 1, Region::Options), (66, 3, Region::File), (67, 3, Region::Sname)]
        );
        let o: std::vec::Vec<_> = p.options().map(|o| o.unwrap().offset).collect();
        assert_eq!(o, [240, 243, 108, 44]);
    }

    #[test]
    fn a_bad_overload_value_is_an_error() {
        let m = message(&[52, 1, 4, 255]);
        let p = Packet::new_checked(&m).unwrap();
        assert_eq!(p.options().next(), Some(Err(Error::BadOverload { len: 1, value: 4 })));
        let m = message(&[52, 2, 1, 1, 255]);
        assert_eq!(Packet::new_checked(&m).unwrap().overload(), Err(Error::BadOverload { len: 2, value: 1 }));
    }

    #[test]
    fn option_joins_split_instances_into_scratch() {
        let m = message(&[12, 2, b'a', b'b', 53, 1, 1, 12, 1, b'c', 255]);
        let p = Packet::new_checked(&m).unwrap();
        let mut scratch = [0u8; 3];
        assert_eq!(p.option(OptionCode::HOST_NAME, &mut scratch), Ok(Some(&b"abc"[..])));
        let mut small = [0u8; 2];
        assert_eq!(p.option(OptionCode::HOST_NAME, &mut small), Err(Error::ScratchTooSmall { need: 3, have: 2 }));
        // One instance is returned in place, without scratch.
        assert_eq!(p.option(OptionCode::MESSAGE_TYPE, &mut []), Ok(Some(&[1u8][..])));
        assert_eq!(p.option(OptionCode::ROUTER, &mut []), Ok(None));
    }
}
