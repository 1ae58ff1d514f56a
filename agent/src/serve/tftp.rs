//! The TFTP server's decisions, with no sockets: what to do with a datagram that reaches port 69
//! ([`decide`]), and the read-only root files are served from ([`Root`]).
//!
//! Policy (RFC 1350 error codes):
//! - a read request in `octet` mode for a regular file under the root starts a transfer;
//! - `netascii` (and `mail`) are refused with code 4: boot binaries only go out unchanged;
//! - a write request is refused with code 2: the server is read-only;
//! - a name with a `..` component is refused with code 2 before any file is looked at; a leading
//!   `/` means the root (as tftpd-hpa's `-s` and firmware that sends `/pxelinux.0` expect), and
//!   `\` is a separator (Windows-style clients);
//! - the file is opened with `openat2(RESOLVE_BENEATH)`, so no symlink, absolute or relative,
//!   leads out of the root (code 2); a missing file is code 1, with the name in the message;
//! - anything else that reaches port 69 is dropped and counted, never answered with more than one
//!   error and never a panic.
//!
//! Against hostile or broken clients (a segment where anyone can send an RRQ, with any source):
//! - a `timeout` option above [`MAX_TIMEOUT`](netboot_proto::tftp::MAX_TIMEOUT) (5 s) is not
//!   acknowledged (netboot-proto's negotiation, RFC 2349), so a client cannot stretch the
//!   server's retransmissions;
//! - every transfer has an idle limit and a time limit ([`with_deadlines`]), so a client that
//!   stops acknowledging, or acknowledges at a crawl, frees its slot on a schedule it cannot move;
//! - [`Slots`] caps the transfers at once, in all and per source address, so one host (or one
//!   spoofing one address) cannot take every slot.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use netboot_proto::tftp::{ErrorCode, Limits, Negotiation, OptionList, Packet, SenderConfig};

/// How long a transfer may go without a new block (or the OACK) acknowledged before it is
/// dropped and its slot freed. Three times the 5 s that tftp-hpa and atftp wait before they
/// repeat an ACK (the longest `timeout` acknowledged too,
/// [`MAX_TIMEOUT`](netboot_proto::tftp::MAX_TIMEOUT)), so a live client whose packets are lost
/// twice in a row still gets through; the server's backoff alone takes about a minute to give
/// up on a silent client (RFC 1350, section 2, leaves how long to the implementation).
pub const IDLE_LIMIT: Duration = Duration::from_secs(15);

/// The fixed part of a transfer's time limit, which counts from the start whatever the client
/// acknowledges: a slow reader (8-octet blocks, each acknowledged just inside the idle limit)
/// would otherwise keep its slot for hours. Two minutes is many times what a boot binary takes
/// on the worst LAN; larger files get [`MIN_RATE`] on top.
pub const TIME_LIMIT: Duration = Duration::from_secs(120);

/// Octets per second a transfer's time limit grants for the file's size on top of
/// [`TIME_LIMIT`]: lock-step 512-octet blocks at an 8 ms round trip, far below any LAN.
pub const MIN_RATE: u64 = 64 * 1024;

/// Transfers at once from one IPv4 address. A machine fetches one boot file at a time (a PXE
/// ROM, then iPXE); 8 leaves room for retries on fresh ports and a few hosts behind a relay, yet
/// takes no more than 8 of the global cap's slots.
pub const PER_SOURCE_LIMIT: usize = 8;

/// `cfg` with the server's deadlines ([`IDLE_LIMIT`], [`TIME_LIMIT`], [`MIN_RATE`]) where it
/// sets none: every transfer the server runs has them.
pub fn with_deadlines(cfg: SenderConfig) -> SenderConfig {
    SenderConfig {
        idle_limit: cfg.idle_limit.or(Some(IDLE_LIMIT)),
        time_limit: cfg.time_limit.or(Some(TIME_LIMIT)),
        min_rate: if cfg.time_limit.is_some() { cfg.min_rate } else { MIN_RATE },
        ..cfg
    }
}

/// Whether a read request that [`decide`] would serve may start a transfer now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Yes: a slot is taken, to be given back with [`Slots::release`].
    Start,
    /// This transfer ID (address and port) has a transfer already: the client repeated its
    /// request before it saw the first packet, and that transfer's timer answers it.
    Running,
    /// Every slot is taken.
    Full,
    /// The address has [`Slots`]'s per-source number of transfers running.
    SourceFull,
}

