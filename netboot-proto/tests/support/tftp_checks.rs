//! The bodies of the TFTP fuzz targets, shared with the test suite (`fuzz/` includes this file
//! by path).
//!
//! - [`parse`]: every packet accessor and the option views on any input; nothing may panic.
//! - [`roundtrip`]: parse, emit, parse gives the same packet, and emit is byte-exact for what
//!   it emitted itself.
//! - [`transfer`]: the input drives a `Sender` (options, file size, then ACKs, errors,
//!   timeouts and garbage at chosen times); it must never panic and never ask for a block
//!   beyond its window or beyond the file.

use std::time::Duration;

use netboot_proto::tftp::{ErrorCode, Limits, Negotiation, OptionList, Packet, Sender, SenderConfig, Transmit};

pub fn parse(data: &[u8]) {
    let Ok(p) = Packet::parse(data) else { return };
    let _ = (p.opcode(), p.buffer_len());
    match p {
        Packet::Rrq { filename, mode, options } | Packet::Wrq { filename, mode, options } => {
            let _ = (filename.len(), mode.is_octet(), mode.is_netascii());
            for o in options.iter() {
                let _ = (o.number(), o.is("blksize"));
            }
            let n = Negotiation::for_read(options, data.len() as u64, &Limits::default());
            let mut buf = [0u8; 256];
            let _ = n.write_oack_options(&mut buf);
            let _ = n.write_oack_options(&mut buf[..5]);
        }
        Packet::Oack { options } => {
            let _ = options.get("tsize").and_then(|o| o.number());
        }
        _ => {}
    }
    let mut out = vec![0u8; p.buffer_len()];
    let _ = p.emit(&mut out);
    let _ = p.emit(&mut out[..p.buffer_len() / 2]);
}

pub fn roundtrip(data: &[u8]) {
    let Ok(p) = Packet::parse(data) else { return };
    let len = p.buffer_len();
    let mut out = vec![0xa5u8; len + 8];
    assert_eq!(p.emit(&mut out), Ok(len));
    assert!(out[len..].iter().all(|&b| b == 0xa5), "emit wrote past buffer_len");
    let again = Packet::parse(&out[..len]).expect("emitted packet parses");
    assert_eq!(again, p, "parse(emit(p)) != p");
    let mut out2 = vec![0u8; len];
    again.emit(&mut out2).expect("emit");
    assert_eq!(out2, &out[..len], "emit is not canonical");
}

/// Reads the input as: options (a byte of flags), a file size (3 bytes), then operations of 3
/// bytes: kind, a 16-bit argument. Time advances by the argument's low byte in milliseconds on
/// every operation.
pub fn transfer(data: &[u8]) {
    let [flags, s0, s1, s2, ops @ ..] = data else { return };
    let size = u64::from(u32::from_be_bytes([0, *s0, *s1, *s2])) % 200_000;
    let mut opts = Vec::new();
    if flags & 1 != 0 {
        opts.extend_from_slice(format!("blksize\0{}\0", 8 + (u16::from(*s2) * 7) % 1500).as_bytes());
    }
    if flags & 2 != 0 {
        opts.extend_from_slice(format!("windowsize\0{}\0", 1 + (flags >> 4)).as_bytes());
    }
    if flags & 4 != 0 {
        opts.extend_from_slice(b"tsize\x000\x00");
    }
    if flags & 8 != 0 {
        opts.extend_from_slice(b"timeout\x002\x00");
    }
    let options = OptionList::from_wire(&opts).expect("well-formed options");
    let neg = Negotiation::for_read(options, size, &Limits::default());
    let mut now = Duration::ZERO;
    let mut s = Sender::new(&neg, size, SenderConfig::default(), now);
    let check = |s: &mut Sender, now: Duration| {
        let mut sent = 0;
        while let Some(t) = s.poll_transmit(now) {
            sent += 1;
            assert!(sent <= s.window() + 1, "more than a window at once");
            if let Transmit::Data { block, offset, len } = t {
                let abs = offset / s.blksize() + 1;
                assert_eq!(block, abs as u16);
                assert!(abs <= s.acked_blocks() + s.window(), "block {abs} beyond the window");
                assert!(abs <= s.total_blocks(), "block {abs} beyond the file");
                assert!(offset + len as u64 <= size, "data beyond the file");
                assert!(len as u64 <= s.blksize());
            }
        }
        assert!(s.highest_sent() <= s.total_blocks());
        assert!(s.acked_bytes() <= size);
    };
    check(&mut s, now);
    for op in ops.chunks_exact(3) {
        let arg = u16::from_be_bytes([op[1], op[2]]);
        now += Duration::from_millis(u64::from(op[2]));
        match op[0] % 5 {
            0 | 1 => s.handle_ack(arg, now),
            2 => {
                if let Some(t) = s.poll_timeout() {
                    now = now.max(t);
                }
                s.handle_timeout(now);
            }
            3 => s.handle_repeated_request(now),
            _ => {
                if arg % 97 == 0 {
                    s.handle_error(ErrorCode(arg));
                }
            }
        }
        check(&mut s, now);
        if let Some(Ok(())) = s.result() {
            assert_eq!(s.acked_bytes(), size, "done before the last block was acknowledged");
        }
    }
}
