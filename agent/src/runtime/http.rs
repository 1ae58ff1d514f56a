//! The HTTP server: a TCP listener, a smol task per connection, and the sans-IO decisions of
//! `serve::http` (what a request means and gets; the RFC sections are cited there).
//!
//! Per connection: the request head must arrive within `head_timeout` (10 s; a first octet
//! that never grows into a head is answered 408), a kept-alive connection may idle for
//! `idle_timeout` (60 s) between requests, an upload body must arrive within `body_timeout`, and
//! a client that reads nothing for `send_timeout` is dropped. Pipelined requests wait in the
//! receive buffer and are answered in order. After a response that closes the connection, the
//! server shuts down its side and reads what the client still sends for up to a second before
//! closing: closing with unread data would send a reset, and the client could lose the response
//! (a 413 to an upload in flight) before reading it.
//!
//! File bodies go out with `sendfile(2)` from the page cache on the non-blocking socket: each
//! call copies what fits in the socket buffer, and on EAGAIN the task waits for writability (at
//! most `send_timeout`). The response head is sent with `MSG_MORE`, so it shares the first
//! segments with the file.
//!
//! Threads: `workers` threads (default: four per CPU, `default_workers`) each run an executor
//! on a reactor of their own (`runtime::local`: the kernel wakes the thread whose socket is
//! ready, directly) with an accept loop on the same listening socket. The worker that accepts a
//! connection hands it to the worker with the fewest, so many downloads spread over the CPUs.
//! `serve` only waits for the workers, so the master's executor (DHCP, DNS, TFTP) never runs a
//! file send. At most `max_connections` are open at once, and at most `max_per_source` from one
//! address (so one host cannot take every slot from a rack that is booting): past either a
//! connection is accepted, told 503 and closed.
//!
//! What holds memory: an upload body is written to a file of its own under
//! `<data>/incoming/` (`Store::incoming`) as it arrives, so a connection holds at most
//! `UPLOAD_FLUSH` octets of it, plus its receive buffer (16 KiB a read), however slowly or
//! never the rest comes: stalled uploads hold disk, not memory, and do not keep other nodes'
//! uploads out. Only a body that has arrived whole is read back into memory to be decoded
//! (JSON or postcard need all of it), under one budget for every connection together,
//! `body_budget`, held until its inventory is stored; an upload that finds the budget spent
//! waits for it up to `LEASE_WAIT`, then is told 503 with Retry-After (the agent tries again).
//! An agent's event body (at most 16 KiB) is read into memory under the same budget. A body
//! that does not arrive whole (over `max_body`, too slow, the connection closed, the disk full)
//! has its file removed at once; a crash leaves files there that the store removes when it
//! opens.
//!
//! Every request is a `http` event in the store for the node it comes from (by the `mac` of
//! boot.ipxe or an upload's URL, else by the client's leased address), and the octets sent to
//! it are counted (`Store::served`) as they go, so a download's progress shows while it runs.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, UNIX_EPOCH};

use anyhow::Context;
use nix::sys::socket::{self as sock, MsgFlags};
use smol::LocalExecutor;

use netboot_proto::Mac;

use super::clock::unix_secs;
use super::local::{self, Io};
use super::store::{Incoming, Store};

use crate::serve::http::{
    BootConfig, Chunked, FileInfo, Head, Method, Reject, Request, Route, TokenKey, boot_script, chain_script,
    decode_upload, parse_head, plan_file, reject_response, route, text_response, upload_format,
};
use crate::serve::tftp::{Refusal, Root};

/// How the server runs.
#[derive(Debug, Clone)]
pub(crate) struct HttpConfig {
    /// Address and port to listen on (0.0.0.0 serves every address).
    pub(crate) listen: SocketAddrV4,
    /// The directory files are served from, read-only.
    pub(crate) boot_dir: PathBuf,
    /// What boot.ipxe tells nodes to boot.
    pub(crate) boot: BootConfig,
    /// The largest upload body accepted.
    pub(crate) max_body: u64,
    /// Connections open at once.
    pub(crate) max_connections: usize,
    /// Connections open at once from one address.
    pub(crate) max_per_source: usize,
    /// Octets of request bodies in memory at once, over every connection: uploads being decoded
    /// (they arrive into files), events being read.
    pub(crate) body_budget: u64,
    /// Threads accepting and serving connections.
    pub(crate) workers: usize,
    /// A request head must be complete this long after its first octet (or after the accept).
    pub(crate) head_timeout: Duration,
    /// A kept-alive connection is closed after this long without a request.
    pub(crate) idle_timeout: Duration,
    /// An upload body must have arrived this long after its head.
    pub(crate) body_timeout: Duration,
    /// A client that takes no octet for this long is dropped.
    pub(crate) send_timeout: Duration,
    /// The power-off policy the manifest gives peers (`always`, `never`; `None`: theirs).
    pub(crate) peer_poweroff: Option<String>,
    /// Names served as the first octets of a device (`Root::with_extent`): the live ISO read
    /// from the stick the master booted from.
    pub(crate) extents: Vec<(String, PathBuf, u64)>,
    /// Whether the data directory outlives a power-off; the manifest and every 201 say so, and
    /// peers do not power off for a master that keeps nothing.
    pub(crate) durable: bool,
    /// This master's MAC, which the manifest names: a node that followed a beacon checks it.
    pub(crate) master_mac: Option<Mac>,
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig {
            listen: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80),
            boot_dir: PathBuf::from("."),
            boot: BootConfig::default(),
            max_body: 8 << 20,
            max_connections: 512,
            max_per_source: 64,
            body_budget: 64 << 20,
            workers: default_workers(std::thread::available_parallelism().map_or(1, |n| n.get())),
            head_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(60),
            send_timeout: Duration::from_secs(60),
            peer_poweroff: None,
            extents: Vec::new(),
            durable: true,
            master_mac: None,
        }
    }
}

/// What every worker shares.
struct Shared {
    cfg: HttpConfig,
    root: Root,
    key: TokenKey,
    store: Arc<Store>,
    /// Connections open now.
    open: AtomicUsize,
    /// Connections being told 503 now.
    refusing: AtomicUsize,
    /// Connections open now, by source address (none listed at 0).
    per_source: std::sync::Mutex<std::collections::HashMap<Ipv4Addr, usize>>,
    /// Body octets reserved now (`BodyLease`).
    bodies: AtomicU64,
    /// Per worker: the connections it serves, counted from the moment one is handed to it.
    load: Vec<AtomicUsize>,
    /// Per worker: where other workers hand it connections they accepted.
    inbox: Vec<smol::channel::Sender<(TcpStream, SocketAddrV4)>>,
    /// Since the server started, for `GET /api/v1/stats`.
    counts: Counts,
    /// The operator's finish, on a master.
    finisher: Option<Arc<super::finish::Finisher>>,
}

