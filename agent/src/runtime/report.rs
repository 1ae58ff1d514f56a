//! The report files, written into the data directory from what is stored there (the nodes'
//! timelines and inventories), so that the live master and `recon report --data DIR` make the
//! same files from the same input. All of them are replaced together and atomically
//! (`AtomicBatch`): a reader never sees a half-written file.
//!
//! On a master a thread of its own makes them, a few seconds after each batch of inventories is
//! stored (uploads in a burst cost one report), never on the threads that serve.

use std::fs;
use std::io;
use std::path::Path;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use netboot_proto::Mac;

use super::clock::unix_ms;
use super::files::AtomicBatch;
use crate::report::{self, Record};
use crate::serve::fleet::{Fleet, FleetView, Summary};

/// Reads the data directory: every node's timeline and inventory (PCI names resolved from the
/// pci.ids this machine has).
pub fn load(data: &Path, stuck_ms: u64) -> io::Result<(FleetView, Vec<Record>)> {
    let mut fleet = Fleet::new();
    fleet.set_stuck(stuck_ms);
    let mut inventories = Vec::new();
    let db = inventory::names::best_db();
    let nodes = data.join("nodes");
    let entries = match fs::read_dir(&nodes) {
        Ok(e) => e.flatten().collect::<Vec<_>>(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    for e in entries {
        let Some(mac) = e.file_name().to_str().and_then(Mac::parse) else { continue };
        let timeline = e.path().join("events.jsonl");
        if timeline.exists() {
            // Read only: a torn tail is left for the writer to cut.
            let text = fs::read_to_string(&timeline).unwrap_or_default();
            for line in text.lines() {
                fleet.replay(mac, line);
            }
        }
        match fs::read(e.path().join("inventory.json")) {
            Ok(b) => match serde_json::from_slice::<inventory::model::Inventory>(&b) {
                Ok(mut inv) => {
                    inventory::names::name_pci(&mut inv, &db);
                    // A node known only by its inventory (the master's own) is in the fleet too.
                    if fleet.node(mac).is_none() {
                        fleet.event(mac, "inventory", inv.run.started_unix_ms, serde_json::json!({}), true);
                    }
                    fleet.summarize(mac, Summary::of(&inv));
                    inventories.push((mac, inv));
                }
                Err(err) => log::warn!("report: {}: not an inventory ({err})", e.path().display()),
            },
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => log::warn!("report: {}: {err}", e.path().display()),
        }
    }
    let view = fleet.view(unix_ms());
    let records = view
        .nodes
        .iter()
        .map(|v| Record {
            view: v.clone(),
            inventory: inventories.iter().position(|(m, _)| *m == v.mac).map(|i| inventories.swap_remove(i).1),
        })
        .collect();
    Ok((view, records))
}

/// One report at a time: the reporter thread and a finish may want one at once.
static WRITING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Makes every report file from `data` and writes them there; how many. A node quiet for
/// `stuck_ms` before it was done is reported stuck.
pub(crate) fn write(data: &Path, stuck_ms: u64) -> io::Result<usize> {
    let _one = WRITING.lock().unwrap_or_else(|e| e.into_inner());
    let (view, records) = load(data, stuck_ms)?;
    let generated = crate::serve::time::utc_datetime(unix_ms() / 1000, None) + " UTC";
    let files = report::files(&view, &records, &generated);
    let mut batch = AtomicBatch::default();
    for (name, body) in &files {
        batch.add(&data.join(name), body);
    }
    for r in batch.commit() {
        r?;
    }
    // Ironic files of nodes no longer in the data directory go.
    if let Ok(dir) = fs::read_dir(data.join("ironic")) {
        for e in dir.flatten() {
            let name = format!("ironic/{}", e.file_name().to_string_lossy());
            if !files.contains_key(&name) && !name.contains(".tmp.") {
                let _ = fs::remove_file(e.path());
            }
        }
    }
    Ok(files.len())
}

/// The reporter thread: waits for a poke, lets a burst settle for `settle`, writes the reports.
pub(crate) fn run(data: &Path, pokes: &Receiver<()>, settle: Duration, stuck_ms: &std::sync::atomic::AtomicU64) {
    while pokes.recv().is_ok() {
        loop {
            match pokes.recv_timeout(settle) {
                Ok(()) => continue,
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        match write(data, stuck_ms.load(std::sync::atomic::Ordering::Relaxed)) {
            Ok(n) => log::info!("report: {n} files written in {}", data.display()),
            Err(e) => log::error!("report: writing the reports in {}: {e}", data.display()),
        }
    }
}
