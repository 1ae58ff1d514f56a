//! The TFTP server: one socket on port 69 read by a smol task, and each transfer on a thread of
//! smol's blocking pool (`smol::unblock`) with its own socket on an ephemeral port (the server's
//! transfer ID, RFC 1350 section 4) driving a sans-IO [`Sender`].
//!
//! Why a pool thread per transfer rather than a task: lock-step TFTP waits one round trip per
//! block, and a blocking `recv` woken by the kernel costs three system calls per block (`pread`,
//! `send`, `recv`), as tftpd-hpa's forked children do; the reactor adds epoll calls and
//! bookkeeping to every block, which made transfers slower than tftpd-hpa's (bench/README.md,
//! "tftp.sh"). Threads also spread many transfers over every CPU.
//!
//! Transfer sockets are connected to the client: the kernel then drops datagrams from any other
//! transfer ID (RFC 1350 asks for an ERROR 5 to them; this server stays silent instead), and
//! reports the client's ICMP port unreachable, which tells the transfer at once that the client
//! is gone: after the last block (its final ACK was lost) the transfer ends as delivered but
//! unconfirmed, before it, as failed, and the slot is free without waiting out the retries.
//!
//! Data goes from the file into the datagram buffer with one `pread` per block, on the
//! transfer's own thread: a read that misses the page cache (a boot file on the stick) blocks
//! that transfer only.
//!
//! A slot is a pool thread and a socket, so hostile clients are kept from holding them
//! (crate::serve::tftp has the policy): at most `max_transfers` at once and
//! [`PER_SOURCE_LIMIT`] per address, requests beyond dropped and counted (`busy`, `limited`);
//! each transfer ends at its idle limit or time limit (`expired`), checked after every wake-up,
//! so no stream of datagrams can postpone them.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use netboot_proto::tftp::{
    ErrorCode, Limits, Negotiation, Packet, Sender, SenderConfig, SenderError, Transmit, blksize_for_mtu, data_header,
};
use smol::{Async, LocalExecutor};
use std::sync::Arc;

use super::store::Store;

use super::udp::{UdpOptions, bind_udp, interface_mtu, local_v4, recv_with_info};
use crate::serve::tftp::{Admission, Decision, PER_SOURCE_LIMIT, Root, Slots, decide, with_deadlines};

/// How the server runs.
#[derive(Debug, Clone)]
pub(crate) struct TftpConfig {
    /// The directory served, read-only.
    pub(crate) root: PathBuf,
    /// Address and port of the request socket (0.0.0.0 serves every address).
    pub(crate) listen: SocketAddrV4,
    /// Transfers at once; requests beyond are dropped, and the client's retry comes later. One
    /// address gets at most [`PER_SOURCE_LIMIT`] of them.
    pub(crate) max_transfers: usize,
    /// The largest window granted (RFC 7440).
    pub(crate) max_windowsize: u16,
    /// The sender's timer policy; the server adds its deadlines ([`with_deadlines`]).
    pub(crate) sender: SenderConfig,
}

/// Counters, for logs and tests.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) requests: Cell<u64>,
    pub(crate) started: Cell<u64>,
    pub(crate) completed: Cell<u64>,
    pub(crate) failed: Cell<u64>,
    pub(crate) refused: Cell<u64>,
    pub(crate) dropped: Cell<u64>,
    pub(crate) busy: Cell<u64>,
    /// Requests dropped because their address had [`PER_SOURCE_LIMIT`] transfers running.
    pub(crate) limited: Cell<u64>,
    /// Transfers dropped at their idle limit or time limit (not counted in `failed`).
    pub(crate) expired: Cell<u64>,
    pub(crate) bytes: Cell<u64>,
}