/// The transfers running, by transfer ID and by address, under a global cap and a per-address
/// cap.
///
/// Requests over either cap are dropped, not answered with an ERROR: that is what dnsmasq does
/// at `--tftp-max` (it stops reading its TFTP socket), and for PXE it is the kind answer, as a
/// ROM gives up its boot attempt on an ERROR but repeats an unanswered request, and is served
/// once a slot frees. It also sends nothing towards an address that may be spoofed.
#[derive(Debug)]
pub struct Slots {
    max: usize,
    per_source: usize,
    running: HashSet<SocketAddrV4>,
    by_address: HashMap<Ipv4Addr, usize>,
}

impl Slots {
    /// At most `max` transfers at once, and `per_source` from one address (both at least 1).
    pub fn new(max: usize, per_source: usize) -> Slots {
        Slots { max: max.max(1), per_source: per_source.max(1), running: HashSet::new(), by_address: HashMap::new() }
    }

    /// Whether `peer` has a transfer running.
    pub fn is_running(&self, peer: SocketAddrV4) -> bool {
        self.running.contains(&peer)
    }

    /// Transfers running.
    pub fn len(&self) -> usize {
        self.running.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }

    /// Transfers running for `ip`.
    pub fn from_address(&self, ip: Ipv4Addr) -> usize {
        self.by_address.get(&ip).copied().unwrap_or(0)
    }

    /// Takes a slot for `peer`, or says why not.
    pub fn admit(&mut self, peer: SocketAddrV4) -> Admission {
        if self.is_running(peer) {
            return Admission::Running;
        }
        // The address's own cap first: when both are reached, that is the more telling reason.
        if self.from_address(*peer.ip()) >= self.per_source {
            return Admission::SourceFull;
        }
        if self.running.len() >= self.max {
            return Admission::Full;
        }
        self.running.insert(peer);
        *self.by_address.entry(*peer.ip()).or_insert(0) += 1;
        Admission::Start
    }

    /// Gives `peer`'s slot back (nothing if it has none).
    pub fn release(&mut self, peer: SocketAddrV4) {
        if !self.running.remove(&peer) {
            return;
        }
        if let Some(n) = self.by_address.get_mut(peer.ip()) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.by_address.remove(peer.ip());
            }
        }
    }
}

/// What to do with a datagram that reached the server port.
#[derive(Debug)]
pub enum Decision<'a> {
    /// Start a read transfer of `file`.
    Read {
        /// The name as requested (for logs).
        name: &'a [u8],
        /// The open file.
        file: File,
        /// Its size.
        size: u64,
        /// The options in effect, and the OACK if any.
        negotiation: Negotiation,
    },
    /// Answer with this error and do nothing else.
    Refuse {
        /// The code.
        code: ErrorCode,
        /// A message the client's user can act on.
        message: String,
    },
    /// Say nothing (a stray or malformed datagram); counted by the caller.
    Drop {
        /// Why, for the debug log.
        why: String,
    },
}

/// Why a name was not served.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No such file (or not a regular file).
    NotFound,
    /// The name leaves the root, or the file may not be read.
    Forbidden(&'static str),
}

/// The directory served, held open so that every lookup starts from it, and the names served
/// from elsewhere ([`Root::with_extent`]).
#[derive(Debug)]
pub struct Root {
    dir: OwnedFd,
    path: PathBuf,
    extents: Vec<(PathBuf, PathBuf, u64)>,
}

impl Root {
    /// Opens `path` as the root.
    pub fn open(path: &Path) -> io::Result<Root> {
        let dir = std::fs::OpenOptions::new().read(true).custom_flags_dir().open(path)?;
        Ok(Root { dir: dir.into(), path: path.to_path_buf(), extents: Vec::new() })
    }

    /// Serves `name` as the first `len` octets of `source` (a block device: the live ISO at the
    /// start of the stick the master booted from), ahead of any file of that name in the root.
    pub fn with_extent(mut self, name: &str, source: PathBuf, len: u64) -> Root {
        self.extents.push((PathBuf::from(name), source, len));
        self
    }