/// The HTTP server's counters (`/api/v1/stats`).
#[derive(Default)]
struct Counts {
    connections: AtomicU64,
    /// Over the connection limit: told 503 (or, past 64 such at once, closed).
    refused_busy: AtomicU64,
    /// Over the limit for one source address: told 503 likewise.
    refused_source: AtomicU64,
    /// Bodies not read or not decoded because the body budget was spent: told 503.
    refused_budget: AtomicU64,
    /// Upload bodies that did not arrive whole (over the limit, too slow, the connection closed,
    /// the disk full): their incoming file removed, nothing stored.
    uploads_incomplete: AtomicU64,
    /// Requests answered, errors included.
    requests: AtomicU64,
    /// Answered 4xx (bad heads, tokens, sizes, missing files, heads too slow) and 5xx.
    client_errors: AtomicU64,
    server_errors: AtomicU64,
    /// Body octets sent.
    octets: AtomicU64,
}

impl Counts {
    fn bump(c: &AtomicU64, by: u64) {
        c.fetch_add(by, Ordering::Relaxed);
    }

    /// One request answered with `status`, `octets` of body sent.
    fn answered(&self, status: u16, octets: u64) {
        Counts::bump(&self.requests, 1);
        Counts::bump(&self.octets, octets);
        match status {
            400..=499 => Counts::bump(&self.client_errors, 1),
            500..=599 => Counts::bump(&self.server_errors, 1),
            _ => {}
        }
    }

    fn snapshot(&self, open: usize) -> serde_json::Value {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        serde_json::json!({
            "connections": get(&self.connections),
            "open": open,
            "refused_busy": get(&self.refused_busy),
            "refused_source": get(&self.refused_source),
            "refused_budget": get(&self.refused_budget),
            "uploads_incomplete": get(&self.uploads_incomplete),
            "requests": get(&self.requests),
            "client_errors": get(&self.client_errors),
            "server_errors": get(&self.server_errors),
            "octets": get(&self.octets),
        })
    }
}

/// Serves until a worker fails. The workers are threads of their own; this waits for them, and
/// they end when it is dropped.
pub(crate) async fn serve(
    cfg: HttpConfig,
    store: Arc<Store>,
    finisher: Option<Arc<super::finish::Finisher>>,
) -> anyhow::Result<()> {
    let mut root =
        Root::open(&cfg.boot_dir).with_context(|| format!("http: boot directory {}", cfg.boot_dir.display()))?;
    for (name, source, len) in &cfg.extents {
        log::info!("http: /{name} is the first {len} octets of {}", source.display());
        root = root.with_extent(name, source.clone(), *len);
    }
    let key = store.secret().context("http: the token key")?;
    let listener = listen(cfg.listen).with_context(|| format!("http: listen on {}", cfg.listen))?;
    let workers = cfg.workers.max(1);
    log::info!(
        "http: serving {} on {} ({workers} workers, {} connections, uploads up to {} octets)",
        root.path().display(),
        listener.local_addr()?,
        cfg.max_connections,
        cfg.max_body
    );
    let (senders, inboxes): (Vec<_>, Vec<_>) = (0..workers).map(|_| smol::channel::unbounded()).unzip();
    let shared = Arc::new(Shared {
        cfg,
        root,
        key: TokenKey::new(key),
        store,
        open: AtomicUsize::new(0),
        refusing: AtomicUsize::new(0),
        per_source: Default::default(),
        bodies: AtomicU64::new(0),
        load: (0..workers).map(|_| AtomicUsize::new(0)).collect(),
        inbox: senders,
        counts: Counts::default(),
        finisher,
    });
    let (failed, failure) = smol::channel::bounded(workers);
    // Dropping this future (a master that stands down) ends the workers: `_quit` goes with it,
    // and each worker's `quit` wakes closed.
    let (_quit, quit) = smol::channel::bounded::<()>(1);
    for (i, inbox) in inboxes.into_iter().enumerate() {
        let (l, sh, failed, quit) = (listener.try_clone()?, shared.clone(), failed.clone(), quit.clone());
        std::thread::Builder::new().name(format!("http-{i}")).spawn(move || {
            let stopped = async move {
                let _ = quit.recv().await;
                Ok(())
            };
            let e = match local::block_on(smol::future::or(worker(i, l, inbox, sh), stopped)) {
                Ok(Ok(())) => anyhow::anyhow!("http: worker {i} stopped"),
                Ok(Err(e)) | Err(e) => anyhow::Error::from(e).context(format!("http: worker {i}")),
            };
            let _ = failed.send_blocking(e);
        })?;
    }
    drop(failed);
    Err(failure.recv().await.unwrap_or_else(|_| anyhow::anyhow!("http: the workers ended")))
}

/// Four workers per CPU, at most 64 (but never fewer than the CPUs). More threads than CPUs,
/// because a worker stops all its connections whenever it is off the CPU: sendfile(2) that
/// misses the page cache blocks it in a read from the stick, and a CPU shared with other work
/// preempts it. Fifty downloads at once kept up with Apache (a thread per connection) from four
/// workers per CPU on, not with fewer (bench/README.md, "http.sh").
fn default_workers(cpus: usize) -> usize {
    (4 * cpus).min(64).max(cpus)
}

/// A listening socket with a backlog for a rack booting at once (std's is 128).
fn listen(addr: SocketAddrV4) -> io::Result<TcpListener> {
    use sock::{AddressFamily, Backlog, SockFlag, SockType, SockaddrIn, setsockopt, sockopt};
    let flags = SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK;
    let fd = sock::socket(AddressFamily::Inet, SockType::Stream, flags, None)?;
    setsockopt(&fd, sockopt::ReuseAddr, &true)?;
    sock::bind(fd.as_raw_fd(), &SockaddrIn::from(addr)).map_err(|e| super::udp::bind_error(e, "tcp", addr))?;
    sock::listen(&fd, Backlog::new(1024).map_err(io::Error::from)?)?;
    Ok(TcpListener::from(fd))
}

/// One thread's accept loop and connection tasks. Whichever worker the kernel wakes for a new
/// connection accepts it, and hands it to the worker serving the fewest connections (itself when
/// tied): EPOLLEXCLUSIVE wakes the first sleeping worker, so left alone the first would take most
/// connections of a burst and the downloads would share one CPU (bench/README.md, "http.sh").
async fn worker(
    me: usize,
    listener: TcpListener,
    inbox: smol::channel::Receiver<(TcpStream, SocketAddrV4)>,
    shared: Arc<Shared>,
) -> io::Result<()> {
    let listener = Io::listener(listener)?;
    let ex = std::rc::Rc::new(LocalExecutor::new());
    let (spawner, sh) = (ex.clone(), shared.clone());
    ex.spawn(async move {
        while let Ok((stream, peer)) = inbox.recv().await {
            start(&spawner, me, stream, peer, &sh);
        }
    })
    .detach();
    let spawner = ex.clone();
    // The accept loop is a task of its own, polled when the listener is readable: as the future
    // `run` drives, it would be polled (an accept4 that fails with EAGAIN) every time any
    // connection's task woke the thread.
    let accept = ex.spawn(async move {
        let ex = spawner;
        let mut accepted = 0u32;
        loop {
            accepted = accepted.wrapping_add(1);
            if accepted.is_multiple_of(16) {
                // A burst of connections is accepted in a row; the connections already open
                // get their turn in between.
                smol::future::yield_now().await;
            }
            let (stream, peer) = match listener.read_with(|l| l.accept()).await {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or memory: wait for connections to end; a connection
                    // aborted before it was accepted is not an error of the listener.
                    match e.raw_os_error() {
                        Some(nix::libc::EMFILE | nix::libc::ENFILE | nix::libc::ENOBUFS | nix::libc::ENOMEM) => {
                            log::warn!("http: accept: {e}");
                            local::sleep_until(Instant::now() + Duration::from_millis(100)).await;
                            continue;
                        }
                        Some(nix::libc::ECONNABORTED | nix::libc::EINTR | nix::libc::EPROTO) => continue,
                        _ => return Err(io::Error::new(e.kind(), format!("accept: {e}"))),
                    }
                }
            };
            let SocketAddr::V4(peer) = peer else { continue };
            let to = least_loaded(&shared.load, me);
            if let Some(n) = shared.load.get(to) {
                n.fetch_add(1, Ordering::AcqRel);
            }
            let Some(inbox) = shared.inbox.get(to).filter(|_| to != me) else {
                start(&ex, me, stream, peer, &shared);
                continue;
            };
            if let Err(e) = inbox.try_send((stream, peer)) {
                // Only if that worker has ended (and serve with it): serve the connection here.
                move_load(&shared.load, to, me);
                let (stream, peer) = e.into_inner();
                start(&ex, me, stream, peer, &shared);
            }
        }
    });
    ex.run(accept).await
}