impl Stats {
    /// For `GET /api/v1/stats`.
    pub(crate) fn counters(&self) -> [(&'static str, u64); 10] {
        [
            ("requests", self.requests.get()),
            ("started", self.started.get()),
            ("completed", self.completed.get()),
            ("failed", self.failed.get()),
            ("refused", self.refused.get()),
            ("dropped", self.dropped.get()),
            ("busy", self.busy.get()),
            ("limited", self.limited.get()),
            ("expired", self.expired.get()),
            ("octets", self.bytes.get()),
        ]
    }
}

fn bump(c: &Cell<u64>, by: u64) {
    c.set(c.get() + by);
}

/// Why a transfer ended badly.
#[derive(Debug, thiserror::Error)]
enum TransferError {
    #[error("{0}")]
    Protocol(#[from] SenderError),
    #[error("the client went away (port unreachable) before the last block")]
    Gone,
    #[error("reading the file: {0}")]
    Read(io::Error),
    #[error("socket: {0}")]
    Socket(io::Error),
}

/// Serves until the socket fails. `ex` runs the transfer tasks.
pub(crate) async fn serve(
    cfg: TftpConfig,
    ex: Rc<LocalExecutor<'static>>,
    stats: Rc<Stats>,
    store: Option<Arc<Store>>,
) -> anyhow::Result<()> {
    let root = Root::open(&cfg.root).map_err(|e| anyhow::anyhow!("tftp root {}: {e}", cfg.root.display()))?;
    let opts = UdpOptions { pktinfo: true, reuse_addr: true, ..UdpOptions::default() };
    let sock = bind_udp(cfg.listen, &opts).map_err(|e| anyhow::anyhow!("tftp: {e}"))?;
    log::info!("tftp: serving {} on {} (read-only)", root.path().display(), local_v4(&sock)?);
    let clock = Instant::now();
    let sender_cfg = with_deadlines(cfg.sender);
    let active = Rc::new(RefCell::new(Slots::new(cfg.max_transfers, PER_SOURCE_LIMIT)));
    let mut mtus: HashMap<u32, u16> = HashMap::new();
    let mut buf = vec![0u8; 65536];
    let mut reply = vec![0u8; 1024];
    loop {
        let r = recv_with_info(&sock, &mut buf).await?;
        bump(&stats.requests, 1);
        if active.borrow().is_running(r.from) {
            // The client asked again before it saw our first packet; its transfer's timer will
            // send it again.
            bump(&stats.dropped, 1);
            continue;
        }
        // Blocks that fit the interface the request came in on (1468 on Ethernet).
        let max_blksize = r
            .ifindex
            .map(|i| *mtus.entry(i).or_insert_with(|| interface_mtu(i).map_or(1468, blksize_for_mtu)))
            .unwrap_or(1468);
        let limits = Limits { max_blksize, max_windowsize: cfg.max_windowsize };
        let datagram = buf.get(..r.len).unwrap_or(&[]);
        match decide(datagram, &root, &limits) {
            Decision::Read { name, file, size, negotiation } => {
                // Over a cap the request is dropped, not refused: the client repeats it and is
                // served once a slot frees (see Slots for why).
                match active.borrow_mut().admit(r.from) {
                    Admission::Start => {}
                    Admission::Running => {
                        bump(&stats.dropped, 1);
                        continue;
                    }
                    Admission::Full => {
                        bump(&stats.busy, 1);
                        log::warn!("tftp: {} transfers running, dropping a request from {}", cfg.max_transfers, r.from);
                        continue;
                    }
                    Admission::SourceFull => {
                        bump(&stats.limited, 1);
                        log::warn!(
                            "tftp: {} has {PER_SOURCE_LIMIT} transfers running, dropping a request from {}",
                            r.from.ip(),
                            r.from
                        );
                        continue;
                    }
                }
                let local = match (cfg.listen.ip(), r.local) {
                    (ip, _) if !ip.is_unspecified() => *ip,
                    (_, Some(ip)) => ip,
                    _ => Ipv4Addr::UNSPECIFIED,
                };
                let tsock = match transfer_socket(local, r.from) {
                    Ok(s) => s,
                    Err(e) => {
                        active.borrow_mut().release(r.from);
                        log::error!("tftp: no transfer socket for {}: {e}", r.from);
                        continue;
                    }
                };
                bump(&stats.started, 1);
                let name = String::from_utf8_lossy(name).into_owned();
                let (active, stats, peer) = (active.clone(), stats.clone(), r.from);
                let store = store.clone();
                ex.spawn(async move {
                    let started = Instant::now();
                    let out = smol::unblock(move || transfer(&tsock, &file, size, negotiation, sender_cfg, clock)).await;
                    active.borrow_mut().release(peer);
                    let secs = started.elapsed().as_secs_f64();
                    // The node's timeline, when the master knows which node has this address.
                    if let Some(store) = &store {
                        let mac = store.fleet().mac_of(*peer.ip());
                        if let Some(mac) = mac {
                            let fields = match &out {
                                Ok(_) => serde_json::json!({ "file": name, "status": "sent", "bytes": size }),
                                Err(e) => serde_json::json!({ "file": name, "status": "failed", "error": e.to_string() }),
                            };
                            store.event(mac, "tftp", fields, true);
                        }
                    }
                    match out {
                        Ok((retransmitted, confirmed)) => {
                            bump(&stats.completed, 1);
                            bump(&stats.bytes, size);
                            let how = if confirmed { "" } else { ", final ACK lost: client closed after the last block" };
                            log::info!(
                                "tftp: {peer} {name}: {size} B in {secs:.3} s (blksize {}, window {}, {retransmitted} resent){how}",
                                negotiation.blksize,
                                negotiation.windowsize
                            );
                        }
                        Err(TransferError::Protocol(e @ (SenderError::Idle { .. } | SenderError::Overdue { .. }))) => {
                            bump(&stats.expired, 1);
                            log::warn!("tftp: {peer} {name}: expired after {secs:.3} s, slot freed: {e}");
                        }
                        Err(e) => {
                            bump(&stats.failed, 1);
                            log::warn!("tftp: {peer} {name}: failed after {secs:.3} s: {e}");
                        }
                    }
                })
                .detach();
            }
            Decision::Refuse { code, message } => {
                bump(&stats.refused, 1);
                log::info!("tftp: {}: refused: {message}", r.from);
                send_error(&sock, r.from, code, &message, &mut reply).await;
            }
            Decision::Drop { why } => {
                bump(&stats.dropped, 1);
                log::debug!("tftp: {}: dropped: {why}", r.from);
            }
        }
    }
}

async fn send_error(sock: &Async<UdpSocket>, to: SocketAddrV4, code: ErrorCode, message: &str, buf: &mut [u8]) {
    if let Some(n) = error_packet(code, message, buf) {
        let _ = sock.send_to(buf.get(..n).unwrap_or(&[]), to).await;
    }
}

fn error_packet(code: ErrorCode, message: &str, buf: &mut [u8]) -> Option<usize> {
    let msg = message.as_bytes();
    let msg = msg.get(..400).unwrap_or(msg);
    (Packet::Error { code, message: msg }).emit(buf).ok()
}

/// A blocking UDP socket for one transfer: bound to the address the client asked, connected to
/// the client, so the kernel drops other transfer IDs and reports the client's port unreachable.
fn transfer_socket(local: Ipv4Addr, peer: SocketAddrV4) -> io::Result<UdpSocket> {
    let sock = bind_udp(SocketAddrV4::new(local, 0), &UdpOptions::default())?.into_inner()?;
    sock.set_nonblocking(false)?;
    sock.connect(peer)?;
    Ok(sock)
}

/// One read transfer on a socket connected to the client; returns the number of blocks sent
/// again, and whether the last one was acknowledged (rather than the client closing its port
/// after getting it).
fn transfer(
    sock: &UdpSocket,
    file: &File,
    size: u64,
    negotiation: Negotiation,
    cfg: SenderConfig,
    clock: Instant,
) -> Result<(u64, bool), TransferError> {
    let now = || clock.elapsed();
    let mut sender = Sender::new(&negotiation, size, cfg, now());
    // A send blocks only on a full socket buffer (a wedged interface); one that blocks longer
    // than the idle limit is no progress either. Set once: the limit is on the whole transfer.
    if let Some(limit) = cfg.idle_limit.filter(|l| !l.is_zero()) {
        sock.set_write_timeout(Some(limit)).map_err(TransferError::Socket)?;
    }
    let mut out = vec![0u8; 4 + usize::from(negotiation.blksize)];
    let mut inb = vec![0u8; 1500];
    let mut err = vec![0u8; 128];
    let mut wait = None;
    loop {
        while let Some(t) = sender.poll_transmit(now()) {
            let n = match t {
                Transmit::Oack => {
                    let mut opts = [0u8; 128];
                    let options = negotiation
                        .write_oack_options(&mut opts)
                        .map_err(|e| TransferError::Socket(io::Error::other(e)))?;
                    Packet::Oack { options }.emit(&mut out).map_err(|e| TransferError::Socket(io::Error::other(e)))?
                }
                Transmit::Data { block, offset, len } => {
                    let (head, body) = out.split_at_mut(4);
                    head.copy_from_slice(&data_header(block));
                    let body =
                        body.get_mut(..len).ok_or_else(|| TransferError::Read(io::Error::other("block too large")))?;
                    if let Err(e) = file.read_exact_at(body, offset) {
                        send_error_blocking(
                            sock,
                            ErrorCode::NOT_DEFINED,
                            "the file changed while being sent",
                            &mut err,
                        );
                        return Err(TransferError::Read(e));
                    }
                    4 + len
                }
            };
            match sock.send(out.get(..n).unwrap_or(&[])) {
                Ok(_) => {}
                // An earlier datagram drew a port unreachable: handled below, on receive.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
                Err(e) => return Err(TransferError::Socket(e)),
            }
        }
        match sender.result() {
            Some(Ok(())) => return Ok((sender.retransmitted(), true)),
            Some(Err(e)) => {
                match e {
                    SenderError::TimedOut { .. } => send_error_blocking(
                        sock,
                        ErrorCode::NOT_DEFINED,
                        "timed out waiting for an acknowledgement",
                        &mut err,
                    ),
                    // Tell a client that is still there why it was cut off.
                    SenderError::Idle { .. } | SenderError::Overdue { .. } => {
                        send_error_blocking(sock, ErrorCode::NOT_DEFINED, &e.to_string(), &mut err)
                    }
                    SenderError::Aborted { .. } => {}
                }
                return Err(e.into());
            }
            None => {}
        }
        // Wait until the deadline; the timeout is set again only when it moves by more than a
        // millisecond (usually only when the retransmission timer changes), not every block.
        let remaining = sender.poll_timeout().map_or(Duration::from_secs(5), |d| d.saturating_sub(now()));
        let remaining = remaining.max(Duration::from_millis(1));
        if wait.is_none_or(|w: Duration| w.abs_diff(remaining) > Duration::from_millis(1)) {
            sock.set_read_timeout(Some(remaining)).map_err(TransferError::Socket)?;
            wait = Some(remaining);
        }
        match sock.recv(&mut inb) {
            Ok(n) => match Packet::parse(inb.get(..n).unwrap_or(&[])) {
                Ok(Packet::Ack { block }) => sender.handle_ack(block, now()),
                Ok(Packet::Error { code, .. }) => sender.handle_error(code),
                // Anything else on the transfer's socket is ignored (malformed ones included).
                _ => {}
            },
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                // ICMP port unreachable: the client closed its port.
                return if sender.all_sent() { Ok((sender.retransmitted(), false)) } else { Err(TransferError::Gone) };
            }
            Err(e) => return Err(TransferError::Socket(e)),
        }
        // Whatever woke the thread: the timer and the limits are absolute times, and a client
        // that keeps sending (duplicate ACKs, strays) faster than the timeout must not keep
        // them from firing, as it would if only a receive timeout called this.
        sender.handle_timeout(now());
    }
}

fn send_error_blocking(sock: &UdpSocket, code: ErrorCode, message: &str, buf: &mut [u8]) {
    if let Some(n) = error_packet(code, message, buf) {
        let _ = sock.send(buf.get(..n).unwrap_or(&[]));
    }
}