    /// The root's path, for logs.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the file a client asked for, confined to the root.
    pub fn open_file(&self, requested: &[u8]) -> Result<(File, u64), Refusal> {
        let rel = normalise(requested)?;
        if let Some((_, source, len)) = self.extents.iter().find(|(n, ..)| *n == rel) {
            let file = File::open(source).map_err(|_| Refusal::NotFound)?;
            return Ok((file, *len));
        }
        let fd = open_beneath(self.dir.as_fd(), &rel).map_err(|e| match e {
            nix::errno::Errno::ENOENT | nix::errno::Errno::ENOTDIR => Refusal::NotFound,
            nix::errno::Errno::EXDEV | nix::errno::Errno::ELOOP => Refusal::Forbidden("path leads out of the root"),
            nix::errno::Errno::EACCES | nix::errno::Errno::EPERM => Refusal::Forbidden("permission denied"),
            _ => Refusal::NotFound,
        })?;
        let file = File::from(fd);
        let meta = file.metadata().map_err(|_| Refusal::NotFound)?;
        if !meta.is_file() {
            return Err(Refusal::NotFound);
        }
        Ok((file, meta.len()))
    }
}

/// Opening a directory needs O_DIRECTORY; std's OpenOptions takes it as a custom flag.
trait DirFlags {
    fn custom_flags_dir(&mut self) -> &mut Self;
}

impl DirFlags for std::fs::OpenOptions {
    fn custom_flags_dir(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(nix::libc::O_DIRECTORY)
    }
}

/// The requested name as a path relative to the root, or a refusal for `..` and empty names.
fn normalise(requested: &[u8]) -> Result<PathBuf, Refusal> {
    let mut rel = PathBuf::new();
    for part in requested.split(|&b| b == b'/' || b == b'\\') {
        match part {
            b"" | b"." => {}
            b".." => return Err(Refusal::Forbidden("'..' is not allowed in names")),
            p => rel.push(OsStr::from_bytes(p)),
        }
    }
    if rel.as_os_str().is_empty() {
        return Err(Refusal::NotFound);
    }
    Ok(rel)
}

/// `openat2(dir, rel, O_RDONLY, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`: every component,
/// symlinks included, must resolve inside `dir`. Kernels before 5.6 lack openat2: there the
/// resolved path is checked against the root's after opening.
fn open_beneath(dir: std::os::fd::BorrowedFd<'_>, rel: &Path) -> Result<OwnedFd, nix::errno::Errno> {
    use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOCTTY)
        .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    match openat2(dir, rel, how) {
        Err(nix::errno::Errno::ENOSYS) => open_checked(dir, rel),
        other => other,
    }
}

fn open_checked(dir: std::os::fd::BorrowedFd<'_>, rel: &Path) -> Result<OwnedFd, nix::errno::Errno> {
    use nix::fcntl::{OFlag, openat};
    use nix::sys::stat::Mode;
    let fd = openat(dir, rel, OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOCTTY, Mode::empty())?;
    let real = |p: PathBuf| std::fs::canonicalize(p).map_err(|_| nix::errno::Errno::ENOENT);
    let root = real(PathBuf::from(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&dir))))?;
    let file = real(PathBuf::from(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd))))?;
    if file.starts_with(&root) { Ok(fd) } else { Err(nix::errno::Errno::EXDEV) }
}

/// Decides what a datagram to port 69 gets.
pub fn decide<'a>(datagram: &'a [u8], root: &Root, limits: &Limits) -> Decision<'a> {
    let packet = match Packet::parse(datagram) {
        Ok(p) => p,
        Err(e) => return Decision::Drop { why: format!("malformed: {e}") },
    };
    match packet {
        Packet::Rrq { filename, mode, options } => {
            if !mode.is_octet() {
                let mode = String::from_utf8_lossy(mode.0);
                let message = if mode.eq_ignore_ascii_case("netascii") {
                    "netascii mode is not supported: ask for octet (binary) mode".to_owned()
                } else {
                    format!("mode {mode:?} is not supported: ask for octet (binary) mode")
                };
                return Decision::Refuse { code: ErrorCode::ILLEGAL_OPERATION, message };
            }
            read(filename, options, root, limits)
        }
        Packet::Wrq { .. } => {
            Decision::Refuse { code: ErrorCode::ACCESS_VIOLATION, message: "this server is read-only".to_owned() }
        }
        // An error is never answered (RFC 1350, section 7).
        Packet::Error { .. } => Decision::Drop { why: "error sent to the server port".to_owned() },
        other => Decision::Refuse {
            code: ErrorCode::ILLEGAL_OPERATION,
            message: format!("{:?} sent to the server port: only read requests start a transfer", other.opcode()),
        },
    }
}

