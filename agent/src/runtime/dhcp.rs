//! The DHCP server's I/O: one socket on 0.0.0.0:67 bound to the serving interface
//! (`SO_BINDTODEVICE`, `IP_PKTINFO`, `SO_BROADCAST`, as dnsmasq does) and one on 4011 for PXE
//! boot server requests; the lease journal; neighbour entries for unicast replies; events to the
//! store. The agent's own DHCP client is `runtime::dhcp_client`.
//!
//! Group commit, pipelined: the loop takes every datagram that is waiting (up to a batch) and
//! decides each; a batch that changed a binding goes, records and replies together, to the
//! committer thread, which appends every batch waiting for it with one fdatasync and only then
//! sends their replies. An ACK is never on the wire before its binding is on disk, a burst of
//! clients costs one fsync, not one each, and the loop (and the DNS, TFTP and HTTP tasks sharing
//! its thread) keeps receiving and deciding while the disk syncs (bench/README.md "dhcp.sh" has
//! what syncing inline cost). Replies that need no sync (OFFER, NAK) still queue behind a commit
//! in flight: sent at once, each would cost the client a wakeup of its own, and a burst of them
//! overflowed perfdhcp's socket where the batched replies did not.
//!
//! Reclaim (serve/dhcp, RFC 5227 section 2.1.1): when a DISCOVER finds the pool full, the core
//! names a few addresses to probe; a task beside the port 67 loop on the same executor probes
//! them by ARP (runtime/arp.rs, about a second) while the loop goes on answering everyone else,
//! then hands the answers back to the core, whose reclaim records go through the committer
//! like any other.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};

use netboot_proto::dhcpv4::{self, Packet, Repr};

use super::guard;
use smol::Async;

use super::arp;
use super::clock::unix_secs;
use super::files::Journal;
use super::netlink::Rtnl;
use super::store::Store;
use super::udp::{UdpOptions, bind_udp};
use crate::serve::dhcp::leases::{Leases, Record};
use crate::serve::dhcp::{Config, Dest, Server};

/// Datagrams taken from the socket per batch at most.
const BATCH: usize = 64;

/// Batches queued for the committer at most; beyond this the loop waits (the socket's receive
/// buffer holds what arrives meanwhile).
const QUEUE: usize = 256;

/// How long a reclaim round listens for ARP answers (RFC 5227's PROBE_MIN to PROBE_MAX is 1-2 s
/// between probes; hosts answer within milliseconds).
const RECLAIM_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Names the DNS responder answers for leased nodes, kept current by the DHCP loop.
pub(crate) type Names = Rc<RefCell<BTreeMap<String, Ipv4Addr>>>;

/// Counters beyond the core's.
#[derive(Debug, Default)]
pub(crate) struct IoStats {
    pub(crate) malformed: u64,
    pub(crate) journal_lines_skipped: u64,
    pub(crate) unicast_fallbacks: u64,
    /// Datagrams dropped because the master finished.
    pub(crate) after_finish: u64,
    /// Datagrams dropped after the interlock stopped this server (runtime/guard.rs).
    pub(crate) stood_down: u64,
}

/// Everything the loop owns.
pub(crate) struct Dhcp {
    server: Server,
    commit: Commit,
    /// Lines in the journal once the committer has written what it was given.
    journal_lines: usize,
    rtnl: Option<Rtnl>,
    ifindex: u32,
    store: Arc<Store>,
    names: Names,
    /// When the names were last rebuilt from the whole table (Unix seconds).
    names_at: u64,
    pub(crate) io: IoStats,
    /// Set when the master finishes: every datagram is dropped, none answered.
    pub(crate) off: Arc<std::sync::atomic::AtomicBool>,
    /// The production interlock (runtime/guard.rs), while it watches.
    guard: Option<Guard>,
    /// Recon masters that stand down for this one: their DHCP is no foreign server's for a while.
    pub(crate) rivals: guard::Rivals,
    /// The interface's MAC, the sender of reclaim probes.
    own_mac: Option<netboot_proto::Mac>,
    /// A reclaim round the core asked for, not yet taken by the prober.
    round: Vec<Ipv4Addr>,
    /// Wakes the prober (a pending wake is enough: the round is in `round`).
    wake: (smol::channel::Sender<()>, smol::channel::Receiver<()>),
}

