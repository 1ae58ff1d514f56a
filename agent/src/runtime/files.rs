//! Durable files: whole-file replacement (write a temporary file, fsync it, rename it over the
//! old one, fsync the directory) and append-only journals whose appends are fsynced before the
//! caller acts on them. After a crash a file is either the old or the new version, and a journal
//! holds every append that returned.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Replaces `path` with `data` atomically and durably.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path.file_name().ok_or_else(|| io::Error::other("no file name"))?;
    let tmp = dir.join(format!(".{}.tmp.{}", name.to_string_lossy(), std::process::id()));
    let res = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}

/// Several whole-file replacements made durable together: every file is written, then every
/// file fsynced and renamed over its name, then each directory fsynced once. On a journalling
/// filesystem the first fsync commits the others' data and names too, so a batch of uploads costs
/// about one commit, not one each. Each file is still either its old or its new version after a
/// crash.
#[derive(Default)]
pub(crate) struct AtomicBatch {
    staged: Vec<Result<Staged, io::ErrorKind>>,
}

struct Staged {
    tmp: PathBuf,
    path: PathBuf,
    file: File,
}

impl AtomicBatch {
    /// Writes `data` to a temporary file beside `path`; the id of the file in the batch.
    pub(crate) fn add(&mut self, path: &Path, data: &[u8]) -> usize {
        let staged = (|| {
            let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            fs::create_dir_all(dir)?;
            let name = path.file_name().ok_or_else(|| io::Error::other("no file name"))?;
            let tmp = dir.join(format!(".{}.tmp.{}", name.to_string_lossy(), std::process::id()));
            let mut file = File::create(&tmp)?;
            if let Err(e) = file.write_all(data) {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
            Ok(Staged { tmp, path: path.to_owned(), file })
        })();
        if let Err(e) = &staged {
            log::warn!("files: writing {}: {e}", path.display());
        }
        self.staged.push(staged.map_err(|e| e.kind()));
        self.staged.len() - 1
    }

    /// Makes every file durable under its name; each file's result, by id.
    pub(crate) fn commit(self) -> Vec<io::Result<()>> {
        let mut out = Vec::with_capacity(self.staged.len());
        // Each directory once, with what its fsync said; each file's directory by index.
        let mut dirs: Vec<(PathBuf, Option<io::ErrorKind>)> = Vec::new();
        let mut dir_of = Vec::with_capacity(self.staged.len());
        for s in self.staged {
            let renamed = s.map_err(io::Error::from).and_then(|s| {
                let r = s.file.sync_all().and_then(|()| fs::rename(&s.tmp, &s.path));
                if r.is_err() {
                    let _ = fs::remove_file(&s.tmp);
                }
                r.map(|()| s.path)
            });
            match renamed {
                Ok(path) => {
                    let d = path.parent().map(Path::to_owned).unwrap_or_else(|| PathBuf::from("."));
                    let i = dirs.iter().position(|(x, _)| *x == d).unwrap_or_else(|| {
                        dirs.push((d, None));
                        dirs.len() - 1
                    });
                    dir_of.push(Some(i));
                    out.push(Ok(()));
                }
                Err(e) => {
                    dir_of.push(None);
                    out.push(Err(e));
                }
            }
        }
        for (d, failed) in &mut dirs {
            if let Err(e) = File::open(&*d).and_then(|f| f.sync_all()) {
                *failed = Some(e.kind());
            }
        }
        // A file whose directory did not sync is not known to be there after a crash.
        for (r, i) in out.iter_mut().zip(dir_of) {
            if let Some((d, Some(kind))) = i.and_then(|i| dirs.get(i)) {
                *r = Err(io::Error::new(*kind, format!("fsync of the directory {}", d.display())));
            }
        }
        out
    }
}

/// An append-only journal of lines.
pub(crate) struct Journal {
    path: PathBuf,
    file: File,
    /// Lines in the file (read at open, plus appends).
    pub(crate) lines: usize,
}

/// What [`Journal::open`] found.
pub(crate) struct Replay {
    /// Every complete line, in order.
    pub(crate) lines: Vec<String>,
    /// A last line without its newline: a write cut off by a crash, before its fsync returned,
    /// so nobody was told it happened. Dropped, and the file truncated to the last whole line.
    pub(crate) torn_tail: bool,
}

impl Journal {
    /// Opens (creating) the journal at `path` and reads it back.
    pub(crate) fn open(path: &Path) -> io::Result<(Journal, Replay)> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let text = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let whole = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let torn_tail = whole < text.len();
        let lines: Vec<String> =
            String::from_utf8_lossy(&text[..whole]).lines().filter(|l| !l.is_empty()).map(str::to_owned).collect();
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        if torn_tail {
            file.set_len(u64::try_from(whole).unwrap_or(u64::MAX))?;
            file.sync_all()?;
        }
        let n = lines.len();
        Ok((Journal { path: path.to_owned(), file, lines: n }, Replay { lines, torn_tail }))
    }

