//! Laying options out on the wire: splitting long values ([RFC 3396, section 5]), honouring the
//! client's maximum message size ([RFC 2132, section 9.10]) and overflowing into `file` and
//! `sname` with option 52 when the option area is full ([RFC 2131, section 4.1];
//! [RFC 2132, section 9.3]).
//!
//! [RFC 3396, section 5]: https://www.rfc-editor.org/rfc/rfc3396#section-5
//! [RFC 2132, section 9.10]: https://www.rfc-editor.org/rfc/rfc2132#section-9.10
//! [RFC 2131, section 4.1]: https://www.rfc-editor.org/rfc/rfc2131#section-4.1
//! [RFC 2132, section 9.3]: https://www.rfc-editor.org/rfc/rfc2132#section-9.3

use super::error::Error;
use super::header::OPTIONS_OFFSET;
use super::option::DhcpOption;

/// The shortest message recon sends: 300 octets, BOOTP's fixed size ([RFC 951]). Some clients
/// still drop anything shorter (the Linux kernel's own DHCP client does; dnsmasq pads to the
/// same size for that reason), so replies are padded with zeros after End.
///
/// [RFC 951]: https://www.rfc-editor.org/rfc/rfc951
pub const MIN_LEN: usize = 300;

/// The largest message every client accepts: a 576-octet IP datagram less the IP and UDP headers
/// ([RFC 2131, section 2]: a client must accept an option area of at least 312 octets).
///
/// [RFC 2131, section 2]: https://www.rfc-editor.org/rfc/rfc2131#section-2
pub const MIN_MAX_LEN: usize = 576 - 28;

/// The longest DHCP message (BOOTP header to last option) to send to a client that sent option
/// 57 with `max_message_size`, or none.
///
/// RFC 2132 gives 576 as the minimum legal value, the size of the smallest IP datagram every host
/// reassembles, so the value is read as the size of the IP datagram and the IP and UDP headers
/// (28 octets) are taken off, as dnsmasq does. Values below 576 are raised to it.
pub fn max_len_for(max_message_size: Option<u16>) -> usize {
    match max_message_size {
        Some(v) => usize::from(v).max(576) - 28,
        None => MIN_MAX_LEN,
    }
}

/// Octets of option area left for options in each overloaded field: the field less its End.
const FILE_ROOM: usize = 128 - 1;
const SNAME_ROOM: usize = 64 - 1;

/// Calls `f(code, chunk)` for each wire instance of each option: values longer than 255 octets
/// are split into consecutive instances of at most 255 ([RFC 3396, section 5]); an empty value
/// is one instance of length 0.
///
/// [RFC 3396, section 5]: https://www.rfc-editor.org/rfc/rfc3396#section-5
pub(crate) fn for_each_chunk(
    options: &[DhcpOption<'_>],
    mut f: impl FnMut(u8, &[u8]) -> Result<(), Error>,
) -> Result<(), Error> {
    for opt in options {
        let code = opt.code();
        if code.is_structural() {
            return Err(Error::ReservedCode { code: code.0 });
        }
        let wire = opt.wire_data();
        let data = wire.as_slice();
        if data.is_empty() {
            f(code.0, data)?;
        }
        for chunk in data.chunks(255) {
            f(code.0, chunk)?;
        }
    }
    Ok(())
}

/// Where each option instance goes: how many go in the option area, how many in `file`, and the
/// rest in `sname`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Total length of the message, padding included.
    pub(crate) len: usize,
    /// The value of option 52, or 0 for none.
    pub(crate) overload: u8,
    /// Instances in the option area.
    pub(crate) in_options: usize,
    /// Instances in `file` (after those in the option area).
    pub(crate) in_file: usize,
}

impl Plan {
    /// Lays `options` out within `max_len` octets (no limit when `None`). `file_free` and
    /// `sname_free` say whether those fields are empty and may carry options.
    pub(crate) fn new(
        options: &[DhcpOption<'_>],
        max_len: Option<usize>,
        file_free: bool,
        sname_free: bool,
    ) -> Result<Plan, Error> {
        let mut size = 0usize;
        for opt in options {
            let code = opt.code();
            if code.is_structural() {
                return Err(Error::ReservedCode { code: code.0 });
            }
            size += opt.wire_len();
        }
        let natural = OPTIONS_OFFSET + size + 1;
        let unlimited = Plan { len: natural.max(MIN_LEN), overload: 0, in_options: usize::MAX, in_file: 0 };
        let max = match max_len {
            Some(max) if natural > max => max.max(MIN_MAX_LEN),
            _ => return Ok(unlimited),
        };
        if natural <= max {
            return Ok(unlimited);
        }
        // Overload: option 52 (3 octets) first, then as much as fits before End; then `file`,
        // then `sname`. Instances keep their order, so split values stay consecutive.
        let too_long = Error::TooLong { need: natural, max };
        let rooms = [
            max.checked_sub(OPTIONS_OFFSET + 3 + 1).ok_or(too_long)?,
            if file_free { FILE_ROOM } else { 0 },
            if sname_free { SNAME_ROOM } else { 0 },
        ];
        let mut region = 0usize;
        let mut used = [0usize; 3];
        let mut counts = [0usize; 3];
        for_each_chunk(options, |_, chunk| {
            let need = 2 + chunk.len();
            loop {
                let room = *rooms.get(region).ok_or(too_long)?;
                let taken = used.get_mut(region).ok_or(too_long)?;
                if *taken + need <= room {
                    *taken += need;
                    if let Some(c) = counts.get_mut(region) {
                        *c += 1;
                    }
                    return Ok(());
                }
                region += 1;
            }
        })?;
        let [in_options, in_file, in_sname] = counts;
        let overload = u8::from(in_file > 0) | (u8::from(in_sname > 0) << 1);
        let len = (OPTIONS_OFFSET + 3 + used[0] + 1).max(MIN_LEN);
        Ok(Plan { len, overload, in_options, in_file })
    }
}

/// A cursor writing into a region of the output; running past the end is an error, not a panic.
pub(crate) struct Cursor<'b> {
    rest: &'b mut [u8],
    /// Octets written so far and the region's length, for errors.
    written: usize,
    len: usize,
}