/// What the interlock knows.
struct Guard {
    /// This master's address: REQUESTs naming another server give that one away.
    server: Ipv4Addr,
    /// The interface, for the messages.
    iface: String,
    /// Stop answering on a sign of another server (the mode was chosen by `auto`); else only say
    /// so (the operator asked for full DHCP).
    stand_down: bool,
    /// The first sign seen.
    tripped: Option<String>,
}

impl Dhcp {
    /// Opens the journal under `data` and replays it.
    pub(crate) fn open(cfg: Config, data: &Path, ifindex: u32, store: Arc<Store>, names: Names) -> io::Result<Dhcp> {
        let (journal, replay) = Journal::open(&data.join("leases.jsonl"))?;
        if replay.torn_tail {
            log::warn!("dhcp: leases.jsonl ended in a partial line (a crash mid-write); it was dropped");
        }
        let mut leases = Leases::default();
        let mut io = IoStats::default();
        for line in &replay.lines {
            match serde_json::from_str::<Record>(line) {
                Ok(r) => leases.apply(&r),
                Err(e) => {
                    // Kept in the file: a newer recon may understand it.
                    io.journal_lines_skipped += 1;
                    log::warn!("dhcp: leases.jsonl: skipping a line recon cannot read ({e}): {line}");
                }
            }
        }
        log::info!("dhcp: {} journal lines replayed, {} addresses known", replay.lines.len(), leases.len());
        let rtnl =
            Rtnl::open().map_err(|e| log::warn!("dhcp: no rtnetlink ({e}); replies to new clients are broadcast")).ok();
        let journal_lines = journal.lines;
        let commit = Commit::start(journal)?;
        let mut d = Dhcp {
            server: Server::new(cfg, leases),
            commit,
            journal_lines,
            rtnl,
            ifindex,
            store,
            names,
            names_at: 0,
            io,
            off: Arc::default(),
            guard: None,
            rivals: guard::Rivals::default(),
            own_mac: None,
            round: Vec::new(),
            wake: smol::channel::bounded(1),
        };
        d.refresh_names(unix_secs());
        Ok(d)
    }

    /// Rebuilds the DNS names from every bound lease, dropping the expired ones: O(leases), so
    /// done at start and then at most once a minute.
    fn refresh_names(&mut self, now: u64) {
        let mut names = self.names.borrow_mut();
        names.clear();
        for (ip, l) in self.server.leases().bound(now) {
            if let Some(h) = &l.hostname {
                names.insert(h.clone(), ip);
            }
        }
        self.names_at = now;
    }

    /// Applies one batch's records to the DNS names: O(batch), not a rebuild per batch, which
    /// took most of the DHCP thread's CPU with 10 000 leases (bench/README.md, "dhcp.sh").
    fn update_names(&mut self, records: &[Record], now: u64) {
        if now >= self.names_at + 60 {
            return self.refresh_names(now);
        }
        let mut names = self.names.borrow_mut();
        for r in records {
            match r {
                Record::Bind { ip, host: Some(h), .. } => {
                    names.insert(h.clone(), *ip);
                }
                Record::Bind { host: None, .. } => {}
                Record::Release { ip, .. } | Record::Decline { ip, .. } | Record::Reclaim { ip } => {
                    names.retain(|_, a| a != ip)
                }
            }
        }
    }

    /// Watches for other DHCP servers (runtime/guard.rs) while this one hands out addresses on
    /// `iface` as `server`; `stand_down`: stop answering at the first sign of one.
    pub(crate) fn guard(&mut self, iface: &str, server: Ipv4Addr, stand_down: bool) {
        self.guard = Some(Guard { server, iface: iface.to_owned(), stand_down, tripped: None });
    }

