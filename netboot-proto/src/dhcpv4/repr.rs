//! The parsed meaning of a message, and the builder of replies.
//!
//! Fields: [RFC 2131, section 2]. Fields of server replies: [RFC 2131, section 4.3.1], table 3.
//! Joining split options: [RFC 3396, section 7].
//!
//! [RFC 2131, section 2]: https://www.rfc-editor.org/rfc/rfc2131#section-2
//! [RFC 2131, section 4.3.1]: https://www.rfc-editor.org/rfc/rfc2131#section-4.3.1
//! [RFC 3396, section 7]: https://www.rfc-editor.org/rfc/rfc3396#section-7

use core::net::Ipv4Addr;
use zerocopy::FromBytes;

use super::error::{Error, Field, Region};
use super::header::{Flags, HardwareType, Header, MAGIC_COOKIE, OPTIONS_OFFSET, Op};
use super::option::{ArchList, ClientMachineId, ClientNdi, DhcpOption, MessageType, OptionCode};
use super::packet::Packet;
use super::pxe::{IpxeOptions, RelayAgentInfo, Suboptions, UserClass, VendorClass};
use super::writer::{Cursor, Plan, for_each_chunk, put_dhcp_option};

/// How many distinct options a [`Repr`] holds. Real clients send 5 to 15 (PXE ROMs, iPXE, UEFI,
/// Windows, dhclient, dhcpcd); a message with more distinct codes than this is refused with
/// [`Error::TooManyOptions`]. The list lives inline in the `Repr` (24 octets an option), so the
/// capacity is also what every move of a `Repr` copies.
pub const MAX_OPTIONS: usize = 32;

/// The options of a [`Repr`], in wire order of first appearance.
pub type OptionList<'a> = heapless::Vec<DhcpOption<'a>, MAX_OPTIONS, u8>;

/// A DHCPv4 message: header fields and options, borrowing variable-length values from the packet
/// (or from the scratch buffer that holds joined split options).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repr<'a> {
    /// Request or reply.
    pub op: Op,
    /// Hardware address type.
    pub htype: HardwareType,
    /// Hardware address length (at most 16).
    pub hlen: u8,
    /// Relay hops.
    pub hops: u8,
    /// Transaction id.
    pub xid: u32,
    /// Seconds since the client started.
    pub secs: u16,
    /// Flags (BROADCAST).
    pub flags: Flags,
    /// Client address (when bound).
    pub ciaddr: Ipv4Addr,
    /// "Your" address.
    pub yiaddr: Ipv4Addr,
    /// Next server.
    pub siaddr: Ipv4Addr,
    /// Relay agent.
    pub giaddr: Ipv4Addr,
    /// All 16 octets of `chaddr`, padding included (see [`Repr::hw_addr`]).
    pub chaddr: [u8; 16],
    /// Server host name: the octets before the first NUL (the whole 64 if there is none); empty
    /// when the field carries options.
    pub sname: &'a [u8],
    /// Boot file name: the octets before the first NUL (the whole 128 if there is none); empty
    /// when the field carries options.
    pub file: &'a [u8],
    /// The options in order of first appearance: the option area, then `file`, then `sname`.
    /// Each code appears once, its split instances joined; Pad, End and Overload are structure
    /// and never appear.
    pub options: OptionList<'a>,
}

/// A set of option codes, one bit each.
#[derive(Default, Clone, Copy)]
struct CodeSet([u64; 4]);

impl CodeSet {
    /// Adds `code`; true if it was not there.
    fn insert(&mut self, code: u8) -> bool {
        let bit = 1u64 << (code & 63);
        match self.0.get_mut(usize::from(code >> 6)) {
            Some(word) => {
                let new = *word & bit == 0;
                *word |= bit;
                new
            }
            None => false,
        }
    }

    fn contains(&self, code: u8) -> bool {
        self.0.get(usize::from(code >> 6)).is_some_and(|w| w & (1u64 << (code & 63)) != 0)
    }

    fn is_empty(&self) -> bool {
        self.0 == [0; 4]
    }
}

/// The octets of a NUL-terminated field before its first NUL.
fn until_nul(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    field.get(..end).unwrap_or(field)
}

