//! The master's data directory, and the one thread that writes it:
//!
//! ```text
//! <data>/leases.jsonl                     the DHCP lease journal (runtime::dhcp's committer)
//! <data>/events.jsonl                     every event of every client, in order
//! <data>/nodes/<mac>/events.jsonl         a boot node's timeline: dhcp, tftp, http, agent, ...
//! <data>/nodes/<mac>/inventory.json       the newest inventory it uploaded
//! <data>/nodes/<mac>/inventories/<t>.json every inventory it uploaded, by arrival (Unix ms)
//! <data>/secret                           the key upload tokens are minted with (32 octets, 0600)
//! <data>/incoming/<mac>-<t>-<n>           an upload body as it arrives (runtime::http), until decoded
//! ```
//!
//! `<mac>` is the boot MAC with dashes (`52-54-00-12-34-56`): the stick's partition may be FAT,
//! where `:` is not allowed in names.
//!
//! The node records live in memory ([`Fleet`], behind a mutex that is only ever held for
//! in-memory work); every file is written by the writer thread, fed through a channel. So the
//! DHCP, TFTP and DNS loops and the HTTP workers never wait on a disk: an event costs them a
//! lock, a serialisation and a send. An upload waits for its own write: the inventory is written
//! atomically (temporary file, fsync, rename, directory fsync) and the logs fsynced before
//! [`Store::put_inventory`] returns, and only then does HTTP answer 201. Events are flushed to
//! the kernel after every batch and fsynced with the next inventory or [`Store::sync`].

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use netboot_proto::Mac;

use super::clock::unix_ms;
use super::files::{AtomicBatch, Journal};
use crate::serve::fleet::{Fleet, Line, Summary};

/// Per-node timeline files kept open at once; past this all are closed and reopened on demand.
const MAX_OPEN_LOGS: usize = 128;

/// Lines waiting for the writer at most; past this new events are dropped (and counted) rather
/// than grow the master's memory while a disk stalls.
const MAX_QUEUED: usize = 100_000;

/// An upload waiting for the writer: the node, the inventory, its summary, where the answer goes.
type Upload = (Mac, Vec<u8>, Option<Summary>, smol::channel::Sender<io::Result<bool>>);

/// Work for the writer thread, done in order.
enum Job {
    /// Append a line to the logs.
    Append(Line),
    /// Store an inventory, record its event, fsync; then answer.
    Inventory { mac: Mac, json: Vec<u8>, summary: Option<Summary>, done: smol::channel::Sender<io::Result<bool>> },
    /// Fsync the logs; then answer.
    Sync(smol::channel::Sender<io::Result<()>>),
    /// Fsync and close every file, then stop (the master is finishing); then answer.
    Close(smol::channel::Sender<io::Result<()>>),
}

/// The data directory: the node records and the writer's channel. Shared by every service.
pub(crate) struct Store {
    root: PathBuf,
    fleet: Arc<Mutex<Fleet>>,
    /// `None` once dropped: the writer then finishes what it was given and ends.
    tx: Option<Sender<Job>>,
    writer: Option<std::thread::JoinHandle<()>>,
    queued: Arc<AtomicUsize>,
    /// Events dropped because the writer was [`MAX_QUEUED`] lines behind.
    dropped: AtomicU64,
    /// Set when the master finishes: nothing more is accepted.
    closed: std::sync::atomic::AtomicBool,
    /// How long a quiet node may be before it is stuck, for the reports.
    stuck_ms: Arc<AtomicU64>,
    /// Events of clients not yet known to be real (see [`Unconfirmed`]).
    unconfirmed: Mutex<Unconfirmed>,
    /// Nodes with an upload body arriving now: one at a time each (see [`Store::incoming`]).
    arriving: Arc<Mutex<std::collections::HashSet<Mac>>>,
}

/// DHCP events of MACs the fleet does not know yet, held in memory: a DISCOVER, an offer, a NAK
/// prove nothing (anyone can send DISCOVERs from made-up MACs, thousands a second), so they make
/// no node, no directory and no line on disk. The first event that does (an ACK that binds, a
/// PXE boot server ACK, an HTTP request by the node, an agent's event, an upload) makes the node,
/// and the held events go onto its timeline first, with their own times. At most
/// [`MAX_UNCONFIRMED`] MACs are held, the oldest forgotten first, as Kea and dnsmasq keep nothing
/// for clients that never complete.
#[derive(Default)]
struct Unconfirmed {
    by_mac: std::collections::HashMap<Mac, Vec<(String, u64, serde_json::Value, bool)>>,
    order: std::collections::VecDeque<Mac>,
    forgotten: u64,
}

