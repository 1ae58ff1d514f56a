//! The bodies of the DHCPv4 fuzz targets, shared with the tests that replay the corpus and with
//! the property tests (`fuzz/` includes this file by path).
//!
//! - [`parse`]: every accessor, view and emitter on any input; nothing may panic.
//! - [`roundtrip`]: parse, emit, parse again: the same `Repr`, and emitting it again gives the
//!   same bytes; the same under the smallest size limit every client accepts.
//! - [`differential`]: where both recon and dhcproto accept an input, they agree on the header
//!   and on every option value, after normalising the differences each named test documents.

use std::net::Ipv4Addr;

use netboot_proto::dhcpv4::{DhcpOption, Error, MIN_MAX_LEN, OptionCode, Packet, Region, Repr};

/// Exercises the whole read side and the emit side on `data`; must never panic.
pub fn parse(data: &[u8]) {
    let Ok(p) = Packet::new_checked(data) else { return };
    let _ = (p.op(), p.htype(), p.hops(), p.xid(), p.secs(), p.flags(), p.ciaddr(), p.yiaddr(), p.siaddr(), p.giaddr());
    let _ = (p.hw_addr(), p.mac(), p.options_area(), p.overload());
    for opt in p.options() {
        let Ok(opt) = opt else { break };
        let _ = DhcpOption::from_wire(opt.code, opt.data);
    }
    let mut small = [0u8; 8];
    let _ = p.option(OptionCode::VENDOR_CLASS, &mut small);
    let mut scratch = vec![0u8; data.len()];
    let _ = p.option(OptionCode::PARAMETER_REQUEST_LIST, &mut scratch);
    // A scratch too small for the joined options must be an error, not a panic.
    let _ = Repr::parse(&p, &mut small);
    let Ok(repr) = Repr::parse(&p, &mut scratch) else { return };
    let _ = (repr.message_type(), repr.requested_ip(), repr.server_id(), repr.lease_time(), repr.max_message_size());
    let _ = (
        repr.parameter_request_list(),
        repr.host_name(),
        repr.client_id(),
        repr.client_ndi(),
        repr.client_machine_id(),
    );
    let _ = (repr.mac(), repr.is_ipxe(), repr.hw_addr());
    if let Some(v) = repr.vendor_class() {
        let _ = (v.class, v.arch(), v.undi());
    }
    if let Some(u) = repr.user_class() {
        let _ = (u.is_rfc3004(), u.instances().count(), u.contains(b"iPXE"));
    }
    if let Some(a) = repr.client_arch() {
        for a in a.iter() {
            let _ = (a.is_uefi(), a.is_http(), a.name());
        }
    }
    if let Some(s) = repr.vendor_specific() {
        let _ = (s.is_well_formed(), s.count());
    }
    if let Some(r) = repr.relay_agent_info() {
        let _ = (r.circuit_id(), r.remote_id(), r.suboptions().count());
    }
    if let Some(x) = repr.ipxe() {
        let _ = (x.version(), x.has(0x13), x.suboptions().count());
    }
    let len = repr.buffer_len();
    let mut out = vec![0u8; len];
    let _ = repr.emit(&mut out);
    let _ = repr.emit(&mut out[..len / 2]);
    let _ = repr.buffer_len_within(MIN_MAX_LEN);
    let _ = repr.emit_within(MIN_MAX_LEN, &mut out);
}

