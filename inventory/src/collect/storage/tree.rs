//! Test helpers: a sysfs tree under a temporary root, and VPD pages.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use super::collect;
use crate::collect::Reader;
use crate::model::{Problem, Storage};
use crate::sysroot::SysRoot;

/// A sysfs tree under a temporary root.
pub(super) struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    pub(super) fn new() -> Tree {
        Tree { dir: tempfile::tempdir().expect("tempdir") }
    }

    pub(super) fn file(&self, live: &str, contents: impl AsRef<[u8]>) -> &Tree {
        let p = self.dir.path().join(live.trim_start_matches('/'));
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(p, contents).expect("write");
        self
    }

    pub(super) fn mkdir(&self, live: &str) -> &Tree {
        fs::create_dir_all(self.dir.path().join(live.trim_start_matches('/'))).expect("mkdir");
        self
    }

    /// A symlink; an absolute (live) target is made relative, as sysfs's links are, so the
    /// link resolves inside the tree and not on the host.
    pub(super) fn link(&self, live: &str, target: &str) -> &Tree {
        let p = self.dir.path().join(live.trim_start_matches('/'));
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        let target = match target.strip_prefix('/') {
            Some(abs) => {
                let depth = live.trim_start_matches('/').matches('/').count();
                format!("{}{abs}", "../".repeat(depth))
            }
            None => target.to_owned(),
        };
        symlink(target, p).expect("symlink");
        self
    }

    /// A whole disk at `devdir/block/<name>`, linked from `/sys/block` and with its `device`
    /// link, as the kernel lays it out.
    pub(super) fn disk(&self, name: &str, devdir: &str, sectors: u64) -> String {
        let block = format!("{devdir}/block/{name}");
        self.file(&format!("{block}/size"), format!("{sectors}\n"));
        self.file(&format!("{block}/queue/logical_block_size"), "512\n");
        self.file(&format!("{block}/queue/physical_block_size"), "4096\n");
        self.file(&format!("{block}/queue/rotational"), "1\n");
        self.file(&format!("{block}/removable"), "0\n");
        self.file(&format!("{block}/ro"), "0\n");
        self.file(&format!("{block}/dev"), "8:0\n");
        self.link(&format!("{block}/device"), devdir);
        self.link(&format!("/sys/block/{name}"), &block);
        block
    }

    pub(super) fn collect(&self) -> (Storage, Vec<Problem>) {
        let root = SysRoot::new(self.dir.path());
        let mut errors = Vec::new();
        let mut r = Reader { root: &root, collector: "storage", errors: &mut errors };
        let mut out = Storage::default();
        collect(&mut r, &mut out);
        (out, errors)
    }

    pub(super) fn path(&self) -> &Path {
        self.dir.path()
    }
}

pub(super) fn page(code: u8, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(payload.len()).expect("short payload").to_be_bytes();
    [&[0, code, len[0], len[1]][..], payload].concat()
}

/// A VPD page 0x89 with IDENTIFY data carrying these strings, checksummed.
pub(super) fn pg89(serial: &str, firmware: &str, model: &str) -> Vec<u8> {
    let mut ident = [0u8; 512];
    for (word, text, width) in [(10, serial, 20), (23, firmware, 8), (27, model, 40)] {
        let padded = format!("{text:<width$}");
        for (i, pair) in padded.as_bytes().chunks(2).enumerate() {
            ident[(word + i) * 2] = pair[1];
            ident[(word + i) * 2 + 1] = pair[0];
        }
    }
    ident[510] = 0xa5;
    let sum = ident.iter().fold(0u8, |s, b| s.wrapping_add(*b));
    ident[511] = 0u8.wrapping_sub(sum);
    let mut payload = vec![0u8; 56];
    payload[52] = 0xec;
    payload.extend_from_slice(&ident);
    page(0x89, &payload)
}
