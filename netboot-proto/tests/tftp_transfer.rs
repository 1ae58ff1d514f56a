//! Whole TFTP read transfers between recon's `Sender` and `Receiver` over a virtual network:
//! every option combination, file sizes around block boundaries, block-number rollover, loss,
//! duplication and reordering. The simulator asserts on every datagram that the sender stays
//! within its window and the file.

mod support;

use std::time::Duration;

use netboot_proto::tftp::{ErrorCode, Limits, ReceiverOutput, SenderError};
use proptest::prelude::*;
use support::tftp_sim::{Ask, Channel, pattern, run};

fn assert_complete(file: &[u8], out: &support::tftp_sim::Outcome, what: &str) {
    assert_eq!(out.receiver, Some(ReceiverOutput::Complete { size: file.len() as u64 }), "{what}");
    assert!(out.data == file, "{what}: the data differs ({} vs {} octets)", out.data.len(), file.len());
    assert_eq!(out.sender, Some(Ok(())), "{what}");
}

const NO_OPTIONS: Ask = Ask { blksize: None, windowsize: None, tsize: false };

#[test]
fn every_option_combination_and_size_over_a_perfect_channel() {
    let limits = Limits { max_blksize: 1468, max_windowsize: 16 };
    for blksize in [None, Some(8), Some(512), Some(1024), Some(1468), Some(65464)] {
        for windowsize in [None, Some(1), Some(4), Some(16), Some(64)] {
            for tsize in [false, true] {
                let bs = usize::from(blksize.unwrap_or(512).min(1468));
                for len in [0, 1, bs - 1, bs, bs + 1, 3 * bs, 17 * bs + 5] {
                    let file = pattern(len);
                    let ask = Ask { blksize, windowsize, tsize };
                    let out = run(&file, ask, limits, Channel::PERFECT, 1);
                    let what = format!("{ask:?} len {len}");
                    assert_complete(&file, &out, &what);
                    if blksize.is_some() || windowsize.is_some() || tsize {
                        let (b, w, t) = out.negotiated.expect("OACK");
                        assert_eq!(b, blksize.map_or(512, |b| b.min(1468)), "{what}");
                        assert_eq!(w, windowsize.map_or(1, |w| w.min(16)), "{what}");
                        assert_eq!(t, tsize.then_some(len as u64), "{what}");
                    } else {
                        assert_eq!(out.negotiated, None, "{what}: OACK without options");
                    }
                    // Perfect channel: nothing is ever sent twice.
                    assert_eq!(out.retransmitted, 0, "{what}");
                }
            }
        }
    }
}

#[test]
fn block_numbers_roll_over_past_65535() {
    // 8-octet blocks: 70,001 blocks, so the wire number wraps once, lock-step and windowed.
    let file = pattern(8 * 70_000 + 3);
    for windowsize in [None, Some(16)] {
        let ask = Ask { blksize: Some(8), windowsize, tsize: true };
        let out = run(&file, ask, Limits::default(), Channel::PERFECT, 7);
        assert_complete(&file, &out, &format!("rollover {windowsize:?}"));
    }
    // And a 40 MB file at 512-octet blocks without options (81,921 blocks), with loss.
    let file = pattern(40 * 1024 * 1024);
    let lossy =
        Channel { loss: 0.01, duplicate: 0.01, delay: Duration::from_micros(100), jitter: Duration::from_micros(50) };
    let out = run(&file, NO_OPTIONS, Limits::default(), lossy, 11);
    assert_complete(&file, &out, "40 MB lock-step, 1 % loss");
}

