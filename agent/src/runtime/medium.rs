//! The medium a node booted from, and where the master keeps its data.
//!
//! dracut's dmsquash-live mounts the medium (the USB stick, a CD) at `/run/initramfs/live`. On a
//! stick written from the hybrid ISO, the whole disk starts with the ISO, byte for byte: the
//! master serves those first octets as `recon.iso` ([`Medium::iso`]), the very image it booted,
//! so a peer boots what the master runs.
//!
//! The stick's `RECONDATA` partition is mounted on the data directory here, before the master
//! serves anything ([`prepare_data`]): the agent finds it on the boot medium's disk by reading
//! each partition's superblock (ext2/3/4, or FAT), runs `e2fsck -p` on it, and mounts it. No
//! fstab line and no udev: in the first trial the live root's udev labelled the partition only
//! after the fstab mount had timed out, and the master acknowledged uploads into RAM.
//!
//! [`durable`] says whether a data directory outlives a power-off: not on a tmpfs, and not on
//! the root of a live system (which is in RAM). A master that keeps nothing says so on its
//! console and in every answer, and peers stay up.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where dmsquash-live mounts the boot medium.
const LIVE: &str = "/run/initramfs/live";

/// The label of the stick's data partition.
pub(crate) const LABEL: &str = "RECONDATA";

//--- Formats (no I/O)

/// ISO 9660 (ECMA-119, section 8.4): the Primary Volume Descriptor is the first descriptor at
/// logical sector 16 (octet 32768); its volume space size (both-endian u32 at 80) times its
/// logical block size (both-endian u16 at 128) is the image's length.
pub(crate) fn iso_len(pvd: &[u8]) -> Option<u64> {
    if pvd.get(0..6)? != b"\x01CD001" {
        return None;
    }
    let blocks = u32::from_le_bytes(pvd.get(80..84)?.try_into().ok()?);
    let size = u16::from_le_bytes(pvd.get(128..130)?.try_into().ok()?);
    (blocks > 0 && size >= 512).then(|| u64::from(blocks) * u64::from(size))
}

/// A filesystem's type and label, from the first 2 KiB of a partition: ext2/3/4 (magic 0xEF53 at
/// 1024 + 0x38, label at 1024 + 0x78, 16 octets) or FAT (the volume label of the FAT12/16 boot
/// sector at 0x2B, or FAT32's at 0x47, 11 octets, space-padded).
pub(crate) fn fs_label(head: &[u8]) -> Option<(&'static str, String)> {
    let text = |b: &[u8]| String::from_utf8_lossy(b).trim_end_matches(['\0', ' ']).to_owned();
    if head.get(1024 + 0x38..1024 + 0x3a)? == [0x53, 0xef] {
        return Some(("ext4", text(head.get(1024 + 0x78..1024 + 0x88)?)));
    }
    if head.get(510..512)? == [0x55, 0xaa] {
        if head.get(0x52..0x57) == Some(b"FAT32") {
            return Some(("vfat", text(head.get(0x47..0x52)?)));
        }
        if head.get(0x36..0x39) == Some(b"FAT") {
            return Some(("vfat", text(head.get(0x2b..0x36)?)));
        }
    }
    None
}

/// The device mounted at `target` in a mountinfo text (proc(5), /proc/self/mountinfo: the mount
/// point is field 5, the source the second field after the ` - ` separator).
pub(crate) fn mount_source<'a>(mountinfo: &'a str, target: &str) -> Option<&'a str> {
    mountinfo.lines().rev().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        (left.split(' ').nth(4)? == target).then(|| right.split(' ').nth(1))?
    })
}

//--- The machine

/// The medium the node booted from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Medium {
    /// The whole disk (`/dev/sda`, `/dev/sr0`).
    pub(crate) disk: PathBuf,
    /// The length of the ISO at its start, if it holds one.
    pub(crate) iso: Option<u64>,
}

