//! A virtual network and clock for TFTP transfers: a `Sender` and a `Receiver` exchange real
//! datagrams through a channel that loses, duplicates and delays (so reorders) them, driven by a
//! seeded generator; time jumps to the next arrival or deadline. No sockets, no sleeps.

use std::collections::BinaryHeap;
use std::time::Duration;

use netboot_proto::tftp::{
    Limits, Negotiation, Packet, Receiver, ReceiverConfig, ReceiverEvent, ReceiverOutput, Sender, SenderConfig,
    SenderError, Transmit, data_header,
};

/// A small deterministic generator (xorshift64*), so every run is reproducible from its seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p && p > 0.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

/// How the channel misbehaves, each direction alike.
#[derive(Debug, Clone, Copy)]
pub struct Channel {
    pub loss: f64,
    pub duplicate: f64,
    /// Base one-way delay.
    pub delay: Duration,
    /// Extra random delay up to this, which reorders datagrams.
    pub jitter: Duration,
}

impl Channel {
    pub const PERFECT: Channel =
        Channel { loss: 0.0, duplicate: 0.0, delay: Duration::from_micros(100), jitter: Duration::ZERO };
}

/// What the client asks for.
#[derive(Debug, Clone, Copy)]
pub struct Ask {
    pub blksize: Option<u16>,
    pub windowsize: Option<u16>,
    pub tsize: bool,
}