/// The worker with the fewest connections; `me` among equals.
fn least_loaded(load: &[AtomicUsize], me: usize) -> usize {
    let of = |i: usize| load.get(i).map_or(usize::MAX, |n| n.load(Ordering::Acquire));
    (0..load.len()).fold(me, |best, i| if of(i) < of(best) { i } else { best })
}

fn move_load(load: &[AtomicUsize], from: usize, to: usize) {
    if let (Some(f), Some(t)) = (load.get(from), load.get(to)) {
        f.fetch_sub(1, Ordering::AcqRel);
        t.fetch_add(1, Ordering::AcqRel);
    }
}

/// Serves a connection handed to worker `me` (its `load` already counts it) on `ex`.
fn start(ex: &LocalExecutor<'static>, me: usize, stream: TcpStream, peer: SocketAddrV4, shared: &Arc<Shared>) {
    let unload = || {
        if let Some(n) = shared.load.get(me) {
            n.fetch_sub(1, Ordering::AcqRel);
        }
    };
    // Failing this (epoll's max_user_watches) drops this connection, not the worker.
    let stream = match stream.set_nonblocking(true).and_then(|()| Io::new(stream)) {
        Ok(s) => s,
        Err(e) => {
            log::warn!("http: {peer}: {e}");
            unload();
            return;
        }
    };
    Counts::bump(&shared.counts.connections, 1);
    if shared.open.fetch_add(1, Ordering::AcqRel) >= shared.cfg.max_connections {
        shared.open.fetch_sub(1, Ordering::AcqRel);
        unload();
        log::warn!("http: {} connections open, refusing {peer}", shared.cfg.max_connections);
        Counts::bump(&shared.counts.refused_busy, 1);
        refuse_busy(ex, stream, peer, "too many connections; try again shortly", shared);
        return;
    }
    if !shared.source_open(*peer.ip()) {
        shared.open.fetch_sub(1, Ordering::AcqRel);
        unload();
        log::warn!("http: {} connections open from {}, refusing another", shared.cfg.max_per_source, peer.ip());
        Counts::bump(&shared.counts.refused_source, 1);
        refuse_busy(ex, stream, peer, "too many connections from this address; try again shortly", shared);
        return;
    }
    let slot = Slot(shared.clone(), me, *peer.ip());
    ex.spawn(async move {
        let shared = slot.0.clone();
        connection(stream, peer, &shared).await;
        drop(slot);
    })
    .detach();
}

/// Frees a connection's place, its worker's count and its source's, when the connection ends,
/// however it ends.
struct Slot(Arc<Shared>, usize, Ipv4Addr);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
        if let Some(n) = self.0.load.get(self.1) {
            n.fetch_sub(1, Ordering::AcqRel);
        }
        self.0.source_closed(self.2);
    }
}

impl Shared {
    /// Counts a connection from `ip`; false (and nothing counted) past `max_per_source`.
    fn source_open(&self, ip: Ipv4Addr) -> bool {
        let mut m = self.per_source.lock().unwrap_or_else(|p| p.into_inner());
        let n = m.entry(ip).or_insert(0);
        if *n >= self.cfg.max_per_source {
            return false;
        }
        *n += 1;
        true
    }

    fn source_closed(&self, ip: Ipv4Addr) {
        let mut m = self.per_source.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                // Forgotten at 0: the map holds only addresses with a connection open.
                m.remove(&ip);
            }
        }
    }
}

/// A body's share of `body_budget`, given back when dropped (after the body is stored or
/// refused).
struct BodyLease<'a> {
    shared: &'a Shared,
    octets: u64,
}

impl<'a> BodyLease<'a> {
    fn new(shared: &'a Shared) -> BodyLease<'a> {
        BodyLease { shared, octets: 0 }
    }

    /// Grows the lease to `total` octets; false, and unchanged, if the budget has not that much.
    fn grow_to(&mut self, total: u64) -> bool {
        let more = total.saturating_sub(self.octets);
        if more == 0 {
            return true;
        }
        let budget = self.shared.cfg.body_budget;
        let r = self
            .shared
            .bodies
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| held.checked_add(more).filter(|&t| t <= budget));
        if r.is_ok() {
            self.octets = total;
        }
        r.is_ok()
    }
}

impl Drop for BodyLease<'_> {
    fn drop(&mut self) {
        self.shared.bodies.fetch_sub(self.octets, Ordering::AcqRel);
    }
}

/// Over a connection limit: 503 and close. At most 64 of these at a time; past that the
/// connection is just closed.
fn refuse_busy(
    ex: &LocalExecutor<'_>,
    stream: Io<TcpStream>,
    peer: SocketAddrV4,
    why: &'static str,
    shared: &Arc<Shared>,
) {
    if shared.refusing.fetch_add(1, Ordering::AcqRel) >= 64 {
        shared.refusing.fetch_sub(1, Ordering::AcqRel);
        return;
    }
    let shared = shared.clone();
    ex.spawn(async move {
        let (head, body) = text_response(503, why);
        let mut c = Conn { stream, peer, buf: Vec::new() };
        let out = [head.field("Retry-After", "1").encode(false, false, unix_secs()), body].concat();
        if c.write_all(&out, Duration::from_secs(1)).await.is_ok() {
            c.linger(Duration::from_secs(1)).await;
        }
        shared.refusing.fetch_sub(1, Ordering::AcqRel);
    })
    .detach();
}

/// `f`, or `TimedOut` at `deadline`.
async fn timed<T>(deadline: Instant, f: impl Future<Output = io::Result<T>>) -> io::Result<T> {
    smol::future::or(f, async {
        local::sleep_until(deadline).await;
        Err(io::ErrorKind::TimedOut.into())
    })
    .await
}

/// Octets per sendfile call at most (nginx's default sendfile_max_chunk).
const CHUNK: usize = 2 << 20;

/// Octets of an upload body a connection gathers before writing them to its incoming file.
const UPLOAD_FLUSH: usize = 64 * 1024;