/// MACs whose events [`Unconfirmed`] holds at once, and events held per MAC.
const MAX_UNCONFIRMED: usize = 4096;
const MAX_UNCONFIRMED_EVENTS: usize = 16;

/// Events that do not make a node by themselves (see [`Unconfirmed`]).
fn proves_nothing(kind: &str) -> bool {
    matches!(
        kind,
        "dhcp-discover"
            | "dhcp-offer"
            | "dhcp-request"
            | "dhcp-nak"
            | "dhcp-proxy-offer"
            | "dhcp-inform"
            | "dhcp-decline"
            | "dhcp-release"
    )
}

impl Unconfirmed {
    fn hold(&mut self, mac: Mac, event: (String, u64, serde_json::Value, bool)) {
        if !self.by_mac.contains_key(&mac) {
            while self.order.len() >= MAX_UNCONFIRMED {
                let Some(old) = self.order.pop_front() else { break };
                if self.by_mac.remove(&old).is_some() {
                    self.forgotten += 1;
                }
            }
            self.order.push_back(mac);
        }
        let held = self.by_mac.entry(mac).or_default();
        if held.len() < MAX_UNCONFIRMED_EVENTS {
            held.push(event);
        }
    }

    fn take(&mut self, mac: Mac) -> Vec<(String, u64, serde_json::Value, bool)> {
        // `order` keeps the MAC until it reaches the front; removing it there costs nothing.
        self.by_mac.remove(&mac).unwrap_or_default()
    }
}

/// Where upload bodies are written as they arrive ([`Incoming`]).
const INCOMING: &str = "incoming";

/// Every store this process opened, for [`sync_all`].
static OPEN: Mutex<Vec<Weak<Store>>> = Mutex::new(Vec::new());

/// Writes and fsyncs everything every open store was given (before the process exits on a
/// signal: systemd stops the agent before it unmounts RECONDATA at power-off).
pub(crate) fn sync_all() {
    let open: Vec<Arc<Store>> =
        OPEN.lock().unwrap_or_else(|e| e.into_inner()).iter().filter_map(Weak::upgrade).collect();
    // A store the operator's finish closed has nothing left to write.
    for s in open.into_iter().filter(|s| !s.is_closed()) {
        match s.sync_blocking() {
            Ok(()) => log::info!("store: {} synced", s.root.display()),
            Err(e) => log::error!("store: syncing {}: {e}", s.root.display()),
        }
    }
}

/// `<data>/nodes/<mac>`.
pub(crate) fn node_dir(root: &Path, mac: Mac) -> PathBuf {
    root.join("nodes").join(mac.dashed().to_string())
}

impl Store {
    /// Opens `root` (creating it), reads every node's timeline back (a torn last line, from a
    /// crash mid-append, is cut off the file, so the next append starts a line of its own), and
    /// starts the writer thread.
    pub(crate) fn open(root: &Path) -> io::Result<Arc<Store>> {
        fs::create_dir_all(root.join("nodes"))?;
        // A body left in incoming/ by a crash or a kill was never answered 201: its agent sends
        // it again, so it is only in the way.
        fs::create_dir_all(root.join(INCOMING))?;
        let mut leftovers = 0usize;
        for e in fs::read_dir(root.join(INCOMING))? {
            let e = e?;
            if e.file_type()?.is_dir() {
                fs::remove_dir_all(e.path())?
            } else {
                fs::remove_file(e.path())?
            }
            leftovers += 1;
        }
        if leftovers > 0 {
            log::info!("store: removed {leftovers} unfinished upload bodies from {INCOMING}/");
        }
        let mut fleet = Fleet::new();
        let mut skipped = 0usize;
        for e in fs::read_dir(root.join("nodes"))? {
            let e = e?;
            let Some(mac) = e.file_name().to_str().and_then(Mac::parse) else { continue };
            let path = e.path().join("events.jsonl");
            if !path.exists() {
                continue;
            }
            let (_, replay) = Journal::open(&path)?;
            if replay.torn_tail {
                log::warn!("store: {} ended in a partial line (a crash mid-write); it was cut off", path.display());
            }
            for line in &replay.lines {
                if !fleet.replay(mac, line) {
                    skipped += 1;
                }
            }
        }
        if skipped > 0 {
            log::warn!("store: {skipped} timeline lines were not JSON objects and were left out");
        }
        // The global log too: a torn tail there would glue the next line onto it.
        let (log, replay) = Journal::open(&root.join("events.jsonl"))?;
        if replay.torn_tail {
            log::warn!("store: events.jsonl ended in a partial line; it was cut off");
        }
        drop(log);
        let fleet = Arc::new(Mutex::new(fleet));
        let queued = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel();
        // The reports, a few seconds after each batch of inventories (runtime::report).
        let (poke, pokes) = mpsc::channel();
        let data = root.to_owned();
        let stuck_ms = Arc::new(AtomicU64::new(crate::serve::fleet::STUCK_MS));
        let reporter_stuck = stuck_ms.clone();
        std::thread::Builder::new()
            .name("reporter".into())
            .spawn(move || super::report::run(&data, &pokes, std::time::Duration::from_secs(3), &reporter_stuck))?;
        let mut w = Writer::open(root, fleet.clone(), queued.clone(), poke)?;
        let writer = std::thread::Builder::new().name("store-writer".into()).spawn(move || w.run(&rx))?;
        let store = Arc::new(Store {
            root: root.to_owned(),
            fleet,
            tx: Some(tx),
            writer: Some(writer),
            queued,
            dropped: AtomicU64::new(0),
            closed: std::sync::atomic::AtomicBool::new(false),
            stuck_ms,
            unconfirmed: Mutex::default(),
            arriving: Arc::default(),
        });
        OPEN.lock().unwrap_or_else(|e| e.into_inner()).push(Arc::downgrade(&store));
        Ok(store)
    }