fn read<'a>(name: &'a [u8], options: OptionList<'_>, root: &Root, limits: &Limits) -> Decision<'a> {
    let shown = String::from_utf8_lossy(name);
    match root.open_file(name) {
        Ok((file, size)) => {
            let negotiation = Negotiation::for_read(options, size, limits);
            Decision::Read { name, file, size, negotiation }
        }
        Err(Refusal::NotFound) => {
            Decision::Refuse { code: ErrorCode::FILE_NOT_FOUND, message: format!("file not found: {shown}") }
        }
        Err(Refusal::Forbidden(why)) => {
            Decision::Refuse { code: ErrorCode::ACCESS_VIOLATION, message: format!("access denied: {shown}: {why}") }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn tree() -> (tempfile::TempDir, Root) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("boot");
        fs::create_dir_all(root.join("efi")).unwrap();
        fs::write(root.join("undionly.kpxe"), vec![7u8; 1000]).unwrap();
        fs::write(root.join("efi/ipxe.efi"), b"efi").unwrap();
        fs::write(dir.path().join("secret"), b"secret").unwrap();
        std::os::unix::fs::symlink("../secret", root.join("up")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("abs")).unwrap();
        std::os::unix::fs::symlink("efi/ipxe.efi", root.join("inside")).unwrap();
        let r = Root::open(&root).unwrap();
        (dir, r)
    }

    fn rrq(name: &str, mode: &str, opts: &str) -> Vec<u8> {
        let mut b = vec![0, 1];
        b.extend_from_slice(name.as_bytes());
        b.push(0);
        b.extend_from_slice(mode.as_bytes());
        b.push(0);
        b.extend_from_slice(opts.as_bytes());
        b
    }

    fn refused(d: Decision<'_>) -> (u16, String) {
        match d {
            Decision::Refuse { code, message } => (code.0, message),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn serves_files_under_the_root_with_leading_slash_and_backslashes() {
        let (_d, root) = tree();
        for name in ["undionly.kpxe", "/undionly.kpxe", "efi/ipxe.efi", "\\efi\\ipxe.efi", "./efi//ipxe.efi", "inside"]
        {
            let b = rrq(name, "octet", "");
            assert!(matches!(decide(&b, &root, &Limits::default()), Decision::Read { .. }), "{name}");
        }
        let b = rrq("undionly.kpxe", "OCTET", "tsize\x000\x00blksize\x009000\x00");
        let Decision::Read { size, negotiation, .. } = decide(&b, &root, &Limits::default()) else { panic!() };
        assert_eq!(size, 1000);
        assert_eq!((negotiation.tsize, negotiation.blksize), (Some(1000), 1468));
    }

    #[test]
    fn traversal_is_refused() {
        let (_d, root) = tree();
        for name in ["../secret", "../../etc/passwd", "efi/../../secret", "..\\secret"] {
            let (code, msg) = refused(decide(&rrq(name, "octet", ""), &root, &Limits::default()));
            assert_eq!(code, 2, "{name}: {msg}");
            assert!(msg.contains("'..' is not allowed"), "{msg}");
        }
        for name in ["up", "abs"] {
            let (code, msg) = refused(decide(&rrq(name, "octet", ""), &root, &Limits::default()));
            assert_eq!(code, 2, "{name}: {msg}");
            assert!(msg.contains("leads out of the root"), "{msg}");
        }
        // An absolute name is relative to the root: /etc/passwd is not the host's.
        let (code, msg) = refused(decide(&rrq("/etc/passwd", "octet", ""), &root, &Limits::default()));
        assert_eq!((code, msg.as_str()), (1, "file not found: /etc/passwd"));
    }

    fn peer(ip: [u8; 4], port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::from(ip), port)
    }

    #[test]
    fn one_address_gets_at_most_its_share_of_the_slots() {
        let mut slots = Slots::new(10, PER_SOURCE_LIMIT);
        let a = [10, 235, 0, 2];
        for port in 0..PER_SOURCE_LIMIT as u16 {
            assert_eq!(slots.admit(peer(a, 1000 + port)), Admission::Start);
        }
        // The ninth from the same address, on a fresh port: over its share, while slots remain.
        assert_eq!(slots.admit(peer(a, 2000)), Admission::SourceFull);
        assert_eq!((slots.len(), slots.from_address(Ipv4Addr::from(a))), (8, 8));
        // Another address still gets the slots that are left, then the global cap holds.
        let b = [10, 235, 0, 3];
        assert_eq!(slots.admit(peer(b, 1000)), Admission::Start);
        assert_eq!(slots.admit(peer(b, 1001)), Admission::Start);
        assert_eq!(slots.admit(peer([10, 235, 0, 4], 1000)), Admission::Full);
        // A repeated request is recognised by its transfer ID and takes no second slot.
        assert_eq!(slots.admit(peer(b, 1000)), Admission::Running);
        assert!(slots.is_running(peer(b, 1000)));
        // A freed slot is the address's again; releasing twice or an unknown peer is harmless.
        slots.release(peer(a, 1003));
        slots.release(peer(a, 1003));
        slots.release(peer([192, 0, 2, 1], 9));
        assert_eq!(slots.from_address(Ipv4Addr::from(a)), 7);
        assert_eq!(slots.admit(peer(a, 2000)), Admission::Start);
        for port in 0..PER_SOURCE_LIMIT as u16 {
            slots.release(peer(a, 1000 + port));
        }
        slots.release(peer(a, 2000));
        assert_eq!((slots.len(), slots.from_address(Ipv4Addr::from(a))), (2, 0));
        assert!(!slots.by_address.contains_key(&Ipv4Addr::from(a)), "no entry left for an idle address");
    }

    #[test]
    fn a_hostile_timeout_is_not_acknowledged_and_the_transfer_ends_at_the_idle_limit() {
        use netboot_proto::tftp::{Sender, SenderError};
        let (_d, root) = tree();
        let b = rrq("undionly.kpxe", "octet", "timeout\x00255\x00tsize\x000\x00");
        let Decision::Read { size, negotiation, .. } = decide(&b, &root, &Limits::default()) else { panic!() };
        assert_eq!((negotiation.timeout, negotiation.tsize), (None, Some(1000)), "timeout=255 acknowledged");
        let mut buf = [0u8; 64];
        assert_eq!(negotiation.write_oack_options(&mut buf).unwrap().as_bytes(), b"tsize\x001000\x00");
        // The server's timer policy (with its deadlines) applies; the client never answers.
        let mut s = Sender::new(&negotiation, size, with_deadlines(SenderConfig::default()), Duration::ZERO);
        let mut now = Duration::ZERO;
        while s.result().is_none() && now < Duration::from_secs(600) {
            while s.poll_transmit(now).is_some() {}
            now = s.poll_timeout().unwrap().max(now);
            s.handle_timeout(now);
        }
        assert_eq!(s.result(), Some(Err(SenderError::Idle { limit: IDLE_LIMIT })));
        assert_eq!(now, IDLE_LIMIT, "the slot is held no longer than the idle limit");
    }

    #[test]
    fn the_server_sets_its_deadlines_and_keeps_a_callers_own() {
        let cfg = with_deadlines(SenderConfig { max_retries: 3, ..SenderConfig::default() });
        assert_eq!((cfg.idle_limit, cfg.time_limit, cfg.min_rate), (Some(IDLE_LIMIT), Some(TIME_LIMIT), MIN_RATE));
        assert_eq!(cfg.max_retries, 3);
        let own = SenderConfig {
            idle_limit: Some(Duration::from_secs(2)),
            time_limit: Some(Duration::from_secs(9)),
            min_rate: 1,
            ..SenderConfig::default()
        };
        assert_eq!(with_deadlines(own), own);
        assert!(
            u64::from(netboot_proto::tftp::MAX_TIMEOUT) * 3 <= IDLE_LIMIT.as_secs(),
            "a client's accepted timeout fits the idle limit"
        );
    }

    #[test]
    fn missing_files_directories_writes_and_netascii_are_refused_clearly() {
        let (_d, root) = tree();
        assert_eq!(
            refused(decide(&rrq("nope.efi", "octet", ""), &root, &Limits::default())),
            (1, "file not found: nope.efi".to_owned())
        );
        assert_eq!(refused(decide(&rrq("efi", "octet", ""), &root, &Limits::default())).0, 1);
        assert_eq!(refused(decide(&rrq("", "octet", ""), &root, &Limits::default())).0, 1);
        let (code, msg) = refused(decide(&rrq("undionly.kpxe", "netascii", ""), &root, &Limits::default()));
        assert_eq!(code, 4);
        assert!(msg.contains("netascii mode is not supported"));
        let mut wrq = rrq("x", "octet", "");
        wrq[1] = 2;
        assert_eq!(refused(decide(&wrq, &root, &Limits::default())), (2, "this server is read-only".to_owned()));
        assert_eq!(refused(decide(&[0, 4, 0, 1], &root, &Limits::default())).0, 4);
        assert!(matches!(decide(&[0, 5, 0, 1, 0], &root, &Limits::default()), Decision::Drop { .. }));
        assert!(matches!(decide(&[0, 1, b'x'], &root, &Limits::default()), Decision::Drop { .. }));
    }
}