/// How long an upload whose body has arrived waits for its share of `body_budget` before it is
/// told 503: a share is held only while a body is decoded and stored, milliseconds each.
const LEASE_WAIT: Duration = Duration::from_secs(2);

/// A node's agent posts a few dozen events per boot; this many is a broken or hostile one.
const MAX_AGENT_EVENTS: u64 = 4096;

/// One connection's socket and the octets received but not yet used.
struct Conn {
    stream: Io<TcpStream>,
    peer: SocketAddrV4,
    buf: Vec<u8>,
}

/// How reading a request head ended.
enum HeadRead {
    Request(Box<Request>),
    /// The client closed or the connection failed: nothing to answer.
    Closed,
    /// No request began in time: close quietly.
    Idle,
    /// A request began but its head did not complete in time.
    Slow,
    Bad(Reject),
}

impl Conn {
    /// Reads more octets into the buffer; 0 at the end of the stream.
    async fn read_more(&mut self, deadline: Instant) -> io::Result<usize> {
        let n = self.buf.len();
        self.buf.resize(n + 16 * 1024, 0);
        let (stream, buf) = (&self.stream, &mut self.buf[n..]);
        let r = timed(deadline, stream.read_with(|s| (&*s).read(buf))).await;
        self.buf.truncate(n + *r.as_ref().unwrap_or(&0));
        r
    }