/// Parse, emit, parse: asserts the round trip. Inputs recon refuses are skipped.
pub fn roundtrip(data: &[u8]) {
    let Ok(p) = Packet::new_checked(data) else { return };
    let mut scratch = vec![0u8; data.len()];
    let Ok(repr) = Repr::parse(&p, &mut scratch) else { return };
    let len = repr.buffer_len();
    // Poison the buffer: a byte the emitter forgot shows as 0xa5.
    let mut buf = vec![0xa5u8; len + 16];
    let n = repr.emit(&mut buf).expect("a parsed Repr emits");
    assert_eq!(n, len, "emit wrote a different length than buffer_len");
    assert!(buf[n..].iter().all(|&b| b == 0xa5), "emit wrote past buffer_len");
    let out = buf[..n].to_vec();
    let p2 = Packet::new_checked(&out).expect("emitted bytes are a packet");
    let mut scratch2 = vec![0u8; n];
    let repr2 = Repr::parse(&p2, &mut scratch2).expect("emitted bytes parse");
    assert_eq!(repr, repr2, "parse(emit(repr)) differs from repr");
    let mut again = vec![0x5au8; n];
    assert_eq!(repr2.emit(&mut again), Ok(n));
    assert_eq!(out, again, "emit is not canonical: a second round gives other bytes");
    assert!(repr.emit(&mut buf[..n - 1]).is_err(), "emit into a short buffer must fail");

    // The same under a size limit: the smallest every client accepts, and an Ethernet MTU.
    for max in [MIN_MAX_LEN, 1472] {
        match repr.buffer_len_within(max) {
            Ok(limited) => {
                assert!(limited <= max, "buffer_len_within({max}) = {limited}");
                let mut lbuf = vec![0xa5u8; limited + 8];
                assert_eq!(repr.emit_within(max, &mut lbuf), Ok(limited));
                assert!(lbuf[limited..].iter().all(|&b| b == 0xa5), "emit_within wrote past its length");
                let p3 = Packet::new_checked(&lbuf[..limited]).expect("limited output is a packet");
                let mut scratch3 = vec![0u8; limited];
                let repr3 = Repr::parse(&p3, &mut scratch3).expect("limited output parses");
                assert_eq!(repr, repr3, "overloaded output parses to another Repr");
            }
            Err(Error::TooLong { need, max: m }) => {
                assert_eq!(m, max);
                assert!(need > max && len > max, "TooLong for a message of {len} octets within {max}");
            }
            Err(e) => panic!("emit_within({max}) failed: {e}"),
        }
    }
}

/// What the differential check did with one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Compared {
    /// Both parsers accepted the input.
    pub both_accepted: bool,
    /// Options whose values were compared.
    pub options: usize,
}

/// Compares recon's decode of `data` with dhcproto's, where both accept it; panics on a
/// disagreement that no documented difference explains.
pub fn differential(data: &[u8]) -> Compared {
    use dhcproto::{Decodable, Decoder, Encodable, Encoder, v4};

    let Ok(p) = Packet::new_checked(data) else { return Compared::default() };
    let mut scratch = vec![0u8; data.len()];
    let Ok(ours) = Repr::parse(&p, &mut scratch) else { return Compared::default() };
    if dhcproto_would_panic(&p) {
        return Compared::default();
    }
    let Ok(theirs) = v4::Message::decode(&mut Decoder::new(data)) else { return Compared::default() };

    assert_eq!(u8::from(ours.op), u8::from(theirs.opcode()), "op");
    assert_eq!(u8::from(ours.htype), u8::from(theirs.htype()), "htype");
    assert_eq!(ours.hlen, theirs.hlen(), "hlen");
    assert_eq!(ours.hops, theirs.hops(), "hops");
    assert_eq!(ours.xid, theirs.xid(), "xid");
    assert_eq!(ours.secs, theirs.secs(), "secs");
    assert_eq!(ours.flags.0, u16::from(theirs.flags()), "flags");
    assert_eq!(ours.ciaddr, theirs.ciaddr(), "ciaddr");
    assert_eq!(ours.yiaddr, theirs.yiaddr(), "yiaddr");
    assert_eq!(ours.siaddr, theirs.siaddr(), "siaddr");
    assert_eq!(ours.giaddr, theirs.giaddr(), "giaddr");
    // hlen <= 16 here: Packet::new_checked refuses more (dhcproto would panic slicing chaddr).
    assert_eq!(ours.hw_addr(), theirs.chaddr(), "chaddr");

    let overload = p.overload().unwrap_or(0);
    // dhcproto keeps the NUL and has None for a field without one (see
    // `sname_and_file_without_nul`); with overload the fields hold options, which it reads as text.
    let normalise = |field: Option<&[u8]>| field.map(|f| f.strip_suffix(&[0]).unwrap_or(f).to_vec());
    if overload & 2 == 0 && p.header().sname.contains(&0) {
        assert_eq!(Some(ours.sname.to_vec()).filter(|s| !s.is_empty()), normalise(theirs.sname()), "sname");
    }
    if overload & 1 == 0 && p.header().file.contains(&0) {
        assert_eq!(Some(ours.file.to_vec()).filter(|s| !s.is_empty()), normalise(theirs.fname()), "file");
    }

    // Codes with several instances: recon joins them all (RFC 3396); dhcproto joins some adjacent
    // runs and keeps only the last instance in others (see `repeated_codes_are_joined`). Options
    // from file and sname: dhcproto does not read them (see `overloaded_fields_carry_options`).
    let mut instances = [0u32; 256];
    let mut in_overload = [false; 256];
    for o in p.options().flatten() {
        if o.region != Region::Options {
            in_overload[usize::from(o.code)] = true;
        }
        instances[usize::from(o.code)] += 1;
    }

    let mut compared = Compared { both_accepted: true, options: 0 };
    for opt in &ours.options {
        let code = opt.code().0;
        if instances[usize::from(code)] > 1 || in_overload[usize::from(code)] {
            continue;
        }
        let Some(their) = theirs.opts().get(v4::OptionCode::from(code)) else {
            // dhcproto stops at the first option its typed decoder refuses and keeps the rest
            // unread (see `dhcproto_stops_at_an_option_it_cannot_decode`).
            continue;
        };
        let mut enc = Vec::new();
        their.encode(&mut Encoder::new(&mut enc)).expect("dhcproto encodes its own option");
        let mut value = Vec::new();
        let mut rest = &enc[..];
        while let [c, l, tail @ ..] = rest {
            assert_eq!(*c, code, "dhcproto re-encoded option {code} under code {c}");
            let l = usize::from(*l).min(tail.len());
            value.extend_from_slice(&tail[..l]);
            rest = &tail[l..];
        }
        let wire = opt.wire_data();
        let ours_value = wire.as_slice();
        if let DhcpOption::Other { .. } = opt {
            // recon keeps these octets as they came. dhcproto decodes many such codes into types
            // and re-encodes them normalised (booleans to 0 or 1, see
            // `dhcproto_normalises_what_it_types`) or truncated to the type's length (see
            // `wrong_length_values_are_kept_whole`), so only equal values count as compared.
            if ours_value != &value[..] {
                continue;
            }
        } else if let DhcpOption::RelayAgentInfo(raw) = opt {
            // dhcproto keeps relay sub-options in a map: sorted by code, one per code (see
            // `relay_sub_options_keep_order_and_repeats`), and decodes the sub-options it knows
            // beyond circuit and remote id into types of its own. Compare as sorted lists when
            // the codes are unique and only those two.
            use netboot_proto::dhcpv4::pxe::Suboptions;
            let mut mine: Vec<(u8, &[u8])> = Suboptions::without_pad_end(raw).collect();
            mine.sort_by_key(|(c, _)| *c);
            if mine.windows(2).any(|w| w[0].0 == w[1].0) || mine.iter().any(|(c, _)| !matches!(c, 1 | 2)) {
                continue;
            }
            let mut other: Vec<(u8, &[u8])> = Suboptions::without_pad_end(&value).collect();
            other.sort_by_key(|(c, _)| *c);
            assert_eq!(mine, other, "option 82 sub-options");
        } else if let DhcpOption::ClientArch(_) = opt {
            // RFC 4578 makes option 93 a list; dhcproto keeps the first entry only (see
            // `client_arch_is_a_list`).
            assert_eq!(ours_value.get(..2), Some(&value[..]), "option 93 first architecture");
        } else {
            assert_eq!(ours_value, &value[..], "option {code} ({opt:?}) value");
        }
        compared.options += 1;
    }
    compared
}

