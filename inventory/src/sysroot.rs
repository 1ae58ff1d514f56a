//! The injectable root every read goes through.

use std::fmt;
use std::io;
use std::path::{Component, Path, PathBuf};

/// A directory prefix for every path the collectors read: `/` on a live machine, a fixture tree
/// (util-linux dumps, prometheus/procfs fixtures) in tests.
///
/// Paths are given as the live machine knows them (`/sys/block/sda/size`) and mapped under the
/// root. Absolute symlink targets inside the tree are mapped the same way, so a fixture tree
/// never leads a read out to the host's own `/sys`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysRoot {
    root: PathBuf,
}

/// Why a read failed, kept short and stable for the inventory's `errors` list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The file does not exist (the most common case: an attribute this kernel or device lacks).
    Missing,
    /// Permission denied (DMI tables and some sysfs files need root).
    Denied,
    /// The contents are not what the field needs (not UTF-8, not a number).
    Invalid,
    /// Any other I/O error.
    Io,
    /// The path tried to leave the root (`..` components).
    Escapes,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reason::Missing => "missing",
            Reason::Denied => "permission denied",
            Reason::Invalid => "invalid contents",
            Reason::Io => "I/O error",
            Reason::Escapes => "path leaves the root",
        })
    }
}

/// A failed read: the path as the live machine names it, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    /// The path under the root (`/sys/class/dmi/id/product_serial`).
    pub path: String,
    /// Why.
    pub reason: Reason,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.reason)
    }
}

impl std::error::Error for ReadError {}

impl ReadError {
    fn new(path: &str, reason: Reason) -> ReadError {
        ReadError { path: path.to_owned(), reason }
    }

    fn io(path: &str, e: &io::Error) -> ReadError {
        let reason = match e.kind() {
            io::ErrorKind::NotFound => Reason::Missing,
            io::ErrorKind::PermissionDenied => Reason::Denied,
            io::ErrorKind::InvalidData => Reason::Invalid,
            _ => Reason::Io,
        };
        ReadError::new(path, reason)
    }
}

/// Everything left in `file`, read in 4 KiB chunks (no `statx` for a size hint).
fn read_to_end(mut file: std::fs::File, live: &str) -> Result<Vec<u8>, ReadError> {
    use std::io::Read;
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match file.read(&mut chunk) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ReadError::io(live, &e)),
        }
    }
}

/// `live` resolved by the kernel (`..` after a link applies to where the link led, as in the
/// hand walk): `None` when it does not exist (the hand walk keeps missing components), or
/// /proc is not there.
fn kernel_canonical(live: &str) -> Option<String> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new().read(true).custom_flags(nix::libc::O_PATH).open(live).ok()?;
    let path = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).ok()?;
    let path = path.into_os_string().into_string().ok()?;
    // A path that was unlinked after the open reads `... (deleted)`; anything not absolute is
    // not a path.
    (path.starts_with('/') && !path.ends_with(" (deleted)")).then_some(path)
}

/// The non-empty components of a path.
fn split(p: &str) -> Vec<String> {
    p.split('/').filter(|c| !c.is_empty()).map(str::to_owned).collect()
}

impl Default for SysRoot {
    fn default() -> SysRoot {
        SysRoot::host()
    }
}

impl SysRoot {
    /// The live machine's own root, `/`.
    pub fn host() -> SysRoot {
        SysRoot { root: PathBuf::from("/") }
    }

    /// A tree under `root`.
    pub fn new(root: impl Into<PathBuf>) -> SysRoot {
        SysRoot { root: root.into() }
    }

    /// The directory prefix.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Maps a live path (`/sys/block`) under the root. `..` components are refused, so a path
    /// built from directory entries cannot leave the tree.
    pub fn path(&self, live: &str) -> Result<PathBuf, ReadError> {
        let mut out = self.root.clone();
        for c in Path::new(live).components() {
            match c {
                Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
                Component::Normal(part) => out.push(part),
                Component::ParentDir => return Err(ReadError::new(live, Reason::Escapes)),
            }
        }
        Ok(out)
    }

    /// The raw octets of a file (sysfs binary attributes, SMBIOS tables).
    ///
    /// Open and read to the end, without `std::fs::read`'s `statx` for a size hint: sysfs
    /// reports 4096 for every attribute anyway, and an inventory opens hundreds of them.
    pub fn read_bytes(&self, live: &str) -> Result<Vec<u8>, ReadError> {
        let file = std::fs::File::open(self.path(live)?).map_err(|e| ReadError::io(live, &e))?;
        read_to_end(file, live)
    }