    async fn read_head(&mut self, first: bool, cfg: &HttpConfig) -> HeadRead {
        let start = Instant::now();
        let mut deadline = start + if first || !self.buf.is_empty() { cfg.head_timeout } else { cfg.idle_timeout };
        loop {
            match parse_head(&self.buf) {
                Ok(Some(r)) => {
                    self.buf.drain(..r.head_len);
                    return HeadRead::Request(Box::new(r));
                }
                Ok(None) => {}
                Err(rej) => return HeadRead::Bad(rej),
            }
            let had = self.buf.len();
            match self.read_more(deadline).await {
                Ok(0) => return HeadRead::Closed,
                Ok(_) if had == 0 && !first => deadline = Instant::now() + cfg.head_timeout,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    return if had == 0 { HeadRead::Idle } else { HeadRead::Slow };
                }
                Err(_) => return HeadRead::Closed,
            }
        }
    }

    async fn write_all(&mut self, mut data: &[u8], limit: Duration) -> io::Result<()> {
        let deadline = Instant::now() + limit;
        while !data.is_empty() {
            match timed(deadline, self.stream.write_with(|s| (&*s).write(data))).await? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => data = data.get(n..).unwrap_or_default(),
            }
        }
        Ok(())
    }

    /// Sends `data` with MSG_MORE: more (a file) follows at once.
    async fn send_more(&self, mut data: &[u8], limit: Duration) -> io::Result<()> {
        while !data.is_empty() {
            // nix 0.32 has no name for MSG_MORE; the bit is passed through as the kernel defines it.
            let flags = MsgFlags::from_bits_retain(nix::libc::MSG_MORE) | MsgFlags::MSG_NOSIGNAL;
            let n = timed(
                Instant::now() + limit,
                self.stream.write_with(|s| sock::send(s.as_raw_fd(), data, flags).map_err(io::Error::from)),
            )
            .await?;
            data = data.get(n..).unwrap_or_default();
        }
        Ok(())
    }

    /// Sends `len` octets of `file` from `offset` with sendfile; `progress` is told every
    /// octet count sent. Returns the octets sent, which are fewer only if the file shrank.
    async fn send_file(
        &self,
        file: &File,
        offset: u64,
        len: u64,
        limit: Duration,
        mut progress: impl FnMut(u64),
    ) -> io::Result<u64> {
        let mut off = i64::try_from(offset).map_err(io::Error::other)?;
        let end = off.saturating_add(i64::try_from(len).map_err(io::Error::other)?);
        while off < end {
            // At most CHUNK per call, as nginx's sendfile_max_chunk: a call that fills the
            // socket buffer comes back short, and the next would only fail with EAGAIN.
            let want = usize::try_from(end - off).unwrap_or(usize::MAX).min(CHUNK);
            match nix::sys::sendfile::sendfile(self.stream.get_ref(), file, Some(&mut off), want) {
                Ok(0) => break,
                Ok(n) => {
                    progress(n as u64);
                    if n < want {
                        // The buffer is full: wait until it drains rather than ask again.
                        timed(Instant::now() + limit, self.stream.drained()).await?;
                    } else {
                        // Let the other connections on this thread have their turn: with many
                        // downloads, by the time this one comes round again its buffer has
                        // room, and the thread sends again without waiting for a wake-up.
                        smol::future::yield_now().await;
                    }
                }
                Err(nix::errno::Errno::EAGAIN) => timed(Instant::now() + limit, self.stream.drained()).await?,
                Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(u64::try_from(off).unwrap_or(0).saturating_sub(offset))
    }

    /// Closes after a response: our side first, then whatever the client still sends is read
    /// and dropped for up to `limit`, so the close does not turn into a reset that could
    /// destroy the response before the client reads it.
    async fn linger(&mut self, limit: Duration) {
        let _ = self.stream.get_ref().shutdown(Shutdown::Write);
        let deadline = Instant::now() + limit;
        let mut sink = [0u8; 16 * 1024];
        while let Ok(n) = timed(deadline, self.stream.read_with(|s| (&*s).read(&mut sink))).await {
            if n == 0 {
                break;
            }
        }
    }
}

/// What answering one request did, for the log and the store.
struct Outcome {
    status: u16,
    /// Body octets sent.
    bytes: u64,
    /// The connection may serve another request.
    keep: bool,
    /// The node the request is from, if the request itself says (boot.ipxe?mac=, an upload).
    mac: Option<Mac>,
}

async fn connection(stream: Io<TcpStream>, peer: SocketAddrV4, shared: &Shared) {
    // Small responses (boot.ipxe, API answers) leave at once rather than after the client's
    // delayed ACK of the previous one.
    let _ = stream.get_ref().set_nodelay(true);
    let mut c = Conn { stream, peer, buf: Vec::with_capacity(16 * 1024) };
    let cfg = &shared.cfg;
    let mut first = true;
    loop {
        let req = match c.read_head(first, cfg).await {
            HeadRead::Request(r) => r,
            HeadRead::Closed | HeadRead::Idle => return,
            HeadRead::Slow => {
                shared.counts.answered(408, 0);
                let (head, body) = text_response(408, "the request head did not arrive in time");
                let _ = c.write_all(&[head.encode(false, false, unix_secs()), body].concat(), cfg.send_timeout).await;
                c.linger(Duration::from_secs(1)).await;
                return;
            }
            HeadRead::Bad(rej) => {
                log::info!("http: {peer}: {} {}", rej.status, rej.reason);
                shared.counts.answered(rej.status, 0);
                let (head, body) = reject_response(&rej);
                let _ = c.write_all(&[head.encode(false, false, unix_secs()), body].concat(), cfg.send_timeout).await;
                c.linger(Duration::from_secs(1)).await;
                return;
            }
        };
        first = false;
        let started = Instant::now();
        let out = match answer(&mut c, &req, shared).await {
            Ok(o) => o,
            Err(e) => {
                log::info!("http: {peer} {} {}: {e}", req.method_name, req.target);
                return;
            }
        };
        log::info!(
            "http: {peer} {} {} {} {} B {:.3} s",
            req.method_name,
            req.target,
            out.status,
            out.bytes,
            started.elapsed().as_secs_f64()
        );
        record(shared, peer, &req, &out);
        shared.counts.answered(out.status, out.bytes);
        if !out.keep {
            c.linger(Duration::from_secs(1)).await;
            return;
        }
    }
}

/// Whether `peer` is `mac`'s address: the master leased it to `mac` (or saw `mac` fetch its
/// boot script from it), or the kernel's neighbour table has it at `mac` (a node on the
/// master's segment leased by another server). Only then does `peer` get `mac`'s token.
fn vouched(shared: &Shared, peer: Ipv4Addr, mac: Mac) -> bool {
    if shared.store.fleet().mac_of(peer) == Some(mac) {
        return true;
    }
    // A few hundred octets, read once per boot script or manifest: no worker waits long on it.
    let table = std::fs::read_to_string("/proc/net/arp").unwrap_or_default();
    crate::serve::http::token::neighbour_mac(&table, peer) == Some(mac)
}

/// The request as an event of the node it comes from, if the master knows which.
fn record(shared: &Shared, peer: SocketAddrV4, req: &Request, out: &Outcome) {
    // Reads of the API (a board, a script) are not a node's boot; an agent's events and upload
    // are recorded as what they are, their requests only when refused.
    match route(req) {
        Ok(Route::Fleet | Route::Stats | Route::Nodes | Route::Finish) => return,
        Ok(Route::Events { .. } | Route::Upload { .. }) if out.status < 400 => return,
        _ => {}
    }
    let (mac, boot) = match out.mac {
        Some(m) => (Some(m), true),
        None => (shared.store.fleet().mac_of(*peer.ip()), false),
    };
    if let Some(mac) = mac {
        let path = req.path_str();
        let b = &shared.cfg.boot;
        let name = path.trim_start_matches('/');
        // What the file is to the node's boot (the board's steps).
        let role = [(&b.kernel, "kernel"), (&b.initrd, "initrd"), (&b.iso, "image")]
            .into_iter()
            .find_map(|(f, r)| (f.as_str() == name).then_some(r));
        let fields = serde_json::json!({
            "method": req.method_name,
            "path": path,
            "role": role,
            "status": out.status,
            "bytes": out.bytes,
            "from": peer.ip().to_string(),
        });
        shared.store.event(mac, "http", fields, boot);
    }
}

/// Answers one request. `Err` means the connection is unusable (the client went away, or took
/// too long), and it is dropped.
async fn answer(c: &mut Conn, req: &Request, shared: &Shared) -> io::Result<Outcome> {
    let cfg = &shared.cfg;
    // A body nobody reads would be taken for the next request: after answering a request that
    // has one (other than an upload, which reads it), the connection closes.
    let routed = route(req);
    let keep = !req.close && (!req.has_body() || matches!(routed, Ok(Route::Upload { .. })));
    let route = match routed {
        Ok(r) => r,
        Err(rej) => return reply_reject(c, req, &rej, keep, None, cfg).await,
    };
    match route {
        Route::Static => send_static(c, req, shared, keep).await,
        Route::BootScript { mac } => {
            let mac =
                mac.map_or_else(|| shared.store.fleet().mac_of(*c.peer.ip()).map(|m| (m, false)), |m| Some((m, true)));
            let local = match c.stream.get_ref().local_addr()? {
                SocketAddr::V4(a) => a,
                SocketAddr::V6(_) => return Err(io::Error::other("IPv6 socket")),
            };
            let master = if local.port() == 80 { local.ip().to_string() } else { local.to_string() };
            // A script names a MAC (and carries its token) only for that node's own address.
            if let Some((m, true)) = mac
                && !vouched(shared, *c.peer.ip(), m)
            {
                let rej = Reject::new(
                    403,
                    format!(
                        "{} is not {m}'s address: this master did not lease it to {m} and its neighbour table \
                         does not have it at {m}",
                        c.peer.ip()
                    ),
                );
                return reply_reject(c, req, &rej, keep, None, cfg).await;
            }
            let body = match &mac {
                Some((m, _)) => boot_script(&cfg.boot, &master, *m, &shared.key.mint(*m)),
                None => chain_script(&master),
            };
            let head =
                Head::new(200).field("Content-Type", "text/plain; charset=utf-8").field("Cache-Control", "no-store");
            let mut o = reply(c, req, head, body.as_bytes(), keep, cfg).await?;
            // Named by the query: a boot node; found by its address: whatever the store knows.
            o.mac = mac.filter(|(_, by_query)| *by_query).map(|(m, _)| m);
            Ok(o)
        }
        Route::Finish => {
            let local = c.stream.get_ref().local_addr()?.ip();
            // Only the master's own console finishes it: the board on its tty1, `recon finish`.
            if *c.peer.ip() != local && !c.peer.ip().is_loopback() {
                let rej =
                    Reject::new(403, "only the master itself can finish (its console's board, or recon finish on it)");
                return reply_reject(c, req, &rej, false, None, cfg).await;
            }
            let Some(f) = shared.finisher.clone() else {
                return reply_reject(c, req, &Reject::new(404, "this server has nothing to finish"), keep, None, cfg)
                    .await;
            };
            let (status, text) = match smol::unblock(move || f.finish()).await {
                Ok(t) => (200, t),
                Err(e) => (409, e),
            };
            let head = Head::new(status).field("Content-Type", "text/plain; charset=utf-8");
            reply(c, req, head, format!("{text}\n").as_bytes(), false, cfg).await
        }
        Route::Fleet => {
            let view = shared.store.fleet().view(super::clock::unix_ms());
            let body = serde_json::to_vec(&view)?;
            let head = Head::new(200).field("Content-Type", "application/json").field("Cache-Control", "no-store");
            reply(c, req, head, &body, keep, cfg).await
        }
        Route::Nodes => {
            // Taken under the lock (the events are shared, not copied), written out after it.
            let nodes = shared.store.fleet().snapshot();
            let body = crate::serve::fleet::listing_json(&nodes).into_bytes();
            let head = Head::new(200).field("Content-Type", "application/json").field("Cache-Control", "no-store");
            reply(c, req, head, &body, keep, cfg).await
        }
        Route::Inventory { mac } => {
            let body = match std::fs::read(shared.store.inventory_path(mac)) {
                Ok(b) => b,
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    let rej = Reject::new(500, format!("reading the inventory: {e}"));
                    return reply_reject(c, req, &rej, keep, None, cfg).await;
                }
                Err(_) => {
                    let rej = Reject::new(404, format!("no inventory from {mac} yet"));
                    return reply_reject(c, req, &rej, keep, None, cfg).await;
                }
            };
            let head = Head::new(200).field("Content-Type", "application/json").field("Cache-Control", "no-store");
            reply(c, req, head, &body, keep, cfg).await
        }
        Route::Upload { mac } => upload(c, req, shared, mac, keep).await,
        Route::Stats => {
            // The other services' counters as they last published them (every second,
            // `master::publish_counters`), this server's as of now.
            let mut all = serde_json::Map::new();
            for (service, counters) in shared.store.fleet().counters() {
                all.insert((*service).to_owned(), serde_json::json!(counters));
            }
            all.insert(
                "store".into(),
                serde_json::json!({
                    "events_dropped": shared.store.dropped(),
                    "unconfirmed_forgotten": shared.store.unconfirmed_forgotten(),
                }),
            );
            all.insert("http".into(), shared.counts.snapshot(shared.open.load(Ordering::Relaxed)));
            let body = serde_json::to_vec_pretty(&all)?;
            let head = Head::new(200).field("Content-Type", "application/json").field("Cache-Control", "no-store");
            reply(c, req, head, &body, keep, cfg).await
        }
        Route::Manifest => {
            let local = match c.stream.get_ref().local_addr()? {
                SocketAddr::V4(a) => a,
                SocketAddr::V6(_) => return Err(io::Error::other("IPv6 socket")),
            };
            let master = if local.port() == 80 { local.ip().to_string() } else { local.to_string() };
            // `?mac=`: the node's token too, for nodes that booted from their own media and so
            // never got one on their command line; as in boot.ipxe, only to that node's address.
            let token = crate::serve::http::query_param(&req.query, "mac")
                .and_then(|m| Mac::parse(&m))
                .filter(|m| vouched(shared, *c.peer.ip(), *m))
                .map(|m| shared.key.mint(m));
            let body = serde_json::to_vec(&serde_json::json!({
                "upload_url": format!("http://{master}/api/v1/nodes/{{mac}}/inventory"),
                "poweroff": cfg.peer_poweroff,
                "token": token,
                "durable": cfg.durable,
                "master": cfg.master_mac.map(|m| m.to_string()),
            }))?;
            let head = Head::new(200).field("Content-Type", "application/json").field("Cache-Control", "no-store");
            reply(c, req, head, &body, keep, cfg).await
        }
        Route::Events { mac } => events(c, req, shared, mac, keep).await,
    }
}