/// The disk a block device (`sda1`, `sr0`) belongs to: its parent in sysfs for a partition.
fn whole_disk(name: &str) -> String {
    let part = Path::new("/sys/class/block").join(name);
    if part.join("partition").exists()
        && let Ok(real) = std::fs::canonicalize(&part)
        && let Some(parent) = real.parent().and_then(|p| p.file_name())
    {
        return parent.to_string_lossy().into_owned();
    }
    name.to_owned()
}

/// The boot medium, if this is a live system booted from one.
pub(crate) fn boot_medium() -> Option<Medium> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let source = mount_source(&mountinfo, LIVE)?;
    let dev = std::fs::canonicalize(source).ok()?;
    let disk = Path::new("/dev").join(whole_disk(&dev.file_name()?.to_string_lossy()));
    let mut pvd = vec![0u8; 2048];
    let iso = File::open(&disk).and_then(|f| f.read_exact_at(&mut pvd, 32768)).ok().and_then(|()| iso_len(&pvd));
    Some(Medium { disk, iso })
}

/// The partitions of `disk` (`/dev/sda` -> `sda1`, `sda2`, ...), from sysfs.
fn partitions(disk: &Path) -> Vec<String> {
    let Some(name) = disk.file_name().map(|n| n.to_string_lossy().into_owned()) else { return Vec::new() };
    let mut out: Vec<String> = std::fs::read_dir(Path::new("/sys/class/block").join(&name))
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().join("partition").exists())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// The partition labelled RECONDATA on `disk`, and its filesystem type.
pub(crate) fn find_data_partition(disk: &Path) -> Option<(PathBuf, &'static str)> {
    partitions(disk).into_iter().find_map(|p| {
        let dev = Path::new("/dev").join(&p);
        let mut head = vec![0u8; 2048];
        File::open(&dev).and_then(|f| f.read_exact_at(&mut head, 0)).ok()?;
        let (fs, label) = fs_label(&head)?;
        (label == LABEL).then_some((dev, fs))
    })
}