#[test]
fn loss_duplication_and_reordering_in_every_mode() {
    let channels = [
        Channel { loss: 0.05, duplicate: 0.0, delay: Duration::from_micros(200), jitter: Duration::ZERO },
        Channel { loss: 0.0, duplicate: 0.2, delay: Duration::from_micros(200), jitter: Duration::ZERO },
        Channel { loss: 0.0, duplicate: 0.0, delay: Duration::from_micros(200), jitter: Duration::from_millis(2) },
        Channel { loss: 0.2, duplicate: 0.1, delay: Duration::from_micros(500), jitter: Duration::from_millis(3) },
    ];
    let file = pattern(200 * 1024 + 77);
    for (i, ch) in channels.iter().enumerate() {
        for ask in [
            NO_OPTIONS,
            Ask { blksize: Some(1468), windowsize: None, tsize: true },
            Ask { blksize: Some(1468), windowsize: Some(16), tsize: false },
            Ask { blksize: Some(512), windowsize: Some(4), tsize: true },
        ] {
            for seed in 0..4 {
                let out = run(&file, ask, Limits::default(), *ch, seed);
                assert_complete(&file, &out, &format!("channel {i} {ask:?} seed {seed}"));
            }
        }
    }
}

#[test]
fn windowing_needs_fewer_round_trips() {
    let file = pattern(1024 * 1024);
    let lock =
        run(&file, Ask { blksize: Some(1468), windowsize: None, tsize: false }, Limits::default(), Channel::PERFECT, 3);
    let win = run(
        &file,
        Ask { blksize: Some(1468), windowsize: Some(16), tsize: false },
        Limits::default(),
        Channel::PERFECT,
        3,
    );
    assert_complete(&file, &lock, "lock-step");
    assert_complete(&file, &win, "windowed");
    // One round trip per block versus one per 16 blocks (virtual time, not wall time).
    assert!(win.elapsed * 8 < lock.elapsed, "{:?} vs {:?}", win.elapsed, lock.elapsed);
    // And one ACK per window instead of one per block.
    assert!(win.datagrams < lock.datagrams * 2 / 3, "{} vs {}", win.datagrams, lock.datagrams);
}

#[test]
fn a_dead_client_times_out_after_the_retry_limit() {
    let file = pattern(10_000);
    let dead = Channel { loss: 1.0, duplicate: 0.0, delay: Duration::from_micros(100), jitter: Duration::ZERO };
    // Everything is lost, so the request never arrives: no sender; the receiver gives up.
    let out = run(&file, NO_OPTIONS, Limits::default(), dead, 1);
    assert_eq!(out.receiver, Some(ReceiverOutput::TimedOut));
    assert!(out.sender.is_none());
}

#[test]
fn the_sender_times_out_when_acks_stop() {
    use netboot_proto::tftp::{Negotiation, OptionList, Sender, SenderConfig, Transmit};
    let neg = Negotiation::for_read(OptionList::default(), 5000, &Limits::default());
    let cfg = SenderConfig::default();
    let mut s = Sender::new(&neg, 5000, cfg, Duration::ZERO);
    let mut now = Duration::ZERO;
    assert!(matches!(s.poll_transmit(now), Some(Transmit::Data { block: 1, offset: 0, len: 512 })));
    assert_eq!(s.poll_transmit(now), None, "lock-step: one block in flight");
    let mut expiries = 0;
    let mut last_gap = Duration::ZERO;
    while s.result().is_none() {
        let deadline = s.poll_timeout().expect("a timer runs");
        let gap = deadline - now;
        assert!(gap >= last_gap, "backoff never shrinks: {gap:?} after {last_gap:?}");
        last_gap = gap;
        now = deadline;
        s.handle_timeout(now);
        if s.result().is_none() {
            expiries += 1;
            assert!(matches!(s.poll_transmit(now), Some(Transmit::Data { block: 1, .. })), "block 1 again");
        }
    }
    assert_eq!(s.result(), Some(Err(SenderError::TimedOut { retries: cfg.max_retries })));
    assert_eq!(expiries, cfg.max_retries);
    assert!(last_gap <= cfg.max_backoff);
}