    /// Appends lines and fsyncs once (group commit).
    pub(crate) fn append(&mut self, lines: &[String]) -> io::Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        let mut buf = String::new();
        for l in lines {
            buf.push_str(l);
            buf.push('\n');
        }
        self.file.write_all(buf.as_bytes())?;
        self.file.sync_data()?;
        self.lines += lines.len();
        Ok(())
    }

    /// Swaps the file for a read-only handle, so that the next append fails (tests of the
    /// callers' error paths; root ignores file modes).
    #[cfg(test)]
    pub(crate) fn make_unwritable(&mut self) {
        self.file = File::open(&self.path).expect("reopen the journal");
    }

    /// Replaces the whole journal with `lines` (compaction), atomically.
    pub(crate) fn rewrite(&mut self, lines: &[String]) -> io::Result<()> {
        let mut buf = String::new();
        for l in lines {
            buf.push_str(l);
            buf.push('\n');
        }
        write_atomic(&self.path, buf.as_bytes())?;
        self.file = OpenOptions::new().append(true).open(&self.path)?;
        self.lines = lines.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_replace_whole_files() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a/b/inventory.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let left: Vec<_> = fs::read_dir(p.parent().unwrap()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary files left behind");
    }

    #[test]
    fn a_batch_replaces_every_file_and_reports_each() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("x/a.json");
        let b = d.path().join("y/b.json");
        write_atomic(&a, b"old").unwrap();
        let mut batch = AtomicBatch::default();
        let ia = batch.add(&a, b"new a");
        let ib = batch.add(&b, b"new b");
        // A name whose parent is a file: that one fails, the others do not.
        fs::write(d.path().join("file"), b"").unwrap();
        let ic = batch.add(&d.path().join("file/c.json"), b"c");
        let r = batch.commit();
        assert!(r[ia].is_ok() && r[ib].is_ok(), "{r:?}");
        assert!(r[ic].is_err());
        assert_eq!((fs::read(&a).unwrap(), fs::read(&b).unwrap()), (b"new a".to_vec(), b"new b".to_vec()));
        for dir in ["x", "y"] {
            let left: Vec<_> = fs::read_dir(d.path().join(dir)).unwrap().collect();
            assert_eq!(left.len(), 1, "no temporary files left in {dir}");
        }
    }

    #[test]
    fn journals_replay_and_drop_a_torn_tail() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("leases.jsonl");
        let (mut j, r) = Journal::open(&p).unwrap();
        assert!(r.lines.is_empty() && !r.torn_tail);
        j.append(&["a".into(), "b".into()]).unwrap();
        drop(j);
        // A crash in the middle of a write.
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"{\"half").unwrap();
        drop(f);
        let (mut j, r) = Journal::open(&p).unwrap();
        assert_eq!(r.lines, ["a", "b"]);
        assert!(r.torn_tail);
        j.append(&["c".into()]).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "a\nb\nc\n");
        j.rewrite(&["z".into()]).unwrap();
        j.append(&["y".into()]).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "z\ny\n");
        assert_eq!(j.lines, 2);
    }
}