    /// The interface's own MAC: requests that carry it (our own traffic, or a forgery) get no
    /// answer.
    pub(crate) fn set_own_mac(&mut self, mac: netboot_proto::Mac) {
        self.server.set_own_mac(mac.0);
        self.own_mac = Some(mac);
    }

    /// The minimum age before a full pool's reclaim may probe an address (`--reclaim-after`).
    pub(crate) fn set_reclaim_after(&mut self, secs: u32) {
        self.server.set_reclaim_after(secs);
    }

    /// A reclaim round's answer (the addresses a host answered ARP for, or why there is none):
    /// the core frees the silent ones, and their records are journaled like a batch's.
    fn reclaim_done(&mut self, probed: &[Ipv4Addr], answer: io::Result<Vec<Ipv4Addr>>, sock: &Arc<UdpSocket>) {
        let present = match answer {
            // Finished or stopped meanwhile: nothing more is promised or journaled.
            Ok(_) if self.off.load(Ordering::Acquire) || self.stood_down() => {
                return self.server.reclaim_abandoned();
            }
            Ok(p) => p,
            Err(e) => {
                log::warn!("dhcp: reclaim: ARP probe of {} addresses failed: {e}", probed.len());
                return self.server.reclaim_abandoned();
            }
        };
        let now = unix_secs();
        let records = self.server.reclaim_result(probed, &present, now);
        let freed: Vec<String> = records
            .iter()
            .filter_map(|r| match r {
                Record::Reclaim { ip } => Some(ip.to_string()),
                _ => None,
            })
            .collect();
        log::info!(
            "dhcp: pool full: ARP-probed {} addresses; reclaimed {} nobody answered for ({}), kept {}",
            probed.len(),
            freed.len(),
            freed.join(" "),
            present.len()
        );
        if records.is_empty() {
            return;
        }
        let lines: Vec<String> = records.iter().filter_map(|r| serde_json::to_string(r).ok()).collect();
        self.journal_lines += lines.len();
        self.commit.submit(Job::Append { lines, replies: Vec::new(), sock: sock.clone() });
        self.maybe_compact();
        self.update_names(&records, now);
    }

    /// Whether the interlock stopped this server.
    pub(crate) fn stood_down(&self) -> bool {
        self.guard.as_ref().is_some_and(|g| g.stand_down && g.tripped.is_some())
    }

    /// A sign of another DHCP server or a router on the segment: the first one stops this
    /// server (or, told to serve anyway, is reported), loudly, on the console and the board.
    pub(crate) fn foreign(&mut self, what: String) {
        let Some(g) = self.guard.as_mut() else { return };
        if g.tripped.is_some() {
            return;
        }
        let msg = if g.stand_down {
            format!(
                "recon: DHCP STOPPED on {}: {what}. This is not an isolated rack: recon hands out no more \
                 addresses here and PXE-boots nothing more. Boot with recon.dhcp=full (recon serve --dhcp full) \
                 only on a segment that is yours alone.",
                g.iface
            )
        } else {
            format!("recon: NOT ALONE on {}: {what}; serving full DHCP anyway, as --dhcp full asks", g.iface)
        };
        g.tripped = Some(what);
        super::console(&msg);
        self.store.fleet().alert(super::clock::unix_ms(), msg);
    }

    /// As [`Dhcp::foreign`], for a sign that names the other server; a recon master with a
    /// higher MAC, standing down for this one, is excused ([`guard::Rivals`]).
    pub(crate) fn foreign_at(&mut self, server: Ipv4Addr, what: String) {
        if self.rivals.excuse(server) {
            log::info!("guard: {what}: a recon master that stands down for this one");
            return;
        }
        self.foreign(what);
    }

    /// What stops this server from another thread when the master finishes.
    pub(crate) fn closer(&self) -> Closer {
        Closer { off: self.off.clone(), tx: self.commit.tx.clone(), pending: self.commit.pending.clone() }
    }

