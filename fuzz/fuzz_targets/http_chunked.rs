//! The chunked body decoder (RFC 9112, section 7.1) on any octets, fed whole and fed split at a
//! point the input chooses: no panic, never more than the limit out, and the same body and the
//! same verdict both ways.
#![no_main]

use agent::serve::http::Chunked;

const LIMIT: u64 = 4096;

fn decode(parts: &[&[u8]]) -> (Vec<u8>, Option<u16>, bool) {
    let mut dec = Chunked::default();
    let mut body = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    for p in parts {
        buf.extend_from_slice(p);
        match dec.decode(&buf, &mut body, LIMIT) {
            Ok(used) => {
                assert!(used <= buf.len());
                buf.drain(..used);
            }
            Err(rej) => return (body, Some(rej.status), false),
        }
        assert!(body.len() as u64 <= LIMIT, "{} octets over the limit", body.len());
        if dec.done() {
            break;
        }
    }
    (body, None, dec.done())
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else { return };
    let at = usize::from(cut).min(rest.len());
    let whole = decode(&[rest]);
    let split = decode(&[&rest[..at], &rest[at..]]);
    if whole.2 && split.2 {
        assert_eq!(whole.0, split.0, "the same body however the octets arrive");
    }
    if let Some(s) = whole.1 {
        assert!((400..600).contains(&s));
    }
});
