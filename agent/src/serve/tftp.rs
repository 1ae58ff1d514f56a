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

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use netboot_proto::tftp::{ErrorCode, Limits, Negotiation, OptionList, Packet};

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