    /// For `GET /api/v1/stats`: the core's counters and the socket loop's.
    pub(crate) fn counters(&self) -> [(&'static str, u64); 16] {
        let (s, io) = (&self.server.stats, &self.io);
        [
            ("requests", s.requests),
            ("replies", s.replies),
            ("naks", s.naks),
            ("not_for_us", s.not_for_us),
            ("ignored", s.ignored),
            ("pool_exhausted", s.pool_exhausted),
            ("unknown_relay", s.unknown_relay),
            ("emit_failed", s.emit_failed),
            ("reclaim_probed", s.reclaim_probed),
            ("reclaimed", s.reclaimed),
            ("reclaim_kept", s.reclaim_kept),
            ("malformed", io.malformed),
            ("journal_lines_skipped", io.journal_lines_skipped),
            ("unicast_fallbacks", io.unicast_fallbacks),
            ("after_finish", io.after_finish),
            ("stood_down", io.stood_down),
        ]
    }

    /// Decides a batch; hands its records and replies to the committer, or sends the replies
    /// at once when nothing in them waits on the disk.
    fn process(&mut self, batch: &[(Vec<u8>, SocketAddrV4)], port: u16, sock: &Arc<UdpSocket>) {
        if self.off.load(Ordering::Acquire) {
            self.io.after_finish += batch.len() as u64;
            return;
        }
        if self.stood_down() {
            self.io.stood_down += batch.len() as u64;
            return;
        }
        let now = unix_secs();
        let mut replies = Vec::new();
        let mut records = Vec::new();
        let mut events = Vec::new();
        let mut out = [0u8; 1500];
        for (bytes, from) in batch {
            let Ok(packet) = Packet::new_checked(bytes.as_slice()) else {
                self.io.malformed += 1;
                continue;
            };
            let mut scratch = vec![0u8; bytes.len()];
            let Ok(req) = Repr::parse(&packet, &mut scratch) else {
                self.io.malformed += 1;
                continue;
            };
            if let Some(other) = self.guard.as_ref().and_then(|g| guard::foreign_server(&req, g.server)) {
                self.foreign_at(other, format!("a client asked another DHCP server ({other}) for its address"));
                if self.stood_down() {
                    self.io.stood_down += 1;
                    continue;
                }
            }
            let o = self.server.handle(&req, port, *from, now, &mut out);
            if let Some(r) = o.record {
                records.push(r);
            }
            if let Some((len, dest)) = o.reply {
                let to = self.destination(dest);
                replies.push((out[..len].to_vec(), to));
            }
            events.extend(o.events);
            if !o.probe.is_empty() {
                // The core starts one round at a time: this is the only one.
                self.round = o.probe;
                let _ = self.wake.0.try_send(());
            }
        }
        if records.is_empty() && self.commit.idle() {
            // Offers, NAKs and INFORM answers promise nothing durable; with no earlier batch still
            // syncing they cannot overtake a reply to the same client either.
            for (bytes, to) in &replies {
                send(sock, bytes, *to);
            }
        } else if !replies.is_empty() || !records.is_empty() {
            let lines: Vec<String> = records.iter().filter_map(|r| serde_json::to_string(r).ok()).collect();
            self.journal_lines += lines.len();
            self.commit.submit(Job::Append { lines, replies, sock: sock.clone() });
            self.maybe_compact();
            self.update_names(&records, now);
        }
        for e in events {
            let Some(mac) = e.mac else { continue };
            let boot =
                e.vendor_class.as_deref().is_some_and(|v| v.starts_with("PXEClient") || v.starts_with("HTTPClient"))
                    || e.ipxe;
            let kind = format!("dhcp-{}", e.kind);
            self.store.event(mac, &kind, serde_json::to_value(&e).unwrap_or_default(), boot);
        }
    }

    /// Queues a rewrite of the journal from the table once it holds four times the live leases:
    /// the snapshot includes every record already queued, which the committer writes first.
    fn maybe_compact(&mut self) {
        let live = self.server.leases().len();
        if self.journal_lines > 4 * live + 1024 {
            let lines: Vec<String> =
                self.server.leases().snapshot().iter().filter_map(|r| serde_json::to_string(r).ok()).collect();
            self.journal_lines = lines.len();
            self.commit.submit(Job::Compact { lines });
        }
    }

    /// Where a reply goes; for a client without an address yet, a neighbour entry first (so a
    /// unicast reply needs no ARP the client cannot answer), else broadcast.
    fn destination(&mut self, dest: Dest) -> SocketAddrV4 {
        let broadcast = |port| SocketAddrV4::new(Ipv4Addr::BROADCAST, port);
        match dest {
            Dest::Broadcast { port } => broadcast(port),
            Dest::Unicast(a) => a,
            Dest::Hardware { ip, mac } => match self.rtnl.as_mut().map(|r| r.add_neighbour(self.ifindex, ip, mac)) {
                Some(Ok(())) => SocketAddrV4::new(ip, dhcpv4::CLIENT_PORT),
                _ => {
                    self.io.unicast_fallbacks += 1;
                    broadcast(dhcpv4::CLIENT_PORT)
                }
            },
        }
    }
}

fn send(sock: &UdpSocket, bytes: &[u8], to: SocketAddrV4) {
    if let Err(e) = sock.send_to(bytes, to) {
        log::warn!("dhcp: send to {to}: {e}");
    }
}

/// Replies addressed, as decided for one batch.
type Replies = Vec<(Vec<u8>, SocketAddrV4)>;

/// Work for the committer thread, done in the order given; `K` is the socket replies go out on.
enum Job<K> {
    /// Journal these lines; once they are synced, send these replies.
    Append { lines: Vec<String>, replies: Replies, sock: K },
    /// Replace the journal with this snapshot of the table.
    Compact { lines: Vec<String> },
    /// Commit what is queued, close the journal and stop (the master is finishing); then say so.
    Close(mpsc::Sender<()>),
}

/// The loop's end of the committer thread.
struct Commit {
    tx: SyncSender<Job<Arc<UdpSocket>>>,
    /// Jobs submitted and not yet done: while any is, replies that need no sync queue behind
    /// them rather than overtake them.
    pending: Arc<AtomicUsize>,
}

impl Commit {
    fn start(journal: Journal) -> io::Result<Commit> {
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let pending = Arc::new(AtomicUsize::new(0));
        let p = pending.clone();
        std::thread::Builder::new().name("dhcp-commit".into()).spawn(move || {
            commit_loop(journal, &rx, &p, &mut |sock: &Arc<UdpSocket>, bytes: &[u8], to| send(sock, bytes, to));
        })?;
        Ok(Commit { tx, pending })
    }