#[derive(Debug)]
pub struct Outcome {
    pub sender: Option<Result<(), SenderError>>,
    pub receiver: Option<ReceiverOutput>,
    pub data: Vec<u8>,
    pub elapsed: Duration,
    pub datagrams: u64,
    pub retransmitted: u64,
    pub negotiated: Option<(u16, u16, Option<u64>)>,
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct InFlight {
    // BinaryHeap is a max-heap: invert for earliest first.
    at: std::cmp::Reverse<Duration>,
    seq: std::cmp::Reverse<u64>,
    to_server: bool,
    bytes: Vec<u8>,
}

/// Runs one whole transfer of `file` and returns what each side ended with. Panics if the
/// sender ever asks for a block beyond its window or beyond the file.
pub fn run(file: &[u8], ask: Ask, limits: Limits, channel: Channel, seed: u64) -> Outcome {
    let mut rng = Rng::new(seed);
    let mut now = Duration::ZERO;
    let rcfg = ReceiverConfig {
        blksize: ask.blksize,
        windowsize: ask.windowsize,
        tsize: ask.tsize,
        timeout: Duration::from_millis(300),
        // Real clients wait 5-30 s in all before giving up (iPXE, PXE ROMs, tftp-hpa).
        max_retries: 30,
    };
    let mut receiver = Receiver::new(b"boot.bin", rcfg, now);
    let mut sender: Option<(Sender, Negotiation)> = None;
    let mut queue: BinaryHeap<InFlight> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut got = Vec::new();
    let mut datagrams = 0u64;
    let mut negotiated = None;
    let mut buf = vec![0u8; 65536 + 4];
    let scfg = SenderConfig { max_retries: 12, ..SenderConfig::default() };

    let trace = std::env::var_os("TFTP_SIM_TRACE").is_some();
    let mut send = |queue: &mut BinaryHeap<InFlight>, rng: &mut Rng, now: Duration, to_server: bool, bytes: &[u8]| {
        datagrams += 1;
        let lost = rng.chance(channel.loss);
        if trace {
            eprintln!(
                "{now:?} {} {:?}{}",
                if to_server { "c->s" } else { "s->c" },
                Packet::parse(bytes).map(|p| match p {
                    Packet::Data { block, data } => format!("DATA {block} ({})", data.len()),
                    p => format!("{p:?}"),
                }),
                if lost { " LOST" } else { "" }
            );
        }
        if lost {
            return;
        }
        let copies = if rng.chance(channel.duplicate) { 2 } else { 1 };
        for _ in 0..copies {
            let jitter = Duration::from_nanos(rng.below(channel.jitter.as_nanos() as u64 + 1));
            seq += 1;
            queue.push(InFlight {
                at: std::cmp::Reverse(now + channel.delay + jitter),
                seq: std::cmp::Reverse(seq),
                to_server,
                bytes: bytes.to_vec(),
            });
        }
    };

    for _step in 0..5_000_000u64 {
        // Everything each side wants to send now.
        if let Some((s, neg)) = sender.as_mut() {
            while let Some(t) = s.poll_transmit(now) {
                let n = match t {
                    Transmit::Oack => {
                        let mut opts = [0u8; 128];
                        let options = neg.write_oack_options(&mut opts).expect("oack fits");
                        Packet::Oack { options }.emit(&mut buf).expect("emit oack")
                    }
                    Transmit::Data { block, offset, len } => {
                        let abs = offset / s.blksize() + 1;
                        assert!(abs <= s.acked_blocks() + s.window(), "block {abs} beyond the window");
                        assert!(abs <= s.total_blocks(), "block {abs} beyond the file");
                        assert_eq!(block, abs as u16);
                        let off = offset as usize;
                        assert!(off + len <= file.len(), "data beyond the file");
                        assert!(len as u64 == (file.len() as u64 - offset).min(s.blksize()));
                        buf[..4].copy_from_slice(&data_header(block));
                        buf[4..4 + len].copy_from_slice(&file[off..off + len]);
                        4 + len
                    }
                };
                let bytes = buf[..n].to_vec();
                send(&mut queue, &mut rng, now, false, &bytes);
            }
        }
        while let Some(r) = receiver.poll_transmit(&mut buf, now) {
            let n = r.expect("receiver emits");
            let bytes = buf[..n].to_vec();
            send(&mut queue, &mut rng, now, true, &bytes);
        }
        let sender_done = sender.as_ref().is_some_and(|(s, _)| s.result().is_some());
        if receiver.result().is_some() && (sender_done || sender.is_none()) && queue.is_empty() {
            break;
        }
        if receiver.result().is_some_and(|r| !matches!(r, ReceiverOutput::Complete { .. })) && sender_done {
            break;
        }
        // Jump to the next event.
        let mut next = queue.peek().map(|f| f.at.0);
        for t in [receiver.poll_timeout(), sender.as_ref().and_then(|(s, _)| s.poll_timeout())].into_iter().flatten() {
            next = Some(next.map_or(t, |n| n.min(t)));
        }
        let Some(next) = next else { break };
        now = now.max(next);
        while queue.peek().is_some_and(|f| f.at.0 <= now) {
            let f = queue.pop().expect("peeked");
            if f.to_server {
                match Packet::parse(&f.bytes) {
                    Ok(Packet::Rrq { options, .. }) => match sender.as_mut() {
                        None => {
                            let neg = Negotiation::for_read(options, file.len() as u64, &limits);
                            sender = Some((Sender::new(&neg, file.len() as u64, scfg, now), neg));
                        }
                        Some((s, _)) => s.handle_repeated_request(now),
                    },
                    Ok(Packet::Ack { block }) => {
                        if let Some((s, _)) = sender.as_mut() {
                            s.handle_ack(block, now);
                        }
                    }
                    Ok(Packet::Error { code, .. }) => {
                        if let Some((s, _)) = sender.as_mut() {
                            s.handle_error(code);
                        }
                    }
                    other => panic!("server got {other:?}"),
                }
            } else {
                match receiver.handle_packet(&f.bytes, now) {
                    Some(ReceiverEvent::Data { offset, data }) => {
                        assert_eq!(offset, got.len() as u64, "data out of order");
                        got.extend_from_slice(data);
                    }
                    Some(ReceiverEvent::Negotiated { blksize, windowsize, tsize }) => {
                        negotiated = Some((blksize, windowsize, tsize));
                    }
                    None => {}
                }
            }
        }
        if let Some((s, _)) = sender.as_mut() {
            s.handle_timeout(now);
        }
        receiver.handle_timeout(now);
    }
    Outcome {
        retransmitted: sender.as_ref().map_or(0, |(s, _)| s.retransmitted()),
        sender: sender.as_ref().and_then(|(s, _)| s.result()),
        receiver: receiver.result(),
        data: got,
        elapsed: now,
        datagrams,
        negotiated,
    }
}

/// A file of `len` octets whose content shows any misplaced block.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i as u64).wrapping_mul(2_654_435_761) as u8 ^ (i >> 8) as u8).collect()
}