#[test]
fn duplicating_every_datagram_does_not_multiply_traffic() {
    // If duplicate ACKs each caused a retransmission, every datagram being duplicated would
    // double the traffic with each block (the Sorcerer's Apprentice). It must stay linear.
    let file = pattern(512 * 400);
    let all_twice =
        Channel { loss: 0.0, duplicate: 1.0, delay: Duration::from_micros(200), jitter: Duration::from_micros(100) };
    for ask in [NO_OPTIONS, Ask { blksize: Some(512), windowsize: Some(8), tsize: false }] {
        let out = run(&file, ask, Limits::default(), all_twice, 5);
        assert_complete(&file, &out, &format!("{ask:?}"));
        // Lock-step: one DATA and two ACKs per block (the second answers the duplicate DATA).
        // Windowed, the jitter also reorders, and each gap report costs a partial resend. Both
        // stay a few datagrams per block; the Sorcerer's Apprentice would double per block.
        assert!(out.datagrams <= 401 * 6, "{ask:?}: {} datagrams for 401 blocks", out.datagrams);
    }
}

#[test]
fn duplicate_acks_never_cause_retransmission() {
    // The Sorcerer's Apprentice: a delayed duplicate ACK must not make the sender send the next
    // block twice.
    use netboot_proto::tftp::{Negotiation, OptionList, Sender, SenderConfig, Transmit};
    let neg = Negotiation::for_read(OptionList::default(), 512 * 4, &Limits::default());
    let mut s = Sender::new(&neg, 512 * 4, SenderConfig::default(), Duration::ZERO);
    let t = Duration::from_millis(1);
    assert!(matches!(s.poll_transmit(t), Some(Transmit::Data { block: 1, .. })));
    s.handle_ack(1, t);
    assert!(matches!(s.poll_transmit(t), Some(Transmit::Data { block: 2, .. })));
    for _ in 0..5 {
        s.handle_ack(1, t);
        assert_eq!(s.poll_transmit(t), None, "a duplicate ACK 1 sent block 2 again");
    }
    s.handle_ack(2, t);
    assert!(matches!(s.poll_transmit(t), Some(Transmit::Data { block: 3, .. })));
    // An ACK for a block never sent is ignored too.
    s.handle_ack(9, t);
    assert_eq!(s.poll_transmit(t), None);
    assert_eq!(s.retransmitted(), 0);
}

#[test]
fn a_client_error_ends_the_transfer() {
    use netboot_proto::tftp::{Negotiation, OptionList, Sender, SenderConfig, Transmit};
    // OVMF asks for tsize, then aborts with error 8 to ask again without it.
    let opts = OptionList::from_wire(b"tsize\x000\x00blksize\x001468\x00").unwrap();
    let neg = Negotiation::for_read(opts, 850_528, &Limits::default());
    let mut s = Sender::new(&neg, 850_528, SenderConfig::default(), Duration::ZERO);
    assert_eq!(s.poll_transmit(Duration::ZERO), Some(Transmit::Oack));
    s.handle_error(ErrorCode::OPTION_REFUSED);
    assert_eq!(s.result(), Some(Err(SenderError::Aborted { code: ErrorCode::OPTION_REFUSED })));
    assert_eq!(s.poll_transmit(Duration::ZERO), None);
    assert_eq!(s.poll_timeout(), None);
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64),
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::Direct(
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/proptest-regressions/tftp_transfer.txt"),
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_options_sizes_and_channel_deliver_the_file(
        len in 0usize..40_000,
        blksize in proptest::option::of(8u16..=2048),
        windowsize in proptest::option::of(1u16..=32),
        tsize in any::<bool>(),
        loss in 0.0f64..0.25,
        duplicate in 0.0f64..0.2,
        jitter_us in 0u64..3000,
        seed in any::<u64>(),
    ) {
        let file = pattern(len);
        let ch = Channel { loss, duplicate, delay: Duration::from_micros(300), jitter: Duration::from_micros(jitter_us) };
        let out = run(&file, Ask { blksize, windowsize, tsize }, Limits::default(), ch, seed);
        prop_assert_eq!(out.receiver, Some(ReceiverOutput::Complete { size: len as u64 }));
        prop_assert!(out.data == file);
        prop_assert_eq!(out.sender, Some(Ok(())));
    }
}
