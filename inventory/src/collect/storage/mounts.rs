//! Partitions and mounts.
//!
//! Partitions are the entries of a disk's directory that have a `partition` attribute (`start`
//! and `size` in 512-byte sectors); mounts come from `/proc/self/mountinfo` (proc(5)), matched to
//! a disk or partition by `major:minor`, or by the mount source naming its `/dev` node (a
//! multi-device file system such as bcachefs shows `/dev/sdc1:/dev/sdc2` and one device number),
//! as lsblk matches them.

use super::{Reader, opt_bool, sectors_in_bytes};
use crate::model::{Mount, Partition};

/// A disk's partitions: the entries of its directory named after it with a `partition` file.
pub(super) fn partitions(r: &mut Reader<'_>, disk: &str, block: &str, mounts: &[(String, Mount)]) -> Vec<Partition> {
    let mut out = Vec::new();
    for name in r.dir(block).into_iter().filter(|n| n.starts_with(disk) && n != disk) {
        let base = format!("{block}/{name}");
        let Some(number) = r.opt_u64(&format!("{base}/partition")) else { continue };
        let dev = r.opt_string(&format!("{base}/dev"));
        out.push(Partition {
            number: u32::try_from(number).ok(),
            start_bytes: sectors_in_bytes(r, &format!("{base}/start")),
            size_bytes: sectors_in_bytes(r, &format!("{base}/size")),
            read_only: opt_bool(r, &format!("{base}/ro")),
            mounts: mounts_of(mounts, dev.as_deref(), &name),
            dev,
            name,
        });
    }
    out.sort_by(|a, b| (a.number, &a.name).cmp(&(b.number, &b.name)));
    out
}

/// The mounts of the block device `name` (`major:minor` `dev`).
pub(super) fn mounts_of(mounts: &[(String, Mount)], dev: Option<&str>, name: &str) -> Vec<Mount> {
    let node = format!("/dev/{name}");
    mounts
        .iter()
        .filter(|(d, m)| {
            dev == Some(d.as_str()) || m.source.as_deref().is_some_and(|s| s.split(':').any(|part| part == node))
        })
        .map(|(_, m)| m.clone())
        .collect()
}

/// `/proc/self/mountinfo`: `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root
/// rw,errors=continue` (proc(5)): the device number and the mount. Lines that do not fit are
/// skipped.
pub(super) fn parse_mountinfo(text: &str) -> Vec<(String, Mount)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        // Optional fields end at a lone `-`, never before the sixth field.
        let Some(dash) = f.iter().skip(6).position(|x| *x == "-").map(|i| i + 6) else { continue };
        let (Some(dev), Some(point), Some(options), Some(fstype)) = (f.get(2), f.get(4), f.get(5), f.get(dash + 1))
        else {
            continue;
        };
        out.push((
            (*dev).to_owned(),
            Mount {
                mount_point: unescape(point),
                fstype: unescape(fstype),
                source: f.get(dash + 2).map(|s| unescape(s)).filter(|s| s != "none"),
                options: (*options).to_owned(),
                super_options: f.get(dash + 3).map(|s| (*s).to_owned()).unwrap_or_default(),
            },
        ));
    }
    out
}

/// The kernel's `\ooo` escapes (space, tab, newline, backslash) undone.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)))
            .and_then(|d| u8::try_from(d.iter().fold(0u32, |v, c| v * 8 + u32::from(c - b'0'))).ok());
        match (b[i], oct) {
            (b'\\', Some(v)) => {
                out.push(v);
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_lines_and_escapes() {
        let text = "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard\n\
                    42 27 254:0 /run/netns /run/netns rw,relatime shared:1 - ext4 /dev/vda rw,discard\n\
                    61 49 8:1 / /mnt/my\\040disk\\134x rw - vfat /dev/sda1 rw,fmask=0077\n\
                    43 23 0:13 / /sys/kernel/tracing rw,relatime - tracefs none rw\n\
                    1 2 3 4 5 6 7\n\
                    9 9 8:2 / /x rw \\999 - ext4\n";
        let m = parse_mountinfo(text);
        let shown: Vec<_> =
            m.iter().map(|(d, m)| format!("{d} {} {} {:?}", m.mount_point, m.fstype, m.source)).collect();
        assert_eq!(
            shown,
            [
                "254:0 / ext4 Some(\"/dev/vda\")",
                "254:0 /run/netns ext4 Some(\"/dev/vda\")",
                "8:1 /mnt/my disk\\x vfat Some(\"/dev/sda1\")",
                "0:13 /sys/kernel/tracing tracefs None",
                "8:2 /x ext4 None",
            ]
        );
        assert_eq!((m[0].1.options.as_str(), m[0].1.super_options.as_str()), ("rw,relatime", "rw,discard"));
        assert_eq!(unescape("a\\400b\\12"), "a\\400b\\12", "not an octet, cut short: kept");
        // A bcachefs mount names both its devices; either one finds it.
        let bc = parse_mountinfo("861 79 8:33 / /mnt/test rw - bcachefs /dev/sdc1:/dev/sdc2 rw\n");
        assert_eq!(mounts_of(&bc, Some("8:34"), "sdc2").len(), 1);
        assert_eq!(mounts_of(&bc, Some("8:35"), "sdc3").len(), 0);
    }
}