/// dhcproto 0.15 panics on some malformed option lengths: `debug_assert!`s on options 80, 94
/// 81 and 152-155 (see
/// `dhcproto_panics_on_some_malformed_lengths`). recon must not, and the oracle must not be fed
/// them. dhcproto joins adjacent instances of a code before decoding, so the rules apply to each
/// run's joined length.
pub fn dhcproto_would_panic(p: &Packet<'_>) -> bool {
    // (code, joined length, offset just past the run): dhcproto joins instances only when nothing,
    // not even Pad, stands between them.
    let mut runs: Vec<(u8, usize, usize)> = Vec::new();
    for o in p.options() {
        let Ok(o) = o else { break };
        if o.region != Region::Options {
            break;
        }
        let end = o.offset + 2 + o.data.len();
        match runs.last_mut() {
            Some((code, len, at)) if *code == o.code && *at == o.offset => {
                *len += o.data.len();
                *at = end;
            }
            _ => runs.push((o.code, o.data.len(), end)),
        }
    }
    runs.iter().any(|&(code, len, _)| DHCPROTO_PANICS.iter().any(|&(c, ok)| c == code && !ok(len)))
}

pub type LengthRule = fn(usize) -> bool;

/// (code, lengths dhcproto accepts without panicking).
pub const DHCPROTO_PANICS: [(u8, LengthRule); 7] = [
    (80, |l| l == 0),
    (81, |l| l >= 3),
    (94, |l| l == 3),
    (152, |l| l == 4),
    (153, |l| l == 4),
    (154, |l| l == 4),
    (155, |l| l == 4),
];

/// `Ipv4Addr` from octets, for tests building packets by hand.
pub fn ip(a: u8, b: u8, c: u8, d: u8) -> Ipv4Addr {
    Ipv4Addr::new(a, b, c, d)
}