/// Sends a head and a small body (none for HEAD).
async fn reply(
    c: &mut Conn,
    req: &Request,
    mut head: Head,
    body: &[u8],
    keep: bool,
    cfg: &HttpConfig,
) -> io::Result<Outcome> {
    head.content_length = Some(body.len() as u64);
    let mut out = head.encode(keep, req.http10, unix_secs());
    let sent = if req.method == Method::Head { 0 } else { body.len() };
    out.extend_from_slice(body.get(..sent).unwrap_or_default());
    c.write_all(&out, cfg.send_timeout).await?;
    Ok(Outcome { status: head.status, bytes: sent as u64, keep, mac: None })
}

async fn reply_reject(
    c: &mut Conn,
    req: &Request,
    rej: &Reject,
    keep: bool,
    mac: Option<Mac>,
    cfg: &HttpConfig,
) -> io::Result<Outcome> {
    let (head, body) = reject_response(rej);
    let mut o = reply(c, req, head, &body, keep, cfg).await?;
    o.mac = mac;
    Ok(o)
}

async fn send_static(c: &mut Conn, req: &Request, shared: &Shared, keep: bool) -> io::Result<Outcome> {
    let cfg = &shared.cfg;
    let (file, len) = match shared.root.open_file(&req.path) {
        Ok(f) => f,
        Err(Refusal::NotFound) => {
            let rej = Reject::new(404, format!("no such file: {}", req.path_str()));
            return reply_reject(c, req, &rej, keep, None, cfg).await;
        }
        Err(Refusal::Forbidden(why)) => {
            let rej = Reject::new(403, format!("{}: {why}", req.path_str()));
            return reply_reject(c, req, &rej, keep, None, cfg).await;
        }
    };
    let mtime = file.metadata().ok().and_then(|m| m.modified().ok()).and_then(|t| t.duration_since(UNIX_EPOCH).ok());
    let plan = plan_file(req, FileInfo { len, mtime: mtime.map(|d| d.as_secs()) }, unix_secs());
    let head = Head { status: plan.status, fields: plan.fields, content_length: plan.content_length };
    let encoded = head.encode(keep, req.http10, unix_secs());
    let Some((offset, n)) = plan.body.filter(|(_, n)| *n > 0) else {
        c.write_all(&encoded, cfg.send_timeout).await?;
        return Ok(Outcome { status: plan.status, bytes: 0, keep, mac: None });
    };
    // The head goes with MSG_MORE, so it leaves in the first segment of the file, and the body
    // is corked (nginx's tcp_nopush): under TCP_NODELAY an uncorked sender also sends a short
    // segment wherever the client's window happens to end. One 500 MB download over the bench's
    // veth took 362 600-365 600 segments uncorked, 362 083-362 086 corked (as nginx); one
    // download alone corked ran 1.01x as fast as uncorked (paired, two series of 400 rounds;
    // bench/README.md "http.sh"), 50 at once faster corked before.
    let _ = sock::setsockopt(c.stream.get_ref(), sock::sockopt::TcpCork, &true);
    c.send_more(&encoded, cfg.send_timeout).await?;
    // Progress reaches the store every 16 MiB, and the rest at the end; the live image's as a
    // share of its size (the board shows it).
    let ip = *c.peer.ip();
    let image = (req.path_str().trim_start_matches('/') == cfg.boot.iso).then_some(len);
    let mut pending = 0u64;
    let sent = c
        .send_file(&file, offset, n, cfg.send_timeout, |k| {
            pending += k;
            if pending >= 16 << 20 {
                shared.store.fleet().served(ip, std::mem::take(&mut pending), image);
            }
        })
        .await;
    // Sends the short tail segment now.
    let _ = sock::setsockopt(c.stream.get_ref(), sock::sockopt::TcpCork, &false);
    shared.store.fleet().served(ip, pending, image);
    let sent = sent?;
    if sent < n {
        // Content-Length promised more: the client must see the connection end.
        return Err(io::Error::other(format!("the file shrank: {sent} of {n} octets sent")));
    }
    Ok(Outcome { status: plan.status, bytes: sent, keep, mac: None })
}