    /// How long a node may go without an event before the board and the reports call it stuck.
    pub(crate) fn set_stuck(&self, ms: u64) {
        self.fleet().set_stuck(ms);
        self.stuck_ms.store(ms, Ordering::Relaxed);
    }

    /// What [`Store::set_stuck`] set.
    pub(crate) fn stuck_ms(&self) -> u64 {
        self.stuck_ms.load(Ordering::Relaxed)
    }

    /// The node records. Hold the guard for in-memory work only.
    pub(crate) fn fleet(&self) -> MutexGuard<'_, Fleet> {
        // A panic elsewhere while holding the lock leaves the records as usable as before it.
        self.fleet.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn send(&self, job: Job) {
        if self.tx.as_ref().is_none_or(|tx| tx.send(job).is_err()) {
            log::error!("store: the writer thread has stopped; nothing more is written");
        }
    }

    fn append(&self, line: Line) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        if self.queued.fetch_add(1, Ordering::AcqRel) >= MAX_QUEUED {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            if self.dropped.fetch_add(1, Ordering::Relaxed).is_power_of_two() {
                log::warn!("store: the disk is {MAX_QUEUED} events behind; dropping events");
            }
            return;
        }
        self.send(Job::Append(line));
    }

    /// Records an event for `mac` now (see [`Fleet::event`]) and queues its line; for a MAC the
    /// fleet does not know, an event that proves nothing is only held ([`Unconfirmed`]).
    pub(crate) fn event(&self, mac: Mac, kind: &str, fields: serde_json::Value, boot: bool) {
        let now = unix_ms();
        {
            let mut fleet = self.fleet();
            if fleet.node(mac).is_some() {
                // The common case, under one lock: a node the fleet knows.
                let line = fleet.event(mac, kind, now, fields, boot);
                drop(fleet);
                self.append(line);
                return;
            }
        }
        if proves_nothing(kind) {
            self.unconfirmed.lock().unwrap_or_else(|e| e.into_inner()).hold(mac, (kind.to_owned(), now, fields, boot));
            return;
        }
        self.confirm(mac);
        let line = self.fleet().event(mac, kind, now, fields, boot);
        self.append(line);
    }

    /// Puts the events held for `mac` onto its timeline: it has shown it is a real node.
    fn confirm(&self, mac: Mac) {
        let held = self.unconfirmed.lock().unwrap_or_else(|e| e.into_inner()).take(mac);
        for (kind, t, fields, boot) in held {
            let line = self.fleet().event(mac, &kind, t, fields, boot);
            self.append(line);
        }
    }

    /// MACs whose held events were forgotten (they never became nodes).
    pub(crate) fn unconfirmed_forgotten(&self) -> u64 {
        self.unconfirmed.lock().unwrap_or_else(|e| e.into_inner()).forgotten
    }

    /// How many events `mac`'s agent has posted that were kept.
    pub(crate) fn agent_events(&self, mac: Mac) -> u64 {
        self.fleet().node(mac).map_or(0, |n| n.agent_events)
    }

    /// Records an agent's event unless it is a copy (see [`Fleet::agent_event`]); whether it
    /// was recorded.
    pub(crate) fn agent_event(&self, mac: Mac, kind: &str, fields: serde_json::Value, boot: bool) -> bool {
        self.confirm(mac);
        let line = self.fleet().agent_event(mac, kind, unix_ms(), fields, boot);
        match line {
            Some(l) => {
                self.append(l);
                true
            }
            None => false,
        }
    }

    /// Stores an uploaded inventory (JSON) durably and records it; whether it replaced an
    /// earlier one. Returns once the file and the logs are fsynced.
    pub(crate) async fn put_inventory(&self, mac: Mac, json: Vec<u8>, summary: Option<Summary>) -> io::Result<bool> {
        if self.closed.load(Ordering::Acquire) {
            return Err(io::Error::other("the master has finished and takes no more inventories"));
        }
        self.confirm(mac);
        let (done, answer) = smol::channel::bounded(1);
        self.send(Job::Inventory { mac, json, summary, done });
        answer.recv().await.map_err(|_| io::Error::other("the store's writer stopped"))?
    }

    /// Fsyncs every log written so far.
    pub(crate) async fn sync(&self) -> io::Result<()> {
        let (done, answer) = smol::channel::bounded(1);
        self.send(Job::Sync(done));
        answer.recv().await.map_err(|_| io::Error::other("the store's writer stopped"))?
    }

    /// Writes, fsyncs and closes every file of the data directory, and takes nothing more (the
    /// master finishing, before RECONDATA is unmounted). Returns once the files are closed.
    pub(crate) fn close_blocking(&self) -> io::Result<()> {
        self.closed.store(true, Ordering::Release);
        let (done, answer) = smol::channel::bounded(1);
        self.send(Job::Close(done));
        smol::block_on(answer.recv()).map_err(|_| io::Error::other("the store's writer stopped"))?
    }

    /// Whether [`Store::close_blocking`] ran.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// [`Store::sync`] for a thread that may block.
    pub(crate) fn sync_blocking(&self) -> io::Result<()> {
        smol::block_on(self.sync())
    }

    /// A new, empty file in `<data>/incoming/` for an upload body from `mac` as it arrives
    /// (created with O_EXCL: never another upload's), removed when the [`Incoming`] drops. A
    /// full disk if `expected` octets would not fit (see [`Incoming::append`]). One at a time per
    /// node ([`io::ErrorKind::ResourceBusy`] while one arrives): an agent sends one inventory, so
    /// what uploads in flight hold on the disk is bounded by the nodes holding tokens, not by the
    /// connections one of them can open.
    pub(crate) fn incoming(&self, mac: Mac, expected: u64) -> io::Result<Incoming> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        if let Some(free) = free_space(&self.root)
            && free.saturating_sub(RESERVE) < expected
        {
            return Err(disk_full(&self.root));
        }
        let slot = Arriving::take(&self.arriving, mac)?;
        let dir = self.root.join(INCOMING);
        let mut tries = 0;
        loop {
            let n = SEQ.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!("{}-{}-{n}", mac.dashed(), unix_ms()));
            match OpenOptions::new().read(true).write(true).create_new(true).open(&path) {
                Ok(file) => return Ok(Incoming { root: self.root.clone(), path, file, len: 0, _slot: slot }),
                // Another process on this directory (a second master) took the name.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && tries < 8 => tries += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// Where the node's newest inventory is (it may not exist).
    pub(crate) fn inventory_path(&self, mac: Mac) -> PathBuf {
        node_dir(&self.root, mac).join("inventory.json")
    }

    /// Events dropped because the disk fell behind.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// The master's 32-octet secret, created on first use from the kernel's random source
    /// (`/dev/urandom`, which is getrandom's pool) and written atomically with mode 0600. It is
    /// read back on every later start, so the tokens of nodes already booted stay valid across a
    /// restart; a file of another size is an error, not something to replace silently.
    pub(crate) fn secret(&self) -> io::Result<[u8; 32]> {
        let path = self.root.join("secret");
        match fs::read(&path) {
            Ok(b) => {
                return b.try_into().map_err(|b: Vec<u8>| {
                    io::Error::other(format!("{}: {} octets, expected 32", path.display(), b.len()))
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut key = [0u8; 32];
        io::Read::read_exact(&mut File::open("/dev/urandom")?, &mut key)?;
        let tmp = self.root.join(format!(".secret.tmp.{}", std::process::id()));
        let res = (|| {
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
            f.write_all(&key)?;
            f.sync_all()?;
            // Two masters starting at once on one directory: the first key stays.
            fs::hard_link(&tmp, &path)?;
            File::open(&self.root)?.sync_all()
        })();
        let _ = fs::remove_file(&tmp);
        match res {
            Ok(()) => Ok(key),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => self.secret(),
            Err(e) => Err(e),
        }
    }
}

impl Drop for Store {
    /// Waits until the writer has written, flushed and fsynced everything it was given.
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

/// The writer thread's files.
struct Writer {
    root: PathBuf,
    fleet: Arc<Mutex<Fleet>>,
    queued: Arc<AtomicUsize>,
    /// `None` once closed.
    log: Option<BufWriter<File>>,
    open_logs: HashMap<Mac, File>,
    /// Pokes the reporter after inventories are stored.
    reporter: Sender<()>,
}

impl Writer {
    fn open(
        root: &Path,
        fleet: Arc<Mutex<Fleet>>,
        queued: Arc<AtomicUsize>,
        reporter: Sender<()>,
    ) -> io::Result<Writer> {
        let log = BufWriter::new(OpenOptions::new().create(true).append(true).open(root.join("events.jsonl"))?);
        Ok(Writer { root: root.to_owned(), fleet, queued, log: Some(log), open_logs: HashMap::new(), reporter })
    }

    /// Takes every job waiting as one batch: event lines appended as they come, the batch's
    /// inventories written together ([`AtomicBatch`]: about one journal commit for all of
    /// them), then one sync of the logs, and only then the answers. Ends when every sender is
    /// gone.
    fn run(&mut self, rx: &Receiver<Job>) {
        while let Ok(first) = rx.recv() {
            let mut inventories = Vec::new();
            let mut syncs = Vec::new();
            let mut close = None;
            let mut next = Some(first);
            while let Some(job) = next {
                match job {
                    Job::Append(line) => {
                        self.queued.fetch_sub(1, Ordering::AcqRel);
                        if let Err(e) = self.append(&line) {
                            log::error!("store: appending an event: {e}");
                        }
                    }
                    Job::Inventory { mac, json, summary, done } => inventories.push((mac, json, summary, done)),
                    Job::Sync(done) => syncs.push(done),
                    Job::Close(done) => close = Some(done),
                }
                next = rx.try_recv().ok();
            }
            let stored = self.inventories(&inventories);
            let synced = if stored.is_empty() && syncs.is_empty() { self.flush() } else { self.sync() };
            if let Err(e) = &synced {
                log::error!("store: syncing the logs: {e}");
            }
            for ((mac, _, _, done), r) in inventories.iter().zip(stored) {
                let r = r.and_then(|replaced| match &synced {
                    Ok(()) => Ok(replaced),
                    Err(e) => Err(io::Error::new(e.kind(), format!("syncing the logs: {e}"))),
                });
                if let Err(e) = &r {
                    log::error!("store: storing {mac}'s inventory: {e}");
                }
                let _ = done.try_send(r);
            }
            if !inventories.is_empty() {
                let _ = self.reporter.send(());
            }
            for done in syncs {
                let _ = done.try_send(synced.as_ref().map(|_| ()).map_err(|e| io::Error::new(e.kind(), e.to_string())));
            }
            if let Some(done) = close {
                let r = self.sync();
                // Closed: the files are no longer open, so their filesystem can be unmounted.
                self.open_logs.clear();
                self.log = None;
                let _ = done.try_send(r);
                return;
            }
        }
        let _ = self.sync();
    }

    fn append(&mut self, line: &Line) -> io::Result<()> {
        let Some(log) = self.log.as_mut() else { return Ok(()) };
        log.write_all(line.text.as_bytes())?;
        log.write_all(b"\n")?;
        let Some(mac) = line.node else { return Ok(()) };
        let f = match self.open_logs.get_mut(&mac) {
            Some(f) => f,
            None => {
                if self.open_logs.len() >= MAX_OPEN_LOGS {
                    self.open_logs.clear();
                }
                let dir = node_dir(&self.root, mac);
                fs::create_dir_all(&dir)?;
                let f = OpenOptions::new().create(true).append(true).open(dir.join("events.jsonl"))?;
                self.open_logs.entry(mac).or_insert(f)
            }
        };
        f.write_all(format!("{}\n", line.text).as_bytes())
    }

    /// Each inventory into its own file under `inventories/` and over `inventory.json`, all
    /// of them made durable together; then an event each for those stored. Whether each replaced
    /// an earlier one, in order. The logs still need a sync.
    fn inventories(&mut self, jobs: &[Upload]) -> Vec<io::Result<bool>> {
        let now = unix_ms();
        let mut batch = AtomicBatch::default();
        let mut ids = Vec::with_capacity(jobs.len());
        // What the disk can take beyond the reserve: an inventory is written twice (kept and
        // newest), and the lease journal must always be able to append (a DHCP ACK waits on it).
        let mut room = free_space(&self.root).map(|free| free.saturating_sub(RESERVE));
        let mut full = vec![false; jobs.len()];
        for (k, (_, json, _, _)) in jobs.iter().enumerate() {
            let need = 2 * json.len() as u64 + 64 * 1024;
            match room.as_mut() {
                Some(r) if *r < need => full[k] = true,
                Some(r) => *r -= need,
                None => {}
            }
        }
        for (k, (mac, json, _, _)) in jobs.iter().enumerate() {
            if full.get(k) == Some(&true) {
                ids.push((usize::MAX, usize::MAX, false));
                continue;
            }
            let dir = node_dir(&self.root, *mac);
            let newest = dir.join("inventory.json");
            // Distinct names for uploads of one node within one millisecond.
            let kept = batch.add(&dir.join("inventories").join(format!("{now}-{k}.json")), json);
            let replaced = newest.exists();
            ids.push((kept, batch.add(&newest, json), replaced));
        }
        let results = batch.commit();
        let ok = |i: usize| results.get(i).is_some_and(Result::is_ok);
        let mut out = Vec::with_capacity(jobs.len());
        for ((mac, json, summary, _), (kept, newest, replaced)) in jobs.iter().zip(ids) {
            if kept == usize::MAX {
                out.push(Err(disk_full(&self.root)));
                continue;
            }
            if !(ok(kept) && ok(newest)) {
                let why = results.get(kept).into_iter().chain(results.get(newest)).find_map(|r| r.as_ref().err());
                // The kind says what the uploader hears (a full disk: 507).
                let kind = why.map_or(io::ErrorKind::Other, io::Error::kind);
                out.push(Err(io::Error::new(
                    kind,
                    format!("writing the inventory: {}", why.map_or_else(String::new, ToString::to_string)),
                )));
                continue;
            }
            let fields = serde_json::json!({ "bytes": json.len(), "replaced": replaced });
            let line = {
                let mut fleet = self.fleet.lock().unwrap_or_else(|e| e.into_inner());
                let line = fleet.event(*mac, "inventory", now, fields, true);
                if let Some(s) = summary {
                    fleet.summarize(*mac, s.clone());
                }
                line
            };
            out.push(self.append(&line).map(|()| replaced));
        }
        out
    }

    fn flush(&mut self) -> io::Result<()> {
        self.log.as_mut().map_or(Ok(()), Write::flush)
    }
}

/// An upload body on its way to the store: a file of its own in `<data>/incoming/`, removed
/// when dropped (stored, refused, or the connection gone). Not fsynced: it is never
/// acknowledged; the inventory decoded from it is written durably by [`Store::put_inventory`].
/// Its calls block on the disk: the HTTP workers make them on `smol::unblock`'s threads.
pub(crate) struct Incoming {
    root: PathBuf,
    path: PathBuf,
    file: File,
    len: u64,
    _slot: Arriving,
}

/// The node's one upload arriving; given back when dropped.
struct Arriving {
    set: Arc<Mutex<std::collections::HashSet<Mac>>>,
    mac: Mac,
}

impl Arriving {
    fn take(set: &Arc<Mutex<std::collections::HashSet<Mac>>>, mac: Mac) -> io::Result<Arriving> {
        if !set.lock().unwrap_or_else(|e| e.into_inner()).insert(mac) {
            return Err(io::Error::new(
                io::ErrorKind::ResourceBusy,
                format!("an upload for {mac} is already arriving; one at a time per node"),
            ));
        }
        Ok(Arriving { set: set.clone(), mac })
    }
}

impl Drop for Arriving {
    fn drop(&mut self) {
        self.set.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.mac);
    }
}

impl Incoming {
    /// Appends `data`. Refused as a full disk ([`io::ErrorKind::StorageFull`], HTTP's 507) before
    /// it would take the [`RESERVE`] the lease journal keeps, as an inventory is.
    pub(crate) fn append(&mut self, data: &[u8]) -> io::Result<()> {
        if let Some(free) = free_space(&self.root)
            && free.saturating_sub(RESERVE) < data.len() as u64
        {
            return Err(disk_full(&self.root));
        }
        self.file.write_all(data)?;
        self.len += data.len() as u64;
        Ok(())
    }

    /// Octets appended so far.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// The whole body, read back.
    pub(crate) fn read_all(&self) -> io::Result<Vec<u8>> {
        use std::os::unix::fs::FileExt;
        let mut body = vec![0; usize::try_from(self.len).map_err(io::Error::other)?];
        self.file.read_exact_at(&mut body, 0)?;
        Ok(body)
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_file(&self.path) {
            log::warn!("store: removing {}: {e}", self.path.display());
        }
    }
}

/// What an upload hears when the disk has no more than the [`RESERVE`] left.
fn disk_full(root: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::StorageFull,
        format!(
            "the data disk is full: {} KiB free, {} KiB kept for the lease journal",
            free_space(root).unwrap_or(0) >> 10,
            RESERVE >> 10
        ),
    )
}

/// Space kept free on the data disk for the lease journal (a few thousand leases' lines) and
/// the event logs: inventories are refused before they would take it.
const RESERVE: u64 = 8 << 20;

/// Octets an unprivileged writer may still use on `dir`'s filesystem (statvfs(3)), if known.
fn free_space(dir: &Path) -> Option<u64> {
    let v = nix::sys::statvfs::statvfs(dir).ok()?;
    Some(v.blocks_available().saturating_mul(v.fragment_size()))
}

impl Writer {
    fn sync(&mut self) -> io::Result<()> {
        if let Some(log) = self.log.as_mut() {
            log.flush()?;
            log.get_ref().sync_data()?;
        }
        for f in self.open_logs.values() {
            f.sync_data()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(last: u8) -> Mac {
        Mac([0x52, 0x54, 0, 0, 0, last])
    }

    #[test]
    fn discovers_from_made_up_clients_make_no_nodes_and_a_real_one_keeps_its_first_events() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        let pxe = serde_json::json!({"vendor_class": "PXEClient:Arch:00000:UNDI:002001"});
        // A flood: DISCOVERs (and their offers) from more made-up PXE clients than are held.
        for i in 0..(MAX_UNCONFIRMED + 100) {
            let m = Mac([2, 0, 0, (i >> 16) as u8, (i >> 8) as u8, i as u8]);
            s.event(m, "dhcp-discover", pxe.clone(), true);
            s.event(m, "dhcp-offer", pxe.clone(), true);
        }
        // A real client among them: DISCOVER, offer, REQUEST, then the ACK that binds.
        for kind in ["dhcp-discover", "dhcp-offer", "dhcp-request"] {
            s.event(mac(9), kind, pxe.clone(), true);
        }
        assert!(s.fleet().node(mac(9)).is_none(), "nothing proven yet");
        s.event(mac(9), "dhcp-ack", serde_json::json!({"ip": "10.0.0.9"}), true);
        smol::block_on(s.sync()).unwrap();
        assert_eq!(s.fleet().nodes().count(), 1, "only the client that was bound is a node");
        assert_eq!(s.unconfirmed_forgotten(), 101, "the oldest made-up clients were forgotten");
        let nodes: Vec<_> = fs::read_dir(d.path().join("nodes")).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(nodes, ["52-54-00-00-00-09"], "no directory for a made-up client");
        let timeline = fs::read_to_string(d.path().join("nodes/52-54-00-00-00-09/events.jsonl")).unwrap();
        let kinds: Vec<String> = timeline
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["kind"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(kinds, ["dhcp-discover", "dhcp-offer", "dhcp-request", "dhcp-ack"]);
        // An upload or an agent's event also proves a node.
        s.event(mac(10), "dhcp-proxy-offer", pxe.clone(), true);
        assert!(s.agent_event(mac(10), "agent-phase", serde_json::json!({"phase": "probe"}), true));
        assert_eq!(s.fleet().node(mac(10)).map(|n| n.events.len()), Some(2));
    }

    #[test]
    fn events_and_inventories_survive_a_reopen() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        s.event(mac(1), "dhcp-ack", serde_json::json!({"ip": "10.0.0.5"}), true);
        s.event(mac(2), "dhcp-ack", serde_json::json!({"ip": "10.0.0.6"}), false);
        assert!(!smol::block_on(s.put_inventory(mac(1), b"{}".to_vec(), None)).unwrap());
        assert!(smol::block_on(s.put_inventory(mac(1), b"{\"a\":1}".to_vec(), None)).unwrap());
        drop(s);
        let s = Store::open(d.path()).unwrap();
        {
            let f = s.fleet();
            let n: Vec<_> = f.nodes().collect();
            assert_eq!(n.len(), 1);
            assert_eq!((n[0].uploads, n[0].ip), (2, Some(std::net::Ipv4Addr::new(10, 0, 0, 5))));
            assert_eq!(n[0].events.len(), 3);
        }
        let log = fs::read_to_string(d.path().join("events.jsonl")).unwrap();
        assert_eq!(log.lines().count(), 4, "every event in the global log: {log}");
        assert!(!d.path().join("nodes/52-54-00-00-00-02").exists(), "no directory for a non-boot client");
        assert_eq!(fs::read(s.inventory_path(mac(1))).unwrap(), b"{\"a\":1}");
        let kept = fs::read_dir(d.path().join("nodes/52-54-00-00-00-01/inventories")).unwrap().count();
        assert_eq!(kept, 2, "each upload is kept");
    }

    #[test]
    fn a_torn_timeline_tail_is_cut_so_the_next_event_is_whole() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        s.event(mac(3), "dhcp-ack", serde_json::json!({"ip": "10.0.0.7"}), true);
        smol::block_on(s.sync()).unwrap();
        drop(s);
        let path = d.path().join("nodes/52-54-00-00-00-03/events.jsonl");
        OpenOptions::new().append(true).open(&path).unwrap().write_all(b"{\"t\":5,\"ki").unwrap();
        let s = Store::open(d.path()).unwrap();
        s.event(mac(3), "http", serde_json::json!({"path": "/x"}), true);
        smol::block_on(s.sync()).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines.iter().all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()), "{text}");
    }

    #[test]
    fn incoming_bodies_are_files_of_their_own_removed_when_done_or_at_the_next_open() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        let (mut a, mut b) = (s.incoming(mac(4), 0).unwrap(), s.incoming(mac(5), 0).unwrap());
        // One at a time per node: a second body for node 4 while its first arrives is refused.
        let busy = s.incoming(mac(4), 0).err().unwrap();
        assert_eq!(busy.kind(), io::ErrorKind::ResourceBusy, "{busy}");
        a.append(b"{\"a\":").unwrap();
        a.append(b"1}").unwrap();
        b.append(b"other").unwrap();
        assert_eq!((a.len(), a.read_all().unwrap()), (7, b"{\"a\":1}".to_vec()));
        let files = || fs::read_dir(d.path().join(INCOMING)).unwrap().count();
        assert_eq!(files(), 2, "one file each");
        drop(a);
        assert_eq!(files(), 1, "removed when dropped");
        drop(s.incoming(mac(4), 0).unwrap());
        assert_eq!(files(), 1, "node 4 may send again once its first body is done");
        // A body that could never fit is a full disk before it is sent.
        let e = s.incoming(mac(4), u64::MAX).err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::StorageFull);
        // What a crash leaves is removed when the store opens again.
        std::mem::forget(b);
        drop(s);
        assert_eq!(files(), 1);
        let _s = Store::open(d.path()).unwrap();
        assert_eq!(files(), 0, "leftovers removed at open");
    }

    #[test]
    fn the_secret_is_made_once_private_and_kept() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let a = Store::open(d.path()).unwrap().secret().unwrap();
        let meta = fs::metadata(d.path().join("secret")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(Store::open(d.path()).unwrap().secret().unwrap(), a, "a restart keeps the key");
        assert_ne!(a, [0; 32]);
        let e = tempfile::tempdir().unwrap();
        assert_ne!(Store::open(e.path()).unwrap().secret().unwrap(), a, "each master its own");
        fs::write(d.path().join("secret"), b"short").unwrap();
        assert!(Store::open(d.path()).unwrap().secret().is_err(), "a damaged key is not replaced");
        let left: Vec<_> = fs::read_dir(d.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(!left.iter().any(|n| n.to_string_lossy().starts_with(".secret")), "temporary file left: {left:?}");
    }
}