    /// Up to `len` octets from `offset` of an open file: fewer at its end, or where the kernel
    /// stops (a PCI `config` read without root ends at 64). Reads exactly what is asked, where
    /// reading the whole file has a cost (each dword of a `config` file is a device access).
    pub fn read_at(&self, file: &std::fs::File, live: &str, offset: u64, len: usize) -> Result<Vec<u8>, ReadError> {
        use std::os::unix::fs::FileExt;
        let mut out = vec![0u8; len];
        let mut got = 0;
        while got < len {
            match file.read_at(&mut out[got..], offset + got as u64) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ReadError::io(live, &e)),
            }
        }
        out.truncate(got);
        Ok(out)
    }

    /// Opens a file for [`SysRoot::read_at`].
    pub fn open(&self, live: &str) -> Result<std::fs::File, ReadError> {
        std::fs::File::open(self.path(live)?).map_err(|e| ReadError::io(live, &e))
    }

    /// A text attribute with surrounding whitespace (sysfs's trailing newline) removed.
    pub fn read_string(&self, live: &str) -> Result<String, ReadError> {
        let bytes = self.read_bytes(live)?;
        let text = String::from_utf8(bytes).map_err(|_| ReadError::new(live, Reason::Invalid))?;
        Ok(text.trim().to_owned())
    }

    /// The text of `rel` (`memory12/state`) below each of many entries of one directory. On
    /// the live root the files are opened relative to the directory, opened once, so the
    /// kernel does not walk the common prefix again for each; under a fixture root they are
    /// read one by one like any file (a relative open could follow the tree's absolute links
    /// out of it).
    pub fn read_strings_in(&self, dir: &str, rels: &[String]) -> Vec<Result<String, ReadError>> {
        let live_path = |rel: &str| format!("{dir}/{rel}");
        let dir_fd = if self.root == Path::new("/") && !dir.split('/').any(|c| c == "..") {
            use nix::fcntl::{OFlag, open};
            open(dir, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty()).ok()
        } else {
            None
        };
        rels.iter()
            .map(|rel| {
                let live = live_path(rel);
                let Some(fd) = dir_fd.as_ref().filter(|_| !rel.split('/').any(|c| c == ".." || c.is_empty())) else {
                    return self.read_string(&live);
                };
                use nix::fcntl::{OFlag, openat};
                let file = openat(fd, rel.as_str(), OFlag::O_RDONLY | OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
                    .map(std::fs::File::from)
                    .map_err(|e| ReadError::io(&live, &io::Error::from(e)))?;
                let bytes = read_to_end(file, &live)?;
                let text = String::from_utf8(bytes).map_err(|_| ReadError::new(&live, Reason::Invalid))?;
                Ok(text.trim().to_owned())
            })
            .collect()
    }

    /// A decimal or `0x` hexadecimal attribute.
    pub fn read_u64(&self, live: &str) -> Result<u64, ReadError> {
        let text = self.read_string(live)?;
        let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => text.parse(),
        };
        parsed.map_err(|_| ReadError::new(live, Reason::Invalid))
    }

    /// The names in a directory, sorted, so collectors report devices in a stable order.
    pub fn read_dir(&self, live: &str) -> Result<Vec<String>, ReadError> {
        let dir = std::fs::read_dir(self.path(live)?).map_err(|e| ReadError::io(live, &e))?;
        let mut names = Vec::new();
        for entry in dir {
            let entry = entry.map_err(|e| ReadError::io(live, &e))?;
            match entry.file_name().into_string() {
                Ok(name) => names.push(name),
                Err(_) => return Err(ReadError::new(live, Reason::Invalid)),
            }
        }
        names.sort();
        Ok(names)
    }

    /// Where a symlink points, as a live path with every symlink on the way followed
    /// (`/sys/class/net/eth0/device` -> `/sys/devices/pci0000:00/0000:00:03.0/virtio2`, although
    /// `/sys/class/net/eth0` is itself a link and the target is relative to where it points).
    /// Absolute targets name live paths and are mapped under the root again, so a fixture tree
    /// never leads a read out to the host's own `/sys`.
    pub fn read_link(&self, live: &str) -> Result<String, ReadError> {
        let target = std::fs::read_link(self.path(live)?).map_err(|e| ReadError::io(live, &e))?;
        let parent = Path::new(live).parent().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
        let base = if target.is_absolute() { "/".to_owned() } else { self.canonical(&parent)? };
        self.canonical(&format!("{base}/{}", target.to_string_lossy()))
    }

    /// The last component of where a symlink points (`driver` -> `e1000e`): its directory is
    /// resolved under the root, the link itself read once, not followed to the end. `None`
    /// when the target ends in `..`, which only [`SysRoot::read_link`] can resolve.
    pub fn link_name(&self, live: &str) -> Result<Option<String>, ReadError> {
        let (parent, name) = live.rsplit_once('/').unwrap_or(("", live));
        let dir = self.canonical(parent)?;
        let target = std::fs::read_link(self.path(&format!("{dir}/{name}"))?).map_err(|e| ReadError::io(live, &e))?;
        Ok(target.file_name().map(|n| n.to_string_lossy().into_owned()).filter(|n| !n.is_empty()))
    }

    /// `live` with every symlink followed under the root and `.`/`..` applied, as a live path.
    /// Components that do not exist are kept as they are.
    pub fn canonical(&self, live: &str) -> Result<String, ReadError> {
        // On the live root the kernel resolves the whole path in one open (O_PATH), and names
        // it through /proc/self/fd: three system calls instead of a readlink per component.
        // A fixture tree is walked by hand: its absolute links must stay under the root.
        if self.root == Path::new("/")
            && let Some(path) = kernel_canonical(live)
        {
            return Ok(path);
        }
        let mut done: Vec<String> = Vec::new();
        let mut todo: Vec<String> = split(live);
        todo.reverse();
        let mut hops = 0;
        while let Some(c) = todo.pop() {
            match c.as_str() {
                "." => continue,
                ".." => {
                    done.pop();
                    continue;
                }
                _ => {}
            }
            done.push(c);
            let here = format!("/{}", done.join("/"));
            let Ok(mapped) = self.path(&here) else { continue };
            let Ok(target) = std::fs::read_link(&mapped) else { continue };
            hops += 1;
            if hops > 40 {
                return Err(ReadError::new(live, Reason::Io));
            }
            done.pop();
            if target.is_absolute() {
                done.clear();
            }
            let mut more = split(&target.to_string_lossy());
            more.reverse();
            todo.extend(more);
        }
        Ok(format!("/{}", done.join("/")))
    }

    /// Whether a live path exists under the root.
    pub fn exists(&self, live: &str) -> bool {
        self.path(live).is_ok_and(|p| p.exists())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn tree() -> (tempfile::TempDir, SysRoot) {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = SysRoot::new(dir.path());
        let net = dir.path().join("sys/devices/pci0000:00/0000:00:03.0/net/eth0");
        fs::create_dir_all(&net).expect("mkdir");
        fs::write(net.join("address"), "52:54:00:12:34:56\n").expect("write");
        fs::write(net.join("mtu"), "1500\n").expect("write");
        fs::write(net.join("flags"), "0x1003\n").expect("write");
        fs::write(net.join("bad"), [0xff, 0xfe]).expect("write");
        fs::create_dir_all(dir.path().join("sys/class/net")).expect("mkdir");
        std::os::unix::fs::symlink(
            "../../devices/pci0000:00/0000:00:03.0/net/eth0",
            dir.path().join("sys/class/net/eth0"),
        )
        .expect("symlink");
        (dir, root)
    }

    /// /sys/class/net/eth1 -> ../../devices/pci0000:00/0000:00:03.0/virtio2/net/eth1, whose
    /// device link is ../../../virtio2: relative to where eth1 really is.
    fn virtio_nic(top: &Path) {
        let v = top.join("sys/devices/pci0000:00/0000:00:03.0/virtio2/net/eth1");
        fs::create_dir_all(&v).unwrap();
        std::os::unix::fs::symlink("../../../virtio2", v.join("device")).unwrap();
        std::os::unix::fs::symlink(
            "../../devices/pci0000:00/0000:00:03.0/virtio2/net/eth1",
            top.join("sys/class/net/eth1"),
        )
        .unwrap();
    }

    #[test]
    fn reads_trimmed_text_and_numbers_under_the_root() {
        let (_d, root) = tree();
        assert_eq!(root.read_string("/sys/class/net/eth0/address").unwrap(), "52:54:00:12:34:56");
        assert_eq!(root.read_u64("/sys/class/net/eth0/mtu").unwrap(), 1500);
        assert_eq!(root.read_u64("/sys/class/net/eth0/flags").unwrap(), 0x1003);
    }

    #[test]
    fn a_missing_file_names_the_live_path() {
        let (_d, root) = tree();
        let e = root.read_string("/sys/class/net/eth0/speed").unwrap_err();
        assert_eq!(e, ReadError { path: "/sys/class/net/eth0/speed".into(), reason: Reason::Missing });
        assert_eq!(e.to_string(), "/sys/class/net/eth0/speed: missing");
    }

    #[test]
    fn bad_contents_are_invalid_not_a_panic() {
        let (_d, root) = tree();
        assert_eq!(root.read_string("/sys/class/net/eth0/bad").unwrap_err().reason, Reason::Invalid);
        assert_eq!(root.read_u64("/sys/class/net/eth0/address").unwrap_err().reason, Reason::Invalid);
    }

    #[test]
    fn parent_components_cannot_leave_the_root() {
        let (_d, root) = tree();
        assert_eq!(root.read_string("/sys/../../etc/passwd").unwrap_err().reason, Reason::Escapes);
    }

    #[test]
    fn links_through_linked_directories_resolve_where_they_point() {
        let (d, root) = tree();
        virtio_nic(d.path());
        assert_eq!(
            root.read_link("/sys/class/net/eth1/device").unwrap(),
            "/sys/devices/pci0000:00/0000:00:03.0/virtio2"
        );
        // An absolute link stays under the root.
        std::os::unix::fs::symlink("/sys/devices/pci0000:00", d.path().join("sys/abs")).unwrap();
        assert_eq!(root.read_link("/sys/abs").unwrap(), "/sys/devices/pci0000:00");
        // A loop ends with an error, not a hang.
        std::os::unix::fs::symlink("loop2", d.path().join("sys/loop1")).unwrap();
        std::os::unix::fs::symlink("loop1", d.path().join("sys/loop2")).unwrap();
        assert!(root.read_link("/sys/loop1").is_err());
    }

    #[test]
    fn link_names_through_linked_directories() {
        let (d, root) = tree();
        let dev = d.path().join("sys/devices/pci0000:00/0000:00:03.0");
        fs::create_dir_all(d.path().join("sys/bus/pci/drivers/virtio-pci")).unwrap();
        std::os::unix::fs::symlink("../../../bus/pci/drivers/virtio-pci", dev.join("driver")).unwrap();
        std::os::unix::fs::symlink("..", dev.join("up")).unwrap();
        // eth0 is a link, and `device` in it too: resolved under the root before the read.
        std::os::unix::fs::symlink("../../../0000:00:03.0", dev.join("net/eth0/device")).unwrap();
        assert_eq!(root.link_name("/sys/class/net/eth0/device/driver").unwrap().as_deref(), Some("virtio-pci"));
        assert_eq!(root.link_name("/sys/devices/pci0000:00/0000:00:03.0/up").unwrap(), None);
        assert_eq!(root.link_name("/sys/class/net/eth0/nothing").unwrap_err().reason, Reason::Missing);
    }

    /// On the live root the kernel resolves links: the same answers as the hand walk gives
    /// under a root (here a temporary directory, no /sys involved).
    #[test]
    fn the_kernel_resolves_links_as_the_hand_walk_does() {
        let (d, root) = tree();
        virtio_nic(d.path());
        let top = d.path().canonicalize().unwrap().to_string_lossy().into_owned();
        for live in ["/sys/class/net/eth1/device", "/sys/class/net/eth0", "/sys/class/net/eth1/device/../.."] {
            let by_hand = root.canonical(live).unwrap();
            assert_eq!(kernel_canonical(&format!("{top}{live}")), Some(format!("{top}{by_hand}")), "{live}");
        }
        assert_eq!(kernel_canonical(&format!("{top}/sys/nothing")), None);
    }

    #[test]
    fn many_files_of_one_directory() {
        let d = tempfile::tempdir().unwrap();
        for (n, state) in [("memory0", "online\n"), ("memory1", "offline\n")] {
            fs::create_dir_all(d.path().join(n)).unwrap();
            fs::write(d.path().join(n).join("state"), state).unwrap();
        }
        let rels = ["memory0/state", "memory1/state", "memory2/state", "../memory0/state"].map(String::from);
        let show = |v: Vec<Result<String, ReadError>>| -> Vec<String> {
            v.into_iter().map(|r| r.unwrap_or_else(|e| e.reason.to_string())).collect()
        };
        let expected = ["online", "offline", "missing", "path leaves the root"];
        // Relative to one open directory (the live root; a temporary directory, not /sys)...
        let dir = d.path().to_str().unwrap();
        assert_eq!(show(SysRoot::host().read_strings_in(dir, &rels)), expected);
        // ...and one by one under a fixture root.
        assert_eq!(show(SysRoot::new(d.path()).read_strings_in("/", &rels)), expected);
    }

    #[test]
    fn links_resolve_to_live_paths() {
        let (_d, root) = tree();
        assert_eq!(root.read_link("/sys/class/net/eth0").unwrap(), "/sys/devices/pci0000:00/0000:00:03.0/net/eth0");
        assert_eq!(root.read_dir("/sys/class/net").unwrap(), vec!["eth0".to_owned()]);
        assert!(root.exists("/sys/class/net/eth0/mtu"));
        assert!(!root.exists("/sys/class/net/eth1"));
    }
}