impl<'b> Cursor<'b> {
    pub(crate) fn new(buf: &'b mut [u8]) -> Cursor<'b> {
        let len = buf.len();
        Cursor { rest: buf, written: 0, len }
    }

    pub(crate) fn put(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let Some((dst, rest)) = core::mem::take(&mut self.rest).split_at_mut_checked(bytes.len()) else {
            return Err(Error::BufferTooSmall { need: self.written + bytes.len(), have: self.len });
        };
        dst.copy_from_slice(bytes);
        self.rest = rest;
        self.written += bytes.len();
        Ok(())
    }

    /// One option instance: code, length, value (at most 255 octets, as `for_each_chunk` gives).
    pub(crate) fn put_option(&mut self, code: u8, data: &[u8]) -> Result<(), Error> {
        let len = u8::try_from(data.len()).map_err(|_| Error::TooLong { need: data.len(), max: 255 })?;
        let n = 2 + data.len();
        let Some((dst, rest)) = core::mem::take(&mut self.rest).split_at_mut_checked(n) else {
            return Err(Error::BufferTooSmall { need: self.written + n, have: self.len });
        };
        if let [c, l, value @ ..] = dst {
            *c = code;
            *l = len;
            value.copy_from_slice(data);
        }
        self.rest = rest;
        self.written += n;
        Ok(())
    }
}

/// Writes one option, its value split into instances of at most 255 octets; fixed-size values
/// are encoded straight into the output.
#[inline(always)]
pub(crate) fn put_dhcp_option(out: &mut Cursor<'_>, opt: &DhcpOption<'_>) -> Result<(), Error> {
    let (code, data): (u8, &[u8]) = match *opt {
        DhcpOption::SubnetMask(a) => return out.put_option(1, &a.octets()),
        DhcpOption::BroadcastAddress(a) => return out.put_option(28, &a.octets()),
        DhcpOption::RequestedIp(a) => return out.put_option(50, &a.octets()),
        DhcpOption::ServerId(a) => return out.put_option(54, &a.octets()),
        DhcpOption::LeaseTime(s) => return out.put_option(51, &s.to_be_bytes()),
        DhcpOption::RenewalTime(s) => return out.put_option(58, &s.to_be_bytes()),
        DhcpOption::RebindingTime(s) => return out.put_option(59, &s.to_be_bytes()),
        DhcpOption::MessageType(t) => return out.put_option(53, &[u8::from(t)]),
        DhcpOption::MaxMessageSize(s) => return out.put_option(57, &s.to_be_bytes()),
        DhcpOption::ClientNdi(n) => return out.put_option(94, &[n.kind, n.major, n.minor]),
        DhcpOption::ClientMachineId(id) => {
            let mut v = [0u8; 17];
            for (d, s) in v.iter_mut().skip(1).zip(id.guid) {
                *d = s;
            }
            return out.put_option(97, &v);
        }
        DhcpOption::Router(l) => (3, l.as_bytes()),
        DhcpOption::DomainNameServer(l) => (6, l.as_bytes()),
        DhcpOption::ClientArch(l) => (93, l.as_bytes()),
        DhcpOption::HostName(b) => (12, b),
        DhcpOption::DomainName(b) => (15, b),
        DhcpOption::VendorSpecific(b) => (43, b),
        DhcpOption::ParameterRequestList(b) => (55, b),
        DhcpOption::VendorClass(b) => (60, b),
        DhcpOption::ClientId(b) => (61, b),
        DhcpOption::TftpServerName(b) => (66, b),
        DhcpOption::BootfileName(b) => (67, b),
        DhcpOption::UserClass(b) => (77, b),
        DhcpOption::RelayAgentInfo(b) => (82, b),
        DhcpOption::Ipxe(b) => (175, b),
        DhcpOption::Other { code, data } => (code, data),
    };
    if data.len() <= 255 {
        return out.put_option(code, data);
    }
    for chunk in data.chunks(255) {
        out.put_option(code, chunk)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_len_for_reads_option_57_as_an_ip_datagram_size() {
        assert_eq!(max_len_for(None), 548);
        assert_eq!(max_len_for(Some(1472)), 1444);
        assert_eq!(max_len_for(Some(1500)), 1472);
        // Below the legal minimum: every client accepts 576.
        assert_eq!(max_len_for(Some(300)), 548);
    }

    #[test]
    fn cursor_refuses_to_run_past_its_buffer() {
        let mut b = [0u8; 3];
        let mut c = Cursor::new(&mut b);
        assert_eq!(c.put(&[1, 2]), Ok(()));
        assert_eq!(c.put(&[3, 4]), Err(Error::BufferTooSmall { need: 4, have: 3 }));
        assert_eq!(c.put_option(1, &[0; 256]), Err(Error::TooLong { need: 256, max: 255 }));
    }
}