/// Typed accessors: the first option of a variant, mapped.
macro_rules! getters {
    ($($(#[$doc:meta])* $name:ident -> $ty:ty: $variant:ident($v:ident) => $e:expr;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(&self) -> Option<$ty> {
                self.options.iter().find_map(|o| match o {
                    DhcpOption::$variant($v) => Some($e),
                    _ => None,
                })
            }
        )*
    };
}

impl<'a> Repr<'a> {
    //--- Parsing

    /// Parses a checked packet.
    ///
    /// Options split over several instances ([RFC 3396]) are joined into `scratch`: one slice of
    /// it per such option, in order. Most messages have none and leave `scratch` untouched; a
    /// scratch as long as the packet always suffices.
    ///
    /// [RFC 3396]: https://www.rfc-editor.org/rfc/rfc3396
    pub fn parse(packet: &Packet<'a>, scratch: &'a mut [u8]) -> Result<Repr<'a>, Error> {
        let h = packet.header();
        let mut repr = Repr {
            op: h.op.into(),
            htype: h.htype.into(),
            hlen: h.hlen,
            hops: h.hops,
            xid: h.xid.get(),
            secs: h.secs.get(),
            flags: Flags(h.flags.get()),
            ciaddr: Ipv4Addr::from(h.ciaddr),
            yiaddr: Ipv4Addr::from(h.yiaddr),
            siaddr: Ipv4Addr::from(h.siaddr),
            giaddr: Ipv4Addr::from(h.giaddr),
            chaddr: h.chaddr,
            sname: &[],
            file: &[],
            options: OptionList::new(),
        };
        // One pass: check the structure, type each code's first instance, note repeated codes.
        let mut seen = CodeSet::default();
        let mut repeated = CodeSet::default();
        let mut overload = 0u8;
        // Fast path for the usual message: the option area alone, well formed, no overload. Any
        // surprise sends the whole parse to the general iterator, which reports exact errors.
        let mut fast = true;
        let mut rest = packet.options_area();
        loop {
            match rest {
                [] | [255, ..] => break,
                [0, tail @ ..] => rest = tail,
                [code, len, tail @ ..] if *code != OptionCode::OVERLOAD.0 => {
                    let Some((data, after)) = tail.split_at_checked(usize::from(*len)) else {
                        fast = false;
                        break;
                    };
                    rest = after;
                    if seen.insert(*code) {
                        if repr.options.push(DhcpOption::from_wire(*code, data)).is_err() {
                            return Err(Error::TooManyOptions { max: MAX_OPTIONS });
                        }
                    } else {
                        repeated.insert(*code);
                    }
                }
                _ => {
                    fast = false;
                    break;
                }
            }
        }
        if !fast {
            seen = CodeSet::default();
            repeated = CodeSet::default();
            repr.options.clear();
            for opt in packet.options() {
                let opt = opt?;
                if OptionCode(opt.code).is_structural() {
                    if opt.region == Region::Options
                        && let [v] = opt.data
                    {
                        overload |= v;
                    }
                    continue;
                }
                if seen.insert(opt.code) {
                    repr.options
                        .push(DhcpOption::from_wire(opt.code, opt.data))
                        .map_err(|_| Error::TooManyOptions { max: MAX_OPTIONS })?;
                } else {
                    repeated.insert(opt.code);
                }
            }
        }
        if overload & 2 == 0 {
            repr.sname = until_nul(&h.sname);
        }
        if overload & 1 == 0 {
            repr.file = until_nul(&h.file);
        }
        // Rare: codes split over several instances (RFC 3396) are joined into the scratch.
        if !repeated.is_empty() {
            let scratch_len = scratch.len();
            let mut scratch = scratch;
            for slot in repr.options.iter_mut() {
                let code = slot.code().0;
                if !repeated.contains(code) {
                    continue;
                }
                let parts = || packet.options().flatten().filter(move |o| o.code == code);
                let need: usize = parts().map(|o| o.data.len()).sum();
                if need > scratch.len() {
                    return Err(Error::ScratchTooSmall { need: scratch_len - scratch.len() + need, have: scratch_len });
                }
                let (joined, rest) = core::mem::take(&mut scratch).split_at_mut(need);
                scratch = rest;
                let mut at = 0;
                for part in parts() {
                    let end = at + part.data.len();
                    if let Some(dst) = joined.get_mut(at..end) {
                        dst.copy_from_slice(part.data);
                    }
                    at = end;
                }
                *slot = DhcpOption::from_wire(code, joined);
            }
        }
        Ok(repr)
    }

    //--- Building replies

    /// A reply to `request` with message type `kind`, as [RFC 2131, section 4.3.1] (table 3)
    /// fills a server's fields: `op` BOOTREPLY; `htype`, `hlen`, `xid`, `flags`, `giaddr` and
    /// `chaddr` from the request; everything else zero and no options but the message type. The
    /// caller sets `yiaddr`, `siaddr`, `ciaddr` and adds options.
    ///
    /// [RFC 2131, section 4.3.1]: https://www.rfc-editor.org/rfc/rfc2131#section-4.3.1
    pub fn reply_to(request: &Repr<'_>, kind: MessageType) -> Repr<'a> {
        let mut options = OptionList::new();
        // Capacity is far above one; the push cannot fail.
        let _ = options.push(DhcpOption::MessageType(kind));
        Repr {
            op: Op::Reply,
            htype: request.htype,
            hlen: request.hlen,
            hops: 0,
            xid: request.xid,
            secs: 0,
            flags: request.flags,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            siaddr: Ipv4Addr::UNSPECIFIED,
            giaddr: request.giaddr,
            chaddr: request.chaddr,
            sname: &[],
            file: &[],
            options,
        }
    }

    /// Appends an option. Fails with [`Error::TooManyOptions`] when full; a second option with
    /// the same code is allowed here but will be joined with the first by a receiver.
    pub fn push(&mut self, option: DhcpOption<'a>) -> Result<(), Error> {
        self.options.push(option).map_err(|_| Error::TooManyOptions { max: MAX_OPTIONS })
    }

    //--- Emitting

    fn plan(&self, max_len: Option<usize>) -> Result<Plan, Error> {
        if self.sname.len() > 64 {
            return Err(Error::FieldTooLong { field: Field::Sname, len: self.sname.len() });
        }
        if self.file.len() > 128 {
            return Err(Error::FieldTooLong { field: Field::File, len: self.file.len() });
        }
        Plan::new(&self.options, max_len, self.file.is_empty(), self.sname.is_empty())
    }

    /// The exact number of octets [`Repr::emit`] writes: the header, the cookie, every option
    /// (split into instances of at most 255 octets), End, and zero padding up to
    /// [`MIN_LEN`](super::MIN_LEN).
    pub fn buffer_len(&self) -> usize {
        let size: usize = self.options.iter().map(DhcpOption::wire_len).sum();
        (OPTIONS_OFFSET + size + 1).max(super::MIN_LEN)
    }

    /// The exact number of octets [`Repr::emit_within`] writes with the same `max_len`.
    pub fn buffer_len_within(&self, max_len: usize) -> Result<usize, Error> {
        Ok(self.plan(Some(max_len))?.len)
    }

    /// Writes the message into the start of `buf`, every option in the option area, and returns
    /// the number of octets written ([`Repr::buffer_len`]).
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, Error> {
        self.emit_fast(usize::MAX, buf).or_else(|()| {
            let plan = self.plan(None)?;
            self.emit_plan(&plan, buf)
        })
    }

    /// Writes the message in at most `max_len` octets (raised to
    /// [`MIN_MAX_LEN`](super::MIN_MAX_LEN), which every client accepts; see
    /// [`max_len_for`](super::max_len_for) for a client's option 57). Options that do not fit the
    /// option area go into `file` and then `sname`, when those are empty, with option 52
    /// ([RFC 2131, section 4.1]); [`Error::TooLong`] if they still do not fit.
    ///
    /// [RFC 2131, section 4.1]: https://www.rfc-editor.org/rfc/rfc2131#section-4.1
    pub fn emit_within(&self, max_len: usize, buf: &mut [u8]) -> Result<usize, Error> {
        self.emit_fast(max_len.max(super::MIN_MAX_LEN), buf).or_else(|()| {
            let plan = self.plan(Some(max_len))?;
            self.emit_plan(&plan, buf)
        })
    }

    /// The common case in one pass: every option in the option area, within `max_len` and the
    /// buffer. `Err(())` sends the caller to the planner, which lays out overload or reports the
    /// error with exact lengths; what this wrote by then is overwritten or irrelevant.
    fn emit_fast(&self, max_len: usize, buf: &mut [u8]) -> Result<usize, ()> {
        if self.sname.len() > 64 || self.file.len() > 128 {
            return Err(());
        }
        let end = OPTIONS_OFFSET + self.options.iter().map(DhcpOption::wire_len).sum::<usize>();
        let len = (end + 1).max(super::MIN_LEN);
        if end + 1 > max_len {
            return Err(());
        }
        let out = buf.get_mut(..len).ok_or(())?;
        let (header, rest) = Header::mut_from_prefix(out).map_err(|_| ())?;
        self.write_header(header).map_err(|_| ())?;
        let (area, tail) = rest.split_at_mut_checked(end - size_of::<Header>()).ok_or(())?;
        let mut area = Cursor::new(area);
        area.put(&MAGIC_COOKIE).map_err(|_| ())?;
        for opt in &self.options {
            if opt.code().is_structural() {
                return Err(());
            }
            put_dhcp_option(&mut area, opt).map_err(|_| ())?;
        }
        tail.fill(0);
        if let Some(e) = tail.first_mut() {
            *e = OptionCode::END.0;
        }
        Ok(len)
    }

    fn write_header(&self, header: &mut Header) -> Result<(), Error> {
        header.op = self.op.into();
        header.htype = self.htype.into();
        header.hlen = self.hlen;
        header.hops = self.hops;
        header.xid.set(self.xid);
        header.secs.set(self.secs);
        header.flags.set(self.flags.0);
        header.ciaddr = self.ciaddr.octets();
        header.yiaddr = self.yiaddr.octets();
        header.siaddr = self.siaddr.octets();
        header.giaddr = self.giaddr.octets();
        header.chaddr = self.chaddr;
        header.sname = [0; 64];
        header.file = [0; 128];
        Cursor::new(&mut header.sname).put(self.sname)?;
        Cursor::new(&mut header.file).put(self.file)
    }

    fn emit_plan(&self, plan: &Plan, buf: &mut [u8]) -> Result<usize, Error> {
        let have = buf.len();
        let out = buf.get_mut(..plan.len).ok_or(Error::BufferTooSmall { need: plan.len, have })?;
        out.fill(0);
        let short = Error::BufferTooSmall { need: plan.len, have };
        let (header, rest) = Header::mut_from_prefix(out).map_err(|_| short)?;
        self.write_header(header)?;

        let mut area = Cursor::new(rest);
        area.put(&MAGIC_COOKIE)?;
        if plan.overload != 0 {
            area.put(&[OptionCode::OVERLOAD.0, 1, plan.overload])?;
        }
        if plan.overload == 0 {
            // Everything in the option area: one pass, no layout bookkeeping.
            for opt in &self.options {
                put_dhcp_option(&mut area, opt)?;
            }
            area.put(&[OptionCode::END.0])?;
            return Ok(plan.len);
        }
        let mut file = Cursor::new(&mut header.file);
        let mut sname = Cursor::new(&mut header.sname);
        let mut index = 0usize;
        for_each_chunk(&self.options, |code, chunk| {
            let cursor = if index < plan.in_options {
                &mut area
            } else if index < plan.in_options + plan.in_file {
                &mut file
            } else {
                &mut sname
            };
            index += 1;
            cursor.put_option(code, chunk)
        })?;
        area.put(&[OptionCode::END.0])?;
        if plan.overload & 1 != 0 {
            file.put(&[OptionCode::END.0])?;
        }
        if plan.overload & 2 != 0 {
            sname.put(&[OptionCode::END.0])?;
        }
        Ok(plan.len)
    }

    //--- Reading options

    /// The client hardware address: the first `hlen` octets of `chaddr`.
    pub fn hw_addr(&self) -> &[u8] {
        self.chaddr.get(..usize::from(self.hlen)).unwrap_or(&self.chaddr)
    }

    /// The client's MAC address, when `htype` is Ethernet and `hlen` is 6.
    pub fn mac(&self) -> Option<[u8; 6]> {
        if self.htype != HardwareType::Ethernet {
            return None;
        }
        self.hw_addr().try_into().ok()
    }

    /// The option with `code`, typed or not.
    pub fn get(&self, code: OptionCode) -> Option<&DhcpOption<'a>> {
        self.options.iter().find(|o| o.code() == code)
    }

    getters! {
        /// Option 53. A message without a well-formed one is BOOTP, not DHCP.
        message_type -> MessageType: MessageType(t) => *t;
        /// Option 50.
        requested_ip -> Ipv4Addr: RequestedIp(a) => *a;
        /// Option 54.
        server_id -> Ipv4Addr: ServerId(a) => *a;
        /// Option 51.
        lease_time -> u32: LeaseTime(s) => *s;
        /// Option 57, as sent (see [`max_len_for`](super::max_len_for) to use it).
        max_message_size -> u16: MaxMessageSize(s) => *s;
        /// Option 55: the codes the client asks for.
        parameter_request_list -> &'a [u8]: ParameterRequestList(l) => *l;
        /// Option 12.
        host_name -> &'a [u8]: HostName(n) => *n;
        /// Option 61.
        client_id -> &'a [u8]: ClientId(n) => *n;
        /// Option 60, parsed for the PXE and HTTP boot classes.
        vendor_class -> VendorClass<'a>: VendorClass(v) => VendorClass::parse(v);
        /// Option 77.
        user_class -> UserClass<'a>: UserClass(v) => UserClass::new(v);
        /// Option 93.
        client_arch -> ArchList<'a>: ClientArch(l) => *l;
        /// Option 94.
        client_ndi -> ClientNdi: ClientNdi(n) => *n;
        /// Option 97.
        client_machine_id -> ClientMachineId: ClientMachineId(id) => *id;
        /// Option 43, as encapsulated sub-options.
        vendor_specific -> Suboptions<'a>: VendorSpecific(v) => Suboptions::new(v);
        /// Option 82.
        relay_agent_info -> RelayAgentInfo<'a>: RelayAgentInfo(v) => RelayAgentInfo::new(v);
        /// Option 175.
        ipxe -> IpxeOptions<'a>: Ipxe(v) => IpxeOptions::new(v);
    }

    /// Whether the client is iPXE: user class "iPXE" (iPXE sends it raw, not in RFC 3004 form)
    /// or the iPXE encapsulated option 175. A boot server answers iPXE with the script URL
    /// instead of the iPXE binary, which breaks the chain-loading loop.
    pub fn is_ipxe(&self) -> bool {
        self.ipxe().is_some() || self.user_class().is_some_and(|u| u.contains(b"iPXE"))
    }
}

