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