async fn upload(c: &mut Conn, req: &Request, shared: &Shared, mac: Mac, keep: bool) -> io::Result<Outcome> {
    let cfg = &shared.cfg;
    // The checks that need no body come first, and close the connection: the body is not read.
    let early = |rej: Reject| (rej, keep && !req.has_body());
    let checked = match req.token.as_deref() {
        _ if shared.store.is_closed() => {
            Err(early(Reject::new(503, "the master has finished and takes no more inventories")))
        }
        None => Err(early(Reject::new(
            401,
            "no token: send Authorization: Bearer <recon.token from the kernel command line>",
        ))),
        Some(t) if !shared.key.check(mac, t) => {
            Err(early(Reject::new(401, format!("the token is not {mac}'s (another node's, or another master's)"))))
        }
        Some(_) => upload_format(req.content_type.as_deref()).map_err(early),
    };
    let format = match checked {
        Ok(f) => f,
        // Not the node's event: whoever sent it has not shown it is that node.
        Err((rej, keep)) => {
            let by_token = rej.status != 401;
            return reply_reject(c, req, &rej, keep, by_token.then_some(mac), cfg).await;
        }
    };
    let incoming = match receive_upload(c, req, shared, mac).await {
        Ok(Ok(f)) => f,
        // Not read whole: the connection closes (the rest of the body would be taken for a
        // request), and the file went with the `Incoming`.
        Ok(Err(rej)) => {
            Counts::bump(&shared.counts.uploads_incomplete, 1);
            if rej.status == 503 {
                // The node's earlier upload is still arriving (a retry while the first is not
                // yet given up): again shortly.
                let (head, body) = text_response(503, &rej.reason);
                let mut o = reply(c, req, head.field("Retry-After", "2"), &body, false, cfg).await?;
                o.mac = Some(mac);
                return Ok(o);
            }
            return reply_reject(c, req, &rej, false, Some(mac), cfg).await;
        }
        Err(e) => {
            Counts::bump(&shared.counts.uploads_incomplete, 1);
            return Err(e);
        }
    };
    // Decoding needs the whole body in memory: its share of the budget, held until what is
    // decoded from it is stored.
    let n = incoming.len();
    let mut lease = BodyLease::new(shared);
    let wait_until = Instant::now() + LEASE_WAIT;
    while !lease.grow_to(n) {
        if Instant::now() >= wait_until {
            return budget_or_reject(c, req, budget_spent(cfg), Some(mac), shared).await;
        }
        local::sleep_until(Instant::now() + Duration::from_millis(20)).await;
    }
    // Read back, and the file removed, off the worker: the disk may be a slow stick.
    let body = match smol::unblock(move || incoming.read_all()).await {
        Ok(b) => b,
        Err(e) => {
            log::error!("http: reading {mac}'s upload back: {e}");
            let rej = storing_refusal("reading the body back", &e);
            return reply_reject(c, req, &rej, keep, Some(mac), cfg).await;
        }
    };
    let decoded = match decode_upload(format, &body, mac) {
        Ok(d) => d,
        Err(rej) => return reply_reject(c, req, &rej, keep, Some(mac), cfg).await,
    };
    // Written, fsynced and renamed by the store's writer thread; this connection waits for it,
    // the others go on.
    drop(body);
    match shared.store.put_inventory(mac, decoded.json, Some(decoded.summary)).await {
        Ok(replaced) => {
            let location = format!("/api/v1/nodes/{mac}/inventory");
            let body = serde_json::to_vec(
                &serde_json::json!({ "mac": mac, "bytes": n, "replaced": replaced, "durable": cfg.durable }),
            )?;
            let head = Head::new(201).field("Content-Type", "application/json").field("Location", location);
            let mut o = reply(c, req, head, &body, keep, cfg).await?;
            o.mac = Some(mac);
            Ok(o)
        }
        Err(e) => {
            log::error!("http: storing {mac}'s inventory: {e}");
            reply_reject(c, req, &storing_refusal("storing the inventory", &e), keep, Some(mac), cfg).await
        }
    }
}

/// What an upload hears when the data disk fails it: 507 Insufficient Storage (RFC 4918,
/// section 11.5) for a full disk, so the agent tries again later and the upload lands once the
/// operator makes room; 503 while the node's earlier upload is still arriving; 500 for
/// anything else.
fn storing_refusal(doing: &str, e: &io::Error) -> Reject {
    let status = match e.kind() {
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => 507,
        io::ErrorKind::ResourceBusy => 503,
        _ => 500,
    };
    Reject::new(status, format!("{doing}: {e}"))
}

/// The 503 of a spent body budget.
fn budget_spent(cfg: &HttpConfig) -> Reject {
    Reject::new(503, format!("bodies being decoded hold the {}-octet budget; try again shortly", cfg.body_budget))
}

/// Receives an upload body into a file of its own under `<data>/incoming/`, holding no more
/// than about `UPLOAD_FLUSH` octets of it at a time, within `max_body` and `body_timeout`. The
/// framing is RFC 9112's: `Content-Length` octets (section 6.2; the octets after them are the
/// next request's, section 6.3), or chunks up to the last chunk and the trailer section
/// (section 7.1). The outer `Err` is a dead connection; the inner one a refusal to send before
/// closing. Either way the file is removed (dropping the `Incoming`).
async fn receive_upload(
    c: &mut Conn,
    req: &Request,
    shared: &Shared,
    mac: Mac,
) -> io::Result<Result<Incoming, Reject>> {
    let cfg = &shared.cfg;
    let limit = cfg.max_body;
    let over = || Reject::new(413, format!("the body is over the {limit}-octet limit"));
    if !req.chunked {
        match req.content_length {
            None => return Ok(Err(Reject::new(411, "send the inventory with a Content-Length (or chunked)"))),
            Some(n) if n > limit => {
                return Ok(Err(Reject::new(413, format!("a body of {n} octets is over the {limit}-octet limit"))));
            }
            Some(_) => {}
        }
    }
    // Before 100 Continue: a disk too full for the announced length is told so before the body
    // is sent.
    let mut file = match shared.store.incoming(mac, req.content_length.unwrap_or(0)) {
        Ok(f) => f,
        Err(e) => {
            log::error!("http: a file for {mac}'s upload: {e}");
            return Ok(Err(storing_refusal("receiving the inventory", &e)));
        }
    };
    if req.expect_continue {
        c.write_all(b"HTTP/1.1 100 Continue\r\n\r\n", cfg.send_timeout).await?;
    }
    let deadline = Instant::now() + cfg.body_timeout;
    if let Some(n) = req.content_length {
        let mut left = n;
        loop {
            let here = usize::try_from(left).unwrap_or(usize::MAX).min(c.buf.len());
            if here > 0 && (here >= UPLOAD_FLUSH || here as u64 == left) {
                file = match append(file, take_front(&mut c.buf, here)).await {
                    Ok(f) => f,
                    Err(e) => return Ok(Err(storing_refusal("receiving the inventory", &e))),
                };
                left -= here as u64;
            }
            if left == 0 {
                break;
            }
            if let Err(rej) = more_body(c, deadline, cfg).await? {
                return Ok(Err(rej));
            }
        }
    } else {
        let mut dec = Chunked::default();
        // Decoded and not yet written; what is written and this are the body so far, which the
        // decoder keeps within the limit.
        let mut decoded = Vec::new();
        loop {
            match dec.decode(&c.buf, &mut decoded, limit.saturating_sub(file.len())) {
                Ok(used) => {
                    c.buf.drain(..used);
                }
                Err(rej) if rej.status == 413 => return Ok(Err(over())),
                Err(rej) => return Ok(Err(rej)),
            }
            if decoded.len() >= UPLOAD_FLUSH || (dec.done() && !decoded.is_empty()) {
                file = match append(file, std::mem::take(&mut decoded)).await {
                    Ok(f) => f,
                    Err(e) => return Ok(Err(storing_refusal("receiving the inventory", &e))),
                };
            }
            if dec.done() {
                break;
            }
            if let Err(rej) = more_body(c, deadline, cfg).await? {
                return Ok(Err(rej));
            }
        }
    }
    // The buffer grew to hold a flush's worth; a kept-alive connection needs no more than a head.
    c.buf.shrink_to(16 * 1024);
    Ok(Ok(file))
}