#[cfg(test)]
mod tests {
    use super::super::packet::tests::message;
    use super::super::{Ipv4List, MIN_LEN, MIN_MAX_LEN};
    use super::*;
    use std::vec::Vec;

    fn parse_owned(bytes: &[u8], f: impl FnOnce(Repr<'_>)) {
        let p = Packet::new_checked(bytes).unwrap();
        let mut scratch = std::vec![0u8; bytes.len()];
        f(Repr::parse(&p, &mut scratch).unwrap());
    }

    fn emit(r: &Repr<'_>) -> Vec<u8> {
        let mut out = std::vec![0xa5u8; r.buffer_len()];
        assert_eq!(r.emit(&mut out), Ok(out.len()));
        out
    }

    #[test]
    fn parse_keeps_wire_order_and_types_known_options() {
        let m = message(&[53, 1, 1, 61, 7, 1, 0x52, 0x54, 0, 0x12, 0x34, 0x56, 57, 2, 0x05, 0xc0, 200, 2, 9, 9, 255]);
        parse_owned(&m, |r| {
            assert_eq!(r.message_type(), Some(MessageType::Discover));
            assert_eq!(r.max_message_size(), Some(1472));
            assert_eq!(r.client_id(), Some(&[1, 0x52, 0x54, 0, 0x12, 0x34, 0x56][..]));
            let codes: Vec<u8> = r.options.iter().map(|o| o.code().0).collect();
            assert_eq!(codes, [53, 61, 57, 200]);
            assert_eq!(r.options[3], DhcpOption::Other { code: 200, data: &[9, 9] });
        });
    }

    #[test]
    fn wrong_lengths_are_kept_as_other() {
        let m = message(&[53, 2, 1, 1, 54, 3, 10, 0, 0, 255]);
        parse_owned(&m, |r| {
            assert_eq!(r.message_type(), None);
            assert_eq!(r.options[0], DhcpOption::Other { code: 53, data: &[1, 1] });
            assert_eq!(r.options[1], DhcpOption::Other { code: 54, data: &[10, 0, 0] });
        });
    }

    #[test]
    fn split_options_are_joined_and_overload_is_hidden() {
        let mut m = message(&[52, 1, 1, 12, 2, b'a', b'b', 53, 1, 3, 255]);
        m[108..113].copy_from_slice(&[12, 2, b'c', b'd', 255]);
        m[44] = b'x';
        parse_owned(&m, |r| {
            assert_eq!(r.host_name(), Some(&b"abcd"[..]));
            assert_eq!(r.file, b"");
            assert_eq!(r.sname, b"x");
            assert!(r.options.iter().all(|o| o.code() != OptionCode::OVERLOAD));
            assert_eq!(r.options.len(), 2);
        });
    }

    #[test]
    fn scratch_too_small_for_joins_is_an_error() {
        let m = message(&[12, 2, b'a', b'b', 12, 2, b'c', b'd', 255]);
        let p = Packet::new_checked(&m).unwrap();
        let mut scratch = [0u8; 3];
        assert_eq!(Repr::parse(&p, &mut scratch), Err(Error::ScratchTooSmall { need: 4, have: 3 }));
    }

    #[test]
    fn too_many_distinct_options_is_an_error() {
        let mut opts = Vec::new();
        for code in 1..=(MAX_OPTIONS as u8 + 1) {
            opts.extend_from_slice(&[code + 100, 0]);
        }
        let m = message(&opts);
        let p = Packet::new_checked(&m).unwrap();
        assert_eq!(Repr::parse(&p, &mut []), Err(Error::TooManyOptions { max: MAX_OPTIONS }));
    }

    #[test]
    fn sname_and_file_end_at_the_first_nul_or_fill_the_field() {
        let mut m = message(&[255]);
        m[44..108].fill(b's');
        m[108..112].copy_from_slice(b"boot");
        parse_owned(&m, |r| {
            assert_eq!(r.sname.len(), 64);
            assert_eq!(r.file, b"boot");
            let out = emit(&r);
            assert_eq!(&out[44..108], &[b's'; 64][..]);
            assert_eq!(&out[108..113], b"boot\0");
        });
    }

    fn offer<'a>(routers: &'a [[u8; 4]]) -> Repr<'a> {
        let m = message(&[53, 1, 1, 255]);
        let p = Packet::new_checked(&m).unwrap();
        let request = Repr::parse(&p, &mut []).unwrap();
        let mut r = Repr::reply_to(&request, MessageType::Offer);
        r.yiaddr = Ipv4Addr::new(10, 0, 0, 20);
        r.push(DhcpOption::ServerId(Ipv4Addr::new(10, 0, 0, 1))).unwrap();
        r.push(DhcpOption::Router(Ipv4List::new(routers))).unwrap();
        r
    }

    #[test]
    fn reply_to_copies_what_rfc_2131_table_3_says() {
        let r = offer(&[[10, 0, 0, 1]]);
        assert_eq!(r.op, Op::Reply);
        assert_eq!((r.xid, r.flags, r.hlen), (0x1234_5678, Flags::BROADCAST, 6));
        assert_eq!(r.mac(), Some([0x52, 0x54, 0, 0x12, 0x34, 0x56]));
        assert_eq!((r.hops, r.secs), (0, 0));
        assert_eq!(r.message_type(), Some(MessageType::Offer));
    }

    #[test]
    fn emit_writes_every_byte_and_pads_to_300() {
        let r = offer(&[[10, 0, 0, 1]]);
        let out = emit(&r);
        assert_eq!(out.len(), MIN_LEN);
        // 240 + (3 + 6 + 6) + End, then zeros: nothing left at the 0xa5 poison.
        assert_eq!(&out[240..256], &[53, 1, 2, 54, 4, 10, 0, 0, 1, 3, 4, 10, 0, 0, 1, 255]);
        assert!(out[256..].iter().all(|&b| b == 0));
        assert_eq!(&out[236..240], &MAGIC_COOKIE);
        assert_eq!(&out[16..20], &[10, 0, 0, 20]);
    }

    #[test]
    fn long_values_are_split_at_255() {
        let big = [7u8; 300];
        let mut r = offer(&[[10, 0, 0, 1]]);
        r.push(DhcpOption::Other { code: 224, data: &big }).unwrap();
        let out = emit(&r);
        let p = Packet::new_checked(&out).unwrap();
        let lens: Vec<(u8, usize)> = p.options().map(|o| o.map(|o| (o.code, o.data.len())).unwrap()).collect();
        assert_eq!(lens, [(53, 1), (54, 4), (3, 4), (224, 255), (224, 45)]);
        parse_owned(&out, |back| assert_eq!(back, r));
    }

    #[test]
    fn emit_within_overflows_into_file_then_sname() {
        let routers = [[10, 0, 0, 1]; 60];
        let names = [b'n'; 200];
        let mut r = offer(&routers);
        r.push(DhcpOption::DomainName(&names[..100])).unwrap();
        r.push(DhcpOption::HostName(&names[..50])).unwrap();
        assert!(r.buffer_len() > MIN_MAX_LEN);
        let len = r.buffer_len_within(MIN_MAX_LEN).unwrap();
        assert!(len <= MIN_MAX_LEN);
        let mut out = std::vec![0xa5u8; len];
        assert_eq!(r.emit_within(MIN_MAX_LEN, &mut out), Ok(len));
        let p = Packet::new_checked(&out).unwrap();
        assert_eq!(p.overload(), Ok(3));
        let regions: Vec<(u8, Region)> = p.options().map(|o| o.map(|o| (o.code, o.region)).unwrap()).collect();
        assert_eq!(
            regions,
            [
                (52, Region::Options),
                (53, Region::Options),
                (54, Region::Options),
                (3, Region::Options),
                (15, Region::File),
                (12, Region::Sname)
            ]
        );
        parse_owned(&out, |back| assert_eq!(back, r));
    }

    #[test]
    fn emit_within_fails_when_nothing_more_fits() {
        let routers = [[10, 0, 0, 1]; 60];
        let names = [b'n'; 200];
        let mut r = offer(&routers);
        r.push(DhcpOption::DomainName(&names)).unwrap();
        r.push(DhcpOption::HostName(&names[..100])).unwrap();
        r.file = b"undionly.kpxe";
        let need = r.buffer_len();
        assert_eq!(r.buffer_len_within(MIN_MAX_LEN), Err(Error::TooLong { need, max: MIN_MAX_LEN }));
        let mut out = std::vec![0u8; 2000];
        assert_eq!(r.emit_within(300, &mut out), Err(Error::TooLong { need, max: MIN_MAX_LEN }));
        // Without a limit it all goes in the option area.
        assert_eq!(r.emit(&mut out), Ok(need));
    }

    #[test]
    fn emit_refuses_what_cannot_be_encoded() {
        let long = [b'f'; 129];
        let mut r = offer(&[[10, 0, 0, 1]]);
        let mut out = std::vec![0u8; 600];
        assert_eq!(r.emit(&mut out[..299]), Err(Error::BufferTooSmall { need: 300, have: 299 }));
        r.push(DhcpOption::Other { code: 52, data: &[1] }).unwrap();
        assert_eq!(r.emit(&mut out), Err(Error::ReservedCode { code: 52 }));
        r.options.pop();
        r.file = &long;
        assert_eq!(r.emit(&mut out), Err(Error::FieldTooLong { field: Field::File, len: 129 }));
        r.file = &long[..128];
        r.sname = &long[..65];
        assert_eq!(r.emit(&mut out), Err(Error::FieldTooLong { field: Field::Sname, len: 65 }));
    }
}