/// Whether `dir` outlives a power-off: not a tmpfs or ramfs, and not on the root filesystem of a
/// live system (the root is in RAM there: a dm snapshot or an overlay whatever it calls itself).
pub(crate) fn durable(dir: &Path) -> Result<(), String> {
    let fs = nix::sys::statfs::statfs(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let kind = fs.filesystem_type();
    // ramfs (0x858458f6, linux/magic.h) has no name in nix.
    if kind == nix::sys::statfs::TMPFS_MAGIC || kind == nix::sys::statfs::FsType(0x8584_58f6) {
        return Err(format!("{} is in RAM (tmpfs)", dir.display()));
    }
    let dev = |p: &Path| std::fs::metadata(p).map(|m| m.dev());
    if is_mount_point(Path::new(LIVE)) && dev(dir).ok() == dev(Path::new("/")).ok() {
        return Err(format!("{} is on the live system's root, which is in RAM", dir.display()));
    }
    Ok(())
}

/// Makes the master's data directory ready before it serves: on a live system booted from a
/// medium with a RECONDATA partition, that partition checked (`e2fsck -p`) and mounted on
/// `data`. A data directory that is already a mount point of its own is left as it is. The
/// partition it mounted, if any; [`durable`] tells what came of it.
pub(crate) fn prepare_data(data: &Path) -> Option<PathBuf> {
    let _ = std::fs::create_dir_all(data);
    let mut mounted = None;
    if let Some(m) = boot_medium()
        && !is_mount_point(data)
    {
        match find_data_partition(&m.disk) {
            Some((dev, fs)) => match mount_data(&dev, fs, data) {
                Ok(()) => {
                    log::info!("medium: {} ({LABEL}, {fs}) mounted on {}", dev.display(), data.display());
                    mounted = Some(dev);
                }
                Err(e) => log::error!("medium: mounting {} on {}: {e}", dev.display(), data.display()),
            },
            None => log::warn!("medium: no {LABEL} partition on {}", m.disk.display()),
        }
    }
    mounted
}

fn is_mount_point(dir: &Path) -> bool {
    let dev = |p: &Path| std::fs::metadata(p).map(|m| m.dev()).ok();
    dir.parent().is_some_and(|parent| dev(dir).is_some() && dev(dir) != dev(parent))
}

/// `e2fsck -p` (repairs what is safe to repair without a person), then mount(2).
fn mount_data(dev: &Path, fs: &str, data: &Path) -> io::Result<()> {
    use nix::mount::{MsFlags, mount};
    if fs == "ext4" {
        match run_bounded(Path::new("/sbin/e2fsck"), &["-p".as_ref(), dev.as_os_str()], Duration::from_secs(120)) {
            // 0: clean; 1: errors fixed.
            Ok(0 | 1) => {}
            Ok(code) => log::warn!("medium: e2fsck -p {} exited {code}; mounting anyway", dev.display()),
            Err(e) => log::warn!("medium: e2fsck -p {}: {e}; mounting unchecked", dev.display()),
        }
    }
    let flags = MsFlags::MS_NOATIME | MsFlags::MS_NODEV | MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
    mount(Some(dev), data, Some(fs), flags, None::<&str>).map_err(io::Error::from)
}

/// Runs a program, killing it after `limit`; its exit code.
fn run_bounded(prog: &Path, args: &[&std::ffi::OsStr], limit: Duration) -> io::Result<i32> {
    let mut child = std::process::Command::new(prog).args(args).spawn()?;
    let end = std::time::Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait()? {
            return Ok(s.code().unwrap_or(-1));
        }
        if std::time::Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::new(io::ErrorKind::TimedOut, format!("{} took over {limit:?}", prog.display())));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_iso_pvd_gives_the_images_length() {
        let mut pvd = vec![0u8; 2048];
        pvd[..6].copy_from_slice(b"\x01CD001");
        pvd[80..84].copy_from_slice(&169_601u32.to_le_bytes());
        pvd[84..88].copy_from_slice(&169_601u32.to_be_bytes());
        pvd[128..130].copy_from_slice(&2048u16.to_le_bytes());
        assert_eq!(iso_len(&pvd), Some(347_342_848));
        pvd[1] = b'X';
        assert_eq!(iso_len(&pvd), None);
        assert_eq!(iso_len(&[]), None);
    }

    #[test]
    fn ext4_and_fat_labels_are_read_from_the_superblock() {
        let mut ext = vec![0u8; 2048];
        ext[1024 + 0x38..1024 + 0x3a].copy_from_slice(&[0x53, 0xef]);
        ext[1024 + 0x78..1024 + 0x78 + 9].copy_from_slice(b"RECONDATA");
        assert_eq!(fs_label(&ext), Some(("ext4", "RECONDATA".into())));
        let mut fat = vec![0u8; 2048];
        fat[510..512].copy_from_slice(&[0x55, 0xaa]);
        fat[0x52..0x57].copy_from_slice(b"FAT32");
        fat[0x47..0x52].copy_from_slice(b"RECONDATA  ");
        assert_eq!(fs_label(&fat), Some(("vfat", "RECONDATA".into())));
        assert_eq!(fs_label(&[0u8; 2048]), None);
        assert_eq!(fs_label(&[0u8; 10]), None);
    }

    #[test]
    fn the_live_mounts_source_is_found_in_mountinfo() {
        let mi = "22 1 0:21 / / rw - overlay LiveOS_rootfs rw\n\
                  35 22 8:1 / /run/initramfs/live ro,relatime - iso9660 /dev/sda1 ro\n";
        assert_eq!(mount_source(mi, "/run/initramfs/live"), Some("/dev/sda1"));
        assert_eq!(mount_source(mi, "/var/lib/recon"), None);
    }

    #[test]
    fn a_tmpfs_is_not_durable() {
        // /dev/shm is a tmpfs on every Linux this runs on.
        assert!(durable(Path::new("/dev/shm")).unwrap_err().contains("tmpfs"));
        let d = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        assert_eq!(durable(d.path()), Ok(()), "a directory on the work disk");
    }
}
