//! A minimal authoritative DNS responder for the master's segment: A records for the master's
//! own names (the seed's kernel args use `http://bang/...`) and for leased nodes; everything
//! else REFUSED, so the master never pretends to be a resolver for names it does not own.
//!
//! Messages: RFC 1035 section 4.1 (header 4.1.1, question 4.1.2, resource records 4.1.3), names
//! as labels (3.1), pointers only in what we write (4.1.4). One question per query (RFC 9619
//! makes QDCOUNT > 1 a FORMERR). AAAA and other types for a name we own get an empty NOERROR
//! answer (NODATA, RFC 2308 section 2.2), not NXDOMAIN, so clients fall back to A.

use std::net::Ipv4Addr;

/// DNS header flags.
const QR: u16 = 0x8000;
const AA: u16 = 0x0400;
const RD: u16 = 0x0100;
const OPCODE_MASK: u16 = 0x7800;
const RCODE_FORMERR: u16 = 1;
const RCODE_NOTIMP: u16 = 4;
const RCODE_REFUSED: u16 = 5;
const TYPE_A: u16 = 1;
const CLASS_IN: u16 = 1;
/// Answers live as long as a DHCP renewal would take to notice a change.
const TTL: u32 = 60;

/// Why a datagram got no answer at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drop {
    /// Shorter than a header, or a response.
    NotAQuery,
}

/// The question of a query, names lower-cased without the trailing dot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// QNAME.
    pub name: String,
    /// QTYPE.
    pub qtype: u16,
    /// QCLASS.
    pub qclass: u16,
    /// Octets of the question section, to copy into the answer.
    end: usize,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// Reads the single question; `None` if malformed (compression in a question, a label over 63,
/// a name over 255, truncated).
fn question(q: &[u8]) -> Option<Question> {
    let mut at = 12;
    let mut name = String::new();
    loop {
        let len = usize::from(*q.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        let label = q.get(at..at + len)?;
        if !name.is_empty() {
            name.push('.');
        }
        for &c in label {
            name.push(char::from(c.to_ascii_lowercase()));
        }
        if name.len() > 253 {
            return None;
        }
        at += len;
    }
    Some(Question { name, qtype: be16(q, at)?, qclass: be16(q, at + 2)?, end: at + 4 })
}

/// Answers `query` into `out`; `lookup` maps a name we own to its address and answers `None`
/// for names we do not own. Returns the reply length.
pub fn answer(query: &[u8], lookup: impl Fn(&str) -> Option<Ipv4Addr>, out: &mut [u8]) -> Result<usize, Drop> {
    let flags = be16(query, 2).ok_or(Drop::NotAQuery)?;
    if query.len() < 12 || flags & QR != 0 {
        return Err(Drop::NotAQuery);
    }
    let id = be16(query, 0).ok_or(Drop::NotAQuery)?;
    let qdcount = be16(query, 4).unwrap_or(0);
    let reply_flags = |rcode: u16| QR | AA | (flags & RD) | (flags & OPCODE_MASK) | rcode;
    // The reply is assembled here and copied out whole: nothing indexes `out`.
    let emit = |out: &mut [u8], reply: &[u8]| -> Result<usize, Drop> {
        out.get_mut(..reply.len()).ok_or(Drop::NotAQuery)?.copy_from_slice(reply);
        Ok(reply.len())
    };
    let header = |rcode: u16, qd: u16, an: u16| -> Vec<u8> {
        [id, reply_flags(rcode), qd, an, 0, 0].iter().flat_map(|v| v.to_be_bytes()).collect()
    };
    let header_only = |out: &mut [u8], rcode: u16| emit(out, &header(rcode, 0, 0));
    if flags & OPCODE_MASK != 0 {
        return header_only(out, RCODE_NOTIMP);
    }
    let q = match (qdcount, question(query)) {
        (1, Some(q)) => q,
        _ => return header_only(out, RCODE_FORMERR),
    };
    let owned = lookup(&q.name);
    let (rcode, addr) = match owned {
        None => (RCODE_REFUSED, None),
        Some(a) if q.qclass == CLASS_IN && q.qtype == TYPE_A => (0, Some(a)),
        Some(_) => (0, None),
    };
    let mut reply = header(rcode, 1, u16::from(addr.is_some()));
    reply.extend_from_slice(query.get(12..q.end).ok_or(Drop::NotAQuery)?);
    if let Some(a) = addr {
        // Name: a pointer to the question's name at offset 12 (RFC 1035, section 4.1.4).
        for v in [0xc00c, TYPE_A, CLASS_IN] {
            reply.extend_from_slice(&v.to_be_bytes());
        }
        reply.extend_from_slice(&TTL.to_be_bytes());
        reply.extend_from_slice(&4u16.to_be_bytes());
        reply.extend_from_slice(&a.octets());
    }
    emit(out, &reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for l in name.split('.') {
            q.push(l.len() as u8);
            q.extend_from_slice(l.as_bytes());
        }
        q.push(0);
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&1u16.to_be_bytes());
        q
    }

    fn lookup(n: &str) -> Option<Ipv4Addr> {
        (n == "bang" || n == "bang.rack").then_some(Ipv4Addr::new(10, 0, 0, 1))
    }

    #[test]
    fn owned_names_answer_and_others_are_refused() {
        let mut out = [0u8; 512];
        let n = answer(&query("BANG", 1), lookup, &mut out).unwrap();
        assert_eq!(&out[..2], &[0x12, 0x34]);
        assert_eq!(u16::from_be_bytes([out[2], out[3]]) & 0x000f, 0);
        assert_eq!(&out[n - 4..n], &[10, 0, 0, 1]);
        let n = answer(&query("example.com", 1), lookup, &mut out).unwrap();
        assert_eq!((n, out[3] & 0x0f), (12 + 17, 5), "REFUSED, question echoed");
        let n = answer(&query("bang.rack", 28), lookup, &mut out).unwrap();
        assert_eq!((out[3] & 0x0f, out[7]), (0, 0), "AAAA: NODATA");
        assert!(n > 12);
    }

    #[test]
    fn malformed_queries_get_formerr_or_nothing() {
        let mut out = [0u8; 512];
        assert_eq!(answer(&[0; 5], lookup, &mut out), Err(Drop::NotAQuery));
        let mut q = query("bang", 1);
        q[2] |= 0x80;
        assert_eq!(answer(&q, lookup, &mut out), Err(Drop::NotAQuery), "a response is not a query");
        let mut q = query("bang", 1);
        q.truncate(15);
        assert_eq!(answer(&q, lookup, &mut out).map(|_| out[3] & 0x0f), Ok(1));
        let mut q = query("bang", 1);
        q[12] = 0xc0;
        assert_eq!(answer(&q, lookup, &mut out).map(|_| out[3] & 0x0f), Ok(1), "no pointers in questions");
    }
}