    fn idle(&self) -> bool {
        self.pending.load(Ordering::Acquire) == 0
    }

    fn submit(&self, job: Job<Arc<UdpSocket>>) {
        self.pending.fetch_add(1, Ordering::AcqRel);
        if self.tx.send(job).is_err() {
            // The thread is gone (it only ends when this sender is dropped): nothing is promised.
            self.pending.fetch_sub(1, Ordering::AcqRel);
            log::error!("dhcp: the journal committer has stopped; replies withheld");
        }
    }
}

/// Stops the DHCP server from another thread (the master finishing): it answers nobody from
/// then on, and the lease journal is committed and closed.
pub(crate) struct Closer {
    off: Arc<std::sync::atomic::AtomicBool>,
    tx: SyncSender<Job<Arc<UdpSocket>>>,
    pending: Arc<AtomicUsize>,
}

impl Closer {
    /// Returns once the journal file is closed.
    pub(crate) fn close(&self) {
        self.off.store(true, Ordering::Release);
        // A batch the loop was deciding when the flag went up is queued before the close.
        std::thread::sleep(std::time::Duration::from_millis(200));
        let (done, closed) = mpsc::channel();
        self.pending.fetch_add(1, Ordering::AcqRel);
        if self.tx.send(Job::Close(done)).is_ok() {
            let _ = closed.recv();
        }
    }
}

/// The committer: takes every job waiting, writes the appends among them with one fdatasync,
/// then sends their replies; a compaction first commits the appends queued before it. Ends when
/// the loop's sender is dropped.
fn commit_loop<K, S>(mut journal: Journal, rx: &Receiver<Job<K>>, pending: &AtomicUsize, send: &mut S)
where
    S: FnMut(&K, &[u8], SocketAddrV4),
{
    fn flush<K, S: FnMut(&K, &[u8], SocketAddrV4)>(
        journal: &mut Journal,
        lines: &mut Vec<String>,
        replies: &mut Vec<(Replies, K)>,
        jobs: &mut usize,
        pending: &AtomicUsize,
        send: &mut S,
    ) {
        match journal.append(lines) {
            Ok(()) => {
                for (batch, sock) in replies.iter() {
                    for (bytes, to) in batch {
                        send(sock, bytes, *to);
                    }
                }
            }
            // Not durable: promise nothing. The clients retry; the table keeps the change in
            // memory, which errs toward keeping addresses out of use.
            Err(e) => log::error!(
                "dhcp: journal write failed ({e}); {} replies withheld",
                replies.iter().map(|(b, _)| b.len()).sum::<usize>()
            ),
        }
        lines.clear();
        replies.clear();
        pending.fetch_sub(std::mem::take(jobs), Ordering::AcqRel);
    }
    while let Ok(first) = rx.recv() {
        let mut lines = Vec::new();
        let mut replies = Vec::new();
        let mut jobs = 0;
        let mut next = Some(first);
        while let Some(job) = next {
            match job {
                Job::Append { lines: l, replies: r, sock } => {
                    lines.extend(l);
                    replies.push((r, sock));
                    jobs += 1;
                }
                Job::Compact { lines: snapshot } => {
                    flush(&mut journal, &mut lines, &mut replies, &mut jobs, pending, send);
                    match journal.rewrite(&snapshot) {
                        Ok(()) => log::info!("dhcp: journal compacted to {} lines", snapshot.len()),
                        Err(e) => log::warn!("dhcp: journal compaction failed ({e}); the journal keeps growing"),
                    }
                    pending.fetch_sub(1, Ordering::AcqRel);
                }
                Job::Close(done) => {
                    flush(&mut journal, &mut lines, &mut replies, &mut jobs, pending, send);
                    drop(journal);
                    pending.fetch_sub(1, Ordering::AcqRel);
                    let _ = done.send(());
                    return;
                }
            }
            next = rx.try_recv().ok();
        }
        flush(&mut journal, &mut lines, &mut replies, &mut jobs, pending, send);
    }
}

/// Receives what is waiting without blocking.
fn drain(sock: &UdpSocket, first: (Vec<u8>, SocketAddrV4)) -> Vec<(Vec<u8>, SocketAddrV4)> {
    let mut batch = vec![first];
    let mut buf = [0u8; 1500];
    while batch.len() < BATCH {
        match sock.recv_from(&mut buf) {
            Ok((n, std::net::SocketAddr::V4(from))) => batch.push((buf[..n].to_vec(), from)),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    batch
}

/// Serves port `port` (67 or 4011) on `iface` until an I/O error.
pub(crate) async fn serve_port(dhcp: Rc<RefCell<Dhcp>>, iface: String, port: u16) -> io::Result<()> {
    // 4 MiB: about 7 000 requests of room while a batch's fdatasync blocks this thread (a
    // loaded disk's fdatasync took up to 270 ms in bench/dhcp.sh; 208 KiB overflowed).
    let opts = UdpOptions {
        device: Some(iface.clone()),
        broadcast: true,
        pktinfo: false,
        reuse_addr: true,
        rcvbuf: Some(4 << 20),
    };
    let sock: Async<UdpSocket> = bind_udp(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port), &opts)?;
    // The committer thread sends on its own handle to the same (non-blocking) socket.
    let sender = Arc::new(sock.get_ref().try_clone()?);
    log::info!("dhcp: serving port {port} on {iface}");
    let serve = async {
        let mut buf = vec![0u8; 1500];
        loop {
            let (n, from) = sock.recv_from(&mut buf).await?;
            let std::net::SocketAddr::V4(from) = from else { continue };
            let batch = drain(sock.get_ref(), (buf[..n].to_vec(), from));
            dhcp.borrow_mut().process(&batch, port, &sender);
        }
    };
    if port != dhcpv4::SERVER_PORT {
        return serve.await;
    }
    // DISCOVERs arrive on 67: its reclaim rounds are probed beside it.
    let reclaim = async {
        reclaimer(dhcp.clone(), &iface, &sender).await;
        std::future::pending::<io::Result<()>>().await
    };
    smol::future::or(serve, reclaim).await
}

/// Probes the reclaim rounds the core asks for, one at a time. The loop never waits on it: a
/// round's second of listening only delays the next round.
async fn reclaimer(dhcp: Rc<RefCell<Dhcp>>, iface: &str, sock: &Arc<UdpSocket>) {
    let wake = dhcp.borrow().wake.1.clone();
    while wake.recv().await.is_ok() {
        let (ips, mac) = {
            let mut d = dhcp.borrow_mut();
            (std::mem::take(&mut d.round), d.own_mac)
        };
        if ips.is_empty() {
            continue;
        }
        let answer = match mac {
            Some(mac) => arp::probe_many(iface, mac, &ips, RECLAIM_WAIT).await,
            None => Err(io::Error::other("the interface's MAC is not known")),
        };
        dhcp.borrow_mut().reclaim_done(&ips, answer, sock);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(tag: &str, n: usize) -> Job<u8> {
        let to = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 68);
        let lines = (0..n).map(|i| format!("{tag}-{i}")).collect();
        Job::Append { lines, replies: vec![(tag.as_bytes().to_vec(), to)], sock: 7 }
    }

    /// Each reply leaves only once its batch's lines are in the file (fdatasync returned before
    /// the file is read back here), in submission order, across a compaction; `pending` returns
    /// to zero.
    #[test]
    fn the_committer_sends_each_reply_after_its_lines_are_written() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("leases.jsonl");
        let (journal, _) = Journal::open(&path).unwrap();
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let pending = Arc::new(AtomicUsize::new(0));
        // Queued before the thread starts: taken as one group.
        for j in [job("a", 2), job("b", 0), Job::Compact { lines: vec!["snap".into()] }, job("c", 1)] {
            pending.fetch_add(1, Ordering::AcqRel);
            tx.send(j).unwrap();
        }
        let p = pending.clone();
        let path2 = path.clone();
        let worker = std::thread::spawn(move || {
            let mut sent = Vec::new();
            commit_loop(journal, &rx, &p, &mut |sock: &u8, bytes: &[u8], _to| {
                assert_eq!(*sock, 7);
                let tag = String::from_utf8(bytes.to_vec()).unwrap();
                sent.push((tag, std::fs::read_to_string(&path2).unwrap()));
            });
            sent
        });
        pending.fetch_add(1, Ordering::AcqRel);
        tx.send(job("d", 3)).unwrap();
        drop(tx);
        let sent = worker.join().unwrap();
        let tags: Vec<&str> = sent.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(tags, ["a", "b", "c", "d"]);
        assert!(sent[0].1.contains("a-0\na-1\n"), "{:?}", sent[0].1);
        assert!(sent[2].1.starts_with("snap\nc-0\n"), "{:?}", sent[2].1);
        assert!(sent[3].1.ends_with("d-2\n"), "{:?}", sent[3].1);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "snap\nc-0\nd-0\nd-1\nd-2\n");
        assert_eq!(pending.load(Ordering::Acquire), 0);
    }

    /// A journal that cannot be written withholds the replies and still retires the jobs.
    #[test]
    fn a_failed_append_withholds_the_replies() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("leases.jsonl");
        let (mut journal, _) = Journal::open(&path).unwrap();
        journal.make_unwritable();
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let pending = AtomicUsize::new(1);
        tx.send(job("a", 1)).unwrap();
        drop(tx);
        let mut sent = 0;
        commit_loop(journal, &rx, &pending, &mut |_: &u8, _: &[u8], _| sent += 1);
        assert_eq!(sent, 0);
        assert_eq!(pending.load(Ordering::Acquire), 0);
    }
}