/// Reads more of a body into the connection's buffer by `deadline`: a closed connection is the
/// outer `Err`, a body too slow a 408 to send.
async fn more_body(c: &mut Conn, deadline: Instant, cfg: &HttpConfig) -> io::Result<Result<(), Reject>> {
    match c.read_more(deadline).await {
        Ok(0) => Err(io::ErrorKind::UnexpectedEof.into()),
        Ok(_) => Ok(Ok(())),
        Err(e) if e.kind() == io::ErrorKind::TimedOut => {
            Ok(Err(Reject::new(408, format!("the body did not arrive within {} s", cfg.body_timeout.as_secs()))))
        }
        Err(e) => Err(e),
    }
}

/// Appends `chunk` to `file` on a blocking thread (a write may wait on the disk, and the
/// worker has other connections to serve); on failure the file is removed there too.
async fn append(mut file: Incoming, chunk: Vec<u8>) -> io::Result<Incoming> {
    smol::unblock(move || file.append(&chunk).map(|()| file)).await
}

/// The first `n` octets of `buf`, taken out of it.
fn take_front(buf: &mut Vec<u8>, n: usize) -> Vec<u8> {
    if n >= buf.len() {
        return std::mem::replace(buf, Vec::with_capacity(16 * 1024));
    }
    let rest = buf.split_off(n);
    std::mem::replace(buf, rest)
}

/// An agent's event: a small JSON object, kept on the node's timeline as `agent-<kind>` (once:
/// a copy the agent posted again is dropped, `Store::agent_event`). Only with the node's token,
/// like an upload: nobody else writes into a node's timeline or makes one up, and a node's
/// timeline holds at most `MAX_AGENT_EVENTS` of its agent's events (then 429).
async fn events(c: &mut Conn, req: &Request, shared: &Shared, mac: Mac, keep: bool) -> io::Result<Outcome> {
    let cfg = &shared.cfg;
    match req.token.as_deref() {
        Some(t) if shared.key.check(mac, t) => {}
        Some(_) => {
            let rej = Reject::new(401, format!("the token is not {mac}'s (another node's, or another master's)"));
            return reply_reject(c, req, &rej, false, None, cfg).await;
        }
        None => {
            let rej = Reject::new(401, "no token: send Authorization: Bearer <the node's recon.token>");
            return reply_reject(c, req, &rej, false, None, cfg).await;
        }
    }
    let small = HttpConfig { max_body: 16 << 10, ..cfg.clone() };
    let mut lease = BodyLease::new(shared);
    let body = match read_body(c, req, &small, &mut lease).await? {
        Ok(b) => b,
        Err(rej) => return budget_or_reject(c, req, rej, None, shared).await,
    };
    let v: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v @ serde_json::Value::Object(_)) => v,
        _ => return reply_reject(c, req, &Reject::new(400, "an event is a JSON object"), keep, None, cfg).await,
    };
    let kind = format!("agent-{}", v.get("kind").and_then(|k| k.as_str()).unwrap_or("event"));
    if shared.store.agent_events(mac) >= MAX_AGENT_EVENTS {
        let rej = Reject::new(429, format!("{mac} has posted {MAX_AGENT_EVENTS} events; no more are kept"));
        return reply_reject(c, req, &rej, keep, None, cfg).await;
    }
    shared.store.agent_event(mac, &kind, v, true);
    reply(c, req, Head::new(202), &[], keep, cfg).await
}

/// The 503 of a spent body budget (counted, with Retry-After), or any other refusal; the body is
/// not read, so the connection closes.
async fn budget_or_reject(
    c: &mut Conn,
    req: &Request,
    rej: Reject,
    mac: Option<Mac>,
    shared: &Shared,
) -> io::Result<Outcome> {
    if rej.status == 503 {
        Counts::bump(&shared.counts.refused_budget, 1);
        log::warn!("http: {}: {}", c.peer, rej.reason);
        let (head, body) = text_response(503, &rej.reason);
        let mut o = reply(c, req, head.field("Retry-After", "2"), &body, false, &shared.cfg).await?;
        o.mac = mac;
        return Ok(o);
    }
    reply_reject(c, req, &rej, false, mac, &shared.cfg).await
}

/// Reads an event's body (Content-Length or chunked) into memory within the size and time
/// limits, and within the body budget (`lease` grows with what is held: the whole Content-Length before the first
/// octet is read, a chunked body as it arrives). The outer `Err` is a dead connection; the inner
/// one a refusal to send before closing.
async fn read_body(
    c: &mut Conn,
    req: &Request,
    cfg: &HttpConfig,
    lease: &mut BodyLease<'_>,
) -> io::Result<Result<Vec<u8>, Reject>> {
    let limit = cfg.max_body;
    let spent = || budget_spent(cfg);
    if !req.chunked {
        match req.content_length {
            None => return Ok(Err(Reject::new(411, "send the inventory with a Content-Length (or chunked)"))),
            Some(n) if n > limit => {
                return Ok(Err(Reject::new(413, format!("a body of {n} octets is over the {limit}-octet limit"))));
            }
            Some(n) if !lease.grow_to(n) => return Ok(Err(spent())),
            Some(_) => {}
        }
    }
    if req.expect_continue {
        c.write_all(b"HTTP/1.1 100 Continue\r\n\r\n", cfg.send_timeout).await?;
    }
    let deadline = Instant::now() + cfg.body_timeout;
    if let Some(n) = req.content_length {
        let n = usize::try_from(n).map_err(io::Error::other)?;
        while c.buf.len() < n {
            if let Err(rej) = more_body(c, deadline, cfg).await? {
                return Ok(Err(rej));
            }
        }
        return Ok(Ok(c.buf.drain(..n).collect()));
    }
    let mut dec = Chunked::default();
    let mut body = Vec::new();
    loop {
        match dec.decode(&c.buf, &mut body, limit) {
            Ok(used) => {
                c.buf.drain(..used);
            }
            Err(rej) => return Ok(Err(rej)),
        }
        // What is held: the decoded body and the undecoded octets after it.
        if !lease.grow_to((body.len() + c.buf.len()) as u64) {
            return Ok(Err(spent()));
        }
        if dec.done() {
            return Ok(Ok(body));
        }
        if let Err(rej) = more_body(c, deadline, cfg).await? {
            return Ok(Err(rej));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_workers_per_cpu_at_most_64_never_fewer_than_the_cpus() {
        let w: Vec<usize> = [1, 2, 16, 17, 64, 128].into_iter().map(default_workers).collect();
        assert_eq!(w, [4, 8, 64, 64, 64, 128]);
    }

    #[test]
    fn a_connection_goes_to_the_least_loaded_worker_and_stays_home_on_a_tie() {
        let load = |n: &[usize]| n.iter().map(|&k| AtomicUsize::new(k)).collect::<Vec<_>>();
        assert_eq!(least_loaded(&load(&[3, 1, 2]), 0), 1);
        assert_eq!(least_loaded(&load(&[2, 2, 2]), 2), 2);
        assert_eq!(least_loaded(&load(&[0, 2, 0]), 1), 0);
        assert_eq!(least_loaded(&load(&[5]), 0), 0);
    }
}
